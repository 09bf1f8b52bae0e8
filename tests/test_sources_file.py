"""A damaged <data dir>/sources.toml is one line naming the file and the problem, never a
traceback, for every command that reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import _register_command_modules, cli

_register_command_modules()

BAD = {
    "not a table": b"source = [1]\n",
    "not a list": b'source = "x"\n',
    "not UTF-8": '[[source]]\nname = "卫健委"\n'.encode("gb18030"),
    "not TOML": b"[[source]\nname = 1\n",
}


@pytest.mark.parametrize("content", BAD.values(), ids=list(BAD))
@pytest.mark.parametrize("args", [["sources"], ["schedule", "list"], ["crawl", "anything"]])
def test_bad_sources_file_is_one_line(tmp_path: Path, content: bytes, args: list[str]) -> None:
    (tmp_path / "sources.toml").write_bytes(content)
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), *args])
    assert result.exit_code != 0 or args[:2] == ["schedule", "list"], result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = [x for x in result.stderr.splitlines() if str(tmp_path / "sources.toml") in x]
    assert lines, result.output


def test_shards_split_the_sources_between_nodes(tmp_path: Path) -> None:
    """`hra sources --shard K/N`: the N shares are disjoint and cover every source; a source
    keeps its shard whatever other sources exist (a hash of its name)."""
    import json

    from crawler.sources import shard_of

    def names(*args: str) -> list[str]:
        result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "sources", "--json",
                                          *args])
        assert result.exit_code == 0, result.output
        return [s["name"] for s in json.loads(result.stdout)]

    everything = names()
    shares = [names("--shard", f"{k}/3") for k in (1, 2, 3)]
    joined = [name for share in shares for name in share]
    assert sorted(joined) == sorted(everything)
    assert all(shares) and len(set(joined)) == len(everything)
    assert all(shard_of(n, 3) == k for k, share in enumerate(shares, 1) for n in share)
    assert shard_of("hc-wjw-sm", 3) == shard_of("hc-wjw-sm", 3)
    for bad in ("0/2", "3/2", "a/b", "2"):
        result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "sources",
                                          "--shard", bad])
        assert result.exit_code == 2 and "--shard" in result.output

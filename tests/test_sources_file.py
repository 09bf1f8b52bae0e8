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

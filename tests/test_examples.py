"""Every example command in README.md and in every `--help` text runs against the demo archive.

Examples are collected from the README's ```bash blocks and from the ``Examples:`` section of each
command's help, and run in order (later examples may use what earlier ones made: `schedule add`
before `schedule remove`) against one demo archive, crawled from the bundled demo site served on
127.0.0.1. Each must exit 0 with no traceback; searches and exports must find something.

Placeholders are mapped onto the demo: ``https://example.org`` (the README's example host) and
``URL`` become the local demo site, ``https://wjw.example.gov.cn`` its health commission (/wjw), id prefixes like ``3f2a9c``
become real document ids, ``DIR`` a scratch data dir, ``~/saved-pages/``, ``report.html`` and the
other page files examples name saved demo pages, ``backup.jsonl`` an export of the demo archive.

Examples that would reach the network or never end (crawls of the shipped sources, which are real
sites; ``hra schedule run``; ``hra demo --serve``) are parsed by the real command line (options,
arguments) and their source names looked up, but not run: tests never touch a real site.
``hra serve`` is parsed the same way (tests/test_web_browser.py runs it).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from archive.cli import _register_command_modules, cli
from crawler.demo import SITE_DIR, DemoServer
from tests import document_fixtures
from tests.conftest import ROOT

_register_command_modules()  # what `hra` (archive.cli:main) does before parsing
README = ROOT / "README.md"
#: The README's example hosts -> paths of the demo site.
EXAMPLE_HOSTS = {"https://example.org": "", "https://wjw.example.gov.cn": "/wjw"}


@dataclass(frozen=True)
class Example:
    where: str  # README.md:LINE or `hra CMD --help`
    line: str

    @property
    def words(self) -> list[str]:
        return shlex.split(self.line, comments=True)


def readme_examples() -> Iterator[Example]:
    in_bash = False
    for n, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            in_bash = line.strip() == "```bash" and not in_bash
            continue
        if in_bash and re.match(r"(hra|scrapy) ", line.strip()):
            yield Example(f"README.md:{n}", line.strip())


def help_examples() -> Iterator[Example]:
    def walk(cmd: click.Command, path: list[str]) -> Iterator[Example]:
        text = cmd.help or ""
        marker = next((m for m in ("Examples:", "Example:") if m in text), None)
        if marker:
            for line in text.split(marker, 1)[1].splitlines():
                if line.strip().startswith("hra "):
                    yield Example(f"`{' '.join(path)} --help`", line.strip())
        if isinstance(cmd, click.Group):
            for name in sorted(cmd.commands):
                yield from walk(cmd.commands[name], [*path, name])

    yield from walk(cli, ["hra"])


EXAMPLES = [*readme_examples(), *help_examples()]
#: Politeness lifted for crawls of the local demo site (as `hra demo` does).
LOCALHOST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
             "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4"]
#: Files the examples name, made by the fixture (copies of demo pages, an export of the demo).
FILES_NAMED = ("report.html", "page.html", "other.htm", "backup.jsonl", "archive.warc.gz",
               "report.pdf", "notice.docx")


def test_examples_were_found() -> None:
    readme = [e for e in EXAMPLES if e.where.startswith("README")]
    helps = {e.where for e in EXAMPLES if not e.where.startswith("README")}
    assert len(readme) >= 40, readme
    # Every command that does something has examples in its help.
    for name in ("import", "list", "show", "stats", "search", "export", "crawl", "sources",
                 "schedule", "runs", "dups", "reindex", "check", "trend", "serve"):
        assert any(w.startswith(f"`hra {name}") for w in helps), f"hra {name} has no examples"


# ---------------------------------------------------------------------------------------------
# The demo archive and the scratch directory the examples run in


@dataclass
class Demo:
    data_dir: Path
    work: Path  # cwd: relative output paths land here
    home: Path
    url: str
    ids: list[str]
    dup_id: str  # a document with copies


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    base = tmp_path_factory.mktemp("examples")
    data_dir, work, home = base / "demo", base / "work", base / "home"
    work.mkdir()
    home.mkdir()
    result = CliRunner().invoke(cli, ["demo", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    env = {"HRA_DATA_DIR": str(data_dir), "HOME": str(home), "XDG_DATA_HOME": str(home / "data")}
    out = CliRunner(env=env).invoke(cli, ["list", "--json", "--limit", "100"])
    assert out.exit_code == 0, out.output
    ids = [json.loads(x)["id"] for x in out.output.splitlines() if x.strip()]
    dups = CliRunner(env=env).invoke(cli, ["dups", "--json"])
    assert dups.exit_code == 0, dups.output
    clusters = json.loads(dups.output)
    dup_id = _first_id(clusters)
    # Files the examples name.
    saved = home / "saved-pages"
    saved.mkdir()
    for page in ("wjw/xxgk/gzdt/202402/t20240220_1035.html", "fanwen/meiwen/1677463815.html"):
        shutil.copy(SITE_DIR / page, saved / Path(page).name)
    shutil.copytree(saved, home / "Downloads" / "reports")
    for name in ("report.html", "page.html"):
        shutil.copy(SITE_DIR / "fanwen/meiwen/1677463601.html", work / name)
    shutil.copy(SITE_DIR / "fanwen/meiwen/1677463920.html", work / "other.htm")
    attachment = SITE_DIR / "wjw/xxgk/gzdt/202403/P020240308_1047_renwu.docx"
    shutil.copy(attachment, work / "notice.docx")
    (work / "report.pdf").write_bytes(document_fixtures.pdf_prose())
    export = CliRunner(env=env).invoke(cli, ["export", "--format", "jsonl", "--all-versions",
                                             "-o", str(work / "backup.jsonl")])
    assert export.exit_code == 0, export.output
    warc = CliRunner(env=env).invoke(cli, ["export", "--format", "warc",
                                           "-o", str(work / "archive.warc.gz")])
    assert warc.exit_code == 0, warc.output
    with DemoServer() as server:
        yield Demo(data_dir, work, home, server.url, ids, dup_id)


def _first_id(clusters: object) -> str:
    """The first document id in `hra dups --json` output, whatever its exact shape."""
    found = re.search(r'"([0-9a-f]{16})"', json.dumps(clusters))
    assert found, clusters
    return found.group(1)


def substitute(words: list[str], demo: Demo) -> list[str]:
    out = []
    for w in words:
        for host, path in EXAMPLE_HOSTS.items():
            w = w.replace(host, demo.url + path)
        if w == "URL":
            w = f"{demo.url}/"
        elif w.startswith("url=URL"):
            w = f"url={demo.url}/"
        elif w == "HRA_DATA_DIR=DIR":
            w = f"HRA_DATA_DIR={demo.work / 'scrapy-data'}"
        elif re.fullmatch(r"[0-9a-f]{6,16}", w):
            w = demo.dup_id[: len(w)]
        elif w.startswith("~/"):
            w = str(demo.home / w[2:])
        out.append(w)
    return out


def split_shell(words: list[str]) -> tuple[list[str], str | None, bool]:
    """(command words, stdout redirect target, piped into jq)."""
    redirect, piped = None, False
    for op in ("||", "&&", ";"):  # `hra check || hra reindex`: the first command
        if op in words:
            words = words[: words.index(op)]
    if "|" in words:
        piped = "jq" in words[words.index("|") + 1 :]
        words = words[: words.index("|")]
    if ">" in words:
        redirect = words[words.index(">") + 1]
        words = words[: words.index(">")]
    return words, redirect, piped


def not_run_reason(args: list[str]) -> str | None:
    """Why an example is parsed but not run, or None to run it."""
    if args[:1] == ["crawl"] and "--url" not in args:
        return "crawls shipped sources (real sites)"
    if args[:2] == ["schedule", "run"]:
        return "the scheduler runs until stopped"
    if args[:1] == ["demo"] and "--serve" in args:
        return "serves until stopped"
    if args[:1] == ["serve"]:
        return "serves until stopped (tests/test_web_browser.py starts it)"
    return None


def _unparsed(ctx: click.Context) -> list[str]:
    """A group context's subcommand and its arguments (click 8 keeps the name apart)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [*getattr(ctx, "protected_args", []), *ctx.args]


def parse_only(args: list[str], demo: Demo) -> None:
    """Parse `args` with the real command line (raises on an unknown option or bad value)."""
    ctx = cli.make_context("hra", list(args), resilient_parsing=False)
    group: click.Command = cli
    rest = _unparsed(ctx)
    while isinstance(group, click.Group) and rest:
        name, cmd, rest = group.resolve_command(ctx, rest)
        assert cmd is not None, f"no command {name}"
        ctx = cmd.make_context(name, list(rest), parent=ctx)
        group, rest = cmd, (_unparsed(ctx) if isinstance(cmd, click.Group) else [])
    if args[:1] == ["crawl"] and "--all" not in args:
        from crawler.sources import load_sources, select_sources

        names = [a for a in ctx.params.get("names", ())]
        assert select_sources(load_sources(demo.data_dir), names)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"{e.where} {e.line}"[:90])
def test_example(example: Example, demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    words, redirect, piped = split_shell(substitute(example.words, demo))
    program, args = words[0], words[1:]
    # Each example runs in its own directory (as if run on its own) holding the files it names.
    cwd = demo.work / f"example-{EXAMPLES.index(example)}"
    cwd.mkdir()
    for name in FILES_NAMED:
        shutil.copy(demo.work / name, cwd / name)
    (cwd / "files").mkdir()
    shutil.copy(demo.work / "notice.docx", cwd / "files" / "plan.docx")
    shutil.copy(demo.work / "backup.jsonl", cwd / "export.jsonl")
    monkeypatch.chdir(cwd)
    env = {"HRA_DATA_DIR": str(demo.data_dir), "HOME": str(demo.home),
           "XDG_DATA_HOME": str(demo.home / "data")}
    if program == "scrapy":
        run_scrapy(args, env, demo)
        return
    reason = not_run_reason(args)
    if reason:
        monkeypatch.setenv("HRA_DATA_DIR", str(demo.data_dir))
        parse_only(args, demo)
        return
    if args[:1] == ["crawl"]:  # the demo site is on this machine: no need to be slow with it
        args = [*args, *LOCALHOST]
    result = CliRunner(env=env).invoke(cli, args)
    output = result.output
    assert "Traceback" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert result.exit_code == 0, f"{example.where}: {example.line}\n{output}"
    if redirect:
        (cwd / redirect).write_text(result.stdout, encoding="utf-8")
        assert (cwd / redirect).stat().st_size > 0
    if piped:
        json.loads(result.stdout)  # what jq reads is JSON
    check_found_something(args, env, cwd)


def check_found_something(args: list[str], env: dict[str, str], cwd: Path) -> None:
    """Searches and exports in examples must find documents in the demo archive."""
    if args[:1] == ["search"]:
        json_args = args if "--json" in args else [*args, "--json"]
        result = CliRunner(env=env).invoke(cli, json_args)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["total"] > 0, f"no hits for {args}"
    if args[:1] == ["export"] and "-o" in args:
        target = cwd / args[args.index("-o") + 1]
        assert target.exists(), target
        size = (sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
                if target.is_dir() else target.stat().st_size)
        assert size > 0, f"{target} is empty"
        if target.is_dir():
            assert any(target.iterdir()), f"{target} has no documents"


def run_scrapy(args: list[str], env: dict[str, str], demo: Demo) -> None:
    if args[:1] == ["crawl"] and any(a.startswith("source=") for a in args):
        from crawler.sources import load_sources, select_sources

        name = next(a for a in args if a.startswith("source=")).split("=", 1)[1]
        assert select_sources(load_sources(demo.data_dir), [name])
        return  # a shipped source is a real site: not crawled here
    full_env = {**os.environ, **env}
    if args[:1] == ["crawl"]:
        args = [*args, *LOCALHOST]
    proc = subprocess.run([sys.executable, "-m", "scrapy", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    if args[:1] == ["list"]:
        assert {"site", "gov"} <= set(proc.stdout.split())

"""Archive data reaches the terminal as text, never as terminal commands: control characters in
titles, sites, paths and error lines are shown as escapes by `hra list`, `show`, `search`,
`stats`, the import error lines and the crawl displays; rich markup in them is text; --json
stays exact JSON. The text pipeline strips control characters before anything is stored.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archive.cli import printable, shown
from archive.text.normalize import normalize_line, normalize_text, search_key, strip_controls
from archive.urls import doc_id
from tests.conftest import ROOT
from tests.crawl_server import report_html

ESC = "\x1b"
TITLE = f"{ESC}[31m红色{ESC}]0;pwned\x07卫生健康工作总结\n[bold]加粗[/bold]\x9b2J"
SITE = f"坏站{ESC}[2J"
TEXT = (f"2023年全市卫生健康工作总结：深化医药卫生体制改革{ESC}[5m闪烁\t制表，推进医共体建设。\n"
        "第二段：基层医疗卫生服务能力持续提升，群众看病就医的获得感不断增强。")
URL = "http://example.org/evil.html"


def hra(data_dir: Path, *args: str, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archive", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "COLUMNS": "250", **(env or {})})


def _record() -> dict[str, Any]:
    return {"id": doc_id(URL), "url": URL, "title": TITLE, "published": "2024-01-02",
            "year": 2023, "site": SITE, "column": f"栏目{ESC}[1m", "region": None,
            "doc_type": "summary", "text": TEXT, "truncated": False, "full_length": None,
            "placeholders": False, "mojibake": False, "source_script": "simplified",
            "is_health_report": True, "fetched_at": "2024-01-02T00:00:00+00:00",
            "content_source": f"来源{ESC}[0m"}


@pytest.fixture(scope="module")
def archive_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive holding a record full of control characters (a JSONL import stores fields as
    they are: only the display can protect the terminal)."""
    root = tmp_path_factory.mktemp("terminal")
    export = root / "evil.jsonl"
    export.write_text(json.dumps(_record(), ensure_ascii=False) + "\n", encoding="utf-8")
    result = hra(root / "data", "import", str(export))
    assert result.returncode == 0, result.stderr
    return root / "data"


def _no_raw_controls(text: str) -> None:
    """Nothing a terminal would act on: no ESC, BEL, CSI, CR (newlines are the output's own)."""
    for c in (ESC, "\x07", "\x9b", "\r"):
        assert c not in text, (c, text)


# ---------------------------------------------------------------------------------------------
# the helper


def test_printable_and_shown() -> None:
    assert printable("plain 卫生") == "plain 卫生"
    assert printable(f"{ESC}[31mx\x07\n\t\x9b\x7f") == "\\x1b[31mx\\x07\\n\\t\\x9b\\x7f"
    assert printable("a\tb\nc", keep="\t") == "a\tb\\nc"
    assert shown("[red]x[/red]") == "\\[red]x\\[/red]"
    assert shown(f"{ESC}[1m[bold]") == "\\x1b[1m\\[bold]"
    assert printable(Path("/tmp/x")) == "/tmp/x" and printable(2023) == "2023"


def test_shown_text_prints_as_typed() -> None:
    from rich.console import Console

    out = io.StringIO()
    Console(file=out, force_terminal=True, width=200).print(shown(TITLE), highlight=False)
    printed = out.getvalue()
    assert "[bold]加粗[/bold]" in printed and "\\x1b]0;pwned\\x07" in printed
    assert ESC + "]0;" not in printed and ESC + "[31m" not in printed


# ---------------------------------------------------------------------------------------------
# the commands


def test_list_show_search_stats_escape_control_characters(archive_dir: Path) -> None:
    listed = hra(archive_dir, "list")
    assert listed.returncode == 0, listed.stderr
    _no_raw_controls(listed.stdout)
    assert "\\x1b[31m红色" in listed.stdout and "\\x1b[2J" in listed.stdout

    show = hra(archive_dir, "show", doc_id(URL)[:8])
    assert show.returncode == 0, show.stderr
    _no_raw_controls(show.stdout)
    first = show.stdout.splitlines()[0]
    assert first == "\\x1b[31m红色\\x1b]0;pwned\\x07卫生健康工作总结\\n[bold]加粗[/bold]\\x9b2J"
    assert "坏站\\x1b[2J" in show.stdout and "来源\\x1b[0m" in show.stdout
    assert "\\x1b[5m闪烁 " in show.stdout and "\\t" not in show.stdout  # a tab stays one

    found = hra(archive_dir, "search", "卫生健康")
    assert found.returncode == 0, found.stderr
    _no_raw_controls(found.stdout)
    assert "\\x1b]0;pwned\\x07" in found.stdout and "[bold]加粗[/bold]" in found.stdout

    browse = hra(archive_dir, "search", "--facets", "--site", SITE)
    _no_raw_controls(browse.stdout + browse.stderr)

    stats = hra(archive_dir, "stats")
    assert stats.returncode == 0, stats.stderr
    _no_raw_controls(stats.stdout)
    assert "坏站\\x1b[2J" in stats.stdout


def test_output_to_a_terminal_carries_no_escapes_from_the_data(archive_dir: Path) -> None:
    """With colours on (as on a terminal), rich's own styling is there, the data's is not."""
    for args in (("list",), ("show", doc_id(URL)), ("search", "卫生健康")):
        out = hra(archive_dir, *args, env={"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"}).stdout
        assert ESC + "]0;" not in out and ESC + "[31m红色" not in out and "\x9b" not in out
        assert ESC + "[2J" not in out and "\\x1b]0;pwned" in out


def test_json_output_stays_exact(archive_dir: Path) -> None:
    line = hra(archive_dir, "list", "--json").stdout.strip()
    assert ESC not in line  # JSON escapes it
    assert json.loads(line)["title"] == TITLE
    shown_json = json.loads(hra(archive_dir, "show", doc_id(URL), "--json").stdout)
    assert shown_json["text"] == TEXT and shown_json["site"] == SITE
    hits = json.loads(hra(archive_dir, "search", "卫生健康", "--json").stdout)["hits"]
    assert hits[0]["title"] == TITLE


def test_import_error_lines_escape_file_names(tmp_path: Path) -> None:
    bad = tmp_path / f"evil{ESC}]0;pwned\x07{ESC}[31m.html"
    bad.write_bytes(b"")  # empty: one error line naming the file
    skipped = tmp_path / f"list{ESC}[1m.html"
    skipped.write_text("<html><body><ul>" + "".join(
        f"<li><a href='/{i}.html'>第{i}号卫生健康工作情况汇报</a></li>" for i in range(12))
        + "</ul></body></html>", encoding="utf-8")
    good = tmp_path / "ok.html"
    good.write_text(report_html("2023年卫生健康工作总结", 1), encoding="utf-8")
    result = hra(tmp_path / "data", "import", "--verbose", str(tmp_path))
    assert result.returncode == 0, result.stderr
    _no_raw_controls(result.stderr + result.stdout)
    assert "evil\\x1b]0;pwned\\x07\\x1b[31m.html" in result.stderr
    assert "list\\x1b[1m.html" in result.stderr


def test_crawl_displays_escape_event_text(capsys: pytest.CaptureFixture[str]) -> None:
    from archive.crawl_display import PlainDisplay, print_summary
    from archive.crawl_runs import CrawlResult
    from crawler.progress import Tally

    display = PlainDisplay()
    tally = Tally()
    display.event({"e": "page", "outcome": "new", "title": TITLE, "url": URL}, tally)
    display.event({"e": "page", "outcome": "new", "url": URL}, tally)  # a site answered
    display.event({"e": "page", "outcome": "failed", "url": URL + ESC + "[2J",
                   "message": f"HTTP 500 {ESC}]0;x\x07"}, tally)
    display.event({"e": "warn", "message": f"warn {ESC}[31m"}, tally)
    tally.errors.append(f"{URL}: redirect to {ESC}[31m")
    print_summary(CrawlResult(1, "ok", tally, {}, [f"w{ESC}[1m"], 1.0, Path("x.log"), 0))
    out = capsys.readouterr().out
    _no_raw_controls(out)
    assert "\\x1b]0;pwned\\x07" in out and "HTTP 500 \\x1b]0;x\\x07" in out


# ---------------------------------------------------------------------------------------------
# the text pipeline


def test_the_pipeline_strips_control_characters() -> None:
    assert strip_controls(f"a{ESC}[31mb\x07c\x9bd") == "a[31mbcd"
    assert strip_controls("a\tb\nc\x0bd\x85e") == "a b c d e"
    assert normalize_line(TITLE) == "[31m红色]0;pwned卫生健康工作总结 [bold]加粗[/bold]2J"
    assert normalize_text(f"一{ESC}段\n二\t段") == "一段\n二 段"  # paragraphs stay
    assert search_key(f"医{ESC}共体") == "医共体"


def test_a_page_with_escapes_in_its_title_is_stored_without_them() -> None:
    from archive.page_processing import process_page

    html = report_html(f"2023年{ESC}[31m卫生健康{ESC}]0;pwned\x07工作总结", 1).replace(
        "<p>", f"<p>{ESC}[1m", 1)
    html = html.replace("<head>", f'<head><meta name="ContentSource" content="来源{ESC}[0m">')
    record = process_page(html.encode(), "http://x.cn/a.html").record
    assert record is not None and record.title is not None
    assert ESC not in record.title and "\x07" not in record.title
    assert "卫生健康" in record.title
    assert ESC not in record.text and ESC not in (record.content_source or "")
    assert ESC not in (record.site or "")


def test_the_size_limit_is_in_mib() -> None:
    from archive.page_processing import MAX_PAGE_BYTES, PageError, process_page

    assert MAX_PAGE_BYTES == 20 * 2**20
    with pytest.raises(PageError, match=r"page too large \(22\.0 MiB > 20 MiB limit\)"):
        process_page(b"<p>" + b"x" * (22 * 2**20 - 3), "http://x.cn/big.html")

"""`hra demo`: the bundled site, crawled offline by the real spiders into a demo archive."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from archive.store import Store
from crawler.demo import SITE_DIR


def _cli() -> click.Group:
    """`hra` with every command module registered, as `main()` does."""
    from archive.cli import _register_command_modules, cli

    _register_command_modules()
    return cli


def test_demo_site_pages_are_what_the_readme_promises() -> None:
    gbk = (SITE_DIR / "jianbiao/gongwen/3390.html").read_bytes()
    assert b"charset" not in gbk.lower()
    gbk.decode("gbk")  # really GBK
    assert "Disallow: /private/" in (SITE_DIR / "robots.txt").read_text()
    trad = (SITE_DIR / "wenmi/show-1288.html").read_text(encoding="utf-8")
    assert "衛(wèi)生" in trad and "當前僅顯示" in trad
    assert "createPageHTML(3, 1" in (SITE_DIR / "wjw/xxgk/gzdt/index_1.html").read_text()


def test_demo_crawls_the_bundled_site(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    runner = CliRunner()
    result = runner.invoke(_cli(), ["--data-dir", str(tmp_path / "archive"), "demo",
                                    "--data-dir", str(demo)])
    assert result.exit_code == 0, result.output
    assert "demo site: http://127.0.0.1:" in result.output
    assert "16 documents" in result.output and "what to try next" in result.output
    assert "search 医共体 --limit 3" in result.output and "match 医共体" in result.output
    # It ends with the web page to try.
    assert result.output.rstrip().splitlines()[-1].strip().startswith(
        f"hra --data-dir {demo} serve")
    assert "1 robots.txt" in result.output and "4 off-topic" in result.output
    with Store(demo) as store:
        records = list(store.iter_documents())
        runs = store.runs(1)
    assert len(records) == 16
    docs = {r.title: r for r in records if "/jianbiao/gongwen/3402" not in r.url}
    assert runs[0]["status"] == "ok" and runs[0]["trigger"] == "demo"
    # the GBK page without any declaration, and the GB18030 repost with a wrong header
    gbk = docs["2023年湄潭县基本公共卫生服务项目工作总结"]
    assert not gbk.mojibake and "电子健康档案" in gbk.text
    reposts = [r for r in records if "工作总结和2024年工作安排" in (r.title or "")]
    assert len(reposts) == 3 and len({r.text for r in reposts}) == 1
    # the duplicates index (updated after the crawl) marks two of them as copies of the third
    canonical = {r.duplicate_of for r in reposts} - {None}
    assert len(canonical) == 1 and sum(r.duplicate_of is None for r in reposts) == 1
    # Traditional script with pinyin, truncated for non-members
    half = docs["市卫生健康委2023年上半年工作总结"]
    assert half.source_script == "traditional" and half.truncated and half.full_length == 5126
    assert "卫生" in half.text and "(wèi)" not in half.text
    # off-topic pages and the robots.txt-protected page are not archived
    assert not any("五四" in t or "实习" in t or "运动会" in t or "内部资料" in t for t in docs)
    gov = next(r for r in reposts if "/wjw/" in r.url)
    assert gov.published == "2024-01-15" and gov.site == "遵义市卫生健康委员会"
    assert [a.rsplit("/", 1)[-1] for a in gov.attachments] == ["P020240115_1.docx"]
    assert (demo / ".hra-demo").exists()
    assert not (tmp_path / "archive" / "archive.sqlite3").exists()  # the real archive untouched

    again = runner.invoke(_cli(), ["demo", "--data-dir", str(demo)])  # a demo dir is reused
    assert again.exit_code == 0, again.output
    with Store(demo) as store:
        assert store.count_documents() == 16 and len(store.runs(5)) == 1


def test_demo_refuses_a_directory_that_is_not_its_own(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(_cli(), ["demo", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "not an hra demo directory" in result.output
    assert (tmp_path / "notes.txt").read_text() == "mine"

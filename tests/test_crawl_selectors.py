"""A source's own CSS selectors go through `process_page` itself, for a crawl and for
`hra reprocess` alike: the archive remembers each crawled page's source (migration 6), so
reprocessing extracts it with the same selectors, looked up in the current sources.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from archive.crawl_runs import CrawlPlan, run_crawl
from archive.importer import reprocess
from archive.page_processing import ExtractOptions, process_page
from archive.store import MIGRATIONS, SCHEMA_VERSION, Store
from archive.text.normalize import normalize_line
from archive.urls import doc_id
from crawler.sources import load_sources, select_sources
from tests.crawl_server import SiteServer, list_html, report_html
from tests.test_crawl_sites import TEST_SETTINGS as SETTINGS

#: What the source's body selector picks: a block the automatic extraction would not choose.
NOTE = ("编者按：今年以来，本市卫生健康系统坚持以人民健康为中心，持续推进紧密型县域医共体建设，"
        "家庭医生签约服务覆盖率稳步提高，基层医疗卫生服务能力明显增强，群众就医更加方便。"
        "公共卫生服务体系不断完善，疾病预防控制能力持续提升，医疗机构服务质量进一步提高，"
        "分级诊疗制度建设取得新进展，中医药传承创新发展迈出新步伐，卫生健康事业高质量发展。"
        "下一步，全市卫生健康系统将继续深化医药卫生体制改革，推动优质医疗资源扩容下沉。")
CLEAN_NOTE = normalize_line(NOTE)  # as stored: NFKC (full-width punctuation folded)
TITLE = "第1号卫生健康工作情况汇报"


def _page(note: str = NOTE) -> str:
    return report_html(TITLE, 1, extra=f'<div class="editor-note"><p>{note}</p></div>')


def _user_sources(data_dir: Path, base: str, selectors: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "sources.toml").write_text(
        f'[[source]]\nname = "sel-test"\nstart_urls = ["{base}/index.html"]\n'
        f"selectors = {{ {selectors} }}\n", encoding="utf-8")


def _cli():
    from archive.cli import cli

    return cli


def test_body_selector_in_process_page() -> None:
    data = _page().encode("utf-8")
    url = "http://sel.example/a.html"
    generic = process_page(data, url).record
    chosen = process_page(data, url, options=ExtractOptions(body=".editor-note")).record
    assert generic is not None and chosen is not None
    assert CLEAN_NOTE not in generic.text  # the automatic extraction chooses the report body
    assert chosen.text == CLEAN_NOTE and chosen.title == TITLE

    result = process_page(data, url, options=ExtractOptions(
        body=".nowhere", title=".editor-note p", date=".nothing"))
    assert result.missing_selectors == ["body", "date"]
    assert result.record is not None and result.record.text == generic.text
    assert result.record.title == CLEAN_NOTE  # the title selector's text, normalized
    assert ExtractOptions.from_selectors({"links": "ul a"}) is None


def test_crawl_with_a_body_selector_then_reprocess_keeps_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with SiteServer() as site:
        site.page("/index.html", list_html([("/a.html", TITLE)]))
        site.page("/a.html", _page())
        _user_sources(data, site.url("").rstrip("/"), 'body = ".editor-note"')
        sources = select_sources(load_sources(data), ["sel-test"])
        result = run_crawl(data, CrawlPlan(sources, settings=SETTINGS))
    assert result.status == "ok" and result.tally.counts.new == 1
    did = doc_id(site.url("/a.html"))
    with Store(data) as store:
        assert store.get(did).text == CLEAN_NOTE
        assert store.latest_page(did).source == "sel-test"

    # `hra reprocess` applies the same selector: nothing changes.
    out = CliRunner().invoke(_cli(), ["--data-dir", str(data), "reprocess", "--json"])
    assert out.exit_code == 0, out.output
    counts = json.loads(out.output)
    assert counts["unchanged"] == 1 and counts["changed"] == 0 and counts["failed"] == 0
    with Store(data) as store:
        assert store.get(did).text == CLEAN_NOTE

    # The selector changed in sources.toml: reprocess uses the current one.
    _user_sources(data, site.url("").rstrip("/"), 'body = ".content"')
    with Store(data) as store:
        summary = reprocess(store)
        assert summary.counts.changed == 1 and not summary.sources_gone
        assert CLEAN_NOTE not in store.get(did).text

    # The source is gone: generic extraction, and the page is counted.
    (data / "sources.toml").unlink()
    with Store(data) as store:
        summary = reprocess(store)
        assert summary.sources_gone == {"sel-test": 1}
        generic = process_page(_page().encode("utf-8"), site.url("/a.html")).record
        assert store.get(did).text == generic.text


def test_migration_6_adds_the_page_source(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "archive.sqlite3")
    db.executescript(";".join(MIGRATIONS[:5]) + "; PRAGMA user_version = 5;")
    db.execute("INSERT INTO pages (doc_id, url, fetched_at, sha256, size, codec, body)"
               " VALUES ('d', 'http://x/', '2024-01-01T00:00:00+00:00', 's', 0, 'zstd', x'')")
    db.commit()
    db.close()
    with Store(tmp_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 6
        assert store.db.execute("SELECT source FROM pages").fetchone()[0] is None

"""`hra serve`'s application in-process (Starlette's TestClient) on the demo archive with hostile
documents: the search page agrees with `hra search`, facets and paging link to what they count,
the document page shows copies and the stored page under a script-blocking policy, exports are
`hra export`'s bytes, malformed parameters are 400 with a message, a slow search is cut, archived
markup is text everywhere, and nothing in the archive changes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import time
import warnings
import zipfile
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import quote

import pytest

with warnings.catch_warnings():  # Starlette 1.x would rather use httpx2 (not packaged yet)
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from archive.web.app import create_app
from archive.web.params import BadRequest, search_params
from archive.web.views import highlight, pages, safe_url
from tests.web_fixtures import XSS_ID, XSS_SITE, XSS_TITLE, build_archive, hra


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_archive(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(data_dir)) as c:
        yield c


def search_json(data_dir: Path, *args: str) -> dict:
    return json.loads(hra(data_dir, "search", *args, "--json"))


def hit_ids(html: str) -> list[str]:
    return re.findall(r'<h3><a href="/doc/([0-9a-f]{16})">', html)


def total(html: str) -> int:
    found = re.search(r'id="total">\s*共 <strong>(\d+)</strong>', html)
    assert found, html[:2000]
    return int(found.group(1))


def error_message(html: str) -> str:
    found = re.search(r'id="error-message">(.*?)</p>', html, re.S)
    assert found, html[:2000]
    return unescape(found.group(1))


# ---------------------------------------------------------------------------------------------
# The search page


def test_search_page_is_hra_search(client: TestClient, data_dir: Path) -> None:
    response = client.get("/", params={"q": "医共体", "limit": "10"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    expected = search_json(data_dir, "医共体", "--limit", "10")
    assert total(response.text) == expected["total"] > 3
    assert hit_ids(response.text) == [h["id"] for h in expected["hits"]]
    assert "<mark>医共体</mark>" in response.text  # the snippet's match highlighted


def test_results_show_flags_copies_and_metadata_in_words(client: TestClient,
                                                         data_dir: Path) -> None:
    html = client.get("/", params={"limit": "100", "all": "1"}).text
    hits = search_json(data_dir, "--limit", "100", "--all-versions")["hits"]
    truncated = next(h for h in hits if h["truncated"])
    traditional = next(h for h in hits if h["source_script"] == "traditional")
    copied = next(h for h in hits if h["copies"] > 1)
    assert "截断" in truncated["flags"][0]
    assert f'<span class="flag">{truncated["flags"][0]}</span>' in html
    assert '<span class="flag">原文为繁体</span>' in html and traditional
    assert f'<a href="/doc/{copied["id"]}#copies">{copied["copies"]} 份副本</a>' in html
    assert "工作总结" in html and "贵州省遵义市" in html  # type in Chinese, region


def test_browse_with_filters_and_paging(client: TestClient, data_dir: Path) -> None:
    everything = search_json(data_dir, "--limit", "100")
    first = client.get("/", params={"limit": "10"}).text
    assert total(first) == everything["total"] > 10
    assert hit_ids(first) == [h["id"] for h in everything["hits"][:10]]
    assert 'href="?limit=10&amp;page=2"' in first
    second = client.get("/", params={"limit": "10", "page": "2"}).text
    assert hit_ids(second) == [h["id"] for h in everything["hits"][10:20]]
    plans = client.get("/", params={"type": "plan", "year": "2024"}).text
    expected = search_json(data_dir, "--type", "plan", "--year", "2024")
    assert total(plans) == expected["total"] > 0
    assert hit_ids(plans) == [h["id"] for h in expected["hits"]]


def test_issuer_filter_and_official_fields_as_hra_search(client: TestClient,
                                                         data_dir: Path) -> None:
    """--issuer on the page as on the command line; the document page shows the official
    fields and the body's data table as a table."""
    expected = search_json(data_dir, "指标", "--issuer", "卫生健康")
    html = client.get("/", params={"q": "指标", "issuer": "卫生健康"}).text
    assert total(html) == expected["total"] >= 1
    assert hit_ids(html) == [h["id"] for h in expected["hits"]]
    assert "发布机构" in html and "卫生健康" in html  # the active filter, with its remove link
    none = client.get("/", params={"q": "指标", "issuer": "不存在的机关"}).text
    assert total(none) == 0
    doc = client.get(f"/doc/{expected['hits'][0]['id']}").text
    assert "遵卫健发〔2024〕9号" in doc and "2024-02-18" in doc
    text = doc[doc.index('id="text"'):]
    assert text.index("<table") < text.index("</div>")  # the table in the body, in its place
    assert "<td>县域内就诊率</td>" in text and "县域内就诊率\t" not in doc


def test_facet_links_select_what_they_count(client: TestClient) -> None:
    html = client.get("/", params={"q": "医共体"}).text
    facets = re.findall(r'<a href="(\?[^"]+)">([^<]+)</a>\s*<span class="n">(\d+)</span>', html)
    assert len(facets) >= 6, facets
    for link, label, count in facets:
        target = client.get("/" + unescape(link))
        assert target.status_code == 200, label
        assert total(target.text) == int(count), (label, link)


def test_trend_chart_of_the_query(client: TestClient) -> None:
    html = client.get("/", params={"q": "医共体", "region": "遵义"}).text
    src = unescape(re.search(r'<img src="(/trend\.png[^"]*)"', html).group(1))
    assert "q=" in src and "region=" in src
    image = client.get(src)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG") and len(image.content) > 5000
    by_type = client.get("/trend.png", params={"q": "医共体", "by": "type"})
    assert by_type.content.startswith(b"\x89PNG") and by_type.content != image.content


# ---------------------------------------------------------------------------------------------
# The document page


def test_document_page_shows_copies_and_their_differences(client: TestClient,
                                                          data_dir: Path) -> None:
    cluster = json.loads(hra(data_dir, "dups", "--json"))[0]
    canonical, *others = cluster["copies"]
    html = client.get(f"/doc/{others[0]['id']}").text
    assert f'<h2 id="copies">副本（{len(cluster["copies"])} 份）</h2>' in html
    for copy in cluster["copies"]:
        if copy["id"] != others[0]["id"]:
            assert f'<a class="copy" href="/doc/{copy["id"]}">' in html
    assert "日期不同" in html  # the reposts were published later than the original
    assert f'<a href="/doc/{canonical["id"]}">{canonical["id"]}</a>' in html  # 原件 row
    assert '<iframe class="raw" sandbox=""' in html
    record = json.loads(hra(data_dir, "show", "--json", canonical["id"]))
    assert record["attachments"]  # the demo's report links a .docx
    original = client.get(f"/doc/{canonical['id']}").text
    for url in record["attachments"]:
        assert f'<a href="{url}" rel="noopener noreferrer nofollow" target="_blank">' \
               f'{url.rsplit("/", 1)[1]}</a>' in original


def test_document_page_metadata_text_and_source_link(client: TestClient,
                                                     data_dir: Path) -> None:
    record = json.loads(hra(data_dir, "show", "--json", search_json(
        data_dir, "医共体")["hits"][0]["id"]))
    html = client.get(f"/doc/{record['id']}").text
    assert f'<h1 id="title">{record["title"]}</h1>' in html
    assert f'href="{record["url"]}" rel="noopener noreferrer nofollow"' in html
    first_para = record["text"].split("\n")[0]
    assert f"<p>{first_para}</p>" in html
    assert "<th>发布日期</th>" in html and record["published"] in html


def test_stored_page_is_served_sandboxed_without_scripts(client: TestClient,
                                                         data_dir: Path) -> None:
    did = search_json(data_dir, "滨江市卫生健康委员会2023年")["hits"][0]["id"]
    raw = client.get(f"/doc/{did}/raw")
    assert raw.status_code == 200
    csp = raw.headers["content-security-policy"]
    assert csp.startswith("sandbox;") and "default-src 'none'" in csp
    assert "script-src" not in csp  # default-src 'none' covers scripts: none may run
    assert "<script>alert(6);" in raw.text  # the page as stored, inert here
    text = client.get(f"/doc/{did}/raw", params={"as": "text"})
    assert text.headers["content-type"].startswith("text/plain")
    assert client.get(f"/doc/{XSS_ID}/raw").status_code == 404  # JSONL import: no page


# ---------------------------------------------------------------------------------------------
# Exports: the bytes of `hra export`


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_is_hra_export(client: TestClient, data_dir: Path, tmp_path: Path,
                              fmt: str) -> None:
    out = tmp_path / f"x.{fmt}"
    hra(data_dir, "export", "医共体", "--region", "遵义", "--format", fmt, "-o", str(out))
    response = client.get(f"/export.{fmt}", params={"q": "医共体", "region": "遵义"})
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.content == out.read_bytes()
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert len(rows) == search_json(data_dir, "医共体", "--region", "遵义")["total"] > 0


def test_markdown_and_word_exports(client: TestClient, data_dir: Path, tmp_path: Path) -> None:
    n = search_json(data_dir, "--type", "speech")["total"]
    md = client.get("/export.md", params={"type": "speech"})
    out = tmp_path / "x.md"
    hra(data_dir, "export", "--type", "speech", "--format", "md", "--one-file", "-o", str(out))
    assert md.content == out.read_bytes() and md.text.startswith("# 目录")
    docx = client.get("/export.docx", params={"type": "speech"})
    with zipfile.ZipFile(io.BytesIO(docx.content)) as z:
        body = z.read("word/document.xml").decode("utf-8")
        core = z.read("docProps/core.xml").decode("utf-8")
    assert body.count('<w:pStyle w:val="Heading1"/>') == n > 0
    assert "hra 导出: --type speech" in core


# ---------------------------------------------------------------------------------------------
# Security


def test_archived_markup_is_text_everywhere(client: TestClient) -> None:
    pages_ = [client.get("/", params={"q": "滨江"}).text, client.get(f"/doc/{XSS_ID}").text,
              client.get("/", params={"q": "滨江", "site": XSS_SITE}).text]
    for html in pages_:
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "<b>深化" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages_[0]
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in pages_[1]
    assert "&lt;img src=x onerror=alert(4)&gt;" in pages_[1]
    assert total(pages_[2]) == 1  # the hostile site name works as a filter, shown as text
    title = re.search(r'<h1 id="title">(.*?)</h1>', pages_[1]).group(1)
    assert unescape(title) == XSS_TITLE


def test_every_page_forbids_scripts(client: TestClient) -> None:
    for path in ("/", "/?q=医共体", f"/doc/{XSS_ID}", "/runs", "/nothing", "/?year=x"):
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script" not in csp, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "<script" not in response.text.replace("&lt;script", ""), path


@pytest.mark.parametrize(("params", "said"), [
    ({"year": "abc"}, "year 应为整数"),
    ({"year": "20233"}, "year 应在 1 到 9999 之间"),
    ({"since": "2023-13"}, "there is no month 13"),
    ({"year": "2023", "since": "2022"}, "use either --year or --since/--until"),
    ({"since": "2024", "until": "2023"}, "is after --until"),
    ({"region": "火星"}, "unknown --region '火星'"),
    ({"type": "poem"}, "unknown --type 'poem'"),
    ({"q": '"家庭医生'}, "bad query"),
    ({"q": "()"}, "bad query"),
    ({"page": "0"}, "page 应在 1 到 1000 之间"),
    ({"page": "-1"}, "page 应为整数"),
    ({"limit": "7"}, "limit 只能是"),
    ({"complete": "maybe"}, "complete 应为 1 或 0"),
    ({"sort": "random"}, "sort 应为 relevance / date 之一"),
    ({"by": "city"}, "by 应为 year / province / type 之一"),
    ({"q": "医" * 600}, "q 太长"),
    ({"region": "遵义\x00"}, "region 含控制字符"),
])
def test_malformed_parameters_are_400_with_a_message(client: TestClient, params: dict,
                                                     said: str) -> None:
    paths = ("/", "/trend.png") if "by" in params else ("/", "/export.csv", "/trend.png")
    for path in paths:  # (an export has no chart: it ignores `by`)
        response = client.get(path, params=params)
        assert response.status_code == 400, (path, params, response.text[:300])
        assert said in error_message(response.text), path


@pytest.mark.parametrize("path", [
    "/doc/..%2F..%2Fetc%2Fpasswd", "/doc/%2e%2e/%2e%2e/etc/passwd", "/doc/ABCDEF0123456789",
    "/doc/0123456789abcdeg/raw", "/export.exe", "/export.csv%2F..%2F..%2Fetc%2Fpasswd",
    "/../../etc/passwd", "/static/../../archive.sqlite3", "/archive.sqlite3", "/templates/base.html",
])
def test_no_request_reaches_files(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (400, 404), path
    assert "root:" not in response.text and "SQLite format" not in response.text
    assert "{% block" not in response.text


def test_unknown_document_and_page_are_404(client: TestClient) -> None:
    response = client.get("/doc/ffffffffffffffff")
    assert response.status_code == 404 and "没有编号为 ffffffffffffffff 的文档" in \
        error_message(response.text)
    assert client.get("/nothing/here").status_code == 404


def test_a_slow_search_is_cut_with_a_message(data_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A search still running at the time limit: the page says so at once, and the SQL it runs
    is aborted (not left running for its hour)."""
    import sqlite3
    import threading

    import search.selection

    aborted = threading.Event()

    def endless(store: object, *args: object, **kwargs: object) -> object:
        try:  # an SQL statement that would run for a very long time
            store.db.execute(  # type: ignore[attr-defined]
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                "SELECT count(*) FROM n").fetchone()
        except sqlite3.OperationalError:
            aborted.set()
            raise
        raise AssertionError("the statement was not aborted")

    monkeypatch.setattr(search.selection, "search_archive", endless)
    with TestClient(create_app(data_dir, timeout=0.3)) as slow:
        started = time.monotonic()
        response = slow.get("/", params={"q": "医共体"})
        took = time.monotonic() - started
    assert response.status_code == 503
    assert "查询超过 0.3 秒，已中止" in error_message(response.text)
    assert took < 5
    assert aborted.wait(5), "the cut search's SQL kept running"


def test_no_archive_is_a_clear_error(tmp_path: Path) -> None:
    from archive.errors import HraError

    with pytest.raises(HraError, match="no archive at"):
        create_app(tmp_path / "nothing")


def test_runs_and_sources(client: TestClient, data_dir: Path) -> None:
    html = client.get("/runs").text
    runs = json.loads(hra(data_dir, "runs", "--json"))
    assert len(re.findall(r"<tr>\s*<td>\d+</td>", html)) == len(runs) >= 2
    assert "抓取" in html and "导入" in html and "成功" in html
    assert 'id="sources"' in html
    sources = html.split('id="sources"', 1)[1].split("</table>", 1)[0]
    assert "<td>demo</td>" in sources and "<td>demo-wjw</td>" in sources  # the demo's crawl
    assert "从未抓取的来源" in html  # the shipped sources, folded


def test_the_app_never_writes_the_archive(client: TestClient, data_dir: Path) -> None:
    def snapshot() -> dict[str, str]:
        return {str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(data_dir.rglob("*")) if p.is_file() and not p.name.endswith("-shm")}

    before = snapshot()
    did = search_json(data_dir, "医共体")["hits"][0]["id"]
    for path in ("/", "/?q=医共体", f"/doc/{did}", f"/doc/{did}/raw", "/runs",
                 "/export.csv?q=" + quote("医共体"), "/trend.png?q=" + quote("医共体")):
        assert client.get(path).status_code == 200, path
    assert snapshot() == before


# ---------------------------------------------------------------------------------------------
# Units


def test_highlight_escapes_and_marks() -> None:
    assert str(highlight("<b>医共体</b>建设", [(3, 6)])) == \
        "&lt;b&gt;<mark>医共体</mark>&lt;/b&gt;建设"


def test_only_http_links_are_links() -> None:
    assert safe_url("https://wjw.example.gov.cn/a.html")
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("JaVaScRiPt:alert(1)") is None
    assert safe_url("data:text/html,<script>") is None


def test_pager_numbers() -> None:
    assert pages(0, 20, 1) == [1]
    assert pages(1000, 20, 25) == [1, None, 22, 23, 24, 25, 26, 27, 28, None, 50]


def test_links_keep_the_search() -> None:
    params = search_params({"q": "医共体 遵义", "year": "2023", "page": "3"})
    assert params.link(type="plan") == "?q=%E5%8C%BB%E5%85%B1%E4%BD%93+%E9%81%B5%E4%B9%89&year=2023&type=plan"
    assert params.link(page=4).endswith("&page=4")
    with pytest.raises(BadRequest):
        search_params({"all": "2"})


# ---------------------------------------------------------------------------------------------
# `hra serve` itself (the browser tests start it for real)


def test_serve_warns_when_the_network_can_see_the_archive(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from click.testing import CliRunner

    from archive.cli import cli
    from archive.commands.serve import is_loopback

    bound: list[tuple[str, int]] = []

    def run(self: uvicorn.Server) -> None:  # record the address instead of listening on it
        bound.append((self.config.host, self.config.port))
        self.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setattr("archive.commands.serve._usable_port", lambda host, port: port)
    shared = CliRunner().invoke(cli, ["--data-dir", str(data_dir), "serve", "--host",
                                      "0.0.0.0", "--port", "8123"])
    assert shared.exit_code == 0, shared.output
    assert "warning: listening on 0.0.0.0: anyone who can reach this machine" in shared.stderr
    local = CliRunner().invoke(cli, ["--data-dir", str(data_dir), "serve"])
    assert local.exit_code == 0 and "warning" not in local.stderr
    assert "at http://127.0.0.1:8000/" in local.stdout
    assert bound == [("0.0.0.0", 8123), ("127.0.0.1", 8000)]
    assert is_loopback("::1") and is_loopback("localhost") and not is_loopback("192.168.1.5")


def test_serve_on_a_taken_port_is_one_line(data_dir: Path) -> None:
    import socket

    from click.testing import CliRunner

    from archive.cli import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), "serve", "--port",
                                          str(port)])
    assert result.exit_code == 1
    assert result.output.strip() == (f"error: cannot listen on 127.0.0.1:{port}: Address "
                                     "already in use (another server? choose one with --port)")


def test_serve_without_an_archive_is_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from archive.cli import cli

    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "none"), "serve"])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: no archive at")
    assert "Traceback" not in result.output


def test_active_filters_each_removable(client: TestClient) -> None:
    html = client.get("/", params={"q": "医共体", "year": "2024", "type": "plan"}).text
    chips = re.findall(r'<span class="chip">(.*?) <a href="([^"]*)"', html)
    assert [label for label, _ in chips] == ["年度：2024", "类型：工作计划/要点"]
    without_year = client.get("/" + unescape(chips[0][1])).text
    assert total(without_year) == total(client.get("/", params={"q": "医共体",
                                                                "type": "plan"}).text)


def test_attachments_and_body_of_any_record_shape() -> None:
    from types import SimpleNamespace

    from archive.record import Record
    from archive.web.views import attachments, body

    old = SimpleNamespace(attachments=["http://wjw.example.gov.cn/files/附件1.xlsx"])
    new = SimpleNamespace(attachments=[{"url": "http://x.cn/a.pdf", "name": "实施方案",
                                        "format": "pdf", "parent": "0123456789abcdef"}],
                          )
    assert attachments(old) == [{"url": "http://wjw.example.gov.cn/files/附件1.xlsx",
                                 "name": "附件1.xlsx", "details": {}}]
    assert attachments(new) == [{"url": "http://x.cn/a.pdf", "name": "实施方案",
                                 "details": {"format": "pdf", "parent": "0123456789abcdef"}}]
    table = {"type": "table", "rows": [["指标", "2023年"], ["签约率", "45%"]]}
    with_table = Record(id="0" * 16, url="http://x.cn/1.html", title="t", published=None,
                        year=None, site=None, column=None, region=None, doc_type="plan",
                        text="一、目标\n指标\t2023年\n签约率\t45%\n二、措施",
                        blocks=[{"type": "p", "text": "一、目标"}, table,
                                {"type": "p", "text": "二、措施"}])
    assert body(with_table) == with_table.blocks  # the table in its place, between paragraphs
    stored_before = Record(id="1" * 16, url="http://x.cn/2.html", title="t", published=None,
                           year=None, site=None, column=None, region=None, doc_type="plan",
                           text="一、目标\n二、措施")
    assert body(stored_before) == [{"type": "p", "text": "一、目标"},
                                   {"type": "p", "text": "二、措施"}]


def test_archive_gone_while_serving_is_a_message(data_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    with TestClient(create_app(copy)) as c:
        assert c.get("/", params={"q": "医共体"}).status_code == 200
        shutil.rmtree(copy)
        for path in ("/?q=医共体", f"/doc/{XSS_ID}", "/export.csv?q=x", "/runs"):
            response = c.get(path)
            assert response.status_code == 503, path
            assert "no archive at" in error_message(response.text), path

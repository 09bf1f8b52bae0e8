"""WARC out and in: `hra export --format warc`, `hra import FILE.warc[.gz]`.

The round trip of the demo archive (plus a second version of a page and a page imported from
a file) into an empty data dir keeps every page version's bytes, URLs, status, headers and
fetch time, the documents and the duplicate clusters. WARC from other tools: one written by
``wget --warc-file`` against a local site, one built by hand with warcio (revisits, non-HTML
responses, a resource record, warcinfo and request records).
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.cli import _register_command_modules, cli
from archive.page_processing import process_page
from archive.store import Store
from tests.conftest import report_page, require_program
from tests.crawl_server import SiteServer
from tests.document_fixtures import pdf_prose

_register_command_modules()

PARAGRAPHS = [
    "2023年以来，全市卫生健康系统深入推进紧密型县域医共体建设，组建医共体12个，基层就诊率达到65.2%。",
    "家庭医生签约服务覆盖率达到75.3%，重点人群签约率达到85%以上，慢性病患者健康管理水平不断提高。",
    "下一步，我们将继续深化医药卫生体制改革，推进公立医院高质量发展，不断提升群众看病就医获得感。",
]
PAGE_COLUMNS = "doc_id, url, final_url, status, headers, fetched_at, sha256, source"
DOC_COLUMNS = ("id, url, title, published, year, site, column_name, region, doc_type, text, "
               "truncated, full_length, placeholders, mojibake, source_script, "
               "is_health_report, fetched_at, duplicate_of, attachments, content_source")


def hra(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def import_json(data_dir: Path, *paths: Path | str) -> dict:
    result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), "import", "--json",
                                      *map(str, paths)])
    assert "Traceback" not in result.output, result.output
    return json.loads(result.stdout)


def rows(data_dir: Path) -> tuple[list[tuple], list[tuple]]:
    db = sqlite3.connect(data_dir / "archive.sqlite3")
    try:
        pages = sorted(db.execute(f"SELECT {PAGE_COLUMNS} FROM pages").fetchall())
        docs = sorted(db.execute(f"SELECT {DOC_COLUMNS} FROM documents").fetchall())
    finally:
        db.close()
    return pages, docs


def clusters(data_dir: Path) -> list:
    out = hra("--data-dir", str(data_dir), "dups", "--json", "--limit", "1000")
    return json.loads(out)


# ---------------------------------------------------------------------------------------------
# Round trip


@pytest.fixture(scope="module")
def archive_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo archive, with a second version of one page and a page imported from a file."""
    base = tmp_path_factory.mktemp("warc")
    data = base / "demo"
    hra("demo", "--data-dir", str(data))
    with Store(data) as store:
        page = next(store.iter_latest_pages())
        body = page.body.replace(b"</body>", "<p>（本文已于次日更新）</p></body>".encode())
        result = process_page(body, page.final_url or page.url, fetched_at="2031-01-02T03:04:05+00:00")
        assert result.record is not None
        assert store.save_page(url=page.url, body=body, record=result.record,
                               fetched_at="2031-01-02T03:04:05+00:00", final_url=page.final_url,
                               status=page.status, headers=page.headers,
                               source=page.source) == "changed"
    saved = base / "saved.html"
    saved.write_text(report_page("滨江市卫生健康委员会2023年工作总结", PARAGRAPHS * 2), encoding="utf-8")
    assert import_json(data, saved)["new"] == 1
    return data


def test_round_trip_keeps_every_version_and_document(archive_dir: Path, tmp_path: Path) -> None:
    warc = tmp_path / "backup.warc.gz"
    hra("--data-dir", str(archive_dir), "export", "--format", "warc", "-o", str(warc))
    before_pages, before_docs = rows(archive_dir)
    assert len(before_pages) > len(before_docs) >= 10  # several versions of one page

    types = []
    with warc.open("rb") as fh:
        for record in ArchiveIterator(fh):
            types.append(record.rec_type)
            if record.rec_type == "response":
                assert record.rec_headers.get_header("WARC-Payload-Digest").startswith("sha1:")
                assert record.http_headers.get_statuscode() == "200"
    assert types[0] == "warcinfo"
    assert types.count("response") + types.count("resource") == len(before_pages)
    assert types.count("resource") == 1  # the page imported from a file: no HTTP
    assert types.count("metadata") == len(before_pages)

    empty = tmp_path / "restored"
    summary = import_json(empty, warc)
    assert summary["new"] + summary["changed"] == len(before_pages), summary
    assert summary["failed"] == 0 and summary["warc_other_records"] == {"warcinfo": 1}
    after_pages, after_docs = rows(empty)
    assert after_pages == before_pages  # same sha256, URLs, status, headers, fetch time, source
    assert after_docs == before_docs  # same documents, duplicate marks included
    assert clusters(empty) == clusters(archive_dir)
    assert any(d[17] for d in after_docs), "the demo has reposts: clusters were compared"

    again = import_json(empty, warc)  # any number of times: nothing changes
    assert again["unchanged"] == len(before_pages) and again["new"] == again["changed"] == 0
    assert rows(empty) == (before_pages, before_docs)


def test_export_of_a_selection_and_atomic_refusals(archive_dir: Path, tmp_path: Path) -> None:
    warc = tmp_path / "yigai.warc.gz"
    hra("--data-dir", str(archive_dir), "export", "医共体", "--format", "warc", "-o", str(warc))
    with warc.open("rb") as fh:
        uris = {r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)
                if r.rec_type == "response"}
    _, docs = rows(archive_dir)
    assert 0 < len(uris) < len(docs)
    result = CliRunner().invoke(cli, ["--data-dir", str(archive_dir), "export", "--format",
                                      "warc", "-o", str(warc)])
    assert result.exit_code == 1 and "exists; use --force" in result.output
    result = CliRunner().invoke(cli, ["--data-dir", str(archive_dir), "export", "--format",
                                      "warc"])
    assert result.exit_code == 2 and "--output" in result.output
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_damaged_record_is_a_failure_not_a_page(archive_dir: Path, tmp_path: Path) -> None:
    """A body that does not match the sha256 hra recorded is refused (the rest goes on)."""
    warc = tmp_path / "all.warc"  # uncompressed: easy to damage
    hra("--data-dir", str(archive_dir), "export", "--format", "warc", "-o", str(warc))
    data = warc.read_bytes()
    at = data.index("医共体".encode())
    damaged = tmp_path / "damaged.warc"
    damaged.write_bytes(data[:at] + "医联体".encode() + data[at + len("医共体".encode()):])
    summary = import_json(tmp_path / "data", damaged)
    assert summary["failed"] == 1 and "damaged record" in summary["errors"][0]
    assert summary["new"] >= 10


# ---------------------------------------------------------------------------------------------
# WARC from other tools


def _site(site: SiteServer) -> dict[str, bytes]:
    """A small report site: a list page, two reports (one GBK without a charset header), a
    redirect to a report, a PDF, a 404 link and robots.txt. Returns the reports' bytes."""
    one = report_page("滨江市卫生健康委员会2023年工作总结", PARAGRAPHS * 2).encode()
    two = report_page("滨江市卫生健康委员会2024年工作要点", PARAGRAPHS[::-1] * 2,
                      charset_meta="gbk").encode("gbk")
    three = report_page("滨江市卫生健康委员会2022年工作总结", PARAGRAPHS[1:] * 3).encode()
    site.route("/robots.txt", body=b"User-agent: *\nAllow: /\n", content_type="text/plain")
    site.page("/list.html", "<html><body><ul>" + "".join(
        f'<li><a href="{href}">{text}</a></li>' for href, text in [
            ("/a/1.html", "工作总结"), ("/a/2.html", "工作要点"), ("/old/3.html", "旧址"),
            ("/files/plan.pdf", "附件"), ("/gone.html", "已删除")]) + "</ul></body></html>")
    site.route("/a/1.html", body=one)
    site.route("/a/2.html", body=two, content_type="text/html")
    site.route("/old/3.html", status=301, location="/a/3.html")
    site.route("/a/3.html", body=three)
    site.route("/files/plan.pdf", body=pdf_prose(), content_type="application/pdf")
    return {"/a/1.html": one, "/a/2.html": two, "/a/3.html": three}


def test_wget_warc(tmp_path: Path) -> None:
    wget = require_program("wget", package="wget")
    with SiteServer() as site:
        bodies = _site(site)
        subprocess.run([wget, "--quiet", "--recursive", "--level=2", "--no-parent",
                        "--tries=1", "--timeout=10", "--delete-after", "--no-directories",
                        "--warc-file", str(tmp_path / "site"), site.url("/list.html")],
                       cwd=tmp_path, check=False, timeout=60)
        warc = tmp_path / "site.warc.gz"
        assert warc.exists()
        summary = import_json(tmp_path / "data", warc)
        base = site.url("")
    assert summary["new"] == 4, summary  # three pages and the PDF report (an attachment)
    assert summary["failed"] == 0, summary
    reasons = summary["skipped_by_reason"]
    # robots.txt, the PDF, and wget's own resource records (its arguments and log)
    assert reasons["not-html"] == 3  # what is neither a page nor a report file (the PDF is one)
    assert reasons["http-301"] == 1 and reasons["http-404"] >= 1  # the pages' dead links
    assert reasons.get("list", 0) + reasons.get("empty", 0) == 1  # the list page
    other = summary["warc_other_records"]
    assert other["warcinfo"] == 1 and other["request"] >= 7 and other["metadata"] >= 1
    with Store(tmp_path / "data") as store:
        pages = {p.final_url: p for p in store.iter_pages()}
        for path, body in bodies.items():
            page = pages[base + path]
            assert page.body == body and page.sha256 == hashlib.sha256(body).hexdigest()
            assert page.status == 200
        assert pages[base + "/a/3.html"].url == base + "/old/3.html"  # requested first
        titles = {r.title for r in store.iter_documents()}
        formats = sorted(r.format for r in store.iter_documents())
    assert "滨江市卫生健康委员会2024年工作要点" in titles  # GBK decoded without a header charset
    assert formats == ["html", "html", "html", "pdf"]  # the PDF report read by its bytes
    again = import_json(tmp_path / "data", warc)
    assert again["unchanged"] == 4 and again["new"] == 0


def _record(writer: WARCWriter, kind: str, uri: str, body: bytes, *, status: str = "200 OK",
            ctype: str = "text/html; charset=utf-8", date: str = "2024-03-08T09:30:00Z",
            extra: dict[str, str] | None = None) -> None:
    http = None
    if kind in ("response", "revisit"):
        http = StatusAndHeaders(status, [("Content-Type", ctype),
                                         ("Content-Length", str(len(body)))],
                                protocol="HTTP/1.1")
    record = writer.create_warc_record(
        uri, kind, payload=io.BytesIO(body if kind != "revisit" else b""),
        length=len(body) if kind != "revisit" else 0, http_headers=http,
        warc_content_type=ctype if kind == "resource" else "",
        warc_headers_dict={"WARC-Date": date, **(extra or {})})
    writer.write_record(record)


def test_hand_built_warc_with_revisits_and_non_html(tmp_path: Path) -> None:
    page = report_page("滨江市卫生健康委员会2023年工作总结", PARAGRAPHS * 2).encode()
    other = report_page("遵义市卫生健康局2024年工作要点", PARAGRAPHS[1:] * 3).encode()
    digest = "sha1:" + __import__("base64").b32encode(hashlib.sha1(page).digest()).decode()
    warc = tmp_path / "mixed.warc.gz"
    with warc.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        writer.write_record(writer.create_warcinfo_record("mixed.warc.gz",
                                                          {"software": "handmade"}))
        _record(writer, "request", "https://wjw.example.cn/a.html",
                b"GET /a.html HTTP/1.1\r\nHost: wjw.example.cn\r\n\r\n",
                ctype="application/http; msgtype=request")
        _record(writer, "response", "https://wjw.example.cn/a.html", page)
        of_a = {"WARC-Payload-Digest": digest,
                "WARC-Profile": "http://netpreserve.org/warc/1.0/revisit/identical-payload-digest",
                "WARC-Refers-To-Target-URI": "https://wjw.example.cn/a.html"}
        _record(writer, "revisit", "https://wjw.example.cn/a.html", page,
                date="2024-04-01T00:00:00Z", extra=of_a)
        _record(writer, "revisit", "https://mirror.example.org/copy.html", page,
                date="2024-04-02T00:00:00Z", extra=of_a)
        _record(writer, "response", "https://wjw.example.cn/logo.png", b"\x89PNG\r\n\x1a\n",
                ctype="image/png")
        _record(writer, "response", "https://wjw.example.cn/missing.html",
                b"<html>not found</html>", status="404 Not Found")
        _record(writer, "resource", "file:///home/user/saved/zunyi.html", other)
        _record(writer, "metadata", "https://wjw.example.cn/a.html", b"outlinks: 3\r\n",
                ctype="application/warc-fields")
    summary = import_json(tmp_path / "data", warc)
    assert summary["new"] == 3, summary  # a.html, the mirror's copy (from the revisit), zunyi
    assert summary["failed"] == 0
    assert summary["skipped_by_reason"] == {"revisit": 1, "not-html": 1, "http-404": 1}
    assert summary["warc_other_records"] == {"warcinfo": 1, "request": 1, "metadata": 1}
    with Store(tmp_path / "data") as store:
        pages = {p.url: p for p in store.iter_pages()}
    assert set(pages) == {"https://wjw.example.cn/a.html", "https://mirror.example.org/copy.html",
                          "file:///home/user/saved/zunyi.html"}
    assert pages["https://mirror.example.org/copy.html"].body == page
    assert pages["https://mirror.example.org/copy.html"].fetched_at == "2024-04-02T00:00:00+00:00"
    assert pages["https://wjw.example.cn/a.html"].fetched_at == "2024-03-08T09:30:00+00:00"
    assert pages["file:///home/user/saved/zunyi.html"].status is None


def test_not_a_warc_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.warc.gz"
    bad.write_bytes(b"this is not a WARC file at all\n" * 10)
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "data"), "import", str(bad)])
    assert result.exit_code == 1
    assert "not a WARC file" in result.output and "Traceback" not in result.output
    good = tmp_path / "cut.warc.gz"  # a WARC cut short in the middle of a record
    page = report_page("滨江市卫生健康委员会2023年工作总结", PARAGRAPHS * 2).encode()
    with good.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for n in range(3):
            _record(writer, "response", f"https://wjw.example.cn/{n}.html", page + b" " * n)
    good.write_bytes(good.read_bytes()[:-300])
    summary = import_json(tmp_path / "data", good)
    assert summary["new"] == 2 and summary["failed"] == 1, summary
    assert "damaged record" in summary["errors"][0]


def test_any_order_gives_the_same_archive(tmp_path: Path) -> None:
    """Two crawls of the same page (nights apart, the page changed) in two WARC files: imported
    in either order, the document is the newer version's, and both versions are kept."""
    old = report_page("滨江市卫生健康委员会2023年工作总结", PARAGRAPHS * 2).encode()
    new = report_page("滨江市卫生健康委员会2023年工作总结", PARAGRAPHS * 2
                      + ["（2024年1月补充：全市新增家庭医生团队36个。）"]).encode()
    files = []
    for name, body, date in (("night1", old, "2024-01-01T02:00:00Z"),
                             ("night2", new, "2024-01-02T02:00:00Z")):
        path = tmp_path / f"{name}.warc.gz"
        with path.open("wb") as fh:
            _record(WARCWriter(fh, gzip=True), "response", "https://wjw.example.cn/a.html",
                    body, date=date)
        files.append(path)
    forward, backward = tmp_path / "forward", tmp_path / "backward"
    import_json(forward, *files)
    import_json(backward, files[1])
    assert import_json(backward, files[0])["changed"] == 1  # the older version, kept
    assert rows(forward) == rows(backward)
    with Store(backward) as store:
        (record,) = store.iter_documents()
        assert "新增家庭医生团队36个" in record.text
        assert record.fetched_at == "2024-01-02T02:00:00+00:00"
        assert store.latest_page(record.id).body == new  # what `hra reprocess` re-reads
        assert [p.body for p in store.iter_latest_pages()] == [new]


def test_a_damaged_gzip_member_keeps_the_pages_before_it(archive_dir: Path, tmp_path: Path) -> None:
    warc = tmp_path / "all.warc.gz"
    hra("--data-dir", str(archive_dir), "export", "--format", "warc", "-o", str(warc))
    data = warc.read_bytes()
    middle = len(data) // 2
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(data[:middle] + b"\x00" * 200 + data[middle + 200:])
    summary = import_json(tmp_path / "data", damaged)
    assert summary["new"] >= 3 and summary["failed"] == 1, summary
    # The damage falls in an HTML page or in the demo's DOCX attachment, whichever the middle of
    # the file holds: either way one line, and the records before it are kept.
    assert summary["errors"][0].endswith(("not a readable WARC file past this point "
                                          "(Unknown archive format)",
                                          "damaged record (its digest does not match: cut short "
                                          "or altered)")), summary["errors"]

"""Attachments in a crawl: a local site whose notices link a DOCX, a PDF, an XLSX, a DOC (made
by LibreOffice), a DOCX behind a download URL without extension, a 404, a file over the size
limit, an HTML error page served as .pdf, an encrypted PDF and a file robots.txt forbids."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.importer import reprocess
from archive.store import Store
from archive.urls import doc_id
from tests import document_fixtures as fx
from tests.conftest import require_program
from tests.crawl_server import MB, SiteServer, report_html
from tests.search_fixtures import found, search
from tests.test_crawl_sites import crawl, messages, outcomes

PLAN = [
    "一、持续深化医药卫生体制改革。推动公立医院综合改革向纵深发展，完善现代医院管理制度，"
    "全面推行按病种付费，二〇二四年底前实现县域医共体医保基金打包支付全覆盖。",
    "二、着力提升基层服务能力。实施基层卫生人才振兴计划，每个乡镇卫生院至少配备两名全科医生，"
    "村卫生室标准化建设达标率达到百分之百。",
    "三、织牢公共卫生防护网。健全多点触发的传染病监测预警体系，加强重点人群健康管理，"
    "适龄儿童国家免疫规划疫苗接种率保持在百分之九十五以上。",
]
PROGRAM = [
    "为贯彻落实健康中国行动，结合本市实际，制定本实施方案。到二〇二五年，居民健康素养水平达到百分之二十五，"
    "重大慢性病过早死亡率降至百分之十五以下。",
    "一、主要任务。开展全民健身与合理膳食行动，推进健康学校、健康企业和健康社区建设，"
    "完善心理健康服务体系，强化职业健康保护。",
]
LEGACY = [
    "各区县卫生健康局：现将二〇二三年度老年健康服务工作安排印发给你们，请结合实际认真贯彻执行。",
    "一、推进医养结合。每个县区至少建成一所医养结合机构，二级以上综合医院设立老年医学科的比例达到百分之六十。",
]


def _attachments(site: SiteServer) -> None:
    site.route("/robots.txt", body=b"User-agent: *\nDisallow: /private/\n",
               content_type="text/plain")
    links = (
        '<div class="fujian"><p>附件：</p>'
        '<p><a href="/files/plan.docx">1.2024年全市卫生健康工作要点.docx</a></p>'
        '<p><a href="/files/summary.pdf">2.2023年工作总结.pdf</a></p>'
        '<p><a href="/files/indicators.xlsx">3.主要指标.xlsx</a></p>'
        '<p><a href="/files/old.doc">4.老年健康服务工作安排.doc</a></p>'
        '<p><a href="/download?id=7">5.健康中国行动实施方案.docx</a></p>'
        '<p><a href="/files/gone.pdf">6.已删除.pdf</a></p>'
        '<p><a href="/files/huge.pdf">7.超大文件.pdf</a></p>'
        '<p><a href="/files/error.pdf">8.出错.pdf</a></p>'
        '<p><a href="/files/locked.pdf">9.加密.pdf</a></p>'
        '<p><a href="/private/secret.pdf">10.内部.pdf</a></p></div>')
    site.page("/notice.html", report_html("关于印发2024年全市卫生健康工作要点的通知", 3,
                                          extra=links))
    site.route("/files/plan.docx", body=fx.docx_report(paragraphs=PLAN),
               content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    site.route("/files/summary.pdf", body=fx.pdf_prose(pages=2), content_type="application/pdf")
    site.route("/files/indicators.xlsx", body=fx.xlsx_indicators(),
               content_type="application/octet-stream")
    doc = fx.convert(fx.docx_report("老年健康服务工作安排", paragraphs=LEGACY), "docx", "doc")
    site.route("/files/old.doc", body=doc, content_type="application/msword")
    site.route("/download?id=7", body=fx.docx_report("健康中国行动实施方案", paragraphs=PROGRAM),
               content_type="application/octet-stream")
    site.route("/files/gone.pdf", status=404, body=b"<html>404</html>")
    site.route("/files/huge.pdf", stream=3 * MB, declare_length=True,
               content_type="application/pdf")
    site.route("/files/error.pdf", body="<html><body><h1>系统繁忙</h1>请稍后再试</body></html>"
               .encode(), content_type="application/pdf")
    site.route("/files/locked.pdf", body=fx.pdf_prose(encrypt="secret"),
               content_type="application/pdf")
    site.route("/private/secret.pdf", body=fx.pdf_prose(), content_type="application/pdf")


def test_a_crawl_archives_the_attachments_of_an_article(tmp_path: Path) -> None:
    require_program("soffice", package="libreoffice-writer-nogui")
    with SiteServer() as site:
        _attachments(site)
        result, events = crawl(tmp_path, [site.url("/notice.html")],
                               settings={"HRA_ATTACHMENT_MAXSIZE": 2 * MB})
        hits = site.hits
        url = site.url
    got, why = outcomes(events), messages(events)
    for path in ("/notice.html", "/files/plan.docx", "/files/summary.pdf",
                 "/files/indicators.xlsx", "/files/old.doc", "/download?id=7"):
        assert got[path] == "new", (path, got, why)
    assert got["/files/gone.pdf"] == "failed" and why["/files/gone.pdf"] == "HTTP 404"
    assert got["/files/huge.pdf"] == "failed"
    assert why["/files/huge.pdf"] == "attachment larger than the 2 MiB limit (HRA_ATTACHMENT_MAXSIZE)"
    assert got["/files/error.pdf"] == "failed" and "web page" in why["/files/error.pdf"]
    assert got["/files/locked.pdf"] == "failed" and "encrypted" in why["/files/locked.pdf"]
    assert got["/private/secret.pdf"] == "skipped:robots" and hits["/private/secret.pdf"] == 0
    assert result.exit_code == 0
    parent = doc_id(url("/notice.html"))
    with Store(tmp_path) as store:
        notice = store.get(parent)
        assert notice is not None and notice.format == "html"
        docs = {path: store.get(doc_id(url(path))) for path in (
            "/files/plan.docx", "/files/summary.pdf", "/files/indicators.xlsx", "/files/old.doc",
            "/download?id=7")}
        for path, record in docs.items():
            assert record is not None and record.parent == parent, path
            assert record.id in notice.attachment_ids(), path
            assert record.published == notice.published  # no date of their own: the notice's
        formats = {p: r.format for p, r in docs.items() if r}
        assert formats == {"/files/plan.docx": "docx", "/files/summary.pdf": "pdf",
                           "/files/indicators.xlsx": "xlsx", "/files/old.doc": "doc",
                           "/download?id=7": "docx"}
        plan = docs["/files/plan.docx"]
        assert plan is not None and plan.title == "2024年全市卫生健康工作要点"
        assert "指标名称\t二〇二二年\t二〇二三年\t增长" in plan.text  # the table, in order
        assert plan.text.index("二、着力提升") < plan.text.index("门诊人次") < plan.text.index(
            "三、织牢")
        old = docs["/files/old.doc"]
        assert old is not None and "医养结合机构" in old.text and old.title == "老年健康服务工作安排"
        # raw bytes kept: also of the files that could not be read
        for path in ("/files/plan.docx", "/files/error.pdf", "/files/locked.pdf"):
            page = store.latest_page(doc_id(url(path)))
            assert page is not None and page.body, path
        assert store.get(doc_id(url("/files/locked.pdf"))) is None
    # reprocess: the same records again (the parent and the link title are not in the bytes)
    with Store(tmp_path) as store:
        before = {d: store.get(d) for d in store.document_ids()}
        summary = reprocess(store)
        assert summary.counts.failed == 1  # the encrypted PDF, again (the error page: no article)
        assert summary.counts.changed == 0 and summary.counts.unchanged == 6
        assert {d: store.get(d) for d in store.document_ids()} == before
    assert found(tmp_path, "医养结合机构") == {doc_id(url("/files/old.doc"))}
    hit = search(tmp_path, "医养结合机构").hits[0]  # a hit says what it is and where it hangs
    assert (hit.format, hit.parent) == ("doc", parent)
    assert hit.to_json()["format"] == "doc" and hit.to_json()["parent"] == parent
    assert found(tmp_path, "门诊人次") >= {doc_id(url("/files/plan.docx")),
                                          doc_id(url("/files/indicators.xlsx"))}


def test_at_most_n_attachments_per_page(tmp_path: Path) -> None:
    with SiteServer() as site:
        links = "".join(f'<p><a href="/f/{i}.docx">附件{i}.docx</a></p>' for i in range(3))
        site.page("/notice.html", report_html("关于印发卫生健康工作方案的通知", 1, extra=links))
        for i in range(3):
            site.route(f"/f/{i}.docx", body=fx.docx_report(paragraphs=PLAN[i:] + PROGRAM[:i]),
                       content_type="application/octet-stream")
        _, events = crawl(tmp_path, [site.url("/notice.html")],
                          settings={"HRA_MAX_ATTACHMENTS_PER_PAGE": 2})
        hits = site.hits
    got = outcomes(events)
    assert got["/f/0.docx"] == got["/f/1.docx"] == "new"
    assert hits["/f/2.docx"] == 0 and "/f/2.docx" not in got  # in page order, the first two


def test_a_doc_without_a_converter_is_archived_and_reported_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_program("soffice", package="libreoffice-writer-nogui")
    doc = fx.convert(fx.docx_report("老年健康服务工作安排", paragraphs=LEGACY), "docx", "doc")
    empty = tmp_path / "bin"
    empty.mkdir()
    with SiteServer() as site:
        links = "".join(f'<p><a href="/f/{i}.doc">附件{i}.doc</a></p>' for i in range(2))
        site.page("/notice.html", report_html("关于印发老年健康服务工作安排的通知", 1, extra=links))
        for i in range(2):
            site.route(f"/f/{i}.doc", body=doc + bytes([i]), content_type="application/msword")
        monkeypatch.setenv("PATH", str(empty))  # no soffice, antiword or catdoc
        _, events = crawl(tmp_path / "data", [site.url("/notice.html")])
        url = site.url
    got = outcomes(events)
    assert got["/f/0.doc"] == got["/f/1.doc"] == "new"
    warnings = [e["message"] for e in events if e["e"] == "warn"]
    assert sum("install libreoffice-writer" in w for w in warnings) == 1, warnings
    with Store(tmp_path / "data") as store:
        record = store.get(doc_id(url("/f/0.doc")))
        assert record is not None and record.flags == ["unextracted"] and record.text == ""
        assert record.title == "附件0" and record.parent == doc_id(url("/notice.html"))


def test_a_crawl_node_writes_attachments_to_its_warc_and_the_host_attaches_them(
        tmp_path: Path) -> None:
    """With HRA_WARC_DIR (a crawl node for another machine) attachments go to the job's WARC
    like pages, with their parent and link text; the archive host's import makes the same
    documents as a crawl straight into the archive (the unreadable file kept as raw bytes)."""
    import json

    from click.testing import CliRunner

    from archive.cli import cli

    def serve(site: SiteServer) -> None:
        links = ('<div class="fujian"><p><a href="/files/plan.docx">1.2024年全市卫生健康工作要点'
                 '.docx</a></p><p><a href="/download?id=7">2.健康中国行动实施方案.docx</a></p>'
                 '<p><a href="/files/locked.pdf">3.加密.pdf</a></p></div>')
        site.page("/notice.html", report_html("关于印发2024年全市卫生健康工作要点的通知", 3,
                                              extra=links))
        site.route("/files/plan.docx", body=fx.docx_report(paragraphs=PLAN),
                   content_type="application/octet-stream")
        site.route("/download?id=7", body=fx.docx_report("健康中国行动实施方案",
                                                         paragraphs=PROGRAM),
                   content_type="application/octet-stream")
        site.route("/files/locked.pdf", body=fx.pdf_prose(encrypt="secret"),
                   content_type="application/pdf")

    warcs, direct, host = tmp_path / "nodes", tmp_path / "direct", tmp_path / "host"
    with SiteServer() as site:
        serve(site)
        node, events = crawl(tmp_path / "node", [site.url("/notice.html")],
                             settings={"HRA_WARC_DIR": str(warcs)})
        assert node.exit_code == 0, messages(events)
        crawl(direct, [site.url("/notice.html")])
    files = [str(p) for p in warcs.glob("*.warc.gz")]
    assert len(files) == 1
    result = CliRunner().invoke(cli, ["--data-dir", str(host), "import", "--json", *files])
    summary = json.loads(result.output)
    # the notice, two documents and the encrypted PDF (its raw bytes: no document)
    assert summary["new"] == 4 and summary["failed"] == 0, summary

    def documents(data_dir: Path) -> dict[str, tuple]:
        with Store(data_dir) as store:
            return {r.id: (r.title, r.parent, r.format, r.published, r.site, r.text)
                    for r in store.iter_documents()}

    got, want = documents(host), documents(direct)
    assert got == want and len(got) == 3
    with Store(host) as store:
        locked = store.latest_page(doc_id(site.url("/files/locked.pdf")))
        assert locked is not None and locked.body.startswith(b"%PDF")  # raw bytes kept

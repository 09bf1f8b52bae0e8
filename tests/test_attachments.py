"""Attachments as documents: formats told by content, text per format in reading order, the
same pipeline as pages, flags, bad files (one line each, bounded memory, no temp files left),
import, duplicates with an HTML copy."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from archive.derived import update_derived
from archive.page_processing import PageError, process_page
from archive.store import Store
from archive.text.documents import DocumentError, extract_document, sniff_format
from archive.text.documents.legacy import INSTALL_HINT
from archive.text.documents.pdf import join_lines
from archive.urls import doc_id
from tests import document_fixtures as fx
from tests.conftest import ROOT, require_program
from tests.search_fixtures import found


def _doc(data: bytes, name: str = "file"):
    return extract_document(data, sniff_format(data, name) or "?")


# -- formats by content -------------------------------------------------------------------------


def test_formats_are_told_by_content_not_by_name() -> None:
    assert sniff_format(fx.pdf_prose(), "notice.doc") == "pdf"
    assert sniff_format(fx.docx_report(), "download.jsp?id=3") == "docx"
    assert sniff_format(fx.xlsx_indicators(), "table.xls") == "xlsx"
    assert sniff_format(b"<!DOCTYPE html><html><body>404 Not Found</body></html>",
                        "report.pdf") == "html"
    assert sniff_format(rb"{\rtf1\ansi hello\par}", "plan.doc") == "rtf"
    assert sniff_format(b"\x89PNG\r\n\x1a\n....", "scan.pdf") is None
    assert sniff_format(fx.docx_report()[:4000], "cut.docx") == "docx"  # truncated: by its parts


# -- text per format ----------------------------------------------------------------------------


def test_docx_paragraphs_and_tables_in_document_order() -> None:
    doc = _doc(fx.docx_report())
    assert doc.title == "2024年全市卫生健康工作要点"
    table = ["\t".join(row) for row in fx.TABLE]
    assert doc.paragraphs == [doc.title, *fx.PARAGRAPHS[:2], *table, *fx.PARAGRAPHS[2:]]
    # a real title in the document's properties wins; a template's or a file name's does not
    assert _doc(fx.docx_report(core_title="关于2024年工作要点的通知")).title == "关于2024年工作要点的通知"
    assert _doc(fx.docx_report(core_title="Microsoft Word - 模板.doc")).title == "2024年全市卫生健康工作要点"


def test_pdf_lines_are_joined_into_paragraphs_and_page_numbers_dropped() -> None:
    doc = _doc(fx.pdf_prose(pages=2))
    assert doc.title == fx.SUMMARY_TITLE
    assert doc.paragraphs == [fx.SUMMARY_TITLE, *fx.PARAGRAPHS] * 2
    assert not any("- 1 -" in p or p.strip("- ").isdigit() for p in doc.paragraphs)


def test_pdf_two_columns_written_column_by_column_read_in_order() -> None:
    doc = _doc(fx.pdf_two_columns())
    text = "".join(doc.paragraphs)
    starts = [text.index(p[:20]) for p in fx.PARAGRAPHS]
    assert starts == sorted(starts)
    assert all(p in text for p in fx.PARAGRAPHS)


def test_pdf_table_rows_from_libreoffice_stay_rows() -> None:
    require_program("soffice", package="libreoffice-writer-nogui")
    doc = _doc(fx.convert(fx.docx_report(), "docx", "pdf"))
    for row in fx.TABLE:
        assert "\t".join(row) in doc.paragraphs


def test_join_lines_keeps_headings_and_short_last_lines_apart() -> None:
    lines = ["一、总体要求", "坚持以人民健康为中心，深化医药卫生体制改革，推进健康", "中国建设。",
             "（一）基层能力。", "- 2 -", "门诊人次 120万 135万"]
    assert join_lines(lines) == ["一、总体要求", "坚持以人民健康为中心，深化医药卫生体制改革，推进健康中国建设。",
                                 "（一）基层能力。", "门诊人次\t120万\t135万"]


def test_xlsx_each_sheet_its_name_then_its_rows() -> None:
    doc = _doc(fx.xlsx_indicators())
    assert doc.format == "xlsx" and doc.title == "2023年全市卫生健康事业发展主要指标"
    assert doc.paragraphs[:3] == ["主要指标", "2023年全市卫生健康事业发展主要指标",
                                  "指标名称\t二〇二二年\t二〇二三年\t增长"]
    assert "每千人口执业医师数\t3.2\t3.4\t0.2" in doc.paragraphs
    assert doc.paragraphs[-3:] == ["机构", "机构名称\t床位", "市第一人民医院\t1200"]


def test_doc_and_wps_through_libreoffice_then_antiword_and_catdoc(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    require_program("soffice", package="libreoffice-writer-nogui")
    data = fx.convert(fx.docx_report(), "docx", "doc")
    assert sniff_format(data, "a.doc") == "doc" and sniff_format(data, "a.wps") == "wps"
    via_soffice = extract_document(data, "doc")
    assert via_soffice.title == "2024年全市卫生健康工作要点"
    assert via_soffice.paragraphs == _doc(fx.docx_report()).paragraphs
    wps = extract_document(data, "wps")
    assert wps.format == "wps" and wps.paragraphs == via_soffice.paragraphs
    # without LibreOffice: antiword, then catdoc (plain text: the table's cells, paragraphs)
    found_programs = {p: require_program(p, package=p) for p in ("antiword", "catdoc")}
    for program, path in found_programs.items():
        only = tmp_path / program
        only.mkdir()
        (only / program).symlink_to(path)
        monkeypatch.setenv("PATH", str(only))
        text = "\n".join(extract_document(data, "doc").paragraphs)
        assert all(p in text for p in fx.PARAGRAPHS), program
        assert text.index(fx.PARAGRAPHS[1]) < text.index("门诊人次") < text.index(fx.PARAGRAPHS[2])


def test_a_converter_that_overruns_is_stopped_and_leaves_nothing(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    require_program("soffice", package="libreoffice-writer-nogui")
    data = fx.convert(fx.docx_report(), "docx", "doc")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    with pytest.raises(DocumentError, match=r"^soffice took longer than 0 s: stopped$"):
        extract_document(data, "doc", timeout=0.3)
    assert list(tmp_path.iterdir()) == []


def test_the_closing_date_line_is_the_documents_date() -> None:
    paragraphs = [*fx.PARAGRAPHS, "到2025年12月31日前，全面完成县域医共体建设任务。", "遵义市卫生健康委员会",
                  "2024年3月8日"]
    record = process_page(fx.docx_report(paragraphs=paragraphs), "https://x.gov.cn/a.docx").record
    assert record is not None and record.published == "2024-03-08"
    record = process_page(fx.docx_report(paragraphs=paragraphs[:-1]), "https://x.gov.cn/b.docx").record
    assert record is not None and record.published is None  # a date inside a sentence is not it


def test_without_any_converter_a_doc_is_kept_flagged(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    doc = extract_document(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "doc")
    assert doc.flags == ["unextracted"] and doc.paragraphs == [] and doc.note == INSTALL_HINT


def test_a_document_takes_the_page_pipeline() -> None:
    """Normalize (t2s, full-width letters), truncation notices, classify, title fallbacks."""
    traditional = ["一、基層醫療衛生服務能力持續提升，家庭醫生簽約服務覆蓋率達到百分之六十五，"
                   "縣域內就診率達到百分之九十。", "二、公共衛生體系不斷完善，傳染病監測預警能力明顯增強，疾病預防控制機構改革穩步推進。",
                   "三、醫藥衛生體制改革縱深推進，緊密型縣域醫共體建設實現全覆蓋，群眾就醫負擔進一步減輕。",
                   "……(未完，全文共5000字，當前僅顯示300字)"]
    result = process_page(fx.docx_report("２０２３年衛生健康工作總結", paragraphs=traditional),
                          "https://wjw.example.gov.cn/files/a.docx")
    record = result.record
    assert record is not None and result.kind == "report"
    assert record.title == "2023年卫生健康工作总结" and record.source_script == "traditional"
    assert "基层医疗卫生服务能力" in record.text and "全文未完" not in record.text
    assert record.truncated and record.full_length == 5000
    assert record.doc_type == "summary" and record.year == 2023
    assert record.format == "docx" and record.parent is None and record.flags == []
    # no title of its own: the link text, else the file name
    scan = process_page(fx.pdf_image_only(), "https://x.gov.cn/f/%E6%89%AB%E6%8F%8F%E4%BB%B6.pdf",
                        title_hint="附件2：2023年工作总结（扫描件）")
    assert scan.record is not None and scan.record.flags == ["no_text"]
    assert scan.record.title == "2023年工作总结（扫描件）"
    bare = process_page(fx.pdf_image_only(), "https://x.gov.cn/f/%E6%89%AB%E6%8F%8F%E4%BB%B6.pdf")
    assert bare.record is not None and bare.record.title == "扫描件"
    assert "无文字层" in " ".join(bare.record.flag_words())


@pytest.mark.parametrize(("make", "name", "why"), [
    (lambda: fx.pdf_prose(encrypt="s3cret"), "locked.pdf", "PDF: encrypted PDF"),
    (lambda: fx.docx_report()[:5000], "cut.docx", "DOCX: damaged file"),
    (fx.zip_bomb_docx, "bomb.docx", "DOCX: refused: expands to 1024 MiB"),
    (lambda: b"%PDF-1.7\n" + b"\0" * 2000, "empty.pdf", "PDF: damaged"),
    (lambda: b"PK\x03\x04" + b"\0" * 100, "junk.xlsx", ""),
])
def test_unreadable_documents_are_one_line_errors(make, name: str, why: str) -> None:
    data = make()
    with pytest.raises((PageError, DocumentError)) as caught:
        fmt = sniff_format(data, name)
        if fmt is None:
            raise PageError("not a document")
        process_page(data, f"https://x.gov.cn/{name}")
    assert str(caught.value).startswith(why) and "\n" not in str(caught.value)


# -- import ---------------------------------------------------------------------------------------


def _hra(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archive.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=ROOT, env={**os.environ, **(env or {})})


def test_import_bad_files_one_line_each_bounded_memory_no_temp_files(tmp_path: Path) -> None:
    require_program("soffice", package="libreoffice-writer-nogui")
    files = tmp_path / "files"
    files.mkdir()
    (files / "plan.docx").write_bytes(fx.docx_report())
    (files / "locked.pdf").write_bytes(fx.pdf_prose(encrypt="s3cret"))
    (files / "cut.docx").write_bytes(fx.docx_report()[:5000])
    (files / "bomb.docx").write_bytes(fx.zip_bomb_docx())
    with (files / "huge.pdf").open("wb") as fh:  # 200 MB (sparse): over the 50 MiB limit
        fh.write(b"%PDF-1.4\n")
        fh.truncate(200 * 2**20)
    (files / "error.pdf").write_text("<html><body><h1>404 Not Found</h1></body></html>")
    (files / "really-rtf.doc").write_text(
        r"{\rtf1\ansi\deff0 {\fonttbl {\f0 SimSun;}}\uc1 " + "".join(
            rf"\u{ord(c)}?" for c in "".join(fx.PARAGRAPHS)) + r"\par}", encoding="ascii")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = _hra("import", str(files), "--data-dir", str(tmp_path / "data"),
               env={"TMPDIR": str(tmp)})
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert out.returncode == 0, out.stderr
    failed = [line for line in out.stderr.splitlines() if line.startswith("failed:")]
    assert len(failed) == 5, out.stderr
    for name, why in (("locked.pdf", "encrypted PDF"), ("cut.docx", "damaged file"),
                      ("bomb.docx", "zip bomb"), ("huge.pdf", "file too large (200 MiB > 50 MiB"),
                      ("error.pdf", "")):
        assert any(name in line and why in line for line in failed), (name, out.stderr)
    assert "Traceback" not in out.stderr
    assert "2 new" in out.stdout and "5 failed" in out.stdout
    assert max(peak_kib, before) < 500 * 1024  # peak RSS of the import, KiB
    assert list(tmp.iterdir()) == []  # LibreOffice's profile and files: gone
    with Store(tmp_path / "data") as store:
        rtf = store.get(doc_id((files / "really-rtf.doc").resolve().as_uri()))
        assert rtf is not None and rtf.format == "rtf" and fx.PARAGRAPHS[0] in rtf.text
    assert found(tmp_path / "data", "县域医共体建设实现全覆盖")


def test_import_without_a_converter_keeps_the_file_and_says_once(tmp_path: Path) -> None:
    require_program("soffice", package="libreoffice-writer-nogui")
    data = fx.convert(fx.docx_report(), "docx", "doc")
    for name in ("a.doc", "b.doc"):
        (tmp_path / name).write_bytes(data + name.encode())
    bare = tmp_path / "bin"
    bare.mkdir()
    out = _hra("import", str(tmp_path / "a.doc"), str(tmp_path / "b.doc"), "--data-dir",
               str(tmp_path / "data"), env={"PATH": str(bare)})
    assert out.returncode == 0, out.stderr
    assert "2 new" in out.stdout
    assert out.stderr.count("install libreoffice-writer") == 1, out.stderr
    with Store(tmp_path / "data") as store:
        record = store.get(doc_id((tmp_path / "a.doc").resolve().as_uri()))
        assert record is not None and record.flags == ["unextracted"] and record.title == "a"
        assert store.latest_page(record.id) is not None
    # with LibreOffice back, reprocess extracts it
    again = _hra("reprocess", "--data-dir", str(tmp_path / "data"))
    assert again.returncode == 0, again.stderr
    with Store(tmp_path / "data") as store:
        record = store.get(doc_id((tmp_path / "a.doc").resolve().as_uri()))
        assert record is not None and record.flags == [] and fx.PARAGRAPHS[0] in record.text


def test_an_attachment_and_its_html_copy_are_one_cluster_the_complete_copy_first(
        tmp_path: Path) -> None:
    from tests.conftest import report_page

    copy = report_page("2024年全市卫生健康工作要点",
                       [*fx.PARAGRAPHS[:3], "……(未完，全文共900字，当前仅显示200字)"])
    with Store(tmp_path) as store:
        page = process_page(copy.encode(), "https://news.example.com/a/1.html").record
        doc = process_page(fx.docx_report(table_after=3),
                           "https://wjw.example.gov.cn/f/plan.docx").record
        assert page is not None and doc is not None and page.truncated
        store.save_page(url=page.url, body=copy.encode(), record=page, fetched_at="2024-01-01")
        store.save_page(url=doc.url, body=b"docx", record=doc, fetched_at="2024-01-01")
        update_derived(store)
        assert store.get(page.id).duplicate_of == doc.id  # type: ignore[union-attr]
        assert store.get(doc.id).duplicate_of is None  # type: ignore[union-attr]

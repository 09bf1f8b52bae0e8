"""Export formats read back the way their users read them, hostile names, safety, atomicity."""

from __future__ import annotations

import csv
import errno
import json
import zipfile
from pathlib import Path

import docx
import pytest

from archive.export import ExportError, export, safe_name
from archive.record import Record

TEXT = "2023年,全市深入推进紧密型县域医共体建设,组建医共体12个。\n家庭医生签约服务覆盖率达到75.3%。\n下一步,我们将继续深化医改。"


def rec(i: int, title: str = "滨江市卫生健康委员会2023年工作总结", **kw) -> Record:
    values = dict(id=f"{i:016x}", url=f"http://wjw.binjiang.gov.cn/a/{i}.html", title=title,
                  published="2024-01-05", year=2023, site="滨江市卫生健康委员会", column="工作总结",
                  region="浙江省杭州市", doc_type="summary", text=TEXT)
    values.update(kw)
    return Record(**values)


RECORDS = [
    rec(1),
    rec(2, "关于印发2024年卫生健康工作要点的通知", doc_type="plan", truncated=True, full_length=7918,
        placeholders=True, published=None, year=2024),
    rec(3, "主任在全市卫生健康工作会议上的讲话", doc_type="speech", region=None),
]


def source(records: list[Record] = RECORDS):
    return lambda: iter(records)


def test_csv_opens_in_excel_and_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "all.csv"
    summary = export(source(), "csv", out)
    assert summary.documents == 3 and out.read_bytes().startswith(b"\xef\xbb\xbf")
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3
    assert rows[0]["title"] == "滨江市卫生健康委员会2023年工作总结"
    assert rows[0]["text"] == TEXT  # newlines inside the quoted field survive
    assert rows[1]["truncated"] == "true" and rows[1]["full_length"] == "7918"
    assert rows[1]["published"] == ""
    export(source(), "csv", out, no_text=True, force=True)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        assert "text" not in next(csv.reader(fh))


def test_jsonl_no_text_and_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export(source(), "jsonl", None)
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(x)["id"] for x in lines] == [r.id for r in RECORDS]
    out = tmp_path / "a.jsonl"
    export(source(), "jsonl", out, no_text=True)
    assert all("text" not in json.loads(x) for x in out.read_text(encoding="utf-8").splitlines())


def test_docx_per_document_reads_back(tmp_path: Path) -> None:
    summary = export(source(), "docx", tmp_path / "word")
    assert summary.files == 3
    names = sorted(p.name for p in (tmp_path / "word").iterdir())
    assert names == ["2024-01-05_主任在全市卫生健康工作会议上的讲话.docx",
                     "2024-01-05_滨江市卫生健康委员会2023年工作总结.docx",
                     "2024_关于印发2024年卫生健康工作要点的通知.docx"]
    path = tmp_path / "word" / "2024-01-05_滨江市卫生健康委员会2023年工作总结.docx"
    document = docx.Document(str(path))
    heading = document.paragraphs[0]
    assert heading.style.name == "Heading 1" and heading.text == RECORDS[0].title
    table = document.tables[0]
    cells = {row.cells[0].text: row.cells[1].text for row in table.rows}
    assert cells["地区"] == "浙江省杭州市" and cells["类型"] == "工作总结"
    assert cells["来源"] == RECORDS[0].url
    body = [p.text for p in document.paragraphs if p.text]
    assert body[-3:] == TEXT.split("\n")
    plan = docx.Document(str(tmp_path / "word" / "2024_关于印发2024年卫生健康工作要点的通知.docx"))
    flags = {row.cells[0].text: row.cells[1].text for row in plan.tables[0].rows}["标记"]
    assert "截断(全文7918字)" in flags and "含占位符" in flags


def test_docx_one_file_has_toc_field_and_a_heading_per_document(tmp_path: Path) -> None:
    out = tmp_path / "all.docx"
    export(source(), "docx", out, one_file=True)
    document = docx.Document(str(out))
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings == [r.title for r in RECORDS]
    assert len(document.tables) == 3
    with zipfile.ZipFile(out) as z:
        xml = z.read("word/document.xml").decode()
        assert "TOC \\o" in xml
        assert "updateFields" in z.read("word/settings.xml").decode()


def test_markdown_and_text(tmp_path: Path) -> None:
    out = tmp_path / "all.md"
    export(source(), "md", out, one_file=True)
    md = out.read_text(encoding="utf-8")
    assert md.startswith("# 目录")
    assert "1. [滨江市卫生健康委员会2023年工作总结](#doc-1)" in md
    assert md.count("\n# ") == 3 and "| 标记 | 截断(全文7918字)、含占位符 |" in md
    export(source(), "txt", tmp_path / "txt")
    txt = (tmp_path / "txt" / "2024-01-05_滨江市卫生健康委员会2023年工作总结.txt").read_text("utf-8")
    assert txt.startswith("标题: 滨江市卫生健康委员会2023年工作总结\n日期: 2024-01-05")
    assert "家庭医生签约服务覆盖率达到75.3%。" in txt


HOSTILE = ["../../etc/passwd", "CON", "con.txt", "x" * 300, "标题" * 100,
           'a/b\\c:d*e?f"g<h>i|j', "第一行\n第二行\t结束", "..", " . ", "NUL"]


def test_hostile_titles_make_safe_unique_names(tmp_path: Path) -> None:
    out = tmp_path / "out"
    records = [rec(i, title, published=None, year=None) for i, title in enumerate(HOSTILE)]
    records.append(rec(99, "../../etc/passwd", published=None, year=None))  # a collision
    export(source(records), "txt", out)
    files = sorted(out.iterdir())
    assert len(files) == len(records)
    assert not (tmp_path / "etc").exists()
    for f in files:
        assert f.parent == out
        assert len(f.name.encode()) <= 120
        assert not any(c in f.name for c in '/\\:*?"<>|\n\t')
        assert f.stem.split(".")[0].split("_")[0].upper() not in {"CON", "NUL"} or \
            f.name.startswith("undated")
    assert any("标题" in f.name for f in files)  # full-width characters kept


def test_safe_name_rules() -> None:
    taken: set[str] = set()
    assert safe_name("CON", "txt", taken) == "_CON.txt"
    assert safe_name("a/b", "txt", taken) == "a_b.txt"
    assert safe_name("a/b", "txt", taken) == "a_b_2.txt"
    assert safe_name("A/B", "txt", taken) == "A_B_3.txt"  # case-insensitive file systems
    long = safe_name("卫" * 200, "docx", taken)
    assert len(long.encode()) <= 120 and long.endswith(".docx")


def test_existing_files_need_force(tmp_path: Path) -> None:
    out = tmp_path / "md"
    export(source(), "md", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(ExportError, match="--force"):
        export(source(), "md", out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # untouched, no staging left
    export(source(), "md", out, force=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(before)


def test_output_path_must_fit_the_format(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ExportError, match="needs a directory"):
        export(source(), "docx", a_file)
    with pytest.raises(ExportError, match="is a directory"):
        export(source(), "csv", tmp_path)
    with pytest.raises(ExportError, match="unknown format"):
        export(source(), "pdf", tmp_path / "x")
    with pytest.raises(ExportError, match="give --output"):
        export(source(), "docx", None)


def test_disk_full_leaves_no_partial_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0, "fail_at": 2}
    real_open = Path.open

    def failing_open(self: Path, mode: str = "r", *args, **kwargs):
        fh = real_open(self, mode, *args, **kwargs)
        if mode.startswith("w"):  # the exported files (not the staging's lock)
            calls["n"] += 1
        if calls["n"] == calls["fail_at"] and mode.startswith("w"):
            def boom(*_a, **_k):
                raise OSError(errno.ENOSPC, "No space left on device")
            fh.write = boom  # type: ignore[method-assign]
        return fh

    monkeypatch.setattr(Path, "open", failing_open)
    out = tmp_path / "out"
    with pytest.raises(ExportError, match="No space left"):
        export(source(), "txt", out)
    assert list(tmp_path.iterdir()) == []  # no directory made, no staging left
    out.mkdir()  # into an existing directory
    calls.update(n=0, fail_at=2)
    with pytest.raises(ExportError, match="No space left"):
        export(source(), "txt", out)
    assert list(out.iterdir()) == []
    calls.update(n=0, fail_at=1)
    with pytest.raises(ExportError, match="No space left"):
        export(source(), "csv", tmp_path / "a.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_interrupted_export_leaves_nothing(tmp_path: Path) -> None:
    def interrupted():
        yield RECORDS[0]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export(interrupted, "docx", tmp_path / "w")
    assert list(tmp_path.iterdir()) == []  # no directory, no staging beside it
    (tmp_path / "w").mkdir()
    with pytest.raises(KeyboardInterrupt):
        export(interrupted, "docx", tmp_path / "w")
    assert list((tmp_path / "w").iterdir()) == []
    with pytest.raises(KeyboardInterrupt):
        export(interrupted, "jsonl", tmp_path / "a.jsonl")
    assert not (tmp_path / "a.jsonl").exists() and [p.name for p in tmp_path.iterdir()] == ["w"]


def _core(path: Path):
    return docx.Document(str(path)).core_properties


def _no_template_leftovers(path: Path) -> None:
    with zipfile.ZipFile(path) as z:
        props = z.read("docProps/core.xml").decode() + z.read("docProps/app.xml").decode()
    for leftover in ("python-docx", "2013-12-23", "lastModifiedBy", "Microsoft Macintosh Word",
                     "Normal.dotm", "cp:revision"):
        assert leftover not in props, leftover


def test_docx_document_properties_are_the_documents_not_the_template(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    before = datetime.now(UTC).replace(microsecond=0)
    export(source(), "docx", tmp_path / "word")
    after = datetime.now(UTC) + timedelta(seconds=1)
    files = {p.name: p for p in (tmp_path / "word").iterdir()}
    for record in RECORDS:
        name = next(n for n in files if record.title in n)
        core = _core(files[name])
        assert core.title == record.title
        assert core.author == "hra" and core.last_modified_by == ""
        assert core.comments == record.url
        assert core.language == "zh-CN"
        assert before <= core.created <= after and core.modified == core.created
        assert core.revision == 0 and core.keywords == "" and core.subject == ""
        _no_template_leftovers(files[name])


def test_docx_one_file_properties_describe_the_export(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    before = datetime.now(UTC).replace(microsecond=0)
    out = tmp_path / "ygt.docx"
    export(source(), "docx", out, one_file=True, title="hra 导出: 医共体 --year 2023")
    core = _core(out)
    assert core.title == "hra 导出: 医共体 --year 2023"
    assert core.author == "hra" and core.comments == "3 篇文档"
    assert before <= core.created <= datetime.now(UTC) + timedelta(seconds=1)
    assert core.modified == core.created
    _no_template_leftovers(out)
    untitled = tmp_path / "all.docx"
    export(source(), "docx", untitled, one_file=True)
    assert _core(untitled).title == "hra 导出: 全部文档"
    odd = rec(7, "关于<印发>“健康滨江”&行动\x0b方案的通知")  # XML specials, a control character
    export(source([odd]), "docx", tmp_path / "odd")
    assert _core(next((tmp_path / "odd").iterdir())).title == "关于<印发>“健康滨江”&行动方案的通知"

"""Tables in the body and official document metadata (issue #11): extraction, storage, search
(`指标` in a table cell, `--issuer`), `hra show`/`stats`, exports (Markdown pipe tables, Word
tables, tab-separated rows), old archives and `hra reprocess`."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from lxml import etree

from archive.page_processing import process_page
from archive.record import Record
from archive.store import MIGRATIONS, SCHEMA_VERSION, Store
from archive.text.official import find_official, label_values
from archive.text.tables import data_tables, is_data_table, table_rows
from tests.conftest import require_shared
from tests.test_cli import hra

PROSE = [
    "2023年，滨江市卫生健康系统坚持以人民健康为中心，深入推进紧密型县域医共体建设，全市组建医共体十二个，"
    "家庭医生签约服务覆盖率稳步提高，群众就医获得感持续增强。",
    "全年完成基本公共卫生服务项目考核，居民电子健康档案建档率保持较高水平，老年人健康管理工作扎实推进，"
    "慢性病患者规范管理水平不断提高。",
]
#: A 5 x 4 table; 指标 occurs in its cells only.
TABLE = [
    ["指标名称", "2022年", "2023年", "增减"],
    ["县域就诊率", "89.1%", "91.2%", "+2.1"],
    ["家庭医生签约率", "72.0%", "75.3%", "+3.3"],
    ["健康档案建档率", "90.5%", "92.0%", "+1.5"],
    ["老年人健康管理率", "68.2%", "70.5%", "+2.3"],
]
CLOSING = ("下一步，我们将继续深化医药卫生体制改革，推进分级诊疗制度建设，提升基层医疗卫生服务能力，"
           "为建设健康滨江作出新的更大贡献。")


def _table_html(rows: list[list[str]], attrs: str = 'border="1"') -> str:
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table {attrs}><tbody>{body}</tbody></table>"


def official_page(*, issuer: str = "滨江市卫生健康委员会", number: str = "滨卫健发〔2023〕12号",
                  table: str | None = None, frame: bool = False,
                  prose: list[str] | None = None) -> str:
    """A 信息公开 page: metadata table, title, prose, a data table, more prose."""
    meta = (
        '<table class="xxgk"><tr><td>索引号：</td><td>113301/2023-00012</td>'
        "<td>主题分类：</td><td>卫生、体育</td></tr>"
        f"<tr><td>发布机构：</td><td>{issuer}</td><td>成文日期：</td><td>2023年12月20日</td></tr>"
        f"<tr><td>文号：</td><td>{number}</td><td>发布日期：</td><td>2023-12-28</td></tr></table>")
    first, second = prose or PROSE
    article = (f'<div class="content"><h1>滨江市卫生健康委员会2023年工作总结</h1>'
               f"<p>{first}</p><p>{second}</p>{table or _table_html(TABLE)}<p>{CLOSING}</p>"
               "</div>")
    inner = meta + article
    if frame:  # an old portal: the page is laid out in nested tables
        inner = ('<table width="1000"><tr><td><table><tr><td class="nav"><a href="/">首页</a>'
                 f'</td><td><a href="/zwgk/">政务公开</a></td></tr></table></td></tr>'
                 f"<tr><td>{inner}</td></tr></table>")
    return (f'<html><head><meta charset="utf-8"><title>滨江市卫生健康委员会2023年工作总结'
            f"</title></head><body>{inner}</body></html>")


def _tree(html: str) -> etree._Element:
    return etree.fromstring(html, etree.HTMLParser())


# ---------------------------------------------------------------------------------- tables


def test_a_data_table_keeps_its_rows_and_spans() -> None:
    root = _tree(
        '<table><tr><td rowspan="2">地区</td><td colspan="2">评价等次</td></tr>'
        "<tr><td>优秀</td><td>合格</td></tr><tr><td>南昌市</td><td>42</td><td>109</td></tr>"
        "<tr><td>赣州市</td><td>97</td><td>258</td></tr></table>")
    table = root.find(".//table")
    assert table_rows(table) == [["地区", "评价等次", ""], ["", "优秀", "合格"],
                                 ["南昌市", "42", "109"], ["赣州市", "97", "258"]]
    assert is_data_table(table)


def test_a_frame_table_is_layout_and_the_data_table_in_it_is_data() -> None:
    root = _tree('<table id="frame"><tr><td><table id="data"><tr><td>指标</td><td>目标</td></tr>'
                 "<tr><td>就诊率</td><td>90%</td></tr></table></td><td>侧栏</td></tr>"
                 "<tr><td>正文</td><td>页脚</td></tr></table>")
    found = data_tables(root.find(".//body"))
    assert [t.get("id") for t in found] == ["data"]


@pytest.mark.parametrize("html", [
    # one column of boxes
    "<table><tr><td>附件：</td></tr><tr><td>无</td></tr><tr><td>相关文件</td></tr></table>",
    # one row (a date line laid out in cells)
    "<table><tr><td>发布时间：2023-10-08</td><td>来源：市卫健委</td></tr></table>",
    # a cell holding the article
    "<table><tr><td>标题</td><td>" + "卫生健康工作取得新进展，" * 60 + "</td></tr>"
    "<tr><td>日期</td><td>2023年</td></tr></table>",
    # navigation links
    "<table><tr><td><a href='/1'>首页</a></td><td><a href='/2'>政务公开</a></td></tr>"
    "<tr><td><a href='/3'>办事服务</a></td><td><a href='/4'>互动交流</a></td></tr></table>",
    # spacers: mostly empty cells
    "<table><tr><td></td><td></td><td>甲</td></tr><tr><td></td><td>乙</td><td></td></tr></table>",
    # a second column that is empty in every row
    "<table><tr><td>一、工作回顾</td><td></td></tr><tr><td>二、工作打算</td><td></td></tr></table>",
    # the 信息公开 metadata table
    "<table><tr><td>索引号：</td><td>1133/2023-1</td></tr><tr><td>发布机构：</td><td>某局</td></tr>"
    "</table>",
])
def test_layout_tables_are_not_data_tables(html: str) -> None:
    root = _tree(f"<html><body><div>{html}</div></body></html>")
    assert data_tables(root.find(".//div")) == {}


def test_a_list_of_documents_with_a_header_of_labels_is_a_data_table() -> None:
    rows = [["序号", "文件名称", "文号", "发布日期"],
            ["1", "关于加强基层卫生人才队伍建设的通知", "滨卫健发〔2023〕3号", "2023-02-01"],
            ["2", "滨江市医共体建设实施方案", "滨卫健发〔2023〕8号", "2023-05-10"]]
    root = _tree(f"<html><body><div>{_table_html(rows)}</div></body></html>")
    assert list(data_tables(root.find(".//div")).values()) == [rows]


def test_a_page_with_a_table_keeps_it_as_a_block_and_tab_rows_in_text() -> None:
    record = process_page(official_page().encode(), "http://wsjkw.binjiang.gov.cn/a/t20231228_1.html").record
    assert record is not None
    assert record.blocks == [{"type": "p", "text": PROSE[0]}, {"type": "p", "text": PROSE[1]},
                             {"type": "table", "rows": TABLE}, {"type": "p", "text": CLOSING}]
    assert record.text.split("\n") == [PROSE[0], PROSE[1], *("\t".join(r) for r in TABLE), CLOSING]
    assert "索引号" not in record.text and "主题分类" not in record.text  # metadata, not body


@pytest.mark.parametrize("wrap", [False, True])
def test_a_table_of_prose_cells_stays_inside_its_article(wrap: bool) -> None:
    measure = ("加强组织领导，明确责任分工，建立健全工作机制，定期调度工作进展，确保各项任务按期完成，"
               "对工作推进不力的单位进行通报批评并督促整改落实。")
    rows = [["序号", "任务", "具体措施", "责任单位"],
            *([str(i), f"重点任务{i}", measure, "医政医管科"] for i in range(1, 7))]
    table = _table_html(rows)
    if wrap:
        table = f'<div class="table-wrap"><div>{table}</div></div>'
    html = official_page(table=table)
    record = process_page(html.encode(), "http://x.gov.cn/a.html").record
    assert record is not None and record.blocks is not None
    assert [b["type"] for b in record.blocks] == ["p", "p", "table", "p"]
    assert record.blocks[2]["rows"] == rows and record.blocks[3]["text"] == CLOSING


def test_a_page_framed_by_layout_tables_finds_its_data_table_only() -> None:
    record = process_page(official_page(frame=True).encode(), "http://x.gov.cn/a.html").record
    assert record is not None
    assert [b["rows"] for b in record.blocks or [] if b["type"] == "table"] == [TABLE]
    assert "首页" not in record.text


def test_a_page_without_data_tables_has_no_blocks() -> None:
    single = _table_html([["一、工作回顾"], ["二、工作打算"]])
    record = process_page(official_page(table=single).encode(), "http://x.gov.cn/a.html").record
    assert record is not None and record.blocks is None
    assert record.block_list() == [{"type": "p", "text": line} for line in record.text.split("\n")]


def test_a_truncation_cut_keeps_the_text_and_drops_the_blocks() -> None:
    html = official_page().replace(
        CLOSING, CLOSING + "（未完，全文共7918字，当前仅显示3649字，请阅读下面提示信息）")
    record = process_page(html.encode(), "http://x.gov.cn/a.html").record
    assert record is not None and record.truncated and record.full_length == 7918
    assert record.blocks is None and "\t".join(TABLE[1]) in record.text


# ---------------------------------------------------------------------------------- official


@pytest.mark.parametrize(("lines", "expected"), [
    # TRS: label cell, value cell
    (["索 引 号：", "000014349/2023-00056", "发文机关：", "贵阳市卫生健康局", "成文日期：",
      "2023年07月03日", "发文字号：", "无", "发布日期：", "2023年07月05日"],
     ("贵阳市卫生健康局", None, "2023-07-03")),
    # Hanweb: label and value in one cell, spaced labels
    (["索 引 号：1133/2024-00017", "发布机构：湖州市卫生健康委员会", "成文日期：2024-02-20",
      "文　　号：湖卫发〔2024〕8号"], ("湖州市卫生健康委员会", "湖卫发〔2024〕8号", "2024-02-20")),
    # several pairs in one line
    (["发布机构：江西省卫生健康委员会 文号：赣卫基层字〔2024〕3号 成文日期：2024年1月10日"],
     ("江西省卫生健康委员会", "赣卫基层字〔2024〕3号", "2024-01-10")),
    # label cells without colons
    (["发布机构", "临朐县卫生健康局", "文号", "临卫健发[2024]5号", "成文日期", "2024年2月8日"],
     ("临朐县卫生健康局", "临卫健发[2024]5号", "2024-02-08")),
    # bracketed labels
    (["【发布机构】国家卫生健康委办公厅 【发文字号】国卫办医政发〔2023〕7号", "【成文日期】2023-06-02"],
     ("国家卫生健康委办公厅", "国卫办医政发〔2023〕7号", "2023-06-02")),
    # prose that mentions the words is no metadata
    (["发布机构应当及时公开政府信息，文号和成文日期应当准确。", "发文机关：2023-01-01"],
     (None, None, None)),
])
def test_official_metadata_from_label_lines(lines: list[str],
                                            expected: tuple[str | None, ...]) -> None:
    found = find_official(lines)
    assert (found.issuer, found.doc_number, found.written) == expected


def test_an_unlabelled_document_number_above_the_body() -> None:
    found = find_official(["首页", "通知公告"], ["国卫办医发〔2023〕12号", "各省、自治区卫生健康委："])
    assert found.doc_number == "国卫办医发〔2023〕12号"
    assert find_official([], ["根据国卫办医发〔2023〕12号文件要求，现将有关事项通知如下。"]).doc_number is None


def test_label_values_pair_a_label_cell_with_the_next_line() -> None:
    assert label_values(["发布机构：", "滨江市卫生健康委员会", "主题分类：", "卫生"]) == [
        ("发布机构", "滨江市卫生健康委员会"), ("主题分类", "卫生")]


def test_the_page_fills_issuer_number_written_and_the_published_date() -> None:
    record = process_page(official_page().encode(), "http://x.gov.cn/a.html").record
    assert record is not None
    assert (record.issuer, record.doc_number, record.written, record.published) == (
        "滨江市卫生健康委员会", "滨卫健发〔2023〕12号", "2023-12-20", "2023-12-28")


def test_real_pages_have_no_false_official_metadata_or_tables() -> None:
    corpus = require_shared() / "real-pages"
    for page in sorted(corpus.glob("*.html")):
        record = process_page(page.read_bytes(), "http://example.com/a.html").record
        if record is None:
            continue
        assert (record.issuer, record.doc_number, record.written) == (None, None, None), page.name
        assert record.blocks is None, page.name


# ---------------------------------------------------------------------------------- the CLI


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "binjiang.html").write_text(official_page(), encoding="utf-8")
    other = official_page(issuer="滨江市教育局", number="滨教发〔2023〕7号",
                          table=_table_html([["学校", "人数"], ["一中", "1200"]]), prose=[
        "2023年，滨江市教育系统会同卫生健康部门深入开展学校卫生与健康教育工作，全市中小学校全部配备"
        "校医或保健教师，学生体质健康监测覆盖所有学校，近视和肥胖防控工作有序推进。",
        "全年组织健康教育讲座三百余场，完成学生常见病和健康影响因素监测，传染病晨午检和因病缺课"
        "追踪制度落实到位，校园食品安全管理水平持续提升。"])
    (pages / "jiaoyu.html").write_bytes(other.replace("滨江市卫生健康委员会2023年工作总结",
                                                      "滨江市教育局转发卫生健康工作总结")
                                        .replace('charset="utf-8"', 'charset="gbk"').encode("gbk"))
    data = tmp_path / "data"
    done = hra("import", str(pages), data_dir=data)
    assert done.returncode == 0, done.stderr
    return data


def _ids(result_stdout: str) -> list[str]:
    return [hit["id"] for hit in json.loads(result_stdout)["hits"]]


def test_search_finds_a_word_only_in_a_table_cell_and_filters_by_issuer(archive_dir: Path) -> None:
    found = hra("search", "指标", "--json", data_dir=archive_dir)
    assert found.returncode == 0, found.stderr
    assert len(_ids(found.stdout)) == 1
    assert len(_ids(hra("search", "卫生健康", "--json", data_dir=archive_dir).stdout)) == 2
    health = hra("search", "卫生健康", "--issuer", "卫生健康委", "--json", data_dir=archive_dir)
    edu = hra("search", "卫生健康", "--issuer", "教育", "--json", data_dir=archive_dir)
    assert len(_ids(health.stdout)) == 1 and len(_ids(edu.stdout)) == 1
    assert _ids(health.stdout) != _ids(edu.stdout)
    assert _ids(hra("search", "卫生健康", "--issuer", "公安", "--json",
                    data_dir=archive_dir).stdout) == []
    listed = hra("list", "--issuer", "教育", "--json", data_dir=archive_dir).stdout.splitlines()
    assert [json.loads(x)["issuer"] for x in listed] == ["滨江市教育局"]
    assert "blocks" not in json.loads(listed[0]) and "text" not in json.loads(listed[0])
    exported = hra("export", "--issuer", "卫生健康", "--format", "jsonl", data_dir=archive_dir)
    rows = [json.loads(x) for x in exported.stdout.splitlines()]
    assert [(r["issuer"], r["doc_number"], r["written"]) for r in rows] == [
        ("滨江市卫生健康委员会", "滨卫健发〔2023〕12号", "2023-12-20")]
    assert rows[0]["blocks"][2] == {"type": "table", "rows": TABLE}
    text = hra("search", "指标", data_dir=archive_dir).stdout
    assert "\\t" not in text and "指标名称 2022年" in text  # a row's cells shown with spaces


def test_search_hits_carry_the_official_fields_and_count_by_issuer(archive_dir: Path) -> None:
    result = hra("search", "卫生健康", "--facets", "--json", data_dir=archive_dir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    fields = {h["issuer"]: (h["doc_number"], h["written"], h["format"], h["parent"])
              for h in data["hits"]}
    assert fields == {"滨江市卫生健康委员会": ("滨卫健发〔2023〕12号", "2023-12-20", "html", None),
                      "滨江市教育局": ("滨教发〔2023〕7号", "2023-12-20", "html", None)}
    assert data["facets"]["issuer"] == {"滨江市卫生健康委员会": 1, "滨江市教育局": 1}
    out = hra("search", "卫生健康", "--facets", data_dir=archive_dir,
              env={"COLUMNS": "200"}).stdout
    assert "滨江市教育局 · 滨教发〔2023〕7号" in out
    assert "issuer: 滨江市卫生健康委员会 1, 滨江市教育局 1" in out
    none = hra("search", "卫生健康", "--facets", "--file-format", "pdf", data_dir=archive_dir,
               env={"COLUMNS": "200"}).stdout
    assert "0 document(s)" in none and "year:" not in none and "issuer:" not in none


def test_show_prints_the_table_and_the_official_fields(archive_dir: Path) -> None:
    did = _ids(hra("search", "指标", "--json", data_dir=archive_dir).stdout)[0]
    shown = hra("show", did, data_dir=archive_dir, env={"COLUMNS": "160"})
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "滨江市卫生健康委员会" in out and "滨卫健发〔2023〕12号" in out and "2023-12-20" in out
    row = next(line for line in out.splitlines() if "县域就诊率" in line)
    assert all(cell in row for cell in TABLE[1])  # one table row per line, cells side by side
    stats = json.loads(hra("stats", "--json", data_dir=archive_dir).stdout)
    assert stats["by_issuer"] == {"滨江市卫生健康委员会": 1, "滨江市教育局": 1}
    assert "by issuer" in hra("stats", data_dir=archive_dir).stdout


def test_exports_render_tables(archive_dir: Path, tmp_path: Path) -> None:
    import docx

    out = tmp_path / "out"
    out.mkdir()
    for fmt in ("docx", "md", "txt", "csv"):
        done = hra("export", "指标", "--format", fmt, "--one-file", "-o", str(out / f"a.{fmt}"),
                   data_dir=archive_dir) if fmt != "csv" else hra(
            "export", "指标", "--format", "csv", "-o", str(out / "a.csv"), data_dir=archive_dir)
        assert done.returncode == 0, done.stderr
    word = docx.Document(str(out / "a.docx"))
    body = [t for t in word.tables if t.rows[0].cells[0].text == "指标名称"]
    assert len(body) == 1
    assert [[c.text for c in r.cells] for r in body[0].rows] == TABLE  # 5 x 4, cells kept
    assert any("滨卫健发〔2023〕12号" in c.text for t in word.tables for r in t.rows for c in r.cells)
    md = (out / "a.md").read_text(encoding="utf-8")
    assert "| 指标名称 | 2022年 | 2023年 | 增减 |\n| --- | --- | --- | --- |\n| 县域就诊率 |" in md
    assert "| 文号 | 滨卫健发〔2023〕12号 |" in md
    txt = (out / "a.txt").read_text(encoding="utf-8")
    assert "\n".join("\t".join(r) for r in TABLE) in txt and "发布机构: 滨江市卫生健康委员会" in txt
    rows = list(csv.DictReader(io.StringIO((out / "a.csv").read_text(encoding="utf-8-sig"))))
    assert "\t".join(TABLE[2]) in rows[0]["text"] and rows[0]["issuer"] == "滨江市卫生健康委员会"
    assert "blocks" not in rows[0]


def test_an_older_archive_keeps_working_and_reprocess_fills_the_new_fields(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = sqlite3.connect(data / "archive.sqlite3")
    db.executescript(";".join(MIGRATIONS[:-1]) + f"; PRAGMA user_version = {len(MIGRATIONS) - 1};")
    db.close()
    page = official_page().encode()
    record = process_page(page, "http://x.gov.cn/a.html").record
    assert record is not None
    with Store(data) as store:  # migrates; the document as an older hra stored it
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        old = Record(**{**record.__dict__, "blocks": None, "issuer": None, "doc_number": None,
                        "written": None, "text": record.text.replace("\t", "\n")})
        store.save_page(url=record.url, final_url=None, status=200, headers={},
                        fetched_at="2024-01-01T00:00:00+00:00", body=page, record=old)
    assert hra("reindex", data_dir=data).returncode == 0
    shown = hra("show", record.id, "--json", data_dir=data)
    assert shown.returncode == 0 and json.loads(shown.stdout)["blocks"] is None
    md = tmp_path / "old.md"
    assert hra("export", "--format", "md", "--one-file", "-o", str(md), data_dir=data).returncode == 0
    assert "县域就诊率" in md.read_text(encoding="utf-8")
    done = hra("reprocess", data_dir=data)
    assert done.returncode == 0, done.stderr
    again = json.loads(hra("show", record.id, "--json", data_dir=data).stdout)
    assert again["blocks"][2] == {"type": "table", "rows": TABLE}
    assert (again["issuer"], again["doc_number"]) == ("滨江市卫生健康委员会", "滨卫健发〔2023〕12号")
    assert _ids(hra("search", "指标", "--issuer", "滨江", "--json", data_dir=data).stdout) == [
        record.id]

"""Input that must never crash `hra import` (issue #17): JSONL lines of the wrong types, a full
disk in the middle of an import, HTML nested deeper than lxml builds; and damaged
schedules.json / sources.toml for the commands that read them.

Errors are one line (with the file, line number and field for a JSONL line); the rest of the
input is imported; a full disk stops the import with one line and exit 1, the archive intact.
"""

from __future__ import annotations

import errno
import json
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.cli import _register_command_modules, cli
from archive.importer import InvalidRecord, import_paths, parse_record
from archive.page_processing import process_page
from archive.record import Record
from archive.store import Store, StoreFull
from archive.text.htmlprocessing import clean_tree, flatten_markup, iter_lines, parse_html
from tests.conftest import report_page

_register_command_modules()


def hra(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), prog_name="hra")
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert "Traceback" not in result.output
    return result


def error_lines(result: Result) -> list[str]:
    return [x for x in result.stderr.splitlines() if x.startswith("error:")]


# ---------------------------------------------------------------------------------------------
# JSONL records of the wrong types

GOOD: dict[str, Any] = {
    "id": "3f1c2a9b8d7e6f50", "url": "http://wsjkw.example.gov.cn/art/2024/1/8/art_1.html",
    "title": "临江市卫生健康委员会2023年工作总结", "published": "2024-01-08", "year": 2023,
    "site": "临江市卫生健康委员会", "column": "工作总结", "region": "浙江省杭州市",
    "doc_type": "summary",
    "text": "2023年,临江市卫生健康系统深入推进县域医共体建设,基层就诊率达到67.4%。\n"
            "全年新增家庭医生签约服务对象4.2万人,重点人群签约覆盖率达到81%。",
    "truncated": False, "full_length": None, "placeholders": False, "mojibake": False,
    "source_script": "simplified", "is_health_report": True,
    "fetched_at": "2024-01-09T02:00:00+00:00", "duplicate_of": None,
    "parent": None, "format": "html", "flags": [],
}


def good(n: int) -> dict[str, Any]:
    """A valid record of its own (id and URL differ by `n`)."""
    return GOOD | {"id": f"{n:016x}", "url": f"http://wsjkw.example.gov.cn/art/{n}.html"}


#: The wrong values of the issue, and more of the same kind: (field, value).
WRONG: list[tuple[str, Any]] = [
    ("published", ["x"]), ("title", {}), ("doc_type", None), ("truncated", "yes"),
    ("year", 10**30), ("year", 1492), ("year", "2023"), ("year", True), ("year", 2023.0),
    ("published", "2023-02-30"), ("published", "2023/02/03"), ("published", 20230203),
    ("published", "０２０２-01-01"), ("doc_type", "memo"), ("doc_type", ["plan"]),
    ("doc_type", {"a": 1}), ("id", "a1"), ("id", "3F1C2A9B8D7E6F50"), ("id", 12),
    ("id", None), ("url", ""), ("url", "http://[::1"), ("url", "http://a.cn:99999/"),
    ("url", ["http://a.cn/"]), ("text", None), ("text", ["段落"]), ("text", "\ud800孤立代理"),
    ("site", 3), ("column", True), ("region", []), ("fetched_at", 1.5),
    ("placeholders", 0), ("mojibake", "false"), ("is_health_report", None),
    ("full_length", -1), ("full_length", "7918"), ("full_length", 10**20),
    ("full_length", False), ("source_script", "traditional chinese"), ("source_script", None),
    ("duplicate_of", "xyz"), ("duplicate_of", 7), ("attachments", "a.doc"),
    ("attachments", [1]), ("attachments", None), ("region_city", {}),
    ("content_source", [None]),
    ("issuer", 3), ("doc_number", ["遵卫健发〔2023〕12号"]), ("written", "2023年3月15日"),
    ("written", "2023-13-01"), ("blocks", "表格"), ("blocks", [{"type": "img"}]),
    ("blocks", [{"type": "p", "text": None}]), ("blocks", [{"type": "table", "rows": []}]),
    ("blocks", [{"type": "table", "rows": [["a", "b"], ["c"]]}]),
    ("blocks", [{"type": "table", "rows": [["a", 1]]}]),
]
#: The fields a record without official metadata or tables has as null (older exports lack them).
ABSENT = dict.fromkeys(("issuer", "doc_number", "written", "blocks"))


@pytest.mark.parametrize(("name", "value"), WRONG, ids=[f"{n}={v!r}"[:40] for n, v in WRONG])
def test_a_wrong_field_is_named(name: str, value: Any) -> None:
    with pytest.raises(InvalidRecord) as caught:
        parse_record(GOOD | {name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}: ") and "\n" not in message


def test_the_good_record_and_its_absent_optional_fields_parse() -> None:
    assert parse_record(GOOD).to_json() == GOOD | ABSENT
    official = {"issuer": "遵义市卫生健康局", "doc_number": "遵卫健发〔2023〕12号",
                "written": "2023-03-15",
                "blocks": [{"type": "p", "text": "正文"},
                           {"type": "table", "rows": [["指标", "目标"], ["基层就诊率", "65%"]]}]}
    assert parse_record(GOOD | official).to_json() == GOOD | official
    minimal = parse_record({"id": GOOD["id"], "url": GOOD["url"], "text": "正文"})
    assert (minimal.doc_type, minimal.year, minimal.truncated) == ("other", None, False)
    assert parse_record(GOOD | {"year": None, "published": None, "unknown": [1]}).year is None


@pytest.mark.parametrize("value", [[], "s", 3, None, True, [GOOD]])
def test_json_that_is_not_an_object(value: object) -> None:
    with pytest.raises(InvalidRecord, match=r"not a record: JSON .*, not an object"):
        parse_record(value)


def test_each_bad_line_is_one_error_and_the_rest_of_the_file_is_imported(tmp_path: Path) -> None:
    lines = [json.dumps(good(1), ensure_ascii=False)]
    for n, (name, value) in enumerate(WRONG, 2):
        lines.append(json.dumps(good(n) | {name: value}))
    not_json = ["not json", "{\"id\": ", "[" * 100_000, '{"year": 1' + "0" * 5000 + "}",
                "NaN", '["a"]', '"text"', "null", "{}"]
    lines += not_json
    lines.append(json.dumps(good(999), ensure_ascii=False))
    path = tmp_path / "mixed.jsonl"
    path.write_bytes("\n".join(lines).encode("utf-8") + b"\n\n{\"id\": \"\xff\"}\n"
                     + json.dumps(good(1000)).encode() + b"\n")
    data = tmp_path / "data"
    result = hra("--data-dir", str(data), "import", str(path), "--json")
    summary = json.loads(result.stdout)
    assert (summary["new"], summary["failed"]) == (3, len(WRONG) + len(not_json) + 1)
    failed = [x for x in result.stderr.splitlines() if x.startswith("failed:")]
    assert len(failed) == summary["failed"]
    for n, (name, _value) in enumerate(WRONG, 2):
        assert any(x.startswith(f"failed: {path}:{n}: {name}: ") for x in failed), (n, name)
    after = len(WRONG) + 1
    assert f"{path}:{after + 1}: not JSON" in failed[after - 1]
    assert f"{path}:{after + 3}: not JSON (nested too deeply)" in failed[after + 1]
    assert f"{path}:{after + 4}: not JSON (a number too long)" in failed[after + 2]
    assert f"{path}:{after + 6}: not a record: JSON array, not an object" in failed[after + 4]
    assert f"{path}:{after + 9}: id, url, text: missing" in failed[after + 7]
    assert failed[-1].endswith(f"{path}:{len(lines) + 2}: not UTF-8 text")
    with Store(data) as store:
        assert sorted(store.document_ids()) == sorted(f"{n:016x}" for n in (1, 999, 1000))
        assert store.get(f"{1:016x}").to_json() == good(1) | ABSENT  # type: ignore[union-attr]


def test_a_file_of_only_bad_lines_fails_with_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GOOD | {"year": 10**30}) + "\n[1]\n", encoding="utf-8")
    result = hra("--data-dir", str(tmp_path / "d"), "import", str(path))
    assert result.exit_code == 1
    assert [x for x in result.stderr.splitlines() if x.startswith("failed:")] == [
        f"failed: {path}:1: year: expected a year from 1900 to 2100 or null, "
        "got 1000000000000000000000000000000",
        f"failed: {path}:2: not a record: JSON array, not an object"]


# Any JSON value (bounded), and values that are surely of the wrong type for each field.
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=6,
)
_not_str = _json.filter(lambda v: not isinstance(v, str))
_not_bool = _json.filter(lambda v: not isinstance(v, bool))
_WRONG_BY_FIELD: dict[str, st.SearchStrategy[Any]] = {
    "id": _json.filter(lambda v: not (isinstance(v, str) and len(v) == 16)),
    "url": _not_str,
    "text": _not_str,
    "title": _not_str.filter(lambda v: v is not None),
    "site": _not_str.filter(lambda v: v is not None),
    "published": _json.filter(lambda v: v is not None and not (isinstance(v, str) and
                                                               len(v) == 10)),
    "year": _json.filter(lambda v: v is not None and not (
        isinstance(v, int) and not isinstance(v, bool) and 1900 <= v <= 2100))
    | st.integers().filter(lambda y: not 1900 <= y <= 2100),
    "doc_type": _json.filter(lambda v: not isinstance(v, str)) | st.text(max_size=3),
    "truncated": _not_bool,
    "is_health_report": _not_bool,
    "full_length": _json.filter(lambda v: v is not None and (not isinstance(v, int)
                                                            or isinstance(v, bool) or v < 0)),
    "attachments": _json.filter(lambda v: not (
        isinstance(v, list) and all(isinstance(x, str) for x in v))),
}
_year_ok = st.integers(1900, 2100)


@st.composite
def jsonl_file(draw: st.DrawFn) -> tuple[list[str], list[int], list[int]]:
    """Lines of a JSONL file: good records, records with one surely-wrong field, records with
    random JSON in random fields (good or not), JSON that is not an object, and not JSON."""
    lines: list[str] = []
    good_lines: list[int] = []
    bad_lines: list[int] = []
    for n in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["good", "wrong", "random", "not-object", "not-json"]))
        record = good(n)
        if kind == "good":
            record["year"] = draw(_year_ok | st.none())
            good_lines.append(n + 1)
        elif kind == "wrong":
            name = draw(st.sampled_from(sorted(_WRONG_BY_FIELD)))
            value = draw(_WRONG_BY_FIELD[name])
            record[name] = value
            bad_lines.append(n + 1)
        elif kind == "random":
            for name in draw(st.lists(st.sampled_from(sorted(GOOD)), max_size=4)):
                record[name] = draw(_json)
        elif kind == "not-object":
            lines.append(json.dumps(draw(_json.filter(lambda v: not isinstance(v, dict)))))
            bad_lines.append(n + 1)
            continue
        else:
            lines.append(draw(st.sampled_from(["{", "nope", "{'id': 1}", "[1,]", '{"a" 1}'])))
            bad_lines.append(n + 1)
            continue
        lines.append(json.dumps(record))
    return lines, good_lines, bad_lines


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jsonl_file())
def test_random_wrong_types_are_one_error_per_line_and_good_lines_import(
        content: tuple[list[str], list[int], list[int]]) -> None:
    lines, good_lines, bad_lines = content
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with Store(Path(tmp) / "data") as store:
            # No exception at all: a bad line is one error, the rest of the file goes on.
            summary = import_paths(store, [path])
            numbers = [int(e.split(":")[1]) for e in summary.errors]
            assert len(numbers) == len(set(numbers)) == summary.counts.failed
            assert all("\n" not in e and e.startswith(f"{path}:") for e in summary.errors)
            assert set(bad_lines) <= set(numbers)
            assert not set(good_lines) & set(numbers)
            assert summary.counts.new + summary.counts.failed == len(lines)
            stored = set(store.document_ids())
            assert {f"{n - 1:016x}" for n in good_lines} <= stored
            for n in good_lines:
                assert store.get(f"{n - 1:016x}").to_json() == json.loads(  # type: ignore[union-attr]
                    lines[n - 1]) | ABSENT


# ---------------------------------------------------------------------------------------------
# A full disk

PARAGRAPHS = [
    "2023年,临江市卫生健康系统坚持以人民健康为中心,深入推进紧密型县域医共体建设,全市组建医共体9个,"
    "县域内就诊率达到90.6%。",
    "全年完成基本公共卫生服务项目绩效评价,居民电子健康档案建档率达到91.3%,高血压患者规范管理率达到"
    "72.8%。",
    "持续深化医药卫生体制改革,推进公立医院高质量发展,三级医院平均住院日下降至7.4天,门诊患者满意度"
    "提升至93分。",
]


def saved_pages(root: Path, count: int) -> Path:
    """`count` distinct report pages, each with a long appendix (enough bytes that every page
    needs new database pages)."""
    root.mkdir(parents=True)
    for i in range(count):
        appendix = [f"附表{i}-{j}:第{j}季度乡镇卫生院门诊人次{1000 + 37 * i * j}人次,"
                    f"住院人次{200 + 11 * i + j}人次,家庭医生签约{300 + i * j}人。" * 3
                    for j in range(40)]
        html = report_page(f"临江市第{i + 1}片区2023年卫生健康工作总结", PARAGRAPHS + appendix)
        (root / f"report{i:02d}.html").write_text(html, encoding="utf-8")
    return root


@pytest.fixture
def disk_fills_after(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Make the archive full (SQLite `PRAGMA max_page_count`: SQLITE_FULL, "database or disk
    is full") once `n` pages have been stored by `save_page` or `put_document`."""

    def arm(n: int) -> None:
        calls = {"n": 0}

        def full_after(original: Callable[..., str]) -> Callable[..., str]:
            def wrapper(self: Store, *args: Any, **kwargs: Any) -> str:
                if calls["n"] == n:
                    size = self.db.execute("PRAGMA page_count").fetchone()[0]
                    self.db.execute(f"PRAGMA max_page_count = {size}")
                calls["n"] += 1
                return original(self, *args, **kwargs)
            return wrapper

        monkeypatch.setattr(Store, "save_page", full_after(Store.save_page))
        monkeypatch.setattr(Store, "put_document", full_after(Store.put_document))

    return arm


def check_intact(data: Path, pages: int) -> None:
    with Store(data) as store:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.db.execute("SELECT count(*) FROM pages").fetchone()[0] == pages
        assert store.count_documents() == pages
        assert not store.db.in_transaction


def test_a_full_disk_is_one_line_exit_1_and_the_archive_is_intact(
        tmp_path: Path, disk_fills_after: Callable[[int], None]) -> None:
    pages = saved_pages(tmp_path / "pages", 6)
    data = tmp_path / "data"
    disk_fills_after(3)
    result = hra("--data-dir", str(data), "import", str(pages))
    assert result.exit_code == 1
    assert error_lines(result) == ["error: disk full: 3 pages stored, run again when there is "
                                   "space"]
    assert "Traceback" not in result.stderr and "failed:" not in result.stderr
    check_intact(data, 3)
    with Store(data) as store:
        run = store.runs(1)[0]
        assert run["status"] == "failed" and "disk full" in json.dumps(run["errors"])


def test_running_again_when_there_is_space_finishes_the_job(
        tmp_path: Path, disk_fills_after: Callable[[int], None],
        monkeypatch: pytest.MonkeyPatch) -> None:
    pages = saved_pages(tmp_path / "pages", 5)
    data = tmp_path / "data"
    disk_fills_after(2)
    assert hra("--data-dir", str(data), "import", str(pages)).exit_code == 1
    monkeypatch.undo()
    again = hra("--data-dir", str(data), "import", str(pages), "--json")
    assert again.exit_code == 0
    summary = json.loads(again.stdout)
    assert (summary["new"], summary["unchanged"]) == (3, 2)
    check_intact(data, 5)


def test_a_full_disk_during_a_jsonl_import(tmp_path: Path,
                                           disk_fills_after: Callable[[int], None]) -> None:
    big = "。".join(PARAGRAPHS) * 40
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(good(n) | {"text": f"{n}:{big}"}, ensure_ascii=False)
                            + "\n" for n in range(8)), encoding="utf-8")
    data = tmp_path / "data"
    disk_fills_after(4)
    result = hra("--data-dir", str(data), "import", str(path))
    assert result.exit_code == 1
    assert error_lines(result) == ["error: disk full: 4 pages stored, run again when there is "
                                   "space"]
    with Store(data) as store:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.count_documents() == 4


def test_enospc_from_a_write_is_the_same_line(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pages = saved_pages(tmp_path / "pages", 3)
    data = tmp_path / "data"
    original = Store.save_page
    calls = {"n": 0}

    def save_page(self: Store, **kwargs: Any) -> str:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, **kwargs)

    monkeypatch.setattr(Store, "save_page", save_page)
    result = hra("--data-dir", str(data), "import", str(pages))
    assert result.exit_code == 1
    assert error_lines(result) == ["error: disk full: 1 pages stored, run again when there is "
                                   "space"]
    check_intact(data, 1)


def test_a_full_disk_while_indexing_after_the_import(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import archive.derived

    def no_space(*_args: Any, **_kwargs: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(archive.derived, "update_derived", no_space)
    pages = saved_pages(tmp_path / "pages", 2)
    result = hra("--data-dir", str(tmp_path / "data"), "import", str(pages))
    assert result.exit_code == 1
    assert error_lines(result) == ["error: disk full: 2 pages stored, run again when there is "
                                   "space"]


def test_the_store_rolls_back_a_full_write_and_stays_usable(tmp_path: Path) -> None:
    record = parse_record(good(1))
    with Store(tmp_path) as store:
        size = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count = {size}")
        with pytest.raises(StoreFull, match=r"^disk full: "):
            store.save_page(url=record.url, body=random.Random(0).randbytes(60_000),
                            record=record, fetched_at="2024-01-09T02:00:00+00:00")
        assert not store.db.in_transaction
        assert store.count_documents() == 0
        store.db.execute("PRAGMA max_page_count = 1073741823")
        assert store.put_document(record) == "new"
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---------------------------------------------------------------------------------------------
# HTML nested deeper than lxml builds (256 elements)

REPORT = [
    "2023年是全面贯彻党的二十大精神的开局之年。一年来,在市委、市政府的坚强领导下,全市卫生健康系统"
    "坚持以人民健康为中心,扎实推进健康临江建设,各项工作取得明显成效。",
    "一是医共体建设提质增效。全市9个县域医共体实现人员、财务、药品耗材统一管理,牵头医院下沉专家"
    "1260人次,基层医疗卫生机构门急诊人次同比增长8.7%。",
    "二是公共卫生服务能力持续提升。新建标准化预防接种门诊14家,适龄儿童免疫规划疫苗接种率保持在"
    "95%以上,65岁以上老年人健康管理率达到71.2%。",
    "三是中医药传承创新发展。建成基层中医馆42个,实现乡镇卫生院全覆盖,中医药服务人次达到186万。",
    "下一步,我们将继续深化医药卫生体制改革,推动优质医疗资源扩容下沉和区域均衡布局,不断增强人民群众"
    "的获得感、幸福感、安全感。",
]
TITLE = "临江市卫生健康局2023年工作总结"


def deep_page(opening: str, depth: int, paragraphs: list[str] = REPORT) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{TITLE}_临江市卫生健康局'
            f'</title></head><body><div class="nav"><a href="/">首页</a> <a href="/zwgk/">政务公开'
            f"</a></div>{opening * depth}<h1>{TITLE}</h1>"
            f"<div class=\"info\">发布时间:2024-01-15</div>{body}</body></html>").encode()


@pytest.mark.parametrize("depth", [300, 5000])
@pytest.mark.parametrize("opening", ['<font face="宋体" size="3">', "<font>"])
def test_unclosed_font_tags_keep_the_text(opening: str, depth: int) -> None:
    flat = process_page(deep_page(opening, 0), "http://wsjkw.example.gov.cn/a.html").record
    result = process_page(deep_page(opening, depth), "http://wsjkw.example.gov.cn/a.html")
    assert result.kind == "report" and result.record is not None and flat is not None
    assert result.record.text == flat.text
    assert result.record.text.splitlines() == REPORT
    assert result.record.title == TITLE and result.record.published == "2024-01-15"


@pytest.mark.parametrize("opening", ["<div>", "<table><tr><td>", "<ul><li>", "<p><span>",
                                     "<font><div><span><b>", "<blockquote><section>",
                                     "<td><center>"])
def test_other_deep_nesting_keeps_the_text(opening: str) -> None:
    result = process_page(deep_page(opening, 3000), "http://wsjkw.example.gov.cn/a.html")
    assert result.record is not None
    for paragraph in REPORT:
        assert paragraph in result.record.text


def test_a_3mb_page_deeply_nested_keeps_its_text() -> None:
    paragraphs = [f"{p[:-1]}(第{i}部分)。" for i in range(5300) for p in REPORT[1:4]]
    for depth in (0, 5000):
        page = deep_page("<font>", depth, paragraphs)
        assert len(page) > 3_000_000
        result = process_page(page, "http://wsjkw.example.gov.cn/a.html")
        assert result.record is not None
        lines = result.record.text.splitlines()
        assert lines[0] == paragraphs[0] and lines[-1] == paragraphs[-1]
        assert len(lines) == len(paragraphs)


def test_a_deep_page_imports(tmp_path: Path) -> None:
    (tmp_path / "deep.html").write_bytes(deep_page("<font>", 300))
    result = hra("--data-dir", str(tmp_path / "data"), "import", str(tmp_path / "deep.html"),
                 "--json")
    assert json.loads(result.stdout)["new"] == 1, result.stderr


def _texts(html: str) -> str:
    return "".join(line.text for line in iter_lines(parse_html(html)))


@pytest.mark.parametrize("max_depth", [200, 20, 0])
def test_flatten_markup_keeps_all_text_in_order(max_depth: int) -> None:
    html = ("<html><body>" + "<div><font>甲<span>乙" * 400 + "<p>丙</p><br/><img src=x.png>丁"
            + "</font></div>" * 100 + "戊</body></html>")
    flat = flatten_markup(html, max_depth)
    root = parse_html(flat)
    depth = max(sum(1 for _ in el.iterancestors()) for el in root.iter())
    assert depth <= max(max_depth, 1) + 3
    assert _texts(flat) == "甲乙" * 400 + "丙丁戊"
    assert "<img src=x.png>" in flat and "<br/>" in flat


def test_flatten_markup_keeps_lines_apart() -> None:
    html = "<html><body>" + "<div>" * 3000 + "<p>第一段。</p><p>第二段。</p><div>第三段。</div>"
    lines = [line.text for line in iter_lines(parse_html(html))]
    assert lines == ["第一段。", "第二段。", "第三段。"]


@pytest.mark.parametrize("opening", ["<font>", "<div>"])
def test_hidden_text_stays_hidden_in_a_deep_page(opening: str) -> None:
    hidden = ('<span style="display: none">隐藏干扰字符甲</span>'
              '<font style="display:none">隐藏干扰字符乙</font>')
    paragraphs = [REPORT[0], REPORT[1][:20] + hidden + REPORT[1][20:], *REPORT[2:]]
    result = process_page(deep_page(opening, 3000, paragraphs), "http://wsjkw.example.gov.cn/a")
    assert result.record is not None
    assert result.record.text.splitlines() == REPORT


@pytest.mark.parametrize("max_depth", [200, 0])
def test_flatten_markup_drops_the_text_of_hidden_elements_it_unwraps(max_depth: int) -> None:
    html = ("<html><body>" + "<div>" * 300 + '可见<div hidden>不可见<p>也不可见</p></div>可见'
            '<span style="visibility:hidden">不可见</span><a href=/>链接</a><div/>结尾</body></html>')
    root = parse_html(flatten_markup(html, max_depth))
    clean_tree(root)
    assert "".join(line.text for line in iter_lines(root)) == "可见可见链接结尾"


def test_shallow_pages_are_parsed_as_before() -> None:
    html = deep_page("<font>", 200).decode()
    assert len(list(parse_html(html).iter())) > 200  # not flattened: lxml built it all


# ---------------------------------------------------------------------------------------------
# schedules.json of the wrong shape, sources.toml that is not UTF-8: one line for every command
# that reads them (the crawl and the scheduler never start)

WRONG_SHAPES = {
    "object": '{"nightly": {"cron": "0 3 * * *", "sources": ["hc-zjwjw"]}}',
    "string": '"0 3 * * *"',
    "number": "42",
    "null": "null",
    "boolean": "true",
    "list of non-objects": '[1, "nightly", null, 2.5]',
    "list of lists": '[[{"name": "n", "cron": "0 3 * * *", "all_sources": true}]]',
    "fields of wrong types": '[{"name": 5, "cron": [], "sources": "a", "all_sources": 1,'
                             ' "created_at": {}, "notify_cmd": 3, "crawl_options": "x"}]',
}
COMMANDS: dict[str, tuple[list[str], int]] = {  # args, exit status
    "schedule list": (["schedule", "list"], 0),
    "schedule run --once": (["schedule", "run", "--once"], 1),  # nothing to run
    "sources": (["sources"], 0),
    "crawl NAME": (["crawl", "no-such-source"], 2),  # refused before any crawl
}


@pytest.fixture
def wrong_shape(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    tmp_path.joinpath("schedules.json").write_text(request.param, encoding="utf-8")
    yield tmp_path


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("wrong_shape", WRONG_SHAPES.values(), ids=list(WRONG_SHAPES),
                         indirect=True)
def test_schedules_json_of_the_wrong_shape(wrong_shape: Path, command: str) -> None:
    args, code = COMMANDS[command]
    before = (wrong_shape / "schedules.json").read_bytes()
    result = hra("--data-dir", str(wrong_shape), *args)
    assert result.exit_code == code, result.output
    path = str(wrong_shape / "schedules.json")
    mentions = [x for x in result.stderr.splitlines() if path in x]
    if args[0] == "schedule":
        assert mentions and all(x.startswith("warning: ") for x in mentions)
        assert len(result.stderr.splitlines()) == len(mentions) + (code != 0)
    else:  # these do not read schedules.json
        assert not mentions
    assert (wrong_shape / "schedules.json").read_bytes() == before


@pytest.mark.parametrize("command", list(COMMANDS))
def test_sources_toml_not_utf8(tmp_path: Path, command: str) -> None:
    args, code = COMMANDS[command]
    path = tmp_path / "sources.toml"
    path.write_bytes('[[source]]\nname = "临江卫健委"\nstart_urls = ["http://127.0.0.1:9/"]\n'
                     .encode("gb18030"))
    result = hra("--data-dir", str(tmp_path), *args)
    lines = result.stderr.splitlines()
    mentions = [x for x in lines if str(path) in x]
    assert len(mentions) == 1 and "not UTF-8" in mentions[0], result.stderr
    if args[0] == "schedule":  # the scheduler warns and goes on with schedules.json
        assert mentions[0].startswith("warning: ")
        assert result.exit_code == code
    else:
        assert lines == mentions and mentions[0].startswith("error: ")
        assert result.exit_code != 0


def test_records_round_trip_through_parse_record(tmp_path: Path) -> None:
    """Every record the pipeline makes is accepted back (export -> import)."""
    page = process_page(deep_page("<font>", 0), "http://wsjkw.example.gov.cn/a.html?utm_x=1")
    assert page.record is not None
    again = parse_record(json.loads(json.dumps(page.record.to_json(), ensure_ascii=False)))
    assert again.to_json() == page.record.to_json()
    assert isinstance(again, Record)
    with Store(tmp_path) as store:
        assert store.put_document(again) == "new"

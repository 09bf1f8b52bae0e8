"""Issue #11: precise flags and metadata (mojibake only for real damage, site never a
login/logout link, trailing 本文来源/编辑 lines are clutter, no control characters stored)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from archive.page_processing import PageError, process_page
from archive.text.classify import has_mojibake
from archive.text.metadata import clean_title
from tests.conftest import SHARED

EVAL = Path(__file__).resolve().parent / "eval"
REAL = SHARED / "real-pages"
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 (but \t \n) and C1

BODY = "今年以来,全县卫生健康系统坚持以人民健康为中心,扎实推进医共体建设和家庭医生签约服务工作。" * 3


def page(body: str, top: str = "", head: str = "") -> bytes:
    return f"""<html><head><meta charset="utf-8"><title>县卫生健康局2023年工作总结_县人民政府</title>
{head}</head><body><div class="top"><a href="/login" id="login_button">登录</a>
<a id="logout" href="/logout">退出</a></div>
<div class="main"><h1>县卫生健康局2023年工作总结</h1><div class="info">{top}</div>
<div class="content"><p>{BODY}</p>{body}<p>{BODY}</p></div></div></body></html>""".encode()


@pytest.mark.parametrize("text", [
    "看病难不难?这是群众最关心的问题", "看病难不难？这是群众最关心的问题", "减肥有多难?这样做是有害的",
    "你不觉得她是变得很强吗?她只是变强了", "为什么接棒的人要先跑,而不是站在原地等棒到?就是为了",
])
def test_question_mark_is_no_mojibake(text: str) -> None:
    assert not has_mojibake(text)


@pytest.mark.parametrize("text", [
    "朱?基总理来到医院", "全市医院的??工作", "\ufffd卫生", "卫生\ue000健康", "锟斤拷锟斤拷",
    "医院工作".encode().decode("gbk"),
    "卫生健康工作医院".encode().decode("latin-1"),
    "卫生健康工作医院".encode().decode("cp1252", errors="ignore"),
])
def test_real_damage_is_mojibake(text: str) -> None:
    assert has_mojibake(text)


def test_question_marks_on_a_page_do_not_flag() -> None:
    body = "<p>看病难不难?这是群众最关心的问题。看病贵不贵？这是第二个问题。怎样解决?靠医共体。</p>"
    record = process_page(page(body), "http://example.com/a.html").record
    assert record is not None and not record.mojibake


def _records() -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for path in sorted((EVAL / "cases").glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        data = (EVAL / "pages" / case["file"]).read_bytes()
        out.append((path.stem, process_page(data, case["url"],
                                            http_charset=case.get("http_charset")).record))
    for path in sorted(REAL.glob("*.html")) if REAL.is_dir() else []:
        try:
            out.append((path.name, process_page(path.read_bytes(), "http://example.com/x.html").record))
        except PageError:
            continue
    return [(name, r) for name, r in out if r is not None]


def test_no_false_mojibake_and_no_controls_on_eval_and_real_pages() -> None:
    records = _records()
    assert len(records) > 30
    for name, record in records:
        assert not record.mojibake, name  # type: ignore[attr-defined]
        for field in ("title", "text", "site", "column", "published", "content_source"):
            value = getattr(record, field) or ""
            assert not CONTROLS.search(value), (name, field)


def test_site_is_never_a_login_or_logout_link() -> None:
    record = process_page(page(""), "http://example.com/a.html").record
    assert record is not None and record.site not in ("登录", "退出")


def test_trailing_source_and_editor_lines_are_clutter() -> None:
    tail = "<p>本文来源：人民日报</p><p>责任编辑：张三</p><p>（编辑：李四）</p>"
    record = process_page(page(tail), "http://example.com/a.html").record
    assert record is not None
    assert "本文来源" not in record.text and "编辑" not in record.text


@pytest.mark.parametrize(("top", "expected"), [
    ("2018-10-29 20:57:34 来源: 央视网", "2018-10-29"),
    ("2005-01-06 08:13更新 来源：新华网", "2005-01-06"),
])
def test_unlabelled_date_line_beside_the_source(top: str, expected: str) -> None:
    record = process_page(page("", top), "http://example.com/a.html").record
    assert record is not None and record.published == expected


def test_visible_date_wins_over_a_disagreeing_pubdate_meta() -> None:
    head = '<meta name="PubDate" content="2023-05-01 10:00">'
    record = process_page(page("", "发布日期：2019-03-08", head), "http://example.com/a.html").record
    assert record is not None and record.published == "2019-03-08"
    same = process_page(page("", "", head), "http://example.com/a.html").record
    assert same is not None and same.published == "2023-05-01"


@pytest.mark.parametrize(("raw", "expected"), [
    ("书记市长这一周 | 奋马扬鞭争春色", "书记市长这一周 | 奋马扬鞭争春色"),
    ("书记市长这一周 | 奋马扬鞭争春色_某某市人民政府网", "书记市长这一周 | 奋马扬鞭争春色"),
    ("奋进新征程——全市卫生健康工作综述_新华网", "奋进新征程——全市卫生健康工作综述"),
    ("县卫生健康局2023年工作总结 | 某某网", "县卫生健康局2023年工作总结"),
    ('<div class="title">县卫生健康局2023年工作总结</div>', "县卫生健康局2023年工作总结"),
])
def test_clean_title(raw: str, expected: str) -> None:
    assert clean_title(raw) == expected


def test_title_from_a_meta_tag_is_text() -> None:
    head = '<meta name="ArticleTitle" content="&lt;div&gt;书记市长这一周 | 奋马扬鞭争春色&lt;/div&gt;">'
    record = process_page(page("", "", head), "http://example.com/a.html").record
    assert record is not None and record.title == "书记市长这一周 | 奋马扬鞭争春色"


def test_the_fast_reject_of_the_gbk_check_changes_no_answer():
    """`_utf8_cjk` skips the decoding attempts when the bytes hold a sequence UTF-8 never has
    (the common case for real Chinese text): the same answers as trying them all, on genuine
    text and on UTF-8 read as GBK (mojibake), cut anywhere."""
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from archive.text.classify import _utf8_cjk
    from archive.text.vocabulary import CJK

    def reference(run: str) -> bool:
        try:
            raw = run.encode("gbk")
        except UnicodeEncodeError:
            return False
        for a, b in ((0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (0, 2)):
            try:
                decoded = raw[a: len(raw) - b].decode("utf-8")
            except UnicodeDecodeError:
                continue
            return len(re.findall(f"[{CJK}]", decoded)) >= 2
        return False

    prose = "全市卫生健康工作取得新成效深入推进紧密型县域医共体建设基层医疗服务能力明显提升"
    moji = prose.encode("utf-8").decode("gbk", "ignore")
    assert _utf8_cjk(moji[:4], "gbk") and reference(moji[:4])
    assert not _utf8_cjk(prose[:12], "gbk") and not reference(prose[:12])

    @settings(max_examples=600, deadline=None)
    @given(st.sampled_from([prose, moji]), st.integers(0, 30), st.integers(1, 30),
           st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF) |
                   st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=3))
    def check(base: str, start: int, size: int, noise: str) -> None:
        run = base[start: start + size] + noise
        assert _utf8_cjk(run, "gbk") == reference(run)

    check()

"""Real pages from Chinese news, government and health sites (../shared/corpus/real-pages).

Main text is scored by F1 of character bigrams against the benchmark's gold text (tests/eval/gate.py)
and must be no lower than trafilatura.extract on the same page (decoded the same way). The mean and
minimum F1 over these pages are held by the eval gate's baseline (tests/eval/baseline.json).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from archive.page_processing import process_page
from archive.text.decode import decode_html
from archive.text.extract import extract
from archive.text.normalize import normalize_markup
from tests.conftest import require_shared
from tests.eval import gate

CORPUS = require_shared()  # skips this module in a clone without ../shared (fails in CI)


def real(name: str) -> bytes:
    return (CORPUS / "real-pages" / name).read_bytes()


@pytest.mark.parametrize("gold", gate.gold_pages(CORPUS), ids=lambda p: p.name.split(".")[0])
def test_main_text_f1_not_below_trafilatura(gold: Path) -> None:
    ours_f1, theirs_f1 = gate.score_real_page(gold)
    assert ours_f1 >= theirs_f1 - 1e-9, f"ours {ours_f1:.3f} < trafilatura {theirs_f1:.3f}"


def test_list_page_is_recognised_and_not_archived() -> None:
    result = process_page(real("wsjkw_sh_list_yqtb.html"), "https://wsjkw.sh.gov.cn/yqtb/index.html")
    assert result.kind == "list" and result.record is None


def test_trs_editor_press_conference_page() -> None:
    page = extract(normalize_markup(decode_html(real("gne_cmse_pressconf.html")).text))
    assert page.title == "天宫一号与神舟九号载人交会对接任务第二场新闻发布会"
    assert page.published == "2012-06-24"
    assert page.site == "中国载人航天官方网站"
    assert sum(len(p) for p in page.paragraphs) > 600
    assert page.paragraphs[-1].endswith("下面，我愿意回答大家的提问。")


def test_content_farm_traditional_pinyin_page() -> None:
    result = process_page(real("farm_61k_trad_pinyin_spam.html"), "http://www.61k.com/x.html")
    record = result.record
    assert record is not None
    assert record.source_script == "traditional"
    assert record.title and "网络主播行为规范" in record.title
    assert not re.search(r"\([a-zü]*[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ][a-zü]*\)", record.text)
    assert not record.is_health_report and result.kind == "off-topic"


@pytest.mark.parametrize(
    "name",
    ["mh_39net_food_labazhou.html", "mh_newscn_liqiang_xinjiang.html",
     "mh_hkyahoo_finance_trad.html", "gne_people_culture.html", "mh_kepuchina_piyao.html"],
)
def test_news_pages_are_not_health_work_reports(name: str) -> None:
    result = process_page(real(name), "http://example.com/a.html")
    assert result.record is None or not result.record.is_health_report


def test_people_page_title_and_date() -> None:
    page = extract(normalize_markup(decode_html(real("gne_people_culture.html")).text))
    assert page.title == "女儿出嫁，郑板桥画了几笔兰花当嫁妆"
    assert page.published == "2019-06-15"
    assert page.site == "人民网"


def test_attachments_listed_below_the_article_are_recorded() -> None:
    body = "".join(f"<p>全市卫生健康系统深入推进医共体建设,第{i}项工作取得明显成效。</p>" for i in range(12))
    html = (f"<html><body><div class='TRS_Editor'>{body}</div>"
            "<div class='fj'>附件:<a href='/u/2024/plan.pdf'>实施方案.pdf</a>"
            "<a href='/u/2024/table.xlsx'>统计表</a></div></body></html>")
    page = extract(html, "http://wjw.example.gov.cn/zwgk/t20240105_1.html")
    assert page.attachments == ["http://wjw.example.gov.cn/u/2024/plan.pdf",
                                "http://wjw.example.gov.cn/u/2024/table.xlsx"]

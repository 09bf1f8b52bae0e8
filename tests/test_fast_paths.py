"""Faster forms of text-pipeline checks give the answers of the plain ones (issue #16: the
crawl's page workers run them on every line of every page)."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from archive.text.htmlprocessing import split_anchored
from archive.text.normalize import fold_width
from archive.text.vocabulary import BOILERPLATE

FURNITURE = ["版权所有 © 2024 某某县卫生健康局", "上一篇：全县卫生健康工作会议召开", "【关闭窗口】", "【打印】",
             "当前位置：首页 > 工作动态", "责任编辑：张三", "ICP备12345678号", "京公网安备 11010502030143号",
             "原文链接：https://example.gov.cn/a.html", "Copyright 2024 all rights", "转载请注明出处",
             "附件下载", "首页 » 新闻", "Powered by 某系统", "字号：大 中 小", "pdf 下载", "浏览次数：35"]
PROSE = ["一是深入推进紧密型县域医共体建设，全年投入资金1200万元。", "本文链接的内容请参见附件（第一版权）。",
         "下一步，我们将继续巩固提升基层医疗卫生服务能力。", "年度工作要点：当前位置与上一篇无关"]


def _lines() -> list[str]:
    texts = FURNITURE + PROSE
    for path in sorted(Path(__file__).resolve().parent.parent.glob("crawler/demo/**/*.htm*")):
        html = path.read_text("utf-8", "replace")
        texts += [t.strip() for t in re.split(r"<[^>]+>", html) if t.strip()]
    return texts


def test_boilerplate_split_in_two_answers_as_the_whole_pattern():
    anchored, free = split_anchored(BOILERPLATE)
    assert anchored.pattern and free.pattern
    lines = _lines()
    assert any(BOILERPLATE.search(t) for t in lines) and not all(BOILERPLATE.search(t) for t in lines)
    for text in lines + [t[1:] for t in lines] + [f"x{t}" for t in FURNITURE]:
        folded = fold_width(text)
        assert bool(BOILERPLATE.search(folded)) == bool(anchored.match(folded) or free.search(folded)), text

    pieces = st.sampled_from(FURNITURE + PROSE + ["：", ":", " ", "\n", "【", "》", "ICP", "©"])

    @settings(max_examples=500, deadline=None)
    @given(st.lists(pieces | st.text(max_size=4), max_size=4))
    def check(parts: list[str]) -> None:
        text = "".join(parts)
        assert bool(BOILERPLATE.search(text)) == bool(anchored.match(text) or free.search(text))

    check()


def test_split_anchored_keeps_groups_and_classes_whole():
    anchored, free = split_anchored(re.compile(r"^(?:a|b)c|[|^]d|\|e|^f$"))
    assert anchored.pattern == "(?:a|b)c|f$"
    assert free.pattern == r"[|^]d|\|e"

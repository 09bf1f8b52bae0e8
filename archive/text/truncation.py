"""Paywall and truncation notices of content sites: find them, remove them, flag the copy.

Works on normalized (simplified, NFKC) paragraphs. Two kinds:

* inline cuts: ``……(新文秘网http://m.120pk.cn省略1300字,正式会员可完整阅读)……`` - the notice
  is removed, the text around it kept;
* final cuts: ``……(未完,全文共7918字,当前仅显示3649字,请阅读下面提示信息…)`` or ``查看全文``,
  ``剩余80%未读`` - the notice and everything after it are removed.

A body that stops mid-sentence after a long last paragraph (no closing punctuation) is also
reported as truncated, without a stated full length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.text.normalize import fold_width, sub_folded

_DOTS = r"(?:\.{2,}|…+|·{2,})?"
_INLINE = re.compile(
    _DOTS
    + r"\s*(?:[(\[【][^()\[\]【】\n]{0,80}?省略\s*\d+\s*字[^()\[\]【】\n]{0,60}[)\]】]"
    r"|省略\s*\d+\s*字\s*[,，]?\s*(?:正式)?(?:会员|VIP)?(?:可)?(?:完整)?(?:阅读|查看)?)\s*"
    + _DOTS
)
_FINAL = re.compile(
    _DOTS
    + r"\s*[(\[【]?\s*(?:"
    r"未完\s*[,，]?\s*全文共\s*(?P<full>\d+)\s*字"
    r"|全文共\s*(?P<full2>\d+)\s*字\s*[,，]\s*(?:当前|目前)?仅显示"
    r"|(?:剩余|还剩)\s*\d+\s*%?\s*未读"
    r"|(?:开通|成为|注册|登录)[^,，。\n]{0,10}(?:会员|VIP)[^,，。\n]{0,10}(?:阅读|查看|下载)(?:全文|完整)"
    r"|(?:点击|登录后)?(?:查看|阅读)(?:完整)?全文\s*[>》]*\s*$"
    r"|未完待续"
    r")"
)
_SENTENCE_END = re.compile(r"[。！？!?;；:：”\"’)）》…\]】]$")


@dataclass
class TruncationResult:
    paragraphs: list[str]
    truncated: bool
    full_length: int | None


def strip_truncation(paragraphs: list[str]) -> TruncationResult:
    """Remove truncation notices; report whether the copy is truncated and its stated length."""
    out: list[str] = []
    truncated = False
    full_length: int | None = None
    for para in paragraphs:
        if "省略" in para:
            new = sub_folded(_INLINE, para)
            if new != para:
                truncated = True
                para = new.strip()
        m = _FINAL.search(fold_width(para))
        if m:
            truncated = True
            full = m.group("full") or m.group("full2")
            if full:
                full_length = int(full)
            head = para[: m.start()].strip()
            if head:
                out.append(head)
            break  # everything after a final cut is site clutter
        if para:
            out.append(para)
    if not truncated and out and _looks_cut(out[-1]):
        truncated = True
    return TruncationResult(out, truncated, full_length)


def _looks_cut(last: str) -> bool:
    """A last paragraph of prose (it has sentence marks inside) that ends without closing
    punctuation was cut off; signatures and dates (no inner marks) are not."""
    inner = sum(last.count(c) for c in "，,。、；;")
    return len(last) >= 30 and inner >= 1 and not _SENTENCE_END.search(fold_width(last))

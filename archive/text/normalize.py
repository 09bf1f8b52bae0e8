"""Normalization of Chinese text: one function used for documents and for search queries alike.

`normalize_text` = NFKC (full-width letters/digits/punctuation to their plain forms, decomposed
tone marks composed) -> tone-marked pinyin annotations removed (``衛(wèi)生`` -> ``衛生``) ->
OpenCC ``t2s`` (the pinned official binding) -> stray separators inside words dropped
(``医药卫生_改革`` -> ``医药卫生改革``) -> whitespace folded.

Search keys additionally lower-case (`search_key`), so ``IARC`` and ``iarc`` meet.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import opencc

#: The conversion table. Changing it changes what is stored and indexed: `hra reprocess`
#: and `hra reindex` after an upgrade of the pinned opencc.
OPENCC_CONFIG = "t2s"

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
# "(pinyin)" right after a character (normally a CJK one; on damaged pages a stray byte),
# where the pinyin is one syllable carrying a tone mark. Real parentheticals such as (试行),
# (IARC), (区、市), (2023年版) never match.
_PINYIN = re.compile(
    rf"(?<=[^\s(])\(\s?(?=[a-zü{_TONED}]*[{_TONED}])[a-zü{_TONED}]{{1,7}}\s?\)"
)
_HAS_TONE = re.compile(rf"[{_TONED}]")
_SEPARATOR_IN_WORD = re.compile(rf"(?<=[{CJK}])[_＿]+(?=[{CJK}])")
_CJK_RUN = re.compile(rf"[{CJK}]+")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000\ufeff]+")
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{CJK}，。、；：！？”“]) (?=[{CJK}，。、；：！？”“])")


@functools.lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC(OPENCC_CONFIG)


def strip_pinyin(text: str) -> str:
    """Remove tone-marked pinyin annotations after characters: ``衛(wèi)生`` -> ``衛生``."""
    if not _HAS_TONE.search(text):
        return text
    return _PINYIN.sub("", text)


def to_simplified(text: str) -> str:
    return _converter().convert(text)


def normalize_markup(text: str) -> str:
    """NFKC, pinyin annotations removed, t2s; whitespace, markup and separators left alone
    (safe on a whole HTML page, where ``_`` still separates a title from the site name)."""
    text = unicodedata.normalize("NFKC", text)
    text = strip_pinyin(text)
    return to_simplified(text)


def normalize_line(text: str) -> str:
    """Normalize one paragraph (no newlines expected)."""
    text = _SEPARATOR_IN_WORD.sub("", normalize_markup(text))
    return _SPACES.sub(" ", text).strip()


def normalize_text(text: str) -> str:
    """Normalize a multi-paragraph text; paragraphs stay separated by single newlines."""
    lines = (normalize_line(line) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def search_key(text: str) -> str:
    """The form in which documents and queries are compared: normalized and lower-cased."""
    return normalize_text(text).lower()


def traditional_ratio(text: str) -> float:
    """Share of CJK characters that t2s changes (about 0 for simplified, 0.2-0.4 traditional)."""
    sample = "".join(_CJK_RUN.findall(text[:60000]))[:20000]
    if not sample:
        return 0.0
    converted = to_simplified(sample)
    changed = sum(1 for a, b in zip(sample, converted, strict=False) if a != b)
    return changed / len(sample)


def source_script(text: str) -> str:
    """"traditional" when the (pre-conversion) text was mainly traditional, else "simplified"."""
    return "traditional" if traditional_ratio(text) >= 0.06 else "simplified"

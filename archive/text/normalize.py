"""Normalization of Chinese text: one function used for documents and for search queries alike.

`normalize_text` keeps the page's own characters apart from declared transformations: NFC
(decomposed tone marks composed), full-width letters and digits (U+FF10-FF19, U+FF21-FF3A,
U+FF41-FF5A) to ASCII and the ideographic space U+3000 to a space, as Chinese typesetting does;
full-width punctuation (，：（）？；！) stays full-width -> tone-marked pinyin annotations removed
(``衛(wèi)生``, ``衛（wèi）生`` -> ``衛生``) ->
OpenCC ``t2s`` (the pinned official binding) -> stray separators inside words dropped
(``医药卫生_改革`` -> ``医药卫生改革``) -> whitespace folded. Control characters (C0, DEL, C1:
``ESC[31m`` colours, ``ESC]0;`` window titles in a page's title) never reach the archive:
`strip_controls` drops them from every line (title, site, column, each paragraph); a line
break or tab inside a line becomes a space (`normalize_text` keeps the breaks between
paragraphs).

Search keys (`search_key`) are NFKC'ed (so ``，`` and ``,`` meet) and lower-cased (``IARC`` and
``iarc``). Matchers that need one width (dates, labels, truncation notices) either accept both
widths or run on `fold_width`, a length-preserving copy with full-width ASCII folded.
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
    rf"(?<=[^\s(（])[(（]\s?(?=[a-zü{_TONED}]*[{_TONED}])[a-zü{_TONED}]{{1,7}}\s?[)）]"
)
#: Full-width letters and digits to ASCII, the ideographic space to a space (stored form).
_ALNUM_WIDTH = {c: c - 0xFEE0 for c in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                        *range(0xFF41, 0xFF5B))} | {0x3000: 0x20}
#: All full-width ASCII (U+FF01-FF5E) to ASCII: a length-preserving copy for matchers.
_ALL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_WIDE = re.compile("[\uff01-\uff5e\u3000]")
_ALNUM_WIDE = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000]")
_FOLD_BY_REPLACE = 12  # distinct characters up to which `_translate` replaces them one by one
_HAS_TONE = re.compile(rf"[{_TONED}]")
_SEPARATOR_IN_WORD = re.compile(rf"(?<=[{CJK}])[_＿]+(?=[{CJK}])")
_CJK_RUN = re.compile(rf"[{CJK}]+")
# C0 controls, DEL and C1 controls; those that separate words (tab, line breaks, FF, VT, the
# information separators, NEL) become a space, the others (ESC, BEL, BS, CSI, ...) go.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_SEPARATING_CONTROLS = frozenset("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85")
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


_SURROGATES = re.compile("[\ud800-\udfff]")


def to_simplified(text: str) -> str:
    return _converter().convert(text)


def fold_width(text: str) -> str:
    """`text` with full-width ASCII (U+FF01-FF5E) as ASCII and U+3000 as a space: the same
    length, so positions found in the copy hold in `text` (matchers' view of a faithful text)."""
    return _translate(text, _ALL_WIDTH, _WIDE)


def _translate(text: str, table: dict[int, int], chars: re.Pattern[str]) -> str:
    """``text.translate(table)`` where `chars` matches the characters `table` maps. Chinese
    text holds few distinct ones (，：；（）): replacing each one is several times faster than
    `str.translate` with a dict, which looks up every character."""
    if text.isascii():
        return text
    found = set(chars.findall(text))
    if len(found) > _FOLD_BY_REPLACE:
        return text.translate(table)
    for char in found:
        text = text.replace(char, chr(table[ord(char)]))
    return text


def has_wide(text: str) -> bool:
    """True if `text` holds full-width ASCII forms (punctuation, in stored text)."""
    return _WIDE.search(text) is not None


def normalize_markup(text: str) -> str:
    """NFC, full-width letters/digits to ASCII, pinyin annotations removed, t2s; punctuation,
    whitespace, markup and separators left alone (safe on a whole HTML page, where ``_``
    still separates a title from the site name)."""
    text = _translate(unicodedata.normalize("NFC", text), _ALNUM_WIDTH, _ALNUM_WIDE)
    text = strip_pinyin(text)
    return to_simplified(text)


def strip_controls(text: str) -> str:
    """`text` without control characters: a tab or line break (and the other separating
    controls) becomes a space, ESC, BEL, BS, CSI and the rest are dropped."""
    if not _CONTROLS.search(text):
        return text
    return _CONTROLS.sub(lambda m: " " if m.group() in _SEPARATING_CONTROLS else "", text)


def normalize_line(text: str) -> str:
    """Normalize one paragraph or short field (title, site, column): control characters
    stripped, a line break inside it becomes a space."""
    text = _SEPARATOR_IN_WORD.sub("", normalize_markup(strip_controls(text)))
    return _SPACES.sub(" ", text).strip()


def normalize_text(text: str) -> str:
    """Normalize a multi-paragraph text; paragraphs stay separated by single newlines."""
    lines = (normalize_line(line) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def search_key(text: str) -> str:
    """The form in which documents and queries are compared: NFKC'ed (every width and
    compatibility form to its plain form), normalized and lower-cased. Lone surrogates (bytes
    that were not UTF-8 in a query or filter typed on a command line, as Python decodes argv)
    are not text: they become U+FFFD instead of crashing the converter (decoded pages and
    validated imports never hold them)."""
    if _SURROGATES.search(text):
        text = _SURROGATES.sub("\ufffd", text)
    return normalize_text(unicodedata.normalize("NFKC", text)).lower()


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


def sub_folded(pattern: re.Pattern[str], text: str, repl: str = "") -> str:
    """``pattern.sub(repl, text)`` with the matches found on `fold_width` of `text` (so a
    pattern written for ASCII punctuation matches full-width too) and the rest kept as is."""
    folded = fold_width(text)
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(folded):
        out.append(text[pos:m.start()])
        out.append(repl)
        pos = m.end()
    if not pos and not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def split_folded(pattern: re.Pattern[str], text: str) -> list[str]:
    """``pattern.split(text)`` (a pattern without groups) with separators found on
    `fold_width` of `text`; the parts keep their own characters."""
    parts: list[str] = []
    pos = 0
    for m in pattern.finditer(fold_width(text)):
        parts.append(text[pos:m.start()])
        pos = m.end()
    parts.append(text[pos:])
    return parts

"""Snippets from the archive text with every match highlighted whole.

Matching is on the lower-cased, width-folded text (as the search is); offsets refer to the original text, so
the snippet shows the archive's own spelling with the matched ranges marked. Overlapping or
adjacent matches of different terms merge into one highlighted range, so a highlight never
shows part of a match.

Data only: a snippet is its text plus highlight spans ``(start, end)``; the CLI renders them
(`archive.commands.search.markup`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from archive.text.normalize import fold_width
from search.verify import ASCII_SYMBOLS

WIDTH = 90
MAX_OCCURRENCES = 200


def lowered(text: str, needles: Sequence[str] = (",",), compat: bool = True) -> str:
    """``text`` as the search compares it, the same length as ``text``: full-width ASCII folded
    (`fold_width`: a query ``,`` or ``(试行)`` finds ``，``/``（试行）``; only when a needle holds
    ASCII punctuation, as `search.verify` does: stored text has full-width punctuation only,
    which no other needle can match), other compatibility forms NFKC'ed where they stay one
    character, lower-cased (characters that lower-case to several are kept), paragraph breaks
    as spaces."""
    if any(c in ASCII_SYMBOLS for needle in needles for c in needle):
        text = fold_width(text)
    if compat and not unicodedata.is_normalized("NFKC", text):
        text = "".join(_one_char_nfkc(c) for c in text)
    low = text.lower()
    if len(low) != len(text):
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return low.replace("\n", " ")


def _one_char_nfkc(c: str) -> str:
    key = unicodedata.normalize("NFKC", c)
    return key if len(key) == 1 else c


def occurrences(
    low: str, needles: Sequence[str], limit: int = MAX_OCCURRENCES
) -> list[tuple[int, int, int]]:
    """(start, end, needle number) of occurrences of the needles in ``low``, sorted."""
    found: list[tuple[int, int, int]] = []
    for number, needle in enumerate(needles):
        if not needle:
            continue
        start, count = low.find(needle), 0
        while start >= 0 and count < limit:
            found.append((start, start + len(needle), number))
            count += 1
            start = low.find(needle, start + 1)
    found.sort()
    return found


def find_spans(low: str, needles: Sequence[str], limit: int = MAX_OCCURRENCES) -> list[tuple[int, int]]:
    """Sorted, merged (start, end) ranges of all occurrences of the needles in ``low``."""
    return merge([(s, e) for s, e, _n in occurrences(low, needles, limit)])


def merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted (start, end) ranges with overlapping or adjacent ones joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet(
    text: str, needles: Sequence[str], width: int = WIDTH, *, compat: bool = True
) -> tuple[str, list[tuple[int, int]]]:
    """A window of about ``width`` characters around the densest matches, and its highlights.

    Returns (snippet text, [(start, end), ...] within it). Newlines become spaces; an ellipsis
    marks a cut at either end. Without a match the snippet is the start of the text.
    """
    low = lowered(text, needles, compat)
    found = occurrences(low, needles)
    if not found:
        return _cut(text, 0, width), []
    spans = merge([(s, e) for s, e, _n in found])
    # The window (a quarter of it before an occurrence) holding the most distinct needles,
    # then the most occurrences: one pass with two pointers.
    best_start, best_score = 0, (-1, -1)
    counts: dict[int, int] = {}
    j = 0
    for i, (start, _end, _number) in enumerate(found):
        window_start = max(0, start - width // 4)
        window_end = window_start + width
        while j < len(found) and found[j][1] <= window_end:
            counts[found[j][2]] = counts.get(found[j][2], 0) + 1
            j += 1
        score = (sum(1 for n in counts.values() if n), j - i)
        if score > best_score:
            best_start, best_score = window_start, score
        if j > i:
            counts[found[i][2]] -= 1
        else:
            j = i + 1
    start = best_start
    end = min(len(text), start + width)
    start = max(0, min(start, end - width))
    # Never cut a match: widen the window to whole spans at its edges.
    for s, e in spans:
        if s < start < e:
            start = s
        if s < end < e:
            end = e
    piece = text[start:end].replace("\n", " ")
    marks = [(s - start, e - start) for s, e in spans if s >= start and e <= end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix)
    return prefix + piece + suffix, [(s + shift, e + shift) for s, e in marks]


def _cut(text: str, start: int, width: int) -> str:
    piece = text[start:start + width].replace("\n", " ")
    return piece + ("…" if start + width < len(text) else "")


def highlight_spans(
    text: str, needles: Sequence[str], *, compat: bool = True
) -> list[tuple[int, int]]:
    """Highlights for a short text shown whole (a title)."""
    return find_spans(lowered(text, needles, compat), needles)

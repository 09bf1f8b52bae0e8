"""Ranking: BM25F over the n-gram frequencies of the index, as Whoosh's ``BM25F`` scorer does it.

BM25 per field (title, text), each length-normalized with its own ``b`` (`B`) and saturated
with `K1`, summed with the title weighted `TITLE_WEIGHT` times, over the positive (non-negated)
terms of the query. A term's frequency in a field is the smallest frequency of its n-grams there
(exact for one n-gram, an upper bound otherwise); idf comes from the term's candidate count
(`search.boolean.Matcher.candidates`). Saturation per field means a title match outweighs any
number of mentions in the text, and a report about a term (many mentions) outranks one that
names it once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from typing import TYPE_CHECKING

from search.analysis import query_terms
from search.boolean import FIELDS

if TYPE_CHECKING:
    from search.query import Term
    from search.reader import GenerationReader

K1 = 1.2
TITLE_WEIGHT = 2.0
B = {"title": 0.5, "text": 0.75}


def bm25f(
    index: GenerationReader,
    terms: Sequence[Term],
    docs: set[int],
    candidates: Callable[[Term], set[int] | None],
) -> dict[int, float]:
    """BM25F of every document in ``docs`` for the (positive) ``terms``; ``candidates`` gives a
    term's candidate documents (None: every document), for its idf."""
    scores = dict.fromkeys(docs, 0.0)
    if not docs:
        return scores
    total = max(index.doc_count, 1)
    averages = {f: index.average_length(f) for f in ("title", "text")}
    for term in terms:
        grams = query_terms(term.needle)
        cands = candidates(term)
        n = len(cands) if cands is not None else total
        idf = math.log(1 + (total - n + 0.5) / (n + 0.5))
        for fieldname in FIELDS[term.scope]:
            weight = idf * (TITLE_WEIGHT if fieldname == "title" else 1.0) * (K1 + 1)
            b, avg = B[fieldname], averages[fieldname]
            lengths = index.lengths(fieldname)
            norm = b / avg
            for d, tf in _frequencies(index, fieldname, grams, docs):
                x = tf / (1 - b + norm * lengths[d])
                scores[d] += weight * x / (K1 + x)
    return scores


def _frequencies(index: GenerationReader, fieldname: str, grams: Sequence[str],
                 docs: set[int]) -> Iterable[tuple[int, int]]:
    """(document, term frequency) of the documents of ``docs`` holding every gram in the
    field; the frequency is the smallest of the grams' (1 without grams: no index terms)."""
    if not grams:
        return zip(docs, repeat(1))
    lists = sorted((index.postings(fieldname, g) for g in grams), key=len)
    first = lists[0]
    held = first.keys() & docs if len(first) < len(docs) else docs & first.keys()
    for other in lists[1:]:
        held &= other.keys()
    order = list(held)
    if len(lists) == 1:
        return zip(order, map(first.__getitem__, order), strict=True)
    columns = [map(p.__getitem__, order) for p in lists]
    return zip(order, map(min, *columns), strict=True)

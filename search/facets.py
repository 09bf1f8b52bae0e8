"""Facets: counts of all matches (not just one page) by year, province, type, site, issuing
office and format (html or an attachment's file format).

Each facet is an exact-term field of the index (`search.schema`); a document without a value
counts as ``(none)``. The values of each document are read once per index generation (every
term's postings of the field) and kept for the last few generations, so a long-running process
(`hra serve`) counts the facets of a search in time proportional to its matches.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from search.reader import GenerationReader

#: Facet name (as shown and in ``--json``) -> the index field counted.
FACETS = {"year": "year", "region": "province", "doc_type": "doc_type", "site": "site",
          "issuer": "issuer", "format": "format"}
#: Generations whose facet values are kept (the live one and the one it replaced).
KEEP_GENERATIONS = 2

_Values = dict[int, tuple[str, ...]]  # docnum -> the field's terms of that document
_CACHE: OrderedDict[tuple[object, ...], _Values] = OrderedDict()
_LOCK = threading.Lock()


def facet_counts(index: GenerationReader, docs: set[int],
                 names: Iterable[str] = FACETS) -> dict[str, dict[str, int]]:
    """Counts of ``docs`` by year, province, document type, site, issuer and format, or the
    facets ``names`` of them (most frequent first)."""
    out: dict[str, dict[str, int]] = {}
    for name in names:
        values = facet_values(index, FACETS[name])
        counts: dict[str, int] = {}
        covered = 0
        for d in docs:
            for value in values.get(d, ()):
                counts[value] = counts.get(value, 0) + 1
                covered += 1
        if covered < len(docs):
            counts["(none)"] = len(docs) - covered
        out[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return out


def facet_values(index: GenerationReader, fieldname: str) -> _Values:
    """Each live document's terms of ``fieldname`` in this generation (cached: see above)."""
    key = (str(index.path), index.state.get("seq"), index.doc_count_all, index.doc_count,
           fieldname)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
            return cached
    values: dict[int, list[str]] = {}
    for term in index.field_terms(fieldname):
        for d in index.postings(fieldname, term):
            values.setdefault(d, []).append(term)
    frozen = {d: tuple(terms) for d, terms in values.items()}
    with _LOCK:
        _CACHE[key] = frozen
        generations = list(dict.fromkeys(k[:4] for k in _CACHE))
        for old in generations[:-KEEP_GENERATIONS]:
            for k in [k for k in _CACHE if k[:4] == old]:
                del _CACHE[k]
    return frozen

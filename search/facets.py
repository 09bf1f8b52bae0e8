"""Facets: counts of all matches (not just one page) by year, province, type and site.

Each facet is an exact-term field of the index (`search.schema`); a document without a value
counts as ``(none)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from search.reader import GenerationReader

#: Facet name (as shown and in ``--json``) -> the index field counted.
FACETS = {"year": "year", "region": "province", "doc_type": "doc_type", "site": "site"}


def facet_counts(index: GenerationReader, docs: set[int],
                 names: Iterable[str] = FACETS) -> dict[str, dict[str, int]]:
    """Counts of ``docs`` by year, province, document type and site, or the facets ``names``
    of them (most frequent first)."""
    out: dict[str, dict[str, int]] = {}
    for name in names:
        fieldname = FACETS[name]
        counts: dict[str, int] = {}
        covered = 0
        for value in index.field_terms(fieldname):
            n = sum(1 for d in index.postings(fieldname, value) if d in docs)
            if n:
                counts[value] = n
                covered += n
        if covered < len(docs):
            counts["(none)"] = len(docs) - covered
        out[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return out

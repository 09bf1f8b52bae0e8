"""What `hra trend` charts: for each term, how many matching documents (canonical copies unless
the filters ask for all versions) there are per year, province or document type. Data only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archive.errors import HraError

if TYPE_CHECKING:
    from archive.store import Store
    from search.filters import Filters
    from search.query import Node

#: ``--by`` -> the facet counted (`search.facets.FACETS`).
GROUPS = {"year": "year", "province": "region", "type": "doc_type"}
NONE = "(none)"
#: The series of a trend without terms: every document passing the filters.
EVERYTHING = "全部文档"


@dataclass
class Trend:
    """Counts per term and group; ``keys`` in chart order (years ascending, otherwise by total,
    largest first); documents without a value (no year, no province) are counted in
    ``unplaced`` and left out of the chart."""

    by: str
    terms: list[str]
    counts: dict[str, dict[str, int]]
    keys: list[str] = field(default_factory=list)
    unplaced: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "terms": self.terms, "keys": self.keys,
                "counts": self.counts, "unplaced": self.unplaced}

    def rows(self) -> list[list[Any]]:
        """A table: header (group, term...), then one row per key."""
        return [[self.by, *self.terms],
                *([key, *(self.counts[t].get(key, 0) for t in self.terms)] for key in self.keys)]


def trend(store: Store, terms: list[str], by: str, filters: Filters) -> Trend:
    """Counts of each term's matches per ``by`` group (`GROUPS`). A term is a query of its own
    (`search.query`: 医共体, "家庭医生 签约", 'A OR B'); without terms, one series of every
    document passing the filters (`EVERYTHING`). HraError (exit 2) when a term is malformed or
    ``by`` unknown."""
    from search.params import parse_query
    from search.selection import with_searcher

    if by not in GROUPS:
        raise HraError(f"unknown --by {by!r} (one of: {', '.join(GROUPS)})", 2)
    nodes: list[Node | None] = [parse_query(term) for term in terms]
    if not terms:  # what the filters select (the web page's chart of a browse)
        terms, nodes = [EVERYTHING], [None]
    facet = GROUPS[by]
    counts = with_searcher(store, lambda s: {
        term: s.counts(node, filters, facet) for term, node in zip(terms, nodes, strict=True)})
    unplaced = {t: c.pop(NONE, 0) for t, c in counts.items()}
    totals: dict[str, int] = {}
    for c in counts.values():
        for key, n in c.items():
            totals[key] = totals.get(key, 0) + n
    if by == "year" and totals:
        years = [int(k) for k in totals]
        keys = [str(y) for y in range(min(years), max(years) + 1)]  # a year without any: 0
    else:
        keys = sorted(totals, key=lambda k: (-totals[k], k))
    return Trend(by, list(terms), counts, keys, unplaced)

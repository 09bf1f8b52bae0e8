"""`Searcher`: a search from query to hits, coordinating the modules that each do one job.

1. **Filters** (`search.filters`): the documents passing `Filters`, from exact-term postings.
2. **Matching** (`search.boolean`): n-gram candidates of each term, AND/OR/NOT over sets,
   verification of the candidates against their search keys (`search.verify`): exact matches and
   an exact total.
3. **Ranking** (`search.scoring`): BM25F, title weighted; or newest first.
4. **Hits** (`search.hits`): the page's records, snippets and reposts; **facets**
   (`search.facets`) over all matches.

All of them read one open index generation through `search.reader.GenerationReader`.

The names callers use are importable from here: `Searcher`, `Filters`, `SearchResult`, `Hit`
(and the ranking constants and `FACETS`).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from pathlib import Path

from archive.store import Store
from search.boolean import FIELDS, Matcher
from search.facets import FACETS, facet_counts
from search.filters import Filters, filtered
from search.hits import Hit, SearchResult, make_hits
from search.query import Node, Term, parse, positive_terms
from search.reader import GenerationReader
from search.scoring import K1, TITLE_WEIGHT, B, bm25f

__all__ = [
    "FACETS",
    "FIELDS",
    "K1",
    "SORTS",
    "TITLE_WEIGHT",
    "B",
    "Filters",
    "Hit",
    "SearchResult",
    "Searcher",
]

SORTS = ("relevance", "date")


class Searcher:
    """One open generation of the index plus the archive (a `Store`, usually read-only) that
    verifies it and supplies the hits' records.

    Open it for one search (or a few): it sees the index as it was when opened, and a rebuild
    that swaps in a new generation meanwhile does not disturb it. Use it as a context manager
    (or call `close`)."""

    def __init__(self, data_dir: Path, store: Store) -> None:
        self.store = store
        self.index = GenerationReader(data_dir)
        self.matcher = Matcher(self.index, store)
        self.doc_count = self.index.doc_count

    def close(self) -> None:
        """Close the index files."""
        self.index.close()

    def clear_cache(self) -> None:
        """Forget cached posting lists and candidate sets (see `GenerationReader.clear_cache`)."""
        self.index.clear_cache()
        self.matcher.clear_cache()

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pending_changes(self) -> int:
        """Archive changes the index has not applied yet."""
        return max(self.store.last_change() - int(self.index.state.get("seq") or 0), 0)

    # -- the whole search ----------------------------------------------------------------

    def search(
        self,
        query: str | Node | None,
        filters: Filters | None = None,
        *,
        sort: str | None = None,
        limit: int = 10,
        page: int = 1,
        facets: bool = False,
    ) -> SearchResult:
        """One page of the matches of ``query`` among the documents passing ``filters``.

        ``query`` is a query string (`search.query.parse`; `QueryError` when malformed) or a
        parsed query. Without a query (None), every document passing the filters matches:
        browsing. ``sort`` is ``relevance`` or ``date`` (newest first, undated last, ties by
        id); None means relevance with a query and date without one. ``page`` counts from 1,
        ``limit`` hits per page; ``facets`` adds counts over all matches. The total is exact.
        """
        started = time.perf_counter()
        node = parse(query) if isinstance(query, str) else query
        filters = filters or Filters()
        sort = sort or ("relevance" if node is not None else "date")
        timings: dict[str, float] = {}
        context = filtered(self.index, filters)
        timings["filters"] = time.perf_counter() - started
        matches = self.matcher.exact(node, context) if node is not None else context
        pending = self.pending_changes()
        if pending and matches:
            matches = self._in_archive(matches)
        timings["match"] = time.perf_counter() - started
        positives = positive_terms(node) if node is not None else []
        want = page * limit
        if sort == "date" or not positives:
            order = heapq.nsmallest(want, matches, key=self._date_key())
            page_docs = order[(page - 1) * limit:want]
            scores = self._scores(positives, set(page_docs))
        else:
            scores = self._scores(positives, matches)
            order = self._best(want, scores)
            page_docs = order[(page - 1) * limit:want]
        timings["rank"] = time.perf_counter() - started
        hits = make_hits(self.index, self.store, page_docs, scores, [t.needle for t in positives])
        timings["snippets"] = time.perf_counter() - started
        result = SearchResult(
            total=len(matches), hits=hits, page=page, limit=limit, pending=pending,
            facets=facet_counts(self.index, matches) if facets else None,
        )
        result.seconds = time.perf_counter() - started
        result.timings = timings
        return result

    def ranked_ids(self, query: str | Node | None, filters: Filters | None = None, *,
                   sort: str | None = None) -> list[str]:
        """Every match's id in the order `search` ranks them (exports stream these). Without a
        query, every document passing the filters, newest first."""
        docs = filtered(self.index, filters or Filters())
        positives: list[Term] = []
        if query is not None:
            node = parse(query) if isinstance(query, str) else query
            docs = self.matcher.exact(node, docs)
            positives = positive_terms(node)
        if self.pending_changes() and docs:
            docs = self._in_archive(docs)
        if sort == "date" or not positives:
            order = sorted(docs, key=self._date_key())
        else:
            scores = self._scores(positives, docs)
            order = sorted(docs, key=self._score_key(scores), reverse=True)
        ids = self.index.ids
        return [ids[d] for d in order]

    def counts(self, query: str | Node | None, filters: Filters | None, facet: str
               ) -> dict[str, int]:
        """How many documents match ``query`` among those passing ``filters``, by one facet
        (`FACETS`: year, region (province), doc_type, site); what `hra trend` charts."""
        node = parse(query) if isinstance(query, str) else query
        matches = filtered(self.index, filters or Filters())
        if node is not None:
            matches = self.matcher.exact(node, matches)
        if self.pending_changes() and matches:
            matches = self._in_archive(matches)
        return facet_counts(self.index, matches, [facet])[facet]

    def matching_ids(self, query: str | Node, filters: Filters | None = None) -> set[str]:
        """The ids of every match, unranked (what `search` counts as its total)."""
        node = parse(query) if isinstance(query, str) else query
        matches = self.matcher.exact(node, filtered(self.index, filters or Filters()))
        if self.pending_changes() and matches:
            matches = self._in_archive(matches)
        ids = self.index.ids
        return {ids[d] for d in matches}

    # -- helpers ---------------------------------------------------------------------------

    def _scores(self, terms: list[Term], docs: set[int]) -> dict[int, float]:
        return bm25f(self.index, terms, docs, self.matcher.candidates)

    def _best(self, want: int, scores: dict[int, float]) -> list[int]:
        """The ``want`` best documents in `_score_key` order. The cut is found on the scores
        alone (C-speed key); only documents scoring at least the cut's score are then ordered
        by the full key (ties: newer, then by id)."""
        top = heapq.nlargest(want, scores.values())
        if not top:
            return []
        cut = top[-1]
        contenders = [d for d, score in scores.items() if score >= cut]
        contenders.sort(key=self._score_key(scores), reverse=True)
        return contenders[:want]

    def _date_key(self) -> Callable[[int], tuple[int, str]]:
        """Newest first, undated last, ties by id (the archive's `hra list` order)."""
        days, ids = self.index.days, self.index.ids
        return lambda d: (-days[d], ids[d])

    def _score_key(self, scores: dict[int, float]) -> Callable[[int], tuple[float, int, str]]:
        """Best score first, then newest, then id (descending: use as a reversed key)."""
        days, ids = self.index.days, self.index.ids
        return lambda d: (scores[d], days[d], ids[d])

    def _in_archive(self, docs: set[int]) -> set[int]:
        """Drop documents the archive no longer has (the index is behind)."""
        ids = self.index.ids
        by_id = {ids[d]: d for d in docs}
        return {by_id[did] for did in self.store.existing_ids(by_id)}

"""What `hra search`, `hra list` and `hra export` read, as data.

A search runs on the live index generation, opened again when a rebuild swaps in a new one
meanwhile (`search.swap_retry`). A listing or an export works on a selection: with a query or a
filter, exactly the documents a search matches, in its order; otherwise every document, newest
first, straight from the archive (no index needed). Errors for the user are `HraError`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from archive.errors import HraError
from search.swap_retry import retry_on_swap

if TYPE_CHECKING:
    from archive.record import Record
    from archive.store import Store
    from search.engine import Searcher
    from search.filters import Filters
    from search.hits import SearchResult
    from search.query import Node

T = TypeVar("T")

def with_searcher(store: Store, work: Callable[[Searcher], T]) -> T:
    """``work(searcher)`` on the live index generation (opened again if a writer swapped it
    meanwhile). HraError when there is no index or it is empty."""
    from search.engine import Searcher
    from search.index_files import IndexMissing  # not search.index: builds, checks, merges

    def attempt() -> T:
        with Searcher(store.data_dir, store) as searcher:
            if searcher.doc_count == 0:
                raise HraError(
                    "the search index is empty: import documents with `hra import PATH` "
                    "(the index follows the archive) or build it with `hra reindex`"
                )
            return work(searcher)

    try:
        return retry_on_swap(attempt, attempts=3, delay=0.05)
    except IndexMissing as exc:
        raise HraError(str(exc)) from exc


def search_archive(store: Store, node: Node | None, filters: Filters, *, sort: str | None,
                   limit: int, page: int, facets: bool) -> SearchResult:
    """One page of hits (what `hra search` shows)."""
    return with_searcher(store, lambda searcher: searcher.search(
        node, filters, sort=sort, limit=limit, page=page, facets=facets))


def select_documents(store: Store, node: Node | None, filters: Filters, *, filtered: bool,
                     sort: str | None = None, limit: int | None = None,
                     ) -> tuple[int, Callable[[], Iterator[Record]]]:
    """The documents `hra export` and `hra list` work on: (how many, a fresh stream of their
    records per call). With a query or a filter (``filtered``), exactly what `hra search`
    matches, in its order (the index); otherwise every document (canonical copies unless the
    filters ask for all versions), newest first, straight from the archive."""
    if node is not None or filtered:
        ids = with_searcher(store, lambda s: s.ranked_ids(node, filters, sort=sort))
        ids = ids[:limit] if limit else ids

        def from_index() -> Iterator[Any]:
            return (r for r in map(store.get, ids) if r is not None)

        return len(ids), from_index
    canonical = filters.canonical
    total = min(store.count_documents(canonical_only=canonical), limit or sys.maxsize)

    def from_archive() -> Iterator[Any]:
        return islice(store.iter_documents(canonical_only=canonical, order="newest"), limit)

    return total, from_archive

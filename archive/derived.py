"""Keeping derived data (duplicate clusters, the search index) in step with the archive.

Every writer of the archive (import, crawl batches, reprocess, JSONL import) calls
`update_derived` after committing. Both derived indexes follow the store's change log
(`Store.changes_since`), so they never need to be told which documents changed. Duplicates go
first: their ``duplicate_of`` marks are changes the search index then picks up.

Each derived index owns its files (``dedup.sqlite3``: `archive.dedup`; ``index/``: `search.index`)
and reads the archive only through `Store` methods. The store given here must be writable (the
``duplicate_of`` marks are written through it); readers that only need to know whether clusters
are behind ask `archive.dedup.clusters_behind`, which reads only.
"""

from __future__ import annotations

from collections.abc import Callable

from archive.store import Store


def update_derived(
    store: Store,
    progress: Callable[[int, int], None] | None = None,
    *,
    recluster: bool = False,
    index_workers: int | None = None,
) -> int:
    """Apply pending document changes to the duplicate clusters and the search index; returns
    how many documents the search index took in. `recluster` redoes all clustering (after
    `hra reprocess`); `index_workers` bounds the processes of an index rebuild (1: in this
    process, as a running crawl wants: its CPUs are busy)."""
    from archive.dedup import rebuild_duplicates, update_duplicates
    from search.index import update_index

    (rebuild_duplicates if recluster else update_duplicates)(store, progress=progress)
    return update_index(store, progress=progress, workers=index_workers)

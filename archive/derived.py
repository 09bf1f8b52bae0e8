"""Keeping derived data (the search index) in step with the archive.

Every writer of the archive (import, crawl batches, reprocess, JSONL import) calls
`update_derived` after committing; the search index follows the store's change log
(`Store.changes_since`), so it never needs to be told which documents changed.
"""

from __future__ import annotations

from collections.abc import Callable

from archive.store import Store


def update_derived(store: Store, progress: Callable[[int, int], None] | None = None) -> int:
    """Apply pending document changes to the search index; returns how many were applied."""
    from search.index import update_index

    return update_index(store, progress=progress)

"""Running crawls from `hra`: the child process, its progress, the live display, the run record."""

from __future__ import annotations

import logging

from archive.store import Store


def update_search_index(store: Store, log: logging.Logger | None = None) -> int:
    """Bring derived data (the search index) up to date after a crawl batch."""
    try:
        from archive.derived import update_derived

        return update_derived(store)
    except ImportError as exc:
        # The search module (search.index.update_index) is not there yet; the change log keeps
        # every pending document, so the first index update after it lands catches up.
        if log:
            log.debug("search index not updated: %s", exc)
        return 0

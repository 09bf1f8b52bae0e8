"""Retrying what a rebuild's index swap can break.

A rebuild moves ``CURRENT`` to a new generation and deletes the old one: a reader that read
``CURRENT`` just before may find its files gone (``OSError``, or Whoosh's ``EmptyIndexError``).
Opening again reads the new ``CURRENT``. `search.reader.GenerationReader` (what a `Searcher`
reads) opens this way, and so does `search.selection.with_searcher` around a whole search.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def retry_on_swap(action: Callable[[], T], *, attempts: int,
                  errors: tuple[type[BaseException], ...] = (OSError,),
                  delay: float = 0.02) -> T:
    """``action()``, run again (after ``delay`` seconds, then twice that, ...) when it raises
    one of ``errors``, at most ``attempts`` times in all; the last attempt's error propagates."""
    for attempt in range(1, attempts):
        try:
            return action()
        except errors:
            time.sleep(delay * attempt)
    return action()

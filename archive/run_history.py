"""What `hra runs` lists: the recent runs the archive recorded (imports, crawls, reprocess),
each with how long it took. Data only (JSON-ready dicts)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archive.store import Store


def run_seconds(run: dict[str, Any]) -> int | None:
    """Whole seconds from a run's start to its end; None while it runs."""
    end = run["ended_at"]
    if not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(run["started_at"]))
                 .total_seconds())


def recent_runs(store: Store, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` runs (the store's rows) with ``duration_s``."""
    items = store.runs(limit)
    for run in items:
        run["duration_s"] = run_seconds(run)
    return items

"""What `hra sources` lists: the crawl sources (shipped and the user's sources.toml), each with
its health from the archive's runs (last crawl and its status, last success, documents, last
error). Data only; errors for the user are `HraError`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.errors import HraError

if TYPE_CHECKING:
    from crawler.sources import Source

#: A source's health before its first crawl.
NEVER_CRAWLED: dict[str, Any] = {"runs": 0, "last_run": None, "last_success": None,
                                 "documents": 0, "last_error": None}


def sources_with_health(data_dir: Path, *, failing: bool = False
                        ) -> list[tuple[Source, dict[str, Any]]]:
    """(source, health) for every source, or only those whose last crawl failed; health has
    ``status``: the last run's status, or "never"."""
    from archive.store import DB_NAME, Store, StoreError
    from crawler.sources import SourceError, load_sources

    try:
        sources = load_sources(data_dir)
    except SourceError as exc:
        raise HraError(str(exc)) from exc
    health: dict[str, dict[str, Any]] = {}
    if (data_dir / DB_NAME).exists():
        try:
            with Store(data_dir, readonly=True) as store:
                health = store.source_health()
        except StoreError as exc:
            raise HraError(str(exc)) from exc
    rows = []
    for s in sources:
        h = health.get(s.name) or dict(NEVER_CRAWLED)
        h = {"status": h["last_run"]["status"] if h["last_run"] else "never", **h}
        if not failing or h["status"] == "failed":
            rows.append((s, h))
    return rows

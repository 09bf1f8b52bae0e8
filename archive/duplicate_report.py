"""What `hra dups` lists: clusters of reposted copies of one report, each copy with its
similarity to the cluster's canonical copy (first). Data only (JSON-ready dicts)."""

from __future__ import annotations

from typing import Any

from archive.errors import HraError
from archive.lookup import resolve_id
from archive.record import Record
from archive.store import Store, StoreError


def duplicate_report(store: Store, doc_id: str | None = None, limit: int = 20
                     ) -> list[dict[str, Any]]:
    """The `limit` largest clusters, or the cluster of the document `doc_id` (an id or its
    first characters): ``[{"canonical": id, "copies": [copy, ...]}, ...]``."""
    from archive.dedup import Cluster, DedupIndex, clusters_behind, rank, update_duplicates

    if clusters_behind(store):  # a writer stopped before clustering: catch up (writes)
        try:
            writer = Store(store.data_dir)
        except StoreError as exc:
            raise HraError(str(exc)) from exc
        with writer:
            update_duplicates(writer)
    with DedupIndex(store.data_dir) as index:
        if doc_id is not None:
            did = resolve_id(store, doc_id)
            members = rank([r for r in map(store.get, index.component(did)) if r])
            clusters = [Cluster(members[0].id, [r.id for r in members])]
        else:
            clusters = index.clusters(store)[:limit]
        return [{"canonical": cluster.canonical,
                 "copies": _copies(store, cluster.canonical, cluster.members)}
                for cluster in clusters]


def _copies(store: Store, canonical_id: str, members: list[str]) -> list[dict[str, Any]]:
    from archive.dedup import copy_similarity

    canonical = store.get(canonical_id)
    assert canonical is not None
    copies = []
    for mid in members:
        r = store.get(mid)
        assert r is not None
        sim = None if mid == canonical_id else copy_similarity(canonical, r)
        copies.append({"id": r.id, "site": r.site, "url": r.url, "title": r.title,
                       "published": r.published, "chars": len(r.text),
                       "flags": flags_text(r), "canonical": mid == canonical_id,
                       "similarity": None if sim is None else round(sim, 3)})
    return copies


def flags_text(record: Record) -> str:
    """The record's flags in words, one string (截断 含占位符 ...)."""
    return " ".join(record.flag_words())

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


def copies_of(store: Store, did: str) -> list[dict[str, Any]]:
    """The copies of document `did` as `duplicate_report` lists them (canonical first), from the
    archive's ``duplicate_of`` marks only: reads nothing else and writes nothing (the web page
    opens the archive read-only). Each copy has ``differences``: what sets it apart from the
    canonical copy in words. A document without copies gives []."""
    record = store.get(did)
    if record is None:
        return []
    canonical = record.duplicate_of or record.id
    members = [canonical, *(m for m in store.copies_of(canonical) if m != canonical)]
    if len(members) < 2 or store.get(canonical) is None:
        return []
    copies = _copies(store, canonical, members)
    first = store.get(canonical)
    assert first is not None
    for copy in copies:
        other = store.get(copy["id"])
        copy["differences"] = [] if copy["canonical"] or other is None else \
            copy_differences(first, other)
    return copies


def copy_differences(canonical: Record, copy: Record) -> list[str]:
    """How `copy` differs from `canonical`, in words (Chinese, for the web page): length,
    paragraphs only in one of them, title, date, flags."""
    import difflib

    out = []
    delta = len(copy.text) - len(canonical.text)
    if delta:
        out.append(f"正文{'多' if delta > 0 else '少'} {abs(delta)} 字")
    ours, theirs = canonical.text.split("\n"), copy.text.split("\n")
    matcher = difflib.SequenceMatcher(None, ours, theirs, autojunk=False)
    only_copy = only_canonical = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            only_canonical += i2 - i1
        if tag in ("replace", "insert"):
            only_copy += j2 - j1
    if only_copy:
        out.append(f"{only_copy} 段仅见于此副本")
    if only_canonical:
        out.append(f"{only_canonical} 段仅见于原件")
    if (copy.title or "") != (canonical.title or ""):
        out.append(f"标题不同：{copy.title or '（无标题）'}")
    if copy.published != canonical.published:
        out.append(f"日期不同：{copy.published or '不详'}")
    extra = [w for w in copy.flag_words() if not w.startswith("转载副本")]
    if extra:
        out.append("标记：" + "、".join(extra))
    return out or ["正文相同"]

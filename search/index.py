"""Keeping the index: the single writer that follows the archive, rebuilds, checks.

Where the index lives, its state, errors and opening: `search.index_files` (the names callers
use are re-exported here). Parallel segment building: `search.build`. `check`: `search.check`.

* **One writer.** Every change goes through `IndexWriter`, which holds Whoosh's write lock of the
  index directory (an ``flock``, released if the process dies). Others wait up to a timeout and
  then leave their changes in the queue (`IndexBusy`, never Whoosh's ``LockError``).
* **The queue is the archive.** `Store.changes_since(seq)` lists document upserts and deletes
  after the last change the index applied (``state.json``). `update_index` applies them in
  batches; each batch is one Whoosh commit (a new TOC generation, written to a temporary file
  and renamed), so a search sees either all of a batch or none of it. ``state.json`` is written
  after the commit: after a crash it is a lower bound, and re-applying a change is harmless (a
  document is re-read from the archive, its old postings deleted, the current version added).
* **Rebuilds** (`rebuild`, `hra reindex`) write a new directory with worker processes, catch up
  with the queue, then replace ``CURRENT`` (``os.replace``); a failed rebuild deletes its own
  directory and leaves the old index live.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.store import Store
from search.build import build_segments
from search.check import CheckReport, check
from search.index_files import (
    INDEX_DIR,
    INDEXNAME,
    POINTER,
    STATE,
    IndexBusy,
    IndexMissing,
    SearchIndexError,
    current_path,
    directory_size,
    index_root,
    open_current,
    open_index,
    read_state,
    write_state,
)
from search.whoosh_internals import read_toc, toc_file_patterns

__all__ = [
    "INDEX_DIR", "POINTER", "STATE", "CheckReport", "IndexBusy", "IndexMissing", "IndexWriter",
    "RebuildResult", "SearchIndexError", "check", "current_path", "open_current", "read_state",
    "rebuild", "update_index", "write_state",
]

log = logging.getLogger(__name__)

#: Seconds a writer waits for another writer before leaving its changes in the queue.
LOCK_TIMEOUT = 30.0
#: Archive changes applied per commit by `update_index`.
BATCH = 1000
#: A backlog larger than this (and than the index) is rebuilt in parallel instead.
REBUILD_BACKLOG = 5000
#: Smaller archives are rebuilt in-process (starting workers costs more than it saves).
PARALLEL_MIN_DOCS = 400
#: Merged segments hold at most this many documents (memory bound of a merge).
MERGE_MAX_DOCS = 20_000
#: Unreferenced files of older generations are deleted once older than this (seconds), so
#: searches that opened the previous generation keep working.
GRACE = 120.0

Progress = Callable[[int, int], None]


# -- the writer ------------------------------------------------------------------------------


class IndexWriter:
    """The single writer of one index directory (holds its write lock until `close`)."""

    def __init__(self, path: Path, timeout: float = LOCK_TIMEOUT) -> None:
        from whoosh.util.filelock import try_for

        self.path = path
        self.ix = open_index(path)
        self.storage = self.ix.storage
        self.lock = self.ix.lock("WRITELOCK")
        # Whoosh creates MAIN_WRITELOCK with os.open's default mode (0777 & ~umask: 0755);
        # create it 0644 first (an existing file keeps its mode).
        os.close(os.open(self.lock.filename, os.O_CREAT | os.O_WRONLY, 0o644))
        if not try_for(self.lock.acquire, timeout=timeout, delay=0.1):
            raise IndexBusy(f"the search index {path} is being written by another process")
        try:
            toc = read_toc(self.ix)
        except BaseException:
            self.lock.release()
            raise
        self.schema = toc.schema
        self.segments: list[Any] = list(toc.segments)
        self.generation: int = toc.generation
        self._ids: dict[str, list[tuple[Any, int]]] | None = None

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the write lock (once; closing again does nothing)."""
        if self.lock.fd is not None:
            self.lock.release()

    # -- documents -----------------------------------------------------------------------

    def _id_map(self) -> dict[str, list[tuple[Any, int]]]:
        """Document id -> live (segment, docnum) pairs."""
        if self._ids is None:
            from whoosh.reading import SegmentReader

            from search.segments import column_values

            ids: dict[str, list[tuple[Any, int]]] = defaultdict(list)
            for seg in self.segments:
                reader = SegmentReader(self.storage, self.schema, seg)
                try:
                    for docnum, did in enumerate(column_values(reader, "id")):
                        if not seg.is_deleted(docnum):
                            ids[did].append((seg, docnum))
                finally:
                    reader.close()
            self._ids = ids
        return self._ids

    def doc_count(self) -> int:
        """Live documents in the index."""
        return sum(seg.doc_count() for seg in self.segments)

    def apply(self, rows: dict[str, dict[str, Any] | None]) -> None:
        """Replace the given documents (None: delete) and commit, as one batch."""
        from search.schema import index_fields
        from search.segments import SegmentBuilder

        ids = self._id_map()
        builder = SegmentBuilder(self.storage, self.schema, INDEXNAME)
        added: list[tuple[str, int]] = []
        for did, row in rows.items():
            for seg, docnum in ids.pop(did, ()):
                seg.delete_document(docnum)
            if row is not None:
                added.append((did, builder.add(index_fields(row))))
        if len(builder):
            segment = builder.finish()
            self.segments.append(segment)
            for did, docnum in added:
                ids[did].append((segment, docnum))
        self.commit()

    def add_segments(self, segments: Sequence[Any]) -> None:
        """Add finished segments (`search.build`) and commit."""
        self.segments.extend(segments)
        self._ids = None
        self.commit()

    def commit(self) -> None:
        """Write the next TOC generation (atomic rename), then tidy old files."""
        from whoosh.index import TOC

        TOC(self.schema, self.segments, self.generation + 1).write(self.storage, INDEXNAME)
        self.generation += 1
        self._clean()

    def _clean(self) -> None:
        """Delete files no longer referenced, once older than `GRACE` seconds."""
        live = {seg.segment_id() for seg in self.segments}
        toc, seg = toc_file_patterns(INDEXNAME)
        now = time.time()
        for entry in os.scandir(self.path):
            name = entry.name
            m_toc, m_seg = toc.match(name), seg.match(name)
            stale = (m_toc and int(m_toc.group(1)) < self.generation) or (
                m_seg and m_seg.group(1) not in live
            )
            if stale and entry.is_file() and now - entry.stat().st_mtime > GRACE:
                with suppress(OSError):
                    os.remove(entry.path)

    # -- following the archive -----------------------------------------------------------

    def catch_up(
        self,
        store: Store,
        progress: Progress | None = None,
        batch_size: int = BATCH,
        *,
        merge: bool = True,
    ) -> int:
        """Apply every archive change after the index's seq, in batches; returns documents."""
        from search.schema import SCHEMA_VERSION

        seq = int(read_state(self.path).get("seq") or 0)
        total = max(store.last_change() - seq, 0)
        done = applied = 0
        while changes := store.changes_since(seq, batch_size):
            ids = list(dict.fromkeys(did for _seq, did, _op in changes))
            rows = store.index_rows(ids)
            self.apply({did: rows.get(did) for did in ids})
            seq = changes[-1][0]
            write_state(self.path, seq=seq, schema=SCHEMA_VERSION)
            done += len(changes)
            applied += len(ids)
            total = max(total, done)
            if progress:
                progress(done, total)
        if merge:
            self.maybe_merge()
        return applied

    def maybe_merge(self) -> None:
        """Tiered merging of small segments: ten segments of the same order of magnitude
        (under `MERGE_MAX_DOCS` documents) become one of at most `MERGE_MAX_DOCS`; segments
        with more than 40 % deleted documents are rewritten. Bounded, so a merge never holds
        more than ~20,000 documents' postings in memory."""
        from search.segments import merge_segments

        tiers: dict[int, list[Any]] = defaultdict(list)
        groups: list[list[Any]] = []
        for seg in self.segments:
            live = seg.doc_count()
            if live == 0 or (seg.deleted_count() > 0.4 * seg.doc_count_all()
                             and live <= 5 * MERGE_MAX_DOCS):
                groups.append([seg])
            elif live < MERGE_MAX_DOCS:
                tiers[int(math.log10(max(live, 1)))].append(seg)
        for segs in tiers.values():
            if len(segs) >= 10:
                group: list[Any] = []
                total = 0
                for seg in sorted(segs, key=lambda s: s.doc_count()):
                    if group and total + seg.doc_count() > MERGE_MAX_DOCS:
                        break
                    group.append(seg)
                    total += seg.doc_count()
                if len(group) > 1:
                    groups.append(group)
        for group in groups:
            merged = merge_segments(self.storage, self.schema, INDEXNAME, group)
            keep = [seg for seg in self.segments if all(seg is not g for g in group)]
            self.segments = [*keep, merged] if merged is not None else keep
            self._ids = None
            self.commit()


def _empty_index(path: Path) -> None:
    from whoosh.filedb.filestore import FileStorage

    from search.schema import make_schema

    path.mkdir(parents=True)
    (path / f"{INDEXNAME}.tmp").mkdir()
    FileStorage(str(path)).create_index(make_schema(), indexname=INDEXNAME)


# -- keeping the index in step with the archive ----------------------------------------------


def update_index(
    store: Store,
    progress: Progress | None = None,
    *,
    timeout: float = LOCK_TIMEOUT,
    batch_size: int = BATCH,
    workers: int | None = None,
) -> int:
    """Apply the archive's pending document changes to the index; returns documents applied.

    Creates the index (a parallel `rebuild`, with `workers` processes when given) when there is
    none, when it was built for another schema, or when the backlog is larger than the index. If another process holds the write
    lock for longer than ``timeout`` seconds, logs a warning and returns 0: the changes stay in
    the queue for the next update (the other writer usually applies them itself).
    """
    from search.schema import SCHEMA_VERSION

    path = current_path(store.data_dir)
    for _attempt in range(3):
        if path is None or read_state(path).get("schema") != SCHEMA_VERSION:
            return rebuild(store, progress, timeout=timeout, workers=workers).documents
        applied = 0
        try:
            with IndexWriter(path, timeout) as writer:
                backlog = store.last_change() - int(read_state(path).get("seq") or 0)
                if backlog > REBUILD_BACKLOG and backlog > writer.doc_count():
                    writer.close()
                    return rebuild(store, progress, timeout=timeout, workers=workers).documents
                applied = writer.catch_up(store, progress, batch_size)
        except IndexBusy as exc:
            log.warning("%s; pending changes stay queued for the next update", exc)
            return 0
        now = current_path(store.data_dir)
        if now == path:
            return applied
        path = now  # a rebuild swapped in a new index meanwhile: bring that one up to date
    return applied


# -- rebuilding ------------------------------------------------------------------------------


@dataclass
class RebuildResult:
    """What `rebuild` did: the new index directory, its documents, time and size."""

    path: Path
    documents: int
    seconds: float
    index_bytes: int
    text_bytes: int
    segments: int
    workers: int


def rebuild(
    store: Store,
    progress: Progress | None = None,
    *,
    workers: int | None = None,
    timeout: float = LOCK_TIMEOUT,
) -> RebuildResult:
    """Build a fresh index from the archive into a new directory and swap it in atomically.

    The old index stays live (and usable) until the swap; if anything fails, the new directory
    is deleted and the exception propagates.
    """
    from search.schema import SCHEMA_VERSION

    started = time.perf_counter()
    root = index_root(store.data_dir)
    root.mkdir(parents=True, exist_ok=True)
    _collect_garbage(root)
    path = root / f"gen-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    _empty_index(path)
    try:
        with IndexWriter(path, timeout=0) as writer:
            seq = store.last_change()
            ids = store.document_ids(order="stored")
            text_bytes = store.text_size()
            nworkers = workers or min(os.cpu_count() or 1, 4)
            if len(ids) < PARALLEL_MIN_DOCS:
                nworkers = 1
            segments = build_segments(store.data_dir, path, ids, nworkers, progress)
            writer.add_segments(segments)
            write_state(path, seq=seq, schema=SCHEMA_VERSION)
            writer.catch_up(store, None, merge=False)
            retired = current_path(store.data_dir)
            _swap(root, path)
            documents = writer.doc_count()
            nsegments = len(writer.segments)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    _collect_garbage(root, retired)
    return RebuildResult(
        path=path, documents=documents, seconds=time.perf_counter() - started,
        index_bytes=directory_size(path), text_bytes=text_bytes, segments=nsegments,
        workers=nworkers,
    )


def _swap(root: Path, path: Path) -> None:
    tmp = root / f"{POINTER}.{os.getpid()}.tmp"
    tmp.write_text(path.name + "\n", encoding="utf-8")
    os.replace(tmp, root / POINTER)


def _collect_garbage(root: Path, retired: Path | None = None) -> None:
    """Delete index directories that are not live and not being written: the one a rebuild
    just retired, and others untouched for `GRACE` seconds (a rebuild that has just created
    its directory may not hold its lock yet)."""
    from whoosh.util.filelock import FileLock

    live = current_path(root.parent)
    now = time.time()
    for entry in root.iterdir():
        if not entry.is_dir() or not entry.name.startswith("gen-") or entry == live:
            continue
        if entry != retired and now - entry.stat().st_mtime < GRACE:
            continue
        lock = FileLock(str(entry / f"{INDEXNAME}_WRITELOCK"))
        try:
            if not lock.acquire():
                continue
        except OSError:
            continue
        try:
            if entry != current_path(root.parent):
                shutil.rmtree(entry, ignore_errors=True)
        finally:
            with suppress(Exception):
                lock.release()



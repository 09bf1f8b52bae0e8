"""Building segments from archive documents, in worker processes for a rebuild.

Each worker reads its share of the documents (chunks of ids from a queue) from the archive with a
read-only `Store` of its own, analyses them and writes its own segments
(`search.segments.SegmentBuilder`, spilling sorted runs to disk so a segment can hold
`search.segments.MAX_DOCS` documents in bounded memory) into the new index directory; the
parent only distributes ids, reports progress and collects the finished segments for the TOC.
"""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from archive.store import Store
from search.index_files import INDEXNAME, SearchIndexError, open_index

Progress = Callable[[int, int], None]

#: Documents per task; postings a worker buffers before spilling them to a sorted run on disk
#: (8 bytes each, ~2x that while they are sorted; `search.runs`). A worker's segments hold up
#: to `search.segments.MAX_DOCS` documents, so a rebuild leaves few segments to look terms up
#: in (100,000 documents: 8 instead of 56 when each flush wrote a segment).
CHUNK = 200
FLUSH_POSTINGS = 3_000_000


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def build_segments(
    data_dir: Path,
    path: Path,
    ids: Sequence[str],
    workers: int,
    progress: Progress | None = None,
) -> list[Any]:
    """Index the given archive documents into new segments of the index at ``path``.

    With ``workers`` > 1, worker processes each read their share of the documents from the
    archive in ``data_dir`` (a read-only `Store` of their own) and write their own segments.
    """
    total = len(ids)
    if progress:
        progress(0, total)
    if workers <= 1:
        return _build_in_process(data_dir, path, ids, total, progress)
    return _build_in_workers(data_dir, path, ids, workers, total, progress)


def _build_in_process(
    data_dir: Path, path: Path, ids: Sequence[str], total: int, progress: Progress | None
) -> list[Any]:
    tasks: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
    for chunk in _chunks(ids, CHUNK):
        tasks.put(chunk)
    tasks.put(None)
    done = 0

    def report(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    return _build(str(data_dir), str(path), tasks, report)


def _build_in_workers(
    data_dir: Path,
    path: Path,
    ids: Sequence[str],
    workers: int,
    total: int,
    progress: Progress | None,
) -> list[Any]:
    ctx = _mp_context()
    task_q: Any = ctx.Queue()
    result_q: Any = ctx.Queue()
    for chunk in _chunks(ids, CHUNK):
        task_q.put(chunk)
    for _ in range(workers):
        task_q.put(None)
    procs = [
        ctx.Process(target=_worker, args=(str(data_dir), str(path), task_q, result_q),
                    daemon=True)
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    try:
        return _collect(procs, result_q, total, progress)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join(timeout=5)


def _collect(procs: list[Any], result_q: Any, total: int, progress: Progress | None) -> list[Any]:
    """The workers' segments, reporting their progress; `SearchIndexError` when one fails."""
    segments: list[Any] = []
    finished = done = 0
    while finished < len(procs):
        try:
            kind, payload = result_q.get(timeout=0.5)
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise SearchIndexError(
                    f"an index worker died (exit code {dead[0].exitcode})"
                ) from None
            continue
        if kind == "progress":
            done += payload
            if progress:
                progress(done, total)
        elif kind == "done":
            segments.extend(payload)
            finished += 1
        else:
            raise SearchIndexError(f"an index worker failed:\n{payload}")
    return segments


def _mp_context() -> Any:
    """``fork`` (fast) when this process has no other threads, else ``spawn``: forking a
    multi-threaded process (a crawler calling `update_index`) can deadlock the child."""
    import threading

    methods = multiprocessing.get_all_start_methods()
    single = threading.active_count() == 1
    return multiprocessing.get_context("fork" if "fork" in methods and single else "spawn")


def _worker(data_dir: str, path: str, tasks: Any, results: Any) -> None:
    """A rebuild worker process: index chunks of ids until a None arrives."""
    try:
        segments = _build(data_dir, path, tasks, lambda n: results.put(("progress", n)))
        results.put(("done", segments))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def _build(data_dir: str, path: str, tasks: Any, report: Callable[[int], None]) -> list[Any]:
    from search.schema import index_fields
    from search.segments import MAX_DOCS, SegmentBuilder

    ix = open_index(Path(path))
    schema = ix.schema
    store = Store(Path(data_dir), readonly=True)
    segments: list[Any] = []
    builder: SegmentBuilder | None = None
    try:
        while (chunk := tasks.get()) is not None:
            rows = store.index_rows(chunk)
            for did in chunk:
                row = rows.get(did)
                if row is None:
                    continue
                if builder is None:
                    builder = SegmentBuilder(ix.storage, schema, INDEXNAME)
                builder.add(index_fields(row))
            report(len(chunk))
            if builder is None:
                continue
            if len(builder) > MAX_DOCS - CHUNK:
                segments.append(builder.finish())
                builder = None
            elif builder.buffered >= FLUSH_POSTINGS:
                builder.spill()
        if builder is not None and len(builder):
            segments.append(builder.finish())
    finally:
        store.close()
    return segments

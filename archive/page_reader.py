"""Reading and processing saved HTML pages ahead of storing them, in worker processes.

`hra import` of a folder of pages spends most of its time in `process_page` (pure CPU: decode,
parse, extract, normalize, classify); storing a page is quick. `read_pages` runs
`archive.importer.read_page` over the files in a pool of worker processes (one per CPU, at most
`MAX_WORKERS`; in-process for a handful of files or one CPU) and yields the results in the
files' order, while the caller stores them one transaction per page. At most `AHEAD` chunks of
files are in flight, so memory does not grow with the number of files.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Generator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from archive.page_processing import PageError

if TYPE_CHECKING:
    from archive.importer import ReadPage

MAX_WORKERS = 4
#: Fewer files than this are read in-process (starting workers costs about a second).
MIN_PARALLEL = 24
#: Files per task, and tasks in flight per worker.
CHUNK = 4
AHEAD = 3


def default_workers() -> int:
    """One worker per CPU (the importing process mostly waits), at most `MAX_WORKERS`; 0 (read
    in-process) on a single CPU."""
    cpus = os.cpu_count() or 1
    return 0 if cpus < 2 else min(MAX_WORKERS, cpus)


def read_chunk(paths: list[Path]) -> list[ReadPage | PageError | OSError]:
    """`read_page` of each path, or the PageError/OSError it raised (one line each)."""
    from archive.importer import read_page

    out: list[ReadPage | PageError | OSError] = []
    for path in paths:
        try:
            out.append(read_page(path))
        except (PageError, OSError) as exc:
            out.append(exc)
    return out


def read_pages(
    paths: list[Path], workers: int | None = None
) -> Generator[ReadPage | PageError | OSError, None, None]:
    """The `read_page` result (or error) of each path, in order. Close the generator when
    done early: it stops the workers."""
    workers = default_workers() if workers is None else workers
    if workers < 1 or len(paths) < MIN_PARALLEL:
        for path in paths:
            yield from read_chunk([path])
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_watch_parent, initargs=(os.getpid(),))
    chunks = (paths[i:i + CHUNK] for i in range(0, len(paths), CHUNK))
    pending: deque[Future[list[ReadPage | PageError | OSError]]] = deque()
    try:
        for chunk in chunks:
            pending.append(pool.submit(read_chunk, chunk))
            if len(pending) >= AHEAD * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _watch_parent(parent: int) -> None:
    """In each worker: exit when the importing process is gone (kill -9 leaves no one to shut
    the pool down)."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()

"""The text pipeline for crawled pages, in worker processes.

`archive.page_processing.process_page` is pure CPU work (decode, parse, extract, normalize, classify);
run inside Scrapy's reactor thread it would stop the downloads while it runs. The item pipeline
hands pages to `Analyser`, which runs them in a small pool of worker processes
(``HRA_WORKERS``, default: one fewer than the CPUs, at least 1, at most 4; 0 = in-process) and
gives the results back to the reactor, where they are stored. No Scrapy import here.
"""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from archive.page_processing import (
    MAX_DOCUMENT_BYTES,
    ExtractOptions,
    PageError,
    PageResult,
    process_page,
)

Analysis = tuple[PageResult | None, list[str], str | None]  # result, missing selectors, error


def analyse(body: bytes, url: str, http_charset: str | None, fetched_at: str,
            selectors: dict[str, str], title_hint: str | None = None,
            max_document_bytes: int = MAX_DOCUMENT_BYTES) -> Analysis:
    """Process one page with a source's title/date/body selectors (`ExtractOptions`), or an
    attachment with the text of the link to it (`title_hint`); never raises for a bad page."""
    try:
        result = process_page(body, url, http_charset=http_charset, fetched_at=fetched_at,
                              options=ExtractOptions.from_selectors(selectors),
                              title_hint=title_hint, max_document_bytes=max_document_bytes)
        return result, result.missing_selectors, None
    except PageError as exc:
        return None, [], str(exc)


def default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def _watch_parent(parent: int) -> None:
    """Exit when the crawl process is gone (kill -9 leaves no one to shut the pool down)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _warm_up() -> None:
    """In each worker: die with the crawl process; load the pipeline's tables (OpenCC,
    gazetteer) before the first page arrives."""
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    html = "<html><body><h1>卫生健康工作总结</h1><p>" + "全市卫生健康工作取得新成效。" * 20 + "</p>"
    analyse(html.encode("utf-8"), "http://localhost/warm-up.html", "utf-8", "", {})


class Analyser:
    """Runs `analyse` in worker processes (or inline when ``workers`` is 0)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: Executor | None = None
        self.fallbacks = 0

    def _executor(self) -> Executor | None:
        if self.workers and self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm_up,
            )
        return self._pool

    async def run(self, body: bytes, url: str, http_charset: str | None, fetched_at: str,
                  selectors: dict[str, str], title_hint: str | None = None,
                  max_document_bytes: int = MAX_DOCUMENT_BYTES) -> Analysis:
        """`analyse` these arguments, in a worker."""
        extra = (title_hint, max_document_bytes)
        pool = self._executor()
        if pool is None:
            return analyse(body, url, http_charset, fetched_at, selectors, *extra)
        try:
            future = pool.submit(analyse, body, url, http_charset, fetched_at, selectors, *extra)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            # A worker died (out of memory, killed): go on in-process rather than lose pages.
            self.fallbacks += 1
            self.workers = 0
            self._pool = None
            return analyse(body, url, http_charset, fetched_at, selectors, *extra)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


_SHARED: dict[int, Analyser] = {}


def shared_analyser(workers: int) -> Analyser:
    """One pool per process, shared by all crawlers of a multi-source run."""
    if workers not in _SHARED:
        _SHARED[workers] = Analyser(workers)
    return _SHARED[workers]


@atexit.register
def _close_all() -> None:
    for analyser in _SHARED.values():
        analyser.close()

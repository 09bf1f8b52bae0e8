"""Work of a request on the archive, in its own thread and time: each piece of work opens the
archive read-only in the thread that uses it (SQLite connections stay in their thread), a search
that takes too long is cut, and an export streams from a thread of its own."""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TypeVar

from archive.errors import HraError
from archive.store import Store, StoreError

T = TypeVar("T")
_END = object()


class TooSlow(Exception):
    """The work took longer than the app allows (shown with status 503)."""


class Runner:
    """Runs work on a read-only `Store` of ``data_dir`` within ``timeout`` seconds."""

    def __init__(self, data_dir: Path, timeout: float, workers: int = 4) -> None:
        self.data_dir = data_dir
        self.timeout = timeout
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hra-web")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def run(self, work: Callable[[Store], T]) -> T:
        """``work(store)``; TooSlow when it is not done in time. The SQL it runs then is
        aborted (`Store.abort_when`) so a cut search stops using the machine soon after."""
        cancelled = threading.Event()

        def task() -> T:
            try:
                with Store(self.data_dir, readonly=True) as store:
                    store.abort_when(cancelled.is_set)
                    return work(store)
            except (StoreError, sqlite3.OperationalError) as exc:
                if cancelled.is_set():
                    raise TooSlow(str(exc)) from exc
                raise HraError(f"archive: {exc}") from exc

        future = self.pool.submit(task)
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            cancelled.set()
            raise TooSlow(f"查询超过 {self.timeout:g} 秒，已中止：请缩小范围（加筛选条件或更具体的词）"
                          ) from None

    def stream(self, produce: Callable[[Store], Iterator[bytes]]) -> Iterator[bytes]:
        """The chunks ``produce(store)`` yields, made in a thread of their own (holding its own
        read-only Store) and handed over through a small queue. The first chunk is waited for
        here, so an error before any output (bad query, no index) raises from this call;
        closing the iterator (the client went away) stops the producer."""
        chunks: queue.Queue[object] = queue.Queue(maxsize=8)
        stop = threading.Event()

        def put(item: object) -> bool:
            while not stop.is_set():
                try:
                    chunks.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        def producer() -> None:
            try:
                with Store(self.data_dir, readonly=True) as store:
                    store.abort_when(stop.is_set)
                    for chunk in produce(store):
                        if not put(chunk):
                            return
                put(_END)
            except (StoreError, sqlite3.OperationalError) as exc:
                put(TooSlow(str(exc)) if stop.is_set() else HraError(f"archive: {exc}"))
            except BaseException as exc:  # handed to the consumer
                put(exc)

        threading.Thread(target=producer, name="hra-web-export", daemon=True).start()
        first = _take(chunks, self.timeout, stop)
        return _drain(first, chunks, stop)


def _take(chunks: queue.Queue[object], timeout: float, stop: threading.Event) -> object:
    deadline = time.monotonic() + timeout
    try:
        item = chunks.get(timeout=max(deadline - time.monotonic(), 0.001))
    except queue.Empty:
        stop.set()
        raise TooSlow(f"导出准备超过 {timeout:g} 秒，已中止：请缩小范围") from None
    if isinstance(item, BaseException):
        stop.set()
        raise item
    return item


def _drain(first: object, chunks: queue.Queue[object], stop: threading.Event
           ) -> Iterator[bytes]:
    try:
        item = first
        while item is not _END:
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, bytes) and item:
                yield item
            item = chunks.get()
    finally:
        stop.set()

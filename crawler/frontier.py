"""The crawl frontier: a crash-safe Scrapy scheduler kept in the source's JOBDIR.

Scrapy's own JOBDIR survives a graceful stop (Ctrl-C) but not ``kill -9``: its disk queues
write their state on close and its seen-requests file is buffered, so a killed crawl can
resume with requests that are marked seen but queued nowhere, and those pages are lost.

Here every request is a row in ``<JOBDIR>/frontier.sqlite3`` (WAL; each change is committed
before Scrapy goes on):

* enqueue: a row in state *pending* (the fingerprint, on the canonical URL, is the dupefilter);
* a request is marked *done* only after its page was stored and the links found on it were
  enqueued (the spider's last output for a response; the pipeline marks it);
* on open, every row not done is pending again: a resumed crawl refetches at most the pages
  that were in flight, never loses one, and never refetches a finished one.

A crawl that ends normally (reason "finished") deletes its job, so the next run starts afresh
(list pages are fetched again to find new reports). Any other end keeps it: the same command
resumes. ``JOBDIR`` is set per source by the runner (default ``<data_dir>/jobs/<source>``).

The job lock (``<JOBDIR>/lock``, flock; `JobBusy`, `job_lock_holder`) keeps two processes out
of one job. It is not `archive.locks.SourceLock`, though both use the primitives of
`archive.locks`: the SourceLock guards a source *name* and is taken by whoever starts a crawl
(`hra crawl`, the scheduler) for the whole run, waiting if asked; the job lock guards the job
*directory* (JOBDIR may be set to anything) and is held by the process that runs the crawl
while its scheduler is open, never waiting: the runner waits for it beforehand
(`crawler.runner.wait_for_job`). Both are needed: a standalone ``scrapy crawl`` takes no
SourceLock, and a crawl child orphaned by a killed ``hra crawl`` keeps its job while the next
``hra crawl`` already holds the SourceLock. The job lock's file records only the pid and is
deleted with a finished job.

The job directory, its lock and its SQLite files are never used through a symbolic link
(`archive.locks.UnsafePath`: a link planted in ``jobs/`` would have job files written
elsewhere); the runner reports the source as failed with that one line.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import logging
import os
import pickle
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.core.scheduler import BaseScheduler
from scrapy.http import Request
from scrapy.utils.request import request_from_dict

from archive.locks import (
    HAVE_FLOCK,
    UnsafePath,
    open_text_nofollow,
    probe_holder,
    safe_dirs,
    try_lock,
    write_holder,
)
from archive.urls import canonical_url

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

FRONTIER_FILE = "frontier.sqlite3"
LOCK_FILE = "lock"
PENDING, DONE = 0, 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    fp BLOB NOT NULL,
    priority INTEGER NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_fp ON requests (fp);
CREATE INDEX IF NOT EXISTS requests_state ON requests (state);
"""


def url_fingerprint(url: str, method: str = "GET", body: bytes = b"") -> bytes:
    """The fingerprint of a request for this URL: same canonical URL, same fingerprint."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(method.upper().encode("ascii"))
    h.update(b" ")
    h.update(canonical_url(url).encode("utf-8"))
    h.update(b" ")
    h.update(body or b"")
    return h.digest()


class CanonicalFingerprinter:
    """``REQUEST_FINGERPRINTER_CLASS``: fingerprints on the canonical URL.

    Tracking parameters (utm_*, from, spm, ...), the fragment, host case and query order do not
    make a new page, so the same page is never fetched twice under different URLs.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CanonicalFingerprinter:
        return cls()

    def fingerprint(self, request: Request) -> bytes:
        return url_fingerprint(request.url, request.method, request.body)


def job_dir(crawler: Crawler, spider: Spider) -> Path:
    """JOBDIR when set, else ``<data_dir>/jobs/<source name>``."""
    configured = crawler.settings.get("JOBDIR")
    if configured:
        return Path(configured)
    from crawler.context import context

    source = getattr(spider, "source", None)
    name = source.name if source is not None else spider.name
    return context(crawler).data_dir / "jobs" / name


class JobBusy(RuntimeError):
    """Another process is crawling this source right now."""


def _lock(directory: Path) -> Any:
    """An exclusive lock on the job (released when the process ends, even by kill -9); the
    lock file names the holder's pid. JobBusy when another process holds it."""
    handle = open_text_nofollow(directory / LOCK_FILE)  # UnsafePath if it is a link
    if not HAVE_FLOCK:  # not POSIX: no lock
        return handle
    try:
        locked = try_lock(handle)
    except OSError:  # flock itself failed (a file system without locks): as busy
        locked = False
    if not locked:
        holder = job_lock_holder(directory) or {}
        handle.close()
        raise JobBusy(f"{directory.name}: another crawl of this source is running "
                      f"(pid {holder.get('pid', '?')})")
    write_holder(handle, {"pid": os.getpid()})
    return handle


def job_lock_holder(directory: Path) -> dict[str, Any] | None:
    """Who holds the job's lock ({"pid": ...}), or None when no process does."""
    return probe_holder(Path(directory) / LOCK_FILE)


class FrontierScheduler(BaseScheduler):
    """A FIFO-by-priority scheduler whose queue and seen-set live in SQLite (see module doc)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.fingerprinter = crawler.request_fingerprinter
        self.stats = crawler.stats
        self.db: sqlite3.Connection | None = None
        self.path: Path | None = None
        self.spider: Spider | None = None
        self._heap: list[tuple[int, int]] = []  # (-priority, row id)
        self._seen: set[bytes] = set()
        self._memory: dict[int, Request] = {}  # requests that cannot be serialized
        self._next_memory_id = -1
        self._lock: Any = None
        self.resumed = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierScheduler:
        return cls(crawler)

    # -- lifecycle -----------------------------------------------------------------------------

    def open(self, spider: Spider) -> None:
        self.spider = spider
        directory = job_dir(self.crawler, spider)
        # The job's directory and files: never through a symbolic link (UnsafePath); for
        # <data_dir>/jobs/<source>, neither `jobs` nor the source's directory.
        safe_dirs(directory, directory.parent.parent if directory.parent.name == "jobs"
                  else None)
        self._lock = _lock(directory)
        self.path = directory / FRONTIER_FILE
        for name in (FRONTIER_FILE, f"{FRONTIER_FILE}-wal", f"{FRONTIER_FILE}-shm"):
            if (directory / name).is_symlink():
                self._lock.close()
                self._lock = None
                raise UnsafePath(directory / name)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: safe against kill -9
        self.db.executescript(_SCHEMA)
        for fp, in self.db.execute("SELECT fp FROM requests"):
            self._seen.add(bytes(fp))
        rows = self.db.execute(
            "SELECT id, priority FROM requests WHERE state != ? ORDER BY id", (DONE,)
        ).fetchall()
        for rid, priority in rows:
            heapq.heappush(self._heap, (-priority, rid))
        self.resumed = len(rows)
        if self.resumed:
            logger.info("resuming the job in %s: %d request(s) pending", directory, self.resumed)

    def close(self, reason: str) -> None:
        if self.db is None:
            return
        self.db.close()
        self.db = None
        if reason == "finished" and self.path is not None:
            # The job is complete: the next run starts afresh.
            for name in (FRONTIER_FILE, f"{FRONTIER_FILE}-wal", f"{FRONTIER_FILE}-shm", LOCK_FILE):
                with contextlib.suppress(FileNotFoundError):
                    (self.path.parent / name).unlink()
            with contextlib.suppress(OSError):
                self.path.parent.rmdir()  # only when empty
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # -- the scheduler interface ------------------------------------------------------------

    def has_pending_requests(self) -> bool:
        return bool(self._heap)

    def __len__(self) -> int:
        return len(self._heap)

    def enqueue_request(self, request: Request) -> bool:
        fp = self.fingerprinter.fingerprint(request)
        if not request.dont_filter and fp in self._seen:
            if self.stats:
                self.stats.inc_value("dupefilter/filtered")
            return False
        self._seen.add(fp)
        try:
            payload = pickle.dumps(request.to_dict(spider=self.spider), protocol=4)
        except (ValueError, TypeError, pickle.PicklingError, AttributeError):
            rid = self._next_memory_id
            self._next_memory_id -= 1
            self._memory[rid] = request
        else:
            assert self.db is not None
            cur = self.db.execute(
                "INSERT INTO requests (fp, priority, state, payload) VALUES (?, ?, ?, ?)",
                (fp, request.priority, PENDING, payload),
            )
            rid = int(cur.lastrowid or 0)
        heapq.heappush(self._heap, (-request.priority, rid))
        if self.stats:
            self.stats.inc_value("scheduler/enqueued")
        return True

    def next_request(self) -> Request | None:
        while self._heap:
            _, rid = heapq.heappop(self._heap)
            if rid < 0:
                return self._memory.pop(rid)
            assert self.db is not None
            row = self.db.execute(
                "SELECT payload, state FROM requests WHERE id = ?", (rid,)
            ).fetchone()
            if row is None or row[1] == DONE:
                continue
            request = request_from_dict(pickle.loads(row[0]), spider=self.spider)
            if self.stats:
                self.stats.inc_value("scheduler/dequeued")
            return request
        return None

    # -- completion --------------------------------------------------------------------------

    def mark_done(self, urls: Iterable[str]) -> None:
        """Mark the GET requests for these URLs done (a response and everything it led to)."""
        fps = [url_fingerprint(u) for u in dict.fromkeys(urls)]
        if self.db is None or not fps:
            return
        marks = ",".join("?" * len(fps))
        self.db.execute(f"UPDATE requests SET state = {DONE} WHERE fp IN ({marks})", fps)

    def counts(self) -> dict[str, Any]:
        """Pending and done requests (for tests and the resume message)."""
        if self.db is None:
            return {"pending": len(self._heap), "done": 0}
        done = self.db.execute(
            "SELECT count(*) FROM requests WHERE state = ?", (DONE,)
        ).fetchone()[0]
        return {"pending": len(self._heap), "done": done}

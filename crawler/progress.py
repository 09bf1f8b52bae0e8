"""Crawl progress as JSON lines: the crawl child writes them, `hra crawl` reads them.

One event per line on a pipe the parent passes to the child (``HRA_PROGRESS_FD``)::

    {"e": "request", "source": "demo", "url": "http://127.0.0.1:8765/a.html"}
    {"e": "page", "source": "demo", "url": "...", "outcome": "new", "title": "...", "status": 200}
    {"e": "warn", "source": "gov", "message": "www.nhc.gov.cn answers with HTTP 412 ..."}
    {"e": "source", "source": "demo", "state": "started"}
    {"e": "source", "source": "demo", "state": "finished", "reason": "finished",
     "status": "ok"|"failed"|"interrupted", "error": null}

``outcome`` is one of "new", "changed", "unchanged", "failed" or "skipped:<reason>" (reasons:
list, off-topic, empty, archived, robots, offsite, challenge, non-html, budget, duplicate).
Every URL the crawl handles ends in exactly one "page" event, so the run's counts satisfy
``pages == new + changed + unchanged + skipped + failed``.

No Scrapy import here: the parent imports this module too.
"""

from __future__ import annotations

import errno
import json
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archive.outcomes import OutcomeTally

#: Human labels of skip reasons, in display order.
SKIP_LABELS = {
    "list": "list pages",
    "off-topic": "off-topic",
    "empty": "no article",
    "archived": "already archived",
    "robots": "robots.txt",
    "challenge": "JS challenge",
    "non-html": "not HTML",
    "offsite": "off-site",
    "budget": "over --max-pages",
    "duplicate": "duplicate",
}

#: Outcomes that show the site answered with a page (the source is alive).
ALIVE_OUTCOMES = frozenset({"new", "changed", "unchanged", "skipped:list", "skipped:off-topic",
                            "skipped:empty", "skipped:non-html", "skipped:duplicate"})
#: Outcomes that show it did not (connection refused, DNS, HTTP errors, robots.txt, a JS
#: challenge, a start page redirected off the site). A source with some of these and no
#: ALIVE_OUTCOMES failed: nothing could be fetched.
DEAD_OUTCOMES = frozenset({"failed", "skipped:robots", "skipped:challenge", "skipped:offsite"})


@dataclass
class Tally(OutcomeTally):
    """Counts of one crawl (all sources), built from "page" events: `counts` and `skipped` by
    reason (`OutcomeTally`), the responses fetched and the failures' messages."""

    fetched: int = 0  # responses actually downloaded (not skipped before fetching)
    errors: list[str] = field(default_factory=list)

    def add(self, outcome: str, *, url: str = "", message: str = "", fetched: bool = True) -> None:
        """Count one handled URL."""
        self.counts.pages += 1
        if fetched:
            self.fetched += 1
        if not self.count(outcome):  # an unknown outcome is a bug: counted as failed, listed
            self.errors.append(f"{url}: unexpected outcome {outcome!r}")
        elif outcome == "failed" and len(self.errors) < 200:
            self.errors.append(f"{url}: {message}" if url else message)

    def skipped_text(self) -> str:
        parts = [f"{n} {SKIP_LABELS.get(r, r)}" for r, n in sorted(
            self.skipped.items(), key=lambda kv: (list(SKIP_LABELS).index(kv[0])
                                                  if kv[0] in SKIP_LABELS else 99, kv[0]))]
        return ", ".join(parts)


class Events:
    """Writes events as JSON lines to a file descriptor (or nowhere).

    Writing happens in a background thread, so a busy reader (the parent updating the search
    index) never stalls the crawl; `close` flushes what is queued. When the reader is gone
    (EPIPE: the parent was killed) `on_broken` is called once, so the crawl can stop gracefully
    and keep its job for the next run.
    """

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.on_broken: Callable[[], None] | None = None
        self._broken = False
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.fd is not None and not self._broken

    def emit(self, kind: str, **data: Any) -> None:
        if not self.enabled:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._write_all, name="hra-events",
                                            daemon=True)
            self._thread.start()
        self._queue.put((json.dumps({"e": kind, **data}, ensure_ascii=False) + "\n")
                        .encode("utf-8"))

    def _write_all(self) -> None:
        while (line := self._queue.get()) is not None:
            if self._broken:
                continue
            line, last = self._more(line)
            try:
                view = memoryview(line)
                while view:
                    written = os.write(self.fd, view)  # type: ignore[arg-type]
                    view = view[written:]
            except OSError as exc:
                if exc.errno not in (errno.EPIPE, errno.EBADF):
                    raise
                self._broken = True
                if self.on_broken:
                    self.on_broken()
            if last:
                break

    def _more(self, line: bytes) -> tuple[bytes, bool]:
        """`line` and the events queued behind it, for one write (a busy crawl queues many);
        whether the end (None) was among them."""
        lines = [line]
        while len(lines) < 256:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                return b"".join(lines), True
            lines.append(more)
        return b"".join(lines), False

    def close(self, timeout: float = 30.0) -> None:
        """Write out every queued event (the parent counts on them), then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None


_EVENTS: dict[int | None, Events] = {}


def events_for(fd: int | None) -> Events:
    """The process-wide emitter for this descriptor (all crawlers of a child share it)."""
    if fd not in _EVENTS:
        _EVENTS[fd] = Events(fd)
    return _EVENTS[fd]


def parse_event(line: str | bytes) -> dict[str, Any] | None:
    """One event from a line, or None for a line that is not an event."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("e"), str) else None

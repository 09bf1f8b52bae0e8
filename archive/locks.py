"""One crawl of a source at a time, whoever starts it (the scheduler, cron, a person).

A lock is a file ``<data_dir>/locks/<name>.lock`` held with ``flock``: the kernel releases it
when the holding process dies however it dies, so a lock left by a killed crawl is never in
the way. The file records the holder's pid, command and start time, so a second start can say
who holds the lock, and a lock file whose holder is gone is reported as a stale lock that was
cleared.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any


class LockBusy(RuntimeError):
    """Another process holds the lock; the message says who."""


def lock_path(data_dir: Path, name: str) -> Path:
    safe = re.sub(r"[^\w.-]+", "_", name)[:100] or "_"
    return Path(data_dir) / "locks" / f"{safe}.lock"


class SourceLock:
    """An exclusive, crash-safe lock on one source name."""

    def __init__(self, data_dir: Path, name: str) -> None:
        self.name = name
        self.path = lock_path(data_dir, name)
        self.fh: IO[str] | None = None
        self.stale: dict[str, Any] | None = None  # the dead holder we replaced, if any

    def holder(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            return None

    def acquire(self, wait: float = 0.0, on_wait: Callable[[dict[str, Any]], None] | None = None
                ) -> SourceLock:
        """Take the lock, waiting up to `wait` seconds; LockBusy if another process keeps it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+", encoding="utf-8")
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                info = self.holder() or {}
                if time.monotonic() >= deadline:
                    fh.close()
                    who = f"pid {info.get('pid', '?')} ({info.get('command', '?')}) since " \
                          f"{info.get('since', '?')}"
                    raise LockBusy(f"source {self.name!r} is being crawled by {who}") from None
                if on_wait and not told:
                    on_wait(info)
                    told = True
                time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        previous = self.holder()
        if previous and previous.get("pid") != os.getpid():
            self.stale = previous  # its process died without unlocking: cleared now
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({
            "pid": os.getpid(), "command": " ".join(sys.argv[:6])[:200],
            "since": datetime.now(UTC).replace(microsecond=0).isoformat(),
        }))
        fh.flush()
        self.fh = fh
        return self

    def release(self) -> None:
        if self.fh is None:
            return
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.flush()
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()
        self.fh = None

    def __enter__(self) -> SourceLock:
        return self if self.fh else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

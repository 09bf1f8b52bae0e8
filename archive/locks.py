"""One crawl of a source at a time, whoever starts it (the scheduler, cron, a person).

A lock is a file ``<data_dir>/locks/<name>.lock`` held with ``flock``: the kernel releases it
when the holding process dies however it dies, so a lock left by a killed crawl is never in
the way. The file records the holder's pid, command and start time, so a second start can say
who holds the lock, and a lock file whose holder is gone is reported as a stale lock that was
cleared.

This is one of two locks a crawl takes, built on the same primitives (`try_lock`,
`write_holder`, `read_holder`, `probe_holder`):

* `SourceLock` (here): a source *name*, taken by whoever starts a crawl (`hra crawl`, the
  scheduler) before anything runs and held for the whole run; a second start waits up to
  `acquire`'s ``wait``, then fails with `LockBusy` naming the holder (pid, command, since).
* the job lock (`crawler.frontier`): the source's *job directory*, taken by the process that
  runs the crawl (the crawl child, or a standalone ``scrapy crawl``, which takes no
  SourceLock) while its scheduler is open; it never waits (the runner waits for it first, see
  `crawler.runner.wait_for_job`) and raises `JobBusy`. It still matters under a SourceLock: a
  crawl child orphaned by a killed ``hra crawl`` keeps the job while the next ``hra crawl``
  already holds the SourceLock. Its file lives in the job directory and goes with it.

The scheduler takes a third, `SchedulerLock` (``locks/_scheduler.lock``): one `hra schedule run`
per data dir.

Files hra writes in the data dir (lock files, crawl and scheduler logs, job files) are opened
without following symbolic links (``O_NOFOLLOW``; the directories on the way are checked with
`is_symlink`): a link planted there (``locks/x.lock`` -> another file, which would be
truncated) is refused with one line (`UnsafePath`) instead of being followed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from archive.errors import HraError
from archive.store import utc_now

try:
    import fcntl
except ImportError:  # not POSIX: no flock, no locking
    fcntl = None  # type: ignore[assignment]

#: Whether this platform has flock (without it locks are not taken at all).
HAVE_FLOCK = fcntl is not None


class LockBusy(RuntimeError):
    """Another process holds the lock; the message says who."""


class UnsafePath(HraError):
    """A file or directory hra would write in the data dir is a symbolic link: refused."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(f"refusing to use {path}: it is a symbolic link (hra does not follow "
                         "links inside the data dir; remove it)")
        self.path = Path(path)


#: Added to os.open flags: fail on a symbolic link (0 where the platform has no such flag).
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def safe_dirs(path: Path, root: Path | None = None) -> Path:
    """Make directory `path` (and its parents), refusing symbolic links (`UnsafePath`): every
    directory from `root` (exclusive: the data dir may itself be a link the user made) down to
    `path`, or only `path` when it is not below `root`. Returns `path`."""
    path = Path(path)
    chain = [path]
    if root is not None and path.is_relative_to(root):
        Path(root).mkdir(parents=True, exist_ok=True)
        parts = path.relative_to(root).parts
        chain = [Path(root, *parts[:i]) for i in range(1, len(parts) + 1)]
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    for directory in chain:
        if directory.is_symlink():
            raise UnsafePath(directory)
        directory.mkdir(exist_ok=True)
    return path


def open_nofollow(path: Path, flags: int, mode: int = 0o644) -> int:
    """os.open that refuses a symbolic link as the last component (`UnsafePath`)."""
    try:
        return os.open(path, flags | O_NOFOLLOW, mode)
    except OSError as exc:
        if Path(path).is_symlink():
            raise UnsafePath(path) from exc
        raise


def open_text_nofollow(path: Path, flags: int = os.O_RDWR | os.O_CREAT) -> IO[str]:
    """A text file opened with `open_nofollow` (read/write, created 0644 when missing)."""
    fd = open_nofollow(path, flags)
    return os.fdopen(fd, "r+" if flags & os.O_RDWR else "r", encoding="utf-8")


def try_lock(handle: IO[str]) -> bool:
    """Take an exclusive flock on an open file without waiting: False when another process
    holds it; other OSErrors propagate. True without flock (not POSIX)."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def unlock(handle: IO[str]) -> None:
    if fcntl is not None:
        fcntl.flock(handle, fcntl.LOCK_UN)


def write_holder(handle: IO[str], info: dict[str, Any] | None) -> None:
    """Record who holds the lock (JSON) in its file; None empties it."""
    handle.seek(0)
    handle.truncate()
    if info is not None:
        handle.write(json.dumps(info))
    handle.flush()


def read_holder(path: Path) -> dict[str, Any] | None:
    """What the lock file at `path` records (None: no file, a link, empty, or not JSON)."""
    try:
        with open_text_nofollow(path, os.O_RDONLY) as fh:
            return json.loads(fh.read() or "null")
    except (OSError, ValueError, UnsafePath):
        return None


def probe_holder(path: Path) -> dict[str, Any] | None:
    """Who holds the lock on `path` (what its file records, ``{}`` if unreadable), or None
    when no process holds it (or there is no such file, or no flock)."""
    if fcntl is None:
        return None
    try:  # closed below; open errors (no file, a link) mean free
        handle = open_text_nofollow(Path(path), os.O_RDONLY)
    except (OSError, UnsafePath):
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                info = json.loads(handle.read() or "{}")
            except ValueError:
                info = {}
            return info if isinstance(info, dict) else {}
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def lock_path(data_dir: Path, name: str) -> Path:
    safe = re.sub(r"[^\w.-]+", "_", name)[:100] or "_"
    return Path(data_dir) / "locks" / f"{safe}.lock"


class ProcessLock:
    """An exclusive, crash-safe lock on a file (flock, released by the kernel when the holder
    dies), whose file records the holder: pid, command, since."""

    def __init__(self, data_dir: Path, path: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = path
        self.fh: IO[str] | None = None
        self.stale: dict[str, Any] | None = None  # the dead holder we replaced, if any

    def busy_message(self, who: str) -> str:
        return f"{self.path} is held by {who}"

    def holder(self) -> dict[str, Any] | None:
        return read_holder(self.path)

    def acquire(self, wait: float = 0.0, on_wait: Callable[[dict[str, Any]], None] | None = None
                ) -> ProcessLock:
        """Take the lock, waiting up to `wait` seconds; LockBusy if another process keeps it,
        UnsafePath if the lock file or its directory is a symbolic link."""
        safe_dirs(self.path.parent, self.data_dir)
        fh = open_text_nofollow(self.path)
        deadline = time.monotonic() + wait
        told = False
        while not try_lock(fh):
            info = self.holder() or {}
            if time.monotonic() >= deadline:
                fh.close()
                who = f"pid {info.get('pid', '?')} ({info.get('command', '?')}) since " \
                      f"{info.get('since', '?')}"
                raise LockBusy(self.busy_message(who))
            if on_wait and not told:
                on_wait(info)
                told = True
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        previous = self.holder()
        if previous and previous.get("pid") != os.getpid():
            self.stale = previous  # its process died without unlocking: cleared now
        write_holder(fh, {"pid": os.getpid(), "command": " ".join(sys.argv[:6])[:200],
                          "since": utc_now()})
        self.fh = fh
        return self

    def release(self) -> None:
        if self.fh is None:
            return
        write_holder(self.fh, None)
        unlock(self.fh)
        self.fh.close()
        self.fh = None

    def __enter__(self) -> ProcessLock:
        return self if self.fh else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class SourceLock(ProcessLock):
    """An exclusive, crash-safe lock on one source name, held by whoever starts its crawl for
    the whole run. Not the job lock of `crawler.frontier` (the module doc says why both)."""

    def __init__(self, data_dir: Path, name: str) -> None:
        super().__init__(data_dir, lock_path(data_dir, name))
        self.name = name

    def busy_message(self, who: str) -> str:
        return f"source {self.name!r} is being crawled by {who}"


#: The scheduler's lock file (not a source's: source names start with a letter or digit).
SCHEDULER_LOCK = "_scheduler.lock"


class SchedulerLock(ProcessLock):
    """One `hra schedule run` per data dir: held by the scheduler while it runs."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir, Path(data_dir) / "locks" / SCHEDULER_LOCK)

    def busy_message(self, who: str) -> str:
        return (f"another scheduler is running on {self.data_dir}: {who} (one `hra schedule "
                "run` per data dir)")

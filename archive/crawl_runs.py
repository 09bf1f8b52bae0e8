"""Crawl runs: running a crawl child for `hra crawl` and `hra demo`, and recording the run
(its row in `runs`: counts, sources and status).

Scrapy's reactor cannot be restarted inside one process, so `run_crawl` starts
``python -m crawler.runner`` as a child, sends it the plan as JSON on stdin and reads its
progress events (JSON lines, see `crawler.progress`) from a pipe. The parent records the run
(kind "crawl") with its counts, passes each event to a `Display` (the CLI's live panel or log
lines, `archive.crawl_display`; no screen here) and writes the child's Scrapy log to
``<data_dir>/logs/crawl-<run>.log`` (opened without following a symbolic link: a planted link
is refused with one line, like one at a source's lock file).

The child runs in its own process group: Ctrl-C (or SIGTERM) reaches the parent, which asks the
child to stop gracefully (its jobs are kept: run the same command again to resume); a second
Ctrl-C kills it. If the parent is killed (kill -9, the OOM killer), the kernel kills the child
with it (Linux; elsewhere the child notices the broken pipe and stops), so the same command can
resume at once (see `crawler.runner`).

The child writes the run's counts (every stored page in the transaction that stores it) and
each source's state (`run_sources`: ok, failed with the cause, interrupted); the parent reads
them back at the end, so the summary, the exit status, `hra runs` and a `--notify-cmd` payload
tell the same story. Status: "ok" (every source crawled; page failures are counted and
listed), "partial" (some sources failed), "failed" (nothing could be crawled: connection
refused, DNS, a 404 start page, an invalid selector, ...; `error` says why in one line) or
"interrupted" (the same command resumes).

Duplicates and the search index are updated by the parent (`DerivedUpdater`, one writer): in
the background every `INDEX_EVERY_PAGES` stored pages or `INDEX_EVERY_SECONDS` (`IndexCadence`,
the same rule a standalone ``scrapy crawl`` follows in its item pipeline), and at the end.

Nothing here imports Scrapy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from archive.errors import HraError
from archive.store import Store
from crawler.progress import Tally, parse_event
from crawler.sources import Source

#: Update duplicates and the search index while crawling after this many stored pages...
INDEX_EVERY_PAGES = 1000
#: ...or this many seconds after a page was stored.
INDEX_EVERY_SECONDS = 60.0


class IndexCadence:
    """When duplicates and the search index catch up with a crawl: once `every_pages` pages
    were stored (new or changed) since the last update, or `every_seconds` after the first of
    them (0 pages: no page trigger). Used by `DerivedUpdater` (under `hra crawl`, checked by a
    background thread) and by the item pipeline of a standalone ``scrapy crawl`` (checked when
    a page is stored)."""

    def __init__(self, every_pages: int = INDEX_EVERY_PAGES,
                 every_seconds: float = INDEX_EVERY_SECONDS) -> None:
        self.every_pages = every_pages
        self.every_seconds = every_seconds
        self.pending = 0
        self.first_pending: float | None = None

    def stored(self) -> bool:
        """Count a stored page; True when the pages alone make an update due."""
        self.pending += 1
        if self.first_pending is None:
            self.first_pending = time.monotonic()
        return 0 < self.every_pages <= self.pending

    def due(self) -> bool:
        """Whether an update is due now (by pages or by time)."""
        if not self.pending:
            return False
        waited = time.monotonic() - (self.first_pending or time.monotonic())
        return 0 < self.every_pages <= self.pending or waited >= self.every_seconds

    def reset(self) -> None:
        """An update starts: it takes in everything pending."""
        self.pending, self.first_pending = 0, None


class DerivedUpdater:
    """Keeps duplicates and the search index in step while a crawl runs (a background thread
    with its own archive connection), so a long crawl is searchable as it goes and little is
    left to do at the end. The crawl child leaves this to the parent (one writer)."""

    def __init__(self, data_dir: Path, every_pages: int = INDEX_EVERY_PAGES,
                 every_seconds: float = INDEX_EVERY_SECONDS) -> None:
        self.data_dir = data_dir
        self.cadence = IndexCadence(every_pages, every_seconds)
        self.errors: list[str] = []
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="hra-derived", daemon=True)

    @property
    def pending(self) -> int:
        """Stored pages the derived indexes have not taken in yet."""
        return self.cadence.pending

    def start(self) -> None:
        self._thread.start()

    def stored(self) -> None:
        """A page was stored (new or changed)."""
        if self.cadence.stored():
            self._wake.set()

    def _due(self) -> bool:
        return self.cadence.due()

    def _run(self) -> None:
        # Below the crawl in CPU priority (Linux threads have their own nice value): when CPUs
        # are scarce the crawl goes first; when they are idle (a polite crawl) this runs freely.
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        while not self._stop:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if not self._stop and self._due():
                self.update()

    def update(self, index_workers: int | None = 1) -> None:
        """Apply every pending archive change to the derived indexes (now, in this thread).
        While the crawl runs, a first index is built in this process (`index_workers` 1):
        rebuild workers would compete with the crawl for the CPUs and add their memory."""
        self.cadence.reset()
        from archive.derived import update_derived

        try:
            with Store(self.data_dir) as store:
                update_derived(store, index_workers=index_workers)
        except Exception as exc:  # the pages are archived; only the indexes lag behind
            self.errors.append(f"search index not updated ({type(exc).__name__}: {exc}); "
                               "the next crawl or `hra reindex` catches up")

    def finish(self) -> float:
        """Stop the thread (after the update it may be running), then catch up with everything
        left; returns the seconds it took."""
        started = time.monotonic()
        self._stop = True
        self._wake.set()
        self._thread.join()
        self.update(index_workers=None)  # the crawl is over: a rebuild may use every CPU
        return time.monotonic() - started


@dataclass
class CrawlPlan:
    """What to crawl and how (the options of `hra crawl`)."""

    sources: list[Source]
    depth: int | None = None
    max_pages: int | None = None
    refresh: bool = False
    keep_off_topic: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    trigger: str = "manual"
    contact: str | None = None
    parallel: int = 4


@dataclass
class CrawlResult:
    """How a crawl went."""

    run_id: int
    status: str  # ok, partial, failed, interrupted (see the module doc)
    tally: Tally  # its counts are the run's recorded counts (what `hra runs` shows)
    sources: dict[str, str]  # name -> close reason ("finished", "shutdown", "error", ...)
    warnings: list[str]
    elapsed: float
    log_path: Path
    exit_code: int | None
    index_seconds: float = 0.0  # the final duplicates + search index update
    error: str | None = None  # status "failed": why, in one line
    source_results: list[dict[str, Any]] = field(default_factory=list)  # the run's sources

    def to_json(self) -> dict[str, Any]:
        c = self.tally.counts
        return {
            "run": self.run_id, "status": self.status, "error": self.error, "pages": c.pages,
            "fetched": self.tally.fetched, "new": c.new, "changed": c.changed,
            "unchanged": c.unchanged, "skipped": c.skipped,
            "skipped_by_reason": dict(sorted(self.tally.skipped.items())), "failed": c.failed,
            "errors": self.tally.errors, "warnings": self.warnings,
            "sources": self.source_results,
            "elapsed_seconds": round(self.elapsed, 1),
            "index_seconds": round(self.index_seconds, 1), "log": str(self.log_path),
        }


class CrawlBusy(HraError):
    """Every source asked for is being crawled by another process; one line for the user."""


def lock_sources(data_dir: Path, sources: list[Source]) -> tuple[list[Any], list[Source],
                                                                  list[str]]:
    """Take each source's lock (`archive.locks`: one crawl of a source at a time, whoever
    starts it). Returns the locks, the sources to crawl, and notes about the others."""
    from archive.locks import LockBusy, SourceLock, UnsafePath

    locks: list[SourceLock] = []
    ready, notes = [], []
    for source in sources:
        lock = SourceLock(data_dir, source.name)
        try:
            lock.acquire()
        except LockBusy as exc:
            notes.append(f"skipped: {exc}")
            continue
        except UnsafePath:  # a link planted in locks/: refuse the crawl (one line)
            for taken in locks:
                taken.release()
            raise
        if lock.stale:
            notes.append(f"source {source.name}: the previous crawl (pid {lock.stale.get('pid')}) "
                         "ended without finishing; its job resumes")
        locks.append(lock)
        ready.append(source)
    return locks, ready, notes


class Display(Protocol):
    def start(self, plan: CrawlPlan, data_dir: Path, run_id: int) -> None: ...
    def event(self, event: dict[str, Any], tally: Tally) -> None: ...
    def note(self, message: str) -> None: ...
    def stop(self, status: str | None = None) -> None: ...  # the run's status, when known


class NullDisplay:
    def start(self, plan: CrawlPlan, data_dir: Path, run_id: int) -> None:
        pass

    def event(self, event: dict[str, Any], tally: Tally) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def stop(self, status: str | None = None) -> None:
        pass


def describe_args(plan: CrawlPlan) -> str:
    """The run's args text (what `hra runs` shows)."""
    parts = [s.name for s in plan.sources]
    for name, value in (("--depth", plan.depth), ("--max-pages", plan.max_pages)):
        if value is not None:
            parts.append(f"{name} {value}")
    if plan.refresh:
        parts.append("--refresh")
    if plan.keep_off_topic:
        parts.append("--keep-off-topic")
    return " ".join(parts)


def child_command() -> list[str]:
    return [sys.executable, "-m", "crawler.runner"]


def open_log(data_dir: Path, log_path: Path) -> BinaryIO:
    """The crawl's log file, opened for appending without following a symbolic link (a link
    planted at ``logs/crawl-N.log`` or ``logs/`` would have the log written elsewhere):
    `archive.locks.UnsafePath` then."""
    from archive.locks import open_nofollow, safe_dirs

    safe_dirs(log_path.parent, data_dir)
    fd = open_nofollow(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    return os.fdopen(fd, "ab")


class _Child:
    """The crawl child process and the read end of its event pipe; `log` (the run's log file)
    gets its output and is closed."""

    def __init__(self, spec: dict[str, Any], log: BinaryIO) -> None:
        read_fd, write_fd = os.pipe()
        spec = {**spec, "progress_fd": write_fd}
        with log:
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            self.proc = subprocess.Popen(
                child_command(), stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                pass_fds=(write_fd,), env=env, process_group=0,
            )
        os.close(write_fd)
        self.pipe = os.fdopen(read_fd, "rb")
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(spec, ensure_ascii=False).encode("utf-8"))
            self.proc.stdin.close()
        except BrokenPipeError:
            pass  # the child died at once; its log says why

    def interrupt(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGINT)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()


def run_crawl(
    data_dir: Path,
    plan: CrawlPlan,
    *,
    display: Display | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> CrawlResult:
    """Crawl the plan's sources in a child process, recording the run; see the module doc."""
    data_dir = Path(data_dir)
    started = time.monotonic()
    locks, ready, warnings = lock_sources(data_dir, plan.sources)
    if not ready:
        raise CrawlBusy("; ".join(warnings))
    plan = dataclasses.replace(plan, sources=ready)
    try:
        with Store(data_dir) as store:
            run = _CrawlRun(store, plan, display or NullDisplay(), on_event, warnings)
            return run.run(started)
    finally:
        for lock in locks:
            lock.release()


class _CrawlRun:
    """One crawl run, from its row in `runs` to its status: the child and its events, the
    derived indexes kept in step, the run's counts and sources settled at the end."""

    def __init__(self, store: Store, plan: CrawlPlan, display: Display,
                 on_event: Callable[[dict[str, Any]], None] | None,
                 warnings: list[str]) -> None:
        self.store = store
        self.data_dir = store.data_dir
        self.plan = plan
        self.display = display
        self.on_event = on_event
        self.warnings = warnings
        self.tally = Tally()
        self.sources: dict[str, str] = {}  # name -> close reason
        self.interrupts = 0
        self.derived = DerivedUpdater(self.data_dir)

    def run(self, started: float) -> CrawlResult:
        plan = self.plan
        run_id = self.store.start_run("crawl", describe_args(plan), plan.trigger,
                                      sources=[s.name for s in plan.sources])
        log_path = self.data_dir / "logs" / f"crawl-{run_id}.log"
        from archive.locks import UnsafePath

        try:
            log = open_log(self.data_dir, log_path)
        except (UnsafePath, OSError) as exc:  # a planted link, or the disk: nothing started
            why = str(exc) if isinstance(exc, UnsafePath) else \
                f"cannot write the crawl log {log_path}: {exc.strerror or exc}"
            for source in plan.sources:
                self.store.set_run_source(run_id, source.name, "failed", why)
            self.store.finish_run(run_id, None, "failed", [why])
            raise HraError(why) from exc
        self.display.start(plan, self.data_dir, run_id)
        for note in self.warnings:
            self.display.note(note)
        self.derived.start()
        child = _Child(self.spec(run_id), log)
        exit_code: int | None = None
        restore = _sigterm_as_interrupt()
        try:
            exit_code = self.read_events(child)
        finally:
            restore()
            exit_code = _reap(child, exit_code)
            status, error, results, index_seconds = self.settle(run_id, exit_code, log_path)
        return CrawlResult(run_id, status, self.tally, self.sources, self.warnings,
                           time.monotonic() - started, log_path, exit_code, index_seconds,
                           error, results)

    def spec(self, run_id: int) -> dict[str, Any]:
        """What the child crawls (`crawler.runner`'s spec, without its progress_fd)."""
        plan = self.plan
        return {
            "data_dir": str(self.data_dir), "sources": [s.to_json() for s in plan.sources],
            "depth": plan.depth, "max_pages": plan.max_pages, "refresh": plan.refresh,
            "keep_off_topic": plan.keep_off_topic, "settings": plan.settings,
            "run_id": run_id, "trigger": plan.trigger, "contact": plan.contact,
            "parallel": plan.parallel, "parent_pid": os.getpid(),
        }

    def read_events(self, child: _Child) -> int:
        """Handle the child's events until it closes the pipe; its exit code. Ctrl-C asks it
        to stop after the pages in flight, a second one kills it."""
        while True:
            try:
                for line in child.pipe:
                    self.handle(line)
                break
            except KeyboardInterrupt:
                self.interrupts += 1
                if self.interrupts == 1:
                    self.display.note("stopping after the pages in flight (Ctrl-C again to "
                                      "kill); run the same command again to resume")
                    child.interrupt()
                else:
                    child.kill()
        return child.proc.wait()

    def handle(self, line: bytes) -> None:
        """One line of the event pipe: count it, pass it to the display and `on_event`."""
        event = parse_event(line)
        if event is None:
            return
        kind = event["e"]
        if kind == "page":
            self.tally.add(event.get("outcome", "failed"), url=event.get("url", ""),
                           message=event.get("message", ""),
                           fetched=bool(event.get("fetched", True)))
            if event.get("outcome") in ("new", "changed"):
                self.derived.stored()
        elif kind == "warn":
            self.warnings.append(event.get("message", ""))
        elif kind == "source" and event.get("state") == "finished":
            self.sources[event.get("source", "?")] = event.get("reason", "?")
        self.display.event(event, self.tally)
        if self.on_event:
            self.on_event(event)

    def settle(self, run_id: int, exit_code: int | None, log_path: Path
               ) -> tuple[str, str | None, list[dict[str, Any]], float]:
        """After the child: catch the derived indexes up, close the run's sources and the run;
        (status, error, the run's sources, seconds of the final index update)."""
        if self.derived.pending:
            self.display.note(f"updating duplicates and the search index "
                              f"({self.derived.pending} new or changed page(s)) ...")
        index_seconds = self.derived.finish()
        self.warnings.extend(self.derived.errors)
        stopped = bool(self.interrupts) or exit_code in (2, -signal.SIGKILL, -signal.SIGTERM)
        crash = None if exit_code in (0, 2) or stopped else \
            f"the crawl process exited with status {exit_code}{_last_log_line(log_path)}; " \
            f"see {log_path}"
        status, error, results = _close_sources(self.store, run_id, stopped, crash)
        if crash and crash not in self.tally.errors:
            self.tally.errors.append(crash)
        # The run's counts are the child's (written with each page): the summary shows them.
        self.tally.counts = self.store.run_counts(run_id)
        self.display.stop(status)
        self.store.finish_run(run_id, None, status, self.tally.errors)
        return status, error, results, index_seconds


def _reap(child: _Child, exit_code: int | None) -> int | None:
    """Close the event pipe; kill the child if it still runs (an error in the parent).
    Returns its exit code."""
    child.pipe.close()
    if child.proc.poll() is None:
        child.kill()
        return child.proc.wait()
    return exit_code


def _close_sources(store: Store, run_id: int, stopped: bool, crash: str | None
                   ) -> tuple[str, str | None, list[dict[str, Any]]]:
    """Settle the sources the child left unfinished and derive the run's status and, when it
    failed, the one-line reason."""
    for row in store.run_sources(run_id):
        if row["status"] in ("pending", "running"):
            if stopped:
                store.set_run_source(run_id, row["source"], "interrupted")
            else:
                store.set_run_source(run_id, row["source"], "failed", crash or
                                     "the crawl process ended before this source was crawled")
    results = store.run_sources(run_id)
    states = {r["status"] for r in results}
    if "interrupted" in states:
        return "interrupted", None, results
    if states <= {"ok"}:
        return "ok", None, results
    failed = [r for r in results if r["status"] == "failed"]
    if "ok" in states:
        return "partial", None, results
    if len(failed) == 1:
        return "failed", failed[0]["error"], results
    named = "; ".join(f"{r['source']}: {r['error']}" for r in failed[:3])
    more = f"; and {len(failed) - 3} more (`hra runs --json`)" if len(failed) > 3 else ""
    return "failed", f"all {len(failed)} sources failed: {named}{more}", results


def _last_log_line(path: Path) -> str:
    tail = log_tail(path, 1).strip()
    return f" ({tail[:200]})" if tail else ""


def _sigterm_as_interrupt() -> Callable[[], None]:
    """SIGTERM (a cron timeout, `kill`) stops the crawl like Ctrl-C; returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)

    def undo() -> None:
        signal.signal(signal.SIGTERM, previous)

    return undo


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a crawl log (shown when the child fails)."""
    try:
        data = path.read_bytes()[-20000:].decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])

"""The crawl child process: ``python -m crawler.runner < spec.json``.

`hra crawl` starts this in a child process (Scrapy's reactor cannot be restarted inside one
process) and reads its progress events from the descriptor ``progress_fd``. The spec::

    {"data_dir": "...", "sources": [Source.to_json(), ...], "depth": null, "max_pages": null,
     "refresh": false, "keep_off_topic": false, "settings": {"DOWNLOAD_DELAY": 0},
     "progress_fd": 5, "run_id": 12, "trigger": "manual", "parallel": 4}

All sources run in one reactor, at most ``parallel`` at a time, each with its own crawler,
settings and JOBDIR (``<data_dir>/jobs/<source>``). SIGINT/SIGTERM stop gracefully (the jobs are
kept, the same command resumes).

The child dies with its parent: on Linux it asks the kernel for SIGKILL when the parent dies
(``prctl(PR_SET_PDEATHSIG)``, the spec's ``parent_pid`` closes the race of a parent that died
before that), so a `kill -9` of `hra crawl` (or the OOM killer) leaves no orphan crawling on
its own and holding the job: the frontier and the run's counts are crash-safe, and the same
command resumes at once. Elsewhere a lost parent breaks the event pipe and the child stops
gracefully; a new crawl of the source then waits up to ``HRA_JOB_WAIT`` seconds (default 60)
for the old process to let go of the job, and says so.

A source that cannot be crawled (an invalid CSS selector, a job still held by another process,
a job directory or file that is a symbolic link, a spider that fails to start) is recorded as failed in the run with one line saying why; the
others go on.
Exit status: 0 when every source was dealt with (each one's status is in the run), 2 when
stopped early, 1 on a setup error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.sources import Source

if TYPE_CHECKING:
    from scrapy.settings import Settings


def build_settings(spec: dict[str, Any]) -> Settings:
    """Project settings + the spec's overrides (as if given with -s)."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.update(spec.get("settings") or {}, priority="cmdline")
    overrides = {
        "HRA_DATA_DIR": spec["data_dir"],
        "HRA_PROGRESS_FD": spec.get("progress_fd"),
        "HRA_RUN_ID": spec.get("run_id"),
        "HRA_TRIGGER": spec.get("trigger", "manual"),
        "HRA_REFRESH": bool(spec.get("refresh")),
        "HRA_KEEP_OFF_TOPIC": bool(spec.get("keep_off_topic")),
    }
    if spec.get("contact"):
        overrides["HRA_CONTACT"] = spec["contact"]
    settings.update(overrides, priority="cmdline")
    return settings


def spider_class(name: str) -> type:
    from crawler.spiders.gov import GovSpider
    from crawler.spiders.site import SiteSpider

    return {"site": SiteSpider, "gov": GovSpider}[name]


PR_SET_PDEATHSIG = 1
#: Default seconds a crawl waits for another process to let go of its source's job.
JOB_WAIT = 60.0


def die_with_parent(parent_pid: int | None) -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux); exit at once if
    the parent is already gone. Returns whether the request was made."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if parent_pid and os.getppid() != parent_pid:
        os._exit(2)  # the parent died before the request: nothing to report to
    return True


def job_holder(directory: Path) -> dict[str, Any] | None:
    """The process holding a source's job, if another one does (None when it is free)."""
    from crawler.frontier import job_lock_holder

    return job_lock_holder(directory)


async def wait_for_job(directory: Path, seconds: float, note: Any,
                       cancelled: Any = lambda: False) -> None:
    """Wait (without blocking the other sources) until no other process holds the job, at most
    `seconds` or until `cancelled()`; `note(holder)` is called once when there is a wait."""
    deadline = time.monotonic() + seconds
    told = False
    while (holder := job_holder(directory)) is not None and time.monotonic() < deadline \
            and not cancelled():
        if not told:
            note(holder)
            told = True
        await asyncio.sleep(0.2)


def selector_error(source: Source) -> str | None:
    """Why a source's CSS selectors cannot be used (one line), or None."""
    if not source.selectors:
        return None
    from cssselect import SelectorError
    from parsel import Selector

    probe = Selector(text="<html><body></body></html>")
    for key, css in source.selectors.items():
        try:
            probe.css(css)
        except (SelectorError, ValueError) as exc:
            return f"invalid CSS selector {key} = {css!r} in its sources.toml entry ({exc})"
    return None


def record_source(spec: dict[str, Any], name: str, status: str, error: str | None) -> None:
    """Record a source's state in the run (when its crawler cannot do it)."""
    if not spec.get("run_id"):
        return
    from archive.store import Store

    with contextlib.suppress(Exception), Store(Path(spec["data_dir"])) as store:
        store.set_run_source(int(spec["run_id"]), name, status, error)


def run(spec: dict[str, Any]) -> int:
    """Crawl every source of the spec; returns the exit status."""
    return _Run(spec).start()


class _Run:
    """The sources of one spec in one reactor: `parallel` lanes take the next source until
    none is left or a signal stops the crawl."""

    def __init__(self, spec: dict[str, Any]) -> None:
        from scrapy.crawler import AsyncCrawlerProcess

        from crawler.progress import events_for

        self.spec = spec
        self.settings = build_settings(spec)
        # AsyncCrawlerProcess configures logging (stderr: the run's log file).
        self.process = AsyncCrawlerProcess(self.settings)
        self.sources = [Source.from_json(s) for s in spec["sources"]]
        self.data_dir = Path(spec["data_dir"])
        self.stopping = False
        self.events = events_for(spec.get("progress_fd"))
        self.events.on_broken = self.stop_gracefully
        self.job_wait = self.settings.getfloat("HRA_JOB_WAIT", JOB_WAIT)

    def start(self) -> int:
        """Run the reactor until every lane is done; the exit status."""
        from twisted.internet import reactor

        reactor.callWhenRunning(lambda: asyncio.ensure_future(self.lanes()))
        try:
            self.process.start(stop_after_crawl=False)
        finally:
            self.events.close()
        return 2 if self.stopping else 0

    def stop_gracefully(self) -> None:
        from twisted.internet import reactor

        if not self.stopping:
            self.stopping = True
            reactor.callFromThread(lambda: asyncio.ensure_future(self.process.stop()))

    def closed(self, spider: Any, reason: str) -> None:
        if reason == "shutdown":  # a signal stopped the crawl: start no other source
            self.stopping = True

    def cannot_crawl(self, source: Source, error: str) -> None:
        record_source(self.spec, source.name, "failed", error)
        self.events.emit("source", source=source.name, state="finished", reason="error",
                         status="failed", error=error)

    async def lanes(self) -> None:
        from twisted.internet import reactor

        queue = list(self.sources)

        async def lane() -> None:
            while queue and not self.stopping:
                await self.crawl_one(queue.pop(0))

        try:
            lanes = max(1, int(self.spec.get("parallel", 4)))
            await asyncio.gather(*(lane() for _ in range(lanes)))
        finally:
            reactor.callLater(0, reactor.stop)  # type: ignore[arg-type,misc]  # zope.interface signatures carry self

    async def crawl_one(self, source: Source) -> None:
        error = selector_error(source)
        if error:
            self.cannot_crawl(source, error)
            return
        job = self.data_dir / "jobs" / source.name

        def waiting(holder: dict[str, Any]) -> None:
            self.events.emit("warn", source=source.name, message=(
                f"source {source.name}: waiting for pid {holder.get('pid', '?')} (an earlier "
                f"crawl of this source) to let go of its job, at most {self.job_wait:.0f}s"))

        await wait_for_job(job, self.job_wait, waiting, lambda: self.stopping)
        if self.stopping:
            return  # stopped while waiting: the source stays unfinished (interrupted)
        crawler = self.crawler(source, job)
        try:
            await self.process.crawl(crawler, source=source, depth=self.spec.get("depth"),
                                     max_pages=self.spec.get("max_pages"))
        except Exception as exc:  # a broken source must not stop the others
            from archive.locks import UnsafePath
            from crawler.frontier import JobBusy

            if isinstance(exc, JobBusy):
                self.cannot_crawl(source, f"{exc}; waited {self.job_wait:.0f}s for it to end")
            elif isinstance(exc, UnsafePath):  # a link planted in jobs/: one line, no start
                self.cannot_crawl(source, str(exc))
            else:
                self.cannot_crawl(source, f"failed to start: {type(exc).__name__}: {exc}")

    def crawler(self, source: Source, job: Path) -> Any:
        """A crawler for the source, with its own JOBDIR."""
        from scrapy import signals
        from scrapy.crawler import Crawler

        settings = self.settings.copy()
        settings.set("JOBDIR", str(job), priority="cmdline")
        crawler = Crawler(spider_class(source.spider), settings)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)
        return crawler


def main() -> None:
    try:
        spec = json.load(sys.stdin)
    except ValueError as exc:
        print(f"crawler.runner: bad spec on stdin: {exc}", file=sys.stderr)
        sys.exit(1)
    if spec.get("parent_pid"):
        die_with_parent(int(spec["parent_pid"]))
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    sys.exit(run(spec))


if __name__ == "__main__":
    main()

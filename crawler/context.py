"""What the parts of one crawler share: the archive, the options, the counts and the events.

Middlewares, the pipeline, the spider and the scheduler of a crawler all reach the same
`CrawlContext` through `context(crawler)`. It owns the archive connection (closed when the
spider closes) and is where every handled URL is reported, exactly once, via `report`.

The run's counts in the archive are written here, in this process (`hra crawl` passes its run
id): a stored page is counted in the transaction that stores it (`count_stored`, called by the
pipeline), other outcomes at most a second later, so a crawl killed any way leaves every stored
page counted in its run. The source's own row of the run (`run_sources`) records its state:
"running", then "ok", "failed" with the cause (nothing could be fetched: every start page
failed) or "interrupted".
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals

from archive.config import data_dir as resolve_data_dir
from archive.store import RunCounts, Store
from archive.urls import canonical_url
from crawler.progress import ALIVE_OUTCOMES, DEAD_OUTCOMES, Events, Tally, events_for

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger("hra.crawl")

#: Seconds between writes of the counts of unstored outcomes (skips, failures) to the run.
COUNT_EVERY = 1.0


@dataclass
class CrawlContext:
    """Per-crawler state; see the module docstring."""

    crawler: Crawler
    data_dir: Path
    events: Events
    refresh: bool = False
    keep_off_topic: bool = False
    standalone: bool = True  # no parent process: this crawler records its own run
    trigger: str = "scrapy"
    tally: Tally = field(default_factory=Tally)
    requests_sent: int = 0
    max_pages: int = 0  # 0: no limit (set by the spider from its options)
    run_id: int | None = None
    alive: int = 0  # pages that show the site answers (ALIVE_OUTCOMES)
    first_failure: str | None = None  # the first URL that failed, with why (one line)
    start_error: str | None = None  # why a start URL failed, when one did
    _store: Store | None = None
    _pending: RunCounts = field(default_factory=RunCounts)  # counted, not yet written
    _last_count: float = 0.0

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.data_dir)
        return self._store

    @property
    def source_name(self) -> str:
        spider = self.crawler.spider
        source = getattr(spider, "source", None) if spider is not None else None
        return source.name if source is not None else (spider.name if spider else "?")

    @property
    def budget_exhausted(self) -> bool:
        return bool(self.max_pages) and self.requests_sent >= self.max_pages

    # -- reporting ---------------------------------------------------------------------------

    def report(
        self, url: str, outcome: str, *, message: str = "", fetched: bool = True,
        counted: bool = False, start: bool = False, **extra: Any
    ) -> None:
        """Count one handled URL and tell the parent (or the log). `counted`: the run's count
        was already written (`count_stored`); `start`: the URL is a start URL."""
        self.tally.add(outcome, url=url, message=message, fetched=fetched)
        if outcome in ALIVE_OUTCOMES:
            self.alive += 1
        elif outcome in DEAD_OUTCOMES:
            why = f"{url}: {message or outcome}" if url else (message or outcome)
            self.first_failure = self.first_failure or why
            if start:
                self.start_error = self.start_error or why
        self.events.emit("page", source=self.source_name, url=url, outcome=outcome,
                         message=message, fetched=fetched, **extra)
        if outcome in ("new", "changed"):
            logger.info("%s: %s %s", outcome, extra.get("title") or "", url)
        elif outcome == "failed":
            logger.warning("failed: %s: %s", url, message)
        if not counted:
            self._pending.add_page(outcome)
            if time.monotonic() - self._last_count >= COUNT_EVERY:
                self.flush_counts()

    def count_stored(self, outcome: str) -> None:
        """Count a page in the run, inside the transaction that stores it (the pipeline's),
        with the other counts not yet written; the page is then reported with counted=True."""
        counts = dataclasses.replace(self._pending)
        counts.add_page(outcome)
        if self.run_id is not None:
            self.store.count_run(self.run_id, counts, self.source_name)
        self._pending, self._last_count = RunCounts(), time.monotonic()

    def flush_counts(self) -> None:
        """Write the counts not yet in the run's record."""
        self._last_count = time.monotonic()
        if self.run_id is None or not self._pending.pages:
            return
        self.store.count_run(self.run_id, self._pending, self.source_name)
        self._pending = RunCounts()

    def outcome(self, reason: str) -> tuple[str, str | None]:
        """The source's status in this run and why it failed: "ok", "interrupted", or
        "failed" when nothing could be fetched (no page showed the site answering, and some
        URL failed: connection refused, DNS, a 404 start page, robots.txt, a JS challenge)."""
        if reason == "shutdown":
            return "interrupted", None
        if reason != "finished":
            return "failed", f"stopped: {reason}"
        if not self.alive and self.first_failure:
            return "failed", self.start_error or self.first_failure
        return "ok", None

    def warn(self, message: str) -> None:
        """A message for the user (once per cause: callers deduplicate)."""
        logger.warning(message)
        self.events.emit("warn", source=self.source_name, message=message)

    def request_dropped(self, request: Any, spider: Spider) -> None:
        """A redirect the frontier refused: a loop, or a page this crawl already has."""
        redirects = list(request.meta.get("redirect_urls") or [])
        if not redirects:
            return  # an ordinary duplicate link: nothing to report
        chain = [*redirects, request.url]
        seen = {canonical_url(u) for u in redirects}
        if canonical_url(request.url) in seen:
            self.report(redirects[0], "failed", message="redirect loop: " + " -> ".join(chain))
        else:
            self.report(redirects[0], "skipped:duplicate", fetched=True,
                        message=f"redirects to {request.url}, already crawled")
        self._mark_done(redirects)

    def redirect_offsite(self, request: Any) -> None:
        """A redirect off the source's sites (another host or port) was refused: reported under
        the URL the crawl asked for, which is then done."""
        redirects = list(request.meta.get("redirect_urls") or [])
        if not redirects:
            return
        self.report(redirects[0], "skipped:offsite", fetched=True,
                    start=bool(request.meta.get("hra_start")),
                    message=f"redirects to {request.url}, off the source's sites (another "
                            "host or port)")
        self._mark_done(redirects)

    def _mark_done(self, urls: list[str]) -> None:
        engine = self.crawler.engine
        scheduler = engine.scheduler if engine is not None else None
        if scheduler is not None and hasattr(scheduler, "mark_done"):
            scheduler.mark_done(urls)

    def request_sent(self, url: str) -> None:
        self.requests_sent += 1
        self.events.emit("request", source=self.source_name, host=urlsplit(url).netloc)

    # -- lifecycle ---------------------------------------------------------------------------

    def spider_opened(self, spider: Spider) -> None:
        self.events.emit("source", source=self.source_name, state="started")
        if self.standalone:
            args = " ".join(getattr(getattr(spider, "source", None), "start_urls", []) or [])
            self.run_id = self.store.start_run("crawl", f"{spider.name} {args}".strip(),
                                               self.trigger, sources=[self.source_name])
        if self.run_id is not None:
            self.store.set_run_source(self.run_id, self.source_name, "running")

    def spider_closed(self, spider: Spider, reason: str) -> None:
        status, error = self.outcome(reason)
        if self.run_id is not None:
            self.flush_counts()
            self.store.set_run_source(self.run_id, self.source_name, status, error)
            if self.standalone:
                self.store.finish_run(self.run_id, None, status, self.tally.errors)
        self.events.emit("source", source=self.source_name, state="finished", reason=reason,
                         status=status, error=error, fetched=self.tally.fetched)
        if self._store is not None:
            self._store.close()
            self._store = None


def context(crawler: Crawler) -> CrawlContext:
    """The crawler's context, created on first use."""
    ctx = getattr(crawler, "_hra_context", None)
    if ctx is None:
        s = crawler.settings
        fd = s.get("HRA_PROGRESS_FD")
        ctx = CrawlContext(
            crawler=crawler,
            data_dir=resolve_data_dir(s.get("HRA_DATA_DIR") or None),
            events=events_for(int(fd) if fd not in (None, "") else None),
            refresh=s.getbool("HRA_REFRESH"),
            keep_off_topic=s.getbool("HRA_KEEP_OFF_TOPIC"),
            standalone=not s.get("HRA_RUN_ID"),
            trigger=s.get("HRA_TRIGGER") or "scrapy",
            run_id=s.getint("HRA_RUN_ID") or None,
        )
        crawler.signals.connect(ctx.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ctx.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ctx.request_dropped, signal=signals.request_dropped)
        crawler._hra_context = ctx  # type: ignore[attr-defined]
    return ctx

"""What the parts of one crawler share: the archive, the options, the counts and the events.

Middlewares, the pipeline, the spider and the scheduler of a crawler all reach the same
`CrawlContext` through `context(crawler)`. It owns the archive connection (closed when the
spider closes) and is where every handled URL is reported, exactly once, via `report`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals

from archive.config import data_dir as resolve_data_dir
from archive.store import Store
from archive.urls import canonical_url
from crawler.progress import Events, Tally, events_for

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger("hra.crawl")


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
    _store: Store | None = None
    _last_run_update: float = 0.0

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
        self, url: str, outcome: str, *, message: str = "", fetched: bool = True, **extra: Any
    ) -> None:
        """Count one handled URL and tell the parent (or the log)."""
        self.tally.add(outcome, url=url, message=message, fetched=fetched)
        self.events.emit("page", source=self.source_name, url=url, outcome=outcome,
                         message=message, fetched=fetched, **extra)
        if outcome in ("new", "changed"):
            logger.info("%s: %s %s", outcome, extra.get("title") or "", url)
        elif outcome == "failed":
            logger.warning("failed: %s: %s", url, message)
        if self.standalone and self.run_id is not None:
            now = time.monotonic()
            if now - self._last_run_update > 2:
                self._last_run_update = now
                self.store.update_run(self.run_id, self.tally.counts)

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
        engine = self.crawler.engine
        if engine is not None and hasattr(engine.scheduler, "mark_done"):
            engine.scheduler.mark_done(redirects)

    def request_sent(self, url: str) -> None:
        self.requests_sent += 1
        self.events.emit("request", source=self.source_name, host=urlsplit(url).netloc)

    # -- lifecycle ---------------------------------------------------------------------------

    def spider_opened(self, spider: Spider) -> None:
        self.events.emit("source", source=self.source_name, state="started")
        if self.standalone:
            args = " ".join(getattr(getattr(spider, "source", None), "start_urls", []) or [])
            self.run_id = self.store.start_run("crawl", f"{spider.name} {args}".strip(),
                                               self.trigger)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        self.events.emit("source", source=self.source_name, state="finished", reason=reason,
                         fetched=self.tally.fetched)
        if self.standalone and self.run_id is not None:
            c = self.tally.counts
            status = "ok" if reason == "finished" else "interrupted"
            self.store.finish_run(self.run_id, c, status, self.tally.errors)
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
        )
        crawler.signals.connect(ctx.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ctx.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ctx.request_dropped, signal=signals.request_dropped)
        crawler._hra_context = ctx  # type: ignore[attr-defined]
    return ctx

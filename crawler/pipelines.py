"""The item pipeline: every fetched page goes through the text pipeline into the archive.

`ArchivePipeline` is the one place a crawled page becomes a record:
`archive.pipeline.process_page` (decode, extract, normalize, classify) then
`archive.importer.store_result` (the raw bytes, headers, final URL and status, plus the record,
in one transaction). Off-topic pages (unless ``HRA_KEEP_OFF_TOPIC``), list pages and pages
without an article are counted, not stored. The spider learns the page's kind from the item
(`PageItem.set_kind`) to decide which links to follow.

A source's optional title/date/body CSS selectors are applied here too (never in a spider).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from archive.importer import store_result
from archive.pipeline import PageError, PageResult, process_page
from crawler.context import CrawlContext, context
from crawler.items import DoneItem, FailureItem, PageItem

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger("hra.crawl")


class ArchivePipeline:
    """Process and store pages; count everything; mark requests done in the frontier."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.ctx: CrawlContext = context(crawler)
        self.index_every = crawler.settings.getint("HRA_INDEX_EVERY", 1000)
        self._stored_since_index = 0
        self._selector_warned = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        return cls(crawler)

    # -- items -----------------------------------------------------------------------------------

    def process_item(self, item: Any) -> Any:
        if isinstance(item, PageItem):
            self._page(item)
        elif isinstance(item, FailureItem):
            self.ctx.report(item.url, item.outcome, message=item.message, fetched=item.fetched)
            self._done(item.chain or [item.url])
        elif isinstance(item, DoneItem):
            self._done(item.urls)
        return item

    def _page(self, item: PageItem) -> None:
        kind, outcome, message, title = "error", "failed", "", None
        try:
            result = self._process(item)
            kind = result.kind
            outcome = store_result(
                self.ctx.store, result, url=item.request_url, body=item.body,
                fetched_at=item.fetched_at, keep_all=self.ctx.keep_off_topic,
                final_url=item.url, status=item.status, headers=item.headers,
            )
            title = result.record.title if result.record else None
        except PageError as exc:
            message = str(exc)
        except Exception as exc:  # never lose the crawl to one page; the log has the traceback
            logger.exception("processing %s failed", item.url)
            message = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            item.set_kind(kind)
        if outcome in ("new", "changed"):
            self._stored_since_index += 1
            if self.index_every and self._stored_since_index >= self.index_every:
                self._update_index()
        self.ctx.report(item.url, outcome, message=message, title=title, status=item.status,
                        depth=item.depth)

    def _process(self, item: PageItem) -> PageResult:
        result = process_page(item.body, item.url, http_charset=item.http_charset,
                              fetched_at=item.fetched_at)
        source = getattr(self.crawler.spider, "source", None)
        selectors = source.selectors if source is not None else {}
        if any(k in selectors for k in ("title", "date", "body")):
            from crawler.selectors import apply_selectors

            result, missing = apply_selectors(result, item, selectors)
            if missing and not self._selector_warned:
                self._selector_warned = True
                self.ctx.warn(f"source {source.name}: selector(s) {', '.join(missing)} matched "
                              f"nothing on {item.url}; the automatic extraction is used")
        return result

    def _done(self, urls: list[str]) -> None:
        engine = self.crawler.engine
        scheduler = engine.scheduler if engine is not None else None
        if scheduler is not None and hasattr(scheduler, "mark_done"):
            scheduler.mark_done(urls)

    # -- lifecycle -------------------------------------------------------------------------------

    def close_spider(self) -> None:
        self._update_index()

    def _update_index(self) -> None:
        self._stored_since_index = 0
        from archive.crawl import update_search_index

        update_search_index(self.ctx.store, logger)

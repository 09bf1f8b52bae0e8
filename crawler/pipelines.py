"""The item pipeline: every fetched page goes through the text pipeline into the archive.

`ArchivePipeline` is the one place a crawled page becomes a record:
`archive.page_processing.process_page` (decode, select, extract, normalize, classify; run in worker
processes by `crawler.page_workers`, with the source's optional title/date/body selectors as
its `ExtractOptions`) then `archive.importer.store_result` (the raw bytes, headers, final URL
and status, the source's name, plus the record, in one transaction: `hra reprocess` applies the
same selectors later). Off-topic pages (unless ``HRA_KEEP_OFF_TOPIC``), list pages and pages
without an article are counted, not stored. With ``HRA_WARC_DIR`` (a crawl node for another
machine) the pages go to a WARC file per job instead (`crawler.warc_output`). The spider learns
the page's kind from the item (`PageItem.set_kind`) to decide which links to follow.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.attachment_import import attach_to_parent
from archive.crawl_runs import IndexCadence
from archive.importer import store_result
from archive.page_processing import MAX_DOCUMENT_BYTES, PageResult
from archive.record import Record
from archive.text.documents import DOCUMENT_FORMATS
from archive.text.documents.legacy import INSTALL_HINT
from crawler.context import CrawlContext, context
from crawler.items import DoneItem, FailureItem, PageItem
from crawler.page_workers import Analyser, default_workers, shared_analyser
from crawler.warc_output import WarcOutput

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from archive.page_processing import PageResult

logger = logging.getLogger("hra.crawl")


class ArchivePipeline:
    """Process and store pages; count everything; mark requests done in the frontier."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.ctx: CrawlContext = context(crawler)
        # Standalone only (under `hra crawl` the parent updates the indexes): the same cadence
        # as `hra crawl`, HRA_INDEX_EVERY pages (0: no page trigger) or a minute.
        self.cadence = IndexCadence(crawler.settings.getint("HRA_INDEX_EVERY", 1000))
        workers = crawler.settings.get("HRA_WORKERS")
        self.analyser: Analyser = shared_analyser(
            default_workers() if workers in (None, "", "auto") else int(workers))
        self._selector_warned = False
        # A crawl node for another machine: pages go to a WARC file per job (crawler.warc_output)
        warc_dir = crawler.settings.get("HRA_WARC_DIR")
        self.warc_dir = Path(warc_dir) if warc_dir else None
        self.warc: WarcOutput | None = None
        self._converter_warned = False
        self.attachment_maxsize = crawler.settings.getint("HRA_ATTACHMENT_MAXSIZE",
                                                          MAX_DOCUMENT_BYTES)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        return cls(crawler)

    # -- items -----------------------------------------------------------------------------------

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, PageItem):
            await self._page(item)
        elif isinstance(item, FailureItem):
            self.ctx.report(item.url, item.outcome, message=item.message, fetched=item.fetched,
                            start=item.start)
            self._done(item.chain or [item.url])
        elif isinstance(item, DoneItem):
            self._done(item.urls)
        return item

    async def _page(self, item: PageItem) -> None:
        kind, outcome, message, title, counted = "error", "failed", "", None, False
        source = getattr(self.crawler.spider, "source", None)
        selectors = source.selectors if source is not None else {}
        # Pages of a named source remember it, so `hra reprocess` applies its selectors again
        # (ad-hoc --url and demo sources are not defined anywhere to be looked up later).
        page_source = source.name if source is not None and source.origin in (
            "shipped", "user") else None
        try:
            result, missing, error = await self.analyser.run(
                item.body, item.url, item.http_charset, item.fetched_at, selectors,
                item.link_text if item.attachment else None, self.attachment_maxsize)
            if missing and not self._selector_warned:
                self._selector_warned = True
                self.ctx.warn(f"source {self.ctx.source_name}: selector(s) {', '.join(missing)} "
                              f"matched nothing on {item.url}; the automatic extraction is used")
            if item.attachment:
                kind = "attachment"
                outcome, message, title = self._store_attachment(item, result, error,
                                                                 page_source)
                counted = True
            elif result is None:
                message = error or "no result"
            else:
                kind = result.kind
                outcome = self._archive(item, result, page_source)
                counted = True
                title = result.record.title if result.record else None
                if outcome in ("new", "changed", "unchanged", "skipped:empty"):
                    item.attachments = result.attachments
        except Exception as exc:  # never lose the crawl to one page; the log has the traceback
            logger.exception("processing %s failed", item.url)
            outcome, counted = "failed", False
            message = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            item.set_kind(kind)
        stored = outcome in ("new", "changed") and self.ctx.standalone
        if stored and (self.cadence.stored() or self.cadence.due()):
            self._update_index()
        self.ctx.report(item.url, outcome, message=message, title=title, status=item.status,
                        depth=item.depth, counted=counted)

    def _archive(self, item: PageItem, result: PageResult, page_source: str | None) -> str:
        """Store the page and count it in the run (one transaction), or with ``HRA_WARC_DIR``
        write it to the job's WARC file; returns the outcome."""
        store = self.ctx.store
        if self.warc_dir is None:
            with store.transaction():  # the page and its count in the run, or neither
                outcome = store_result(
                    store, result, url=item.request_url, body=item.body,
                    fetched_at=item.fetched_at, keep_all=self.ctx.keep_off_topic,
                    final_url=item.url, status=item.status, headers=item.headers,
                    source=page_source,
                )
                self.ctx.count_stored(outcome)
            return outcome
        if result.record is None:
            outcome = f"skipped:{result.kind}"
        elif result.kind == "off-topic" and not self.ctx.keep_off_topic:
            outcome = "skipped:off-topic"
        else:
            outcome = self._write_warc(item, result.record.id, page_source)
        self.ctx.count_stored(outcome)
        return outcome

    def _write_warc(self, item: PageItem, record_id: str | None, page_source: str | None,
                    link: tuple[str | None, str | None] | None = None) -> str:
        """Write a page (or an attachment, with its `link`: parent id and link text) to the
        job's WARC file, opened at the first one."""
        if self.warc is None:
            assert self.warc_dir is not None
            job = getattr(self.crawler.spider, "_job", None)
            self.warc = WarcOutput(self.warc_dir, self.ctx.source_name, job)
        return self.warc.write(item, record_id, page_source, link)
    def _store_attachment(self, item: PageItem, result: PageResult | None, error: str | None,
                          page_source: str | None) -> tuple[str, str, str | None]:
        """Archive a downloaded attachment: (outcome, message, title). Its raw bytes are kept
        whatever they hold; a file that cannot be read (encrypted, damaged, an HTML error
        page where a document was linked) is counted failed with one line, one too short to
        be a report is skipped, any other becomes a document with its parent page's id (and
        the parent's date, site and region when it has none of its own; a web page in its
        place is kept as a document when it holds an article: Word's HTML .doc files)."""
        store = self.ctx.store
        record = result.record if result is not None else None
        outcome, message = "failed", error or ""
        if result is not None and record is None and result.encoding not in DOCUMENT_FORMATS:
            message = "not a document: the server sent a web page without an article (an error page?)"
        elif result is not None and record is None:
            outcome = f"skipped:{result.kind}"
        if self.warc_dir is not None:  # a crawl node: the bytes go to the WARC, read unchanged
            # by the archive host's import, which attaches the document to its parent there
            link = (item.parent, item.link_text)
            saved = self._write_warc(item, record.id if record else None, page_source, link)
            outcome = saved if record is not None else outcome
            self.ctx.count_stored(outcome)
            return outcome, message, record.title if record is not None else item.link_text
        if record is not None:
            record = attach_to_parent(store, record, item.parent)
            self._warn_unextracted(record)
        with store.transaction():
            saved = store.save_page(url=item.request_url, body=item.body, record=record,
                                    fetched_at=item.fetched_at, final_url=item.url,
                                    status=item.status, headers=item.headers, source=page_source)
            if record is not None:
                outcome = saved
            self.ctx.count_stored(outcome)
        return outcome, message, record.title if record is not None else item.link_text

    def _warn_unextracted(self, record: Record) -> None:
        if "unextracted" in record.flags and not self._converter_warned:
            self._converter_warned = True
            self.ctx.warn(f"{record.url}: archived without its text: {INSTALL_HINT}")

    def _done(self, urls: list[str]) -> None:
        engine = self.crawler.engine
        scheduler = engine.scheduler if engine is not None else None
        if scheduler is not None and hasattr(scheduler, "mark_done"):
            scheduler.mark_done(urls)

    # -- lifecycle -------------------------------------------------------------------------------

    def close_spider(self) -> None:
        if self.warc is not None:
            path = self.warc.close()
            logger.info("%d page(s) written to %s", self.warc.pages, path)
        if self.ctx.standalone:  # under `hra crawl` the parent updates them (one writer)
            self._update_index()

    def _update_index(self) -> None:
        """Duplicates and the search index follow the archive's change log (a crawl batch)."""
        self.cadence.reset()
        from archive.derived import update_derived

        try:
            update_derived(self.ctx.store)
        except Exception as exc:  # the pages are archived; only the index lags behind
            logger.exception("updating the search index failed")
            self.ctx.warn(f"search index not updated ({type(exc).__name__}: {exc}); "
                          "the next crawl or `hra reindex` catches up")

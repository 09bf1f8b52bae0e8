"""What both spiders share: arguments, start requests, the page/follow cycle, errors.

For every response the spider

1. yields the raw page as a `PageItem` (the pipeline processes and stores it),
2. awaits the page's kind from the pipeline (report, off-topic, list, empty, error),
3. yields the requests its follow policy picks for that kind (`follow`, per spider),
4. yields a `DoneItem`, so the frontier marks the request done only after all of that.

Arguments (``scrapy crawl site -a url=... -a depth=2``; `hra crawl` passes the same):
``source`` (a name from the sources files), ``url`` (one or more URLs, comma or space
separated), ``depth`` (link hops from a start page; pagination does not count),
``max_pages`` (requests per run, 0 = no limit).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from archive.urls import doc_id
from crawler import links
from crawler.context import CrawlContext, context
from crawler.items import DoneItem, FailureItem, PageItem
from crawler.middlewares import Skip
from crawler.sources import (
    Source,
    SourceError,
    adhoc_source,
    load_sources,
    origin_parts,
    select_sources,
    url_origin,
)


class ArchiveSpider(scrapy.Spider):
    """Base class of the `site` and `gov` spiders (see the module docstring)."""

    follow_articles_default: ClassVar[bool] = True

    def __init__(
        self,
        source: Source | str | None = None,
        url: str | None = None,
        depth: int | str | None = None,
        max_pages: int | str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._source_arg = source
        self._url_arg = url
        self._depth_arg = depth
        self._max_pages_arg = max_pages
        self.source: Source | None = source if isinstance(source, Source) else None
        self.ctx: CrawlContext | None = None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ArchiveSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.ctx = context(crawler)
        spider.setup(crawler.settings)
        return spider

    # -- configuration -------------------------------------------------------------------------

    def setup(self, settings: Any) -> None:
        """Resolve the source and the limits (command line > source > settings)."""
        assert self.ctx is not None
        if self.source is None:
            if self._url_arg:
                urls = [u for u in re.split(r"[\s,]+", str(self._url_arg)) if u]
                self.source = adhoc_source(urls, spider=self.name)
            elif isinstance(self._source_arg, str) and self._source_arg:
                try:
                    found = select_sources(load_sources(self.ctx.data_dir), [self._source_arg])
                except SourceError as exc:
                    raise ValueError(str(exc)) from exc
                self.source = found[0]
            else:
                raise ValueError(f"spider {self.name!r} needs -a url=URL or -a source=NAME")
        src = self.source
        self.allowed_domains = src.hosts
        self.depth_limit = _int(self._depth_arg, src.depth, settings.getint("HRA_DEPTH", 3))
        self.ctx.max_pages = _int(self._max_pages_arg, src.max_pages,
                                  settings.getint("HRA_MAX_PAGES", 0))
        self.max_list_pages = settings.getint("HRA_MAX_LIST_PAGES", 50)
        self.max_links = max(0, settings.getint("HRA_MAX_LINKS_PER_PAGE", 2000))
        self.max_attachments = max(0, settings.getint("HRA_MAX_ATTACHMENTS_PER_PAGE", 10))
        self.attachment_maxsize = settings.getint("HRA_ATTACHMENT_MAXSIZE", 50 * 1024 * 1024)
        self.follow_articles = (src.follow_articles if src.follow_articles is not None
                                else self.follow_articles_default)
        self._allow = [re.compile(p) for p in src.allow]
        self._deny = [re.compile(p) for p in src.deny]
        self._origins = set(src.origins)
        self._sites = {origin_parts(u) for u in src.start_urls}

    # -- requests ------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        assert self.source is not None
        for url in self.source.start_urls:
            yield self.request(url, depth=0, start=True)

    def request(
        self, url: str, *, depth: int, page_no: int = 0, start: bool = False,
        referer: str | None = None, priority: int = 0,
    ) -> scrapy.Request:
        meta = {"hra_depth": depth, "hra_page_no": page_no}
        if start:
            meta["hra_start"] = True
        headers = {"Referer": referer} if referer else None
        return scrapy.Request(url, callback=self.parse, errback=self.on_error, meta=meta,
                              headers=headers, priority=priority)

    def allowed(self, url: str) -> bool:
        """On the source's sites (host and port: `url_origin`), matching its allow patterns,
        not its deny patterns."""
        if url_origin(url) not in self._origins:
            return False
        if self._allow and not any(p.search(url) for p in self._allow):
            return False
        return not any(p.search(url) for p in self._deny)

    def on_site(self, url: str) -> bool:
        """Whether a redirect may go to `url`: a host of the source or a subdomain of one
        (Scrapy's offsite rule), on the same port (another port is another site)."""
        host, port = origin_parts(url)
        return any(port == p and (host == h or host.endswith("." + h)) for h, p in self._sites)

    # -- the page cycle ------------------------------------------------------------------------

    async def parse(self, response: Response, **_: Any) -> AsyncIterator[Any]:
        assert self.source is not None and self.ctx is not None
        depth = int(response.meta.get("hra_depth", 0))
        item = PageItem.from_response(response, self.source.name, depth)
        yield item
        kind = await item.kind()
        if item.attachment:  # a document: nothing to follow from it
            yield DoneItem(item.chain)
            return
        if isinstance(response, TextResponse) and not self.ctx.budget_exhausted:
            for request in self.attachment_requests(response, item.attachments):
                yield request
            for request in self.follow(response, kind):
                yield request
        yield DoneItem(item.chain)

    def attachment_requests(self, response: TextResponse,
                            listed: list[str]) -> Iterator[scrapy.Request]:
        """Downloads of the attachments of an archived article (or of a short notice), at most
        ``HRA_MAX_ATTACHMENTS_PER_PAGE``, within the source's rules (robots and politeness
        apply as to any request), each up to ``HRA_ATTACHMENT_MAXSIZE`` bytes."""
        if not self.max_attachments:
            return
        depth = int(response.meta.get("hra_depth", 0))
        found = links.attachment_links(response.selector, response.url, listed, 0)
        taken = [link for link in found if self.allowed(link.url)][: self.max_attachments]
        for link in taken:
            meta = {"hra_depth": depth + 1, "hra_attachment": True,
                    "hra_parent": doc_id(response.url), "hra_link_text": link.text or None,
                    "download_maxsize": self.attachment_maxsize}
            yield scrapy.Request(link.url, callback=self.parse, errback=self.on_error,
                                 meta=meta, headers={"Referer": response.url}, priority=2)

    def follow(self, response: TextResponse, kind: str) -> Iterator[scrapy.Request]:
        """The requests to make from this page, given its kind (per spider)."""
        raise NotImplementedError

    def pages_and_links(
        self, response: TextResponse, *, pagination: bool, articles: bool,
        css: str | None = None, keep: Any = None,
    ) -> Iterator[scrapy.Request]:
        """Next pages of a list (same depth) and links one hop deeper, within limits."""
        depth = int(response.meta.get("hra_depth", 0))
        page_no = int(response.meta.get("hra_page_no", 0))
        pagination = pagination and page_no < self.max_list_pages
        articles = articles and depth < self.depth_limit
        if not (pagination or articles):
            return
        sel = response.selector  # parsed once per response (the gov spider reads it too)
        seen: set[str] = set()
        if pagination:
            for url in links.pagination_links(sel, response.url, response.text):
                if self.allowed(url):
                    seen.add(url)
                    yield self.request(url, depth=depth, page_no=page_no + 1,
                                       referer=response.url, priority=1)
        if not articles:
            return
        found = links.anchors(sel, response.url, css, self.max_links) if css else []
        if found:
            keep = None  # the source's selector knows which links are articles
        else:  # no selector, or it no longer matches the site
            found = links.anchors(sel, response.url, limit=self.max_links)
        if self.max_links and len(found) >= self.max_links:
            total = links.count_anchors(sel)
            if total > len(found):
                self.logger.warning(
                    "%s has %d links (<a href>): only the first %d are taken "
                    "(HRA_MAX_LINKS_PER_PAGE=%d)", response.url, total, len(found),
                    self.max_links)
        for link in found:
            if link.url in seen or not self.allowed(link.url):
                continue
            if keep is not None and not keep(link.url):
                continue
            seen.add(link.url)
            yield self.request(link.url, depth=depth + 1, referer=response.url)

    async def on_error(self, failure: Failure) -> AsyncIterator[Any]:
        """Every request that produced no page ends here, once (skips, HTTP errors, timeouts)."""
        request = failure.request  # type: ignore[attr-defined]
        outcome, message, fetched = describe_failure(failure)
        if request.meta.get("hra_attachment") and "larger than" in message:
            limit = request.meta.get("download_maxsize", 0) / 2**20
            message = f"attachment larger than the {limit:.0f} MiB limit (HRA_ATTACHMENT_MAXSIZE)"
        chain = [*request.meta.get("redirect_urls", []), request.url]
        # Reported under the URL the crawl asked for (the first of a redirect chain).
        yield FailureItem(chain[0], outcome, message, self.source.name if self.source else "",
                          fetched=fetched, chain=chain, start=bool(request.meta.get("hra_start")))


def describe_failure(failure: Failure) -> tuple[str, str, bool]:
    """(outcome, one-line message, whether a response came back) for a failed request."""
    exc = failure.value
    if isinstance(exc, Skip):
        if exc.reason in ("non-html",):
            return f"skipped:{exc.reason}", exc.message, True
        return f"skipped:{exc.reason}", exc.message, exc.reason == "challenge"
    if isinstance(exc, HttpError):
        status = exc.response.status
        if status == 304:
            return "unchanged", "not modified (304)", True
        refused = _refused_redirect(exc.response)
        if refused:
            return "failed", refused, True
        return "failed", f"HTTP {status}", True
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "robots.txt" in text:
            return "skipped:robots", "disallowed by robots.txt", False
        if "offsite" in text.lower():
            return "skipped:offsite", text, False
        if "redirect" in text.lower():
            return "failed", f"too many redirects ({text})", True
        return "failed", text or "request ignored", False
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if "Timeout" in name or "timed out" in text.lower():
        return "failed", "timed out (after retries)", False
    if "ConnectionRefused" in name:
        return "failed", "connection refused (after retries)", False
    if "DNSLookup" in name or "CannotResolveHost" in name:
        return "failed", "cannot resolve the host name", False
    if "maxsize" in text.lower() or "max size" in text.lower() or "larger than download" in text:
        return "failed", "response larger than the download limit (DOWNLOAD_MAXSIZE)", True
    if "Cancelled" in name:  # the download handler aborts at DOWNLOAD_MAXSIZE
        return "failed", "download aborted: response larger than DOWNLOAD_MAXSIZE", True
    return "failed", f"{name}: {text}" if text else name, False


def _refused_redirect(response: Response) -> str | None:
    """Why a redirect was not followed, when its target is no web page (file://, ftp://,
    javascript:, ...): Scrapy follows http(s) only and hands on the 3xx as it came."""
    location = response.headers.get(b"Location") if 300 <= response.status < 400 else None
    if not location:
        return None
    target = location.decode("latin-1").strip()
    scheme = urlsplit(target).scheme.lower()
    if not scheme or scheme in ("http", "https"):
        return None
    shown = target if len(target) <= 200 else target[:200] + "..."
    slashes = "//" if target[len(scheme) + 1:].startswith("//") else ""
    return f"redirect to {scheme}:{slashes} refused (HTTP {response.status} to {shown})"


def _int(cli: Any, source: int | None, default: int) -> int:
    if cli not in (None, ""):
        value = int(cli)
        if value < 0:
            raise ValueError("depth and max_pages must be >= 0")
        return value
    return source if source is not None else default

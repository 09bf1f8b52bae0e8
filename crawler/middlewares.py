"""Downloader middlewares: politeness, incremental crawling, encodings, non-HTML and JS challenges.

Order (see ``settings.DOWNLOADER_MIDDLEWARES``; requests pass low to high, responses high to low):

====  =========================  ==================================================================
  50  OriginOffsiteMiddleware    redirects stay on the source's sites: host *and* port (a redirect
                                 elsewhere is reported as skipped:offsite, not dropped silently)
  70  IncrementalMiddleware      archived URLs are skipped (``--refresh``: conditional requests)
 105  ChallengeMiddleware        hosts that answered with a JavaScript challenge are not asked again
                                 (after robots.txt: requests waiting for it are stopped too)
 110  BudgetMiddleware           ``--max-pages``; after robots.txt so disallowed URLs cost nothing
 500  ContactUserAgentMiddleware the User-Agent names the project and the operator's contact
 550  BackoffRetryMiddleware     5xx and timeouts retried with exponential backoff; 4xx never
 575  HtmlOnlyMiddleware         non-HTML responses (PDF, images, ...) are skipped
 585  EncodingMiddleware         the page's real encoding (Scrapy trusts a wrong header)
====  =========================  ==================================================================

Every skip raises `Skip` (an IgnoreRequest with a reason); the spider's errback reports it.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Request, Response, TextResponse

from archive import __version__
from archive.text.decode import decode_html, header_charset, looks_binary
from archive.urls import doc_id
from crawler.context import context

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings


class Skip(IgnoreRequest):
    """A request deliberately not fetched (or a response not used), with the reason."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.message = message


def is_robots(request: Request) -> bool:
    return request.url.endswith("/robots.txt") or bool(request.meta.get("dont_obey_robotstxt"))


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


# ---------------------------------------------------------------------------------------------
# Off-site redirects


class OriginOffsiteMiddleware(OffsiteMiddleware):
    """Scrapy's offsite filter (the source's hosts and their subdomains), with the port: a
    site is host *and* port (``crawler.sources.url_origin``), so a redirect from
    127.0.0.1:8000 to 127.0.0.1:9000 is off-site unless a start URL of the source is on
    127.0.0.1:9000, like a redirect to another host.

    Scrapy drops an off-site redirect silently when it is scheduled; here it is reported
    (``skipped:offsite`` under the URL the crawl asked for, marked done in the frontier).
    robots.txt requests keep Scrapy's rule (their redirects are the site's business)."""

    def should_follow(self, request: Request, spider: Spider) -> bool:
        if not super().should_follow(request, spider):
            return False
        on_site = getattr(spider, "on_site", None)
        return is_robots(request) or on_site is None or bool(on_site(request.url))

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        assert self.crawler.spider is not None
        if request.dont_filter or request.meta.get("allow_offsite") \
                or self.should_follow(request, self.crawler.spider):
            return
        self.stats.inc_value("offsite/filtered")
        raise IgnoreRequest(f"Filtered offsite request to {urlsplit(request.url).netloc!r}")

    def request_scheduled(self, request: Request, spider: Spider) -> None:
        try:
            self.process_request(request)
        except IgnoreRequest:
            if request.meta.get("redirect_urls"):
                context(self.crawler).redirect_offsite(request)
            raise


# ---------------------------------------------------------------------------------------------
# JavaScript challenges (HTTP 412 and friends)

_CHALLENGE_MARKERS = re.compile(
    rb"\$_ts\s*=|__jsl_clearance|_?acw_sc__v2|document\.cookie\s*=.{0,400}?location"
    rb"|challenge-platform|cf_chl_|window\.location\.reload\(",
    re.IGNORECASE | re.DOTALL,
)
_MARKER_HINTS = (b"$_ts", b"jsl_clearance", b"acw_sc", b"cookie", b"Cookie", b"challenge", b"cf_chl",
                 b"reload(")


def is_js_challenge(status: int, body: bytes, request_headers: dict[str, str] | None = None) -> bool:
    """A response that is an anti-bot JavaScript challenge, not the page.

    HTTP 412 (Precondition Failed) on a request without If-Match/If-Unmodified-Since is how
    some government sites (nhc.gov.cn and others behind the same WAF) answer clients that do
    not run their JavaScript; 521 is the same from another vendor. A small page with a known
    cookie-setting script is one too, whatever its status.
    """
    conditional = {k.lower() for k in (request_headers or {})} & {"if-match", "if-unmodified-since"}
    if status == 412 and not conditional:
        return True
    if status not in (521, 202, 200, 403, 503) or len(body) >= 64 * 1024:
        return False
    if not any(marker in body for marker in _MARKER_HINTS):  # fast: no regex on most pages
        return False
    if not _CHALLENGE_MARKERS.search(body):
        return False
    text_chars = len(re.sub(rb"<script.*?</script>|<[^>]+>|\s+", b"", body, flags=re.S))
    return status == 521 or text_chars < 400


class ChallengeMiddleware:
    """Skip hosts that answer with a JavaScript challenge: one message per host, never hammer."""

    def __init__(self, crawler: Crawler) -> None:
        self.ctx = context(crawler)
        self.blocked: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ChallengeMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        host = _host(request.url)
        if host in self.blocked:
            raise Skip("challenge", f"{host} answers with a JavaScript challenge; not asked again")

    def process_response(self, request: Request, response: Response) -> Response:
        headers = {k.decode("latin-1"): v[0].decode("latin-1")
                   for k, v in request.headers.items() if v}
        if not is_js_challenge(response.status, response.body, headers):
            return response
        host = _host(request.url)
        if host not in self.blocked:
            self.blocked.add(host)
            self.ctx.warn(
                f"{host} answered HTTP {response.status} with a JavaScript cookie challenge "
                "(an anti-bot check plain HTTP clients cannot pass): skipping this host for the "
                "rest of the crawl (no retries). Save its pages from a browser and use "
                "`hra import` instead."
            )
        if is_robots(request):
            return response.replace(status=404, body=b"")  # robots.txt: treat as absent
        raise Skip("challenge", f"HTTP {response.status} JavaScript challenge from {host}")


# ---------------------------------------------------------------------------------------------
# Incremental crawling and the page budget


class IncrementalMiddleware:
    """URLs already in the archive are not fetched again; with --refresh they are asked for
    conditionally (If-None-Match / If-Modified-Since from the stored headers).

    Start URLs are always fetched (they are the entry points), and list pages are never stored,
    so they are always fetched too: new reports are found.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.ctx = context(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if is_robots(request):
            return
        if not self.ctx.refresh:
            if not request.meta.get("hra_start") and self.ctx.store.has_url(request.url):
                raise Skip("archived")
            return
        page = self.ctx.store.latest_page(doc_id(request.url))
        if page is None:
            return
        stored = {k.lower(): v for k, v in page.headers.items()}
        if stored.get("etag") and b"If-None-Match" not in request.headers:
            request.headers[b"If-None-Match"] = stored["etag"]
        if stored.get("last-modified") and b"If-Modified-Since" not in request.headers:
            request.headers[b"If-Modified-Since"] = stored["last-modified"]


class BudgetMiddleware:
    """At most ``max_pages`` requests per source and run (0: no limit); counts what goes out."""

    def __init__(self, crawler: Crawler) -> None:
        self.ctx = context(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BudgetMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if is_robots(request) or "retry_times" in request.meta or "redirect_times" in request.meta:
            return
        if self.ctx.budget_exhausted:
            raise Skip("budget")
        self.ctx.request_sent(request.url)


# ---------------------------------------------------------------------------------------------
# User-Agent, retries


class ContactUserAgentMiddleware:
    """USER_AGENT with ``{version}`` and ``{contact}`` (HRA_CONTACT) filled in."""

    def __init__(self, template: str, contact: str) -> None:
        contact = contact.strip() or "set HRA_CONTACT"
        self.user_agent = template.format(version=__version__, contact=contact)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ContactUserAgentMiddleware:
        s = crawler.settings
        return cls(s.get("USER_AGENT") or "", s.get("HRA_CONTACT") or "")

    def process_request(self, request: Request) -> None:
        request.headers.setdefault(b"User-Agent", self.user_agent)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries (5xx, timeouts, connection errors) with exponential backoff.

    The n-th retry waits ``HRA_RETRY_BACKOFF * 2**(n-1)`` seconds (at most
    ``HRA_RETRY_BACKOFF_MAX``; a Retry-After header within that limit wins). 4xx answers are
    not in RETRY_HTTP_CODES, so they are never retried.
    """

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.base = settings.getfloat("HRA_RETRY_BACKOFF", 2.0)
        self.cap = settings.getfloat("HRA_RETRY_BACKOFF_MAX", 60.0)

    def delay(self, request: Request, response: Response | None = None) -> float:
        n = max(1, int(request.meta.get("retry_times", 1)))
        wait = min(self.cap, self.base * 2 ** (n - 1))
        after = response.headers.get(b"Retry-After") if response is not None else None
        if after:
            seconds = _retry_after_seconds(after.decode("latin-1"))
            if seconds is not None and 0 <= seconds <= self.cap:
                wait = max(wait, seconds)
        return wait

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await asyncio.sleep(self.delay(result, response))
        return result

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await asyncio.sleep(self.delay(result))
        return result


def _retry_after_seconds(value: str) -> float | None:
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


# ---------------------------------------------------------------------------------------------
# Responses: HTML only, in its real encoding

_HTML_TYPES = ("text/html", "application/xhtml+xml")


class HtmlOnlyMiddleware:
    """Responses that are not HTML pages (PDF, DOC, images, feeds) are skipped, not stored;
    except attachments an article links (``hra_attachment`` requests), read by content."""

    def process_response(self, request: Request, response: Response) -> Response:
        if is_robots(request) or not 200 <= response.status < 300 or \
                request.meta.get("hra_attachment"):
            return response
        ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1").lower()
        mime = ctype.split(";")[0].strip()
        head = response.body[:512].lstrip().lower()
        html_like = head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<meta", b"<"))
        if looks_binary(response.body):
            raise Skip("non-html", f"not an HTML page ({mime or 'binary content'})")
        if mime and mime not in _HTML_TYPES and not (mime == "text/plain" and html_like):
            raise Skip("non-html", f"not an HTML page ({mime})")
        return response


class EncodingMiddleware:
    """Re-detect the page's encoding with the archive's decoder.

    Scrapy believes the HTTP header (a utf-8 header on GBK bytes still wins there), so link
    texts and pagination would be garbled; the decoder trusts a BOM, a clean UTF-8 decode, then
    a declaration that decodes cleanly, then detection.
    """

    def process_response(self, request: Request, response: Response) -> Response:
        if is_robots(request) or not 200 <= response.status < 300 or not response.body or \
                request.meta.get("hra_attachment"):
            return response
        declared = header_charset((response.headers.get(b"Content-Type") or b"").decode("latin-1"))
        decoded = decode_html(response.body, declared)
        current = response.encoding if isinstance(response, TextResponse) else None
        if isinstance(response, HtmlResponse) and current and _same_codec(current,
                                                                          decoded.encoding):
            return response
        request.meta["hra_encoding"] = decoded.encoding
        return response.replace(cls=HtmlResponse, encoding=decoded.encoding)


def _same_codec(a: str, b: str) -> bool:
    import codecs

    try:
        return codecs.lookup(a).name == codecs.lookup(b).name
    except LookupError:
        return False

"""What spiders hand to the item pipeline: raw pages, failures, and "done" marks.

Spiders never extract anything: a `PageItem` is the raw response (bytes, headers, final URL,
status). The pipeline turns it into a record and tells the spider what kind of page it was
(report, off-topic, list, empty) through `PageItem.kind`, which the spider awaits before it
decides which links to follow.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archive.store import utc_now
from archive.text.decode import charset_from_headers

if TYPE_CHECKING:
    from scrapy.http import Response


@dataclass
class PageItem:
    """A fetched page, as the server sent it."""

    url: str  # the final URL (after redirects): the document's address
    request_url: str  # the URL that was requested first
    status: int
    headers: dict[str, str]
    body: bytes = field(repr=False)
    source: str = ""
    depth: int = 0
    fetched_at: str = field(default_factory=utc_now)
    redirect_urls: list[str] = field(default_factory=list)
    #: an attachment: the id of the page that links it, and the link's text
    parent: str | None = None
    link_text: str | None = None
    attachment: bool = False
    #: set by the pipeline with the kind: the page's attachment links (for the spider)
    attachments: list[str] = field(default_factory=list)
    _kind: asyncio.Future[str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_response(cls, response: Response, source: str, depth: int) -> PageItem:
        redirects = list(response.request.meta.get("redirect_urls", [])) if response.request \
            else []
        return cls(
            url=response.url,
            request_url=redirects[0] if redirects else response.url,
            status=response.status,
            headers={str(k): str(v) for k, v in response.headers.to_unicode_dict().items()},
            body=response.body,
            source=source,
            depth=depth,
            redirect_urls=redirects,
            parent=response.meta.get("hra_parent"),
            link_text=response.meta.get("hra_link_text"),
            attachment=bool(response.meta.get("hra_attachment")),
        )

    @property
    def http_charset(self) -> str | None:
        """The charset of the Content-Type header (what `hra reprocess` reads again from the
        stored headers)."""
        return charset_from_headers(self.headers)

    @property
    def chain(self) -> list[str]:
        """Every URL that led to this page (for marking the requests done)."""
        return [*self.redirect_urls, self.url]

    def _future(self) -> asyncio.Future[str]:
        if self._kind is None:
            self._kind = asyncio.get_event_loop().create_future()
        return self._kind

    def set_kind(self, kind: str) -> None:
        """Called by the pipeline once the page is processed (report/off-topic/list/empty/error)."""
        future = self._future()
        if not future.done():
            future.set_result(kind)

    async def kind(self) -> str:
        """The kind the pipeline found; awaited by the spider."""
        return await self._future()


@dataclass
class FailureItem:
    """A URL that produced no page: failed, skipped before fetching, or not modified (304)."""

    url: str
    outcome: str  # "failed", "unchanged" or "skipped:<reason>"
    message: str = ""
    source: str = ""
    fetched: bool = False  # True when a response came back (an HTTP error, a 304)
    chain: list[str] = field(default_factory=list)
    start: bool = False  # the URL is one of the source's start URLs


@dataclass
class DoneItem:
    """The last output for a response: its request and its redirect chain are done."""

    urls: list[str]

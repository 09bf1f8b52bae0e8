"""`site`: a generic spider for report collections (范文 sites, magazines, news columns).

From its start URLs it stays on their hosts and follows:

* from list pages and other pages without an article (home pages, column indexes): the next
  pages of the list (下一页, index_1.html, list_2.shtml, page=2, ...) at the same depth, and
  every other link one hop deeper, up to the depth limit;
* from report pages: their links one hop deeper (related reports), unless the source says
  ``follow_articles = false``;
* from off-topic pages: nothing.

Whether a page is a list or an article is decided by its content (the pipeline's verdict), not
by its URL.

    scrapy crawl site -a url=https://example.org/fanwen/ -a depth=2 -a max_pages=200
"""

from __future__ import annotations

from collections.abc import Iterator

import scrapy
from scrapy.http import TextResponse

from crawler.spiders.base import ArchiveSpider


class SiteSpider(ArchiveSpider):
    name = "site"

    def follow(self, response: TextResponse, kind: str) -> Iterator[scrapy.Request]:
        assert self.source is not None
        css = self.source.selectors.get("links")
        if kind in ("list", "empty"):
            yield from self.pages_and_links(response, pagination=True, articles=True, css=css)
        elif kind == "report" and self.follow_articles:
            yield from self.pages_and_links(response, pagination=False, articles=True)

"""`gov`: Chinese government websites (health commission columns on TRS, Hanweb, ... CMSs).

Start URLs are column (栏目) list pages. The spider

* recognises column pages by content: the pipeline found a list or no article, or the page
  carries the 政府网站发展指引 column meta tags (ColumnName without ArticleTitle);
* follows the column's pagination, including the JavaScript pager
  ``createPageHTML(count, current, "index", "html")`` of TRS sites (index_1.html, ...);
* follows article links: those the source's ``links`` selector picks, else links shaped like
  CMS articles (./202310/t20231008_123.html, /art/2023/10/8/art_1_2.html, content_1.htm, ...),
  else any link below the column's directory;
* follows nothing from article pages (their ArticleTitle/PubDate/ContentSource meta tags and
  TRS_Editor body are read by the text pipeline, not here).

    scrapy crawl gov -a url=https://wjw.example.gov.cn/xxgk/gzdt/index.html
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import scrapy
from scrapy.http import TextResponse

from crawler import links
from crawler.spiders.base import ArchiveSpider


def is_column_page(response: TextResponse) -> bool:
    """The page declares itself a column (ColumnName meta, no ArticleTitle meta)."""
    names = {n.lower() for n in response.xpath("//meta/@name").getall()}
    return "columnname" in names and "articletitle" not in names


class GovSpider(ArchiveSpider):
    name = "gov"
    follow_articles_default = False

    def follow(self, response: TextResponse, kind: str) -> Iterator[scrapy.Request]:
        assert self.source is not None
        column = kind in ("list", "empty") or (kind != "report" and is_column_page(response))
        if not column:
            if kind == "report" and self.follow_articles:
                yield from self.pages_and_links(response, pagination=False, articles=True)
            return
        yield from self.pages_and_links(
            response, pagination=True, articles=True, css=self.source.selectors.get("links"),
            keep=self._article_filter(response),
        )

    def _article_filter(self, response: TextResponse) -> Callable[[str], bool]:
        """Links shaped like articles if the page has any, else links below the column."""
        found = links.anchors(response.selector, response.url, limit=self.max_links)
        if any(links.looks_like_gov_article(link.url) for link in found):
            return links.looks_like_gov_article
        column_dir = urlsplit(response.url).path.rsplit("/", 1)[0] + "/"

        def below_column(url: str) -> bool:
            return urlsplit(url).path.startswith(column_dir)

        return below_column

"""A crawl source's own CSS selectors for body, title and date: the select stage.

`process_page` takes them as `ExtractOptions` (from the source's ``selectors`` in
sources.toml; the crawl and `hra reprocess` pass the same ones):

* ``body``: only the selected elements are extracted, with the page's ``<head>`` (so meta tags
  still count); the page is decoded once, and the stored raw page stays the whole page;
* ``title`` / ``date``: the selected element's text (on the whole page) replaces the extracted
  title / date once the record is made.

A selector that matches nothing is reported (`Selection.missing`) and the automatic extraction
is used for that part. Selectors are checked for syntax before a crawl starts
(`crawler.runner.selector_error`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from parsel import Selector


@dataclass(frozen=True)
class ExtractOptions:
    """Per-source CSS selectors (None: extract that part automatically)."""

    body: str | None = None
    title: str | None = None
    date: str | None = None

    @classmethod
    def from_selectors(cls, selectors: Mapping[str, str] | None) -> ExtractOptions | None:
        """The options of a source's ``selectors`` table (``links`` is the spiders'), or None
        when it sets none of body, title and date."""
        selectors = selectors or {}
        options = cls(selectors.get("body"), selectors.get("title"), selectors.get("date"))
        return options if (options.body or options.title or options.date) else None


@dataclass
class Selection:
    """What a source's selectors chose on one page."""

    html: str  # the page to extract: the whole page, or its <head> with the selected body
    title: str | None = None  # the title selector's text (whitespace folded)
    date: str | None = None  # the date selector's text
    missing: list[str] = field(default_factory=list)  # selectors that matched nothing


def select(html: str, options: ExtractOptions) -> Selection:
    """Apply the selectors to a decoded page (see the module doc)."""
    from parsel import Selector

    sel = Selector(text=html)
    chosen = Selection(html)
    if options.body:
        nodes = sel.css(options.body)
        if nodes:
            head = sel.css("head").get() or ""
            chosen.html = f"<html>{head}<body>{''.join(n.get() for n in nodes)}</body></html>"
        else:
            chosen.missing.append("body")
    if options.title:
        chosen.title = _text(sel, options.title)
    if options.date:
        chosen.date = _text(sel, options.date)
    return chosen


def _text(sel: Selector, css: str) -> str | None:
    node = sel.css(css)
    if not node:
        return None
    text = " ".join(node[0].xpath("string()").get("").split())
    return text or None

"""A source's own CSS selectors for title, date and body, applied on top of the extractor.

* ``body``: the text pipeline runs again over the selected element alone (with the page's
  ``<head>``, so meta tags still count); the stored raw page is the whole page as fetched.
* ``title`` / ``date``: the selected element's text replaces the extracted title / date.

Applied (in the analysis workers) only when a source defines selectors; `hra reprocess` re-runs
the automatic extraction (it does not know sources).
"""

from __future__ import annotations

from dataclasses import replace

from parsel import Selector

from archive.pipeline import PageResult, process_page
from archive.text.decode import decode_html
from archive.text.extract import clean_title, parse_date
from archive.text.normalize import normalize_line


def _text(sel: Selector, css: str) -> str | None:
    node = sel.css(css)
    if not node:
        return None
    text = " ".join(node[0].xpath("string()").get("").split())
    return text or None


def apply_selectors(
    result: PageResult, body: bytes, url: str, http_charset: str | None, fetched_at: str,
    selectors: dict[str, str],
) -> tuple[PageResult, list[str]]:
    """The page result with the selectors applied, and the names of selectors that matched
    nothing."""
    decoded = decode_html(body, http_charset)
    sel = Selector(text=decoded.text)
    missing: list[str] = []
    if css := selectors.get("body"):
        nodes = sel.css(css)
        if nodes:
            head = sel.css("head").get() or ""
            page = f"<html>{head}<body>{''.join(n.get() for n in nodes)}</body></html>"
            result = process_page(page.encode("utf-8"), url, http_charset="utf-8",
                                  fetched_at=fetched_at)
        else:
            missing.append("body")
    record = result.record
    if record is None:
        return result, missing
    if css := selectors.get("title"):
        title = _text(sel, css)
        if title:
            record = replace(record, title=normalize_line(clean_title(title)))
        else:
            missing.append("title")
    if css := selectors.get("date"):
        text = _text(sel, css)
        published = parse_date(text) if text else None
        if published:
            record = replace(record, published=published)
        else:
            missing.append("date")
    return PageResult(record, result.kind, result.encoding), missing

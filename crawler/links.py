"""Link discovery for the spiders: which links are pagination, which lead to articles.

Pure functions over a parsel `Selector` and the page URL; nothing here reads article text.

Pagination is recognised by the link (text 下一页 / 下页 / 后页 / next / › / », or a page
number whose URL looks like a page: index_1.html, list_2.shtml, page=2, /page/3/, _2.html on a
list URL) and by the JavaScript pager of common government CMSs::

    createPageHTML(10, 0, "index", "html")    // TRS WCM: page 0 is index.html, then index_1.html
    var countPage = 10; var currentPage = 2; createPageHTML(countPage, currentPage, "index", "shtml")
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from parsel import Selector

#: Links to files we never fetch (attachments are recorded on the record by the extractor).
SKIP_EXTENSIONS = frozenset(
    ["pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "wps", "et", "ofd", "zip", "rar", "7z", "gz", "tar", "bz2", "xz", "exe", "apk", "dmg", "iso", "jpg", "jpeg", "png", "gif", "bmp", "webp", "svg", "ico", "tif", "tiff", "mp3", "mp4", "avi", "mov", "wmv", "flv", "wav", "m4a", "swf", "css", "js", "json", "xml", "txt", "csv"]
)
_NEXT_TEXT = re.compile(
    r"^\s*(?:下一页|下一頁|下页|下頁|后页|後頁|后一页|下一页\s*[>»›]+|next(?:\s*page)?|[›»]|>|>>|＞)\s*$",
    re.IGNORECASE,
)
_PAGE_TEXT = re.compile(r"^\s*(?:\[?\d{1,4}\]?|第\s*\d{1,4}\s*页)\s*$")
_PAGE_URL = re.compile(
    r"(?:/|^)(?:index|list|default|more|news|page)[_-]\d{1,4}\.s?html?$"
    r"|[?&](?:page|pageno|pageindex|pagenum|p|pn|pg|curpage|currpage|start)=\d+"
    r"|/page/\d+/?$|/p/\d+/?$|(?<!\d)_\d{1,3}\.s?html?$",
    re.IGNORECASE,
)
_CREATE_PAGE = re.compile(
    r"createPageHTML\s*\(\s*([\w$]+)\s*,\s*([\w$]+)\s*,\s*[\"']([\w\-]*)[\"']\s*,\s*"
    r"[\"'](\w+)[\"']"
)
_JS_VAR = r"(?:var|let|const)?\s*{name}\s*=\s*(\d+)"
_BAD_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "about:", "#")


@dataclass(frozen=True)
class Link:
    url: str
    text: str


def base_url(sel: Selector, url: str) -> str:
    """The page's <base href> resolved against its URL."""
    href = sel.xpath("//base/@href").get()
    return urljoin(url, href.strip()) if href else url


def is_fetchable(url: str) -> bool:
    """An http(s) URL that is not a file we never fetch (PDF, DOC, images, ...)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    last = parts.path.rsplit("/", 1)[-1]
    ext = last.rsplit(".", 1)[-1].lower() if "." in last else ""
    return ext not in SKIP_EXTENSIONS


#: Attachments the crawl downloads and reads (detected by content once fetched).
DOCUMENT_EXTENSIONS = frozenset(["pdf", "doc", "docx", "wps", "rtf", "xls", "xlsx", "et"])


def _extension(url_or_name: str) -> str:
    last = urlsplit(url_or_name).path.rsplit("/", 1)[-1] if "://" in url_or_name else url_or_name
    return last.rsplit(".", 1)[-1].lower().strip() if "." in last else ""


def attachment_links(sel: Selector, url: str, listed: list[str], limit: int) -> list[Link]:
    """The attachments of a page to download, at most `limit`: the document links the
    extractor `listed` (by their extension; archives, slides and OFD are left), then links
    whose text names a document file (``附件：方案.docx`` on a ``download?id=`` URL); each with
    its link text (the attachment's title when the file has none of its own)."""
    base = base_url(sel, url)
    texts: dict[str, str] = {}
    named: list[str] = []
    for a in _anchor_elements(sel):
        href = (a.get("href") or "").strip()
        if not href or href.lower().startswith(_BAD_SCHEMES):
            continue
        full = urldefrag(urljoin(base, href))[0]
        text = _text(a) or (a.get("title") or "").strip()
        texts.setdefault(full, text)
        if _extension(text) in DOCUMENT_EXTENSIONS and full.startswith(("http://", "https://")):
            named.append(full)
    wanted = [u for u in listed if _extension(u) in DOCUMENT_EXTENSIONS] + named
    out = [Link(u, texts.get(u, "")) for u in dict.fromkeys(wanted)]
    return out[:limit] if limit else out


def _anchor_elements(sel: Selector, css: str | None = None) -> Iterator[Any]:
    """The page's <a> elements (or those inside what `css` selects), in document order, as lxml
    elements: lazily, so a page of 100,000 links does not become 100,000 Python objects."""
    nodes = sel.css(css) if css else [sel]
    for node in nodes:
        root = node.root
        if not isinstance(getattr(root, "tag", None), str):
            continue  # a text or comment node
        yield from root.iter("a")  # the element itself when a selector picked the <a>


def _href(a: Any, base: str) -> str | None:
    """The absolute, fetchable URL an <a> element links to, without its fragment, or None."""
    href = (a.get("href") or "").strip()
    if not href or href.lower().startswith(_BAD_SCHEMES):
        return None
    full = urldefrag(urljoin(base, href))[0]
    return full if full and is_fetchable(full) else None


def _text(a: Any) -> str:
    return " ".join(" ".join(a.itertext()).split())


def anchors(sel: Selector, url: str, css: str | None = None, limit: int = 0) -> list[Link]:
    """Absolute, fetchable links of the page (or of the elements `css` selects), in order;
    at most `limit` of them (0: all)."""
    base = base_url(sel, url)
    out: dict[str, Link] = {}
    for a in _anchor_elements(sel, css):
        full = _href(a, base)
        if full and full not in out:
            out[full] = Link(full, _text(a) or (a.get("title") or "").strip())
            if limit and len(out) >= limit:
                break
    return list(out.values())


def count_anchors(sel: Selector) -> int:
    """How many <a href> elements the page has (counted by lxml, no Python objects)."""
    try:
        return int(float(sel.xpath("count(//a[@href])").get() or 0))
    except ValueError:
        return 0


def js_pagination(html: str, url: str) -> list[str]:
    """The next page announced by a createPageHTML(count, current, prefix, ext) pager."""
    m = _CREATE_PAGE.search(html)
    if not m:
        return []

    def value(token: str) -> int | None:
        if token.isdigit():
            return int(token)
        found = re.search(_JS_VAR.format(name=re.escape(token)), html)
        return int(found.group(1)) if found else None

    count, current = value(m.group(1)), value(m.group(2))
    prefix, ext = m.group(3) or "index", m.group(4)
    if count is None or current is None or current + 1 >= count:
        return []
    return [urljoin(url, f"{prefix}_{current + 1}.{ext}")]


def pagination_links(sel: Selector, url: str, html: str | None = None) -> list[str]:
    """URLs of further pages of this list (next-page links, page numbers, JS pagers).

    Every link of the page is looked at (a pager often comes after thousands of links), but
    only the text of each: a URL is made only for links that read like a pager."""
    found: list[str] = []
    here = urldefrag(url)[0]
    base = base_url(sel, url)
    for a in _anchor_elements(sel):
        text = _text(a) or (a.get("title") or "").strip()
        next_text = bool(_NEXT_TEXT.match(text))
        if not next_text and not _PAGE_TEXT.match(text):
            continue
        full = _href(a, base)
        if full and full != here and (next_text or _PAGE_URL.search(full)):
            found.append(full)
    found.extend(js_pagination(html if html is not None else sel.get(), url))
    return list(dict.fromkeys(u for u in found if u != here))


#: URL shapes of article pages on Chinese government CMSs (TRS, Hanweb, ...).
_GOV_ARTICLE = re.compile(
    r"/t\d{8}_\d+\.s?html?$|/art/\d{4}/|/art_\d+_\d+\.html$|content_\d+\.s?html?$"
    r"|/\d{6,8}/[\w-]+\.s?html?$|/\d{4}-\d{2}/\d{2}/[\w-]+\.s?html?$"
    r"|/(?:detail|article|show|content|view|info)[/_-]?[\w-]*\d+"
    r"|[?&](?:id|articleid|newsid|contentid|docid|infoid)=\w+",
    re.IGNORECASE,
)


def looks_like_gov_article(url: str) -> bool:
    """A URL shaped like an article on a government CMS (t20231008_123.html, /art/2023/...)."""
    return bool(_GOV_ARTICLE.search(url))

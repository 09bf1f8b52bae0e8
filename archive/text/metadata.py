"""Metadata: title, publication date, site name, column and attachments of an article page.

The 政府网站发展指引 meta tags win when present (names matched case-insensitively), else:

* title: the article heading that agrees with ``<title>``, else the heading just above the
  text, else ``og:title`` or ``<title>``; decorations (【精选推荐】, (全文完整)) and site
  suffixes (``_范文_xx网``) removed by `clean_title`;
* date: a date meta tag, a labelled date line (发布时间: ...) outside lists of other documents,
  an unlabelled date in a short line just above the text, the gov URL (``t20231008_…``);
  never a sidebar date;
* site: the site-name meta tags, the header brand (logo / site name), the ``<title>`` suffix,
  the host;
* column: the column meta tags, else the breadcrumb (without the article's own title);
* attachments: links to PDF/DOC/XLS... files in the article and the few blocks after it.

The vocabulary is in `archive.text.vocabulary`.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urljoin, urlsplit

from lxml import etree

from archive.text.htmlprocessing import Line, class_and_id, text_content, unlikely_ancestor
from archive.text.normalize import fold_width, split_folded, strip_controls
from archive.text.vocabulary import (
    ACCOUNT,
    ATTACHMENT,
    BRAND,
    BREADCRUMB_ARROW,
    BREADCRUMB_HOME,
    BREADCRUMB_LABEL,
    BREADCRUMB_LEAD,
    BREADCRUMB_SEP,
    BREADCRUMB_SKIP,
    CJK_RE,
    COLUMN_METAS,
    DATE_HINTS,
    DATE_LABEL,
    DATE_METAS,
    DATE_RE,
    DATE_SOURCE_LINE,
    DECOR,
    END_MARKERS,
    GOV_METAS,
    HEADING_PRIORITY,
    INNER_SEPS,
    MARKUP,
    SITE_METAS,
    SITE_WORDS,
    TITLE_CLASS_PRIORITY,
    TITLE_CLASS_TAGS,
    TITLE_CLASS_WORDS,
    TITLE_META,
    TITLE_SEP,
    TITLE_SEP_GROUP,
    TITLE_STRIP,
    URL_DATES,
    WS,
)

# ----------------------------------------------------------------------------------------------
# Meta tags


def read_metas(root: etree._Element) -> dict[str, str]:
    """The page's meta tags: lower-cased name (or property, itemprop) -> content; first wins."""
    out: dict[str, str] = {}
    for m in root.iter("meta"):
        name = (m.get("name") or m.get("property") or m.get("itemprop") or "").strip().lower()
        content = strip_controls(m.get("content") or "").strip()  # no ESC in stored fields
        if name and content and name not in out:
            out[name] = content
    return out


def gov_metas(metas: dict[str, str]) -> dict[str, str]:
    """The 政府网站发展指引 meta tags (and a few common ones) among `metas`."""
    return {k: v for k, v in metas.items() if k in GOV_METAS}


def declares_article(metas: dict[str, str]) -> bool:
    """The page says it is an article (ArticleTitle, og:type article): never a list page."""
    return TITLE_META in metas or metas.get("og:type", "").lower() == "article"


def title_tag(root: etree._Element) -> str | None:
    """The text of ``<title>`` (whitespace folded), or None without one."""
    title_el = root.find(".//title")
    return WS.sub(" ", text_content(title_el)).strip() if title_el is not None else None


# ----------------------------------------------------------------------------------------------
# Dates


def parse_date(text: str) -> str | None:
    """The first date in `text` (2023-10-08, 2023年10月8日, 2023/10/8...) as YYYY-MM-DD."""
    m = DATE_RE.search(fold_width(text))
    return _ymd(*m.groups()) if m else None


def _ymd(y: str, mo: str, d: str) -> str | None:
    try:
        value = date(int(y), int(mo), int(d))
    except ValueError:
        return None
    if not (1990 <= value.year <= 2100):
        return None
    return value.isoformat()


def date_from_url(url: str | None) -> str | None:
    if not url:
        return None
    path = urlsplit(url).path
    for pattern in URL_DATES:
        m = pattern.search(path)
        if m and (found := _ymd(*m.groups())):
            return found
    return None


def find_date(
    metas: dict[str, str], lines: list[Line], first_body: int, url: str | None
) -> str | None:
    """The publication date: the page's visible labelled date line (it wins over a date meta
    tag that disagrees: site migrations stamp the meta), a date meta tag, the line above the
    text, the URL."""
    visible = _labelled_date(lines)
    for name in DATE_METAS:
        if name in metas and (found := parse_date(metas[name])):
            return visible or found
    if visible:
        return visible
    # An unlabelled date in a short line just above the article text.
    for line in lines[max(0, first_body - 8) : first_body]:
        short = len(line.text) <= 80 and not line.in_list and line.link_chars <= len(line.text) / 2
        if short and (found := parse_date(line.text)):
            return found
    if found := date_from_url(url):
        return found
    return None


def _labelled_date(lines: list[Line]) -> str | None:
    """A labelled date line (发布时间: ..., or 2018-10-29 20:57 来源: ...) that is not part of a
    list of other documents."""
    for prefer_outside_list in (True, False):
        for line in lines:
            if line.link_chars > 0.5 * len(line.text):
                continue
            if prefer_outside_list and line.in_list:
                continue
            folded = fold_width(line.text)
            m = DATE_SOURCE_LINE.match(folded)
            if m and (found := _ymd(*m.groups())):
                return found
            if not any(h in line.text for h in DATE_HINTS):
                continue
            m = DATE_LABEL.search(folded)
            if m and (found := _ymd(*m.groups())):
                return found
    return None


# ----------------------------------------------------------------------------------------------
# Titles


def clean_title(title: str) -> str:
    """Drop decorations (【精选推荐】, (全文完整)) and site-name suffixes from a title."""
    title = WS.sub(" ", MARKUP.sub("", title)).strip()
    parts = [p for p in _title_parts(title) if p and p.strip()]
    if len(parts) > 1:
        # The title is the first substantial part; later parts are site names and columns.
        head = parts[0]
        if len(head) < 6 and max(len(p) for p in parts) >= 6:
            head = max(parts, key=len)
        title = head
    for _ in range(3):
        new = DECOR.sub("", title).strip()
        if new == title:
            break
        title = new
    return title.strip(TITLE_STRIP)


def _title_parts(title: str) -> list[str]:
    """`title` split at its separators; a ``|`` or ``——`` inside the title is kept
    (书记市长这一周 | 奋马扬鞭争春色): one is cut only before a site name or a short column."""
    # Separators are found on the width-folded copy (｜ and ＿ like | and _); the parts keep
    # the title's own characters.
    pieces, seps, pos = [], [], 0
    for m in TITLE_SEP_GROUP.finditer(fold_width(title)):
        pieces.append(title[pos:m.start()])
        seps.append(title[m.start():m.end()])
        pos = m.end()
    pieces.append(title[pos:])
    parts = [pieces[0]]
    for sep, part in zip(seps, pieces[1:], strict=True):
        inner = fold_width(sep).strip() in INNER_SEPS and parts[-1].strip()
        if inner and len(part.strip()) >= 6 and not SITE_WORDS.search(part):
            parts[-1] += sep + part
        else:
            parts.append(part)
    return parts


def same_title(text: str, title: str) -> bool:
    """A line of the text that repeats the title (perhaps decorated)."""
    if len(text) > len(title) + 20:
        return False
    cleaned = clean_title(text)
    return cleaned == title or (
        len(title) >= 8 and text.startswith(title) and len(text) < len(title) + 12
    )


def find_title(
    root: etree._Element, metas: dict[str, str], page_title: str | None,
    container: etree._Element | None,
) -> str | None:
    """The article's title: ArticleTitle, the article heading, og:title, <title>; cleaned."""
    heading = metas.get(TITLE_META) or _heading_title(root, page_title, container)
    raw_title = heading or metas.get("og:title") or page_title
    title = clean_title(raw_title) if raw_title else None
    return title or None


def _heading_candidates(root: etree._Element) -> list[tuple[int, int, etree._Element, str]]:
    """(priority, document position, element, text) of elements that may hold the title."""
    out = []
    for pos, el in enumerate(root.iter()):
        tag = el.tag if isinstance(el.tag, str) else ""
        cls = class_and_id(el).lower()
        if tag in HEADING_PRIORITY:
            priority = HEADING_PRIORITY[tag]
        elif tag in TITLE_CLASS_TAGS and any(w in cls for w in TITLE_CLASS_WORDS):
            priority = TITLE_CLASS_PRIORITY
        else:
            continue
        text = WS.sub(" ", text_content(el)).strip()
        if 4 <= len(text) <= 120 and not END_MARKERS.match(fold_width(text)):
            out.append((priority, pos, el, text))
    return out


def _heading_title(
    root: etree._Element, page_title: str | None, container: etree._Element | None
) -> str | None:
    """The article heading: one that agrees with <title>, else the heading just above the text."""
    candidates = _heading_candidates(root)
    if not candidates:
        return None
    if page_title:
        agreeing = _heading_like_title(candidates, page_title)
        if agreeing:
            return agreeing
    if container is None:
        return None
    positions = {el: pos for pos, el in enumerate(root.iter())}
    start = positions.get(container, 0)
    before = [c for c in candidates if c[1] < start or _inside(c[2], container)]
    before = [c for c in before if len(c[3]) <= 80 and not unlikely_ancestor(c[2])]
    if not before:
        return None
    # The nearest heading above the start of the text (h1 preferred when it is close).
    return max(before, key=lambda c: (c[1] if c[1] < start else -1, -c[0]))[3]


def _heading_like_title(
    candidates: list[tuple[int, int, etree._Element, str]], page_title: str
) -> str | None:
    """The heading that agrees best with <title> (same text, part of it, or holding it)."""
    short = clean_title(page_title)
    ranked = []
    for priority, pos, _, text in candidates:
        cleaned = clean_title(text)
        if not cleaned:
            continue
        if cleaned == short:
            ranked.append((0, priority, pos, text))
        elif cleaned in page_title:
            ranked.append((1, priority, -len(cleaned), text))
        elif len(short) >= 6 and short in cleaned:
            # The heading block holds more (source, date): the <title> text is the title.
            ranked.append((2, len(cleaned), priority, short))
    return min(ranked)[3] if ranked else None


def _inside(el: etree._Element, container: etree._Element) -> bool:
    while el is not None:
        if el is container:
            return True
        el = el.getparent()
    return False


# ----------------------------------------------------------------------------------------------
# Site, column, attachments


def find_site(
    root: etree._Element, metas: dict[str, str], page_title: str | None, url: str | None
) -> str | None:
    """The site's name: meta tags, the header brand, the <title> suffix, else the host."""
    for name in SITE_METAS:
        if metas.get(name):
            return metas[name]
    return (
        _site_from_brand(root)
        or _site_from_title(page_title)
        or (urlsplit(url).hostname if url else None)
    )


def _site_from_title(title: str | None) -> str | None:
    if not title:
        return None
    parts = [p.strip() for p in split_folded(TITLE_SEP, title) if p and p.strip()]
    for part in reversed(parts[1:]):
        if SITE_WORDS.search(part) and len(part) <= 20:
            return part
    return None


def _site_from_brand(root: etree._Element) -> str | None:
    """The site's name from its header brand: an element named logo/sitename (text or alt)."""
    for el in root.xpath("//*[@class or @id]"):
        if not BRAND.search(class_and_id(el)) or _account(el):
            continue
        text = WS.sub(" ", text_content(el)).strip()
        if not text:
            img = next(el.iter("img"), None)
            text = (img.get("alt") or "").strip() if img is not None else ""
        if 2 <= len(text) <= 20 and CJK_RE.search(text):
            return text
    return None


def _account(el: etree._Element) -> bool:
    """A login/logout link or box: its class, id, href or text names the account."""
    href = el.get("href") or ""
    text = WS.sub("", text_content(el))
    return bool(ACCOUNT.search(class_and_id(el)) or ACCOUNT.search(href)
                or (len(text) <= 6 and ACCOUNT.search(text)))


def find_column(lines: list[Line], metas: dict[str, str], title: str | None) -> str | None:
    """The column: its meta tag, else the last breadcrumb that is not the article itself."""
    for key in COLUMN_METAS:
        if key in metas:
            return metas[key]
    for line in lines[:80]:
        text = line.text
        if BREADCRUMB_LABEL.match(text) or (
            BREADCRUMB_ARROW.search(text) and text.startswith(BREADCRUMB_HOME)
        ):
            crumbs = [c.strip() for c in split_folded(BREADCRUMB_SEP, text) if c.strip()]
            crumbs = [BREADCRUMB_LEAD.sub("", c) for c in crumbs]
            crumbs = [c for c in crumbs if c and c not in BREADCRUMB_SKIP]
            while crumbs and title and (crumbs[-1] in title or title in crumbs[-1]):
                crumbs.pop()  # the article's own title ends some breadcrumbs
            if crumbs:
                return crumbs[-1][:60]
    return None


def find_attachments(container: etree._Element | None, url: str | None) -> list[str]:
    """Links to PDF/DOC/XLS... files in the article and in the few blocks right after it
    (government pages often list 附件 below the TRS_Editor block); a link whose text names such
    a file counts too (``附件：方案.docx`` on a ``download?id=7`` URL)."""
    if container is None:
        return []
    out: list[str] = []
    blocks = [container]
    sibling = container.getnext()
    while sibling is not None and len(blocks) < 4:
        blocks.append(sibling)
        sibling = sibling.getnext()
    for a in (a for block in blocks for a in block.iter("a")):
        href = (a.get("href") or "").strip()
        if href and (ATTACHMENT.search(href) or ATTACHMENT.search("".join(a.itertext()).strip())):
            full = urljoin(url, href) if url else href
            if full not in out:
                out.append(full)
    return out

"""HTML -> title, date, site, column, main-text paragraphs.

The input is a page already passed through `normalize_markup` (simplified script, NFKC, no
pinyin annotations; see `archive.pipeline`), so the vocabulary below is simplified only.

How the main text is found (a readability-style scorer tuned for Chinese pages):

1. The page is parsed with lxml (fast, forgiving); scripts, styles, forms' controls and comments
   are dropped. beautifulsoup4 is the fallback parser for input lxml refuses.
2. The page is cut into *lines* at block boundaries and ``<br>``; each line knows the element that
   holds it, how much of it is link text, and how many Chinese sentence marks it has.
3. Lines that read like prose (enough CJK characters, sentence punctuation, little link text,
   not inside an element named like nav/footer/sidebar/comment/hot/related) give points to the
   element holding them, half to its parent and a quarter to its grandparent; the best element,
   discounted by its link density, is the article container.
4. Inside it, lines that are site furniture are removed (copyright, reprint and disclaimer
   notices, download links, ICP lines, prev/next links, share/comment lines, the
   "下面是小编为大家整理的…供大家参考" intro); a marker such as 相关文章 / 热门文档 ends the article.

Title, date, site name and column come from the 政府网站发展指引 meta tags when present
(names matched case-insensitively), else from the page (heading, date line, breadcrumb, URL).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urljoin, urlsplit

from lxml import etree

from archive.text.normalize import CJK

# ----------------------------------------------------------------------------------------------
# Vocabulary

_BLOCK_TAGS = frozenset(
    ["address", "article", "aside", "blockquote", "body", "center", "dd", "details", "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "html", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "caption", "summary"]
)
_CONTAINER_TAGS = frozenset(
    ("div", "td", "th", "article", "section", "main", "body", "blockquote", "center", "form", "dd",
     "li", "table")
)
_DROP_TAGS = (
    "script", "style", "noscript", "iframe", "template", "svg", "canvas", "select", "option",
    "button", "input", "textarea", "object", "embed", "video", "audio", "map", "head",
)
_UNLIKELY = re.compile(
    r"nav|menu|footer|foot|header|top-?bar|sidebar|side|aside|hot|rank|related|relate|recommend|"
    r"tuijian|xiangguan|remen|comment|pinglun|reply|share|fenxiang|crumb|bread|position|location|"
    r"weizhi|copyright|banquan|banner|advert|\bad\b|ads|gg|login|search|pager|pagination|"
    r"prev|next|friend|link|tool|widget|qrcode|erweima|popup|modal|tags?\b|keyword",
    re.IGNORECASE,
)
_LIKELY = re.compile(
    r"article|content|zoom|TRS_Editor|TRS_UEDITOR|Custom_UnionStyle|main|body|text|detail|"
    r"post|entry|neirong|zhengwen|wenzhang|conter|con\b|news_?con|view|fontzoom|ccontent",
    re.IGNORECASE,
)

# Lines that are site furniture wherever they stand.
_BOILERPLATE = re.compile(
    r"^(?:[(（]?本文|原文)?(?:链接|网址|地址)\s*[:：]\s*https?://"
    r"|版权(?:声明|所有)|copyright\s|©|\bICP\b|ICP备|ICP证|公网安备|网安备"
    r"|^声明\s*[:：]|^免责声明|转载请注明|转载此文|如有侵权|侵犯了您的"
    r"|下载地址|word下载|pdf\s*下载|^本文\s*(?:word|pdf)|点击下载|下载全文|^附件下载"
    r"|^上一篇|^下一篇|^上一条|^下一条|^返回(?:顶部|首页|列表)|^【?打印(?:本页|此页)?】?$"
    r"|^【?关闭(?:窗口|本页)?】?$|^分享到|^扫一扫|^收藏本文|^收藏《"
    r"|留言与评论|发表评论|^验证码|^评论\s*[:：(（]|^阅读\s*[:：]\s*\d*\s*评论"
    r"|感谢您对本站的认可|^本文发布于|^责任编辑|^编辑\s*[:：]|^字号\s*[:：]|^字体"
    r"|^【字(?:号|体)|^当前位置|^您的位置|^您现在的位置|^所在位置|^首页\s*[>＞»]"
    r"|^网站(?:简介|地图)|^主办单位|^承办单位|^技术支持"
    r"|^联系我们|^站长|^Powered by|^浏览次数|^访问量|^点击数",
    re.IGNORECASE,
)
_XIAOBIAN = re.compile(
    r"(?:下面|以下|这里|本文)是?(?:小编|本站|本网)[^。!\n]{0,60}?"
    r"(?:整理|收集|搜集|精心|准备|带来|分享|推荐|编辑)[^。!\n]{0,60}?"
    r"(?:参考|借鉴|阅读|帮助|收藏|分享|欢迎)[^。!\n]{0,30}?[。!]?"
)
# Markers after which nothing belongs to the article.
_END_MARKERS = re.compile(
    r"^[【\[]?\s*(?:相关(?:文章|阅读|推荐|链接|文档|范文|新闻)"
    r"|热门(?:文档|文章|推荐|范文)|猜你喜欢|推荐阅读"
    r"|延伸阅读|更多(?:相关|精彩|范文)|文章搜索|精彩推荐|为你推荐|大家都在看|最新文章"
    r"|本文链接|版权声明|留言与评论)\s*[】\]]?\s*[:：]?\s*$"
)
_OUTLINE = re.compile(r"^(?:目录|提纲|目录/提纲|内容提要)\s*[:：]?\s*[.…·]*$")
_SOURCE_LINE = re.compile(r"^[|｜\s]*(?:来源|作者|发布者|发布机构|信息来源|文章来源|发布单位)\s*[:：]")
_WS = re.compile(r"\s+")
_DATE_HINTS = ("时间", "日期", "发布", "更新", "date", "Date", "DATE", "时间")
_SENTENCE_MARKS = "，。；：！？、,;!?"
_CJK_RE = re.compile(f"[{CJK}]")

# ----------------------------------------------------------------------------------------------
# Dates

_DATE = (
    r"((?:19|20)\d\d)\s*(?:[-/.年])\s*(\d{1,2})\s*(?:[-/.月])\s*(\d{1,2})\s*日?"
)
_DATE_RE = re.compile(_DATE)
_DATE_LABEL = re.compile(
    r"(?:发布时间|更新时间|发表时间|发布日期|发文日期|成文日期|发布于|更新于|时间|日期|"
    r"PubDate|Date)\s*[:：]?\s*"
    + _DATE,
    re.IGNORECASE,
)
_URL_DATES = (
    re.compile(r"/t((?:19|20)\d\d)(\d\d)(\d\d)_\d+"),
    re.compile(r"/((?:19|20)\d\d)[-_]?(\d\d)/(\d\d)/"),
    re.compile(r"/((?:19|20)\d\d)(\d\d)(\d\d)/"),
    re.compile(r"[/_-]((?:19|20)\d\d)-(\d\d)-(\d\d)[/_.-]"),
)
_DATE_METAS = (
    "pubdate", "publishdate", "publish_date", "article:published_time", "og:release_date",
    "dc.date", "dc.date.issued", "firstpublishedtime", "published_time", "date",
)

# Title decorations and site suffixes.
_DECOR_WORDS = (
    r"精选推荐|精选|推荐|完整版|全文完整|完整|全文|最新|热门|优秀|范文|通用|合集|汇编|大全|可编辑|"
    r"word|WORD|Word|"
    r"荐|优选|原创|必备|免费|下载|范本|模板|附全文|图文|\d+篇|[一二三四五六七八九十]+篇"
)
_DECOR = re.compile(
    rf"[【\[]\s*(?:{_DECOR_WORDS})[^】\]]{{0,8}}[】\]]"
    rf"|[(（]\s*(?:[^()（）]{{0,6}}(?:{_DECOR_WORDS})[^()（）]{{0,6}})\s*[)）]"
)
_TITLE_SEP = re.compile(r"\s*(?:_|\||｜|——|\s[-–—]\s|(?<![0-9A-Za-z])[-–](?![0-9A-Za-z]))\s*")
_SITE_WORDS = re.compile(r"网|站|委员会|政府|局|中心|在线|门户|范文|文库|\.com|\.cn")
_ATTACHMENT = re.compile(r"\.(?:pdf|docx?|xlsx?|wps|et|zip|rar|7z|ofd|pptx?)(?:$|\?)", re.IGNORECASE)


@dataclass
class Line:
    text: str
    holder: etree._Element  # element whose text this is
    link_chars: int
    in_unlikely: bool
    in_list: bool

    @property
    def cjk(self) -> int:
        return len(_CJK_RE.findall(self.text))


@dataclass
class Extracted:
    title: str | None
    published: str | None  # YYYY-MM-DD
    site: str | None
    column: str | None
    paragraphs: list[str]
    is_list_page: bool = False
    content_source: str | None = None
    attachments: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)


class ExtractError(ValueError):
    """The page has no usable HTML or no text at all."""


# ----------------------------------------------------------------------------------------------
# Parsing and lines

_NON_CONTENT = re.compile(
    r"<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<noscript\b.*?</noscript\s*>",
    re.DOTALL | re.IGNORECASE,
)


def strip_non_content(html: str) -> str:
    """Drop scripts, styles, comments and noscript blocks (often most of a page's bytes)
    before the page is normalized and parsed. Meta tags and the <title> stay."""
    return _NON_CONTENT.sub("", html)



_PARSER = etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)


def parse_html(html: str) -> etree._Element:
    """Parse HTML with lxml; fall back to beautifulsoup4's lxml tree builder on odd input."""
    html = html.lstrip("\ufeff")
    if not html.strip():
        raise ExtractError("empty page")
    # lxml refuses str input with an XML encoding declaration.
    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)
    try:
        root = etree.fromstring(html, _PARSER)
    except (etree.XMLSyntaxError, etree.ParserError, ValueError):
        root = None
    if root is None or (root.find("body") is None and not len(root)):
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(html, "lxml")
        try:
            root = etree.fromstring(str(soup) or "<html></html>", _PARSER)
        except (etree.XMLSyntaxError, etree.ParserError, ValueError) as exc:
            raise ExtractError(f"cannot parse HTML: {exc}") from exc
        if root is None:
            raise ExtractError("cannot parse HTML")
    return root


def _metas(root: etree._Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in root.iter("meta"):
        name = (m.get("name") or m.get("property") or m.get("itemprop") or "").strip().lower()
        content = (m.get("content") or "").strip()
        if name and content and name not in out:
            out[name] = content
    return out


def _clean_tree(root: etree._Element) -> None:
    for el in root.xpath(" | ".join(f"//{t}" for t in _DROP_TAGS)):
        _drop(el)
    for el in root.xpath("//*[@hidden or contains(translate(@style, ' ', ''), 'display:none')"
                         " or contains(translate(@style, ' ', ''), 'visibility:hidden')]"):
        _drop(el)


def _drop(el: etree._Element) -> None:
    """Remove an element but keep its tail text."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def text_content(el: etree._Element) -> str:
    return "".join(el.itertext())


def _is_unlikely(el: etree._Element) -> bool:
    if el.tag in ("nav", "footer", "aside", "header"):
        return True
    attrs = " ".join(filter(None, (el.get("class"), el.get("id"))))
    return _unlikely_attrs(attrs) if attrs else False


@functools.lru_cache(maxsize=4096)
def _unlikely_attrs(attrs: str) -> bool:
    """class/id names of navigation, sidebars, footers, comment and share boxes."""
    return bool(_UNLIKELY.search(attrs)) and not _LIKELY.search(attrs)


def iter_lines(root: etree._Element) -> list[Line]:
    """Cut the document into lines at block boundaries and <br>."""
    lines: list[Line] = []
    buf: list[str] = []
    state = {"link": 0}

    def flush(holder: etree._Element, unlikely: bool, in_list: bool) -> None:
        text = "".join(buf).strip()
        buf.clear()
        link = state["link"]
        state["link"] = 0
        text = _WS.sub(" ", text)
        if text:
            lines.append(Line(text, holder, min(link, len(text)), unlikely, in_list))

    def walk(
        el: etree._Element, holder: etree._Element, unlikely: bool, in_link: bool, in_list: bool
    ) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        block = tag in _BLOCK_TAGS
        if block:
            flush(holder, unlikely, in_list)
            holder = el
            unlikely = unlikely or _is_unlikely(el)
            in_list = in_list or tag in ("li", "dd", "dt")
        if tag == "br":
            flush(holder, unlikely, in_list)
        link = in_link or tag == "a"
        if el.text:
            buf.append(el.text)
            if link:
                state["link"] += len(el.text.strip())
        for child in el:
            walk(child, holder, unlikely, link, in_list)
            if child.tail:
                buf.append(child.tail)
                if link:
                    state["link"] += len(child.tail.strip())
        if block:
            flush(holder, unlikely, in_list)

    body = root.find("body")
    walk(body if body is not None else root, root, False, False, False)
    return lines


def _prose_score(line: Line) -> float:
    """How much a line looks like article prose (0 for navigation-like lines)."""
    if line.in_unlikely:
        return 0.0
    cjk = line.cjk
    if cjk < 8:
        return 0.0
    if line.link_chars > 0.4 * len(line.text):
        return 0.0
    marks = sum(line.text.count(c) for c in _SENTENCE_MARKS)
    if marks == 0 and cjk < 30:
        return 0.0
    return cjk + 10.0 * min(marks, 10)


def _pick_container(lines: list[Line]) -> etree._Element | None:
    scores: dict[etree._Element, float] = {}
    for line in lines:
        s = _prose_score(line)
        if not s:
            continue
        el = line.holder
        for share in (1.0, 0.5, 0.25):
            if el is None:
                break
            scores[el] = scores.get(el, 0.0) + s * share
            el = el.getparent()
    if not scores:
        return None
    text_len: dict[etree._Element, list[int]] = {}
    for line in lines:
        el = line.holder
        while el is not None:
            acc = text_len.setdefault(el, [0, 0])
            acc[0] += len(line.text)
            acc[1] += line.link_chars
            el = el.getparent()

    def final(el: etree._Element) -> float:
        total, link = text_len.get(el, [1, 0])
        density = link / total if total else 0.0
        bonus = 1.1 if _LIKELY.search(" ".join(filter(None, (el.get("class"), el.get("id"))))) else 1
        return scores[el] * (1.0 - density) * bonus

    best = max(scores, key=final)
    # Paragraphs and inline wrappers are not containers: broken nesting (unclosed <p>/<font>)
    # can make one look like the best; the article is the block that holds them.
    while best.tag not in _CONTAINER_TAGS and best.getparent() is not None:
        best = best.getparent()
    return best


def _inside(el: etree._Element, container: etree._Element) -> bool:
    while el is not None:
        if el is container:
            return True
        el = el.getparent()
    return False


# ----------------------------------------------------------------------------------------------
# Metadata


def parse_date(text: str) -> str | None:
    m = _DATE_RE.search(text)
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
    for pattern in _URL_DATES:
        m = pattern.search(path)
        if m and (found := _ymd(*m.groups())):
            return found
    return None


def _find_date(
    metas: dict[str, str], lines: list[Line], first_body: int, url: str | None
) -> str | None:
    for name in _DATE_METAS:
        if name in metas and (found := parse_date(metas[name])):
            return found
    # A labelled date line (发布时间: ...) that is not part of a list of other documents.
    for prefer_outside_list in (True, False):
        for line in lines:
            if line.link_chars > 0.5 * len(line.text):
                continue
            if prefer_outside_list and line.in_list:
                continue
            if not any(h in line.text for h in _DATE_HINTS):
                continue
            m = _DATE_LABEL.search(line.text)
            if m and (found := _ymd(*m.groups())):
                return found
    # An unlabelled date in a short line just above the article text.
    for line in lines[max(0, first_body - 8) : first_body]:
        short = len(line.text) <= 80 and not line.in_list and line.link_chars <= len(line.text) / 2
        if short and (found := parse_date(line.text)):
            return found
    if found := date_from_url(url):
        return found
    return None


def clean_title(title: str) -> str:
    """Drop decorations (【精选推荐】, (全文完整)) and site-name suffixes from a title."""
    title = _WS.sub(" ", title).strip()
    parts = [p for p in _TITLE_SEP.split(title) if p and p.strip()]
    if len(parts) > 1:
        # The title is the first substantial part; later parts are site names and columns.
        head = parts[0]
        if len(head) < 6 and max(len(p) for p in parts) >= 6:
            head = max(parts, key=len)
        title = head
    for _ in range(3):
        new = _DECOR.sub("", title).strip()
        if new == title:
            break
        title = new
    return title.strip(" -_|·:：")


def _site_from_title(title: str | None) -> str | None:
    if not title:
        return None
    parts = [p.strip() for p in _TITLE_SEP.split(title) if p and p.strip()]
    for part in reversed(parts[1:]):
        if _SITE_WORDS.search(part) and len(part) <= 20:
            return part
    return None


_BRAND = re.compile(r"site-?_?name|site-?_?title|webname|logo|brand", re.IGNORECASE)


def _site_from_brand(root: etree._Element) -> str | None:
    """The site's name from its header brand: an element named logo/sitename (text or alt)."""
    for el in root.xpath("//*[@class or @id]"):
        attrs = " ".join(filter(None, (el.get("class"), el.get("id"))))
        if not _BRAND.search(attrs):
            continue
        text = _WS.sub(" ", text_content(el)).strip()
        if not text:
            img = next(el.iter("img"), None)
            text = (img.get("alt") or "").strip() if img is not None else ""
        if 2 <= len(text) <= 20 and _CJK_RE.search(text):
            return text
    return None


def _heading_candidates(root: etree._Element) -> list[tuple[int, int, etree._Element, str]]:
    """(priority, document position, element, text) of elements that may hold the title."""
    out = []
    for pos, el in enumerate(root.iter()):
        tag = el.tag if isinstance(el.tag, str) else ""
        cls = " ".join(filter(None, (el.get("class"), el.get("id")))).lower()
        if tag in ("h1", "h2", "h3"):
            priority = {"h1": 0, "h2": 1, "h3": 3}[tag]
        elif ("title" in cls or "biaoti" in cls) and tag in ("div", "p", "span", "td", "strong"):
            priority = 2
        else:
            continue
        text = _WS.sub(" ", text_content(el)).strip()
        if 4 <= len(text) <= 120 and not _END_MARKERS.match(text):
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
        if ranked:
            return min(ranked)[3]
    if container is None:
        return None
    positions = {el: pos for pos, el in enumerate(root.iter())}
    start = positions.get(container, 0)
    before = [c for c in candidates if c[1] < start or _inside(c[2], container)]
    before = [c for c in before if len(c[3]) <= 80 and not _unlikely_ancestor(c[2])]
    if not before:
        return None
    # The nearest heading above the start of the text (h1 preferred when it is close).
    return max(before, key=lambda c: (c[1] if c[1] < start else -1, -c[0]))[3]


def _unlikely_ancestor(el: etree._Element) -> bool:
    while el is not None:
        if isinstance(el.tag, str) and _is_unlikely(el):
            return True
        el = el.getparent()
    return False


def _breadcrumb(lines: list[Line], metas: dict[str, str], title: str | None) -> str | None:
    for key in ("columnname", "column"):
        if key in metas:
            return metas[key]
    for line in lines[:80]:
        text = line.text
        if re.match(r"^(?:当前位置|您的位置|您现在的位置|所在位置|位置)\s*[:：]", text) or (
            re.search(r"[>＞»›]", text) and text.startswith(("首页", "网站首页"))
        ):
            crumbs = [c.strip() for c in re.split(r"\s*(?:>>|>|＞|»|›|/)\s*", text) if c.strip()]
            crumbs = [re.sub(r"^.*?[:：]", "", c) for c in crumbs]
            crumbs = [c for c in crumbs if c and c not in ("正文", "首页", "网站首页")]
            while crumbs and title and (crumbs[-1] in title or title in crumbs[-1]):
                crumbs.pop()  # the article's own title ends some breadcrumbs
            if crumbs:
                return crumbs[-1][:60]
    return None


# ----------------------------------------------------------------------------------------------
# Main entry


def extract(html: str, url: str | None = None) -> Extracted:
    """Extract title, date, site, column and main-text paragraphs from an HTML page."""
    root = parse_html(html)
    metas = _metas(root)
    title_el = root.find(".//title")
    page_title = (
        _WS.sub(" ", text_content(title_el)).strip() if title_el is not None else None
    )
    _clean_tree(root)
    lines = iter_lines(root)
    if not lines:
        raise ExtractError("page has no text")
    container = _pick_container(lines)

    heading = metas.get("articletitle") or _heading_title(root, page_title, container)
    raw_title = heading or metas.get("og:title") or page_title
    title = clean_title(raw_title) if raw_title else None

    body_lines: list[tuple[int, Line]] = []
    if container is not None:
        members = set(container.iter())
        body_lines = [(i, ln) for i, ln in enumerate(lines) if ln.holder in members]
    first_body = body_lines[0][0] if body_lines else len(lines)
    paragraphs = _clean_body([ln for _, ln in body_lines], title)

    list_page = is_list_page(lines, paragraphs) and not (
        "articletitle" in metas or metas.get("og:type", "").lower() == "article"
    )
    site = (
        metas.get("sitename")
        or metas.get("og:site_name")
        or _site_from_brand(root)
        or _site_from_title(page_title)
        or (urlsplit(url).hostname if url else None)
    )
    return Extracted(
        title=title or None,
        published=_find_date(metas, lines, first_body, url),
        site=site,
        column=_breadcrumb(lines, metas, title),
        paragraphs=paragraphs,
        is_list_page=list_page,
        content_source=metas.get("contentsource"),
        attachments=_attachments(container, url) if container is not None else [],
        meta={k: v for k, v in metas.items() if k in _GOV_METAS},
    )


_GOV_METAS = {"sitename", "sitedomain", "columnname", "columntype", "articletitle", "pubdate",
              "contentsource", "keywords", "author", "description"}


def _clean_body(lines: list[Line], title: str | None) -> list[str]:
    out: list[str] = []
    prose_seen = 0
    skip_to = -1
    for i, line in enumerate(lines):
        text = line.text
        if i <= skip_to:
            continue
        if _END_MARKERS.match(text) and prose_seen >= 200:
            break
        if _OUTLINE.match(text):
            # A 目录/提纲 block repeats the headings of the text: skip it to its closing dots.
            for j in range(i + 1, min(i + 40, len(lines))):
                if re.fullmatch(r"[.…·]{2,}", lines[j].text):
                    skip_to = j
                    break
            continue
        if line.in_unlikely and _prose_score(line) == 0:
            continue
        if _BOILERPLATE.search(text) and len(text) < 200:
            continue
        if line.link_chars > 0.6 * len(text) and len(text) < 80:
            continue
        text = _XIAOBIAN.sub("", text).strip()
        if not text:
            continue
        if title and _same_title(text, title):
            continue
        if _DATE_LABEL.match(text) and len(text) < 80:
            continue
        if _SOURCE_LINE.match(text) and len(text) < 60:
            continue
        out.append(text)
        prose_seen += line.cjk
    # The title glued to the first paragraph ("…的讲话刚才,…").
    if out and title and out[0].startswith(title) and len(out[0]) > len(title) + 5:
        out[0] = out[0][len(title):].lstrip(" :：,，")
    return out


def _same_title(text: str, title: str) -> bool:
    if len(text) > len(title) + 20:
        return False
    cleaned = clean_title(text)
    return cleaned == title or (len(title) >= 8 and text.startswith(title) and len(text) < len(title) + 12)


def is_list_page(lines: list[Line], paragraphs: list[str]) -> bool:
    """A list/column page: mostly short linked lines with dates, little prose of its own."""
    prose = sum(len(p) for p in paragraphs if sum(p.count(c) for c in "，。,；") >= 2)
    linked = [ln for ln in lines if ln.link_chars >= 0.6 * len(ln.text) and ln.cjk >= 6]
    return len(linked) >= 15 and prose < 400


def _attachments(container: etree._Element, url: str | None) -> list[str]:
    """Links to PDF/DOC/XLS... files in the article and in the few blocks right after it
    (government pages often list 附件 below the TRS_Editor block)."""
    out: list[str] = []
    blocks = [container]
    sibling = container.getnext()
    while sibling is not None and len(blocks) < 4:
        blocks.append(sibling)
        sibling = sibling.getnext()
    for a in (a for block in blocks for a in block.iter("a")):
        href = (a.get("href") or "").strip()
        if href and _ATTACHMENT.search(href):
            full = urljoin(url, href) if url else href
            if full not in out:
                out.append(full)
    return out

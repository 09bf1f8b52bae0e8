"""Cleaning: from HTML to a clean tree cut into lines, and which lines are clutter.

1. `strip_non_content` drops scripts, styles, comments and noscript blocks from the markup
   (before the page is normalized: they are often most of its bytes).
2. `parse_html` parses with lxml (fast, forgiving); beautifulsoup4 is the fallback parser for
   input lxml refuses. Markup nested deeper than lxml builds (256 elements: 300 unclosed
   ``<font>`` tags) is flattened first (`flatten_markup`), so its text is kept.
3. `clean_tree` drops what readers never see: scripts, styles, form controls, media, <head>
   and hidden elements.
4. `iter_lines` cuts the tree into *lines* at block boundaries and ``<br>``; each line knows the
   element that holds it, how much of it is link text, and whether it stands inside an element
   named like navigation (`is_unlikely`) or inside a list item.
5. Clutter: `is_furniture` (copyright, reprint and disclaimer notices, download links, ICP
   lines, prev/next links, share/comment lines, link-heavy lines, navigation without prose),
   `strip_intro` ("下面是小编为大家整理的…供大家参考"), `is_byline` (date and source lines),
   `is_outline`/`outline_end` (a 目录/提纲 block). `main_extractor` applies them inside the
   article.

The vocabulary is in `archive.text.vocabulary`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lxml import etree

from archive.text.normalize import fold_width, sub_folded
from archive.text.vocabulary import (
    BLOCK_TAGS,
    BOILERPLATE,
    CJK_RE,
    DATE_LABEL,
    DROP_TAGS,
    HIDDEN_XPATH,
    LIKELY,
    LIST_ITEM_TAGS,
    NON_CONTENT,
    OUTLINE,
    OUTLINE_END,
    SENTENCE_MARKS,
    SOURCE_LINE,
    UNLIKELY,
    UNLIKELY_TAGS,
    WS,
    XIAOBIAN,
    XML_DECLARATION,
)


class ExtractError(ValueError):
    """The page has no usable HTML or no text at all."""


@dataclass
class Line:
    text: str
    holder: etree._Element  # element whose text this is
    link_chars: int
    in_unlikely: bool
    in_list: bool

    @property
    def cjk(self) -> int:
        return len(CJK_RE.findall(self.text))


# ----------------------------------------------------------------------------------------------
# Markup and tree


def strip_non_content(html: str) -> str:
    """Drop scripts, styles, comments and noscript blocks (often most of a page's bytes)
    before the page is normalized and parsed. Meta tags and the <title> stay."""
    return NON_CONTENT.sub("", html)


def _parser() -> etree.HTMLParser:
    """A parser of its own per page: its error log tells whether the tree was cut short."""
    return etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)


_PARSER = _parser()


def parse_html(html: str) -> etree._Element:
    """Parse HTML with lxml; fall back to beautifulsoup4's lxml tree builder on odd input.

    lxml (libxml2) stops building the tree 256 elements deep and drops everything below:
    such a page (hundreds of unclosed ``<font>`` tags around the text) is parsed again from
    `flatten_markup`, and if that is still too deep, from its fully flat form, so its text
    survives (and the tree stays shallow enough for `iter_lines`)."""
    html = html.lstrip("\ufeff")
    if not html.strip():
        raise ExtractError("empty page")
    # lxml refuses str input with an XML encoding declaration.
    html = XML_DECLARATION.sub("", html)
    root, too_deep = _parse(html)
    for depth in (FLAT_DEPTH, 0):
        if not too_deep:
            break
        flat = flatten_markup(html, depth)
        root, too_deep = _parse(flat)
        html = flat
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


def _parse(html: str) -> tuple[etree._Element | None, bool]:
    """lxml's tree (None when it makes none) and whether it hit its depth limit."""
    parser = _parser()
    try:
        root = etree.fromstring(html, parser)
    except (etree.XMLSyntaxError, etree.ParserError, ValueError):
        return None, False
    too_deep = any(e.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT or "depth" in e.message
                   for e in parser.error_log)
    return root, too_deep


#: Tags `flatten_markup` drops in deep markup: inline formatting, whose nesting carries nothing
#: the extractor reads (unclosed ``<font>``/``<span>``/``<b>`` tags are what nests pages deep).
INLINE_TAGS = frozenset(
    ["font", "span", "b", "strong", "i", "em", "u", "s", "strike", "small", "big", "tt", "sub",
     "sup", "nobr", "ins", "del", "mark", "abbr", "acronym", "cite", "dfn", "q", "label",
     "code", "kbd", "samp", "var", "bdi", "bdo", "blink", "o:p"]
)
#: Elements without content (never nested).
VOID_TAGS = frozenset(
    ["area", "base", "basefont", "br", "col", "embed", "frame", "hr", "img", "input", "isindex",
     "keygen", "link", "meta", "param", "source", "track", "wbr"]
)
#: Elements the parser keeps at their one place whatever the nesting: always kept.
_FRAME_TAGS = frozenset(["html", "head", "body", "title"])
#: An open element that a start tag of the same name closes, unless one of the containers
#: named here comes first (``<li>`` closes the open ``<li>`` of its own list).
_SIBLING_SCOPE = {
    "li": ("ul", "ol"), "dt": ("dl",), "dd": ("dl",), "tr": ("table",), "td": ("tr", "table"),
    "th": ("tr", "table"), "option": ("select",), "p": ("div", "td", "li", "table"),
}
#: How deep `flatten_markup` lets elements nest (lxml's limit is 256).
FLAT_DEPTH = 200
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:_-]*)([^<>]*)>")
#: ``<div/>``, ``<div class="x" />`` (not ``<a href=/>``): an element closed where it opens.
_SELF_CLOSED = re.compile(r"(?:^|[\s\"'])/\s*$")
#: Attributes that hide an element (as `HIDDEN_XPATH` reads them): such inline elements stay.
_HIDING = re.compile(r"\bhidden\b|display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def flatten_markup(html: str, max_depth: int = FLAT_DEPTH) -> str:
    """Markup that nests at most about `max_depth` elements deep, with all its visible text.

    Inline formatting tags (`INLINE_TAGS`) are dropped, except hidden ones (`clean_tree` drops
    them with their text); any other element that would open deeper than `max_depth`
    (counting elements the way the parser closes them: an end tag closes what opened after its
    start tag, ``<li>`` closes the previous ``<li>``, a block closes an open ``<p>``) loses its
    tags, a block element's becoming ``<br>`` so its lines stay lines, and a hidden one's text
    going with them. ``max_depth=0`` makes the page flat: only ``<br>`` and void elements
    remain. Text and the order of everything else are kept. Linear in the size of the
    markup."""
    return _Flattener(max_depth).run(html)


class _Flattener:
    """One pass of `flatten_markup` over a page's tags, keeping the stack of open elements."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, kept, hidden text) per open element
        self.open_count: dict[str, int] = {}
        self.muted = 0  # open elements whose text goes (hidden, and their tags dropped)

    def run(self, html: str) -> str:
        out: list[str] = []
        position = 0
        for m in _TAG.finditer(html):
            if not self.muted:
                out.append(html[position:m.start()])
            was_muted = self.muted
            replacement = self.tag(m)
            if not (was_muted and self.muted):
                out.append(replacement)
            position = m.end()
        if not self.muted:
            out.append(html[position:])
        return "".join(out)

    def pop_to(self, index: int) -> str:
        """Close the elements from `index` up; what the dropped ones leave behind."""
        left = ""
        while len(self.stack) > index:
            name, kept, mute = self.stack.pop()
            self.open_count[name] -= 1
            self.muted -= mute
            if not kept and name in BLOCK_TAGS:
                left = "<br>"
        return left

    def find(self, name: str, scope: tuple[str, ...] = ()) -> int | None:
        """The index of the innermost open `name` (not beyond a `scope` container)."""
        if not self.open_count.get(name):
            return None
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == name:
                return index
            if self.stack[index][0] in scope:
                return None
        return None

    def tag(self, m: re.Match[str]) -> str:
        """What replaces one tag of the page."""
        closing, name, attrs = m.group(1), m.group(2).lower(), m.group(3)
        if name in _FRAME_TAGS or name in VOID_TAGS or _SELF_CLOSED.search(attrs):
            return m.group(0)
        if closing:
            index = self.find(name)
            if index is None:
                return ""  # a stray end tag, or a dropped inline one
            kept = self.stack[index][1]
            left = self.pop_to(index)
            return left + m.group(0) if kept else left
        hidden = bool(_HIDING.search(attrs))
        if name in INLINE_TAGS and not hidden:
            return ""
        return self.open(m.group(0), name, hidden)

    def open(self, markup: str, name: str, hidden: bool) -> str:
        """A start tag: the elements it implicitly closes, then itself if kept."""
        implied = ""
        if name in _SIBLING_SCOPE:
            index = self.find(name, _SIBLING_SCOPE[name])
            if index is not None:
                implied = self.pop_to(index)
        if name in BLOCK_TAGS and self.stack and self.stack[-1][0] == "p":
            implied = self.pop_to(len(self.stack) - 1) or implied
        kept = len(self.stack) < self.max_depth
        mute = hidden and not kept
        self.stack.append((name, kept, mute))
        self.open_count[name] = self.open_count.get(name, 0) + 1
        if kept:
            return implied + markup
        self.muted += mute
        return "<br>" if name in BLOCK_TAGS else implied


def clean_tree(root: etree._Element) -> None:
    """Drop scripts, styles, form controls, media, <head> and hidden elements (tails kept)."""
    for el in root.xpath(" | ".join(f"//{t}" for t in DROP_TAGS)):
        drop(el)
    for el in root.xpath(HIDDEN_XPATH):
        drop(el)


def drop(el: etree._Element) -> None:
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


def class_and_id(el: etree._Element) -> str:
    """An element's class and id attributes, space-separated ("" when it has neither)."""
    return " ".join(filter(None, (el.get("class"), el.get("id"))))


def is_unlikely(el: etree._Element) -> bool:
    """Navigation, sidebars, footers, comment and share boxes, by tag or class/id name."""
    if el.tag in UNLIKELY_TAGS:
        return True
    attrs = class_and_id(el)
    return _unlikely_attrs(attrs) if attrs else False


@functools.lru_cache(maxsize=4096)
def _unlikely_attrs(attrs: str) -> bool:
    """class/id names of navigation, sidebars, footers, comment and share boxes."""
    return bool(UNLIKELY.search(attrs)) and not LIKELY.search(attrs)


def unlikely_ancestor(el: etree._Element) -> bool:
    """The element or one of its ancestors is navigation-like (`is_unlikely`)."""
    while el is not None:
        if isinstance(el.tag, str) and is_unlikely(el):
            return True
        el = el.getparent()
    return False


# ----------------------------------------------------------------------------------------------
# Lines


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
        text = WS.sub(" ", text)
        if text:
            lines.append(Line(text, holder, min(link, len(text)), unlikely, in_list))

    def walk(
        el: etree._Element, holder: etree._Element, unlikely: bool, in_link: bool, in_list: bool
    ) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        block = tag in BLOCK_TAGS
        if block:
            flush(holder, unlikely, in_list)
            holder = el
            unlikely = unlikely or is_unlikely(el)
            in_list = in_list or tag in LIST_ITEM_TAGS
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


def prose_score(line: Line) -> float:
    """How much a line looks like article prose (0 for navigation-like lines)."""
    if line.in_unlikely:
        return 0.0
    cjk = line.cjk
    if cjk < 8:
        return 0.0
    if line.link_chars > 0.4 * len(line.text):
        return 0.0
    folded = fold_width(line.text)
    marks = sum(folded.count(c) for c in SENTENCE_MARKS)
    if marks == 0 and cjk < 30:
        return 0.0
    return cjk + 10.0 * min(marks, 10)


# ----------------------------------------------------------------------------------------------
# Clutter


def split_anchored(pattern: re.Pattern[str]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A pattern of ``|`` alternatives as two: those anchored with ``^`` (without it: to
    `match`) and the others (to `search`); ``bool(pattern.search(s))`` is
    ``bool(anchored.match(s) or free.search(s))``, several times faster (the anchored ones
    are no longer tried at every position)."""
    if pattern.flags & re.MULTILINE:
        raise ValueError("split_anchored: a MULTILINE pattern anchors at every line")
    alternatives, depth, in_class, current, i = [], 0, False, "", 0
    text = pattern.pattern
    while i < len(text):
        char = text[i]
        if char == "\\":
            current += text[i : i + 2]
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif char == "|" and depth == 0:
            alternatives.append(current)
            current, i = "", i + 1
            continue
        current += char
        i += 1
    alternatives.append(current)
    anchored = [a[1:] for a in alternatives if a.startswith("^")]
    free = [a for a in alternatives if not a.startswith("^")]
    never = r"(?!x)x"  # matches nothing (a side without alternatives)
    return (re.compile("|".join(anchored) or never, pattern.flags),
            re.compile("|".join(free) or never, pattern.flags))


_BOILERPLATE_AT_START, _BOILERPLATE_ANYWHERE = split_anchored(BOILERPLATE)


def is_furniture(line: Line) -> bool:
    """Site furniture: navigation without prose, notices (copyright, ICP, reprint, download,
    prev/next, share, comments), short link-heavy lines."""
    text = line.text
    if line.in_unlikely and prose_score(line) == 0:
        return True
    if len(text) < 200:
        folded = fold_width(text)  # BOILERPLATE, in two parts
        if _BOILERPLATE_AT_START.match(folded) or _BOILERPLATE_ANYWHERE.search(folded):
            return True
    return line.link_chars > 0.6 * len(text) and len(text) < 80


def strip_intro(text: str) -> str:
    """Drop a "下面是小编为大家整理的…供大家参考" intro from a line."""
    return sub_folded(XIAOBIAN, text).strip()


def is_byline(text: str) -> bool:
    """A short date line (发布时间: ...) or source/author line above the text."""
    if DATE_LABEL.match(fold_width(text)) and len(text) < 80:
        return True
    return bool(SOURCE_LINE.match(fold_width(text))) and len(text) < 60


def is_outline(text: str) -> bool:
    """A 目录/提纲 heading: the block under it repeats the headings of the text."""
    return bool(OUTLINE.match(fold_width(text)))


def outline_end(lines: list[Line], start: int) -> int | None:
    """The index of the dots that close the 目录/提纲 block opened by ``lines[start]`` (None
    when there are none within 40 lines)."""
    for j in range(start + 1, min(start + 40, len(lines))):
        if OUTLINE_END.fullmatch(fold_width(lines[j].text)):
            return j
    return None

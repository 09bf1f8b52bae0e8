"""Main text: which element holds the article, and which of its lines are the article.

A readability-style scorer tuned for Chinese pages, over the lines of `htmlprocessing`:

1. Lines that read like prose (enough CJK characters, sentence punctuation, little link text,
   not inside an element named like nav/footer/sidebar/comment/hot/related) give points to the
   element holding them, half to its parent and a quarter to its grandparent; the best element,
   discounted by its link density (and favoured when named like an article), is the article
   container (`pick_container`).
2. Inside it, site furniture, intros, bylines, the repeated title and 目录/提纲 blocks are
   dropped; a marker such as 相关文章 / 热门文档 after enough prose ends the article
   (`article_paragraphs`).
3. A page of mostly short linked lines with little prose of its own is a list page
   (`is_list_page`).
"""

from __future__ import annotations

from lxml import etree

from archive.text.htmlprocessing import (
    Line,
    class_and_id,
    is_byline,
    is_furniture,
    is_outline,
    outline_end,
    prose_score,
    strip_intro,
)
from archive.text.metadata import same_title
from archive.text.normalize import fold_width
from archive.text.tables import PARAGRAPH, TABLE, Block, Rows, table_owner
from archive.text.vocabulary import CONTAINER_TAGS, END_MARKERS, LIKELY, LIST_PROSE_MARKS


def pick_container(lines: list[Line]) -> etree._Element | None:
    """The element holding the article (None when no line reads like prose)."""
    scores = _prose_scores(lines)
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
        bonus = 1.1 if LIKELY.search(class_and_id(el)) else 1
        return scores[el] * (1.0 - density) * bonus

    best = max(scores, key=final)
    # Paragraphs and inline wrappers are not containers: broken nesting (unclosed <p>/<font>)
    # can make one look like the best; the article is the block that holds them.
    while best.tag not in CONTAINER_TAGS and best.getparent() is not None:
        best = best.getparent()
    return best


def _prose_scores(lines: list[Line]) -> dict[etree._Element, float]:
    """Each prose line's score, to its holder, half to the parent, a quarter to the grandparent."""
    scores: dict[etree._Element, float] = {}
    for line in lines:
        s = prose_score(line)
        if not s:
            continue
        el = line.holder
        for share in (1.0, 0.5, 0.25):
            if el is None:
                break
            scores[el] = scores.get(el, 0.0) + s * share
            el = el.getparent()
    return scores


def body_lines(lines: list[Line], container: etree._Element | None) -> tuple[int, list[Line]]:
    """The lines inside the container, and the index of the first (len(lines) when none)."""
    if container is None:
        return len(lines), []
    members = set(container.iter())
    inside = [(i, ln) for i, ln in enumerate(lines) if ln.holder in members]
    first = inside[0][0] if inside else len(lines)
    return first, [ln for _, ln in inside]


def article_paragraphs(lines: list[Line], title: str | None) -> list[str]:
    """The article's paragraphs among the container's lines (see the module doc)."""
    return [b["text"] for b in article_blocks(lines, title, {})]


def article_blocks(lines: list[Line], title: str | None, tables: dict[etree._Element, Rows],
                   skip: frozenset[etree._Element] | set[etree._Element] = frozenset(),
                   ) -> list[Block]:
    """The article's blocks among the container's lines: paragraphs (see the module doc) and,
    where the lines of one of the data `tables` begin, that table (its lines are not
    paragraphs). Lines held by an element of `skip` (metadata tables) are left out."""
    out: list[Block] = []
    prose_seen = 0
    skip_to = -1
    owner = table_owner(tables)
    pending = dict(tables)
    for i, line in enumerate(lines):
        text = line.text
        if i <= skip_to or line.holder in skip:
            continue
        table = owner.get(line.holder)
        if table is not None:
            if table in pending:
                out.append({"type": TABLE, "rows": pending.pop(table)})
            continue
        if END_MARKERS.match(fold_width(text)) and prose_seen >= 200:
            break
        if is_outline(text):
            # A 目录/提纲 block repeats the headings of the text: skip it to its closing dots.
            end = outline_end(lines, i)
            if end is not None:
                skip_to = end
            continue
        if is_furniture(line):
            continue
        text = strip_intro(text)
        if not text or (title and same_title(text, title)) or is_byline(text):
            continue
        out.append({"type": PARAGRAPH, "text": text})
        prose_seen += line.cjk
    # The title glued to the first paragraph ("…的讲话刚才,…").
    first = out[0] if out else None
    if first and first["type"] == PARAGRAPH and title:
        text = first["text"]
        if text.startswith(title) and len(text) > len(title) + 5:
            first["text"] = text[len(title):].lstrip(" :：,，")
    return out


def is_list_page(lines: list[Line], paragraphs: list[str]) -> bool:
    """A list/column page: mostly short linked lines with dates, little prose of its own."""
    prose = sum(len(p) for p in paragraphs if sum(fold_width(p).count(c) for c in LIST_PROSE_MARKS) >= 2)
    linked = [ln for ln in lines if ln.link_chars >= 0.6 * len(ln.text) and ln.cjk >= 6]
    return len(linked) >= 15 and prose < 400

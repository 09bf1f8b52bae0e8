"""HTML -> title, date, site, column, attachments and main-text paragraphs: the extract stage.

The input is a page already passed through `strip_non_content` and `normalize_markup`
(simplified script, NFKC, no pinyin annotations; see `archive.page_processing`), so the vocabulary
(`archive.text.vocabulary`) is simplified only. `extract` runs the stages, split like
trafilatura's:

* `archive.text.htmlprocessing`: parsing, cleaning the tree, cutting it into lines, clutter;
* `archive.text.main_extractor`: the article container and the article's paragraphs;
* `archive.text.metadata`: title, date, site, column, attachments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archive.text.htmlprocessing import (
    ExtractError,
    clean_tree,
    iter_lines,
    parse_html,
    strip_non_content,
)
from archive.text.main_extractor import article_blocks, body_lines, is_list_page, pick_container
from archive.text.metadata import (
    clean_title,
    declares_article,
    find_attachments,
    find_column,
    find_date,
    find_site,
    find_title,
    gov_metas,
    parse_date,
    read_metas,
    title_tag,
)
from archive.text.official import Official, find_official
from archive.text.tables import (
    PARAGRAPH,
    Block,
    data_tables,
    metadata_table_elements,
    outside_data_table,
    table_lines,
)
from archive.text.vocabulary import CONTENT_SOURCE_META

__all__ = ["ExtractError", "Extracted", "clean_title", "extract", "parse_date",
           "strip_non_content"]


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
    #: The article as blocks (paragraphs and data tables, `archive.text.tables`); `paragraphs`
    #: is the same as lines (a table as tab-separated rows).
    blocks: list[Block] = field(default_factory=list)
    official: Official = field(default_factory=Official)


def extract(html: str, url: str | None = None) -> Extracted:
    """Extract title, date, site, column and main-text paragraphs from an HTML page.

    Raises ExtractError when the page cannot be parsed or has no text at all.
    """
    root = parse_html(html)
    metas = read_metas(root)  # before cleaning: <head> goes
    page_title = title_tag(root)
    clean_tree(root)
    lines = iter_lines(root)
    if not lines:
        raise ExtractError("page has no text")
    container = outside_data_table(pick_container(lines))
    title = find_title(root, metas, page_title, container)
    first_body, inside = body_lines(lines, container)
    blocks = article_blocks(inside, title, data_tables(container), metadata_table_elements(root))
    paragraphs = block_lines(blocks)
    official = find_official([ln.text for ln in lines], paragraphs)
    return Extracted(
        title=title,
        # A 信息公开 table's 发布日期 is the visible date (its label and value cells are lines
        # of their own, which `find_date` does not pair).
        published=official.published or find_date(metas, lines, first_body, url),
        site=find_site(root, metas, page_title, url),
        column=find_column(lines, metas, title),
        paragraphs=paragraphs,
        is_list_page=is_list_page(lines, paragraphs) and not declares_article(metas),
        content_source=metas.get(CONTENT_SOURCE_META),
        attachments=find_attachments(container, url),
        meta=gov_metas(metas),
        blocks=blocks,
        official=official,
    )


def block_lines(blocks: list[Block]) -> list[str]:
    """Blocks as lines of text: a paragraph's text, a table's tab-separated rows."""
    out: list[str] = []
    for block in blocks:
        if block["type"] == PARAGRAPH:
            out.append(block["text"])
        else:
            out += table_lines(block["rows"])
    return out

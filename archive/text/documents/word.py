"""DOCX -> paragraphs and table rows in document order, with python-docx."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree

from archive.text.documents.common import (
    MAX_ROWS,
    DocumentError,
    DocumentText,
    clean_cell,
    pick_title,
    table_row,
)

_HEADING_STYLES = ("title", "heading 1", "标题", "标题 1")


def extract(data: bytes) -> DocumentText:
    try:
        document = docx.Document(io.BytesIO(data))
        paragraphs, heading = _body(document)
        meta_title = document.core_properties.title
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, etree.XMLSyntaxError,
            ValueError, OSError) as exc:
        raise DocumentError(f"damaged DOCX file ({type(exc).__name__}: {exc})"[:200]) from exc
    title = pick_title(meta_title, [heading] if heading else paragraphs)
    return DocumentText("docx", title, paragraphs)


def _body(document: Any) -> tuple[list[str], str | None]:
    """The body's paragraphs and table rows in document order, and its first heading."""
    out: list[str] = []
    heading: str | None = None
    for block in _blocks(document):
        if isinstance(block, Paragraph):
            text = block.text.strip()
            if not text:
                continue
            if not out:  # the first text: a heading? (a style lookup is slow: only here)
                style = (block.style.name if block.style is not None else "") or ""
                if style.lower().startswith(_HEADING_STYLES):
                    heading = text
            out.append(text)
        else:
            out.extend(_rows(block))
        if len(out) > MAX_ROWS:
            break
    return out, heading


def _blocks(document: Any) -> Iterator[Paragraph | Table]:
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            yield Paragraph(child, document)
        elif tag == "tbl":
            yield Table(child, document)


def _rows(table: Table) -> Iterator[str]:
    """Each row as tab-separated cells; a merged cell (the same cell repeated) once; a
    nested table's rows follow its cell's text."""
    for row in table.rows:
        seen: set[int] = set()
        cells: list[str] = []
        nested: list[Table] = []
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(clean_cell(" ".join(p.text for p in cell.paragraphs)))
            nested.extend(cell.tables)
        line = table_row(cells)
        if line.strip():
            yield line
        for inner in nested:
            yield from _rows(inner)

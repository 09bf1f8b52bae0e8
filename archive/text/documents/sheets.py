"""XLSX / XLS / ET -> one heading per sheet, then its rows (cells tab-separated), with
python-calamine (a Rust reader: fast, bounded memory, reads BIFF .xls and Kingsoft .et too)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from python_calamine import CalamineWorkbook

from archive.text.documents.common import (
    MAX_ROWS,
    DocumentError,
    DocumentText,
    clean_cell,
    pick_title,
    table_row,
)


def extract(data: bytes, fmt: str) -> DocumentText:
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        paragraphs: list[str] = []
        first_rows: list[str] = []
        for name in book.sheet_names:
            rows = _rows(book.get_sheet_by_name(name).to_python(skip_empty_area=True))
            if not rows:
                continue
            first_rows = first_rows or rows
            if len(book.sheet_names) > 1:
                paragraphs.append(name.strip())
            paragraphs.extend(rows)
            if len(paragraphs) > MAX_ROWS:
                break
    except Exception as exc:  # calamine raises its own error types for damaged files
        if isinstance(exc, DocumentError):
            raise
        raise DocumentError(f"damaged spreadsheet ({type(exc).__name__}: {exc})"[:200]) from exc
    return DocumentText(fmt, pick_title(None, first_rows), paragraphs)


def _rows(values: Sequence[Sequence[object]]) -> list[str]:
    out = []
    for row in values[:MAX_ROWS]:
        line = table_row([clean_cell(v) for v in row])
        if line.strip():
            out.append(line)
    return out

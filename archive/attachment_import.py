"""`hra import` of attachment files (PDF, DOCX, DOC, WPS, RTF, XLSX, XLS, ET): each file its
own document (``parent`` null), its bytes archived like a page's.

Called by `archive.importer` for files with these extensions or whose bytes are a document
(`archive.text.documents.sniff_format`); the text pipeline is
`archive.page_processing.process_document`. A file the user names is archived even when its
text does not read as a health report (flagged, as ``--all`` would): it was chosen.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from archive.page_processing import MAX_DOCUMENT_BYTES, PageError, process_page
from archive.record import Record
from archive.store import Store
from archive.text.documents import DOCUMENT_FORMATS, sniff_format
from archive.text.documents.legacy import INSTALL_HINT

#: File extensions imported as attachments (a directory import picks these up too).
DOCUMENT_SUFFIXES = tuple(f".{fmt}" for fmt in DOCUMENT_FORMATS)


def max_document_bytes() -> int:
    """The size limit of one attachment: ``HRA_ATTACHMENT_MAXSIZE`` (bytes) or 50 MiB."""
    value = os.environ.get("HRA_ATTACHMENT_MAXSIZE", "")
    return int(value) if value.isdigit() and int(value) > 0 else MAX_DOCUMENT_BYTES


def is_document_file(path: Path) -> bool:
    """An attachment by its extension, or by its first bytes (a .pdf saved as .bin)."""
    if path.suffix.lower() in DOCUMENT_SUFFIXES:
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(2048)
    except OSError:
        return False
    return sniff_format(head, path.name) in ("pdf", "rtf")


def import_document_file(store: Store, path: Path,
                         note: Callable[[str], None] | None = None) -> str:
    """Import one attachment file; returns the outcome ("new", "changed", "unchanged",
    "skipped:<kind>"); raises PageError/OSError with a one-line message. `note` hears what to
    install when the file was archived without its text (no converter for .doc)."""
    size = path.stat().st_size
    limit = max_document_bytes()
    if size > limit:
        raise PageError(f"file too large ({size / 2**20:.0f} MiB > {limit / 2**20:.0f} MiB "
                        "limit, HRA_ATTACHMENT_MAXSIZE)")
    data = path.read_bytes()
    url = path.resolve().as_uri()
    fetched_at = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(
        microsecond=0).isoformat()
    result = process_page(data, url, fetched_at=fetched_at, max_document_bytes=limit)
    if result.record is None:
        if result.encoding not in DOCUMENT_FORMATS:  # e.g. an error page saved as .pdf
            raise PageError(f"not a {path.suffix[1:].upper()} file: a web page without an "
                            "article (an error page?)")
        return f"skipped:{result.kind}"
    if note is not None and "unextracted" in result.record.flags:
        note(f"{path.suffix} files archived without their text: {INSTALL_HINT}")
    return store.save_page(url=url, body=data, record=result.record, fetched_at=fetched_at)


def attach_to_parent(store: Store, record: Record, parent: str | None) -> Record:
    """An attachment's record with its parent page's id when that page is archived (a short
    notice without a record of its own is not), and the parent's date, site, column and region
    where the attachment has none of its own."""
    page = store.get(parent) if parent else None
    if page is None:
        return record
    changes: dict[str, object] = {"parent": page.id, "site": record.site or page.site,
                                  "column": record.column or page.column,
                                  "published": record.published or page.published}
    if not record.region and page.region:
        changes.update(region=page.region, region_province=page.region_province,
                       region_city=page.region_city, region_county=page.region_county)
    return replace(record, **changes)  # type: ignore[arg-type]

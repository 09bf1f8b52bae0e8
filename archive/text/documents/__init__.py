"""Attachments (PDF, Word, WPS, Excel) -> title and paragraphs: bytes in, text out.

`sniff_format` names a file's format from its bytes (not from its name: a server may send an
HTML error page as ``.pdf``, or an RTF file as ``.doc``); `extract_document` reads one file:

* ``pdf``: pypdfium2 (chosen by measurement over pdfminer.six, see README "Attachments"),
  line breaks of the layout joined into paragraphs; a PDF without a text layer (a scan) gets
  the flag ``no_text`` (no OCR);
* ``docx``: python-docx, paragraphs and tables in document order;
* ``doc``, ``wps``, ``rtf``: converted to DOCX by LibreOffice headless when installed, else
  read by antiword / catdoc; with none of them the document gets the flag ``unextracted``;
* ``xlsx``, ``xls``, ``et``: python-calamine, each sheet its name then its rows.

Table rows become one line each, cells separated by a tab. No database, no Scrapy: the crawl,
the importer and ``hra reprocess`` call this through `archive.page_processing`.
"""

from __future__ import annotations

import io
import zipfile

from archive.text.documents.common import (
    DOCUMENT_FORMATS,
    DocumentError,
    DocumentText,
    check_zip,
    file_extension,
)

__all__ = ["DOCUMENT_FORMATS", "DocumentError", "DocumentText", "extract_document",
           "looks_like_document", "sniff_format"]

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def sniff_format(data: bytes, name: str | None = None) -> str | None:
    """The document format of `data` (one of `DOCUMENT_FORMATS`), "html" for markup, or None
    for anything else (images, archives, OFD). `name` (a file name or URL) only tells apart
    formats that share a container: .wps from .doc, .et from .xls."""
    head = data[:1024]
    container = _container(head)
    if container == "zip":
        return _zip_format(data)
    if container == "ole":
        return _ole_format(data, file_extension(name))
    if container is not None:
        return container  # pdf, rtf
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith(b"<"):
        return "html"
    return None


def looks_like_document(head: bytes) -> bool:
    """Whether the first bytes of a file (1 KiB is enough) are those of a report file
    `sniff_format` reads: PDF, ZIP (docx, xlsx), OLE (doc, wps, xls, et) or RTF; for a reader
    that must decide before reading the whole body."""
    return _container(head[:1024]) is not None


def _container(head: bytes) -> str | None:
    """"pdf", "zip", "ole" or "rtf" from a file's first bytes, else None."""
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(_OLE):
        return "ole"
    if head.lstrip().startswith(b"{\\rtf"):
        return "rtf"
    return None


def _zip_format(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        # A truncated file: its central directory is gone, its local headers still name parts.
        head = data[:65536]
        if b"word/" in head:
            return "docx"
        if b"xl/" in head:
            return "xlsx"
        return None
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    return None


def _ole_format(data: bytes, ext: str) -> str | None:
    """Word, WPS and Excel binaries share the OLE container; its stream names tell them apart
    (UTF-16 in the directory), the extension tells WPS/ET from Word/Excel."""
    if "WordDocument".encode("utf-16-le") in data:
        return "wps" if ext == "wps" else "doc"
    if any(s.encode("utf-16-le") in data for s in ("Workbook", "Book")):
        return "et" if ext == "et" else "xls"
    return {"doc": "doc", "wps": "wps", "xls": "xls", "et": "et"}.get(ext)


def extract_document(data: bytes, fmt: str, *, timeout: float = 120.0) -> DocumentText:
    """Read a document of format `fmt` (from `sniff_format`). Raises `DocumentError` (one line)
    for a file that cannot be read: encrypted, damaged, a zip bomb."""
    if fmt == "pdf":
        from archive.text.documents import pdf

        return pdf.extract(data)
    if fmt == "docx":
        from archive.text.documents import word

        check_zip(data)
        return word.extract(data)
    if fmt in ("xlsx", "xls", "et"):
        from archive.text.documents import sheets

        if fmt == "xlsx":
            check_zip(data)
        return sheets.extract(data, fmt)
    if fmt in ("doc", "wps", "rtf"):
        from archive.text.documents import legacy

        return legacy.extract(data, fmt, timeout=timeout)
    raise DocumentError(f"not a document format hra reads ({fmt})")

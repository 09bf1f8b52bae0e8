"""Where a page becomes a record: bytes -> decode -> extract -> normalize -> truncation -> classify.

Plain functions, no I/O: the importer, the crawler's item pipeline and `hra reprocess` all call
`process_page` and store what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive.record import Record
from archive.text import classify
from archive.text.decode import decode_html
from archive.text.extract import ExtractError, extract, strip_non_content
from archive.text.normalize import normalize_line, normalize_markup, source_script
from archive.text.region import detect_region
from archive.text.truncation import strip_truncation
from archive.urls import doc_id

#: Pages larger than this are refused (a report page is well under 1 MB).
MAX_PAGE_BYTES = 20 * 1024 * 1024
#: Articles shorter than this (after cleaning) are not reports.
MIN_TEXT_CHARS = 80


class PageError(ValueError):
    """A page that cannot become a record; the message is one line for the user."""


@dataclass
class PageResult:
    """What the pipeline made of a page: a record, or why there is none."""

    record: Record | None
    kind: str  # "report", "off-topic", "list", "empty"
    encoding: str


def process_page(
    data: bytes,
    url: str,
    *,
    http_charset: str | None = None,
    fetched_at: str | None = None,
) -> PageResult:
    """Turn fetched bytes into a Record (or say why not). Raises PageError on unusable input."""
    if not data or not data.strip():
        raise PageError("empty page")
    if len(data) > MAX_PAGE_BYTES:
        raise PageError(
            f"page too large ({len(data) / 1e6:.1f} MB > {MAX_PAGE_BYTES / 1e6:.0f} MB limit)"
        )
    if _looks_binary(data):
        raise PageError("not an HTML page (binary content)")
    decoded = decode_html(data, http_charset)
    script = source_script(decoded.text)
    try:
        # The whole page is normalized first (simplified script, no pinyin annotations), so
        # the extractor's vocabulary is simplified only and its output is already clean.
        page = extract(normalize_markup(strip_non_content(decoded.text)), url)
    except ExtractError as exc:
        raise PageError(str(exc)) from exc

    paragraphs = [p for p in (normalize_line(p) for p in page.paragraphs) if p]
    cut = strip_truncation(paragraphs)
    text = "\n".join(cut.paragraphs)
    # Entities (&egrave;) are decoded only by the parser: normalize the short fields again.
    title = normalize_line(page.title) if page.title else None
    if page.is_list_page:
        return PageResult(None, "list", decoded.encoding)
    if len(text) < MIN_TEXT_CHARS:
        return PageResult(None, "empty", decoded.encoding)

    region = detect_region(title or "", text)
    health = classify.is_health_report(title or "", text)
    record = Record(
        id=doc_id(url),
        url=url,
        title=title,
        published=page.published,
        year=classify.report_year(title or "", text),
        site=normalize_line(page.site) if page.site else None,
        column=normalize_line(page.column) if page.column else None,
        region=str(region) if region else None,
        doc_type=classify.doc_type(title or "", text, health),
        text=text,
        truncated=cut.truncated,
        full_length=cut.full_length,
        placeholders=classify.has_placeholders(text) or classify.has_placeholders(title or ""),
        mojibake=not decoded.clean or classify.has_mojibake(text),
        source_script=script,
        is_health_report=health,
        fetched_at=fetched_at,
        region_province=region.province if region else None,
        region_city=region.city if region else None,
        region_county=region.county if region else None,
        attachments=page.attachments,
        content_source=page.content_source,
    )
    return PageResult(record, "report" if record.is_health_report else "off-topic",
                      decoded.encoding)


def _looks_binary(data: bytes) -> bool:
    head = data[:4096]
    if head.startswith((b"%PDF", b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"\x89PNG", b"\xff\xd8\xff",
                        b"GIF8", b"\x1f\x8b")):
        return True
    # UTF-16 pages carry NULs legitimately (with a BOM); other NUL-heavy input is binary.
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    return head.count(b"\x00") > 8

"""Where a page becomes a record: the one way through the text pipeline.

`process_page` runs the stages of `archive.text` in this order::

    bytes -> checks (empty, size, binary) -> decode -> select (a source's CSS selectors, when
    given) -> strip scripts/styles/comments -> normalize (the whole markup: NFC, full-width letters/digits, pinyin
    annotations, t2s) -> extract (parse, clean, container, paragraphs, metadata) -> normalize
    (each paragraph and the short fields) -> truncation -> classify (list/empty, region,
    health report, type, year, flags) -> Record

Plain functions, no I/O: the importer, the crawl (in its worker processes) and `hra reprocess`
all call `process_page`, with the same `ExtractOptions` for a page of a source that has
selectors, and store what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from archive.record import Record
from archive.text import classify
from archive.text.decode import Decoded, decode_html, looks_binary
from archive.text.extract import Extracted, ExtractError, block_lines, extract, strip_non_content
from archive.text.metadata import clean_title, parse_date
from archive.text.normalize import fold_width, normalize_line, normalize_markup, source_script
from archive.text.region import detect_region
from archive.text.selectors import ExtractOptions, Selection, select
from archive.text.tables import PARAGRAPH, TABLE, Block
from archive.text.truncation import TruncationResult, strip_truncation
from archive.urls import doc_id

__all__ = ["MAX_PAGE_BYTES", "MIN_TEXT_CHARS", "ExtractOptions", "PageError", "PageResult",
           "process_page"]

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
    encoding: str  # the codec the bytes were decoded with
    missing_selectors: list[str] = field(default_factory=list)  # options that matched nothing


def process_page(
    data: bytes,
    url: str,
    *,
    http_charset: str | None = None,
    fetched_at: str | None = None,
    options: ExtractOptions | None = None,
) -> PageResult:
    """Turn fetched bytes into a Record, or say why there is none.

    `url` is the page's address (the record's id is derived from it); `http_charset` the
    charset of the HTTP Content-Type header, if any; `fetched_at` is stored on the record;
    `options` are a crawl source's own CSS selectors (`archive.text.selectors`). The page is
    decoded once; the stages run in the order of the module doc.

    Returns a `PageResult`: kind "report" or "off-topic" with a record, "list" or "empty"
    without one; `missing_selectors` names the options that matched nothing (the automatic
    extraction was used for them). Raises `PageError` (one line) for unusable input: empty,
    too large, binary, unparseable or without any text.
    """
    _refuse_unusable(data)
    decoded = decode_html(data, http_charset)
    chosen = select(decoded.text, options) if options else None
    html = chosen.html if chosen else decoded.text
    script = source_script(html)
    try:
        # The whole page is normalized first (simplified script, no pinyin annotations), so
        # the extractor's vocabulary is simplified only and its output is already clean.
        page = extract(normalize_markup(strip_non_content(html)), url)
    except ExtractError as exc:
        raise PageError(str(exc)) from exc
    result = _result(page, url, decoded, script, fetched_at)
    if chosen is None or options is None:
        return result
    return _apply_selection(result, options, chosen)


def _refuse_unusable(data: bytes) -> None:
    if not data or not data.strip():
        raise PageError("empty page")
    if len(data) > MAX_PAGE_BYTES:
        raise PageError(
            f"page too large ({len(data) / 2**20:.1f} MiB > {MAX_PAGE_BYTES / 2**20:.0f} MiB limit)"
        )
    if looks_binary(data):
        raise PageError("not an HTML page (binary content)")


def _result(page: Extracted, url: str, decoded: Decoded, script: str,
            fetched_at: str | None) -> PageResult:
    """Normalize the extracted paragraphs, cut truncation notices, then classify."""
    blocks = normalize_blocks(page.blocks)
    paragraphs = block_lines(blocks)
    cut = strip_truncation(paragraphs)
    text = "\n".join(cut.paragraphs)
    # A truncation notice cut the lines: the tables no longer match them, the text is kept.
    has_tables = any(b["type"] == TABLE for b in blocks) and cut.paragraphs == paragraphs
    if page.is_list_page:
        return PageResult(None, "list", decoded.encoding)
    if len(text) < MIN_TEXT_CHARS:
        return PageResult(None, "empty", decoded.encoding)
    record = _record(page, url, text, cut, mojibake=not decoded.clean, script=script,
                     fetched_at=fetched_at)
    record.blocks = blocks if has_tables else None
    return PageResult(record, "report" if record.is_health_report else "off-topic",
                      decoded.encoding)


def _record(page: Extracted, url: str, text: str, cut: TruncationResult, *, mojibake: bool,
            script: str, fetched_at: str | None) -> Record:
    """The classify stage: the Record of an article's text and metadata."""
    # Entities (&egrave;) are decoded only by the parser: normalize the short fields again.
    title = normalize_line(page.title) if page.title else None
    # The matchers were written for ASCII punctuation: they read a width-folded copy.
    f_title, f_text = fold_width(title or ""), fold_width(text)
    region = detect_region(f_title, f_text)
    health = classify.is_health_report(f_title, f_text)
    return Record(
        id=doc_id(url),
        url=url,
        title=title,
        published=page.published,
        year=classify.report_year(f_title, f_text),
        site=normalize_line(page.site) if page.site else None,
        column=normalize_line(page.column) if page.column else None,
        region=str(region) if region else None,
        doc_type=classify.doc_type(f_title, f_text, health),
        text=text,
        truncated=cut.truncated,
        full_length=cut.full_length,
        placeholders=classify.has_placeholders(f_text) or classify.has_placeholders(f_title),
        mojibake=mojibake or classify.has_mojibake(f_text),
        source_script=script,
        is_health_report=health,
        fetched_at=fetched_at,
        region_province=region.province if region else None,
        region_city=region.city if region else None,
        region_county=region.county if region else None,
        attachments=page.attachments,
        content_source=page.content_source,
        issuer=normalize_line(page.official.issuer) if page.official.issuer else None,
        doc_number=page.official.doc_number,
        written=page.official.written,
    )


def normalize_blocks(blocks: list[Block]) -> list[Block]:
    """Each paragraph and each table cell normalized (`normalize_line`); paragraphs and table
    rows left empty by it are dropped, and tables left without rows."""
    out: list[Block] = []
    for block in blocks:
        if block["type"] == TABLE:
            rows = [[normalize_line(c) for c in row] for row in block["rows"]]
            rows = [row for row in rows if any(row)]
            if rows:
                out.append({"type": TABLE, "rows": rows})
        elif text := normalize_line(block["text"]):
            out.append({"type": PARAGRAPH, "text": text})
    return out


def _apply_selection(result: PageResult, options: ExtractOptions,
                     chosen: Selection) -> PageResult:
    """The title and date selectors' text replaces the extracted title and date of a record
    (classification has used the extracted ones); selectors that matched nothing are named."""
    missing = list(chosen.missing)
    record = result.record
    if record is not None and options.title:
        if chosen.title:
            record = replace(record, title=normalize_line(clean_title(chosen.title)))
        else:
            missing.append("title")
    if record is not None and options.date:
        published = parse_date(chosen.date) if chosen.date else None
        if published:
            record = replace(record, published=published)
        else:
            missing.append("date")
    return PageResult(record, result.kind, result.encoding, missing)

"""Where a page becomes a record: the one way through the text pipeline.

`process_page` runs the stages of `archive.text` in this order::

    bytes -> checks (empty, size, binary) -> decode -> select (a source's CSS selectors, when
    given) -> strip scripts/styles/comments -> normalize (the whole markup: NFC, full-width letters/digits, pinyin
    annotations, t2s) -> extract (parse, clean, container, paragraphs, metadata) -> normalize
    (each paragraph and the short fields) -> truncation -> classify (list/empty, region,
    health report, type, year, flags) -> Record

An attachment (PDF, Word, WPS, Excel: recognised by its bytes, `sniff_format`) takes the same
way from its paragraphs on: ``bytes -> extract_document (archive.text.documents) -> normalize
-> truncation -> classify -> Record`` with its ``format`` and ``flags``; a title of its own
(metadata, first heading), else the link text it was found under (`title_hint`), else its file
name. A file without a text layer or without a converter installed still becomes a record,
flagged, with no text.

Plain functions, no I/O (converting a .doc runs LibreOffice on temporary files): the importer, the crawl (in its worker processes) and `hra reprocess`
all call `process_page`, with the same `ExtractOptions` for a page of a source that has
selectors, and store what it returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit

from archive.record import Record
from archive.text import classify
from archive.text.decode import decode_html, looks_binary
from archive.text.documents import DOCUMENT_FORMATS, DocumentError, extract_document, sniff_format
from archive.text.documents.common import file_extension
from archive.text.extract import Extracted, ExtractError, block_lines, extract, strip_non_content
from archive.text.metadata import clean_title, parse_date
from archive.text.normalize import fold_width, normalize_line, normalize_markup, source_script
from archive.text.region import detect_region
from archive.text.selectors import ExtractOptions, Selection, select
from archive.text.tables import PARAGRAPH, TABLE, Block, blocks_from_lines
from archive.text.truncation import TruncationResult, strip_truncation
from archive.urls import doc_id

__all__ = ["MAX_PAGE_BYTES", "MIN_TEXT_CHARS", "ExtractOptions", "PageError", "PageResult",
           "process_page"]

#: Pages larger than this are refused (a report page is well under 1 MB).
MAX_PAGE_BYTES = 20 * 1024 * 1024
#: Attachments larger than this are refused (``HRA_ATTACHMENT_MAXSIZE`` for the crawl and import).
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
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
    #: the page's attachment links (also of a page without a record: a short notice)
    attachments: list[str] = field(default_factory=list)


def process_page(
    data: bytes,
    url: str,
    *,
    http_charset: str | None = None,
    fetched_at: str | None = None,
    options: ExtractOptions | None = None,
    title_hint: str | None = None,
    max_document_bytes: int = MAX_DOCUMENT_BYTES,
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

    Bytes of an attachment format go `process_document`'s way (`title_hint`: the link text it
    was found under; `max_document_bytes`: its size limit).
    """
    fmt = sniff_format(data, url)
    if fmt in DOCUMENT_FORMATS:
        return process_document(data, url, fmt, fetched_at=fetched_at, title_hint=title_hint,
                                max_bytes=max_document_bytes)
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
    result = _result(page, url, decoded.encoding, not decoded.clean, script, fetched_at)
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


def _result(page: Extracted, url: str, encoding: str, mojibake: bool, script: str,
            fetched_at: str | None) -> PageResult:
    """Normalize the extracted paragraphs, cut truncation notices, then classify."""
    blocks = normalize_blocks(page.blocks or blocks_from_lines(page.paragraphs))
    paragraphs = block_lines(blocks)
    cut = strip_truncation(paragraphs)
    text = "\n".join(cut.paragraphs)
    # A truncation notice cut the lines: the tables no longer match them, the text is kept.
    has_tables = any(b["type"] == TABLE for b in blocks) and cut.paragraphs == paragraphs
    if page.is_list_page:
        return PageResult(None, "list", encoding)
    if len(text) < MIN_TEXT_CHARS:
        return PageResult(None, "empty", encoding, attachments=page.attachments)
    record = _record(page, url, text, cut, mojibake=mojibake, script=script,
                     fetched_at=fetched_at)
    record.blocks = blocks if has_tables else None
    return PageResult(record, "report" if record.is_health_report else "off-topic", encoding,
                      attachments=page.attachments)



def process_document(data: bytes, url: str, fmt: str, *, fetched_at: str | None = None,
                     title_hint: str | None = None,
                     max_bytes: int = MAX_DOCUMENT_BYTES) -> PageResult:
    """An attachment of format `fmt` (`sniff_format`) -> its Record, through the stages of
    the module doc. PageError (one line, naming the format) when it cannot be read."""
    if len(data) > max_bytes:
        raise PageError(f"{fmt.upper()} too large ({len(data) / 2**20:.1f} MiB > "
                        f"{max_bytes / 2**20:.0f} MiB limit)")
    try:
        doc = extract_document(data, fmt)
    except DocumentError as exc:
        raise PageError(f"{fmt.upper()}: {exc}") from exc
    title = doc.title or _link_title(title_hint) or _file_title(url)
    if doc.paragraphs and doc.title and doc.paragraphs[0] == doc.title:
        doc.paragraphs = doc.paragraphs[1:]  # the heading is the title, as on a page
    page = Extracted(title=title, published=_closing_date(doc.paragraphs), site=None,
                     column=None, paragraphs=doc.paragraphs)
    script = source_script("\n".join(doc.paragraphs[:200]))
    if doc.flags:  # no text to read: a record all the same, flagged, so the file is seen
        record = _record(page, url, "", TruncationResult([], False, None), mojibake=False,
                         script=script, fetched_at=fetched_at)
        result = PageResult(record, "report", fmt)
    else:
        result = _result(page, url, fmt, False, script, fetched_at)
    if result.record is not None:
        result.record = replace(result.record, format=fmt, flags=list(doc.flags))
    return result


_LINK_NOISE = re.compile(r"^\s*附件\s*\d*\s*[:：]\s*|\.(?:pdf|docx?|wps|rtf|xlsx?|et)\s*$",
                         re.IGNORECASE)


def _link_title(text: str | None) -> str | None:
    """The text of the link to an attachment as its title: without ``附件1：`` before it and
    the file extension after it."""
    if not text:
        return None
    return normalize_line(clean_title(_LINK_NOISE.sub("", text))) or None


def _closing_date(paragraphs: list[str]) -> str | None:
    """The date line a document closes with (落款: ``2024年3月8日`` under the issuer), not a
    date inside a sentence."""
    for line in reversed(paragraphs[-3:]):
        if len(line) <= 20 and "\t" not in line and (found := parse_date(line)):
            return found
    return None


def _file_title(url: str) -> str | None:
    """The file name of a URL or path, without its extension (the title of last resort)."""
    name = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
    ext = file_extension(name)
    stem = name[: -len(ext) - 1] if ext else name
    return normalize_line(stem) or None


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
    return PageResult(record, result.kind, result.encoding, missing, result.attachments)

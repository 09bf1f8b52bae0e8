"""Bringing pages into the archive: local HTML files, JSONL exports, and `reprocess`.

Each page is one transaction (raw bytes + record), so a killed import keeps every page it
finished and no half record; running it again skips what is already there ("unchanged").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from archive.attachment_import import (
    DOCUMENT_SUFFIXES,
    attach_to_parent,
    import_document_file,
    is_document_file,
)
from archive.errors import HraError
from archive.outcomes import OutcomeTally, skip_reason
from archive.page_processing import (
    MIN_TEXT_CHARS,
    ExtractOptions,
    PageError,
    PageResult,
    process_page,
)
from archive.record import Record
from archive.store import RawPage, Store, is_disk_full
from archive.text.classify import DOC_TYPES
from archive.text.decode import charset_from_headers
from archive.urls import canonical_url

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")


def is_warc(path: Path) -> bool:
    """Whether `path` names a WARC (or ARC) file, gzipped or not (`archive.warc_import`)."""
    return path.name.lower().endswith(WARC_SUFFIXES)

HTML_SUFFIXES = (".html", ".htm", ".shtml", ".xhtml")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
MAX_FILE_BYTES = 64 * 1024 * 1024  # we refuse to even read more than this

_CANONICAL = re.compile(
    rb"""<link[^>]+rel=["']?canonical["']?[^>]*href=["']?(https?://[^"'\s>]+)"""
    rb"""|<link[^>]+href=["']?(https?://[^"'\s>]+)["']?[^>]*rel=["']?canonical"""
    rb"""|<meta[^>]+property=["']og:url["'][^>]*content=["']?(https?://[^"'\s>]+)""",
    re.IGNORECASE,
)

Progress = Callable[[str, str], None]  # (path or url, outcome; "record": a WARC record read)

#: Why a page was skipped, in words (`hra import --verbose`), by outcome ("skipped:<reason>").
SKIP_REASONS = {
    "list": "a list page (links to articles, no article of its own)",
    "off-topic": "not a health-work report (--all keeps it, flagged)",
    "empty": f"no article: the main text is shorter than {MIN_TEXT_CHARS} characters",
    # WARC records (archive.warc_import); "http-<status>": a redirect or an HTTP error
    "not-html": "a WARC record that is not an HTML page (PDF, image, robots.txt...)",
    "revisit": "a WARC revisit: the same content as a capture already read",
}


@dataclass
class ImportSummary(OutcomeTally):
    """What an import or a reprocess did: `counts`, `skipped` by reason (`OutcomeTally`), and
    the errors and skipped files."""

    errors: list[str] = field(default_factory=list)
    skipped_files: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    #: reprocess: pages of sources no longer defined (name -> pages), extracted without their
    #: selectors
    sources_gone: dict[str, int] = field(default_factory=dict)
    #: WARC records that are not pages (warcinfo, request, metadata...), by type
    other_records: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None
    #: remarks for the user, each once (an attachment archived without its text: what to
    #: install to extract it)
    notes: list[str] = field(default_factory=list)
    on_error: Callable[[str], None] | None = None
    on_skip: Callable[[str, str], None] | None = None  # (path, reason in words)

    def fail(self, message: str) -> None:
        self.errors.append(message)
        self.counts.failed += 1
        if self.on_error:
            self.on_error(message)

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def skip(self, path: str, reason: str) -> None:
        self.count(f"skipped:{reason}")
        self.skipped_files.append((path, reason))
        if self.on_skip:
            self.on_skip(path, SKIP_REASONS.get(reason, reason))


def collect_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """Expand files and directories (recursively) into importable files; report bad paths."""
    files: list[Path] = []
    errors: list[str] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            errors.append(f"{raw}: no such file or directory")
        elif path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.is_file()
                and (p.suffix.lower() in HTML_SUFFIXES + JSONL_SUFFIXES + DOCUMENT_SUFFIXES
                     or is_warc(p))
            )
            if not found:
                errors.append(f"{raw}: no .html, .htm, .jsonl, .warc.gz or document (.pdf, "
                              ".docx, ...) files in this directory")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            errors.append(f"{raw}: not a regular file")
    return files, errors


def page_url(data: bytes, path: Path) -> str:
    """The page's own canonical URL when it names one, else the file's URI."""
    m = _CANONICAL.search(data[:65536])
    if m:
        found = next(g for g in m.groups() if g)
        return found.decode("ascii", "replace")
    return path.resolve().as_uri()


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(microsecond=0).isoformat()


def store_result(
    store: Store,
    result: PageResult,
    *,
    url: str,
    body: bytes,
    fetched_at: str,
    keep_all: bool,
    final_url: str | None = None,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    source: str | None = None,
) -> str:
    """Archive a processed page (with the crawl `source` it was fetched for, if any); returns
    the outcome ("new", "changed", "unchanged", "skipped:list", "skipped:off-topic",
    "skipped:empty")."""
    if result.record is None:
        return f"skipped:{result.kind}"
    if result.kind == "off-topic" and not keep_all:
        return "skipped:off-topic"
    return store.save_page(
        url=url, body=body, record=result.record, fetched_at=fetched_at,
        final_url=final_url, status=status, headers=headers, source=source,
    )


def import_html_file(store: Store, path: Path, keep_all: bool) -> str:
    """Import one HTML file; raises PageError/OSError with a one-line message."""
    return store_page(store, read_page(path), keep_all)


@dataclass
class ReadPage:
    """An HTML file read and processed (`read_page`), ready to be stored (`store_page`)."""

    data: bytes
    url: str
    fetched_at: str
    result: PageResult


def read_page(path: Path) -> ReadPage:
    """Read and process one HTML file (pure CPU and file reading: runs in worker processes);
    raises PageError/OSError with a one-line message."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise PageError(f"file too large ({size / 2**20:.0f} MiB > {MAX_FILE_BYTES // 2**20} MiB)")
    data = path.read_bytes()
    url = page_url(data, path)
    fetched_at = _mtime(path)
    return ReadPage(data, url, fetched_at, process_page(data, url, fetched_at=fetched_at))


def store_page(store: Store, page: ReadPage, keep_all: bool) -> str:
    """Archive a `read_page` result; returns the outcome (see `store_result`)."""
    return store_result(store, page.result, url=page.url, body=page.data,
                        fetched_at=page.fetched_at, keep_all=keep_all)


def iter_jsonl(path: Path) -> Iterator[tuple[int, Record | str]]:
    """Records of a JSONL export, or an error message per bad line ("PATH:LINE: why", naming
    the bad fields; see `parse_record`): a line that is not UTF-8, not JSON,
    not a JSON object or not a valid record is one error and the rest of the file goes on.
    OSError when the file cannot be read."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            try:
                yield number, parse_record(json.loads(raw.decode("utf-8")))
            except UnicodeDecodeError:
                yield number, f"{path}:{number}: not UTF-8 text"
            except RecursionError:
                yield number, f"{path}:{number}: not JSON (nested too deeply)"
            except InvalidRecord as exc:
                yield number, f"{path}:{number}: {exc}"
            except ValueError as exc:  # json.JSONDecodeError, or a number of 4,300+ digits
                why = "a number too long" if "digits" in str(exc) else str(exc)
                yield number, f"{path}:{number}: not JSON ({why})"


# ----------------------------------------------------------------------------------------------
# Records of a JSONL export: checked field by field


class InvalidRecord(ValueError):
    """A JSON value that is not a record; ``str(exc)`` names each bad field (one line)."""


#: Years a record may be about (`year`) or be published in (`published`).
YEAR_RANGE = (1900, 2100)
_HEX_ID = re.compile(r"[0-9a-f]{16}")
_YMD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MAX_LENGTH = 2**53  # full_length: a count of characters, not a 64-bit overflow
_OPTIONAL_STRINGS = ("title", "site", "column", "region", "fetched_at", "region_province",
                     "region_city", "region_county", "content_source", "issuer", "doc_number",
                     "parent")
_BOOLEANS = ("truncated", "placeholders", "mojibake", "is_health_report")
_SCRIPTS = ("simplified", "traditional")


def parse_record(data: object) -> Record:
    """A Record from an untrusted JSON value (a line of a JSONL export), every field checked:
    the type of each field, ``id`` (and ``duplicate_of``) 16 lower-case hex digits, ``url`` a
    URL the archive can canonicalize, ``published`` a YYYY-MM-DD date or null, ``year`` an
    integer within `YEAR_RANGE` or null, ``doc_type`` one of the known types, the flags real
    booleans, strings real strings (no lone surrogates). Absent optional fields take their
    empty values; unknown keys are ignored. Raises `InvalidRecord` naming every bad field."""
    if not isinstance(data, dict):
        raise InvalidRecord(f"not a record: JSON {_json_kind(data)}, not an object")
    problems = [f"{name}: {why}" for name, why in _field_problems(data)]
    if problems:
        raise InvalidRecord("; ".join(problems))
    return Record.from_json(data)


def _field_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, what is wrong with it) for each bad field of a record's JSON object."""
    out: list[tuple[str, str]] = []

    def bad(name: str, expected: str) -> None:
        out.append((name, f"expected {expected}, got {_show(data[name])}"))

    missing = [name for name in ("id", "url", "text") if name not in data]
    if missing:
        out.append((", ".join(missing), "missing (a record needs id, url and text)"))
    if "id" in data and not (isinstance(data["id"], str) and _HEX_ID.fullmatch(data["id"])):
        bad("id", "16 lower-case hex digits")
    if "url" in data:
        url = data["url"]
        if not _is_text(url) or not url.strip():
            bad("url", "a non-empty string")
        else:
            try:
                canonical_url(url)
            except ValueError as exc:
                out.append(("url", f"not a usable URL ({exc})"))
    if "text" in data and not _is_text(data["text"]):
        bad("text", "a string")
    for name in _OPTIONAL_STRINGS:
        if data.get(name) is not None and not _is_text(data[name]):
            bad(name, "a string or null")
    for name in ("published", "written"):
        if data.get(name) is not None and not _is_date(data[name]):
            bad(name, "a YYYY-MM-DD date or null")
    if data.get("blocks") is not None and not _is_blocks(data["blocks"]):
        bad("blocks", 'null or a list of {"type": "p", "text": ...} and '
                      '{"type": "table", "rows": [[cell, ...], ...]}')
    year = data.get("year")
    if year is not None and not (_is_int(year) and YEAR_RANGE[0] <= year <= YEAR_RANGE[1]):
        bad("year", f"a year from {YEAR_RANGE[0]} to {YEAR_RANGE[1]} or null")
    if "doc_type" in data and not (isinstance(data["doc_type"], str)
                                   and data["doc_type"] in DOC_TYPES):
        bad("doc_type", "one of " + ", ".join(DOC_TYPES))
    for name in _BOOLEANS:
        if name in data and not isinstance(data[name], bool):
            bad(name, "true or false")
    length = data.get("full_length")
    if length is not None and not (_is_int(length) and 0 <= length <= _MAX_LENGTH):
        bad("full_length", "a character count or null")
    if "source_script" in data and data["source_script"] not in _SCRIPTS:
        bad("source_script", " or ".join(_SCRIPTS))
    dup = data.get("duplicate_of")
    if dup is not None and not (isinstance(dup, str) and _HEX_ID.fullmatch(dup)):
        bad("duplicate_of", "a document id (16 lower-case hex digits) or null")
    if "format" in data and not (isinstance(data["format"], str) and data["format"]):
        bad("format", "a format name (html, pdf, docx, ...)")
    flags = data.get("flags", [])
    if not (isinstance(flags, list) and all(_is_text(f) for f in flags)):
        bad("flags", "a list of strings")
    links = data.get("attachments", [])
    if not (isinstance(links, list) and all(map(_is_text, links))):
        bad("attachments", "a list of strings")
    return out


def _is_text(value: object) -> bool:
    """A real string that can be stored (UTF-8: no lone surrogates from ``"\\ud800"``)."""
    return isinstance(value, str) and not _SURROGATE.search(value)


def _is_blocks(value: object) -> bool:
    """A record's ``blocks``: paragraphs with text, tables with equally long rows of strings."""
    if not isinstance(value, list):
        return False
    for block in value:
        if not isinstance(block, dict):
            return False
        if block.get("type") == "p":
            if not _is_text(block.get("text")):
                return False
        elif block.get("type") == "table":
            rows = block.get("rows")
            if not (isinstance(rows, list) and rows and all(isinstance(r, list) for r in rows)
                    and len({len(r) for r in rows}) == 1
                    and all(_is_text(c) for r in rows for c in r)):
                return False
        else:
            return False
    return True


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_date(value: object) -> bool:
    if not (isinstance(value, str) and _YMD.fullmatch(value)):
        return False
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return False
    return YEAR_RANGE[0] <= day.year <= YEAR_RANGE[1]


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else "number"


def _show(value: object) -> str:
    """A short, printable rendering of a bad value (JSON, ASCII-escaped, cut at 40 chars)."""
    if isinstance(value, float) and not math.isfinite(value):
        text = str(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=True)
        except (ValueError, TypeError, RecursionError):
            text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _import_files(store: Store, files: list[Path], keep_all: bool, summary: ImportSummary,
                  progress: Progress | None) -> None:
    """Each file into the archive (JSONL exports line by line, WARC files record by record),
    the run's counts kept current. HTML files are read and processed ahead in worker processes
    (`archive.page_reader`); report files (PDF, Word, Excel) one by one."""
    from archive.page_reader import read_pages

    kinds = [_file_kind(path) for path in files]
    pages = read_pages([p for p, kind in zip(files, kinds, strict=True) if kind == "html"])
    sources = _SourceOptions(store.data_dir)
    try:
        for path, kind in zip(files, kinds, strict=True):
            if kind == "jsonl":
                _import_jsonl(store, path, summary)
                outcome = "jsonl"
            elif kind == "warc":
                from archive.warc_import import import_warc

                import_warc(store, path, keep_all, summary, sources,
                            tick=(lambda uri: progress(uri, "record")) if progress else None)
                outcome = "warc"
            else:
                page = next(pages) if kind == "html" else None
                outcome = _import_one(store, path, page, keep_all, summary)
            _report(store, path, outcome, summary, progress)
    finally:
        pages.close()


def _file_kind(path: Path) -> str:
    """"jsonl", "warc", "document" (a report file: PDF, Word, Excel) or "html"."""
    if path.suffix.lower() in JSONL_SUFFIXES:
        return "jsonl"
    if is_warc(path):
        return "warc"
    return "document" if is_document_file(path) else "html"


def _report(store: Store, path: Path, outcome: str, summary: ImportSummary,
            progress: Progress | None) -> None:
    if progress:
        progress(str(path), outcome)
    if summary.counts.pages % 50 == 0 and summary.run_id is not None:
        store.update_run(summary.run_id, summary.counts)


def import_paths(
    store: Store,
    paths: Iterable[str | Path],
    *,
    keep_all: bool = False,
    progress: Progress | None = None,
    total_cb: Callable[[int], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    on_skip: Callable[[str, str], None] | None = None,
) -> ImportSummary:
    """Import files and directories into the archive, recording the run.

    `on_error` hears each per-file error as it happens, while the rest goes on; `on_skip`
    hears each skipped file (path, reason in words). `summary.skipped_files` lists them all.
    """
    summary = ImportSummary(on_error=on_error, on_skip=on_skip)
    files, errors = collect_files(paths)
    for message in errors:
        summary.fail(message)
    if total_cb:
        total_cb(len(files))
    try:
        run_id = store.start_run("import", " ".join(str(p) for p in paths))
    except Exception as exc:
        if is_disk_full(exc):
            raise disk_full_error(summary) from exc
        raise
    summary.run_id = run_id
    status = "failed"
    full: BaseException | None = None
    try:
        _import_files(store, files, keep_all, summary, progress)
        status = "ok"  # per-file failures are counted (failed) and listed (errors)
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        full = exc  # every page stored so far is committed; the one being stored is not
        summary.errors.append(str(disk_full_error(summary)))
    finally:
        try:
            store.finish_run(run_id, summary.counts, status, summary.errors)
        except Exception as exc:
            # No room to close the run either: the next run marks it interrupted.
            if not is_disk_full(exc):
                raise
            full = full or exc
    if full is not None:
        raise disk_full_error(summary) from full
    return summary


def disk_full_error(summary: ImportSummary) -> HraError:
    """The one line of an import stopped by a full disk (exit 1): how many pages it stored
    (all committed), and that running it again finishes the job."""
    stored = summary.counts.new + summary.counts.changed
    return HraError(f"disk full: {stored} pages stored, run again when there is space")


def _import_one(store: Store, path: Path, page: ReadPage | BaseException | None, keep_all: bool,
                summary: ImportSummary) -> str:
    summary.counts.pages += 1
    try:
        if page is None:
            outcome = import_document_file(store, path, summary.note)
        elif isinstance(page, BaseException):
            raise page
        else:
            outcome = store_page(store, page, keep_all)
    except (PageError, OSError) as exc:
        if is_disk_full(exc):
            raise
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        summary.fail(f"{path}: {message}")
        return "failed"
    reason = skip_reason(outcome)
    if reason is not None:
        summary.skip(str(path), reason)
    else:
        summary.count(outcome)
    return outcome


def _import_jsonl(store: Store, path: Path, summary: ImportSummary) -> None:
    try:
        for _, item in iter_jsonl(path):
            summary.counts.pages += 1
            if isinstance(item, str):
                summary.fail(item)
                continue
            summary.counts.add(store.put_document(item))
    except OSError as exc:
        if is_disk_full(exc):
            raise
        summary.fail(f"{path}: cannot read ({exc})")


def reprocess(
    store: Store, *, keep_all: bool = False, progress: Progress | None = None
) -> ImportSummary:
    """Re-run the text pipeline over the newest stored version of every page.

    A page crawled for a source is extracted with that source's selectors as they are now
    (shipped sources and ``<data dir>/sources.toml``); a page whose source is no longer defined
    is extracted without them and counted in `ImportSummary.sources_gone`. A page that now
    reads as off-topic keeps its document (flagged) if it had one; a page that no longer
    yields any article loses its derived document (its bytes stay). HraError when the
    sources cannot be read.
    """
    summary = ImportSummary()
    run_id = store.start_run("reprocess")
    summary.run_id = run_id
    sources = _SourceOptions(store.data_dir)
    status = "failed"
    try:
        for page in store.iter_latest_pages():
            summary.counts.pages += 1
            options = sources.options(page.source, summary)
            outcome = _reprocess_page(store, page, options, keep_all, summary)
            if progress:
                progress(page.url, outcome)
        status = "ok"
    finally:
        store.finish_run(run_id, summary.counts, status, summary.errors)
    return summary


def _reprocess_page(store: Store, page: RawPage, options: ExtractOptions | None,
                    keep_all: bool, summary: ImportSummary) -> str:
    before = store.get(page.doc_id)
    # An attachment's link text (its title when it has none of its own) is not in its bytes.
    hint = before.title if before is not None and before.format != "html" else None
    try:
        result = process_page(page.body, page.url, http_charset=charset_from_headers(page.headers),
                              fetched_at=page.fetched_at, options=options, title_hint=hint)
    except PageError as exc:
        summary.fail(f"{page.url}: {exc}")
        return "failed"
    off_topic = result.kind == "off-topic" and before is None and not keep_all
    if result.record is None or off_topic:
        # The page no longer yields a report: its derived document goes, the bytes stay.
        if before is not None:
            store.delete_document(page.doc_id)
        summary.count(f"skipped:{result.kind}")
        return "skipped"
    record = result.record
    if before is not None:
        record.duplicate_of = before.duplicate_of
        # whose attachment it is (and the dates/site it took from there): from the crawl only
        record = attach_to_parent(store, record, before.parent)
    if before is not None and before.to_json() == record.to_json():
        outcome = "unchanged"
    else:
        store.update_document(record, page.id)
        outcome = "changed" if before is not None else "new"
    summary.count(outcome)
    return outcome


class _SourceOptions:
    """The extraction options of the crawl sources pages were stored for, read once from the
    current sources (shipped + ``<data_dir>/sources.toml``) when a page first names one."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._selectors: dict[str, dict[str, str]] | None = None

    def options(self, name: str | None, summary: ImportSummary) -> ExtractOptions | None:
        """The options of source `name` (None: none, or the source is gone, which is counted)."""
        if name is None:
            return None
        if self._selectors is None:
            self._selectors = self._load()
        if name not in self._selectors:
            summary.sources_gone[name] = summary.sources_gone.get(name, 0) + 1
            return None
        return ExtractOptions.from_selectors(self._selectors[name])

    def _load(self) -> dict[str, dict[str, str]]:
        from crawler.sources import SourceError, load_sources

        try:
            return {s.name: s.selectors for s in load_sources(self.data_dir)}
        except SourceError as exc:
            raise HraError(f"{exc}; `hra reprocess` applies each source's selectors to its "
                           "pages: fix the file and run it again") from exc

"""WARC in: `hra import FILE.warc[.gz]`, from hra (`hra export --format warc`, crawl nodes'
per-job files) and from other tools (``wget --warc-file``, pywb, ArchiveBox, browsertrix).

Each ``response`` record (and ``resource`` record) holding an HTML page goes through the same
pipeline as a crawled page (`archive.page_processing.process_page`, then `Store.save_page` with
its raw bytes, HTTP status and headers), so it is archived as if it had been fetched:
a page already archived (same URL, same sha256) is "unchanged". What is not a page is counted,
never an error:

* ``response`` records that are neither HTML nor a report file (PDF, Word, WPS, Excel: an
  attachment, read by its bytes) — images, scripts, robots.txt...: skipped "not-html";
  redirects (3xx; the page they lead to is archived under the URL first requested, as a crawl
  does), HTTP errors (4xx/5xx) and partial content: skipped "http-<status>";
* ``revisit`` records (the same payload as an earlier capture): skipped "revisit" when the
  earlier capture is of the same URL (nothing new to archive); a revisit of another URL's
  payload is archived from that capture when it is in the same file;
* ``warcinfo``, ``request``, ``metadata`` (others' own), ``conversion``...: not pages, counted
  in ``ImportSummary.other_records``.

The ``metadata`` record hra writes after each page (`archive.warc_export`) brings back what
HTTP does not carry: the URL requested first, the exact fetch time and headers, the crawl
source (its selectors extract the page again) and whether the archive held a document for it
(then it is kept even when off-topic, and a page without one is kept as raw bytes only), so an
exported archive imports into an empty data dir with the same page versions and documents.
The SHA-256 it names is checked: a body that does not match is a failed record, not a page.

Records are read one at a time (a page's body, at most `MAX_PAGE_BYTES`, is the most held in
memory); one page is one transaction, so an interrupted import keeps what it stored and the
same command finishes the job.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord

from archive.attachment_import import attach_to_parent
from archive.importer import ImportSummary, store_result
from archive.importer import _SourceOptions as SourceOptions
from archive.outcomes import skip_reason
from archive.page_processing import MAX_DOCUMENT_BYTES, MAX_PAGE_BYTES, PageError, process_page
from archive.store import Store, is_disk_full
from archive.text.decode import charset_from_headers
from archive.text.documents import DOCUMENT_FORMATS, looks_like_document, sniff_format

_HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml")
_PAGE_TYPES = ("response", "resource", "revisit")


@dataclass
class Capture:
    """A page read from a WARC record (with hra's metadata record when there is one)."""

    uri: str  # where the body came from (the final URL)
    date: str  # fetched_at, as the archive stores it
    status: int | None
    headers: dict[str, str]
    body: bytes
    record_id: str = ""
    meta: dict[str, str] = field(default_factory=dict)  # hra-* fields
    requested: str | None = None  # the URL first requested, when a redirect led here


def fetched_at(warc_date: str | None) -> str:
    """The archive's ``fetched_at`` (ISO, UTC, whole seconds) of a ``WARC-Date``."""
    if not warc_date:
        return datetime.now(UTC).replace(microsecond=0).isoformat()
    try:
        when = datetime.fromisoformat(warc_date.replace("Z", "+00:00"))
    except ValueError:
        return warc_date
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0).isoformat()


def _headers(record: ArcWarcRecord) -> tuple[int | None, dict[str, str]]:
    http = record.http_headers
    if http is None:
        return None, {}
    out: dict[str, str] = {}
    for name, value in http.headers:
        out[name] = f"{out[name]}, {value}" if name in out else value
    try:
        status: int | None = int(http.get_statuscode())
    except (TypeError, ValueError):
        status = None
    return status, out


def _content_type(record: ArcWarcRecord, headers: dict[str, str]) -> str:
    if record.rec_type == "resource":
        value = record.rec_headers.get_header("Content-Type") or ""
    else:
        value = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return value.split(";")[0].strip().lower()


def _read_fields(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip().startswith("hra-"):
            out[name.strip()] = value.strip()
    return out


class WarcReader:
    """The pages of one WARC file; what is skipped goes to `skipped(uri, reason)`, records that
    are not pages are counted in `other` (by type)."""

    def __init__(self, fh: IO[bytes], skipped: Any, other: dict[str, int]) -> None:
        self.fh = fh
        self.skipped = skipped  # (uri, reason) -> None
        self.other = other  # record type -> count
        self.redirected: dict[str, str] = {}  # Location -> the URL first requested
        self.by_digest: dict[str, tuple[str, int]] = {}  # payload digest -> (uri, offset)

    def captures(self) -> Iterator[Capture | str]:
        """Captures in file order, each yielded once its metadata record (if any) was seen;
        a string is a record that could not be read (one line)."""
        pending: Capture | None = None
        iterator = ArchiveIterator(self.fh, arc2warc=True, check_digests=True)
        for record in iterator:
            kind = record.rec_type
            if kind == "metadata" and pending is not None and self._meta_of(record, pending):
                continue
            if pending is not None:
                yield pending
                pending = None
            if kind not in _PAGE_TYPES:
                self.other[kind] = self.other.get(kind, 0) + 1
                continue
            found = self._capture(record, iterator)
            if isinstance(found, str):
                yield found
            elif found is not None:
                pending = found
        if pending is not None:
            yield pending

    def _meta_of(self, record: ArcWarcRecord, pending: Capture) -> bool:
        """hra's metadata record of the pending capture: its fields are taken."""
        if record.rec_headers.get_header("WARC-Concurrent-To") != pending.record_id:
            return False
        fields = _read_fields(record.content_stream().read(1 << 20))
        if not fields:
            return False
        pending.meta = fields
        return True

    def _capture(self, record: ArcWarcRecord, iterator: ArchiveIterator
                 ) -> Capture | str | None:
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        status, headers = _headers(record)
        if record.rec_type == "revisit":
            return self._revisit(record, uri)
        if status is not None and 300 <= status < 400:
            location = next((v for k, v in headers.items() if k.lower() == "location"), None)
            if location:
                from urllib.parse import urljoin

                target = urljoin(uri, location.strip())
                self.redirected[target] = self.redirected.get(uri, uri)
            self.skipped(uri, f"http-{status}")
            return None
        if status is not None and (not 200 <= status < 300 or status == 206):
            self.skipped(uri, f"http-{status}")
            return None
        ctype = _content_type(record, headers)
        html = not ctype or ctype.startswith(_HTML_TYPES)
        limit = MAX_PAGE_BYTES if html else MAX_DOCUMENT_BYTES
        stream = record.content_stream()
        head = stream.read(1024)
        if not html and not looks_like_document(head):
            self.skipped(uri, "not-html")  # an image, a script, robots.txt...
            return None
        body = head + stream.read(limit + 1 - len(head))
        if not html and sniff_format(body, uri) not in DOCUMENT_FORMATS:
            self.skipped(uri, "not-html")
            return None
        digest = record.rec_headers.get_header("WARC-Payload-Digest")
        if digest:  # after reading: the offset is known once the record was read
            self.by_digest[digest] = (uri, iterator.get_record_offset())
        if len(body) > limit:
            return f"{uri}: page too large (> {limit // 2**20} MiB)"
        if record.digest_checker.passed is False or getattr(record.raw_stream, "limit", 0) > 0:
            return f"{uri}: damaged record (its digest does not match: cut short or altered)"
        return Capture(uri=uri, date=fetched_at(record.rec_headers.get_header("WARC-Date")),
                       status=status, headers=headers, body=body,
                       record_id=record.rec_headers.get_header("WARC-Record-ID") or "",
                       requested=self.redirected.get(uri))

    def _revisit(self, record: ArcWarcRecord, uri: str) -> Capture | str | None:
        """A revisit of the same URL changes nothing; one of another URL's payload, found
        earlier in this file, is that payload at this URL."""
        digest = record.rec_headers.get_header("WARC-Payload-Digest")
        original = self.by_digest.get(digest or "")
        refers = record.rec_headers.get_header("WARC-Refers-To-Target-URI") or (
            original[0] if original else uri)
        if refers == uri or original is None:
            self.skipped(uri, "revisit")
            return None
        found = _reread(self.fh, original[1])
        if found is None:
            self.skipped(uri, "revisit")
            return None
        status, headers = _headers(record)
        return Capture(uri=uri, date=fetched_at(record.rec_headers.get_header("WARC-Date")),
                       status=status or found.status, headers=headers or found.headers,
                       body=found.body, requested=self.redirected.get(uri))


def _reread(fh: IO[bytes], offset: int) -> Capture | None:
    """The capture at `offset` of the file (a revisit's original), the file position kept."""
    here = fh.tell()
    try:
        fh.seek(offset)
        for record in ArchiveIterator(fh, arc2warc=True):
            status, headers = _headers(record)
            body = record.content_stream().read(MAX_PAGE_BYTES + 1)
            if len(body) > MAX_PAGE_BYTES:
                return None
            return Capture(uri="", date="", status=status, headers=headers, body=body)
        return None
    finally:
        fh.seek(here)


def import_warc(store: Store, path: Path, keep_all: bool, summary: ImportSummary,
                sources: SourceOptions, tick: Callable[[str], None] | None = None) -> None:
    """Every page of the WARC file `path` into the archive; counts and errors in `summary`.
    `sources` gives a crawl source's extraction options (hra's metadata names the source);
    `tick(uri)` hears each page as it is archived (a progress display)."""
    other: dict[str, int] = summary.other_records

    def skipped(uri: str, reason: str) -> None:
        summary.counts.pages += 1
        summary.skip(f"{path}: {uri}", reason)

    try:
        with path.open("rb") as fh:
            if not _starts_like_warc(fh):
                summary.counts.pages += 1
                summary.fail(f"{path}: not a WARC file (it does not begin with a WARC or "
                             "ARC record)")
                return
            for item in WarcReader(fh, skipped, other).captures():
                summary.counts.pages += 1
                if isinstance(item, str):
                    summary.fail(f"{path}: {item}")
                    continue
                _store_capture(store, item, keep_all, summary, sources, path)
                if tick:
                    tick(item.uri)
    except (ArchiveLoadFailed, EOFError, ValueError) as exc:
        summary.fail(f"{path}: not a readable WARC file past this point ({_one_line(exc)})")
    except OSError as exc:
        if is_disk_full(exc):
            raise
        summary.fail(f"{path}: cannot read ({exc.strerror or exc})")


def _starts_like_warc(fh: IO[bytes]) -> bool:
    """Whether the file begins with a WARC (``WARC/1.x``) or ARC (``filedesc://``) record,
    gzipped or not; the position is back at the start."""
    head = fh.read(2)
    fh.seek(0)
    if head == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=fh) as member:
                head = member.read(11)
        except (OSError, EOFError):
            head = b""
        fh.seek(0)
    else:
        head = fh.read(11)
        fh.seek(0)
    return head.startswith((b"WARC/", b"filedesc://"))


def _one_line(exc: BaseException) -> str:
    """The reason, without the damaged bytes warcio quotes ("..., first line: [...]")."""
    text = str(exc).split(", first line:")[0]
    return " ".join(text.split())[:120] or type(exc).__name__


def _store_capture(store: Store, capture: Capture, keep_all: bool, summary: ImportSummary,
                   sources: SourceOptions, path: Path) -> None:
    meta = capture.meta
    if meta.get("hra-sha256") and hashlib.sha256(capture.body).hexdigest() != meta["hra-sha256"]:
        summary.fail(f"{path}: {capture.uri}: the body does not match its hra-sha256 "
                     "(damaged record)")
        return
    page = _page_fields(capture)
    options = sources.options(meta.get("hra-source"), summary)
    try:
        result = process_page(capture.body, capture.uri,
                              http_charset=charset_from_headers(page["headers"]),
                              fetched_at=page["fetched_at"], options=options,
                              title_hint=meta.get("hra-title-hint"))
    except PageError as exc:
        if not meta:
            summary.fail(f"{path}: {capture.uri}: {exc}")
            return
        result = None  # it was in an archive: its bytes are kept
    if meta:
        record = result.record if result is not None and "hra-document" in meta else None
        if record is not None and meta.get("hra-parent"):
            record = attach_to_parent(store, record, meta["hra-parent"])
        outcome = store.save_page(body=capture.body, record=record, **page)
    else:
        assert result is not None
        outcome = store_result(store, result, body=capture.body, keep_all=keep_all, **page)
    reason = skip_reason(outcome)
    if reason is not None:
        summary.skip(f"{path}: {capture.uri}", reason)
    else:
        summary.count(outcome)


def _page_fields(capture: Capture) -> dict[str, Any]:
    """The stored page's url, final_url, status, headers, fetched_at and source."""
    meta = capture.meta
    if meta:
        status = meta.get("hra-status")
        try:
            headers = json.loads(meta.get("hra-headers") or "{}")
        except ValueError:
            headers = capture.headers
        return {
            "url": meta.get("hra-page-url") or capture.uri,
            "final_url": meta.get("hra-final-url"),
            "status": int(status) if status and status.isdigit() else None,
            "headers": headers if isinstance(headers, dict) else capture.headers,
            "fetched_at": meta.get("hra-fetched-at") or capture.date,
            "source": meta.get("hra-source"),
        }
    return {
        "url": capture.requested or capture.uri,
        "final_url": capture.uri,
        "status": capture.status,
        "headers": capture.headers,
        "fetched_at": capture.date,
        "source": None,
    }

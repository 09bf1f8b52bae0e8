"""WARC out: every stored page version as the web-archiving world's records (`hra export
--format warc`, and the per-job files of a crawl node, `crawler.warc_output`).

Each page version becomes

* a ``response`` record: the HTTP status line and headers as stored (``Content-Encoding`` and
  ``Transfer-Encoding`` dropped and ``Content-Length`` set: the stored body is the decoded
  payload), the final URL as ``WARC-Target-URI``, ``WARC-Date`` = when it was fetched, the
  payload digest (SHA-1, as WARC readers expect). A page that came from a file (`hra import` of
  saved HTML: no HTTP status) is a ``resource`` record instead;
* a ``metadata`` record (``application/warc-fields``, ``WARC-Concurrent-To`` the page's
  record) with what the archive knows beyond HTTP: ``hra-page-url`` (the URL that was
  requested, when it redirected), ``hra-final-url``, ``hra-status``, ``hra-fetched-at`` (exact),
  ``hra-sha256`` of the body, ``hra-headers`` (the stored headers as JSON, unchanged),
  ``hra-source`` (the crawl source whose selectors extract it) and ``hra-document`` (the
  document id, when the archive holds a document for the page: `hra import` then keeps it even
  if it reads as off-topic, as the archive did).

A ``warcinfo`` record opens the file. Every record is its own gzip member (any WARC tool can
seek to it), written as the pages stream from the archive (bounded memory). `archive.warc_import`
reads these records back losslessly (same bytes, so the same sha256 for every version, and the
same documents).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import IO

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive import __version__
from archive.export import ExportError, ExportSummary, _atomic_file
from archive.store import RawPage, Store

#: HTTP headers that describe the transfer, not the stored (decoded) body.
_TRANSFER_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})
WARC_FIELDS = "application/warc-fields"

#: An attachment's (parent article id, link text): what its own bytes do not carry.
Link = tuple[str | None, str | None]


def warc_date(fetched_at: str) -> str:
    """``WARC-Date`` (UTC, ``...Z``, whole seconds) of a stored ``fetched_at``; an unreadable
    one keeps its text (WARC readers then see it as it was stored)."""
    try:
        when = datetime.fromisoformat(fetched_at)
    except ValueError:
        return fetched_at
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _http_headers(page: RawPage) -> StatusAndHeaders:
    status = page.status or 200
    kept = [(k, v) for k, v in page.headers.items() if k.lower() not in _TRANSFER_HEADERS]
    kept.append(("Content-Length", str(len(page.body))))
    return StatusAndHeaders(f"{status} {_phrase(status)}", kept, protocol="HTTP/1.1")


def _fields(page: RawPage, document: str | None, link: Link | None = None) -> bytes:
    """The page's `metadata` record payload (WARC fields, one per line); `link`: an
    attachment's parent article and link text, which its bytes do not carry."""
    parent, title_hint = link or (None, None)
    values: list[tuple[str, str | None]] = [
        ("hra-page-url", page.url),
        ("hra-final-url", page.final_url),
        ("hra-status", str(page.status) if page.status is not None else None),
        ("hra-fetched-at", page.fetched_at),
        ("hra-sha256", page.sha256),
        ("hra-headers", json.dumps(page.headers, ensure_ascii=True)),
        ("hra-source", page.source),
        ("hra-document", document),
        ("hra-parent", parent),
        ("hra-title-hint", title_hint),
    ]
    lines = [f"{name}: {_one_line(value)}\r\n" for name, value in values if value is not None]
    return "".join(lines).encode("utf-8")


def _one_line(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def write_page(writer: WARCWriter, page: RawPage, document: str | None,
               link: Link | None = None) -> None:
    """A page version as its `response` (or `resource`) record and its `metadata` record
    (`link`: an attachment's parent and link text)."""
    uri = page.final_url or page.url
    date = warc_date(page.fetched_at)
    if page.status is None:
        content_type = page.headers.get("Content-Type") or "text/html"
        record = writer.create_warc_record(
            uri, "resource", payload=io.BytesIO(page.body), length=len(page.body),
            warc_content_type=content_type, warc_headers_dict={"WARC-Date": date})
    else:
        record = writer.create_warc_record(
            uri, "response", payload=io.BytesIO(page.body), length=len(page.body),
            http_headers=_http_headers(page), warc_headers_dict={"WARC-Date": date})
    writer.write_record(record)
    payload = _fields(page, document, link)
    meta = writer.create_warc_record(
        uri, "metadata", payload=io.BytesIO(payload), length=len(payload),
        warc_content_type=WARC_FIELDS,
        warc_headers_dict={"WARC-Date": date,
                           "WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID")})
    writer.write_record(meta)


def open_writer(fh: IO[bytes], filename: str, description: str) -> WARCWriter:
    """A WARC writer on `fh` (gzip per record unless `filename` ends in ``.warc``), its
    ``warcinfo`` record written."""
    writer = WARCWriter(fh, gzip=not filename.endswith(".warc"))
    info = writer.create_warcinfo_record(filename, {
        "software": f"hra/{__version__} (health-report-archive)",
        "format": "WARC File Format 1.0",
        "description": description,
    })
    writer.write_record(info)
    return writer


def documents_of(store: Store, pages: Iterable[RawPage]
                 ) -> Iterator[tuple[RawPage, str | None, Link | None]]:
    """Each page with its document id when the archive holds that document, and an
    attachment's parent and link text (one query per 100 pages)."""
    batch: list[RawPage] = []
    for page in pages:
        batch.append(page)
        if len(batch) == 100:
            yield from _with_documents(store, batch)
            batch = []
    yield from _with_documents(store, batch)


def _with_documents(store: Store, batch: list[RawPage]
                    ) -> Iterator[tuple[RawPage, str | None, Link | None]]:
    held = store.document_links({p.doc_id for p in batch}) if batch else {}
    for page in batch:
        yield page, page.doc_id if page.doc_id in held else None, held.get(page.doc_id)


def export_warc(
    store: Store,
    output: str | Path,
    *,
    doc_ids: Iterable[str] | None = None,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ExportSummary:
    """Write every stored page version (or those of the documents `doc_ids`) to the WARC file
    `output` (gzip per record), atomically: a failed or killed export leaves no partial file.
    `progress(n)` hears the page versions written. Raises ExportError with one line."""
    target = Path(output)
    if target.is_dir():
        raise ExportError(f"{target} is a directory; give a file name (FILE.warc.gz)")
    if not target.name.endswith((".warc.gz", ".warc")):
        raise ExportError(f"{target}: a WARC file name ends in .warc.gz")
    atomic = _atomic_file(target, force)
    n = 0
    what = "the whole archive" if doc_ids is None else "selected documents"
    with atomic as tmp, tmp.open("wb") as fh:
        writer = open_writer(fh, target.name, f"hra export: every page version of {what}")
        for page, document, link in documents_of(store, store.iter_pages(doc_ids)):
            write_page(writer, page, document, link)
            n += 1
            if progress:
                progress(n)
    return ExportSummary(n, 1, str(target), atomic.notes)

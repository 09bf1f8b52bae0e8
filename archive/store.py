"""The archive: one SQLite database (WAL) in the data dir.

Tables
* ``pages``: every fetched version of a page: url, final url, HTTP status and headers,
  fetched_at, sha256, the zstd-compressed bytes and the crawl source it was fetched for. Never
  deleted: a changed page adds a row.
* ``documents``: the derived Record of each document (its latest page version). Rebuildable from
  ``pages`` with `hra reprocess`.
* ``runs``: every import or crawl with its start, end, status and counts.
* ``doc_changes``: an append-only log of document upserts and deletes, written in the same
  transaction; derived indexes (search, duplicates) follow it from their last applied seq.

Every page is written in one transaction together with its document, so a killed process leaves
either both or neither. The schema version lives in ``PRAGMA user_version``; `MIGRATIONS` moves
an older archive forward.

The Store owns this database: no other module runs SQL on it. Callers use typed methods (records,
ids, the rows the search index reads, text as UTF-8 bytes for verification, the change log,
``duplicate_of`` marks, runs). Derived indexes keep their own files (``dedup.sqlite3``, the Whoosh
index) and follow `Store.changes_since`.

``Store(data_dir, readonly=True)`` opens the file with SQLite's ``mode=ro`` (and ``query_only``):
it never migrates or writes, not even to close runs left ``running`` by a dead process (`runs` and
`source_health` show those as interrupted without recording it). An archive whose schema is older
than this hra's is refused with one line asking to run a command that writes the archive first
(``hra reindex --incremental``, ``hra import``, ``hra crawl``), which migrates it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import zstandard

from archive.processes import pid_alive
from archive.record import Record
from archive.urls import canonical_url, doc_id

DB_NAME = "archive.sqlite3"

MIGRATIONS: tuple[str, ...] = (
    # 1: pages, documents, runs
    """
    CREATE TABLE pages (
        id INTEGER PRIMARY KEY,
        doc_id TEXT NOT NULL,
        url TEXT NOT NULL,
        final_url TEXT,
        status INTEGER,
        headers TEXT NOT NULL DEFAULT '{}',
        fetched_at TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        codec TEXT NOT NULL,
        body BLOB NOT NULL,
        UNIQUE (doc_id, sha256)
    );
    CREATE INDEX pages_doc ON pages (doc_id, id);
    CREATE TABLE documents (
        id TEXT PRIMARY KEY,
        page_id INTEGER REFERENCES pages (id),
        url TEXT NOT NULL,
        canonical_url TEXT NOT NULL,
        title TEXT,
        published TEXT,
        year INTEGER,
        site TEXT,
        column_name TEXT,
        region TEXT,
        region_province TEXT,
        region_city TEXT,
        region_county TEXT,
        doc_type TEXT NOT NULL,
        text TEXT NOT NULL,
        truncated INTEGER NOT NULL DEFAULT 0,
        full_length INTEGER,
        placeholders INTEGER NOT NULL DEFAULT 0,
        mojibake INTEGER NOT NULL DEFAULT 0,
        source_script TEXT NOT NULL DEFAULT 'simplified',
        is_health_report INTEGER NOT NULL DEFAULT 1,
        fetched_at TEXT,
        duplicate_of TEXT,
        attachments TEXT NOT NULL DEFAULT '[]',
        content_source TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX documents_year ON documents (year);
    CREATE INDEX documents_published ON documents (published);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        trigger TEXT NOT NULL DEFAULT 'manual',
        args TEXT NOT NULL DEFAULT '',
        pid INTEGER,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        pages INTEGER NOT NULL DEFAULT 0,
        new INTEGER NOT NULL DEFAULT 0,
        changed INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        errors TEXT NOT NULL DEFAULT '[]'
    );
    """,
    # 2: a change log of documents, the queue that derived indexes (search, duplicates) follow
    """
    CREATE TABLE doc_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        doc_id TEXT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('upsert', 'delete', 'meta'))
    );
    CREATE INDEX doc_changes_doc ON doc_changes (doc_id);
    INSERT INTO doc_changes (doc_id, op) SELECT id, 'upsert' FROM documents ORDER BY id;
    """,
    # 3: look pages up by the URL that was requested (it may have redirected elsewhere)
    """
    CREATE INDEX pages_url ON pages (url);
    """,
    # 4: reposts of a document, and canonical-only selections
    """
    CREATE INDEX documents_duplicate_of ON documents (duplicate_of);
    """,
    # 5: the sources a crawl run crawled, each with its status, error and counts (what
    # `hra runs` and the health columns of `hra sources` show); a run's last sign of life
    """
    CREATE TABLE run_sources (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        error TEXT,
        started_at TEXT,
        ended_at TEXT,
        pages INTEGER NOT NULL DEFAULT 0,
        new INTEGER NOT NULL DEFAULT 0,
        changed INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, source)
    );
    CREATE INDEX run_sources_source ON run_sources (source, run_id);
    ALTER TABLE runs ADD COLUMN heartbeat TEXT;
    """,
    # 6: the crawl source a page was fetched for (NULL: imported, or an ad-hoc --url crawl), so
    # `hra reprocess` extracts it with that source's selectors again
    """
    ALTER TABLE pages ADD COLUMN source TEXT;
    """,
    # 7: official document metadata (发布机构, 文号, 成文日期) and the body's blocks with its tables
    # (JSON, NULL without tables); `hra reprocess` fills them for documents stored before
    """
    ALTER TABLE documents ADD COLUMN issuer TEXT;
    ALTER TABLE documents ADD COLUMN doc_number TEXT;
    ALTER TABLE documents ADD COLUMN written TEXT;
    ALTER TABLE documents ADD COLUMN blocks TEXT;
    CREATE INDEX documents_issuer ON documents (issuer);
    """,
    # 8: attachments as documents: the article a document is attached to, its format (html, pdf,
    # docx, ...) and its flags (a JSON list: "no_text", "unextracted")
    """
    ALTER TABLE documents ADD COLUMN parent TEXT;
    ALTER TABLE documents ADD COLUMN format TEXT NOT NULL DEFAULT 'html';
    ALTER TABLE documents ADD COLUMN flags TEXT NOT NULL DEFAULT '[]';
    CREATE INDEX documents_parent ON documents (parent);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

_DOC_COLUMNS = (
    "id", "page_id", "url", "canonical_url", "title", "published", "year", "site", "column_name",
    "region", "region_province", "region_city", "region_county", "doc_type", "text", "truncated",
    "full_length", "placeholders", "mojibake", "source_script", "is_health_report", "fetched_at",
    "duplicate_of", "attachments", "content_source", "updated_at", "issuer", "doc_number",
    "written", "blocks", "parent", "format", "flags",
)
_BOOL_FIELDS = ("truncated", "placeholders", "mojibake", "is_health_report")

#: The document columns the search index reads (`Store.index_rows`), in the order
#: `search.schema.fingerprint` digests them. STABLE: changing it makes every indexed document stale.
INDEX_COLUMNS = (
    "id", "url", "title", "published", "year", "site", "region", "region_province",
    "region_city", "region_county", "doc_type", "text", "truncated", "placeholders", "mojibake",
    "is_health_report", "duplicate_of", "issuer", "format",
)
#: An archive row as the search index reads it: `INDEX_COLUMNS` -> value as stored (flags are
#: 0/1 integers, not booleans).
IndexRow = dict[str, Any]

#: How `Store.iter_documents` orders documents: "newest" (published date, newest first, undated
#: last, ties by id: the order of `hra list` and browsing) or "id".
DocumentOrder = Literal["newest", "id"]
_ORDER_SQL: dict[str, str] = {"newest": "published IS NULL, published DESC, id", "id": "id"}

_INDEX_SQL = f"SELECT {', '.join(INDEX_COLUMNS)} FROM documents"

#: What `Store.text_bytes` reads: title and text ("any"), or one of them (the other is None).
TextFields = Literal["any", "title", "text"]
_TEXT_SQL: dict[str, str] = {
    "any": "CAST(title AS BLOB), CAST(text AS BLOB)",
    "title": "CAST(title AS BLOB), NULL",
    "text": "NULL, CAST(text AS BLOB)",
}
#: Bulk reads (verification) memory-map the file: no copy and no system call per page.
_MMAP_BYTES = 17179869184


class StoreError(RuntimeError):
    """The archive cannot be opened or written; the message is one line for the user."""


class StoreFull(StoreError):
    """The disk is full (SQLite's SQLITE_FULL, or ENOSPC): the write was rolled back, and
    everything committed before it is intact."""


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` says the disk is full: SQLite's "database or disk is full"
    (SQLITE_FULL), an OSError ENOSPC/EDQUOT, or a `StoreFull` made of one."""
    if isinstance(exc, StoreFull):
        return True
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code is not None and code & 0xFF == sqlite3.SQLITE_FULL
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class RawPage:
    id: int
    doc_id: str
    url: str
    final_url: str | None
    status: int | None
    headers: dict[str, str]
    fetched_at: str
    sha256: str
    body: bytes
    source: str | None = None  # the crawl source it was fetched for (see `save_page`)


@dataclass
class RunCounts:
    pages: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def add_page(self, outcome: str) -> None:
        """Count one handled URL of a crawl: "new", "changed", "unchanged", "failed" or
        "skipped:<reason>" (anything else counts as failed)."""
        self.pages += 1
        if outcome.startswith("skipped:"):
            self.skipped += 1
        elif outcome in ("new", "changed", "unchanged", "failed"):
            self.add(outcome)
        else:
            self.failed += 1

    def values(self) -> tuple[int, int, int, int, int, int]:
        return (self.pages, self.new, self.changed, self.unchanged, self.skipped, self.failed)


class Store:
    """The archive database. Use as a context manager or call `close()`.

    ``db`` is the connection: SQL on the archive lives in this class (tests may inspect the
    file through it); everything else calls the methods.
    """

    def __init__(self, data_dir: Path, *, readonly: bool = False) -> None:
        """Open (read-write: create and migrate) the archive in `data_dir`.

        `readonly` opens an existing archive with SQLite's ``mode=ro``: nothing is migrated or
        written, and every writing method raises `StoreError`. Raises `StoreError` (one line)
        when the archive cannot be opened.
        """
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        self.readonly = readonly
        if readonly and not self.path.exists():
            raise StoreError(f"no archive at {self.data_dir} (run `hra import` or `hra crawl`)")
        try:
            self.db = self._connect_readonly() if readonly else self._connect()
        except (OSError, sqlite3.DatabaseError) as exc:
            raise StoreError(f"cannot open archive at {self.path}: {exc}") from exc
        self._mapped = False
        self._zc = zstandard.ZstdCompressor(level=6)
        self._zd = zstandard.ZstdDecompressor()

    def _connect(self) -> sqlite3.Connection:
        """The read-write connection (WAL), with the schema migrated to `SCHEMA_VERSION`."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self.db = db
            self._migrate()
        except BaseException:
            db.close()
            raise
        return db

    def _connect_readonly(self) -> sqlite3.Connection:
        """A ``mode=ro`` connection to an archive at this hra's schema version."""
        uri = f"{self.path.absolute().as_uri()}?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA query_only=ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                raise StoreError(f"{self.path} is not an hra archive yet (no schema): run "
                                 "`hra import` or `hra crawl` to create it")
            _check_version(version)
            if version < SCHEMA_VERSION:
                raise StoreError(
                    f"the archive at {self.data_dir} has schema v{version}, older than this hra "
                    f"(v{SCHEMA_VERSION}): run a command that writes it once to upgrade it "
                    "(`hra reindex --incremental`, `hra import` or `hra crawl`)")
        except BaseException:
            db.close()
            raise
        return db

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (the last writer's close checkpoints the WAL)."""
        self.db.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        _check_version(version)
        for number in range(version, SCHEMA_VERSION):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number + 1}")
                self.db.execute("COMMIT")
            except BaseException:
                _rollback(self.db)
                raise

    def transaction(self) -> _Transaction:
        """``with store.transaction():`` groups writes into one transaction (BEGIN IMMEDIATE;
        nested uses join the outer one). Raises `StoreError` on a read-only store."""
        if self.readonly:
            raise StoreError(f"the archive at {self.data_dir} was opened read-only: cannot write")
        return _Transaction(self.db)

    # -- pages and documents ---------------------------------------------------------------

    def save_page(
        self,
        *,
        url: str,
        body: bytes,
        record: Record | None,
        fetched_at: str,
        final_url: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        source: str | None = None,
    ) -> str:
        """Store a fetched page and its record in one transaction.

        `source` names the crawl source the page was fetched for (its selectors apply again
        when `hra reprocess` re-extracts it); None for imported pages and ad-hoc crawls.
        Returns "new" (first version of a document), "changed" (a new version of a known
        document) or "unchanged" (these exact bytes are already archived). The document follows
        the newest version (by `fetched_at`): a version older than one already stored (a WARC
        of an earlier crawl imported later) is kept as a version but does not replace it, so
        pages stored in any order make the same archive.
        """
        did = record.id if record else doc_id(url)
        sha = hashlib.sha256(body).hexdigest()
        with self.transaction():
            row = self.db.execute(
                "SELECT id FROM pages WHERE doc_id = ? AND sha256 = ?", (did, sha)
            ).fetchone()
            if row is not None:
                return "unchanged"
            known = self.db.execute("SELECT 1 FROM documents WHERE id = ?", (did,)).fetchone()
            had_pages = self.db.execute(
                "SELECT 1 FROM pages WHERE doc_id = ? LIMIT 1", (did,)
            ).fetchone()
            newer = had_pages is not None and self.db.execute(
                "SELECT 1 FROM pages WHERE doc_id = ? AND fetched_at > ? LIMIT 1",
                (did, fetched_at)).fetchone() is not None
            cur = self.db.execute(
                "INSERT INTO pages (doc_id, url, final_url, status, headers, fetched_at, sha256,"
                " size, codec, body, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'zstd', ?, ?)",
                (did, url, final_url, status, json.dumps(headers or {}, ensure_ascii=False),
                 fetched_at, sha, len(body), self._zc.compress(body), source),
            )
            if record is not None and not newer:
                self._upsert_document(record, cur.lastrowid)
            return "changed" if (known or had_pages) else "new"

    def put_document(self, record: Record) -> str:
        """Insert or update a document without a raw page (JSONL import). Returns the outcome."""
        with self.transaction():
            row = self.db.execute("SELECT * FROM documents WHERE id = ?", (record.id,)).fetchone()
            if row is not None and self._row_to_record(row).to_json() == record.to_json():
                return "unchanged"
            page_id = row["page_id"] if row is not None else None
            self._upsert_document(record, page_id)
            return "changed" if row is not None else "new"

    def update_document(self, record: Record, page_id: int) -> None:
        """Replace a document's record, derived from the stored page `page_id` (reprocess)."""
        with self.transaction():
            self._upsert_document(record, page_id)

    def _upsert_document(self, record: Record, page_id: int | None) -> None:
        values = {
            "id": record.id, "page_id": page_id, "url": record.url,
            "canonical_url": canonical_url(record.url), "title": record.title,
            "published": record.published, "year": record.year, "site": record.site,
            "column_name": record.column, "region": record.region,
            "region_province": record.region_province, "region_city": record.region_city,
            "region_county": record.region_county, "doc_type": record.doc_type,
            "text": record.text, "truncated": int(record.truncated),
            "full_length": record.full_length, "placeholders": int(record.placeholders),
            "mojibake": int(record.mojibake), "source_script": record.source_script,
            "is_health_report": int(record.is_health_report), "fetched_at": record.fetched_at,
            "duplicate_of": record.duplicate_of,
            "attachments": json.dumps(record.attachments, ensure_ascii=False),
            "content_source": record.content_source, "updated_at": utc_now(),
            "issuer": record.issuer, "doc_number": record.doc_number, "written": record.written,
            "blocks": json.dumps(record.blocks, ensure_ascii=False) if record.blocks else None,
            "parent": record.parent, "format": record.format,
            "flags": json.dumps(record.flags),
        }
        cols = ", ".join(_DOC_COLUMNS)
        marks = ", ".join(f":{c}" for c in _DOC_COLUMNS)
        self.db.execute(f"INSERT OR REPLACE INTO documents ({cols}) VALUES ({marks})", values)
        self._log_change(record.id, "upsert")

    def _log_change(self, did: str, op: str) -> None:
        """Append to the change log (same transaction as the change itself)."""
        self.db.execute("INSERT INTO doc_changes (doc_id, op) VALUES (?, ?)", (did, op))

    def set_duplicate_of(self, did: str, canonical: str | None) -> None:
        """Mark a document as a copy of `canonical` (None: it is canonical itself)."""
        with self.transaction():
            self.db.execute("UPDATE documents SET duplicate_of = ? WHERE id = ?",
                            (canonical, did))
            self._log_change(did, "meta")

    def changes_since(self, seq: int, limit: int = 1000) -> list[tuple[int, str, str]]:
        """(seq, doc_id, op) of document changes after `seq`, oldest first.

        op is "upsert" (new or changed document), "delete", or "meta" (only derived metadata
        such as duplicate_of changed; the text did not). Derived indexes keep the last seq
        they applied; everything after it is their queue.
        """
        rows = self.db.execute(
            "SELECT seq, doc_id, op FROM doc_changes WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def last_change(self) -> int:
        """The head of the change log: the seq of the newest change (0 when there is none)."""
        return self.db.execute("SELECT coalesce(max(seq), 0) FROM doc_changes").fetchone()[0]

    def content_changed_since(self, seq: int) -> bool:
        """Whether a document was added, changed or deleted after `seq` (changes of derived
        metadata only, "meta" such as ``duplicate_of``, do not count)."""
        return self.db.execute(
            "SELECT 1 FROM doc_changes WHERE seq > ? AND op != 'meta' LIMIT 1", (seq,)
        ).fetchone() is not None

    def delete_document(self, did: str) -> None:
        """Remove a document (its raw pages stay) and log the deletion."""
        with self.transaction():
            self.db.execute("DELETE FROM documents WHERE id = ?", (did,))
            self._log_change(did, "delete")

    @staticmethod
    def _row_to_record(row: sqlite3.Row) -> Record:
        data: dict[str, Any] = dict(row)
        data["column"] = data.pop("column_name")
        data["attachments"] = json.loads(data["attachments"] or "[]")
        data["blocks"] = json.loads(data["blocks"]) if data.get("blocks") else None
        data["flags"] = json.loads(data["flags"] or "[]")
        for name in _BOOL_FIELDS:
            data[name] = bool(data[name])
        return Record.from_json(data)

    def get(self, did: str) -> Record | None:
        """The record of document `did`, or None."""
        row = self.db.execute("SELECT * FROM documents WHERE id = ?", (did,)).fetchone()
        return self._row_to_record(row) if row else None

    def find_ids(self, prefix: str) -> list[str]:
        """Document ids starting with `prefix` (so users can type a short id)."""
        rows = self.db.execute(
            "SELECT id FROM documents WHERE id >= ? AND id < ? ORDER BY id LIMIT 5",
            (prefix, prefix + "\uffff"),
        ).fetchall()
        return [r[0] for r in rows]

    def iter_documents(
        self, *, canonical_only: bool = False, order: DocumentOrder = "newest"
    ) -> Iterator[Record]:
        """Stream every document (bounded memory) in `order`: "newest" (published date,
        newest first, undated last, ties by id) or "id". `canonical_only` leaves out the
        documents marked as copies of another (``duplicate_of`` set)."""
        where = "duplicate_of IS NULL" if canonical_only else "1"
        cur = self.db.execute(f"SELECT * FROM documents WHERE {where} ORDER BY {_ORDER_SQL[order]}")
        while rows := cur.fetchmany(500):
            for row in rows:
                yield self._row_to_record(row)

    def count_documents(self, *, canonical_only: bool = False) -> int:
        """How many documents the archive holds (`canonical_only`: not marked as copies)."""
        where = "duplicate_of IS NULL" if canonical_only else "1"
        return self.db.execute(f"SELECT count(*) FROM documents WHERE {where}").fetchone()[0]

    def document_ids(self, *, order: Literal["id", "stored"] = "id") -> list[str]:
        """Every document id, sorted ("id") or in the order the rows were stored ("stored")."""
        column = "rowid" if order == "stored" else "id"
        return [r[0] for r in self.db.execute(f"SELECT id FROM documents ORDER BY {column}")]

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Those of `ids` that the archive holds (one query)."""
        rows = self.db.execute(
            "SELECT id FROM documents WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        )
        return {r[0] for r in rows}

    def document_links(self, ids: Iterable[str]) -> dict[str, tuple[str | None, str | None] | None]:
        """Of `ids`, those the archive holds as documents (one query), each with what an
        attachment's bytes do not say: ``(parent, title)`` (the article that links it; the link
        text, its title when it has none of its own) for documents read from attachments
        (format other than html), None for pages."""
        rows = self.db.execute(
            "SELECT id, format, parent, title FROM documents WHERE id IN"
            " (SELECT value FROM json_each(?))", (json.dumps(list(ids)),))
        return {r[0]: (r[2], r[3]) if r[1] != "html" else None for r in rows}

    def copies_of(self, canonical: str) -> list[str]:
        """The ids of the documents marked as copies of `canonical` (``duplicate_of``)."""
        rows = self.db.execute("SELECT id FROM documents WHERE duplicate_of = ? ORDER BY id",
                               (canonical,))
        return [r[0] for r in rows]

    def abort_when(self, check: Callable[[], bool]) -> None:
        """Abort any query of this connection once ``check()`` is true (asked every few
        thousand SQLite steps; the query raises ``sqlite3.OperationalError``): a web request cut
        for taking too long stops its work."""
        self.db.set_progress_handler(lambda: 1 if check() else 0, 10_000)

    def get_many(self, ids: Iterable[str]) -> dict[str, Record]:
        """The records of these ids, by id (one query; ids not in the archive are left out)."""
        rows = self.db.execute(
            "SELECT * FROM documents WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        ).fetchall()
        return {row["id"]: self._row_to_record(row) for row in rows}

    # -- what the search index reads -------------------------------------------------------

    def index_rows(self, ids: Iterable[str]) -> dict[str, IndexRow]:
        """The `INDEX_COLUMNS` of these documents, by id (one query; missing ids left out)."""
        rows = self.db.execute(
            f"{_INDEX_SQL} WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        ).fetchall()
        return {row[0]: dict(zip(INDEX_COLUMNS, row, strict=True)) for row in rows}

    def iter_index_rows(self) -> Iterator[IndexRow]:
        """The `INDEX_COLUMNS` of every document, streamed (bounded memory), in stored order."""
        cur = self.db.execute(_INDEX_SQL)
        while rows := cur.fetchmany(500):
            for row in rows:
                yield dict(zip(INDEX_COLUMNS, row, strict=True))

    def text_bytes(
        self, ids: Iterable[str], fields: TextFields = "any"
    ) -> Iterator[tuple[str, bytes | None, bytes | None]]:
        """(id, title, text) of these documents as UTF-8 bytes, in one query and unordered:
        what search verification scans. `fields` "title" or "text" reads only that one (the
        other is None). The rows stream from SQLite as they are read; the file is memory-mapped
        for these bulk reads."""
        if not self._mapped:
            # A per-connection setting (nothing is written): reading many overflow pages from
            # the map avoids a copy and a system call per page.
            self.db.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
            self._mapped = True
        return self.db.execute(
            f"SELECT id, {_TEXT_SQL[fields]} FROM documents"
            " WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        )

    def text_size(self) -> int:
        """The UTF-8 size in bytes of all document texts (titles not included)."""
        return self.db.execute(
            "SELECT coalesce(sum(length(CAST(text AS BLOB))), 0) FROM documents"
        ).fetchone()[0]

    def latest_page(self, did: str) -> RawPage | None:
        """The newest stored version of a document's page (last fetched; of those fetched at
        the same time, the last stored), decompressed, or None."""
        row = self.db.execute(
            "SELECT * FROM pages WHERE doc_id = ? ORDER BY fetched_at DESC, id DESC LIMIT 1",
            (did,)).fetchone()
        return self._row_to_page(row) if row else None

    def page_versions(self, did: str) -> list[tuple[int, str, str, int]]:
        """(page id, fetched_at, sha256, size) of every stored version of a document, oldest
        first."""
        rows = self.db.execute(
            "SELECT id, fetched_at, sha256, size FROM pages WHERE doc_id = ? ORDER BY id", (did,)
        ).fetchall()
        return [tuple(r) for r in rows]

    def iter_latest_pages(self) -> Iterator[RawPage]:
        """The newest version (`latest_page`) of every archived page, one at a time."""
        cur = self.db.execute(
            "SELECT * FROM pages WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER"
            " (PARTITION BY doc_id ORDER BY fetched_at DESC, id DESC) AS n FROM pages)"
            " WHERE n = 1) ORDER BY id"
        )
        while rows := cur.fetchmany(100):
            for row in rows:
                yield self._row_to_page(row)

    def iter_pages(self, doc_ids: Iterable[str] | None = None) -> Iterator[RawPage]:
        """Every stored version of every page (or of the documents `doc_ids`), oldest first
        (in the order they were stored), one at a time (bounded memory: `doc_ids` are read in
        chunks)."""
        if doc_ids is None:
            cur = self.db.execute("SELECT * FROM pages ORDER BY id")
            while rows := cur.fetchmany(100):
                for row in rows:
                    yield self._row_to_page(row)
            return
        ids = iter(doc_ids)
        while chunk := [did for _, did in zip(range(500), ids, strict=False)]:
            cur = self.db.execute(
                "SELECT * FROM pages WHERE doc_id IN (SELECT value FROM json_each(?))"
                " ORDER BY id", (json.dumps(chunk),))
            while rows := cur.fetchmany(100):
                for row in rows:
                    yield self._row_to_page(row)

    def count_pages(self, doc_ids: Iterable[str] | None = None) -> int:
        """How many page versions `iter_pages` yields."""
        if doc_ids is None:
            return self.db.execute("SELECT count(*) FROM pages").fetchone()[0]
        return self.db.execute(
            "SELECT count(*) FROM pages WHERE doc_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(doc_ids)),)).fetchone()[0]

    def count_latest_pages(self) -> int:
        """How many documents have stored pages (what `iter_latest_pages` yields)."""
        return self.db.execute("SELECT count(DISTINCT doc_id) FROM pages").fetchone()[0]

    def _row_to_page(self, row: sqlite3.Row) -> RawPage:
        return RawPage(
            id=row["id"], doc_id=row["doc_id"], url=row["url"], final_url=row["final_url"],
            status=row["status"], headers=json.loads(row["headers"] or "{}"),
            fetched_at=row["fetched_at"], sha256=row["sha256"],
            body=self._zd.decompress(row["body"]), source=row["source"],
        )

    def has_url(self, url: str) -> bool:
        """Whether a page was archived at this URL: as its document's URL, or as the URL that
        was requested when it redirected there."""
        return (
            self.db.execute(
                "SELECT 1 FROM pages WHERE doc_id = ? OR url = ? LIMIT 1", (doc_id(url), url)
            ).fetchone() is not None
        )

    # -- runs ------------------------------------------------------------------------------
    #
    # A run's status is "running" until its process records the end: "ok", "partial" (a crawl
    # in which some sources failed), "failed" or "interrupted". A run left "running" by a
    # process that died (kill -9, the OOM killer) is marked "interrupted" by the next
    # `start_run` or `runs`. A crawl run also has one `run_sources` row per source it was asked
    # to crawl ("pending", "running", then "ok", "failed" with a one-line error, or
    # "interrupted"), and the crawl child adds its counts with `count_run` in the transaction
    # that stores each page, so every stored page is counted in its run even if the crawl is
    # killed.

    def start_run(self, kind: str, args: str = "", trigger: str = "manual",
                  sources: list[str] | tuple[str, ...] = ()) -> int:
        """Record the start of a run (closing runs of dead processes first); returns its id.
        A crawl names its `sources` (each "pending" until it starts)."""
        self._close_dead_runs()
        now = utc_now()
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO runs (kind, trigger, args, pid, started_at, heartbeat)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (kind, trigger, args, os.getpid(), now, now),
            )
            run_id = int(cur.lastrowid or 0)
            self.db.executemany("INSERT OR IGNORE INTO run_sources (run_id, source) VALUES (?, ?)",
                                [(run_id, name) for name in dict.fromkeys(sources)])
            return run_id

    def update_run(self, run_id: int, counts: RunCounts) -> None:
        """Set a running run's counts so far (and its heartbeat)."""
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET pages=?, new=?, changed=?, unchanged=?, skipped=?, failed=?,"
                " heartbeat=? WHERE id=?",
                (*counts.values(), utc_now(), run_id),
            )

    def count_run(self, run_id: int, counts: RunCounts, source: str | None = None) -> None:
        """Add `counts` to the run (and to its row for `source`). Inside the caller's
        transaction when there is one: a crawl counts a stored page in the transaction that
        stores it."""
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET pages=pages+?, new=new+?, changed=changed+?,"
                " unchanged=unchanged+?, skipped=skipped+?, failed=failed+?, heartbeat=?"
                " WHERE id=?",
                (*counts.values(), utc_now(), run_id),
            )
            if source is not None:
                self.db.execute(
                    "UPDATE run_sources SET pages=pages+?, new=new+?, changed=changed+?,"
                    " unchanged=unchanged+?, skipped=skipped+?, failed=failed+?"
                    " WHERE run_id=? AND source=?",
                    (*counts.values(), run_id, source),
                )

    def run_counts(self, run_id: int) -> RunCounts:
        """The counts recorded for a run (zeros for an unknown run)."""
        row = self.db.execute(
            "SELECT pages, new, changed, unchanged, skipped, failed FROM runs WHERE id=?",
            (run_id,),
        ).fetchone()
        return RunCounts(*row) if row else RunCounts()

    def set_run_source(self, run_id: int, source: str, status: str,
                       error: str | None = None) -> None:
        """A source's state in a crawl run: "running" when its crawl starts, then "ok",
        "failed" (with `error`, one line) or "interrupted"."""
        now = utc_now()
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO run_sources (run_id, source) VALUES (?, ?)",
                            (run_id, source))
            if status in ("pending", "running"):
                self.db.execute(
                    "UPDATE run_sources SET status=?, started_at=coalesce(started_at, ?)"
                    " WHERE run_id=? AND source=?", (status, now, run_id, source))
            else:
                self.db.execute(
                    "UPDATE run_sources SET status=?, error=?, started_at=coalesce(started_at, ?),"
                    " ended_at=? WHERE run_id=? AND source=?",
                    (status, error, now, now, run_id, source))
            self.db.execute("UPDATE runs SET heartbeat=? WHERE id=?", (now, run_id))

    def run_sources(self, run_id: int) -> list[dict[str, Any]]:
        """The sources of a crawl run, in the order they were planned."""
        rows = self.db.execute(
            "SELECT source, status, error, started_at, ended_at, pages, new, changed, unchanged,"
            " skipped, failed FROM run_sources WHERE run_id=? ORDER BY rowid", (run_id,)
        ).fetchall()
        return [dict(r) for r in rows]

    def finish_run(
        self, run_id: int, counts: RunCounts | None, status: str,
        errors: list[str] | None = None,
    ) -> None:
        """Record the end of a run. `counts` None keeps the counts recorded so far (a crawl's
        child counted them); sources that never finished become "interrupted"."""
        now = utc_now()
        with self.transaction():
            if counts is not None:
                self.db.execute(
                    "UPDATE runs SET pages=?, new=?, changed=?, unchanged=?, skipped=?, failed=?"
                    " WHERE id=?", (*counts.values(), run_id))
            self.db.execute(
                "UPDATE runs SET ended_at=?, heartbeat=?, status=?, errors=? WHERE id=?",
                (now, now, status, json.dumps((errors or [])[:200], ensure_ascii=False), run_id),
            )
            self.db.execute(
                "UPDATE run_sources SET status='interrupted', ended_at=coalesce(ended_at, ?)"
                " WHERE run_id=? AND status IN ('pending', 'running')", (now, run_id))

    def _dead_runs(self) -> dict[int, str]:
        """Runs left 'running' by a process that is gone -> the end they get: their last sign
        of life (heartbeat), else now."""
        rows = self.db.execute(
            "SELECT id, pid, ended_at, heartbeat FROM runs WHERE status = 'running'"
        ).fetchall()
        now = utc_now()
        return {row["id"]: row["ended_at"] or row["heartbeat"] or now
                for row in rows if row["pid"] and not pid_alive(row["pid"])}

    def _close_dead_runs(self) -> dict[int, str]:
        """Runs left 'running' by a killed process become 'interrupted' (ended at their last
        sign of life), with their unfinished sources. A read-only store writes nothing: it
        returns those runs (id -> end) for the caller to show as interrupted."""
        dead = self._dead_runs()
        if self.readonly:
            return dead
        for run_id in dead:
            with self.transaction():
                self.db.execute(
                    "UPDATE runs SET status='interrupted',"
                    " ended_at=coalesce(ended_at, heartbeat, ?) WHERE id=?",
                    (utc_now(), run_id),
                )
                self.db.execute(
                    "UPDATE run_sources SET status='interrupted', ended_at=coalesce(ended_at,"
                    " (SELECT ended_at FROM runs WHERE id=?)) WHERE run_id=?"
                    " AND status IN ('pending', 'running')", (run_id, run_id))
        return {}

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest runs, each with its errors and (crawls) its sources. Runs of dead
        processes are closed first (read-only: shown as closed, nothing written)."""
        dead = self._close_dead_runs()
        rows = self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        out = []
        for row in rows:
            item = dict(row)
            item["errors"] = json.loads(item["errors"] or "[]")
            item["sources"] = self.run_sources(item["id"])
            if item["id"] in dead:
                item["status"], item["ended_at"] = "interrupted", dead[item["id"]]
                for source in item["sources"]:
                    _interrupt_source(source, dead[item["id"]])
            out.append(item)
        return out

    def source_health(self) -> dict[str, dict[str, Any]]:
        """Each crawled source's record over all runs: its last run (status, error), its last
        success, the documents it archived (new) and its last error. Sources a run planned but
        never started (it was interrupted first) do not count."""
        dead = self._close_dead_runs()
        rows = self.db.execute(
            "SELECT s.source, s.run_id, s.status, s.error, s.new, r.started_at AS run_started,"
            " coalesce(s.started_at, r.started_at) AS started_at, s.ended_at"
            " FROM run_sources s JOIN runs r ON r.id = s.run_id"
            " WHERE s.started_at IS NOT NULL ORDER BY s.source, s.run_id"
        ).fetchall()
        health: dict[str, dict[str, Any]] = {}
        for row in rows:
            r = dict(row)
            if r["run_id"] in dead:
                _interrupt_source(r, dead[r["run_id"]])
            h = health.setdefault(r["source"], {
                "runs": 0, "last_run": None, "last_success": None, "documents": 0,
                "last_error": None,
            })
            h["runs"] += 1
            h["documents"] += r["new"]
            h["last_run"] = {"run": r["run_id"], "started_at": r["started_at"],
                             "ended_at": r["ended_at"], "status": r["status"],
                             "error": r["error"]}
            if r["status"] == "ok":
                h["last_success"] = r["ended_at"] or r["started_at"]
            if r["error"]:
                h["last_error"] = {"run": r["run_id"], "at": r["ended_at"] or r["started_at"],
                                   "message": r["error"]}
        return health

    # -- statistics ------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts of documents and pages, stored sizes, documents by year, type, province and
        site, and flag counts (what `hra stats` shows)."""

        def by(column: str) -> dict[str, int]:
            rows = self.db.execute(
                f"SELECT coalesce({column}, '(none)') AS k, count(*) FROM documents"
                " GROUP BY k ORDER BY count(*) DESC, k"
            ).fetchall()
            return {str(k): n for k, n in rows}

        one = self.db.execute
        return {
            "documents": one("SELECT count(*) FROM documents").fetchone()[0],
            "pages": one("SELECT count(*) FROM pages").fetchone()[0],
            "raw_bytes": one("SELECT coalesce(sum(size), 0) FROM pages").fetchone()[0],
            "stored_bytes": one("SELECT coalesce(sum(length(body)), 0) FROM pages").fetchone()[0],
            "by_year": by("year"),
            "by_doc_type": by("doc_type"),
            "by_region": by("region_province"),
            "by_site": by("site"),
            "by_issuer": by("issuer"),
            "flags": {
                name: one(f"SELECT count(*) FROM documents WHERE {name}").fetchone()[0]
                for name in ("truncated", "placeholders", "mojibake")
            }
            | {
                "traditional_source": one(
                    "SELECT count(*) FROM documents WHERE source_script = 'traditional'"
                ).fetchone()[0],
                "not_health_report": one(
                    "SELECT count(*) FROM documents WHERE NOT is_health_report"
                ).fetchone()[0],
                "duplicates": one(
                    "SELECT count(*) FROM documents WHERE duplicate_of IS NOT NULL"
                ).fetchone()[0],
            },
        }


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception. A full disk (in a statement
    or at COMMIT) becomes `StoreFull` once the transaction is rolled back."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.depth_owner = False

    def __enter__(self) -> None:
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self.depth_owner = True

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if not self.depth_owner:
            return
        if exc is None:
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error as commit_error:
                _rollback(self.db)
                if is_disk_full(commit_error):
                    raise StoreFull(_full_message(commit_error)) from commit_error
                raise
            return
        _rollback(self.db)
        if is_disk_full(exc) and not isinstance(exc, StoreFull):
            raise StoreFull(_full_message(exc)) from exc


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already (it does itself after some
    errors, SQLITE_FULL among them); a failing rollback does not hide the error being
    handled."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def _full_message(exc: BaseException) -> str:
    return f"disk full: the archive could not be written ({exc})"


def _interrupt_source(source: dict[str, Any], ended_at: str) -> None:
    """A source row of a dead run as closing the run records it: unfinished -> interrupted."""
    if source["status"] in ("pending", "running"):
        source["status"] = "interrupted"
        source["ended_at"] = source["ended_at"] or ended_at


def _check_version(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"archive schema v{version} is newer than this hra (v{SCHEMA_VERSION}): upgrade hra"
        )

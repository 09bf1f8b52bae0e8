"""A read-only Store opens the archive with SQLite's mode=ro: nothing is migrated or written, and
every command that only reads leaves archive.sqlite3 (and its WAL) byte for byte as it was."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from archive.cli import _register_command_modules, cli
from archive.record import Record
from archive.store import MIGRATIONS, SCHEMA_VERSION, Store, StoreError
from tests.conftest import EVAL

_register_command_modules()  # what `hra` (archive.cli:main) does before parsing

HEARTBEAT = "2026-01-02T03:04:05+00:00"


def hra(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args])


def snapshot(data_dir: Path) -> tuple[int, str, bytes]:
    """(mtime, sha256) of archive.sqlite3 and the bytes of its WAL (none: b"")."""
    main = data_dir / "archive.sqlite3"
    wal = data_dir / "archive.sqlite3-wal"
    return (main.stat().st_mtime_ns, hashlib.sha256(main.read_bytes()).hexdigest(),
            wal.read_bytes() if wal.exists() else b"")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The eval pages imported (documents, raw pages, index, clusters of reposts), plus a crawl
    run left 'running' by a dead process: `hra runs` would close it if it could write."""
    data_dir = tmp_path_factory.mktemp("readonly") / "data"
    result = hra(data_dir, "import", str(EVAL / "pages"))
    assert result.exit_code == 0, result.output
    with Store(data_dir) as store:
        run = store.start_run("crawl", "a", sources=["a"])
        store.set_run_source(run, "a", "running")
        store.db.execute("UPDATE runs SET pid = ?, heartbeat = ? WHERE id = ?",
                         (dead_pid(), HEARTBEAT, run))
    return data_dir  # every connection closed: the WAL is checkpointed into the file


def some_ids(data_dir: Path) -> tuple[str, str]:
    """(a document id, the canonical id of a cluster of reposts)."""
    with Store(data_dir, readonly=True) as store:
        docs = list(store.iter_documents(order="id"))
    copy = next(r for r in docs if r.duplicate_of)
    return docs[0].id, copy.duplicate_of or ""


def test_read_only_store_cannot_write(archive: Path) -> None:
    before = snapshot(archive)
    with Store(archive, readonly=True) as store:
        did = store.document_ids()[0]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.db.execute("UPDATE documents SET title = 'x' WHERE id = ?", (did,))
        with pytest.raises(StoreError, match="read-only"):
            store.set_duplicate_of(did, None)
        with pytest.raises(StoreError, match="read-only"):
            store.start_run("import")
        assert store.get(did) is not None
    assert snapshot(archive) == before


READ_ONLY_COMMANDS = [
    ["list"], ["list", "--json", "--all-versions"], ["list", "--year", "2023"],
    ["show", "{id}"], ["show", "{id}", "--json"], ["show", "{id}", "--raw"],
    ["stats"], ["stats", "--json"],
    ["search", "医共体"], ["search", "医共体", "--json", "--facets"], ["search", "--year", "2023"],
    ["export", "--format", "jsonl", "-o", "{out}/all.jsonl"],
    ["export", "医共体", "--format", "csv", "-o", "{out}/ygt.csv"],
    ["check"], ["runs"], ["runs", "--json"], ["sources"],
    ["dups"], ["dups", "{canonical}", "--json"],
]


def test_read_only_commands_leave_the_archive_file_untouched(archive: Path,
                                                              tmp_path: Path) -> None:
    did, canonical = some_ids(archive)
    for args in READ_ONLY_COMMANDS:
        argv = [a.format(id=did, canonical=canonical, out=tmp_path) for a in args]
        before = snapshot(archive)
        result = hra(archive, *argv)
        assert result.exit_code == 0, (argv, result.output)
        assert snapshot(archive) == before, f"`hra {' '.join(argv)}` wrote to the archive"


def test_runs_shows_a_dead_run_interrupted_without_recording_it(archive: Path) -> None:
    result = hra(archive, "runs", "--json")
    assert result.exit_code == 0, result.output
    crawl = next(r for r in json.loads(result.output) if r["kind"] == "crawl")
    assert (crawl["status"], crawl["ended_at"]) == ("interrupted", HEARTBEAT)
    assert crawl["sources"][0]["status"] == "interrupted"
    with Store(archive, readonly=True) as store:  # as the next writer will find it
        row = store.db.execute("SELECT status FROM runs WHERE id = ?", (crawl["id"],)).fetchone()
    assert row["status"] == "running"


def test_dups_catches_up_when_clusters_are_behind(archive: Path, tmp_path: Path) -> None:
    """With dedup.sqlite3 deleted, `hra dups` opens the archive for writing to cluster again
    (the only case it writes), then lists the same clusters."""
    copy = tmp_path / "data"
    shutil.copytree(archive, copy)
    listed = json.loads(hra(copy, "dups", "--json").output)
    for suffix in ("", "-wal", "-shm"):
        (copy / f"dedup.sqlite3{suffix}").unlink(missing_ok=True)
    with Store(copy) as store:  # the marks are gone too: only clustering brings them back
        for did in store.document_ids():
            store.set_duplicate_of(did, None)
    result = hra(copy, "dups", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == listed and listed
    with Store(copy, readonly=True) as store:
        assert sum(r.duplicate_of is not None for r in store.iter_documents()) == len(
            listed[0]["copies"]) - 1


def test_an_older_schema_is_refused_read_only_and_migrated_by_a_writer(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    db = sqlite3.connect(data_dir / "archive.sqlite3")
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute("INSERT INTO documents (id, url, canonical_url, doc_type, text, updated_at)"
               " VALUES ('00aa', 'http://x/a', 'http://x/a', 'plan', '医共体', '2024')")
    db.commit()
    db.close()
    before = snapshot(data_dir)
    with pytest.raises(StoreError, match=r"schema v1, older .*`hra reindex --incremental`"):
        Store(data_dir, readonly=True)
    result = hra(data_dir, "list", "--json")
    assert result.exit_code == 1 and "older than this hra" in result.output
    assert snapshot(data_dir) == before
    with Store(data_dir) as store:  # a writer migrates
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    with Store(data_dir, readonly=True) as store:
        assert [r.id for r in store.iter_documents()] == ["00aa"]


def test_typed_reads(data_dir: Path) -> None:
    """The methods search and dedup use instead of SQL: ids, rows, bytes, the change log."""
    def rec(did: str, published: str | None, text: str, dup: str | None = None) -> Record:
        return Record(id=did, url=f"http://x/{did}", title=f"标题{did}", published=published,
                      year=None, site=None, column=None, region=None, doc_type="plan", text=text,
                      duplicate_of=dup)

    with Store(data_dir) as store:
        for r in (rec("b", "2023-01-02", "医改\n第二段"), rec("a", None, "医共体"),
                  rec("c", "2024-05-06", "医改", dup="b")):
            store.put_document(r)
        head = store.last_change()
        assert not store.content_changed_since(head)
        store.set_duplicate_of("a", None)  # meta: not a content change
        assert not store.content_changed_since(head)
        store.delete_document("c")
        assert store.content_changed_since(head)
    with Store(data_dir, readonly=True) as store:
        assert store.document_ids() == ["a", "b"]
        assert store.document_ids(order="stored") == ["b", "a"]
        assert [r.id for r in store.iter_documents()] == ["b", "a"]  # newest, undated last
        assert store.count_documents(canonical_only=True) == 2
        assert store.existing_ids(["a", "c", "z"]) == {"a"}
        assert set(store.get_many(["a", "b", "z"])) == {"a", "b"}
        rows = store.index_rows(["b"])
        assert rows["b"]["text"] == "医改\n第二段" and rows["b"]["truncated"] == 0
        assert [r["id"] for r in store.iter_index_rows()] == ["b", "a"]
        got = {did: (t, x) for did, t, x in store.text_bytes(["a", "b"], "text")}
        assert got == {"a": (None, "医共体".encode()), "b": (None, "医改\n第二段".encode())}
        assert store.text_size() == len("医共体".encode()) + len("医改\n第二段".encode())

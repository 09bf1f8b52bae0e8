"""Bringing pages into the archive: local HTML files, JSONL exports, and `reprocess`.

Each page is one transaction (raw bytes + record), so a killed import keeps every page it
finished and no half record; running it again skips what is already there ("unchanged").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from archive.outcomes import OutcomeTally, skip_reason
from archive.page_processing import (
    MIN_TEXT_CHARS,
    ExtractOptions,
    PageError,
    PageResult,
    process_page,
)
from archive.record import Record
from archive.store import RawPage, Store
from archive.text.decode import charset_from_headers

HTML_SUFFIXES = (".html", ".htm", ".shtml", ".xhtml")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
MAX_FILE_BYTES = 64 * 1024 * 1024  # we refuse to even read more than this

_CANONICAL = re.compile(
    rb"""<link[^>]+rel=["']?canonical["']?[^>]*href=["']?(https?://[^"'\s>]+)"""
    rb"""|<link[^>]+href=["']?(https?://[^"'\s>]+)["']?[^>]*rel=["']?canonical"""
    rb"""|<meta[^>]+property=["']og:url["'][^>]*content=["']?(https?://[^"'\s>]+)""",
    re.IGNORECASE,
)

Progress = Callable[[str, str], None]  # (path or url, outcome)

#: Why a page was skipped, in words (`hra import --verbose`), by outcome ("skipped:<reason>").
SKIP_REASONS = {
    "list": "a list page (links to articles, no article of its own)",
    "off-topic": "not a health-work report (--all keeps it, flagged)",
    "empty": f"no article: the main text is shorter than {MIN_TEXT_CHARS} characters",
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
    run_id: int | None = None
    on_error: Callable[[str], None] | None = None
    on_skip: Callable[[str, str], None] | None = None  # (path, reason in words)

    def fail(self, message: str) -> None:
        self.errors.append(message)
        self.counts.failed += 1
        if self.on_error:
            self.on_error(message)

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
                if p.is_file() and p.suffix.lower() in HTML_SUFFIXES + JSONL_SUFFIXES
            )
            if not found:
                errors.append(f"{raw}: no .html, .htm or .jsonl files in this directory")
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
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise PageError(f"file too large ({size / 1e6:.0f} MB)")
    data = path.read_bytes()
    url = page_url(data, path)
    fetched_at = _mtime(path)
    result = process_page(data, url, fetched_at=fetched_at)
    return store_result(store, result, url=url, body=data, fetched_at=fetched_at,
                        keep_all=keep_all)


def iter_jsonl(path: Path) -> Iterator[tuple[int, Record | str]]:
    """Records of a JSONL export, or an error message per bad line."""
    with path.open("r", encoding="utf-8-sig") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict) or not all(data.get(k) for k in ("id", "url")) \
                        or not isinstance(data.get("text"), str):
                    raise ValueError("not a record (needs id, url and text)")
                yield number, Record.from_json(data)
            except (ValueError, TypeError) as exc:
                yield number, f"{path}:{number}: {exc}"


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
    run_id = store.start_run("import", " ".join(str(p) for p in paths))
    summary.run_id = run_id
    status = "failed"
    try:
        for path in files:
            if path.suffix.lower() in JSONL_SUFFIXES:
                _import_jsonl(store, path, summary)
                outcome = "jsonl"
            else:
                outcome = _import_one(store, path, keep_all, summary)
            if progress:
                progress(str(path), outcome)
            if summary.counts.pages % 50 == 0:
                store.update_run(run_id, summary.counts)
        status = "ok"  # per-file failures are counted (failed) and listed (errors)
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        store.finish_run(run_id, summary.counts, status, summary.errors)
    return summary


def _import_one(store: Store, path: Path, keep_all: bool, summary: ImportSummary) -> str:
    summary.counts.pages += 1
    try:
        outcome = import_html_file(store, path, keep_all)
    except (PageError, OSError) as exc:
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
    except (OSError, UnicodeDecodeError) as exc:
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
    try:
        result = process_page(page.body, page.url, http_charset=charset_from_headers(page.headers),
                              fetched_at=page.fetched_at, options=options)
    except PageError as exc:
        summary.fail(f"{page.url}: {exc}")
        return "failed"
    before = store.get(page.doc_id)
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
        from archive.errors import HraError
        from crawler.sources import SourceError, load_sources

        try:
            return {s.name: s.selectors for s in load_sources(self.data_dir)}
        except SourceError as exc:
            raise HraError(f"{exc}; `hra reprocess` applies each source's selectors to its "
                           "pages: fix the file and run it again") from exc

"""The `hra` command line (click + rich), and the archive's own commands (import, reprocess,
list, show, stats, runs, dups, export); archive/commands/ adds crawl, search and schedule.

Thin: a command parses its options, calls a service (plain modules under archive/, search/ and
crawler/ that return data and raise `archive.errors.HraError`) and renders what it gets back
(rich tables and markup, JSON with --json). The screen lives here and in the modules only the
CLI imports (archive/commands/, `archive.crawl_display`).

Errors are one line on stderr and a non-zero exit; never a traceback: `HraGroup` turns an
`HraError` (and click's usage errors, exit 2) into that line and its exit code.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from archive import __version__
from archive.config import data_dir as resolve_data_dir
from archive.errors import HraError
from archive.lookup import resolve_id
from archive.record import Record
from archive.store import Store, StoreError

console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)


#: C0 and C1 control characters and DEL: ESC starts terminal sequences (colours, ``ESC]0;``
#: window titles, cursor moves), CSI (U+009B) too on some terminals; CR and BS overwrite. Also
#: bidi overrides/isolates (they reorder what the terminal shows) and lone surrogates (argv
#: bytes that were not UTF-8: they cannot even be written to the terminal).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_CONTROL_NAMES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def printable(value: object, keep: str = "") -> str:
    """Archive data (a title, site, path, URL, error line) as text safe for a terminal: every
    control character shown as an escape (``\\x1b``, ``\\n``), except those in `keep` (``"\\t"``
    in text bodies). Every human-output print of archive data goes through it (or `shown`);
    --json output does not need it (JSON escapes control characters)."""
    text = str(value)
    if not _CONTROL.search(text):
        return text

    def show(m: re.Match[str]) -> str:
        c = m.group()
        if c in keep:
            return c
        return _CONTROL_NAMES.get(c, f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")

    return _CONTROL.sub(show, text)


def shown(value: object, keep: str = "") -> str:
    """`printable`, with rich markup escaped: archive data inside console.print() or a table
    cell (a title "[red]x" is text, not markup)."""
    return escape(printable(value, keep))


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error and exit (commands raise `HraError` instead; see `HraGroup`)."""
    line = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    err_console.print(f"[bold red]error:[/] {shown(line)}", highlight=False, soft_wrap=True)
    sys.exit(code)


class ArchiveDir:
    """The archive directory `hra` works on (``ctx.obj``): `hra --data-dir`, `hra CMD
    --data-dir`, $HRA_DATA_DIR or the platform's default."""

    def __init__(self, data_dir: str | None) -> None:
        self.data_dir = resolve_data_dir(data_dir)

    @contextmanager
    def store(self, *, readonly: bool = False) -> Iterator[Store]:
        """The archive, open for the block (HraError when it cannot be opened)."""
        try:
            store = Store(self.data_dir, readonly=readonly)
        except StoreError as exc:
            raise HraError(str(exc)) from exc
        try:
            yield store
        finally:
            store.close()


pass_archive_dir = click.make_pass_decorator(ArchiveDir)


def _override_data_dir(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """`hra CMD --data-dir D`: D replaces the data dir `hra [--data-dir]` resolved."""
    if value is None:
        return
    obj = ctx.find_object(ArchiveDir)
    if obj is None:
        ctx.obj = ArchiveDir(value)
    else:
        obj.data_dir = resolve_data_dir(value)


def data_dir_option(command: Any) -> Any:
    """Let a command that uses the archive take `--data-dir` after its name too
    (`hra search 医改 --data-dir D` as well as `hra --data-dir D search 医改`)."""
    return click.option(
        "--data-dir", type=click.Path(file_okay=False), expose_value=False, is_eager=True,
        callback=_override_data_dir, metavar="DIR",
        help="Archive directory (same as `hra --data-dir DIR CMD`).",
    )(command)


def usage_error(exc: click.ClickException) -> NoReturn:
    """A click usage error (bad option, bad value, unknown command) as one line, exit 2."""
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        message += f" (see `{ctx.command_path} --help`)"
    fail(message, exc.exit_code)


class HraGroup(click.Group):
    """The `hra` group: where errors become one line on stderr and an exit code. An `HraError`
    (raised by services and commands) exits with its code; click's usage errors exit 2, as one
    line instead of click's usage block."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.ClickException as exc:
            usage_error(exc)
        except HraError as exc:
            fail(str(exc), exc.exit_code)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            usage_error(exc)
        except HraError as exc:
            fail(str(exc), exc.exit_code)


def progress_bar(transient: bool = False) -> Progress:
    return Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[current]}", style="dim"),
        console=err_console,
        transient=transient,
        disable=not err_console.is_terminal,
    )


def update_derived(store: Store, *, recluster: bool = False) -> None:
    """Bring duplicate clusters and the search index up to date, with a progress bar."""
    from archive.derived import update_derived as run

    with progress_bar(transient=True) as bar:
        task = bar.add_task("clustering and indexing", total=None, current="")
        run(store, lambda done, total: bar.update(task, completed=done, total=total),
            recluster=recluster)


def _count(n: int, label: str, style: str) -> str:
    """``3 failed`` in `style` (rich markup); a zero count plain: ``0 failed`` is not news."""
    return f"[{style}]{n} {label}[/]" if n else f"{n} {label}"


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(cls=HraGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    envvar="HRA_DATA_DIR",
    help="Archive directory (default: $HRA_DATA_DIR, else the platform's user data dir).",
)
@click.version_option(__version__, prog_name="hra")
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None) -> None:
    """health-report-archive: collect, clean, archive and search Chinese health-work reports.

    \b
    Examples:
      hra demo                                 # crawl the bundled demo site, offline
      hra crawl --url https://example.org/fanwen/ --depth 2
      hra import ~/Downloads/reports/          # archive saved report pages
      hra search 医共体 --year 2023             # every report containing 医共体
      hra stats                                # what is in the archive
      hra export --format docx -o word/        # Word files, one per document
    """
    ctx.obj = ArchiveDir(data_dir)


# ---------------------------------------------------------------------------------------------
# import / reprocess


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--all", "keep_all", is_flag=True,
              help="Archive off-topic pages too (flagged is_health_report: false).")
@click.option("--verbose", "-v", is_flag=True,
              help="List each skipped file with the reason (one line each, on stderr; "
                   "with --json, as skipped_files).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@data_dir_option
@pass_archive_dir
def import_cmd(archive_dir: ArchiveDir, paths: tuple[str, ...], keep_all: bool, verbose: bool,
               as_json: bool) -> None:
    """Import saved HTML pages (.html/.htm files or directories, recursively), WARC files
    (.warc.gz, .warc: from `hra export --format warc`, crawl nodes, wget, pywb...), JSONL
    exports (records only: no raw pages), or report files: PDF, DOCX, DOC, WPS, RTF, XLSX, XLS,
    ET (read by content).

    Pages that are not health-work reports are skipped and counted (unless --all); list pages
    and empty pages are skipped too; a report file is kept even off-topic (flagged). Importing
    the same files again changes nothing.

    \b
    Examples:
      hra import page.html other.htm
      hra import ~/saved-pages/ --all
      hra import ~/saved-pages/ --verbose      # which files were skipped, and why
      hra import export.jsonl                  # an `hra export --format jsonl` file
      hra import archive.warc.gz               # raw pages: `hra export --format warc`, wget
      hra import report.pdf notice.docx files/ # attachments: each file its own document
    """
    from archive.importer import disk_full_error, import_paths
    from archive.store import is_disk_full

    with archive_dir.store() as store, progress_bar() as bar:
        task = bar.add_task("importing", total=None, current="")
        try:
            summary = import_paths(
                store, paths, keep_all=keep_all,
                total_cb=lambda n: bar.update(task, total=n),
                progress=lambda p, o: bar.update(task, advance=int(o != "record"),
                                                 current=shown(Path(p).name[-40:])),
                on_error=lambda m: err_console.print(f"[yellow]failed:[/] {shown(m)}",
                                                     highlight=False),
                on_skip=(lambda p, why: err_console.print(
                    f"[dim]skipped:[/] {shown(p)}: {shown(why)}", highlight=False))
                if verbose and not as_json else None,
            )
        except KeyboardInterrupt:
            raise HraError("interrupted; everything imported so far is kept (run the same "
                           "command again)", 130) from None
        try:
            update_derived(store)
        except Exception as exc:
            if is_disk_full(exc):  # the pages are stored; the next run brings the indexes up
                raise disk_full_error(summary) from exc
            raise
    _print_import_summary(summary, archive_dir.data_dir, verbose, as_json)
    c = summary.counts
    stored = c.new + c.changed + c.unchanged
    if c.failed and stored == 0 and c.skipped == 0:
        sys.exit(1)


def _print_import_summary(summary: Any, data_dir: Path, verbose: bool, as_json: bool) -> None:
    """What `hra import` did: a line for people, or the JSON summary."""
    c = summary.counts
    data: dict[str, Any] = {
        "run": summary.run_id, "files": c.pages, "new": c.new, "changed": c.changed,
        "unchanged": c.unchanged, "skipped": c.skipped, "skipped_by_reason": summary.skipped,
        "failed": c.failed, "errors": summary.errors, "notes": summary.notes,
        "data_dir": str(data_dir), "warc_other_records": summary.other_records,
    }
    if verbose:
        data["skipped_files"] = [{"path": path, "reason": reason}
                                 for path, reason in summary.skipped_files]
    if as_json:
        print_json(data)
    else:
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(summary.skipped.items()))
        hint = "" if verbose or not c.skipped else " (--verbose lists them)"
        console.print(
            f"imported {c.pages} item(s): {_count(c.new, 'new', 'green')}, {c.changed} changed, "
            f"{c.unchanged} unchanged, {c.skipped} skipped{f' ({reasons})' if reasons else ''}"
            f"{hint}, {_count(c.failed, 'failed', 'red')} -> {shown(data_dir)}",
            highlight=False,
        )
        if summary.other_records:
            other = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.other_records.items()))
            console.print(f"WARC records that are not pages, passed over: {shown(other)}",
                          highlight=False)
        for note in summary.notes:
            err_console.print(f"[yellow]note:[/] {shown(note)}", highlight=False)


@cli.command()
@click.option("--all", "keep_all", is_flag=True,
              help="Keep pages that now read as off-topic as flagged documents.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@data_dir_option
@pass_archive_dir
def reprocess(archive_dir: ArchiveDir, keep_all: bool, as_json: bool) -> None:
    """Re-run the text pipeline over every stored raw page (after an extractor change), then
    redo duplicate clustering and bring the search index up to date.

    \b
    Example:
      hra reprocess
    """
    from archive.importer import reprocess as run

    with archive_dir.store() as store, progress_bar() as bar:
        task = bar.add_task("reprocessing", total=store.count_latest_pages(), current="")
        summary = run(store, keep_all=keep_all,
                      progress=lambda url, _o: bar.update(task, advance=1,
                                                          current=shown(url[-40:])))
    with archive_dir.store() as store:
        update_derived(store, recluster=True)
    c = summary.counts
    data = {"pages": c.pages, "new": c.new, "changed": c.changed, "unchanged": c.unchanged,
            "removed": c.skipped, "failed": c.failed, "errors": summary.errors,
            "sources_gone": summary.sources_gone}
    if as_json:
        print_json(data)
    else:
        for message in summary.errors:
            err_console.print(f"[yellow]failed:[/] {shown(message)}", highlight=False)
        for name, pages in sorted(summary.sources_gone.items()):
            err_console.print(
                f"[yellow]source gone:[/] {shown(name)}: {pages} page(s) re-extracted without "
                "its selectors (it is no longer in `hra sources`)", highlight=False)
        console.print(
            f"reprocessed {c.pages} page(s): {c.changed} changed, {c.unchanged} unchanged, "
            f"{c.new} new, {c.skipped} removed, {_count(c.failed, 'failed', 'red')}",
            highlight=False)


# ---------------------------------------------------------------------------------------------
# list / show / stats / runs


def _list_command() -> click.Command:
    """`hra list`: built when the command modules load (it shares search's filters)."""
    from archive.commands.search import filter_options
    from search.params import FilterOptions

    @click.command("list")
    @filter_options
    @click.option("--limit", default=20, show_default=True, type=click.IntRange(1))
    @click.option("--json", "as_json", is_flag=True, help="One JSON record per line (no text).")
    @data_dir_option
    @pass_archive_dir
    def list_cmd(archive_dir: ArchiveDir, chosen: FilterOptions, limit: int,
                 as_json: bool) -> None:
        """List documents, newest first, with their flags.

        Takes the filters of `hra search` (which lists the same documents without a query);
        like search, only the canonical copy of a reposted report unless --all-versions.

        \b
        Examples:
          hra list --limit 5
          hra list --year 2024 --region 遵义 --type plan
          hra list --since 2024-01 --complete --json
        """
        filters = chosen.filters()
        from search.selection import select_documents

        with archive_dir.store(readonly=True) as store:
            total, records = select_documents(store, None, filters, filtered=chosen.narrowing,
                                              sort="date")
            records_list = [r for _, r in zip(range(limit), records(), strict=False)]
        if as_json:
            for r in records_list:
                data = r.to_json()
                data.pop("text")
                data.pop("blocks")
                click.echo(json.dumps(data, ensure_ascii=False))
            return
        described = chosen.describe()
        table = Table(show_lines=False, title=f"{len(records_list)} of {total} document(s)"
                      + (f" with {shown(described)}" if described else ""))
        for col in ("id", "published", "type", "region", "site", "title", "flags"):
            table.add_column(col, overflow="fold")
        for r in records_list:
            table.add_row(*(shown(v or "") for v in (r.id, r.published, r.doc_type, r.region,
                                                      r.site, r.title, _flags(r))))
        console.print(table)

    return list_cmd


def _flags(r: Any) -> str:
    return " ".join(r.flag_words())


def _attachment_lines(record: Record, archived: dict[str, Record]) -> str:
    """One line per attachment link: the archived document's id, format and title, else the
    URL (not downloaded, or not readable)."""
    lines = []
    for url, did in zip(record.attachments, record.attachment_ids(), strict=True):
        doc = archived.get(did)
        lines.append(f"{did} [{doc.format}] {doc.title or ''}".rstrip() if doc else url)
    return ("\n" + " " * 12).join(lines)


@cli.command()
@click.argument("doc_id")
@click.option("--raw", is_flag=True, help="Print the stored raw bytes of the newest version.")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
@data_dir_option
@pass_archive_dir
def show(archive_dir: ArchiveDir, doc_id: str, raw: bool, as_json: bool) -> None:
    """Show one document (an id prefix is enough).

    \b
    Examples:
      hra show 3f2a9c
      hra show 3f2a9c --raw > page.html
    """
    with archive_dir.store(readonly=True) as store:
        did = resolve_id(store, doc_id)
        record = store.get(did)
        assert record is not None
        if raw:
            page = store.latest_page(did)
            if page is None:
                raise HraError(f"document {did} has no stored raw page (it came from a JSONL "
                               "import)")
            sys.stdout.buffer.write(page.body)
            return
        versions = store.page_versions(did)
        archived = store.get_many(record.attachment_ids())
    if as_json:
        data = record.to_json() | {"attachments": record.attachments,
                                   "attachment_ids": [i for i in record.attachment_ids()
                                                      if i in archived],
                                   "versions": len(versions)}
        print_json(data)
        return
    console.print(f"[bold]{shown(record.title or '(no title)')}[/]", highlight=False)
    meta = [
        ("id", record.id), ("url", record.url), ("published", record.published),
        ("year", record.year), ("type", record.doc_type), ("region", record.region),
        ("site", record.site), ("column", record.column), ("source", record.content_source),
        ("issuer", record.issuer), ("doc number", record.doc_number),
        ("written", record.written), ("flags", _flags(record)), ("versions", len(versions)),
        ("format", record.format if record.format != "html" else None),
        ("parent", record.parent),
        ("attachments", _attachment_lines(record, archived)),
    ]
    for key, value in meta:
        if value not in (None, ""):
            keep = "\n" if key == "attachments" else ""  # one line per attachment
            console.print(f"[dim]{key:>11}[/] {shown(value, keep)}", highlight=False)
    console.print()
    for block in record.block_list():
        if block["type"] == "table":
            console.print(_block_table(block["rows"]))
        else:  # a paragraph; a tab inside one is kept
            console.print(shown(block["text"], keep="\t"), highlight=False)


def _block_table(rows: list[list[str]]) -> Table:
    """A table of a record's body for the terminal: its first row as the header."""
    table = Table(show_lines=True)
    for cell in rows[0]:
        table.add_column(shown(cell), overflow="fold")
    for row in rows[1:]:
        table.add_row(*(shown(cell) for cell in row))
    return table


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@data_dir_option
@pass_archive_dir
def stats(archive_dir: ArchiveDir, as_json: bool) -> None:
    """Counts by year, document type, province, site, issuing office and flags.

    \b
    Examples:
      hra stats
      hra stats --json | jq .by_year
    """
    with archive_dir.store(readonly=True) as store:
        data = store.stats()
    data["data_dir"] = str(archive_dir.data_dir)
    if as_json:
        print_json(data)
        return
    console.print(
        f"[bold]{data['documents']}[/] documents from {data['pages']} stored page version(s) "
        f"({data['raw_bytes'] / 1e6:.1f} MB raw, {data['stored_bytes'] / 1e6:.1f} MB stored) "
        f"in {shown(data['data_dir'])}", highlight=False)
    for key, label in (("by_year", "year"), ("by_doc_type", "type"), ("by_region", "province"),
                       ("by_site", "site"), ("by_issuer", "issuer"), ("flags", "flag")):
        table = Table(title=f"by {label}", title_justify="left", show_header=False)
        table.add_column(label)
        table.add_column("n", justify="right")
        for k, n in list(data[key].items())[:15]:
            table.add_row(shown(k), str(n))
        console.print(table)


@cli.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="Print runs as JSON.")
@data_dir_option
@pass_archive_dir
def runs(archive_dir: ArchiveDir, limit: int, as_json: bool) -> None:
    """Recent imports, crawls and reprocess runs: when, how long, who started them (trigger:
    manual, schedule:NAME, cron:NAME), status (ok, partial, failed, interrupted, running),
    counts, and for crawls the sources crawled (a failed one marked ✗, its error in --json).

    \b
    Examples:
      hra runs --limit 5
      hra runs --json | jq '.[0].errors'
      hra runs --json | jq '.[0].sources[] | select(.status == "failed")'
    """
    from archive.run_history import recent_runs

    with archive_dir.store(readonly=True) as store:
        items = recent_runs(store, limit)
    if as_json:
        print_json(items)
        return

    def sources_text(run: dict[str, Any]) -> str:
        rows = run.get("sources") or []
        failed = sum(s["status"] == "failed" for s in rows)
        if len(rows) > 3:
            return f"{len(rows)} sources" + (f", [red]{failed} failed[/]" if failed else "")
        return ", ".join(shown(s["source"]) + (" [red]✗[/]" if s["status"] == "failed" else "")
                         for s in rows)

    status_style = {"failed": "red", "partial": "yellow", "interrupted": "yellow"}
    table = Table(title="runs (documents: new/changed/unchanged, pages skipped/failed)")
    for col in ("id", "kind", "trigger", "started", "took", "status", "pages", "documents",
                "skip/fail", "sources"):
        table.add_column(col, no_wrap=col != "sources", overflow="fold")
    for r in items:
        took = "" if r["duration_s"] is None else f"{r['duration_s']}s"
        style = status_style.get(r["status"])
        table.add_row(str(r["id"]), shown(r["kind"]), shown(r["trigger"]),
                      shown(r["started_at"][:16].replace("T", " ")),
                      took, f"[{style}]{r['status']}[/]" if style else shown(r["status"]),
                      str(r["pages"]), f"{r['new']}/{r['changed']}/{r['unchanged']}",
                      f"{r['skipped']}/{r['failed']}", sources_text(r))
    console.print(table)


@cli.command()
@click.argument("doc_id", required=False)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1),
              help="At most this many clusters.")
@click.option("--json", "as_json", is_flag=True, help="Print clusters as JSON.")
@data_dir_option
@pass_archive_dir
def dups(archive_dir: ArchiveDir, doc_id: str | None, limit: int, as_json: bool) -> None:
    """List clusters of reposted copies of one report (or the cluster of one document).

    The first copy of each cluster is its canonical one (complete, no placeholders, longest,
    government source, earliest); the others point to it with duplicate_of.

    \b
    Examples:
      hra dups                                 # the largest clusters
      hra dups 3f2a9c                          # the copies of this document
      hra dups --json --limit 100
    """
    from archive.duplicate_report import duplicate_report

    with archive_dir.store(readonly=True) as store:
        out = duplicate_report(store, doc_id, limit)
    if as_json:
        print_json(out)
        return
    if not out:
        console.print("no duplicate clusters")
        return
    for cluster in out:
        first = cluster["copies"][0]
        table = Table(title=f"{shown(first['title'] or '(no title)')} "
                            f"({len(cluster['copies'])} copies)",
                      title_justify="left")
        for col in ("", "id", "site", "published", "chars", "similarity", "flags"):
            table.add_column(col, no_wrap=col == "id")
        for c in cluster["copies"]:
            table.add_row("★" if c["canonical"] else "", shown(c["id"]), shown(c["site"] or ""),
                          shown(c["published"] or ""), str(c["chars"]),
                          "" if c["similarity"] is None else f"{c['similarity']:.2f}",
                          shown(c["flags"]))
        console.print(table)


# ---------------------------------------------------------------------------------------------
# export


def _export_options(command: Any) -> Any:
    """The options of `hra export` besides search's filters and --sort."""
    options = [
        click.option("--format", "fmt",
                     type=click.Choice(["jsonl", "csv", "md", "txt", "docx", "warc"]),
                     default="jsonl", show_default=True,
                     help="Output format (warc: the raw pages, every stored version)."),
        click.option("--output", "-o", type=click.Path(),
                     help="File (jsonl, csv, warc, --one-file) or directory (md, txt, docx); "
                          "jsonl and csv go to stdout without it."),
        click.option("--one-file", is_flag=True, help="md/txt/docx: all documents in one file."),
        click.option("--no-text", is_flag=True, help="jsonl/csv: leave the text out."),
        click.option("--limit", type=click.IntRange(1), help="At most N documents."),
        click.option("--force", is_flag=True, help="Overwrite existing files."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _write_export(records: Callable[[], Iterator[Any]], total: int, fmt: str,
                  output: str | None, *, one_file: bool, no_text: bool, force: bool,
                  title: str, data_dir: Path) -> Any:
    """`archive.export.export` with a progress bar; its summary (ExportError is an HraError).
    Nothing is written inside `data_dir`."""
    from archive.export import export

    with progress_bar(transient=True) as bar:
        task = bar.add_task("exporting", total=total, current="")
        return export(records, fmt, output, one_file=one_file, no_text=no_text, force=force,
                      progress=lambda n: bar.update(task, completed=n), title=title,
                      data_dir=data_dir)


def _export_command() -> click.Command:
    """`hra export`: built when the command modules load (it shares search's filters)."""
    from archive.commands.search import QueryCommand, filter_options, sort_option
    from search.params import FilterOptions, parse_query

    @click.command("export", cls=QueryCommand)
    @click.argument("query", nargs=-1)
    @filter_options
    @sort_option
    @_export_options
    @data_dir_option
    @pass_archive_dir
    def export(archive_dir: ArchiveDir, query: tuple[str, ...], chosen: FilterOptions,
               sort: str | None, fmt: str, output: str | None, one_file: bool, no_text: bool,
               limit: int | None, force: bool) -> None:
        """Export documents as JSONL, CSV (opens in Excel), Markdown, text or Word.

        Without QUERY, every document (canonical copies of reposted reports unless
        --all-versions); with QUERY and filters, exactly what `hra search` matches, in its
        order (--sort).

        \b
        Examples:
          hra export --format jsonl > all.jsonl
          hra export 医共体 --year 2023 --format csv -o ygt-2023.csv
          hra export --region 遵义 --type speech --format docx -o word/
          hra export 医改 --format docx --one-file -o yigai.docx
          hra export --format md --one-file --all-versions -o everything.md
          hra export --format warc -o pages.warc.gz   # raw pages, every version
        """
        from archive.export import export_title, refuse_inside
        from search.selection import select_documents

        if output is not None:  # before the archive is opened: never write inside it
            refuse_inside(output, archive_dir.data_dir)
        filtered = chosen.narrowing
        node = parse_query(" ".join(query)) if query else None
        filters = chosen.filters()
        title = export_title(" ".join(query) or None, chosen.describe())
        with archive_dir.store(readonly=True) as store:
            total, records = select_documents(store, node, filters, filtered=filtered,
                                              sort=sort, limit=limit)
            whole = not (query or filtered or limit)  # warc: every page, not only documents
            summary = _write_warc(store, None if whole else records, output, force) \
                if fmt == "warc" else _write_export(
                    records, total, fmt, output, one_file=one_file, no_text=no_text,
                    force=force, title=title, data_dir=archive_dir.data_dir)
        _print_export_summary(summary, "page version(s)" if fmt == "warc" else "document(s)")

    return export


def _write_warc(store: Store, records: Callable[[], Iterator[Any]] | None,
                output: str | None, force: bool) -> Any:
    """`hra export --format warc`: every stored page version (`records`: of those documents)."""
    from archive.warc_export import export_warc

    if output is None:
        raise HraError("--format warc writes a file: give --output FILE.warc.gz", 2)
    ids = None if records is None else [record.id for record in records()]
    with progress_bar(transient=True) as bar:
        task = bar.add_task("exporting", total=store.count_pages(ids), current="")
        return export_warc(store, output, doc_ids=ids, force=force,
                           progress=lambda n: bar.update(task, completed=n))


def _print_export_summary(summary: Any, unit: str = "document(s)") -> None:
    """Leftovers of killed exports cleaned on the way, then where the export went."""
    for note in summary.notes:
        err_console.print(f"[yellow]note:[/] {shown(note)}", highlight=False)
    if summary.where != "stdout":
        err_console.print(f"exported {summary.documents} {unit} in {summary.files} "
                          f"file(s) to {shown(summary.where)}", highlight=False)


COMMAND_MODULES = ("crawl", "search", "schedule", "trend", "serve")


def _register_command_modules() -> None:
    """Add the command groups of archive/commands/ (crawl, search, ...) to `hra`."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"archive.commands.{name}").register(cli)
    cli.add_command(_list_command())
    cli.add_command(_export_command())


def main() -> None:
    """The `hra` console script (and ``python -m archive``): register the command modules and
    run the command line; exits with the command's status. An archive error a command did not
    catch (`StoreError`: a damaged or locked database) is one line and exit 1, like an
    `HraError`."""
    _register_command_modules()
    try:
        cli(prog_name="hra")
    except StoreError as exc:
        fail(str(exc))


if __name__ == "__main__":
    main()

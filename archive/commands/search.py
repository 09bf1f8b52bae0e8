"""`hra search`, `hra reindex`, `hra check`: the search index's commands.

Nothing heavy is imported at module level (``hra`` imports this module for every command):
Whoosh and the search engine load inside the command functions.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from archive.cli import Ctx, console, err_console, fail, pass_ctx, print_json, progress_bar

_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def _date_bound(end: bool) -> Any:
    """A click callback: YYYY, YYYY-MM or YYYY-MM-DD -> YYYY-MM-DD (first or last day)."""

    def convert(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        m = _DATE.match(value.strip())
        if not m:
            raise click.BadParameter("use YYYY, YYYY-MM or YYYY-MM-DD", param=param)
        year, month, day = m.group(1), m.group(2), m.group(3)
        if month is None:
            return f"{year}-12-31" if end else f"{year}-01-01"
        if not 1 <= int(month) <= 12 or (day is not None and not 1 <= int(day) <= 31):
            raise click.BadParameter(f"{value!r} is not a date", param=param)
        if day is None:
            return f"{year}-{int(month):02d}-31" if end else f"{year}-{int(month):02d}-01"
        return f"{year}-{int(month):02d}-{int(day):02d}"

    return convert


def filter_options(command: Any) -> Any:
    """The filters `hra search` and `hra export` share (same names, same meaning)."""
    options = [
        click.option("--year", type=int, help="Only reports about this year."),
        click.option("--since", callback=_date_bound(end=False), metavar="DATE",
                     help="Published on or after DATE (YYYY[-MM[-DD]])."),
        click.option("--until", callback=_date_bound(end=True), metavar="DATE",
                     help="Published on or before DATE (YYYY[-MM[-DD]])."),
        click.option("--region", metavar="R",
                     help="Province, city or county, full or short name (贵州省, 遵义市, 遵义)."),
        click.option("--type", "doc_type", metavar="T",
                     help="Document type: speech, summary, plan, report, interview, notice, "
                          "other."),
        click.option("--site", metavar="S", help="Site name as archived, or the URL's host."),
        click.option("--complete", is_flag=True, help="Only documents that are not truncated."),
        click.option("--all-versions", is_flag=True,
                     help="Every copy of a reposted report (default: its canonical copy only)."),
        click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance",
                     show_default=True),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def make_filters(year: int | None, since: str | None, until: str | None, region: str | None,
                 doc_type: str | None, site: str | None, complete: bool,
                 all_versions: bool) -> Any:
    """The engine's Filters from the shared options (a clear message and exit 2 when wrong)."""
    if year is not None and (since or until):
        fail("use either --year or --since/--until", 2)
    if doc_type:
        from archive.text.classify import DOC_TYPES

        if doc_type.strip().lower() not in DOC_TYPES:
            fail(f"unknown --type {doc_type!r} (one of: {', '.join(DOC_TYPES)})", 2)
    from search.engine import Filters

    return Filters(year=year, since=since, until=until, region=region, doc_type=doc_type,
                   site=site, complete=complete, canonical=not all_versions)


def parse_query(text: str) -> Any:
    """A parsed query, or a clear message and exit 2."""
    from search.query import QueryError, parse

    try:
        return parse(text)
    except QueryError as exc:
        fail(f"bad query: {exc}", 2)


@click.command("search")
@click.argument("query", nargs=-1, required=True)
@filter_options
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--facets", is_flag=True,
              help="Counts of all matches by year, region (province), type and site.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def search_cmd(ctx: Ctx, query: tuple[str, ...], year: int | None, since: str | None,
               until: str | None, region: str | None, doc_type: str | None, site: str | None,
               complete: bool, all_versions: bool, sort: str, limit: int, page: int,
               facets: bool, as_json: bool) -> None:
    """Search the archive: every document containing the query's strings, ranked.

    Terms are ANDed; OR, -term / NOT term, "quoted phrases", (groups), title: and text:
    work. Each term matches as an exact substring after normalization (traditional ->
    simplified, full-width -> ASCII, case-insensitive): 醫共體 finds 医共体.

    \b
    Examples:
      hra search 医共体
      hra search 医共体 贵州 --year 2023
      hra search '家庭医生 OR 签约服务' --region 遵义 --sort date
      hra search 'title:医改 -疫情' --facets
      hra search -- '-新冠 疫苗' --json
    """
    text = " ".join(query)
    node = parse_query(text)
    filters = make_filters(year, since, until, region, doc_type, site, complete, all_versions)
    with ctx.store(readonly=True) as store:
        result = _run_search(ctx, store, node, filters, sort, limit, page, facets)
    if result.pending:
        err_console.print(
            f"[yellow]note:[/] the index is {result.pending} archive change(s) behind; recent "
            "documents may be missing (`hra reindex --incremental` applies them)",
            highlight=False)
    if as_json:
        print_json(result.to_json())
        return
    _print_result(text, result)


def with_searcher(ctx: Ctx, store: Any, work: Callable[[Any], Any]) -> Any:
    """Run `work(searcher)` on the live index generation (reopened if a writer swapped it
    meanwhile); a clear message when there is no index or it is empty."""
    from search.engine import Searcher
    from search.index import IndexMissing

    for attempt in range(3):
        try:
            with Searcher(ctx.data_dir, store.db) as searcher:
                if searcher.doc_count == 0:
                    fail(
                        "the search index is empty: import documents with `hra import PATH` "
                        "(the index follows the archive) or build it with `hra reindex`"
                    )
                return work(searcher)
        except IndexMissing as exc:
            fail(str(exc))
        except OSError:
            # A writer replaced the index generation while we opened it: open the new one.
            if attempt == 2:
                raise
            time.sleep(0.05)
    raise AssertionError


def _run_search(ctx: Ctx, store: Any, node: Any, filters: Any, sort: str, limit: int,
                page: int, facets: bool) -> Any:
    return with_searcher(ctx, store, lambda searcher: searcher.search(
        node, filters, sort=sort, limit=limit, page=page, facets=facets))


def _print_result(query: str, result: Any) -> None:
    from rich.markup import escape

    from search.snippets import markup

    first = (result.page - 1) * result.limit + 1
    shown = f"{first}-{first + len(result.hits) - 1}" if result.hits else "none"
    console.print(
        f"[bold]{result.total}[/] document(s) match [bold]{escape(query)}[/] "
        f"[dim](showing {shown}; {result.seconds:.2f} s)[/]", highlight=False)
    for number, hit in enumerate(result.hits, start=first):
        console.print()
        title = markup(hit.title or "(no title)", hit.title_highlights, "bold red")
        console.print(f"[bold]{number:>3}.[/] [bold]{title}[/]", highlight=False)
        meta = " · ".join(
            escape(str(v)) for v in (hit.published or "no date", hit.region or "no region",
                                     hit.doc_type, hit.site or "no site") if v)
        copies = f" · {hit.copies} copies (hra dups {hit.id[:8]})" if hit.copies > 1 else ""
        console.print(f"     [dim]{meta} · id {hit.id}{copies}[/]", highlight=False)
        console.print(f"     {markup(hit.snippet, hit.highlights, 'bold red')}",
                      highlight=False)
    if result.facets is not None:
        console.print()
        for name, counts in result.facets.items():
            items = list(counts.items())
            more = f", … {len(items) - 12} more" if len(items) > 12 else ""
            shown_counts = ", ".join(f"{escape(k)} {n}" for k, n in items[:12])
            console.print(f"[bold]{name}:[/] {shown_counts}{more}", highlight=False)


@click.command()
@click.option("--incremental", is_flag=True,
              help="Only apply the archive changes not yet indexed (what import does).")
@click.option("--workers", type=click.IntRange(1, 64),
              help="Worker processes for a rebuild (default: CPU count, at most 4).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_ctx
def reindex(ctx: Ctx, incremental: bool, workers: int | None, as_json: bool) -> None:
    """Rebuild the search index from the archive (or catch up with --incremental).

    The new index is built beside the old one and swapped in atomically; searches keep
    working meanwhile, and a failed or interrupted rebuild leaves the old index in place.

    \b
    Examples:
      hra reindex
      hra reindex --incremental
    """
    from search.index import SearchIndexError, rebuild, update_index

    started = time.perf_counter()
    with ctx.store() as store, progress_bar() as bar:
        task = bar.add_task("indexing", total=None, current="")

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            if incremental:
                applied = update_index(store, progress)
                result = None
            else:
                result = rebuild(store, progress, workers=workers)
        except SearchIndexError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted: the previous index is still in place", 130)
    if result is None:
        data = {"applied": applied, "seconds": round(time.perf_counter() - started, 2)}
        if as_json:
            print_json(data)
        else:
            console.print(f"applied {applied} document change(s) to the index "
                          f"in {data['seconds']:.1f} s", highlight=False)
        return
    data = {
        "documents": result.documents, "seconds": round(result.seconds, 2),
        "docs_per_second": round(result.documents / max(result.seconds, 1e-9), 1),
        "index_bytes": result.index_bytes, "text_bytes": result.text_bytes,
        "index_to_text": round(result.index_bytes / max(result.text_bytes, 1), 3),
        "segments": result.segments, "workers": result.workers, "path": str(result.path),
    }
    if as_json:
        print_json(data)
        return
    console.print(
        f"indexed {result.documents} document(s) in {result.seconds:.1f} s "
        f"({data['docs_per_second']} docs/s, {result.workers} worker(s)); index "
        f"{result.index_bytes / 1e6:.1f} MB = {data['index_to_text']}x the text -> "
        f"{result.path}", highlight=False)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_ctx
def check(ctx: Ctx, as_json: bool) -> None:
    """Compare the search index with the archive; exit 1 if they disagree.

    Reports documents missing from the index, extra (no longer in the archive), stale
    (changed since they were indexed) and indexed twice.

    \b
    Example:
      hra check || hra reindex
    """
    from search.index import IndexMissing
    from search.index import check as check_index

    with ctx.store(readonly=True) as store:
        try:
            report = check_index(store)
        except IndexMissing as exc:
            fail(str(exc))
    data = {
        "ok": report.ok, "archive_documents": report.archive_documents,
        "index_documents": report.index_documents, "pending_changes": report.pending_changes,
        "missing": report.missing, "extra": report.extra, "stale": report.stale,
        "duplicated": report.duplicated, "path": str(report.path),
    }
    if as_json:
        print_json(data)
    else:
        console.print(
            f"archive: {report.archive_documents} document(s); index: "
            f"{report.index_documents} ({report.path}); {report.pending_changes} change(s) "
            "not yet applied", highlight=False)
        for key in ("missing", "extra", "stale", "duplicated"):
            ids = data[key]
            if ids:
                listed = ", ".join(ids[:10]) + (" …" if len(ids) > 10 else "")
                console.print(f"[red]{key}:[/] {len(ids)} ({listed})", highlight=False)
        if report.ok:
            console.print("[green]index and archive agree[/]")
        else:
            console.print("[red]index and archive disagree[/]: run `hra reindex --incremental` "
                          "(or `hra reindex`)")
    if not report.ok:
        sys.exit(1)


def register(cli: click.Group) -> None:
    """Add `search`, `reindex` and `check` to `hra`."""
    cli.add_command(search_cmd)
    cli.add_command(reindex)
    cli.add_command(check)

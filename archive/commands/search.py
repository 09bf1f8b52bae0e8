"""`hra search`, `hra reindex`, `hra check`: the search index's commands.

Nothing heavy is imported at module level (``hra`` imports this module for every command):
Whoosh and the search engine load inside the command functions.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from collections.abc import Sequence
from typing import Any

import click

from archive.cli import (
    ArchiveDir,
    console,
    data_dir_option,
    err_console,
    pass_archive_dir,
    print_json,
    progress_bar,
    shown,
)
from archive.errors import HraError
from search.params import FilterOptions, date_bound, parse_query


def _date_bound(end: bool) -> Any:
    """A click callback: YYYY, YYYY-MM or YYYY-MM-DD -> YYYY-MM-DD (first or last day)."""

    def convert(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return date_bound(value, end)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param=param) from None

    return convert


def filter_options(command: Any) -> Any:
    """The filters `hra search`, `hra list`, `hra export` and `hra trend` share (same names, same
    meaning), handed to the command as one `search.params.FilterOptions` argument, ``chosen``
    (its ``filters()`` makes the engine's `Filters`)."""

    @functools.wraps(command)
    def packed(*args: Any, **kwargs: Any) -> Any:
        chosen = FilterOptions(**{name: kwargs.pop(name) for name in FILTER_PARAMS})
        return command(*args, chosen=chosen, **kwargs)

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
        click.option("--issuer", metavar="I",
                     help="Issuing office (发布机构/发文机关) contains I: --issuer 卫生健康."),
        click.option("--file-format", metavar="F",
                     help="Web pages (html), attachments of one format (pdf, docx, doc, wps, "
                          "rtf, xlsx, xls, et) or any attachment (attachment)."),
        click.option("--complete", is_flag=True, help="Only documents that are not truncated."),
        click.option("--all-versions", is_flag=True,
                     help="Every copy of a reposted report (default: its canonical copy only)."),
    ]
    for option in reversed(options):
        packed = option(packed)
    return packed


#: The parameters `filter_options` adds (the fields of `FilterOptions`).
FILTER_PARAMS = tuple(f.name for f in dataclasses.fields(FilterOptions))


def sort_option(command: Any) -> Any:
    """`--sort` of `hra search` and `hra export`."""
    return click.option(
        "--sort", type=click.Choice(["relevance", "date"]), default=None,
        help="relevance, or date (newest first) [default: relevance with a query, date "
             "without one].")(command)


class QueryCommand(click.Command):
    """A command taking a QUERY: a query term that starts with '-' (an excluded term) gets a
    hint instead of click's "no such option", and an option written after `--` (where it is
    read as part of the query) is refused with a hint."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        path = ctx.command_path
        if "--" in args:
            names = {o for p in self.params if isinstance(p, click.Option) for o in p.opts}
            names.update(ctx.help_option_names)
            after = args[args.index("--") + 1:]
            misplaced = next((a for a in after if a.split("=", 1)[0] in names), None)
            if misplaced is not None:
                raise HraError(
                    f"{misplaced!r} comes after '--', so it would be searched for: put options "
                    f"before '--' (e.g. {path} --json -- '-新冠 疫苗')", 2)
        given = list(args)  # click's parser consumes `args`
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            name = exc.option_name
            if name.startswith("--"):
                raise
            token = next((a for a in given if a.startswith(name)), name)
            raise HraError(
                f"{token!r} is not an option of `{path}`; if it is a query term (-term excludes "
                f"it), quote the query and put '--' before it, after any options "
                f"(e.g. {path} --json -- '-新冠 疫苗'), or start the quoted query with a term "
                f"({path} '疫苗 -新冠')", 2) from None


@click.command("search", cls=QueryCommand)
@click.argument("query", nargs=-1)
@filter_options
@sort_option
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--facets", is_flag=True,
              help="Counts of all matches by year, region (province), type, site, issuer and "
                   "format.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@data_dir_option
@pass_archive_dir
def search_cmd(archive_dir: ArchiveDir, query: tuple[str, ...], chosen: FilterOptions,
               sort: str | None, limit: int, page: int, facets: bool, as_json: bool) -> None:
    """Search the archive: every document containing the query's strings, ranked.

    Terms are ANDed; OR, -term / NOT term, "quoted phrases", (groups), title: and text:
    work. Each term matches as an exact substring after normalization (traditional ->
    simplified, full-width -> ASCII, case-insensitive): 醫共體 finds 医共体.

    Without a QUERY, lists the documents passing the filters, newest first (every document
    when there is no filter either). Each hit shows its flags (截断, 含占位符, 原文为繁体) and
    how many copies of it the archive holds.

    \b
    Examples:
      hra search 医共体
      hra search 医共体 遵义 --year 2023
      hra search '家庭医生 OR 签约服务' --region 遵义 --sort date
      hra search 'title:工作总结 -疫情' --facets
      hra search --year 2024 --region 遵义 --type plan      # browse: no query, newest first
      hra search 指标 --issuer 卫生健康                      # issuing office (发布机构) contains
      hra search 村医 --file-format attachment              # only attached files (PDF, Word, ...)
      hra search --json -- '-新冠 疫苗'                       # a query starting with '-'
    """
    text = " ".join(query)
    node = parse_query(text) if query else None
    filters = chosen.filters()
    from search.selection import search_archive

    with archive_dir.store(readonly=True) as store:
        result = search_archive(store, node, filters, sort=sort, limit=limit, page=page,
                                facets=facets)
    if result.pending:
        err_console.print(
            f"[yellow]note:[/] the index is {result.pending} archive change(s) behind; recent "
            "documents may be missing (`hra reindex --incremental` applies them)",
            highlight=False)
    if as_json:
        print_json(result.to_json())
        return
    _print_result(text if query else None, chosen.describe(), result)


def markup(text: str, spans: Sequence[tuple[int, int]], style: str = "bold red") -> str:
    """Rich console markup of ``text`` with ``spans`` (a snippet's or title's highlights, from
    the engine) in ``style``; everything else escaped, control characters shown as escapes
    (`archive.cli.shown`)."""
    out, pos = [], 0
    for start, end in spans:
        out.append(shown(text[pos:start]))
        out.append(f"[{style}]{shown(text[start:end])}[/]")
        pos = end
    out.append(shown(text[pos:]))
    return "".join(out)


def _print_result(query: str | None, filters: str, result: Any) -> None:
    first = (result.page - 1) * result.limit + 1
    showing = f"{first}-{first + len(result.hits) - 1}" if result.hits else "none"
    if query is not None:
        what = f"match [bold]{shown(query)}[/]" + (f" with {shown(filters)}" if filters else "")
    elif filters:
        what = f"with {shown(filters)}, newest first"
    else:
        what = "in the archive (no query or filter: all of them), newest first"
    console.print(f"[bold]{result.total}[/] document(s) {what} "
                  f"[dim](showing {showing}; {result.seconds:.2f} s)[/]", highlight=False)
    for number, hit in enumerate(result.hits, start=first):
        console.print()
        title = markup(hit.title or "(no title)", hit.title_highlights, "bold red")
        console.print(f"[bold]{number:>3}.[/] [bold]{title}[/]", highlight=False)
        meta = " · ".join(
            shown(v) for v in (hit.published or "no date", hit.region or "no region",
                               hit.doc_type, hit.site or "no site", hit.issuer,
                               hit.doc_number,
                               f"attachment ({hit.format})" if hit.format != "html" else None)
            if v)
        copies = f" · {hit.copies} copies (hra dups {hit.id[:8]})" if hit.copies > 1 else ""
        console.print(f"     [dim]{meta} · id {shown(hit.id)}{copies}[/]", highlight=False)
        if hit.flags:
            console.print(f"     [bold yellow]{shown(' · '.join(hit.flags))}[/]",
                          highlight=False)
        # A table row's cells are tab-separated in the text: shown with a space between them.
        snippet = hit.snippet.replace("\t", " ")
        console.print(f"     {markup(snippet, hit.highlights, 'bold red')}",
                      highlight=False)
    if result.facets is not None:
        console.print()
        for name, counts in result.shown_facets().items():
            items = list(counts.items())
            more = f", … {len(items) - 12} more" if len(items) > 12 else ""
            shown_counts = ", ".join(f"{shown(k)} {n}" for k, n in items[:12])
            console.print(f"[bold]{name}:[/] {shown_counts}{more}", highlight=False)


@click.command()
@click.option("--incremental", is_flag=True,
              help="Only apply the archive changes not yet indexed (what import does).")
@click.option("--workers", type=click.IntRange(1, 64),
              help="Worker processes for a rebuild (default: CPU count, at most 4).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@data_dir_option
@pass_archive_dir
def reindex(archive_dir: ArchiveDir, incremental: bool, workers: int | None, as_json: bool) -> None:
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
    with archive_dir.store() as store, progress_bar() as bar:
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
            raise HraError(str(exc)) from exc
        except KeyboardInterrupt:
            raise HraError("interrupted: the previous index is still in place", 130) from None
    if result is None:
        data: dict[str, Any] = {"applied": applied,
                                "seconds": round(time.perf_counter() - started, 2)}
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
        f"{shown(result.path)}", highlight=False)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@data_dir_option
@pass_archive_dir
def check(archive_dir: ArchiveDir, as_json: bool) -> None:
    """Compare the search index with the archive; exit 1 if they disagree.

    Reports documents missing from the index, extra (no longer in the archive), stale
    (changed since they were indexed) and indexed twice.

    \b
    Example:
      hra check || hra reindex
    """
    from search.index import IndexMissing
    from search.index import check as check_index

    with archive_dir.store(readonly=True) as store:
        try:
            report = check_index(store)
        except IndexMissing as exc:
            raise HraError(str(exc)) from exc
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
            f"{report.index_documents} ({shown(report.path)}); {report.pending_changes} change(s) "
            "not yet applied", highlight=False)
        for key, ids in (("missing", report.missing), ("extra", report.extra),
                         ("stale", report.stale), ("duplicated", report.duplicated)):
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

"""`hra crawl`, `hra sources`, `hra demo`: options in, a service called, its result shown.

The work is elsewhere: `archive.crawl_runs.run_crawl` (the crawl child and its run record),
`archive.source_health` (sources with their health), `archive.demo` (the demo directory, site
and crawl); what a crawl shows while it runs is `archive.crawl_display`. Scrapy is never
imported here (crawls run in a child process), so `hra` starts fast whatever command runs.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from archive.cli import data_dir_option
from archive.errors import HraError


def register(cli: click.Group) -> None:
    """Add crawl, sources and demo to `hra`."""
    cli.add_command(crawl_cmd)
    cli.add_command(sources_cmd)
    cli.add_command(demo_cmd)


# ---------------------------------------------------------------------------------------------
# hra crawl


def _parse_settings(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise HraError(f"--set expects NAME=VALUE, not {pair!r}")
        out[name.strip()] = value.strip()
    return out


def _chosen_sources(data_dir: Path, names: tuple[str, ...], all_sources: bool,
                    urls: tuple[str, ...], spider: str) -> list[Any]:
    """The sources `hra crawl` names: NAMES, --all or --url (exit 2 when that is wrong)."""
    from crawler.sources import SourceError, adhoc_source, load_sources, select_sources

    if sum(bool(x) for x in (names, all_sources, urls)) != 1:
        raise HraError("name sources (see `hra sources`), or use --all, or --url URL (one of "
                       "the three)", 2)
    try:
        if urls:
            return [adhoc_source(list(urls), spider=spider)]
        known = load_sources(data_dir)
        return known if all_sources else select_sources(known, list(names))
    except SourceError as exc:
        raise HraError(str(exc), 2) from exc


@click.command("crawl")
@click.argument("names", nargs=-1)
@click.option("--all", "all_sources", is_flag=True, help="Crawl every source (`hra sources`).")
@click.option("--url", "urls", multiple=True, metavar="URL",
              help="Crawl from this URL instead of named sources (repeatable).")
@click.option("--spider", type=click.Choice(["site", "gov"]), default="site", show_default=True,
              help="Spider for --url: site (generic) or gov (government CMS columns).")
@click.option("--depth", type=click.IntRange(0),
              help="Link hops from a start page; pagination does not count [default: the "
                   "source's, else 3].")
@click.option("--max-pages", type=click.IntRange(0),
              help="Requests per source in this run, 0 = no limit [default: the source's, "
                   "else 1000].")
@click.option("--refresh", is_flag=True,
              help="Refetch archived pages (conditional requests; only changed bytes add a "
                   "version).")
@click.option("--keep-off-topic", is_flag=True,
              help="Archive off-topic articles too (flagged is_health_report: false).")
@click.option("--contact", envvar="HRA_CONTACT", metavar="EMAIL|URL",
              help="Your contact for site operators, sent in the User-Agent [env: HRA_CONTACT].")
@click.option("--set", "-s", "overrides", multiple=True, metavar="NAME=VALUE",
              help="A Scrapy setting, e.g. -s DOWNLOAD_DELAY=5 (repeatable).")
@click.option("--parallel", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Sources crawled at the same time.")
@click.option("--trigger", default="manual", show_default=True,
              help="Recorded with the run (e.g. cron, schedule).")
@click.option("--scrapyd", "nodes", multiple=True, metavar="URL",
              help="Queue the crawl on these Scrapyd nodes instead (repeatable; each source "
                   "goes to the node of its shard, as `hra sources --shard K/N`).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@data_dir_option
@click.pass_context
def crawl_cmd(ctx: click.Context, names: tuple[str, ...], all_sources: bool,
              urls: tuple[str, ...], spider: str, depth: int | None, max_pages: int | None,
              refresh: bool, keep_off_topic: bool, contact: str | None,
              overrides: tuple[str, ...], parallel: int, trigger: str, nodes: tuple[str, ...],
              as_json: bool) -> None:
    """Crawl named sources, all of them, or URLs, into the archive.

    Polite by default: robots.txt, AutoThrottle, 2 requests at a time per host. Pages already
    archived are not fetched again (unless --refresh); list pages always are, so new reports
    are found. Interrupted crawls (Ctrl-C, kill -9) resume when you run the same command again.

    Exit status: 0 ok, or partial (some sources failed: listed, and in `hra sources`); 1 failed
    (nothing could be crawled; one line says why); 130 interrupted.

    \b
    Examples:
      hra crawl wtabcd                          # a source from `hra sources`
      hra crawl --url https://example.org/fanwen/ --depth 2 --max-pages 200
      hra crawl --all --trigger cron            # every source (e.g. from cron)
      hra crawl hc-wjw-sm --refresh             # re-check archived pages for changes
      hra crawl --all --scrapyd http://node1:6800/ --scrapyd http://node2:6800/ -s HRA_WARC_DIR=/srv/hra/warc
    """
    from archive.cli import print_json
    from archive.crawl_display import make_display, print_summary
    from archive.crawl_runs import CrawlPlan, run_crawl

    data_dir: Path = ctx.obj.data_dir
    sources = _chosen_sources(data_dir, names, all_sources, urls, spider)
    if nodes:
        _queue_on_nodes(sources, list(nodes), depth, max_pages, refresh, keep_off_topic,
                        overrides, trigger, as_json)
        return
    plan = CrawlPlan(sources=sources, depth=depth, max_pages=max_pages, refresh=refresh,
                     keep_off_topic=keep_off_topic, settings=_parse_settings(overrides),
                     trigger=trigger, contact=contact, parallel=parallel)
    # CrawlBusy (every source is being crawled elsewhere) is an HraError: one line, exit 1.
    result = run_crawl(data_dir, plan, display=make_display(as_json))
    if as_json:
        print_json(result.to_json())
    elif result.status != "failed":
        print_summary(result)
    if result.status == "failed":  # nothing could be crawled: one line saying why
        raise HraError(f"crawl run {result.run_id} failed: "
                       f"{result.error or 'nothing could be fetched'}")
    if result.status == "interrupted":
        sys.exit(130)


def _queue_on_nodes(sources: list[Any], nodes: list[str], depth: int | None,
                    max_pages: int | None, refresh: bool, keep_off_topic: bool,
                    overrides: tuple[str, ...], trigger: str, as_json: bool) -> None:
    """`hra crawl --scrapyd URL`: each source queued on its shard's node (exit 1 when one
    could not be)."""
    from archive.cli import console, print_json, shown
    from archive.scrapyd_nodes import run_on_nodes

    for node in nodes:
        if not node.startswith(("http://", "https://")):
            raise HraError(f"--scrapyd {node}: expected a Scrapyd URL (http://host:6800/)", 2)
    args = {k: str(v) for k, v in (("depth", depth), ("max_pages", max_pages)) if v is not None}
    settings = [*_parse_settings(overrides).items()]
    settings += [("HRA_REFRESH", "True")] * refresh + [("HRA_KEEP_OFF_TOPIC", "True")] * \
        keep_off_topic + [("HRA_TRIGGER", trigger)]
    lines: list[str] = []
    log = lines.append if as_json else (lambda line: console.print(shown(line), highlight=False))
    queued, failed = run_on_nodes(sources, nodes, args, [f"{k}={v}" for k, v in settings], log)
    if as_json:
        print_json({"queued": queued, "failed": failed, "jobs": lines})
    if failed:
        raise HraError(f"{failed} of {queued + failed} source(s) could not be queued")


# ---------------------------------------------------------------------------------------------
# hra sources


@click.command("sources")
@click.option("--failing", is_flag=True,
              help="Only sources whose last crawl failed (nothing could be fetched).")
@click.option("--shard", metavar="K/N",
              help="Only this node's share of the sources when N nodes crawl them (a hash of "
                   "each source's name picks its node, 1..N).")
@click.option("--json", "as_json", is_flag=True, help="Print the sources as JSON.")
@data_dir_option
@click.pass_context
def sources_cmd(ctx: click.Context, failing: bool, shard: str | None, as_json: bool) -> None:
    """List the crawl sources (shipped ones and yours, <data dir>/sources.toml) with their
    health from the archive's runs: the last crawl and its status, the last success, the
    documents each one archived and the last error.

    \b
    Examples:
      hra sources
      hra sources --failing      # after `hra crawl --all`: the dead sources, and why
      hra sources --json | jq '.[] | select(.health.status == "failed") | .name'
      hra sources --shard 1/2    # what the first of two crawl nodes crawls
    """
    from archive.cli import console, print_json, shown
    from archive.source_health import sources_with_health
    from crawler.sources import SHIPPED, USER_FILE, parse_shard, shard_of

    data_dir: Path = ctx.obj.data_dir
    try:
        k, n = parse_shard(shard) if shard else (1, 1)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None
    rows = [(s, h) for s, h in sources_with_health(data_dir, failing=failing)
            if shard_of(s.name, n) == k]
    if as_json:
        print_json([{**s.to_json(), "health": h} for s, h in rows])
        return
    console.print(_sources_table(rows, failing))
    counts: dict[str, int] = {}
    for _, h in rows:
        counts[h["status"]] = counts.get(h["status"], 0) + 1
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    user = data_dir / USER_FILE
    console.print(f"last crawls: {tally or 'none'} (archive: {shown(data_dir)})\n"
                  f"shipped: {shown(SHIPPED)}\nyours:   {shown(user)}"
                  f"{'' if user.is_file() else ' (not there; same format, see the README)'}",
                  highlight=False, style="dim")


def _sources_table(rows: list[tuple[Any, dict[str, Any]]], failing: bool) -> Any:
    from rich.table import Table

    from archive.cli import shown

    styles = {"ok": "green", "failed": "red", "interrupted": "yellow", "running": "cyan"}
    table = Table(title=f"{len(rows)} source(s)" + (" whose last crawl failed" if failing else ""),
                  title_justify="left")
    for col in ("name", "spider", "verified", "last crawl", "last ok", "docs", "last error",
                "start URL"):
        table.add_column(col, overflow="fold", justify="right" if col == "docs" else "left")
    for s, h in rows:
        start = s.start_urls[0] + (f" (+{len(s.start_urls) - 1})" if len(s.start_urls) > 1 else "")
        last = h["last_run"]
        when = f"{last['started_at'][:16].replace('T', ' ')} " if last else ""
        style = styles.get(h["status"], "dim")
        error = shown(h["last_error"]["message"]) if h["last_error"] else ""
        if error and h["status"] != "failed":
            error = f"[dim]{error}[/]"  # an older error; the last crawl went well
        table.add_row(shown(s.name), shown(s.spider), "yes" if s.verified else "no",
                      f"{when}[{style}]{h['status']}[/]",
                      (h["last_success"] or "")[:16].replace("T", " "), str(h["documents"]),
                      error, shown(start))
    return table


# ---------------------------------------------------------------------------------------------
# hra demo


def _search_available(root: click.Group) -> bool:
    if "search" not in root.commands:
        return False
    try:
        import search.query  # noqa: F401
    except ImportError:
        return False
    return True


@click.command("demo")
@click.option("--data-dir", "demo_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Demo archive directory [default: hra-demo beside your archive directory].")
@click.option("--serve", is_flag=True,
              help="Keep the demo site running after the crawl (Ctrl-C stops it).")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port of the demo site [default: a free one].")
@click.pass_context
def demo_cmd(ctx: click.Context, demo_dir: Path | None, serve: bool, port: int) -> None:
    """Crawl the bundled demo site (offline) into a demo archive and show what to try next.

    Starts the demo site on 127.0.0.1, crawls it with the real spiders (robots.txt obeyed, an
    encoding-less GBK page, a truncated page, Traditional script with pinyin, off-topic pages,
    reposts, paginated lists), indexes it and runs a sample search.

    \b
    Examples:
      hra demo
      hra demo --data-dir /tmp/hra-demo --serve
    """
    from archive.cli import console
    from archive.crawl_display import make_display, print_summary
    from archive.demo import crawl_demo, default_demo_dir, demo_site, prepare_demo_dir

    target = (demo_dir or default_demo_dir(ctx.obj.data_dir)).expanduser()
    prepare_demo_dir(target)
    with demo_site(port) as server:
        console.print(f"demo site: {server.url}/  (bundled pages, served on this machine only)",
                      highlight=False)
        demo = crawl_demo(target, server.url, display=make_display(False))
        print_summary(demo.result)
        if demo.result.status == "failed":
            sys.exit(1)
        console.print(f"\n[bold]{demo.documents} documents[/] archived in {target}",
                      highlight=False)
        root = ctx.find_root().command
        searchable = isinstance(root, click.Group) and _search_available(root)
        if searchable and isinstance(root, click.Group):
            _sample_search(root, target)
        hra = f"hra --data-dir {target}"
        lines = [f"{hra} stats", f"{hra} list", f"{hra} runs"]
        if demo.newest_id is not None:
            lines.append(f"{hra} show {demo.newest_id[:8]}")
        if searchable:
            lines.append(f"{hra} search 卫生健康 --limit 5")
        if isinstance(root, click.Group) and "dups" in root.commands:
            lines.append(f"{hra} dups   # one report reposted on three sites")
        lines.append(f"{hra} crawl --url {server.url}/   # again: only lists are refetched"
                     if serve else "hra demo --serve   # keep the site up to try crawls by hand")
        if isinstance(root, click.Group) and "serve" in root.commands:
            lines.append(f"{hra} trend 医共体 家庭医生 --by year")
            lines.append(f"{hra} serve   # search and read it in your browser: "
                         "http://127.0.0.1:8000/")
        console.print("\nwhat to try next:", style="bold")
        for line in lines:
            console.print(f"  {line}", highlight=False)
        if serve:
            _serve_until_interrupted(server.url)


def _sample_search(root: click.Group, target: Path) -> None:
    """`hra search` of the demo query on the demo archive, as a user would type it."""
    from archive.cli import console
    from archive.demo import DEMO_QUERY

    console.print(f"\n$ hra --data-dir {target} search {DEMO_QUERY} --limit 3", highlight=False)
    with contextlib.suppress(SystemExit):
        root.main(args=["--data-dir", str(target), "search", DEMO_QUERY, "--limit", "3"],
                  prog_name="hra", standalone_mode=False)


def _serve_until_interrupted(url: str) -> None:
    """Keep the demo site (served by a thread) up until Ctrl-C."""
    from archive.cli import console

    console.print(f"\nserving the demo site at {url}/ (Ctrl-C to stop)", highlight=False)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print(f"stopped {urlsplit(url).netloc}", highlight=False)

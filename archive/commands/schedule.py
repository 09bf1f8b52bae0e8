"""`hra schedule add|list|remove|run|cron`: crawls on a schedule (see archive/schedule.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from archive.cli import data_dir_option
from archive.errors import HraError

if TYPE_CHECKING:
    from archive.schedule import ScheduleBook


def register(cli: click.Group) -> None:
    cli.add_command(schedule)


@click.group()
def schedule() -> None:
    """Crawl sources on a schedule: keep the archive fresh and know what each run did.

    Sources in DATA_DIR/sources.toml that set `schedule` also run on it (as the schedule
    source:NAME); the shipped sources' schedules are suggestions and never run by themselves.

    \b
    Examples:
      hra schedule add morning --cron "0 6 * * *" --all
      hra schedule add provinces --cron "30 2 * * mon" hc-zjwjw hc-wsjkw-gd --notify-cmd "mail -s hra me"
      hra schedule list
      hra schedule run                          # the foreground scheduler
      hra schedule cron                         # crontab lines and systemd units instead
    """


def _book(ctx: click.Context) -> ScheduleBook:
    """The schedules of the data dir given to `hra`."""
    from archive.schedule import ScheduleBook

    return ScheduleBook(ctx.find_root().obj.data_dir)


def _warn(problems: list[str]) -> None:
    """One line on stderr per damaged file or entry."""
    from archive.cli import err_console, shown

    for problem in problems:
        err_console.print(f"[yellow]warning:[/] {shown(problem)}", highlight=False,
                          soft_wrap=True)


@schedule.command("add")
@click.argument("name")
@click.argument("sources", nargs=-1)
@click.option("--cron", "cron", required=True,
              help='Cron expression (5 fields or @daily, @weekly, ...), e.g. "0 3 * * *".')
@click.option("--all", "all_sources", is_flag=True, help="Crawl every source.")
@click.option("--notify-cmd", help="Command run after each crawl with the run summary as JSON "
                                   "on stdin.")
@click.option("--refresh", is_flag=True, help="Crawl with --refresh (re-check archived pages).")
@click.option("--depth", type=click.IntRange(0), help="Crawl with --depth N.")
@click.option("--max-pages", type=click.IntRange(1), help="Crawl with --max-pages N.")
@click.option("-s", "--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="Scrapy setting for the crawl (repeatable).")
@click.option("--scrapyd", "nodes", multiple=True, metavar="URL",
              help="Start the crawls on these Scrapyd nodes instead of here (repeatable; "
                   "each source on the node of its shard, as `hra sources --shard K/N`).")
@click.option("--replace", is_flag=True, help="Replace a schedule of the same name.")
@data_dir_option
@click.pass_context
def add(ctx: click.Context, name: str, sources: tuple[str, ...], cron: str, all_sources: bool,
        notify_cmd: str | None, refresh: bool, depth: int | None, max_pages: int | None,
        settings: tuple[str, ...], nodes: tuple[str, ...], replace: bool) -> None:
    """Add a schedule NAME crawling SOURCE... (or --all) at the times of a cron expression.

    Standard cron, what crontab accepts: minute hour day-of-month month day-of-week, with *,
    lists, ranges, steps and names (jan, mon), or @hourly @daily @weekly @monthly @yearly.
    Refused: @reboot, expressions that never run (31 February) and croniter's extensions
    (L, W, #, ?, H).

    \b
    Examples:
      hra schedule add zj-daily --cron "@daily" hc-zjwjw
      hra schedule add weekly-refresh --cron "0 4 * * sun" --all --refresh
      hra schedule add workdays --cron "30 7 * * mon-fri" hc-wjw-sm --max-pages 200
      hra schedule add month-start --cron "0 5 1 jan,jul *" hc-wsjkw-gd --replace
      hra schedule add nodes --cron "0 2 * * *" --all --scrapyd http://node1:6800/ --scrapyd http://node2:6800/ -s HRA_WARC_DIR=/srv/hra/warc
    """
    from archive.cli import console, shown
    from archive.schedule import Schedule, ScheduleError, crawl_options, next_time, now_local
    from crawler.sources import SourceError, load_sources, select_sources

    if sources and all_sources:
        raise HraError("give SOURCE names or --all, not both", 2)
    book = _book(ctx)
    if any(not node.startswith(("http://", "https://")) for node in nodes):
        raise HraError("--scrapyd expects a Scrapyd URL (http://host:6800/)", 2)
    options = crawl_options(refresh=refresh, depth=depth, max_pages=max_pages,
                            settings=settings, scrapyd=nodes)
    try:
        if sources:
            select_sources(load_sources(book.data_dir), list(sources))
        item = book.add(Schedule(name, cron, list(sources), all_sources, notify_cmd,
                                 crawl_options=options), replace)
    except (ScheduleError, SourceError) as exc:
        raise HraError(str(exc), 2) from exc
    nxt = next_time(item.cron, now_local()).isoformat(timespec="minutes")
    console.print(f"schedule {shown(item.name)}: '{shown(item.cron)}' crawls "
                  f"{shown(item.describe_sources())}; next run {nxt}", highlight=False)


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print schedules as JSON.")
@data_dir_option
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """List schedules with their next run and when they last started.

    Also the sources of DATA_DIR/sources.toml with their own `schedule` (source:NAME).
    Damaged entries of schedules.json are left out, with a warning naming each.

    \b
    Examples:
      hra schedule list
      hra schedule list --json
    """
    from rich.table import Table

    from archive.cli import console, print_json, shown
    from archive.schedule import now_local

    items, rows, problems = _book(ctx).listing(now_local())
    _warn(problems)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print('no schedules (add one: hra schedule add NAME --cron "0 3 * * *" --all)')
        return
    table = Table(title="schedules")
    for col in ("name", "cron", "sources", "next run", "last started", "notify", "from"):
        table.add_column(col)
    for s, row in zip(items, rows, strict=True):
        table.add_row(*(shown(v) for v in (s.name, s.cron, s.describe_sources(), row["next_run"],
                                           row["last_started"] or "", s.notify_cmd or "",
                                           s.origin)))
    console.print(table)


@schedule.command("remove")
@click.argument("name")
@data_dir_option
@click.pass_context
def remove(ctx: click.Context, name: str) -> None:
    """Remove the schedule NAME (a damaged entry of that name too).

    \b
    Examples:
      hra schedule remove workdays
    """
    from archive.cli import console, shown
    from archive.schedule import ScheduleError

    try:
        _book(ctx).remove(name)
    except ScheduleError as exc:
        raise HraError(str(exc), 2) from exc
    console.print(f"schedule {shown(name)} removed", highlight=False)


@schedule.command("run")
@click.option("--once", is_flag=True, help="Run what is due now, then exit.")
@click.option("--poll", default=30.0, show_default=True, type=click.FloatRange(0.1),
              help="Longest sleep between checks (seconds).")
@data_dir_option
@click.pass_context
def run(ctx: click.Context, once: bool, poll: float) -> None:
    """Run the scheduler in the foreground (for a terminal, a systemd service or a container).

    Each due crawl runs as a child process; its output goes to stdout and to
    DATA_DIR/logs/schedule.log. A schedule whose run times passed while the scheduler was
    down runs once at start. SIGTERM or Ctrl-C stop the running crawl gracefully (it resumes
    next time) and then the scheduler. One scheduler per data dir: a second one says which
    process runs it (pid) and exits 1.

    \b
    Examples:
      hra schedule run
      hra schedule run --once                   # e.g. from your own timer
    """
    from archive.schedule import ScheduleError, Scheduler

    data_dir = ctx.find_root().obj.data_dir
    items, problems = _book(ctx).everything()
    if not items:
        _warn(problems)
        raise HraError('no schedules to run (add one: hra schedule add NAME --cron "0 3 * * *" '
                       '--all)')
    try:
        Scheduler(data_dir, poll=poll).run_forever(once=once)
    except ScheduleError as exc:
        raise HraError(str(exc)) from exc


@schedule.command("notify", hidden=True)
@click.argument("name")
@click.option("--trigger", required=True,
              help="Trigger of the crawl's run (cron:NAME or systemd:NAME).")
@click.option("--exit-code", type=int,
              help="The crawl's exit code [default: $EXIT_STATUS, which systemd sets].")
@data_dir_option
@click.pass_context
def notify_cmd(ctx: click.Context, name: str, trigger: str, exit_code: int | None) -> None:
    """Run the --notify-cmd of schedule NAME with the summary of its last run on stdin.

    The crontab lines and systemd units of `hra schedule cron` run it after each crawl, so a
    schedule's notify command works there as under `hra schedule run`.
    """
    import os

    from archive.schedule import ScheduleError, notify_last_run

    book = _book(ctx)
    try:
        item = book.get(name)
    except ScheduleError as exc:
        raise HraError(str(exc), 2) from exc
    if not item.notify_cmd:
        return
    if exit_code is None and os.environ.get("EXIT_STATUS", "").isdigit():
        exit_code = int(os.environ["EXIT_STATUS"])
    problem = notify_last_run(item, book.data_dir, trigger, exit_code)
    if problem:
        raise HraError(f"schedule {item.name}: {problem}")


@schedule.command("cron")
@click.option("--systemd/--no-systemd", default=True, show_default=True,
              help="Also print systemd service and timer units.")
@data_dir_option
@click.pass_context
def cron(ctx: click.Context, systemd: bool) -> None:
    """Print crontab lines (and systemd units) running the schedules through `hra crawl`.

    Includes the sources with their own `schedule` in DATA_DIR/sources.toml. When a cron
    expression restricts both day-of-month and day-of-week (cron runs on either), the timer
    gets two OnCalendar= lines.

    \b
    Examples:
      hra schedule cron
      hra schedule cron --no-systemd | crontab -     # replaces your crontab!
    """
    from archive.schedule import crontab_line, systemd_units

    data_dir = ctx.find_root().obj.data_dir
    items, problems = _book(ctx).everything()
    _warn(problems)
    if not items:
        raise HraError("no schedules (add one with `hra schedule add`)")
    click.echo("# crontab lines (crontab -e); cron runs them in the system's time zone")
    for item in items:
        click.echo(crontab_line(item, data_dir))
    if systemd:
        for item in items:
            click.echo("")
            click.echo(systemd_units(item, data_dir), nl=False)

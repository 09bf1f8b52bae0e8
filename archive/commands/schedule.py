"""`hra schedule add|list|remove|run|cron`: crawls on a schedule (see archive/schedule.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from archive.schedule import ScheduleBook


def register(cli: click.Group) -> None:
    cli.add_command(schedule)


@click.group()
def schedule() -> None:
    """Crawl sources on a schedule: keep the archive fresh and know what each run did.

    \b
    Examples:
      hra schedule add nightly --cron "0 3 * * *" --all
      hra schedule add wjw-weekly --cron "30 2 * * 1" wjw-zj wjw-gd --notify-cmd "mail -s hra me"
      hra schedule list
      hra schedule run                          # the foreground scheduler
      hra schedule cron                         # crontab lines and systemd units instead
    """


def _book(ctx: click.Context) -> ScheduleBook:
    """The schedules of the data dir given to `hra`."""
    from archive.schedule import ScheduleBook

    return ScheduleBook(ctx.find_root().obj.data_dir)


@schedule.command("add")
@click.argument("name")
@click.argument("sources", nargs=-1)
@click.option("--cron", "cron", required=True, help='Cron expression, e.g. "0 3 * * *".')
@click.option("--all", "all_sources", is_flag=True, help="Crawl every source.")
@click.option("--notify-cmd", help="Command run after each crawl with the run summary as JSON "
                                   "on stdin.")
@click.option("--refresh", is_flag=True, help="Crawl with --refresh (re-check archived pages).")
@click.option("--depth", type=click.IntRange(0), help="Crawl with --depth N.")
@click.option("--max-pages", type=click.IntRange(1), help="Crawl with --max-pages N.")
@click.option("-s", "--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="Scrapy setting for the crawl (repeatable).")
@click.option("--replace", is_flag=True, help="Replace a schedule of the same name.")
@click.pass_context
def add(ctx: click.Context, name: str, sources: tuple[str, ...], cron: str, all_sources: bool,
        notify_cmd: str | None, refresh: bool, depth: int | None, max_pages: int | None,
        settings: tuple[str, ...], replace: bool) -> None:
    """Add a schedule NAME crawling SOURCE... (or --all) at the times of a cron expression.

    \b
    Examples:
      hra schedule add nightly --cron "0 3 * * *" --all
      hra schedule add zj --cron "@daily" hc-wjw-zj
      hra schedule add weekly-refresh --cron "0 4 * * 0" --all --refresh
    """
    from archive.cli import console, fail
    from archive.schedule import Schedule, ScheduleError, next_time, now_local
    from crawler.sources import SourceError, load_sources, select_sources

    if sources and all_sources:
        fail("give SOURCE names or --all, not both", 2)
    book = _book(ctx)
    try:
        if sources:
            select_sources(load_sources(book.data_dir), list(sources))
        options = (["--refresh"] if refresh else []) + \
            (["--depth", str(depth)] if depth is not None else []) + \
            (["--max-pages", str(max_pages)] if max_pages else []) + \
            [arg for setting in settings for arg in ("-s", setting)]
        item = book.add(Schedule(name, cron, list(sources), all_sources, notify_cmd,
                                 crawl_options=options), replace)
    except (ScheduleError, SourceError) as exc:
        fail(str(exc), 2)
    nxt = next_time(item.cron, now_local()).isoformat(timespec="minutes")
    console.print(f"schedule {item.name}: '{item.cron}' crawls {item.describe_sources()}; "
                  f"next run {nxt}", highlight=False)


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print schedules as JSON.")
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """List schedules with their next run and when they last started."""
    from rich.table import Table

    from archive.cli import console, fail, print_json
    from archive.schedule import ScheduleError, now_local

    book = _book(ctx)
    try:
        items = book.all()
        last = book.last_started()
    except ScheduleError as exc:
        fail(str(exc))
    now = now_local()
    rows = [asdict(s) | {"next_run": book.next_due(s, now).isoformat(timespec="minutes"),
                         "last_started": last.get(s.name)} for s in items]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print('no schedules (add one: hra schedule add NAME --cron "0 3 * * *" --all)')
        return
    table = Table(title="schedules")
    for col in ("name", "cron", "sources", "next run", "last started", "notify"):
        table.add_column(col)
    for s, row in zip(items, rows, strict=True):
        table.add_row(s.name, s.cron, s.describe_sources(), row["next_run"],
                      row["last_started"] or "", s.notify_cmd or "")
    console.print(table)


@schedule.command("remove")
@click.argument("name")
@click.pass_context
def remove(ctx: click.Context, name: str) -> None:
    """Remove the schedule NAME."""
    from archive.cli import console, fail
    from archive.schedule import ScheduleError

    try:
        _book(ctx).remove(name)
    except ScheduleError as exc:
        fail(str(exc), 2)
    console.print(f"schedule {name} removed")


@schedule.command("run")
@click.option("--once", is_flag=True, help="Run what is due now, then exit.")
@click.option("--poll", default=30.0, show_default=True, type=click.FloatRange(0.1),
              help="Longest sleep between checks (seconds).")
@click.pass_context
def run(ctx: click.Context, once: bool, poll: float) -> None:
    """Run the scheduler in the foreground (for a terminal, a systemd service or a container).

    Each due crawl runs as a child process; its output goes to stdout and to
    DATA_DIR/logs/schedule.log. A schedule whose run times passed while the scheduler was
    down runs once at start. SIGTERM or Ctrl-C stop the running crawl gracefully (it resumes
    next time) and then the scheduler.

    \b
    Examples:
      hra schedule run
      hra schedule run --once                   # e.g. from your own timer
    """
    from archive.cli import fail
    from archive.schedule import ScheduleError, Scheduler

    data_dir = ctx.find_root().obj.data_dir
    try:
        if not _book(ctx).all():
            fail('no schedules to run (add one: hra schedule add NAME --cron "0 3 * * *" --all)')
        Scheduler(data_dir, poll=poll).run_forever(once=once)
    except ScheduleError as exc:
        fail(str(exc))


@schedule.command("cron")
@click.option("--systemd/--no-systemd", default=True, show_default=True,
              help="Also print systemd service and timer units.")
@click.pass_context
def cron(ctx: click.Context, systemd: bool) -> None:
    """Print crontab lines (and systemd units) running the schedules through `hra crawl`.

    \b
    Example:
      hra schedule cron --no-systemd | crontab -     # replaces your crontab!
    """
    from archive.cli import fail
    from archive.schedule import ScheduleError, crontab_line, systemd_units

    data_dir = ctx.find_root().obj.data_dir
    try:
        items = _book(ctx).all()
    except ScheduleError as exc:
        fail(str(exc))
    if not items:
        fail("no schedules (add one with `hra schedule add`)")
    click.echo("# crontab lines (crontab -e); cron runs them in the system's time zone")
    for item in items:
        click.echo(crontab_line(item, data_dir))
    if systemd:
        for item in items:
            click.echo("")
            click.echo(systemd_units(item, data_dir), nl=False)

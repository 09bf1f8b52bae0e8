"""What `hra crawl` and `hra demo` show while a crawl runs, and its summary: a rich live panel
on a terminal, log lines otherwise (cron). Part of the CLI (only `archive.commands` imports it).

Both displays take the crawl child's events (`crawler.progress`) from
`archive.crawl_runs.run_crawl` (the `Display` protocol there). Until some page shows that a site
answers, failure lines are held back: a crawl that fails as a whole (nothing could be fetched)
prints just its one-line error, and any other crawl shows them once it gets going. No Scrapy
import here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click


class _Held:
    """Lines held back until a site answers (then shown in order), dropped if the crawl
    fails as a whole (its one-line error says why)."""

    def __init__(self, show: Any) -> None:
        self.show = show
        self.lines: list[str] | None = []  # None: a site answered, lines go straight out

    def add(self, line: str) -> None:
        if self.lines is None:
            self.show(line)
        else:
            self.lines.append(line)

    def release(self) -> None:
        lines, self.lines = self.lines or [], None
        for line in lines:
            self.show(line)

    def seen(self, event: dict[str, Any]) -> None:
        from crawler.progress import ALIVE_OUTCOMES

        if self.lines is not None and event["e"] == "page" \
                and event.get("outcome") in ALIVE_OUTCOMES:
            self.release()

    def end(self, status: str | None) -> None:
        if status == "failed":
            self.lines = None
        else:
            self.release()


def source_line(event: dict[str, Any]) -> str:
    """A source's end, from its "source" event: "NAME: ok", "NAME: failed: why"."""
    status = event.get("status") or event.get("reason") or "?"
    error = f": {event['error']}" if event.get("error") else ""
    return f"{event.get('source')}: {status}{error}"


class PlainDisplay:
    """Log lines (not a terminal, e.g. cron): reports archived, errors, warnings, progress."""

    def __init__(self, every: float = 30.0) -> None:
        self.every = every
        self._last = time.monotonic()
        self._held = _Held(self._line)

    def _line(self, text: str) -> None:
        from archive.cli import printable

        click.echo(printable(text))  # titles, URLs, messages: no terminal escapes

    def start(self, plan: Any, data_dir: Path, run_id: int) -> None:
        names = ", ".join(s.name for s in plan.sources[:8])
        more = f" (+{len(plan.sources) - 8} more)" if len(plan.sources) > 8 else ""
        self._held.add(f"crawl run {run_id}: {names}{more} -> {data_dir}")

    def event(self, event: dict[str, Any], tally: Any) -> None:
        kind = event["e"]
        self._held.seen(event)
        if kind == "page":
            outcome = event.get("outcome", "")
            if outcome in ("new", "changed"):
                self._line(f"{outcome:<8} {event.get('title') or '(no title)'}  {event.get('url')}")
            elif outcome == "failed":
                self._held.add(f"failed   {event.get('url')}: {event.get('message')}")
        elif kind == "warn":
            self._held.add(f"warning  {event.get('message')}")
        elif kind == "source" and event.get("state") == "finished":
            self._held.add(f"source   {source_line(event)}")
        if time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            self._held.add(f"progress {_counts_line(tally)}")

    def note(self, message: str) -> None:
        self._line(message)

    def stop(self, status: str | None = None) -> None:
        self._held.end(status)


class LiveDisplay:
    """A rich live panel: pages fetched, reports archived, skips, errors, current host."""

    def __init__(self) -> None:
        from rich.live import Live

        from archive.cli import console

        self.console = console
        self.live = Live(console=console, refresh_per_second=4, transient=True)
        self.tally: Any = None
        self.host = ""
        self.last = ""
        self.started = time.monotonic()
        self.title = ""
        self.sources_done = 0
        self.sources_total = 0
        self._held = _Held(lambda line: self.console.print(line, highlight=False))

    def start(self, plan: Any, data_dir: Path, run_id: int) -> None:
        from archive.cli import shown

        self.sources_total = len(plan.sources)
        self.title = f"crawl run {run_id} -> {shown(data_dir)}"
        self.live.start()
        self.live.update(self._render())

    def _render(self) -> Any:
        from rich.table import Table

        from crawler.progress import SKIP_LABELS

        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", justify="right")
        grid.add_column()
        elapsed = time.monotonic() - self.started
        grid.add_row("", f"[bold]{self.title}[/]  {elapsed:.0f}s")
        if self.tally is not None:
            t, c = self.tally, self.tally.counts
            rate = t.fetched / elapsed if elapsed > 0 else 0.0
            grid.add_row("pages fetched", f"{t.fetched}  ({rate:.1f}/s)")
            grid.add_row("reports archived",
                         f"[green]{c.new} new[/] · {c.changed} changed · {c.unchanged} unchanged")
            skipped = ", ".join(f"{n} {SKIP_LABELS.get(r, r)}" for r, n in
                                sorted(t.skipped.items(), key=lambda kv: -kv[1])) or "0"
            grid.add_row("skipped", skipped)
            grid.add_row("errors", f"[red]{c.failed}[/]" if c.failed else "0")
        grid.add_row("sources", f"{self.sources_done}/{self.sources_total} done")
        grid.add_row("current host", self.host or "-")
        if self.last:
            grid.add_row("last", self.last)
        return grid

    def event(self, event: dict[str, Any], tally: Any) -> None:
        from archive.cli import shown

        self.tally = tally
        kind = event["e"]
        self._held.seen(event)
        if kind == "request":
            self.host = shown(event.get("host", ""))
        elif kind == "page":
            outcome = event.get("outcome", "")
            if outcome in ("new", "changed"):
                self.last = shown(f"[{outcome}] {event.get('title') or ''}"[:90])
            elif outcome == "failed":
                self._held.add(f"[yellow]failed:[/] {shown(event.get('url'))}: "
                               f"{shown(event.get('message'))}")
        elif kind == "warn":
            self._held.add(f"[yellow]warning:[/] {shown(event.get('message'))}")
        elif kind == "source" and event.get("state") == "finished":
            self.sources_done += 1
            if event.get("status") == "failed":
                self._held.add(f"[red]source failed:[/] {shown(source_line(event))}")
        self.live.update(self._render())

    def note(self, message: str) -> None:
        from archive.cli import shown

        self.console.print(f"[bold]{shown(message)}[/]", highlight=False)

    def stop(self, status: str | None = None) -> None:
        self.live.stop()
        self._held.end(status)


def _counts_line(tally: Any) -> str:
    c = tally.counts
    return (f"{tally.fetched} fetched: {c.new} new, {c.changed} changed, {c.unchanged} unchanged, "
            f"{c.skipped} skipped, {c.failed} failed")


def make_display(as_json: bool) -> Any:
    from archive.cli import console
    from archive.crawl_runs import NullDisplay

    if as_json:
        return NullDisplay()
    return LiveDisplay() if console.is_terminal else PlainDisplay()


def print_summary(result: Any) -> None:
    """The end of a crawl (not for status "failed": that is one error line, see `hra crawl`).
    Its counts are the run's, as `hra runs` shows them."""
    from archive.cli import console, shown

    t, c = result.tally, result.tally.counts
    skipped = t.skipped_text()
    console.print(
        f"crawl run {result.run_id} [bold]{result.status}[/] in {result.elapsed:.1f}s: "
        f"{c.pages} page(s) ({t.fetched} fetched), [green]{c.new} new[/], {c.changed} changed, "
        f"{c.unchanged} unchanged, {c.skipped} skipped{f' ({skipped})' if skipped else ''}, "
        f"{f'[red]{c.failed} failed[/]' if c.failed else '0 failed'}", highlight=False)
    failed = [r for r in result.source_results if r["status"] == "failed"]
    if failed:
        ok = sum(r["status"] == "ok" for r in result.source_results)
        console.print(f"  {len(failed)} of {len(result.source_results)} sources failed "
                      f"({ok} ok); `hra sources` shows each source's health", highlight=False)
    for r in failed[:20]:
        console.print(f"  [red]source {shown(r['source'])} failed:[/] {shown(r['error'] or '')}",
                      highlight=False)
    if len(failed) > 20:
        console.print(f"  ... {len(failed) - 20} more (hra runs --json)", highlight=False)
    for message in result.warnings[:10]:
        console.print(f"  [yellow]warning:[/] {shown(message)}", highlight=False)
    said = {r["error"] for r in failed}
    errors = [m for m in t.errors if m not in said]  # a failed source's cause is listed above
    for message in errors[:10]:
        console.print(f"  [red]failed:[/] {shown(message)}", highlight=False)
    if len(errors) > 10:
        console.print(f"  ... {len(errors) - 10} more (hra runs --json)", highlight=False)
    if result.status == "interrupted":
        console.print("  interrupted: run the same command again to resume", highlight=False)
    console.print(f"  log: {shown(result.log_path)}; duplicates and search index updated "
                  f"({result.index_seconds:.1f}s at the end)", style="dim", highlight=False)

"""`hra trend`: how often terms appear by year, province or type, as a chart in the terminal,
a PNG (`archive.trend_chart`) and a CSV. The counting is `search.trend`."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import click

from archive.cli import ArchiveDir, console, data_dir_option, pass_archive_dir, print_json, shown
from archive.commands.search import QueryCommand, filter_options
from archive.errors import HraError
from search.params import FilterOptions

BAR_WIDTH = 40
COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red")


@click.command("trend", cls=QueryCommand)
@click.argument("terms", nargs=-1, required=True)
@click.option("--by", type=click.Choice(["year", "province", "type"]), default="year",
              show_default=True, help="Count per year (the year a report is about), province "
                                      "or document type.")
@filter_options
@click.option("--png", "png", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the chart into this PNG file (needs a Chinese font, e.g. "
                   "fonts-noto-cjk).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the counts as CSV (a column per term).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@data_dir_option
@pass_archive_dir
def trend_cmd(archive_dir: ArchiveDir, terms: tuple[str, ...], by: str, chosen: FilterOptions,
              png: Path | None, csv_path: Path | None, as_json: bool) -> None:
    """Count the documents matching each TERM per year, province or type, and chart them.

    Each TERM is a query of its own (quote one with spaces: '家庭医生 签约'); reposted
    copies count once (their canonical copy) unless --all-versions. The filters are those of
    `hra search`.

    \b
    Examples:
      hra trend 医共体 家庭医生 --by year
      hra trend 医共体 家庭医生 --by year --png t.png
      hra trend 医共体 --by province --csv ygt.csv
      hra trend '医共体 OR 医联体' --by type --since 2023
    """
    from search.trend import trend

    filters = chosen.filters()
    with archive_dir.store(readonly=True) as store:
        result = trend(store, list(terms), by, filters)
    for path in (png, csv_path):
        if path is not None and path.resolve().is_relative_to(archive_dir.data_dir.resolve()):
            raise HraError(f"refusing to write {path}: it is inside the data dir "
                           f"{archive_dir.data_dir} (the archive)", 2)
    if csv_path is not None:
        _write_csv(csv_path, result.rows())
    if png is not None:
        _write_png(png, result)
    if as_json:
        print_json(result.to_json())
        return
    _print_chart(result)
    for path, what in ((csv_path, "counts"), (png, "chart")):
        if path is not None:
            console.print(f"{what} -> {shown(path)}", highlight=False)


def _write_csv(path: Path, rows: list[list[Any]]) -> None:
    try:
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh).writerows(rows)
    except OSError as exc:
        raise HraError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _write_png(path: Path, result: Any) -> None:
    from archive.trend_chart import render

    data = render(result, "png")
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise HraError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _print_chart(result: Any) -> None:
    """A horizontal bar per group and term, scaled to the largest count."""
    from archive.trend_chart import key_label

    if not result.keys:
        console.print("no matching documents", highlight=False)
        return
    from rich.cells import cell_len

    top = max((result.counts[t].get(k, 0) for t in result.terms for k in result.keys),
              default=0) or 1
    labels = {k: key_label(result.by, k) for k in result.keys}
    width = max(cell_len(label) for label in labels.values())
    legend = "  ".join(f"[{COLOURS[i % len(COLOURS)]}]■[/] {shown(t)}"
                       for i, t in enumerate(result.terms))
    console.print(f"documents per {result.by}: {legend}", highlight=False)
    for key in result.keys:
        for i, term in enumerate(result.terms):
            n = result.counts[term].get(key, 0)
            label = labels[key] if i == 0 else ""
            pad = " " * (width - cell_len(label))
            bar = "█" * round(BAR_WIDTH * n / top) or ("▏" if n else "")
            console.print(f"{shown(label)}{pad} [{COLOURS[i % len(COLOURS)]}]{bar}[/] {n}",
                          highlight=False)
    for term, n in result.unplaced.items():
        if n:
            console.print(f"[dim]{shown(term)}: {n} more without a {result.by}[/]",
                          highlight=False)


def register(cli: click.Group) -> None:
    """Add `trend` to `hra`."""
    cli.add_command(trend_cmd)

"""Web search page benchmark: `hra serve`'s search page beside `hra search --json`, in-process,
same archive, same queries, same run.

    python bench/serve.py [--docs 20000] [--workdir /tmp/hra-bench-serve] [--repeats 3]

1. Generates N report-like documents with bench/search.py's generator (deterministic: --seed)
   and indexes them (`search.index.rebuild`, the code behind `hra reindex`); kept between runs.
2. For each of bench/search.py's queries (1-8 characters, traditional spellings, AND, phrases,
   OR/NOT, title:), plus filtered searches and browses: times
   * `hra search Q --json` in-process (click's CliRunner: parsing, search, JSON),
   * `hra search Q --json --facets` (the page always counts facets),
   * GET /?q=Q on the web app (Starlette's TestClient: parameters, search with facets in a
     worker thread, the page rendered), 20 hits per page (the page's default) against the
     CLI's 10.
   and prints p50/p95 of each and the page's ratio to `hra search --json`.
3. Times the chart of a query (GET /trend.png) and one CSV export (GET /export.csv) apart:
   they are separate requests, not part of the page.

Target (issue 15): the search page's p95 <= 300 ms at 20,000 documents.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_P95_MS = 300.0
FILTERED = [
    {"q": "医共体", "year": "2023"}, {"q": "家庭医生", "region": "贵州"},
    {"q": "疫情", "type": "summary", "complete": "1"}, {"q": "卫生", "sort": "date"},
    {"q": "医改", "since": "2023-01", "until": "2023-06"}, {"year": "2024"},
    {"region": "遵义", "type": "plan"}, {}, {"q": "医共体", "page": "5"},
]


from benchlib import load_bench_search  # noqa: E402


def cli_args(params: dict[str, str]) -> list[str]:
    """The `hra search` arguments of a page's parameters."""
    out = [params["q"]] if params.get("q") else []
    for name, option in (("year", "--year"), ("region", "--region"), ("type", "--type"),
                         ("since", "--since"), ("until", "--until"), ("sort", "--sort"),
                         ("page", "--page")):
        if name in params:
            out += [option, params[name]]
    if params.get("complete"):
        out.append("--complete")
    return out


def timed(action: Callable[[], object], repeats: int) -> list[float]:
    action()  # warm: the first call opens files, fills caches
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        out.append((time.perf_counter() - start) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hra-bench-serve"))
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per query")
    args = parser.parse_args()

    bench_search = load_bench_search()
    from click.testing import CliRunner

    from archive.cli import _register_command_modules, cli
    from archive.store import Store
    from archive.web.app import create_app
    from search.index import rebuild

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    data_dir = args.workdir / f"docs-{args.docs}-seed-{args.seed}"
    marker = data_dir / "BENCH-COMPLETE"
    if not marker.exists():
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)
        print(f"generating {args.docs} documents into {data_dir} ...", file=sys.stderr)
        bench_search.build_archive(data_dir, args.docs, args.seed)
        with Store(data_dir) as store:
            print("indexing ...", file=sys.stderr)
            rebuild(store, lambda d, t: None)
        marker.write_text("ok\n")

    _register_command_modules()
    runner = CliRunner()
    cases = [{"q": q} for _label, q in bench_search.QUERIES] + FILTERED
    rows = []
    with TestClient(create_app(data_dir, timeout=60)) as client:
        for params in cases:
            words = ["--data-dir", str(data_dir), "search", *cli_args(params), "--json"]

            def cli_search(words: list[str] = words) -> None:
                result = runner.invoke(cli, words)
                assert result.exit_code == 0, result.output

            def cli_facets(words: list[str] = words) -> None:
                result = runner.invoke(cli, [*words, "--facets"])
                assert result.exit_code == 0, result.output

            def page(params: dict[str, str] = params) -> None:
                response = client.get("/?" + urlencode(params))
                assert response.status_code == 200, response.text[:500]

            rows.append((params, timed(cli_search, args.repeats),
                         timed(cli_facets, args.repeats), timed(page, args.repeats)))
            print(f"\r  {len(rows)}/{len(cases)} queries", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        chart = timed(lambda: client.get("/trend.png?q=医共体"), args.repeats)
        export = timed(lambda: client.get("/export.csv?q=医共体&year=2023"), 1)
    report(args, rows, chart, export)


def report(args: argparse.Namespace, rows: list, chart: list[float], export: list[float]) -> None:
    cli_ms = [t for _p, c, _f, _w in rows for t in c]
    facet_ms = [t for _p, _c, f, _w in rows for t in f]
    page_ms = [t for _p, _c, _f, w in rows for t in w]
    print(f"## search page vs `hra search --json`, in-process: {args.docs} documents, "
          f"{len(rows)} queries x {args.repeats} runs")
    print()
    print("| | p50 ms | p95 ms | max ms |")
    print("| --- | ---: | ---: | ---: |")
    for name, values in (("`hra search Q --json`", cli_ms),
                         ("`hra search Q --json --facets`", facet_ms),
                         ("search page GET /?q=Q (facets, 20 hits, HTML)", page_ms)):
        print(f"| {name} | {pct(values, .5):.1f} | {pct(values, .95):.1f} | {max(values):.1f} |")
    print()
    print(f"page / `hra search --json`: p50 {pct(page_ms, .5) / pct(cli_ms, .5):.2f}x, "
          f"p95 {pct(page_ms, .95) / pct(cli_ms, .95):.2f}x; page / with --facets: p95 "
          f"{pct(page_ms, .95) / pct(facet_ms, .95):.2f}x")
    print(f"chart GET /trend.png?q=医共体: p50 {statistics.median(chart):.0f} ms; "
          f"CSV export of 医共体 --year 2023: {export[0]:.0f} ms")
    slowest = sorted(rows, key=lambda r: -max(r[3]))[:5]
    print("slowest pages: " + "; ".join(f"{urlencode(p) or '(browse all)'} {max(w):.0f} ms"
                                        for p, _c, _f, w in slowest))
    p95 = pct(page_ms, .95)
    verdict = "met" if p95 <= TARGET_P95_MS else "NOT met"
    print(f"target p95 <= {TARGET_P95_MS:.0f} ms: {verdict} ({p95:.0f} ms)")


if __name__ == "__main__":
    main()

"""`hra demo` without the screen: the demo archive directory, the bundled site served on
127.0.0.1, and the crawl of it with the real spiders. The CLI (`archive.commands.crawl`) shows
the crawl, runs the sample search and prints what to try next.

Errors for the user are `HraError`. Nothing here imports Scrapy (the crawl runs in a child).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from archive.errors import HraError

if TYPE_CHECKING:
    from archive.crawl_runs import CrawlResult, Display
    from crawler.demo import DemoServer
    from crawler.sources import Source

#: Settings that lift politeness for a site on this machine (demo, bench, tests).
LOCALHOST_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
    "HRA_RETRY_BACKOFF": 0.2,
    "DOWNLOAD_TIMEOUT": 10,
}
#: The file that marks a directory as made by `hra demo` (which empties it on each run).
DEMO_MARKER = ".hra-demo"
#: The sample search `hra demo` runs on the demo archive.
DEMO_QUERY = "医共体"


def default_demo_dir(data_dir: Path) -> Path:
    """``hra-demo`` beside the archive directory (never inside the real archive)."""
    return data_dir.expanduser().resolve().parent / "hra-demo"


def prepare_demo_dir(path: Path) -> None:
    """An empty demo directory, marked as such; refuses to empty anything else."""
    if path.exists() and any(path.iterdir()) and not (path / DEMO_MARKER).exists():
        raise HraError(f"{path} exists and is not an hra demo directory; choose another with "
                       "--data-dir")
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / DEMO_MARKER).write_text("made by `hra demo`; it empties this directory on each run\n")


def demo_sources(base: str) -> list[Source]:
    """The demo site's two sources: its health commission (gov spider) and the report sites."""
    from crawler.sources import parse_source

    return [
        parse_source({"name": "demo-wjw", "spider": "gov", "title": "demo: city health commission",
                      "start_urls": [f"{base}/wjw/xxgk/gzdt/index.html"]}, "demo", "demo"),
        parse_source({"name": "demo", "spider": "site", "title": "demo: report sites",
                      "start_urls": [f"{base}/"]}, "demo", "demo"),
    ]


def demo_site(port: int) -> DemoServer:
    """The demo site, to be served on 127.0.0.1:`port` (0: a free port) by ``with``."""
    from crawler.demo import DemoServer

    try:
        return DemoServer(port)
    except OSError as exc:
        raise HraError(f"cannot start the demo site on 127.0.0.1:{port}: "
                       f"{exc.strerror or exc}") from exc


@dataclass
class DemoCrawl:
    """How the crawl of the demo site went, and what it archived."""

    result: CrawlResult
    documents: int = 0  # documents in the demo archive (0 when the crawl failed)
    newest_id: str | None = None  # the newest document's id, for `hra show`


def crawl_demo(target: Path, base_url: str, display: Display | None = None) -> DemoCrawl:
    """Crawl the demo site at `base_url` into the demo archive `target` (politeness lifted
    for this machine, one source at a time)."""
    from archive.crawl_runs import CrawlPlan, run_crawl
    from archive.store import Store

    plan = CrawlPlan(sources=demo_sources(base_url), settings=dict(LOCALHOST_SETTINGS),
                     trigger="demo", parallel=1)
    result = run_crawl(target, plan, display=display)
    if result.status == "failed":
        return DemoCrawl(result)
    with Store(target) as store:
        first = next(store.iter_documents(order="newest"), None)
        return DemoCrawl(result, store.count_documents(), first.id if first else None)

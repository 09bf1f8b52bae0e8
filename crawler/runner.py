"""The crawl child process: ``python -m crawler.runner < spec.json``.

`hra crawl` starts this in a child process (Scrapy's reactor cannot be restarted inside one
process) and reads its progress events from the descriptor ``progress_fd``. The spec::

    {"data_dir": "...", "sources": [Source.to_json(), ...], "depth": null, "max_pages": null,
     "refresh": false, "keep_off_topic": false, "settings": {"DOWNLOAD_DELAY": 0},
     "progress_fd": 5, "run_id": 12, "trigger": "manual", "parallel": 4}

All sources run in one reactor, at most ``parallel`` at a time, each with its own crawler,
settings and JOBDIR (``<data_dir>/jobs/<source>``). SIGINT/SIGTERM stop gracefully (the jobs are
kept, the same command resumes); so does the loss of the parent (the event pipe breaks).
Exit status: 0 when every source finished, 2 when stopped early, 1 on a setup error.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.sources import Source

if TYPE_CHECKING:
    from scrapy.settings import Settings


def build_settings(spec: dict[str, Any]) -> Settings:
    """Project settings + the spec's overrides (as if given with -s)."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.update(spec.get("settings") or {}, priority="cmdline")
    overrides = {
        "HRA_DATA_DIR": spec["data_dir"],
        "HRA_PROGRESS_FD": spec.get("progress_fd"),
        "HRA_RUN_ID": spec.get("run_id"),
        "HRA_TRIGGER": spec.get("trigger", "manual"),
        "HRA_REFRESH": bool(spec.get("refresh")),
        "HRA_KEEP_OFF_TOPIC": bool(spec.get("keep_off_topic")),
    }
    if spec.get("contact"):
        overrides["HRA_CONTACT"] = spec["contact"]
    settings.update(overrides, priority="cmdline")
    return settings


def spider_class(name: str) -> type:
    from crawler.spiders.gov import GovSpider
    from crawler.spiders.site import SiteSpider

    return {"site": SiteSpider, "gov": GovSpider}[name]


def run(spec: dict[str, Any]) -> int:
    """Crawl every source of the spec; returns the exit status."""
    from scrapy.crawler import AsyncCrawlerProcess, Crawler

    from crawler.progress import events_for

    settings = build_settings(spec)
    process = AsyncCrawlerProcess(settings)  # configures logging (stderr: the run's log file)
    from twisted.internet import reactor

    sources = [Source.from_json(s) for s in spec["sources"]]
    data_dir = Path(spec["data_dir"])
    state = {"stopping": False, "clean": True}
    events = events_for(spec.get("progress_fd"))

    def stop_gracefully() -> None:
        if not state["stopping"]:
            state["stopping"] = True
            state["clean"] = False
            reactor.callFromThread(lambda: asyncio.ensure_future(process.stop()))

    events.on_broken = stop_gracefully

    def closed(spider: Any, reason: str) -> None:
        if reason != "finished":
            state["clean"] = False
            if reason == "shutdown":
                state["stopping"] = True

    async def crawl_one(source: Source) -> None:
        crawler_settings = settings.copy()
        crawler_settings.set("JOBDIR", str(data_dir / "jobs" / source.name), priority="cmdline")
        crawler = Crawler(spider_class(source.spider), crawler_settings)
        from scrapy import signals

        crawler.signals.connect(closed, signal=signals.spider_closed)
        kwargs = {"source": source, "depth": spec.get("depth"), "max_pages": spec.get("max_pages")}
        try:
            await process.crawl(crawler, **kwargs)
        except Exception as exc:  # a broken source must not stop the others
            state["clean"] = False
            events.emit("warn", source=source.name, message=f"source {source.name} failed to "
                        f"start: {type(exc).__name__}: {exc}")
            events.emit("source", source=source.name, state="finished", reason="error")

    async def main() -> None:
        queue = list(sources)

        async def lane() -> None:
            while queue and not state["stopping"]:
                await crawl_one(queue.pop(0))

        try:
            await asyncio.gather(*(lane() for _ in range(max(1, int(spec.get("parallel", 4))))))
        finally:
            reactor.callLater(0, reactor.stop)

    reactor.callWhenRunning(lambda: asyncio.ensure_future(main()))
    try:
        process.start(stop_after_crawl=False)
    finally:
        events.close()
    return 0 if state["clean"] and not state["stopping"] else 2


def main() -> None:
    try:
        spec = json.load(sys.stdin)
    except ValueError as exc:
        print(f"crawler.runner: bad spec on stdin: {exc}", file=sys.stderr)
        sys.exit(1)
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    sys.exit(run(spec))


if __name__ == "__main__":
    main()

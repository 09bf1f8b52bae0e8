"""Scheduled crawls on Scrapyd nodes (`hra schedule add ... --scrapyd URL`): one schedule
drives many machines.

Instead of a child `hra crawl`, a schedule with Scrapyd nodes asks each node, through Scrapyd's
HTTP API (``schedule.json``), to run the spider of each of its sources: a source goes to the
node of its shard (`crawler.sources.shard_of`: the same split as ``hra sources --shard K/N``,
K the node's place in the list), with the schedule's crawl options as spider arguments
(``depth``, ``max_pages``) and Scrapy settings (``--refresh``, ``-s NAME=VALUE``). Where pages
go is the nodes' business: ``-s HRA_WARC_DIR=...`` (a WARC file per job, for
``hra import nodes/*.warc.gz`` on the archive host) or ``HRA_DATA_DIR`` when the node shares
the archive's machine. The project egg must be deployed on every node (``scrapyd-deploy``).
The call returns once every job is queued; the nodes run them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

PROJECT = "hra"  # scrapy.cfg's [deploy] project


class NodeError(RuntimeError):
    """A node refused a job or could not be reached (one line)."""


def schedule_job(node: str, spider: str, args: dict[str, str], settings: list[str],
                 timeout: float = 30) -> str:
    """Queue one spider run on the Scrapyd at `node`; its job id. NodeError otherwise."""
    fields = [("project", PROJECT), ("spider", spider), *args.items()]
    fields += [("setting", s) for s in settings]
    url = urllib.parse.urljoin(node.rstrip("/") + "/", "schedule.json")
    try:
        with urllib.request.urlopen(url, data=urllib.parse.urlencode(fields).encode(),
                                    timeout=timeout) as response:
            answer = json.load(response)
    except (OSError, ValueError) as exc:
        raise NodeError(f"{node}: {exc}") from exc
    if answer.get("status") != "ok" or "jobid" not in answer:
        raise NodeError(f"{node}: {answer.get('message') or answer}")
    return str(answer["jobid"])


def run_on_nodes(sources: list[Any], nodes: list[str], args: dict[str, str],
                 settings: list[str], log: Callable[[str], None]) -> tuple[int, int]:
    """Queue the crawl of each source (`crawler.sources.Source`) on the node of its shard:
    named sources by name (the node reads them from its own sources files), a command line
    source by its URLs. Returns (queued, failed); each job or failure is logged in one line."""
    from crawler.sources import shard_of

    queued = failed = 0
    for source in sources:
        node = nodes[shard_of(source.name, len(nodes)) - 1]
        where = ({"url": " ".join(source.start_urls)} if source.origin == "command line"
                 else {"source": source.name})
        try:
            job = schedule_job(node, source.spider, {**where, **args}, settings)
        except NodeError as exc:
            failed += 1
            log(f"{source.name}: not queued: {exc}")
            continue
        queued += 1
        log(f"{source.name}: queued on {node} as job {job}")
    return queued, failed

"""The spiders on real Scrapyd nodes: two ``scrapyd`` processes on loopback (two machines' worth
of nodes), the project egg built and uploaded by ``scrapyd-deploy`` from scrapy.cfg's
``[deploy]`` section, jobs scheduled through Scrapyd's HTTP API.

* Each node crawls its share of the sources (`hra sources --shard K/N`) and writes a WARC file per
  job (``HRA_WARC_DIR``); the archive host imports ``nodes/*.warc.gz`` in any order, any number
  of times, with the same archive.
* A node on the archive's machine writes into the archive directly (``HRA_DATA_DIR``).
* A schedule with ``--scrapyd URL`` (twice) queues each of its sources on the node of its shard.
* A job cancelled mid-way (``cancel.json``) and scheduled again with the same job id resumes
  from its JOBDIR: no page is lost, finished pages are not fetched again.

Every scrapyd runs in its own process group and directory, and is stopped (with its jobs) by the
fixture's finalizer whatever happens.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import _register_command_modules, cli
from crawler.sources import shard_of
from tests.conftest import ROOT, report_page
from tests.crawl_server import SiteServer

_register_command_modules()

SCRAPYD_DEPLOY = shutil.which("scrapyd-deploy")
if SCRAPYD_DEPLOY is None:  # the test extra installs it (pip install -e .[test])
    pytest.fail("scrapyd-deploy not found: pip install scrapyd scrapyd-client", pytrace=False)

#: Politeness lifted for the local test site; the text pipeline inline (no worker processes).
FAST = ["DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", "HRA_WORKERS=0",
        "CONCURRENT_REQUESTS_PER_DOMAIN=8", "LOG_LEVEL=INFO"]
PARAGRAPHS = [
    "{year}年以来，{city}卫生健康系统深入推进紧密型县域医共体建设，基层就诊率达到65.2%，群众就医更加便捷。",
    "家庭医生签约服务覆盖率达到75.3%，重点人群签约率达到85%以上，慢性病患者健康管理水平不断提高。",
    "下一步，{city}将继续深化医药卫生体制改革，推进公立医院高质量发展，不断提升群众看病就医获得感。",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Node:
    """One scrapyd on 127.0.0.1 with its own directory and configuration."""

    def __init__(self, base: Path, name: str) -> None:
        self.dir = base / name
        self.dir.mkdir(parents=True)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.data_dir = self.dir / "hra-data"  # the node's runs and crawl jobs
        (self.dir / "scrapyd.conf").write_text(
            "[scrapyd]\n"
            "bind_address = 127.0.0.1\n"
            f"http_port = {self.port}\n"
            f"eggs_dir = {self.dir / 'eggs'}\n"
            f"logs_dir = {self.dir / 'logs'}\n"
            f"jobs_dir = {self.dir / 'jobs'}\n"
            f"dbs_dir = {self.dir / 'dbs'}\n"
            "items_dir =\n"
            "max_proc = 4\n"
            "poll_interval = 0.2\n", encoding="utf-8")
        # The node's own data dir (its runs, crawl jobs and sources.toml), as a deployment sets
        # it in the environment of scrapyd; no PYTHONPATH: the jobs run the deployed egg.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["HRA_DATA_DIR"] = str(self.data_dir)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scrapyd", "--pidfile", str(self.dir / "twistd.pid"),
             "--logfile", str(self.dir / "scrapyd.log")],
            cwd=self.dir, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 20) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.proc.poll() is None, self._log()
            try:
                if self.get("daemonstatus.json")["status"] == "ok":
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"scrapyd did not start: {self._log()}")

    def _log(self) -> str:
        log = self.dir / "scrapyd.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"

    def get(self, action: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(self.url + action + query, timeout=10) as response:
            return json.load(response)

    def post(self, action: str, fields: list[tuple[str, str]]) -> dict:
        data = urllib.parse.urlencode(fields).encode()
        with urllib.request.urlopen(self.url + action, data=data, timeout=10) as response:
            answer = json.load(response)
        assert answer["status"] == "ok", answer
        return answer

    def schedule(self, spider: str, settings: list[str], jobid: str | None = None,
                 **args: str) -> str:
        fields = [("project", "hra"), ("spider", spider), *args.items()]
        fields += [("setting", s) for s in [*FAST, *settings]]
        if jobid:
            fields.append(("jobid", jobid))
        return self.post("schedule.json", fields)["jobid"]

    def job_state(self, job: str) -> str | None:
        jobs = self.get("listjobs.json", project="hra")
        for state in ("pending", "running", "finished"):
            if any(j["id"] == job for j in jobs[state]):
                return state
        return None

    def wait_finished(self, jobs: list[str], timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if all(self.job_state(job) == "finished" for job in jobs):
                return
            time.sleep(0.2)
        raise AssertionError(f"jobs {jobs} did not finish on {self.url}: {self.job_logs()}")

    def job_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:]
                         for p in sorted((self.dir / "logs").rglob("*.log")))

    def stop(self) -> None:
        """scrapyd and its running jobs (one process group)."""
        if self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # jobs that outlived scrapyd (same group)
            os.killpg(self.proc.pid, signal.SIGKILL)


def _deploy(base: Path, nodes: list[Node]) -> None:
    """Build the egg from a copy of the project with scrapyd-deploy and upload it to every
    node: the repository's scrapy.cfg, with its [deploy] URL pointed at the first node and one
    more target per other node."""
    project = base / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("archive", "crawler", "search"):
        shutil.copytree(ROOT / name, project / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, project / name)
    cfg = (ROOT / "scrapy.cfg").read_text(encoding="utf-8")
    assert "url = http://localhost:6800/" in cfg and "project = hra" in cfg
    cfg = cfg.replace("url = http://localhost:6800/", f"url = {nodes[0].url}")
    for i, node in enumerate(nodes[1:], 2):
        cfg += f"\n[deploy:node{i}]\nurl = {node.url}\nproject = hra\n"
    (project / "scrapy.cfg").write_text(cfg, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([str(SCRAPYD_DEPLOY), "-a", "--version", "1"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for node in nodes:
        assert node.get("listspiders.json", project="hra")["spiders"] == ["gov", "site"], (
            node.job_logs())


# ---------------------------------------------------------------------------------------------
# The site and the sources


class Site:
    """Report sources on one local site: /<name>/index.html lists its reports."""

    def __init__(self, server: SiteServer) -> None:
        self.server = server
        self.reports: dict[str, list[str]] = {}

    def source(self, name: str, reports: int, *, delay: float = 0.0, column: bool = False) -> str:
        links = []
        for n in range(1, reports + 1):
            path = f"/{name}/{2023 - n % 3}/t{n}.html"
            city = f"{name}市"
            body = [p.format(year=2023, city=city) + f"（第{n}篇）" for p in PARAGRAPHS]
            self.server.page(path, report_page(f"{city}卫生健康委员会2023年工作总结（{n}）", body * 2),
                             delay=delay)
            links.append(f'<li><a href="{path}">{city}工作总结（{n}）</a></li>')
            self.reports.setdefault(name, []).append(self.server.url(path))
        meta = '<meta name="ColumnName" content="工作动态">' if column else ""
        self.server.page(f"/{name}/index.html",
                         f"<html><head>{meta}</head><body><ul>{''.join(links)}</ul></body></html>")
        return self.server.url(f"/{name}/index.html")


def _sources_toml(site: Site, names: list[str]) -> str:
    out = []
    for name in names:
        start = site.source(name, 3)
        out.append(f'[[source]]\nname = "{name}"\nspider = "site"\nstart_urls = ["{start}"]\n'
                   "depth = 1\nverified = true\n")
    return "\n".join(out)


def _names_for_two_shards() -> list[str]:
    """Source names with two in each of two shards."""
    names: list[str] = []
    for i in range(100):
        name = f"node-src-{i}"
        if sum(shard_of(n, 2) == shard_of(name, 2) for n in names) < 2:
            names.append(name)
        if len(names) == 4:
            return names
    raise AssertionError("no names")


def hra(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _archive_rows(data_dir: Path) -> tuple[list[tuple], list[tuple]]:
    db = sqlite3.connect(data_dir / "archive.sqlite3")
    try:
        pages = sorted(db.execute("SELECT doc_id, url, final_url, status, fetched_at, sha256,"
                                  " source FROM pages").fetchall())
        docs = sorted(db.execute("SELECT id, url, title, text, duplicate_of FROM documents"))
    finally:
        db.close()
    return pages, docs


# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Node]]:
    base = tmp_path_factory.mktemp("scrapyd")
    started: list[Node] = []
    try:
        for name in ("node1", "node2"):
            started.append(Node(base, name))
        for node in started:
            node.wait_ready()
        _deploy(base, started)
        yield started
    finally:
        for node in started:
            node.stop()


def test_two_nodes_write_warc_the_host_imports_in_any_order(nodes: list[Node],
                                                             tmp_path: Path) -> None:
    names = _names_for_two_shards()
    warc_dir = tmp_path / "nodes"
    with SiteServer() as server:
        site = Site(server)
        toml = _sources_toml(site, names)
        jobs: dict[int, list[str]] = {}
        for k, node in enumerate(nodes, 1):
            node.data_dir.mkdir(exist_ok=True)
            (node.data_dir / "sources.toml").write_text(toml, encoding="utf-8")
            share = json.loads(hra("--data-dir", str(node.data_dir), "sources", "--shard",
                                   f"{k}/2", "--json"))
            mine = [s["name"] for s in share if s["name"] in names]
            assert len(mine) == 2 and all(shard_of(n, 2) == k for n in mine)
            jobs[k] = [node.schedule("site", [f"HRA_DATA_DIR={node.data_dir}",
                                              f"HRA_WARC_DIR={warc_dir}"], source=name)
                       for name in mine]
        # The gov spider, on the archive's own machine: straight into the archive.
        column = site.source("gov-column", 2, column=True)
        local = tmp_path / "local-archive"
        gov_job = nodes[0].schedule("gov", [f"HRA_DATA_DIR={local}"], url=column)
        for k, node in enumerate(nodes, 1):
            node.wait_finished(jobs[k] + ([gov_job] if k == 1 else []))
    files = sorted(warc_dir.glob("*.warc.gz"))
    assert len(files) == 4, (files, nodes[0].job_logs(), nodes[1].job_logs())
    assert not list(warc_dir.glob(".*.part"))

    expected = {url for name in names for url in site.reports[name]}
    forward, backward = tmp_path / "host-a", tmp_path / "host-b"
    first = json.loads(hra("--data-dir", str(forward), "import", "--json", *map(str, files)))
    assert first["new"] == len(expected) == 12 and first["failed"] == 0, first
    hra("--data-dir", str(backward), "import", *map(str, reversed(files)))
    hra("--data-dir", str(backward), "import", str(files[2]), str(files[0]))  # again: no change
    a, b = _archive_rows(forward), _archive_rows(backward)
    assert a == b
    assert {row[2] for row in a[0]} == expected  # every report, from its node's WARC
    assert {row[6] for row in a[0]} == set(names)  # with its source (its selectors apply)
    with sqlite3.connect(local / "archive.sqlite3") as db:
        gov_urls = {r[0] for r in db.execute("SELECT final_url FROM pages")}
    assert gov_urls == set(site.reports["gov-column"])


def test_cancelled_job_resumes_from_its_jobdir(nodes: list[Node], tmp_path: Path) -> None:
    node = nodes[1]
    warc_dir = tmp_path / "nodes"
    with SiteServer() as server:
        site = Site(server)
        start = site.source("slow", 8, delay=0.4)
        settings = [f"HRA_DATA_DIR={tmp_path / 'node-data'}", f"HRA_WARC_DIR={warc_dir}",
                    "CONCURRENT_REQUESTS=1"]
        job = node.schedule("site", settings, jobid="slow-job", url=start)
        reports = [urllib.parse.urlsplit(u).path for u in site.reports["slow"]]
        end = time.monotonic() + 30
        while sum(server.hits[p] for p in reports) < 3 and time.monotonic() < end:
            time.sleep(0.1)
        assert node.post("cancel.json", [("project", "hra"), ("job", job)])
        node.wait_finished([job])
        first = list(warc_dir.glob("*.warc.gz"))
        assert len(first) == 1  # the cancelled job's file was closed and named
        done_before = sum(server.hits[p] > 0 for p in reports)
        assert 0 < done_before < 8, node.job_logs()
        node.schedule("site", settings, jobid="slow-job", url=start)
        node.wait_finished([job])
        hits = {p: server.hits[p] for p in reports}
        index_hits = server.hits["/slow/index.html"]
    assert all(n >= 1 for n in hits.values()), hits  # nothing lost
    assert sum(hits.values()) <= 8 + 1, hits  # only a page in flight at the cancel is refetched
    assert index_hits == 1  # the list page was done: not fetched again
    files = sorted(warc_dir.glob("*.warc.gz"))
    assert len(files) == 2
    summary = json.loads(hra("--data-dir", str(tmp_path / "host"), "import", "--json",
                             *map(str, files)))
    assert summary["new"] == 8 and summary["failed"] == 0, summary


def test_a_schedule_queues_each_source_on_its_node(nodes: list[Node], tmp_path: Path) -> None:
    from archive.schedule import ScheduleBook, Scheduler

    names = _names_for_two_shards()
    host, warc_dir = tmp_path / "host", tmp_path / "nodes"
    before = {node.url: len(node.get("listjobs.json", project="hra")["finished"])
              for node in nodes}
    with SiteServer() as server:
        site = Site(server)
        toml = _sources_toml(site, names)
        for node in [*nodes, None]:
            where = node.data_dir if node else host
            where.mkdir(exist_ok=True)
            (where / "sources.toml").write_text(toml, encoding="utf-8")
        fast = [arg for setting in FAST for arg in ("-s", setting)]
        hra("--data-dir", str(host), "schedule", "add", "nightly", "--cron", "0 2 * * *",
            *names, "--scrapyd", nodes[0].url, "--scrapyd", nodes[1].url,
            "-s", f"HRA_WARC_DIR={warc_dir}", *fast)
        out = io.StringIO()
        outcome = Scheduler(host, out=out).run_one(ScheduleBook(host).get("nightly"))
        assert outcome.exit_code == 0, out.getvalue()
        for k, node in enumerate(nodes, 1):
            queued = [line for line in out.getvalue().splitlines()
                      if f"queued on {node.url}" in line]
            assert len(queued) == 2, out.getvalue()
            assert all(any(n in line for n in names if shard_of(n, 2) == k) for line in queued)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            jobs = [node.get("listjobs.json", project="hra") for node in nodes]
            if all(not j["pending"] and not j["running"] for j in jobs):
                break
            time.sleep(0.2)
    for node, listing in zip(nodes, jobs, strict=True):
        assert len(listing["finished"]) == before[node.url] + 2
    files = sorted(warc_dir.glob("*.warc.gz"))
    assert len(files) == 4, (files, nodes[0].job_logs())
    summary = json.loads(hra("--data-dir", str(host), "import", "--json", *map(str, files)))
    assert summary["new"] == 12 and summary["failed"] == 0, summary
    runs = json.loads(hra("--data-dir", str(nodes[0].data_dir), "runs", "--json"))
    assert any(r.get("trigger") == "schedule:nightly" for r in runs), runs

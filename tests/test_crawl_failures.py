"""A crawl that could fetch nothing is a failed crawl: status `failed`, exit 1, one line saying
why (connection refused, DNS failure, a 404 start page, an invalid CSS selector in
sources.toml, a JavaScript challenge); a crawl in which some sources failed is `partial` and
names them; `hra runs` shows the sources a run crawled, `hra sources` each source's health,
and a schedule's --notify-cmd payload the true status.

Sites are local servers on 127.0.0.1 (tests/crawl_server.py); the DNS failure uses the
reserved `.invalid` top-level domain, which never resolves.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from archive.crawl_runs import CrawlPlan, run_crawl
from archive.store import Store
from crawler.sources import adhoc_source
from tests.conftest import ROOT
from tests.crawl_server import SiteServer, list_html, report_html

FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
        "-s", "HRA_RETRY_BACKOFF=0.05", "-s", "DNS_TIMEOUT=10", "-s", "DOWNLOAD_TIMEOUT=10"]


def hra(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archive", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                          env={**os.environ, "COLUMNS": "250"})


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def site_with_reports(site: SiteServer, n: int = 3) -> None:
    site.page("/index.html", list_html([(f"/r/{i}.html", f"第{i}号卫生健康工作情况汇报")
                                        for i in range(n)]))
    for i in range(n):
        site.page(f"/r/{i}.html", report_html(f"第{i}号卫生健康工作情况汇报", i))


# ---------------------------------------------------------------------------------------------


def test_unreachable_url_fails_with_one_line(tmp_path: Path) -> None:
    """`hra crawl --url http://127.0.0.1:1/`: nothing answers. Exit 1, one line on stderr
    naming the cause, nothing else; `hra runs --json` records the run as failed."""
    result = hra(tmp_path, "crawl", "--url", "http://127.0.0.1:1/", *FAST)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    line = one_line(result.stderr)
    assert line.startswith("error: crawl run 1 failed: ")
    assert "http://127.0.0.1:1/" in line and "connection refused" in line

    runs = hra(tmp_path, "runs", "--json")
    assert runs.returncode == 0, runs.stderr
    run = json.loads(runs.stdout)[0]
    assert (run["kind"], run["status"], run["pages"], run["failed"]) == ("crawl", "failed", 1, 1)
    [source] = run["sources"]
    assert source["status"] == "failed" and "connection refused" in source["error"]

    as_json = hra(tmp_path, "crawl", "--url", "http://127.0.0.1:1/", *FAST, "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["status"] == "failed"
    assert "connection refused" in one_line(as_json.stderr)


def test_some_sources_fail_each_is_named_and_their_health_shows(tmp_path: Path) -> None:
    """Four sources: one good, one whose start page is a 404, one with an invalid CSS
    selector, one whose host does not resolve. The crawl is `partial` (exit 0) and names each
    failed source with its cause; the summary's page count is the run's; `hra runs` and
    `hra sources` show which sources failed and why. Then the 404 source alone: `failed`."""
    with SiteServer() as site:
        site_with_reports(site)
        site.route("/gone/index.html", status=404, body=b"<html><body>404</body></html>")
        (tmp_path / "sources.toml").write_text(f"""
[[source]]
name = "good"
start_urls = ["{site.url('/index.html')}"]

[[source]]
name = "dead404"
start_urls = ["{site.url('/gone/index.html')}"]

[[source]]
name = "badcss"
start_urls = ["{site.url('/index.html')}"]
selectors = {{ links = "ul..list a" }}

[[source]]
name = "nodns"
start_urls = ["http://wjw.nonexistent.invalid/xxgk/index.html"]
""", encoding="utf-8")
        result = hra(tmp_path, "crawl", "good", "dead404", "badcss", "nodns", *FAST)
        alone = hra(tmp_path, "crawl", "dead404", *FAST)
        both = hra(tmp_path, "crawl", "badcss", "nodns", *FAST)
        hits = dict(site.hits)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Traceback" not in out + result.stderr
    summary = next(line for line in out.splitlines() if line.startswith("crawl run 1 "))
    assert "partial" in summary and "3 new" in summary
    assert "3 of 4 sources failed (1 ok)" in out
    failures = {m[0]: m[1] for m in re.findall(r"source (\S+) failed: (.*)", out)}
    assert set(failures) == {"dead404", "badcss", "nodns"}
    assert "gone/index.html" in failures["dead404"] and "HTTP 404" in failures["dead404"]
    assert "invalid CSS selector" in failures["badcss"] and "ul..list a" in failures["badcss"]
    assert "cannot resolve" in failures["nodns"] and "nonexistent.invalid" in failures["nodns"]
    assert hits["/index.html"] == 1  # badcss was never crawled with its broken selector

    run = next(r for r in json.loads(hra(tmp_path, "runs", "--json").stdout) if r["id"] == 1)
    assert run["status"] == "partial"
    # The summary's page count is the run's.
    assert f"{run['pages']} page(s)" in summary and run["new"] == 3
    assert {s["source"]: s["status"] for s in run["sources"]} == {
        "good": "ok", "dead404": "failed", "badcss": "failed", "nodns": "failed"}
    assert sum(s["pages"] for s in run["sources"]) == run["pages"]
    table = hra(tmp_path, "runs").stdout
    assert "partial" in table and "4 sources, 3 failed" in table

    assert alone.returncode == 1 and alone.stdout == ""
    assert "HTTP 404" in one_line(alone.stderr)
    assert both.returncode == 1 and both.stdout == ""
    line = one_line(both.stderr)
    assert "all 2 sources failed" in line and "badcss: invalid CSS selector" in line
    assert "nodns: http://wjw.nonexistent.invalid/" in line and "cannot resolve" in line

    health = {s["name"]: s["health"] for s in json.loads(hra(tmp_path, "sources", "--json").stdout)}
    assert health["good"]["status"] == "ok" and health["good"]["documents"] == 3
    assert health["good"]["last_success"] and health["good"]["last_error"] is None
    assert health["dead404"]["status"] == "failed" and health["dead404"]["runs"] == 2
    assert health["badcss"]["runs"] == 2
    assert health["dead404"]["last_success"] is None
    assert "HTTP 404" in health["dead404"]["last_error"]["message"]
    assert health["badcss"]["last_run"]["status"] == "failed"
    assert health["wtabcd"]["status"] == "never" and health["wtabcd"]["last_run"] is None
    failing = hra(tmp_path, "sources", "--failing")
    assert failing.returncode == 0
    assert "3 source(s) whose last crawl failed" in failing.stdout
    assert "HTTP 404" in failing.stdout and " good " not in failing.stdout
    assert "wtabcd" not in failing.stdout
    everything = hra(tmp_path, "sources").stdout
    assert "1 ok" in everything and "3 failed" in everything and "never" in everything


def test_notify_payload_carries_the_true_status(tmp_path: Path) -> None:
    """A scheduled crawl of a dead source: exit 1, and the --notify-cmd JSON says `failed`
    with the cause."""
    from archive.schedule import Schedule, Scheduler

    target = tmp_path / "notified.json"
    with SiteServer() as site:
        site.route("/gone/index.html", status=404, body=b"<html><body>404</body></html>")
        (tmp_path / "sources.toml").write_text(
            f'[[source]]\nname = "dead"\nstart_urls = ["{site.url("/gone/index.html")}"]\n',
            encoding="utf-8")
        schedule = Schedule("nightly", "0 3 * * *", sources=["dead"], crawl_options=FAST,
                            notify_cmd=f"cat > {target}")
        outcome = Scheduler(tmp_path, out=io.StringIO()).run_one(schedule)
    assert outcome.exit_code == 1
    payload = json.loads(target.read_text(encoding="utf-8"))
    assert payload["exit_code"] == 1 and payload["run"]["status"] == "failed"
    assert payload["run"]["trigger"] == "schedule:nightly"
    [source] = payload["run"]["sources"]
    assert source["source"] == "dead" and "HTTP 404" in source["error"]


def _hold_job(job: Path) -> Any:
    """Hold a source's job lock as another crawl process would."""
    job.mkdir(parents=True, exist_ok=True)
    handle = (job / "lock").open("a+")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.write(json.dumps({"pid": 4242}))
    handle.flush()
    return handle


def test_a_crawl_waits_a_bounded_time_for_a_job_still_held(tmp_path: Path) -> None:
    """The job of a source is still held (an old crawl process on its way out): the new crawl
    says it waits, and goes on once it is free; if it stays held, the source fails with one
    line naming the holder, after the bounded wait."""
    settings = {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "HRA_JOB_WAIT": 30}
    with SiteServer() as site:
        site_with_reports(site, 2)
        source = adhoc_source([site.url("/index.html")])
        job = tmp_path / "jobs" / source.name
        handle = _hold_job(job)
        events: list[dict[str, Any]] = []
        waiting_since: list[float] = []

        def on_event(event: dict[str, Any]) -> None:
            events.append(event)
            if event["e"] == "warn" and not waiting_since:
                # The new crawl said it waits: the old process exits two seconds later (a timer
                # started at once could fire before a loaded machine has started the crawl).
                waiting_since.append(time.monotonic())
                threading.Timer(2.0, handle.close).start()

        waited = run_crawl(tmp_path, CrawlPlan([source], settings=settings), on_event=on_event)
        assert waited.status == "ok" and waited.tally.counts.new == 2
        assert waiting_since and time.monotonic() - waiting_since[0] >= 2.0
        notes = [e["message"] for e in events if e["e"] == "warn"]
        assert len(notes) == 1 and "waiting for pid 4242" in notes[0]

        handle = _hold_job(job)
        try:
            stuck = run_crawl(tmp_path, CrawlPlan([source], settings={**settings,
                                                                      "HRA_JOB_WAIT": 1}))
        finally:
            handle.close()
    assert stuck.status == "failed" and stuck.error
    assert "another crawl of this source is running (pid 4242)" in stuck.error
    assert "\n" not in stuck.error


def test_runs_of_a_dead_process_are_closed_and_health_is_derived(tmp_path: Path) -> None:
    """A run whose process died is marked interrupted (ended at its last sign of life), with
    its unfinished sources; counts written by the crawl stay; health skips sources that an
    interrupted run never reached."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with Store(tmp_path) as store:
        run = store.start_run("crawl", "a b", sources=["a", "b"])
        store.set_run_source(run, "a", "running")
        store.count_run(run, _counts(pages=3, new=2, skipped=1), "a")
        store.db.execute("UPDATE runs SET pid = ?, heartbeat = '2026-01-02T03:04:05+00:00'"
                         " WHERE id = ?", (dead.pid, run))
        later = store.start_run("crawl", "a", sources=["a"])  # closes the dead one
        store.set_run_source(later, "a", "running")
        store.set_run_source(later, "a", "failed", "http://x/: HTTP 404")
        store.finish_run(later, None, "failed")
        runs = {r["id"]: r for r in store.runs(5)}
        health = store.source_health()
    old = runs[run]
    assert old["status"] == "interrupted" and old["ended_at"] == "2026-01-02T03:04:05+00:00"
    assert (old["pages"], old["new"], old["skipped"]) == (3, 2, 1)
    assert {s["source"]: s["status"] for s in old["sources"]} == {"a": "interrupted",
                                                                 "b": "interrupted"}
    assert runs[later]["status"] == "failed"
    assert health["a"]["runs"] == 2 and health["a"]["documents"] == 2
    assert health["a"]["last_run"]["status"] == "failed" and health["a"]["last_success"] is None
    assert health["a"]["last_error"]["message"] == "http://x/: HTTP 404"
    assert "b" not in health  # planned, never started


def _counts(**values: int) -> Any:
    from archive.store import RunCounts

    return RunCounts(**values)

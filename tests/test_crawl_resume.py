"""`kill -9` of the `hra crawl` process only (the OOM killer, `kill -9 PID`), then the same
command at once: the crawl child dies with its parent, the rerun resumes the job and finishes,
every stored page is counted in some run, and `hra check` passes.

A local site on 127.0.0.1 (tests/crawl_server.py) serves 150 report pages; the parent is killed
when the server has been asked for 40 of them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.store import Store
from tests.conftest import ROOT
from tests.crawl_server import SiteServer, list_html, report_html

N = 150
KILL_AT = 40


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _served(site: SiteServer) -> int:
    return sum(n for path, n in list(site.hits.items()) if path.startswith("/p/"))


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_kill_9_of_the_parent_only_then_rerun_at_once(tmp_path: Path) -> None:
    with SiteServer() as site:
        per_list = 50
        for page in range(N // per_list):
            items = [(f"/p/{i}.html", f"第{i}号卫生健康工作情况汇报")
                     for i in range(page * per_list, (page + 1) * per_list)]
            nxt = f'<a href="index_{page + 1}.html">下一页</a>' if page + 1 < N // per_list else ""
            site.page("/index.html" if page == 0 else f"/index_{page}.html",
                      list_html(items, pager=nxt))
        # The pages in flight when the parent dies are slow: a child left running would go on
        # for seconds (and hold the job); one that dies with its parent is gone at once.
        routes = [site.page(f"/p/{i}.html", report_html(f"第{i}号卫生健康工作情况汇报", i),
                            delay=0.03 if i < KILL_AT - 2 else 8.0) for i in range(N)]
        cmd = [sys.executable, "-m", "archive", "--data-dir", str(tmp_path), "crawl", "--url",
               site.url("/index.html"), "--depth", "1", "-s", "AUTOTHROTTLE_ENABLED=False",
               "-s", "DOWNLOAD_DELAY=0", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        parent = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  cwd=ROOT, env=env, start_new_session=True)
        child: list[int] = []
        try:
            deadline = time.monotonic() + 60
            while _served(site) < KILL_AT and time.monotonic() < deadline:
                child = child or _children(parent.pid)
                time.sleep(0.01)
            assert _served(site) >= KILL_AT, "the crawl did not get going"
            child = child or _children(parent.pid)
            os.kill(parent.pid, signal.SIGKILL)  # the parent only
            parent.wait(timeout=10)
        finally:
            if parent.poll() is None:
                parent.kill()
                parent.wait()
        assert child, "the crawl child process was not found"
        deadline = time.monotonic() + 3
        while any(_alive(pid) for pid in child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in child if _alive(pid)], "the crawl child outlived its parent"
        served_at_kill = _served(site)
        assert served_at_kill < N, "the crawl must be killed in the middle"
        for route in routes:
            route.delay = 0.03

        again = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env,
                               timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "JobBusy" not in again.stdout + again.stderr
        assert "Traceback" not in again.stdout + again.stderr
        check = subprocess.run([sys.executable, "-m", "archive", "--data-dir", str(tmp_path),
                                "check"], capture_output=True, text=True, cwd=ROOT, timeout=120)
        hits = [site.hits[f"/p/{i}.html"] for i in range(N)]
    assert check.returncode == 0, check.stdout + check.stderr
    with Store(tmp_path) as store:
        assert store.count_documents() == N  # 150 reports archived...
        versions, docs = store.db.execute(
            "SELECT count(*), count(DISTINCT doc_id) FROM pages").fetchone()
        assert versions == docs == N  # ...once each
        runs = [r for r in store.runs(10) if r["kind"] == "crawl"]
    assert [r["status"] for r in runs] == ["ok", "interrupted"]
    killed, rerun = runs[1], runs[0]
    assert killed["ended_at"] is not None
    # Every stored page is counted in some run, and in one run only.
    assert killed["new"] + rerun["new"] == N
    assert killed["new"] >= 1 and rerun["new"] >= 1
    # Pages fetched but not stored when the parent died are fetched again, each once.
    assert min(hits) == 1 and max(hits) <= 2

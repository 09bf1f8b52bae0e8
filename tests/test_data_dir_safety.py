"""The data dir is not a way to write elsewhere: lock, log and job files are never opened through
a symbolic link planted there (refused with one line); one scheduler per data dir; Whoosh's
write lock is created 0644.

Crawls here never fetch anything: they are refused before a request is made (the URL is a
closed port on 127.0.0.1).
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.crawl_runs import CrawlPlan, run_crawl
from archive.errors import HraError
from archive.locks import SchedulerLock, SourceLock, UnsafePath, read_holder, safe_dirs
from archive.schedule import Schedule, ScheduleBook, ScheduleError, Scheduler
from archive.store import Store
from crawler.sources import adhoc_source
from tests.conftest import ROOT
from tests.crawl_server import report_html

URL = "http://127.0.0.1:9/"  # never fetched: every crawl here is refused before it starts
SOURCE = adhoc_source([URL])


def hra(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archive", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                          env={**os.environ, "COLUMNS": "250"})


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def precious(tmp_path: Path) -> Path:
    """A file outside the data dir that a planted link points at."""
    path = tmp_path / "precious.txt"
    path.write_text("keep me\n")
    return path


def _plant(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


# ---------------------------------------------------------------------------------------------
# locks/<source>.lock


def test_a_lock_file_that_is_a_link_is_refused_not_truncated(tmp_path: Path,
                                                             precious: Path) -> None:
    data = tmp_path / "data"
    lock = SourceLock(data, SOURCE.name)
    _plant(lock.path, precious)
    with pytest.raises(UnsafePath, match="is a symbolic link"):
        lock.acquire()
    result = hra(data, "crawl", "--url", URL)
    line = one_error_line(result)
    assert "refusing to use" in line and f"{SOURCE.name}.lock" in line
    assert precious.read_text() == "keep me\n"


def test_a_locks_directory_that_is_a_link_is_refused(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    elsewhere.mkdir()
    _plant(data / "locks", elsewhere)
    with pytest.raises(UnsafePath):
        SourceLock(data, SOURCE.name).acquire()
    with pytest.raises(UnsafePath):
        SchedulerLock(data).acquire()
    assert list(elsewhere.iterdir()) == []


def test_holders_are_not_read_through_links(tmp_path: Path, precious: Path) -> None:
    link = tmp_path / "x.lock"
    link.symlink_to(precious)
    assert read_holder(link) is None


def test_the_data_dir_itself_may_be_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "data").symlink_to(real)
    lock = SourceLock(tmp_path / "data", SOURCE.name).acquire()
    lock.release()
    assert (real / "locks" / f"{SOURCE.name}.lock").is_file()
    assert safe_dirs(tmp_path / "data" / "logs", tmp_path / "data").is_dir()


# ---------------------------------------------------------------------------------------------
# logs/crawl-N.log, logs/schedule.log


def test_a_crawl_log_that_is_a_link_is_refused_and_the_run_failed(tmp_path: Path,
                                                                  precious: Path) -> None:
    data = tmp_path / "data"
    with Store(data) as store:
        next_run = store.start_run("import") + 1  # the crawl's run id
        store.finish_run(next_run - 1, None, "ok")
    _plant(data / "logs" / f"crawl-{next_run}.log", precious)
    with pytest.raises(HraError, match=r"refusing to use .*crawl-.*symbolic link"):
        run_crawl(data, CrawlPlan([SOURCE]))
    assert precious.read_text() == "keep me\n"
    with Store(data) as store:
        run = store.runs(1)[0]
        assert run["id"] == next_run and run["status"] == "failed"
        assert [r["status"] for r in store.run_sources(next_run)] == ["failed"]
    # The source's lock was let go: the same crawl, once the link is gone, starts.
    assert SourceLock(data, SOURCE.name).acquire() is not None


def test_a_logs_directory_that_is_a_link_is_refused(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    elsewhere.mkdir()
    _plant(data / "logs", elsewhere)
    line = one_error_line(hra(data, "crawl", "--url", URL))
    assert "refusing to use" in line and "logs" in line
    assert list(elsewhere.iterdir()) == []


def test_a_schedule_log_that_is_a_link_is_refused(tmp_path: Path, precious: Path) -> None:
    data = tmp_path / "data"
    ScheduleBook(data).add(Schedule("yearly", "0 0 1 1 *", [SOURCE.name]))
    _plant(data / "logs" / "schedule.log", precious)
    with pytest.raises(UnsafePath):
        Scheduler(data)
    line = one_error_line(hra(data, "schedule", "run", "--once"))
    assert "refusing to use" in line and "schedule.log" in line
    assert precious.read_text() == "keep me\n"


# ---------------------------------------------------------------------------------------------
# jobs/<source>


def test_a_job_directory_that_is_a_link_fails_the_source(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    elsewhere.mkdir()
    _plant(data / "jobs" / SOURCE.name, elsewhere)
    result = hra(data, "crawl", "--url", URL)
    line = one_error_line(result)
    assert "failed: refusing to use" in line and f"jobs/{SOURCE.name}" in line
    assert list(elsewhere.iterdir()) == []  # no job file written there


def test_a_job_file_that_is_a_link_fails_the_source(tmp_path: Path, precious: Path) -> None:
    data = tmp_path / "data"
    job = data / "jobs" / SOURCE.name
    _plant(job / "frontier.sqlite3", precious)
    result = run_crawl(data, CrawlPlan([SOURCE]))
    assert result.status == "failed"
    assert result.error is not None and "frontier.sqlite3: it is a symbolic link" in result.error
    assert precious.read_text() == "keep me\n"
    job.joinpath("frontier.sqlite3").unlink()
    job.joinpath("lock").unlink()  # the job lock of the refused attempt (a plain file)
    _plant(job / "lock", precious)
    result = run_crawl(data, CrawlPlan([SOURCE]))
    assert result.status == "failed" and "lock: it is a symbolic link" in (result.error or "")
    assert precious.read_text() == "keep me\n"


# ---------------------------------------------------------------------------------------------
# one scheduler per data dir


def test_one_scheduler_per_data_dir(tmp_path: Path) -> None:
    """Two `hra schedule run` on one data dir: the second says who runs (pid) and exits 1."""
    data = tmp_path / "data"
    ScheduleBook(data).add(Schedule("yearly", "0 0 1 1 *", [SOURCE.name]))  # not due now
    first = subprocess.Popen(
        [sys.executable, "-m", "archive", "--data-dir", str(data), "schedule", "run",
         "--poll", "0.5"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        lock = SchedulerLock(data).path
        deadline = time.monotonic() + 60
        while (read_holder(lock) or {}).get("pid") != first.pid:
            assert first.poll() is None, first.communicate()[0]
            assert time.monotonic() < deadline, "the first scheduler did not start"
            time.sleep(0.1)
        second = hra(data, "schedule", "run", "--once")
        line = one_error_line(second)
        assert f"pid {first.pid}" in line and "another scheduler is running" in line
        assert "schedule run" in line  # the holder's command
        with pytest.raises(ScheduleError, match=f"pid {first.pid}"):
            Scheduler(data, launch=lambda s: 0).run_forever(once=True)
    finally:
        first.send_signal(signal.SIGTERM)
        out, _ = first.communicate(timeout=60)
    assert first.returncode == 0, out
    assert "scheduler stopped" in out
    log = (data / "logs" / "schedule.log").read_text()
    assert log.count("scheduler started") == 1  # the second one never started
    # Once the first one is gone, a scheduler starts.
    assert hra(data, "schedule", "run", "--once").returncode == 0


# ---------------------------------------------------------------------------------------------
# Whoosh's write lock


def test_the_index_write_lock_is_not_executable(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(report_html("2023年卫生健康工作总结", 1), encoding="utf-8")
    data = tmp_path / "data"
    assert hra(data, "import", str(page)).returncode == 0  # indexes it (one writer)
    locks = list((data / "index").rglob("MAIN_WRITELOCK"))
    assert locks
    for lock in locks:
        assert stat.S_IMODE(lock.stat().st_mode) == 0o644 & ~_umask(), lock


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

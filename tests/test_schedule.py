"""Schedules and the scheduler with an injected clock; locks; cron and systemd output."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from archive.locks import LockBusy, SourceLock
from archive.schedule import (
    Schedule,
    ScheduleBook,
    ScheduleError,
    Scheduler,
    crontab_line,
    on_calendar,
    systemd_units,
    validate_cron,
)

TZ = timezone(timedelta(hours=8))


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def book_with(data_dir: Path, *schedules: Schedule) -> ScheduleBook:
    book = ScheduleBook(data_dir)
    for s in schedules:
        book.add(s)
    return book


def test_cron_is_validated_by_croniter() -> None:
    assert validate_cron("0 3 * * *") == "0 3 * * *"
    assert validate_cron("@daily") == "0 0 * * *"
    for bad in ("61 3 * * *", "0 3 * *", "every day", "0 3 * * 9", ""):
        with pytest.raises(ScheduleError):
            validate_cron(bad)


def test_add_list_remove(data_dir: Path) -> None:
    book = book_with(data_dir, Schedule("nightly", "0 3 * * *", all_sources=True))
    with pytest.raises(ScheduleError, match="exists"):
        book.add(Schedule("nightly", "0 4 * * *", all_sources=True))
    with pytest.raises(ScheduleError, match="sources"):
        book.add(Schedule("empty", "0 4 * * *"))
    with pytest.raises(ScheduleError, match="name"):
        book.add(Schedule("../x", "0 4 * * *", all_sources=True))
    assert [s.name for s in book.all()] == ["nightly"]
    book.remove("nightly")
    assert book.all() == []
    with pytest.raises(ScheduleError, match="no schedule"):
        book.remove("nightly")


def test_due_times_and_missed_runs_collapse_into_one(data_dir: Path) -> None:
    clock = Clock(datetime(2026, 11, 23, 2, 0, tzinfo=TZ))
    s = Schedule("nightly", "0 3 * * *", all_sources=True,
                 created_at=datetime(2026, 11, 20, 12, 0, tzinfo=TZ).isoformat())
    launched: list[str] = []
    sched = Scheduler(data_dir, clock=clock, sleep=clock.sleep, out=io.StringIO(),
                      launch=lambda sch: launched.append(sch.name) or 0)
    book_with(data_dir, s)
    # Three 03:00 runs were missed since 11-20 12:00: it runs once, at start.
    assert [x.name for x in sched.due()] == ["nightly"]
    sched.tick()
    assert launched == ["nightly"]
    assert sched.due() == []  # not again until the next 03:00
    clock.now = datetime(2026, 11, 23, 2, 59, tzinfo=TZ)
    assert sched.due() == []
    clock.now = datetime(2026, 11, 23, 3, 0, tzinfo=TZ)
    sched.tick()
    assert launched == ["nightly", "nightly"]


def test_loop_runs_each_time_and_survives_a_failing_crawl(data_dir: Path) -> None:
    clock = Clock(datetime(2026, 11, 23, 0, 0, 30, tzinfo=TZ))
    book_with(data_dir,
              Schedule("every-minute", "* * * * *", sources=["a"],
                       created_at=clock.now.isoformat()),
              Schedule("hourly", "0 * * * *", sources=["b"], created_at=clock.now.isoformat()))
    calls: list[tuple[str, datetime]] = []

    def launch(s: Schedule) -> int:
        calls.append((s.name, clock.now))
        if len(calls) == 2:
            raise OSError("crawl could not start")
        return 1 if s.name == "hourly" else 0

    out = io.StringIO()
    sched = Scheduler(data_dir, clock=clock, sleep=clock.sleep, out=out, launch=launch, poll=30)
    for _ in range(200):
        sched.tick()
        clock.sleep(sched._seconds_to_next())
        if clock.now >= datetime(2026, 11, 23, 1, 0, 30, tzinfo=TZ):
            break
    minutes = [t for n, t in calls if n == "every-minute"]
    # 00:01 to 01:00, each minute exactly once
    assert len(minutes) == 60 and len({(t.hour, t.minute) for t in minutes}) == 60
    assert [t.minute for n, t in calls if n == "hourly"] == [0]
    log = out.getvalue()
    assert "could not start the crawl" in log and "crawl failed (exit 1)" in log
    assert (data_dir / "logs" / "schedule.log").read_text(encoding="utf-8").count("\n") >= 60


def test_notify_command_gets_the_summary_as_json(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "notified.json"
    clock = Clock(datetime(2026, 11, 23, 3, 0, tzinfo=TZ))
    book_with(data_dir, Schedule("n", "0 3 * * *", sources=["a"],
                                 notify_cmd=f"cat > {target}",
                                 created_at=(clock.now - timedelta(days=1)).isoformat()))
    Scheduler(data_dir, clock=clock, sleep=clock.sleep, out=io.StringIO(),
              launch=lambda s: 0).tick()
    payload = json.loads(target.read_text(encoding="utf-8"))
    assert payload["schedule"] == "n" and payload["exit_code"] == 0 and payload["sources"] == ["a"]


def test_crontab_and_systemd_output(data_dir: Path) -> None:
    s = Schedule("weekly", "30 2 * * 1-5", sources=["wjw-a", "wjw-b"])
    line = crontab_line(s, data_dir)
    assert line.startswith("30 2 * * 1-5 ") and "crawl wjw-a wjw-b --trigger cron:weekly" in line
    units = systemd_units(s, data_dir)
    assert "OnCalendar=Mon..Fri *-*-* 02:30:00" in units and "Persistent=true" in units
    assert on_calendar("*/15 * * * *") == "*-*-* *:00/15:00"
    assert on_calendar("0 3 1 * *") == "*-*-01 03:00:00"
    assert "no OnCalendar equivalent" in systemd_units(Schedule("x", "0 3 1 * 1", ["a"]), data_dir)


HOLD = """
import sys, time
from pathlib import Path
from archive.locks import SourceLock
lock = SourceLock(Path(sys.argv[1]), "wjw-a").acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_lock_per_source_busy_wait_and_stale(data_dir: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(data_dir)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockBusy, match=f"pid {proc.pid}"):
            SourceLock(data_dir, "wjw-a").acquire()
        start = time.monotonic()
        with pytest.raises(LockBusy):
            SourceLock(data_dir, "wjw-a").acquire(wait=0.5)
        assert time.monotonic() - start >= 0.5
        with SourceLock(data_dir, "wjw-b"):
            pass  # another source is free
    finally:
        proc.kill()
        proc.wait()
    lock = SourceLock(data_dir, "wjw-a").acquire()  # the killed holder's lock is cleared
    assert lock.stale is not None and lock.stale["pid"] == proc.pid
    assert lock.holder()["pid"] == os.getpid()
    lock.release()

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
    # More in test_schedule_calendar.py.


def test_add_refuses_a_schedule_that_never_runs_and_reboot(data_dir: Path) -> None:
    book = ScheduleBook(data_dir)
    with pytest.raises(ScheduleError, match="never runs"):
        book.add(Schedule("feb31", "0 0 31 2 *", all_sources=True))
    with pytest.raises(ScheduleError, match="@reboot is not supported"):
        book.add(Schedule("boot", "@reboot", all_sources=True))
    assert not book.path.exists()


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
    assert "notify" not in line
    units = systemd_units(s, data_dir)
    assert "OnCalendar=Mon..Fri *-*-* 02:30:00" in units and "Persistent=true" in units
    assert "ExecStopPost" not in units
    assert on_calendar("*/15 * * * *") == ["*-*-* *:00/15:00"]
    assert on_calendar("0 3 1 * *") == ["*-*-01 03:00:00"]
    both = systemd_units(Schedule("x", "0 3 1 * 1", ["a"]), data_dir)
    assert "OnCalendar=*-*-01 03:00:00\nOnCalendar=Mon *-*-* 03:00:00\n" in both
    assert on_calendar("0 3 * * mon,wed") == ["Mon,Wed *-*-* 03:00:00"]  # was an empty line


def test_cron_and_systemd_keep_the_notify_command(data_dir: Path, tmp_path: Path) -> None:
    """The printed line and units run `hra schedule notify`, which runs --notify-cmd with the
    summary of the crawl's run, as the scheduler does."""
    target = tmp_path / "notified.json"
    s = Schedule("n", "0 3 * * *", ["a"], notify_cmd=f"cat > {target}")
    book_with(data_dir, s)
    line = crontab_line(s, data_dir)
    crawl, notify = line.split("; ")
    assert "crawl a --trigger cron:n >> " in crawl
    assert "schedule notify n --trigger cron:n --exit-code $? >> " in notify
    units = systemd_units(s, data_dir)
    assert "ExecStopPost=" in units and "schedule notify n --trigger systemd:n" in units
    # What cron runs after a crawl that exited 3 (no archive yet: no run summary).
    command = notify.split(" >> ")[0].replace("$?", "3")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    result = subprocess.run(command, shell=True, capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    payload = json.loads(target.read_text(encoding="utf-8"))
    assert payload["schedule"] == "n" and payload["exit_code"] == 3 and payload["run"] is None
    # systemd's ExecStopPost= gives the exit status in $EXIT_STATUS.
    command = units.split("ExecStopPost=")[1].splitlines()[0]
    result = subprocess.run(command, shell=True, capture_output=True, text=True,
                            env={**env, "EXIT_STATUS": "0"}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(target.read_text(encoding="utf-8"))["exit_code"] == 0


def test_percent_signs_are_escaped_for_cron_and_systemd(tmp_path: Path) -> None:
    data = tmp_path / "100%"
    s = Schedule("p", "0 3 * * *", ["a"], crawl_options=["-s", "X=%d"])
    line = crontab_line(s, data)
    assert "%" not in line.replace("\\%", "")
    start = systemd_units(s, data).split("ExecStart=")[1].splitlines()[0]
    assert "100%%" in start and "X=%%d" in start


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


# ---------------------------------------------------------------------------------------------
# A damaged schedules.json: one line per problem, naming the file and the entry; the good
# entries still load and run.

GOOD = {"name": "good", "cron": "0 3 * * *", "sources": ["a"], "all_sources": False,
        "notify_cmd": None, "created_at": "2026-11-20T12:00:00+08:00", "crawl_options": []}
BAD_ENTRIES: list[tuple[object, str]] = [
    (3, "entry 2: is a JSON number, not an object"),
    (["x"], "entry 3: is a JSON list, not an object"),
    ({"name": "m"}, "entry 4 ('m'): missing cron, created_at"),
    (GOOD | {"name": "t", "cron": 5}, "entry 5 ('t'): cron must be a JSON string, not a number"),
    (GOOD | {"name": "s", "sources": [1]}, "entry 6 ('s'): sources must be a list of strings"),
    (GOOD | {"name": "b", "all_sources": "yes"}, "entry 7 ('b'): all_sources must be a JSON "
                                                  "boolean, not a string"),
    (GOOD | {"name": "c", "cron": "61 * * * *"}, "entry 8 ('c'): invalid cron expression"),
    (GOOD | {"name": "f", "cron": "0 0 31 2 *"}, "entry 9 ('f'): cron expression '0 0 31 2 *' "
                                                  "never runs"),
    (GOOD | {"name": "r", "cron": "@reboot"}, "entry 10 ('r'): @reboot is not supported"),
    (GOOD | {"name": "d", "created_at": "yesterday"}, "entry 11 ('d'): created_at 'yesterday'"),
    (GOOD | {"name": "u", "crom": "0 3 * * *"}, "entry 12 ('u'): unknown field(s) crom"),
    (GOOD | {"name": "../x"}, "entry 13 ('../x'): name '../x'"),
    (GOOD | {"name": "e", "sources": []}, "entry 14 ('e'): no sources"),
    (GOOD | {"name": "a", "all_sources": True}, "entry 15 ('a'): has both sources and all"),
    (GOOD, "entry 16 ('good'): a schedule of that name comes earlier"),
]


def write_schedules(data_dir: Path, data: object) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "schedules.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_each_bad_entry_is_one_line_and_the_good_one_loads(data_dir: Path) -> None:
    path = write_schedules(data_dir, [GOOD] + [entry for entry, _ in BAD_ENTRIES])
    good, problems = ScheduleBook(data_dir).load()
    assert [s.name for s in good] == ["good"]
    assert len(problems) == len(BAD_ENTRIES)
    for problem, (_, expected) in zip(problems, BAD_ENTRIES, strict=True):
        assert problem.startswith(f"{path}: {expected}"), problem
        assert problem.endswith("; skipped") and "\n" not in problem


@pytest.mark.parametrize(("content", "expected"), [
    ('[{"name": "x", ', "not valid JSON"),
    ("", "not valid JSON"),
    ('{"nightly": {"cron": "0 3 * * *"}}', "must be a JSON list of schedules, not a JSON object"),
    ('"0 3 * * *"', "must be a JSON list of schedules, not a JSON string"),
    (b"\xff\xfe[]", "cannot read"),
])
def test_a_damaged_file_is_one_line(data_dir: Path, content: str | bytes, expected: str) -> None:
    data_dir.mkdir(parents=True)
    path = data_dir / "schedules.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    book = ScheduleBook(data_dir)
    good, problems = book.load()
    assert good == [] and len(problems) == 1
    assert problems[0].startswith(f"{path}: {expected}") and "\n" not in problems[0]
    # Changing it would lose what is in it: refused, the file is left as it was.
    before = path.read_bytes()
    with pytest.raises(ScheduleError, match="fix it or move it away"):
        book.add(Schedule("new", "0 3 * * *", all_sources=True))
    with pytest.raises(ScheduleError, match="fix it or move it away"):
        book.remove("x")
    assert path.read_bytes() == before


def test_add_and_remove_keep_bad_entries_and_remove_drops_a_bad_one(data_dir: Path) -> None:
    bad = {"name": "broken", "cron": "0 0 31 2 *"}
    path = write_schedules(data_dir, [GOOD, bad, 7])
    book = ScheduleBook(data_dir)
    with pytest.raises(ScheduleError, match="exists"):
        book.add(Schedule("broken", "0 4 * * *", all_sources=True))
    book.add(Schedule("new", "0 4 * * *", all_sources=True))
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored[:3] == [GOOD, bad, 7] and stored[3]["name"] == "new"
    assert "origin" not in stored[3]
    book.remove("broken")
    assert json.loads(path.read_text(encoding="utf-8"))[:2] == [GOOD, 7]
    book.add(Schedule("good", "0 5 * * *", all_sources=True), replace=True)
    assert [s.cron for s in book.all() if s.name == "good"] == ["0 5 * * *"]


def test_scheduler_runs_the_good_schedules_and_warns_once(data_dir: Path) -> None:
    clock = Clock(datetime(2026, 11, 23, 3, 0, tzinfo=TZ))
    write_schedules(data_dir, [GOOD, GOOD | {"name": "broken", "cron": "0 0 31 2 *"}, "junk"])
    launched: list[str] = []
    out = io.StringIO()
    sched = Scheduler(data_dir, clock=clock, sleep=clock.sleep, out=out,
                      launch=lambda s: launched.append(s.name) or 0)
    sched.tick()
    clock.now += timedelta(days=1)
    sched.tick()
    assert launched == ["good", "good"]
    log = out.getvalue()
    assert log.count("warning: ") == 2
    assert log.count("entry 2 ('broken'): cron expression '0 0 31 2 *' never runs") == 1
    assert log.count("entry 3: is a JSON string, not an object") == 1
    # The file breaks while the scheduler runs: it warns and goes on.
    write_schedules(data_dir, "{")
    clock.now += timedelta(days=1)
    assert sched.tick() == [] and "not valid JSON" in out.getvalue()
    assert sched._seconds_to_next() == sched.poll


def test_a_damaged_state_file_is_reported_and_rewritten(data_dir: Path) -> None:
    clock = Clock(datetime(2026, 11, 23, 3, 0, tzinfo=TZ))
    book = book_with(data_dir, Schedule("n", "0 3 * * *", ["a"],
                                        created_at=(clock.now - timedelta(hours=1)).isoformat()))
    state = data_dir / "schedule-state.json"
    for content in ("[1, 2]", "{oops", '{"n": "not a date"}'):
        state.write_text(content, encoding="utf-8")
        items, problems = book.everything()
        assert [s.name for s in items] == ["n"]
        if content != '{"n": "not a date"}':
            assert len(problems) == 1 and problems[0].startswith(f"{state}: ")
        # Counts from when it was added: 03:00 today is due.
        assert book.next_due(items[0], clock.now) == clock.now
    sched = Scheduler(data_dir, clock=clock, sleep=clock.sleep, out=io.StringIO(),
                      launch=lambda s: 0)
    assert [o.schedule for o in sched.tick()] == ["n"]
    assert json.loads(state.read_text(encoding="utf-8")) == {"n": clock.now.isoformat()}


# ---------------------------------------------------------------------------------------------
# Sources with their own `schedule` in <data dir>/sources.toml


def user_sources(data_dir: Path, text: str, mtime: datetime | None = None) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "sources.toml"
    path.write_text(text, encoding="utf-8")
    if mtime:
        os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


SOURCES = """
[[source]]
name = "mine"
start_urls = ["http://127.0.0.1:9/mine/"]
schedule = "15 4 * * 1-5"

[[source]]
name = "plain"
start_urls = ["http://127.0.0.1:9/plain/"]

[[source]]
name = "never"
start_urls = ["http://127.0.0.1:9/never/"]
schedule = "0 0 30 2 *"

[[source]]
name = "hc-zjwjw"
start_urls = ["http://127.0.0.1:9/zj/"]
schedule = "0 6 * * *"
"""


def test_shipped_schedules_are_not_run_by_themselves(data_dir: Path) -> None:
    import tomllib

    from crawler.sources import SHIPPED

    shipped = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))["source"]
    assert len(shipped) > 100 and all("schedule" in s for s in shipped)
    assert all(s.get("verified") is False for s in shipped)
    assert ScheduleBook(data_dir).everything() == ([], [])


def test_user_sources_with_a_schedule_are_schedules(data_dir: Path) -> None:
    path = user_sources(data_dir, SOURCES, mtime=datetime(2026, 11, 20, 12, 0, tzinfo=TZ))
    book = book_with(data_dir, Schedule("nightly", "0 3 * * *", all_sources=True))
    items, problems = book.everything()
    # "plain" has no schedule of its own; the user's hc-zjwjw replaces the shipped one and
    # brings its own schedule.
    assert [(s.name, s.cron, s.sources, s.origin) for s in items] == [
        ("nightly", "0 3 * * *", [], "schedules.json"),
        ("source:mine", "15 4 * * 1-5", ["mine"], "sources.toml"),
        ("source:hc-zjwjw", "0 6 * * *", ["hc-zjwjw"], "sources.toml")]
    assert problems == [f"{path}: source 'never': schedule: cron expression '0 0 30 2 *' never "
                        f"runs: no date matches it in 50 years (like 30 February); skipped"]
    mine = items[1]
    assert datetime.fromisoformat(mine.created_at) == datetime(2026, 11, 20, 12, 0, tzinfo=TZ)
    assert book.get("source:mine").sources == ["mine"]
    assert "crawl mine --trigger cron:source:mine >> " in crontab_line(mine, data_dir)
    assert "cron-source-mine.log" in crontab_line(mine, data_dir)
    units = systemd_units(mine, data_dir)
    assert "user/hra-source-mine.timer" in units and "--trigger systemd:source:mine" in units
    assert "OnCalendar=Mon..Fri *-*-* 04:15:00" in units
    with pytest.raises(ScheduleError, match="schedule` line of source 'mine'"):
        book.remove("source:mine")
    with pytest.raises(ScheduleError, match="kept for the sources' own schedules"):
        book.add(Schedule("source-mine", "0 3 * * *", all_sources=True))


def test_scheduler_crawls_a_source_on_its_own_schedule(data_dir: Path) -> None:
    # sources.toml changed on Friday 11-20; Monday 11-23 04:15 has passed: due once, now.
    user_sources(data_dir, SOURCES, mtime=datetime(2026, 11, 20, 12, 0, tzinfo=TZ))
    clock = Clock(datetime(2026, 11, 23, 5, 0, tzinfo=TZ))
    launched: list[list[str]] = []
    out = io.StringIO()
    sched = Scheduler(data_dir, clock=clock, sleep=clock.sleep, out=out,
                      launch=lambda s: launched.append(sched.crawl_command(s)) or 0)
    sched.tick()
    assert [c[c.index("crawl"):] for c in launched] == [
        ["crawl", "mine", "--trigger", "schedule:source:mine"],
        ["crawl", "hc-zjwjw", "--trigger", "schedule:source:hc-zjwjw"]]
    clock.now = datetime(2026, 11, 23, 5, 59, tzinfo=TZ)
    assert sched.due() == []
    clock.now = datetime(2026, 11, 23, 6, 0, tzinfo=TZ)
    assert [o.schedule for o in sched.tick()] == ["source:hc-zjwjw"]
    assert launched[-1][-1] == "schedule:source:hc-zjwjw" and len(launched) == 3
    clock.now = datetime(2026, 11, 24, 4, 15, tzinfo=TZ)
    assert [s.name for s in sched.due()] == ["source:mine"]
    # After Friday's run the next is Monday's (mon-fri).
    mine = sched.due()[0]
    friday = datetime(2026, 11, 27, 4, 15, tzinfo=TZ)
    sched.book.mark_started("source:mine", friday)
    assert sched.book.next_due(mine, friday) == datetime(2026, 11, 30, 4, 15, tzinfo=TZ)
    assert out.getvalue().count("source 'never'") == 1


def test_a_new_source_schedule_counts_from_when_sources_toml_changed(data_dir: Path) -> None:
    now = datetime(2026, 11, 23, 5, 0, tzinfo=TZ)
    user_sources(data_dir, SOURCES, mtime=now - timedelta(minutes=10))
    sched = Scheduler(data_dir, clock=lambda: now, out=io.StringIO(), launch=lambda s: 0)
    assert sched.due() == []  # 04:15 today was before the source got its schedule


def test_a_broken_sources_toml_keeps_schedules_json_running(data_dir: Path) -> None:
    path = user_sources(data_dir, '[[source]]\nname = "x"\nschedule = "0 3 * * *"\n')
    book = book_with(data_dir, Schedule("nightly", "0 3 * * *", all_sources=True))
    items, problems = book.everything()
    assert [s.name for s in items] == ["nightly"]
    assert len(problems) == 1 and problems[0].startswith(f"{path}: source 'x': start_urls")
    assert problems[0].endswith("the sources' own schedules are not run")

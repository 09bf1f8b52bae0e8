"""Scheduled crawls: the schedules, when they are due, the foreground scheduler, cron/systemd.

* Schedules live in ``<data_dir>/schedules.json``: name, cron expression (5 fields, parsed and
  iterated by croniter, evaluated in local time like cron), sources (or all), an optional
  notify command. The scheduler's own memory (when each schedule last started) is
  ``<data_dir>/schedule-state.json``.
* Missed runs: when the scheduler starts (or wakes) and one or more run times of a schedule
  passed since its last start, the schedule runs once, now (not once per missed time).
  A schedule that never ran counts from when it was added.
* Each due crawl is a child process (`hra crawl ... --trigger schedule:NAME`), its output
  logged to ``<data_dir>/logs/schedule.log`` and to stdout. A failing crawl is logged and the
  scheduler goes on. SIGTERM/SIGINT stop the running crawl gracefully (its Scrapy job state is
  kept, so it resumes next time) and then the scheduler.
* Overlap: `hra crawl` takes a lock per source (`archive.locks`), whoever starts it.

Time is injected (`clock`, `sleep`) so the logic is tested without waiting.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

SCHEDULES = "schedules.json"
STATE = "schedule-state.json"
LOG = Path("logs") / "schedule.log"
_NAME = re.compile(r"^[A-Za-z0-9][\w.-]{0,63}$")
_MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
           "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
           "@annually": "0 0 1 1 *"}


class ScheduleError(ValueError):
    """A one-line reason a schedule cannot be added, found or run."""


def now_local() -> datetime:
    return datetime.now().astimezone()


def validate_cron(expr: str) -> str:
    """A cron expression (5 fields or @daily-style macros) that croniter accepts, else
    ScheduleError saying what is wrong."""
    expr = " ".join(expr.split())
    expr = _MACROS.get(expr.lower(), expr)
    if len(expr.split()) != 5:
        raise ScheduleError(
            f"cron expression {expr!r} needs 5 fields: minute hour day-of-month month "
            "day-of-week (e.g. '0 3 * * *' for 03:00 every day)")
    try:
        croniter(expr, now_local())
    except (CroniterBadCronError, CroniterBadDateError, ValueError, KeyError) as exc:
        raise ScheduleError(f"invalid cron expression {expr!r}: {exc}") from exc
    return expr


def next_time(cron: str, after: datetime) -> datetime:
    return croniter(cron, after).get_next(datetime)


@dataclass
class Schedule:
    name: str
    cron: str
    sources: list[str] = field(default_factory=list)
    all_sources: bool = False
    notify_cmd: str | None = None
    created_at: str = field(default_factory=lambda: now_local().isoformat(timespec="seconds"))
    crawl_options: list[str] = field(default_factory=list)  # e.g. --refresh, -s NAME=VALUE

    def crawl_args(self) -> list[str]:
        """The arguments of `hra crawl` for this schedule."""
        return (["--all"] if self.all_sources else list(self.sources)) + self.crawl_options

    def describe_sources(self) -> str:
        return "all sources" if self.all_sources else ", ".join(self.sources)


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        raise ScheduleError(f"cannot read {path}: {exc}") from exc


class ScheduleBook:
    """The schedules of one data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / SCHEDULES

    def all(self) -> list[Schedule]:
        return [Schedule(**item) for item in _read_json(self.path, [])]

    def get(self, name: str) -> Schedule:
        for schedule in self.all():
            if schedule.name == name:
                return schedule
        raise ScheduleError(f"no schedule named {name!r} (see `hra schedule list`)")

    def add(self, schedule: Schedule, replace: bool = False) -> Schedule:
        if not _NAME.match(schedule.name):
            raise ScheduleError(f"schedule name {schedule.name!r}: use letters, digits, - _ .")
        schedule.cron = validate_cron(schedule.cron)
        if not schedule.all_sources and not schedule.sources:
            raise ScheduleError("name the sources to crawl, or --all")
        items = self.all()
        if any(s.name == schedule.name for s in items) and not replace:
            raise ScheduleError(f"schedule {schedule.name!r} exists (remove it first, or --replace)")
        items = [s for s in items if s.name != schedule.name] + [schedule]
        _write_json(self.path, [asdict(s) for s in items])
        return schedule

    def remove(self, name: str) -> None:
        items = self.all()
        if not any(s.name == name for s in items):
            raise ScheduleError(f"no schedule named {name!r} (see `hra schedule list`)")
        _write_json(self.path, [asdict(s) for s in items if s.name != name])

    # -- when schedules last started (the scheduler's memory) ---------------------------------

    def last_started(self) -> dict[str, str]:
        return _read_json(self.data_dir / STATE, {})

    def mark_started(self, name: str, when: datetime) -> None:
        state = self.last_started()
        state[name] = when.isoformat(timespec="seconds")
        _write_json(self.data_dir / STATE, state)

    def next_due(self, schedule: Schedule, now: datetime) -> datetime:
        """The schedule's next run time: the first cron time after its last start (or after it
        was added). A time in the past means it is due now (missed runs collapse into one)."""
        last = self.last_started().get(schedule.name) or schedule.created_at
        return next_time(schedule.cron, datetime.fromisoformat(last).astimezone(now.tzinfo))


# ---------------------------------------------------------------------------------------------
# The foreground scheduler


@dataclass
class RunOutcome:
    schedule: str
    exit_code: int | None
    started: str
    summary: dict[str, Any] | None


Launcher = Callable[[Schedule], int | None]


class Scheduler:
    """Runs due schedules as child crawls until stopped.

    `launch` starts and waits for one crawl (default: a child `hra crawl` process); `clock`
    and `sleep` are injectable for tests.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        clock: Callable[[], datetime] = now_local,
        sleep: Callable[[float], None] | None = None,
        launch: Launcher | None = None,
        out: IO[str] | None = None,
        poll: float = 30.0,
        grace: float = 60.0,
    ) -> None:
        self.book = ScheduleBook(data_dir)
        self.data_dir = Path(data_dir)
        self.clock = clock
        self.stopping = threading.Event()
        self.sleep = sleep or (lambda s: self.stopping.wait(s))
        self.launch = launch or self._launch_child
        self.out = out or sys.stdout
        self.poll = poll
        self.grace = grace
        self.child: subprocess.Popen[str] | None = None
        self.history: list[RunOutcome] = []
        log_path = self.data_dir / LOG
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = log_path.open("a", encoding="utf-8")

    def log(self, message: str) -> None:
        line = f"{self.clock().isoformat(timespec='seconds')} {message}"
        for stream in (self.out, self.log_file):
            stream.write(line + "\n")
            stream.flush()

    # -- one pass ---------------------------------------------------------------------------

    def due(self) -> list[Schedule]:
        now = self.clock()
        return [s for s in self.book.all() if self.book.next_due(s, now) <= now]

    def tick(self) -> list[RunOutcome]:
        """Run every schedule that is due now, one after the other."""
        done = []
        for schedule in self.due():
            if self.stopping.is_set():
                break
            done.append(self.run_one(schedule))
        return done

    def run_one(self, schedule: Schedule) -> RunOutcome:
        started = self.clock()
        before = self._last_run_id()
        self.book.mark_started(schedule.name, started)
        self.log(f"schedule {schedule.name}: crawling {schedule.describe_sources()}")
        try:
            code = self.launch(schedule)
        except OSError as exc:
            self.log(f"schedule {schedule.name}: could not start the crawl: {exc}")
            code = None
        summary = self._run_summary(schedule, before)
        status = "ok" if code == 0 else ("stopped" if self.stopping.is_set() else "failed")
        self.log(f"schedule {schedule.name}: crawl {status} (exit {code})"
                 + (f", {summary['new']} new, {summary['changed']} changed" if summary else ""))
        outcome = RunOutcome(schedule.name, code, started.isoformat(timespec="seconds"), summary)
        self.history.append(outcome)
        if schedule.notify_cmd:
            self._notify(schedule, outcome)
        return outcome

    def _last_run_id(self) -> int:
        from archive.store import Store, StoreError

        try:
            with Store(self.data_dir) as store:
                return max((r["id"] for r in store.runs(1)), default=0)
        except StoreError:
            return 0

    def _run_summary(self, schedule: Schedule, after_id: int) -> dict[str, Any] | None:
        """The run the crawl recorded (the first of this schedule after `after_id`)."""
        from archive.store import Store, StoreError

        try:
            with Store(self.data_dir) as store:
                mine = [r for r in store.runs(50)
                        if r["id"] > after_id and r["trigger"] == f"schedule:{schedule.name}"]
        except StoreError:
            return None
        return min(mine, key=lambda r: r["id"]) if mine else None

    def _notify(self, schedule: Schedule, outcome: RunOutcome) -> None:
        sources = ["--all"] if schedule.all_sources else schedule.sources
        payload = json.dumps({"schedule": schedule.name, "sources": sources,
                              "exit_code": outcome.exit_code, "started": outcome.started,
                              "run": outcome.summary}, ensure_ascii=False)
        try:
            proc = subprocess.run(schedule.notify_cmd or "", shell=True, input=payload,
                                  text=True, capture_output=True, timeout=120)
            if proc.returncode != 0:
                self.log(f"schedule {schedule.name}: notify command exited {proc.returncode}: "
                         f"{proc.stderr.strip()[:200]}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.log(f"schedule {schedule.name}: notify command failed: {exc}")

    # -- the child crawl ----------------------------------------------------------------------

    def crawl_command(self, schedule: Schedule) -> list[str]:
        return [sys.executable, "-m", "archive", "--data-dir", str(self.data_dir), "crawl",
                *schedule.crawl_args(), "--trigger", f"schedule:{schedule.name}"]

    def _launch_child(self, schedule: Schedule) -> int | None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.child = subprocess.Popen(
            self.crawl_command(schedule), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env, start_new_session=True)
        assert self.child.stdout is not None
        for line in self.child.stdout:
            self.log(f"  [{schedule.name}] {line.rstrip()}")
        code = self.child.wait()
        self.child = None
        return code

    # -- the loop and stopping ----------------------------------------------------------------

    def stop(self, *_: object) -> None:
        """Stop: the running crawl is interrupted gracefully (it resumes next time)."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            self.log("stopping: interrupting the running crawl (it resumes next time)")
            threading.Thread(target=self._end_child, args=(child,), daemon=True).start()

    def _end_child(self, child: subprocess.Popen[str]) -> None:
        for sig, wait in ((signal.SIGINT, self.grace), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(child.pid, sig)
            except ProcessLookupError:
                return
            try:
                child.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def run_forever(self, once: bool = False) -> None:
        previous = {s: signal.signal(s, self.stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            schedules = self.book.all()
            self.log(f"scheduler started: {len(schedules)} schedule(s); log: "
                     f"{self.data_dir / LOG}")
            for s in schedules:
                self.log(f"  {s.name}: '{s.cron}' -> {s.describe_sources()}, next "
                         f"{self.book.next_due(s, self.clock()).isoformat(timespec='minutes')}")
            while not self.stopping.is_set():
                self.tick()
                if once or self.stopping.is_set():
                    break
                self.sleep(self._seconds_to_next())
            self.log("scheduler stopped")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.log_file.close()

    def _seconds_to_next(self) -> float:
        now = self.clock()
        upcoming = [self.book.next_due(s, now) for s in self.book.all()]
        if not upcoming:
            return self.poll
        wait = (min(upcoming) - now).total_seconds()
        return max(0.5, min(self.poll, wait))


# ---------------------------------------------------------------------------------------------
# For the system's scheduler


def _hra_command(data_dir: Path) -> str:
    exe = Path(sys.argv[0]).resolve() if Path(sys.argv[0]).name == "hra" else None
    base = shlex.quote(str(exe)) if exe else f"{shlex.quote(sys.executable)} -m archive"
    return f"{base} --data-dir {shlex.quote(str(data_dir))}"


def crontab_line(schedule: Schedule, data_dir: Path) -> str:
    args = " ".join(shlex.quote(a) for a in schedule.crawl_args())
    log = shlex.quote(str(Path(data_dir) / "logs" / f"cron-{schedule.name}.log"))
    return (f"{schedule.cron} {_hra_command(data_dir)} crawl {args} "
            f"--trigger cron:{schedule.name} >> {log} 2>&1")


_DOW = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _calendar_field(value: str, kind: str) -> str:
    """One cron field as systemd OnCalendar syntax (ValueError when it has no equivalent)."""
    parts = []
    for item in value.split(","):
        step = None
        if "/" in item:
            item, step = item.split("/", 1)
        if item == "*":
            first = {"min": "00", "hour": "00", "dom": "01", "mon": "01"}.get(kind, "")
            part = f"{first}/{step}" if step else "*"
        elif "-" in item:
            if step:
                raise ValueError("ranges with steps")
            a, b = item.split("-", 1)
            part = f"{_DOW[int(a)]}..{_DOW[int(b)]}" if kind == "dow" else f"{a}..{b}"
        else:
            if step:
                raise ValueError("steps from a start value")
            part = _DOW[int(item)] if kind == "dow" else item.zfill(2)
        parts.append(part)
    return ",".join(parts)


def on_calendar(cron: str) -> str:
    """A cron expression as a systemd OnCalendar value (ValueError if it cannot be said)."""
    minute, hour, dom, month, dow = cron.split()
    if dom != "*" and dow != "*":
        raise ValueError("cron runs when day-of-month OR day-of-week matches; systemd needs both")
    if not all(re.fullmatch(r"[\d*,/-]+", f) for f in (minute, hour, dom, month, dow)):
        raise ValueError("names in fields")
    days = "" if dow == "*" else _calendar_field(dow, "dow") + " "
    return (f"{days}*-{_calendar_field(month, 'mon')}-{_calendar_field(dom, 'dom')} "
            f"{_calendar_field(hour, 'hour')}:{_calendar_field(minute, 'min')}:00")


def systemd_units(schedule: Schedule, data_dir: Path) -> str:
    args = " ".join(shlex.quote(a) for a in schedule.crawl_args())
    unit = f"hra-{schedule.name}"
    try:
        calendar = f"OnCalendar={on_calendar(schedule.cron)}"
    except ValueError as exc:
        calendar = (f"# '{schedule.cron}' has no OnCalendar equivalent ({exc}): write one by"
                    f" hand, see systemd.time(7)\nOnCalendar=")
    return f"""# ~/.config/systemd/user/{unit}.service
[Unit]
Description=hra crawl: schedule {schedule.name} ({schedule.describe_sources()})

[Service]
Type=oneshot
ExecStart={_hra_command(data_dir)} crawl {args} --trigger systemd:{schedule.name}

# ~/.config/systemd/user/{unit}.timer
[Unit]
Description=hra crawl timer: schedule {schedule.name} ('{schedule.cron}')

[Timer]
{calendar}
Persistent=true

[Install]
WantedBy=timers.target
# enable with: systemctl --user daemon-reload && systemctl --user enable --now {unit}.timer
"""

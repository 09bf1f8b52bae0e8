"""Scheduled crawls: the schedules, when they are due, the foreground scheduler, cron/systemd.

* Schedules live in ``<data_dir>/schedules.json``, a JSON list of objects: name, cron expression,
  sources (or all_sources), an optional notify command, created_at, crawl options. A damaged
  file or entry (not JSON, not a list, an entry that is not an object, a missing or ill-typed
  field, a cron expression that is invalid or never fires) is reported in one line naming the
  file and the entry; the good entries still run. `add`/`remove` keep bad entries as they are
  and refuse to touch a file that is not a JSON list. The scheduler's own memory (when each
  schedule last started) is ``<data_dir>/schedule-state.json``.
* Sources of the user's ``<data_dir>/sources.toml`` that set ``schedule`` themselves run on it
  as the schedule ``source:NAME`` (`hra crawl NAME --trigger schedule:source:NAME`). The
  shipped sources' schedules (every shipped source has one, none is verified) are suggestions
  only and never run by themselves.
* Cron syntax is standard 5-field cron, what crontab accepts, so the lines of `hra schedule
  cron` run under cron and as systemd timers: ``*``, numbers, names (jan..dec, sun..sat),
  ranges, steps (``*/15``, ``1-30/2``), lists, and the macros @hourly @daily @midnight @weekly
  @monthly @yearly @annually. croniter's extensions (L, W, #, ?, H) and @reboot are refused,
  and so is an expression with no run time in 50 years (``0 0 31 2 *``). Day-of-month and
  day-of-week follow cron (Vixie/ISC cron, cronie): when both are restricted a day matching
  either runs; a field starting with ``*`` (``*/2``) counts as unrestricted, and then a day must
  match both (croniter's ``implement_cron_bug``). Times are local, like cron's.
* Missed runs: when the scheduler starts (or wakes) and one or more run times of a schedule
  passed since its last start, the schedule runs once, now (not once per missed time).
  A schedule that never ran counts from when it was added (a source's schedule: from when
  sources.toml was last changed).
* Each due crawl is a child process (`hra crawl ... --trigger schedule:NAME`; with Scrapyd
  nodes, ``--scrapyd URL``, that child queues a job per source on the nodes and returns), its output
  logged to ``<data_dir>/logs/schedule.log`` and to stdout. A failing crawl is logged and the
  scheduler goes on. SIGTERM/SIGINT stop the running crawl gracefully (its Scrapy job state is
  kept, so it resumes next time) and then the scheduler.
* Overlap: `hra crawl` takes a lock per source (`archive.locks`), whoever starts it; and one
  scheduler runs per data dir (`archive.locks.SchedulerLock`): a second `hra schedule run`
  says which process runs (its pid) and exits 1, instead of firing the same crawls.

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
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path
from typing import IO, Any

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

SCHEDULES = "schedules.json"
STATE = "schedule-state.json"
LOG = Path("logs") / "schedule.log"
SOURCE_PREFIX = "source:"  # schedules taken from a source's own `schedule` in sources.toml
_NAME = re.compile(r"^[A-Za-z0-9][\w.-]{0,63}$")
_MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
           "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
           "@annually": "0 0 1 1 *"}
_MONTHS = {n: i for i, n in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DAYS = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# label, lowest, highest value, names
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS), ("day-of-week", 0, 7, _DAYS))
_ITEM = re.compile(r"(\*|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?")
_EXTENSION = re.compile(r"[#?]|\b[lh]\b|\dw\b|\bl\d|\bh\(")
MAX_YEARS = 50  # an expression with no run time in this many years is refused


class ScheduleError(ValueError):
    """A one-line reason a schedule cannot be added, found or run."""


def now_local() -> datetime:
    return datetime.now().astimezone()


# ---------------------------------------------------------------------------------------------
# Cron expressions


@dataclass(frozen=True)
class CronFields:
    """The values of a 5-field cron expression (day-of-week 0-6, Sunday 0) and the cron rule
    for days: both day fields restricted (neither starts with ``*``) means either may match."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_star: bool
    weekdays_star: bool

    @property
    def day_or(self) -> bool:
        return not (self.days_star or self.weekdays_star)

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom, dow = day.day in self.days, day.isoweekday() % 7 in self.weekdays
        return (dom or dow) if self.day_or else (dom and dow)

    def matches(self, when: datetime) -> bool:
        return (when.minute in self.minutes and when.hour in self.hours
                and self.day_matches(when.date()))


def _field_values(text: str, index: int) -> frozenset[int]:
    label, lo, hi, names = _FIELDS[index]
    syntax = "use *, N, N-M, */S, N-M/S and lists with ,"

    def number(token: str) -> int:
        if token.isdigit():
            value = int(token)
        elif token in names:
            value = names[token]
        elif names:
            raise ScheduleError(f"{label} {text!r}: unknown name {token!r} (use "
                                f"{'/'.join(list(names)[:3])}/...)")
        else:
            raise ScheduleError(f"{label} {text!r}: {token!r} is not a number ({syntax})")
        if not lo <= value <= hi:
            raise ScheduleError(f"{label} {text!r}: {value} is out of range {lo}-{hi}")
        return value

    if _EXTENSION.search(text.lower()):
        raise ScheduleError(f"{label} {text!r}: L, W, #, ? and H are croniter extensions, not "
                            "standard cron (cron and systemd timers would not run them)")
    values: set[int] = set()
    for item in text.lower().split(","):
        match = _ITEM.fullmatch(item)
        if not match:
            raise ScheduleError(f"{label} {text!r}: {item!r} is not standard cron syntax "
                                f"({syntax})")
        whole, first, last, step = match.groups()
        if whole == "*":
            a, b = lo, hi
        else:
            a = number(first)
            b = number(last) if last else a
            if step and not last:
                raise ScheduleError(f"{label} {text!r}: a step needs * or a range "
                                    f"(e.g. {a}-{hi}/{step})")
            if a > b:
                hint = " (Sunday is 0 or 7: write mon-sun as 1-7)" if index == 4 else ""
                raise ScheduleError(f"{label} {text!r}: the range {first}-{last} runs "
                                    f"backwards{hint}")
        if step is not None and int(step) == 0:
            raise ScheduleError(f"{label} {text!r}: a step of 0")
        values.update(range(a, b + 1, int(step or 1)))
    if index == 4:
        values = {v % 7 for v in values}  # 7 is Sunday too
    return frozenset(values)


def _normalize(expr: str) -> str:
    """Whitespace collapsed, a macro replaced by its 5 fields (ScheduleError for @reboot)."""
    expr = " ".join(str(expr).split())
    if expr.lower() == "@reboot":
        raise ScheduleError("@reboot is not supported: hra schedules run at clock times (to "
                            "crawl at boot, run `hra crawl ...` from your system's boot jobs)")
    if expr.startswith("@"):
        if expr.lower() not in _MACROS:
            raise ScheduleError(f"unknown cron macro {expr!r} (use one of "
                                f"{', '.join(_MACROS)})")
        return _MACROS[expr.lower()]
    if len(expr.split()) != 5:
        raise ScheduleError(
            f"cron expression {expr!r} needs 5 fields: minute hour day-of-month month "
            "day-of-week (e.g. '0 3 * * *' for 03:00 every day)")
    return expr


def parse_cron(expr: str) -> CronFields:
    """The values of a standard cron expression (ScheduleError saying what is wrong)."""
    fields = _normalize(expr).split()
    minutes, hours, days, months, weekdays = (
        _field_values(text, i) for i, text in enumerate(fields))
    return CronFields(minutes, hours, days, months, weekdays,
                      days_star=fields[2].startswith("*"),
                      weekdays_star=fields[4].startswith("*"))


def _croniter(cron: str, start: datetime, **kwargs: Any) -> croniter:
    return croniter(cron, start, implement_cron_bug=True, **kwargs)


def validate_cron(expr: str) -> str:
    """A standard cron expression (5 fields or @daily-style macros) with a next run time,
    normalized (macros as 5 fields); else ScheduleError saying what is wrong."""
    expr = _normalize(expr)
    try:
        parse_cron(expr)
    except ScheduleError as exc:
        raise ScheduleError(f"invalid cron expression {expr!r}: {exc}") from exc
    try:
        _croniter(expr, now_local(), max_years_between_matches=MAX_YEARS).get_next(datetime)
    except CroniterBadDateError as exc:
        raise ScheduleError(f"cron expression {expr!r} never runs: no date matches it in "
                            f"{MAX_YEARS} years (like 30 February)") from exc
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        raise ScheduleError(f"invalid cron expression {expr!r}: {exc}") from exc
    return expr


def next_time(cron: str, after: datetime) -> datetime:
    return _croniter(cron, after).get_next(datetime)


# ---------------------------------------------------------------------------------------------
# Schedules


@dataclass
class Schedule:
    name: str
    cron: str
    sources: list[str] = field(default_factory=list)
    all_sources: bool = False
    notify_cmd: str | None = None
    created_at: str = field(default_factory=lambda: now_local().isoformat(timespec="seconds"))
    crawl_options: list[str] = field(default_factory=list)  # e.g. --refresh, -s NAME=VALUE
    origin: str = field(default=SCHEDULES, compare=False)  # or "sources.toml"; not stored

    def crawl_args(self) -> list[str]:
        """The arguments of `hra crawl` for this schedule."""
        return (["--all"] if self.all_sources else list(self.sources)) + self.crawl_options

    def describe_sources(self) -> str:
        return "all sources" if self.all_sources else ", ".join(self.sources)

    @property
    def slug(self) -> str:
        """The name in file and unit names (``source:x`` becomes ``source-x``)."""
        return self.name.replace(":", "-")

    def to_json(self) -> dict[str, Any]:
        """The entry stored in schedules.json."""
        data = asdict(self)
        del data["origin"]
        return data


_ENTRY_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "cron": (str,), "sources": (list,), "all_sources": (bool,),
    "notify_cmd": (str, type(None)), "created_at": (str,), "crawl_options": (list,)}
_REQUIRED = ("name", "cron", "created_at")
_JSON_TYPES = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number",
               float: "number", type(None): "null"}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def parse_entry(item: Any) -> Schedule:
    """One entry of schedules.json as a Schedule (ScheduleError saying what is wrong)."""
    if not isinstance(item, dict):
        raise ScheduleError(f"is a JSON {_json_type(item)}, not an object")
    missing = [key for key in _REQUIRED if key not in item]
    if missing:
        raise ScheduleError(f"missing {', '.join(missing)}")
    unknown = sorted(set(item) - set(_ENTRY_TYPES))
    if unknown:
        raise ScheduleError(f"unknown field(s) {', '.join(map(str, unknown))}")
    for key, value in item.items():
        if not isinstance(value, _ENTRY_TYPES[key]):
            want = " or ".join(_JSON_TYPES[t] for t in _ENTRY_TYPES[key])
            raise ScheduleError(f"{key} must be a JSON {want}, not a {_json_type(value)}")
    for key in ("sources", "crawl_options"):
        if not all(isinstance(v, str) for v in item.get(key, [])):
            raise ScheduleError(f"{key} must be a list of strings")
    if not _NAME.match(item["name"]):
        raise ScheduleError(f"name {item['name']!r}: use letters, digits, - _ .")
    cron = validate_cron(item["cron"])
    try:
        datetime.fromisoformat(item["created_at"])
    except ValueError as exc:
        raise ScheduleError(f"created_at {item['created_at']!r} is not an ISO date and time") \
            from exc
    schedule = Schedule(**item)
    schedule.cron = cron
    if schedule.all_sources and schedule.sources:
        raise ScheduleError("has both sources and all_sources")
    if not schedule.all_sources and not schedule.sources:
        raise ScheduleError("no sources (and all_sources is not true)")
    return schedule


def _entry_label(number: int, item: Any) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return f"entry {number}" + (f" ({name!r})" if isinstance(name, str) else "")


def _write_json(path: Path, data: Any) -> None:
    from archive.locks import open_nofollow

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)  # never through a link
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data, ensure_ascii=False, indent=2))
    os.replace(tmp, path)  # replaces a link at `path` itself, never its target


class ScheduleBook:
    """The schedules of one data dir: schedules.json, plus the user's sources with their own
    schedule."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / SCHEDULES

    # -- reading ------------------------------------------------------------------------------

    def _raw(self) -> list[Any]:
        """The entries of schedules.json as stored ([] without the file); ScheduleError when
        the file is unreadable, not JSON or not a list."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise ScheduleError(f"{self.path}: cannot read ({exc})") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ScheduleError(f"{self.path}: not valid JSON ({exc})") from exc
        if not isinstance(data, list):
            raise ScheduleError(f"{self.path}: must be a JSON list of schedules, not a JSON "
                                f"{_json_type(data)}")
        return data

    def load(self) -> tuple[list[Schedule], list[str]]:
        """The good schedules of schedules.json and one line per problem (file and entry)."""
        try:
            raw = self._raw()
        except ScheduleError as exc:
            return [], [f"{exc}; no schedule read from it"]
        good: list[Schedule] = []
        problems: list[str] = []
        for number, item in enumerate(raw, 1):
            try:
                schedule = parse_entry(item)
                if any(s.name == schedule.name for s in good):
                    raise ScheduleError("a schedule of that name comes earlier in the file")
            except ScheduleError as exc:
                problems.append(f"{self.path}: {_entry_label(number, item)}: {exc}; skipped")
                continue
            good.append(schedule)
        return good, problems

    def source_schedules(self) -> tuple[list[Schedule], list[str]]:
        """Sources of <data_dir>/sources.toml with their own `schedule`, as schedules named
        ``source:NAME``, and one line per problem."""
        from crawler.sources import USER_FILE, SourceError, user_schedules

        path = self.data_dir / USER_FILE
        try:
            crons = user_schedules(self.data_dir)
        except SourceError as exc:
            return [], [f"{exc}; the sources' own schedules are not run"]
        if not crons:
            return [], []
        try:
            changed = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
        except OSError:
            changed = now_local()
        good: list[Schedule] = []
        problems: list[str] = []
        for name, cron in crons.items():
            try:
                cron = validate_cron(cron)
            except ScheduleError as exc:
                problems.append(f"{path}: source {name!r}: schedule: {exc}; skipped")
                continue
            good.append(Schedule(f"{SOURCE_PREFIX}{name}", cron, [name],
                                 created_at=changed.isoformat(timespec="seconds"),
                                 origin=USER_FILE))
        return good, problems

    def everything(self) -> tuple[list[Schedule], list[str]]:
        """All schedules to run (schedules.json, then sources.toml) and all problems."""
        mine, problems = self.load()
        sources, source_problems = self.source_schedules()
        state_problems = []
        try:
            self._state()
        except ScheduleError as exc:
            state_problems.append(f"{exc}; schedules count from when they were added")
        return mine + sources, problems + source_problems + state_problems

    def all(self) -> list[Schedule]:
        """The good schedules of schedules.json."""
        return self.load()[0]

    def get(self, name: str) -> Schedule:
        for schedule in self.everything()[0]:
            if schedule.name == name:
                return schedule
        raise ScheduleError(f"no schedule named {name!r} (see `hra schedule list`)")

    # -- changing (bad entries are kept as they are) --------------------------------------------

    def _raw_to_change(self) -> list[Any]:
        try:
            return self._raw()
        except ScheduleError as exc:
            raise ScheduleError(f"{exc}: fix it or move it away first (hra does not "
                                "overwrite it)") from exc

    def add(self, schedule: Schedule, replace: bool = False) -> Schedule:
        if not _NAME.match(schedule.name):
            raise ScheduleError(f"schedule name {schedule.name!r}: use letters, digits, - _ .")
        if schedule.name.lower().startswith("source-"):
            raise ScheduleError(f"schedule name {schedule.name!r}: names starting with "
                                "'source-' are kept for the sources' own schedules")
        schedule.cron = validate_cron(schedule.cron)
        if not schedule.all_sources and not schedule.sources:
            raise ScheduleError("name the sources to crawl, or --all")
        raw = self._raw_to_change()
        names = [item.get("name") if isinstance(item, dict) else None for item in raw]
        if schedule.name in names and not replace:
            raise ScheduleError(f"schedule {schedule.name!r} exists (remove it first, or --replace)")
        kept = [item for item, name in zip(raw, names, strict=True) if name != schedule.name]
        _write_json(self.path, [*kept, schedule.to_json()])
        return schedule

    def remove(self, name: str) -> None:
        """Remove the schedule NAME (a bad entry of that name too)."""
        if name.startswith(SOURCE_PREFIX):
            raise ScheduleError(
                f"{name!r} is the source's own schedule: delete the `schedule` line of source "
                f"{name[len(SOURCE_PREFIX):]!r} in {self.data_dir / 'sources.toml'}")
        raw = self._raw_to_change()
        kept = [item for item in raw if not (isinstance(item, dict) and item.get("name") == name)]
        if len(kept) == len(raw):
            raise ScheduleError(f"no schedule named {name!r} (see `hra schedule list`)")
        _write_json(self.path, kept)

    # -- when schedules last started (the scheduler's memory) ---------------------------------

    def _state(self) -> dict[str, str]:
        path = self.data_dir / STATE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ScheduleError(f"{path}: cannot read ({exc})") from exc
        if not isinstance(data, dict):
            raise ScheduleError(f"{path}: must be a JSON object, not a JSON {_json_type(data)}")
        return {k: v for k, v in data.items() if isinstance(v, str)}

    def last_started(self) -> dict[str, str]:
        """Schedule name -> when it last started ({} if the state file is damaged; `everything`
        reports it)."""
        try:
            return self._state()
        except ScheduleError:
            return {}

    def mark_started(self, name: str, when: datetime) -> None:
        state = self.last_started()
        state[name] = when.isoformat(timespec="seconds")
        _write_json(self.data_dir / STATE, state)

    def next_due(self, schedule: Schedule, now: datetime) -> datetime:
        """The schedule's next run time: the first cron time after its last start (or after it
        was added). A time in the past means it is due now (missed runs collapse into one)."""
        last = self.last_started().get(schedule.name)
        try:
            since = datetime.fromisoformat(last) if last else None
        except ValueError:
            since = None
        since = since or datetime.fromisoformat(schedule.created_at)
        return next_time(schedule.cron, since.astimezone(now.tzinfo))

    def listing(self, now: datetime) -> tuple[list[Schedule], list[dict[str, Any]], list[str]]:
        """What `hra schedule list` shows: the good schedules, for each its fields with
        ``next_run`` and ``last_started``, and one line per damaged file or entry."""
        items, problems = self.everything()
        last = self.last_started()
        rows = [asdict(s) | {"next_run": self.next_due(s, now).isoformat(timespec="minutes"),
                             "last_started": last.get(s.name)} for s in items]
        return items, rows, problems


def crawl_options(*, refresh: bool = False, depth: int | None = None,
                  max_pages: int | None = None, settings: tuple[str, ...] = (),
                  scrapyd: tuple[str, ...] = ()) -> list[str]:
    """The `hra crawl` options of a schedule (what `hra schedule add` was given); `scrapyd`:
    the crawl is queued on these Scrapyd nodes (`archive.scrapyd_nodes`), not run here."""
    return (["--refresh"] if refresh else []) + \
        (["--depth", str(depth)] if depth is not None else []) + \
        (["--max-pages", str(max_pages)] if max_pages else []) + \
        [arg for setting in settings for arg in ("-s", setting)] + \
        [arg for node in scrapyd for arg in ("--scrapyd", node)]


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
        self._warned: list[str] = []
        self.log_file = _open_log(self.data_dir)

    def log(self, message: str) -> None:
        line = f"{self.clock().isoformat(timespec='seconds')} {message}"
        for stream in (self.out, self.log_file):
            stream.write(line + "\n")
            stream.flush()

    def warn(self, problems: list[str]) -> None:
        """Log each problem of the schedule files once (again when they change)."""
        for problem in problems:
            if problem not in self._warned:
                self.log(f"warning: {problem}")
        self._warned = problems

    def schedules(self) -> list[Schedule]:
        """The good schedules, read again on every pass (the files may change meanwhile)."""
        items, problems = self.book.everything()
        self.warn(problems)
        return items

    # -- one pass ---------------------------------------------------------------------------

    def due(self) -> list[Schedule]:
        now = self.clock()
        return [s for s in self.schedules() if self.book.next_due(s, now) <= now]

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
        mine = [r for r in runs_with_trigger(self.data_dir, f"schedule:{schedule.name}")
                if r["id"] > after_id]
        return min(mine, key=lambda r: r["id"]) if mine else None

    def _notify(self, schedule: Schedule, outcome: RunOutcome) -> None:
        problem = notify(schedule, outcome)
        if problem:
            self.log(f"schedule {schedule.name}: {problem}")

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
        """Run due schedules until stopped (`once`: what is due now). One scheduler per data
        dir: ScheduleError naming the running one (its pid) if another holds the lock."""
        from archive.locks import LockBusy, SchedulerLock

        lock = SchedulerLock(self.data_dir)
        try:
            lock.acquire()
        except LockBusy as exc:
            self.log_file.close()
            raise ScheduleError(str(exc)) from exc
        except BaseException:  # UnsafePath (a link planted in locks/) and the like
            self.log_file.close()
            raise
        previous = {s: signal.signal(s, self.stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            schedules, problems = self.book.everything()
            self.log(f"scheduler started: {len(schedules)} schedule(s); log: "
                     f"{self.data_dir / LOG}")
            self.warn(problems)
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
            lock.release()

    def _seconds_to_next(self) -> float:
        now = self.clock()
        upcoming = [self.book.next_due(s, now) for s in self.schedules()]
        if not upcoming:
            return self.poll
        wait = (min(upcoming) - now).total_seconds()
        return max(0.5, min(self.poll, wait))


def _open_log(data_dir: Path) -> IO[str]:
    """``logs/schedule.log`` for appending, never through a symbolic link (UnsafePath)."""
    from archive.locks import open_nofollow, safe_dirs

    path = Path(data_dir) / LOG
    safe_dirs(path.parent, Path(data_dir))
    fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    return os.fdopen(fd, "a", encoding="utf-8")


def runs_with_trigger(data_dir: Path, trigger: str) -> list[dict[str, Any]]:
    """The recent runs (of the last 50) recorded with this trigger, newest first."""
    from archive.store import Store, StoreError

    try:
        with Store(data_dir) as store:
            return [r for r in store.runs(50) if r["trigger"] == trigger]
    except StoreError:
        return []


def notify_last_run(schedule: Schedule, data_dir: Path, trigger: str,
                    exit_code: int | None) -> str | None:
    """Run the schedule's notify command with the newest run recorded with `trigger` (what the
    crontab lines and systemd units do after a crawl); a one-line problem, or None."""
    runs = runs_with_trigger(data_dir, trigger)
    run = runs[0] if runs else None
    started = run["started_at"] if run else now_local().isoformat(timespec="seconds")
    return notify(schedule, RunOutcome(schedule.name, exit_code, started, run))


def notify(schedule: Schedule, outcome: RunOutcome) -> str | None:
    """Run the schedule's notify command with the run summary as JSON on stdin; a one-line
    problem, or None when it went well."""
    sources = ["--all"] if schedule.all_sources else schedule.sources
    payload = json.dumps({"schedule": schedule.name, "sources": sources,
                          "exit_code": outcome.exit_code, "started": outcome.started,
                          "run": outcome.summary}, ensure_ascii=False)
    try:
        proc = subprocess.run(schedule.notify_cmd or "", shell=True, input=payload,
                              text=True, capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"notify command failed: {exc}"
    if proc.returncode != 0:
        error = " ".join(proc.stderr.split())[:200]
        return f"notify command exited {proc.returncode}" + (f": {error}" if error else "")
    return None


# ---------------------------------------------------------------------------------------------
# For the system's scheduler


def _hra_command(data_dir: Path) -> str:
    exe = Path(sys.argv[0]).resolve() if Path(sys.argv[0]).name == "hra" else None
    base = shlex.quote(str(exe)) if exe else f"{shlex.quote(sys.executable)} -m archive"
    return f"{base} --data-dir {shlex.quote(str(data_dir))}"


def _notify_command(schedule: Schedule, data_dir: Path, trigger: str) -> str:
    """`hra schedule notify`: the schedule's --notify-cmd after a crawl cron or systemd ran."""
    return (f"{_hra_command(data_dir)} schedule notify {shlex.quote(schedule.name)} "
            f"--trigger {shlex.quote(trigger)}")


def crontab_line(schedule: Schedule, data_dir: Path) -> str:
    """The crontab line of a schedule (its notify command runs after the crawl)."""
    args = " ".join(shlex.quote(a) for a in schedule.crawl_args())
    log = shlex.quote(str(Path(data_dir) / "logs" / f"cron-{schedule.slug}.log"))
    trigger = f"cron:{schedule.name}"
    command = f"{_hra_command(data_dir)} crawl {args} --trigger {trigger} >> {log} 2>&1"
    if schedule.notify_cmd:
        command += (f"; {_notify_command(schedule, data_dir, trigger)} --exit-code $? "
                    f">> {log} 2>&1")
    return schedule.cron + " " + command.replace("%", "\\%")  # a bare % ends the command


_MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
_WEEKDAYS = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}


def _runs(values: list[int]) -> list[tuple[int, int]]:
    """Sorted values as runs of consecutive values (first, last)."""
    runs: list[tuple[int, int]] = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def _calendar_values(values: frozenset[int], lo: int, hi: int,
                     show: Callable[[int], str] | None = None) -> str:
    """A set of values as one component of a systemd calendar spec: *, a/step, a..b, lists
    (`show` names the values: weekdays, which have no /step in systemd)."""
    vals = sorted(values)
    if vals == list(range(lo, hi + 1)):
        return "*"
    step = vals[1] - vals[0] if len(vals) >= 3 and show is None else 0
    show = show or (lambda v: f"{v:02d}")
    if step > 1 and vals[-1] + step > hi and all(b - a == step for a, b in pairwise(vals)):
        return f"{show(vals[0])}/{step}"
    parts = []
    for a, b in _runs(vals):
        parts.extend([show(a)] if a == b else [show(a), show(b)] if b == a + 1 else
                     [f"{show(a)}..{show(b)}"])
    return ",".join(parts)


def on_calendar(cron: str) -> list[str]:
    """A cron expression as systemd OnCalendar values: one, or two when cron's day-of-month OR
    day-of-week needs two (systemd requires the weekday and the date both to match)."""
    f = parse_cron(cron)
    time = f"{_calendar_values(f.hours, 0, 23)}:{_calendar_values(f.minutes, 0, 59)}:00"
    months = _calendar_values(f.months, 1, 12)
    days = _calendar_values(f.days, 1, 31)
    every_weekday = f.weekdays == frozenset(range(7))
    weekdays = "" if every_weekday else _calendar_values(
        frozenset(d or 7 for d in f.weekdays), 1, 7, _WEEKDAYS.__getitem__) + " "
    if not f.day_or:  # one field is unrestricted: a day matches both
        return [f"{weekdays}*-{months}-{days} {time}"]
    if every_weekday or days == "*":  # either matches every day
        return [f"*-{months}-* {time}"]
    by_weekday = f"{weekdays}*-{months}-* {time}"
    if min(f.days) > max(_MONTH_DAYS[m] for m in f.months):  # e.g. the 31st of February
        return [by_weekday]
    return [f"*-{months}-{days} {time}", by_weekday]


def systemd_units(schedule: Schedule, data_dir: Path) -> str:
    args = " ".join(shlex.quote(a) for a in schedule.crawl_args())
    trigger = f"systemd:{schedule.name}"
    start = f"{_hra_command(data_dir)} crawl {args} --trigger {trigger}".replace("%", "%%")
    if schedule.notify_cmd:  # it reads the crawl's exit status from $EXIT_STATUS
        notify_line = _notify_command(schedule, data_dir, trigger).replace("%", "%%")
        start += f"\nExecStopPost={notify_line}"
    unit = f"hra-{schedule.slug}"
    specs = on_calendar(schedule.cron)
    calendar = "\n".join(f"OnCalendar={spec}" for spec in specs)
    if len(specs) > 1:
        calendar = ("# cron runs on the day-of-month OR the day-of-week; one OnCalendar= "
                    "line needs both, so one line each\n" + calendar)
    return f"""# ~/.config/systemd/user/{unit}.service
[Unit]
Description=hra crawl: schedule {schedule.name} ({schedule.describe_sources()})

[Service]
Type=oneshot
ExecStart={start}

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

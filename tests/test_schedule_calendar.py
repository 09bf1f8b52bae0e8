"""Cron expressions: what is accepted, when it runs, and the systemd OnCalendar= it becomes.

Three independent views of each expression must agree: croniter (what `hra schedule run` uses),
a brute-force reading of cron's rules (`CronFields.matches`: Vixie/ISC cron and cronie, day-of-
month OR day-of-week when both are restricted, AND when one starts with ``*``), and systemd's
own calendar parser (`systemd-analyze calendar`) on the printed OnCalendar= values.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.schedule import (
    Schedule,
    ScheduleError,
    next_time,
    on_calendar,
    parse_cron,
    systemd_units,
    validate_cron,
)

BASE = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
NO_SYSTEMD = "systemd-analyze is not installed: OnCalendar= values are checked against the table only"

# expression -> the OnCalendar= values hra prints (two when cron ORs day-of-month and day-of-week)
TABLE: dict[str, list[str]] = {
    "0 3 * * *": ["*-*-* 03:00:00"],
    "* * * * *": ["*-*-* *:*:00"],
    "*/15 * * * *": ["*-*-* *:00/15:00"],
    "5,35 */6 * * *": ["*-*-* 00/6:05,35:00"],
    "*/20 8-18/2 * * *": ["*-*-* 08,10,12,14,16,18:00/20:00"],
    "0 9-17 * * 1-5": ["Mon..Fri *-*-* 09..17:00:00"],
    "0 3 * * mon,wed": ["Mon,Wed *-*-* 03:00:00"],
    "30 2 * * mon-fri": ["Mon..Fri *-*-* 02:30:00"],
    "15 10 * * 1-5/2": ["Mon,Wed,Fri *-*-* 10:15:00"],
    "0 12 * * sat,sun": ["Sat,Sun *-*-* 12:00:00"],
    "0 0 * * 7": ["Sun *-*-* 00:00:00"],
    "0 22 * * 0-6": ["*-*-* 22:00:00"],
    "0 0 1 jan,jul *": ["*-01,07-01 00:00:00"],
    "0 8 * jun-aug mon-fri": ["Mon..Fri *-06..08-* 08:00:00"],
    "0 0 1-7 * *": ["*-*-01..07 00:00:00"],
    "59 23 31 dec *": ["*-12-31 23:59:00"],
    "0 0 29 2 *": ["*-02-29 00:00:00"],
    "@hourly": ["*-*-* *:00:00"],
    "@daily": ["*-*-* 00:00:00"],
    "@midnight": ["*-*-* 00:00:00"],
    "@weekly": ["Sun *-*-* 00:00:00"],
    "@monthly": ["*-*-01 00:00:00"],
    "@yearly": ["*-01-01 00:00:00"],
    "@annually": ["*-01-01 00:00:00"],
    # Both day fields restricted: cron runs on either, systemd needs both in one line.
    "0 0 1,15 * mon": ["*-*-01,15 00:00:00", "Mon *-*-* 00:00:00"],
    "0 0 13 * fri": ["*-*-13 00:00:00", "Fri *-*-* 00:00:00"],
    "30 6 1 * mon-fri": ["*-*-01 06:30:00", "Mon..Fri *-*-* 06:30:00"],
    "0 0 31 2 mon": ["Mon *-02-* 00:00:00"],  # the 31st of February never comes
    "0 0 1-31 * mon": ["*-*-* 00:00:00"],  # every day OR Mondays
    # A day field starting with * counts as unrestricted (cron's rule): both must match.
    "0 0 */2 * mon": ["Mon *-*-01/2 00:00:00"],
    "0 0 1 * */2": ["Tue,Thu,Sat,Sun *-*-01 00:00:00"],
}

REFUSED = {
    "0 0 31 2 *": "never runs",
    "0 0 30 2 *": "never runs",
    "0 0 31 4,6,9,11 *": "never runs",
    "@reboot": "@reboot is not supported",
    "@every": "unknown cron macro",
    "0 0 L * *": "croniter extensions",
    "0 0 * * mon#2": "croniter extensions",
    "0 0 15W * *": "croniter extensions",
    "H 0 * * *": "croniter extensions",
    "0 0 ? * *": "croniter extensions",
    "5/15 * * * *": "a step needs * or a range",
    "0 0 * * mon-sun": "runs backwards",
    "0 0 * * 5-1": "runs backwards",
    "*/0 * * * *": "a step of 0",
    "0 0 * foo *": "unknown name",
    "0 0 * * 9": "out of range",
    "60 * * * *": "out of range",
    "0 24 * * *": "out of range",
    "0 0 0 * *": "out of range",
    "0 0 * 13 *": "out of range",
    "0 0 * * * *": "needs 5 fields",
    "0 3 * *": "needs 5 fields",
    "every day": "needs 5 fields",
    "": "needs 5 fields",
    "0 0 jan * *": "not a number",
}


def reference_times(cron: str, after: datetime, count: int) -> list[datetime]:
    """The first `count` run times after `after` by cron's rules, day by day."""
    fields = parse_cron(cron)
    times: list[datetime] = []
    day = after.date()
    while len(times) < count:
        if fields.day_matches(day):
            for hour in sorted(fields.hours):
                for minute in sorted(fields.minutes):
                    t = datetime(day.year, day.month, day.day, hour, minute, tzinfo=after.tzinfo)
                    if t > after and len(times) < count:
                        times.append(t)
        day += timedelta(days=1)
    return times


def croniter_times(cron: str, after: datetime, count: int) -> list[datetime]:
    times, t = [], after
    for _ in range(count):
        t = next_time(cron, t)
        times.append(t)
    return times


def systemd_times(specs: list[str], after: datetime, count: int) -> list[datetime]:
    """The first `count` elapses of the OnCalendar= values, by systemd-analyze (in UTC)."""
    assert SYSTEMD_ANALYZE
    found: set[datetime] = set()
    for spec in specs:
        out = subprocess.run(
            [SYSTEMD_ANALYZE, "calendar", f"--iterations={count}",
             f"--base-time=@{int(after.timestamp())}", spec],
            capture_output=True, text=True, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
            timeout=30)
        assert out.returncode == 0, f"systemd rejects {spec!r}: {out.stderr}"
        assert "Normalized form:" in out.stdout, out.stdout
        stamps = re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)",
                            out.stdout)
        assert stamps, f"{spec!r} never elapses: {out.stdout}"
        found.update(datetime.fromisoformat(s).replace(tzinfo=UTC) for s in stamps)
    return sorted(found)[:count]


@pytest.mark.parametrize("cron", list(TABLE))
def test_each_expression_gives_its_systemd_calendar(cron: str) -> None:
    assert on_calendar(cron) == TABLE[cron]
    units = systemd_units(Schedule("t", validate_cron(cron), ["a"],
                                   notify_cmd="mail -s hra me"), BASE)
    lines = [line for line in units.splitlines() if line.startswith("OnCalendar=")]
    assert lines == [f"OnCalendar={spec}" for spec in TABLE[cron]]
    assert "OnCalendar=\n" not in units + "\n"


@pytest.mark.parametrize("cron", list(TABLE))
def test_croniter_runs_as_cron_does(cron: str) -> None:
    expr = validate_cron(cron)
    for start in (BASE, datetime(2027, 2, 27, 23, 59, tzinfo=UTC)):
        assert croniter_times(expr, start, 25) == reference_times(expr, start, 25)


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason=NO_SYSTEMD)
@pytest.mark.parametrize("cron", list(TABLE))
def test_systemd_elapses_when_cron_runs(cron: str) -> None:
    expr = validate_cron(cron)
    for start in (BASE, datetime(2027, 2, 27, 23, 59, tzinfo=UTC)):
        assert systemd_times(on_calendar(expr), start, 25) == croniter_times(expr, start, 25)


@pytest.mark.parametrize("cron", list(REFUSED))
def test_refused_with_one_line_saying_why(cron: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        validate_cron(cron)
    message = str(caught.value)
    assert REFUSED[cron] in message and "\n" not in message


def test_names_and_case() -> None:
    assert validate_cron("  0 3 * * MON,Wed ") == "0 3 * * MON,Wed"
    assert parse_cron("0 3 * JAN-mar SUN").months == frozenset({1, 2, 3})
    assert parse_cron("0 3 * * 7").weekdays == parse_cron("0 3 * * 0").weekdays == {0}
    assert validate_cron("@DAILY") == "0 0 * * *"


# Random standard expressions: croniter, cron's rules and systemd agree.
_minute = st.sampled_from(["*", "0", "*/15", "5,35", "10-20", "0-59/20", "7"])
_hour = st.sampled_from(["*", "3", "*/6", "9-17", "8-18/2", "0,12"])
_dom = st.sampled_from(["*", "1", "13", "1,15", "*/2", "10-20", "28-31", "29", "1-31", "31"])
_month = st.sampled_from(["*", "2", "jan,jul", "jun-aug", "*/3", "4,6,9,11", "dec"])
_dow = st.sampled_from(["*", "mon", "1-5", "mon-fri", "sat,sun", "0", "7", "*/2", "1-5/2",
                        "0-6", "fri"])


@settings(max_examples=60, deadline=None)
@given(_minute, _hour, _dom, _month, _dow)
def test_random_expressions_agree(minute: str, hour: str, dom: str, month: str,
                                  dow: str) -> None:
    cron = f"{minute} {hour} {dom} {month} {dow}"
    try:
        expr = validate_cron(cron)
    except ScheduleError as exc:  # only expressions that never run are refused here
        assert "never runs" in str(exc)
        assert reference_times_within(cron, years=60) == []
        return
    assert croniter_times(expr, BASE, 12) == reference_times(expr, BASE, 12)
    if SYSTEMD_ANALYZE:
        assert systemd_times(on_calendar(expr), BASE, 12) == croniter_times(expr, BASE, 12)


def reference_times_within(cron: str, years: int) -> list[datetime]:
    fields = parse_cron(cron)
    day, end = BASE.date(), BASE.date() + timedelta(days=366 * years)
    while day < end:
        if fields.day_matches(day):
            return [datetime(day.year, day.month, day.day, tzinfo=UTC)]
        day += timedelta(days=1)
    return []

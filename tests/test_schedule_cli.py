"""`hra schedule ...` on the command line: refusals and damaged files are one line (never a
traceback), the printed cron lines and systemd units are valid, and the examples of the help
texts run."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from archive.cli import cli
from archive.commands.schedule import register
from archive.schedule import ScheduleBook, now_local, validate_cron
from tests.conftest import ROOT

register(cli)
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
NO_SYSTEMD = "systemd-analyze is not installed: the units are not checked by systemd"


def hra(data_dir: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert "Traceback" not in result.output
    return result


def entry(name: str, cron: str = "0 3 * * *", **extra: object) -> dict[str, object]:
    return {"name": name, "cron": cron, "sources": ["hc-zjwjw"], "all_sources": False,
            "notify_cmd": None, "created_at": now_local().isoformat(timespec="seconds"),
            "crawl_options": []} | extra


def write(data_dir: Path, content: object) -> Path:
    """schedules.json with `content`; every schedule marked as started tomorrow, so nothing is
    due while the test runs (no crawl of a real site)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "schedules.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content),
                    encoding="utf-8")
    not_yet(data_dir)
    return path


def not_yet(data_dir: Path) -> None:
    tomorrow = (now_local() + timedelta(days=1)).isoformat(timespec="seconds")
    book = ScheduleBook(data_dir)
    names = [s.name for s in book.everything()[0]]
    (data_dir / "schedule-state.json").write_text(
        json.dumps(dict.fromkeys(names, tomorrow)), encoding="utf-8")


@pytest.mark.parametrize(("cron", "message"), [
    ("0 0 31 2 *", "error: cron expression '0 0 31 2 *' never runs"),
    ("0 0 30 2 *", "error: cron expression '0 0 30 2 *' never runs"),
    ("@reboot", "error: @reboot is not supported"),
    ("0 0 L * *", "error: invalid cron expression '0 0 L * *': day-of-month 'L': L, W, #"),
    ("0 3 * * mon-sun", "write mon-sun as 1-7"),
])
def test_add_refuses_in_one_line(data_dir: Path, cron: str, message: str) -> None:
    result = hra(data_dir, "schedule", "add", "x", "--cron", cron, "--all")
    assert result.exit_code == 2
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1
    assert message in result.stderr
    assert not (data_dir / "schedules.json").exists()


BAD = [{"name": "feb", "cron": "0 0 31 2 *"}, "junk", entry("feb31", "0 0 31 2 *"),
       entry("typo", crom="0 3 * * *"), entry("boot", "@reboot")]


def test_list_cron_and_run_use_the_good_schedules_and_warn_about_each_bad_one(
        data_dir: Path) -> None:
    path = write(data_dir, [entry("good"), *BAD])
    expected = [f"warning: {path}: entry 2 ('feb'): missing created_at; skipped",
                f"warning: {path}: entry 3: is a JSON string, not an object; skipped",
                f"warning: {path}: entry 4 ('feb31'): cron expression '0 0 31 2 *' never runs",
                f"warning: {path}: entry 5 ('typo'): unknown field(s) crom; skipped",
                f"warning: {path}: entry 6 ('boot'): @reboot is not supported"]

    def check_warnings(lines: list[str]) -> None:
        assert len(lines) == len(expected)
        for line, start in zip(lines, expected, strict=True):
            assert line.startswith(start), line

    listed = hra(data_dir, "schedule", "list")
    assert listed.exit_code == 0
    assert "good" in listed.stdout and "typo" not in listed.stdout
    check_warnings(listed.stderr.splitlines())

    as_json = hra(data_dir, "schedule", "list", "--json")
    assert [(r["name"], r["origin"]) for r in json.loads(as_json.stdout)] == [
        ("good", "schedules.json")]

    cron = hra(data_dir, "schedule", "cron", "--no-systemd")
    assert cron.exit_code == 0
    lines = [x for x in cron.stdout.splitlines() if x and not x.startswith("#")]
    assert len(lines) == 1 and "--trigger cron:good" in lines[0]
    check_warnings(cron.stderr.splitlines())

    run = hra(data_dir, "schedule", "run", "--once")
    assert run.exit_code == 0
    assert "scheduler started: 1 schedule(s)" in run.stdout
    check_warnings([x.split(" ", 1)[1] for x in run.stdout.splitlines() if " warning: " in x])
    assert "scheduler stopped" in run.stdout


@pytest.mark.parametrize(("content", "problem"), [
    ('[{"name": "x", ', "not valid JSON"),
    ('{"nightly": {"cron": "0 3 * * *"}}', "must be a JSON list of schedules, not a JSON object"),
    ('[{"name": "feb31", "cron": "0 0 31 2 *"}]', "entry 1 ('feb31'): missing created_at"),
])
def test_nothing_good_to_run(data_dir: Path, content: str, problem: str) -> None:
    path = write(data_dir, content)
    listed = hra(data_dir, "schedule", "list")
    assert listed.exit_code == 0 and listed.stdout.startswith("no schedules")
    assert listed.stderr.splitlines() == [listed.stderr.strip()]
    assert listed.stderr.startswith(f"warning: {path}: {problem}")
    for args in (["run"], ["cron"]):
        result = hra(data_dir, "schedule", *args)
        assert result.exit_code == 1
        lines = result.stderr.splitlines()
        assert lines[0].startswith(f"warning: {path}: {problem}")
        assert lines[-1].startswith("error: no schedules")
        assert len(lines) == 2


def test_damaged_files_never_give_a_traceback_in_a_real_process(data_dir: Path) -> None:
    write(data_dir, [entry("good"), *BAD, entry("good")])
    (data_dir / "schedule-state.json").write_text("[1, 2", encoding="utf-8")
    (data_dir / "sources.toml").write_text(
        '[[source]]\nname = "mine"\nstart_urls = ["http://127.0.0.1:9/"]\n'
        'schedule = "0 0 31 4 *"\n', encoding="utf-8")
    for args, code in ((["list"], 0), (["cron"], 0), (["remove", "nope"], 2),
                       (["add", "new", "--cron", "@daily", "--all"], 0)):
        result = subprocess.run(
            [sys.executable, "-m", "archive", "--data-dir", str(data_dir), "schedule", *args],
            capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert "Traceback" not in result.stdout + result.stderr
        assert result.returncode == code, result.stderr
        warnings = [x for x in result.stderr.splitlines() if x.startswith("warning: ")]
        if args[0] in ("list", "cron"):
            # 5 bad entries, the second "good", the state file, the source's schedule
            assert len(warnings) == 8 and len(result.stderr.splitlines()) == 8, result.stderr
            assert "sources.toml: source 'mine': schedule: cron expression '0 0 31 4 *'" \
                in result.stderr
            assert "schedule-state.json: cannot read" in result.stderr
    stored = json.loads((data_dir / "schedules.json").read_text(encoding="utf-8"))
    assert [e if isinstance(e, str) else e["name"] for e in stored] == [
        "good", "feb", "junk", "feb31", "typo", "boot", "good", "new"]


# ---------------------------------------------------------------------------------------------
# What `hra schedule cron` prints


def units_of(output: str) -> dict[str, str]:
    """The systemd unit files printed by `hra schedule cron` (file name -> content)."""
    parts = re.split(r"^# ~/\.config/systemd/user/(\S+)\n", output, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_cron_prints_calendars_notify_and_source_schedules(data_dir: Path, tmp_path: Path) -> None:
    (data_dir).mkdir(parents=True)
    (data_dir / "sources.toml").write_text(
        '[[source]]\nname = "mine"\nstart_urls = ["http://127.0.0.1:9/"]\n'
        'schedule = "15 4 * * 1-5"\n', encoding="utf-8")
    for name, cron, more in (("days", "0 3 * * mon,wed", ["--notify-cmd", "cat > /dev/null"]),
                             ("either", "0 6 1,15 * fri", []),
                             ("summer", "*/30 8-18 * jun-aug sat,sun", [])):
        assert hra(data_dir, "schedule", "add", name, "--cron", cron, "hc-zjwjw",
                   *more).exit_code == 0
    result = hra(data_dir, "schedule", "cron")
    assert result.exit_code == 0 and result.stderr == ""
    units = units_of(result.stdout)
    assert sorted(units) == sorted(f"hra-{n}.{kind}" for n in ("days", "either", "summer",
                                                               "source-mine")
                                   for kind in ("service", "timer"))
    calendars = {name: re.findall(r"^OnCalendar=(.*)$", text, flags=re.M)
                 for name, text in units.items() if name.endswith(".timer")}
    assert calendars == {
        "hra-days.timer": ["Mon,Wed *-*-* 03:00:00"],
        "hra-either.timer": ["*-*-01,15 06:00:00", "Fri *-*-* 06:00:00"],
        "hra-summer.timer": ["Sat,Sun *-06..08-* 08..18:00,30:00"],
        "hra-source-mine.timer": ["Mon..Fri *-*-* 04:15:00"],
    }
    assert "ExecStopPost=" in units["hra-days.service"]
    assert "schedule notify days --trigger systemd:days" in units["hra-days.service"]
    assert "ExecStopPost=" not in units["hra-either.service"]
    crontab = [x for x in result.stdout.splitlines() if re.match(r"[\d*]", x)]
    assert len(crontab) == 4
    for line in crontab:
        validate_cron(" ".join(line.split()[:5]))
    assert any("schedule notify days --trigger cron:days --exit-code $?" in x for x in crontab)
    assert any("crawl mine --trigger cron:source:mine" in x for x in crontab)
    if SYSTEMD_ANALYZE is None:
        pytest.skip(NO_SYSTEMD)
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    for name, text in units.items():
        (unit_dir / name).write_text(text, encoding="utf-8")
    verify = subprocess.run([SYSTEMD_ANALYZE, "verify", *map(str, sorted(unit_dir.iterdir()))],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr


# ---------------------------------------------------------------------------------------------
# The examples of the help texts run


def help_examples() -> list[str]:
    group = cli.commands["schedule"]
    assert isinstance(group, click.Group)
    out = []
    for cmd in [group, *(group.commands[n] for n in sorted(group.commands))]:
        if cmd.hidden:
            continue
        text = (cmd.help or "").split("Example", 1)
        for line in text[1].splitlines() if len(text) > 1 else []:
            if line.strip().startswith("hra "):
                out.append(line.strip())
    return out


def test_every_schedule_help_example_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    examples = help_examples()
    assert len(examples) >= 12, examples
    ran = 0
    for line in examples:
        words = shlex.split(line, comments=True)
        pipe = words.index("|") if "|" in words else len(words)
        args = words[1:pipe]
        assert words[0] == "hra"
        if args[:2] == ["schedule", "run"] or args[:2] == ["schedule", "cron"]:
            not_yet(data_dir)  # nothing is due: no crawl of a real site
        if args == ["schedule", "run"]:
            run_scheduler_until_started(data_dir)
            ran += 1
            continue
        result = hra(data_dir, *args)
        assert result.exit_code == 0, f"{line}\n{result.output}"
        if pipe < len(words):  # `| crontab -`: what crontab reads is crontab lines
            lines = [x for x in result.stdout.splitlines() if x and not x.startswith("#")]
            assert lines
            for cron_line in lines:
                validate_cron(" ".join(cron_line.split()[:5]))
        ran += 1
    assert ran == len(examples)
    # `add` checks source names against `hra sources`: the examples name real sources.
    names = [s.name for s in ScheduleBook(data_dir).all()]
    assert "provinces" in names and "workdays" not in names  # added, and removed again


def run_scheduler_until_started(data_dir: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive", "--data-dir", str(data_dir), "schedule", "run"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        first = proc.stdout.readline()
        assert "scheduler started" in first, first
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert "scheduler stopped" in output and "Traceback" not in output
    assert "crawling" not in output


"""Exports are all-or-nothing under kill -9 (issue #17): a killed export leaves nothing or the
whole result, its leftovers are cleaned by the next export into the same place (never a live
export's), an export killed while moving files into an existing directory is rolled back by
the next one; nothing is ever written inside the data dir; file names carry no invisible
format characters.

Kills are real: a forked child dies by SIGKILL at a chosen step (deterministic, every step),
and `python -m archive export` processes are killed at random moments (a few trials here; the
full 20 per format are `python bench/export_kill.py`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from archive.export import ExportError, clean_leftovers, export, refuse_inside, safe_name
from archive.record import Record
from tests.conftest import ROOT
from tests.search_fixtures import archive, hra, record

pytestmark = pytest.mark.skipif(os.name != "posix", reason="kill -9, fork and flock are POSIX")

OLD = b"an older file\n"


def rec(i: int) -> Record:
    return Record(id=f"{i:016x}", url=f"http://wjw.example.gov.cn/{i}.html", title=f"工作总结{i}",
                  published="2024-01-05", year=2023, site="滨江市卫生健康委员会", column="工作总结",
                  region=None, doc_type="summary", text="全市深入推进医共体建设。\n下一步继续深化医改。")


RECORDS = [rec(i) for i in range(4)]
NAMES = sorted(f"2024-01-05_工作总结{i}.txt" for i in range(4))


def source(records: list[Record] = RECORDS):
    return lambda: iter(records)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def killed_at(step: int, action: Callable[[], object], *calls: str) -> bool:
    """Run `action` in a forked child that SIGKILLs itself (no cleanup, no `finally`, like
    kill -9) just before its `step`-th call (from 0) of the `os` functions named in `calls`.
    True when it was killed, False when it finished first."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            count = [0]
            for name in calls:
                real = getattr(os, name)

                def dying(*args: object, _real: Callable[..., object] = real,
                          **kwargs: object) -> object:
                    if count[0] == step:
                        os.kill(os.getpid(), signal.SIGKILL)
                    count[0] += 1
                    return _real(*args, **kwargs)

                setattr(os, name, dying)
            action()
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code in (0, -signal.SIGKILL), code
    return code == -signal.SIGKILL


def snapshot(place: Path) -> dict[str, bytes]:
    return {str(p.relative_to(place)): p.read_bytes() for p in sorted(place.rglob("*"))
            if p.is_file()}


def hidden(place: Path) -> list[str]:
    return sorted(str(p.relative_to(place)) for p in place.rglob(".*"))


def with_old_files(out: Path) -> dict[str, bytes]:
    """`out` holding an older file of every exported name but one, and the user's own file."""
    out.mkdir()
    for name in NAMES[1:]:
        (out / name).write_bytes(OLD)
    (out / "my notes.txt").write_bytes(b"mine")
    return snapshot(out)


# ---------------------------------------------------------------------------------------------
# Deterministic kills at every step


def test_new_directory_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    out = tmp_path / "out"
    seen: list[bool] = []

    def watching():
        for r in RECORDS:
            seen.append(out.exists())  # while files are written, the target does not exist
            yield r

    summary = export(watching, "txt", out)
    assert seen == [False] * 4 and summary.files == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert sorted(p.name for p in out.iterdir()) == NAMES

    # Killed before the rename (nothing), or after it, before the staging was removed (whole).
    for place, killed_before in ((tmp_path / "a", True), (tmp_path / "b", False)):
        place.mkdir()
        target = place / "out"
        call = "rename" if killed_before else "rmdir"  # rmtree's last call is rmdir
        assert killed_at(0, partial(export, source(), "txt", target), call)
        assert target.exists() != killed_before
        if target.exists():
            assert sorted(p.name for p in target.iterdir()) == NAMES
        assert [n for n in hidden(place) if n.count("/") == 0 and n.startswith(".hra-export-")]
        summary = export(source(), "txt", target, force=True)  # the next export cleans up
        assert hidden(place) == [] and sorted(p.name for p in target.iterdir()) == NAMES
        assert any("killed export" in note for note in summary.notes)


def test_killed_while_moving_into_a_directory_is_rolled_back_at_every_step(
        tmp_path: Path) -> None:
    """--force into a directory that has files: killed at each rename of the commit, then the
    rollback itself killed at each of its renames; the next export always restores the
    directory exactly as it was (then exports the whole result)."""
    base = tmp_path / "base"
    before = with_old_files(base)
    step = 0
    while True:
        out = tmp_path / f"k{step}"
        shutil.copytree(base, out)
        if not killed_at(step, partial(export, source(), "txt", out, force=True), "replace"):
            break  # finished: the journal's and each file's renames were all covered
        assert [p.name for p in out.iterdir() if p.name.startswith(".hra-export-")]
        state = snapshot(out)
        visible = {k: v for k, v in state.items() if not k.startswith(".")}
        # Each visible file is the old one or the complete new one; the user's is untouched.
        assert visible.pop("my notes.txt") == b"mine"
        assert all(v == OLD or v.startswith("标题: 工作总结".encode()) for v in visible.values())
        for rollback_step in range(12):
            again = tmp_path / f"k{step}-r{rollback_step}"
            shutil.copytree(out, again)
            interrupted = killed_at(rollback_step, partial(clean_leftovers, again), "replace")
            clean_leftovers(again)  # a rollback killed half-way is finished by the next one
            assert snapshot(again) == before, (step, rollback_step)
            if not interrupted:
                break
        summary = export(source(), "txt", out, force=True)
        assert sorted(p.name for p in out.iterdir()) == [*NAMES, "my notes.txt"]
        assert (out / "my notes.txt").read_bytes() == b"mine"
        assert not any(v == OLD for v in snapshot(out).values())
        assert hidden(out) == []
        journaled = any(k.endswith("/journal") for k in state)
        assert journaled == any("rolled back" in note for note in summary.notes)
        step += 1
    assert step >= 1 + 3 + 4  # the journal, 3 old files aside, 4 new files in
    assert sorted(p.name for p in out.iterdir()) == [*NAMES, "my notes.txt"]
    assert hidden(out) == []


def test_killed_single_file_export_leaves_nothing_and_its_temp_file_goes(tmp_path: Path) -> None:
    target = tmp_path / "x.jsonl"
    target.write_text("the previous export\n")
    assert killed_at(0, lambda: export(source(), "jsonl", target, force=True), "replace")
    assert target.read_text() == "the previous export\n"  # untouched, not half-written
    [part] = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert part.name.startswith(".x.jsonl.hra-") and part.stat().st_size > 0
    summary = export(source(), "jsonl", target, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.jsonl"]
    assert len(target.read_text().splitlines()) == 4
    assert summary.notes == [f"removed the temporary file of a killed export: {part}"]


# ---------------------------------------------------------------------------------------------
# Whose leftovers are removed


def test_only_dead_owners_leftovers_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    dead = dead_pid()
    gone = out / f".hra-export-{dead}-abc123de"  # killed: its pid is gone, its lock free
    (gone / "new").mkdir(parents=True)
    (gone / "new" / "a.txt").write_text("x")
    (gone / "lock").touch()
    beside = tmp_path / f".hra-export-{dead}-zzz"  # of a killed export into a new directory
    (beside / "new").mkdir(parents=True)
    part = tmp_path / f".x.jsonl.hra-{dead}-q1w2e3r4.part"
    part.write_text("{}\n")
    born = out / f".hra-export-{os.getpid()}-born0000"  # being made: live pid, no lock yet
    born.mkdir()
    locked = out / f".hra-export-{dead}-locked00"  # pid unknown here (another pid namespace)
    locked.mkdir()                                 # but its lock is held: alive
    from archive.export import _hold_lock

    holder = _hold_lock(locked / "lock")
    try:
        summary = export(source(), "txt", out)
        assert not gone.exists() and not beside.exists() and not part.exists()
        assert born.exists() and locked.exists()
        assert len(summary.notes) == 3
    finally:
        holder.close()
    clean_leftovers(out)
    assert not locked.exists() and born.exists()  # released: dead now; born: pid alive


def test_a_live_export_is_never_disturbed(tmp_path: Path) -> None:
    """A second export into the same directory while the first is writing leaves it alone."""
    out = tmp_path / "out"
    out.mkdir()
    second: list[object] = []

    def slow():
        for i, r in enumerate(RECORDS):
            if i == 2:  # half-way: another export into the same place
                second.append(export(source([rec(9)]), "md", out))
            yield r

    export(slow, "txt", out)
    assert sorted(p.name for p in out.iterdir()) == sorted([*NAMES, "2024-01-05_工作总结9.md"])
    assert second[0].notes == []  # type: ignore[attr-defined]


def test_legacy_leftovers_are_removed_when_old(tmp_path: Path) -> None:
    """Leftovers of hra before leftovers named their owner (no pid): removed when untouched
    for an hour, and only those of this target."""
    out = tmp_path / "out"
    out.mkdir()
    old_staging, new_staging = out / ".hra-export-a1b2c3d4", out / ".hra-export-e5f6g7h8"
    for d in (old_staging, new_staging):
        (d / "x.docx").parent.mkdir()
        (d / "x.docx").write_text("x")
    old_part, other_part = tmp_path / ".x.jsonl.k9j8h7g6.part", tmp_path / ".y.jsonl.k9j8h7g6.part"
    for f in (old_part, other_part):
        f.write_text("{}")
    hour_ago = time.time() - 3700
    for p in (old_staging, old_part, other_part):
        os.utime(p, (hour_ago, hour_ago))
    export(source(), "txt", out)
    export(source(), "jsonl", tmp_path / "x.jsonl")
    assert not old_staging.exists() and not old_part.exists()
    assert new_staging.exists() and other_part.exists()


def test_damaged_journal_is_one_line_and_nothing_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    staging = out / f".hra-export-{dead_pid()}-abcdefgh"
    (staging / "old").mkdir(parents=True)
    (staging / "old" / "precious.txt").write_text("the user's old file")
    (staging / "journal").write_text("{not json")
    with pytest.raises(ExportError, match="journal is damaged") as info:
        export(source(), "txt", out)
    assert "\n" not in str(info.value)
    assert (staging / "old" / "precious.txt").exists()


def test_force_into_a_directory_keeps_other_files_and_refuses_to_replace_a_directory(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    with_old_files(out)
    (out / NAMES[0]).mkdir()  # a directory where a file would go
    (out / NAMES[0] / "inside").write_text("keep")
    before = snapshot(out)
    with pytest.raises(ExportError, match="is a directory"):
        export(source(), "txt", out, force=True)
    assert snapshot(out) == before and hidden(out) == []
    shutil.rmtree(out / NAMES[0])
    export(source(), "txt", out, force=True)
    assert (out / "my notes.txt").read_bytes() == b"mine"
    assert sorted(p.name for p in out.iterdir()) == [*NAMES, "my notes.txt"]


# ---------------------------------------------------------------------------------------------
# The data dir


def test_output_inside_the_data_dir_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "pages").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(data)
    for output in (data / "archive.sqlite3", data, data / "pages" / "x.jsonl",
                   link / "archive.sqlite3", tmp_path / "elsewhere" / ".." / "data" / "w",
                   tmp_path / "link" / "new" / "dir"):
        with pytest.raises(ExportError, match="inside the data dir") as info:
            refuse_inside(output, data)
        assert info.value.exit_code == 2
        with pytest.raises(ExportError, match="inside the data dir"):
            refuse_inside(output, link)  # the data dir named through a symlink
    for output in (tmp_path / "data2", tmp_path / "out.jsonl", tmp_path):
        refuse_inside(output, data)
    with pytest.raises(ExportError, match="inside the data dir"):
        export(source(), "jsonl", data / "archive.sqlite3", force=True, data_dir=data)


@pytest.mark.parametrize("how", ["archive.sqlite3", "symlink", "docx-dir"])
def test_cli_never_writes_inside_the_data_dir(tmp_path: Path, how: str) -> None:
    data = tmp_path / "data"
    archive(data, [record(1, "工作总结", "全市深入推进医共体建设。")])
    files = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in data.rglob("*")
             if p.is_file() and "-wal" not in p.name and "-shm" not in p.name}
    (tmp_path / "link").symlink_to(data)
    args = {"archive.sqlite3": ["-o", str(data / "archive.sqlite3"), "--force"],
            "symlink": ["-o", str(tmp_path / "link" / "archive.sqlite3"), "--force"],
            "docx-dir": ["--format", "docx", "-o", str(data), "--force"]}[how]
    result = hra("export", *args, data_dir=data)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "inside the data dir" in result.stderr
    assert "Traceback" not in result.stderr
    for path, digest in files.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert hra("list", data_dir=data).returncode == 0


# ---------------------------------------------------------------------------------------------
# File names


def test_format_and_control_characters_never_reach_file_names(tmp_path: Path) -> None:
    titles = ["报告\u202egpj.exe", "卫生\u200b健康\u00ad委\ufeff", "a\u2066b\u2069c\u061c",
              "x\x85y\x9fz", "\u202e\u202d", "CO\u200bN"]
    records = [rec(i) for i in range(len(titles))]
    for r, title in zip(records, titles, strict=True):
        r.title, r.published, r.year = title, None, None  # type: ignore[misc]
    export(source(records), "txt", tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    import unicodedata

    for name in names:
        assert not [c for c in name if unicodedata.category(c) in ("Cf", "Cc")], name
    assert "undated_报告gpj.exe.txt" in names and "undated_卫生健康委.txt" in names
    taken: set[str] = set()
    assert safe_name("CO\u200bN", "txt", taken) == "_CON.txt"  # reserved once invisible gone
    assert safe_name("x\x85y", "txt", taken) == "x_y.txt"


# ---------------------------------------------------------------------------------------------
# Real processes killed at random moments (3 trials each; 20 each: bench/export_kill.py)

DOCS = 300


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("kill") / "data"
    text = "\n".join(["全市深入推进紧密型县域医共体建设，家庭医生签约服务覆盖率达到75.3%。"] * 150)
    archive(data, [record(i, f"滨江市卫生健康委工作总结第{i}号", text) for i in range(DOCS)])
    return data


#: `hra` with its moves into place slowed down (3 ms each), to be killed among them.
SLOW_MOVES = """
import os, sys, time
real = os.replace
def replace(a, b):
    time.sleep(0.003)
    return real(a, b)
os.replace = replace
from archive.cli import main
main()
"""
#: `hra` writing JSONL lines slowly (1 ms each), to be killed while writing.
SLOW_LINES = """
import sys, time
import archive.export as e
real = e._jsonl
def line(record, no_text):
    time.sleep(0.001)
    return real(record, no_text)
e._jsonl = line
from archive.cli import main
main()
"""


def run_and_kill(cmd: list[str], first: Callable[[], bool], spread: float,
                 rng: random.Random) -> None:
    """Start `cmd`, wait until `first()` (the export has begun writing), then kill it -9 at a
    random moment within `spread` seconds (it may have finished by then)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.monotonic() + 30
    while proc.poll() is None and not first() and time.monotonic() < deadline:
        time.sleep(0.001)
    try:
        proc.wait(rng.uniform(0, spread))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def export_cmd(data: Path, *args: str, script: str | None = None) -> list[str]:
    head = [sys.executable, "-c", script] if script else [sys.executable, "-m", "archive"]
    return [*head, "--data-dir", str(data), "export", *args]


def plain(cmd: list[str]) -> list[str]:
    """The command of `export_cmd(..., script=...)` run by the real `hra`."""
    return [cmd[0], "-m", "archive", *cmd[3:]]


def valid_docx(path: Path) -> bool:
    with zipfile.ZipFile(path) as z:
        return "word/document.xml" in z.namelist()


@pytest.mark.parametrize("trial", range(3))
def test_docx_killed_at_a_random_moment(big: Path, tmp_path: Path, trial: int) -> None:
    rng = random.Random(1700 + trial)
    out = tmp_path / "out"
    cmd = export_cmd(big, "--format", "docx", "-o", str(out))
    run_and_kill(cmd, lambda: any(tmp_path.glob(".hra-export-*")), 1.5, rng)
    visible = sorted(out.iterdir()) if out.exists() else []
    assert len(visible) in (0, DOCS)  # nothing or the whole result
    rerun = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if visible:  # already complete: the same command refuses to overwrite it
        assert rerun.returncode == 1 and "use --force" in rerun.stderr
    else:
        assert rerun.returncode == 0, rerun.stderr
    assert "Traceback" not in rerun.stderr
    files = sorted(out.iterdir())
    assert len(files) == DOCS and all(valid_docx(f) for f in files[:: DOCS // 10])
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("trial", range(3))
def test_jsonl_killed_at_a_random_moment(big: Path, tmp_path: Path, trial: int) -> None:
    rng = random.Random(1800 + trial)
    target = tmp_path / "x.jsonl"
    cmd = export_cmd(big, "--format", "jsonl", "-o", str(target), script=SLOW_LINES)
    run_and_kill(cmd, lambda: any(tmp_path.glob(".x.jsonl.*")), 0.35, rng)
    if target.exists():
        assert len(target.read_text(encoding="utf-8").splitlines()) == DOCS
        target.unlink()
    rerun = subprocess.run(plain(cmd), capture_output=True, text=True, cwd=ROOT)
    assert rerun.returncode == 0, rerun.stderr
    lines = target.read_text(encoding="utf-8").splitlines()
    assert len(lines) == DOCS and json.loads(lines[-1])["id"]
    assert [p.name for p in tmp_path.iterdir()] == ["x.jsonl"]


@pytest.mark.parametrize("trial", range(3))
def test_docx_force_killed_while_moving_is_rolled_back(big: Path, tmp_path: Path,
                                                       trial: int) -> None:
    rng = random.Random(1900 + trial)
    out = tmp_path / "out"
    docs = 100
    first = subprocess.run(export_cmd(big, "--format", "docx", "--limit", str(docs), "-o",
                                      str(out)), capture_output=True, text=True, cwd=ROOT)
    assert first.returncode == 0, first.stderr
    for f in out.iterdir():
        f.write_bytes(OLD)
    (out / "my notes.txt").write_bytes(b"mine")
    before = snapshot(out)
    cmd = export_cmd(big, "--format", "docx", "--limit", str(docs), "-o", str(out), "--force",
                     script=SLOW_MOVES)
    run_and_kill(cmd, lambda: any(out.glob(".hra-export-*/journal")), 0.6, rng)
    staging = [p for p in out.iterdir() if p.name.startswith(".hra-export-")]
    if staging:  # killed while moving: the journal lets the next export roll back
        assert (staging[0] / "journal").exists()
    clean_leftovers(out)
    after = snapshot(out)
    assert after == before or (  # rolled back, or it had completed
        after["my notes.txt"] == b"mine" and OLD not in after.values() and len(after) == docs + 1)
    rerun = subprocess.run(plain(cmd), capture_output=True, text=True, cwd=ROOT)
    assert rerun.returncode == 0, rerun.stderr
    final = snapshot(out)
    assert final["my notes.txt"] == b"mine" and OLD not in final.values()
    assert len(final) == docs + 1 and hidden(tmp_path) == []

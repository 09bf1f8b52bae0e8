"""Exports killed with -9 at random moments leave nothing or the whole result (issue #17).

    python bench/export_kill.py [--trials 20] [--docs 2000] [--jsonl-docs 20000] [--seed 17]
                                [--keep DIR]

Builds an archive with the Store API, then for each scenario runs `python -m archive export`
--trials times, kills it with SIGKILL at a random moment, looks at the output place, and runs
the same command again:

* docx:        ``--format docx --limit DOCS -o out/`` into a directory that does not exist;
               killed uniformly in [0, 1.1 x the time of a full export].
* jsonl:       ``--format jsonl -o x.jsonl`` (all --jsonl-docs documents); killed the same way.
* docx-force:  ``--format docx --limit DOCS -o out/ --force`` into a directory holding an
               older file of every name and a file of the user's own; half the trials are
               killed at a random moment, half while files are being moved into place (the
               moment the staging journal appears, plus a random delay within the move).

After the kill the place holds "nothing" (no output, or only the older files), the "whole"
result, "moving" (killed while moving into an existing directory: the journal says so and the
rerun rolls back) or "partial" (a failure). Leftovers are hidden staging directories and
.part files. After the rerun every trial must hold the whole result and no leftover; a rerun
of a plain export whose kill came after the result was complete refuses ("exists; use
--force"), which is counted as "already complete". Exit status 1 if any trial failed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.record import Record  # noqa: E402
from archive.store import Store  # noqa: E402

PARAGRAPH = "全市深入推进紧密型县域医共体建设，家庭医生签约服务覆盖率达到75.3%。"
OLD = b"an older export\n"


def build(data_dir: Path, n: int) -> None:
    with Store(data_dir) as store, store.transaction():
        for i in range(n):
            store.put_document(Record(
                id=f"{i:016x}", url=f"http://wjw.example.gov.cn/t2023_{i}.html",
                title=f"滨江市卫生健康委2023年工作总结（第{i}号）", published="2024-01-15",
                year=2023, site="滨江市卫生健康委员会", column="工作总结", region=None,
                doc_type="summary", text="\n".join([PARAGRAPH] * 40)))


def hra(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "archive", "--data-dir", str(data_dir), "export", *args]


def leftovers(place: Path) -> list[Path]:
    """Hidden staging directories and temporary files anywhere under `place`."""
    return [p for p in place.rglob(".*") if p.name.startswith(".hra-export-")
            or p.name.endswith(".part")]


def valid_docx(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return "word/document.xml" in z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def docx_state(out: Path, n: int, olds: set[str], own: Path | None) -> str:
    if own is not None and (not own.exists() or own.read_bytes() != OLD):
        return "partial (the user's own file was touched)"
    if not out.exists():
        return "nothing"
    files = [p for p in out.iterdir() if not p.name.startswith(".") and p != own]
    old = [p for p in files if p.read_bytes() == OLD]
    new = [p for p in files if p.read_bytes() != OLD]
    if not new and {p.name for p in old} == olds:
        return "nothing"
    if len(new) == n and all(valid_docx(p) for p in new):
        return "whole"
    if any((s / "journal").exists() for s in out.glob(".hra-export-*")):
        return "moving"
    return f"partial ({len(new)} new, {len(old)} old)"


def jsonl_state(out: Path, n: int) -> str:
    if not out.exists():
        return "nothing"
    try:
        lines = out.read_text(encoding="utf-8").splitlines()
        if len(lines) == n and all(json.loads(line)["id"] for line in lines):
            return "whole"
    except (ValueError, KeyError):
        pass
    return "partial"


def kill_at(cmd: list[str], delay: float) -> float:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.perf_counter()
    try:
        proc.wait(delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return time.perf_counter() - start


def watch_journal(proc: subprocess.Popen[bytes], out: Path) -> Path | None:
    """Wait until the export's staging journal appears in `out` (files start moving)."""
    journal = None
    while proc.poll() is None:
        if journal is None:
            journal = next((s / "journal" for s in out.glob(".hra-export-*")), None)
            time.sleep(0.005)
        elif journal.exists():
            return journal
        else:
            time.sleep(0.0002)
    return None


def move_duration(cmd: list[str], out: Path) -> float:
    """How long an export takes to move its files into `out` (its journal's lifetime)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = watch_journal(proc, out)
    start = time.perf_counter()
    while journal is not None and journal.exists():
        time.sleep(0.0002)
    elapsed = time.perf_counter() - start
    proc.wait()
    return elapsed


def kill_while_moving(cmd: list[str], out: Path, move_time: float, rng: random.Random) -> float:
    """Kill when the staging journal appears (files start moving) plus a random delay."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.perf_counter()
    if watch_journal(proc, out) is not None:
        time.sleep(rng.uniform(0, move_time))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return time.perf_counter() - start


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def prepare_force(out: Path, names: list[str]) -> Path:
    out.mkdir()
    for name in names:
        (out / name).write_bytes(OLD)
    own = out / "my notes.txt"
    own.write_bytes(OLD)
    return own


def scenario(label: str, args: list[str], data_dir: Path, work: Path, trials: int, n: int,
             rng: random.Random, names: list[str] | None = None, verbose: bool = False) -> bool:
    target_name = "x.jsonl" if "jsonl" in args else "out"
    is_docx = target_name == "out"
    force = names is not None
    # A full run, timed, to draw kill moments from (and, for --force, the move time).
    probe = work / f"{label}-probe"
    probe.mkdir()
    if force:
        prepare_force(probe / "out", names or [])
    full = timed(hra(data_dir, *args, "-o", str(probe / target_name)))
    move_time = 0.0
    if force:
        shutil.rmtree(probe)
        probe.mkdir()
        prepare_force(probe / "out", names or [])
        move_time = move_duration(hra(data_dir, *args, "-o", str(probe / "out")), probe / "out")
    shutil.rmtree(probe)
    after_kill: Counter[str] = Counter()
    after_rerun: Counter[str] = Counter()
    rerun_codes: Counter[str] = Counter()
    left_kill = trials_with_leftovers = left_rerun = 0
    moments: list[float] = []
    ok = True
    for t in range(trials):
        place = work / f"{label}-{t}"
        place.mkdir()
        target = place / target_name
        own = prepare_force(target, names or []) if force else None
        cmd = hra(data_dir, *args, "-o", str(target))
        how = "while moving" if force and t % 2 else "at random"
        if force and t % 2:
            moments.append(kill_while_moving(cmd, target, move_time, rng))
        else:
            moments.append(kill_at(cmd, rng.uniform(0, full * 1.1)))
        state = docx_state(target, n, set(names or []), own) if is_docx \
            else jsonl_state(target, n)
        after_kill[state.split(" (")[0]] += 1
        found = leftovers(place)
        left_kill += len(found)
        trials_with_leftovers += bool(found)
        rerun = subprocess.run(cmd, capture_output=True, text=True)
        final = docx_state(target, n, set(names or []), own) if is_docx \
            else jsonl_state(target, n)
        remaining = leftovers(place)
        left_rerun += len(remaining)
        if "rolled back an interrupted export" in rerun.stderr:
            rerun_codes["rolled back first"] += 1
        if rerun.returncode == 0:
            rerun_codes["completed (exit 0)"] += 1
        elif "exists; use --force" in rerun.stderr and state == "whole":
            rerun_codes["already complete (refused)"] += 1
        else:
            rerun_codes[f"exit {rerun.returncode}"] += 1
        after_rerun[final] += 1
        if verbose:
            print(f"  trial {t:2}: killed {how} at {moments[-1]:6.3f} s -> {state:<8} "
                  f"{len(found)} leftover(s); rerun exit {rerun.returncode} -> {final}, "
                  f"{len(remaining)} leftover(s)", flush=True)
        bad = state.startswith("partial") or final != "whole" or remaining or (
            rerun.returncode != 0 and state != "whole") or "Traceback" in rerun.stderr
        if bad:
            ok = False
            print(f"  FAILED trial {t}: killed at {moments[-1]:.3f} s -> {state}, "
                  f"{len(found)} leftover(s); rerun exit {rerun.returncode} -> {final}, "
                  f"{len(remaining)} leftover(s): {rerun.stderr.strip()[-300:]}")
        shutil.rmtree(place)
    moving = f", moving files {move_time:.3f} s" if force else ""
    print(f"{label}: {trials} trials, full export {full:.2f} s{moving}, killed at "
          f"{min(moments):.3f}-{max(moments):.3f} s")
    print(f"  after the kill:  {dict(sorted(after_kill.items()))}; leftovers {left_kill} "
          f"in {trials_with_leftovers} trial(s)")
    print(f"  after the rerun: {dict(sorted(after_rerun.items()))}; "
          f"reruns {dict(sorted(rerun_codes.items()))}; leftovers {left_rerun}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--docs", type=int, default=2000, help="documents per Word export")
    parser.add_argument("--jsonl-docs", type=int, default=20000, help="documents in the archive")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    parser.add_argument("--only", choices=["docx", "jsonl", "docx-force"], action="append",
                        help="run only this scenario (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per trial")
    args = parser.parse_args()
    only = set(args.only or ["docx", "jsonl", "docx-force"])
    rng = random.Random(args.seed)
    work = args.keep or Path(tempfile.mkdtemp(prefix="hra-export-kill-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        data_dir = work / "data"
        total = max(args.docs, args.jsonl_docs)
        if not (data_dir / "archive.sqlite3").exists():
            build(data_dir, total)
        docx = ["--format", "docx", "--limit", str(args.docs)]
        names_dir = work / "names"
        if not names_dir.exists():
            subprocess.run(hra(data_dir, *docx, "-o", str(names_dir)), check=True,
                           capture_output=True)
        names = sorted(p.name for p in names_dir.iterdir())
        ok = True
        if "docx" in only:
            ok &= scenario("docx", docx, data_dir, work, args.trials, args.docs, rng,
                           verbose=args.verbose)
        if "jsonl" in only:
            ok &= scenario("jsonl", ["--format", "jsonl"], data_dir, work, args.trials, total,
                           rng, verbose=args.verbose)
        if "docx-force" in only:
            ok &= scenario("docx-force", [*docx, "--force"], data_dir, work, args.trials,
                           args.docs, rng, names, verbose=args.verbose)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("all trials: nothing or the whole result; every rerun complete, no leftovers" if ok
          else "SOME TRIALS FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

"""Export throughput and memory on a large generated archive.

    python bench/export.py [--docs 100000] [--keep DIR]

Builds an archive of N generated report documents (~3,000 characters each), then runs
`hra export` in a fresh process per format (jsonl, csv, docx one file per document, docx in
one file, md in one file) and prints documents/s and the peak RSS of that process.
Targets: jsonl/csv >= 5,000 docs/s; peak RSS < 300 MB for every format.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from archive.record import Record
from archive.store import Store

RUN = """
import resource, sys
from archive.cli import cli, _register_command_modules
_register_command_modules()
try:
    cli.main(args=sys.argv[1:], prog_name="hra", standalone_mode=False)
finally:
    print("RSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""

from benchlib import CITIES, SENTENCES  # noqa: E402


def build(data_dir: Path, n: int) -> None:
    rng = random.Random(5)
    with Store(data_dir) as store:
        store.db.execute("BEGIN")
        for i in range(n):
            city = rng.choice(CITIES)
            year = rng.randint(2018, 2024)
            paras = [rng.choice(SENTENCES).format(city=city, a=rng.randint(2, 99),
                                                  b=rng.randint(100, 999), p=rng.randint(60, 99))
                     for _ in range(60)]
            record = Record(
                id=f"{i:016x}", url=f"http://wjw.example{i % 97}.gov.cn/t{year}0101_{i}.html",
                title=f"{city}卫生健康委{year}年工作总结（第{i}号）", published=f"{year + 1}-01-15",
                year=year, site=f"{city}卫生健康委员会", column="工作总结", region=None,
                doc_type="summary", text="\n".join(paras), truncated=i % 11 == 0,
                placeholders=i % 13 == 0)
            store._upsert_document(record, None)
        store.db.execute("COMMIT")


def run(data_dir: Path, out: Path, n: int, label: str, *args: str) -> None:
    cmd = [sys.executable, "-c", RUN, "--data-dir", str(data_dir), "export", *args, "--force"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"{label:<22} failed: {proc.stderr.strip()[-300:]}")
        return
    rss = next(int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("RSS"))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) if out.is_dir() \
        else out.stat().st_size
    print(f"{label:<22} {n / elapsed:9.0f} docs/s  {elapsed:7.1f} s  peak RSS {rss / 1024:6.0f} MB"
          f"  output {size / 1e6:8.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="keep the archive and outputs here")
    parser.add_argument("--formats", default="jsonl,csv,md,docx1,docx",
                        help="which to run: jsonl,csv,md (one file),docx1 (one file),docx")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="hra-bench-export-"))
    data = root / "data"
    try:
        if not (data / "archive.sqlite3").exists():
            start = time.perf_counter()
            build(data, args.docs)
            print(f"built an archive of {args.docs} documents in "
                  f"{time.perf_counter() - start:.0f} s")
        n = args.docs
        runs = {
            "jsonl": ("jsonl", root / "all.jsonl", "--format", "jsonl"),
            "csv": ("csv", root / "all.csv", "--format", "csv"),
            "md": ("md (one file)", root / "all.md", "--format", "md", "--one-file"),
            "docx1": ("docx (one file)", root / "all.docx", "--format", "docx", "--one-file"),
            "docx": ("docx (per document)", root / "docx", "--format", "docx"),
        }
        for key in args.formats.split(","):
            label, out, *options = runs[key]
            run(data, out, n, label, *options, "-o", str(out))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

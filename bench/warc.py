"""WARC export and import throughput beside the formats they stand next to, in the same run.

    python bench/warc.py [--pages 2000] [--keep DIR]

Writes N generated report pages (~6 KB of HTML each, UTF-8 and GBK) as saved HTML files, then
times, each in a fresh `hra` process:

* ``hra import DIR`` of the saved HTML into an empty archive (the baseline for imports: both run
  every page through the text pipeline);
* ``hra export --format jsonl`` of that archive (the baseline for exports: records only);
* ``hra export --format warc`` (every raw page with its metadata record, gzip per record);
* ``hra import FILE.warc.gz`` into an empty archive (the same pipeline, reading WARC);

and prints pages/s of each, WARC's ratios to its baseline, and the sizes. Duplicate clustering and
indexing run inside each import, as for a user.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import CITIES, SENTENCES  # noqa: E402

from tests.conftest import report_page  # noqa: E402


def write_pages(folder: Path, n: int) -> None:
    rng = random.Random(13)
    folder.mkdir(parents=True)
    for i in range(n):
        city = rng.choice(CITIES)
        year = rng.randint(2018, 2024)
        paras = ["".join(rng.choice(SENTENCES).format(city=city, a=rng.randint(2, 99),
                                                      b=rng.randint(100, 999),
                                                      p=rng.randint(60, 99)) for _ in range(3))
                 for _ in range(12)]
        gbk = i % 5 == 0
        html = report_page(f"{city}卫生健康委{year}年工作总结（第{i}号）", paras,
                           charset_meta="gbk" if gbk else "utf-8",
                           extra_head=f'<link rel="canonical" href="http://wjw.example{i % 97}'
                                      f'.gov.cn/art/{year}/t{i}.html">')
        (folder / f"page-{i}.html").write_bytes(html.encode("gbk" if gbk else "utf-8"))


def hra(data_dir: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "archive", "--data-dir", str(data_dir), *args],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    opts = parser.parse_args()
    work = opts.keep or Path(tempfile.mkdtemp(prefix="hra-bench-warc-"))
    try:
        n = opts.pages
        write_pages(work / "saved", n)
        html_import = hra(work / "a", "import", str(work / "saved"))
        jsonl = hra(work / "a", "export", "--format", "jsonl", "--all-versions",
                    "-o", str(work / "all.jsonl"))
        warc_export = hra(work / "a", "export", "--format", "warc",
                          "-o", str(work / "all.warc.gz"))
        warc_import = hra(work / "b", "import", str(work / "all.warc.gz"))
        rows = [("import saved HTML", html_import), ("import WARC", warc_import),
                ("export jsonl", jsonl), ("export warc", warc_export)]
        print(f"{n} pages ({sum(p.stat().st_size for p in (work / 'saved').iterdir()) / 2**20:.1f}"
              f" MiB of HTML)")
        for label, seconds in rows:
            print(f"  {label:<18} {seconds:7.2f} s  {n / seconds:8.0f} pages/s")
        print(f"  WARC import / HTML import speed:  {html_import / warc_import:.2f}x")
        print(f"  WARC export / jsonl export speed: {jsonl / warc_export:.2f}x")
        print(f"  sizes: all.warc.gz {(work / 'all.warc.gz').stat().st_size / 2**20:.1f} MiB, "
              f"all.jsonl {(work / 'all.jsonl').stat().st_size / 2**20:.1f} MiB")
    finally:
        if opts.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

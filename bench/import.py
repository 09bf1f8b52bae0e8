"""Import throughput and memory: `hra import` end to end beside the bare text pipeline.

    python bench/import.py                       # 2,000 HTML pages, 20,000 JSONL records
    python bench/import.py --pages 4000 --records 20000 --sizes 10000,100000

Documents are generated report prose (`bench/search.py`'s `DocumentGenerator`: ~6,000 characters
each, Zipf topics, real place names), each a separate page or JSONL line with its own URL.

* **HTML pages**: each document wrapped in a government-site page (navigation, title, date line,
  article, footer), saved as ``.html`` files. *Bare pipeline*: `process_page` over every file's
  bytes, in this process, one core (bytes in, Record out). *hra import*: ``hra import DIR
  --all`` (every page archived, off-topic ones flagged) in a child process: read and process
  (worker processes, `archive.page_reader`), store raw bytes + record, then duplicates and the
  search index caught up (what a user waits for). Printed side by side with the ratio (target
  >= 0.6). Peak memory: RSS of the importing process (``os.wait4``) and the summed PSS of its
  whole process tree (workers included; /proc sampled every 0.2 s).
* **JSONL**: ``hra import records.jsonl`` of --records records into a fresh archive: docs/s and
  peak RSS of the child (``os.wait4``, which includes the index workers it waited for).
* **Index build**: `search.index.rebuild` (``hra reindex``) of that archive beside SQLite FTS5
  trigram over the same titles and texts, in documents per CPU-second (target: ours >= FTS5).
* **Memory vs size**: the JSONL import's peak RSS at each of --sizes (target < 500 MB, flat).

The machine is shared: read the ratios, and repeat.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from benchlib import load_bench_search  # noqa: E402

_bench_search = load_bench_search


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}_{site}</title>
<meta name="keywords" content="卫生健康,工作总结"></head>
<body><div class="top"><a href="/">首页</a> | <a href="/zwgk/">政务公开</a> |
<a href="/xwzx/">新闻中心</a> | <a href="/bsfw/">办事服务</a> | <a href="/hdjl/">互动交流</a></div>
<div class="crumb">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk/">政务公开</a> &gt; 工作总结</div>
<div class="article"><h1>{title}</h1>
<div class="info">发布日期：{published}　来源：{site}　浏览次数：{views}</div>
<div class="content" id="zoom">
{body}
</div></div>
<div class="related"><h3>相关链接</h3><ul>
<li><a href="/a/1.html">关于印发卫生健康工作要点的通知</a></li>
<li><a href="/a/2.html">全市卫生健康工作会议召开</a></li></ul></div>
<div class="footer">主办单位：{site}　地址：人民路1号　电话：0000-1234567<br>
版权所有：{site}　网站标识码：0000000000　备案号：X ICP备00000000号</div>
</body></html>
"""


def documents(n: int, seed: int):
    """n generated documents (dicts of `DocumentGenerator.document`)."""
    gen = _bench_search().DocumentGenerator(seed)
    for i in range(n):
        yield i, gen.document(i)


def write_pages(folder: Path, n: int, seed: int) -> None:
    if (folder / "COMPLETE").exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i, d in documents(n, seed):
        body = "\n".join(f"<p>{html.escape(p)}</p>" for p in d["text"].split("\n"))
        page = PAGE.format(title=html.escape(d["title"]), site=html.escape(d["site"]),
                           published=d["published"], views=100 + i, body=body)
        (folder / f"{i:06d}.html").write_text(page, encoding="utf-8")
    (folder / "COMPLETE").write_text("")


def write_jsonl(path: Path, n: int, seed: int) -> None:
    from archive.record import Record
    from archive.text.normalize import normalize_text
    from archive.urls import doc_id

    if path.exists():
        return
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for _i, d in documents(n, seed):
            div = d["division"]
            record = Record(
                id=doc_id(d["url"]), url=d["url"], title=normalize_text(d["title"]),
                published=d["published"], year=d["year"], site=d["site"], column="工作总结",
                region="".join(p for p in (div.province, div.city, div.county) if p),
                doc_type=d["doc_type"], text=d["text"], truncated=d["truncated"],
                region_province=div.province, region_city=div.city, region_county=div.county,
            )
            fh.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
    tmp.rename(path)


def tree_rss_mb(root: int) -> float:
    """Memory of a process and all its descendants now (MB): the sum of their proportional set
    sizes (/proc/PID/smaps_rollup ``Pss``: a page shared by forked workers counts once in
    the sum, where adding their RSS would count it once per process)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    tree, todo = {root}, [root]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                todo.append(pid)
    return sum(_pss(pid, rss.get(pid, 0)) for pid in tree) / 2**20


def _pss(pid: int, rss: int) -> int:
    """Bytes of a process's proportional set size (its RSS where smaps_rollup is missing)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss


def hra_import(data_dir: Path, target: Path, *options: str) -> tuple[float, float, float, dict]:
    """(wall seconds, peak RSS MB of the child process, peak RSS MB of its process tree
    sampled every 0.2 s, its --json summary) of ``hra import``."""
    shutil.rmtree(data_dir, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "--data-dir", str(data_dir), "import", str(target),
         "--json", *options], stdout=subprocess.PIPE, env=env, cwd=ROOT,
    )
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], tree_rss_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = proc.stdout.read() if proc.stdout else b""
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"hra import failed ({proc.returncode})")
    return seconds, usage.ru_maxrss / 1024, peak[0], json.loads(out)


def bare_pipeline(folder: Path) -> tuple[int, float]:
    """(pages, seconds) of `process_page` over every page of the folder, in this process."""
    from archive.page_processing import PageError, process_page

    files = sorted(folder.glob("*.html"))
    for f in files[:20]:  # warm-up: OpenCC tables, gazetteer, lxml
        process_page(f.read_bytes(), f.as_uri())
    start = time.perf_counter()
    for f in files:
        with contextlib.suppress(PageError):
            process_page(f.read_bytes(), f.as_uri())
    return len(files), time.perf_counter() - start


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def index_build(data_dir: Path, workdir: Path) -> tuple[float, float, int]:
    """(ours, FTS5) documents per CPU-second over the archive, and its document count."""
    from archive.store import Store
    from search.index import rebuild

    with Store(data_dir) as store:
        before = cpu_seconds()
        result = rebuild(store, workers=1)
        ours = result.documents / (cpu_seconds() - before)
    before = cpu_seconds()
    fts = _bench_search().build_fts(data_dir / "archive.sqlite3", workdir / "fts.sqlite3")
    theirs = fts["docs"] / (cpu_seconds() - before)
    return ours, theirs, result.documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--sizes", default="", help="JSONL sizes for peak RSS, e.g. 10000,100000")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hra-bench-import"))
    parser.add_argument("--skip", default="", help="comma-separated: html,jsonl,index")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    if "html" not in skip:
        folder = work / f"html-{args.pages}-{args.seed}"
        print(f"generating {args.pages} pages ...", file=sys.stderr)
        write_pages(folder, args.pages, args.seed)
        n, bare_s = bare_pipeline(folder)
        wall, rss, tree, summary = hra_import(work / "data-html", folder, "--all")
        bare, ours = n / bare_s, n / wall
        print(f"HTML pages          {n:>7}  bare pipeline {bare:7.1f} pages/s (1 core)   "
              f"hra import --all {ours:7.1f} pages/s end to end   ratio {ours / bare:.2f}   "
              f"peak RSS {rss:.0f} MB (process tree PSS {tree:.0f} MB)   ({summary['new']} new)")

    data = work / "data-jsonl"
    if "jsonl" not in skip:
        path = work / f"records-{args.records}-{args.seed}.jsonl"
        print(f"generating {args.records} records ...", file=sys.stderr)
        write_jsonl(path, args.records, args.seed)
        wall, rss, tree, summary = hra_import(data, path)
        print(f"JSONL records       {args.records:>7}  hra import {args.records / wall:7.1f} docs/s   "
              f"{wall:6.1f} s   peak RSS {rss:.0f} MB (process tree PSS {tree:.0f} MB)   "
              f"({summary['new']} new)")

    if "index" not in skip and (data / "archive.sqlite3").exists():
        ours, fts, docs = index_build(data, work)
        print(f"index build         {docs:>7}  ours {ours:7.1f} docs/CPU-s (1 worker)   "
              f"FTS5 trigram {fts:7.1f} docs/CPU-s   ratio {ours / fts:.2f}")

    for size in [int(s) for s in args.sizes.split(",") if s]:
        path = work / f"records-{size}-{args.seed}.jsonl"
        print(f"generating {size} records ...", file=sys.stderr)
        write_jsonl(path, size, args.seed)
        wall, rss, tree, _summary = hra_import(work / f"data-{size}", path)
        print(f"JSONL peak RSS      {size:>7}  {rss:6.0f} MB (process tree PSS {tree:.0f} MB)   "
              f"{size / wall:7.1f} docs/s")
        shutil.rmtree(work / f"data-{size}", ignore_errors=True)


if __name__ == "__main__":
    main()

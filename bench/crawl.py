"""Crawl benchmark: generated report pages served locally, crawled with the default pipeline.

    python bench/crawl.py                 # 2,400 report pages on 48 list pages
    python bench/crawl.py --pages 5000 --per-list 50

A separate server process serves list pages (50 links each, with a numbered pager) and report
pages (about 8 KB of varied report prose each) on 127.0.0.1. `hra crawl`'s machinery
(`archive.crawl_runs.run_crawl`: the child process, the spiders, the middlewares, the item pipeline
with the full text pipeline, the archive) crawls them into a fresh data dir, with politeness
lifted for localhost (no AutoThrottle, no delay, 16 concurrent requests; robots.txt is still
asked for). It prints pages/s end to end into the archive and the peak RSS of the crawl
process, beside a bare Scrapy spider fetching the same site with the same settings in the same
run (`_bare_crawl`). Targets: end to end >= 0.6x the bare spider's pages/s, RSS of the crawl's
process tree < 300 MB.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.crawl_runs import CrawlPlan, run_crawl  # noqa: E402
from archive.store import Store  # noqa: E402
from crawler.sources import adhoc_source  # noqa: E402

BENCH_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "HRA_MAX_PAGES": 0,
    "HRA_MAX_LIST_PAGES": 1000,
    "LOG_LEVEL": "WARNING",
}

_PLACES = ["东城区", "西湖县", "南山镇", "北川县", "青禾县", "柳溪县", "明德区", "云川市", "白石县",
           "清河区", "长宁县", "安平镇"]
_SUBJECTS = ["县卫生健康局", "市疾控中心", "县人民医院", "乡镇卫生院", "社区卫生服务中心", "村卫生室", "医共体牵头医院", "妇幼保健院", "县中医院", "卫生监督所", "急救中心", "血站", "精神卫生中心", "健康教育所", "老年病医院", "康复医院", "基层医疗机构", "家庭医生团队", "公共卫生科", "医保经办机构"]
_ACTIONS = ["深入推进", "全面落实", "持续深化", "稳步开展", "扎实推进", "加快推进", "着力加强", "认真组织", "积极探索", "不断完善", "大力实施", "统筹推进", "系统谋划", "精准实施", "有序推进"]
_TOPICS = ["紧密型县域医共体建设", "基层医疗卫生服务能力提升", "家庭医生签约服务", "公立医院高质量发展", "传染病监测预警", "基本公共卫生服务项目", "医养结合", "妇幼健康服务", "卫生健康人才队伍建设", "全民健康信息平台", "爱国卫生运动", "医保支付方式改革", "慢性病综合防控", "结核病防治", "艾滋病防治", "免疫规划", "职业病防治", "院前急救体系", "中医药传承创新", "卫生应急体系", "健康教育与促进", "心理健康服务", "托育服务体系", "老年健康服务", "食品安全风险监测"]
_RESULTS = ["群众看病就医获得感不断增强", "服务可及性明显提高", "各项指标达到年度目标", "工作机制更加健全", "重点人群覆盖率稳步提升", "服务质量持续改善", "运行效率显著提高", "群众满意度不断提升", "基层基础更加牢固", "风险防控能力进一步增强", "资源配置更加均衡", "患者负担有效减轻"]
_CLAUSES = (
    "一是{a}{t}，{s}累计投入资金{m}万元，完成年度任务{n}项；",
    "二是{s}{a}{t}，服务群众{k}人次，{r}；",
    "三是围绕{t}建立工作专班，{s}制定实施方案{n}个，{r}；",
    "截至{year}年底，{place}{s}覆盖率达到{p}%，较上年提高{q}个百分点，{r}。",
    "存在的问题主要是{t}的长效机制还需完善，{s}专业人才缺口约{n}人。",
    "下一步，{place}将继续{a}{t}，加强督促检查，确保{r}。",
)


def report_page(i: int) -> bytes:
    """A report page of about 8 KB whose prose differs from every other page's."""
    rnd = random.Random(i)
    place = rnd.choice(_PLACES)
    year = 2018 + i % 7
    topic = rnd.choice(_TOPICS)
    title = f"{place}{year}年{topic}工作情况汇报（第{i}号）"
    paras = []
    for _ in range(12):
        sentence = "".join(rnd.choice(_CLAUSES).format(
            year=year, place=place, s=rnd.choice(_SUBJECTS), a=rnd.choice(_ACTIONS),
            t=rnd.choice(_TOPICS), r=rnd.choice(_RESULTS), n=rnd.randint(3, 990),
            m=rnd.randint(100, 99000), k=rnd.randint(1000, 990000), p=rnd.randint(50, 99),
            q=rnd.randint(1, 9)) for _ in range(4))
        paras.append(f"<p>{sentence}</p>")
    hot = "".join(f'<li><a href="/r/{(i * 7 + j) % 97}.html">热门文章第{j}篇卫生健康工作总结</a></li>'
                  for j in range(6))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}_示范卫健网</title>"
            f"</head><body><div class='nav'><a href='/list/index.html'>工作动态</a></div>"
            f"<div class='article'><h1>{title}</h1><div class='info'>发布时间:{year}-0{i % 9 + 1}-1"
            f"{i % 9} 来源:示范卫健委</div><div class='content'>{''.join(paras)}</div></div>"
            f"<div class='side hot'><h3>热门文章</h3><ul>{hot}</ul></div></body></html>"
            ).encode()


def list_page(n: int, pages: int, per_list: int, total: int) -> bytes:
    first = n * per_list
    items = "".join(f'<li><a href="/r/{i}.html">第{i}号卫生健康工作情况汇报</a></li>'
                    for i in range(first, min(first + per_list, total)))
    pager = " ".join(f'<a href="{"index" if k == 0 else f"index_{k}"}.html">{k + 1}</a>'
                     for k in range(pages))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>工作动态</title></head>"
            f"<body><ul class='list'>{items}</ul><div class='page'>{pager}</div></body></html>"
            ).encode()


def serve(port_queue: Any, total: int, per_list: int) -> None:
    """The benchmark site (runs in its own process)."""
    pages = (total + per_list - 1) // per_list

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path
            body: bytes | None = None
            if path.startswith("/r/") and path.endswith(".html"):
                num = path[3:-5]
                if num.isdigit() and int(num) < total:
                    body = report_page(int(num))
            elif path.startswith("/list/index"):
                name = path.rsplit("/", 1)[-1].removesuffix(".html")
                n = 0 if name == "index" else int(name.split("_")[1])
                if n < pages:
                    body = list_page(n, pages, per_list, total)
            status = 200 if body is not None else 404
            body = body if body is not None else b"not found"
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    httpd = Server(("127.0.0.1", 0), Handler)
    port_queue.put(httpd.server_address[1])
    httpd.serve_forever()


class RssSampler:
    """Peak resident memory (VmHWM) of every process below this one, sampled twice a second
    (Linux /proc; elsewhere only getrusage's largest child is known)."""

    def __init__(self) -> None:
        self.peaks: dict[int, tuple[str, float]] = {}
        self.cpu: dict[int, float] = {}  # CPU seconds (user + system) at the last sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _descendants(self, pid: int) -> list[int]:
        out = []
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                out += [child, *self._descendants(child)]
        return out

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for pid in self._descendants(os.getpid()):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                except OSError:
                    continue
                hwm = next((int(line.split()[1]) / 1024 for line in status.splitlines()
                            if line.startswith("VmHWM:")), 0.0)
                self.peaks[pid] = (cmd.decode("utf-8", "replace").strip(), hwm)
                self.cpu[pid] = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def crawl_mb(self) -> float:
        """The crawl child plus its text-pipeline workers (they run at the same time)."""
        return sum(mb for cmd, mb in self.peaks.values()
                   if "crawler.runner" in cmd or "multiprocessing" in cmd)


def _bare_crawl(start_url: str, results: Any) -> None:
    """The baseline (in its own process): a bare Scrapy spider fetching the same site, list
    pages and their report pages, parsing nothing else; the same concurrency settings."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    fetched = [0]

    class Bare(scrapy.Spider):
        name = "bare"
        start_urls = (start_url,)

        def parse(self, response: Any) -> Any:
            fetched[0] += 1
            if "/list/" in response.url:
                yield from response.follow_all(response.css("a::attr(href)").getall(),
                                               callback=self.parse)

    settings = {k: v for k, v in BENCH_SETTINGS.items() if not k.startswith("HRA_")}
    process = CrawlerProcess({**settings, "ROBOTSTXT_OBEY": True, "TELNETCONSOLE_ENABLED": False,
                              "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7"})
    process.crawl(Bare)
    process.start()
    results.put(fetched[0])


def bare_scrapy(port: int) -> tuple[float, int, float]:
    """(seconds from process start to exit, pages fetched, peak RSS MB) of `_bare_crawl`."""
    ctx = multiprocessing.get_context("spawn")
    results: Any = ctx.Queue()
    started = time.monotonic()
    proc = ctx.Process(target=_bare_crawl,
                       args=(f"http://127.0.0.1:{port}/list/index.html", results))
    proc.start()
    fetched = results.get(timeout=600)
    proc.join()
    seconds = time.monotonic() - started
    return seconds, fetched, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2400, help="report pages (>= 2000)")
    parser.add_argument("--per-list", type=int, default=50, help="links per list page")
    parser.add_argument("--data-dir", type=Path, help="archive dir (default: a temporary one)")
    parser.add_argument("--workers", type=int, help="HRA_WORKERS (text pipeline processes)")
    args = parser.parse_args()
    if args.workers is not None:
        BENCH_SETTINGS["HRA_WORKERS"] = args.workers

    queue: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(queue, args.pages, args.per_list),
                                     daemon=True)
    server.start()
    port = queue.get(timeout=30)
    bare_seconds, bare_fetched, bare_rss = bare_scrapy(port)  # first: its RSS is the only child's
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="hra-bench-"))
    source = adhoc_source([f"http://127.0.0.1:{port}/list/index.html"])
    plan = CrawlPlan([source], depth=1, settings=dict(BENCH_SETTINGS), trigger="bench")
    marks: dict[str, float] = {}

    def on_event(event: dict[str, Any]) -> None:
        if event["e"] == "page":
            marks.setdefault("first", time.monotonic())
            marks["last"] = time.monotonic()

    started = time.monotonic()
    try:
        with RssSampler() as rss:
            result = run_crawl(data_dir, plan, on_event=on_event)
    finally:
        server.terminate()
        server.join(timeout=5)
    elapsed = time.monotonic() - started
    crawl_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # largest child
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with Store(data_dir) as store:
        docs = store.count_documents()
    c = result.tally.counts
    pages_window = marks.get("last", started) - marks.get("first", started)
    print(f"crawl benchmark: {args.pages} report pages on {-(-args.pages // args.per_list)} "
          f"list pages, data dir {data_dir}")
    print(f"  run {result.run_id} {result.status}: {result.tally.fetched} fetched, {c.new} new, "
          f"{c.skipped} skipped ({result.tally.skipped_text()}), {c.failed} failed; "
          f"{docs} documents in the archive")
    print(f"  end to end (process start .. index updated): {elapsed:.1f} s, "
          f"{docs / elapsed:.0f} archived pages/s, {result.tally.fetched / elapsed:.0f} fetched/s")
    if pages_window > 0:
        print(f"  crawling (first .. last page stored):        {pages_window:.1f} s, "
              f"{c.new / pages_window:.0f} archived pages/s")
    print(f"  duplicates + search index: caught up {result.index_seconds:.1f} s after the last "
          "page (updated in the background while crawling)")
    print(f"  peak RSS: crawl process and its pipeline workers {rss.crawl_mb() or crawl_rss:.0f} "
          f"MB together, hra parent (events, index updates) {self_rss:.0f} MB "
          f"(target: >= 100 pages/s, < 500 MB)")
    print(f"  per process (peak RSS, CPU seconds; the parent: {self_rss:.0f} MB, "
          f"{sum(os.times()[:2]):.1f} s, the bare spider's run included):")
    for pid, (cmd, mb) in sorted(rss.peaks.items(), key=lambda p: -p[1][1]):
        print(f"    {mb:5.0f} MB {rss.cpu.get(pid, 0):5.1f} s  {cmd[:90]}")
    bare_rate = bare_fetched / bare_seconds
    print(f"  bare Scrapy spider, same site and settings: {bare_fetched} pages in "
          f"{bare_seconds:.1f} s, {bare_rate:.0f} pages/s, peak RSS {bare_rss:.0f} MB")
    print(f"  ratio hra end to end / bare Scrapy: {(docs / elapsed) / bare_rate:.2f} "
          f"(target >= 0.6; process tree RSS target < 300 MB)")
    if docs < args.pages:
        sys.exit(f"only {docs} of {args.pages} pages archived; see {result.log_path}")


if __name__ == "__main__":
    main()

"""Real crawls (the child process, Scrapy, the archive) against local test servers.

Each test starts a threaded server on 127.0.0.1 (tests/crawl_server.py), crawls it through
`archive.crawl_runs.run_crawl` with politeness lifted for localhost and short timeouts, and checks
the archive, the run record, the events and what the server was asked for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from archive.crawl_runs import CrawlPlan, CrawlResult, run_crawl
from archive.demo import LOCALHOST_SETTINGS
from archive.store import Store
from archive.urls import doc_id
from crawler.sources import adhoc_source
from tests.crawl_server import MB, SiteServer, list_html, offtopic_html, report_html

TEST_SETTINGS: dict[str, Any] = {
    **LOCALHOST_SETTINGS,
    "DOWNLOAD_TIMEOUT": 5,  # generous: the test machine is shared
    "RETRY_TIMES": 1,
    "HRA_RETRY_BACKOFF": 0.05,
    "REDIRECT_MAX_TIMES": 3,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
    "HRA_CONTACT": "crawl-tests@example.org",
}


def crawl(data_dir: Path, urls: list[str], *, spider: str = "site",
          settings: dict[str, Any] | None = None, **options: Any) -> tuple[CrawlResult, list]:
    events: list[dict[str, Any]] = []
    plan = CrawlPlan([adhoc_source(urls, spider)], settings={**TEST_SETTINGS, **(settings or {})},
                     **options)
    result = run_crawl(data_dir, plan, on_event=events.append)
    return result, events


def outcomes(events: list[dict[str, Any]]) -> dict[str, str]:
    """path?query -> outcome of every handled URL."""
    out = {}
    for ev in events:
        if ev["e"] == "page":
            parts = urlsplit(ev["url"])
            out[parts.path + (f"?{parts.query}" if parts.query else "")] = ev["outcome"]
    return out


def messages(events: list[dict[str, Any]]) -> dict[str, str]:
    return {urlsplit(ev["url"]).path: ev.get("message", "") for ev in events if ev["e"] == "page"}


def _counts_add_up(result: CrawlResult) -> None:
    c = result.tally.counts
    assert c.pages == c.new + c.changed + c.unchanged + c.skipped + c.failed


# ---------------------------------------------------------------------------------------------


def test_a_hostile_site(tmp_path: Path) -> None:
    """404, 500, timeouts, redirect loops, a slow server, 50 MB answers, a wrong charset header,
    robots.txt, non-HTML, off-topic pages, tracking-parameter duplicates, three pagination
    styles and an off-site link, in one crawl."""
    with SiteServer() as site:
        site.route("/robots.txt", body=b"User-agent: *\nDisallow: /secret/\n",
                   content_type="text/plain")
        items = [
            ("/r1.html", "第一季度卫生健康工作情况汇报"),
            ("/r1.html?utm_source=feed&from=list", "第一季度卫生健康工作情况汇报（转）"),
            ("/r2.html", "第二季度卫生健康工作情况汇报"),
            ("/missing.html", "已经删除的卫生健康工作文章"), ("/boom.html", "服务器出错的卫生健康文章"),
            ("/slow.html", "响应很慢的卫生健康工作总结"), ("/stuck.html", "永远等不到的卫生健康总结"),
            ("/loop-a.html", "重定向循环的卫生健康文章"), ("/old.html", "已经搬家的卫生健康工作汇报"),
            ("/huge.html", "五十兆字节的超大卫生健康页面"),
            ("/huge-declared.html", "声明五十兆的超大卫生健康页面"),
            ("/gbk.html", "编码声明错误的卫生健康工作总结"), ("/secret/r9.html", "禁止抓取的内部卫生健康资料"),
            ("/file.pdf", "附件下载卫生健康工作总结"), ("/pdf-as-html.html", "伪装成网页的PDF卫生健康文件"),
            ("/off.html", "五四青年节演讲稿青春在奋斗"),
            (site.url("/elsewhere.html", host="localhost"), "其他网站上的卫生健康工作总结"),
        ]
        site.page("/index.html", list_html(items, pager='<a href="index_1.html">下一页</a>'))
        site.page("/", list_html([("/index.html", "卫生健康工作动态栏目首页")]))
        site.page("/index_1.html", list_html(
            [("/r4.html", "第四季度卫生健康工作情况汇报")],
            pager='<a href="index.html">1</a> <a href="index_1.html">2</a> '
                  '<a href="news.html?page=3">3</a>'))
        site.page("/news.html?page=3", list_html([("/r6.html", "第六期卫生健康工作情况汇报")]))
        for name, title in (("r1", "第一季度卫生健康工作情况汇报"), ("r2", "第二季度卫生健康工作情况汇报"),
                            ("r4", "第四季度卫生健康工作情况汇报"), ("r6", "第六期卫生健康工作情况汇报"),
                            ("moved/r3", "已经搬家的卫生健康工作汇报"),
                            ("secret/r9", "内部卫生健康资料"), ("elsewhere", "其他网站的总结")):
            site.page(f"/{name}.html", report_html(title, len(name)))
        site.page("/slow.html", report_html("响应很慢的卫生健康工作总结", 7), delay=0.5)
        site.page("/stuck.html", report_html("永远等不到的卫生健康总结", 8), delay=4.5)
        site.route("/boom.html", status=500, body=b"<html>oops</html>")
        site.route("/loop-a.html", status=302, location="/loop-b.html")
        site.route("/loop-b.html", status=302, location="/loop-a.html")
        site.route("/old.html", status=301, location="/moved/r3.html")
        site.route("/huge.html", stream=50 * MB)
        site.route("/huge-declared.html", stream=50 * MB, declare_length=True)
        site.page("/gbk.html", report_html("编码声明错误的卫生健康工作总结", 9, charset_meta=None),
                  encoding="gbk", content_type="text/html; charset=utf-8")
        site.route("/file.pdf", body=b"%PDF-1.7", content_type="application/pdf")
        site.route("/pdf-as-html.html", body=b"%PDF-1.7 binary", content_type="application/pdf")
        site.page("/off.html", offtopic_html("五四青年节演讲稿：青春在奋斗中闪光"))

        started = time.monotonic()
        result, events = crawl(tmp_path, [site.url("/index.html")],
                               settings={"DOWNLOAD_TIMEOUT": 2})
        took = time.monotonic() - started
        hits = site.hits

    got = outcomes(events)
    why = messages(events)
    for path in ("/r1.html", "/r2.html", "/r4.html", "/r6.html", "/slow.html", "/gbk.html",
                 "/moved/r3.html"):
        assert got[path] == "new", (path, got)
    assert got["/index.html"] == "skipped:list"  # by content: 17 linked lines, no prose
    assert got["/index_1.html"] == "skipped:empty"  # one link: not a list, not an article
    assert hits["/news.html?page=3"] == 1  # numbered pager link, ?page= style
    # no duplicate under tracking parameters
    assert hits["/r1.html"] == 1 and not any("utm_source" in p for p in hits)
    # 4xx: not retried; 5xx and timeouts: retried once (RETRY_TIMES=1), then failed
    assert got["/missing.html"] == "failed" and why["/missing.html"] == "HTTP 404"
    assert hits["/missing.html"] == 1
    assert got["/boom.html"] == "failed" and hits["/boom.html"] == 2
    assert got["/stuck.html"] == "failed" and "timed out" in why["/stuck.html"]
    assert hits["/stuck.html"] == 2
    # redirect loops end; a redirect to a real page archives the page at its final URL
    assert got["/loop-a.html"] == "failed" and "redirect" in why["/loop-a.html"]
    assert hits["/loop-a.html"] + hits["/loop-b.html"] <= 2 * (TEST_SETTINGS["REDIRECT_MAX_TIMES"]
                                                                + 1)
    # 50 MB answers are cut at DOWNLOAD_MAXSIZE (20 MB), announced or not
    assert got["/huge.html"] == got["/huge-declared.html"] == "failed"
    assert "DOWNLOAD_MAXSIZE" in why["/huge.html"]
    assert site.streamed["/huge.html"] < 40 * MB  # what the kernel buffered beyond 20 MB
    assert site.streamed["/huge-declared.html"] < 16 * MB  # refused on its Content-Length
    # robots.txt, attachments, off-site links: never requested
    assert hits["/secret/r9.html"] == 0 and got["/secret/r9.html"] == "skipped:robots"
    assert hits["/robots.txt"] == 1
    assert hits["/file.pdf"] == 0 and hits["/elsewhere.html"] == 0
    assert got["/pdf-as-html.html"] == "skipped:non-html"
    assert got["/off.html"] == "skipped:off-topic"
    # the run: recorded with counts that add up, partial because of the failures
    assert result.status == "ok" and result.exit_code == 0
    _counts_add_up(result)
    assert result.tally.counts.new == 7 and result.tally.counts.failed == 6
    with Store(tmp_path) as store:
        assert store.count_documents() == 7
        gbk = store.get(doc_id(site.url("/gbk.html")))
        assert gbk is not None and gbk.title == "编码声明错误的卫生健康工作总结"
        assert not gbk.mojibake and "紧密型县域医共体" in gbk.text
        moved = store.latest_page(doc_id(site.url("/moved/r3.html")))
        assert moved is not None and moved.url.endswith("/old.html")
        assert moved.final_url.endswith("/moved/r3.html") and moved.status == 200
        assert "Content-Type" in moved.headers
        run = store.runs(1)[0]
        assert (run["kind"], run["status"], run["new"], run["failed"]) == ("crawl", "ok", 7, 6)
        assert store.get(doc_id(site.url("/off.html"))) is None
    ua = {h.get("User-Agent") for p, h in site.httpd.log}
    assert len(ua) == 1 and "hra/" in ua.pop() and True
    assert all("crawl-tests@example.org" in h.get("User-Agent", "") for _, h in site.httpd.log)
    assert took < 40


def test_incremental_recrawl_and_refresh(tmp_path: Path) -> None:
    """Archived pages are not fetched again; list pages are; --refresh asks conditionally and
    only changed bytes add a version."""
    with SiteServer() as site:
        items = [(f"/a{i}.html", f"第{i}号卫生健康工作情况汇报") for i in range(1, 4)]
        site.page("/index.html", list_html(items))
        site.page("/a1.html", report_html("第1号卫生健康工作情况汇报", 1), etag='"v1"')
        site.page("/a2.html", report_html("第2号卫生健康工作情况汇报", 2),
                  last_modified="Mon, 08 Jan 2024 09:30:00 GMT")
        site.page("/a3.html", report_html("第3号卫生健康工作情况汇报", 3))

        first, _ = crawl(tmp_path, [site.url("/index.html")])
        assert first.tally.counts.new == 3 and first.status == "ok"

        items.append(("/a4.html", "第4号卫生健康工作情况汇报"))
        site.page("/index.html", list_html(items))
        site.page("/a4.html", report_html("第4号卫生健康工作情况汇报", 4))
        second, events = crawl(tmp_path, [site.url("/index.html")])
        assert outcomes(events)["/a4.html"] == "new"
        assert second.tally.skipped.get("archived") == 3 and second.tally.counts.new == 1
        assert [site.hits[f"/a{i}.html"] for i in range(1, 5)] == [1, 1, 1, 1]
        assert site.hits["/index.html"] == 2  # list pages are always fetched again

        site.page("/a3.html", report_html("第3号卫生健康工作情况汇报（修订）", 3))
        third, events = crawl(tmp_path, [site.url("/index.html")], refresh=True)
        got = outcomes(events)
        assert got["/a1.html"] == got["/a2.html"] == "unchanged"  # 304 Not Modified
        assert got["/a3.html"] == "changed" and got["/a4.html"] == "unchanged"  # same bytes
        assert site.headers_of("/a1.html")[-1].get("If-None-Match") == '"v1"'
        assert site.headers_of("/a2.html")[-1].get("If-Modified-Since") == \
            "Mon, 08 Jan 2024 09:30:00 GMT"
        assert third.status == "ok"
    with Store(tmp_path) as store:
        assert len(store.page_versions(doc_id(site.url("/a3.html")))) == 2
        assert len(store.page_versions(doc_id(site.url("/a1.html")))) == 1
        assert store.get(doc_id(site.url("/a3.html"))).title.endswith("（修订）")  # the page's own width
        assert store.count_documents() == 4


def test_gov_column_with_javascript_pager_and_meta_tags(tmp_path: Path) -> None:
    """The gov spider: createPageHTML pagination, article-shaped links only, meta tags and
    TRS_Editor read by the pipeline, attachments recorded not fetched, --keep-off-topic."""
    metas = ('<meta name="SiteName" content="测试市卫生健康委员会">'
             '<meta name="ColumnName" content="工作动态">')
    articles = {
        "/col/202401/t20240115_1.html": "测试市卫生健康委2023年工作总结",
        "/col/202402/t20240220_2.html": "2024年全市卫生健康工作要点",
        "/col/202403/t20240308_3.html": "全市医共体建设情况汇报",
        "/col/202404/t20240402_4.html": "关于举办机关职工趣味运动会的通知",
    }
    with SiteServer() as site:
        pages = [list(articles.items())[0:2], list(articles.items())[2:3],
                 list(articles.items())[3:4]]
        for n, chunk in enumerate(pages):
            lis = "".join(f'<li><a href=".{p[4:]}">{t}</a></li>' for p, t in chunk)
            html = (f"<html><head><meta charset='utf-8'>{metas}<title>工作动态</title></head><body>"
                    f"<a href='/about.html'>关于我们</a><ul class='list'>{lis}</ul>"
                    f"<script>createPageHTML(3, {n}, \"index\", \"html\");</script></body></html>")
            site.page("/col/index.html" if n == 0 else f"/col/index_{n}.html", html)
        for i, (path, title) in enumerate(articles.items()):
            body = (report_html(title, i) if "通知" not in title else offtopic_html(title))
            body = body.replace("<head>", "<head>" + metas + f'<meta name="ArticleTitle" '
                                f'content="{title}"><meta name="PubDate" content="2024-0{i + 1}-'
                                f'1{i} 09:30">').replace('class="content"', 'class="TRS_Editor"')
            body = body.replace('<div class="TRS_Editor">', '<div class="TRS_Editor"><p>附件：'
                                '<a href="./P0201.docx">重点任务分解表.docx</a></p>')
            site.page(path, body)
        site.page("/about.html", report_html("关于我们", 0))
        result, events = crawl(tmp_path, [site.url("/col/index.html")], spider="gov",
                               keep_off_topic=True)
        hits = site.hits
    got = outcomes(events)
    assert {p: got[p] for p in articles} == dict.fromkeys(articles, "new")
    assert got["/col/index_1.html"] == got["/col/index_2.html"] == "skipped:empty"
    assert hits["/about.html"] == 0  # not an article of the column
    # the articles' attachment is downloaded once (the server has none: a 404, one line)
    docx = [p for p in hits if p.endswith(".docx")]
    assert docx and all(hits[p] == 1 and got[p] == "failed" for p in docx)
    with Store(tmp_path) as store:
        summary = store.get(doc_id(site.url("/col/202401/t20240115_1.html")))
        assert summary.published == "2024-01-01" and summary.site == "测试市卫生健康委员会"
        # (the visible 发布时间:2024-01-01 wins over the disagreeing PubDate meta 2024-01-10)
        assert summary.attachments == [site.url("/col/202401/P0201.docx")]
        notice = store.get(doc_id(site.url("/col/202404/t20240402_4.html")))
        assert notice is not None and notice.is_health_report is False  # kept, flagged
    assert result.status == "ok"


def test_js_challenge_host_is_skipped_not_hammered(tmp_path: Path) -> None:
    challenge = b'<html><head><script>$_ts=window["$_ts"];if(!$_ts)$_ts={};</script></head></html>'
    with SiteServer() as site:
        site.route("/robots.txt", status=412, body=challenge)
        for name in ("c1", "c2", "c3"):
            site.route(f"/{name}.html", status=412, body=challenge)
        result, events = crawl(tmp_path, [site.url(f"/c{i}.html") for i in (1, 2, 3)],
                               settings={"CONCURRENT_REQUESTS_PER_DOMAIN": 1})
        hits = site.hits
    assert sum(hits[f"/c{i}.html"] for i in (1, 2, 3)) <= 1 and hits["/robots.txt"] == 1
    warnings = [ev["message"] for ev in events if ev["e"] == "warn"]
    assert len(warnings) == 1 and "412" in warnings[0] and "127.0.0.1" in warnings[0]
    assert set(outcomes(events).values()) == {"skipped:challenge"}
    # Nothing could be fetched: the crawl failed, and says why in one line.
    assert result.status == "failed" and result.tally.counts.failed == 0
    assert result.error and "JavaScript challenge" in result.error and "\n" not in result.error


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_resume_after_kill_9(tmp_path: Path) -> None:
    """kill -9 (parent and crawl child) mid-crawl, run the same command: it resumes from the
    job, the archive ends complete, with no duplicates, and done list pages are not refetched."""
    n = 40
    with SiteServer() as site:
        half = n // 2
        first = [(f"/p/{i}.html", f"第{i}号卫生健康工作情况汇报") for i in range(half)]
        rest = [(f"/p/{i}.html", f"第{i}号卫生健康工作情况汇报") for i in range(half, n)]
        site.page("/index.html", list_html(first, pager='<a href="index_1.html">下一页</a>'))
        site.page("/index_1.html", list_html(rest))
        for i in range(n):
            site.page(f"/p/{i}.html", report_html(f"第{i}号卫生健康工作情况汇报", i), delay=0.12)
        url = site.url("/index.html")
        cmd = [sys.executable, "-m", "archive", "--data-dir", str(tmp_path), "crawl", "--url", url,
               "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
               "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        child: list[int] = []
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                child = child or _children(proc.pid)
                if (tmp_path / "archive.sqlite3").exists():
                    db = sqlite3.connect(tmp_path / "archive.sqlite3", timeout=5)
                    try:
                        done = db.execute("SELECT count(*) FROM documents").fetchone()[0]
                    except sqlite3.OperationalError:
                        done = 0
                    db.close()
                    if done >= 8:
                        break
                time.sleep(0.05)
            else:
                pytest.fail("the crawl did not get going")
        finally:
            workers = [w for c in child for w in _children(c)]  # text-pipeline processes
            for pid in [*child, proc.pid]:  # kill -9, the crawler first
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            proc.wait(timeout=10)
        assert child, "the crawl child process was not found"
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [w for w in workers if Path(f"/proc/{w}").exists()], "orphaned workers"
        jobs = list((tmp_path / "jobs").glob("*/frontier.sqlite3"))
        assert len(jobs) == 1  # the interrupted job is kept
        with Store(tmp_path) as store:
            before = store.count_documents()
        assert 8 <= before < n
        hits_before = sum(site.hits[f"/p/{i}.html"] for i in range(n))

        result, _events = crawl(tmp_path, [url], settings={"CONCURRENT_REQUESTS_PER_DOMAIN": 2})
        hits = site.hits
    assert result.status == "ok"
    assert site.hits["/index.html"] == 1  # done before the kill: the resumed job skips it
    with Store(tmp_path) as store:
        assert store.count_documents() == n  # nothing lost
        rows = store.db.execute("SELECT count(*), count(DISTINCT doc_id) FROM pages").fetchone()
        assert rows[0] == rows[1] == n  # no duplicate versions
        runs = store.runs(5)
    assert [r["status"] for r in runs[:2]] == ["ok", "interrupted"]
    total = sum(hits[f"/p/{i}.html"] for i in range(n))
    # Only pages fetched but not yet stored at the kill are fetched again, each once.
    assert total == hits_before + (n - before)
    assert max(hits[f"/p/{i}.html"] for i in range(n)) <= 2
    assert not list((tmp_path / "jobs").glob("*/frontier.sqlite3"))  # finished: job removed


@pytest.mark.parametrize("per_host", [1, 2])
def test_per_host_concurrency_holds_without_delays(tmp_path: Path, per_host: int) -> None:
    """CONCURRENT_REQUESTS_PER_DOMAIN holds even with no download delay and a burst of links."""
    with SiteServer() as site:
        site.page("/index.html", list_html([(f"/p/{i}.html", f"第{i}号卫生健康工作情况汇报")
                                            for i in range(6)]))
        for i in range(6):
            site.page(f"/p/{i}.html", report_html(f"第{i}号卫生健康工作情况汇报", i), delay=0.3)
        result, _ = crawl(tmp_path, [site.url("/index.html")],
                          settings={"CONCURRENT_REQUESTS_PER_DOMAIN": per_host})
        assert result.tally.counts.new == 6
        assert site.max_inflight == per_host


def test_sigterm_stops_gracefully_and_the_run_resumes(tmp_path: Path) -> None:
    """`kill` (SIGTERM, e.g. a cron timeout) of `hra crawl`: in-flight pages are finished, the
    run is recorded as interrupted with its counts, the job is kept, the same command ends it."""
    n = 24
    with SiteServer() as site:
        site.page("/index.html", list_html([(f"/p/{i}.html", f"第{i}号卫生健康工作情况汇报")
                                            for i in range(n)]))
        for i in range(n):
            site.page(f"/p/{i}.html", report_html(f"第{i}号卫生健康工作情况汇报", i), delay=0.15)
        cmd = [sys.executable, "-m", "archive", "--data-dir", str(tmp_path), "crawl", "--url",
               site.url("/index.html"), "-s", "AUTOTHROTTLE_ENABLED=False",
               "-s", "DOWNLOAD_DELAY=0", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while site.hits["/p/3.html"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 130, out
        assert "interrupted" in out and "run the same command again" in out
        with Store(tmp_path) as store:
            run = store.runs(1)[0]
            stored = store.count_documents()
        assert run["status"] == "interrupted" and run["new"] == stored and 3 <= stored < n
        assert list((tmp_path / "jobs").glob("*/frontier.sqlite3"))
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stdout
    with Store(tmp_path) as store:
        assert store.count_documents() == n and store.runs(1)[0]["status"] == "ok"
    assert site.hits["/index.html"] == 1 and max(site.hits[f"/p/{i}.html"] for i in range(n)) == 1


def test_depth_and_max_pages_limits(tmp_path: Path) -> None:
    """--depth counts link hops from the start page (report pages lead on to related reports);
    --max-pages caps the requests of a run."""
    with SiteServer() as site:
        site.page("/index.html", list_html([(f"/a{i}.html", f"第{i}号卫生健康工作情况汇报")
                                            for i in range(5)]))
        for i in range(5):
            related = f'<p>相关：<a href="/b{i}.html">第{i}号卫生健康工作的后续情况汇报</a></p>'
            site.page(f"/a{i}.html", report_html(f"第{i}号卫生健康工作情况汇报", i, extra=related))
            site.page(f"/b{i}.html", report_html(f"第{i}号卫生健康工作的后续情况汇报", i + 10))
        shallow, _ = crawl(tmp_path / "d1", [site.url("/index.html")], depth=1)
        assert shallow.tally.counts.new == 5 and not any(site.hits[f"/b{i}.html"] for i in range(5))
        deep, _ = crawl(tmp_path / "d2", [site.url("/index.html")], depth=2)
        assert deep.tally.counts.new == 10  # related reports, one hop further
        before = sum(site.hits.values())
        capped, _ = crawl(tmp_path / "d3", [site.url("/index.html")], max_pages=3)
        sent = sum(site.hits.values()) - before
    assert sent == 4  # robots.txt + 3 pages
    assert capped.tally.counts.new == 2 and capped.tally.skipped.get("budget", 0) >= 1
    assert capped.status == "ok"

"""Crawler parts without a network or a reactor: sources, links, fingerprints, the frontier,
challenge detection, encodings, failure descriptions, the CLI's source listing."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
import scrapy
from click.testing import CliRunner
from parsel import Selector
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler import links
from crawler.frontier import FRONTIER_FILE, CanonicalFingerprinter, FrontierScheduler
from crawler.middlewares import (
    BackoffRetryMiddleware,
    EncodingMiddleware,
    HtmlOnlyMiddleware,
    Skip,
    is_js_challenge,
)
from crawler.progress import Tally, parse_event
from crawler.sources import (
    SourceError,
    adhoc_source,
    load_sources,
    read_sources_file,
    select_sources,
    validate_cron,
)
from crawler.spiders.base import describe_failure

# ---------------------------------------------------------------------------------------------
# sources


def test_shipped_sources_load_and_are_marked_unverified() -> None:
    sources = load_sources(None)
    names = [s.name for s in sources]
    assert len(names) == len(set(names)) > 100
    assert {"wtabcd", "xinwenmi", "1xbbk"} <= set(names)
    assert all(not s.verified for s in sources)  # written offline: nothing was checked
    gov = [s for s in sources if s.spider == "gov"]
    assert len(gov) > 100 and all(s.start_urls[0].startswith("http") for s in gov)
    assert any("links" in s.selectors for s in gov)
    for s in sources:
        validate_cron(s.schedule)


def test_user_sources_extend_and_replace_shipped(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(
        '[[source]]\nname = "wtabcd"\nstart_urls = ["https://example.org/a/"]\n'
        'schedule = "0 5 * * *"\n\n'
        '[[source]]\nname = "mine"\nspider = "gov"\nstart_urls = ["https://wjw.example.gov.cn/"]\n'
        'selectors = { links = "ul.list a" }\n', encoding="utf-8")
    by_name = {s.name: s for s in load_sources(tmp_path)}
    assert by_name["wtabcd"].start_urls == ["https://example.org/a/"]
    assert by_name["wtabcd"].origin == "user" and by_name["wtabcd"].verified
    assert by_name["mine"].spider == "gov" and by_name["mine"].hosts == ["wjw.example.gov.cn"]
    assert [s.name for s in select_sources(list(by_name.values()), ["mine", "wtabcd"])] == [
        "mine", "wtabcd"]
    with pytest.raises(SourceError, match="unknown source"):
        select_sources(list(by_name.values()), ["nope"])


@pytest.mark.parametrize(("toml", "message"), [
    ('[[source]]\nname = "Bad Name"\nstart_urls = ["http://x.cn/"]\n', "lower-case"),
    ('[[source]]\nname = "a"\nstart_urls = []\n', "start_urls is empty"),
    ('[[source]]\nname = "a"\nstart_urls = ["ftp://x.cn/"]\n', "not an http"),
    ('[[source]]\nname = "a"\nstart_urls = ["http://x.cn/"]\nspider = "zz"\n', "spider must"),
    ('[[source]]\nname = "a"\nstart_urls = ["http://x.cn/"]\nschedule = "daily"\n', "cron"),
    ('[[source]]\nname = "a"\nstart_urls = ["http://x.cn/"]\nallow = ["("]\n', "bad pattern"),
    ('[[source]]\nname = "a"\nstart_urls = ["http://x.cn/"]\ncolour = 1\n', "unknown key"),
    ('[[source]]\nname = "a"\nstart_urls = ["http://x.cn/"]\n[[source]]\nname = "a"\n'
     'start_urls = ["http://y.cn/"]\n', "defined twice"),
    ("[[source]\n", "not valid TOML"),
])
def test_bad_sources_fail_with_one_line(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(SourceError, match=message) as err:
        read_sources_file(path, "user")
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_adhoc_source_name_is_stable_for_the_same_urls() -> None:
    a = adhoc_source(["http://Example.org/x", "http://example.org/y"])
    b = adhoc_source(["http://example.org/y", "http://Example.org/x"])
    c = adhoc_source(["http://example.org/z"])
    assert a.name == b.name != c.name and a.name.startswith("url-example-org-")


# ---------------------------------------------------------------------------------------------
# links


def _sel(html: str) -> Selector:
    return Selector(text=html)


def test_pagination_by_text_numbers_and_url_shape() -> None:
    html = """<div class=page><a href="list_2.shtml">下一页</a><a href="?page=3">3</a>
      <a href="t20240101_5.html">2</a><a href="/about.html">关于我们</a><a href="#">4</a></div>"""
    found = links.pagination_links(_sel(html), "http://x.cn/col/list_1.shtml")
    assert found == ["http://x.cn/col/list_2.shtml", "http://x.cn/col/list_1.shtml?page=3"]


@pytest.mark.parametrize(("script", "expected"), [
    ('createPageHTML(5, 0, "index", "html");', ["http://x.gov.cn/col/index_1.html"]),
    ('createPageHTML(5, 3, "index", "shtml");', ["http://x.gov.cn/col/index_4.shtml"]),
    ('createPageHTML(5, 4, "index", "html");', []),  # the last page
    ('var countPage = 7;//共多少页\nvar currentPage = 2;\n'
     'createPageHTML(countPage, currentPage, "index", "htm");', ["http://x.gov.cn/col/index_3.htm"]),
])
def test_trs_javascript_pager(script: str, expected: list[str]) -> None:
    html = f"<html><body><ul><li>x</li></ul><script>{script}</script></body></html>"
    assert links.pagination_links(_sel(html), "http://x.gov.cn/col/index_2.html", html) == expected


def test_anchors_resolve_skip_files_and_follow_selectors() -> None:
    html = """<html><head><base href="http://x.cn/base/"></head><body>
      <ul class="list"><li><a href="a.html#top">甲</a></li><li><a href="b.pdf">附件</a></li></ul>
      <a href="javascript:void(0)">js</a><a href="mailto:a@b.cn">mail</a><a href="c.html">乙</a>
      <a href="IMG.JPG">图</a></body></html>"""
    urls = [lk.url for lk in links.anchors(_sel(html), "http://x.cn/page.html")]
    assert urls == ["http://x.cn/base/a.html", "http://x.cn/base/c.html"]
    picked = links.anchors(_sel(html), "http://x.cn/page.html", "ul.list > li")
    assert [lk.url for lk in picked] == ["http://x.cn/base/a.html"]
    assert links.anchors(_sel(html), "http://x.cn/", "div.nothing") == []


@pytest.mark.parametrize(("url", "expected"), [
    ("http://wjw.x.gov.cn/xxgk/202310/t20231008_123.html", True),
    ("http://wjw.x.gov.cn/art/2023/10/8/art_1229_5012.html", True),
    ("http://www.x.gov.cn/zwgk/content_6901234.htm", True),
    ("http://wjw.x.gov.cn/xxgk/gzdt/index_2.html", False),
    ("http://wjw.x.gov.cn/about/", False),
])
def test_gov_article_url_shapes(url: str, expected: bool) -> None:
    assert links.looks_like_gov_article(url) is expected


# ---------------------------------------------------------------------------------------------
# fingerprints and the frontier


def test_fingerprints_follow_canonical_urls() -> None:
    fp = CanonicalFingerprinter().fingerprint
    base = fp(Request("http://Example.org/a.html?b=2&a=1"))
    assert base == fp(Request("http://example.org/a.html?a=1&b=2&utm_source=x#frag"))
    assert base != fp(Request("http://example.org/b.html?a=1&b=2"))
    assert base != fp(Request("http://example.org/a.html?a=1&b=2", method="POST"))


class _Spider(scrapy.Spider):
    name = "t"

    def parse(self, response: Response) -> None:
        pass


def _scheduler(jobdir: Path) -> FrontierScheduler:
    crawler = SimpleNamespace(request_fingerprinter=CanonicalFingerprinter(), stats=None,
                              settings={"JOBDIR": str(jobdir)})
    sched = FrontierScheduler(crawler)  # type: ignore[arg-type]
    sched.open(_Spider())
    return sched


def test_frontier_dedupes_orders_and_survives_a_crash(tmp_path: Path) -> None:
    spider = _Spider()
    sched = _scheduler(tmp_path / "job")
    urls = [f"http://x.cn/{i}.html" for i in range(5)]
    for url in urls:
        assert sched.enqueue_request(Request(url, callback=spider.parse, meta={"hra_depth": 1}))
    assert not sched.enqueue_request(Request(urls[0] + "?utm_source=feed"))  # same page
    assert sched.enqueue_request(Request("http://x.cn/list_2.html", priority=1))
    assert sched.next_request().url == "http://x.cn/list_2.html"  # priority first, then FIFO
    first, second = sched.next_request(), sched.next_request()
    assert (first.url, second.url) == (urls[0], urls[1]) and first.meta["hra_depth"] == 1
    sched.mark_done(["http://x.cn/list_2.html", urls[0]])
    # "kill -9": no close(); the process's lock dies with it; the next process opens the job.
    sched._lock.close()
    again = _scheduler(tmp_path / "job")
    assert again.resumed == 4  # urls[1] was handed out but never finished: pending again
    pending = []
    while (request := again.next_request()) is not None:
        pending.append(request.url)
    assert pending == urls[1:]
    assert not again.enqueue_request(Request(urls[0]))  # done: still seen
    assert again.enqueue_request(Request(urls[0], dont_filter=True))  # retries may repeat
    again.close("shutdown")
    assert (tmp_path / "job" / FRONTIER_FILE).exists()  # kept for the next run


def test_frontier_of_a_finished_job_is_removed(tmp_path: Path) -> None:
    sched = _scheduler(tmp_path / "job")
    sched.enqueue_request(Request("http://x.cn/a.html"))
    sched.close("finished")
    assert not (tmp_path / "job").exists()
    fresh = _scheduler(tmp_path / "job")
    assert fresh.resumed == 0 and fresh.enqueue_request(Request("http://x.cn/a.html"))


# ---------------------------------------------------------------------------------------------
# middlewares


def test_js_challenges_are_recognised() -> None:
    ruishu = b'<html><head><meta http-equiv="Content-Type"><script>$_ts=window["$_ts"];</script>'
    assert is_js_challenge(412, ruishu)
    assert is_js_challenge(412, b"")
    assert not is_js_challenge(412, b"", {"If-Match": '"x"'})  # a real precondition failure
    assert is_js_challenge(521, b"<script>document.cookie='__jsl_clearance=1';location.href=x"
                                b"</script>")
    assert is_js_challenge(200, b"<html><script>var x=1;document.cookie='a=b';"
                                b"location.reload()</script></html>")
    page = ("<html><body>" + "<p>卫生健康工作总结正文</p>" * 200 +
            "<script>document.cookie='a=b';location.href='/'</script></body></html>").encode()
    assert not is_js_challenge(200, page)  # a real page that happens to set a cookie
    assert not is_js_challenge(404, b"not found")


def _response(body: bytes, ctype: str, url: str = "http://x.cn/a.html") -> Response:
    return Response(url, body=body, headers={"Content-Type": ctype},
                    request=Request(url))


def test_encoding_middleware_believes_the_bytes_not_the_header() -> None:
    html = "<html><head><title>卫生健康工作总结</title></head><body><a href='b.html'>下一页</a>" \
           "</body></html>"
    raw = _response(html.encode("gbk"), "text/html; charset=utf-8")
    fixed = EncodingMiddleware().process_response(raw.request, raw)
    assert isinstance(fixed, HtmlResponse) and fixed.encoding == "gb18030"
    assert "卫生健康工作总结" in fixed.text and fixed.body == raw.body
    utf8 = HtmlResponse("http://x.cn/", body=html.encode(), encoding="utf-8",
                        request=Request("http://x.cn/"))
    assert EncodingMiddleware().process_response(utf8.request, utf8) is utf8


@pytest.mark.parametrize(("body", "ctype", "skipped"), [
    (b"%PDF-1.7 ...", "application/pdf", True),
    (b"%PDF-1.7 ...", "text/html", True),  # a PDF served as HTML
    (b"PK\x03\x04 docx", "application/octet-stream", True),
    (b"<html><body>x</body></html>", "text/html", False),
    (b"<html><body>x</body></html>", "text/plain", False),  # HTML sent as text/plain
    (b'{"a": 1}', "application/json", True),
])
def test_non_html_responses_are_skipped(body: bytes, ctype: str, skipped: bool) -> None:
    response = _response(body, ctype)
    if skipped:
        with pytest.raises(Skip) as err:
            HtmlOnlyMiddleware().process_response(response.request, response)
        assert err.value.reason == "non-html"
    else:
        assert HtmlOnlyMiddleware().process_response(response.request, response) is response


def test_retry_backoff_doubles_and_respects_retry_after() -> None:
    from scrapy.settings import Settings

    mw = BackoffRetryMiddleware(Settings({"RETRY_ENABLED": True, "RETRY_TIMES": 3,
                                          "HRA_RETRY_BACKOFF": 2, "HRA_RETRY_BACKOFF_MAX": 10}))
    delays = [mw.delay(Request("http://x.cn/", meta={"retry_times": n})) for n in (1, 2, 3, 4)]
    assert delays == [2, 4, 8, 10]
    slow = Response("http://x.cn/", status=503, headers={"Retry-After": "7"})
    assert mw.delay(Request("http://x.cn/", meta={"retry_times": 1}), slow) == 7


def test_crawler_settings_never_retry_4xx() -> None:
    from crawler import settings

    assert all(code >= 500 for code in settings.RETRY_HTTP_CODES)
    assert settings.ROBOTSTXT_OBEY and settings.AUTOTHROTTLE_ENABLED
    assert settings.CONCURRENT_REQUESTS_PER_DOMAIN == 2
    assert 15 * 1024 * 1024 <= settings.DOWNLOAD_MAXSIZE <= 25 * 1024 * 1024


def _failure(exc: Exception) -> Failure:
    try:
        raise exc
    except Exception:
        return Failure()


def test_failures_are_described_in_one_line() -> None:
    resp = Response("http://x.cn/a", status=404)
    assert describe_failure(_failure(HttpError(resp))) == ("failed", "HTTP 404", True)
    not_modified = Response("http://x.cn/a", status=304)
    assert describe_failure(_failure(HttpError(not_modified)))[0] == "unchanged"
    assert describe_failure(_failure(IgnoreRequest("Forbidden by robots.txt")))[0] == \
        "skipped:robots"
    assert describe_failure(_failure(Skip("archived")))[0] == "skipped:archived"
    from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError

    assert describe_failure(_failure(DownloadTimeoutError("took too long")))[1].startswith(
        "timed out")
    big = DownloadCancelledError("Received 20971521 bytes which is larger than download max "
                                 "size (20971520) in request <GET http://x.cn/a>.")
    assert "DOWNLOAD_MAXSIZE" in describe_failure(_failure(big))[1]


# ---------------------------------------------------------------------------------------------
# progress and the CLI


def test_tally_counts_every_url_once() -> None:
    tally = Tally()
    for outcome in ("new", "new", "changed", "unchanged", "skipped:list", "skipped:archived",
                    "failed", "weird"):
        tally.add(outcome, url="http://x.cn/", message="m")
    c = tally.counts
    assert c.pages == 8 == c.new + c.changed + c.unchanged + c.skipped + c.failed
    assert tally.skipped == {"list": 1, "archived": 1} and c.failed == 2
    assert parse_event(b'{"e": "page", "outcome": "new"}') == {"e": "page", "outcome": "new"}
    assert parse_event(b"2024-01-01 INFO log line") is None


def _cli() -> click.Group:
    """`hra` with the crawl commands registered (as `main()` does)."""
    from archive.cli import cli
    from archive.commands.crawl import register

    register(cli)
    return cli


def test_sources_command_lists_shipped_and_user_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(
        '[[source]]\nname = "mine"\nstart_urls = ["https://example.org/"]\n', encoding="utf-8")
    result = CliRunner().invoke(_cli(), ["--data-dir", str(tmp_path), "sources", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"mine", "wtabcd"} <= {s["name"] for s in data}
    table = CliRunner().invoke(_cli(), ["--data-dir", str(tmp_path), "sources"])
    assert table.exit_code == 0 and "mine" in table.output


def test_crawl_command_needs_something_to_crawl(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(_cli(), ["--data-dir", str(tmp_path), "crawl"])
    assert result.exit_code == 2 and "--all" in result.output
    result = runner.invoke(_cli(), ["--data-dir", str(tmp_path), "crawl", "no-such-source"])
    assert result.exit_code == 2 and "unknown source" in result.output
    assert not (tmp_path / "archive.sqlite3").exists()  # nothing started, nothing recorded


def test_hra_starts_without_importing_scrapy() -> None:
    import subprocess
    import sys

    code = ("import sys; from archive.cli import main; sys.argv=['hra','--help'];\n"
            "try:\n main()\nexcept SystemExit: pass\n"
            "print('scrapy' in sys.modules, 'twisted' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip().splitlines()[-1] == "False False"


def test_one_crawl_per_source_at_a_time(tmp_path: Path) -> None:
    from crawler.frontier import JobBusy

    first = _scheduler(tmp_path / "job")
    with pytest.raises(JobBusy, match="another crawl"):
        _scheduler(tmp_path / "job")
    first.close("shutdown")
    _scheduler(tmp_path / "job").close("finished")  # free again once the first one ends
    assert not (tmp_path / "job").exists()


def test_a_source_being_crawled_elsewhere_is_not_started_twice(tmp_path: Path) -> None:
    from archive.locks import SourceLock

    url = "http://127.0.0.1:9/index.html"  # never contacted: the lock is checked first
    with SourceLock(tmp_path, adhoc_source([url]).name):
        result = CliRunner().invoke(_cli(), ["--data-dir", str(tmp_path), "crawl", "--url", url])
    assert result.exit_code == 1 and "is being crawled by pid" in result.output
    assert not (tmp_path / "archive.sqlite3").exists()  # no run was started

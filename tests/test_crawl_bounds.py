"""Crawls stay within bounds: a huge robots.txt is read up to 500 KiB, a page's links are capped,
redirects stay on the source's sites (host and port), a file:// redirect says so.

Local servers on 127.0.0.1 only (tests/crawl_server.py), stopped after each test.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.settings import Settings

from archive.store import Store
from archive.urls import doc_id
from crawler.robots import ROBOTSTXT_MAXSIZE, CappedRobotParser, cap_robotstxt
from crawler.sources import Source, adhoc_source, origin_parts, url_origin
from crawler.spiders.site import SiteSpider
from tests.crawl_server import MB, SiteServer, list_html, report_html
from tests.test_crawl_sites import crawl, messages, outcomes

KIB = 1024


# ---------------------------------------------------------------------------------------------
# robots.txt: the first 500 KiB count


def _robots(size: int, rules: dict[int, bytes]) -> bytes:
    """A robots.txt of `size` bytes: ``User-agent: *``, comment lines, and each rule at (about)
    the offset given."""
    out = bytearray(b"User-agent: *\n")
    filler = b"# " + b"x" * 77 + b"\n"
    for offset, line in sorted(rules.items()):
        while len(out) + len(filler) <= offset:
            out += filler
        out += line + b"\n"
    while len(out) < size:
        out += filler
    return bytes(out)


def test_robots_txt_is_cut_at_a_line_break_before_the_cap() -> None:
    body = b"User-agent: *\nDisallow: /a/\nDisallow: /private/\n"
    assert cap_robotstxt(body, 0) == body and cap_robotstxt(body, len(body)) == body
    cut = cap_robotstxt(body, len(body) - 4)  # in the middle of "Disallow: /private/"
    assert cut == b"User-agent: *\nDisallow: /a/\n"  # never the half rule "Disallow: /priv"
    assert cap_robotstxt(b"x" * 100, 10) == b""


def test_robots_parser_obeys_rules_before_the_cap_only() -> None:
    body = _robots(8 * KIB, {1 * KIB: b"Disallow: /before/", 5 * KIB: b"Disallow: /after/"})
    crawler = SimpleNamespace(settings=Settings({"HRA_ROBOTSTXT_MAXSIZE": 4 * KIB}), spider=None)
    capped = CappedRobotParser.from_crawler(crawler, body)  # type: ignore[arg-type]
    assert not capped.allowed("http://x.cn/before/1.html", "hra")
    assert capped.allowed("http://x.cn/after/1.html", "hra")
    crawler.settings = Settings({"HRA_ROBOTSTXT_MAXSIZE": 0})  # no cap: both rules count
    whole = CappedRobotParser.from_crawler(crawler, body)  # type: ignore[arg-type]
    assert not whole.allowed("http://x.cn/after/1.html", "hra")
    assert ROBOTSTXT_MAXSIZE == 500 * KIB


def test_a_5_mb_robots_txt_is_obeyed_up_to_500_kib(tmp_path: Path) -> None:
    """A 5 MB robots.txt: the crawl proceeds, a Disallow before 500 KiB is obeyed, one after it
    is ignored, the download stops soon after the cap, and a warning says so."""
    robots = _robots(5 * MB, {400 * KIB: b"Disallow: /before/",
                              600 * KIB: b"Disallow: /after/"})
    assert len(robots) >= 5 * MB and robots.index(b"/after/") > ROBOTSTXT_MAXSIZE
    with SiteServer() as site:
        site.route("/robots.txt", body=robots, content_type="text/plain")
        site.page("/index.html", list_html([
            ("/before/r1.html", "第一季度卫生健康工作情况汇报"),
            ("/after/r2.html", "第二季度卫生健康工作情况汇报"),
            ("/ok/r3.html", "第三季度卫生健康工作情况汇报"),
            ("/ok/r4.html", "第四季度卫生健康工作情况汇报"),
        ]))
        for i, path in enumerate(("/before/r1.html", "/after/r2.html", "/ok/r3.html",
                                  "/ok/r4.html"), 1):
            site.page(path, report_html(f"第{i}季度卫生健康工作情况汇报", i))
        result, events = crawl(tmp_path, [site.url("/index.html")])
        hits = site.hits
    got = outcomes(events)
    assert got["/before/r1.html"] == "skipped:robots" and hits["/before/r1.html"] == 0
    assert got["/after/r2.html"] == got["/ok/r3.html"] == got["/ok/r4.html"] == "new"
    assert hits["/robots.txt"] == 1 and result.status == "ok"
    warnings = [ev["message"] for ev in events if ev["e"] == "warn"]
    assert len(warnings) == 1 and "robots.txt" in warnings[0] and "500 KiB" in warnings[0]


# ---------------------------------------------------------------------------------------------
# links per page


def _spider(max_links: int | None = None) -> SiteSpider:
    spider = SiteSpider(source=adhoc_source(["http://x.cn/index.html"]))
    spider.ctx = SimpleNamespace(max_pages=0)  # type: ignore[assignment]
    settings = Settings({"HRA_DEPTH": 3, "HRA_MAX_PAGES": 0})
    if max_links is not None:
        settings.set("HRA_MAX_LINKS_PER_PAGE", max_links)
    else:
        settings.setmodule("crawler.settings")
    spider.setup(settings)
    return spider


def _response(html: str, url: str = "http://x.cn/index.html") -> HtmlResponse:
    request = Request(url, meta={"hra_depth": 0, "hra_page_no": 0})
    return HtmlResponse(url, body=html.encode(), encoding="utf-8", request=request)


def test_a_page_of_100000_links_gives_2000_requests_and_one_log_line(
        caplog: pytest.LogCaptureFixture) -> None:
    n = 100_000
    items = "".join(f'<li><a href="/p/{i}.html">第{i}号</a></li>' for i in range(n))
    html = (f"<html><body><ul>{items}</ul>"
            '<div class="page"><a href="/index_1.html">下一页</a></div></body></html>')
    spider = _spider()
    assert spider.max_links == 2000
    with caplog.at_level(logging.WARNING):
        requests = list(spider.pages_and_links(_response(html), pagination=True,
                                               articles=True))
    urls = [r.url for r in requests]
    assert urls[0] == "http://x.cn/index_1.html"  # the pager after the links is still found
    articles = urls[1:]
    assert len(articles) == 2000 and articles[:2] == ["http://x.cn/p/0.html",
                                                      "http://x.cn/p/1.html"]
    assert articles[-1] == "http://x.cn/p/1999.html"  # the first ones, in page order
    lines = [r.getMessage() for r in caplog.records if "HRA_MAX_LINKS_PER_PAGE" in r.getMessage()]
    assert len(lines) == 1
    assert "http://x.cn/index.html has 100001 links" in lines[0] and "first 2000" in lines[0]


def test_a_page_within_the_link_cap_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    items = "".join(f'<li><a href="/p/{i}.html">第{i}号</a></li>' for i in range(10))
    with caplog.at_level(logging.WARNING):
        requests = list(_spider(10).pages_and_links(
            _response(f"<html><body><ul>{items}</ul></body></html>"), pagination=True,
            articles=True))
    assert len(requests) == 10
    assert not [r for r in caplog.records if "HRA_MAX_LINKS_PER_PAGE" in r.getMessage()]


def test_links_per_page_cap_in_a_crawl(tmp_path: Path) -> None:
    """HRA_MAX_LINKS_PER_PAGE in a real crawl: the first N links are requested, the rest not,
    and the crawl log says so once, with the counts."""
    n, cap = 600, 12
    with SiteServer() as site:
        site.page("/index.html", list_html([(f"/p/{i}.html", f"第{i}号卫生健康工作情况汇报")
                                            for i in range(n)]))
        result, _ = crawl(tmp_path, [site.url("/index.html")],
                          settings={"HRA_MAX_LINKS_PER_PAGE": cap})
        asked = sorted(int(p[3:-5]) for p in site.hits if p.startswith("/p/"))
    assert asked == list(range(cap))
    log = result.log_path.read_text(encoding="utf-8")
    assert log.count("HRA_MAX_LINKS_PER_PAGE") == 1
    assert f"has {n} links (<a href>): only the first {cap} are taken" in log


# ---------------------------------------------------------------------------------------------
# redirects: host and port are the site


def test_origins_are_host_and_port() -> None:
    assert url_origin("http://www.Example.cn/a") == url_origin("https://example.cn:443/") == \
        "example.cn"
    assert url_origin("http://example.cn:80/") == "example.cn"
    assert url_origin("http://127.0.0.1:8000/x") == "127.0.0.1:8000"
    assert url_origin("http://[::1]:8000/x") == "[::1]:8000"
    assert origin_parts("http://[::1]/") == ("[::1]", "")
    source = Source("s", ["http://127.0.0.1:8000/", "http://a.cn/", "https://www.a.cn/x"])
    assert source.origins == ["127.0.0.1:8000", "a.cn"]
    spider = SiteSpider(source=source)
    spider.ctx = SimpleNamespace(max_pages=0)  # type: ignore[assignment]
    spider.setup(Settings())
    assert spider.allowed("http://127.0.0.1:8000/p.html")
    assert not spider.allowed("http://127.0.0.1:8001/p.html")
    assert not spider.allowed("http://127.0.0.1/p.html")
    assert spider.on_site("http://news.a.cn/x") and not spider.on_site("http://news.a.cn:81/x")
    assert not spider.on_site("http://127.0.0.1:9/x") and spider.on_site("http://a.cn/")


def _redirecting_site(site: SiteServer, other: SiteServer) -> None:
    other.page("/r.html", report_html("另一个端口上的卫生健康工作情况汇报", 1))
    site.page("/index.html", list_html([
        ("/go.html", "跳转到另一个端口的卫生健康工作汇报"),
        ("/home.html", "跳转到本站的卫生健康工作汇报"),
        ("/file.html", "跳转到本地文件的卫生健康工作汇报"),
    ]))
    site.route("/go.html", status=302, location=other.url("/r.html"))
    site.route("/home.html", status=301, location="/moved.html")
    site.page("/moved.html", report_html("本站搬家的卫生健康工作情况汇报", 2))
    site.route("/file.html", status=302, location="file:///etc/passwd")


def test_a_redirect_to_another_port_is_off_site(tmp_path: Path) -> None:
    with SiteServer() as site, SiteServer() as other:
        _redirecting_site(site, other)
        result, events = crawl(tmp_path, [site.url("/index.html")])
        other_hits = dict(other.hits)
    got, why = outcomes(events), messages(events)
    assert other_hits == {}  # nothing was asked of the other port
    assert got["/go.html"] == "skipped:offsite"
    assert other.url("/r.html") in why["/go.html"] and "off the source's sites" in why["/go.html"]
    assert got["/moved.html"] == "new"  # a redirect on the site is followed
    assert got["/file.html"] == "failed"
    assert why["/file.html"] == "redirect to file:// refused (HTTP 302 to file:///etc/passwd)"
    assert result.status == "ok"
    with Store(tmp_path) as store:
        assert store.get(doc_id(other.url("/r.html"))) is None


def test_a_redirect_to_another_port_the_source_allows_is_followed(tmp_path: Path) -> None:
    with SiteServer() as site, SiteServer() as other:
        _redirecting_site(site, other)
        other.page("/", list_html([]))  # the source's start page there: the port is its
        result, events = crawl(tmp_path, [site.url("/index.html"), other.url("/")])
    got = outcomes(events)
    assert got["/r.html"] == "new" and "/go.html" not in got  # reported at the final URL
    assert result.status == "ok"
    with Store(tmp_path) as store:
        page = store.latest_page(doc_id(other.url("/r.html")))
        assert page is not None and page.final_url == other.url("/r.html")


def test_a_start_page_redirected_to_another_port_fails_the_source(tmp_path: Path) -> None:
    with SiteServer() as site, SiteServer() as other:
        _redirecting_site(site, other)
        result, _ = crawl(tmp_path, [site.url("/go.html")])
    assert result.status == "failed"
    assert result.error is not None and "off the source's sites" in result.error

"""A programmable HTTP server for crawl tests: threaded, 127.0.0.1 only, stopped after use.

    with SiteServer() as site:
        site.page("/index.html", "<html>...</html>")
        site.route("/boom", status=500)
        site.route("/slow.html", body=html, delay=0.5)
        site.route("/huge.html", stream=50 * MB)
        ... crawl site.url("/index.html") ...
        assert site.hits["/boom"] == 2

Every request is counted in `hits` (by path with query) and logged in `log` with its headers.
Routes may carry an ETag / Last-Modified and answer conditional requests with 304.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from crawler.demo.server import ThreadedServer

MB = 1024 * 1024


@dataclass
class Route:
    status: int = 200
    body: bytes | Callable[[], bytes] = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stream: int = 0  # stream this many bytes without Content-Length (until the client hangs up)
    declare_length: bool = False  # with stream: announce the length up front
    location: str | None = None  # redirect target
    etag: str | None = None
    last_modified: str | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        srv = self.server
        with srv.lock:
            srv.hits[self.path] += 1
            srv.log.append((self.path, dict(self.headers.items())))
            srv.inflight += 1
            srv.max_inflight = max(srv.max_inflight, srv.inflight)
        try:
            self._answer()
        finally:
            with srv.lock:
                srv.inflight -= 1

    def _answer(self) -> None:
        srv = self.server
        route = srv.routes.get(self.path) or srv.routes.get(self.path.split("?", 1)[0])
        if route is None:
            self._send(404, b"<html><body>not found</body></html>", "text/html")
            return
        if route.delay:
            time.sleep(route.delay)
        if route.location:
            self.send_response(route.status if 300 <= route.status < 400 else 302)
            self.send_header("Location", route.location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if route.stream:
            self._stream(route)
            return
        extra = dict(route.headers)
        if route.etag:
            extra["ETag"] = route.etag
            if self.headers.get("If-None-Match") == route.etag:
                self._send(304, b"", None, extra)
                return
        if route.last_modified:
            extra["Last-Modified"] = route.last_modified
            if route.etag is None and self.headers.get("If-Modified-Since") == route.last_modified:
                self._send(304, b"", None, extra)
                return
        body = route.body() if callable(route.body) else route.body
        self._send(route.status, body, route.content_type, extra)

    def _send(self, status: int, body: bytes, ctype: str | None,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _stream(self, route: Route) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if route.declare_length:
            self.send_header("Content-Length", str(route.stream))
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"<p>" + "卫生健康工作".encode() * 5000 + b"</p>\n"
        sent = 0
        try:
            self.wfile.write(b"<html><body>")
            while sent < route.stream:
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with self.server.lock:
                self.server.streamed[self.path] = sent
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.log: list[tuple[str, dict[str, str]]] = []
        self.streamed: dict[str, int] = {}
        self.inflight = 0
        self.max_inflight = 0  # most requests answered at the same time
        self.lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, aborted 50 MB downloads) are part of the tests."""


class SiteServer(ThreadedServer):
    """See the module docstring."""

    httpd: _Server

    def __init__(self) -> None:
        super().__init__(_Server(), "hra-test-site")

    # -- content ---------------------------------------------------------------------------

    def route(self, path: str, **kwargs: Any) -> Route:
        route = Route(**kwargs)
        self.httpd.routes[path] = route
        return route

    def page(self, path: str, html: str, *, encoding: str = "utf-8",
             content_type: str | None = None, **kwargs: Any) -> Route:
        ctype = content_type or f"text/html; charset={encoding}"
        return self.route(path, body=html.encode(encoding), content_type=ctype, **kwargs)

    # -- inspection ------------------------------------------------------------------------

    @property
    def hits(self) -> Counter[str]:
        return self.httpd.hits

    @property
    def max_inflight(self) -> int:
        return self.httpd.max_inflight

    @property
    def streamed(self) -> dict[str, int]:
        return self.httpd.streamed

    def headers_of(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.httpd.log if p == path]

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


# ---------------------------------------------------------------------------------------------
# page builders

_REPORT_PARAGRAPHS = (
    "{n}年以来，全市卫生健康系统认真贯彻落实各项决策部署，深化医药卫生体制改革，推进紧密型县域医共体建设，"
    "基层医疗卫生服务能力持续提升，群众看病就医的获得感不断增强。现将第{i}项重点工作情况汇报如下。",
    "一是公共卫生体系不断完善。疾病预防控制机构实验室检测能力明显增强，传染病监测预警机制进一步健全，"
    "适龄儿童免疫规划疫苗接种率保持在百分之九十五以上，家庭医生重点人群签约服务扎实推进。",
    "二是医疗服务能力稳步提高。公立医院高质量发展取得新进展，检查检验结果互认范围扩大，"
    "预约诊疗全面推行，乡镇卫生院和村卫生室标准化建设加快，分级诊疗格局初步形成。",
    "三是下一步工作打算。我们将继续加强基层卫生人才队伍建设，完善医保支付方式改革，"
    "推进全民健康信息平台建设，做好老年健康和妇幼健康服务，推动卫生健康事业高质量发展。",
)


def report_html(title: str, i: int = 0, *, charset_meta: str | None = "utf-8",
                extra: str = "") -> str:
    """A report page: a heading, a date line and four paragraphs of health-work prose."""
    meta = f'<meta charset="{charset_meta}">' if charset_meta else ""
    body = "".join(f"<p>{p.format(n=2023, i=i)}</p>" for p in _REPORT_PARAGRAPHS)
    return (f"<!DOCTYPE html><html><head>{meta}<title>{title}_测试卫健委</title></head><body>"
            f'<div class="article"><h1>{title}</h1>'
            f'<div class="info">发布时间:2024-01-{(i % 27) + 1:02d} 09:30</div>'
            f'<div class="content">{body}</div>{extra}</div></body></html>')


def offtopic_html(title: str) -> str:
    """An article that is not a health-work report (a 五四 speech)."""
    text = ("青春是用来奋斗的，我们要勤于学习，敏于思考，勇于实践，在平凡的岗位上做出不平凡的业绩。"
            "让我们以青春之我，创造青春之事业，让青春在奋斗中绽放最美的光彩。") * 3
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<h1>{title}</h1><div class='content'><p>{text}</p><p>{text}</p></div></body></html>")


def list_html(items: list[tuple[str, str]], *, pager: str = "", title: str = "工作动态") -> str:
    """A column page: one linked line per item (href, text), plus a pager (raw HTML)."""
    lis = "".join(f'<li><a href="{href}">{text}</a></li>' for href, text in items)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><h2>{title}</h2><ul class='list'>{lis}</ul><div class='page'>{pager}</div>"
            "</body></html>")

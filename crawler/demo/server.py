"""A small threaded HTTP server for the demo site (127.0.0.1 only; no Scrapy, no internet).

Files are served as they are stored. ``.html`` pages get ``Content-Type: text/html`` with no
charset parameter (so the GBK page really carries no declaration at all), except the pages in
`HEADER_OVERRIDES`, which show what a wrong server header looks like.
"""

from __future__ import annotations

import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

SITE_DIR = Path(__file__).with_name("site")

#: Paths served with special headers: a GB18030 page the server calls utf-8.
HEADER_OVERRIDES = {
    "/jianbiao/gongwen/3402.html": {"Content-Type": "text/html; charset=utf-8"},
}


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.extensions_map = {**self.extensions_map, ".html": "text/html", ".txt": "text/plain"}
        super().__init__(*args, directory=str(SITE_DIR), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]

    def send_header(self, keyword: str, value: str) -> None:
        override = HEADER_OVERRIDES.get(self.path.split("?", 1)[0], {})
        for name, replacement in override.items():
            if name.lower() == keyword.lower():
                value = replacement
        super().send_header(keyword, value)


class ThreadedServer:
    """An HTTP server answering in threads, run in a background thread; stopped on exit.

    Used by the demo and by the tests' and benchmarks' local sites (127.0.0.1 only).
    """

    def __init__(self, httpd: ThreadingHTTPServer, name: str) -> None:
        self.httpd = httpd
        self.thread = threading.Thread(target=httpd.serve_forever, daemon=True, name=name)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class DemoServer(ThreadedServer):
    """Serve the demo site on 127.0.0.1 (a free port unless one is given) in a thread."""

    def __init__(self, port: int = 0) -> None:
        httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        httpd.daemon_threads = True
        httpd.requests = []  # type: ignore[attr-defined]
        super().__init__(httpd, "hra-demo-site")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[str]:
        """Paths requested so far (what the crawler asked for)."""
        return list(self.httpd.requests)  # type: ignore[attr-defined]

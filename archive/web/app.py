"""The Starlette application of `hra serve`: routes, the responses' security headers and the
error pages. Each route checks its parameters (`archive.web.params`), runs its work on a
read-only archive within the time limit (`archive.web.running`) through the services the CLI
uses, and renders a template (autoescaped: archived titles and text are always text)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from archive.errors import HraError
from archive.store import Store, StoreError
from archive.web import views
from archive.web.params import BadRequest, choice, doc_id, search_params
from archive.web.running import Runner, TooSlow

#: The app's own pages: its stylesheet is inline, it runs no script, frames only itself.
APP_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
           "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
#: An archived page: a sandbox of its own (no scripts, no forms, a unique origin even when
#: opened on its own), nothing loaded from anywhere (its images and styles stay on their site).
RAW_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
           "frame-ancestors 'self'")
EXPORTS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
DEFAULT_TIMEOUT = 10.0


def create_app(data_dir: Path, *, timeout: float = DEFAULT_TIMEOUT) -> Starlette:
    """The application over the archive in ``data_dir`` (opened read-only; HraError now when
    there is no archive there). ``timeout``: seconds a search, chart or document may take."""
    try:
        Store(data_dir, readonly=True).close()
    except StoreError as exc:
        raise HraError(str(exc)) from exc
    env = Environment(loader=PackageLoader("archive.web", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    views.install(env)
    runner = Runner(Path(data_dir), timeout)
    web = Web(env, runner)
    routes = [
        Route("/", web.search_page),
        Route("/doc/{doc_id}", web.document_page),
        Route("/doc/{doc_id}/raw", web.raw_page),
        Route("/export.{fmt}", web.export),
        Route("/trend.png", web.trend_png),
        Route("/runs", web.runs_page),
    ]
    app = Starlette(routes=routes, exception_handlers={
        HTTPException: web.http_error, BadRequest: web.bad_request, TooSlow: web.too_slow,
        HraError: web.archive_error,
    }, lifespan=_closing(runner))
    app.state.web = web
    return app


def _closing(runner: Runner) -> Any:
    """The app's lifespan: the worker threads end with it."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            runner.close()

    return lifespan


class Web:
    """The routes (sync: Starlette runs them in its thread pool)."""

    def __init__(self, env: Environment, runner: Runner) -> None:
        self.env = env
        self.runner = runner

    def page(self, name: str, status: int = 200, **context: Any) -> Response:
        html = self.env.get_template(name).render(**context)
        return secure(HTMLResponse(html, status_code=status))

    # -- search ----------------------------------------------------------------------------

    def search_page(self, request: Request) -> Response:
        params = search_params(request.query_params)
        by = choice(request.query_params, "by", ("year", "province", "type"), "year")

        def work(store: Store) -> Any:
            from search.selection import search_archive

            return search_archive(store, params.node(), params.filters(), sort=params.sort,
                                  limit=params.limit, page=params.page, facets=True)

        result = self.runner.run(work)
        return self.page("search.html", params=params, result=result, by=by,
                         pages=views.pages(result.total, params.limit, params.page))

    def trend_png(self, request: Request) -> Response:
        params = search_params(request.query_params)
        by = choice(request.query_params, "by", ("year", "province", "type"), "year")

        def work(store: Store) -> bytes:
            from archive.trend_chart import render
            from search.trend import trend

            counts = trend(store, [params.q] if params.q.strip() else [], by, params.filters())
            return render(counts, "png")

        return secure(Response(self.runner.run(work), media_type="image/png"))

    def export(self, request: Request) -> Response:
        fmt = request.path_params["fmt"]
        if fmt not in EXPORTS:
            raise BadRequest(f"不支持的导出格式 {fmt[:20]!r}（可选：{'、'.join(EXPORTS)}）")
        params = search_params(request.query_params)

        def produce(store: Store) -> Iterator[bytes]:
            from archive.export import export_chunks, export_title
            from search.selection import select_documents

            _total, records = select_documents(store, params.node(), params.filters(),
                                               filtered=params.narrowing, sort=params.sort)
            title = export_title(params.q or None, params.describe())
            yield b""  # the selection is made: errors so far are the request's
            yield from export_chunks(records, fmt, title=title)

        chunks = self.runner.stream(produce)
        name = f"hra-export-{datetime.now(UTC):%Y%m%d-%H%M%S}.{fmt}"
        response = StreamingResponse(chunks, media_type=EXPORTS[fmt], headers={
            "Content-Disposition": f'attachment; filename="{name}"'})
        return secure(response)

    # -- one document ------------------------------------------------------------------------

    def document_page(self, request: Request) -> Response:
        did = doc_id(request.path_params["doc_id"])

        def work(store: Store) -> dict[str, Any] | None:
            from archive.duplicate_report import copies_of

            record = store.get(did)
            if record is None:
                return None
            return {"record": record, "copies": copies_of(store, did),
                    "versions": store.page_versions(did)}

        found = self.runner.run(work)
        if found is None:
            raise HTTPException(404, f"没有编号为 {did} 的文档")
        record = found["record"]
        return self.page("document.html", record=record, copies=found["copies"],
                         versions=found["versions"], meta=metadata(record),
                         attachments=views.attachments(record),
                         body=views.body(record))

    def raw_page(self, request: Request) -> Response:
        """The stored page, decoded, as HTML under `RAW_CSP` (``?as=text``: as plain text)."""
        did = doc_id(request.path_params["doc_id"])
        as_text = choice(request.query_params, "as", ("html", "text"), "html") == "text"

        def work(store: Store) -> str | None:
            from archive.text.decode import charset_from_headers, decode_html

            page = store.latest_page(did)
            if page is None:
                return None
            return decode_html(page.body, charset_from_headers(page.headers)).text

        text = self.runner.run(work)
        if text is None:
            raise HTTPException(404, "此文档没有保存原始网页（来自 JSONL 导入）")
        media = "text/plain" if as_text else "text/html"
        response = Response(text, media_type=f"{media}; charset=utf-8")
        return secure(response, RAW_CSP)

    # -- runs and sources ------------------------------------------------------------------

    def runs_page(self, request: Request) -> Response:
        def work(store: Store) -> Any:
            from archive.run_history import recent_runs
            from archive.source_health import sources_with_health

            sources = sources_with_health(store.data_dir)
            names = {source.name for source, _health in sources}
            # Sources crawled once but not configured (hra demo's, `hra crawl --url`'s, removed
            # from sources.toml): their health, under their name.
            others = [(SimpleNamespace(name=name, title=None, start_urls=[]),
                       {"status": h["last_run"]["status"] if h["last_run"] else "never", **h})
                      for name, h in sorted(store.source_health().items()) if name not in names]
            return recent_runs(store, 50), others + sources, store.stats()

        runs, sources, stats = self.runner.run(work)
        return self.page("runs.html", runs=runs, sources=sources, stats=stats)

    # -- errors ------------------------------------------------------------------------------

    def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = exc.detail if exc.status_code != 404 or request.url.path.startswith("/doc/") \
            else "没有这个页面"
        return self.page("error.html", exc.status_code, title="找不到" if exc.status_code ==
                         404 else "出错了", message=message)

    def bad_request(self, request: Request, exc: Exception) -> Response:
        return self.page("error.html", 400, title="参数有误", message=str(exc))

    def too_slow(self, request: Request, exc: Exception) -> Response:
        return self.page("error.html", 503, title="查询超时", message=str(exc))

    def archive_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HraError)
        if exc.exit_code == 2:
            return self.bad_request(request, exc)
        return self.page("error.html", 503, title="档案暂不可用", message=str(exc))


def secure(response: Response, csp: str = APP_CSP) -> Response:
    """The security headers every response carries."""
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    if csp == APP_CSP:
        response.headers["X-Frame-Options"] = "DENY"
    return response


#: Labels of the record's fields on the document page; fields not named here (added by newer
#: versions: issuer, doc_number, ...) are shown under their own name.
LABELS = {
    "id": "编号", "url": "来源", "title": "标题", "published": "发布日期", "year": "年度",
    "site": "网站", "column": "栏目", "region": "地区", "doc_type": "类型",
    "full_length": "全文字数", "fetched_at": "抓取时间", "duplicate_of": "原件",
    "content_source": "来源标注", "issuer": "发文机关", "doc_number": "文号",
    "written": "成文日期", "format": "格式", "parent": "所属网页", "flags": "标记",
}
#: Fields shown elsewhere on the page (text, flags, attachments, tables) or not worth a row.
NOT_IN_TABLE = {"text", "truncated", "placeholders", "mojibake", "source_script",
                "is_health_report", "attachments", "blocks", "region_province", "region_city",
                "region_county", "title"}


def metadata(record: Any) -> list[tuple[str, str, Any]]:
    """(field, label, value) of each of the record's fields that has a value, in its order."""
    rows = []
    for f in fields(record):
        value = getattr(record, f.name)
        if f.name in NOT_IN_TABLE or value in (None, "", [], {}):
            continue
        if f.name == "format" and value == "html":
            continue  # a web page: only an attachment's format is worth a row
        rows.append((f.name, LABELS.get(f.name, f.name), value))
    return rows

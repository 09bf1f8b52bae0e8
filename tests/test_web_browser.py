"""`hra serve` in a real headless Chromium (Debian's, driven by Playwright; never `playwright
install`): start the server on a free 127.0.0.1 port over the demo archive with hostile
documents, then use it as a person would: type a query, click a facet, open a document, follow
to its copies, download a CSV, read a hostile title. No script of an archived page may run.
Screenshots of the search page and a document page are left in the test's tmp directory."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_program
from tests.web_fixtures import XSS_TITLE, build_archive, hra

CHROMIUM = require_program("chromium", package="chromium")
sync_api = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_archive(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    """`hra serve` as a user starts it; stopped (and waited for) whatever happens."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive", "--data-dir", str(data_dir), "serve", "--port",
         str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"hra serve did not start: {proc.communicate()}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert "Traceback" not in err, err
    assert f"at http://127.0.0.1:{port}/" in out


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: object, server: str) -> Iterator[object]:
    context = browser.new_context(accept_downloads=True, base_url=server,  # type: ignore[attr-defined]
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs
    try:
        yield page
    finally:
        context.close()
    assert dialogs == [], f"an archived script ran: {dialogs}"


def test_search_facet_document_copies(page: object, data_dir: Path, tmp_path: Path) -> None:
    p = page
    p.goto("/")
    p.fill("input[name=q]", "医共体")
    p.press("input[name=q]", "Enter")
    p.wait_for_url("**/?q=*")
    expected = json.loads(hra(data_dir, "search", "医共体", "--json", "--facets"))
    assert p.inner_text("#total").startswith(f"共 {expected['total']} 篇")
    assert p.locator("#results mark").first.inner_text() == "医共体"
    p.screenshot(path=str(tmp_path / "search.png"), full_page=True)
    # Click the facet 工作总结 (type summary): the page lists exactly what it counted.
    count = expected["facets"]["doc_type"]["summary"]
    p.locator('[data-facet="doc_type"] a', has_text="工作总结").click()
    p.wait_for_url("**type=summary*")
    assert p.inner_text("#total").startswith(f"共 {count} 篇")
    metas = p.locator("#results .meta").all_inner_texts()
    assert len(metas) == count and all("工作总结" in m for m in metas)
    # Open a report that has copies, then follow to one of its copies.
    p.goto("/?q=" + "市卫生健康委2023年工作总结和2024年工作安排")
    p.locator("a", has_text="份副本").first.click()
    p.wait_for_url("**/doc/*")
    title = p.inner_text("#title")
    copies = p.locator("#copies + table a.copy")
    assert copies.count() >= 2
    copy_title = copies.first.inner_text()
    copies.first.click()
    p.wait_for_url("**/doc/*")
    assert p.inner_text("#title") == copy_title and "副本" in p.inner_text("table.list")
    assert title
    frame = p.frame_locator("iframe.raw")
    assert "工作" in frame.locator("body").inner_text()  # the stored page, shown
    p.screenshot(path=str(tmp_path / "document.png"), full_page=True)


def test_download_csv_of_the_results(page: object, data_dir: Path) -> None:
    p = page
    p.goto("/?q=医共体&region=遵义")
    with p.expect_download() as info:
        p.locator(".exports a", has_text="CSV").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text("utf-8-sig"))))
    expected = json.loads(hra(data_dir, "search", "医共体", "--region", "遵义", "--json",
                              "--limit", "100"))
    assert [r["id"] for r in rows] == [h["id"] for h in expected["hits"]]
    assert all("医共体" in r["title"] + r["text"] for r in rows)


def test_hostile_title_is_text_and_archived_scripts_never_run(page: object) -> None:
    p = page
    p.goto("/?q=滨江")
    titles = p.locator("#results h3").all_inner_texts()
    assert XSS_TITLE in titles
    p.locator("#results h3 a", has_text="alert(1)").click()
    p.wait_for_url("**/doc/*")
    assert p.inner_text("#title") == XSS_TITLE
    assert "<script>alert(5)</script>" in p.inner_text("#text")
    # The stored page with scripts in its head and body, in its frame: shown, not run.
    p.goto("/?q=滨江市卫生健康委员会2023年")
    p.locator("#results h3 a").first.click()
    p.wait_for_url("**/doc/*")
    frame = p.frame_locator("iframe.raw")
    assert "主要工作完成情况" in frame.locator("body").inner_text()
    p.wait_for_timeout(300)  # an onerror or inline script would have fired by now
    assert not_run(frame.locator("html"))
    # Opened on its own (not framed), the stored page is still sandboxed by its CSP.
    p.goto(p.url + "/raw")
    assert "主要工作完成情况" in p.inner_text("body")
    p.wait_for_timeout(300)
    assert not_run(p.locator("html"))


def not_run(html: object) -> bool:
    """Whether the stored page's scripts left no mark (they set data-ran / data-img)."""
    return (html.get_attribute("data-ran") is None  # type: ignore[attr-defined]
            and html.get_attribute("data-img") is None)  # type: ignore[attr-defined]

"""Memory of `hra import` does not grow with the size of the import (issue #16).

Two imports of generated JSONL exports, 2,000 and then 6,000 small records, each into a fresh
archive in its own child process (``hra import FILE --json``: rows, duplicates, search index).
The child's peak RSS (``os.wait4``: the child and the index workers it waited for) may grow by
less than 50 MB from the small to the large one. Not timed.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from archive.record import Record
from archive.urls import doc_id

ROOT = Path(__file__).resolve().parent.parent

_CITIES = ["遵义市", "扬州市", "洛阳市", "宜宾市", "黄冈市", "赣州市", "绵阳市", "湖州市"]
_WORK = ["紧密型县域医共体建设", "家庭医生签约服务", "基本公共卫生服务项目", "疾病预防控制体系",
         "妇幼健康服务", "卫生应急能力建设", "中医药传承创新", "医养结合服务", "传染病监测预警"]
_VERBS = ["扎实推进", "深入实施", "全面加强", "持续深化", "稳步开展", "统筹推进"]


def _record(rng: random.Random, number: int) -> dict:
    city, year = rng.choice(_CITIES), rng.randint(2015, 2024)
    sentences = [
        f"{city}{rng.choice(_VERBS)}{rng.choice(_WORK)}，覆盖率达到{rng.randint(60, 99)}.{n}%，"
        f"新增服务点{rng.randint(10, 999)}个。"
        for n in range(rng.randint(4, 9))
    ]
    url = f"http://wjw.example.gov.cn/{year}/{number}.html"
    return Record(
        id=doc_id(url), url=url, title=f"{city}卫生健康委{year}年工作总结（{number}）",
        published=f"{year + 1}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}", year=year,
        site=f"{city}卫生健康委员会", column="工作总结", region=None, doc_type="summary",
        text="\n".join(sentences),
    ).to_json()


def _peak_rss_mb(tmp_path: Path, count: int) -> float:
    rng = random.Random(count)
    export = tmp_path / f"records-{count}.jsonl"
    with export.open("w", encoding="utf-8") as fh:
        for number in range(count):
            fh.write(json.dumps(_record(rng, number), ensure_ascii=False) + "\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out, err = tmp_path / f"out-{count}", tmp_path / f"err-{count}"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "archive.cli", "--data-dir", str(tmp_path / f"data-{count}"),
             "import", str(export), "--json"],
            stdout=stdout, stderr=stderr, env=env, cwd=ROOT,
        )
        _pid, status, usage = os.wait4(proc.pid, 0)  # the child's own peak RSS
    assert os.waitstatus_to_exitcode(status) == 0, err.read_text("utf-8", "replace")
    assert json.loads(out.read_text("utf-8"))["new"] == count
    return usage.ru_maxrss / 1024


def test_peak_rss_of_an_import_does_not_grow_with_its_size(tmp_path: Path) -> None:
    small = _peak_rss_mb(tmp_path, 2000)
    large = _peak_rss_mb(tmp_path, 6000)
    assert large - small < 50, f"peak RSS {small:.0f} MB (2,000 records), {large:.0f} MB (6,000)"


def test_pages_read_in_worker_processes_import_like_in_process(tmp_path: Path) -> None:
    """A folder big enough for the worker pool: the same outcomes, records and errors (in
    the files' order) as reading every page in-process; a bad file is one error."""
    from archive.importer import import_paths
    from archive.page_reader import MIN_PARALLEL, read_pages
    from archive.store import Store
    from tests.conftest import report_page

    folder = tmp_path / "pages"
    folder.mkdir()
    rng = random.Random(5)
    for number in range(MIN_PARALLEL + 6):
        rec = _record(rng, number)
        page = report_page(str(rec["title"]), str(rec["text"]).split("\n"))
        (folder / f"{number:03d}.html").write_text(page, encoding="utf-8")
    (folder / "010.html").write_bytes(b"\x00\x01" * 10)  # not a page
    (folder / "list.html").write_text("<html><body><a href='/a'>x</a></body></html>")
    files = sorted(folder.glob("*.html"))
    parallel = list(read_pages(files, workers=2))
    serial = list(read_pages(files, workers=0))
    assert [type(p).__name__ for p in parallel] == [type(p).__name__ for p in serial]
    assert [getattr(p, "result", None) for p in parallel] == [
        getattr(p, "result", None) for p in serial]
    assert [str(p) for p in parallel if isinstance(p, Exception)] == [
        str(p) for p in serial if isinstance(p, Exception)]
    reports = [p for p in serial if not isinstance(p, Exception)
               and p.result.record is not None and p.result.kind != "off-topic"]
    assert len(reports) > MIN_PARALLEL // 2
    with Store(tmp_path / "data") as store:
        summary = import_paths(store, [folder])
        assert summary.counts.new == len(reports) == store.count_documents()
        assert summary.counts.failed == 1 and summary.errors[0].startswith(str(files[10]))
        assert {r.url for r in store.iter_documents()} == {p.url for p in reports}

"""The archive: versions, transactions, migrations, runs, and surviving kill -9 mid-import."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.importer import import_paths, reprocess
from archive.page_processing import process_page
from archive.store import SCHEMA_VERSION, Store, StoreError
from tests.conftest import report_page

BODY = [
    "2023年,全市卫生健康系统坚持以人民健康为中心,深入推进紧密型县域医共体建设,家庭医生签约服务覆盖率达到75.3%。",
    "全年完成基本公共卫生服务项目考核,居民电子健康档案建档率达到92%,65岁以上老年人健康管理率达到70.5%。",
    "深化医药卫生体制改革,推进分级诊疗制度建设,县域内就诊率达到91.2%,基层医疗卫生机构诊疗量占比持续提升。",
    "加强疾病预防控制体系建设,完成传染病监测预警平台升级,全年报告法定传染病发病率低于全省平均水平。",
]


def page_bytes(title: str = "滨江市卫生健康委员会2023年工作总结", extra: str = "") -> bytes:
    return report_page(title, [*BODY, extra] if extra else BODY).encode("utf-8")


def save(store: Store, url: str, data: bytes) -> str:
    result = process_page(data, url, fetched_at="2024-01-05T08:00:00+00:00")
    assert result.record is not None
    return store.save_page(url=url, body=data, record=result.record,
                           fetched_at="2024-01-05T08:00:00+00:00", status=200,
                           headers={"Content-Type": "text/html; charset=utf-8"})


def test_new_unchanged_changed_versions(data_dir: Path) -> None:
    url = "http://wjw.binjiang.gov.cn/zwgk/t20240105_1.html"
    with Store(data_dir) as store:
        assert save(store, url, page_bytes()) == "new"
        assert save(store, url + "?utm_source=wechat", page_bytes()) == "unchanged"
        assert save(store, url, page_bytes(extra="下一步,我们将继续深化医改,推动卫生健康事业高质量发展。")) == "changed"
        assert store.count_documents() == 1
        did = store.find_ids("")[0]
        assert len(store.page_versions(did)) == 2  # the old version is kept
        record = store.get(did)
        assert record and "深化医改" in record.text
        assert store.latest_page(did).body.startswith(b"<!DOCTYPE html>")
        mode = store.db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_migrates_an_archive_of_schema_v1(data_dir: Path) -> None:
    from archive.store import MIGRATIONS

    data_dir.mkdir(parents=True)
    db = sqlite3.connect(data_dir / "archive.sqlite3")
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute(
        "INSERT INTO documents (id, url, canonical_url, doc_type, text, updated_at)"
        " VALUES ('abc', 'http://x.cn/a', 'http://x.cn/a', 'summary', '正文', 'now')"
    )
    db.commit()
    db.close()
    with Store(data_dir) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.changes_since(0) == [(1, "abc", "upsert")]


def test_refuses_a_newer_schema(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    db = sqlite3.connect(data_dir / "archive.sqlite3")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StoreError, match="newer than this hra"):
        Store(data_dir)


def test_change_log_follows_upserts_and_deletes(data_dir: Path) -> None:
    with Store(data_dir) as store:
        save(store, "http://a.gov.cn/1.html", page_bytes())
        save(store, "http://a.gov.cn/2.html", page_bytes("滨江市2024年卫生健康工作要点"))
        first = store.last_change()
        did = store.find_ids("")[0]
        store.delete_document(did)
        assert store.changes_since(first) == [(first + 1, did, "delete")]


def test_reprocess_rebuilds_documents_from_raw_pages(data_dir: Path, tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "a.html").write_bytes(page_bytes())
    with Store(data_dir) as store:
        import_paths(store, [pages])
        did = store.find_ids("")[0]
        store.db.execute("UPDATE documents SET text = 'stale', title = 'stale' WHERE id = ?", (did,))
        summary = reprocess(store)
        assert summary.counts.changed == 1
        record = store.get(did)
        assert record and record.title == "滨江市卫生健康委员会2023年工作总结"
        assert "医共体" in record.text
        assert reprocess(store).counts.unchanged == 1


def test_runs_are_recorded(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "a.html").write_bytes(page_bytes())
    (tmp_path / "empty.html").write_bytes(b"")
    with Store(data_dir) as store:
        summary = import_paths(store, [tmp_path / "a.html", tmp_path / "empty.html",
                                       tmp_path / "missing.html"])
        run = store.runs(1)[0]
    assert (run["kind"], run["status"], run["new"], run["failed"]) == ("import", "ok", 1, 2)
    assert len(run["errors"]) == 2
    assert any("empty page" in e for e in summary.errors)
    assert any("no such file" in e for e in summary.errors)


KILL_SCRIPT = """
import sys
from pathlib import Path
from archive.importer import import_paths
from archive.store import Store
with Store(Path(sys.argv[1])) as store:
    import_paths(store, [Path(sys.argv[2])],
                 progress=lambda p, o: (print(o, flush=True)))
"""


def test_kill_9_mid_import_keeps_committed_documents_and_resumes(
    data_dir: Path, tmp_path: Path
) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    n = 120
    for i in range(n):
        title = f"滨江市第{i}号卫生健康工作情况汇报"
        data = report_page(title, [f"第{i}号汇报:" + b for b in BODY],
                           extra_head=f'<link rel="canonical" href="http://wjw.binjiang.gov.cn/a/{i}.html">')
        (pages / f"p{i:03}.html").write_bytes(data.encode("utf-8"))
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(data_dir), str(pages)],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
    done = 0
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while done < 30 and time.monotonic() < deadline:
        if proc.stdout.readline().strip() == "new":
            done += 1
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 30 <= done < n, "the import must be killed in the middle"

    with Store(data_dir) as store:
        kept = store.count_documents()
        assert kept >= done
        # No half record: every document has its page, and every page its document.
        orphans = store.db.execute(
            "SELECT count(*) FROM pages p LEFT JOIN documents d ON d.id = p.doc_id WHERE d.id IS NULL"
        ).fetchone()[0]
        assert orphans == 0
        assert store.runs(1)[0]["status"] == "interrupted"
        summary = import_paths(store, [pages])
        assert summary.counts.new == n - kept and summary.counts.unchanged == kept
        assert store.count_documents() == n
        assert store.db.execute("SELECT count(*) FROM pages").fetchone()[0] == n


def test_has_url_knows_requested_urls_that_redirected(data_dir: Path) -> None:
    final = "http://wjw.binjiang.gov.cn/zwgk/t20240105_1.html"
    requested = "http://wjw.binjiang.gov.cn/redirect?id=1"
    with Store(data_dir) as store:
        data = page_bytes()
        result = process_page(data, final)
        store.save_page(url=requested, final_url=final, body=data, record=result.record,
                        fetched_at="2024-01-05T08:00:00+00:00")
        assert store.has_url(final) and store.has_url(requested)
        assert not store.has_url("http://wjw.binjiang.gov.cn/other.html")

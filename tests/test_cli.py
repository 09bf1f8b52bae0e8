"""`hra` as a user runs it (a real process): import, list, show, stats, reprocess, export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, report_page

REPORT = [
    "2023年,滨江市卫生健康系统深入推进紧密型县域医共体建设,全市组建医共体12个,家庭医生签约服务覆盖率达到75.3%。",
    "全年完成基本公共卫生服务项目考核,居民电子健康档案建档率达到92%,65岁以上老年人健康管理率达到70.5%。",
    "深化医药卫生体制改革,推进分级诊疗制度建设,县域内就诊率达到91.2%,基层医疗卫生机构诊疗量占比持续提升。",
    "加强疾病预防控制体系建设,完成传染病监测预警平台升级,全年报告法定传染病发病率低于全省平均水平。",
]
OFF_TOPIC = [
    "青春是一首激昂的歌,五四精神激励着一代又一代青年奋勇向前,我们要传承五四精神,勇担时代使命,在奋斗中书写青春华章。",
    "作为新时代的青年,我们要坚定理想信念,志存高远,脚踏实地,把个人的理想追求融入国家和民族的事业之中,不负韶华。",
    "同学们,让我们以青春之我、奋斗之我,为实现中华民族伟大复兴的中国梦贡献青春力量,让青春在奉献中绽放绚丽之花。",
]


def hra(*args: str, data_dir: Path | None = None, env: dict[str, str] | None = None,
        stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("HRA_DATA_DIR", None) if env is None else None
    cmd = [sys.executable, "-m", "archive"]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=ROOT,
                          env=full_env, timeout=120)


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    root = tmp_path / "pages"
    (root / "sub").mkdir(parents=True)
    (root / "report.html").write_text(report_page("滨江市卫生健康委员会2023年工作总结", REPORT),
                                      encoding="utf-8")
    gbk = report_page("滨江市2024年卫生健康工作要点", [*REPORT[1:], REPORT[0]], charset_meta=None)
    (root / "sub" / "plan-gbk.htm").write_bytes(gbk.encode("gbk"))
    (root / "speech.html").write_text(report_page("五四青年节演讲稿", OFF_TOPIC), encoding="utf-8")
    (root / "empty.html").write_bytes(b"")
    (root / "binary.html").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    (root / "nobody.html").write_text("<html><head><title>x</title></head><body></body></html>")
    (root / "notes.txt").write_text("not imported")
    return root


def test_import_mixed_directory_reports_each_problem_and_goes_on(pages: Path, tmp_path: Path):
    data = tmp_path / "data"
    result = hra("import", str(pages), data_dir=data)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "2 new" in result.stdout and "1 skipped" in result.stdout
    for name, reason in (("empty.html", "empty page"), ("binary.html", "binary"),
                         ("nobody.html", "no text")):
        line = next(x for x in result.stderr.splitlines() if name in x)
        assert reason in line
    stats = json.loads(hra("stats", "--json", data_dir=data).stdout)
    assert stats["documents"] == 2
    assert stats["by_doc_type"] == {"plan": 1, "summary": 1}
    assert stats["by_year"] == {"2023": 1, "2024": 1}
    assert stats["flags"]["not_health_report"] == 0

    again = hra("import", str(pages), "--json", data_dir=data)
    summary = json.loads(again.stdout)
    assert (summary["new"], summary["unchanged"]) == (0, 2)
    runs = json.loads(hra("runs", "--json", data_dir=data).stdout)
    assert [r["kind"] for r in runs] == ["import", "import"]
    assert all(r["status"] == "ok" and r["trigger"] == "manual" and r["duration_s"] is not None
               for r in runs)


def test_all_keeps_off_topic_flagged(pages: Path, tmp_path: Path):
    data = tmp_path / "data"
    hra("import", "--all", str(pages / "speech.html"), data_dir=data)
    listed = [json.loads(x) for x in hra("list", "--json", data_dir=data).stdout.splitlines()]
    assert len(listed) == 1 and listed[0]["is_health_report"] is False


def test_nothing_importable_exits_non_zero(tmp_path: Path):
    big = tmp_path / "big.html"
    big.write_bytes(b"<html><body><p>" + "卫生健康".encode() * (30 * 1024 * 1024 // 12) + b"</p>")
    result = hra("import", str(big), str(tmp_path / "missing"), data_dir=tmp_path / "d")
    assert result.returncode == 1
    assert "page too large" in result.stderr and "no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_list_show_raw_and_unknown_id(pages: Path, tmp_path: Path):
    data = tmp_path / "data"
    hra("import", str(pages / "report.html"), data_dir=data)
    record = json.loads(hra("list", "--json", data_dir=data).stdout)
    shown = json.loads(hra("show", record["id"][:6], "--json", data_dir=data).stdout)
    assert shown["title"] == "滨江市卫生健康委员会2023年工作总结"
    assert shown["published"] == "2023-10-08"
    assert "医共体" in shown["text"] and "版权所有" not in shown["text"]
    human = hra("show", record["id"], data_dir=data).stdout
    assert "滨江市卫生健康委员会2023年工作总结" in human and "医共体" in human
    raw = subprocess.run([sys.executable, "-m", "archive", "--data-dir", str(data), "show",
                          record["id"], "--raw"], capture_output=True, cwd=ROOT, check=True)
    assert raw.stdout == (pages / "report.html").read_bytes()
    missing = hra("show", "ffffffff", data_dir=data)
    assert missing.returncode == 1 and "no document with id" in missing.stderr


def test_export_jsonl_round_trip_into_another_archive(pages: Path, tmp_path: Path):
    first, second = tmp_path / "one", tmp_path / "two"
    hra("import", str(pages), data_dir=first)
    out = tmp_path / "all.jsonl"
    assert hra("export", "--format", "jsonl", "--all-versions", "-o", str(out),
               data_dir=first).returncode == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    exists = hra("export", "--format", "jsonl", "-o", str(out), data_dir=first)
    assert exists.returncode == 1 and "--force" in exists.stderr
    result = json.loads(hra("import", str(out), "--json", data_dir=second).stdout)
    assert result["new"] == 2
    again = json.loads(hra("import", str(out), "--json", data_dir=second).stdout)
    assert again["unchanged"] == 2 and again["new"] == 0
    exported_again = hra("export", "--format", "jsonl", "--all-versions",
                         data_dir=second).stdout.splitlines()
    assert sorted(exported_again) == sorted(lines)


def test_bad_jsonl_lines_are_reported(tmp_path: Path):
    from archive.record import Record

    good = Record(id="a1b2c3d4e5f60718", url="http://x.cn/1", title="滨江市2023年卫生健康工作总结",
                  published=None, year=2023, site=None, column=None, region=None,
                  doc_type="summary", text="全市卫生健康系统深入推进医共体建设。")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(good.to_json(), ensure_ascii=False) + '\nnot json\n{"id": "b"}\n',
                   encoding="utf-8")
    result = hra("import", str(bad), "--json", data_dir=tmp_path / "d")
    summary = json.loads(result.stdout)
    assert (summary["new"], summary["failed"]) == (1, 2)
    assert any("bad.jsonl:2" in e for e in summary["errors"])
    assert any("bad.jsonl:3" in e and "needs id, url and text" in e for e in summary["errors"])


def test_reprocess_reports_counts(pages: Path, tmp_path: Path):
    data = tmp_path / "data"
    hra("import", str(pages), data_dir=data)
    result = json.loads(hra("reprocess", "--json", data_dir=data).stdout)
    assert result["pages"] == 2 and result["unchanged"] == 2


def test_data_dir_from_environment_and_bad_data_dir(pages: Path, tmp_path: Path):
    env_dir = tmp_path / "from-env"
    result = hra("import", str(pages / "report.html"), env={"HRA_DATA_DIR": str(env_dir)})
    assert result.returncode == 0 and (env_dir / "archive.sqlite3").exists()
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    bad = hra("stats", data_dir=not_a_dir)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    empty = hra("stats", data_dir=tmp_path / "nothing-here")
    assert empty.returncode == 1 and "no archive" in empty.stderr


def test_import_eval_pages_then_stats_counts_match_the_cases(tmp_path: Path):
    cases = [json.loads(p.read_text(encoding="utf-8"))
             for p in (ROOT / "tests" / "eval" / "cases").glob("*.json")]
    reports = [c for c in cases if c["meta"]["is_health_report"]]
    data = tmp_path / "data"
    summary = json.loads(hra("import", str(ROOT / "tests" / "eval" / "pages"), "--json",
                             data_dir=data).stdout)
    assert summary["new"] == len(reports)
    assert summary["skipped_by_reason"] == {"list": 1, "off-topic": len(cases) - len(reports) - 1}
    stats = json.loads(hra("stats", "--json", data_dir=data).stdout)
    assert stats["documents"] == len(reports)
    by_type: dict[str, int] = {}
    for c in reports:
        by_type[c["meta"]["doc_type"]] = by_type.get(c["meta"]["doc_type"], 0) + 1
    assert stats["by_doc_type"] == by_type
    assert stats["flags"]["truncated"] == sum(c["meta"]["truncated"] for c in reports)
    assert stats["flags"]["traditional_source"] == sum(
        c["meta"]["source_script"] == "traditional" for c in reports)


def test_dups_lists_the_reposted_report_under_its_government_copy(tmp_path: Path):
    data = tmp_path / "data"
    hra("import", str(ROOT / "tests" / "eval" / "pages"), data_dir=data)
    clusters = json.loads(hra("dups", "--json", data_dir=data).stdout)
    assert len(clusters) == 1
    copies = clusters[0]["copies"]
    assert len(copies) == 3 and copies[0]["canonical"]
    # Imported files have file: URLs, so the earliest published complete copy wins.
    assert copies[0]["site"] == "洛阳市卫生健康委员会"
    assert copies[0]["published"] == min(c["published"] for c in copies)
    assert all(c["similarity"] >= 0.9 for c in copies[1:])
    one = json.loads(hra("dups", copies[2]["id"][:8], "--json", data_dir=data).stdout)
    assert [c["id"] for c in one[0]["copies"]] == [c["id"] for c in copies]
    listed = [json.loads(x) for x in hra("list", "--json", "--limit", "100", "--all-versions",
                                         data_dir=data).stdout.splitlines()]
    assert sum(r["duplicate_of"] == copies[0]["id"] for r in listed) == 2
    # Like search and export, `hra list` shows the canonical copy only unless --all-versions.
    canonical = [json.loads(x) for x in hra("list", "--json", "--limit", "100",
                                            data_dir=data).stdout.splitlines()]
    assert len(canonical) == len(listed) - 2
    assert not any(r["duplicate_of"] for r in canonical)


def test_export_query_matches_search_and_hides_copies_by_default(tmp_path: Path):
    data = tmp_path / "data"
    hra("import", str(ROOT / "tests" / "eval" / "pages"), data_dir=data)
    for query, extra in (("医共体", []), ("卫生健康", ["--sort", "date", "--year", "2023"]),
                         ("讲话", ["--type", "speech", "--all-versions"])):
        found = json.loads(hra("search", query, *extra, "--limit", "1000", "--json",
                               data_dir=data).stdout)
        exported = hra("export", query, *extra, "--format", "jsonl", "--no-text", data_dir=data)
        assert exported.returncode == 0, exported.stderr
        ids = [json.loads(x)["id"] for x in exported.stdout.splitlines()]
        assert ids == [h["id"] for h in found["hits"]] and len(ids) == found["total"] > 0
    speeches = json.loads(hra("search", "讲话", "--type", "speech", "--json", "--limit", "100",
                              data_dir=data).stdout)
    luoyang = [h for h in speeches["hits"] if h["copies"] > 1]
    assert len(luoyang) == 1 and luoyang[0]["copies"] == 3  # canonical copy only, with its count
    everything = hra("export", "--all-versions", "--no-text", data_dir=data).stdout.splitlines()
    canonical = hra("export", "--no-text", data_dir=data).stdout.splitlines()
    assert len(everything) == 33 and len(canonical) == 31  # 4 official-document pages (#11)
    bad = hra("export", '"unbalanced', data_dir=data)
    assert bad.returncode == 2 and "bad query" in bad.stderr


def test_archive_from_the_nfkc_era_is_reprocessed_into_full_width_and_reindexed(tmp_path: Path):
    """An archive written by hra before stored text kept full-width punctuation (NFKC'ed text,
    an index of schema 1): search and check ask for a rebuild; reprocess restores the page's
    ，（） and brings the index to the current schema; `(试行)` still finds `（试行）`."""
    import dataclasses
    import unicodedata

    from archive.store import Store
    from search.index_files import current_path, read_state, write_state

    pages = tmp_path / "pages"
    pages.mkdir()
    paragraphs = [p.replace(",", "，") for p in REPORT]
    paragraphs[0] += "印发《家庭医生签约服务规范（试行）》。"
    (pages / "report.html").write_text(report_page("滨江市卫生健康委员会2023年工作总结", paragraphs),
                                       encoding="utf-8")
    data = tmp_path / "data"
    assert hra("import", str(pages), data_dir=data).returncode == 0
    with Store(data) as store:
        (record,) = store.iter_documents()
        assert "，" in record.text and "（试行）" in record.text
        page_id = store.db.execute("SELECT page_id FROM documents WHERE id = ?",
                                   (record.id,)).fetchone()[0]
        old = dataclasses.replace(record, text=unicodedata.normalize("NFKC", record.text))
        store.update_document(old, page_id)
    assert hra("reindex", data_dir=data).returncode == 0
    index_dir = current_path(data)
    assert index_dir is not None
    write_state(index_dir, **{**read_state(index_dir), "schema": 1})

    for command in (("search", "医共体"), ("check",)):
        result = hra(*command, data_dir=data)
        assert result.returncode != 0 and "Traceback" not in result.stderr, command
        assert "hra reindex" in result.stderr, command

    summary = json.loads(hra("reprocess", "--json", data_dir=data).stdout)
    assert summary["changed"] == 1
    with Store(data, readonly=True) as store:
        (record,) = store.iter_documents()
        assert "，" in record.text and "（试行）" in record.text and "," not in record.text
    assert hra("reindex", data_dir=data).returncode == 0
    check = hra("check", "--json", data_dir=data)
    assert check.returncode == 0 and json.loads(check.stdout)["ok"], check.stdout
    for query in ('"(试行)"', '"规范（试行）"', '"医共体建设,全市"'):
        result = hra("search", query, "--json", data_dir=data)
        assert result.returncode == 0, (query, result.stderr)
        assert record.id in result.stdout, query

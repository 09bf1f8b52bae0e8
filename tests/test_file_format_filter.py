"""`--file-format`: web pages, one attachment format or any attachment, the same on every front
end (`hra search`, `hra list`, `hra export`, `hra trend`, the web page), and the format facet."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import document_fixtures as fx
from tests.conftest import ROOT

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>滨江市卫生健康委员会2024年上半年工作总结</title></head><body>
<div class="nav">首页 | 政务公开 | 工作动态</div>
<div class="article"><h1>滨江市卫生健康委员会2024年上半年工作总结</h1>
<p class="info">发布时间：2024-07-12 来源：市卫生健康委</p>
<p>今年以来，市卫生健康委坚持以人民健康为中心，持续推进县域医共体建设，三个县全部组建紧密型
医共体，牵头医院向乡镇卫生院派驻专家四十二名，基层门诊量同比增长百分之八点六。</p>
<p>家庭医生签约服务提质扩面，重点人群签约率达到百分之七十六，慢性病患者规范管理率稳步提升。
公共卫生服务体系进一步健全，传染病监测预警能力明显增强。</p>
<p>下半年，我们将围绕医共体运行机制、基层人才队伍和数字健康建设，抓好各项任务落实。</p>
</div><div class="footer">主办：滨江市卫生健康委员会</div></body></html>
"""


def hra(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archive.cli", *args, "--data-dir",
                           str(data_dir)], capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("formats")
    files = root / "files"
    files.mkdir()
    (files / "summary.html").write_text(PAGE, encoding="utf-8")
    (files / "plan.docx").write_bytes(fx.docx_report())
    (files / "indicators.xlsx").write_bytes(fx.xlsx_indicators())
    done = hra(root / "data", "import", str(files), "--all")
    assert done.returncode == 0, done.stderr
    return root / "data"


def formats(data_dir: Path, *args: str) -> list[str]:
    result = hra(data_dir, "search", *args, "--json", "--limit", "50")
    assert result.returncode == 0, result.stderr
    return sorted(hit["format"] for hit in json.loads(result.stdout)["hits"])


def test_search_by_file_format(data_dir: Path) -> None:
    assert formats(data_dir, "医共体") == ["docx", "html"]
    assert formats(data_dir, "医共体", "--file-format", "docx") == ["docx"]
    assert formats(data_dir, "医共体", "--file-format", "DOCX") == ["docx"]
    assert formats(data_dir, "医共体", "--file-format", "html") == ["html"]
    assert formats(data_dir, "医共体", "--file-format", "pdf") == []
    assert formats(data_dir, "--file-format", "attachment") == ["docx", "xlsx"]
    facets = json.loads(hra(data_dir, "search", "--facets", "--json").stdout)["facets"]
    assert facets["format"] == {"docx": 1, "html": 1, "xlsx": 1}
    assert facets["issuer"] == {"(none)": 3}
    # a facet no match has a value of is left out of the human list (kept in --json)
    shown = hra(data_dir, "search", "--facets").stdout
    assert "format: docx 1, html 1, xlsx 1" in shown and "issuer:" not in shown


def test_a_wrong_file_format_is_one_line_and_exit_2(data_dir: Path) -> None:
    result = hra(data_dir, "search", "医共体", "--file-format", "zip")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "unknown --file-format 'zip'" in result.stderr and "attachment" in result.stderr


def test_list_export_and_trend_take_the_same_filter(data_dir: Path) -> None:
    listed = hra(data_dir, "list", "--file-format", "attachment", "--json")
    assert sorted(json.loads(line)["format"] for line in listed.stdout.splitlines()) == [
        "docx", "xlsx"]
    shown = hra(data_dir, "list", "--file-format", "xlsx")
    assert "with --file-format xlsx" in " ".join(shown.stdout.split())
    exported = hra(data_dir, "export", "医共体", "--file-format", "html", "--format", "jsonl")
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["format"] for r in rows] == ["html"] and "医共体" in rows[0]["text"]
    trend = json.loads(hra(data_dir, "trend", "医共体", "--by", "type", "--file-format", "docx",
                           "--json").stdout)
    assert sum(trend["counts"]["医共体"].values()) == 1  # the docx only


def test_the_web_page_filters_and_counts_formats(data_dir: Path) -> None:
    from starlette.testclient import TestClient

    from archive.web.app import create_app

    with TestClient(create_app(data_dir)) as client:
        page = client.get("/", params={"q": "医共体", "format": "docx"})
        assert page.status_code == 200
        ids = re.findall(r'<h3><a href="/doc/([0-9a-f]{16})">', page.text)
        expected = json.loads(hra(data_dir, "search", "医共体", "--file-format", "docx",
                                  "--json").stdout)
        assert ids == [hit["id"] for hit in expected["hits"]] and len(ids) == 1
        assert "格式：Word (DOCX)" in page.text  # the active filter, named
        assert "附件（DOCX）" in page.text  # the hit says it is an attachment
        everything = client.get("/", params={"q": "医共体"}).text
        assert '?q=%E5%8C%BB%E5%85%B1%E4%BD%93&amp;format=docx' in everything  # facet link
        assert 'data-facet="format"' in everything and 'data-facet="issuer"' not in everything
        bad = client.get("/", params={"q": "医共体", "format": "zip"})
        assert bad.status_code == 400 and "--file-format" in bad.text

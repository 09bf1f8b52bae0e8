"""The archive the web tests read: the demo archive (`hra demo`, crawled from the bundled site)
plus hostile documents: a JSONL record whose title, site and text hold markup and scripts, and
a saved page with scripts (its stored raw page is shown in the document page's frame)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from archive.cli import _register_command_modules, cli
from tests.conftest import report_page

_register_command_modules()

XSS_ID = "0123456789abcdef"
XSS_TITLE = "<script>alert(1)</script>滨江市卫生健康委2023年工作总结"
XSS_SITE = '滨江市卫生健康委员会"><img src=x onerror=alert(4)>'
XSS_PAGE_TITLE = "滨江市卫生健康委员会2023年卫生健康工作总结"


def hra(data_dir: Path, *args: str) -> str:
    """`hra --data-dir DATA ARGS` in-process; its stdout (the command must succeed)."""
    result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def build_archive(base: Path) -> Path:
    """The demo archive with the hostile documents, in ``base/demo``."""
    data_dir = base / "demo"
    result = CliRunner().invoke(cli, ["demo", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    record = {
        "id": XSS_ID, "url": "https://wjw.example.gov.cn/xss/t1.html", "title": XSS_TITLE,
        "published": "2024-01-10", "year": 2023, "site": XSS_SITE, "region": "贵州省遵义市",
        "doc_type": "summary",
        "text": "2023年，市卫生健康委坚持以人民健康为中心，<b>深化</b>医药卫生体制改革，"
                "全市紧密型县域医共体建设全面推进。\n<script>alert(5)</script>二、2024年工作安排。"
                "持续推进健康滨江建设。",
    }
    jsonl = base / "hostile.jsonl"
    jsonl.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    page = report_page(XSS_PAGE_TITLE, [
        "2023年，市卫生健康委坚持以人民健康为中心，深化医药卫生体制改革，紧密型县域医共体"
        "建设全面推进，家庭医生签约服务覆盖率达到45%。",
        "一、主要工作完成情况。公共卫生服务体系不断健全，新建社区卫生服务中心3个。"
        "<script>alert(6);document.documentElement.dataset.ran='script'</script>"
        "<img src=x onerror=\"document.documentElement.dataset.img='onerror'\">",
        "二、2024年工作安排。持续推进健康滨江建设，加强疾病预防控制体系建设，完善基层医疗卫生"
        "服务网络，推进县域医共体医保基金打包付费改革，提升家庭医生签约服务质量，做好"
        "“一老一小”健康服务，加强卫生健康人才队伍建设，推动公立医院高质量发展。",
        "三、存在的问题。优质医疗资源总量不足，区域分布不均衡；基层人才引不进、留不住的问题"
        "仍然突出；公共卫生应急处置能力与群众期待还有差距。",
    ], extra_head="<script>alert(2)</script>")
    html = base / "hostile.html"
    html.write_text(page, encoding="utf-8")
    hra(data_dir, "import", str(jsonl), str(html))
    return data_dir

"""Writes the demo site's attachment: a DOCX report that lives only in that file, linked from
the meeting news of the demo health commission (wjw/xxgk/gzdt/202403/t20240308_1047.html).

    python -m crawler.demo.make_attachments     # rewrites the committed file

The text is written here for the demo (no document from elsewhere); the file is committed so
`hra demo` needs nothing at run time but python-docx, which reads it.
"""

from __future__ import annotations

import datetime
import io
import zipfile
from pathlib import Path

SITE_DIR = Path(__file__).with_name("site")
TARGET = SITE_DIR / "wjw/xxgk/gzdt/202403/P020240308_1047_renwu.docx"
TITLE = "遵义市2024年卫生健康重点工作任务清单"
PARAGRAPHS = [
    "为贯彻落实全市卫生健康工作会议精神，确保2024年各项重点工作落到实处，现将重点工作任务分解如下。",
    "一、深化医药卫生体制改革。全面推进紧密型县域医共体建设，年底前各县（区）医共体内实现人员统筹使用、"
    "药品统一采购、医保基金打包支付，县域内就诊率稳定在百分之九十以上。",
    "二、夯实基层医疗卫生服务网底。推进乡村卫生一体化管理，开展村医养老保障试点，每个乡镇卫生院至少配备"
    "两名全科医生，村卫生室标准化建设达标率达到百分之百。",
    "三、健全疾病预防控制体系。完善多点触发的传染病监测预警机制，市、县两级疾控中心实验室检测能力全部达标，"
    "适龄儿童免疫规划疫苗接种率保持在百分之九十五以上。",
    "四、做好“一老一小”健康服务。新建医养结合机构三家，二级以上综合医院设立老年医学科的比例达到百分之六十，"
    "每千人口拥有三岁以下婴幼儿托位数达到四点五个。",
]
TASKS = [
    ["序号", "重点任务", "牵头单位", "完成时限"],
    ["1", "县域医共体医保基金打包支付", "体改科", "2024年12月"],
    ["2", "村医养老保障试点", "基层卫生健康科", "2024年10月"],
    ["3", "疾控中心实验室能力达标", "疾控科", "2024年11月"],
]
#: Fixed timestamps: the same text gives the same file.
_WHEN = datetime.datetime(2024, 3, 8, 9, 0, 0)


def build() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = TITLE
    document.core_properties.author = "遵义市卫生健康委员会"
    document.core_properties.created = document.core_properties.modified = _WHEN
    document.core_properties.last_modified_by = ""
    document.add_heading(TITLE, level=1)
    for paragraph in PARAGRAPHS:
        document.add_paragraph(paragraph)
    table = document.add_table(rows=len(TASKS), cols=len(TASKS[0]))
    for r, row in enumerate(TASKS):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("遵义市卫生健康委员会")
    document.add_paragraph("2024年3月8日")
    raw = io.BytesIO()
    document.save(raw)
    return _stable_zip(raw.getvalue())


def _stable_zip(data: bytes) -> bytes:
    """The same parts with fixed dates, so rebuilding gives identical bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_WHEN.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def main() -> None:
    TARGET.write_bytes(build())
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

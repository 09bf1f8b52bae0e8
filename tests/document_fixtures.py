"""Attachment fixtures made in the tests (no files from elsewhere): CJK PDFs (reportlab's
built-in Adobe CID font STSong-Light; the Noto CJK fonts of fonts-noto-cjk are CFF-outlined
OpenType collections, which reportlab cannot embed, so PDFs with embedded Noto fonts come from
LibreOffice: `pdf_via_soffice`), DOCX (python-docx), XLSX (openpyxl), DOC (LibreOffice)."""

from __future__ import annotations

import io
import subprocess
import tempfile
import zipfile
from pathlib import Path

SUMMARY_TITLE = "某市卫生健康委员会2023年工作总结"
PARAGRAPHS = [
    "一、基本医疗服务能力持续提升。全市新建社区卫生服务中心十二个，家庭医生签约服务覆盖率达到百分之六十五，"
    "基层诊疗量占比稳步提高，县域内就诊率达到百分之九十。",
    "二、公共卫生体系不断完善。疾病预防控制机构改革稳步推进，传染病监测预警能力明显增强，"
    "全年报告法定传染病发病率低于全省平均水平。",
    "三、医药卫生体制改革纵深推进。紧密型县域医共体建设实现全覆盖，药品耗材集中带量采购品种达到三百余个，"
    "群众就医负担进一步减轻。",
    "四、二〇二四年工作安排。坚持以人民健康为中心，持续深化医改，强化公共卫生体系建设，推动优质医疗资源扩容下沉。",
]
TABLE = [
    ["指标名称", "二〇二二年", "二〇二三年", "增长"],
    ["门诊人次", "一百二十万", "一百三十五万", "百分之十二"],
    ["出院人数", "八万六千", "九万四千", "百分之九"],
    ["床位数", "六千二百", "六千八百", "百分之十"],
]


def _canvas():
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setFont("STSong-Light", 11)
    return buf, c, A4[1]


def _wrap(text: str, width: int) -> list[str]:
    return [text[i:i + width] for i in range(0, len(text), width)]


def pdf_prose(pages: int = 1, title: str = SUMMARY_TITLE,
              paragraphs: list[str] | None = None, encrypt: str | None = None) -> bytes:
    """One column of paragraphs (wrapped at 38 characters, first lines indented), a page
    number at the bottom of each page."""
    buf, c, height = _canvas()
    if encrypt:
        from reportlab.lib.pdfencrypt import StandardEncryption

        c.setEncrypt(StandardEncryption(encrypt, ownerPassword=encrypt + "!", canPrint=0))
    for number in range(1, pages + 1):
        c.setFont("STSong-Light", 11)  # every page: showPage() resets the font
        y = height - 60
        c.drawString(200, y, title)
        y -= 30
        for para in paragraphs or PARAGRAPHS:
            for i, line in enumerate(_wrap(para, 38)):
                c.drawString(82 if i == 0 else 60, y, line)
                y -= 16
        c.drawString(290, 40, f"- {number} -")
        c.showPage()
    c.save()
    return buf.getvalue()


def pdf_two_columns(interleaved: bool = False) -> bytes:
    """A page in two columns (paragraphs 1-2 left, 3-4 right), drawn column by column, or
    line by line across both columns (`interleaved`, as some generators write them)."""
    buf, c, height = _canvas()
    c.drawString(180, height - 60, SUMMARY_TITLE)
    left = [ln for p in PARAGRAPHS[:2] for ln in _wrap(p, 19)]
    right = [ln for p in PARAGRAPHS[2:] for ln in _wrap(p, 19)]
    if interleaved:
        for i in range(max(len(left), len(right))):
            for x, col in ((60, left), (310, right)):
                if i < len(col):
                    c.drawString(x, height - 100 - 16 * i, col[i])
    else:
        for x, col in ((60, left), (310, right)):
            for i, line in enumerate(col):
                c.drawString(x, height - 100 - 16 * i, line)
    c.showPage()
    c.save()
    return buf.getvalue()


def pdf_table(rows: list[list[str]] | None = None) -> bytes:
    """A caption and a table drawn cell by cell, column by column (as table writers often do)."""
    rows = rows or TABLE
    buf, c, height = _canvas()
    c.drawString(60, height - 50, "表1 全市医疗服务主要指标")
    for col in range(len(rows[0])):
        for r, row in enumerate(rows):
            c.drawString(60 + col * 120, height - 80 - 20 * r, row[col])
    c.showPage()
    c.save()
    return buf.getvalue()


def pdf_image_only() -> bytes:
    """A 'scanned' page: a picture and no text layer."""
    from reportlab.lib.utils import ImageReader

    buf, c, height = _canvas()
    png = io.BytesIO()
    _tiny_png(png)
    c.drawImage(ImageReader(png), 60, height - 400, width=400, height=300)
    c.showPage()
    c.save()
    return buf.getvalue()


def _tiny_png(out: io.BytesIO) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes([200, 200, 200]) * 8 for _ in range(8))
    out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
              + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    out.seek(0)


def docx_report(title: str = "2024年全市卫生健康工作要点", paragraphs: list[str] | None = None,
                table: list[list[str]] | None = None, core_title: str | None = None,
                table_after: int = 1) -> bytes:
    """A DOCX: a heading, paragraphs, a table after paragraph `table_after` (0-based: by
    default between the second and the third)."""
    import docx

    document = docx.Document()
    if core_title is not None:
        document.core_properties.title = core_title
    document.add_heading(title, level=1)
    body = paragraphs or PARAGRAPHS
    for i, para in enumerate(body):
        document.add_paragraph(para)
        if i == min(table_after, len(body) - 1):
            rows = table or TABLE
            t = document.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for col, value in enumerate(row):
                    t.cell(r, col).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_indicators() -> bytes:
    """Two sheets: a titled table of indicators, and a list of institutions."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "主要指标"
    sheet.append(["2023年全市卫生健康事业发展主要指标"])
    for row in TABLE:
        sheet.append(row)
    sheet.append(["每千人口执业医师数", 3.2, 3.4, 0.2])
    other = book.create_sheet("机构")
    other.append(["机构名称", "床位"])
    other.append(["市第一人民医院", 1200])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zip_bomb_docx() -> bytes:
    """A file named .docx whose document part inflates to 1 GiB of zeros (1 MiB compressed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w", force_zip64=True) as part:
            block = b"\0" * (1 << 20)
            for _ in range(1024):
                part.write(block)
    return out.getvalue()


def convert(data: bytes, suffix: str, target: str) -> bytes:
    """Convert a document with LibreOffice headless (own profile, temp dir removed)."""
    with tempfile.TemporaryDirectory(prefix="hra-fixture-") as tmp:
        source = Path(tmp) / f"in.{suffix}"
        source.write_bytes(data)
        subprocess.run(
            ["soffice", "--headless", f"-env:UserInstallation={(Path(tmp) / 'p').as_uri()}",
             "--convert-to", target, "--outdir", tmp, str(source)],
            check=True, capture_output=True, timeout=180)
        return (Path(tmp) / f"in.{target}").read_bytes()

"""PDF -> paragraphs with pypdfium2 (PDFium, Chrome's PDF engine).

Chosen over pdfminer.six by `bench/pdf_choice.py` (README "Attachments"): both keep the
order of CJK text in single- and two-column pages written column by column, but pdfminer's
layout analysis splits a table into its columns (every row torn apart) while PDFium keeps each
row on one line, and PDFium is many times faster.

PDFium gives the text of a page line by line, as laid out; `join_lines` puts the lines of one
paragraph back together (Chinese has no spaces to restore) and drops page numbers.
"""

from __future__ import annotations

import re

import pypdfium2 as pdfium

from archive.text.documents.common import DocumentError, DocumentText, pick_title

#: Pages read from one PDF (a report has tens; a 5,000-page scan is not read to the end).
MAX_PAGES = 2000
#: Fewer visible characters than this in the whole file: a scan without a text layer.
MIN_CHARS = 20

_PAGE_NUMBER = re.compile(r"^[-—－–\s]*\d{1,4}[-—－–\s]*$|^第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?$"
                          r"|^\d+\s*/\s*\d+$")
_STARTS_PARAGRAPH = re.compile(
    r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d+[.、．]\D|第[一二三四五六七八九十\d]+[章节条部分]"
    r"|附件|附表)")
_ENDS_PARAGRAPH = ("。", "！", "？", "；", "：", "”", "」", "!", "?", ";", ":")
_CJK_GAP = re.compile(r"(?<=\S) +(?=\S)")


def extract(data: bytes) -> DocumentText:
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise DocumentError(_why(str(exc))) from exc
    try:
        lines: list[str] = []
        for index in range(min(len(pdf), MAX_PAGES)):
            page = pdf[index]
            textpage = page.get_textpage()
            lines.extend(textpage.get_text_range().replace("\r\n", "\n").split("\n"))
            textpage.close()
            page.close()
        title = pdf.get_metadata_dict().get("Title")
    finally:
        pdf.close()
    paragraphs = join_lines(lines)
    if sum(len(p.replace(" ", "").replace("\t", "")) for p in paragraphs) < MIN_CHARS:
        return DocumentText("pdf", pick_title(title, []), [], ["no_text"],
                            "no text layer (a scanned PDF? OCR is not done)")
    return DocumentText("pdf", pick_title(title, paragraphs), paragraphs)


def _why(message: str) -> str:
    lowered = message.lower()
    if "password" in lowered:
        return "encrypted PDF: a password is needed to open it"
    if "format" in lowered or "data" in lowered:
        return f"damaged or not a PDF ({message})"
    return f"cannot read the PDF ({message})"


def join_lines(lines: list[str]) -> list[str]:
    """Lines as laid out -> paragraphs: a line continues the previous one unless that one
    ended a sentence or was clearly shorter than a full line, or this one starts a heading
    (一、 （二） 3. 第四条); table rows (cells apart by spaces) stay lines, cells tab-separated;
    page numbers go."""
    rows = [line.strip() for line in lines]
    rows = [r for r in rows if r and not _PAGE_NUMBER.match(r)]
    full = max((len(r) for r in rows if not _is_row(r)), default=0)
    out: list[str] = []
    open_paragraph = False
    for row in rows:
        if _is_row(row):
            out.append(_CJK_GAP.sub("\t", row))
            open_paragraph = False
            continue
        if open_paragraph and not _STARTS_PARAGRAPH.match(row):
            out[-1] += row
        else:
            out.append(row)
        open_paragraph = not row.endswith(_ENDS_PARAGRAPH) and len(row) >= 0.85 * full
    return out


def _is_row(line: str) -> bool:
    """A table row: two or more cells of CJK text or figures apart by spaces."""
    cells = line.split()
    return len(cells) >= 2 and sum(1 for c in cells if re.search(r"[\u4e00-\u9fff\d]", c)) >= 2 \
        and not re.search(r"[a-zA-Z]{3,}", line)

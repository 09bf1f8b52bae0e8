"""Which PDF library reads Chinese reports in reading order: pypdfium2 or pdfminer.six.

    python bench/pdf_choice.py [--soffice]

On PDFs made here (tests/document_fixtures.py; --soffice adds a DOCX with a table exported by
LibreOffice with embedded Noto CJK fonts) it prints per library and file:

* order: of the pieces of the text in reading order (lines of the paragraphs, table cells row
  by row), the share found one after the other in the library's output (1.0 = right);
* rows: the share of table rows whose cells come out on one line, in order;
* speed: pages per second over a 100-page report (median of 3), and the ratio to pdfminer:
  drawn by reportlab with a non-embedded CID font (STSong-Light), and (--soffice) exported by
  LibreOffice with embedded Noto CJK subsets, the common case.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import document_fixtures as fx


def pdfium_text(data: bytes) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def pdfminer_text(data: bytes) -> str:
    from pdfminer.high_level import extract_text

    return extract_text(io.BytesIO(data))


LIBRARIES = {"pypdfium2": pdfium_text, "pdfminer.six": pdfminer_text}


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def order_score(text: str, pieces: list[str]) -> float:
    """The share of `pieces` found one after the other (each searched after the previous one
    found, so a short cell such as 百分之九 is not taken from an earlier 百分之九十)."""
    flat = _squash(text)
    cursor = good = 0
    for piece in pieces:
        at = flat.find(_squash(piece), cursor)
        if at >= 0:
            good += 1
            cursor = at + len(_squash(piece))
    return good / len(pieces) if pieces else 1.0


def rows_score(text: str, rows: list[list[str]]) -> float:
    lines = [re.sub(r"\s+", " ", line).strip() for line in text.splitlines()]
    good = sum(1 for row in rows if " ".join(row) in lines)
    return good / len(rows)


def _lines(paragraphs: list[str], width: int) -> list[str]:
    # pieces of 6+ characters: a line of one "。" is found anywhere
    return [p[i:i + width] for p in paragraphs for i in range(0, len(p), width)
            if len(p[i:i + width]) >= 6]


def cases(soffice: bool) -> list[tuple[str, bytes, list[str], list[list[str]] | None]]:
    cells = [c for row in fx.TABLE for c in row]
    out = [
        ("one column", fx.pdf_prose(), _lines(fx.PARAGRAPHS, 38), None),
        ("two columns", fx.pdf_two_columns(), _lines(fx.PARAGRAPHS, 19), None),
        ("two columns, drawn across", fx.pdf_two_columns(interleaved=True),
         _lines(fx.PARAGRAPHS, 19), None),
        ("table, drawn by column", fx.pdf_table(), cells, fx.TABLE),
    ]
    if soffice:
        data = fx.convert(fx.docx_report(), "docx", "pdf")
        pieces = [fx.PARAGRAPHS[0][:12], fx.PARAGRAPHS[1][:12], *cells, fx.PARAGRAPHS[2][:12]]
        out.append(("LibreOffice DOCX export (Noto CJK) with a table", data, pieces, fx.TABLE))
    return out


def speed(fn, data: bytes, pages: int) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        fn(data)
        times.append(time.perf_counter() - start)
    return pages / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soffice", action="store_true", help="add a LibreOffice-made PDF")
    args = parser.parse_args()
    print(f"{'file':48} {'library':13} {'order':>6} {'rows':>6}")
    for name, data, pieces, table in cases(args.soffice):
        for lib, fn in LIBRARIES.items():
            text = fn(data)
            rows = f"{rows_score(text, table):6.2f}" if table else "     -"
            print(f"{name:48} {lib:13} {order_score(text, pieces):6.2f} {rows}")
    reports = {"reportlab, CID font": (fx.pdf_prose(pages=100), 100)}
    if args.soffice:
        docx = fx.docx_report(paragraphs=fx.PARAGRAPHS * 150)
        data = fx.convert(docx, "docx", "pdf")
        import pypdfium2 as pdfium

        reports["LibreOffice, embedded Noto"] = (data, len(pdfium.PdfDocument(data)))
    for kind, (data, pages) in reports.items():
        rates = {lib: speed(fn, data, pages) for lib, fn in LIBRARIES.items()}
        base = rates["pdfminer.six"]
        for lib, rate in rates.items():
            print(f"speed ({kind}, {pages} pages) {lib:13} {rate:8.1f} pages/s  "
                  f"x{rate / base:.1f} vs pdfminer.six")


if __name__ == "__main__":
    main()

"""Throughput of attachment extraction per format, beside HTML pages of the same text, in the
same run; peak memory.

    python bench/attachments.py [--pages 20] [--rounds 3] [--no-soffice]

Each format gets one report of `--pages` A4 pages of Chinese text with a table (made by
tests/document_fixtures.py: PDF by reportlab, DOCX by python-docx, XLSX by openpyxl with one
row per line, DOC and a PDF with embedded Noto CJK fonts by LibreOffice) and goes the whole way
`hra import` and the crawl take: `process_page` (sniff, extract, normalize, truncation,
classify -> Record). The baseline is an HTML page holding the same paragraphs. Printed per
format: documents/s, source pages/s, MB/s of input, and the time per document as a multiple of
the HTML page's; then the peak RSS of this process (and of LibreOffice, a child).
Machines here are shared and noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.page_processing import process_page
from tests import document_fixtures as fx

#: About one A4 page of report text.
PAGE_PARAGRAPHS = fx.PARAGRAPHS * 2


def html_page(paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    rows = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in fx.TABLE)
    return (f"<html><head><meta charset='utf-8'><title>{fx.SUMMARY_TITLE}</title></head><body>"
            f"<div class='article'><h1>{fx.SUMMARY_TITLE}</h1><div class='content'>{body}"
            f"<table>{rows}</table></div></div></body></html>").encode()


def xlsx_rows(paragraphs: list[str]) -> bytes:
    import io

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([fx.SUMMARY_TITLE])
    for row in fx.TABLE:
        sheet.append(row)
    for i, paragraph in enumerate(paragraphs, 1):
        sheet.append([i, paragraph[:40], paragraph[40:], len(paragraph)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def inputs(pages: int, soffice: bool) -> dict[str, tuple[bytes, int]]:
    """format -> (bytes, source pages)."""
    paragraphs = PAGE_PARAGRAPHS * pages
    docx = fx.docx_report(fx.SUMMARY_TITLE, paragraphs=paragraphs)
    out = {
        "html (baseline)": (html_page(paragraphs), pages),
        "pdf (reportlab)": (fx.pdf_prose(pages=pages, paragraphs=PAGE_PARAGRAPHS), pages),
        "docx": (docx, pages),
        "xlsx": (xlsx_rows(paragraphs), pages),
    }
    if soffice:
        out["pdf (LibreOffice)"] = (fx.convert(docx, "docx", "pdf"), pages)
        out["doc (LibreOffice)"] = (fx.convert(docx, "docx", "doc"), pages)
    return out


def timed(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20, help="A4 pages per document")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs (median)")
    parser.add_argument("--no-soffice", action="store_true", help="skip DOC and LibreOffice PDF")
    args = parser.parse_args()
    files = inputs(args.pages, not args.no_soffice)
    print(f"{'format':<20} {'size':>9} {'docs/s':>8} {'pages/s':>9} {'MB/s':>7} {'x html':>8}")
    base = None
    for name, (data, pages) in files.items():
        url = f"https://wjw.example.gov.cn/files/report.{name.split()[0]}"
        result = process_page(data, url)
        assert result.record is not None and len(result.record.text) > 500, name
        seconds = timed(lambda d=data, u=url: process_page(d, u), args.rounds)
        base = base or seconds
        print(f"{name:<20} {len(data) / 1024:8.0f}K {1 / seconds:8.2f} {pages / seconds:9.1f} "
              f"{len(data) / seconds / 1e6:7.2f} {seconds / base:8.1f}")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: {own:.0f} MiB (this process), {children:.0f} MiB (largest child: "
          "LibreOffice)")


if __name__ == "__main__":
    main()

"""What every format reader shares: the result, the error, zip-bomb checks, paragraphs."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

#: The formats hra extracts text from (what `sniff_format` may answer, besides "html").
DOCUMENT_FORMATS = ("pdf", "docx", "doc", "wps", "rtf", "xlsx", "xls", "et")
#: A DOCX/XLSX whose parts expand to more than this is refused as a zip bomb.
MAX_UNZIPPED = 200 * 1024 * 1024
#: ... and so is one part that expands more than this many times (real XML: 5-20 times).
MAX_RATIO = 200
#: Rows read from a workbook, paragraphs kept from any document (a report has far fewer).
MAX_ROWS = 100_000


class DocumentError(ValueError):
    """A document that cannot be read; the message is one line for the user."""


@dataclass
class DocumentText:
    """What a reader found: the document's own title (metadata or first heading), the date
    line it ends with (落款), paragraphs (table rows as tab-separated cells) and flags
    (``no_text``: a PDF without a text layer; ``unextracted``: no converter installed)."""

    format: str
    title: str | None
    paragraphs: list[str]
    flags: list[str] = field(default_factory=list)
    note: str | None = None  # a one-line remark for the user (why a file was not extracted)


def file_extension(name: str | None) -> str:
    """The lower-case extension of a file name or a URL's path ("" for none)."""
    if not name:
        return ""
    path = unquote(urlsplit(name).path) if "://" in name else name
    last = path.rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[-1].lower() if "." in last else ""


def check_zip(data: bytes) -> None:
    """Refuse a damaged zip container or a zip bomb before any reader inflates it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentError(f"damaged file: not a complete zip container ({exc})") from exc
    total = sum(i.file_size for i in infos)
    if total > MAX_UNZIPPED:
        raise DocumentError(f"refused: expands to {total / 2**20:.0f} MiB (a zip bomb?)")
    for info in infos:
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(1,
                                                                          info.compress_size):
            raise DocumentError(
                f"refused: {info.filename} expands {info.file_size // max(1, info.compress_size)}"
                " times (a zip bomb?)")


_SPACES = re.compile(r"[ \t\u3000\xa0]+")


def clean_cell(value: object) -> str:
    """A table cell as text: numbers without a trailing .0, whitespace collapsed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _SPACES.sub(" ", str(value)).strip()


def table_row(cells: list[str]) -> str:
    """One table row as a line: cells separated by a tab, trailing empty cells dropped."""
    out = list(cells)
    while out and not out[-1]:
        out.pop()
    return "\t".join(out)


_TITLE_JUNK = re.compile(r"^(?:microsoft\s+(?:word|excel)\s*-\s*)|\.(?:docx?|wps|pdf|xlsx?)$",
                         re.IGNORECASE)
_CJK = re.compile(r"[\u4e00-\u9fff]")


def pick_title(meta_title: str | None, paragraphs: list[str]) -> str | None:
    """The document's title: its metadata title when that reads like one (Chinese, not a
    template's or a file name's), else its first short line that does not end a sentence."""
    if meta_title:
        title = _TITLE_JUNK.sub("", meta_title.strip()).strip()
        if _CJK.search(title) and 4 <= len(title) <= 80:
            return title
    for line in paragraphs[:5]:
        line = line.strip()
        if "\t" in line or not _CJK.search(line):
            continue
        if 4 <= len(line) <= 60 and not line.endswith(("。", "；", "，", ".")):
            return line
        break
    return None

"""Official document metadata of 政府信息公开 pages: issuer, document number, date written.

Government CMSs (TRS, Hanweb/大汉, the 政府信息公开 templates) show a metadata block above the
document: a table of label cells and value cells, or ``label：value`` pairs in one line::

    索引号：11520300/2023-00123   主题分类：卫生、体育
    发布机构：遵义市卫生健康局      成文日期：2023年03月15日
    文号：遵卫健发〔2023〕12号      发布日期：2023-03-17

`find_official` reads the page's lines in order. A line that starts with a label, or holds two
or more, is cut at its labels; a label's value is the text up to the next label, or, when that
is empty (a label cell), the next line unless it is a label itself. The first value of each field
wins. Values are checked: an issuer is a short name with CJK characters (not a date, not "无"); a
document number has the 公文 form (`DOC_NUMBER`); ``written`` is a date (YYYY-MM-DD). The table's 发布日期 is kept too (``published``): it is
the page's visible publication date. Without a
labelled number, a short line that is only a document number among the first lines of the body
(the 公文 header) gives it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.text.metadata import parse_date
from archive.text.normalize import fold_width
from archive.text.vocabulary import (
    CJK_RE,
    DATE_RE,
    DOC_NUMBER,
    DOC_NUMBER_LABELS,
    ISSUER_LABELS,
    NO_VALUE,
    OFFICIAL_LABEL,
    PUBLISHED_LABELS,
    WRITTEN_LABELS,
)

#: An issuer longer than this is a sentence, not a name.
MAX_ISSUER_CHARS = 40
#: How many body paragraphs are searched for an unlabelled 公文 number.
HEADER_LINES = 6
_SPACES = re.compile(r"\s+")
_TRIM = " 　:：;；,，。、|｜"


@dataclass
class Official:
    issuer: str | None = None
    doc_number: str | None = None
    written: str | None = None  # YYYY-MM-DD
    published: str | None = None  # the table's 发布日期 (YYYY-MM-DD), for the record's date


def label_values(lines: list[str]) -> list[tuple[str, str]]:
    """(label without spaces, value) pairs of the metadata lines among `lines`, in order."""
    out: list[tuple[str, str]] = []
    for i, line in enumerate(lines):
        if not OFFICIAL_LABEL.match(line):  # the first label opens the line (a cheap test)
            continue
        matches = [m for m in OFFICIAL_LABEL.finditer(line) if _is_label(line, m)]
        if not matches or matches[0].start() > 0:
            continue
        for k, m in enumerate(matches):
            end = matches[k + 1].start() if k + 1 < len(matches) else len(line)
            value = line[m.end():end].strip(_TRIM)
            if not value and k + 1 == len(matches) and i + 1 < len(lines):
                following = lines[i + 1]
                if not OFFICIAL_LABEL.match(following):
                    value = following.strip(_TRIM)
            out.append((_SPACES.sub("", m.group("label")), value))
    return out


def _is_label(line: str, m: re.Match[str]) -> bool:
    """A label stands apart: at the line's start or after a space, and followed by a colon,
    a closing bracket (【发布机构】), a space or the line's end (so 发布机构应当… in prose is no
    label)."""
    apart = m.start() == 0 or line[m.start() - 1].isspace()
    ends = (any(c in m.group(0) for c in ":：】]") or m.end() == len(line)
            or m.group(0)[-1].isspace())
    return apart and ends


def _issuer(value: str) -> str | None:
    value = _SPACES.sub(" ", value).strip(_TRIM)
    if (not value or value in NO_VALUE or len(value) > MAX_ISSUER_CHARS
            or not CJK_RE.search(value) or DATE_RE.search(fold_width(value))):
        return None
    return value


def _doc_number(value: str) -> str | None:
    m = DOC_NUMBER.search(value)
    return _SPACES.sub("", m.group(0)) if m else None


def find_official(lines: list[str], body: list[str] | None = None) -> Official:
    """The official metadata of a page from its lines (all of them, in order) and, for the
    unlabelled 公文 number, the first paragraphs of its body."""
    found = Official()
    for label, value in label_values(lines):
        if label in ISSUER_LABELS and found.issuer is None:
            found.issuer = _issuer(value)
        elif label in DOC_NUMBER_LABELS and found.doc_number is None:
            found.doc_number = _doc_number(value)
        elif label in WRITTEN_LABELS and found.written is None:
            found.written = parse_date(value)
        elif label in PUBLISHED_LABELS and found.published is None:
            found.published = parse_date(value)
    if found.doc_number is None:
        for para in (body or [])[:HEADER_LINES]:
            m = DOC_NUMBER.fullmatch(para.strip(_TRIM))
            if m and len(para) <= 40:
                found.doc_number = _SPACES.sub("", m.group(0))
                break
    return found

"""What the templates show, as plain values: highlighted snippets (escaped, matches in
``<mark>``), safe links, names of types and statuses in Chinese, page numbers, and the record's
optional parts (attachments, tables) read generically."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment
from markupsafe import Markup, escape

from archive.export import TYPE_NAMES

FACET_NAMES = {"year": "年度", "region": "省份", "doc_type": "类型", "site": "网站",
               "issuer": "发布机构", "format": "格式"}
#: facet -> the search parameter a click on one of its values sets.
FACET_PARAMS = {"year": "year", "region": "region", "doc_type": "type", "site": "site",
                "issuer": "issuer", "format": "format"}
#: The values of the format filter (`search.params.FILE_FORMATS`), named for the page.
FORMAT_NAMES = {"html": "网页", "attachment": "附件（任何格式）", "pdf": "PDF", "docx": "Word (DOCX)",
                "doc": "Word (DOC)", "wps": "WPS 文字", "rtf": "RTF", "xlsx": "Excel (XLSX)",
                "xls": "Excel (XLS)", "et": "WPS 表格"}
STATUS_NAMES = {"ok": "成功", "partial": "部分成功", "failed": "失败", "interrupted": "中断",
                "running": "进行中", "never": "从未抓取"}
KIND_NAMES = {"import": "导入", "crawl": "抓取", "reprocess": "重新处理"}


def install(env: Environment) -> None:
    """The filters and names the templates use."""
    env.filters.update(highlight=highlight, safe_url=safe_url, type_name=type_name,
                       format_name=lambda f: FORMAT_NAMES.get(f, f),
                       status_name=lambda s: STATUS_NAMES.get(s, s), when=when,
                       kind_name=lambda k: KIND_NAMES.get(k, k))
    env.globals.update(FACET_NAMES=FACET_NAMES, FACET_PARAMS=FACET_PARAMS,
                       TYPE_NAMES=TYPE_NAMES, FORMAT_NAMES=FORMAT_NAMES)


def highlight(text: str | None, spans: Sequence[tuple[int, int]] = ()) -> Markup:
    """``text`` escaped, the characters of each (start, end) span in ``<mark>``."""
    text = text or ""
    out, pos = [], 0
    for start, end in sorted((int(a), int(b)) for a, b in spans):
        if start < pos:
            continue
        out.append(escape(text[pos:start]))
        out.append(Markup("<mark>%s</mark>") % text[start:end])
        pos = end
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def safe_url(url: str | None) -> str | None:
    """``url`` when it is an http(s) link, else None (a javascript: or data: URL is text)."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def type_name(doc_type: str | None) -> str:
    return TYPE_NAMES.get(doc_type or "", doc_type or "")


def when(value: str | None) -> str:
    """An ISO time as ``2024-02-20 09:30`` (UTC)."""
    return (value or "")[:16].replace("T", " ")


def pages(total: int, limit: int, page: int, around: int = 3) -> list[int | None]:
    """Page numbers for the pager: first, last and those near ``page``; None is a gap."""
    last = max((total + limit - 1) // limit, 1)
    wanted = {1, last, *range(max(page - around, 1), min(page + around, last) + 1)}
    out: list[int | None] = []
    for n in sorted(wanted):
        if out and out[-1] is not None and n - out[-1] > 1:
            out.append(None)
        out.append(n)
    return out


def attachments(record: Any) -> list[dict[str, Any]]:
    """The record's attachments as {url, name, details}: a plain URL, or a dict (newer
    archives: url/name/format/parent...) whose other keys become details."""
    out = []
    for item in getattr(record, "attachments", None) or []:
        if isinstance(item, dict):
            url = str(item.get("url") or item.get("href") or "")
            name = str(item.get("name") or item.get("title") or url.rsplit("/", 1)[-1] or url)
            details = {k: v for k, v in item.items()
                       if k not in ("url", "href", "name", "title") and v not in (None, "")}
        else:
            url, name, details = str(item), str(item).rsplit("/", 1)[-1] or str(item), {}
        out.append({"url": url, "name": name, "details": details})
    return out


def body(record: Any) -> list[dict[str, Any]]:
    """The record's body in page order: ``{"type": "p", "text"}`` paragraphs and
    ``{"type": "table", "rows"}`` data tables (`Record.block_list`: a record without tables is
    its text's lines)."""
    return [block for block in record.block_list()
            if block.get("type") in ("p", "table")]

"""The Record: what a page becomes, and the JSON shape used by export, import and search."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from archive.urls import doc_id

#: Field order of the exported JSON object (the public record shape).
RECORD_FIELDS = (
    "id", "url", "title", "published", "year", "site", "column", "region", "doc_type", "text",
    "truncated", "full_length", "placeholders", "mojibake", "source_script", "is_health_report",
    "fetched_at", "duplicate_of", "issuer", "doc_number", "written", "blocks",
    "parent", "format", "flags",
)
#: Flags of documents read from attachments (`Record.flags`), in words.
FLAG_WORDS = {"no_text": "无文字层(扫描件，未做OCR)", "unextracted": "未提取(缺少转换程序)"}


@dataclass
class Record:
    """One document: what `archive.page_processing.process_page` makes of a page (or a JSONL import
    reads back), stored in the archive's ``documents`` table and indexed for search.

    The fields of `RECORD_FIELDS` are the public shape (`to_json`, `from_json`; `hra export`,
    `hra show --json`): ``id`` (16 hex digits of the sha256 of the canonical URL), the URL,
    normalized title, ``published`` (YYYY-MM-DD), ``year`` the report is about, site, column,
    ``region`` (province + city [+ county], official names), ``doc_type`` (one of
    `archive.text.classify.DOC_TYPES`), the cleaned simplified ``text`` (paragraphs joined by
    "\n"), the flags (``truncated`` with the stated ``full_length``, ``placeholders``,
    ``mojibake``, ``source_script`` "traditional" when converted, ``is_health_report``),
    ``fetched_at`` and ``duplicate_of`` (the canonical copy's id, set by duplicate detection),
    then the official metadata and ``blocks`` (below), then for attachments ``parent`` (the id
    of the article that links it; None for a page or a lone file), ``format`` ("html", or the
    attachment's: pdf, docx, doc, wps, rtf, xlsx, xls, et) and ``flags`` (an attachment's:
    "no_text", "unextracted"; see `FLAG_WORDS`). The fields after them are kept in the archive
    only: the region's levels, attachment links and the page's ContentSource meta tag.

    Official document metadata (政府信息公开 pages, `archive.text.official`; None when the page
    shows none): ``issuer`` (发布机构/发文机关), ``doc_number`` (文号, 遵卫健发〔2023〕12号) and
    ``written`` (成文日期, YYYY-MM-DD).

    ``blocks`` is the body with its tables, None when the body has no data table (then each
    line of ``text`` is a paragraph). Otherwise a list, in page order, of::

        {"type": "p", "text": "一段文字"}
        {"type": "table", "rows": [["指标", "目标值", "完成值"], ["...", "...", "..."]]}

    Rows of a table are equally long lists of cell texts (a merged cell's text in its first
    position, "" where it spans; no tab or line break inside a cell). ``text`` always holds the
    same content as lines: a paragraph per line, a table as one tab-separated row per line, so
    search and duplicate detection see the cells. `block_list` gives the blocks of any record
    (an older one too). Readers that know no tables can ignore ``blocks``; writers of other
    sources (attachments, the web page) use the same two block types.
    """

    id: str
    url: str
    title: str | None
    published: str | None  # YYYY-MM-DD
    year: int | None
    site: str | None
    column: str | None
    region: str | None  # "贵州省遵义市" (province + city [+ county])
    doc_type: str
    text: str  # paragraphs joined by "\n"
    truncated: bool = False
    full_length: int | None = None
    placeholders: bool = False
    mojibake: bool = False
    source_script: str = "simplified"
    is_health_report: bool = True
    fetched_at: str | None = None
    duplicate_of: str | None = None
    issuer: str | None = None  # 发布机构 / 发文机关
    doc_number: str | None = None  # 文号
    written: str | None = None  # 成文日期, YYYY-MM-DD
    blocks: list[dict[str, Any]] | None = None  # None: no tables, each text line a paragraph
    parent: str | None = None
    format: str = "html"
    flags: list[str] = field(default_factory=list)
    # Beyond the public shape: kept in the archive, exported only where useful.
    region_province: str | None = None
    region_city: str | None = None
    region_county: str | None = None
    attachments: list[str] = field(default_factory=list)
    content_source: str | None = None

    def block_list(self) -> list[dict[str, Any]]:
        """The body as blocks: ``blocks`` when the record has tables, else a paragraph block
        per line of ``text`` (records stored before blocks existed are read the same way)."""
        if self.blocks:
            return self.blocks
        return [{"type": "p", "text": line} for line in self.text.split("\n") if line]

    def has_tables(self) -> bool:
        return any(block.get("type") == "table" for block in self.blocks or ())

    def flag_words(self) -> list[str]:
        """The flags in words, for people: 截断 (with the stated full length), 含占位符..."""
        words = []
        if self.truncated:
            words.append(f"截断(全文{self.full_length}字)" if self.full_length else "截断")
        if self.placeholders:
            words.append("含占位符")
        if self.mojibake:
            words.append("含乱码")
        if self.source_script == "traditional":
            words.append("原文为繁体")
        if not self.is_health_report:
            words.append("非卫生健康工作报告")
        words.extend(FLAG_WORDS.get(flag, flag) for flag in self.flags)
        if self.duplicate_of:
            words.append(f"转载副本(原件 {self.duplicate_of})")
        return words

    def attachment_ids(self) -> list[str]:
        """The document ids of the attachments this page links (an attachment's id is that of
        its URL, like any page's): those that were archived are documents with this page as
        their ``parent``."""
        return [doc_id(url) for url in self.attachments]

    def to_json(self) -> dict[str, Any]:
        """The public record shape, in `RECORD_FIELDS` order."""
        return {name: getattr(self, name) for name in RECORD_FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        """A Record from its JSON shape; absent optional fields take their empty values."""
        values: dict[str, Any] = dict.fromkeys(
            ("title", "published", "year", "site", "column", "region"))
        values["doc_type"] = "other"
        values.update({k: v for k, v in data.items() if k in _FIELD_NAMES})
        return cls(**values)


_FIELD_NAMES = frozenset(f.name for f in fields(Record))

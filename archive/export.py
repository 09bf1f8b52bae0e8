"""Exporting documents: JSONL, CSV, Markdown, plain text and Word, safely and in bounded memory.

* `jsonl`, `csv`: one record per document (the public record shape), to a file or stdout. CSV
  is UTF-8 with a BOM so Excel opens Chinese text correctly.
* `md`, `txt`, `docx`: one file per document in an output directory, or every document in one
  file (`one_file`): Markdown with a contents list, Word with a heading per document and a table
  of contents field. Each document carries its title, date, region, type, source URL and flags
  in words (截断 with the stated full length, 含占位符).

Safety: file names are sanitized (`safe_name`), nothing is written outside the output
directory nor inside the data dir (`refuse_inside`), existing files are not overwritten without
`force`. Everything is written into a staging directory (or a temporary file) and moved into
place only when the whole export succeeded, so a failed, interrupted or killed (-9) export leaves
no partial output; what a killed export left is cleaned by the next export into the same place
(see "Staging" below).

Records are streamed: memory stays bounded however many documents match. Word files are
written by streaming WordprocessingML into the zip (python-docx supplies the styles template;
building a 100,000-document file with python-docx objects would not fit in memory). Their
document properties are written by hra, not taken from the template: title (the document's, or
`export_title()` for one file), author ``hra``, created/modified = the export time.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

from archive.errors import HraError
from archive.locks import try_lock
from archive.processes import pid_alive
from archive.record import RECORD_FIELDS, Record

FORMATS = ("jsonl", "csv", "md", "txt", "docx")
STREAM_FORMATS = ("jsonl", "csv")  # one file (or stdout)
MAX_NAME_BYTES = 120

TYPE_NAMES = {
    "speech": "讲话", "summary": "工作总结", "plan": "工作计划/要点", "report": "工作汇报",
    "interview": "访谈", "notice": "通知/通报", "other": "其他",
}
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
             *(f"LPT{i}" for i in range(1, 10))}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
_NAME_CHAR = {"Cf": "", "Cs": "", "Cc": "_"}  # what safe_name makes of these categories
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

Records = Callable[[], Iterator[Record]]  # a fresh stream of the selected records per call


class ExportError(HraError):
    """A one-line reason the export could not be written (exit 1)."""


@dataclass
class ExportSummary:
    documents: int
    files: int
    where: str
    notes: list[str] = field(default_factory=list)  # leftovers of killed exports cleaned


# ---------------------------------------------------------------------------------------------
# Names and words


def safe_name(stem: str, ext: str, taken: set[str]) -> str:
    """A file name for `stem`: no path separators, control or reserved characters, no reserved
    device names, at most MAX_NAME_BYTES bytes, full-width characters kept, unique in `taken`
    (compared case-insensitively, as Windows and macOS file systems do). Invisible format
    characters (Unicode Cf: bidi overrides such as U+202E that make ``gpj.exe`` read as
    ``exe.jpg``, zero-width spaces, soft hyphens) are dropped; control characters (Cc) become
    ``_``."""
    s = "".join(_NAME_CHAR.get(unicodedata.category(c), c)
                for c in unicodedata.normalize("NFC", stem))
    s = _UNSAFE.sub("_", s)
    s = re.sub(r"\s+", " ", s)
    s = re.sub(r"\.{2,}", ".", s).strip(" ._") or "untitled"
    if s.split(".")[0].upper() in _RESERVED:
        s = "_" + s
    for n in range(1, 100000):
        suffix = "" if n == 1 else f"_{n}"
        room = MAX_NAME_BYTES - len(f"{suffix}.{ext}".encode())
        cut = s.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(" ._") or "untitled"
        name = f"{cut}{suffix}.{ext}"
        if name.lower() not in taken:
            taken.add(name.lower())
            return name
    raise ExportError(f"too many files named like {s!r}")


def file_stem(record: Record) -> str:
    when = record.published or (str(record.year) if record.year else "undated")
    return f"{when}_{record.title or record.id}"


def flags_in_words(record: Record) -> str:
    return "、".join(record.flag_words()) or "无"


def metadata_rows(record: Record) -> list[tuple[str, str]]:
    return [
        ("标题", record.title or ""),
        ("日期", record.published or (f"{record.year}年" if record.year else "不详")),
        ("地区", record.region or "不详"),
        ("类型", TYPE_NAMES.get(record.doc_type, record.doc_type)),
        ("网站", record.site or ""),
        *((label, value) for label, value in (
            ("发布机构", record.issuer), ("文号", record.doc_number), ("成文日期", record.written))
          if value),
        ("来源", record.url),
        ("标记", flags_in_words(record)),
        ("编号", record.id),
    ] + ([("格式", record.format.upper()), ("所属文章", record.parent or "无")]
         if record.format != "html" else [])


# ---------------------------------------------------------------------------------------------
# Per-format writers: each writes one or more documents to an open file


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return "" if value is None else value


#: Not a CSV column: a table's rows are in the text column as tab-separated lines.
_NOT_CSV = ("blocks",)


class _CsvWriter:
    def __init__(self, fh: IO[str], no_text: bool) -> None:
        self.columns = [f for f in RECORD_FIELDS
                        if f not in _NOT_CSV and not (no_text and f == "text")]
        self.writer = csv.writer(fh)
        self.writer.writerow(self.columns)

    def write(self, record: Record) -> None:
        data = record.to_json()
        self.writer.writerow([_csv_value(data[c]) for c in self.columns])


def _jsonl(record: Record, no_text: bool) -> str:
    data = record.to_json()
    if no_text:
        data.pop("text")
        data.pop("blocks")
    return json.dumps(data, ensure_ascii=False) + "\n"


def _md_document(record: Record, anchor: str | None = None) -> str:
    heading = f"# {_md_escape(record.title or record.id)}"
    if anchor:
        heading += f' <a id="{anchor}"></a>'
    rows = "\n".join(f"| {k} | {_md_escape(v)} |" for k, v in metadata_rows(record)[1:])
    body = "\n\n".join(_md_table(b["rows"]) if b["type"] == "table" else _md_escape(b["text"])
                       for b in record.block_list())
    return f"{heading}\n\n| 字段 | 内容 |\n| --- | --- |\n{rows}\n\n{body}\n"


def _md_table(rows: list[list[str]]) -> str:
    """A pipe table: the first row is the header (Markdown tables have one)."""
    lines = ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    lines.insert(1, "|" + " --- |" * len(rows[0]))
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    text = text.replace("|", "\\|")
    return re.sub(r"^([#>*+-]|\d+\.)(\s)", r"\\\1\2", text)


def _txt_document(record: Record) -> str:
    meta = "\n".join(f"{k}: {v}" for k, v in metadata_rows(record))
    body = "\n\n".join("\n".join("\t".join(row) for row in b["rows"]) if b["type"] == "table"
                       else b["text"] for b in record.block_list())
    return f"{meta}\n{'=' * 40}\n\n{body}\n"


def export_title(query: str | None = None, filters: str = "") -> str:
    """The title of a one-file export: what was selected (``hra 导出: 医共体 --year 2023``)."""
    what = " ".join(part for part in (query, filters) if part)
    return f"hra 导出: {what}" if what else "hra 导出: 全部文档"


def export_time() -> str:
    """Now, as Word's document properties write it (W3CDTF, UTC, whole seconds)."""
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _core_xml(title: str, created: str, description: str = "") -> bytes:
    """docProps/core.xml: title, author hra, created/modified = the export (nothing of the
    python-docx template: its author, 2013 dates, revision, last_modified_by)."""
    desc = f"<dc:description>{escape(_XML_INVALID.sub('', description))}</dc:description>" \
        if description else ""
    return (
        "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(_XML_INVALID.sub('', title))}</dc:title><dc:creator>hra</dc:creator>"
        f"{desc}<dc:language>zh-CN</dc:language>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{created}</dcterms:modified>'
        "</cp:coreProperties>"
    ).encode()


_APP_XML = (
    b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"'
    b' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    b"<Application>hra</Application><DocSecurity>0</DocSecurity></Properties>"
)
_OWN_PARTS = ("word/document.xml", "docProps/core.xml", "docProps/app.xml")


class DocxWriter:
    """Streams a .docx: python-docx's default template for styles, body XML written as it comes.

    The document properties are hra's own: `title` (a single document's title is used when
    none is given), author hra, created and modified at `created` (default: now).
    """

    _template: dict[str, bytes] | None = None

    def __init__(self, fh: IO[bytes], toc: bool, *, title: str | None = None,
                 created: str | None = None) -> None:
        parts = self.template()
        self.title = title
        self.created = created or export_time()
        self.documents = 0
        self.first_title = ""  # a single document's title and URL, for its properties
        self.first_url = ""
        self.zip = zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED)
        self.zip.writestr("docProps/app.xml", _APP_XML, compresslevel=1)
        for name, data in parts.items():
            if name not in _OWN_PARTS:
                # The template parts are the same in every file: compress them fast.
                self.zip.writestr(name, data, compresslevel=1)
        head, tail = parts["word/document.xml"].decode("utf-8").split("<w:body>", 1)
        self.sect = tail[tail.index("<w:sectPr") :]
        self.body = self.zip.open("word/document.xml", "w", force_zip64=True)
        self._put(head + "<w:body>")
        self.first = not toc  # with a table of contents, every document starts a new page
        if toc:
            self._put(self._para("目录", "Title"))
            self._put(
                '<w:p><w:r><w:fldChar w:fldCharType="begin" w:dirty="true"/></w:r>'
                '<w:r><w:instrText xml:space="preserve"> TOC \\o "1-1" \\h \\z \\u </w:instrText>'
                '</w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>'
                "（打开文档时更新目录；若未更新，请右键选择\u201c更新域\u201d）</w:t></w:r>"
                '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
            )

    @classmethod
    def template(cls) -> dict[str, bytes]:
        if cls._template is None:
            import docx
            from docx.oxml.ns import qn

            document = docx.Document()
            normal = document.styles["Normal"]
            normal.font.name = "Calibri"
            normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "宋体")
            buffer = io.BytesIO()
            document.save(buffer)
            with zipfile.ZipFile(buffer) as z:
                parts = {n: z.read(n) for n in z.namelist() if n != "docProps/thumbnail.jpeg"}
            # Ask Word to refresh fields (the table of contents) when the file is opened.
            settings = parts["word/settings.xml"].decode("utf-8")
            settings = re.sub(r"(<w:settings[^>]*>)", r'\1<w:updateFields w:val="true"/>',
                              settings, count=1)
            parts["word/settings.xml"] = settings.encode("utf-8")
            types = parts["[Content_Types].xml"].decode("utf-8")
            parts["[Content_Types].xml"] = re.sub(
                r'<Override PartName="/docProps/thumbnail.jpeg"[^>]*/>', "", types).encode()
            rels = parts["_rels/.rels"].decode("utf-8")
            parts["_rels/.rels"] = re.sub(r'<Relationship [^>]*thumbnail[^>]*/>', "",
                                          rels).encode()
            cls._template = parts
        return cls._template

    def _put(self, xml: str) -> None:
        self.body.write(xml.encode("utf-8"))

    @staticmethod
    def _text(text: str) -> str:
        return escape(_XML_INVALID.sub("", text))

    def _para(self, text: str, style: str | None = None, page_break: bool = False) -> str:
        ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
        brk = '<w:r><w:br w:type="page"/></w:r>' if page_break else ""
        return (f'<w:p>{ppr}{brk}<w:r><w:t xml:space="preserve">{self._text(text)}</w:t>'
                "</w:r></w:p>")

    def write(self, record: Record) -> None:
        self.documents += 1
        if self.documents == 1:
            self.first_title, self.first_url = record.title or record.id, record.url
        self._put(self._para(record.title or record.id, "Heading1", page_break=not self.first))
        self.first = False
        rows = "".join(
            "<w:tr>"
            f'<w:tc><w:tcPr><w:tcW w:w="1500" w:type="dxa"/></w:tcPr>{self._para(k)}</w:tc>'
            f'<w:tc><w:tcPr><w:tcW w:w="7000" w:type="dxa"/></w:tcPr>{self._para(v)}</w:tc>'
            "</w:tr>"
            for k, v in metadata_rows(record)[1:]
        )
        self._put(
            '<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="8500" w:type="dxa"/>'
            '<w:tblBorders><w:top w:val="single" w:sz="4"/><w:left w:val="single" w:sz="4"/>'
            '<w:bottom w:val="single" w:sz="4"/><w:right w:val="single" w:sz="4"/>'
            '<w:insideH w:val="single" w:sz="4"/><w:insideV w:val="single" w:sz="4"/>'
            '</w:tblBorders></w:tblPr><w:tblGrid><w:gridCol w:w="1500"/><w:gridCol w:w="7000"/>'
            f"</w:tblGrid>{rows}</w:tbl>"
        )
        self._put(self._para(""))
        for block in record.block_list():
            if block["type"] == "table":
                self._put(self._table(block["rows"]))
            else:
                self._put(self._para(block["text"]))

    def _table(self, rows: list[list[str]]) -> str:
        """A body table as a Word table: a row per row, a cell per cell, equal columns; the
        first row repeats as the header on every page the table spans."""
        width = 8500 // max(len(rows[0]), 1)
        cells = "".join(
            "<w:tr>" + ("<w:trPr><w:tblHeader/></w:trPr>" if i == 0 else "") + "".join(
                f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>{self._para(c)}</w:tc>'
                for c in row) + "</w:tr>"
            for i, row in enumerate(rows)
        )
        return (
            '<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="8500" w:type="dxa"/>'
            '<w:tblBorders><w:top w:val="single" w:sz="4"/><w:left w:val="single" w:sz="4"/>'
            '<w:bottom w:val="single" w:sz="4"/><w:right w:val="single" w:sz="4"/>'
            '<w:insideH w:val="single" w:sz="4"/><w:insideV w:val="single" w:sz="4"/>'
            '</w:tblBorders></w:tblPr><w:tblGrid>'
            + f'<w:gridCol w:w="{width}"/>' * len(rows[0])
            + f"</w:tblGrid>{cells}</w:tbl>{self._para('')}"
        )

    def close(self) -> None:
        self._put(self.sect)
        self.body.close()
        if self.title is not None:  # a collection: its title and how many documents
            title, description = self.title, f"{self.documents} 篇文档"
        else:  # one document: its title and source URL
            title, description = self.first_title, self.first_url
        self.zip.writestr("docProps/core.xml", _core_xml(title, self.created, description))
        self.zip.close()


# ---------------------------------------------------------------------------------------------
# Staging: nothing appears at the target until everything is written, and what a killed export
# left behind is found (by its name and its dead owner) and cleaned by the next export there.
#
# Per-document exports stage into a directory ``.hra-export-<pid>-<random>/``:
#
#   lock      held (flock) by the exporting process for as long as it lives
#   new/      the exported files
#   old/      files of the target that --force replaced, kept until the export is complete
#   journal   {"target": ".", "names": [...]}: present while files are being moved
#
# * The target directory does not exist: the staging is made beside it and `new/` is renamed
#   to the target in one step (rename(2) is atomic): the whole export appears or nothing does.
# * The target directory exists: the staging is made inside it. The journal is written, then
#   each file moves in by one rename (a file --force replaces moves to `old/` first), then the
#   journal is removed: that is the commit. A process killed while moving leaves the journal;
#   the next export into the directory rolls the moves back (each step is one rename, undone by
#   one rename, so a rollback that is itself killed is finished by the one after).
#
# Single files (jsonl, csv, --one-file) are written to ``.<name>.hra-<pid>-<random>.part``
# beside the target, locked the same way, and renamed over the target when complete.
#
# A leftover is removed only when its owner is gone: its lock is free and its pid is not a
# running process (`_claim`). This guards against atomicity lost to kill -9, not to power loss
# (nothing is fsynced).

_STAGING_NAME = re.compile(r"\.hra-export-(\d+)-[A-Za-z0-9_]+")
_PART_NAME = re.compile(r"\..*\.hra-(\d+)-[A-Za-z0-9_]+\.part", re.S)
_LEGACY_STAGING = re.compile(r"\.hra-export-[a-z0-9_]{8}")  # hra before the owner was named
LEGACY_AGE = 3600.0  # a legacy leftover untouched this long (seconds) is removed


def _claim(pid: int, lock: Path) -> tuple[bool, IO[str] | None]:
    """Whether the leftover owned by `pid` (locked through the file `lock`) is dead, and the
    open handle holding its lock when it is (keep it while cleaning, so no other export cleans
    the same leftover at the same time). Alive: its lock is held, or its pid is running."""
    handle: IO[str] | None = None
    try:
        handle = lock.open("r", encoding="utf-8")
    except FileNotFoundError:
        pass  # never locked (killed at birth) or being born: the pid decides
    except OSError:
        return False, None
    if handle is not None:
        try:
            locked = not try_lock(handle)
        except OSError:  # no locking on this file system: the pid decides
            locked = False
        if locked:
            handle.close()
            return False, None
    if pid_alive(pid):
        if handle is not None:
            handle.close()
        return False, None
    return True, handle


def _plain_name(name: object) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name \
        and "\\" not in name and "\0" not in name


def _roll_back(staging: Path, target: Path, names: list[str]) -> int:
    """Undo the moves of an interrupted commit (see above): every file moved into `target`
    goes back to `new/`, every file it replaced comes back from `old/`; then the journal is
    removed. Each step is one rename, so this can be interrupted and run again. Returns how
    many exported files were taken back out of `target`."""
    new, old = staging / "new", staging / "old"
    taken = 0
    for name in reversed(names):
        if not _plain_name(name):
            continue
        ours, theirs, there = new / name, old / name, target / name
        if not os.path.lexists(ours) and (there.is_symlink() or there.is_file()):
            os.replace(there, ours)
            taken += 1
        if os.path.lexists(theirs) and not os.path.lexists(there):
            os.replace(theirs, there)
    (staging / "journal").unlink(missing_ok=True)
    return taken


def _recover(staging: Path, pid: int, notes: list[str]) -> None:
    """Clean the staging directory of an export whose process is gone (roll back its moves
    when it was killed while moving files into place)."""
    dead, handle = _claim(pid, staging / "lock")
    if not dead:
        return
    try:
        journal = staging / "journal"
        if journal.exists():
            try:
                data = json.loads(journal.read_text(encoding="utf-8"))
                rel, names = data["target"], data["names"]
                if not (rel == "." or _plain_name(rel)) or not isinstance(names, list):
                    raise ValueError(rel)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ExportError(f"cannot roll back the interrupted export in {staging}: its "
                                  "journal is damaged (remove the directory by hand)") from exc
            target = staging.parent / rel if rel != "." else staging.parent
            try:
                taken = _roll_back(staging, target, names)
            except OSError as exc:
                raise ExportError(f"cannot roll back the interrupted export in {staging}: "
                                  f"{exc.strerror or exc}") from exc
            notes.append(f"rolled back an interrupted export into {target} "
                         f"({taken} of {len(names)} file(s) had been moved in)")
        shutil.rmtree(staging, ignore_errors=True)
        notes.append(f"removed the staging directory of a killed export: {staging}")
    finally:
        if handle is not None:
            handle.close()


def _remove_part(path: Path, pid: int, notes: list[str]) -> None:
    dead, handle = _claim(pid, path)
    if dead:
        path.unlink(missing_ok=True)
        notes.append(f"removed the temporary file of a killed export: {path}")
    if handle is not None:
        handle.close()


def _old(entry: os.DirEntry[str]) -> bool:
    try:
        return time.time() - entry.stat(follow_symlinks=False).st_mtime > LEGACY_AGE
    except OSError:
        return False


def clean_leftovers(directory: Path, legacy: Callable[[str], bool] = lambda name: False
                    ) -> list[str]:
    """Remove what killed exports left in `directory` (their process is gone): staging
    directories (rolled back first when killed while moving) and temporary files. Entries for
    which `legacy(name)` holds (left by hra before leftovers named their owner) are removed
    when untouched for LEGACY_AGE. Returns one note per thing cleaned."""
    notes: list[str] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return notes
    for entry in entries:
        try:
            if m := _STAGING_NAME.fullmatch(entry.name):
                if entry.is_dir(follow_symlinks=False):
                    _recover(Path(entry.path), int(m[1]), notes)
            elif m := _PART_NAME.fullmatch(entry.name):
                if entry.is_file(follow_symlinks=False):
                    _remove_part(Path(entry.path), int(m[1]), notes)
            elif legacy(entry.name) and _old(entry):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    Path(entry.path).unlink(missing_ok=True)
                notes.append(f"removed what an interrupted export left: {entry.path}")
        except OSError:
            continue  # not ours to remove (permissions): left as it is
    return notes


def _hold_lock(path: Path) -> IO[str]:
    """Create `path` and lock it for as long as this process holds the handle."""
    handle = path.open("a+", encoding="utf-8")
    with contextlib.suppress(OSError):  # no locking here: the pid in the name protects it
        try_lock(handle)
    return handle


class _Staging:
    """Where a per-document export is written before it appears at `outdir` (see above)."""

    def __init__(self, outdir: Path, force: bool) -> None:
        self.outdir = outdir
        self.force = force
        self.fresh = not os.path.lexists(outdir)  # rename new/ to outdir on success
        self.notes = [] if self.fresh else clean_leftovers(
            outdir, legacy=lambda name: bool(_LEGACY_STAGING.fullmatch(name)))
        # and stagings beside it (of exports into it while it did not exist yet)
        self.notes += clean_leftovers(outdir.absolute().parent)
        try:
            if self.fresh:
                outdir.parent.mkdir(parents=True, exist_ok=True)
            elif not outdir.is_dir():
                raise FileExistsError(outdir)
            self.dir = Path(tempfile.mkdtemp(prefix=f".hra-export-{os.getpid()}-",
                                             dir=outdir.parent if self.fresh else outdir))
        except FileExistsError as exc:
            raise ExportError(f"{outdir} is a file; a directory is needed") from exc
        except OSError as exc:
            raise ExportError(f"cannot write in {outdir}: {exc.strerror or exc}") from exc
        self.new = self.dir / "new"
        try:
            self.lock = _hold_lock(self.dir / "lock")
            self.new.mkdir()
        except OSError as exc:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise ExportError(f"cannot write in {outdir}: {exc.strerror or exc}") from exc
        self.names: list[str] = []

    def path(self, name: str) -> Path:
        target = self.outdir / name
        if not self.fresh and os.path.lexists(target):
            if not self.force:
                raise ExportError(f"{target} exists; use --force to overwrite")
            if target.is_dir() and not target.is_symlink():
                raise ExportError(f"{target} is a directory; not replaced by a file")
        self.names.append(name)
        return self.new / name

    def commit(self) -> None:
        if self.fresh:
            try:
                os.rename(self.new, self.outdir)  # atomic; replaces an empty directory
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not self.outdir.is_dir():
                    raise
                self._move_in(self.outdir.name)  # someone made it meanwhile: merge into it
        else:
            self._move_in(".")
        self.close()

    def _move_in(self, rel: str) -> None:
        """Move the staged files into an existing directory under a journal (see above)."""
        target = self.outdir
        old = self.dir / "old"
        old.mkdir(exist_ok=True)
        journal = self.dir / "journal"
        part = self.dir / "journal.part"
        part.write_text(json.dumps({"target": rel, "names": self.names}, ensure_ascii=False),
                        encoding="utf-8")
        os.replace(part, journal)
        try:
            for name in self.names:
                there = target / name
                if os.path.lexists(there):
                    if not self.force:
                        raise ExportError(f"{there} exists; use --force to overwrite")
                    if there.is_dir() and not there.is_symlink():
                        raise ExportError(f"{there} is a directory; not replaced by a file")
                    os.replace(there, old / name)
                os.replace(self.new / name, there)
        except BaseException:
            _roll_back(self.dir, target, self.names)
            raise
        journal.unlink()  # the commit: from here on the export is complete

    def close(self) -> None:
        """Remove the staging directory (kept when a rollback could not finish: the next
        export into the place finishes it) and release its lock."""
        if not (self.dir / "journal").exists():
            shutil.rmtree(self.dir, ignore_errors=True)
        self.lock.close()

    abort = close


def _open_text(path: Path, bom: bool = False) -> IO[str]:
    return path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="")


# ---------------------------------------------------------------------------------------------
# The export


def export(
    records: Records,
    fmt: str,
    output: str | os.PathLike[str] | None,
    *,
    one_file: bool = False,
    no_text: bool = False,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    title: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> ExportSummary:
    """Export the records. `records()` is called once (twice for a one-file Markdown export,
    whose contents list comes first). Raises ExportError with a one-line message.

    `title` names a one-file Word export (its document properties; default `export_title()`);
    a per-document Word file takes its document's title. Both record the export time.
    Nothing is written inside `data_dir` (the archive's directory; `refuse_inside`)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if output is not None and data_dir is not None:
        refuse_inside(output, data_dir)
    tick = progress or (lambda n: None)
    if fmt in STREAM_FORMATS:
        return _export_stream(records, fmt, output, no_text, force, tick)
    if output is None:
        raise ExportError(f"--format {fmt} writes files: give --output (a directory, or a file "
                          "name with --one-file)")
    target = Path(output)
    if one_file:
        if target.is_dir():
            target = target / f"hra-export.{fmt}"
        return _export_one_file(records, fmt, target, no_text, force, tick,
                                title or export_title())
    if target.exists() and not target.is_dir():
        raise ExportError(f"{target} is a file; --format {fmt} needs a directory "
                          "(or use --one-file)")
    return _export_files(records, fmt, target, force, tick)


def refuse_inside(output: str | os.PathLike[str], data_dir: str | os.PathLike[str]) -> None:
    """ExportError (exit 2) when `output` is the data dir or inside it: an export must never
    replace the archive or its pages. Symlinks are resolved and real paths compared; an
    existing directory on the way that *is* the data dir (another name for it: a bind mount,
    a case-insensitive file system) counts too."""
    out = Path(os.path.realpath(output))
    home = Path(os.path.realpath(data_dir))
    if out == home or home in out.parents or _same_directory_above(out, home):
        raise ExportError(f"refusing to write {output}: it is inside the data dir {data_dir} "
                          "(the archive); choose an output outside it", exit_code=2)


def _same_directory_above(path: Path, directory: Path) -> bool:
    """Whether `path` or an existing directory above it is `directory` under another name."""
    try:
        wanted = os.stat(directory)
    except OSError:
        return False
    for place in (path, *path.parents):
        with contextlib.suppress(OSError):
            if os.path.samestat(os.stat(place), wanted):
                return True
    return False


def _export_stream(records: Records, fmt: str, output: str | os.PathLike[str] | None,
                   no_text: bool, force: bool, tick: Callable[[int], None]) -> ExportSummary:
    def write_all(fh: IO[str]) -> int:
        n = 0
        csv_writer = _CsvWriter(fh, no_text) if fmt == "csv" else None
        for record in records():
            if csv_writer:
                csv_writer.write(record)
            else:
                fh.write(_jsonl(record, no_text))
            n += 1
            tick(n)
        return n

    if output is None:
        if fmt == "csv":
            sys.stdout.write("\ufeff")
        n = write_all(sys.stdout)
        sys.stdout.flush()
        return ExportSummary(n, 0, "stdout")
    target = Path(output)
    if target.is_dir():
        raise ExportError(f"{target} is a directory; give a file name")
    atomic = _atomic_file(target, force)
    with atomic as tmp, _open_text(tmp, bom=fmt == "csv") as fh:
        n = write_all(fh)
    return ExportSummary(n, 1, str(target), atomic.notes)


def _export_one_file(records: Records, fmt: str, target: Path, no_text: bool, force: bool,
                     tick: Callable[[int], None], title: str) -> ExportSummary:
    n = 0
    atomic = _atomic_file(target, force)
    with atomic as tmp:
        if fmt == "docx":
            with tmp.open("wb") as fh:
                writer = DocxWriter(fh, toc=True, title=title)
                for record in records():
                    writer.write(record)
                    n += 1
                    tick(n)
                writer.close()
        else:
            with _open_text(tmp) as fh:
                for piece in _text_one_file(records, fmt):
                    fh.write(piece.removeprefix(_DOC_START))
                    if piece.startswith(_DOC_START):
                        n += 1
                        tick(n)
    return ExportSummary(n, 1, str(target), atomic.notes)


_DOC_START = "\x00"  # marks the pieces of `_text_one_file` that begin a document (not written)


def _text_one_file(records: Records, fmt: str) -> Iterator[str]:
    """A one-file Markdown (contents list first) or text export, piece by piece; a piece that
    begins a document starts with `_DOC_START`, which the writer strips."""
    if fmt == "md":
        yield "# 目录\n\n"
        for i, record in enumerate(records(), 1):
            yield f"{i}. [{_md_escape(record.title or record.id)}](#doc-{i})\n"
        yield "\n"
    for i, record in enumerate(records(), 1):
        yield _DOC_START + ("\n---\n\n" if i > 1 else "") + (
            _md_document(record, f"doc-{i}") if fmt == "md" else _txt_document(record))


class _Chunks:
    """A write-only binary file that collects what is written until `take` (zipfile writes a
    stream it cannot seek in with data descriptors: a .docx streams as it is made)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def export_chunks(records: Records, fmt: str, *, title: str | None = None,
                  no_text: bool = False) -> Iterator[bytes]:
    """The same export as `export(records, fmt, FILE, one_file=True)` (jsonl, csv with its
    BOM, md, txt, docx), as bytes produced document by document: what a web response streams.
    Nothing is written to disk."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if fmt == "docx":
        sink = _Chunks()
        writer = DocxWriter(sink, toc=True, title=title or export_title())  # type: ignore[arg-type]
        for record in records():
            writer.write(record)
            yield sink.take()
        writer.close()
        yield sink.take()
        return
    if fmt in STREAM_FORMATS:
        text = io.StringIO()
        csv_writer = _CsvWriter(text, no_text) if fmt == "csv" else None
        yield "\ufeff".encode() if fmt == "csv" else b""
        for record in records():
            if csv_writer:
                csv_writer.write(record)
            else:
                text.write(_jsonl(record, no_text))
            yield text.getvalue().encode("utf-8")
            text.seek(0)
            text.truncate()
        yield text.getvalue().encode("utf-8")
        return
    for piece in _text_one_file(records, fmt):
        yield piece.removeprefix(_DOC_START).encode("utf-8")


def _export_files(records: Records, fmt: str, outdir: Path, force: bool,
                  tick: Callable[[int], None]) -> ExportSummary:
    staging = _Staging(outdir, force)
    taken: set[str] = set()
    created = export_time()
    n = 0
    try:
        for record in records():
            path = staging.path(safe_name(file_stem(record), fmt, taken))
            if fmt == "docx":
                with path.open("wb") as fh:
                    writer = DocxWriter(fh, toc=False, created=created)
                    writer.write(record)
                    writer.close()
            else:
                with _open_text(path) as fh:
                    fh.write(_md_document(record) if fmt == "md" else _txt_document(record))
            n += 1
            tick(n)
        staging.commit()
    except OSError as exc:
        staging.abort()
        raise ExportError(f"cannot write in {outdir}: {exc.strerror or exc}") from exc
    except BaseException:
        staging.abort()
        raise
    return ExportSummary(n, n, str(outdir), staging.notes)


class _atomic_file:
    """Write to a temporary file beside `target` (``.<name>.hra-<pid>-<random>.part``, locked
    while this process lives); rename it over the target only on success. What killed exports
    left beside the target is removed first (`clean_leftovers`)."""

    def __init__(self, target: Path, force: bool) -> None:
        self.target = target
        if not target.parent.is_dir():
            raise ExportError(f"directory {target.parent} does not exist")
        legacy = re.compile(re.escape(f".{target.name}.") + r"[a-z0-9_]{8}\.part", re.S)
        self.notes = clean_leftovers(target.parent,
                                     legacy=lambda name: bool(legacy.fullmatch(name)))
        if target.exists() and not force:
            raise ExportError(f"{target} exists; use --force to overwrite")

    def __enter__(self) -> Path:
        stem = self.target.name.encode("utf-8", "surrogateescape")[:100].decode(
            "utf-8", "ignore") or "export"
        try:
            fd, name = tempfile.mkstemp(prefix=f".{stem}.hra-{os.getpid()}-", suffix=".part",
                                        dir=self.target.parent)
        except OSError as exc:
            raise ExportError(f"cannot write in {self.target.parent}: {exc.strerror}") from exc
        os.close(fd)
        self.tmp = Path(name)
        self.lock = _hold_lock(self.tmp)
        umask = os.umask(0)
        os.umask(umask)
        self.tmp.chmod(0o666 & ~umask)  # mkstemp makes it private; the export is not
        return self.tmp

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                try:
                    os.replace(self.tmp, self.target)
                    return
                except OSError as err:
                    self.tmp.unlink(missing_ok=True)
                    raise ExportError(f"cannot write {self.target}: {err.strerror}") from err
            self.tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise ExportError(f"cannot write {self.target}: {exc.strerror or exc}") from exc
        finally:
            self.lock.close()

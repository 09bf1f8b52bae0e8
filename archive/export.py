"""Exporting documents: JSONL, CSV, Markdown, plain text and Word, safely and in bounded memory.

* `jsonl`, `csv`: one record per document (the public record shape), to a file or stdout. CSV
  is UTF-8 with a BOM so Excel opens Chinese text correctly.
* `md`, `txt`, `docx`: one file per document in an output directory, or every document in one
  file (`one_file`): Markdown with a contents list, Word with a heading per document and a table
  of contents field. Each document carries its title, date, region, type, source URL and flags
  in words (截断 with the stated full length, 含占位符).

Safety: file names are sanitized (`safe_name`), nothing is written outside the output
directory, existing files are not overwritten without `force`. Everything is written into a
staging directory (or a temporary file) beside the target and moved into place only when the
whole export succeeded, so a failed or interrupted export leaves no partial output.

Records are streamed: memory stays bounded however many documents match. Word files are
written by streaming WordprocessingML into the zip (python-docx supplies the styles template;
building a 100,000-document file with python-docx objects would not fit in memory). Their
document properties are written by hra, not taken from the template: title (the document's, or
`export_title()` for one file), author ``hra``, created/modified = the export time.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sys
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

from archive.errors import HraError
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
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

Records = Callable[[], Iterator[Record]]  # a fresh stream of the selected records per call


class ExportError(HraError):
    """A one-line reason the export could not be written (exit 1)."""


@dataclass
class ExportSummary:
    documents: int
    files: int
    where: str


# ---------------------------------------------------------------------------------------------
# Names and words


def safe_name(stem: str, ext: str, taken: set[str]) -> str:
    """A file name for `stem`: no path separators, control or reserved characters, no reserved
    device names, at most MAX_NAME_BYTES bytes, full-width characters kept, unique in `taken`
    (compared case-insensitively, as Windows and macOS file systems do)."""
    s = unicodedata.normalize("NFC", stem)
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
        ("来源", record.url),
        ("标记", flags_in_words(record)),
        ("编号", record.id),
    ]


# ---------------------------------------------------------------------------------------------
# Per-format writers: each writes one or more documents to an open file


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


class _CsvWriter:
    def __init__(self, fh: IO[str], no_text: bool) -> None:
        self.columns = [f for f in RECORD_FIELDS if not (no_text and f == "text")]
        self.writer = csv.writer(fh)
        self.writer.writerow(self.columns)

    def write(self, record: Record) -> None:
        data = record.to_json()
        self.writer.writerow([_csv_value(data[c]) for c in self.columns])


def _jsonl(record: Record, no_text: bool) -> str:
    data = record.to_json()
    if no_text:
        data.pop("text")
    return json.dumps(data, ensure_ascii=False) + "\n"


def _md_document(record: Record, anchor: str | None = None) -> str:
    heading = f"# {_md_escape(record.title or record.id)}"
    if anchor:
        heading += f' <a id="{anchor}"></a>'
    rows = "\n".join(f"| {k} | {_md_escape(v)} |" for k, v in metadata_rows(record)[1:])
    body = "\n\n".join(_md_escape(p) for p in record.text.split("\n"))
    return f"{heading}\n\n| 字段 | 内容 |\n| --- | --- |\n{rows}\n\n{body}\n"


def _md_escape(text: str) -> str:
    text = text.replace("|", "\\|")
    return re.sub(r"^([#>*+-]|\d+\.)(\s)", r"\\\1\2", text)


def _txt_document(record: Record) -> str:
    meta = "\n".join(f"{k}: {v}" for k, v in metadata_rows(record))
    return f"{meta}\n{'=' * 40}\n\n" + "\n\n".join(record.text.split("\n")) + "\n"


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
                "(打开文档时更新目录;若未更新,请右键选择\u201c更新域\u201d)</w:t></w:r>"
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
        for para in record.text.split("\n"):
            self._put(self._para(para))

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
# Staging: nothing appears at the target until everything is written


class _Staging:
    """A temporary directory inside the output directory; files are moved out on success."""

    def __init__(self, outdir: Path, force: bool) -> None:
        self.outdir = outdir
        self.force = force
        try:
            outdir.mkdir(parents=True, exist_ok=True)
            self.dir = Path(tempfile.mkdtemp(prefix=".hra-export-", dir=outdir))
        except FileExistsError as exc:
            raise ExportError(f"{outdir} is a file; a directory is needed") from exc
        except OSError as exc:
            raise ExportError(f"cannot write in {outdir}: {exc.strerror or exc}") from exc
        self.names: list[str] = []

    def path(self, name: str) -> Path:
        target = self.outdir / name
        if not self.force and target.exists():
            raise ExportError(f"{target} exists; use --force to overwrite")
        self.names.append(name)
        return self.dir / name

    def commit(self) -> None:
        for name in self.names:
            os.replace(self.dir / name, self.outdir / name)
        shutil.rmtree(self.dir, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


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
) -> ExportSummary:
    """Export the records. `records()` is called once (twice for a one-file Markdown export,
    whose contents list comes first). Raises ExportError with a one-line message.

    `title` names a one-file Word export (its document properties; default `export_title()`);
    a per-document Word file takes its document's title. Both record the export time."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
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
    with _atomic_file(target, force) as tmp, _open_text(tmp, bom=fmt == "csv") as fh:
        n = write_all(fh)
    return ExportSummary(n, 1, str(target))


def _export_one_file(records: Records, fmt: str, target: Path, no_text: bool, force: bool,
                     tick: Callable[[int], None], title: str) -> ExportSummary:
    n = 0
    with _atomic_file(target, force) as tmp:
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
                if fmt == "md":
                    fh.write("# 目录\n\n")
                    for i, record in enumerate(records(), 1):
                        fh.write(f"{i}. [{_md_escape(record.title or record.id)}](#doc-{i})\n")
                    fh.write("\n")
                for i, record in enumerate(records(), 1):
                    fh.write("\n---\n\n" if i > 1 else "")
                    fh.write(_md_document(record, f"doc-{i}") if fmt == "md"
                             else _txt_document(record))
                    n += 1
                    tick(n)
    return ExportSummary(n, 1, str(target))


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
    return ExportSummary(n, n, str(outdir))


class _atomic_file:
    """Write to a temporary file beside `target`; rename over it only on success."""

    def __init__(self, target: Path, force: bool) -> None:
        self.target = target
        if target.exists() and not force:
            raise ExportError(f"{target} exists; use --force to overwrite")
        if not target.parent.is_dir():
            raise ExportError(f"directory {target.parent} does not exist")

    def __enter__(self) -> Path:
        try:
            fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".part",
                                        dir=self.target.parent)
        except OSError as exc:
            raise ExportError(f"cannot write in {self.target.parent}: {exc.strerror}") from exc
        os.close(fd)
        self.tmp = Path(name)
        umask = os.umask(0)
        os.umask(umask)
        self.tmp.chmod(0o666 & ~umask)  # mkstemp makes it private; the export is not
        return self.tmp

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
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

"""Every read of a private Whoosh attribute, in one place (Whoosh 2.7.4, `WHOOSH_VERSION`).

Whoosh has no public API for what the index needs in bulk: a segment's term table (to read whole
posting lists from `search.codec.GramTermsReader`), its per-document reader (deleted documents,
whole columns, the field-length table), the raw bytes behind a column reader, and the TOC's
reading and file-name patterns. The functions here are the only places in ``search/`` that touch
an attribute whose name starts with ``_`` on a Whoosh object; `PRIVATE` lists them by the class
that has them. tests/test_search_layout.py pins the Whoosh version and checks that each of them
exists on the real objects, so a Whoosh upgrade fails there first, by name.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

WHOOSH_VERSION = (2, 7, 4)

#: The private Whoosh names this module reads, by the class (or module) that has them.
PRIVATE: dict[str, tuple[str, ...]] = {
    "whoosh.index.FileIndex": ("_read_toc",),
    "whoosh.index.TOC": ("_pattern", "_segment_pattern"),
    "whoosh.reading.SegmentReader": ("_terms", "_perdoc"),
    "whoosh.codec.whoosh3.W3PerDocReader": ("_cached_reader",),
    "whoosh.codec.whoosh3": ("_lenfield",),
    "whoosh.columns.NumericColumn.Reader": (
        "_dbfile", "_basepos", "_count", "_fixedlen", "_default", "_typecode",
    ),
    "whoosh.columns.FixedBytesColumn.Reader": (
        "_dbfile", "_basepos", "_count", "_fixedlen", "_default",
    ),
    "whoosh.columns.VarBytesColumn.Reader": ("_dbfile", "_basepos", "_offsets", "_lengths"),
}


# -- the table of contents -------------------------------------------------------------------


def read_toc(ix: Any) -> Any:
    """The current ``TOC`` (schema, segments, generation) of a ``FileIndex``."""
    return ix._read_toc()


def toc_file_patterns(indexname: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Regexes of an index's TOC file names (group 1: generation) and segment file names
    (group 1: segment id)."""
    from whoosh.index import TOC

    return TOC._pattern(indexname), TOC._segment_pattern(indexname)


# -- a segment reader ------------------------------------------------------------------------


def terms_reader(leaf: Any) -> Any:
    """The codec's terms reader of a ``SegmentReader`` (a `GramTermsReader` for our segments)."""
    return leaf._terms


def deleted_docnums(leaf: Any) -> frozenset[int]:
    """The deleted documents (segment docnums) of a ``SegmentReader``."""
    if not leaf.has_deletions():
        return frozenset()
    return frozenset(leaf._perdoc.deleted_docs())


def open_column(leaf: Any, fieldname: str) -> Any:
    """A raw column reader of a ``SegmentReader``'s column (opens the column file, which then
    stays open with the reader). The field must have a column (``leaf.has_column``)."""
    return leaf._perdoc.column_reader(fieldname, leaf.schema[fieldname].column_type)


def open_lengths(leaf: Any, fieldname: str) -> Any | None:
    """The raw (cached) reader of a scorable field's length column; None when the segment has
    none. One byte per document, Whoosh's ``length_to_byte`` code."""
    from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

    return leaf._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)


# -- the bytes behind a column reader --------------------------------------------------------


@dataclass(frozen=True)
class FixedColumnData:
    """What a ``FixedBytesColumn``/``NumericColumn`` reader holds: ``data`` is the values of the
    first ``len(data) // size`` documents back to back (the rest have ``default``)."""

    data: bytes
    size: int
    default: Any


def fixed_column_data(raw: Any) -> FixedColumnData:
    """The stored bytes of a fixed-size column reader, in one read."""
    return FixedColumnData(
        data=raw._dbfile.get(raw._basepos, raw._count * raw._fixedlen),
        size=raw._fixedlen,
        default=raw._default,
    )


def numeric_typecode(raw: Any) -> str:
    """The ``array`` typecode of a ``NumericColumn`` reader's values (stored big-endian)."""
    return raw._typecode


def var_column_layout(data: Any, doccount: int) -> tuple[list[int], Any]:
    """(offsets, lengths) of the values in the bytes of a ``VarBytesColumn`` file (``data``:
    bytes or a memory map of the whole file), parsed in bulk.

    Whoosh's own reader derives the offsets in a Python loop when the file has none (segments
    under 32,768 documents): ~10 ms per 20,000 documents on every open. The format (Whoosh
    2.7.4): the values back to back, the lengths array (big-endian), optionally the offsets
    array, the lengths' typecode, and with offsets their typecode and ``X``.
    """
    from array import array
    from itertools import accumulate

    end = len(data) - 1
    code = chr(data[end])
    if code == "X":
        code = chr(data[end - 2])
        end = end - 2 - doccount * array(chr(data[end - 1])).itemsize
    size = array(code).itemsize
    lengths = array(code, data[end - doccount * size:end])
    if sys.byteorder == "little" and size > 1:
        lengths.byteswap()
    offsets = list(accumulate(lengths, initial=0))
    offsets.pop()
    return offsets, lengths


def var_column_data(raw: Any) -> tuple[bytes, Any, Any]:
    """(data, offsets, lengths) of a ``VarBytesColumn`` reader: document ``d``'s value is
    ``data[offsets[d]:offsets[d] + lengths[d]]``."""
    offsets, lengths = raw._offsets, raw._lengths
    total = (offsets[-1] + lengths[-1]) if len(lengths) else 0
    data = raw._dbfile.get(raw._basepos, total) if total else b""
    return data, offsets, lengths

"""`GenerationReader`: one open generation of the index, read in bulk.

What a search asks of the index, in global docnums (segment docnum + the segment's base):
a term's posting list with frequencies (`postings`, cached, deleted documents left out), a
field's distinct terms (`field_terms`), the live documents (`live`), and per-document columns
read whole: ids, publication days, field lengths. Everything else a search does works on these
sets and lists (`search.filters`, `search.boolean`, `search.scoring`, `search.facets`,
`search.hits`).
"""

from __future__ import annotations

import mmap
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from search.segments import column_values, field_lengths, read_term
from search.swap_retry import retry_on_swap
from search.whoosh_internals import (
    deleted_docnums,
    open_column,
    open_lengths,
    var_column_layout,
)


@dataclass(frozen=True)
class KeyColumn:
    """The ``key`` column of one segment, memory-mapped (`search.schema.key_value`): the key
    of global docnum ``d`` is ``data[bounds[d - base]:bounds[d - base + 1]]`` (empty: the
    document has none; ``complete`` when no document lacks one)."""

    base: int
    end: int
    data: mmap.mmap
    bounds: list[int]
    complete: bool


class Ids:
    """Every document's archive id by global docnum, decoded when asked for (a search needs
    a few: its page, ties in ranking), from each segment's id column read whole."""

    def __init__(self) -> None:
        self._parts: list[tuple[int, bytes, list[int], Any]] = []
        self._bases: list[int] = []
        self._count = 0

    def add(self, base: int, data: bytes, offsets: list[int], lengths: Any) -> None:
        self._parts.append((base, data, offsets, lengths))
        self._bases.append(base)
        self._count = base + len(lengths)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, d: int) -> str:
        base, data, offsets, lengths = self._parts[bisect_right(self._bases, d) - 1]
        at = offsets[d - base]
        return data[at:at + lengths[d - base]].decode("utf-8")


class GenerationReader:
    """The live index generation of a data directory, opened with every file a search reads.

    ``path`` and ``state`` are the directory and its ``state.json``; ``leaves`` are (segment
    reader, docnum base, deleted segment docnums) of each segment.
    """

    def __init__(self, data_dir: Path, attempts: int = 5) -> None:
        self._open(data_dir, attempts)
        self.leaves: list[tuple[Any, int, frozenset[int]]] = [
            (leaf, base, deleted_docnums(leaf)) for leaf, base in segment_readers(self.reader)
        ]
        self.doc_count_all: int = self.reader.doc_count_all()
        self.doc_count: int = self.reader.doc_count()
        self._postings: dict[tuple[str, str], dict[int, int]] = {}
        self._live: set[int] | None = None
        self._lengths: dict[str, list[int]] = {}
        self._days: list[int] | None = None

    def _open(self, data_dir: Path, attempts: int) -> None:
        """Open the live generation and every file a search reads.

        A rebuild may swap in a new directory and delete the old one between reading
        ``CURRENT`` and opening the files: then start again. Once open, the files stay
        readable until closed, whatever writers do.
        """
        from whoosh.index import EmptyIndexError

        retry_on_swap(lambda: self._open_files(data_dir), attempts=attempts,
                      errors=(OSError, EmptyIndexError))

    def _open_files(self, data_dir: Path) -> None:
        from search.index_files import open_current

        self.path, ix, self.state = open_current(data_dir)
        self.reader = ix.reader()
        #: Each segment's `KeyColumn` (None: the segment has no key column of its own file).
        self.keys: list[KeyColumn | None] = []
        self._ids = Ids()
        try:
            for leaf, base in segment_readers(self.reader):
                self._read_ids(leaf, base)
                if leaf.has_column("day"):
                    open_column(leaf, "day")
                for name in ("title", "text"):
                    open_lengths(leaf, name)
                self.keys.append(self._map_keys(leaf, base))
        except BaseException:
            self.close()
            raise

    def _map_keys(self, leaf: Any, base: int) -> KeyColumn | None:
        """Memory-map a segment's key column file (read-only; it stays readable after a
        rebuild deletes the directory)."""
        from whoosh.codec.whoosh3 import W3Codec

        if not leaf.has_column("key"):
            return None
        path = self.path / W3Codec.column_filename(leaf.segment(), "key")
        if not path.is_file() or path.stat().st_size == 0:
            return None  # a compound segment (Whoosh's own writer): verified from the archive
        with path.open("rb") as f:
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        count = leaf.doc_count_all()
        offsets, lengths = var_column_layout(data, count)
        bounds = [*offsets, offsets[-1] + lengths[-1]] if count else [0]
        return KeyColumn(base, base + count, data, bounds, 0 not in lengths)

    def _read_ids(self, leaf: Any, base: int) -> None:
        """Read a segment's id column (one read of its file; decoded on demand by `Ids`)."""
        from whoosh.codec.whoosh3 import W3Codec

        count = leaf.doc_count_all()
        path = self.path / W3Codec.column_filename(leaf.segment(), "id")
        if path.is_file():
            data = path.read_bytes()
            offsets, lengths = var_column_layout(data, count)
        else:  # a compound segment (Whoosh's own writer)
            values = [v.encode("utf-8") for v in column_values(leaf, "id")]
            data = b"".join(values)
            lengths = [len(v) for v in values]
            offsets = list(accumulate(lengths, initial=0))[:-1]
        self._ids.add(base, data, offsets, lengths)

    def clear_cache(self) -> None:
        """Forget the posting lists read so far (a long-lived reader's memory stays bounded;
        benchmarks time each query from the files)."""
        self._postings.clear()

    def close(self) -> None:
        """Close the generation's files."""
        for column in getattr(self, "keys", ()):
            if column is not None:
                column.data.close()
        self.reader.close()

    # -- terms -----------------------------------------------------------------------------

    def postings(self, fieldname: str, term: str) -> dict[int, int]:
        """Live documents (global docnums) holding ``term`` in ``fieldname`` -> frequency."""
        key = (fieldname, term)
        cached = self._postings.get(key)
        if cached is not None:
            return cached
        tbytes = term.encode("utf-8")
        out: dict[int, int] = {}
        for leaf, base, deleted in self.leaves:
            ids, weights = read_term(leaf, fieldname, tbytes)
            if not ids:
                continue
            out.update(zip(map(base.__add__, ids) if base else ids, weights, strict=True))
            for docnum in deleted:
                out.pop(docnum + base, None)
        self._postings[key] = out
        return out

    def field_terms(self, fieldname: str, start: str = "") -> list[str]:
        """The distinct terms of a field (from ``start`` on), in order."""
        found: set[bytes] = set()
        first = start.encode("utf-8")
        for leaf, _base, _deleted in self.leaves:
            if fieldname not in leaf.indexed_field_names():
                continue
            for name, tbytes in leaf.terms_from(fieldname, first):
                if name != fieldname:
                    break
                found.add(tbytes)
        return sorted(t.decode("utf-8") for t in found)

    # -- documents -------------------------------------------------------------------------

    def live(self) -> set[int]:
        """Every live (not deleted) document: one set per open generation, shared (callers
        copy it before changing it)."""
        if self._live is None:
            docs = set(range(self.doc_count_all))
            for _leaf, base, deleted in self.leaves:
                docs.difference_update(d + base for d in deleted)
            self._live = docs
        return self._live

    @property
    def ids(self) -> Ids:
        """The archive id of every document, by docnum (decoded on access)."""
        return self._ids

    @property
    def days(self) -> list[int]:
        """Every document's publication date as ``YYYYMMDD`` (0: undated), by docnum."""
        if self._days is None:
            days: list[int] = []
            for leaf, _base, _deleted in self.leaves:
                days += column_values(leaf, "day")
            self._days = days
        return self._days

    def lengths(self, fieldname: str) -> list[int]:
        """Every document's (byte-encoded, approximate) length of a scorable field, by docnum."""
        if fieldname not in self._lengths:
            values: list[int] = []
            for leaf, _base, _deleted in self.leaves:
                values += field_lengths(leaf, fieldname)
            self._lengths[fieldname] = values
        return self._lengths[fieldname]

    def average_length(self, fieldname: str) -> float:
        """The mean length of a scorable field over all documents (at least 1)."""
        return max(self.reader.field_length(fieldname) / max(self.doc_count_all, 1), 1.0)


def segment_readers(reader: Any) -> list[tuple[Any, int]]:
    """(segment reader, docnum base) of an index reader (none for an empty index)."""
    from whoosh.reading import SegmentReader

    return [(leaf, base) for leaf, base in reader.leaf_readers()
            if isinstance(leaf, SegmentReader)]

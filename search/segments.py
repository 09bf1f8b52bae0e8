"""Writing and reading index segments in bulk.

Whoosh's generic writer spends ~20 us per posting (a sorting pool of per-posting tuples, a
per-posting field-length lookup, per-posting checks). A document here has ~3,000 distinct
unigrams and bigrams, so that path tops out near 15 documents/s per core. `SegmentBuilder`
fills per-term arrays while documents are added (an array append per posting) and hands whole
posting lists to the codec's writer (`search.codec.GramFieldWriter.write_term`); per-document
data goes through Whoosh's own ``W3PerDocWriter``. The result is a segment of a Whoosh index in
`search.codec.GramCodec`'s format with the same postings, lengths and columns as Whoosh's own
writer writes (tests/test_search_index.py compares them, with ``W3Codec`` and with this codec).
A rebuild's segments are large (up to `MAX_DOCS` documents): `SegmentBuilder.spill` writes the
postings buffered so far to sorted runs on disk and `finish` merges them back (`search.runs`).

`read_term` reads a term's whole posting list at once; `column_values` and `field_lengths` read a
segment's columns in bulk (through `search.whoosh_internals`); `merge_segments` combines
segments, dropping deleted documents (or, when none is deleted, shifting whole posting lists).
"""

from __future__ import annotations

import heapq
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import accumulate, groupby
from operator import itemgetter
from typing import Any

from whoosh.reading import SegmentReader, TermNotFound
from whoosh.util.numeric import byte_to_length, length_to_byte

from search.analysis import MAX_TF, GramField, gram_key, gram_term
from search.codec import INLINE, GramCodec, GramTermsReader, length_codes
from search.runs import InMemory, Run, merge_runs
from search.whoosh_internals import (
    fixed_column_data,
    numeric_typecode,
    open_column,
    open_lengths,
    terms_reader,
    var_column_data,
)


class SegmentBuilder:
    """Accumulates documents and writes them as one new segment of an index.

    ``add`` takes the field values of a document (`search.schema.index_fields`), ``finish``
    writes the segment files and returns the ``W3Segment`` to list in a new TOC.
    """

    def __init__(self, storage: Any, schema: Any, indexname: str) -> None:
        self.storage = storage
        self.schema = schema
        self.codec = GramCodec()
        self.segment = self.codec.new_segment(storage, indexname)
        self.perdoc = self.codec.per_document_writer(storage, self.segment)
        #: field -> term (`search.analysis.gram_counts` key for gram fields, else bytes) ->
        #: postings ``docnum << 8 | weight``
        self.postings: dict[str, dict[Any, array]] = {}
        #: gram field -> per-document ``uint64`` arrays of `_packed` postings (`add`)
        self.grams: dict[str, list[Any]] = {}
        #: scorable field -> per-document length (for the blocks' min/max length)
        self.lengths: dict[str, array] = {}
        #: gram field -> sorted postings written to disk by `spill`
        self.runs: dict[str, list[Run]] = {}
        self.docnum = 0
        #: gram field postings held in memory (`spill` writes them out; the other fields' are
        #: a few per document)
        self.buffered = 0
        self._grams = {name for name, f in schema.items() if isinstance(f, GramField)}

    def __len__(self) -> int:
        return self.docnum

    # -- documents ---------------------------------------------------------------------------

    def add(self, fields: Mapping[str, Any]) -> int:
        """Add one document; returns its docnum within the segment."""
        from search.analysis import gram_counts

        docnum = self.docnum
        if docnum >= MAX_DOCS:
            raise ValueError(f"a segment holds at most {MAX_DOCS} added documents: finish it")
        base = docnum << 8
        pdw = self.perdoc
        pdw.start_doc(docnum)
        for name, value in fields.items():
            if value is None:
                continue
            field = self.schema[name]
            length = 0
            if field.indexed:
                post = self.postings.setdefault(name, {})
                get = post.get
                if name in self._grams:
                    keys, counts = gram_counts(value)
                    self.grams.setdefault(name, []).append(_packed(keys, docnum, counts))
                    length = int(counts.sum())
                    self.buffered += len(keys)
                else:
                    for tbytes, freq, weight, _vbytes in field.index(value):
                        entry = get(tbytes)
                        if entry is None:
                            post[tbytes] = entry = array("Q")
                        entry.append(base | min(max(round(weight), 1), MAX_TF))
                        if field.scorable:
                            length += freq
            self._set_length(name, field, docnum, length)
            pdw.add_field(name, field, value if field.stored else None, length)
            if field.column_type is not None:
                pdw.add_column_value(name, field.column_type, field.to_column_value(value))
        pdw.finish_doc()
        self.docnum += 1
        return docnum

    def add_copy(
        self,
        columns: Mapping[str, Any],
        lengths: Mapping[str, int],
        stored: Mapping[str, Any],
    ) -> int:
        """Add a document's per-document data copied from another segment (merging).

        Its postings are added separately with `add_postings`.
        """
        docnum = self.docnum
        pdw = self.perdoc
        pdw.start_doc(docnum)
        for name, field in self.schema.items():
            length = lengths.get(name, 0)
            self._set_length(name, field, docnum, length)
            pdw.add_field(name, field, stored.get(name) if field.stored else None, length)
            if field.column_type is not None and name in columns:
                pdw.add_column_value(name, field.column_type, columns[name])
        pdw.finish_doc()
        self.docnum += 1
        return docnum

    def add_postings(
        self, name: str, tbytes: bytes, docnums: Iterable[int], weights: Iterable[int]
    ) -> None:
        """Append postings (ascending docnums of this segment, integer weights) of one term."""
        if self.grams:
            raise ValueError("add_postings after add: a builder either adds or copies")
        post = self.postings.setdefault(name, {})
        key: Any = gram_key(tbytes.decode("utf-8")) if name in self._grams else tbytes
        entry = post.get(key)
        if entry is None:
            post[key] = entry = array("Q")
        entry.extend(d << 8 | min(w, MAX_TF) for d, w in zip(docnums, weights, strict=True))

    def _set_length(self, name: str, field: Any, docnum: int, length: int) -> None:
        if not field.scorable:
            return
        lengths = self.lengths.get(name)
        if lengths is None:
            lengths = self.lengths[name] = array("I")
        if len(lengths) < docnum:
            lengths.extend([0] * (docnum - len(lengths)))
        lengths.append(length)

    # -- writing -----------------------------------------------------------------------------

    def spill(self) -> None:
        """Write the gram fields' postings added so far to sorted runs on disk (`search.runs`),
        so a large segment is built in bounded memory; `finish` merges them back."""
        import numpy as np

        for name, chunks in self.grams.items():
            if chunks:
                packed = np.concatenate(chunks)
                chunks.clear()
                packed.sort()
                self.runs.setdefault(name, []).append(
                    Run(packed, getattr(self.storage, "folder", None)))
                self.buffered -= len(packed)

    def finish(self) -> Any:
        """Write the segment's files; returns the segment (doc count set) for the TOC."""
        self.perdoc.close()
        fw = self.codec.field_writer(self.storage, self.segment)
        try:
            for name in sorted(self.postings.keys() | self.grams.keys() | self.runs.keys()):
                field = self.schema[name]
                lengths = self.lengths.get(name)
                if lengths is not None and len(lengths) < self.docnum:
                    lengths.extend([0] * (self.docnum - len(lengths)))
                fw.start_field(name, field)
                if name in self.grams or name in self.runs:
                    _write_packed(fw, self.grams.pop(name, []), lengths, self.runs.pop(name, []))
                    fw.finish_field()
                    continue
                post = self.postings[name]
                grams = name in self._grams
                for term in sorted(post):
                    packed = post[term]
                    ids = [v >> 8 for v in packed]
                    weights = bytes([v & 0xFF for v in packed])
                    tbytes = gram_term(term).encode("utf-8") if grams else term
                    doclens = [lengths[d] for d in ids] if lengths is not None else None
                    fw.write_term(tbytes, ids, weights, doclens)
                fw.finish_field()
        finally:
            fw.close()
            for runs in self.runs.values():
                for run in runs:
                    run.close()
            self.runs.clear()
        self.postings.clear()
        self.buffered = 0
        self.segment.set_doc_count(self.docnum)
        return self.segment


#: Documents `SegmentBuilder.add` takes before the segment must be finished (their docnums
#: fill the 14 bits of a `_packed` posting between its key and its weight).
MAX_DOCS = 1 << 14
_KEY_SHIFT = 22
#: Postings `_write_packed` turns into Python lists at a time.
_BLOCK = 1 << 16


def _packed(keys: Any, docnum: int, counts: Any) -> Any:
    """One document's postings of a gram field as one ``uint64`` each: the term's gram key
    (42 bits, `search.analysis.gram_counts`), the docnum (14 bits), the weight (8 bits). Sorting
    them orders the postings by term, then by document, as the term table wants them."""
    import numpy as np

    weights = counts.clip(max=MAX_TF).astype(np.uint64)
    return (keys << np.uint64(_KEY_SHIFT)) | np.uint64(docnum << 8) | weights


def _write_packed(fw: Any, chunks: list[Any], lengths: array | None,
                  runs: Sequence[Run] = ()) -> None:
    """Write a gram field's postings (`_packed`, per document, and the runs `spill` wrote)
    term by term: one sort of those in memory, then blocks of whole terms in key order (the
    runs merged, `search.runs.merge_runs`), converted to lists a block at a time."""
    import numpy as np

    packed = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.uint64)
    chunks.clear()
    packed.sort()
    # Whoosh's one-byte length code of each document (0 for none), and per posting below.
    codes = np.zeros(MAX_DOCS, dtype=np.int16)
    if lengths is not None:
        codes[:len(lengths)] = [length_to_byte(n) for n in lengths]
    if not runs:
        if len(packed):
            _write_block(fw, packed, codes)
        return
    sources: list[Any] = [*runs, InMemory(packed)] if len(packed) else list(runs)
    for block in merge_runs(sources, _KEY_SHIFT):
        _write_block(fw, block, codes)


def _write_block(fw: Any, packed: Any, codes: Any) -> None:
    """Write sorted postings holding all the postings of each term in them, term by term."""
    import numpy as np

    shift = np.uint64(_KEY_SHIFT)
    keys = packed >> shift
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    del keys  # (memory) a block's keys are read back from ``packed``
    ends = np.append(starts[1:], len(packed))
    term = 0
    while term < len(starts):
        # the terms whose postings start within the next block (at least one term)
        lo = int(starts[term])
        last = max(term + 1, int(np.searchsorted(starts, lo + _BLOCK)))
        hi = int(ends[last - 1])
        block = packed[lo:hi]
        ids = ((block >> np.uint64(8)) & np.uint64(MAX_DOCS - 1)).astype(np.int64)
        weights = (block & np.uint64(0xFF)).astype(np.uint8).tobytes()
        first = starts[term:last] - lo
        lens = codes[ids]
        maxlb = np.maximum.reduceat(lens, first).tolist()
        minlb = np.minimum.reduceat(np.where(lens == 0, 256, lens), first)
        minlb = np.where(minlb == 256, 0, minlb).tolist()
        id_list = ids.tolist()
        write = fw.write_coded
        keys = (packed[starts[term:last]] >> shift).tolist()
        for i, (key, a, b) in enumerate(zip(keys, first.tolist(),
                                            (ends[term:last] - lo).tolist(), strict=True)):
            write(gram_term(key).encode("utf-8"), id_list[a:b] if b - a <= INLINE else ids[a:b],
                  weights[a:b], minlb[i], maxlb[i])
        term = last


# -- reading ---------------------------------------------------------------------------------


def read_term(reader: SegmentReader, fieldname: str, tbytes: bytes) -> tuple[list[int], bytes]:
    """(segment docnums, weight bytes) of a term's postings; empty when the term is absent.

    Deleted documents are included: callers filter them. Segments of other codecs (an index
    written by Whoosh's own writer) are read through their matcher.
    """
    terms = terms_reader(reader)
    if isinstance(terms, GramTermsReader):
        return terms.postings(fieldname, tbytes)
    try:
        matcher = terms.matcher(fieldname, tbytes, reader.schema[fieldname].format)
    except (TermNotFound, KeyError):
        return [], b""
    ids: list[int] = []
    weights = bytearray()
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(max(1, min(round(matcher.weight()), MAX_TF)))
        matcher.next()
    return ids, bytes(weights)


def column_values(reader: SegmentReader, fieldname: str) -> list[Any]:
    """Every document's value in a column of one segment, read in bulk."""
    field = reader.schema[fieldname]
    column = field.column_type
    count = reader.doc_count_all()
    if not reader.has_column(fieldname):
        return [field.from_column_value(column.default_value())] * count
    return _bulk(open_column(reader, fieldname), column, count, field)


def _bulk(raw: Any, column: Any, count: int, field: Any) -> list[Any]:
    from whoosh.columns import FixedBytesColumn, NumericColumn, VarBytesColumn
    from whoosh.fields import ID

    if isinstance(column, NumericColumn):
        fixed = fixed_column_data(raw)
        values = array(numeric_typecode(raw), fixed.data)
        if values.itemsize > 1 and sys.byteorder == "little":
            values.byteswap()
        numbers: list[Any] = values.tolist()
        return numbers + [fixed.default] * (count - len(numbers))
    if isinstance(column, FixedBytesColumn):
        fixed = fixed_column_data(raw)
        data, size = fixed.data, fixed.size
        out = [data[i:i + size] for i in range(0, len(data), size)]
        return out + [fixed.default] * (count - len(out))
    if isinstance(column, VarBytesColumn):
        data, offsets, lens = var_column_data(raw)
        if isinstance(field, ID):
            return [data[o:o + n].decode("utf-8") for o, n in zip(offsets, lens, strict=True)]
        return [
            field.from_column_value(data[o:o + n]) for o, n in zip(offsets, lens, strict=True)
        ]
    return [field.from_column_value(raw[i]) for i in range(count)]


def field_lengths(reader: SegmentReader, fieldname: str) -> list[int]:
    """Every document's (approximate, byte-encoded) length of a scorable field, in bulk."""
    count = reader.doc_count_all()
    raw = open_lengths(reader, fieldname)
    if raw is None:
        return [0] * count
    data = fixed_column_data(raw).data
    table = [byte_to_length(b) for b in range(256)]
    table[0] = 0
    out = [table[b] for b in data]
    return out + [0] * (count - len(out))


# -- merging ---------------------------------------------------------------------------------


def merge_segments(
    storage: Any, schema: Any, indexname: str, segments: Sequence[Any]
) -> Any | None:
    """One new segment holding the live documents of ``segments``; None if none is live."""
    builder = SegmentBuilder(storage, schema, indexname)
    readers = [SegmentReader(storage, schema, seg) for seg in segments]
    try:
        docmaps: list[dict[int, int]] = []
        colnames = [n for n, f in schema.items() if f.column_type is not None]
        scorable = [n for n, f in schema.items() if f.scorable]
        for reader in readers:
            raw_cols = {n: _column_source(reader, n) for n in colnames}
            lens = {n: field_lengths(reader, n) for n in scorable}
            docmap: dict[int, int] = {}
            for docnum in range(reader.doc_count_all()):
                if reader.is_deleted(docnum):
                    continue
                stored = reader.stored_fields(docnum) if _has_stored(schema) else {}
                docmap[docnum] = builder.add_copy(
                    {n: raw_cols[n][docnum] for n in colnames},
                    {n: lens[n][docnum] for n in scorable},
                    stored,
                )
            docmaps.append(docmap)
        if not len(builder):
            builder.perdoc.close()
            builder.codec.field_writer(storage, builder.segment).close()
            return None
        if all(isinstance(terms_reader(r), GramTermsReader) for r in readers):
            if all(not r.has_deletions() for r in readers):
                bases = list(accumulate((r.doc_count_all() for r in readers), initial=0))
                return _stream_appended(builder, readers, bases[:-1])
            return _stream_postings(builder, readers, docmaps)
        for reader, docmap in zip(readers, docmaps, strict=True):
            for fieldname, tbytes, ids, weights in _all_postings(reader):
                if fieldname not in schema:
                    continue
                kept = [(docmap[d], w) for d, w in zip(ids, weights, strict=True) if d in docmap]
                if kept:
                    builder.add_postings(fieldname, tbytes, [d for d, _ in kept],
                                         bytes(w for _, w in kept))
        return builder.finish()
    finally:
        for reader in readers:
            reader.close()


def _column_source(reader: SegmentReader, fieldname: str) -> Any:
    """A segment's raw column values by docnum, for copying: the per-document ``key`` column
    (the documents' whole text, `search.schema.key_value`) is read one value at a time from
    its file, so a merge's memory does not grow with the text; the small columns in bulk."""
    from whoosh.columns import VarBytesColumn
    from whoosh.fields import COLUMN

    field = reader.schema[fieldname]
    if (isinstance(field, COLUMN) and isinstance(field.column_type, VarBytesColumn)
            and reader.has_column(fieldname)):
        return open_column(reader, fieldname)
    return [field.to_column_value(v) for v in column_values(reader, fieldname)]


def _sorted_infos(reader: SegmentReader, schema: Any, number: int) -> Iterator[tuple]:
    """(field, term bytes, number, raw info) of a `GramCodec` segment's terms of the schema's
    fields, ordered by field name, then term."""
    terms = terms_reader(reader)
    for fieldname in sorted(set(terms.indexed_field_names()) & set(schema.names())):
        for tbytes, info in terms.field_terms(fieldname):
            yield fieldname, tbytes, number, info


#: A term's merged postings from its (field, term, segment number, raw info) parts:
#: (docnums, weights, smallest and largest length code), or None when none is left.
Combine = Callable[[str, list[tuple]], tuple[Any, bytes, int, int] | None]


def _stream_terms(builder: SegmentBuilder, readers: list[SegmentReader],
                  combine: Combine) -> Any:
    """Finish a merge: the segments' term tables merged term by term (a k-way merge) straight
    into the new segment's writer, each term's posting lists combined by ``combine``, so a
    merge holds one term's postings at a time, never the whole segments'."""
    builder.perdoc.close()
    schema = builder.schema
    streams = [_sorted_infos(r, schema, i) for i, r in enumerate(readers)]
    fw = builder.codec.field_writer(builder.storage, builder.segment)
    try:
        current = None
        merged = heapq.merge(*streams, key=itemgetter(0, 1))  # stable: segments in order
        for (fieldname, tbytes), group in groupby(merged, key=itemgetter(0, 1)):
            postings = combine(fieldname, list(group))
            if postings is None:
                continue
            if fieldname != current:
                if current is not None:
                    fw.finish_field()
                fw.start_field(fieldname, schema[fieldname])
                current = fieldname
            fw.write_coded(tbytes, *postings)
        if current is not None:
            fw.finish_field()
    finally:
        fw.close()
    builder.segment.set_doc_count(builder.docnum)
    return builder.segment


def _stream_postings(
    builder: SegmentBuilder, readers: list[SegmentReader], docmaps: list[dict[int, int]]
) -> Any:
    """Merge segments posting by posting: deleted documents dropped, the others renumbered
    (``docmaps``), length codes from the documents' lengths."""
    terms = [terms_reader(r) for r in readers]
    lengths = builder.lengths
    for column in lengths.values():
        column.extend([0] * (builder.docnum - len(column)))

    def combine(fieldname: str, parts: list[tuple]) -> tuple[Any, bytes, int, int] | None:
        ids: list[int] = []
        weights = bytearray()
        for _f, _t, number, info in parts:
            docmap = docmaps[number]
            docnums, ws = terms[number].postings_of(info)
            for d, w in zip(docnums, ws, strict=True):
                if d in docmap:
                    ids.append(docmap[d])
                    weights.append(min(w, MAX_TF))
        if not ids:
            return None
        known = lengths.get(fieldname)
        minlb, maxlb = length_codes([known[d] for d in ids]) if known is not None else (0, 0)
        return ids, bytes(weights), minlb, maxlb

    return _stream_terms(builder, readers, combine)


def _stream_appended(builder: SegmentBuilder, readers: list[SegmentReader],
                     bases: list[int]) -> Any:
    """Merge segments without deleted documents (an update's segments that no later change
    has touched, the usual case of the tiered merge): each segment's documents follow the previous ones', so a term's merged posting list is its
    lists one after another, each shifted by its segment's base. Lists are shifted as arrays,
    and the length codes come from the term infos (the documents' lengths do not change), so
    no posting passes through Python one at a time."""
    import numpy as np

    terms = [terms_reader(r) for r in readers]

    def combine(_fieldname: str, parts: list[tuple]) -> tuple[Any, bytes, int, int]:
        minlbs = [p[3][-2] for p in parts if p[3][-2]]
        minlb = min(minlbs) if minlbs else 0
        maxlb = max(p[3][-1] for p in parts)
        id_parts, weight_parts = [], []
        for _f, _t, number, info in parts:
            base = bases[number]
            if len(info) == 4:
                id_parts.append(np.add(info[0], base, dtype=np.int64))
                weight_parts.append(info[1])
            else:
                ids, weights = terms[number].postings_array(info)
                id_parts.append(ids + base)
                weight_parts.append(weights)
        all_ids = np.concatenate(id_parts) if len(id_parts) > 1 else id_parts[0]
        return (all_ids if len(all_ids) > INLINE else all_ids.tolist(), b"".join(weight_parts),
                minlb, maxlb)

    return _stream_terms(builder, readers, combine)


def _all_postings(reader: SegmentReader) -> Iterable[tuple[str, bytes, list[int], bytes]]:
    terms = terms_reader(reader)
    if isinstance(terms, GramTermsReader):
        yield from terms.iter_postings()
        return
    for fieldname, tbytes in terms.terms():
        yield fieldname, tbytes, *read_term(reader, fieldname, tbytes)


def _has_stored(schema: Any) -> bool:
    return any(f.stored for _n, f in schema.items())

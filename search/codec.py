"""`GramCodec`: a Whoosh codec with a compact term table for millions of rare n-grams.

STABLE IMPORT PATH: segments record their codec object in the index's TOC (a pickle), so
`GramCodec` is pickled by path: do not move or rename it (or this module).

Why: an n-gram index of Chinese reports has about as many distinct terms as postings per
thousand documents (most bigrams are rare), and Whoosh's ``W3Codec`` spends ~80 bytes of term
table per term (a CDB-style hash with 24 bytes of slots, a position index, a 35-byte term info)
plus ~80 bytes of block framing in the postings file, which made the index 2-3x the text. This
codec keeps everything else of ``W3Codec`` (per-document columns, lengths, stored fields,
segments, TOC) and replaces the term table and posting lists:

``<segment>.gtm`` (terms)
    Keys (``field number (2 bytes) + term bytes``, ascending) in blocks of `TERMS_PER_BLOCK`:
    each block is ``zlib(marshal((keys, infos)))``; then ``zlib(marshal(index))`` with the first
    key, offset and length of every block and the field map; then a trailer
    ``!QQ4s`` = (index offset, index length, ``b"GTM1"``). A lookup bisects the in-memory block
    index and decodes one block.
``<segment>.gps`` (postings)
    Posting lists of more than `INLINE` documents, each ``zlib(typecode + deltas + weights)``:
    docnum gaps as a little-endian array of the smallest type that fits them (``B``, ``H`` or
    ``I``) and one byte of weight (the term frequency, 1-255) per posting.

A term's info is ``(docnums, weights, minlen, maxlen)`` for lists of at most `INLINE` postings
(inlined in the term block) or ``(df, weight, maxweight, minid, maxid, offset, length, minlen,
maxlen)``; lengths are Whoosh's one-byte field-length codes. Readers answer Whoosh's
``TermsReader`` API (term infos, ordered iteration, cursors, ``ListMatcher`` matchers), so
``whoosh.index.open_dir(...).searcher()`` works on these segments, and `GramTermsReader.postings`
gives `search.segments.read_term` (and so a search, `search.reader`) whole posting lists in bulk. Weights are integers (Whoosh's own writer
keeps floats): the fields here have no boosts.
"""

from __future__ import annotations

import marshal
import struct
import sys
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate
from operator import sub
from typing import Any

from whoosh.codec import base
from whoosh.codec.whoosh3 import W3Codec
from whoosh.matching import ListMatcher
from whoosh.reading import TermInfo, TermNotFound
from whoosh.system import pack_ushort, unpack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte

MAGIC = b"GTM1"
TERMS_PER_BLOCK = 64
#: Posting lists of at most this many documents live inside the term table.
INLINE = 16
MAX_WEIGHT = 255
_TRAILER = struct.Struct("!QQ4s")
_BIG_ENDIAN = sys.byteorder == "big"


def length_codes(lengths: Sequence[int]) -> tuple[int, int]:
    """Whoosh's one-byte codes of the smallest non-zero and the largest of a posting list's
    document lengths (0 for none), as a term's info keeps them."""
    nonzero = [n for n in lengths if n]
    if not nonzero:
        return 0, (length_to_byte(max(lengths)) if lengths else 0)
    return length_to_byte(min(nonzero)), length_to_byte(max(lengths))


def _typecode(deltas: Sequence[int]) -> str:
    top = max(deltas)
    return "B" if top < 0x100 else "H" if top < 0x10000 else "I"


def encode_postings(ids: Sequence[int], weights: bytes | bytearray) -> bytes:
    """One posting list as stored in ``.gps`` (ascending docnums, one weight byte each)."""
    deltas = array("I", (ids[0], *map(sub, ids[1:], ids[:-1])))
    code = _typecode(deltas)
    packed = array(code, deltas) if code != "I" else deltas
    if _BIG_ENDIAN and code != "B":
        packed.byteswap()
    return zlib.compress(code.encode("ascii") + packed.tobytes() + bytes(weights), 3)


#: The numpy dtype of each delta typecode (little-endian, as stored).
_NUMPY_DELTAS = {"B": "<u1", "H": "<u2", "I": "<u4"}


def encode_postings_array(ids: Any, weights: bytes) -> bytes:
    """`encode_postings` of a numpy array of ascending docnums (the same bytes)."""
    import numpy as np

    deltas = np.diff(ids, prepend=0)
    top = int(deltas.max())
    code = "B" if top < 0x100 else "H" if top < 0x10000 else "I"
    packed = deltas.astype(_NUMPY_DELTAS[code]).tobytes()
    return zlib.compress(code.encode("ascii") + packed + weights, 3)


def decode_postings_array(blob: bytes) -> tuple[Any, bytes]:
    """`decode_postings` with the docnums as a numpy ``int64`` array (merging)."""
    import numpy as np

    raw = zlib.decompress(blob)
    dtype = np.dtype(_NUMPY_DELTAS[chr(raw[0])])
    count = (len(raw) - 1) // (dtype.itemsize + 1)
    deltas = np.frombuffer(raw, dtype=dtype, count=count, offset=1)
    return np.cumsum(deltas, dtype=np.int64), raw[1 + count * dtype.itemsize:]


def decode_postings(blob: bytes) -> tuple[list[int], bytes]:
    """The inverse of `encode_postings`: (docnums, weight bytes)."""
    raw = zlib.decompress(blob)
    code = chr(raw[0])
    deltas = array(code)
    count = (len(raw) - 1) // (deltas.itemsize + 1)
    deltas.frombytes(raw[1:1 + count * deltas.itemsize])
    if _BIG_ENDIAN and code != "B":
        deltas.byteswap()
    return list(accumulate(deltas)), raw[1 + count * deltas.itemsize:]


class GramCodec(W3Codec):
    """``W3Codec`` with the compact term table and posting lists described above.

    Pickled by path (in every segment of the TOC): do not move or rename."""

    TERMS_EXT = ".gtm"
    POSTS_EXT = ".gps"

    def field_writer(self, storage: Any, segment: Any) -> GramFieldWriter:
        return GramFieldWriter(storage, segment)

    def terms_reader(self, storage: Any, segment: Any) -> GramTermsReader:
        return GramTermsReader(storage, segment)

    def automata(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - unused here
        raise NotImplementedError("GramCodec has no spelling automata")


# -- writing ---------------------------------------------------------------------------------


class GramFieldWriter(base.FieldWriter):
    """Writes the term table and posting lists of one segment.

    Whoosh's generic writer drives it posting by posting (``start_term``/``add``/
    ``finish_term``); `search.segments.SegmentBuilder` hands it whole lists (`write_term`).
    """

    def __init__(self, storage: Any, segment: Any) -> None:
        self._terms = segment.create_file(storage, GramCodec.TERMS_EXT)
        self._posts = segment.create_file(storage, GramCodec.POSTS_EXT)
        self._terms.write(MAGIC)
        self._fieldmap: dict[str, int] = {}
        self._fieldid = 0
        self._lastkey = b""
        self._keys: list[bytes] = []
        self._infos: list[tuple] = []
        self._index: tuple[list[bytes], list[int], list[int]] = ([], [], [])
        self._term: bytes | None = None
        self._ids: list[int] = []
        self._weights = bytearray()
        self._lens: list[int] = []
        self.is_closed = False

    def start_field(self, fieldname: str, fieldobj: Any) -> None:
        if fieldobj.format.fixed_value_size() != 0:
            raise ValueError(f"GramCodec stores no posting values: field {fieldname!r} has "
                             f"format {fieldobj.format!r}")
        self._fieldid = self._fieldmap.setdefault(fieldname, len(self._fieldmap))

    def start_term(self, btext: bytes) -> None:
        self._term = btext
        self._ids, self._weights, self._lens = [], bytearray(), []

    def add(self, docnum: int, weight: float, vbytes: bytes, length: int | None) -> None:
        self._ids.append(docnum)
        self._weights.append(max(1, min(round(weight), MAX_WEIGHT)))
        self._lens.append(length or 0)

    def finish_term(self) -> None:
        assert self._term is not None
        self.write_term(self._term, self._ids, self._weights, self._lens)
        self._term = None

    def finish_field(self) -> None:
        pass

    def write_term(
        self,
        btext: bytes,
        ids: Sequence[int],
        weights: bytes | bytearray,
        lengths: Sequence[int] | None = None,
    ) -> None:
        """Add one term with its whole posting list (ascending docnums; per-posting lengths)."""
        self.write_coded(btext, ids, weights, *length_codes(lengths or ()))

    def write_coded(self, btext: bytes, ids: Any, weights: bytes | bytearray, minlb: int,
                    maxlb: int) -> None:
        """`write_term` with the smallest non-zero and the largest length already coded
        (``length_to_byte``); ``ids`` may be a numpy array (``int64``)."""
        key = pack_ushort(self._fieldid) + btext
        if key <= self._lastkey:
            raise ValueError(f"terms out of order: {self._lastkey!r} .. {key!r}")
        self._lastkey = key
        info: tuple
        if len(ids) <= INLINE:
            info = (tuple(ids.tolist() if hasattr(ids, "tolist") else ids), bytes(weights),
                    minlb, maxlb)
        else:
            offset = self._posts.tell()
            blob = (encode_postings_array(ids, bytes(weights)) if hasattr(ids, "tolist")
                    else encode_postings(ids, weights))
            self._posts.write(blob)
            info = (len(ids), sum(weights), max(weights), int(ids[0]), int(ids[-1]), offset,
                    len(blob), minlb, maxlb)
        self._keys.append(key)
        self._infos.append(info)
        if len(self._keys) >= TERMS_PER_BLOCK:
            self._flush_block()

    def _flush_block(self) -> None:
        if not self._keys:
            return
        blob = zlib.compress(marshal.dumps((self._keys, self._infos)), 3)
        firsts, offsets, lengths = self._index
        firsts.append(self._keys[0])
        offsets.append(self._terms.tell())
        lengths.append(len(blob))
        self._terms.write(blob)
        self._keys, self._infos = [], []

    def close(self) -> None:
        self._flush_block()
        firsts, offsets, lengths = self._index
        blob = zlib.compress(marshal.dumps((firsts, offsets, lengths, self._fieldmap)), 3)
        pos = self._terms.tell()
        self._terms.write(blob)
        self._terms.write(_TRAILER.pack(pos, len(blob), MAGIC))
        self._terms.close()
        self._posts.close()
        self.is_closed = True


# -- reading ---------------------------------------------------------------------------------


def _terminfo(info: tuple) -> TermInfo:
    if len(info) == 4:
        ids, weights, minlb, maxlb = info
        return TermInfo(weight=float(sum(weights)), df=len(ids),
                        minlength=byte_to_length(minlb) if minlb else None,
                        maxlength=byte_to_length(maxlb), maxweight=float(max(weights)),
                        minid=ids[0], maxid=ids[-1])
    df, weight, maxweight, minid, maxid, _off, _len, minlb, maxlb = info
    return TermInfo(weight=float(weight), df=df,
                    minlength=byte_to_length(minlb) if minlb else None,
                    maxlength=byte_to_length(maxlb), maxweight=float(maxweight),
                    minid=minid, maxid=maxid)


class GramTermsReader(base.TermsReader):
    """Reads a segment's ``.gtm``/``.gps`` files (Whoosh's ``TermsReader`` API and bulk)."""

    def __init__(self, storage: Any, segment: Any) -> None:
        self._termfile = storage.open_file(segment.make_filename(GramCodec.TERMS_EXT))
        self._postfile = storage.open_file(segment.make_filename(GramCodec.POSTS_EXT))
        size = storage.file_length(segment.make_filename(GramCodec.TERMS_EXT))
        pos, length, magic = _TRAILER.unpack(self._termfile.get(size - _TRAILER.size,
                                                                _TRAILER.size))
        if magic != MAGIC:
            raise ValueError(f"not a GramCodec term table: {segment.make_filename('.gtm')}")
        firsts, offsets, lengths, fieldmap = marshal.loads(
            zlib.decompress(self._termfile.get(pos, length)))
        self._firsts: list[bytes] = firsts
        self._offsets: list[int] = offsets
        self._lengths: list[int] = lengths
        self._fieldmap: dict[str, int] = fieldmap
        self._fieldunmap = {num: name for name, num in fieldmap.items()}
        self._cache: dict[int, tuple[list[bytes], list[tuple]]] = {}

    # -- blocks --------------------------------------------------------------------------

    def _block(self, number: int) -> tuple[list[bytes], list[tuple]]:
        block = self._cache.get(number)
        if block is None:
            raw = self._termfile.get(self._offsets[number], self._lengths[number])
            block = marshal.loads(zlib.decompress(raw))
            if len(self._cache) >= 256:
                self._cache.clear()
            self._cache[number] = block
        return block

    def _key(self, fieldname: str, tbytes: bytes) -> bytes:
        return pack_ushort(self._fieldmap.get(fieldname, 65535)) + tbytes

    def _decode(self, key: bytes) -> tuple[str, bytes]:
        return self._fieldunmap[unpack_ushort(key[:2])[0]], key[2:]

    def info(self, fieldname: str, tbytes: bytes) -> tuple | None:
        """The raw info tuple of a term, or None."""
        key = self._key(fieldname, tbytes)
        number = bisect_right(self._firsts, key) - 1
        if number < 0:
            return None
        keys, infos = self._block(number)
        i = bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            return infos[i]
        return None

    def _items_from(self, key: bytes) -> Iterator[tuple[bytes, tuple]]:
        number = max(bisect_right(self._firsts, key) - 1, 0)
        first = True
        for n in range(number, len(self._firsts)):
            keys, infos = self._block(n)
            start = bisect_left(keys, key) if first else 0
            first = False
            yield from zip(keys[start:], infos[start:], strict=True)

    # -- bulk ----------------------------------------------------------------------------

    def postings(self, fieldname: str, tbytes: bytes) -> tuple[list[int], bytes]:
        """(segment docnums, weight bytes) of a term; empty when absent (deleted docs included)."""
        info = self.info(fieldname, tbytes)
        return self.postings_of(info) if info is not None else ([], b"")

    def postings_of(self, info: tuple) -> tuple[list[int], bytes]:
        """(segment docnums, weight bytes) of a raw info tuple (`info`)."""
        if len(info) == 4:
            return list(info[0]), info[1]
        return decode_postings(self._postfile.get(info[5], info[6]))

    def postings_array(self, info: tuple) -> tuple[Any, bytes]:
        """`postings_of` a stored (not inlined) list as a numpy ``int64`` array (merging)."""
        return decode_postings_array(self._postfile.get(info[5], info[6]))

    def iter_postings(self) -> Iterator[tuple[str, bytes, list[int], bytes]]:
        """(field, term bytes, docnums, weights) of every term, in order (merging)."""
        for key, info in self._items_from(b""):
            fieldname, tbytes = self._decode(key)
            ids, weights = self.postings_of(info)
            yield fieldname, tbytes, ids, weights

    def field_terms(self, fieldname: str, start: bytes = b"") -> Iterator[tuple[bytes, tuple]]:
        """(term bytes, raw info) of one field from ``start`` on, in order."""
        if fieldname not in self._fieldmap:
            return
        prefix = pack_ushort(self._fieldmap[fieldname])
        for key, info in self._items_from(prefix + start):
            if not key.startswith(prefix):
                return
            yield key[2:], info

    # -- Whoosh's TermsReader API --------------------------------------------------------

    def __contains__(self, term: tuple[str, bytes]) -> bool:
        return self.info(*term) is not None

    def indexed_field_names(self) -> Any:
        return self._fieldmap.keys()

    def terms(self) -> Iterator[tuple[str, bytes]]:
        return (self._decode(key) for key, _info in self._items_from(b""))

    def terms_from(self, fieldname: str, prefix: bytes) -> Iterator[tuple[str, bytes]]:
        return (self._decode(key) for key, _info in self._items_from(self._key(fieldname, prefix)))

    def items(self) -> Iterator[tuple[tuple[str, bytes], TermInfo]]:
        return ((self._decode(k), _terminfo(i)) for k, i in self._items_from(b""))

    def items_from(self, fieldname: str, prefix: bytes) -> Iterator[tuple[tuple[str, bytes], Any]]:
        start = self._key(fieldname, prefix)
        return ((self._decode(k), _terminfo(i)) for k, i in self._items_from(start))

    def term_info(self, fieldname: str, tbytes: bytes) -> TermInfo:
        info = self.info(fieldname, tbytes)
        if info is None:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}")
        return _terminfo(info)

    def frequency(self, fieldname: str, tbytes: bytes) -> float:
        info = self.info(fieldname, tbytes)
        if info is None:
            raise KeyError((fieldname, tbytes))
        return _terminfo(info).weight()

    def doc_frequency(self, fieldname: str, tbytes: bytes) -> int:
        info = self.info(fieldname, tbytes)
        if info is None:
            raise KeyError((fieldname, tbytes))
        return len(info[0]) if len(info) == 4 else info[0]

    def matcher(self, fieldname: str, tbytes: bytes, format_: Any, scorer: Any = None) -> Any:
        info = self.info(fieldname, tbytes)
        if info is None:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}")
        ids, weights = self.postings_of(info)
        return ListMatcher(ids, [float(w) for w in weights], None, format_, scorer=scorer,
                           term=(fieldname, tbytes), terminfo=_terminfo(info))

    def cursor(self, fieldname: str, fieldobj: Any) -> GramFieldCursor:
        return GramFieldCursor(self, fieldname, fieldobj)

    def close(self) -> None:
        self._termfile.close()
        self._postfile.close()


class GramFieldCursor(base.FieldCursor):
    """Walks one field's terms in order (Whoosh's ``FieldCursor`` API)."""

    def __init__(self, reader: GramTermsReader, fieldname: str, fieldobj: Any) -> None:
        self._reader = reader
        self._fieldname = fieldname
        self._fieldobj = fieldobj
        self.first()

    def _start(self, start: bytes) -> str | None:
        self._iter = self._reader.field_terms(self._fieldname, start)
        return self.next()

    def first(self) -> str | None:
        return self._start(b"")

    def find(self, term: Any) -> str | None:
        if not isinstance(term, bytes):
            term = self._fieldobj.to_bytes(term)
        return self._start(term)

    def next(self) -> str | None:
        item = next(self._iter, None)
        if item is None:
            self._text = self._info = None
            return None
        self._text = self._fieldobj.from_bytes(item[0])
        self._info = item[1]
        return self._text

    def text(self) -> str | None:
        return self._text

    def term_info(self) -> TermInfo | None:
        return _terminfo(self._info) if self._info is not None else None

    def is_valid(self) -> bool:
        return self._text is not None

"""Text analysis for the index: character unigrams and bigrams of letter/digit runs.

STABLE IMPORT PATH: Whoosh pickles the schema (its field types, formats and analyzers) into every
index's table of contents, so `GramField`, `TfFormat` and `GramTokenizer` are pickled by path:
do not move or rename them. Changing what they produce changes the index: run `hra reindex`
afterwards.

The indexed form of a field is ``value.lower()`` of the archive's (already normalized) text. It is
cut into *runs* of letters and digits (``str.isalnum``: CJK, Latin, digits, any script);
punctuation, symbols and whitespace separate runs and are not indexed. Each run yields

* its characters (unigrams), so a one-character query is answered from the index alone, and
* its overlapping character pairs (bigrams; Lucene's CJK-bigram recipe, applied to every script),
  so a query string of length >= 2 finds, by intersecting its bigrams' postings, a superset of the
  documents that contain it.

Postings keep only a term frequency (as the posting's weight, capped at 255), no positions. A query that is one
unigram or one bigram is answered exactly by its postings; anything longer is verified against
each candidate's search key (see `search.boolean` and `search.verify`).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterator
from operator import add
from typing import Any

from whoosh.analysis import Token, Tokenizer
from whoosh.fields import FieldType
from whoosh.formats import Format

#: A run of letters and digits (``[^\W_]`` is exactly ``str.isalnum``).
RUN = re.compile(r"[^\W_]+")
#: The largest term frequency a posting stores.
MAX_TF = 255


def runs(text: str) -> list[str]:
    """The letter/digit runs of an already lower-cased string."""
    return RUN.findall(text)


def term_counts(value: str) -> Counter[str]:
    """Unigram and bigram frequencies of a field value (lower-cased here)."""
    parts = RUN.findall(value.lower())
    counts: Counter[str] = Counter()
    for run in parts:
        counts.update(run)
        if len(run) > 1:
            counts.update(map(add, run, run[1:]))
    return counts


#: A gram key (`gram_counts`): the first character's code point << `GRAM_SHIFT`, plus the
#: second's + 1 for a bigram. Keys sort like the terms' UTF-8 bytes (and like the strings).
GRAM_SHIFT = 21
_SECOND = (1 << GRAM_SHIFT) - 1


@functools.cache
def _bmp_alnum() -> Any:
    """``str.isalnum`` of every code point of the Basic Multilingual Plane (a numpy table)."""
    import numpy as np

    return np.array([chr(c).isalnum() for c in range(0x10000)], dtype=bool)


def gram_counts(value: str) -> tuple[Any, Any]:
    """The same terms and frequencies as `term_counts`, computed with numpy: (sorted gram
    keys as ``uint64``, counts as ``int64``). `gram_term` turns a key back into its term."""
    import numpy as np

    points = np.frombuffer(value.lower().encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    alnum = _bmp_alnum()[np.minimum(points, 0xFFFF)]
    astral = np.flatnonzero(points > 0xFFFF)
    if len(astral):
        alnum[astral] = [chr(c).isalnum() for c in points[astral].tolist()]
    wide = points.astype(np.uint64)
    pairs = alnum[:-1] & alnum[1:]
    keys = np.concatenate((
        wide[alnum] << np.uint64(GRAM_SHIFT),
        (wide[:-1][pairs] << np.uint64(GRAM_SHIFT)) | (wide[1:][pairs] + np.uint64(1)),
    ))
    return np.unique(keys, return_counts=True)


def gram_key(term: str) -> int:
    """The `gram_counts` key of a unigram or bigram."""
    key = ord(term[0]) << GRAM_SHIFT
    return key | (ord(term[1]) + 1) if len(term) == 2 else key


def gram_term(key: int) -> str:
    """The term of a `gram_counts` key."""
    second = key & _SECOND
    first = chr(key >> GRAM_SHIFT)
    return first + chr(second - 1) if second else first


def field_length(counts: Counter[str]) -> int:
    """The length Whoosh records for a scorable field: the sum of its term frequencies."""
    return sum(counts.values())


def query_terms(needle: str) -> list[str]:
    """The index terms every document containing ``needle`` (lower-cased) must have.

    One-character runs contribute their unigram, longer runs their distinct bigrams. An empty
    list means the needle has no letters or digits (only verification can answer it).
    """
    terms: list[str] = []
    seen: set[str] = set()
    for run in RUN.findall(needle):
        grams = [run] if len(run) == 1 else list(map(add, run, run[1:]))
        for gram in grams:
            if gram not in seen:
                seen.add(gram)
                terms.append(gram)
    return terms


def is_single_term(needle: str) -> bool:
    """True when ``needle`` is itself one index term, so its postings are its exact matches."""
    return 1 <= len(needle) <= 2 and needle.isalnum()


class GramTokenizer(Tokenizer):
    """A Whoosh tokenizer yielding the same terms as `term_counts` (unigrams, then bigrams).

    The fast indexing path (`GramField.index`) does not use it; it is the field's analyzer so
    Whoosh's generic machinery (``QueryParser``, ``tokenize``, the standard writer) agrees with it.
    Positions are token ordinals; character offsets are exact.
    """

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__

    def __hash__(self) -> int:
        return hash(self.__class__.__name__)

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos = start_pos
        lowered = value.lower()
        for match in RUN.finditer(lowered):
            run, base = match.group(), match.start()
            for width in (1, 2):
                for i in range(len(run) - width + 1):
                    token.text = run[i:i + width]
                    token.boost = 1.0
                    token.stopped = False
                    if keeporiginal:
                        token.original = token.text
                    if positions:
                        token.pos = pos
                        pos += 1
                    if chars:
                        token.startchar = start_char + base + i
                        token.endchar = token.startchar + width
                    yield token


class TfFormat(Format):
    """Frequency-only postings: the weight of a posting is the term frequency (capped at
    `MAX_TF`); there is no value and no position.

    Whoosh's scorers read term frequencies as ``matcher.weight()``; `search.scoring` reads them
    from whole posting lists (`search.reader.GenerationReader.postings`).
    """

    posting_size = 0

    def word_values(self, value: str, analyzer: object, **kwargs: object) -> Iterator[tuple]:
        for term, n in term_counts(value).items():
            yield term, n, float(min(n, MAX_TF)), b""


class GramField(FieldType):
    """A scorable, frequency-only field of character unigrams and bigrams."""

    def __init__(self) -> None:
        super().__init__(TfFormat(), GramTokenizer(), scorable=True, stored=False)

    def index(self, value: str, **kwargs: object) -> list[tuple[bytes, int, float, bytes]]:
        """(term bytes, frequency, weight, value bytes) per distinct term: Whoosh's writer API."""
        return [
            (term.encode("utf-8"), n, float(min(n, MAX_TF)), b"")
            for term, n in term_counts(value).items()
        ]

"""Verification: which candidate documents really contain a term.

The index gives a superset of a term's documents (`search.boolean`); `verify` keeps those whose
title/text (as the term's scope says) contain ``term.needle``, the normalized, lower-cased query
string.

**From the index's key column** (`search.schema.key_value`, memory-mapped by
`search.reader.GenerationReader`): each document's title and text already in the form needles
are compared with (lower-cased, full-width forms folded, `search_key` for ``compat``
documents), UTF-8. A candidate costs one ``mmap.find`` over its key (C, no copy, stops at the
first match; a UTF-8 needle can only match at character boundaries). Reading the same rows from
SQLite (~18 KB each through overflow pages) was 85-96% of slow queries: bench/search.py.

**From the archive** (the fallback, for segments without a key column and needles with a line
break, which the query parser never makes): the rows are read as UTF-8 bytes
(`Store.text_bytes`, one query) and searched with ``bytes.__contains__``.

Width: the archive keeps full-width punctuation (，：（）), the search key (and so the needle) has
ASCII. Documents with full-width forms (flag ``wide``) are verified on `fold_width` of their text
when the needle holds ASCII punctuation (a needle without any cannot match across them);
documents with other compatibility forms (flag ``compat``) on `search_key` of their text.

Case: the archive text is normalized but keeps its capitals. ASCII letters are compared
lower-cased (``bytes.lower`` lower-cases ASCII only); documents with non-ASCII letters that
lower-case (index flag ``ucase``, `search.schema.has_nonascii_case`) are decoded and checked on
``str.lower()`` instead. So the result equals ``needle in text.lower()`` exactly (a space in the
needle also matches a paragraph break).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, cast

from archive.text.normalize import fold_width, search_key

#: ASCII punctuation: the search key's form of full-width punctuation (flag ``wide``).
ASCII_SYMBOLS = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

if TYPE_CHECKING:
    from archive.store import Store, TextFields
    from search.query import Term
    from search.reader import GenerationReader, KeyColumn


def verify(index: GenerationReader, store: Store, term: Term, docs: set[int]) -> set[int]:
    """The documents of ``docs`` whose title/text contain ``term.needle``."""
    if "\n" in term.needle:
        return verify_in_archive(index, store, term, docs)
    found, rest = verify_in_keys(index, term, docs)
    if rest:
        found.update(verify_in_archive(index, store, term, set(rest)))
    return found


def verify_in_keys(index: GenerationReader, term: Term, docs: set[int]) -> tuple[set[int], list[int]]:
    """(matches, documents without a key) of ``docs``, from the key column."""
    needle = term.needle.encode("utf-8")
    ordered = sorted(docs)
    found: list[int] = []
    rest: list[int] = []
    for (leaf, base, _deleted), column in zip(index.leaves, index.keys, strict=True):
        part = ordered[bisect_left(ordered, base):bisect_left(ordered, base + leaf.doc_count_all())]
        if not part:
            continue
        if column is None:
            rest += part
        else:
            found += _scan(column, part, needle, term.scope, rest)
    return set(found), rest


def _scan(column: KeyColumn, docs: list[int], needle: bytes, scope: str,
          missing: list[int]) -> list[int]:
    """The documents (of one segment) whose key holds ``needle`` within the scope; those with
    no key are appended to ``missing``."""
    find, base, bounds = column.data.find, column.base, column.bounds
    if scope == "any" and column.complete:  # the common case, as one comprehension
        return [d for d in docs
                if find(needle, bounds[d - base] + 4, bounds[d - base + 1]) >= 0]
    found: list[int] = []
    for d in docs:
        at, end = bounds[d - base], bounds[d - base + 1]
        if at == end:
            missing.append(d)
            continue
        if scope == "any":
            hit = find(needle, at + 4, end) >= 0
        else:
            title_end = at + 4 + int.from_bytes(column.data[at:at + 4], "little")
            hit = (find(needle, at + 4, title_end) if scope == "title"
                   else find(needle, title_end + 1, end)) >= 0
        if hit:
            found.append(d)
    return found


def verify_in_archive(index: GenerationReader, store: Store, term: Term,
                      docs: set[int]) -> set[int]:
    """The documents of ``docs`` whose archive title/text contain ``term.needle``."""
    ids = index.ids
    slow = index.postings("flags", "ucase")
    if any(c in ASCII_SYMBOLS for c in term.needle):
        slow = slow | index.postings("flags", "wide")
    compat = index.postings("flags", "compat")
    by_id = {ids[d]: d for d in docs if d not in slow and d not in compat}
    found: set[int] = set()
    if by_id:
        found.update(_verify_bytes(store, term, by_id))
    python = [d for d in docs if d in slow and d not in compat]
    if python:
        found.update(_verify_in_python(index, store, term, python, fold_width))
    keyed = [d for d in docs if d in compat]
    if keyed:
        found.update(_verify_in_python(index, store, term, keyed, search_key))
    return found


def _verify_bytes(store: Store, term: Term, by_id: dict[str, int]) -> Iterable[int]:
    needle = term.needle.encode("utf-8")
    lower = any(97 <= c <= 122 for c in needle)
    spaced = b" " in needle
    rows = store.text_bytes(by_id, cast("TextFields", term.scope))
    # With ASCII letters, try the needle as written in lower and upper case first (exact
    # substrings, no copy); only documents matching neither are lower-cased.
    variants = (needle, needle.upper()) if lower else (needle,)

    def contains(value: bytes) -> bool:
        if any(v in value for v in variants):
            return True
        return lower and needle in value.lower()

    for did, title, text in rows:
        if (title and contains(title)) or (text and contains(text.replace(b"\n", b" ") if spaced else text)):
            yield by_id[did]


def _verify_in_python(
    index: GenerationReader, store: Store, term: Term, docs: Sequence[int],
    key: Callable[[str], str],
) -> set[int]:
    """Verification on ``str.lower()``, for documents with non-ASCII letters that
    lower-case (flag ``ucase``), which ``bytes.lower`` would leave as they are."""
    ids = index.ids
    by_id = {ids[d]: d for d in docs}
    found: set[int] = set()
    for did, title, text in store.text_bytes(by_id, cast("TextFields", term.scope)):
        values = (key((title or b"").decode("utf-8")),
                  key((text or b"").decode("utf-8")).replace("\n", " "))
        if any(term.needle in value.lower() for value in values):
            found.add(by_id[did])
    return found

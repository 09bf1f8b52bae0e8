"""The index schema and how an archive row becomes index fields.

STABLE: the schema is pickled into the index; `SCHEMA_VERSION` is recorded beside it and a
mismatch makes `hra search` ask for `hra reindex`. The schema pickle names its field classes by
import path: `Keywords` here and `search.analysis.GramField` (with its format and tokenizer) are
pickled by path: do not move or rename them.

Fields
* ``title``, ``text``: `GramField` (unigram + bigram frequencies of the lower-cased value).
* ``id``: the document id, indexed (one term) and kept in a per-document column (results and
  verification map index documents to archive rows through it).
* ``fingerprint``: an 8-byte BLAKE2b of everything indexed for the document (`hra check` compares
  it with the archive to find stale documents).
* ``key``: the search key of the title and text (what verification compares needles with), a
  per-document column read memory-mapped by `search.verify` (`key_value` gives its layout).
* ``day``: the publication date as a number ``YYYYMMDD`` (0 when unknown), a column for sorting.
* Filters and facets, one or more exact terms each: ``published`` (``YYYY-MM-DD``), ``year``,
  ``region`` (province, city and county, each by full and short name, and their joined full
  names: ``贵州省``/``贵州``/``遵义市``/``遵义``/``贵州省遵义市``/``遵义市红花岗区``), ``province``,
  ``doc_type``, ``site`` (the site name as archived), ``host`` (the URL's host), ``issuer`` (the
  issuing office as archived, `--issuer` matches a part of it), ``duplicate_of``
  and ``flags`` (``truncated``, ``placeholders``, ``mojibake``, ``nonhealth``, ``duplicate``, and
  ``ucase`` when the title or text holds non-ASCII letters that lower-case: verification
  compares bytes lower-cased by ``bytes.lower()``, which lower-cases ASCII only, so
  `search.verify` checks these documents on ``str.lower()`` instead; ``wide`` when they hold
  full-width punctuation (the search key has ASCII there: verification of a needle with ASCII
  punctuation reads `fold_width`); ``compat`` when the search key differs otherwise (NFKC
  compatibility forms): these are indexed and verified on `search_key`).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from whoosh.columns import FixedBytesColumn, NumericColumn, VarBytesColumn
from whoosh.fields import COLUMN, ID, KEYWORD, Schema
from whoosh.formats import Existence

from archive.store import INDEX_COLUMNS
from archive.text.normalize import fold_width, has_wide, search_key
from search.analysis import GramField

#: Bump when the schema or the analysis changes: old indexes then need `hra reindex`.
SCHEMA_VERSION = 5  # 2: stored text keeps full-width punctuation; flags wide, compat; 3: issuer;
#                    4: key (the search keys of title and text, verification reads them);
#                    5: format (html, or an attachment's file format)

#: The archive columns the index reads, in fingerprint order: the rows `Store.index_rows` and
#: `Store.iter_index_rows` return.
ROW_COLUMNS = INDEX_COLUMNS


class Keywords(KEYWORD):
    """Space-separated exact terms, presence only (filters): `search.codec.GramCodec` stores
    weights but no posting values, so every field uses a value-less format.

    Pickled by path (in the index's schema): do not move or rename."""

    def __init__(self) -> None:
        super().__init__(lowercase=False, commas=False, scorable=False)
        self.format = Existence()


def make_schema() -> Schema:
    """The Whoosh schema of the search index."""
    return Schema(
        id=ID(unique=True, sortable=VarBytesColumn()),
        title=GramField(),
        text=GramField(),
        fingerprint=COLUMN(FixedBytesColumn(8)),
        key=COLUMN(VarBytesColumn()),
        day=COLUMN(NumericColumn("i", default=0)),
        published=ID(),
        year=ID(),
        region=Keywords(),
        province=ID(),
        doc_type=ID(),
        site=ID(),
        host=ID(),
        issuer=ID(),
        format=ID(),
        duplicate_of=ID(),
        flags=Keywords(),
    )


def region_terms(row: Mapping[str, Any]) -> list[str]:
    """Every name a ``--region`` filter may use for this document (lower-cased)."""
    from archive.text.region import short_name  # indexing only: searches unpickle this module

    terms: list[str] = []
    names = [row.get(level) for level in ("region_province", "region_city", "region_county")]
    for name in names:
        if name:
            terms += [name, short_name(name)]
    present = [name for name in names if name]
    # "贵州省遵义市" and "遵义市红花岗区" match everything under them, like "遵义市" does.
    for start in range(len(present)):
        for end in range(start + 2, len(present) + 1):
            terms.append("".join(present[start:end]))
    if row.get("region"):
        terms.append(row["region"])
    return list(dict.fromkeys(t.lower() for t in terms if t))


def has_nonascii_case(value: str) -> bool:
    """True if lower-casing changes a non-ASCII character (``bytes.lower()``, which
    verification uses, would not)."""
    if value.isascii():
        return False
    return any(c.lower() != c for c in set(value) if c > "\x7f")


def has_compat(value: str) -> bool:
    """True if the search key of `value` differs from `value` other than by case and by
    full-width ASCII (``①``, ``㈠``, ``℃``, Kangxi radicals...): such documents are indexed
    and verified on `search_key` itself."""
    return not unicodedata.is_normalized("NFKC", fold_width(value))


def fingerprint(row: Mapping[str, Any]) -> bytes:
    """A digest of every archive column the index reads: differs iff the document changed."""
    digest = hashlib.blake2b(digest_size=8)
    for name in ROW_COLUMNS:
        digest.update(repr(row.get(name)).encode("utf-8"))
        digest.update(b"\x00")
    return digest.digest()


def day_number(published: str | None) -> int:
    """``2023-10-08`` -> 20231008; 0 when unknown or malformed."""
    if not published or len(published) < 10:
        return 0
    try:
        return int(published[:4]) * 10000 + int(published[5:7]) * 100 + int(published[8:10])
    except ValueError:
        return 0


def key_value(title: str, text: str, compat: bool) -> bytes:
    """The ``key`` column of a document: what a needle (a search key, lower-cased, no line
    break) is looked for in, as UTF-8 bytes.

    Layout: the title's byte length (4 bytes, little-endian), the title's key, a line break
    (no needle holds one, so no match spans title and text), then the text's key with its
    paragraph breaks as spaces (a space in a needle matches a paragraph break). A key is the
    value lower-cased, with full-width forms folded (`fold_width`: ``，`` -> ``,``, U+3000 ->
    space), or the whole `search_key` for documents with other compatibility forms (flag
    ``compat``): so ``needle in key`` is ``needle in search_key(value)`` exactly, the
    definition of a match.
    """
    if compat:
        tkey, xkey = search_key(title), search_key(text)
    else:
        tkey = fold_width(title).lower() if has_wide(title) else title.lower()
        xkey = fold_width(text).lower() if has_wide(text) else text.lower()
    tbytes = tkey.encode("utf-8")
    return b"".join((len(tbytes).to_bytes(4, "little"), tbytes, b"\n",
                     xkey.replace("\n", " ").encode("utf-8")))


def index_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The Whoosh field values of one archive row (a mapping of `ROW_COLUMNS`)."""
    title = row.get("title") or ""
    text = row.get("text") or ""
    compat = has_compat(title) or has_compat(text)
    flags = [
        name
        for name, on in (
            ("truncated", row.get("truncated")),
            ("placeholders", row.get("placeholders")),
            ("mojibake", row.get("mojibake")),
            ("nonhealth", not row.get("is_health_report", True)),
            ("duplicate", row.get("duplicate_of")),
            ("ucase", has_nonascii_case(title) or has_nonascii_case(text)),
            ("wide", has_wide(title) or has_wide(text)),
            ("compat", compat),
        )
        if on
    ]
    host = (urlsplit(row.get("url") or "").hostname or "").lower()
    regions = region_terms(row)
    fields: dict[str, Any] = {
        "id": row["id"],
        "title": (search_key(title) if compat else title) or None,
        "text": (search_key(text) if compat else text) or None,
        "fingerprint": fingerprint(row),
        "key": key_value(title, text, compat),
        "day": day_number(row.get("published")),
        "published": row.get("published") or None,
        "year": str(row["year"]) if row.get("year") is not None else None,
        "region": " ".join(regions) or None,
        "province": row.get("region_province") or None,
        "doc_type": row.get("doc_type") or None,
        "site": row.get("site") or None,
        "host": host or None,
        "issuer": row.get("issuer") or None,
        "format": row.get("format") or "html",
        "duplicate_of": row.get("duplicate_of") or None,
        "flags": " ".join(flags) or None,
    }
    return {name: value for name, value in fields.items() if value is not None}

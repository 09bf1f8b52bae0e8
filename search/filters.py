"""`Filters` and the documents passing them, from exact terms of the index.

Every filter is a posting list (or a union of a few) of an exact-term field of the index
(`search.schema`): ``year``, ``published`` (a range of ``YYYY-MM-DD`` terms), ``region`` (any name
of the document's province, city or county), ``doc_type``, ``site`` (site name, compared
normalized) or ``host`` (URL host), ``issuer`` (any issuing office whose name contains the
filter's, compared normalized), ``format`` (html, a file format, or any file: ``attachment``)
and the ``flags`` ``truncated`` and ``duplicate``. The result
is the context a query is then matched in (`search.boolean`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from search.reader import GenerationReader


#: ``Filters.file_format`` of any attached file (every format but html).
ATTACHMENT = "attachment"


@dataclass
class Filters:
    """Restrictions applied before the query (all optional)."""

    year: int | None = None
    since: str | None = None  # YYYY-MM-DD, inclusive
    until: str | None = None  # YYYY-MM-DD, inclusive
    region: str | None = None  # province, city or county, full or short name
    doc_type: str | None = None
    site: str | None = None  # site name (case-insensitive) or URL host
    issuer: str | None = None  # a part of the issuing office's name (发布机构/发文机关)
    file_format: str | None = None  # html, pdf, docx, ... (`FILE_FORMATS`), or "attachment"
    complete: bool = False  # not truncated
    canonical: bool = False  # not marked as a duplicate of another document


def filtered(index: GenerationReader, filters: Filters) -> set[int]:
    """The live documents passing the filters."""
    from archive.text.normalize import search_key

    live = index.live()
    restrictions: list[Collection[int]] = []
    if filters.year is not None:
        restrictions.append(index.postings("year", str(filters.year)))
    if filters.since or filters.until:
        restrictions.append(_date_range(index, filters.since, filters.until))
    if filters.region:
        restrictions.append(index.postings("region", search_key(filters.region).strip()))
    if filters.doc_type:
        restrictions.append(index.postings("doc_type", filters.doc_type.strip().lower()))
    if filters.site:
        restrictions.append(_site(index, filters.site))
    if filters.issuer:
        restrictions.append(_issuer(index, filters.issuer))
    attachments_only = filters.file_format == ATTACHMENT
    if filters.file_format and not attachments_only:
        restrictions.append(index.postings("format", filters.file_format))
    if not (restrictions or filters.complete or filters.canonical or attachments_only):
        return live  # shared: the matcher never changes its context
    docs = set(live)
    for allowed in sorted(restrictions, key=len):
        docs.intersection_update(allowed)
    if attachments_only:
        docs.difference_update(index.postings("format", "html"))
    if filters.complete:
        docs.difference_update(index.postings("flags", "truncated"))
    if filters.canonical:
        docs.difference_update(index.postings("flags", "duplicate"))
    return docs


def _date_range(index: GenerationReader, since: str | None, until: str | None) -> set[int]:
    low, high = since or "0000-00-00", until or "9999-99-99"
    docs: set[int] = set()
    for day in index.field_terms("published", low):
        if day > high:
            break
        docs.update(index.postings("published", day))
    return docs


def _site(index: GenerationReader, site: str) -> set[int]:
    from archive.text.normalize import search_key

    wanted = search_key(site).strip()
    docs = set(index.postings("host", wanted))
    for name in index.field_terms("site"):
        if search_key(name) == wanted:
            docs.update(index.postings("site", name))
    return docs


def _issuer(index: GenerationReader, issuer: str) -> set[int]:
    """Documents whose issuer contains `issuer` (compared on search keys: widths, case and
    script do not matter)."""
    from archive.text.normalize import search_key

    wanted = search_key(issuer).strip()
    docs: set[int] = set()
    for name in index.field_terms("issuer"):
        if wanted in search_key(name):
            docs.update(index.postings("issuer", name))
    return docs

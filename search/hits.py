"""What a search returns: `SearchResult` (total, one page of `Hit`, facets) and how a page of
documents becomes hits (records from the archive, snippets, number of reposts).

Data only: the CLI renders hits (`archive.commands.search`); ``to_json`` is the shape of
``hra search --json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from search.snippets import highlight_spans, snippet

if TYPE_CHECKING:
    from archive.store import Store
    from search.reader import GenerationReader


@dataclass
class Hit:
    """One matching document: its record's fields, score, snippet and highlights."""

    id: str
    title: str | None
    url: str
    published: str | None
    year: int | None
    region: str | None
    doc_type: str
    site: str | None
    score: float
    snippet: str
    highlights: list[tuple[int, int]]
    title_highlights: list[tuple[int, int]]
    copies: int = 1  # this document and the archived reposts of it (duplicate_of = its id)
    # The record's flags, so a paywalled fragment never looks like a full report.
    truncated: bool = False
    full_length: int | None = None
    placeholders: bool = False
    mojibake: bool = False
    source_script: str = "simplified"
    is_health_report: bool = True
    duplicate_of: str | None = None
    flags: list[str] = field(default_factory=list)  # in words: `Record.flag_words`
    # Official metadata (信息公开 pages) and what an attachment is and belongs to.
    issuer: str | None = None
    doc_number: str | None = None
    written: str | None = None
    format: str = "html"
    parent: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The hit as ``hra search --json`` prints it."""
        return {
            "id": self.id, "title": self.title, "url": self.url, "published": self.published,
            "year": self.year, "region": self.region, "doc_type": self.doc_type,
            "site": self.site, "score": round(self.score, 4), "snippet": self.snippet,
            "highlights": [list(span) for span in self.highlights], "copies": self.copies,
            "truncated": self.truncated, "full_length": self.full_length,
            "placeholders": self.placeholders, "mojibake": self.mojibake,
            "source_script": self.source_script, "is_health_report": self.is_health_report,
            "duplicate_of": self.duplicate_of, "flags": self.flags, "issuer": self.issuer,
            "doc_number": self.doc_number, "written": self.written, "format": self.format,
            "parent": self.parent,
        }


@dataclass
class SearchResult:
    """One page of a search: the exact total of matches, the page's hits, facets when asked
    for, archive changes the index has not applied (``pending``) and timings."""

    total: int
    hits: list[Hit]
    page: int
    limit: int
    facets: dict[str, dict[str, int]] | None = None
    pending: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def shown_facets(self) -> dict[str, dict[str, int]]:
        """The facets worth showing a reader: those where some match has a value (an archive
        without 信息公开 pages has no issuer; no facet has values when nothing matches).
        ``--json`` keeps them all."""
        return {name: counts for name, counts in (self.facets or {}).items()
                if list(counts) not in ([], ["(none)"])}

    def to_json(self) -> dict[str, Any]:
        """The result as ``hra search --json`` prints it."""
        data: dict[str, Any] = {
            "total": self.total, "page": self.page, "limit": self.limit,
            "hits": [hit.to_json() for hit in self.hits],
        }
        if self.facets is not None:
            data["facets"] = self.facets
        return data


def make_hits(
    index: GenerationReader,
    store: Store,
    docs: Sequence[int],
    scores: dict[int, float],
    needles: list[str],
) -> list[Hit]:
    """The hits of ``docs`` (in that order), highlighting ``needles``; documents the archive
    no longer has are left out."""
    if not docs:
        return []
    ids = [index.ids[d] for d in docs]
    records = store.get_many(ids)
    # Reposts of a hit (documents whose duplicate_of is its id), from the index's duplicate_of
    # terms: one cached posting lookup per hit on the open generation, no archive query.
    reposts = {did: len(index.postings("duplicate_of", did)) for did in ids}
    compat = index.postings("flags", "compat")  # other compatibility forms: NFKC per character
    hits = []
    for d, did in zip(docs, ids, strict=True):
        record = records.get(did)
        if record is None:
            continue
        snip, spans = snippet(record.text or "", needles, compat=d in compat)
        hits.append(Hit(
            id=record.id, title=record.title, url=record.url, published=record.published,
            year=record.year, region=record.region, doc_type=record.doc_type,
            site=record.site, score=scores.get(d, 0.0), snippet=snip, highlights=spans,
            title_highlights=highlight_spans(record.title or "", needles, compat=d in compat),
            copies=1 + reposts.get(did, 0), truncated=record.truncated,
            full_length=record.full_length, placeholders=record.placeholders,
            mojibake=record.mojibake, source_script=record.source_script or "simplified",
            is_health_report=record.is_health_report, duplicate_of=record.duplicate_of,
            flags=record.flag_words(), issuer=record.issuer, doc_number=record.doc_number,
            written=record.written, format=record.format or "html", parent=record.parent,
        ))
    return hits

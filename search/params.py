"""What a search is asked for, checked: dates, filters and the query, shared by every front end
(`hra search`, `hra list`, `hra export`, `hra trend` and the web page of `hra serve`).

Each function takes plain values and either returns what the engine takes (`Filters`, a parsed
query) or raises `HraError` (exit 2) with a message naming the option; the front ends only
convert their own input (click options, URL parameters) into these values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archive.errors import HraError
from archive.text.documents.common import DOCUMENT_FORMATS
from search.filters import ATTACHMENT, Filters

if TYPE_CHECKING:
    from search.query import Node

_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def date_bound(value: str, end: bool) -> str:
    """YYYY, YYYY-MM or YYYY-MM-DD (a real calendar date) -> YYYY-MM-DD: the first day of the
    year or month, or with ``end`` its last day. Raises ValueError with a message."""
    import calendar
    from datetime import date

    m = _DATE.match(value.strip())
    if not m:
        raise ValueError(f"{value!r} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD")
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else None
    day = int(m.group(3)) if m.group(3) else None
    if year < 1:
        raise ValueError(f"{value!r} is not a date: no year 0")
    if month is None:
        return f"{year:04d}-12-31" if end else f"{year:04d}-01-01"
    if not 1 <= month <= 12:
        raise ValueError(f"{value!r} is not a date: there is no month {month}")
    last = calendar.monthrange(year, month)[1]
    if day is None:
        day = last if end else 1
    elif not 1 <= day <= last:
        raise ValueError(f"{value!r} is not a date: {year:04d}-{month:02d} has {last} days")
    return date(year, month, day).isoformat()


@dataclass(frozen=True)
class FilterOptions:
    """The filters every front end offers, as the user gave them (`--year`, `--since`, ...,
    or the web page's parameters; dates already YYYY-MM-DD bounds)."""

    year: int | None = None
    since: str | None = None
    until: str | None = None
    region: str | None = None
    doc_type: str | None = None
    site: str | None = None
    issuer: str | None = None
    file_format: str | None = None
    complete: bool = False
    all_versions: bool = False

    #: (field, option) of the options taking a value, in the order they are described.
    VALUED = (("year", "--year"), ("since", "--since"), ("until", "--until"),
              ("region", "--region"), ("doc_type", "--type"), ("site", "--site"),
              ("issuer", "--issuer"), ("file_format", "--file-format"))

    @property
    def narrowing(self) -> bool:
        """Whether any filter narrows the selection (--all-versions widens it: not a filter)."""
        return self.complete or any(getattr(self, name) not in (None, "")
                                    for name, _option in self.VALUED)

    def describe(self) -> str:
        """The filters as the options that set them (for headers): ``--year 2023 --region 遵义``."""
        parts = [f"{option} {getattr(self, name)}" for name, option in self.VALUED
                 if getattr(self, name) not in (None, "")]
        parts += [flag for flag, on in (("--complete", self.complete),
                                        ("--all-versions", self.all_versions)) if on]
        return " ".join(parts)

    def filters(self) -> Filters:
        """The engine's Filters (HraError, exit 2, naming the option when a value is wrong)."""
        if self.year is not None and (self.since or self.until):
            raise HraError("use either --year or --since/--until", 2)
        if self.since and self.until and self.since > self.until:
            raise HraError(f"--since {self.since} is after --until {self.until}", 2)
        if self.doc_type:
            from archive.text.classify import DOC_TYPES

            if self.doc_type.strip().lower() not in DOC_TYPES:
                raise HraError(f"unknown --type {self.doc_type!r} (one of: "
                               f"{', '.join(DOC_TYPES)})", 2)
        if self.region is not None:
            from archive.text.normalize import search_key
            from search.regions import known_region

            if not known_region(search_key(self.region)):
                raise HraError(f"unknown --region {self.region!r}: not a province, city or county "
                               "of the gazetteer (full or short name: 贵州省, 遵义市, 遵义, 红花岗区)",
                               2)
        file_format = self.file_format.strip().lower() if self.file_format else None
        if file_format and file_format not in FILE_FORMATS:
            raise HraError(f"unknown --file-format {self.file_format!r} (one of: "
                           f"{', '.join(FILE_FORMATS)})", 2)
        return Filters(year=self.year, since=self.since, until=self.until, region=self.region,
                       doc_type=self.doc_type, site=self.site, issuer=self.issuer,
                       file_format=file_format, complete=self.complete,
                       canonical=not self.all_versions)


#: What `--file-format` takes: web pages, each file format an attachment may have, or any file.
FILE_FORMATS = ("html", *DOCUMENT_FORMATS, ATTACHMENT)


def parse_query(text: str) -> Node:
    """A parsed query, or HraError (exit 2) with the parser's message."""
    from search.query import QueryError, parse

    try:
        return parse(text)
    except QueryError as exc:
        raise HraError(f"bad query: {exc}", 2) from exc

"""What a search is asked for, checked: dates, filters and the query, shared by every front end
(`hra search`, `hra list`, `hra export`, `hra trend` and the web page of `hra serve`).

Each function takes plain values and either returns what the engine takes (`Filters`, a parsed
query) or raises `HraError` (exit 2) with a message naming the option; the front ends only
convert their own input (click options, URL parameters) into these values.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from archive.errors import HraError

if TYPE_CHECKING:
    from search.filters import Filters
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


def has_filters(year: int | None, since: str | None, until: str | None, region: str | None,
                doc_type: str | None, site: str | None, issuer: str | None, complete: bool) -> bool:
    """Whether any filter narrows the selection (--all-versions widens it: not a filter)."""
    return any((year is not None, since, until, region, doc_type, site, issuer, complete))


def describe_filters(year: int | None, since: str | None, until: str | None,
                     region: str | None, doc_type: str | None, site: str | None,
                     issuer: str | None, complete: bool, all_versions: bool) -> str:
    """The filters as the options that set them (for headers): ``--year 2023 --region 遵义``."""
    parts = [f"--{name.replace('_', '-').replace('doc-type', 'type')} {value}"
             for name, value in (("year", year), ("since", since), ("until", until),
                                 ("region", region), ("doc_type", doc_type), ("site", site),
                                 ("issuer", issuer))
             if value not in (None, "")]
    parts += [flag for flag, on in (("--complete", complete), ("--all-versions", all_versions))
              if on]
    return " ".join(parts)


def make_filters(year: int | None, since: str | None, until: str | None, region: str | None,
                 doc_type: str | None, site: str | None, issuer: str | None, complete: bool,
                 all_versions: bool) -> Filters:
    """The engine's Filters from the shared options (HraError, exit 2, when wrong)."""
    if year is not None and (since or until):
        raise HraError("use either --year or --since/--until", 2)
    if since and until and since > until:
        raise HraError(f"--since {since} is after --until {until}", 2)
    if doc_type:
        from archive.text.classify import DOC_TYPES

        if doc_type.strip().lower() not in DOC_TYPES:
            raise HraError(f"unknown --type {doc_type!r} (one of: {', '.join(DOC_TYPES)})", 2)
    if region is not None:
        from archive.text.normalize import search_key
        from search.regions import known_region

        if not known_region(search_key(region)):
            raise HraError(f"unknown --region {region!r}: not a province, city or county of "
                           "the gazetteer (full or short name: 贵州省, 遵义市, 遵义, 红花岗区)", 2)
    from search.filters import Filters

    return Filters(year=year, since=since, until=until, region=region, doc_type=doc_type,
                   site=site, issuer=issuer, complete=complete, canonical=not all_versions)


def parse_query(text: str) -> Node:
    """A parsed query, or HraError (exit 2) with the parser's message."""
    from search.query import QueryError, parse

    try:
        return parse(text)
    except QueryError as exc:
        raise HraError(f"bad query: {exc}", 2) from exc

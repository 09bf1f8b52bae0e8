"""Region names a ``--region`` filter accepts, from the archive's gazetteer (no Whoosh here).

The index holds, per document, the full and short name of its province, city and county and
the joined full names of consecutive levels (`search.schema.region_terms`). A filter value is
*known* when it is one of those for some division of the gazetteer
(``archive/text/data/divisions.tsv``, read by `archive.text.region.read_divisions`; short names
by `archive.text.region.short_name`): a full name (``贵州省``, ``遵义市``, ``红花岗区``), a short
name (``贵州``, ``遵义``, ``红花岗``), or full names of nested divisions written one after the
other (``贵州省遵义市``, ``遵义市红花岗区``, ``北京市朝阳区``). Anything else (``火星``, ``遵义省``)
is unknown, and `hra search --region` says so instead of silently finding nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from archive.text.region import read_divisions, short_name

__all__ = ["known_region", "short_name"]


@dataclass(frozen=True)
class _Gazetteer:
    codes: dict[str, tuple[str, ...]]  # full name -> division codes
    parent: dict[str, str]  # code -> parent code ("" for provinces)
    names: frozenset[str]  # every full and short name, lower-cased


@functools.lru_cache(maxsize=1)
def _gazetteer() -> _Gazetteer:
    codes: dict[str, list[str]] = {}
    parent: dict[str, str] = {}
    for row in read_divisions():
        codes.setdefault(row.name, []).append(row.code)
        parent[row.code] = row.parent
    names = set(codes)
    names.update(short_name(name) for name in codes)
    return _Gazetteer({k: tuple(v) for k, v in codes.items()}, parent,
                      frozenset(n.lower() for n in names))


def _under(code: str, ancestor: str, parent: dict[str, str]) -> bool:
    """True if division ``code`` lies (directly or not) under ``ancestor``."""
    seen = 0
    while code and seen < 4:
        code = parent.get(code, "")
        if code == ancestor:
            return True
        seen += 1
    return False


def _chain(value: str, gaz: _Gazetteer, above: tuple[str, ...] | None) -> bool:
    """``value`` is full names of nested divisions, each under the one before (``above``)."""
    if not value:
        return above is not None
    for end in range(len(value), 1, -1):
        codes = gaz.codes.get(value[:end])
        if not codes:
            continue
        fits = codes if above is None else tuple(
            c for c in codes if any(_under(c, a, gaz.parent) for a in above))
        if fits and (_chain(value[end:], gaz, fits) if end < len(value) else above is not None):
            return True
    return False


def known_region(value: str) -> bool:
    """Whether a ``--region`` value (already normalized: simplified, lower-case) names a
    division of the gazetteer the way the index stores it."""
    value = value.strip()
    if not value:
        return False
    gaz = _gazetteer()
    return value in gaz.names or _chain(value, gaz, None)

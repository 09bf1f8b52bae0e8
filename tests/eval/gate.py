"""The evaluation gate: every score measured, compared with `tests/eval/baseline.json`.

Metrics (all in [0, 1], higher is better):

* ``snippet_recall`` / ``snippet_precision`` over the eval fixtures (``tests/eval/cases``):
  must-snippets found / must-snippets; 1 - must-not snippets found / must-not snippets;
* ``meta.<field>``: accuracy of each metadata field the fixtures state (the official ones,
  ``issuer``/``doc_number``/``written``, are null on pages without them: a false one counts);
* ``tables``: share of article fixtures whose data tables come out exactly as stated (each
  table's rows of cell texts, in order; none where the page has only layout tables);
* ``real_pages.f1_mean`` / ``real_pages.f1_min``: F1 of character bigrams of our main text
  against the gold text of the real pages of the shared corpus (``../shared/corpus/real-pages``);
* ``real_pages.trafilatura_f1_mean``: trafilatura's mean on the same pages. A reference, not
  ours: it is recorded and shown, never gated below its baseline; instead our mean must not be
  lower than it.

The baseline also holds a sha256 digest of the fixture files (pages + cases) and of the real-page
files used, so a changed fixture cannot move a score without the baseline being rewritten, and a
history of its changes with their reasons.

    python -m tests.eval.gate            # print the table; exit 1 when the gate fails
    python -m tests.eval.gate --update   # rewrite the baseline (refuses to lower a score)
    python -m tests.eval.gate --update --allow-lower --reason "why"
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVAL = Path(__file__).resolve().parent
ROOT = EVAL.parent.parent
BASELINE = EVAL / "baseline.json"
#: A measured score may be this much below its baseline before the gate fails (float noise,
#: a library's tie-breaking); lowering the baseline itself always needs a reason.
EPSILON = 0.002
#: Recorded and shown but never gated below their baseline (not our scores).
REFERENCE = frozenset({"real_pages.trafilatura_f1_mean"})
REAL_PREFIX = "real_pages."
META_FIELDS = (
    "title", "published", "year", "doc_type", "region", "is_health_report", "truncated",
    "full_length", "placeholders", "source_script", "site", "issuer", "doc_number", "written",
)
UPDATE_HINT = "run `python -m tests.eval.gate --update`"


def shared_corpus() -> Path:
    """Where the shared corpus is expected (as tests/conftest.py: HRA_SHARED or ../shared)."""
    return Path(os.environ.get("HRA_SHARED", ROOT.parent / "shared")) / "corpus"


def corpus_present(corpus: Path) -> bool:
    return corpus.is_dir() and any(corpus.iterdir())


# --------------------------------------------------------------------------- digests


def file_digests(base: Path, paths: Iterable[Path]) -> dict[str, str]:
    return {p.relative_to(base).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(paths)}


def combined_digest(files: dict[str, str]) -> str:
    lines = "".join(f"{name} {digest}\n" for name, digest in sorted(files.items()))
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()


def fixture_files() -> dict[str, str]:
    """sha256 of every eval page and case file (the pages and their expectations)."""
    paths = [*(EVAL / "cases").glob("*.json"), *(p for p in (EVAL / "pages").iterdir() if p.is_file())]
    return file_digests(EVAL, paths)


def gold_pages(corpus: Path) -> list[Path]:
    return sorted((corpus / "real-pages").glob("*.gold.txt"))


def real_page_files(corpus: Path) -> dict[str, str]:
    """sha256 of the real pages scored: each gold text and its HTML."""
    paths = []
    for gold in gold_pages(corpus):
        paths += [gold, gold.with_name(gold.name.replace(".gold.txt", ".html"))]
    return file_digests(corpus / "real-pages", paths)


def digest_entry(files: dict[str, str]) -> dict[str, Any]:
    return {"digest": combined_digest(files), "files": files}


def changed_files(old: dict[str, str], new: dict[str, str]) -> list[str]:
    return sorted(
        [f"+{n}" for n in new.keys() - old.keys()] + [f"-{n}" for n in old.keys() - new.keys()]
        + [f"~{n}" for n in old.keys() & new.keys() if old[n] != new[n]]
    )


# --------------------------------------------------------------------------- measuring


@dataclass
class Measurement:
    metrics: dict[str, float] = field(default_factory=dict)
    counts: dict[str, str] = field(default_factory=dict)  # "right/total" per metric
    misses: dict[str, list[str]] = field(default_factory=dict)
    digests: dict[str, dict[str, Any]] = field(default_factory=dict)  # "fixtures", "real_pages"
    skipped: str | None = None  # why the real-page metrics were not measured

    def add(self, name: str, right: float, total: int, misses: list[str] | None = None) -> None:
        self.metrics[name] = round(right / total, 6)
        self.counts[name] = f"{right:g}/{total}" if float(right).is_integer() else f"{total} pages"
        if misses:
            self.misses[name] = misses


def load_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted((EVAL / "cases").glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        case["name"] = path.stem
        cases.append(case)
    return cases


def run_cases(cases: list[dict[str, Any]]) -> dict[str, Any]:
    from archive.page_processing import process_page

    return {
        case["name"]: process_page((EVAL / "pages" / case["file"]).read_bytes(), case["url"],
                                   http_charset=case.get("http_charset"))
        for case in cases
    }


def _snippets(m: Measurement, cases: list[dict[str, Any]], results: dict[str, Any]) -> None:
    from archive.text.normalize import normalize_line

    found = total = leaked = total_not = 0
    missing: list[str] = []
    leaks: list[str] = []
    for case in cases:
        if case.get("page_kind") == "list":
            continue
        record = results[case["name"]].record
        text = record.text if record else ""
        for snippet in case["must"]:
            total += 1
            if normalize_line(snippet) in text:
                found += 1
            else:
                missing.append(f"{case['name']}: missing {snippet!r}")
        for snippet in case["must_not"]:
            total_not += 1
            if normalize_line(snippet) in text:
                leaked += 1
                leaks.append(f"{case['name']}: leaked {snippet!r}")
    m.add("snippet_recall", found, total, missing)
    m.add("snippet_precision", total_not - leaked, total_not, leaks)


def _field(m: Measurement, name: str, cases: list[dict[str, Any]], results: dict[str, Any]) -> None:
    right = total = 0
    wrong: list[str] = []
    for case in cases:
        if name not in case["meta"]:
            continue
        result = results[case["name"]]
        if name == "is_health_report":
            got: Any = result.kind == "report"
        elif result.record is None:
            continue  # list and refused pages: covered by is_health_report
        else:
            got = getattr(result.record, name)
        total += 1
        if got == case["meta"][name]:
            right += 1
        else:
            wrong.append(f"{case['name']}: {name} expected {case['meta'][name]!r}, got {got!r}")
    if total:
        m.add(f"meta.{name}", right, total, wrong)


def _tables(m: Measurement, cases: list[dict[str, Any]], results: dict[str, Any]) -> None:
    right = total = 0
    wrong: list[str] = []
    for case in cases:
        record = results[case["name"]].record
        if "tables" not in case or record is None:
            continue
        got = [b["rows"] for b in record.blocks or () if b["type"] == "table"]
        total += 1
        if got == case["tables"]:
            right += 1
        else:
            wrong.append(f"{case['name']}: tables expected {case['tables']!r}, got {got!r}")
    if total:
        m.add("tables", right, total, wrong)


def measure_fixtures(m: Measurement) -> None:
    cases = load_cases()
    results = run_cases(cases)
    _snippets(m, cases, results)
    _tables(m, cases, results)
    for name in META_FIELDS:
        _field(m, name, cases, results)
    m.digests["fixtures"] = digest_entry(fixture_files())


def bigrams(text: str) -> Counter[str]:
    from archive.text.normalize import normalize_text

    text = re.sub(r"\s+", "", normalize_text(text))
    return Counter(text[i : i + 2] for i in range(len(text) - 1))


def f1(got: str, gold: str) -> float:
    a, b = bigrams(got), bigrams(gold)
    inter = sum((a & b).values())
    if not inter:
        return 0.0
    p, r = inter / sum(a.values()), inter / sum(b.values())
    return 2 * p * r / (p + r)


def score_real_page(gold: Path) -> tuple[float, float]:
    """(our F1, trafilatura's F1) of one real page against its gold text, decoded alike."""
    import trafilatura

    from archive.text.decode import decode_html
    from archive.text.extract import extract
    from archive.text.normalize import normalize_markup

    decoded = decode_html(gold.with_name(gold.name.replace(".gold.txt", ".html")).read_bytes())
    ours = "\n".join(extract(normalize_markup(decoded.text), "http://example.com/a.html").paragraphs)
    theirs = trafilatura.extract(decoded.text) or ""
    expected = gold.read_text(encoding="utf-8")
    return f1(ours, expected), f1(theirs, expected)


def measure_real_pages(m: Measurement, corpus: Path) -> None:
    golds = gold_pages(corpus)
    if not golds:
        m.skipped = f"no *.gold.txt pages in {corpus / 'real-pages'}"
        return
    scores = {g.name.removesuffix(".gold.txt"): score_real_page(g) for g in golds}
    ours = [s[0] for s in scores.values()]
    theirs = [s[1] for s in scores.values()]
    below = [f"{n}: ours {o:.3f} < trafilatura {t:.3f}" for n, (o, t) in scores.items() if o < t]
    m.add(f"{REAL_PREFIX}f1_mean", sum(ours), len(ours), below)
    m.add(f"{REAL_PREFIX}f1_min", min(ours), 1)
    m.counts[f"{REAL_PREFIX}f1_min"] = min(scores, key=lambda n: scores[n][0])
    m.add(f"{REAL_PREFIX}trafilatura_f1_mean", sum(theirs), len(theirs))
    m.digests["real_pages"] = digest_entry(real_page_files(corpus))


def measure(corpus: Path | None = None) -> Measurement:
    """Every metric; the real-page ones only when the shared corpus is present."""
    m = Measurement()
    measure_fixtures(m)
    corpus = shared_corpus() if corpus is None else corpus
    if corpus_present(corpus):
        measure_real_pages(m, corpus)
    else:
        m.skipped = (f"shared corpus not found at {corpus} "
                     "(clone ../shared beside the checkout or set HRA_SHARED)")
    return m


# --------------------------------------------------------------------------- checking


def scope_of(metric: str) -> str:
    return "real_pages" if metric.startswith(REAL_PREFIX) else "fixtures"


def load_baseline(path: Path = BASELINE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def check(baseline: dict[str, Any], m: Measurement, scope: str,
          epsilon: float = EPSILON) -> list[str]:
    """Why the gate fails for one scope ("fixtures" or "real_pages"); empty when it passes."""
    problems = []
    old, new = baseline.get("digests", {}).get(scope), m.digests.get(scope)
    if new is not None and (old is None or old["digest"] != new["digest"]):
        files = changed_files(old["files"] if old else {}, new["files"])
        problems.append(f"{scope.replace('_', '-')} files changed ({', '.join(files)}): "
                        f"{UPDATE_HINT}")
    for name, base in sorted(baseline.get("metrics", {}).items()):
        if scope_of(name) != scope or name in REFERENCE:
            continue
        got = m.metrics.get(name)
        if got is None:
            problems.append(f"{name}: in the baseline but not measured")
        elif got < base - epsilon:
            problems.append(f"{name}: {got:.4f} < baseline {base:.4f} - {epsilon}")
    for name in sorted(m.metrics.keys() - baseline.get("metrics", {}).keys()):
        if scope_of(name) == scope:
            problems.append(f"{name}: measured but not in the baseline: {UPDATE_HINT}")
    ours, theirs = (m.metrics.get(f"{REAL_PREFIX}{k}") for k in ("f1_mean", "trafilatura_f1_mean"))
    if scope == "real_pages" and ours is not None and theirs is not None and ours < theirs:
        problems.append(f"{REAL_PREFIX}f1_mean {ours:.4f} < trafilatura {theirs:.4f}")
    return problems


def table(baseline: dict[str, Any], m: Measurement, epsilon: float = EPSILON) -> str:
    base = baseline.get("metrics", {})
    names = sorted(base.keys() | m.metrics.keys(), key=lambda n: (scope_of(n), n))
    width = max(len(n) for n in names)
    rows = [f"{'metric':<{width}}  baseline  measured     delta  {'count':<22}  status",
            "-" * (width + 64)]
    for name in names:
        got, was = m.metrics.get(name), base.get(name)
        if got is None:
            status = "skipped" if scope_of(name) == "real_pages" and m.skipped else "MISSING"
        elif was is None:
            status = "NEW"
        elif name in REFERENCE:
            status = "reference"
        else:
            status = "FAIL" if got < was - epsilon else ("up" if got > was + 1e-9 else "ok")
        rows.append(
            f"{name:<{width}}  {_num(was):>8}  {_num(got):>8}  "
            f"{_num(None if got is None or was is None else got - was, sign=True):>8}  "
            f"{m.counts.get(name, ''):<22}  {status}")
    if m.skipped:
        rows.append(f"real-page metrics skipped: {m.skipped}")
    for name, misses in sorted(m.misses.items()):
        rows += [f"  {name}: {miss}" for miss in misses]
    return "\n".join(rows)


def _num(x: float | None, sign: bool = False) -> str:
    return "-" if x is None else (f"{x:+.4f}" if sign else f"{x:.4f}")


# --------------------------------------------------------------------------- updating


class RefusedError(Exception):
    """The update would lower scores without --allow-lower and a reason (one line per metric)."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def update(baseline: dict[str, Any] | None, m: Measurement, *, allow_lower: bool = False,
           reason: str | None = None, today: str | None = None) -> dict[str, Any]:
    """The new baseline for a measurement.

    Raising a score, adding one or changing a digest is always allowed; lowering (or dropping)
    a gated score raises RefusedError unless ``allow_lower`` with a ``reason``, which goes into
    the history. Real-page entries are kept as they were when they were not measured.
    """
    if allow_lower and not (reason and reason.strip()):
        raise ValueError("--allow-lower needs a --reason (it is recorded in the history)")
    old = baseline or {}
    old_metrics: dict[str, float] = old.get("metrics", {})
    metrics = dict(m.metrics)
    digests = dict(m.digests)
    if m.skipped:  # not measured: keep what the baseline had
        metrics.update({k: v for k, v in old_metrics.items() if scope_of(k) == "real_pages"})
        if "real_pages" in old.get("digests", {}):
            digests["real_pages"] = old["digests"]["real_pages"]
    lowered = [
        f"{name}: {was:.4f} -> {'(not measured)' if name not in metrics else f'{metrics[name]:.4f}'}"
        for name, was in sorted(old_metrics.items())
        if name not in REFERENCE and (name not in metrics or metrics[name] < was - 1e-9)
    ]
    if lowered and not allow_lower:
        raise RefusedError([f"refused to lower {line}" for line in lowered])
    changes = {name: [old_metrics.get(name), metrics.get(name)]
               for name in sorted(old_metrics.keys() | metrics.keys())
               if old_metrics.get(name) != metrics.get(name)}
    changed_digests = sorted(k for k in digests.keys() | old.get("digests", {}).keys()
                             if digests.get(k, {}).get("digest")
                             != old.get("digests", {}).get(k, {}).get("digest"))
    history = list(old.get("history", []))
    if changes or changed_digests or reason:
        entry: dict[str, Any] = {"date": today or dt.date.today().isoformat(), "changes": changes}
        if changed_digests:
            entry["digests_changed"] = changed_digests
        if lowered:
            entry["lowered"] = [line.split(":")[0] for line in lowered]
        if reason:
            entry["reason"] = reason.strip()
        history.append(entry)
    return {
        "about": "Measured by tests/eval/gate.py; rewrite with `python -m tests.eval.gate "
                 "--update` (see README, Development). Never edit by hand.",
        "epsilon": EPSILON,
        "metrics": dict(sorted(metrics.items(), key=lambda kv: (scope_of(kv[0]), kv[0]))),
        "digests": digests,
        "history": history,
    }


def write_baseline(baseline: dict[str, Any], path: Path = BASELINE) -> None:
    path.write_text(json.dumps(baseline, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None, path: Path = BASELINE, corpus: Path | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.eval.gate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="rewrite the baseline")
    parser.add_argument("--allow-lower", action="store_true",
                        help="let --update lower scores (needs --reason)")
    parser.add_argument("--reason", help="why; recorded in the baseline's history")
    args = parser.parse_args(argv)
    if args.allow_lower and not (args.reason and args.reason.strip()):
        parser.error("--allow-lower needs --reason")
    if (args.allow_lower or args.reason) and not args.update:
        parser.error("--allow-lower and --reason go with --update")
    baseline = load_baseline(path) if path.exists() else None
    m = measure(corpus)
    print(table(baseline or {}, m))
    if not args.update:
        if baseline is None:
            print(f"no baseline at {path}: {UPDATE_HINT}")
            return 1
        problems = check(baseline, m, "fixtures") + (check(baseline, m, "real_pages")
                                                      if not m.skipped else [])
        print("\n".join(problems) if problems else "gate passed")
        return 1 if problems else 0
    try:
        new = update(baseline, m, allow_lower=args.allow_lower, reason=args.reason)
    except RefusedError as exc:
        print("\n".join(exc.lines), file=sys.stderr)
        print("(pass --allow-lower --reason \"...\" to record why)", file=sys.stderr)
        return 1
    write_baseline(new, path)
    print(f"baseline written to {path}" + (f" (real-page entries kept: {m.skipped})"
                                           if m.skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

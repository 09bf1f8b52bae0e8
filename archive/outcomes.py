"""What happened to each page, tallied the same way by imports, reprocessing and crawls.

An outcome is "new", "changed", "unchanged", "failed" or "skipped:<reason>" (an import: list,
off-topic, empty; a crawl also archived, robots, offsite, challenge, non-html, budget,
duplicate). `OutcomeTally` counts them into the run's `RunCounts` and the skipped ones by
reason; `archive.importer.ImportSummary` and `crawler.progress.Tally` build on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archive.store import RunCounts

SKIPPED = "skipped:"
_COUNTED = ("new", "changed", "unchanged", "failed")


def skip_reason(outcome: str) -> str | None:
    """The reason of a "skipped:<reason>" outcome, else None."""
    return outcome[len(SKIPPED):] if outcome.startswith(SKIPPED) else None


@dataclass
class OutcomeTally:
    """Counts by outcome (`counts`) and skipped pages by reason (`skipped`)."""

    counts: RunCounts = field(default_factory=RunCounts)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> n

    def count(self, outcome: str) -> bool:
        """Count one outcome (not the page itself: callers count `counts.pages`). False for an
        outcome that is none of the known ones: it is counted as failed, never lost."""
        reason = skip_reason(outcome)
        if reason is not None:
            self.skipped[reason] = self.skipped.get(reason, 0) + 1
            self.counts.skipped += 1
            return True
        if outcome in _COUNTED:
            self.counts.add(outcome)
            return True
        self.counts.failed += 1
        return False

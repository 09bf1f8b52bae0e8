"""`check`: how the index and the archive disagree (missing, extra, stale, duplicated)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from archive.store import Store
from search.index_files import open_current
from search.schema import fingerprint
from search.segments import column_values


@dataclass
class CheckReport:
    """How the index and the archive disagree (empty lists when they agree)."""

    path: Path
    archive_documents: int
    index_documents: int
    pending_changes: int
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the index and the archive agree."""
        return not (self.missing or self.extra or self.stale or self.duplicated)


def check(store: Store) -> CheckReport:
    """Compare every archive document with the index (ids and content fingerprints)."""
    path, ix, state = open_current(store.data_dir)
    indexed: dict[str, bytes] = {}
    duplicated: list[str] = []
    with ix.reader() as reader:
        for leaf, _base in reader.leaf_readers():
            ids = column_values(leaf, "id")
            prints = column_values(leaf, "fingerprint")
            for docnum, did in enumerate(ids):
                if leaf.is_deleted(docnum):
                    continue
                if did in indexed:
                    duplicated.append(did)
                indexed[did] = prints[docnum]
    report = CheckReport(
        path=path, archive_documents=0, index_documents=len(indexed) + len(duplicated),
        pending_changes=max(store.last_change() - int(state.get("seq") or 0), 0),
        duplicated=duplicated,
    )
    seen: set[str] = set()
    for row in store.iter_index_rows():
        did = row["id"]
        seen.add(did)
        report.archive_documents += 1
        if did not in indexed:
            report.missing.append(did)
        elif indexed[did] != fingerprint(row):
            report.stale.append(did)
    report.extra = sorted(set(indexed) - seen)
    report.missing.sort()
    report.stale.sort()
    return report

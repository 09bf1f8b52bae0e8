"""Helpers shared by the search tests (test_search.py, test_search_index.py, test_cli_usage.py):
archives built through `Store` and `Record`, ground truth, `hra` as a real process. Not a test
module (test_search.py checks the helpers themselves)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from archive.record import Record
from archive.store import Store
from archive.text.normalize import normalize_text, search_key
from archive.urls import doc_id
from tests.conftest import ROOT


def record(number: int | str, title: str, text: str, **fields: Any) -> Record:
    """A record as the pipeline makes it (title and text normalized)."""
    url = fields.pop("url", f"http://reports.example/{number}.html")
    defaults: dict[str, Any] = {
        "published": "2023-10-08", "year": 2023, "site": "滨江市卫生健康委员会",
        "column": "工作总结", "region": None, "doc_type": "summary",
    }
    defaults.update(fields)
    return Record(id=doc_id(url), url=url, title=normalize_text(title) if title else None,
                  text=normalize_text(text), **defaults)


def archive(data_dir: Path, records: Iterable[Record]) -> list[Record]:
    """Put the records into the archive at data_dir (one transaction)."""
    records = list(records)
    with Store(data_dir) as store, store.transaction():
        for rec in records:
            store.put_document(rec)
    return records


def update(data_dir: Path, **kwargs: Any) -> int:
    from search.index import update_index

    with Store(data_dir) as store:
        return update_index(store, **kwargs)


def search(data_dir: Path, query: str, filters: Any = None, **kwargs: Any) -> Any:
    from search.engine import Searcher

    with Store(data_dir, readonly=True) as store, Searcher(data_dir, store) as searcher:
        return searcher.search(query, filters, **kwargs)


def found(data_dir: Path, query: str, filters: Any = None, **kwargs: Any) -> set[str]:
    kwargs.setdefault("limit", 1000)
    result = search(data_dir, query, filters, **kwargs)
    ids = {hit.id for hit in result.hits}
    assert result.total == len(ids), "the total must equal the number of matches"
    return ids


def containing(records: Iterable[Record], query: str) -> set[str]:
    """Ground truth: documents whose title's or text's search key (NFKC, t2s, lower case)
    contains the query's (stored text keeps full-width punctuation; a space in
    the query, from any whitespace, matches a space or a paragraph break)."""
    needle = search_key(" ".join(query.split()))
    return {
        r.id for r in records
        if needle in search_key(r.title or "")
        or needle in search_key(r.text).replace("\n", " ")
    }


def hra(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`hra` as a user runs it (a real process)."""
    env = {k: v for k, v in os.environ.items() if k != "HRA_DATA_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "archive", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )

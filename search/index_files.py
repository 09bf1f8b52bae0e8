"""The index's files: where the index lives, its state, its errors, and how it is opened.

Layout (``<data_dir>/index/``)::

    CURRENT              name of the live index directory (replaced atomically by a rebuild)
    gen-<stamp>-<pid>/   a Whoosh index (``_MAIN_<n>.toc``, segment files in `search.codec`'s
                         format, ``MAIN_WRITELOCK``)
        state.json       {"seq": last archive change applied, "schema": SCHEMA_VERSION}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

INDEX_DIR = "index"
POINTER = "CURRENT"
INDEXNAME = "MAIN"
STATE = "state.json"


class SearchIndexError(RuntimeError):
    """The index cannot be used or written; the message is one line for the user."""


class IndexMissing(SearchIndexError):
    """There is no index yet (or it was built for another schema)."""


class IndexBusy(SearchIndexError):
    """Another process holds the index's write lock."""


def index_root(data_dir: Path) -> Path:
    """``<data_dir>/index``: the directory holding ``CURRENT`` and the index generations."""
    return Path(data_dir) / INDEX_DIR


def current_path(data_dir: Path) -> Path | None:
    """The live index directory, or None when there is none."""
    root = index_root(data_dir)
    try:
        name = (root / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    path = root / name
    return path if name and path.is_dir() else None


def read_state(path: Path) -> dict[str, Any]:
    """The ``state.json`` of an index directory (seq 0, no schema when there is none)."""
    try:
        return json.loads((path / STATE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {"seq": 0, "schema": None}


def write_state(path: Path, **state: Any) -> None:
    """Replace the ``state.json`` of an index directory atomically."""
    tmp = path / f"{STATE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, path / STATE)


def open_index(path: Path) -> Any:
    """The Whoosh ``FileIndex`` in an index directory."""
    from whoosh.filedb.filestore import FileStorage
    from whoosh.index import FileIndex

    return FileIndex(FileStorage(str(path)), indexname=INDEXNAME)


def open_current(data_dir: Path) -> tuple[Path, Any, dict[str, Any]]:
    """(directory, FileIndex, state) of the live index; `IndexMissing` says how to build one."""
    from search.schema import SCHEMA_VERSION

    # A rebuild may switch CURRENT and retire the old directory between our reading the pointer
    # and its state: read again while the pointer moves (a missing index does not move).
    path = current_path(data_dir)
    for _ in range(20):
        state = read_state(path) if path is not None else {}
        again = current_path(data_dir)
        if again == path and (path is None or path.is_dir()):
            break
        path = again
    if path is None:
        raise IndexMissing(
            f"no search index in {index_root(data_dir)}: build it with `hra reindex`"
        )
    if state.get("schema") != SCHEMA_VERSION:
        raise IndexMissing(
            "the search index was built by another version of hra: rebuild it with `hra reindex`"
        )
    return path, open_index(path), state


def directory_size(path: Path) -> int:
    """Bytes of all files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


"""Exporting documents. JSONL: one record (the public shape) per line, streamed.

Files are written to a temporary name beside the target and renamed at the end, so an
interrupted export never leaves a half-written file.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from archive.record import Record


class ExportError(RuntimeError):
    """A one-line reason the export could not be written."""


def write_jsonl(records: Iterable[Record], output: str | os.PathLike[str] | None,
                *, force: bool = False) -> int:
    """Write records as JSON lines to `output` (atomically) or to stdout. Returns the count."""
    if output is None:
        n = 0
        for record in records:
            sys.stdout.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
            n += 1
        sys.stdout.flush()
        return n
    target = Path(output)
    if target.is_dir():
        raise ExportError(f"{target} is a directory; give a file name")
    if target.exists() and not force:
        raise ExportError(f"{target} exists; use --force to overwrite")
    if not target.parent.exists():
        raise ExportError(f"directory {target.parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise ExportError(f"cannot write in {target.parent}: {exc.strerror}") from exc
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
                n += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n

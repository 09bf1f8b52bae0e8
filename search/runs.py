"""Sorted runs of packed postings: spilled to disk while a segment is built, merged back in
order when the segment is written.

A rebuild worker cannot hold a whole segment's postings in memory (16,384 documents of ~3,300
distinct grams each are ~54 million `search.segments._packed` postings, 430 MB), and writing a
small segment every few thousand documents instead leaves a 100,000-document index in ~56
segments, each of which every gram of every query is looked up in. So `SegmentBuilder.spill`
sorts the postings buffered so far and writes them to an anonymous temporary file (a `Run`), and
`merge_runs` reads the runs back a slice at a time, in key order, for the segment's writer: the
memory of a segment's build is its buffer plus one slice per run, whatever the segment's size.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

#: Postings read from all the runs at a time (8 bytes each), shared out among them.
STEP = 1 << 20


class Source(Protocol):
    def read(self, count: int) -> Any:
        """The next ``count`` postings (fewer at the end, an empty array when exhausted)."""


class Run:
    """Ascending ``uint64`` postings in an unlinked temporary file (gone when closed, and when
    the process dies)."""

    def __init__(self, packed: Any, folder: Path | str | None = None) -> None:
        self._file = tempfile.TemporaryFile(dir=folder, prefix="hra-run-")  # noqa: SIM115 (closed by `close`)
        packed.tofile(self._file)
        self._file.seek(0)
        self.size = len(packed)

    def read(self, count: int) -> Any:
        import numpy as np

        return np.fromfile(self._file, dtype=np.uint64, count=count)

    def close(self) -> None:
        self._file.close()


class InMemory:
    """An ascending array read like a `Run`."""

    def __init__(self, packed: Any) -> None:
        self._packed = packed
        self._at = 0

    def read(self, count: int) -> Any:
        part = self._packed[self._at:self._at + count]
        self._at += len(part)
        return part


def merge_runs(sources: Sequence[Source], shift: int, step: int | None = None) -> Iterator[Any]:
    """Every posting of the sources (each ascending), in ascending order, as arrays that hold
    all the postings of the keys in them (key: a posting ``>> shift``); ``step`` postings are
    read from a source at a time (`STEP` shared out among the sources)."""
    import numpy as np

    step = step or max(STEP // max(len(sources), 1), 1)
    ushift = np.uint64(shift)
    empty = np.empty(0, dtype=np.uint64)
    buffers = [empty] * len(sources)
    done = [False] * len(sources)

    def fill(i: int, need: int) -> None:
        while len(buffers[i]) < need and not done[i]:
            more = sources[i].read(step)
            if len(more) < step:
                done[i] = True
            buffers[i] = np.concatenate((buffers[i], more)) if len(buffers[i]) else more

    for i in range(len(sources)):
        fill(i, step)
    while any(len(b) for b in buffers):
        # Keys below the smallest last key of an unfinished run's buffer are whole in the buffers.
        open_runs = [i for i in range(len(sources)) if not done[i] and len(buffers[i])]
        if open_runs:
            low = min(open_runs, key=lambda i: int(buffers[i][-1] >> ushift))
            bound = (buffers[low][-1] >> ushift) << ushift
            cuts = [int(np.searchsorted(b, bound)) for b in buffers]
            if not any(cuts):  # the buffer holds one key only: read on until it ends
                fill(low, len(buffers[low]) + step)
                continue
        else:
            cuts = [len(b) for b in buffers]
        parts = [b[:c] for b, c in zip(buffers, cuts, strict=True) if c]
        buffers = [b[c:] for b, c in zip(buffers, cuts, strict=True)]
        block = np.concatenate(parts) if len(parts) > 1 else parts[0].copy()
        if len(parts) > 1:
            block.sort(kind="stable")  # a merge of sorted runs
        yield block
        for i in range(len(sources)):
            fill(i, step)

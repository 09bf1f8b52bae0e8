"""Throughput of the text pipeline beside trafilatura, on the same pages, in the same run.

    python bench/pipeline.py [--pages 2000] [--shared ../shared]

Pages: the eval fixtures (tests/eval/pages) and the real pages of the shared corpus, repeated
until --pages. Ours = decode + extract + normalize + truncation + classify (`process_page`,
bytes in, Record out); theirs = `trafilatura.extract` (bytes in, text out; it decodes too).
Both run on one core, one after the other, each timed over the whole set. Prints pages/s,
MB/s and the ratio ours/trafilatura (machines here are shared and noisy: read the ratio).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_pages(shared: Path) -> list[tuple[str, bytes]]:
    files = sorted((ROOT / "tests" / "eval" / "pages").glob("*.html"))
    files += sorted((shared / "corpus" / "real-pages").glob("*.html"))
    return [(f.name, f.read_bytes()) for f in files]


def run(label: str, fn, pages: list[tuple[str, bytes]]) -> float:
    total = sum(len(b) for _, b in pages)
    start = time.perf_counter()
    for name, data in pages:
        fn(name, data)
    elapsed = time.perf_counter() - start
    rate = len(pages) / elapsed
    print(f"{label:<14} {len(pages):>6} pages  {elapsed:7.2f} s  {rate:8.1f} pages/s  "
          f"{total / elapsed / 1e6:6.2f} MB/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()

    import trafilatura

    from archive.page_processing import PageError, process_page

    base = load_pages(args.shared)
    if not base:
        raise SystemExit("no pages found (tests/eval/pages, shared/corpus/real-pages)")
    pages = (base * (args.pages // len(base) + 1))[: args.pages]
    print(f"{len(base)} distinct pages, {sum(len(b) for _, b in base) / len(base) / 1e3:.0f} kB "
          f"on average, repeated to {len(pages)}")

    def ours(name: str, data: bytes) -> None:
        with contextlib.suppress(PageError):
            process_page(data, f"http://bench.example/{name}")

    def theirs(_name: str, data: bytes) -> None:
        trafilatura.extract(data)

    # Warm up both (OpenCC tables, gazetteer, lxml), then measure.
    for name, data in base:
        ours(name, data)
        theirs(name, data)
    a = run("hra pipeline", ours, pages)
    b = run("trafilatura", theirs, pages)
    print(f"ratio hra/trafilatura: {a / b:.2f}x")


if __name__ == "__main__":
    main()

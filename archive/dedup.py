"""Duplicates: one report reposted on many sites becomes one cluster with one canonical copy.

How two documents are judged the same report
* Their texts are reduced to a *dedup key*: normalized text, lower-cased, without whitespace
  and punctuation, placeholder runs (xx, XX, **) folded to one mark.
* Exact duplicates share the key's hash.
* Near duplicates: MinHash (datasketch's 128 permutations, applied to a whole document's
  shingles at once with numpy: `minhash`) over character 5-gram shingles of the key with
  digits masked (`shingles`: 32-bit hashes computed with numpy, kept as sorted arrays), banded into an LSH index of 32 bands x 4 rows (candidates from
  Jaccard ~0.4 up), plus a second LSH over the first `PREFIX_CHARS` of the key, which finds
  truncated copies (a paywalled copy keeps the opening). Candidates whose MinHash estimates
  are far below the thresholds are dropped; the rest are verified on the exact shingle sets
  (digits kept, unless exactly one copy has placeholders):
  - Jaccard >= `JACCARD` (reposts with clutter, edited sentences, placeholders), or
  - containment (shared shingles / shingles of the shorter copy) >= `CONTAINMENT` when the
    shorter copy is flagged truncated or is at least `MIN_SHARE` of the longer one.
  The thresholds are tuned on tests/test_dedup.py and bench/dedup.py (printed there).
* A cluster is a connected component of verified pairs, so it does not depend on the order in
  which documents arrived: the same archive always gives the same clusters.

The canonical copy of a cluster is the best by these rules, in order: complete over truncated,
without placeholders over with, longer text, government source (a .gov.cn host) over content
sites, earliest published, then the smallest id. The others get ``duplicate_of`` = its id; a
better copy arriving later takes over and the cluster is updated.

The index lives in ``dedup.sqlite3`` in the data dir (signatures, LSH bands, verified pairs)
and follows the archive's change log; delete it and it is rebuilt from the archive.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from archive.record import Record
from archive.store import Store

DB_NAME = "dedup.sqlite3"
SHINGLE = 5
NUM_PERM = 128
BANDS, ROWS = 32, 4
PREFIX_CHARS = 300
JACCARD = 0.70
CONTAINMENT = 0.90
MIN_SHARE = 0.5
# MinHash estimates below which a candidate is not compared exactly (4 standard deviations
# of a 128-permutation estimate under the thresholds they guard).
ESTIMATE_FULL = JACCARD - 0.15
ESTIMATE_PREFIX = 0.7
MIN_KEY_CHARS = 50  # shorter texts are never clustered (too little evidence)
#: Version of the shingle hashes and signatures in ``dedup.sqlite3`` (1: CRC32 shingles and
#: datasketch's own MinHash objects; 2: `shingles` and `minhash`). An index of another
#: version is emptied and rebuilt from the archive by the next update.
SIGNATURES = 2

_DROP = re.compile(r"[^0-9a-z\u3400-\u9fff#]+")
_PLACEHOLDER = re.compile(r"(?:x{2,}|\*{2,}|#+)")
_DIGITS = re.compile(r"[0-9]+")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS signatures (
    n INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE, exact TEXT NOT NULL, sig BLOB,
    prefix BLOB
);
CREATE INDEX IF NOT EXISTS signatures_exact ON signatures (exact);
CREATE TABLE IF NOT EXISTS lsh (key INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (key, n))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pairs (a TEXT, b TEXT, similarity REAL, PRIMARY KEY (a, b));
CREATE INDEX IF NOT EXISTS pairs_b ON pairs (b);
"""
#: Tables of `SIGNATURES` version 1 (text document ids in the LSH table).
_OLD_TABLES = ("sigs", "bands")


def dedup_key(text: str, mask_digits: bool = False) -> str:
    """Lower-cased text without spaces and punctuation, placeholder runs folded to '#'
    (and, with `mask_digits`, every run of digits too)."""
    key = _PLACEHOLDER.sub("#", _DROP.sub("", text.lower()))
    return mask(key) if mask_digits else key


def mask(key: str) -> str:
    """A dedup key with every run of digits folded to '#'."""
    return _DIGITS.sub("#", key)


#: Multiplier of the rolling polynomial over a shingle's code points, and the odd constant
#: (2^64 / golden ratio) whose product's high 32 bits are a shingle's hash.
_BASE = np.uint64(1_000_003)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_HIGH = np.uint64(32)
#: Shingle values turned into MinHash values per numpy step (bounds the temporary arrays).
_MINHASH_CHUNK = 4096


def shingles(key: str) -> np.ndarray:
    """The distinct hashed character shingles of a key: a sorted ``uint32`` array.

    A shingle's hash is the high 32 bits of ``polynomial(code points) * _MIX`` (mod 2^64),
    computed for all shingles at once with numpy; a key shorter than `SHINGLE` is one shingle.
    """
    if not key:
        return np.empty(0, dtype=np.uint32)
    points = np.frombuffer(key.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    width = min(SHINGLE, len(points))
    count = len(points) - width + 1
    poly = np.zeros(count, dtype=np.uint64)
    for j in range(width):
        poly = poly * _BASE + points[j : j + count]
    return np.unique(((poly * _MIX) >> _HIGH).astype(np.uint32))


@functools.cache
def _permutations() -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """datasketch's permutations for our seed (affine, mod 2^32) and its input pre-mix,
    made as datasketch 2.0's ``MinHash._init_permutations`` and ``_fmix(hv, 32)`` make them
    (tests/test_dedup.py compares with datasketch itself): importing datasketch would load
    scipy too (0.5 s and 50 MB in every process that updates duplicates)."""
    gen = np.random.RandomState(7)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a.reshape(-1, 1), b.reshape(-1, 1), _murmur_fmix32


def _murmur_fmix32(hv: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer on ``uint32`` values (datasketch's pre-mix)."""
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(0x85EBCA6B)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(0xC2B2AE35)
    return hv ^ (hv >> np.uint32(16))


def minhash(hashed: np.ndarray) -> np.ndarray:
    """The MinHash signature of a set of 32-bit values (``uint32``, `NUM_PERM` values): the
    same as datasketch's ``MinHash(num_perm=NUM_PERM, seed=7, hashfunc=int,
    scheme="affine32").update_batch(values)`` (tests/test_dedup.py compares them), computed per
    chunk of values as a (permutations x values) array reduced along its rows."""
    a, b, premix = _permutations()
    out = np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    values = hashed.astype(np.uint32, copy=False)
    for start in range(0, len(values), _MINHASH_CHUNK):
        mixed = premix(values[start : start + _MINHASH_CHUNK]).reshape(1, -1)
        np.minimum(out, (mixed * a + b).min(axis=1), out=out)
    return out


def _bands(sig: np.ndarray, kind: int) -> list[int]:
    """One 63-bit key per band of ROWS minhash values (the band and signature kind mixed in)."""
    out = []
    for b in range(BANDS):
        chunk = sig[b * ROWS : (b + 1) * ROWS].tobytes() + bytes((kind, b))
        out.append(int.from_bytes(hashlib.blake2b(chunk, digest_size=8).digest(), "big") >> 1)
    return out


def similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(Jaccard, containment of the smaller set in the larger) of two `shingles` arrays."""
    if not len(a) or not len(b):
        return 0.0, 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter), inter / min(len(a), len(b))


class _Shingles:
    """Shingle sets of documents, computed once per update and kept for the recent ones
    (sorted ``uint32`` arrays: ~4 bytes per distinct shingle)."""

    def __init__(self, size: int = 2000) -> None:
        self.size = size
        self.cache: OrderedDict[tuple[str, bool], np.ndarray] = OrderedDict()

    def get(self, record: Record, masked: bool) -> np.ndarray:
        key = (record.id, masked)
        found = self.cache.get(key)
        if found is None:
            found = self.put(record.id, masked, shingles(dedup_key(record.text, masked)))
        return found

    def put(self, did: str, masked: bool, found: np.ndarray) -> np.ndarray:
        self.cache[(did, masked)] = found
        if len(self.cache) > self.size:
            self.cache.popitem(last=False)
        return found


def same_report(a: Record, b: Record, sets: _Shingles) -> float | None:
    """The similarity of two documents if they are copies of one report, else None.

    Digits count (two cities' reports from one template differ mostly in their figures),
    unless one copy has placeholders: then its xx stand where the other has figures, and
    both are compared with digits masked."""
    sa, sb = _compared(a, b, sets)
    jac, cont = similarity(sa, sb)
    if jac >= JACCARD:
        return jac
    short = a if len(sa) <= len(sb) else b
    share = min(len(sa), len(sb)) / max(len(sa), len(sb))
    if cont >= CONTAINMENT and (short.truncated or share >= MIN_SHARE):
        return cont
    return None


def copy_similarity(a: Record, b: Record) -> float:
    """How alike two copies are: the larger of Jaccard and containment, compared like
    `same_report` compares them."""
    return max(similarity(*_compared(a, b, _Shingles())))


def _compared(a: Record, b: Record, sets: _Shingles) -> tuple[np.ndarray, np.ndarray]:
    """The shingle sets two copies are compared on: digits kept, unless exactly one copy has
    placeholders (its xx stand where the other has figures)."""
    masked = a.placeholders != b.placeholders
    return sets.get(a, masked), sets.get(b, masked)


def canonical_key(record: Record, longest: int) -> tuple:
    """Sort key: the best copy of a report sorts first (see the module docstring). Copies
    within 5% of the longest count as full length (a stray line of clutter is not "longer")."""
    host = (urlsplit(record.url).hostname or "").lower()
    gov = host.endswith(".gov.cn") or host == "gov.cn"
    full = len(record.text) >= 0.95 * longest
    return (
        record.truncated,
        record.placeholders,
        not full,
        0 if full else -len(record.text),
        not gov,
        record.published or "9999-99-99",
        record.id,
    )


def rank(records: list[Record]) -> list[Record]:
    """The copies of one report, best first."""
    longest = max((len(r.text) for r in records), default=1)
    return sorted(records, key=lambda r: canonical_key(r, longest))


@dataclass
class Cluster:
    canonical: str
    members: list[str]  # canonical first, then the others by canonical_key


class DedupIndex:
    """The persistent LSH index and pair graph beside the archive."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / DB_NAME
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> DedupIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state ---------------------------------------------------------------------------

    @property
    def applied(self) -> int:
        row = self.db.execute("SELECT value FROM state WHERE key = 'applied'").fetchone()
        return row[0] if row else 0

    def _set_applied(self, seq: int) -> None:
        self.db.executemany(
            "INSERT INTO state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [("applied", seq), ("signatures", SIGNATURES)])

    def _outdated(self) -> bool:
        """Whether the index holds signatures of another `SIGNATURES` version."""
        old = self.db.execute(
            f"SELECT 1 FROM sqlite_master WHERE name IN {_OLD_TABLES}").fetchone()
        row = self.db.execute("SELECT value FROM state WHERE key = 'signatures'").fetchone()
        return old is not None or (row is not None and row[0] != SIGNATURES)

    def _forget_all(self) -> None:
        """Empty the index (signatures of another version): the next update starts over."""
        self.db.execute("BEGIN IMMEDIATE")
        for table in _OLD_TABLES:
            self.db.execute(f"DROP TABLE IF EXISTS {table}")
        for table in ("state", "signatures", "lsh", "pairs"):
            self.db.execute(f"DELETE FROM {table}")
        self.db.execute("COMMIT")

    # -- maintenance -----------------------------------------------------------------------

    def _remove(self, did: str) -> set[str]:
        """Forget a document; returns its former neighbours."""
        rows = self.db.execute(
            "SELECT b FROM pairs WHERE a = ? UNION SELECT a FROM pairs WHERE b = ?", (did, did)
        ).fetchall()
        self.db.execute("DELETE FROM pairs WHERE a = ? OR b = ?", (did, did))
        found = self.db.execute(
            "SELECT n, sig, prefix FROM signatures WHERE doc_id = ?", (did,)).fetchone()
        if found is not None and found[1] is not None:
            # Its LSH rows, found by their keys (recomputed from the signatures).
            n, sig, prefix = found
            keys = (_bands(np.frombuffer(sig, dtype=np.uint32), 0)
                    + _bands(np.frombuffer(prefix, dtype=np.uint32), 1))
            self.db.executemany("DELETE FROM lsh WHERE key = ? AND n = ?", [(k, n) for k in keys])
        self.db.execute("DELETE FROM signatures WHERE doc_id = ?", (did,))
        return {r[0] for r in rows}

    def _add(self, record: Record, store: Store, sets: _Shingles) -> None:
        key = dedup_key(record.text)
        masked_key = mask(key)
        exact = hashlib.sha1(key.encode("utf-8")).hexdigest()
        exact_twins = {r[0] for r in self.db.execute(
            "SELECT doc_id FROM signatures WHERE exact = ?", (exact,))}
        if len(masked_key) < MIN_KEY_CHARS:
            self.db.execute("INSERT INTO signatures (doc_id, exact) VALUES (?, ?)",
                            (record.id, exact))
            return
        # Candidates come from digit-masked keys, so placeholder copies are found too;
        # `same_report` then decides on the exact shingle sets.
        sig = minhash(sets.put(record.id, True, shingles(masked_key)))
        prefix = minhash(shingles(masked_key[:PREFIX_CHARS]))
        n = self.db.execute(
            "INSERT INTO signatures (doc_id, exact, sig, prefix) VALUES (?, ?, ?, ?)",
            (record.id, exact, sig.tobytes(), prefix.tobytes())).lastrowid
        keys = _bands(sig, 0) + _bands(prefix, 1)
        plausible = self._plausible(keys, sig, prefix) | exact_twins
        self.db.executemany("INSERT OR IGNORE INTO lsh VALUES (?, ?)", [(k, n) for k in keys])
        for other_id in sorted(plausible):
            other = store.get(other_id)
            if other is None:
                continue
            sim = same_report(record, other, sets)
            if sim is not None:
                a, b = sorted((record.id, other_id))
                self.db.execute("INSERT OR REPLACE INTO pairs VALUES (?, ?, ?)", (a, b, sim))

    def _plausible(self, keys: list[int], sig: np.ndarray, prefix: np.ndarray) -> set[str]:
        """The documents sharing an LSH band with this one (`keys`) that pass a cheap filter
        before the exact comparison: the MinHash estimates of the Jaccard similarity of the
        (digit-masked) texts or of their openings must be high enough. One query finds the
        candidates and reads their signatures."""
        out: set[str] = set()
        rows = self.db.execute(
            "SELECT doc_id, sig, prefix FROM signatures WHERE n IN (SELECT n FROM lsh WHERE key"
            f" IN ({','.join('?' * len(keys))}))", keys)
        while found := rows.fetchmany(1000):
            sigs = np.frombuffer(b"".join(r[1] for r in found), dtype=np.uint32)
            prefixes = np.frombuffer(b"".join(r[2] for r in found), dtype=np.uint32)
            full = (sigs.reshape(len(found), NUM_PERM) == sig).mean(axis=1)
            opening = (prefixes.reshape(len(found), NUM_PERM) == prefix).mean(axis=1)
            keep = (full >= ESTIMATE_FULL) | (opening >= ESTIMATE_PREFIX)
            out.update(r[0] for r, k in zip(found, keep, strict=True) if k)
        return out

    def component(self, did: str) -> set[str]:
        """All documents connected to `did` by verified pairs (including itself)."""
        seen = {did}
        todo = [did]
        while todo:
            cur = todo.pop()
            for (other,) in self.db.execute(
                "SELECT b FROM pairs WHERE a = ? UNION SELECT a FROM pairs WHERE b = ?",
                (cur, cur),
            ):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    # -- the public operation ----------------------------------------------------------------

    def behind(self, store: Store) -> bool:
        """Whether `update` has archive changes to apply (reads only: the archive may be open
        read-only). Changes of ``duplicate_of`` alone (ours) do not count."""
        if self.applied == 0 and self._empty():
            return store.count_documents() > 0
        return self._outdated() or store.content_changed_since(self.applied)

    def _empty(self) -> bool:
        return self.db.execute("SELECT 1 FROM signatures LIMIT 1").fetchone() is None

    def update(self, store: Store, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply the archive's pending document changes; returns how many were applied."""
        if self._outdated():
            self._forget_all()
        start = self.applied
        if start == 0 and self._empty():
            # A new (or deleted) index starts from every document, not from the log's past.
            end = store.last_change()
            pending = [(end, did, "upsert") for did in store.document_ids()]
        else:
            pending = []
            seq = start
            while batch := store.changes_since(seq, 5000):
                pending.extend(batch)
                seq = batch[-1][0]
            end = seq
        if not pending:
            return 0
        latest: dict[str, str] = {}
        for _, did, op in pending:
            if op != "meta":  # duplicate_of changes (ours) leave the text as it was
                latest[did] = op  # only the last operation on each document matters
        if not latest:
            self._set_applied(end)
            return 0
        touched: set[str] = set()
        sets = _Shingles()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for done, (did, op) in enumerate(sorted(latest.items()), 1):
                touched |= self._remove(did)
                record = store.get(did) if op == "upsert" else None
                if record is not None:
                    self._add(record, store, sets)
                    touched.add(did)
                if progress:
                    progress(done, len(latest))
            self._set_applied(end)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self._relabel(store, touched)
        return len(latest)

    def _relabel(self, store: Store, touched: set[str]) -> None:
        done: set[str] = set()
        for did in sorted(touched):
            if did in done:
                continue
            members = self.component(did)
            done |= members
            records = [r for r in (store.get(m) for m in members) if r is not None]
            if not records:
                continue
            records = rank(records)
            canonical = records[0].id
            for record in records:
                want = None if record.id == canonical else canonical
                if record.duplicate_of != want:
                    record.duplicate_of = want
                    store.set_duplicate_of(record.id, want)

    def clusters(self, store: Store) -> list[Cluster]:
        """Every cluster of two or more documents, largest first."""
        seen: set[str] = set()
        out = []
        ids = [r[0] for r in self.db.execute("SELECT a FROM pairs UNION SELECT b FROM pairs")]
        for did in sorted(ids):
            if did in seen:
                continue
            members = self.component(did)
            seen |= members
            records = rank([r for r in (store.get(m) for m in members) if r])
            if len(records) > 1:
                out.append(Cluster(records[0].id, [r.id for r in records]))
        out.sort(key=lambda c: (-len(c.members), c.canonical))
        return out


def clusters_behind(store: Store) -> bool:
    """Whether the duplicate clusters miss archive changes (a writer stopped before clustering,
    or ``dedup.sqlite3`` was deleted). Reads only, so `hra dups` can ask with a read-only store
    and open the archive for writing only when `update_duplicates` has work to do."""
    if not (Path(store.data_dir) / DB_NAME).exists():
        return store.count_documents() > 0
    with DedupIndex(store.data_dir) as index:
        return index.behind(store)


def update_duplicates(store: Store, progress: Callable[[int, int], None] | None = None) -> int:
    """Bring the duplicate clusters up to date with the archive (see `DedupIndex.update`).
    Writes ``duplicate_of`` marks: `store` must be writable."""
    with DedupIndex(store.data_dir) as index:
        return index.update(store, progress)


def rebuild_duplicates(store: Store, progress: Callable[[int, int], None] | None = None) -> int:
    """Forget the index and cluster the whole archive again."""
    path = Path(store.data_dir) / DB_NAME
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return update_duplicates(store, progress)

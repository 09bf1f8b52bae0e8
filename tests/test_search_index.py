"""The index: Whoosh-compatible segments, following the archive's change log, merging, locking,
atomic rebuilds, concurrent readers, `check`."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest

from archive.store import Store
from search import build as search_build
from search import index as search_index
from search.engine import Filters
from tests.search_fixtures import archive, containing, found, hra, record, search, update

TEXTS = [
    "2023年全市深入推进紧密型县域医共体建设，组建医共体12个，家庭医生签约服务覆盖率75.3%。",
    "加强手足口病、流感等传染病监测，COVID-19疫情防控平稳转段，报告发病率低于全省平均水平。",
    "深化医改，推进分级诊疗，县域内就诊率达到91.2%，基层医疗卫生机构诊疗量占比持续提升。",
    "卫健委召开全市卫生健康工作会议，部署医疗质量、平安医院和医德医风建设。",
    "医共体医共体医共体：牵头医院下沉专家，乡镇卫生院能力提升，医共体内人员统筹使用。",
]


def _records(n: int = 5, offset: int = 0) -> list:
    return [
        record(offset + i, f"滨江市{2019 + i % 5}年工作总结{offset + i}", TEXTS[i % len(TEXTS)],
               year=2019 + i % 5, published=f"{2019 + i % 5}-0{1 + i % 9}-1{i % 10}")
        for i in range(n)
    ]


def _dump(ix) -> dict:
    """Every posting (field, term) -> [(docnum, weight)], lengths and columns, via Whoosh's API."""
    out: dict = {}
    with ix.reader() as reader:
        for fieldname, tbytes in reader.all_terms():
            m = reader.postings(fieldname, tbytes)
            postings = []
            while m.is_active():
                postings.append((m.id(), float(m.weight())))
                m.next()
            out[(fieldname, tbytes)] = postings
        for docnum in range(reader.doc_count_all()):
            for name in ("title", "text"):
                out[("len", name, docnum)] = reader.doc_field_length(docnum, name)
        for name in ("id", "day", "fingerprint"):
            col = reader.column_reader(name)
            out[("col", name)] = [col[d] for d in range(reader.doc_count_all())]
    return out


def test_bulk_segments_are_whoosh_segments_with_the_same_postings(tmp_path: Path):
    from whoosh import index as wix
    from whoosh.query import And, Term

    from search.codec import GramCodec
    from search.schema import index_fields, make_schema
    from search.segments import SegmentBuilder

    rows = [dict(r.to_json(), region_province="贵州省", region_city="遵义市",
                 region_county=None, region="贵州省遵义市") for r in _records(7)]
    fields = [index_fields(row) for row in rows]
    dumps = []
    for name, codec in (("w3", None), ("gram-generic", GramCodec())):
        path = tmp_path / name
        path.mkdir()
        ix = wix.create_in(str(path), make_schema(), indexname="MAIN")
        writer = ix.writer(codec=codec) if codec else ix.writer()
        for f in fields:
            writer.add_document(**f)
        writer.commit()
        dumps.append(_dump(wix.open_dir(str(path), indexname="MAIN")))
    path = tmp_path / "bulk"
    search_index._empty_index(path)
    with search_index.IndexWriter(path) as writer:
        builder = SegmentBuilder(writer.storage, writer.schema, "MAIN")
        for f in fields:
            builder.add(f)
        writer.add_segments([builder.finish()])
    ix = wix.open_dir(str(path), indexname="MAIN")
    dumps.append(_dump(ix))
    assert dumps[0] == dumps[1] == dumps[2]
    assert len(dumps[0]) > 300
    # And Whoosh's own searcher answers on the bulk-written segments.
    with ix.searcher() as searcher:
        hits = searcher.search(And([Term("text", "医共"), Term("text", "共体")]), limit=None)
        assert {h.docnum for h in hits} == {0, 4, 5}


def test_spilled_runs_give_the_same_segment(tmp_path: Path, monkeypatch):
    """A segment whose postings were spilled to sorted runs on disk (`SegmentBuilder.spill`)
    and merged back in small slices equals one built in memory, posting for posting."""
    from whoosh import index as wix

    from search import runs
    from search.schema import index_fields
    from search.segments import SegmentBuilder

    rows = [dict(r.to_json(), region_province="贵州省", region_city="遵义市",
                 region_county=None, region="贵州省遵义市") for r in _records(23)]
    dumps = []
    for name, spill_every in (("memory", 0), ("spilled", 3), ("spilled-each", 1)):
        path = tmp_path / name
        search_index._empty_index(path)
        with search_index.IndexWriter(path) as writer:
            builder = SegmentBuilder(writer.storage, writer.schema, "MAIN")
            for i, row in enumerate(rows, 1):
                builder.add(index_fields(row))
                if spill_every and i % spill_every == 0:
                    builder.spill()
                    assert builder.buffered == 0
            if spill_every:
                assert len(builder.runs["text"]) == len(rows) // spill_every
                monkeypatch.setattr(runs, "STEP", 7 * 8)  # slices smaller than a term's postings
            writer.add_segments([builder.finish()])
            assert not builder.runs
        dumps.append(_dump(wix.open_dir(str(path), indexname="MAIN")))
    assert dumps[0] == dumps[1] == dumps[2]
    assert max(len(v) for k, v in dumps[0].items() if k[0] == "text") > 2 * 7


def test_merge_runs_yields_whole_keys_in_order() -> None:
    import numpy as np

    from search.runs import InMemory, merge_runs

    rng = np.random.default_rng(5)
    # key << 8 | value; key 3 is in every run and longer than a slice
    arrays = [np.sort(np.concatenate([rng.integers(0, 40, 50, dtype=np.uint64) << np.uint64(8)
                                      | rng.integers(0, 255, 50, dtype=np.uint64),
                                      np.full(20, 3 << 8, dtype=np.uint64)]))
              for _ in range(4)]
    blocks = list(merge_runs([InMemory(a) for a in arrays], 8, step=6))
    merged = np.concatenate(blocks)
    assert merged.tolist() == sorted(np.concatenate(arrays).tolist())
    seen: set[int] = set()
    for block in blocks:
        keys = set((block >> np.uint64(8)).tolist())
        assert not keys & seen  # every key's postings come in one block
        seen |= keys
    assert list(merge_runs([InMemory(np.empty(0, dtype=np.uint64))], 8)) == []


def test_merging_segments_without_deletions_shifts_whole_lists(tmp_path: Path, monkeypatch):
    """Segments with no deleted documents are merged by shifting whole posting lists
    (`search.segments._stream_appended`); the result equals the posting-by-posting merge."""
    from whoosh import index as wix
    from whoosh.reading import SegmentReader

    from search import segments

    recs = _records(29)
    dumps = []
    for name, general in (("appended", False), ("general", True)):
        root = tmp_path / name
        for start in range(0, len(recs), 4):  # several small segments, merged below
            archive(root, recs[start:start + 4])
            update(root)
        path = search_index.current_path(root)
        with search_index.IndexWriter(path) as writer:
            assert len(writer.segments) > 1
            assert not any(seg.has_deletions() for seg in writer.segments)
            if general:
                monkeypatch.setattr(SegmentReader, "has_deletions", lambda self: True)
            called: list[int] = []

            def appended(*args, called=called, real=segments._stream_appended):
                called.append(1)
                return real(*args)

            monkeypatch.setattr(segments, "_stream_appended", appended)
            merged = segments.merge_segments(writer.storage, writer.schema, "MAIN",
                                             writer.segments)
            writer.segments = [merged]
            writer.commit()
            assert called == ([] if general else [1])
            monkeypatch.undo()
        dumps.append(_dump(wix.open_dir(str(path), indexname="MAIN")))
        assert found(root, "医共体") == containing(recs, "医共体")
    assert dumps[0] == dumps[1]
    assert len(dumps[0]) > 300


def test_update_index_follows_the_change_log(tmp_path: Path):
    recs = archive(tmp_path, _records(5))
    assert update(tmp_path) == 5
    assert found(tmp_path, "医共体") == containing(recs, "医共体")
    # change one, delete one, add one
    changed = record(1, recs[1].title, "这份报告现在讲医共体。")
    added = record(99, "新增报告", "医共体建设新进展")
    archive(tmp_path, [changed, added])
    with Store(tmp_path) as store:
        store.delete_document(recs[0].id)
    assert update(tmp_path) == 3
    now = [changed, added, *recs[2:]]
    assert found(tmp_path, "医共体") == containing(now, "医共体")
    assert found(tmp_path, "疫情") == containing(now, "疫情") == set()
    with Store(tmp_path) as store:
        report = search_index.check(store)
        assert report.ok and report.pending_changes == 0
        assert report.index_documents == report.archive_documents == 5
    assert update(tmp_path) == 0


def test_replaying_changes_after_a_crash_is_harmless(tmp_path: Path):
    recs = archive(tmp_path, _records(4))
    update(tmp_path)
    path = search_index.current_path(tmp_path)
    state = search_index.read_state(path)
    search_index.write_state(path, seq=0, schema=state["schema"])  # state.json lagging behind
    assert update(tmp_path) == 4
    with Store(tmp_path) as store:
        report = search_index.check(store)
    assert report.ok and not report.duplicated
    assert found(tmp_path, "卫健委") == containing(recs, "卫健委")


def test_small_batches_are_merged_and_deletions_purged(tmp_path: Path):
    recs = archive(tmp_path, _records(3))
    update(tmp_path)
    for round_ in range(12):
        batch = _records(2, offset=100 + 2 * round_)
        archive(tmp_path, batch)
        recs += batch
        update(tmp_path, batch_size=2)
    with Store(tmp_path) as store:
        for rec in recs[:20]:
            store.delete_document(rec.id)
    update(tmp_path, batch_size=50)
    live = recs[20:]
    with search_index.IndexWriter(search_index.current_path(tmp_path)) as writer:
        assert len(writer.segments) < 10
        assert all(seg.deleted_count() <= 0.4 * seg.doc_count_all() for seg in writer.segments)
        assert writer.doc_count() == len(live)
    assert found(tmp_path, "医共体") == containing(live, "医共体")
    with Store(tmp_path) as store:
        assert search_index.check(store).ok


def test_a_second_writer_waits_then_leaves_its_changes_queued(tmp_path: Path, caplog):
    archive(tmp_path, _records(3))
    update(tmp_path)
    archive(tmp_path, _records(2, offset=50))
    holder = search_index.IndexWriter(search_index.current_path(tmp_path))
    try:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="search.index"):
            assert update(tmp_path, timeout=0.3) == 0  # no LockError
        assert time.monotonic() - started >= 0.3
        assert "pending changes stay queued" in caplog.text
    finally:
        holder.close()
    assert update(tmp_path) == 2


def test_failed_rebuild_leaves_the_old_index_live(tmp_path: Path, monkeypatch):
    recs = archive(tmp_path, _records(5))
    update(tmp_path)
    before = search_index.current_path(tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(search_index, "build_segments", broken)
    with Store(tmp_path) as store, pytest.raises(RuntimeError, match="simulated"):
        search_index.rebuild(store)
    assert search_index.current_path(tmp_path) == before
    assert [p.name for p in (tmp_path / "index").iterdir() if p.is_dir()] == [before.name]
    assert found(tmp_path, "医改") == containing(recs, "医改")
    monkeypatch.undo()
    with Store(tmp_path) as store:
        result = search_index.rebuild(store)
    assert result.path != before and search_index.current_path(tmp_path) == result.path
    assert not before.exists()  # the old generation is collected once no writer holds it
    assert found(tmp_path, "医改") == containing(recs, "医改")


def test_parallel_rebuild_equals_single_process(tmp_path: Path, monkeypatch):
    recs = archive(tmp_path, _records(40))
    monkeypatch.setattr(search_index, "PARALLEL_MIN_DOCS", 0)
    monkeypatch.setattr(search_build, "CHUNK", 7)
    monkeypatch.setattr(search_build, "FLUSH_POSTINGS", 600)  # workers spill runs to disk
    with Store(tmp_path) as store:
        result = search_index.rebuild(store, workers=2)
    # One segment per worker that got work (a worker that starts late may find none left),
    # however often its buffer was spilled.
    assert result.workers == 2 and result.documents == 40 and 1 <= result.segments <= 2
    for query in ("医共体", "疫", "covid-19", "卫健委 医疗"):
        assert found(tmp_path, query) == containing_all(recs, query)
    with Store(tmp_path) as store:
        assert search_index.check(store).ok


def containing_all(recs, query: str) -> set[str]:
    sets = [containing(recs, part) for part in query.split()]
    return set.intersection(*sets)


def test_check_reports_missing_extra_and_stale(tmp_path: Path):
    recs = archive(tmp_path, _records(4))
    update(tmp_path)
    assert hra("check", data_dir=tmp_path).returncode == 0
    archive(tmp_path, [record(1, recs[1].title, "改过的正文"), record(77, "新文档", "未索引")])
    with Store(tmp_path) as store:
        store.delete_document(recs[0].id)
        report = search_index.check(store)
    assert report.missing == [record(77, "", "x").id]
    assert report.extra == [recs[0].id]
    assert report.stale == [recs[1].id]
    assert report.pending_changes == 3 and not report.ok
    result = hra("check", "--json", data_dir=tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout)["stale"] == [recs[1].id]
    update(tmp_path)
    assert hra("check", data_dir=tmp_path).returncode == 0


def test_searches_during_writes_never_see_half_a_batch(tmp_path: Path):
    """A writer thread adds batches of 5 documents (and rebuilds once) while searches run."""
    archive(tmp_path, _records(3))
    update(tmp_path)
    batch, rounds = 5, 14
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for round_ in range(rounds):
                docs = [record(f"w{round_}-{i}", f"批次{round_}", f"批次标记 第{round_}批 医共体")
                        for i in range(batch)]
                archive(tmp_path, docs)
                if round_ == rounds // 2:
                    with Store(tmp_path) as store:
                        search_index.rebuild(store)
                else:
                    update(tmp_path)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    seen = set()
    while thread.is_alive() or not seen:
        for query in ("批次", "批次标记"):  # one bigram (index only) and a verified string
            total = search(tmp_path, query, limit=1).total
            assert total % batch == 0, f"{query}: saw {total}, half a batch"
            seen.add(total)
    thread.join()
    assert not errors, errors
    assert search(tmp_path, "批次标记", limit=1).total == batch * rounds
    assert len(seen) > 2


def test_filters_follow_updates_of_metadata(tmp_path: Path):
    recs = archive(tmp_path, _records(3))
    update(tmp_path)
    assert found(tmp_path, "医", Filters(canonical=True)) == containing(recs, "医")
    dup = record(2, recs[2].title, TEXTS[2], year=2021, published="2021-03-12",
                 duplicate_of=recs[0].id)
    archive(tmp_path, [dup])
    update(tmp_path)
    assert recs[2].id not in found(tmp_path, "医", Filters(canonical=True))
    assert recs[2].id in found(tmp_path, "医")


_GRAM_CHARS = "医共体卫生健康衛醫abcXYZ0123 ，。_-İßΣﬁ𠀀𠮷²Ⅰǅ\n\t"


def test_gram_counts_are_term_counts() -> None:
    """The numpy term counting of the bulk builder gives the same terms and frequencies as
    the reference `term_counts`, and its keys sort like the terms' UTF-8 bytes."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from search.analysis import gram_counts, gram_key, gram_term, term_counts

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=st.sampled_from(_GRAM_CHARS) | st.characters(), max_size=60))
    def check(value: str) -> None:
        keys, counts = gram_counts(value)
        terms = [gram_term(k) for k in keys.tolist()]
        assert dict(zip(terms, counts.tolist(), strict=True)) == dict(term_counts(value))
        assert [t.encode("utf-8") for t in terms] == sorted(t.encode("utf-8") for t in terms)
        assert [gram_key(t) for t in terms] == keys.tolist()

    check()


def test_bulk_builder_flushes_before_its_docnum_space_runs_out(tmp_path: Path) -> None:
    from search.schema import index_fields
    from search.segments import MAX_DOCS, SegmentBuilder

    search_index._empty_index(tmp_path / "ix")
    with search_index.IndexWriter(tmp_path / "ix") as writer:
        builder = SegmentBuilder(writer.storage, writer.schema, "MAIN")
        builder.docnum = MAX_DOCS
        row = dict(_records(1)[0].to_json(), region_province=None, region_city=None,
                   region_county=None)
        with pytest.raises(ValueError, match="at most"):
            builder.add(index_fields(row))

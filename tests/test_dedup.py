"""Duplicates: reposts of one report cluster under the best copy; look-alikes stay apart."""

from __future__ import annotations

from pathlib import Path

from archive.dedup import DedupIndex, rebuild_duplicates, update_duplicates
from archive.record import Record
from archive.store import Store

# Shared stock phrases of health-work reports (what makes different reports look alike).
STOCK = [
    "坚持以人民健康为中心，坚持新时代卫生与健康工作方针，全面推进健康{city}建设。",
    "在市委、市政府的坚强领导下，全市卫生健康系统团结拼搏、担当作为，各项工作取得新成效。",
    "持续深化医药卫生体制改革，推动公立医院高质量发展，不断增强人民群众获得感。",
    "下一步，我们将坚持问题导向和目标导向，以更加务实的作风推动各项工作落地见效。",
]


def specifics(city: str, year: int, seed: int) -> list[str]:
    """Sentences only this report has (its own numbers, names and initiatives)."""
    n = seed * 7 + year
    return [
        f"{year}年，{city}组建紧密型县域医共体{n % 9 + 3}个，牵头医院向乡镇卫生院派驻骨干{n % 50 + 20}名，"
        f"县域内就诊率达到{80 + n % 15}.{n % 10}%。",
        f"{city}第{n % 5 + 1}人民医院胸痛中心通过国家认证，{city}妇幼保健院新院区建成投用，"
        f"新增床位{n % 400 + 300}张，全年开展新技术新项目{n % 60 + 40}项。",
        f"全年为{n % 30 + 10}.{n % 9}万名65岁以上老年人提供免费健康体检，家庭医生签约服务"
        f"覆盖重点人群{n % 20 + 60}万人，{city}获评全省基层卫生工作先进集体。",
        f"{city}疾控中心完成实验室改造，新增核酸检测能力每日{n % 8 + 2}万管，"
        f"建成{n % 12 + 5}个发热门诊和{n % 40 + 30}个发热诊室，传染病报告及时率达到100%。",
        f"投入资金{n % 900 + 100}万元实施{n % 30 + 10}个村卫生室标准化改造，为{n % 300 + 200}名乡村医生"
        f"落实养老保障，{city}中医院牵头成立中医专科联盟，覆盖{n % 20 + 10}家基层医疗机构。",
        f"深入开展爱国卫生运动，{city}新创建省级卫生乡镇{n % 6 + 2}个、卫生村{n % 50 + 20}个，"
        f"病媒生物密度控制水平达到国家标准，群众满意度提升到{90 + n % 9}%。",
        f"严格落实医疗质量安全核心制度，开展医疗机构依法执业专项检查{n % 20 + 5}轮，"
        f"查处违法违规案件{n % 30 + 10}起，罚没款{n % 90 + 10}万元。",
        f"推进智慧医院建设，{city}二级以上公立医院全部实现电子病历应用水平评价{n % 2 + 4}级以上，"
        f"互联网医院累计服务患者{n % 40 + 10}万人次，检查检验结果互认项目增加到{n % 80 + 100}项。",
    ]


def report(city: str, year: int, seed: int = 0) -> str:
    own = specifics(city, year, seed)
    paras = [STOCK[0].format(city=city), own[0], own[1], STOCK[1], own[2], own[3], own[4],
             STOCK[2], own[5], own[6], own[7], STOCK[3]]
    return "\n".join(paras)


def record(did: str, text: str, **kw) -> Record:
    defaults = dict(url=f"http://www.fanwen{did}.com/a/{did}.html", title="2023年卫生健康工作总结",
                    published="2024-01-10", year=2023, site=None, column=None, region=None,
                    doc_type="summary")
    defaults.update(kw)
    return Record(id=did, text=text, **defaults)


def edit_sentences(text: str, every: int) -> str:
    """Rewrite every n-th paragraph's wording a little (a reposting site's light edits)."""
    paras = text.split("\n")
    for i in range(0, len(paras), every):
        paras[i] = paras[i].replace("，", "，同时", 1).replace("。", "，成效明显。", 1)
    return "\n".join(paras)


def build(data_dir: Path, records: list[Record]) -> Store:
    store = Store(data_dir)
    for r in records:
        store.put_document(r)
    update_duplicates(store)
    return store


BASE = report("扬州市", 2023)


def test_reposts_of_every_kind_join_one_cluster_under_the_best_copy(data_dir: Path) -> None:
    placeholder = BASE.replace("扬州市", "xx市").replace("2023年", "xxxx年")
    for digit in "0123456789":
        placeholder = placeholder.replace(f"{digit}个", "x个")
    truncated = BASE[: len(BASE) * 2 // 5]
    docs = [
        record("a-content", BASE, url="http://www.wtabcd.cn/fanwen/1.html", published="2024-01-20"),
        record("b-gov", BASE, url="http://wjw.yangzhou.gov.cn/zwgk/t20240112_1.html",
               published="2024-01-12", title="扬州市卫生健康委2023年工作总结"),
        record("c-edited", edit_sentences(BASE, 10), title="2023年卫生健康工作总结【精选推荐】"),
        record("d-truncated", truncated, truncated=True, full_length=len(BASE)),
        record("e-placeholder", placeholder, placeholders=True),
        record("f-clutter", "下面是本站为大家整理的范文。\n" + BASE + "\n本文来源于网络。"),
    ]
    with build(data_dir, docs) as store:
        got = {r.id: r.duplicate_of for r in store.iter_documents(order="id")}
    # Complete, no placeholders, longest, then the government copy (earlier published too).
    assert got == {"a-content": "b-gov", "b-gov": None, "c-edited": "b-gov",
                   "d-truncated": "b-gov", "e-placeholder": "b-gov", "f-clutter": "b-gov"}


def test_canonical_rules_in_order(data_dir: Path) -> None:
    docs = [
        record("t", BASE[: len(BASE) // 2], truncated=True),
        record("p", BASE.replace("扬州市", "xx市"), placeholders=True),
        record("c", BASE, url="http://www.wtabcd.cn/fanwen/9.html", published="2024-01-01"),
        record("g", BASE, url="http://wjw.yangzhou.gov.cn/t.html", published="2024-02-01"),
    ]
    with build(data_dir, docs) as store:
        canon = {r.duplicate_of or r.id for r in store.iter_documents()}
        assert canon == {"g"}  # complete, no placeholders, same length: government wins
        extra = ("\n全年工作获得省卫生健康委通报表扬，医共体建设、家庭医生签约等经验在全省推广。"
                 "\n同时也要清醒看到，优质医疗资源总量不足、基层服务能力不强等问题仍然存在，需要在今后工作中认真加以解决。")
        store.put_document(record("longer", BASE + extra))
        update_duplicates(store)
        assert {r.duplicate_of or r.id for r in store.iter_documents()} == {"longer"}


def test_look_alikes_stay_apart(data_dir: Path) -> None:
    docs = [
        record("yz23", report("扬州市", 2023)),
        record("tz23", report("泰州市", 2023, seed=3)),  # same template phrases, another city
        record("yz22", report("扬州市", 2022, seed=5), year=2022),  # same city, another year
        record("nt23", report("南通市", 2023, seed=9)),
    ]
    with build(data_dir, docs) as store:
        assert all(r.duplicate_of is None for r in store.iter_documents())
        with DedupIndex(data_dir) as index:
            assert index.clusters(store) == []


def test_deterministic_idempotent_and_rebuilt_when_missing(data_dir: Path) -> None:
    docs = [record(f"r{i}", edit_sentences(BASE, 9 + i)) for i in range(4)]
    docs += [record("other", report("徐州市", 2023, seed=2))]
    with build(data_dir, list(reversed(docs))) as store:
        first = {r.id: r.duplicate_of for r in store.iter_documents()}
        assert update_duplicates(store) == 0  # nothing pending: nothing changes
        (data_dir / "dedup.sqlite3").unlink()
        for suffix in ("-wal", "-shm"):
            (data_dir / f"dedup.sqlite3{suffix}").unlink(missing_ok=True)
        update_duplicates(store)
        assert {r.id: r.duplicate_of for r in store.iter_documents()} == first
        rebuild_duplicates(store)
        assert {r.id: r.duplicate_of for r in store.iter_documents()} == first
    with build(data_dir.parent / "other-order", docs) as store:
        assert {r.id: r.duplicate_of for r in store.iter_documents()} == first
    assert sum(v is None for v in first.values()) == 2


def test_deleting_the_canonical_promotes_the_next_best(data_dir: Path) -> None:
    docs = [record("best", BASE, url="http://wjw.yangzhou.gov.cn/a.html"),
            record("copy", BASE), record("cut", BASE[:400], truncated=True)]
    with build(data_dir, docs) as store:
        assert store.get("copy").duplicate_of == "best"
        store.delete_document("best")
        update_duplicates(store)
        assert store.get("copy").duplicate_of is None
        assert store.get("cut").duplicate_of == "copy"
        with DedupIndex(data_dir) as index:  # the deleted copy's LSH rows went with it
            rows = index.db.execute("SELECT count(*), count(DISTINCT n) FROM lsh").fetchone()
            assert rows == (2 * 64, 2)


def test_minhash_is_datasketchs_and_shingles_are_distinct_sorted() -> None:
    import numpy as np
    from datasketch import MinHash

    from archive.dedup import NUM_PERM, dedup_key, minhash, shingles

    key = dedup_key(BASE, mask_digits=True)
    hashed = shingles(key)
    assert hashed.dtype == np.uint32 and len(hashed) > 100
    assert (np.diff(hashed.astype(np.int64)) > 0).all()  # sorted, distinct
    assert len(hashed) <= len({key[i:i + 5] for i in range(len(key) - 4)})
    from archive.dedup import _permutations

    a, b, _ = _permutations()  # made as datasketch makes them, without importing it
    template = MinHash(num_perm=NUM_PERM, seed=7, hashfunc=int, scheme="affine32")
    assert (a.ravel() == template.permutations[0]).all()
    assert (b.ravel() == template.permutations[1]).all()
    for values in (hashed, hashed[:3], np.arange(10_000, dtype=np.uint32)):  # >1 chunk too
        reference = MinHash(num_perm=NUM_PERM, seed=7, hashfunc=int, scheme="affine32")
        reference.update_batch(values.tolist())
        assert (minhash(values) == reference.hashvalues).all()
    assert list(shingles("abc")) == list(shingles("abc")) and len(shingles("abc")) == 1
    assert len(shingles("")) == 0


def test_an_index_of_older_signatures_is_rebuilt(data_dir: Path) -> None:
    import sqlite3

    docs = [record(f"r{i}", edit_sentences(BASE, 9 + i)) for i in range(3)]
    docs += [record("other", report("徐州市", 2023, seed=2))]
    with build(data_dir, docs) as store:
        first = {r.id: r.duplicate_of for r in store.iter_documents()}
        for r in store.iter_documents():
            store.set_duplicate_of(r.id, None)
        # What version 1 left behind: its own tables, no "signatures" state, clusters applied.
        db = sqlite3.connect(data_dir / "dedup.sqlite3")
        db.execute("CREATE TABLE sigs (doc_id TEXT PRIMARY KEY, exact TEXT, sig BLOB, prefix BLOB)")
        db.execute("CREATE TABLE bands (key INTEGER, doc_id TEXT)")
        db.execute("DELETE FROM state WHERE key = 'signatures'")
        db.commit()
        db.close()
        with DedupIndex(data_dir) as index:
            assert index.behind(store)
        update_duplicates(store)
        assert {r.id: r.duplicate_of for r in store.iter_documents()} == first
        with DedupIndex(data_dir) as index:
            assert not index.behind(store)
            tables = {r[0] for r in index.db.execute("SELECT name FROM sqlite_master")}
        assert not tables & {"sigs", "bands"}

"""Search benchmark: our n-gram Whoosh index beside SQLite FTS5 (trigram), same documents, same run.

    python bench/search.py [--docs 20000] [--workdir /tmp/hra-bench] [--runs 10] [--reindex]
                           [--repeats 3] [--fts-repeats N] [--only CLASS,...]

1. Generates N report-like documents (~6,000 characters: health-work vocabulary such as 医共体,
   卫健委, 手足口病, 医改, 疫情, 家庭医生; real division names; numbers, years, Latin acronyms;
   general words drawn by frequency from jieba's dictionary so each document has ~2,400
   distinct bigrams, like the real reports in ../shared/corpus) and archives them with
   `archive.store.Store` (deterministic: --seed).
2. Builds our index (`search.index.rebuild`, the code behind `hra reindex`) and an FTS5 table
   (``tokenize='trigram'``) over the same titles and texts; prints docs/s, MB/s, index size and
   its ratio to the text's UTF-8 size. The archive, the index and the FTS5 table stay in
   --workdir and are reused by the next run (the index when its schema version is current;
   --reindex rebuilds both).
3. Runs ~70 realistic queries in the issue's classes (1-2 chars, 3-4 chars, long, phrase, AND,
   OR, NOT, very common, rare; and traditional spellings, Latin/digits, title:) on both: exact
   total + top 10 + snippets; wall and CPU time, per query and per class, and recall/precision
   against a substring scan of the titles' and texts' search keys. FTS5 uses MATCH for terms of
   >= 3 characters and its LIKE fallback (a scan) for shorter ones, as its trigram tokenizer
   cannot index them (the table says which baseline each class used). Ours is timed on an open
   index (like FTS5's open connection; posting caches cleared before each run) and opening the
   index for each query, as every `hra search` does.
4. Times the whole `hra search` command (a subprocess, process start to exit), wall and CPU,
   p50 over --runs runs of 5 queries.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# ---------------------------------------------------------------------------------------------
# report-like documents

TOPICS = (
    "医共体", "医联体", "家庭医生签约服务", "分级诊疗", "公立医院改革", "医改", "疫情防控",
    "手足口病", "新冠肺炎", "核酸检测", "疫苗接种", "传染病防控", "慢性病管理", "高血压",
    "糖尿病", "妇幼保健", "孕产妇死亡率", "婴儿死亡率", "健康扶贫", "爱国卫生运动",
    "健康教育", "中医药", "药品集中采购", "医保支付", "互联网医院", "远程医疗", "卫生监督",
    "职业病防治", "食品安全", "精神卫生", "艾滋病", "结核病", "乙肝", "儿童保健", "老年健康",
    "医养结合", "基层医疗卫生机构", "乡村医生", "村卫生室", "乡镇卫生院", "社区卫生服务中心",
    "公共卫生", "疾病预防控制", "应急管理", "血液管理", "无偿献血", "计划免疫", "健康素养",
    "人均预期寿命", "卫生人才", "重点专科", "智慧医疗", "电子健康档案", "医疗质量",
    "平安医院", "医德医风", "控烟", "病媒生物防制", "鼠疫", "布病", "狂犬病", "流感",
    "登革热", "诺如病毒", "卫生应急", "出生缺陷", "三孩生育政策", "托育服务", "健康城市",
)
ORGS = (
    "卫健委", "卫生健康委员会", "卫生健康局", "疾控中心", "人民医院", "中医院", "妇幼保健院",
    "卫生监督所", "医保局", "市场监管局", "县委", "县政府", "市委", "市政府",
)
VERBS = (
    "深入推进", "全面加强", "扎实开展", "持续深化", "稳步推进", "着力提升", "认真落实",
    "大力实施", "不断完善", "切实做好", "统筹推进", "积极探索", "加快建设", "全力保障",
)
CONNECTORS = ("，", "，", "，", "、", "；", "。", "。")
BOILERPLATE = (
    "推动卫生健康事业高质量发展", "坚持以人民健康为中心", "深化医药卫生体制改革",
    "全面推进健康中国建设", "提升基层医疗卫生服务能力", "守护人民群众生命安全和身体健康",
    "持续改善医疗服务", "加强卫生健康人才队伍建设", "统筹疫情防控和经济社会发展",
    "健全公共卫生应急管理体系",
)
ACRONYMS = ("COVID-19", "HIV", "CT", "MRI", "ICU", "DRG", "HPV", "PCR", "WHO", "5G", "APP")
SITES = (
    "{city}卫生健康委员会", "{city}人民政府", "{province}卫生健康委员会", "新文秘网", "范文网",
    "第一范文网", "公文易文秘资源网", "{county}人民政府", "健康{province}", "{city}疾控中心",
)
TITLES = (
    ("summary", "{region}{year}年卫生健康工作总结"),
    ("summary", "{region}{year}年{topic}工作总结"),
    ("summary", "{org}{year}年上半年{topic}工作总结"),
    ("plan", "{region}{next}年卫生健康工作要点"),
    ("plan", "{region}{topic}实施方案"),
    ("plan", "关于做好{next}年{topic}工作的工作计划"),
    ("speech", "在{region}{year}年卫生健康工作会议上的讲话"),
    ("speech", "副市长在全市{topic}工作推进会上的讲话"),
    ("report", "关于{region}{topic}工作情况的汇报"),
    ("report", "{org}{year}年述职报告"),
    ("report", "关于{topic}的调研报告"),
    ("interview", "{org}局长谈{topic}工作"),
    ("notice", "关于开展{topic}专项行动的通知"),
    ("other", "{region}{topic}典型经验材料"),
)


@dataclass
class Division:
    province: str
    city: str | None
    county: str | None


def load_divisions() -> list[Division]:
    """Real (province, city, county) triples from the archive's gazetteer."""
    from archive.text.region import DATA_FILE

    rows = [line.rstrip("\n").split("\t") for line in DATA_FILE.open(encoding="utf-8")][1:]
    by_code = {r[0]: r for r in rows}
    out = []
    for _code, name, level, parent, *_ in rows:
        if level == "county":
            up = by_code.get(parent)
            if up is None:
                continue
            if up[2] == "province":
                out.append(Division(up[1], None, name))
            else:
                prov = by_code.get(up[3])
                if prov:
                    out.append(Division(prov[1], up[1], name))
    return out


class WordSampler:
    """Words of jieba's dictionary (CJK, 1-4 characters) drawn by frequency."""

    def __init__(self) -> None:
        import jieba

        words, weights = [], []
        path = Path(jieba.__file__).with_name("dict.txt")
        cjk = re.compile(r"^[\u4e00-\u9fff]{1,4}$")
        for line in path.open(encoding="utf-8"):
            word, freq, _tag = line.split()
            if cjk.match(word):
                words.append(word)
                weights.append(int(freq))
        self.words = words
        self.cum = list(itertools.accumulate(weights))

    def sample(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cum, k=k)


class DocumentGenerator:
    """Deterministic report-like documents (title, text, metadata).

    Like real reports, each document is about one topic (named often, and in most titles),
    touches a few others (Zipf-distributed: some topics are common, most are rare) and repeats
    the sector's boilerplate (卫生健康事业高质量发展 ...); the rest is general vocabulary.
    """

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.sampler = WordSampler()
        self.divisions = load_divisions()
        self.clauses = [self._clause() for _ in range(60000)]
        ranked = list(TOPICS)
        self.rng.shuffle(ranked)
        self.topics = ranked
        self.topic_weights = list(itertools.accumulate(1 / (r + 1) ** 0.8 for r in range(len(ranked))))

    def _clause(self) -> str:
        rng = self.rng
        words = self.sampler.sample(rng, rng.randint(3, 8))
        if rng.random() < 0.25:
            words.insert(0, rng.choice(VERBS))
        return "".join(words)

    def _topic(self) -> str:
        return self.rng.choices(self.topics, cum_weights=self.topic_weights)[0]

    def document(self, number: int) -> dict:
        rng = self.rng
        div = rng.choice(self.divisions)
        region = div.county or div.city or div.province
        year = rng.randint(2014, 2024)
        topic = self._topic()
        others = list({self._topic() for _ in range(rng.randint(2, 7))} - {topic}) or [topic]
        boiler = rng.sample(BOILERPLATE, rng.randint(1, 4))
        doc_type, pattern = rng.choice(TITLES)
        title = pattern.format(
            region=rng.choice([region, div.city or div.province, div.province]), year=year,
            next=year + 1, topic=topic, org=rng.choice(ORGS),
        )
        city = div.city or div.province
        own = rng.sample(self.clauses, 150)
        paragraphs = []
        length = 0
        target = rng.randint(5200, 6800)
        while length < target:
            parts = []
            for _ in range(rng.randint(3, 9)):
                roll = rng.random()
                if roll < 0.03:
                    parts.append(f"{rng.choice(VERBS)}{topic}")
                elif roll < 0.04:
                    parts.append(f"{city}{rng.choice(ORGS)}{rng.choice(VERBS)}{rng.choice(others)}")
                elif roll < 0.05:
                    parts.append(f"{rng.choice(others)}覆盖率达到{rng.randint(60, 99)}.{rng.randint(0, 9)}%")
                elif roll < 0.06:
                    parts.append(rng.choice(boiler))
                elif roll < 0.065:
                    parts.append(f"{year}年完成{rng.choice(ACRONYMS)}检查{rng.randint(100, 99999)}人次")
                elif roll < 0.08:
                    parts.append(f"{div.county or region}{rng.choice(ORGS)}")
                elif roll < 0.13:
                    parts.append(self._clause())
                else:
                    parts.append(rng.choice(own if rng.random() < 0.75 else self.clauses))
                parts.append(rng.choice(CONNECTORS))
            para = "".join(parts).rstrip("，、；") + "。"
            paragraphs.append(para)
            length += len(para) + 1
        published = f"{year + rng.choice((0, 1))}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        site = rng.choice(SITES).format(city=city, province=div.province, county=div.county or "")
        return {
            "url": f"http://bench.example/{number}.html", "title": title,
            "text": "\n".join(paragraphs), "published": published, "year": year,
            "site": site, "doc_type": doc_type, "division": div,
            "truncated": rng.random() < 0.1,
        }


def build_archive(data_dir: Path, n: int, seed: int) -> float:
    """Archive n generated documents through `Store.put_document`; returns seconds."""
    from archive.record import Record
    from archive.store import Store
    from archive.text.normalize import normalize_text
    from archive.urls import doc_id

    gen = DocumentGenerator(seed)
    start = time.perf_counter()
    with Store(data_dir) as store:
        batch = []
        for i in range(n):
            d = gen.document(i)
            div: Division = d["division"]
            batch.append(Record(
                id=doc_id(d["url"]), url=d["url"], title=normalize_text(d["title"]),
                published=d["published"], year=d["year"], site=d["site"], column="工作总结",
                region="".join(p for p in (div.province, div.city, div.county) if p),
                doc_type=d["doc_type"], text=d["text"], truncated=d["truncated"],
                region_province=div.province, region_city=div.city, region_county=div.county,
            ))
            if len(batch) == 500 or i == n - 1:
                with store.transaction():
                    for record in batch:
                        store.put_document(record)
                batch = []
                print(f"\r  archived {i + 1}/{n}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return time.perf_counter() - start



# ---------------------------------------------------------------------------------------------
# queries

#: (class, query in our language); FTS5 gets the same terms (normalized) as MATCH/LIKE. The
#: classes of the issue's targets (`CLASSES`); "very common" terms are in most documents (in
#: 20,000 generated ones: 推进 100%, 工作 95%, 卫生健康 93%, 卫健委 63%), "rare" ones in <1%.
QUERIES: tuple[tuple[str, str], ...] = (
    ("1-2 chars", "病"), ("1-2 chars", "疫"), ("1-2 chars", "医"), ("1-2 chars", "药"),
    ("1-2 chars", "癌"), ("1-2 chars", "艾"),
    ("1-2 chars", "医改"), ("1-2 chars", "疫情"), ("1-2 chars", "卫生"), ("1-2 chars", "乙肝"),
    ("1-2 chars", "鼠疫"), ("1-2 chars", "布病"), ("1-2 chars", "控烟"), ("1-2 chars", "流感"),
    ("1-2 chars", "托育"),
    ("3-4 chars", "医共体"), ("3-4 chars", "医联体"),
    ("3-4 chars", "结核病"), ("3-4 chars", "艾滋病"), ("3-4 chars", "登革热"),
    ("3-4 chars", "手足口病"), ("3-4 chars", "家庭医生"), ("3-4 chars", "分级诊疗"),
    ("3-4 chars", "公共卫生"), ("3-4 chars", "卫生机构"), ("3-4 chars", "医养结合"),
    ("3-4 chars", "核酸检测"),
    ("long", "以人民健康为中心"), ("long", "高质量发展"),
    ("long", "基层医疗卫生机构"), ("long", "家庭医生签约服务"),
    ("long", "疾病预防控制"), ("long", "互联网医院"), ("long", "孕产妇死亡率"),
    ("long", "爱国卫生运动"), ("long", "电子健康档案"),
    ("phrase", '"深入推进医共体"'), ("phrase", '"全面加强疫情防控"'),
    ("phrase", '"完成COVID-19检查"'), ("phrase", '"覆盖率达到9"'),
    ("AND", "医共体 贵州"), ("AND", "疫情 核酸检测"), ("AND", "家庭医生 高血压 糖尿病"),
    ("AND", "医改 分级诊疗"), ("AND", "卫健委 疫苗接种"), ("AND", "病 医院"),
    ("OR", "手足口病 OR 流感"), ("OR", "医共体 OR 医联体"), ("OR", "艾滋病 OR 结核病 OR 乙肝"),
    ("NOT", "医共体 -医联体"), ("NOT", "疫情 NOT 新冠肺炎"), ("NOT", "卫生健康 -卫健委"),
    ("very common", "卫生健康"), ("very common", "卫健委"), ("very common", "推进"),
    ("very common", "工作"), ("very common", "卫生健康 卫健委"),
    ("rare", "红花岗区"), ("rare", "遵义市"), ("rare", "埃博拉"), ("rare", "贵州省遵义市"),
    ("traditional", "醫共體"), ("traditional", "衛健委"), ("traditional", "醫改"),
    ("traditional", "傳染病防控"), ("traditional", "預防控制"),
    ("latin/digits", "covid-19"), ("latin/digits", "HIV"), ("latin/digits", "2023年"),
    ("latin/digits", "DRG"),
    ("title", "title:医共体"), ("title", "title:工作总结"),
)
#: The query classes the issue sets targets for, in the order the table prints them.
CLASSES = ("1-2 chars", "3-4 chars", "long", "phrase", "AND", "OR", "NOT", "very common",
           "rare")


def fts_baseline(node) -> str:
    """How FTS5 answers a query: MATCH (trigram index), LIKE (scan: terms under 3 characters
    cannot use the trigram index) or both."""
    from search.query import Term

    def terms(n):
        if isinstance(n, Term):
            yield n
        for child in getattr(n, "children", ()):
            yield from terms(child)
        if hasattr(n, "child"):
            yield from terms(n.child)

    kinds = {"MATCH" if len(t.needle) >= 3 else "LIKE" for t in terms(node)}
    return "+".join(sorted(kinds, reverse=True))


def fts_condition(node, params: list) -> str:
    """SQL condition over the FTS5 table ``f`` for a parsed query: MATCH for terms of >= 3
    characters (the trigram index), LIKE for shorter ones (FTS5's fallback: a scan)."""
    from search.query import And, Not, Term

    if isinstance(node, Term):
        needle = node.needle
        cols = {"any": ("title", "text"), "title": ("title",), "text": ("text",)}[node.scope]
        if len(needle) >= 3:
            quoted = '"' + needle.replace('"', '""') + '"'
            expr = quoted if node.scope == "any" else f"{{{node.scope}}}: {quoted}"
            params.append(expr)
            return "f.rowid IN (SELECT rowid FROM f WHERE f MATCH ?)"
        like = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        parts = []
        for col in cols:
            params.append(like)
            parts.append(f"f.{col} LIKE ? ESCAPE '\\'")
        return "(" + " OR ".join(parts) + ")"
    if isinstance(node, Not):
        return f"NOT {fts_condition(node.child, params)}"
    joiner = " AND " if isinstance(node, And) else " OR "
    return "(" + joiner.join(fts_condition(child, params) for child in node.children) + ")"


def fts_match_expression(node) -> str | None:
    """A single FTS5 MATCH expression when every term has >= 3 characters (for bm25 ranking)."""
    from search.query import And, Not, Term

    if isinstance(node, Term):
        if len(node.needle) < 3:
            return None
        quoted = '"' + node.needle.replace('"', '""') + '"'
        return quoted if node.scope == "any" else f"{{{node.scope}}}: {quoted}"
    if isinstance(node, Not):
        return None
    parts = [fts_match_expression(child) for child in node.children]
    if any(p is None for p in parts):
        return None
    joiner = " AND " if isinstance(node, And) else " OR "
    return "(" + joiner.join(parts) + ")"


# ---------------------------------------------------------------------------------------------
# building


def build_fts(archive_db: Path, fts_db: Path) -> dict:
    """An FTS5 trigram index over the archive's titles and texts (external content)."""
    if fts_db.exists():
        fts_db.unlink()
    db = sqlite3.connect(fts_db)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("ATTACH ? AS a", (str(archive_db),))
    db.execute("CREATE TABLE content (rowid INTEGER PRIMARY KEY, id TEXT, title TEXT, text TEXT)")
    db.execute("INSERT INTO content (id, title, text) SELECT id, coalesce(title, ''), text"
               " FROM a.documents ORDER BY rowid")
    db.commit()
    db.execute("DETACH a")
    db.execute("VACUUM")
    before = fts_db.stat().st_size
    docs = db.execute("SELECT count(*) FROM content").fetchone()[0]
    start = time.perf_counter()
    db.execute("CREATE VIRTUAL TABLE f USING fts5(title, text, content='content',"
               " content_rowid='rowid', tokenize='trigram')")
    db.execute("INSERT INTO f (rowid, title, text) SELECT rowid, title, text FROM content")
    db.commit()
    seconds = time.perf_counter() - start
    db.execute("VACUUM")
    db.close()
    return {"docs": docs, "seconds": seconds, "bytes": fts_db.stat().st_size - before}


def ground_truth(archive_db: Path) -> tuple[list[str], list[str], list[str]]:
    """(ids, lower-cased titles, lower-cased texts with paragraph breaks as spaces)."""
    db = sqlite3.connect(archive_db)
    ids, titles, texts = [], [], []
    for did, title, text in db.execute("SELECT id, title, text FROM documents"):
        ids.append(did)
        titles.append((title or "").lower())
        texts.append(text.replace("\n", " ").lower())
    db.close()
    return ids, titles, texts


def truth(node, ids, titles, texts, cache: dict) -> set[int]:
    from search.query import And, Not, Term

    if isinstance(node, Term):
        key = (node.needle, node.scope)
        if key not in cache:
            n = node.needle
            if node.scope == "title":
                cache[key] = {i for i, t in enumerate(titles) if n in t}
            elif node.scope == "text":
                cache[key] = {i for i, t in enumerate(texts) if n in t}
            else:
                cache[key] = {i for i, (a, b) in enumerate(zip(titles, texts, strict=True))
                              if n in a or n in b}
        return cache[key]
    if isinstance(node, Not):
        return set(range(len(ids))) - truth(node.child, ids, titles, texts, cache)
    sets = [truth(child, ids, titles, texts, cache) for child in node.children]
    return set.intersection(*sets) if isinstance(node, And) else set.union(*sets)


# ---------------------------------------------------------------------------------------------
# measuring


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


@dataclass
class QueryRun:
    label: str
    query: str
    truth: int
    ours_ms: float
    ours_found: int
    ours_recall: float
    ours_precision: float
    fts_ms: float
    fts_found: int
    fts_recall: float
    fts_precision: float
    fts_how: str = ""
    ours_cpu_ms: float = 0.0  # CPU time (this process): less disturbed by a busy machine
    fts_cpu_ms: float = 0.0
    ours_cold_ms: float = 0.0  # opening the index for the query, as `hra search` does


def recall_precision(found: set, expected: set) -> tuple[float, float]:
    hit = len(found & expected)
    return (hit / len(expected) if expected else 1.0, hit / len(found) if found else 1.0)


def run_queries(data_dir: Path, fts_db: Path, repeats: int, only: set[str] | None = None,
                fts_repeats: int | None = None) -> list[QueryRun]:
    from archive.store import Store
    from search.engine import Searcher
    from search.query import parse

    ids, titles, texts = ground_truth(data_dir / "archive.sqlite3")
    index_of = {did: i for i, did in enumerate(ids)}
    fts = sqlite3.connect(fts_db)
    cache: dict = {}
    runs = []
    with Store(data_dir, readonly=True) as store, Searcher(data_dir, store) as warm:
        for label, query in QUERIES:
            if only is not None and label not in only:
                continue
            node = parse(query)
            expected = truth(node, ids, titles, texts, cache)
            # ours: open the index (as each `hra search` does), exact total, top 10, snippets
            cold = []
            for _ in range(repeats):
                start = time.perf_counter()
                with Searcher(data_dir, store) as searcher:
                    result = searcher.search(node, limit=10)
                cold.append(time.perf_counter() - start)
            # ours on an open index (like FTS5's open connection), caches cleared each time
            ours_times, ours_cpu = [], []
            for _ in range(repeats):
                warm.clear_cache()
                start, cpu = time.perf_counter(), time.process_time()
                result = warm.search(node, limit=10)
                ours_times.append(time.perf_counter() - start)
                ours_cpu.append(time.process_time() - cpu)
            with Searcher(data_dir, store) as searcher:
                ours = {index_of[d] for d in searcher.matching_ids(node)}
            assert result.total == len(ours)
            # FTS5: exact count + top 10 with snippets (bm25 when MATCH applies)
            params: list = []
            cond = fts_condition(node, params)
            match = fts_match_expression(node)
            fts_times, fts_cpu = [], []
            for _ in range(fts_repeats or repeats):
                start, cpu = time.perf_counter(), time.process_time()
                fts.execute(f"SELECT count(*) FROM f WHERE {cond}", params).fetchone()
                if match is not None:
                    fts.execute(
                        "SELECT rowid, snippet(f, 1, '[', ']', '…', 24) FROM f WHERE f MATCH ?"
                        " ORDER BY rank LIMIT 10", (match,)).fetchall()
                else:
                    needle = parse(query).needle if hasattr(node, "needle") else None
                    rows = fts.execute(f"SELECT rowid, text FROM f WHERE {cond} LIMIT 10",
                                       params).fetchall()
                    for _rowid, text in rows:  # a snippet around the first match
                        pos = text.find(needle) if needle else 0
                        text[max(pos - 30, 0):pos + 60]
                fts_times.append(time.perf_counter() - start)
                fts_cpu.append(time.process_time() - cpu)
            rows = fts.execute(f"SELECT content.id FROM f JOIN content ON content.rowid = f.rowid"
                               f" WHERE {cond}", params).fetchall()
            theirs = {index_of[r[0]] for r in rows}
            o_r, o_p = recall_precision(ours, expected)
            f_r, f_p = recall_precision(theirs, expected)
            runs.append(QueryRun(label, query, len(expected), statistics.median(ours_times) * 1e3,
                                 len(ours), o_r, o_p, statistics.median(fts_times) * 1e3,
                                 len(theirs), f_r, f_p, fts_baseline(node),
                                 statistics.median(ours_cpu) * 1e3,
                                 statistics.median(fts_cpu) * 1e3,
                                 statistics.median(cold) * 1e3))
            print(f"  {label:<12} {query:<26} truth {len(expected):>6}  ours "
                  f"{runs[-1].ours_ms:7.1f} ms (cpu {runs[-1].ours_cpu_ms:6.1f}, opening "
                  f"{runs[-1].ours_cold_ms:6.1f}) {len(ours):>6}  "
                  f"fts5 {runs[-1].fts_ms:7.1f} ms (cpu {runs[-1].fts_cpu_ms:6.1f}) "
                  f"{len(theirs):>6}", file=sys.stderr)
    fts.close()
    return runs


def time_command(data_dir: Path, queries: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU time (user + system) of the whole `hra search` process, per run."""
    import resource

    env = {**os.environ, "HRA_DATA_DIR": str(data_dir)}
    times, cpus = [], []
    for _ in range(runs):
        for query in queries:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "archive", "search", *query.split()],
                           env=env, cwd=ROOT, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return times, cpus


def measure_segmenters(texts: list[str]) -> dict:
    """jieba vs rjieba (search mode): load + segmentation speed, and how often the words of
    `TOPICS` are not produced as tokens although the text contains them (recall misses)."""
    out: dict = {}
    for name in ("jieba", "rjieba"):
        start = time.perf_counter()
        try:
            if name == "jieba":
                import jieba

                jieba.setLogLevel(60)
                jieba.initialize()
                cut = jieba.lcut_for_search
            else:
                import rjieba

                cut = rjieba.cut_for_search
                cut("预热")
        except ImportError:
            print(f"  ({name} is not installed: skipped)", file=sys.stderr)
            continue
        load = time.perf_counter() - start
        start = time.perf_counter()
        misses = present = 0
        for text in texts:
            tokens = set(cut(text))
            for topic in ("卫健委", "医共体", "手足口病", "卫生机构", "医改", "疫情"):
                if topic in text:
                    present += 1
                    misses += topic not in tokens
        seconds = time.perf_counter() - start
        chars = sum(len(t) for t in texts)
        out[name] = {"load_s": load, "chars_per_s": chars / seconds, "miss_rate": misses / max(present, 1)}
    return out


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (rebuild workers)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def build_or_reuse(data_dir: Path, fts_db: Path, workers: int | None, reindex: bool,
                   keep_fts: bool = False) -> dict:
    """Build our index and the FTS5 table unless the work directory has them (built by this
    code's schema version); returns the build figures (saved beside them)."""
    import json

    from archive.store import Store
    from search.index import current_path, read_state, rebuild
    from search.schema import SCHEMA_VERSION

    saved = data_dir / "bench-build.json"
    figures = json.loads(saved.read_text()) if saved.exists() else {}
    path = current_path(data_dir)
    fresh = (path is not None and read_state(path).get("schema") == SCHEMA_VERSION
             and "ours" in figures)
    if reindex or not fresh:
        print("building our index (search.index.rebuild = hra reindex) ...", file=sys.stderr)
        with Store(data_dir) as store:
            cpu_before = _cpu_seconds()
            ours = rebuild(store, lambda d, t: print(f"\r  {d}/{t}", end="", file=sys.stderr),
                           workers=workers)
            cpu = _cpu_seconds() - cpu_before
        print(file=sys.stderr)
        from search.index import open_current

        _path, ix, _state = open_current(data_dir)
        with ix.reader() as reader:
            terms = sum(1 for _ in reader.all_terms())
        figures["ours"] = {"docs": ours.documents, "seconds": ours.seconds, "cpu": cpu,
                           "bytes": ours.index_bytes, "workers": ours.workers,
                           "segments": ours.segments, "terms": terms}
    if (reindex and not keep_fts) or not fts_db.exists() or "fts" not in figures:
        print("building FTS5 (trigram) ...", file=sys.stderr)
        cpu_before = _cpu_seconds()
        fts = build_fts(data_dir / "archive.sqlite3", fts_db)
        figures["fts"] = {**fts, "cpu": _cpu_seconds() - cpu_before}
    else:
        print(f"reusing the index and {fts_db.name} (built earlier; --reindex rebuilds)",
              file=sys.stderr)
    saved.write_text(json.dumps(figures))
    return figures


def print_report(n: int, chars: int, text_bytes: int, figures: dict, runs: list[QueryRun],
                 command: list[float], command_cpu: list[float]) -> None:
    text_mb = text_bytes / 1e6
    ours, fts = figures["ours"], figures["fts"]
    ours_ms = [r.ours_ms for r in runs]
    fts_ms = [r.fts_ms for r in runs]
    load = os.getloadavg()
    print()
    print(f"## {n} documents ({chars / n:.0f} chars each, {text_mb:.0f} MB UTF-8 text), "
          f"{len(runs)} queries, {os.cpu_count()} CPUs, load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f}")
    print()
    print(f"| {'':<34} | {'ours (n-gram Whoosh + key column)':<38} | {'SQLite FTS5 trigram':<24} |")
    print(f"|{'-' * 36}|{'-' * 40}|{'-' * 26}|")

    def row(name: str, a: str, b: str) -> None:
        print(f"| {name:<34} | {a:<38} | {b:<24} |")

    row("indexing docs/s", f"{ours['docs'] / ours['seconds']:.1f} ({ours['workers']} workers)",
        f"{fts['docs'] / fts['seconds']:.1f} (1 thread)")
    row("indexing MB/s", f"{text_mb / ours['seconds']:.2f}", f"{text_mb / fts['seconds']:.2f}")
    row("indexing docs per CPU-second", f"{ours['docs'] / ours['cpu']:.1f}",
        f"{fts['docs'] / fts['cpu']:.1f}")
    row("index size MB (x text)",
        f"{ours['bytes'] / 1e6:.0f} ({ours['bytes'] / text_bytes:.2f}x)",
        f"{fts['bytes'] / 1e6:.0f} ({fts['bytes'] / text_bytes:.2f}x)")
    row("terms / segments", f"{ours['terms']} / {ours['segments']}", "-")
    row("query p50 / p95 ms (open index)",
        f"{percentile(ours_ms, 0.5):.0f} / {percentile(ours_ms, 0.95):.0f}",
        f"{percentile(fts_ms, 0.5):.0f} / {percentile(fts_ms, 0.95):.0f}")
    cold = [r.ours_cold_ms for r in runs]
    row("  ours opening the index per query",
        f"{percentile(cold, 0.5):.0f} / {percentile(cold, 0.95):.0f}", "-")
    ours_c = [r.ours_cpu_ms for r in runs]
    fts_c = [r.fts_cpu_ms for r in runs]
    row("query p50 / p95 CPU ms",
        f"{percentile(ours_c, 0.5):.0f} / {percentile(ours_c, 0.95):.0f}",
        f"{percentile(fts_c, 0.5):.0f} / {percentile(fts_c, 0.95):.0f}")
    row("recall (mean / min)",
        f"{statistics.mean(r.ours_recall for r in runs):.3f} / {min(r.ours_recall for r in runs):.3f}",
        f"{statistics.mean(r.fts_recall for r in runs):.3f} / {min(r.fts_recall for r in runs):.3f}")
    row("precision (mean / min)",
        f"{statistics.mean(r.ours_precision for r in runs):.3f} / {min(r.ours_precision for r in runs):.3f}",
        f"{statistics.mean(r.fts_precision for r in runs):.3f} / {min(r.fts_precision for r in runs):.3f}")
    exact_o = sum(r.ours_recall == 1 and r.ours_precision == 1 for r in runs)
    exact_f = sum(r.fts_recall == 1 and r.fts_precision == 1 for r in runs)
    row("queries with exact results", f"{exact_o}/{len(runs)}", f"{exact_f}/{len(runs)}")
    row("`hra search` whole command p50/p95 s",
        f"{percentile(command, 0.5):.2f} / {percentile(command, 0.95):.2f}", "-")
    row("`hra search` command CPU p50/p95 s",
        f"{percentile(command_cpu, 0.5):.2f} / {percentile(command_cpu, 0.95):.2f}", "-")
    print()
    print("Per query class (wall ms, median of each query's runs; p50 and max over the class; "
          "CPU ms p50; FTS5 baseline: MATCH on the trigram index, LIKE scan for terms under 3 "
          "characters):")
    print()
    print(f"| {'class':<13} | {'n':>2} | {'ours p50':>8} | {'ours max':>8} | {'FTS5 p50':>8} | "
          f"{'FTS5 max':>8} | {'FTS5/ours':>9} | {'CPU ours':>8} | {'CPU FTS5':>8} | "
          f"{'FTS5 baseline':<13} |")
    print(f"|{'-' * 15}|{'-' * 4}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 11}|"
          f"{'-' * 10}|{'-' * 10}|{'-' * 15}|")
    labels = list(CLASSES) + [c for c in dict.fromkeys(r.label for r in runs) if c not in CLASSES]
    for label in labels:
        sub = [r for r in runs if r.label == label]
        if not sub:
            continue
        o50 = percentile([r.ours_ms for r in sub], 0.5)
        f50 = percentile([r.fts_ms for r in sub], 0.5)
        how = "/".join(dict.fromkeys(r.fts_how for r in sub))
        print(f"| {label:<13} | {len(sub):>2} | {o50:8.1f} | {max(r.ours_ms for r in sub):8.1f} | "
              f"{f50:8.1f} | {max(r.fts_ms for r in sub):8.1f} | {f50 / max(o50, 1e-6):8.1f}x | "
              f"{percentile([r.ours_cpu_ms for r in sub], 0.5):8.1f} | "
              f"{percentile([r.fts_cpu_ms for r in sub], 0.5):8.1f} | {how:<13} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hra-bench"),
                        help="generated archive, index and FTS5 table are kept here and reused")
    parser.add_argument("--reindex", action="store_true",
                        help="rebuild our index and FTS5 even if the work directory has them")
    parser.add_argument("--keep-fts", action="store_true",
                        help="with --reindex: rebuild only our index, reuse the FTS5 table")
    parser.add_argument("--workers", type=int, default=None, help="rebuild workers (default: cpus)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per query")
    parser.add_argument("--fts-repeats", type=int, default=None,
                        help="timed FTS5 runs per query (default: --repeats; its LIKE scans are "
                        "slow at 100,000 documents)")
    parser.add_argument("--runs", type=int, default=10, help="`hra search` runs per query")
    parser.add_argument("--only", default=None, help="run only the query classes named here "
                        "(comma-separated)")
    parser.add_argument("--skip-segmenters", action="store_true")
    args = parser.parse_args()

    from archive.store import Store

    data_dir = args.workdir / f"docs-{args.docs}-seed-{args.seed}"
    marker = data_dir / "BENCH-COMPLETE"
    if not marker.exists():
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)
        print(f"generating {args.docs} documents into {data_dir} ...", file=sys.stderr)
        seconds = build_archive(data_dir, args.docs, args.seed)
        marker.write_text(f"{seconds:.1f}\n")
    archive_db = data_dir / "archive.sqlite3"
    with Store(data_dir) as store:
        n, text_bytes, chars = store.db.execute(
            "SELECT count(*), sum(length(CAST(text AS BLOB)) + length(CAST(coalesce(title, '')"
            " AS BLOB))), sum(length(text)) FROM documents").fetchone()
    print(f"{n} documents, {chars / n:.0f} characters each, {text_bytes / 1e6:.0f} MB of "
          f"UTF-8 text (titles + texts)", file=sys.stderr)
    fts_db = args.workdir / f"fts-{args.docs}-seed-{args.seed}.sqlite3"
    figures = build_or_reuse(data_dir, fts_db, args.workers, args.reindex, args.keep_fts)
    print("running queries ...", file=sys.stderr)
    only = set(args.only.split(",")) if args.only else None
    runs = run_queries(data_dir, fts_db, args.repeats, only, args.fts_repeats)
    command_queries = ["医共体", "医改 分级诊疗", "家庭医生签约服务", "病", "醫共體 贵州"]
    print("timing `hra search` (whole command) ...", file=sys.stderr)
    command, command_cpu = time_command(data_dir, command_queries, args.runs)
    print_report(n, chars, text_bytes, figures, runs, command, command_cpu)
    if not args.skip_segmenters:
        _ids, _titles, texts = ground_truth(archive_db)
        segmenters = measure_segmenters(texts[:300])
        print()
        print("Word segmentation (not used by the index; why): search-mode tokens on 300 docs")
        for name, m in segmenters.items():
            print(f"  {name:<7} load {m['load_s']:.2f} s, {m['chars_per_s'] / 1e6:.2f} M chars/s, "
                  f"topic words present but not a token: {m['miss_rate']:.1%}")


if __name__ == "__main__":
    main()

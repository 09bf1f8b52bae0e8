"""Duplicate detection quality and cost on generated reports with injected reposts.

    python bench/dedup.py [--reports 2500] [--batch 100]

Generates report documents from health-work phrases (openings, actions, fields of work,
results; each report 20-30 sentences with its own city, year and figures), then injects reposts of every kind (exact copy with clutter lines,
decorated title, 5-10% of sentences edited, truncated copy, placeholder copy) and hard
negatives (a "sibling": another city's report written from the same template phrases, sharing
half of the sentence templates and all stock phrases, with its own figures; the same city's
report of another year). Total documents >= 5,000 by default.

Documents are added to a fresh archive in batches, running the incremental duplicate update
after each batch (as imports and crawls do). Prints precision and recall of duplicate pairs
(pairs in the same true cluster vs pairs in the same found cluster), ms per document at insert
time and peak RSS, beside the baseline: plain datasketch MinHashLSH on the same documents
in the same run (`plain_lsh`).
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from itertools import combinations
from pathlib import Path

from archive.dedup import update_duplicates
from archive.record import Record
from archive.store import Store

CITIES = ["扬州市", "泰州市", "南通市", "徐州市", "遵义市", "六安市", "洛阳市", "宜宾市", "黄冈市",
          "赣州市", "绵阳市", "邢台市", "大同市", "湖州市", "临沂市", "岳阳市", "无锡市", "成都市"]
OPENINGS = ["全年", "今年以来", "{year}年", "一年来", "截至年底", "上半年", "{city}", "全市", "我们",
            "市卫生健康委", "各级医疗机构", "全系统", "{city}各县区", "市直各医院", "基层医疗卫生机构"]
ACTIONS = ["扎实推进", "深入实施", "全面加强", "持续深化", "稳步开展", "大力推动", "着力完善",
           "统筹推进", "切实抓好", "积极探索", "不断提升", "加快建设", "系统谋划", "严格落实"]
OBJECTS = ["紧密型县域医共体建设", "家庭医生签约服务", "分级诊疗制度", "公立医院综合改革",
           "基本公共卫生服务项目", "疾病预防控制体系", "爱国卫生运动", "医养结合服务",
           "中医药传承创新", "妇幼健康服务", "卫生应急能力建设", "智慧医院建设", "职业病防治",
           "乡村医生队伍建设", "传染病监测预警", "医疗质量安全管理", "无偿献血工作", "托育服务体系",
           "健康促进行动", "卫生健康人才引进", "重点专科建设", "检查检验结果互认", "院前急救网络",
           "精神卫生服务", "慢性病综合防控", "老年友善医疗机构创建", "食品安全风险监测"]
RESULTS = ["覆盖率达到{p}%", "新增{b}个服务点", "惠及群众{a}万人次", "完成投资{b}万元",
           "培训人员{b}人次", "建成示范点{c}个", "考核排名全省第{c}位", "群众满意度达到{p}%",
           "服务量同比增长{a}%", "节约费用{b}万元", "建成{c}个区域中心", "下沉专家{b}名",
           "开展督查{c}轮", "整改问题{a}个", "新增床位{b}张", "签约{a}万人"]
TAILS = ["，得到省卫生健康委通报表扬", "，工作经验在全省推广", "，有效提升了群众获得感",
         "，为全省提供了可复制的经验", "，相关做法被国家卫生健康委刊发", "", "", ""]
STOCK = [
    "坚持以人民健康为中心，坚持新时代卫生与健康工作方针，全面推进健康{city}建设。",
    "在市委、市政府的坚强领导下，全市卫生健康系统团结拼搏、担当作为，各项工作取得新成效。",
    "下一步，我们将坚持问题导向和目标导向，以更加务实的作风推动各项工作落地见效。",
]


def skeleton(rng: random.Random) -> tuple[int, ...]:
    """A sentence's choice of phrases (its figures are drawn when it is written)."""
    return (rng.randrange(len(OPENINGS)), rng.randrange(len(ACTIONS)), rng.randrange(len(OBJECTS)),
            rng.randrange(len(RESULTS)), rng.randrange(len(RESULTS)), rng.randrange(len(TAILS)))


def figures(rng: random.Random) -> dict[str, int]:
    return {"a": rng.randint(10, 99), "b": rng.randint(100, 999), "c": rng.randint(2, 9),
            "p": rng.randint(60, 99)}


def write(city: str, year: int, order: list[tuple[int, ...]], rng: random.Random) -> str:
    paras = [STOCK[0].format(city=city), STOCK[1]]
    for o, a, ob, r1, r2, t in order:
        sentence = (OPENINGS[o] + ACTIONS[a] + OBJECTS[ob] + "，" + RESULTS[r1] + "，" + RESULTS[r2]
                    + TAILS[t] + "。")
        paras.append(sentence.format(city=city, year=year, **figures(rng)))
    paras.append(STOCK[2])
    return "\n".join(paras)


def edit(text: str, rng: random.Random) -> str:
    paras = text.split("\n")
    for i in rng.sample(range(len(paras)), max(1, len(paras) // 12)):
        paras[i] = paras[i].replace("，", "，同时", 1).replace("。", "，取得明显成效。", 1)
    return "\n".join(paras)


def placeholder(text: str, city: str) -> str:
    out = text.replace(city, "xx市")
    for d in "0123456789":
        out = out.replace(d, "x")
    return out


def generate(n_reports: int, seed: int = 1) -> list[tuple[Record, int]]:
    """(record, true cluster id) pairs."""
    rng = random.Random(seed)
    docs: list[tuple[Record, int]] = []
    cluster = 0

    def add(text: str, **kw: object) -> None:
        did = f"d{len(docs):06d}"
        host = kw.pop("host", f"www.fanwen{rng.randint(1, 40)}.com")
        rec = Record(id=did, url=f"http://{host}/a/{did}.html", title=str(kw.pop("title")),
                     published=f"{kw.pop('year')}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                     year=None, site=host, column=None, region=None, doc_type="summary",
                     text=text, **kw)  # type: ignore[arg-type]
        docs.append((rec, cluster))

    for _ in range(n_reports):
        city, year = rng.choice(CITIES), rng.randint(2019, 2024)
        order = [skeleton(rng) for _ in range(rng.randint(20, 30))]
        base = write(city, year, order, rng)
        title = f"{city}卫生健康委{year}年工作总结"
        add(base, title=title, year=year + 1, host=f"wjw.{rng.randint(1, 300)}.gov.cn")
        kind = rng.random()
        if kind < 0.15:
            add("下面是小编为大家整理的范文，供大家参考。\n" + base, title=title + "【精选推荐】",
                year=year + 1)
        elif kind < 0.30:
            add(edit(base, rng), title=title + "(全文完整)", year=year + 1)
        elif kind < 0.42:
            cut = base[: int(len(base) * rng.uniform(0.3, 0.7))]
            add(cut, title=title, year=year + 1, truncated=True, full_length=len(base))
        elif kind < 0.54:
            add(placeholder(base, city), title="xx市卫生健康委xxxx年工作总结", year=year + 1,
                placeholders=True)
        elif kind < 0.62:
            add(base, title=title, year=year + 1)  # an exact repost
        cluster += 1
        if rng.random() < 0.25:
            # A sibling from the same template phrases: another city's report that shares half
            # of this one's sentence templates (in its own order) and its stock phrases.
            other = rng.choice([c for c in CITIES if c != city])
            mix = order[: len(order) // 2] + [skeleton(rng) for _ in range(len(order) // 2)]
            rng.shuffle(mix)
            add(write(other, year, mix, rng), title=f"{other}卫生健康委{year}年工作总结",
                year=year + 1)
            cluster += 1
        if rng.random() < 0.15:  # the same city's report of another year
            add(write(city, year - 1, [skeleton(rng) for _ in range(25)], rng),
                title=f"{city}卫生健康委{year - 1}年工作总结", year=year)
            cluster += 1
    return docs


def pairs(groups: dict[object, list[str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for members in groups.values():
        out.update(combinations(sorted(members), 2))
    return out


def plain_lsh(docs: list[tuple[Record, int]]) -> tuple[float, set[tuple[str, str]]]:
    """The baseline: datasketch's MinHashLSH as its documentation shows it (MinHash of the
    text's character 5-grams, 128 permutations, threshold 0.7; query, then insert, each
    document), clusters = connected components of the reported pairs. Returns (seconds, pairs)."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.7, num_perm=128)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    start = time.perf_counter()
    for rec, _ in docs:
        m = MinHash(num_perm=128)
        text = rec.text
        m.update_batch([text[i:i + 5].encode("utf-8") for i in range(max(len(text) - 4, 1))])
        for other in lsh.query(m):
            parent[find(other)] = find(rec.id)
        lsh.insert(rec.id, m)
    seconds = time.perf_counter() - start
    groups: dict[object, list[str]] = {}
    for rec, _ in docs:
        groups.setdefault(find(rec.id), []).append(rec.id)
    return seconds, pairs(groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=3300, help="base reports (plus copies)")
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()

    docs = generate(args.reports)
    print(f"{len(docs)} documents from {args.reports} reports "
          f"({len(docs) - len({c for _, c in docs})} injected copies)")
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp)) as store:
        spent = 0.0
        for i in range(0, len(docs), args.batch):
            for rec, _ in docs[i : i + args.batch]:
                store.put_document(rec)
            start = time.perf_counter()
            update_duplicates(store)
            spent += time.perf_counter() - start
        truth: dict[object, list[str]] = {}
        for rec, cid in docs:
            truth.setdefault(cid, []).append(rec.id)
        found: dict[object, list[str]] = {}
        for rec in store.iter_documents(order="id"):
            found.setdefault(rec.duplicate_of or rec.id, []).append(rec.id)
    want, got = pairs(truth), pairs(found)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    base_seconds, base_got = plain_lsh(docs)
    print(f"duplicate pairs: true {len(want)}")
    for label, seconds, found_pairs in (("hra (archive.dedup)", spent, got),
                                        ("plain datasketch LSH", base_seconds, base_got)):
        tp = len(want & found_pairs)
        precision = tp / len(found_pairs) if found_pairs else 1.0
        recall = tp / len(want) if want else 1.0
        print(f"{label:<22} found {len(found_pairs):>5}, correct {tp:>5}   precision "
              f"{precision:.4f}  recall {recall:.4f}   {seconds / len(docs) * 1000:5.1f} ms/document")
    print(f"targets: hra P/R >= 0.99 at <= 5 ms/document; ratio hra/plain time "
          f"{spent / base_seconds:.2f}")
    print(f"peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()

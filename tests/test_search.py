"""Search semantics: exact substring recall/precision (property-based), boolean queries, ranking,
filters, facets, paging, highlights, and `hra search` as a user runs it."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from archive.store import Store
from archive.text.normalize import search_key
from search.engine import Filters
from search.query import QueryError, parse
from tests.search_fixtures import archive, containing, found, hra, record, search, update


def test_helpers_build_an_archive_and_ground_truth(tmp_path: Path) -> None:
    """The helpers of tests/search_fixtures.py themselves."""
    recs = archive(tmp_path, [record(1, "医共体总结", "推進醫共體建設"), record(2, "其他", "疫情")])
    assert recs[0].text == "推进医共体建设"
    assert containing(recs, "醫共體") == {recs[0].id}
    with Store(tmp_path) as store:
        assert store.count_documents() == 2


# ---------------------------------------------------------------------------------------------
# property: every document containing the normalized substring is found, and no other

FRAGMENTS = [
    "医共体", "卫健委", "手足口病", "医改", "疫情", "家庭医生", "签约服务", "卫生机构",
    "基层医疗卫生机构", "公共卫生", "疾病预防控制", "传染病", "新冠肺炎", "核酸检测", "疫苗",
    "遵义市", "红花岗区", "贵州省", "滨江", "全市", "深入推进", "建设", "工作", "总结", "会议",
    "医疗", "卫生", "健康", "生育", "医院", "病", "医", "卫", "生", "疫", "共", "体", "改",
    "COVID-19", "HIV", "IARC", "CT", "2023年", "12个", "95.6%", "x个", "(试行)",
    "，", "。", "、", "；", "：", " ", "\n", "“", "”",
    "醫共體", "衛健委", "預防", "醫改", "疫情防控", "傳染病", "體檢", "衛生機構",
    # mixed widths: the archive keeps full-width punctuation, the search key has ASCII
    "医共体，（试行）ＡＢＣ１２３", "（试行）", ",", "(", "？", "?", "①", "ＩＡＲＣ",
]

fragment = st.sampled_from(FRAGMENTS)
document = st.tuples(
    st.lists(fragment, min_size=1, max_size=5).map("".join),
    st.lists(fragment, min_size=1, max_size=40).map("".join),
)


@functools.lru_cache(maxsize=1)
def _s2t():
    import opencc

    return opencc.OpenCC("s2t")


@st.composite
def corpus_and_queries(draw):
    docs = draw(st.lists(document, min_size=1, max_size=10))
    queries = []
    for _ in range(draw(st.integers(3, 8))):
        title, text = draw(st.sampled_from(docs))
        source = draw(st.sampled_from([title, text, text]))
        start = draw(st.integers(0, max(len(source) - 1, 0)))
        length = draw(st.integers(1, 8))
        piece = source[start:start + length]
        if draw(st.booleans()):
            piece = _s2t().convert(piece)
        queries.append(piece)
    queries += draw(st.lists(st.lists(fragment, min_size=1, max_size=3).map("".join),
                             max_size=3))
    return docs, queries


def _phrase(piece: str) -> str | None:
    """The piece as a quoted phrase (None if it normalizes to nothing)."""
    if not search_key(piece):
        return None
    return f'"{piece}"'


# Each example builds an archive and an index: no shrinking (it would take minutes); the
# falsifying example is printed as generated.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


@settings(max_examples=150, deadline=None, phases=NO_SHRINK,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(corpus_and_queries())
def test_every_document_containing_the_substring_is_found_and_no_other(data):
    docs, queries = data
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        recs = archive(path, [record(i, t, x) for i, (t, x) in enumerate(docs)])
        update(path)
        for piece in queries:
            query = _phrase(piece)
            if query is None:
                continue
            assert found(path, query) == containing(recs, piece), (piece, query)


@settings(max_examples=60, deadline=None, phases=NO_SHRINK,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(document, min_size=2, max_size=8),
       st.lists(st.sampled_from(FRAGMENTS[:47]), min_size=3, max_size=3),
       st.sampled_from(["{a} {b}", "{a} OR {b}", "{a} -{b}", "({a} OR {b}) {c}",
                        "NOT {a} {b}", "{a} {b} {c}", "title:{a} {b}", "text:{a} -text:{c}"]))
def test_boolean_queries_match_set_algebra(docs, words, shape):
    words = [w.strip() for w in words]
    assume(all(search_key(w) and " " not in w for w in words))
    a, b, c = (f'"{w}"' for w in words)
    query = shape.format(a=a, b=b, c=c)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        recs = archive(path, [record(i, t, x) for i, (t, x) in enumerate(docs)])
        update(path)
        every = {r.id for r in recs}

        def has(word: str, scope: str = "any") -> set[str]:
            needle = search_key(word)
            return {r.id for r in recs
                    if (scope != "text" and needle in search_key(r.title or ""))
                    or (scope != "title" and needle in search_key(r.text).replace("\n", " "))}

        A, B, C = (has(w) for w in words)
        expected = {
            "{a} {b}": A & B, "{a} OR {b}": A | B, "{a} -{b}": A - B,
            "({a} OR {b}) {c}": (A | B) & C, "NOT {a} {b}": (every - A) & B,
            "{a} {b} {c}": A & B & C,
            "title:{a} {b}": has(words[0], "title") & B,
            "text:{a} -text:{c}": has(words[0], "text") - has(words[2], "text"),
        }[shape]
        assert found(path, query) == expected, query


# ---------------------------------------------------------------------------------------------
# a small fixed archive


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    path = tmp_path_factory.mktemp("reports")
    recs = [
        record("title", "遵义市2023年医共体建设工作总结", "今年推进紧密型县域建设，成效明显。医共体运行平稳。",
               region="贵州省遵义市", region_province="贵州省", region_city="遵义市",
               year=2023, published="2023-12-20", doc_type="summary", site="遵义市卫生健康局"),
        record("about", "红花岗区卫生健康工作汇报", "医共体医共体。医共体牵头医院下沉。医共体人员统筹。医共体绩效考核。",
               region="贵州省遵义市红花岗区", region_province="贵州省", region_city="遵义市",
               region_county="红花岗区", year=2022, published="2022-06-01", doc_type="report",
               site="红花岗区人民政府", truncated=True),
        record("once", "贵阳市卫生健康工作要点", "全年工作很多，其中提到医共体一次，重点是疫情防控和医改。" * 3,
               region="贵州省贵阳市", region_province="贵州省", region_city="贵阳市", year=2024,
               published="2024-02-15", doc_type="plan", site="贵阳市卫生健康委员会"),
        record("other", "滨江市手足口病防控工作总结", "手足口病疫情平稳，卫健委部署COVID-19和HIV防治。",
               region="浙江省杭州市", region_province="浙江省", region_city="杭州市", year=2023,
               published="2023-05-05", doc_type="summary", site="新文秘网",
               url="http://www.xinwenmi.example/a/1.html"),
        record("dup", "滨江市手足口病防控工作总结", "手足口病疫情平稳，卫健委部署COVID-19和HIV防治。（转载）",
               region="浙江省杭州市", region_province="浙江省", region_city="杭州市", year=2023,
               published="2023-05-06", doc_type="summary", site="范文网",
               duplicate_of=None),
    ]
    recs[4].duplicate_of = recs[3].id
    archive(path, recs)
    update(path)
    return path, dict(zip(("title", "about", "once", "other", "dup"), recs, strict=True))


def _ids(result) -> list[str]:
    return [hit.id for hit in result.hits]


def test_title_match_and_topical_reports_rank_above_a_passing_mention(reports):
    path, recs = reports
    order = _ids(search(path, "医共体"))
    assert order[0] == recs["title"].id  # in the title
    assert order.index(recs["about"].id) < order.index(recs["once"].id)  # about it > once


def test_traditional_and_full_width_queries_are_normalized(reports):
    path, recs = reports
    assert found(path, "醫共體") == found(path, "医共体")
    assert found(path, "ＣＯＶＩＤ－１９") == {recs["other"].id, recs["dup"].id}
    assert found(path, "hiv") == found(path, "HIV") == {recs["other"].id, recs["dup"].id}


def test_two_character_words_and_one_character_queries(reports):
    path, recs = reports
    assert found(path, "医改") == {recs["once"].id}  # FTS5's trigram tokenizer cannot
    assert found(path, "疫情") == {recs["once"].id, recs["other"].id, recs["dup"].id}
    assert found(path, "汇") == {recs["about"].id}


def test_filters(reports):
    path, recs = reports
    every = set(found(path, "工作"))
    assert found(path, "工作", Filters(year=2023)) == {
        recs["title"].id, recs["other"].id, recs["dup"].id}
    assert found(path, "工作", Filters(since="2023-05-06", until="2023-12-31")) == {
        recs["title"].id, recs["dup"].id}
    zunyi = {recs["title"].id, recs["about"].id}
    for region in ("遵义", "遵义市", "贵州省遵义市"):
        assert found(path, "工作", Filters(region=region)) == zunyi
    assert found(path, "工作", Filters(region="贵州")) == zunyi | {recs["once"].id}
    assert found(path, "工作", Filters(region="红花岗区")) == {recs["about"].id}
    assert found(path, "工作", Filters(doc_type="plan")) == {recs["once"].id}
    assert found(path, "工作", Filters(site="新文秘网")) == {recs["other"].id}
    assert found(path, "工作", Filters(site="www.xinwenmi.example")) == {recs["other"].id}
    assert found(path, "工作", Filters(complete=True)) == every - {recs["about"].id}
    assert found(path, "工作", Filters(canonical=True)) == every - {recs["dup"].id}
    assert found(path, "工作", Filters(region="火星")) == set()


def test_facets_count_all_matches_not_just_the_page(reports):
    path, _recs = reports
    result = search(path, "工作", limit=1, facets=True)
    assert result.total == 5 and len(result.hits) == 1
    assert result.facets["year"] == {"2023": 3, "2022": 1, "2024": 1}
    assert result.facets["region"] == {"贵州省": 3, "浙江省": 2}
    assert result.facets["doc_type"] == {"summary": 3, "plan": 1, "report": 1}
    assert sum(result.facets["site"].values()) == 5


def test_paging_is_a_partition_of_the_ranking(reports):
    path, _recs = reports
    full = _ids(search(path, "工作", limit=100))
    pages = [_ids(search(path, "工作", limit=2, page=p)) for p in (1, 2, 3, 4)]
    assert [hit for page in pages for hit in page] == full and pages[3] == []
    by_date = search(path, "工作", sort="date", limit=100).hits
    dates = [hit.published for hit in by_date]
    assert dates == sorted(dates, reverse=True)


def test_highlights_cover_whole_matches(reports):
    path, recs = reports
    hit = next(h for h in search(path, "医共 共体").hits if h.id == recs["about"].id)
    spans = [hit.snippet[s:e] for s, e in hit.highlights]
    assert spans and all("医共体" in s for s in spans)  # overlapping matches merged, whole
    title_hit = search(path, "遵义").hits[0]
    assert [title_hit.title[s:e] for s, e in title_hit.title_highlights] == ["遵义"]


def test_ascii_punctuation_in_a_query_highlights_the_full_width_text(tmp_path: Path):
    recs = archive(tmp_path, [record(0, "管理办法（试行）", "医共体建设，全市组建医共体12个；①项")])
    update(tmp_path)
    for query, title_spans, text_spans in (
            ('"(试行)"', ["（试行）"], []), ('"建设,全市"', [], ["建设，全市"]),
            ('"12个;"', [], ["12个；"]), ('"1项"', [], ["①项"])):
        (hit,) = search(tmp_path, query).hits
        assert hit.id == recs[0].id, query
        assert [hit.title[s:e] for s, e in hit.title_highlights] == title_spans, query
        assert [hit.snippet[s:e] for s, e in hit.highlights] == text_spans, query


@pytest.mark.parametrize("query", ['"abc', "OR", "医改 OR", "OR 医改", "(医改", "医改)", "NOT",
                                   "-", "title:", '""', "   "])
def test_malformed_queries_raise(query):
    with pytest.raises(QueryError):
        parse(query)


def test_phrase_semantics():
    assert parse('"家庭 医生"').needle == "家庭 医生"
    assert parse("方案(试行)").needle == "方案(试行)"
    assert parse('"OR"').needle == "or"


# ---------------------------------------------------------------------------------------------
# the command


def test_hra_search_human_and_json_output(reports):
    path, recs = reports
    result = hra("search", "醫共體", "--limit", "2", data_dir=path)
    assert result.returncode == 0, result.stderr
    assert "3 document(s) match 醫共體" in result.stdout
    assert "遵义市2023年医共体建设工作总结" in result.stdout and recs["title"].id in result.stdout
    assert "2023-12-20 · 贵州省遵义市 · summary · 遵义市卫生健康局" in result.stdout
    result = hra("search", "医共体", "--json", "--facets", "--region", "贵州", data_dir=path)
    data = json.loads(result.stdout)
    assert data["total"] == 3 and len(data["hits"]) == 3
    assert set(data["hits"][0]) >= {"id", "title", "url", "published", "year", "region",
                                    "doc_type", "site", "score", "snippet"}
    assert data["facets"]["region"] == {"贵州省": 3}
    hit = data["hits"][0]
    assert all(hit["snippet"][s:e] == "医共体" for s, e in hit["highlights"])


def test_hra_search_malformed_query_exits_2(reports):
    path, _recs = reports
    for args in (['"医改'], ["OR"], ["医改", "OR"], ["--year", "2023", "--since", "2022", "x"]):
        result = hra("search", *args, data_dir=path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
    assert "unbalanced quote" in hra("search", '"医改', data_dir=path).stderr


def test_hra_search_without_an_index_says_how_to_build_it(tmp_path: Path):
    archive(tmp_path, [record(1, "医改", "医改工作")])
    result = hra("search", "医改", data_dir=tmp_path)
    assert result.returncode == 1 and "hra reindex" in result.stderr
    result = hra("reindex", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "indexed 1 document(s)" in result.stdout
    assert "1 document(s) match" in hra("search", "医改", data_dir=tmp_path).stdout


def test_hra_search_on_an_empty_index(tmp_path: Path):
    archive(tmp_path, [])
    assert hra("reindex", data_dir=tmp_path).returncode == 0
    result = hra("search", "医改", data_dir=tmp_path)
    assert result.returncode == 1 and "index is empty" in result.stderr


def test_hra_search_notes_a_lagging_index_and_reindex_incremental_catches_up(tmp_path: Path):
    archive(tmp_path, [record(1, "医改", "医改工作")])
    update(tmp_path)
    archive(tmp_path, [record(2, "新的医改报告", "医改新进展")])  # not indexed yet
    result = hra("search", "医改", data_dir=tmp_path)
    assert result.returncode == 0 and "1 document(s) match" in result.stdout
    assert "1 archive change(s) behind" in result.stderr
    result = hra("reindex", "--incremental", "--json", data_dir=tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout)["applied"] == 1
    result = hra("search", "医改", data_dir=tmp_path)
    assert "2 document(s) match" in result.stdout and "behind" not in result.stderr


def test_hits_count_their_reposts(reports):
    path, recs = reports
    hits = {hit.id: hit for hit in search(path, "手足口病").hits}
    assert hits[recs["other"].id].copies == 2  # itself and the repost marked duplicate_of it
    assert hits[recs["dup"].id].copies == 1
    assert hits[recs["other"].id].to_json()["copies"] == 2


def test_browsing_without_a_query_lists_filtered_documents_newest_first(reports):
    path, recs = reports
    result = search(path, None, Filters(region="贵州"), limit=100)
    assert [hit.id for hit in result.hits] == [recs["once"].id, recs["title"].id,
                                               recs["about"].id]
    assert result.total == 3 and all(hit.score == 0 for hit in result.hits)
    assert result.hits[0].snippet.startswith("全年工作很多") and result.hits[0].highlights == []
    everything = search(path, None, Filters(canonical=True), limit=100)
    assert everything.total == 4 and recs["dup"].id not in {h.id for h in everything.hits}
    dates = [hit.published for hit in everything.hits]
    assert dates == sorted(dates, reverse=True)
    page = search(path, None, Filters(canonical=True), limit=2, page=2)
    assert [h.id for h in page.hits] == [h.id for h in everything.hits[2:4]]


def test_hits_carry_the_records_flags(reports):
    path, recs = reports
    hits = {hit.id: hit for hit in search(path, "医共体").hits}
    about = hits[recs["about"].id]
    assert about.truncated and about.flags == ["截断"]
    assert about.to_json()["truncated"] is True and about.to_json()["flags"] == ["截断"]
    assert hits[recs["title"].id].flags == [] and not hits[recs["title"].id].truncated
    dup = next(h for h in search(path, "手足口病").hits if h.id == recs["dup"].id)
    assert dup.duplicate_of == recs["other"].id
    assert dup.flags == [f"转载副本(原件 {recs['other'].id})"]

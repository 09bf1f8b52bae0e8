"""The index's key column: verification reads it instead of the archive text, with the same
exact results; segments without one fall back to the archive; the search command's imports stay
lean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.store import Store
from archive.text.normalize import has_wide, normalize_text, search_key
from search.engine import Searcher
from search.query import Term
from search.schema import has_compat, key_value
from tests.search_fixtures import ROOT, archive, containing, record, update
from tests.test_search import FRAGMENTS

fragment = st.sampled_from([*FRAGMENTS, "İstanbul", "ΣΑΣ", "①②", "℃", "\u3000", "Ⅻ", "ǅ"])


def _parts(key: bytes) -> tuple[str, str]:
    size = int.from_bytes(key[:4], "little")
    title, sep, text = key[4:4 + size], key[4 + size:5 + size], key[5 + size:]
    assert sep == b"\n"
    return title.decode("utf-8"), text.decode("utf-8")


@settings(max_examples=300, deadline=None)
@given(st.lists(fragment, max_size=6).map("".join), st.lists(fragment, max_size=30).map("".join),
       st.lists(fragment, min_size=1, max_size=3).map("".join))
def test_a_needle_is_in_the_key_iff_it_is_in_the_search_key(title, text, query):
    """The definition of a match (tests/search_fixtures.containing) holds on the key of
    archived (normalized) text: full-width punctuation, U+3000, compatibility forms, non-ASCII
    capitals, paragraph breaks."""
    title, text = normalize_text(title), normalize_text(text)
    needle = search_key(" ".join(query.split()))
    if not needle:
        return
    compat = has_compat(title) or has_compat(text)
    tkey, xkey = _parts(key_value(title, text, compat))
    assert (needle in tkey) == (needle in search_key(title))
    assert (needle in xkey) == (needle in search_key(text).replace("\n", " "))
    assert "\n" not in xkey and "\n" not in needle


def test_key_layout():
    key = key_value("医共体（试行）", "第一段ＡＢ，IARC\n第二段", compat=False)
    assert key == (len("医共体(试行)".encode()).to_bytes(4, "little") + "医共体(试行)".encode()
                   + b"\n" + "第一段ab,iarc 第二段".encode())
    assert has_wide("（")


DOCS = [
    ("贵州省卫生健康委员会2023年工作总结", "深入推进医共体建设，（试行）方案。\nIARC 与 COVID-19 检测"),
    ("医联体建设情况汇报", "全市医联体覆盖率达到95.6%\u3000基层医疗卫生机构"),
    ("ΣΑΣ 与 İstanbul 的交流", "①推进家庭医生签约服务；②加强疫情防控"),
    ("关于手足口病防控的通知", "手足口病 流感 医共体"),
    ("其他", "卫生健康事业高质量发展"),
]
QUERIES = ["医共体", "医联体", "(试行)", "iarc", "covid-19", "95.6%", "机构", "σας", "istanbul",
           "1推进", "疫情防控", "流感 医共体", '"签约服务;2加强"', "title:总结", "text:医共体",
           "医共体 -流感", "手足口病 OR 医联体", '"覆盖率达到95.6% 基层"', "卫生健康"]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("keys")
    records = archive(data_dir, [record(i, t, x) for i, (t, x) in enumerate(DOCS)])
    update(data_dir)
    return data_dir, records


def _matches(data_dir: Path, query: str, **patch) -> set[str]:
    with Store(data_dir, readonly=True) as store, Searcher(data_dir, store) as searcher:
        for name, value in patch.items():
            setattr(searcher.index if name == "keys" else store, name,
                    value(searcher) if callable(value) and name == "keys" else value)
        return searcher.matching_ids(query)


def _refuse(*_args, **_kwargs):
    raise AssertionError("verification read the archive text")


@pytest.mark.parametrize("query", QUERIES)
def test_verification_reads_the_key_column_not_the_archive(indexed, query):
    data_dir, records = indexed
    truth = _truth(records, query, data_dir)
    assert _matches(data_dir, query, text_bytes=_refuse) == truth


@pytest.mark.parametrize("query", QUERIES)
def test_segments_without_a_key_column_are_verified_from_the_archive(indexed, query):
    data_dir, records = indexed
    no_keys = lambda searcher: [None] * len(searcher.index.keys)  # noqa: E731
    assert _matches(data_dir, query, keys=no_keys) == _truth(records, query, data_dir)


def test_a_needle_with_a_line_break_never_spans_title_and_text(indexed):
    """The key separates title and text with a line break; the parser folds whitespace, but a
    `Term` built by hand may hold one: it is verified from the archive, title and text apart."""
    data_dir, _records = indexed
    with Store(data_dir, readonly=True) as store, Searcher(data_dir, store) as searcher:
        live = searcher.index.live()
        assert searcher.matcher.exact(Term("工作总结"), live)
        assert searcher.matcher.exact(Term("深入推进"), live)
        assert searcher.matcher.exact(Term("工作总结\n深入推进"), live) == set()


def _truth(records, query: str, data_dir: Path) -> set[str]:
    """Ground truth by the definition (search keys), via the parsed query's set algebra."""
    from search.query import And, Not, Or, parse

    everyone = {r.id for r in records}

    def walk(node) -> set[str]:
        if isinstance(node, Term):
            if node.scope == "any":
                return containing(records, node.needle)
            return {r.id for r in records if node.needle in (
                search_key(r.title or "") if node.scope == "title"
                else search_key(r.text).replace("\n", " "))}
        if isinstance(node, Not):
            return everyone - walk(node.child)
        sets = [walk(c) for c in node.children]
        return set.intersection(*sets) if isinstance(node, And) else set.union(*sets)

    assert isinstance(parse(query), Term | Not | And | Or)
    return walk(parse(query))


HEAVY = ("scrapy", "twisted", "docx", "datasketch", "lxml", "playwright", "openpyxl",
         "reportlab", "pdfminer", "starlette", "uvicorn", "jieba")


def test_the_search_command_does_not_import_the_crawler_or_exporters(indexed):
    """`hra search` loads what a search needs only (the command's start-up time is most of
    its wall time): no Scrapy, Word/Excel/PDF writers, MinHash or web server."""
    data_dir, _records = indexed
    code = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}}"
        f" & set({list(HEAVY)!r}))), file=sys.stderr))\n"
        f"sys.argv = ['hra', '--data-dir', {str(data_dir)!r}, 'search', '医共体']\n"
        "from archive.cli import main\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "医共体" in proc.stdout
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.lists(fragment, min_size=1, max_size=4).map("".join),
                          st.lists(fragment, min_size=1, max_size=20).map("".join)),
                min_size=1, max_size=6),
       st.lists(st.lists(fragment, min_size=1, max_size=2).map("".join), min_size=1, max_size=4))
def test_key_verification_equals_the_definition(tmp_path_factory, docs, queries):
    data_dir = tmp_path_factory.mktemp("prop")
    records = archive(data_dir, [record(i, t, x) for i, (t, x) in enumerate(docs)])
    update(data_dir)
    for piece in queries:
        needle = search_key(" ".join(piece.split()))
        if not needle or '"' in needle:
            continue
        query = '"' + needle + '"'
        assert _matches(data_dir, query, text_bytes=_refuse) == containing(records, needle)


def test_merged_segments_keep_their_keys(tmp_path: Path):
    """Documents indexed a few at a time land in small segments that are merged (tiered):
    the merged segment has every document's key, and searches still read only keys."""
    first = archive(tmp_path, [record(i, t, x) for i, (t, x) in enumerate(DOCS)])
    update(tmp_path)  # the first index: a rebuild
    more = [record(100 + i, f"第{i}份{t}", x) for i, (t, x) in enumerate(DOCS * 3)]
    for rec in more:  # one batch (one segment) per document
        archive(tmp_path, [rec])
        update(tmp_path)
    records = first + more
    with Store(tmp_path, readonly=True) as store, Searcher(tmp_path, store) as searcher:
        segments = len(searcher.index.keys)
        assert segments < len(more), "the small segments were merged"
        assert all(column is not None for column in searcher.index.keys)
    for query in QUERIES:
        assert _matches(tmp_path, query, text_bytes=_refuse) == _truth(records, query, tmp_path)


@pytest.mark.parametrize("cutoff", [2, 2**15])
def test_var_column_layout_reads_whooshs_column_files(tmp_path: Path, cutoff: int):
    """`var_column_layout` parses what Whoosh's ``VarBytesColumn`` writes, with the offsets
    array (more documents than the cutoff) and without, like Whoosh's own reader."""
    from whoosh.columns import VarBytesColumn
    from whoosh.filedb.filestore import FileStorage

    from search.whoosh_internals import var_column_layout

    values = [f"文档{i}".encode() * (i % 7) for i in range(300)]  # empty values included
    column = VarBytesColumn(write_offsets_cutoff=cutoff)
    storage = FileStorage(str(tmp_path))
    out = storage.create_file("c.col")
    writer = column.writer(out)
    for docnum, value in enumerate(values):
        if value:
            writer.add(docnum, value)
    writer.finish(len(values))
    out.close()
    data = (tmp_path / "c.col").read_bytes()
    offsets, lengths = var_column_layout(data, len(values))
    assert [data[o:o + n] for o, n in zip(offsets, lengths, strict=True)] == values
    reader = column.reader(storage.open_file("c.col"), 0, len(data), len(values))
    assert [reader[d] for d in range(len(values))] == values

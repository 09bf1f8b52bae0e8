"""How ``search/`` depends on the rest: the Whoosh version and the private Whoosh attributes it
relies on (all read in `search.whoosh_internals`), the import paths pickled into every index,
and no imports of the crawler or the CLI."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archive.store import Store
from search import whoosh_internals as wi
from tests.conftest import ROOT
from tests.search_fixtures import archive, record, update

SEARCH = ROOT / "search"


def _sources() -> list[Path]:
    return sorted(SEARCH.glob("*.py"))


def _resolve(path: str) -> Any:
    """A module, or a (nested) class of one, by dotted path."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


def _qualname(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    """An index of four documents, one of them deleted afterwards (a segment with deletions)."""
    data_dir = tmp_path_factory.mktemp("layout")
    recs = archive(data_dir, [
        record(i, f"工作总结{i}", f"医共体建设第{i}年，COVID-19 防控。", published=f"2023-0{i + 1}-01")
        for i in range(4)
    ])
    update(data_dir)
    with Store(data_dir) as store:
        store.delete_document(recs[0].id)
    update(data_dir)
    return data_dir


def test_whoosh_is_the_version_the_internals_were_written_for():
    import whoosh

    assert whoosh.__version__ == wi.WHOOSH_VERSION == (2, 7, 4)


def test_every_private_whoosh_attribute_used_exists_on_the_real_objects(index_dir: Path):
    from search.index_files import open_current
    from search.reader import GenerationReader, segment_readers

    _path, ix, _state = open_current(index_dir)
    index = GenerationReader(index_dir)
    try:
        (leaf, _base), = segment_readers(index.reader)
        assert leaf.has_deletions()
        instances = [ix, leaf, leaf._perdoc, wi.open_lengths(leaf, "text")]
        instances += [wi.open_column(leaf, name) for name in ("id", "fingerprint", "day")]
        by_class: dict[str, list[Any]] = {}
        for obj in instances:
            by_class.setdefault(_qualname(obj), []).append(obj)
        for owner, names in wi.PRIVATE.items():
            target = _resolve(owner)  # the class (or module) exists under that name
            # instance attributes exist on instances only: check those where there are some
            for obj in by_class.get(owner) or [target]:
                missing = [n for n in names if not hasattr(obj, n)]
                assert not missing, f"{owner} has no {missing} (Whoosh changed?)"
        assert {o for o in wi.PRIVATE if by_class.get(o)} >= {
            "whoosh.reading.SegmentReader", "whoosh.codec.whoosh3.W3PerDocReader",
            "whoosh.columns.NumericColumn.Reader", "whoosh.columns.FixedBytesColumn.Reader",
            "whoosh.columns.VarBytesColumn.Reader",
        }, "the instance attributes are checked on real instances"
    finally:
        index.close()
        ix.close()


def test_the_internals_agree_with_whooshs_public_api(index_dir: Path):
    from search.index_files import open_current
    from search.segments import column_values, field_lengths

    path, ix, _state = open_current(index_dir)
    toc = wi.read_toc(ix)
    assert toc.generation == ix.latest_generation()
    toc_pattern, segment_pattern = wi.toc_file_patterns("MAIN")
    names = [p.name for p in path.iterdir()]
    assert any(toc_pattern.match(n) for n in names)
    assert {m.group(1) for n in names if (m := segment_pattern.match(n))} >= {
        seg.segment_id() for seg in toc.segments}
    with ix.reader() as reader:
        for leaf, _base in reader.leaf_readers():
            count = leaf.doc_count_all()
            assert wi.deleted_docnums(leaf) == {d for d in range(count) if leaf.is_deleted(d)}
            assert wi.deleted_docnums(leaf)
            for name in ("id", "fingerprint", "day"):
                public = leaf.column_reader(name)
                assert column_values(leaf, name) == [public[d] for d in range(count)]
            for name in ("title", "text"):
                assert field_lengths(leaf, name) == [
                    leaf.doc_field_length(d, name) for d in range(count)]
            assert wi.terms_reader(leaf).__class__.__name__ == "GramTermsReader"


def test_pickled_classes_keep_their_import_paths(index_dir: Path):
    """The TOC pickles the codec and the schema's field classes by module and name."""
    from search.index_files import current_path

    path = current_path(index_dir)
    assert path is not None
    toc = max(path.glob("_MAIN_*.toc"), key=lambda p: p.stat().st_mtime).read_bytes()
    for module, name in (("search.codec", "GramCodec"), ("search.analysis", "GramField"),
                         ("search.analysis", "TfFormat"), ("search.analysis", "GramTokenizer"),
                         ("search.schema", "Keywords")):
        assert module.encode() in toc and name.encode() in toc, (module, name)
        assert getattr(importlib.import_module(module), name).__name__ == name


def test_no_private_whoosh_attribute_is_read_outside_whoosh_internals():
    offences = []
    for source in _sources():
        if source.name == "whoosh_internals.py":
            continue
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                offences.append(f"{source.name}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("whoosh"):
                offences += [f"{source.name}:{node.lineno} import {a.name}" for a in node.names
                             if a.name.startswith("_")]
    assert not offences, "read private Whoosh names through search.whoosh_internals"


def test_search_imports_neither_the_crawler_nor_the_cli():
    forbidden = ("crawler", "archive.cli", "archive.commands")
    for source in _sources():
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(forbidden), f"{source.name} imports {name}"
    # and not indirectly either
    modules = ", ".join(f"search.{p.stem}" for p in _sources() if p.stem != "__init__")
    code = (f"import sys, importlib\nfor m in '{modules}'.split(', '): importlib.import_module(m)\n"
            f"bad = sorted(m for m in sys.modules if m.startswith({forbidden!r}))\n"
            "assert not bad, bad\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

"""Fuzzed queries never crash: the parser raises only `QueryError`, and `hra search` (the CLI
entry) exits 0 or 2 with one line, never a traceback, whatever the query: deep nesting, long
runs of `-` and NOT, thousands of terms, bytes that are not UTF-8 (surrogate escapes, as Python
decodes such argv), control characters. Work per query is bounded by the parser's limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.cli import _register_command_modules, cli
from search.query import MAX_DEPTH, MAX_QUERY_CHARS, MAX_TERMS, QueryError, parse, terms
from tests.search_fixtures import archive, record, update

_register_command_modules()

#: Pieces that exercise every rule of the grammar, plus hostile ones.
PIECES = ["医共体", "醫共體", "家庭医生", "title:", "text:", "OR", "AND", "NOT", "-", "(", ")",
          '"', "（", "）", " ", "\u3000", "\n", "\x1b[31m", "\udcff", "\udcfe", "\ufffd", "a",
          "COVID-19", "方案(试行)", "：", "?", "*", "\\", "\x00"]
queries = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(PIECES), max_size=40).map("".join),
    st.lists(st.sampled_from(PIECES), max_size=20).map(" ".join),
)


@given(queries)
@settings(max_examples=1500, deadline=None)
def test_parser_raises_only_query_errors(query: str) -> None:
    try:
        node = parse(query)
    except QueryError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert 1 <= sum(1 for _ in terms(node)) <= MAX_TERMS


@pytest.mark.parametrize("query", [
    "(" * 300 + "医共体" + ")" * 300,
    "-" * 1000 + "医共体",
    "NOT " * 200 + "医共体",
    " OR ".join(f"词{i}" for i in range(2000)),
    "\udcff\udcfe医共体",
    "医" * (MAX_QUERY_CHARS + 1),
])
def test_hostile_queries_are_refused_with_a_message(query: str) -> None:
    with pytest.raises(QueryError):
        parse(query)


def test_limits_leave_room_for_real_queries() -> None:
    parse(" ".join(f"词{i}" for i in range(MAX_TERMS)))
    parse("(" * (MAX_DEPTH // 2) + "医共体" + ")" * (MAX_DEPTH // 2))
    parse("NOT " * (MAX_DEPTH - 1) + "医共体")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "data"
    archive(path, [
        record(1, "湄潭县医共体建设情况汇报", "紧密型县域医共体建设。家庭医生签约服务覆盖率达到76%。"),
        record(2, "市卫生健康委2023年工作总结", "深化医改，COVID-19疫情防控平稳转段。"),
    ])
    update(path)
    return path


@given(queries)
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_hra_search_exits_cleanly_on_any_query(data_dir: Path, query: str) -> None:
    result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), "search", "--json", "--",
                                      query])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("option", ["--region", "--site", "--type", "--since", "--year"])
def test_filter_values_that_are_not_utf8_are_one_line(data_dir: Path, option: str) -> None:
    result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), "search", "医共体",
                                      option, "\udcff\udcfe"])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output

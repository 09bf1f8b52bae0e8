"""`hra` in-process (click's CliRunner): where --data-dir goes, browsing without a query, flags on
search hits, queries starting with '-', refused dates/regions/ids, usage errors on one line,
`hra import --verbose`, zero counts not in red."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from rich.console import Console

import archive.cli as hra_cli
from archive.cli import _register_command_modules, cli
from tests.conftest import EVAL, report_page
from tests.search_fixtures import archive, record, update

_register_command_modules()

ZUNYI = dict(region="贵州省遵义市", region_province="贵州省", region_city="遵义市")
GUIYANG = dict(region="贵州省贵阳市", region_province="贵州省", region_city="贵阳市")
HONGHUAGANG = dict(region="贵州省遵义市红花岗区", region_province="贵州省", region_city="遵义市",
                   region_county="红花岗区")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="hra")


def one_line_error(result: Result, code: int = 2) -> str:
    """The error of a refused command: its exit status, one line on stderr, nothing else."""
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and "Usage:" not in result.output
    assert result.stdout == ""
    return lines[0]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("reports")
    recs = {
        "plan": record("plan", "遵义市2023年卫生健康工作要点",
                       "2023年,全市将深入推进紧密型县域医共体建设,做实家庭医生签约服务,"
                       "新冠疫苗加强免疫接种率达到xx%。", year=2023, published="2023-02-10",
                       doc_type="plan", site="遵义市卫生健康局", **ZUNYI,
                       truncated=True, full_length=7918, placeholders=True),
        "plan_repost": record("plan_repost", "遵义市2023年卫生健康工作要点(完整版)",
                              "2023年,全市将深入推进紧密型县域医共体建设,做实家庭医生签约服务。",
                              year=2023, published="2023-03-01", doc_type="plan", site="范文网",
                              url="http://www.fanwen.example/a/9.html", **ZUNYI),
        "summary": record("summary", "遵义市2023年卫生健康工作总结",
                          "全年完成流感疫苗接种12万剂次,医共体牵头医院下沉专家320人次。",
                          year=2023, published="2023-12-28", doc_type="summary",
                          site="遵义市卫生健康局", **ZUNYI),
        "county": record("county", "红花岗区2022年卫生健康工作汇报",
                         "全区新冠疫苗接种工作有序推进,基层医疗卫生机构服务能力持续提升。",
                         year=2022, published="2022-11-05", doc_type="report",
                         site="红花岗区人民政府", **HONGHUAGANG),
        "guiyang": record("guiyang", "貴陽市2024年衛生健康工作要點",
                          "推進疫苗接種和分級診療制度建設。", year=2024, published=None,
                          doc_type="plan", site="贵阳市卫生健康委员会", **GUIYANG,
                          source_script="traditional"),
    }
    recs["plan_repost"].duplicate_of = recs["plan"].id
    archive(path, recs.values())
    update(path)
    return path, recs


def ids(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [hit["id"] for hit in json.loads(result.stdout)["hits"]]


def listed(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [json.loads(line)["id"] for line in result.stdout.splitlines()]


# ---------------------------------------------------------------------------------------------
# --data-dir after the subcommand


def _leaf_commands(group: click.Group, path: str = "hra") -> list[tuple[str, click.Command]]:
    out = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            out += _leaf_commands(command, f"{path} {name}")
        else:
            out.append((f"{path} {name}", command))
    return out


def test_every_command_takes_data_dir_after_its_name():
    commands = _leaf_commands(cli)
    assert {"hra search", "hra list", "hra export", "hra crawl", "hra schedule add"} <= {
        path for path, _ in commands}
    for path, command in commands:
        options = [p for p in command.params if "--data-dir" in getattr(p, "opts", ())]
        assert len(options) == 1, path
        if path == "hra demo":
            assert options[0].name == "demo_dir"  # its own meaning: the demo directory
        else:
            assert options[0].expose_value is False, path  # the shared option


def test_data_dir_after_the_subcommand_overrides_the_global_one(reports, tmp_path: Path,
                                                                 monkeypatch):
    path, recs = reports
    other = tmp_path / "other"
    archive(other, [record("o", "滨江市医改工作进展汇报", "医改工作稳步推进。" * 10)])
    update(other)
    monkeypatch.setenv("HRA_DATA_DIR", str(tmp_path / "nothing-here"))
    assert listed(run("list", "--json", "--data-dir", str(other))) == [
        record("o", "x", "x").id]
    assert set(listed(run("--data-dir", str(other), "list", "--json", "--data-dir",
                          str(path)))) == set(listed(run("--data-dir", str(path), "list",
                                                         "--json")))
    assert ids(run("search", "疫苗", "--json", "--data-dir", str(path))) == ids(
        run("--data-dir", str(path), "search", "疫苗", "--json"))
    stats = run("stats", "--data-dir", str(path), "--json")
    assert json.loads(stats.stdout)["data_dir"] == str(path)
    for args in (["check", "--json"], ["reindex", "--incremental", "--json"], ["dups", "--json"],
                 ["runs", "--json"]):
        result = run(*args, "--data-dir", str(other))
        assert result.exit_code == 0, (args, result.output)
    shown = run("show", recs["summary"].id[:8], "--data-dir", str(path), "--json")
    assert json.loads(shown.stdout)["title"] == "遵义市2023年卫生健康工作总结"


def test_data_dir_after_crawl_sources_and_schedule_commands(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HRA_DATA_DIR", str(tmp_path / "default"))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "sources.toml").write_text(
        '[[source]]\nname = "zunyi-wjw"\nspider = "gov"\n'
        'start_urls = ["https://wjw.zunyi.example.gov.cn/xxgk/gzdt/index.html"]\n',
        encoding="utf-8")
    sources = run("sources", "--json", "--data-dir", str(mine))
    assert sources.exit_code == 0, sources.output
    assert "zunyi-wjw" in {s["name"] for s in json.loads(sources.stdout)}
    added = run("schedule", "add", "nightly", "--cron", "0 3 * * *", "--all",
                "--data-dir", str(mine))
    assert added.exit_code == 0, added.output
    assert (mine / "schedules.json").exists() and not (tmp_path / "default").exists()
    listed_schedules = run("schedule", "list", "--json", "--data-dir", str(mine))
    assert [s["name"] for s in json.loads(listed_schedules.stdout)] == ["nightly"]
    refused = run("crawl", "--data-dir", str(mine))  # neither names nor --all nor --url
    assert refused.exit_code == 2


# ---------------------------------------------------------------------------------------------
# browsing: filters without a query


def test_search_with_only_filters_lists_matches_newest_first(reports):
    path, recs = reports
    result = run("search", "--year", "2023", "--region", "遵义", "--type", "plan",
                 "--data-dir", str(path))
    assert result.exit_code == 0, result.output
    assert "1 document(s) with --year 2023 --region 遵义 --type plan, newest first" in result.stdout
    assert "遵义市2023年卫生健康工作要点" in result.stdout
    found = ids(run("search", "--region", "遵义", "--json", "--data-dir", str(path)))
    assert found == [recs["summary"].id, recs["plan"].id, recs["county"].id]  # by date
    every = ids(run("search", "--region", "遵义", "--all-versions", "--json", "--data-dir",
                    str(path)))
    assert every == [recs["summary"].id, recs["plan_repost"].id, recs["plan"].id,
                     recs["county"].id]
    by_relevance = ids(run("search", "--region", "遵义", "--sort", "relevance", "--json",
                           "--data-dir", str(path)))
    assert by_relevance == found  # no query, nothing to rank by: still newest first


def test_search_with_no_query_and_no_filter_lists_every_document(reports):
    path, recs = reports
    result = run("search", "--data-dir", str(path))
    assert result.exit_code == 0, result.output
    assert "4 document(s) in the archive (no query or filter: all of them), newest first" \
        in result.stdout
    data = json.loads(run("search", "--json", "--limit", "100", "--data-dir", str(path)).stdout)
    assert [hit["id"] for hit in data["hits"]] == [
        recs["summary"].id, recs["plan"].id, recs["county"].id, recs["guiyang"].id]  # undated last
    assert data["total"] == 4
    assert one_line_error(run("search", "", "--data-dir", str(path))).startswith(
        "error: bad query: empty query")


def test_list_takes_the_search_filters_and_lists_what_search_browses(reports):
    path, recs = reports
    for filters in (["--year", "2023"], ["--region", "遵义", "--type", "plan"],
                    ["--region", "红花岗区"], ["--since", "2023-02", "--until", "2023-03"],
                    ["--site", "遵义市卫生健康局", "--complete"], ["--region", "贵州省遵义市",
                                                                   "--all-versions"],
                    ["--region", "贵阳"], []):
        browsed = ids(run("search", *filters, "--json", "--limit", "100", "--data-dir",
                          str(path)))
        assert listed(run("list", *filters, "--json", "--data-dir", str(path))) == browsed, \
            filters
        exported = run("export", *filters, "--no-text", "--data-dir", str(path)).stdout
        assert [json.loads(x)["id"] for x in exported.splitlines()] == browsed, filters
    assert listed(run("list", "--since", "2023-02", "--until", "2023-03", "--json",
                      "--data-dir", str(path))) == [recs["plan"].id]
    assert listed(run("list", "--site", "遵义市卫生健康局", "--complete", "--json",
                      "--data-dir", str(path))) == [recs["summary"].id]
    table = run("list", "--region", "遵义", "--type", "plan", "--data-dir", str(path)).stdout
    assert "1 of 1 document(s) with --region 遵义 --type plan" in table
    assert "截断(全文7918字) 含占位符" in table
    refused = run("list", "--type", "speeches", "--data-dir", str(path))
    assert "unknown --type 'speeches'" in one_line_error(refused)


# ---------------------------------------------------------------------------------------------
# flags and copies on search hits


def test_hits_show_flags_and_copies_human_and_json(reports):
    path, recs = reports
    human = run("search", "医共体", "--data-dir", str(path)).stdout
    plan_block = human[human.index("遵义市2023年卫生健康工作要点"):]
    plan_block = plan_block[:plan_block.index("\n  2.")] if "\n  2." in plan_block else plan_block
    assert "截断(全文7918字) · 含占位符" in plan_block
    assert f"2 copies (hra dups {recs['plan'].id[:8]})" in plan_block
    assert "原文为繁体" in run("search", "疫苗", "--region", "贵阳", "--data-dir", str(path)).stdout
    data = json.loads(run("search", "疫苗", "--json", "--all-versions", "--data-dir",
                          str(path)).stdout)
    hits = {hit["id"]: hit for hit in data["hits"]}
    plan = hits[recs["plan"].id]
    assert (plan["truncated"], plan["full_length"], plan["placeholders"]) == (True, 7918, True)
    assert plan["source_script"] == "simplified" and plan["copies"] == 2
    assert plan["flags"] == ["截断(全文7918字)", "含占位符"]
    guiyang = hits[recs["guiyang"].id]
    assert guiyang["source_script"] == "traditional" and guiyang["flags"] == ["原文为繁体"]
    assert guiyang["truncated"] is False and guiyang["full_length"] is None
    summary = hits[recs["summary"].id]
    assert summary["flags"] == [] and summary["placeholders"] is False
    assert "plan_repost" not in hits
    repost = json.loads(run("search", "完整版", "--json", "--all-versions", "--data-dir",
                            str(path)).stdout)["hits"][0]
    assert repost["duplicate_of"] == recs["plan"].id
    assert repost["flags"] == [f"转载副本(原件 {recs['plan'].id})"]


# ---------------------------------------------------------------------------------------------
# queries starting with '-', and options after '--'


@pytest.mark.parametrize("command", ["search", "export"])
def test_a_query_starting_with_a_dash_gets_a_hint(reports, command):
    path, _recs = reports
    for args in (["-新冠", "疫苗"], ["-新冠 疫苗"], ["疫苗", "-新冠"]):
        message = one_line_error(run(command, *args, "--data-dir", str(path)))
        assert f"{args[0] if args[0].startswith('-') else args[1]!r} is not an option" in message
        assert f"hra {command} --json -- '-新冠 疫苗'" in message
    typo = one_line_error(run(command, "疫苗", "--yaer", "2023", "--data-dir", str(path)))
    assert "No such option '--yaer'" in typo and "--year" in typo


def test_options_before_double_dash_apply_and_options_after_it_are_refused(reports):
    path, recs = reports
    found = ids(run("search", "--json", "--all-versions", "--data-dir", str(path), "--",
                    "-新冠 疫苗"))
    assert set(found) == {recs["summary"].id, recs["guiyang"].id}  # 疫苗 without 新冠
    assert ids(run("search", "--json", "--data-dir", str(path), "--", "疫苗", "-新冠")) == found
    message = one_line_error(run("search", "--data-dir", str(path), "--", "-新冠 疫苗",
                                 "--json"))
    assert "'--json' comes after '--'" in message and "put options before '--'" in message
    assert "search --json -- '-新冠 疫苗'" in cli.commands["search"].help


# ---------------------------------------------------------------------------------------------
# refused values: one line, exit 2


@pytest.mark.parametrize("value", ["2023-02-30", "2023-04-31", "2023-13", "2023-00",
                                   "2023/01/01", "20230101", "yesterday", "2023-02-29"])
def test_impossible_dates_are_refused(reports, value):
    path, _recs = reports
    message = one_line_error(run("search", "疫苗", "--until", value, "--data-dir", str(path)))
    assert "--until" in message and value in message
    one_line_error(run("list", "--since", value, "--data-dir", str(path)))


def test_date_bounds_follow_the_calendar():
    from archive.commands.search import date_bound

    assert date_bound("2024-02", end=True) == "2024-02-29"  # leap year
    assert date_bound("2023-02", end=True) == "2023-02-28"
    assert date_bound("2023-04", end=True) == "2023-04-30"
    assert date_bound("2023-4", end=False) == "2023-04-01"
    assert date_bound("2024-02-29", end=False) == "2024-02-29"
    assert date_bound("2023", end=False) == "2023-01-01"
    assert date_bound("2023", end=True) == "2023-12-31"
    with pytest.raises(ValueError, match="2023-02 has 28 days"):
        date_bound("2023-02-29", end=True)


def test_since_after_until_is_refused(reports):
    path, _recs = reports
    message = one_line_error(run("search", "疫苗", "--since", "2024", "--until", "2023-06",
                                 "--data-dir", str(path)))
    assert "--since 2024-01-01 is after --until 2023-06-30" in message


def test_unknown_regions_are_refused_known_ones_in_any_form_are_not(reports):
    path, recs = reports
    for region in ("火星", "遵义省", "贵州省杭州市", "Zunyi"):
        message = one_line_error(run("search", "疫苗", "--region", region, "--data-dir",
                                     str(path)))
        assert f"unknown --region {region!r}" in message
        one_line_error(run("list", "--region", region, "--data-dir", str(path)))
        one_line_error(run("export", "--region", region, "--data-dir", str(path)))
    zunyi = {recs["summary"].id, recs["plan"].id, recs["county"].id}
    for region in ("遵义", "遵义市", "遵義市", "贵州省遵义市", "贵州省遵义市红花岗区"):
        found = set(ids(run("search", "--region", region, "--json", "--data-dir", str(path))))
        assert found == (zunyi if "红花岗" not in region else {recs["county"].id}), region
    for region in ("红花岗区", "红花岗", "遵义市红花岗区"):
        assert ids(run("search", "--region", region, "--json", "--data-dir", str(path))) == [
            recs["county"].id]
    # A real place the archive has nothing about is not an error: zero matches.
    assert ids(run("search", "--region", "湖北省仙桃市", "--json", "--data-dir", str(path))) == []


def test_known_region_names():
    from search.regions import known_region

    for name in ("贵州省", "贵州", "遵义市", "遵义", "红花岗区", "红花岗", "贵州省遵义市",
                 "遵义市红花岗区", "贵州省遵义市红花岗区", "北京市朝阳区", "内蒙古自治区",
                 "内蒙古", "黔南布依族苗族自治州", "湖北省仙桃市", "仙桃"):
        assert known_region(name), name
    for name in ("火星", "遵义省", "贵州省杭州市", "遵义市朝阳区", "", "贵州省贵州省", "中国"):
        assert not known_region(name), name


def test_empty_document_id(reports):
    path, _recs = reports
    for args in (["show", ""], ["show", "  "], ["show", "", "--raw"], ["dups", ""]):
        message = one_line_error(run(*args, "--data-dir", str(path)))
        assert "the document id is empty" in message


def test_click_usage_errors_are_one_line(reports):
    path, _recs = reports
    assert "--limit" in one_line_error(run("search", "疫苗", "--limit", "0", "--data-dir",
                                           str(path)))
    assert "No such command 'serach'" in one_line_error(run("serach", "疫苗"))
    assert "--format" in one_line_error(run("export", "--format", "pdf", "--data-dir",
                                            str(path)))
    help_text = run("search", "--help")
    assert help_text.exit_code == 0 and "Usage: hra search" in help_text.stdout


# ---------------------------------------------------------------------------------------------
# hra import --verbose, and zero counts


@pytest.fixture
def mixed_pages(tmp_path: Path) -> Path:
    root = tmp_path / "pages"
    root.mkdir()
    for name in ("list_jinan_wjw_column_utf8.html", "offtopic_wusi_speech_gbk.html",
                 "gov_gz_summary_meta_utf8.html"):
        shutil.copy(EVAL / "pages" / name, root / name)
    (root / "short.html").write_text(
        report_page("滨江市卫生健康委员会通知", ["请各单位于本周五前报送医共体建设进展。"]),
        encoding="utf-8")
    return root


def test_import_verbose_lists_each_skipped_file_with_its_reason(mixed_pages: Path,
                                                               tmp_path: Path):
    data = tmp_path / "data"
    result = run("import", str(mixed_pages), "--verbose", "--data-dir", str(data))
    assert result.exit_code == 0, result.output
    lines = [x for x in result.stderr.splitlines() if x.startswith("skipped:")]
    assert len(lines) == 3
    reasons = {Path(line.split(": ")[1]).name: line for line in lines}
    assert "list page" in reasons["list_jinan_wjw_column_utf8.html"]
    assert "not a health-work report" in reasons["offtopic_wusi_speech_gbk.html"]
    assert "shorter than 80 characters" in reasons["short.html"]
    assert "1 new" in result.stdout and "3 skipped" in result.stdout
    quiet = run("import", str(mixed_pages), "--data-dir", str(tmp_path / "quiet"))
    assert "skipped:" not in quiet.stderr and "--verbose lists them" in quiet.stdout
    as_json = json.loads(run("import", str(mixed_pages), "--verbose", "--json", "--data-dir",
                             str(tmp_path / "json")).stdout)
    assert {Path(s["path"]).name: s["reason"] for s in as_json["skipped_files"]} == {
        "list_jinan_wjw_column_utf8.html": "list", "offtopic_wusi_speech_gbk.html": "off-topic",
        "short.html": "empty"}


def _coloured(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    buffer = io.StringIO()
    monkeypatch.setattr(hra_cli, "console",
                        Console(file=buffer, force_terminal=True, color_system="standard",
                                width=200))
    return buffer


RED = "\x1b[31m"


def test_zero_counts_are_not_red(mixed_pages: Path, tmp_path: Path, monkeypatch):
    out = _coloured(monkeypatch)
    assert run("import", str(mixed_pages), "--data-dir", str(tmp_path / "d")).exit_code == 0
    text = out.getvalue()
    assert "0 failed" in text and RED not in text
    out = _coloured(monkeypatch)
    (mixed_pages / "broken.html").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    assert run("import", str(mixed_pages), "--data-dir", str(tmp_path / "e")).exit_code == 0
    assert f"{RED}1 failed" in out.getvalue()
    out = _coloured(monkeypatch)
    assert run("reprocess", "--data-dir", str(tmp_path / "d")).exit_code == 0
    assert "0 failed" in out.getvalue() and RED not in out.getvalue()


def test_word_export_title_describes_the_selection(reports, tmp_path: Path):
    import docx

    path, _recs = reports
    out = tmp_path / "ygt.docx"
    result = run("export", "医共体", "--year", "2023", "--format", "docx", "--one-file", "-o",
                 str(out), "--data-dir", str(path))
    assert result.exit_code == 0, result.output
    core = docx.Document(str(out)).core_properties
    assert core.title == "hra 导出: 医共体 --year 2023" and core.author == "hra"
    assert core.comments == "2 篇文档"
    everything = tmp_path / "all.docx"
    run("export", "--format", "docx", "--one-file", "-o", str(everything), "--data-dir", str(path))
    assert docx.Document(str(everything)).core_properties.title == "hra 导出: 全部文档"

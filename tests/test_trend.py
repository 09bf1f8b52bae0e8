"""`hra trend` on the demo archive: its counts are what `hra search` counts per year, province
and type; the terminal chart, --csv and --png (drawn with a Chinese font found on the system);
clear one-line errors (bad term, no Chinese font, output inside the archive)."""

from __future__ import annotations

import csv
import json
import os
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import _register_command_modules, cli
from archive.errors import HraError

_register_command_modules()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("trend") / "demo"
    result = CliRunner().invoke(cli, ["demo", "--data-dir", str(target)])
    assert result.exit_code == 0, result.output
    return target


def hra(data_dir: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args])
    assert result.exit_code == code, result.output
    return result.output


def search_total(data_dir: Path, *args: str) -> int:
    return json.loads(hra(data_dir, "search", *args, "--json"))["total"]


def test_counts_per_year_are_hra_search_counts(data_dir: Path) -> None:
    data = json.loads(hra(data_dir, "trend", "医共体", "家庭医生", "--by", "year", "--json"))
    assert data["keys"] == ["2022", "2023", "2024"]
    for term in ("医共体", "家庭医生"):
        for year in data["keys"]:
            assert data["counts"][term].get(year, 0) == search_total(data_dir, term, "--year",
                                                                    year), (term, year)
        assert sum(data["counts"][term].values()) + data["unplaced"][term] == \
            search_total(data_dir, term)
    assert data["counts"]["医共体"]["2024"] > 0


@pytest.mark.parametrize(("by", "facet"), [("province", "region"), ("type", "doc_type")])
def test_counts_per_province_and_type_are_the_facets(data_dir: Path, by: str,
                                                     facet: str) -> None:
    data = json.loads(hra(data_dir, "trend", "医共体", "--by", by, "--json"))
    facets = json.loads(hra(data_dir, "search", "医共体", "--facets", "--json"))["facets"][facet]
    assert data["counts"]["医共体"] == {k: n for k, n in facets.items() if k != "(none)"}
    assert data["unplaced"]["医共体"] == facets.get("(none)", 0)


def test_filters_and_all_versions(data_dir: Path) -> None:
    canonical = json.loads(hra(data_dir, "trend", "工作安排", "--json"))
    every = json.loads(hra(data_dir, "trend", "工作安排", "--all-versions", "--json"))
    assert sum(every["counts"]["工作安排"].values()) > sum(canonical["counts"]["工作安排"].values())
    zunyi = json.loads(hra(data_dir, "trend", "医共体", "--region", "湄潭", "--json"))
    assert sum(zunyi["counts"]["医共体"].values()) == search_total(data_dir, "医共体",
                                                                   "--region", "湄潭")


def test_terminal_chart_csv_and_png(data_dir: Path, tmp_path: Path) -> None:
    png, table = tmp_path / "t.png", tmp_path / "t.csv"
    out = hra(data_dir, "trend", "医共体", "家庭医生", "--by", "year", "--png", str(png),
              "--csv", str(table))
    assert "2024年" in out and "█" in out and f"chart -> {png}" in out
    rows = list(csv.reader(table.open(encoding="utf-8-sig")))
    data = json.loads(hra(data_dir, "trend", "医共体", "家庭医生", "--json"))
    assert rows[0] == ["year", "医共体", "家庭医生"]
    assert rows[1:] == [[k, str(data["counts"]["医共体"].get(k, 0)),
                         str(data["counts"]["家庭医生"].get(k, 0))] for k in data["keys"]]
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000


def test_the_chart_font_has_chinese_characters(data_dir: Path) -> None:
    from archive.store import Store
    from archive.trend_chart import cjk_font, render
    from search.params import FilterOptions
    from search.trend import trend

    font = cjk_font()
    if font is None:
        reason = "no Chinese font installed (apt-get install fonts-noto-cjk)"
        if os.environ.get("HRA_REQUIRE_SHARED", "") not in ("", "0"):  # .ci/run installs it
            pytest.fail(f"HRA_REQUIRE_SHARED is set but {reason}", pytrace=False)
        pytest.skip(reason)
    with Store(data_dir, readonly=True) as store:
        counts = trend(store, ["医共体"], "type", FilterOptions().filters())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = render(counts, "png")
    assert not [w for w in caught if "missing from" in str(w.message)], caught
    assert image.startswith(b"\x89PNG")


def test_no_chinese_font_is_one_clear_line(data_dir: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import archive.trend_chart as chart

    assert chart.cjk_font(["DejaVu Sans", "Liberation Serif"], ask_fontconfig=False) is None
    assert chart.cjk_font(["DejaVu Sans", "Noto Sans CJK SC"]) == "Noto Sans CJK SC"
    monkeypatch.setattr(chart, "cjk_font", lambda *a, **k: None)
    out = hra(data_dir, "trend", "医共体", "--png", str(tmp_path / "t.png"), code=1)
    assert out.strip().splitlines() == [f"error: {chart.NO_FONT}"]
    assert not (tmp_path / "t.png").exists()


@pytest.mark.parametrize(("args", "said"), [
    (["trend", '"医共体'], "bad query"),
    (["trend", "医共体", "--by", "city"], "Invalid value for '--by'"),
    (["trend", "医共体", "--region", "火星"], "unknown --region"),
    (["trend"], "Missing argument 'TERMS...'"),
])
def test_bad_input_is_exit_2(data_dir: Path, args: list[str], said: str) -> None:
    assert said in hra(data_dir, *args, code=2)


def test_never_writes_inside_the_archive(data_dir: Path) -> None:
    out = hra(data_dir, "trend", "医共体", "--png", str(data_dir / "t.png"), code=2)
    assert "inside the data dir" in out and not (data_dir / "t.png").exists()


def test_unknown_group_is_an_error() -> None:
    from search.trend import trend

    with pytest.raises(HraError, match="unknown --by"):
        trend(None, ["医共体"], "city", None)  # type: ignore[arg-type]

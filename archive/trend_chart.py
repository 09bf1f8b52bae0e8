"""`hra trend`'s chart as an image (PNG or SVG), drawn by matplotlib (Agg, no display) with a
font that has Chinese characters, found on the system. Data in (`search.trend.Trend`), bytes out.
Errors for the user are `HraError`."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from archive.errors import HraError

if TYPE_CHECKING:
    from search.trend import Trend

#: Families with Simplified Chinese glyphs, preferred first (Debian's fonts-noto-cjk gives the
#: first); any other family named CJK comes after them.
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "Source Han Sans CN",
    "Noto Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback",
    "AR PL UMing CN", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC",
)
NO_FONT = ("no font with Chinese characters found for the chart: install one "
           "(Debian/Ubuntu: apt-get install fonts-noto-cjk)")
GROUP_LABELS = {"year": "年份", "province": "省份", "type": "类型"}


def cjk_font(names: Iterable[str] | None = None, *, ask_fontconfig: bool = True) -> str | None:
    """The family name of an installed font with Chinese characters, or None. ``names`` are
    the families to choose from (default: every font matplotlib knows); fontconfig
    (``fc-list :lang=zh``) is asked when none of them fits."""
    from matplotlib import font_manager

    known = set(names) if names is not None else {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    other = sorted(n for n in known if "CJK" in n and "Mono" not in n)
    if other:
        return other[0]
    if ask_fontconfig and shutil.which("fc-list"):
        return _fontconfig_font()
    return None


def _fontconfig_font() -> str | None:
    """A Chinese font fontconfig knows but matplotlib did not list: added to matplotlib."""
    from matplotlib import font_manager

    try:
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except OSError:
        return None
    for line in sorted(out.splitlines()):
        path = line.split(":", 1)[0].strip()
        if path.lower().endswith((".ttf", ".otf", ".ttc")):
            try:
                font_manager.fontManager.addfont(path)
                return str(font_manager.FontProperties(fname=path).get_name())
            except (OSError, RuntimeError, ValueError):
                continue
    return None


def key_label(by: str, key: str) -> str:
    """A group's label on the chart: 2023年, 贵州省, 工作总结."""
    if by == "year":
        return f"{key}年" if key.isdigit() else key
    if by == "type":
        from archive.export import TYPE_NAMES

        return TYPE_NAMES.get(key, key)
    return key


def render(trend: Trend, fmt: str = "png", *, title: str | None = None,
           font: str | None = None) -> bytes:
    """The chart of ``trend`` as PNG or SVG bytes: a bar per term and group (a line per term
    when there are more than 12 years). HraError when no Chinese font is installed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    family = font or cjk_font()
    if family is None:
        raise HraError(NO_FONT)
    labels = [key_label(trend.by, k) for k in trend.keys]
    width = min(max(6.0, 0.5 * len(labels) * max(len(trend.terms), 1) + 2), 16.0)
    fig = Figure(figsize=(width, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    font_props: dict[str, Any] = {"family": family}
    _draw(ax, trend, labels, font_props)
    ax.set_ylabel("文档数", fontdict=font_props)
    ax.set_xlabel(GROUP_LABELS.get(trend.by, trend.by), fontdict=font_props)
    ax.set_title(title or f"按{GROUP_LABELS.get(trend.by, trend.by)}统计：" +
                 "、".join(trend.terms), fontdict=font_props)
    ax.legend(prop={"family": family})
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, metadata=_metadata(fmt))
    return buffer.getvalue()


def _draw(ax: Any, trend: Trend, labels: list[str], font_props: dict[str, Any]) -> None:
    from matplotlib.ticker import MaxNLocator

    positions = list(range(len(labels)))
    n = max(len(trend.terms), 1)
    line = trend.by == "year" and len(labels) > 12
    for i, term in enumerate(trend.terms):
        values = [trend.counts[term].get(k, 0) for k in trend.keys]
        if line:
            ax.plot(positions, values, marker="o", label=term)
        else:
            offset = (i - (n - 1) / 2) * 0.8 / n
            bars = ax.bar([p + offset for p in positions], values, width=0.8 / n, label=term)
            ax.bar_label(bars, fontsize=8)
    ax.set_xticks(positions, labels, fontdict=font_props,
                  rotation=45 if len(labels) > 8 else 0,
                  ha="right" if len(labels) > 8 else "center")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _metadata(fmt: str) -> dict[str, Any]:
    """No creation date (the same counts give the same file)."""
    if fmt == "svg":
        return {"Date": None}
    if fmt == "png":
        return {"Software": "hra"}
    return {}

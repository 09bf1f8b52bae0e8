"""Shared fixtures: a fresh data dir per test, paths to the shared corpus, HTML builders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HRA_SHARED", ROOT.parent / "shared")) / "corpus"
EVAL = ROOT / "tests" / "eval"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def require_shared() -> Path:
    """The shared corpus beside the checkout, for modules that read it (call at module level).

    A clone without it skips those modules with the reason; with ``HRA_REQUIRE_SHARED=1`` (set by
    `.ci/run`, where the corpus is always beside the checkout) its absence is a failure, so the
    real-page gate can never be skipped silently.
    """
    if SHARED.is_dir() and any(SHARED.iterdir()):
        return SHARED
    reason = f"shared corpus not found at {SHARED} (clone ../shared beside the checkout or set HRA_SHARED)"
    if os.environ.get("HRA_REQUIRE_SHARED", "") not in ("", "0"):
        pytest.fail(f"HRA_REQUIRE_SHARED is set but the {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_program(*names: str, package: str) -> str:
    """The path of the first of ``names`` found on PATH (e.g. ``chromium``, ``soffice``).

    Missing, the calling tests skip with the Debian package to install; under `.ci/run`
    (``HRA_REQUIRE_SHARED=1``, which installs those packages first) a missing program fails.
    """
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    reason = f"{' / '.join(names)} not installed (apt-get install {package})"
    if os.environ.get("HRA_REQUIRE_SHARED", "") not in ("", "0"):
        pytest.fail(f"HRA_REQUIRE_SHARED is set but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def report_page(
    title: str,
    paragraphs: list[str],
    *,
    charset_meta: str | None = "utf-8",
    date_line: str = "发布时间:2023-10-08 09:30",
    extra_head: str = "",
) -> str:
    """A realistic article page of a city health commission site around the given body."""
    meta = f'<meta charset="{charset_meta}">' if charset_meta else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    hot = "".join(
        f'<li><a href="/a{i}.html">关于印发第{i}批基层卫生人才培训计划的通知</a>'
        f"<span>2024-0{i}-1{i}</span></li>"
        for i in range(1, 8)
    )
    return f"""<!DOCTYPE html><html><head>{meta}{extra_head}
<title>{title}_滨江市卫生健康委员会</title></head><body>
<div class="header"><ul class="nav"><li><a href="/">首页</a></li><li><a href="/zwgk/">政务公开</a></li>
<li><a href="/bsfw/">办事服务</a></li><li><a href="/hdjl/">互动交流</a></li></ul></div>
<div class="position">当前位置: <a href="/">首页</a> &gt; <a href="/zwgk/">政务公开</a> &gt; 工作总结</div>
<div class="main"><div class="article"><h1>{title}</h1>
<div class="info">{date_line} 来源:市卫生健康委 浏览次数:1024</div>
<div class="content">{body}</div>
<div class="share">分享到: 微信 微博</div></div>
<div class="side"><h3>热门文章</h3><ul>{hot}</ul></div></div>
<div class="footer">版权所有:滨江市卫生健康委员会 地址:滨江市人民路1号 浙ICP备12345678号-1</div>
</body></html>"""

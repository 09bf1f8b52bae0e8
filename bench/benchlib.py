"""What several benches share: the sentences and cities of their generated reports, and
bench/search.py's generator loaded as a module (bench/ is not a package, and the name
``search`` is the project's search package). Imported as ``benchlib`` by scripts run as
``python bench/NAME.py`` (their folder is first on sys.path)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent

SENTENCES = [
    "{city}深入推进紧密型县域医共体建设，组建医共体{a}个，县域内就诊率达到{p}%。",
    "全年完成家庭医生签约服务{a}万人，重点人群签约率达到{p}%，满意度持续提升。",
    "加强疾病预防控制体系建设，新建发热门诊{a}个，传染病报告及时率达到100%。",
    "推进公立医院高质量发展，{a}家医院完成薪酬制度改革，医疗服务收入占比提高到{p}%。",
    "实施基层卫生人才工程，招聘医学毕业生{b}名，培训乡村医生{b}人次。",
    "开展爱国卫生运动，创建省级卫生乡镇{a}个，病媒生物密度达到国家标准。",
]
CITIES = ["扬州市", "遵义市", "洛阳市", "宜宾市", "赣州市", "六安市", "湖州市", "大同市"]


def load_bench_search() -> ModuleType:
    """bench/search.py as the module ``bench_search`` (loaded once)."""
    if "bench_search" in sys.modules:
        return sys.modules["bench_search"]
    spec = importlib.util.spec_from_file_location("bench_search", ROOT / "bench" / "search.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_search"] = module
    spec.loader.exec_module(module)
    return module

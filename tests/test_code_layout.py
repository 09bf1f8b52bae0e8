"""The code keeps the shape issue #14 gave it (CI says so when a change undoes it): no product
function over 60 lines, and SQL on the archive only in archive/store.py (the derived indexes'
own databases in their modules). Import layers are checked by `lint-imports` in .ci/run."""

from __future__ import annotations

import ast
import re

from tests.conftest import ROOT

PACKAGES = ("archive", "crawler", "search")
MAX_LINES = 60
#: Modules allowed to run SQL: the archive's Store, and the files of the dedup index and of the
#: crawl frontier (each its own SQLite database, owned by its module).
SQL_OWNERS = {"archive/store.py", "archive/dedup.py", "crawler/frontier.py"}


def product_modules() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
                  if "text/data/" not in str(p))


def test_no_product_function_is_longer_than_60_lines() -> None:
    long = []
    for name in product_modules():
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_LINES:
                    long.append(f"{name}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long


def test_sql_runs_only_in_the_modules_that_own_a_database() -> None:
    calls = re.compile(r"\.(execute|executemany|executescript)\(")
    found = [f"{name}:{n}" for name in product_modules() if name not in SQL_OWNERS
             for n, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1)
             if calls.search(line)]
    assert not found, found

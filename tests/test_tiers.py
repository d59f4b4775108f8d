"""``make test-fast`` leaves out the tests marked slow; every module of the package must still be exercised there.

A test *exercises* a module when its body uses a name bound to that module: the module itself (``from therapy_utils
import uncertainty`` … ``uncertainty.split_conformal``) or something imported from it (``from therapy_utils.evaluate
import holm`` … ``holm(...)``). A test is slow when it, or its whole file (``pytestmark``), carries
``pytest.mark.slow``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO


def rooms(package: Path, prefix: str = "") -> list[str]:
    """The modules and subpackages of a package, by dotted name; the course layer's rooms as ``course.<name>``."""
    found = [prefix + p.stem for p in package.glob("*.py") if p.stem not in ("__init__", "__main__")]
    for sub in sorted(p.parent for p in package.glob("*/__init__.py")):
        found += rooms(sub, "course.") if sub.name == "course" else [prefix + sub.name]
    return sorted(found)


LIBRARY = rooms(REPO / "therapy_utils")


def _is_slow_mark(node: ast.expr) -> bool:
    """``pytest.mark.slow`` (bare, or inside a list of marks)."""
    if isinstance(node, ast.List | ast.Tuple):
        return any(_is_slow_mark(element) for element in node.elts)
    return isinstance(node, ast.Attribute) and node.attr == "slow" and ast.unparse(node.value) == "pytest.mark"


def _bindings(tree: ast.Module) -> dict[str, str]:
    """Names the test file binds to a library module: module aliases and imported functions or classes."""
    bound = {}
    for node in ast.walk(tree):
        parts = (node.module or "").split(".") if isinstance(node, ast.ImportFrom) else []
        if parts[:1] != ["therapy_utils"]:
            continue
        if parts in (["therapy_utils"], ["therapy_utils", "course"]):
            prefix = "course." if len(parts) == 2 else ""
            bound |= {alias.asname or alias.name: prefix + alias.name for alias in node.names}
        else:
            room = ".".join(parts[1:3]) if parts[1] == "course" else parts[1]
            bound |= {alias.asname or alias.name: room for alias in node.names}
    return bound


def fast_coverage(test_file: Path) -> set[str]:
    """Library modules that the file's fast tests (not marked slow) use by name."""
    tree = ast.parse(test_file.read_text())
    file_slow = any(isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets)
                    and _is_slow_mark(node.value) for node in tree.body)
    bound, used = _bindings(tree), set()
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test") or file_slow:
            continue
        if any(_is_slow_mark(decorator) for decorator in node.decorator_list):
            continue
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        used |= {bound[name] for name in names & set(bound)}
    return used


def test_every_library_module_is_exercised_by_a_fast_test():
    covered = set().union(*(fast_coverage(path) for path in sorted((REPO / "tests").glob("test_*.py"))))
    missing = [module for module in LIBRARY if module not in covered]
    assert not missing, f"no fast test uses therapy_utils.{missing}; unmark one of its tests or add a quick one"


def test_the_tier_check_sees_marks_and_imports(tmp_path):
    sample = tmp_path / "test_sample.py"
    sample.write_text("import pytest\nfrom therapy_utils import evaluate, uncertainty\n"
                      "from therapy_utils.truth import outcome_distribution\n"
                      "from therapy_utils.course import plots\n"
                      "from therapy_utils.course.check.guards import read_word\n\n"
                      "def test_a():\n    evaluate.holm([0.1])\n    plots.palette\n\n"
                      "@pytest.mark.slow\ndef test_b():\n    uncertainty.conformal_rank(9, 0.9)\n\n"
                      "def test_c():\n    outcome_distribution\n    read_word\n")
    assert fast_coverage(sample) == {"evaluate", "truth", "course.plots", "course.check"}
    assert "course.check" in LIBRARY and "evaluate" in LIBRARY and "course" not in LIBRARY
    sample.write_text("import pytest\nfrom therapy_utils import evaluate\npytestmark = pytest.mark.slow\n\n"
                      "def test_a():\n    evaluate.holm([0.1])\n")
    assert fast_coverage(sample) == set()

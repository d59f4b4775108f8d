"""Set-up files agree with each other, and importing the package does no work."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import REPO


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = re.fullmatch(r"\s*-?\s*([A-Za-z0-9_.-]+)==([^\s#]+)\s*", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_environment_yml_pins_exactly_the_constraints():
    constraints = pins((REPO / ".ci" / "constraints.txt").read_text().splitlines())
    environment = pins((REPO / "environment.yml").read_text().splitlines())
    assert environment == constraints and "torch" in constraints


def test_every_declared_dependency_is_pinned():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    names = {re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0].lower() for d in declared}
    assert names == set(pins((REPO / ".ci" / "constraints.txt").read_text().splitlines()))


def test_top_level_holds_only_the_agreed_files():
    listing = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=REPO)
    if listing.returncode != 0:
        pytest.skip(f"not a git checkout, so no list of tracked files: {listing.stderr.strip()}")
    tracked = listing.stdout.split()
    assert tracked, "git lists no tracked files"
    top = {path.split("/")[0] for path in tracked}
    allowed = {"notebooks", "therapy_utils", "environment.yml", "tests", "README.md", "pyproject.toml", "Makefile",
               ".ci", ".gitignore", "benchmarks", "LICENSE", "CITATION.cff"}
    assert top <= allowed, top - allowed


PACKAGE = REPO / "therapy_utils"


def rooms(package: Path, prefix: str = "") -> list[str]:
    """A package's modules and subpackages by dotted name; the course layer's as ``course.<name>``."""
    found = [prefix + p.stem for p in package.glob("*.py") if not p.stem.startswith("_")]
    for sub in sorted(p.parent for p in package.glob("*/__init__.py")):
        found += rooms(sub, "course.") if sub.name == "course" else [prefix + sub.name]
    return sorted(found)


MODULES = rooms(PACKAGE)  # the library's rooms, then the course's as course.<name>
LIBRARY_FILES = sorted(p for p in PACKAGE.rglob("*.py") if "course" not in p.relative_to(PACKAGE).parts
                       and p.name != "__main__.py")  # __main__ only launches course.cli


def test_every_module_is_listed_where_a_newcomer_looks():
    """The README's two package tables and the package docstring name every room of therapy_utils."""
    import therapy_utils

    readme = (REPO / "README.md").read_text()
    assert len(MODULES) >= 20 and "course.check" in MODULES and "checkpoint" in MODULES
    assert [m for m in MODULES if f"| `{m}` |" not in readme] == []
    assert [m for m in MODULES if not re.search(rf"\b{m}\b", therapy_utils.__doc__)] == []


def imported_modules(path: Path) -> list[tuple[str, list[str]]]:
    """Each ``import``/``from … import`` in a file, anywhere in it (inside functions too): (module, names)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
    return found


def layer_violations(files: list[Path]) -> list[str]:
    """Library files that import the course (``therapy_utils.course`` or ``from therapy_utils import course``)."""
    return [f"{path.name} imports {module}" for path in files for module, names in imported_modules(path)
            if module.startswith("therapy_utils.course") or (module == "therapy_utils" and "course" in names)]


def test_the_library_never_imports_the_course(tmp_path):
    assert len(LIBRARY_FILES) >= 15
    assert layer_violations(LIBRARY_FILES) == []
    breach = tmp_path / "breach.py"  # the check itself can fail: a library file that reached up would be named
    breach.write_text("def f():\n    from therapy_utils.course import plots\n    return plots\n")
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("from therapy_utils import course, data\n")
    assert len(layer_violations([breach, sneaky])) == 2


def test_no_private_name_is_imported_across_modules():
    """A name that starts with "_" is its module's own business: no other module of the package imports it."""
    private = [f"{path.relative_to(REPO)}: {module}.{name}" for path in sorted(PACKAGE.rglob("*.py"))
               for module, names in imported_modules(path) if module.startswith("therapy_utils")
               for name in names if name.startswith("_")]
    reached = [f"{path.relative_to(REPO)}: {match}" for path in sorted(PACKAGE.rglob("*.py"))
               for match in re.findall(r"\b(?:simulate|outcome|truth|data|batching|model|train|checkpoint|evaluate|"
                                       r"embeddings|optimize|uncertainty|guards|transfer|checkpoints)\._[a-z]\w*",
                                       path.read_text())]
    assert private == [] and reached == []


def test_nothing_in_the_package_reads_the_repository_around_it():
    """Installed elsewhere the package has no ../benchmarks or ../notebooks: saved results are passed in."""
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        code = re.sub(r"#.*", "", re.sub(r'""".*?"""', "", text, flags=re.S))  # docstrings and comments may cite it
        assert not re.search(r"""["'][./]*(benchmarks|notebooks)\b|/ *["'](benchmarks|notebooks)["']""", code), path
        assert "parents[1]" not in text and "parent.parent" not in text, path


def test_no_file_is_over_500_lines():
    sizes = {str(p.relative_to(REPO)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert max(sizes.values()) > 300  # the count sees the big rooms
    assert {name: size for name, size in sizes.items() if size > 500} == {}


def test_functions_and_classes_fit_on_a_screen_or_two():
    """No function of the package over 60 lines, no class over 120: each room stays readable."""
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            limit = {ast.FunctionDef: 60, ast.ClassDef: 120}.get(type(node))
            if limit and node.end_lineno - node.lineno + 1 > limit:
                too_long.append(f"{path.name}:{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert too_long == []


@pytest.mark.slow
def test_import_does_no_work(tmp_path):
    code = ("import random, numpy; state = numpy.random.get_state()[1].copy(); py = random.getstate();"
            f"import therapy_utils, {', '.join(f'therapy_utils.{m}' for m in MODULES)};"
            "assert (numpy.random.get_state()[1] == state).all() and random.getstate() == py")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and list(tmp_path.iterdir()) == []  # nothing printed, nothing written


def test_the_licence_file_is_the_licence_declared_and_the_citation_names_it():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "MIT"}
    assert (REPO / "LICENSE").read_text().startswith("MIT License\n")
    citation = (REPO / "CITATION.cff").read_text()
    assert "cff-version: 1.2.0" in citation and "license: MIT" in citation
    assert f'version: "{project["version"]}"' in citation


def test_exact_pins_live_only_in_the_constraints():
    """pyproject.toml states lower bounds (installable beside other projects); the parity pins are constraints."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    assert [d for d in declared if "==" in d] == []
    assert set(project["optional-dependencies"]) == {"lab", "test", "docs"}
    constraint = pins((REPO / ".ci" / "constraints.txt").read_text().splitlines())["torch"]
    assert f"torch {constraint}" in (REPO / "README.md").read_text()
    makefile = (REPO / "Makefile").read_text()
    assert "-c .ci/constraints.txt -e '.[lab,test,docs]'" in makefile


def test_the_reference_data_in_the_tests_is_the_published_file():
    """tests/data/ carries its own copy so parity never depends on a folder outside the clone; where the shared
    reference is beside the clone (CI's set-up), the two must be byte-identical."""
    shared = REPO.parent / "shared" / "reference" / "original_seed42_n500.csv"
    ours = REPO / "tests" / "data" / "original_seed42_n500.csv"
    assert ours.is_file()
    if not shared.is_file():
        pytest.skip(f"no {shared} to compare with (it is beside the clone only in CI's set-up)")
    assert ours.read_bytes() == shared.read_bytes()


def test_readme_timings_are_the_speed_benchmark_s():
    """Every run time the README quotes is the figure in benchmarks/results/speed.json, as speed.py measured it."""
    results = json.loads((REPO / "benchmarks" / "results" / "speed.json").read_text())
    readme = (REPO / "README.md").read_text()
    assert f"the run takes {results['parity']['ours_s']:.1f} s" in readme
    assert f"the test suite {results['suite']['make test']['seconds']:.0f} s" in readme
    rerun = next(v for k, v in results["suite"].items() if k.startswith("float-order"))
    assert f"one thread), {rerun['seconds']:.0f} s more" in readme
    fast = next(v for k, v in results["suite"].items() if k.startswith("make test-fast"))
    assert f"(the fast tier {fast['seconds']:.0f} s in a fresh clone)" in readme
    quoted = dict(re.findall(r"\(notebooks/(\d\d_\w+\.ipynb)\) \|[^\n]*\| (\d+) s \|", readme))
    notebooks = sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(quoted) == notebooks
    assert quoted == {name: f"{seconds:.0f}" for name, seconds in results["notebooks"]["seconds"].items()}


def package_path(module: str) -> str:
    """Where a name the notebooks import lives: the course's rooms under therapy_utils.course."""
    course = module.split(".")[0] in ("checkpoints", "plots", "widgets", "transfer", "check", "cli")
    return f"therapy_utils.{'course.' if course else ''}{module}"


def test_what_the_notebooks_call_is_documented_numpydoc_style():
    """Every package function or class a notebook calls documents its parameters (numpydoc, as scikit-learn does)."""
    import importlib
    import inspect

    called = set()
    for path in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                called |= set(re.findall(r"(?<![\w.])(simulate|outcome|truth|data|batching|model|train|checkpoint|"
                                         r"evaluate|embeddings|optimize|checkpoints|plots|widgets|uncertainty|"
                                         r"transfer)\.([A-Za-z_]\w*)\(", source))
                called |= {(f"plots.{sub}", name) for sub, name in re.findall(r"\bplots\.(\w+)\.(\w+)\(", source)}
    assert len(called) > 50
    undocumented = [f"{module}.{name}" for module, name in sorted(called)
                    if not re.search(r"^(Parameters|Attributes)\n-{5,}", inspect.getdoc(
                        getattr(importlib.import_module(package_path(module)), name)) or "", flags=re.M)]
    assert undocumented == []

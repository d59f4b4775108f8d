"""Set-up files agree with each other, and importing the package does no work."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

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
    declared = project["dependencies"] + project["optional-dependencies"]["dev"]
    names = {re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0].lower() for d in declared}
    assert names == set(pins((REPO / ".ci" / "constraints.txt").read_text().splitlines()))


def test_top_level_holds_only_the_agreed_files():
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=REPO).stdout.split()
    if not tracked:  # not a git checkout (e.g. an sdist): nothing to check
        return
    top = {path.split("/")[0] for path in tracked}
    allowed = {"notebooks", "therapy_utils", "environment.yml", "tests", "README.md", "pyproject.toml", "Makefile",
               ".ci", ".gitignore", "benchmarks"}
    assert top <= allowed, top - allowed


def test_import_does_no_work(tmp_path):
    code = ("import random, numpy; state = numpy.random.get_state()[1].copy(); py = random.getstate();"
            "import therapy_utils, therapy_utils.simulate, therapy_utils.data, therapy_utils.model,"
            " therapy_utils.train, therapy_utils.evaluate, therapy_utils.embeddings, therapy_utils.plots,"
            " therapy_utils.cli;"
            "assert (numpy.random.get_state()[1] == state).all() and random.getstate() == py")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and list(tmp_path.iterdir()) == []  # nothing printed, nothing written

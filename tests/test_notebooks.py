"""Notebook hygiene that nbval does not check: executed in order, no errors, small, no stored widget state."""

from __future__ import annotations

import json
import re

import pytest
from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_series_is_numbered_from_01_without_gaps():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_executed_and_tidy(path):
    notebook = json.loads(path.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert path.stat().st_size < 1_500_000
    assert "widgets" not in notebook["metadata"]
    lines = [len("".join(c["source"]).splitlines()) for c in code]
    # the one standard setup cell groups all imports and may run a little longer
    assert lines[0] <= 20 and max(lines[1:]) <= 15, "code cells stay short"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_skeleton(path):
    cells = json.loads(path.read_text())["cells"]
    first = "".join(cells[0]["source"])
    assert first.startswith("# ") and "What you will learn" in first and "Run time" in first
    assert "setup" in "".join(cells[1]["source"]).lower()
    markdown = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "## Summary" in markdown and "## Exercises" in markdown
    drawing = [c for c in cells if c["cell_type"] == "code" and any("image/png" in o.get("data", {})
                                                                   for o in c["outputs"])]
    untitled = ["".join(c["source"])[:60] for c in drawing if not TITLED.search("".join(c["source"]))]
    assert not untitled, f"figures drawn without a title: {untitled}"


TITLED = re.compile(r"""title=\s*f?["'][^"']|set_title\(\s*f?["'][^"']|suptitle\(\s*f?["'][^"']""")


def test_the_title_check_catches_an_untitled_figure():
    assert TITLED.search('plots.embedding_map_figure(table, groups, title="PCA map")')
    assert not TITLED.search("plots.embedding_map_figure(table, groups)")
    assert not TITLED.search('plots.embedding_map_figure(table, groups, title="")')

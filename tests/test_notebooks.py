"""Notebook hygiene that nbval does not check: executed in order, no errors, small, no stored widget state."""

from __future__ import annotations

import itertools
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


SOLUTIONS = sorted((REPO / "notebooks" / "solutions").glob("[0-9][0-9]_solutions.ipynb"))
FENCED = re.compile(r"^```.*?^```", re.S | re.M)
HEADING = re.compile(r"^(#{1,6}) \S", re.M)
MARKDOWN_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]+)\)")
LINK_TEXT = re.compile(r"(?<!!)\[([^\]]+)\]\([^)]+\)")


def markdown_of(path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"]


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_every_picture_has_alt_text_that_says_what_it_shows(path):
    """The book turns each image output into <img alt=...>; without the cell's alt text it reads out a file hash."""
    cells = json.loads(path.read_text())["cells"]
    missing = []
    for cell in cells:
        if cell["cell_type"] == "code" and any("image/png" in o.get("data", {}) for o in cell["outputs"]):
            alt = cell["metadata"].get("mystnb", {}).get("image", {}).get("alt", "")
            if len(alt.split()) < 6 or alt.endswith(".png"):
                missing.append("".join(cell["source"])[:50])
    for text in markdown_of(path):
        missing += [f"![{alt}]({target})" for alt, target in MARKDOWN_IMAGE.findall(text) if len(alt.split()) < 4]
    assert not missing, f"figures without alt text: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_one_title_and_headings_in_order(path):
    levels = [len(m.group(1)) for text in markdown_of(path) for m in HEADING.finditer(FENCED.sub("", text))]
    assert levels.count(1) == 1 and levels[0] == 1, f"one H1 title first: {levels}"
    jumps = [(a, b) for a, b in itertools.pairwise(levels) if b > a + 1]
    assert not jumps, f"a heading skips a level: {jumps}"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_links_say_where_they_go(path):
    vague = [t for text in markdown_of(path) for t in LINK_TEXT.findall(text)
             if t.strip().lower() in {"here", "this", "link", "click here", "this link", "see here"}]
    assert not vague, f"links that do not say where they go: {vague}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_exercise_says_how_long_it_takes(path):
    exercises = [text for text in markdown_of(path) if text.startswith("### Exercise")]
    untimed = [text.splitlines()[0] for text in exercises if not re.search(r"\*\(about \d+ min\)\*", text)]
    assert exercises and not untimed, f"exercises that do not say how long they take: {untimed}"

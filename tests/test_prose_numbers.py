"""Every number the text quotes is one the notebook (or, for the READMEs, a benchmark script) printed.

Strict nbval keeps the outputs honest; this keeps the prose beside them honest. A decimal number, percentage or
power of ten in a notebook's markdown must appear in that notebook's own outputs at the precision quoted
(``prose_numbers.matches``); a figure in ``README.md`` or ``benchmarks/README.md`` (those, integers with a unit of
time, memory or throughput) must appear in a results file that a script in ``benchmarks/`` wrote (or in a notebook's
output, for the figures the README repeats from the notebooks).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import REPO
from prose_numbers import Printed, Quoted, matches, printed_numbers, quoted_numbers, unmatched

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RESULTS = REPO / "benchmarks" / "results"
# What cannot be an output, each with its reason. Bibliographic numbers (years, volumes, pages, arXiv ids) are
# left out by leaving out each notebook's "## References" section, link targets by leaving out URLs, and the values
# an exercise asks the learner to try by leaving out "## Exercises" and the "### Exercise" cells (inputs, not results).
ALLOWED = {
    "Python 3.11": "the Python version the project pins, not a result",
    "Python 3.13": "the newer Python version the project is tested on, not a result",
}
README_UNITS = ("s", "min", "MB", "GB", "KB", "/s", "×")


def markdown_prose(cells: list[dict]) -> str:
    """The markdown a learner reads as claims: without exercises, references, link targets and allow-listed phrases."""
    parts = []
    for cell in cells:
        if cell["cell_type"] != "markdown" or "".join(cell["source"]).startswith("### Exercise"):
            continue
        text = re.split(r"^## (?:References|Exercises)", "".join(cell["source"]), flags=re.M)[0]
        text = re.sub(r"\]\([^)]*\)", "]", text)
        text = re.sub(r"https?://\S+", "", text)
        for phrase in ALLOWED:
            text = text.replace(phrase, "")
        parts.append(text)
    return "\n\n".join(parts)


def output_text(cells: list[dict]) -> str:
    """Everything the code cells printed as text (streams, plain text, HTML and markdown displays)."""
    texts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            texts += ["".join(v) for k, v in output.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(texts)


def _context(text: str, quoted: Quoted) -> str:
    at = text.find(quoted.text)
    return text[max(0, at - 60):at + len(quoted.text) + 20].replace("\n", " ")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_number_in_the_prose_is_in_the_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    prose = markdown_prose(cells)
    missing = unmatched(quoted_numbers(prose), printed_numbers(output_text(cells)))
    assert not missing, "quoted in the text but printed by no cell:\n" + "\n".join(
        f"  {q.text!r}: …{_context(prose, q)}…" for q in missing)


def _results_numbers() -> tuple[list[Printed], list[Printed]]:
    """What the benchmark scripts wrote and the notebooks printed (the README summarises both), and apart from it the
    durations alone: the JSON values of keys that hold seconds, in seconds and in minutes, with each results list's
    total (a run's length is the sum of its rows)."""
    numbers: list[Printed] = []
    durations: list[Printed] = []

    def add_duration(seconds: float) -> None:
        durations.extend([Printed(seconds, 99), Printed(seconds / 60, 99)])

    def walk(value, key: str = "") -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                walk(item, key if key == "seconds" else name)  # {"seconds": {"01_….ipynb": 4.07}}
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
            if value and all(isinstance(row, dict) and isinstance(row.get("seconds"), float) for row in value):
                add_duration(sum(row["seconds"] for row in value))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers.append(Printed(float(value), 99))
            if key.endswith("seconds") or key.endswith("_s"):
                add_duration(float(value))
        elif isinstance(value, str):
            numbers.extend(printed_numbers(value))

    for path in sorted(RESULTS.glob("*.json")):
        walk(json.loads(path.read_text()))
    for path in sorted(RESULTS.glob("*.md")):
        numbers += printed_numbers(path.read_text())
    for path in NOTEBOOKS:
        numbers += printed_numbers(output_text(json.loads(path.read_text())["cells"]))
    return numbers, durations


def readme_prose(path: Path) -> str:
    """A README without code (commands and example rows, not claims), link targets and the allow-listed phrases."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    for phrase in ALLOWED:
        text = text.replace(phrase, "")
    return text


@pytest.mark.parametrize("path", [REPO / "README.md", REPO / "benchmarks" / "README.md"],
                         ids=["README.md", "benchmarks/README.md"])
def test_every_figure_in_the_readmes_is_in_a_results_file(path):
    text = readme_prose(path)
    quoted = quoted_numbers(text, integers_with_units=README_UNITS)
    assert len(quoted) >= 5, "the README quotes figures, so the check must find some"
    numbers, durations = _results_numbers()
    missing = [q for q in quoted if q.unit not in ("s", "min") and unmatched([q], numbers)]
    missing += [q for q in quoted if q.unit in ("s", "min") and unmatched([q], durations)]
    assert not missing, "quoted in the README but in no benchmarks/results file or notebook output:\n" + "\n".join(
        f"  {q.text!r}: …{_context(text, q)}…" for q in missing)


@pytest.mark.parametrize(("quoted", "printed", "expected"), [
    ("oracle R² about 0.76", "0.7604", True),
    ("oracle R² about 0.77", "0.760", False),
    ("it reaches 0.760", "0.76", False),  # the output does not support three decimals
    ("about 41 % of it", "0.412", True),
    ("about 41 % of it", "41.2%", True),
    ("about 99 % of it", "0.956", False),
    ("it moves by −0.022", "-0.023", False),
    ("it moves by −0.023", "-0.023", True),
    ("it falls by 0.023", "-0.023", True),  # a magnitude may be quoted without its sign
    ("a gain of +0.05", "-0.05", False),
    ("about $5.8 \\times 10^{14}$ courses", "582622237229761", True),
    ("R² within 5e-8", "4.8e-08", True),
    ("R² within 5e-8", "6.2e-08", False),
    ("about 7 × 10^14 courses", "582622237229761", False),
    ("learning rate 3e-4", "lr=0.0003", True),
    ("learning rate 3e-4", "lr=0.003", False),
])
def test_the_matching_rule(quoted, printed, expected):
    found = quoted_numbers(quoted)
    assert len(found) == 1, found
    assert (not unmatched(found, printed_numbers(printed))) is expected


def test_versions_integers_and_identifiers_are_not_quantities():
    assert quoted_numbers("torch 2.13.0, 17 modules, cell-05, notebook 08, x_1.5, A–Q, 4–20") == []


def test_readme_units_are_read_as_figures():
    found = quoted_numbers("the suite takes 265 s, 27,500/s, ~55 min, and 3 notebooks",
                           integers_with_units=README_UNITS)
    assert [(q.text, q.unit) for q in found] == [("265", "s"), ("27,500", "/s"), ("55", "min")]
    assert matches(found[1], Printed(27494.2, 99)) and not matches(found[1], Printed(27400.0, 99))
    assert matches(found[2], Printed(3232.7 / 60, 99)) is False and matches(found[2], Printed(55.2, 99))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_run_time_a_notebook_states_is_the_speed_benchmark_s(path):
    """A notebook's header states its run time; benchmarks/speed.py measured it (fresh kernel, 2-core CPU)."""
    measured = json.loads((RESULTS / "speed.json").read_text())["notebooks"]["seconds"][path.name]
    header = "".join(json.loads(path.read_text())["cells"][0]["source"])
    stated = re.search(r"\*\*Run time:\*\* about (\d+) s on a 2-core CPU", header)
    assert stated, "the header states no run time"
    assert stated.group(1) == f"{measured:.0f}", f"speed.py measured {measured:.1f} s"

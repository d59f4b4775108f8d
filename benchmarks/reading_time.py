"""How long each notebook takes to work through: reading (with its code and figures) and its exercises, estimated.

The method (the README states it; a fresh reader's times are in the issue notes that changed it):

- reading = markdown words at 110 words a minute (technical prose with equations, read to be understood, is far
  slower than the 200-250 of plain prose) + 10 s for each line of code (read it, run it, read its output) + 1.5
  minutes for each figure; the collapsed "For maintainers" note at the end is not counted. The three rates were
  fitted to four first-time readers' own times for the eleven notebooks (issue 29: 20 to 80 minutes each; this
  method is within 4 minutes of them on average, 10 at worst);
- exercises = the sum of the times the exercises themselves state ("*(about N min)*" under each heading);
- each rounded up to the next 5 minutes.

``python benchmarks/reading_time.py`` writes ``results/reading_time.json`` and ``.md``; with ``--write`` it also
puts the figures into each notebook's header ("**Time:** ...") and the instructors' page
(``notebooks/instructors.md``, between its ``times`` markers). ``tests/test_reading_time.py`` recomputes them.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import nbformat
from common import write_results

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
WORDS_PER_MINUTE = 110
SECONDS_PER_CODE_LINE = 10
MINUTES_PER_FIGURE = 1.5
# The calibration (issue 29): each notebook's (words, code lines, figures) as four first-time readers read it, and
# their own minutes to read and run it (midpoints where a reader gave a range).
CALIBRATION: dict[str, tuple[int, int, int, float]] = {
    "01": (1577, 86, 3, 30),
    "02": (2262, 152, 4, 50),
    "03": (1832, 140, 2, 40),
    "04": (1653, 79, 6, 27.5),
    "05": (2106, 85, 4, 37.5),
    "06": (1438, 60, 2, 20),
    "07": (2987, 140, 2, 60),
    "08": (4122, 183, 2, 80),
    "09": (2545, 100, 3, 45),
    "10": (2149, 76, 3, 35),
    "11": (3265, 152, 3, 60),
}
EXERCISE_TIME = re.compile(r"\*\(about (\d+) min\)\*")
DETAILS = re.compile(r"<details>.*?</details>", re.S)
TIME_LINE = re.compile(r"\*\*Time:\*\* [^\n]*\n\n")
RUN_TIME = "**Run time:**"
SESSION_MIN = 90


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def estimate(path: Path) -> dict[str, int]:
    """Words, code lines, figures and exercise minutes of one notebook, and its rounded reading and exercise times."""
    cells = json.loads(path.read_text())["cells"]
    prose = [DETAILS.sub("", TIME_LINE.sub("", _source(c))) for c in cells if c["cell_type"] == "markdown"]
    code = [_source(c) for c in cells if c["cell_type"] == "code"]
    words = sum(len(text.split()) for text in prose)
    code_lines = sum(1 for text in code for line in text.splitlines() if line.strip())
    figures = sum(1 for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])
                  if "image/png" in o.get("data", {}))
    exercise_minutes = sum(int(m) for text in prose if text.startswith("### Exercise")
                           for m in EXERCISE_TIME.findall(text))
    reading = words / WORDS_PER_MINUTE + code_lines * SECONDS_PER_CODE_LINE / 60 + figures * MINUTES_PER_FIGURE
    return {"words": words, "code_lines": code_lines, "figures": figures, "exercise_minutes": exercise_minutes,
            "reading_min": 5 * math.ceil(reading / 5), "exercises_min": 5 * math.ceil(exercise_minutes / 5)}


def calibration_error() -> float:
    """Mean absolute difference, in minutes, between this method and the readers' own reading times."""
    errors = [abs(words / WORDS_PER_MINUTE + lines * SECONDS_PER_CODE_LINE / 60 + figures * MINUTES_PER_FIGURE - took)
              for words, lines, figures, took in CALIBRATION.values()]
    return round(sum(errors) / len(errors), 1)


def header_line(times: dict[str, int]) -> str:
    """The header's time line, as every notebook states it."""
    return (f"**Time:** about {times['reading_min']} min to read and run, and about {times['exercises_min']} min for "
            "the exercises.\n\n")


def with_header(notebook: nbformat.NotebookNode, times: dict[str, int]) -> nbformat.NotebookNode:
    """The notebook with its header's time line set (added just before its run-time line)."""
    first = notebook.cells[0].source
    if RUN_TIME not in first:
        sys.exit(f"error: the first cell states no {RUN_TIME}")
    notebook.cells[0].source = TIME_LINE.sub("", first).replace(RUN_TIME, header_line(times) + RUN_TIME, 1)
    return notebook


def table(estimates: dict[str, dict[str, int]]) -> str:
    rows = ["| notebook | words | code lines | figures | reading and running | exercises |",
            "|---|---|---|---|---|---|"]
    rows += [f"| {name} | {t['words']:,} | {t['code_lines']} | {t['figures']} | {t['reading_min']} min | "
             f"{t['exercises_min']} min |" for name, t in estimates.items()]
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="also set the notebooks' headers and instructors.md")
    args = parser.parse_args()
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    estimates = {path.name: estimate(path) for path in paths}
    results = {"method": {"words_per_minute": WORDS_PER_MINUTE, "seconds_per_code_line": SECONDS_PER_CODE_LINE,
                          "minutes_per_figure": MINUTES_PER_FIGURE, "rounded_up_to_min": 5},
               "notebooks": estimates,
               "total_min": sum(t["reading_min"] + t["exercises_min"] for t in estimates.values()),
               "calibration_mean_abs_error_min": calibration_error()}
    write_results(REPO / "benchmarks" / "results", "reading_time", False, results, table(estimates))
    if args.write:
        for path in paths:
            notebook = with_header(nbformat.read(path, as_version=4), estimates[path.name])
            nbformat.write(notebook, path)
        instructors = NOTEBOOKS / "instructors.md"
        text = between(instructors.read_text(), "times", instructors_table(estimates))
        text = between(text, "objectives", objectives(paths))
        instructors.write_text(between(text, "schedule", schedule(estimates)))


def objectives(paths: list[Path]) -> str:
    """Each notebook's title and its "What you will learn" list, as its header states them."""
    parts = []
    for path in paths:
        header = nbformat.read(path, as_version=4).cells[0].source
        title = header.splitlines()[0].removeprefix("# ")
        learn = re.search(r"\*\*What you will learn\*\*\n(.*?)\n\n", header, re.S)
        if not learn:
            sys.exit(f"error: {path.name}'s header has no 'What you will learn' list")
        parts.append(f"**[{title}]({path.name})**\n\n{learn.group(1)}\n")
    return "\n".join(parts)


def between(text: str, marker: str, content: str) -> str:
    """``text`` with what lies between its ``<!-- marker:begin -->`` and ``<!-- marker:end -->`` replaced."""
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    start, stop = text.index(begin) + len(begin), text.index(end)
    return text[:start] + "\n" + content + text[stop:]


def schedule(estimates: dict[str, dict[str, int]]) -> str:
    """Sessions of SESSION_MIN minutes filled in order with whole notebooks' reading; exercises as homework."""
    sessions: list[list[str]] = [[]]
    used = 0
    for name, times in estimates.items():
        if sessions[-1] and used + times["reading_min"] > SESSION_MIN:
            sessions.append([])
            used = 0
        sessions[-1].append(name)
        used += times["reading_min"]
    rows = ["| session | notebooks | reading and running | exercises (homework) |", "|---|---|---|---|"]
    for number, names in enumerate(sessions, start=1):
        rows.append(f"| {number} | {', '.join(name[:2] for name in names)} | "
                    f"{sum(estimates[n]['reading_min'] for n in names)} min | "
                    f"{sum(estimates[n]['exercises_min'] for n in names)} min |")
    return "\n".join(rows) + "\n"


def instructors_table(estimates: dict[str, dict[str, int]]) -> str:
    """The instructors' page's table: each notebook's reading, exercise and run time."""
    speed = json.loads((REPO / "benchmarks" / "results" / "speed.json").read_text())["notebooks"]["seconds"]
    rows = ["| notebook | reading and running | exercises | run time (2-core CPU) |", "|---|---|---|---|"]
    for name, t in estimates.items():
        title = nbformat.read(NOTEBOOKS / name, as_version=4).cells[0].source.splitlines()[0].removeprefix("# ")
        rows.append(f"| [{title}]({name}) | {t['reading_min']} min | {t['exercises_min']} min | "
                    f"{speed[name]:.0f} s |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    main()

"""Each notebook's header states how long it takes to work through, by the method benchmarks/reading_time.py states
(words, code lines, figures, and the times its exercises state); the instructors' page and the saved results agree."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import reading_time

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_header_states_the_estimated_time(path):
    times = reading_time.estimate(path)
    header = "".join(json.loads(path.read_text())["cells"][0]["source"])
    assert reading_time.header_line(times) in header, "run: python benchmarks/reading_time.py --write"
    assert times["exercise_minutes"] > 0, "no exercise states its time"


def test_the_saved_estimates_and_the_instructors_page_are_current():
    saved = json.loads((REPO / "benchmarks" / "results" / "reading_time.json").read_text())["notebooks"]
    estimates = {path.name: reading_time.estimate(path) for path in NOTEBOOKS}
    assert saved == estimates, "run: python benchmarks/reading_time.py --write"
    page = (REPO / "notebooks" / "instructors.md").read_text()
    assert reading_time.instructors_table(estimates) in page and reading_time.schedule(estimates) in page
    assert reading_time.objectives(NOTEBOOKS) in page


def test_the_schedule_fills_sessions_in_order_without_splitting_a_notebook():
    times = {f"{n:02d}_x.ipynb": {"reading_min": r, "exercises_min": 10} for n, r in enumerate([40, 40, 20, 90], 1)}
    assert reading_time.schedule(times).splitlines()[2:] == ["| 1 | 01, 02 | 80 min | 20 min |",
                                                             "| 2 | 03 | 20 min | 10 min |",
                                                             "| 3 | 04 | 90 min | 10 min |"]


def test_the_estimate_counts_words_code_figures_and_stated_exercise_times(tmp_path):
    cells = [{"cell_type": "markdown", "source": "# T\n\n" + "word " * 298},
             {"cell_type": "code", "source": "a = 1\n\nb = 2\n", "outputs": [{"data": {"image/png": ""}}]},
             {"cell_type": "markdown", "source": "### Exercise 1 · x\n*(about 12 min)*"},
             {"cell_type": "markdown", "source": "<details><summary>For maintainers</summary>" + " w" * 900
              + "</details>"}]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": cells}))
    times = reading_time.estimate(path)
    assert (times["words"], times["code_lines"], times["figures"], times["exercise_minutes"]) == (308, 2, 1, 12)
    # 308 / 110 + 2 × 10 / 60 + 1.5 = 4.6 min → 5; 12 → 15
    assert (times["reading_min"], times["exercises_min"]) == (5, 15)
    cells[0]["source"] = "# T\n\n" + "word " * 398  # 408 / 110 + 0.33 + 1.5 = 5.5 min → 10
    path.write_text(json.dumps({"cells": cells}))
    assert reading_time.estimate(path)["reading_min"] == 10


def test_the_method_stays_close_to_the_readers_it_was_fitted_to():
    """Four first-time readers' own times (issue 29): the method is within 4 minutes of them on average."""
    assert len(reading_time.CALIBRATION) == 11 and reading_time.calibration_error() <= 4.0

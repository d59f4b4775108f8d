"""Issue 9: sessions with diminishing returns, responsiveness, the stopping rule; the shuffled-order control.

Ground truth is checked against Monte Carlo: group means of simulated outcomes must lie within 4 standard errors
(plus the quadrature's 1e-4) of the exact expectations.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from therapy_utils import data, optimize, simulate

STOPPING = simulate.preset_params("realistic", **simulate.STOPPING_RULE)


def within_standard_errors(observed: pd.Series, truth: pd.Series, groups: pd.Series, k: float = 4.0) -> None:
    table = pd.DataFrame({"y": observed.to_numpy(), "t": truth.to_numpy(), "g": groups.to_numpy()})
    stats = table.groupby("g").agg(y=("y", "mean"), t=("t", "mean"), sd=("y", "std"), n=("y", "size"))
    stats = stats[stats["n"] >= 30]
    allowed = k * stats["sd"] / np.sqrt(stats["n"]) + 1e-4
    assert ((stats["y"] - stats["t"]).abs() <= allowed).all(), stats


def test_defaults_leave_the_realistic_preset_unchanged():
    params = simulate.preset_params("realistic")
    assert params.stopping_threshold is None and params.session_gain == 0 and params.responsiveness_sd == 0
    assert "responsiveness" not in simulate.simulate_courses(params, 10, seed=0)


def test_stopping_rule_ends_each_course_when_progress_first_reaches_the_threshold():
    courses = simulate.simulate_courses(STOPPING, 5_000, seed=1)
    matrix, lengths = simulate.courses_to_matrix(courses["modules"], STOPPING.modules)
    a, b = simulate._progress_parts(STOPPING, matrix)
    progress = a + courses["responsiveness"].to_numpy()[:, None] * b
    for row in range(0, 5_000, 50):
        length = lengths[row]
        assert STOPPING.min_length <= length <= STOPPING.max_length
        earlier = progress[row, STOPPING.min_length - 1: length - 1]
        assert (earlier < STOPPING.stopping_threshold).all()
        if length < STOPPING.max_length:
            assert progress[row, length - 1] >= STOPPING.stopping_threshold


def test_observational_truth_matches_monte_carlo_at_every_length():
    courses = simulate.simulate_courses(STOPPING, 100_000, seed=2)
    truth = simulate.expected_effectiveness(STOPPING, courses["modules"])
    within_standard_errors(courses["effectiveness"], pd.Series(truth), courses["modules"].map(len))


def test_interventional_truth_matches_monte_carlo_for_assigned_lengths():
    """Give everyone L sessions (no stopping): the mean outcome is the interventional truth."""
    for length in (4, 10, 18):
        fixed = replace(STOPPING, stopping_threshold=None, min_length=length, max_length=length)
        courses = simulate.simulate_courses(fixed, 40_000, seed=length)
        truth = simulate.interventional_effectiveness(STOPPING, courses["modules"])
        within_standard_errors(courses["effectiveness"], pd.Series(truth), pd.Series(np.zeros(len(courses))))


def test_the_stopping_rule_trap_in_numbers():
    """Observed: the longest courses do worst. Assigned: more sessions help up to the fatigue threshold."""
    courses = simulate.simulate_courses(STOPPING, 20_000, seed=3)
    by_length = courses.groupby(courses["modules"].map(len))["effectiveness"].mean()
    assert by_length[STOPPING.max_length] < by_length[STOPPING.min_length] - 0.2
    long = simulate.simulate_courses(replace(STOPPING, stopping_threshold=None, min_length=20, max_length=20),
                                     2_000, seed=4)["modules"]
    curve = optimize.length_curve(optimize.truth_scorer(STOPPING), list(long), range(4, 21))
    rising = curve.loc[4:STOPPING.fatigue_threshold, "mean"]
    assert rising.is_monotonic_increasing and rising.iloc[-1] - rising.iloc[0] > 0.1
    assert (curve["se"] < 0.003).all()


def test_stopping_rule_with_confounding_is_refused_by_name():
    with pytest.raises(ValueError, match=r"severity_strength 0 \(got 2\.0\)"):
        simulate.simulate_courses(replace(STOPPING, severity_strength=2.0), 10, seed=0)


def test_length_curve_refuses_lengths_beyond_the_courses():
    with pytest.raises(ValueError, match="length 5 is longer"):
        optimize.length_curve(lambda c: np.zeros(len(c)), [("A", "B", "C", "D")], [4, 5])


def test_shuffling_within_courses_keeps_each_course_s_modules_and_only_moves_them():
    courses = simulate.simulate_courses(simulate.preset_params("realistic"), 300, seed=5)
    shuffled = data.shuffle_within_courses(courses, seed=1)
    assert all(sorted(a) == sorted(b) for a, b in zip(courses["modules"], shuffled["modules"]))
    assert (shuffled["modules"] != courses["modules"]).mean() > 0.9
    assert shuffled["modules"].equals(data.shuffle_within_courses(courses, seed=1)["modules"])
    assert shuffled.drop(columns="modules").equals(courses.drop(columns="modules"))


def test_run_reports_the_shuffled_control(tmp_path):
    done = subprocess.run([sys.executable, "-m", "therapy_utils", "run", "--preset", "realistic", "--n-sequences",
                           "150", "--model", "best", "--shuffled", "--no-progress", "--out", str(tmp_path), "--json",
                           str(tmp_path / "m.json")], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert -1 < metrics["shuffled_r2"] < 1 and metrics["shuffled_r2"] != metrics["r2"]
    assert f"within each course): {metrics['shuffled_r2']:.3f}" in done.stdout


def test_order_benchmark_smoke(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "order.py"), "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "order_quick.json").read_text())["rows"]
    assert len(rows) == 3 and len({r["variant"] for r in rows}) == 3
    assert all(r["oracle_r2"] > 0 and {"ordered_r2", "shuffled_r2", "ridge_r2"} <= set(r) for r in rows)

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
import torch
from conftest import CHECKPOINTS, REPO

from therapy_utils import batching, checkpoint, data, evaluate, optimize, outcome, simulate, stopping_rule
from therapy_utils import truth as ground_truth
from therapy_utils.course import checkpoints
from therapy_utils.model import BEST_CONFIG, build_model

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
    matrix, lengths = outcome.courses_to_matrix(courses["modules"], STOPPING.modules)
    a, b = outcome.progress_parts(STOPPING, matrix)
    progress = a + courses["responsiveness"].to_numpy()[:, None] * b
    for row in range(0, 5_000, 50):
        length = lengths[row]
        assert STOPPING.min_length <= length <= STOPPING.max_length
        earlier = progress[row, STOPPING.min_length - 1: length - 1]
        assert (earlier < STOPPING.stopping_threshold).all()
        if length < STOPPING.max_length:
            assert progress[row, length - 1] >= STOPPING.stopping_threshold


@pytest.mark.slow
def test_observational_truth_matches_monte_carlo_at_every_length():
    courses = simulate.simulate_courses(STOPPING, 100_000, seed=2)
    truth = ground_truth.expected_effectiveness(STOPPING, courses["modules"])
    within_standard_errors(courses["effectiveness"], pd.Series(truth), courses["modules"].map(len))


@pytest.mark.slow
def test_interventional_truth_matches_monte_carlo_for_assigned_lengths():
    """Give everyone L sessions (no stopping): the mean outcome is the interventional truth."""
    for length in (4, 10, 18):
        fixed = replace(STOPPING, stopping_threshold=None, min_length=length, max_length=length)
        courses = simulate.simulate_courses(fixed, 40_000, seed=length)
        truth = ground_truth.interventional_effectiveness(STOPPING, courses["modules"])
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


SOFT = replace(STOPPING, stopping_softness=0.3)  # notebook 09's clinician: stopping is likelier, never certain


def test_a_soft_rule_stops_with_the_stated_chance_and_a_hard_rule_draws_nothing_new():
    courses = simulate.simulate_courses(SOFT, 50_000, seed=6)
    lengths = courses["modules"].map(len).to_numpy()
    progress = stopping_rule.interim_progress(SOFT, courses["modules"], courses["responsiveness"])
    at_four = progress[:, SOFT.min_length - 1]
    stopped = lengths == SOFT.min_length
    for low, high in ((0.5, 0.6), (0.7, 0.8), (0.9, 1.0)):  # the share stopping after session 4, by progress there
        band = (at_four >= low) & (at_four < high)
        chance = stopping_rule.stopping_chance(SOFT, at_four[band])
        assert abs(stopped[band].mean() - chance.mean()) < 4 * np.sqrt(chance.mean() * (1 - chance.mean())
                                                                        / band.sum()), (low, high)
    assert np.isnan(progress[lengths < SOFT.max_length, -1]).all()  # nothing recorded after a course's end
    hard = simulate.simulate_courses(STOPPING, 2_000, seed=7)
    assert hard.equals(simulate.simulate_courses(replace(STOPPING, stopping_softness=0.0), 2_000, seed=7))
    with pytest.raises(ValueError, match=r"stopping_softness must be at least 0, got -0\.1"):
        simulate.simulate_courses(replace(STOPPING, stopping_softness=-0.1), 10, seed=0)


@pytest.mark.slow
def test_the_soft_rules_observational_truth_matches_monte_carlo_at_every_length():
    courses = simulate.simulate_courses(SOFT, 40_000, seed=8)
    truth = ground_truth.expected_effectiveness(SOFT, courses["modules"])
    within_standard_errors(courses["effectiveness"], pd.Series(truth), courses["modules"].map(len))


def test_ipw_recovers_the_interventional_curve_where_the_weights_are_well_behaved():
    """Notebook 09's remedy, on 50,000 soft-rule courses: where a length's weighted courses are worth at least 100
    equally weighted ones, the IPW mean is within 4 of its standard errors (plus 0.005 for the fitted stopping
    model's misspecification, logistic for a probit rule) of E[y | do(L)]; the plain means are far off."""
    courses = simulate.simulate_courses(SOFT, 50_000, seed=9)
    lengths = courses["modules"].map(len).to_numpy()
    progress = stopping_rule.interim_progress(SOFT, courses["modules"], courses["responsiveness"])
    chances = optimize.stopping_chances(progress, lengths, SOFT.min_length, SOFT.max_length)
    weighted = optimize.ipw_length_curve(courses["effectiveness"], lengths, chances, SOFT.min_length)
    long = simulate.simulate_courses(replace(SOFT, stopping_threshold=None, min_length=20), 2_000, seed=10)
    truth = optimize.length_curve(optimize.truth_scorer(SOFT), list(long["modules"]), range(4, 21))["mean"]
    trusted = weighted[weighted["effective courses"] >= 100]
    assert len(trusted) >= 4
    gaps = (trusted["mean"] - truth.loc[trusted.index]).abs()
    assert (gaps <= 4 * trusted["se"] + 0.005).all(), pd.concat([trusted, truth], axis=1)
    plain = courses.groupby(lengths)["effectiveness"].mean()
    assert (plain.loc[trusted.index] - truth.loc[trusted.index]).abs().max() > 0.1


def test_ipw_weights_are_the_inverse_chance_of_the_decisions_received():
    """Two courses, hand-computed: one went on after session 1 (chance 0.5 of stopping) and stopped after 2 (0.25);
    the other stopped after 1. Weighted means per length are then the single outcomes; the weights show in the
    effective number of courses (one course: 1)."""
    chances = np.array([[0.5, 0.25, 1.0], [0.2, 0.0, 1.0], [0.5, 0.5, 1.0]])
    table = optimize.ipw_length_curve(np.array([0.6, 0.3, 0.9]), np.array([2, 1, 2]), chances, min_length=1)
    assert table.loc[1, "mean"] == pytest.approx(0.3)
    # course 0: 1 / (0.5 · 0.25) = 8; course 2: 1 / (0.5 · 0.5) = 4; mean (8 · 0.6 + 4 · 0.9) / 12
    assert table.loc[2, "mean"] == pytest.approx((8 * 0.6 + 4 * 0.9) / 12)
    assert table.loc[2, "effective courses"] == pytest.approx(12 ** 2 / (8 ** 2 + 4 ** 2))


def test_stopping_rule_with_confounding_is_refused_by_name():
    with pytest.raises(ValueError, match=r"severity_strength 0 \(got 2\.0\)"):
        simulate.simulate_courses(replace(STOPPING, severity_strength=2.0), 10, seed=0)


def test_length_curve_refuses_lengths_beyond_the_courses():
    with pytest.raises(ValueError, match="length 5 is longer"):
        optimize.length_curve(lambda c: np.zeros(len(c)), [("A", "B", "C", "D")], [4, 5])


def test_shuffling_within_courses_keeps_each_course_s_modules_and_only_moves_them():
    courses = simulate.simulate_courses(simulate.preset_params("realistic"), 300, seed=5)
    shuffled = data.shuffle_within_courses(courses, seed=1)
    assert all(sorted(a) == sorted(b) for a, b in zip(courses["modules"], shuffled["modules"], strict=True))
    assert (shuffled["modules"] != courses["modules"]).mean() > 0.9
    assert shuffled["modules"].equals(data.shuffle_within_courses(courses, seed=1)["modules"])
    assert shuffled.drop(columns="modules").equals(courses.drop(columns="modules"))


@pytest.mark.slow
def test_run_reports_the_shuffled_control(tmp_path):
    """On the realistic preset order carries signal (the motifs), so shuffling costs accuracy. Measured at 400 courses,
    seed 42, with the best model (notebook 08's winner) under native kernels, 1 thread, ATen's generic kernels and
    MKL_CBWR=COMPATIBLE: r2 0.603-0.612, shuffled 0.350 each time (at 150 courses the test split is too small)."""
    done = subprocess.run([sys.executable, "-m", "therapy_utils", "run", "--preset", "realistic", "--n-sequences",
                           "400", "--model", "best", "--shuffled", "--no-progress", "--out", str(tmp_path), "--json",
                           str(tmp_path / "m.json")], capture_output=True, text=True, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["shuffled_r2"] < metrics["r2"] - 0.1
    assert f"within each course): {metrics['shuffled_r2']:.3f}" in done.stdout


@pytest.mark.slow
def test_order_benchmark_smoke(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "order.py"), "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "order_quick.json").read_text())["rows"]
    assert len(rows) == 3 and len({r["variant"] for r in rows}) == 3
    assert all(r["oracle_r2"] > 0 and {"ordered_r2", "shuffled_r2", "ridge_r2"} <= set(r) for r in rows)


def test_integrated_gradients_add_up_to_the_prediction_minus_the_paths_start(trained):
    model, vocab, parts = trained
    courses = list(parts["test"]["modules"][:20])
    attributions = evaluate.integrated_gradients(model, courses, vocab, steps=64)
    assert [len(a) for a in attributions] == [len(c) for c in courses]
    gap = evaluate.predict(model, courses, vocab) - evaluate.path_start_predictions(model, courses, vocab)
    # completeness holds up to the 64-step Riemann sum's error
    assert np.allclose([a.sum() for a in attributions], gap, atol=5e-3)
    padded, lengths = batching.encode_padded(courses, vocab)
    with torch.no_grad():  # a packed LSTM reads no mask: its path starts at the all-padding course of equal length
        assert np.allclose(gap, (model(padded, lengths) - model(torch.zeros_like(padded), lengths)).numpy())


@pytest.mark.parametrize("name", ["realistic_lstm", "realistic_cnn_ensemble", "original_best"])
def test_shipped_models_attributions_are_complete_against_the_paths_real_start(name, tmp_path):
    """Measured on these 40 courses at 128 steps: error 0 (below 1e-6) for the LSTM, 2.1e-4 for the five-CNN
    ensemble; against the all-padding course the ensemble's error stays 0.033 at any number of steps."""
    fitted, vocab = checkpoint.load_checkpoint(CHECKPOINTS / name)
    courses = [c for c in checkpoints.notebook_courses(tmp_path)["modules"][-40:]
               if set(c) <= set(vocab.modules)]
    attributions = evaluate.integrated_gradients(fitted, courses, vocab, steps=128)
    gap = evaluate.predict(fitted, courses, vocab) - evaluate.path_start_predictions(fitted, courses, vocab)
    assert np.abs(np.array([a.sum() for a in attributions]) - gap).max() < 1e-3


def test_an_ensemble_is_attributed_through_every_member(small_courses):
    vocab = data.Vocabulary.from_courses(small_courses["modules"])
    ensemble = build_model(len(vocab), replace(BEST_CONFIG, ensemble_size=2), torch.Generator().manual_seed(0))
    courses = list(small_courses["modules"][:5])
    attributions = evaluate.integrated_gradients(ensemble, courses, vocab)
    assert [len(a) for a in attributions] == [len(c) for c in courses]
    # IG is linear in the model: the ensemble's is its members' mean (measured: equal to the last bit)
    members = [evaluate.integrated_gradients(member, courses, vocab) for member in ensemble.members]
    for i, attribution in enumerate(attributions):
        np.testing.assert_allclose(attribution, np.mean([m[i] for m in members], axis=0), atol=1e-6)
    # and complete: each course's attributions sum to its prediction minus the path's start (measured 2.3e-4 at the
    # default 32 steps, gaps up to 0.028)
    gap = evaluate.predict(ensemble, courses, vocab) - evaluate.path_start_predictions(ensemble, courses, vocab)
    assert np.abs(np.array([a.sum() for a in attributions]) - gap).max() < 5e-4 < np.abs(gap).max()


def test_motif_hit_counts_courses_whose_top_positions_lie_on_motifs():
    motifs = (("A", "B", "A"),)
    courses = [("C", "A", "B", "A", "D"), ("A", "B", "A", "Q"), ("C", "D", "E", "F")]
    assert evaluate.motif_positions(courses[0], motifs) == {1, 2, 3}
    on_motif, off_motif = np.array([0, 3, 2, 1, 0.5]), np.array([1.0, 0.5, 0.4, 2])
    assert evaluate.motif_hit([on_motif, off_motif, np.zeros(4)], courses, motifs) == 0.5  # the third has no motif
    assert np.isnan(evaluate.motif_hit([np.zeros(4)], courses[2:], motifs))


def test_the_truth_s_own_occlusion_points_at_the_motifs_and_passes_the_removal_checks():
    """The simulator's exact expectation, explained by occlusion: the yardstick for a model's explanations."""
    params = simulate.preset_params("realistic")
    courses = list(simulate.simulate_courses(params, 400, seed=6)["modules"])
    truth = optimize.truth_scorer(params)
    attributions = [evaluate.occlusion(truth, c) for c in courses]
    # 0.84 here, 0.92 on notebook 10's test courses: the issue's 0.8 is met with room
    assert evaluate.motif_hit(attributions, courses, params.motifs) >= 0.8
    checks = evaluate.removal_checks(truth, attributions, courses, k=3, seed=0)
    assert checks["comprehensiveness_top"] > 2 * checks["comprehensiveness_random"]
    assert checks["sufficiency_top"] < checks["sufficiency_random"]


def test_occlusion_gives_equal_neighbours_exactly_equal_contributions():
    """Dropping either B of (A, B, B, C) leaves the same course: scored once, the two contributions are equal to the
    last bit, so which one ranks first never depends on the CPU's rounding."""
    calls = []

    def score(courses):
        calls.append(list(courses))
        return np.array([len(c) + 0.1 * sum(ord(m) for m in c) for c in courses], dtype=float)

    contributions = evaluate.occlusion(score, ("A", "B", "B", "C"))
    assert contributions[1] == contributions[2] and len(contributions) == 4
    assert len(calls[0]) == 4  # the full course and three distinct shorter ones
    assert contributions[0] == pytest.approx(1 + 0.1 * ord("A"))


def test_too_few_courses_to_split_are_refused_by_count():
    with pytest.raises(ValueError, match="2 course"):
        data.random_split_indices(2)
    assert sum(len(v) for v in data.random_split_indices(3).values()) == 3


def test_replacement_occlusion_of_an_additive_score_is_each_modules_value_minus_the_others_mean():
    value = {"A": 0.3, "B": -0.1, "C": 0.05}
    seen_lengths = set()

    def additive(courses):
        seen_lengths.update(len(c) for c in courses)
        return np.array([sum(value[m] for m in c) for c in courses])

    courses = [("A", "B", "A"), ("C",), ("B", "C", "C", "A")]
    got = evaluate.replacement_occlusion(additive, courses, ("A", "B", "C"))
    for course, contributions in zip(courses, got, strict=True):
        others = [np.mean([value[o] for o in value if o != m]) for m in course]
        assert np.allclose(contributions, [value[m] - o for m, o in zip(course, others, strict=True)])
    assert seen_lengths == {1, 3, 4}  # replacing never shortens or lengthens a course, unlike deletion


def test_replacement_occlusion_names_a_module_it_cannot_replace():
    with pytest.raises(ValueError, match="course 1 holds module 'Z'"):
        evaluate.replacement_occlusion(lambda c: np.zeros(len(c)), [("A",), ("A", "Z")], ("A", "B"))
    with pytest.raises(ValueError, match="at least two modules"):
        evaluate.replacement_occlusion(lambda c: np.zeros(len(c)), [("A",)], ("A",))

"""The simulator: exact parity with the original, and ground truth checked by Monte Carlo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from therapy_utils.data import assign_split
from therapy_utils.outcome import courses_to_matrix, motif_counts
from therapy_utils.simulate import preset_params, simulate_courses, transition_matrices
from therapy_utils.truth import expected_effectiveness, next_module_distribution


def test_original_preset_reproduces_reference_exactly(reference):
    simulated = assign_split(simulate_courses(preset_params("original"), 500, seed=42), random_state=42)
    assert list(simulated["course_id"]) == list(reference["course_id"])
    assert list(simulated["modules"].map(" ".join)) == list(reference["modules"])
    # bit-for-bit equal floats, not approximately equal
    assert np.array_equal(simulated["effectiveness"].to_numpy(), reference["effectiveness"].to_numpy())
    assert list(simulated["split"]) == list(reference["split"])


def test_original_published_summary_statistics():
    courses = simulate_courses(preset_params("original"), 500, seed=42)
    assert f"{courses['modules'].map(len).mean():.2f}" == "12.28"
    assert f"{courses['effectiveness'].mean():.3f}" == "0.615"


def test_same_seed_same_courses_and_different_seed_differs():
    params = preset_params("realistic")
    first, again = simulate_courses(params, 200, 3), simulate_courses(params, 200, 3)
    pd.testing.assert_frame_equal(first, again)
    assert not simulate_courses(params, 200, 4)["modules"].equals(first["modules"])


def test_simulation_leaves_global_random_state_alone():
    import random

    np.random.seed(0)
    random.seed(0)
    before_np, before_py = np.random.get_state()[1].copy(), random.getstate()
    simulate_courses(preset_params("original"), 50, 1)
    simulate_courses(preset_params("realistic"), 50, 1)
    assert np.array_equal(np.random.get_state()[1], before_np) and random.getstate() == before_py


def test_realistic_catalogue_has_named_modules_in_four_to_six_groups():
    params = preset_params("realistic")
    groups = dict(params.groups)
    assert 4 <= len(groups) <= 6
    assert sorted(m for members in groups.values() for m in members) == list(params.modules)
    names = dict(params.module_names)
    assert set(names) == set(params.modules) and all(len(n) > 3 for n in names.values())


def test_transitions_are_distributions_and_groups_stick_together():
    params = preset_params("realistic")
    starts, trans = transition_matrices(params)
    assert np.allclose(starts.sum(1), 1) and np.allclose(trans.sum(2), 1)
    group = params.group_of()
    same = np.array([[group[a] == group[b] for b in params.modules] for a in params.modules])
    # a random module would stay in its group with probability ~ group size / 17 (<= 0.24)
    assert (trans[0] * same).sum(1).min() > 0.45


def test_motifs_count_anywhere_and_order_matters():
    params = preset_params("realistic")
    courses = [tuple("QABAQ"), tuple("BAA"), tuple("ABABA")]
    matrix, _ = courses_to_matrix(courses, params.modules)
    counts = motif_counts(matrix, params)
    assert list(counts[:, 0]) == [1, 0, 2]  # A→B→A: in the middle, not as B→A→A, overlapping twice
    expected = expected_effectiveness(params, [tuple("GGABAGG"), tuple("GGBAAGG")])
    assert expected[0] - expected[1] == pytest.approx(params.motif_boost, abs=0.01)


@pytest.mark.slow
@pytest.mark.parametrize("preset,overrides", [("original", {}), ("realistic", {}),
                                               ("realistic", {"severity_strength": 1.0})])
def test_expected_effectiveness_matches_monte_carlo(preset, overrides):
    """Residuals y − E[y|course] average to zero overall and within slices that stress the formula."""
    params = preset_params(preset, **overrides)
    courses = simulate_courses(params, 200_000, seed=11)
    expected = expected_effectiveness(params, courses["modules"])
    residual = courses["effectiveness"].to_numpy() - expected
    matrix, lengths = courses_to_matrix(courses["modules"], params.modules)
    crisis = np.isin(matrix, [params.modules.index(m) for m in ("N", "O")]).sum(1)
    slices = {"all": np.ones(len(courses), bool), "long": lengths > params.fatigue_threshold,
              "high E (clipping)": expected > np.quantile(expected, 0.95),
              "low E": expected < np.quantile(expected, 0.05),
              "3+ crisis modules": crisis >= 3, "no crisis module": crisis == 0}
    for name, mask in slices.items():
        standard_error = residual[mask].std() / np.sqrt(mask.sum())
        assert abs(residual[mask].mean()) < 4 * standard_error + 1e-4, name


@pytest.mark.slow
def test_ignoring_severity_would_fail_the_monte_carlo_check():
    """The check above has teeth: drop the severity posterior and the crisis slice is visibly off."""
    params = preset_params("realistic", severity_strength=1.0)
    courses = simulate_courses(params, 200_000, seed=11)
    naive = expected_effectiveness(preset_params("realistic"), courses["modules"]) - params.severity_outcome * 0.3
    matrix, _ = courses_to_matrix(courses["modules"], params.modules)
    crisis = np.isin(matrix, [params.modules.index(m) for m in ("N", "O")]).sum(1) >= 3
    residual = courses["effectiveness"].to_numpy()[crisis] - naive[crisis]
    assert abs(residual.mean()) > 10 * residual.std() / np.sqrt(crisis.sum())


@pytest.mark.slow
@pytest.mark.parametrize("strength", [0.0, 1.0])
def test_next_module_distribution_matches_monte_carlo(strength):
    """Empirical P(second module | first module) against the analytic answer, severity posterior included."""
    params = preset_params("realistic", severity_strength=strength)
    courses = simulate_courses(params, 200_000, seed=5)
    first = courses["modules"].map(lambda c: c[0])
    second = courses["modules"].map(lambda c: c[1])
    for module in ("A", "N", "F"):
        picked = second[first == module]
        empirical = picked.value_counts(normalize=True).reindex(list(params.modules), fill_value=0).to_numpy()
        truth = next_module_distribution(params, [(module,)])[0]
        tolerance = 4 * np.sqrt(truth * (1 - truth) / len(picked)) + 1e-3
        assert np.all(np.abs(empirical - truth) < tolerance), module


def test_next_module_needs_realistic_preset_and_non_empty_prefix():
    with pytest.raises(ValueError, match="original"):
        next_module_distribution(preset_params("original"), [("A",)])
    with pytest.raises(ValueError, match="row 1: empty prefix"):
        next_module_distribution(preset_params("realistic"), [("A",), ()])


@pytest.mark.parametrize("n", [0, -5, 2.5, True])
def test_non_positive_course_count_is_rejected(n):
    with pytest.raises(ValueError, match=f"got {n!r}"):
        simulate_courses(preset_params("realistic"), n, seed=0)


def test_unknown_preset_is_rejected():
    with pytest.raises(ValueError, match="'clinical'"):
        preset_params("clinical")


def test_ground_truth_rejects_unknown_module():
    with pytest.raises(ValueError, match="row 1: module 'Z'"):
        expected_effectiveness(preset_params("realistic"), [("A",), ("A", "Z")])

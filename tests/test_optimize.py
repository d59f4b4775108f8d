"""Choosing modules (notebook 09): beam search vs brute force, regret, the interventional truth, the adjustment."""

from __future__ import annotations

import numpy as np
import pytest

from therapy_utils.course.widgets import CourseRecommender
from therapy_utils.optimize import (
    beam_search,
    brute_force,
    module_effects,
    regret_table,
    standardized_scorer,
    truth_scorer,
    with_severity_tokens,
)
from therapy_utils.outcome import courses_to_matrix, outcome_mean
from therapy_utils.simulate import preset_params, simulate_courses
from therapy_utils.truth import expected_effectiveness, interventional_effectiveness

CONFOUNDED = preset_params("realistic", severity_strength=1.0)
MODULES = CONFOUNDED.modules


@pytest.mark.parametrize(("length", "opening"), [(3, ()), (4, ("A",)), (3, ("N", "O"))])
def test_wide_beam_search_equals_brute_force(length, opening):
    truth = truth_scorer(CONFOUNDED)
    exhaustive = brute_force(truth, MODULES, length, opening)
    wide = beam_search(truth, MODULES, length, opening, beam_width=len(MODULES) ** (length - 1))
    def best(table):  # ties are common (A F F A and A A F F score alike), so compare the set of best courses
        return set(table["course"][np.isclose(table["score"], table["score"].iloc[0])])

    assert best(wide) == best(exhaustive)
    assert np.allclose(wide["score"].to_numpy()[:20], exhaustive["score"].to_numpy()[:20])
    assert all(c[:len(opening)] == opening and len(c) == length for c in wide["course"])


@pytest.mark.slow
def test_brute_force_finds_the_planted_motif_and_narrow_beams_can_only_do_worse():
    truth = truth_scorer(preset_params("realistic"))
    best = brute_force(truth, MODULES, 3)
    assert best["course"].iloc[0] in {("A", "B", "A"), ("C", "D", "C"), ("A", "F", "F"), ("B", "C", "B")}
    for width in (1, 3, 10):
        assert beam_search(truth, MODULES, 4, beam_width=width)["score"].iloc[0] <= brute_force(
            truth, MODULES, 4)["score"].iloc[0] + 1e-12


def test_search_refuses_unknown_openings_and_impossible_lengths():
    truth = truth_scorer(CONFOUNDED)
    with pytest.raises(ValueError, match="opening module 'Z'"):
        beam_search(truth, MODULES, 4, ("A", "Z"))
    with pytest.raises(ValueError, match="course length 2 must be at least 1 and at least the opening's 3"):
        beam_search(truth, MODULES, 2, ("A", "B", "C"))


def test_regret_of_the_truth_itself_is_zero_and_of_a_bad_scorer_positive():
    truth = truth_scorer(preset_params("realistic"))
    perfect = regret_table(truth, truth, MODULES, [3, 5], beam_width=50)
    assert np.allclose(perfect["regret"], 0)

    def likes_q(courses):
        return np.array([c.count("Q") for c in courses], dtype=float)

    bad = regret_table(likes_q, truth, MODULES, [3, 5], beam_width=50)
    assert (bad["regret"] > 0.1).all() and set(bad["model_course"].iloc[0].split()) == {"Q"}


def test_interventional_truth_matches_monte_carlo():
    """Assign one fixed course to 400,000 simulated patients: their mean outcome is the interventional value."""
    rng = np.random.default_rng(0)
    course = ("N", "O", "A", "B", "A", "F")
    matrix, lengths = courses_to_matrix([course], CONFOUNDED.modules)
    mean = outcome_mean(CONFOUNDED, matrix, lengths)[0]  # the simulator's own rule, before severity and noise
    levels = rng.choice(CONFOUNDED.severity_levels, size=400_000, p=CONFOUNDED.severity_probs)
    shifted = mean - CONFOUNDED.severity_strength * CONFOUNDED.severity_outcome * levels
    outcomes = np.clip(shifted + rng.normal(0, CONFOUNDED.noise_sd, size=levels.size), 0, 1)
    standard_error = outcomes.std() / np.sqrt(outcomes.size)
    value = interventional_effectiveness(CONFOUNDED, [course])[0]
    assert abs(outcomes.mean() - value) < 4 * standard_error
    # and it is not the observational value: this course (two crisis modules) suggests a severe patient
    assert expected_effectiveness(CONFOUNDED, [course])[0] < value - 0.03


def test_observing_crisis_work_is_bad_news_but_assigning_it_helps():
    truth_do, truth_seen = truth_scorer(CONFOUNDED), truth_scorer(CONFOUNDED, interventional=False)
    courses = list(simulate_courses(CONFOUNDED, 300, seed=1)["modules"])
    caused = module_effects(truth_do, courses, ["N", "O"])
    observed = module_effects(truth_seen, courses, ["N", "O"])
    assert (caused > 0).all() and (observed < 0).all()


def test_severity_tokens_and_standardization():
    courses = simulate_courses(CONFOUNDED, 20, seed=2)
    tokens = with_severity_tokens(courses)
    assert all(t[0] == f"severity={s:g}" and t[1:] == c
               for t, c, s in zip(tokens["modules"], courses["modules"], courses["severity"], strict=True))
    with pytest.raises(ValueError, match="no 'severity' column"):
        with_severity_tokens(courses.drop(columns="severity"))

    def oracle_given_severity(tokenised):
        level = np.array([float(c[0].split("=")[1]) for c in tokenised])
        plain = [c[1:] for c in tokenised]
        base = interventional_effectiveness(preset_params("realistic"), plain)  # severity-free outcome mean
        return base - CONFOUNDED.severity_outcome * level  # close to the truth where nothing is clipped

    standardized = standardized_scorer(oracle_given_severity, CONFOUNDED.severity_levels, CONFOUNDED.severity_probs)
    plain = [("A", "B", "A")]
    expected = interventional_effectiveness(preset_params("realistic"), plain) - CONFOUNDED.severity_outcome * 0.3
    assert np.allclose(standardized(plain), expected)
    with pytest.raises(ValueError, match="do not sum to 1"):
        standardized_scorer(oracle_given_severity, (0, 1), (0.5, 0.6))


def test_recommender_widget_follows_length_and_opening():
    truth = truth_scorer(preset_params("realistic"))
    app = CourseRecommender(truth, truth, MODULES, beam_width=5)
    app.length.value = 5
    app.opening.value = ["C"]
    assert len(app.recommended) == 5 and app.recommended[0] == "C"
    assert app.predicted == pytest.approx(app.true_value)
    assert "Recommended: <b>C →" in app.result.value
    app.length.value = 3
    app.opening.value = ["A", "B", "A", "F"]
    assert "The opening has 4 modules; the course only 3" in app.result.value
    assert "tr-app" in app.app._dom_classes

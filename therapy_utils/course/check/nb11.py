"""The exercise checks of notebook 11, Uncertainty (``check.ex11_*``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from therapy_utils import truth
from therapy_utils.course.check import guards
from therapy_utils.course.check.guards import NO_ANSWER, Verdict
from therapy_utils.uncertainty import conformal_threshold, split_conformal


def _scaled_slip(answer: np.ndarray, residuals: np.ndarray, sigmas: np.ndarray, new_sigmas: np.ndarray,
                 level: float) -> Verdict:
    """Name the slip a wrong set of spread-scaled half-widths made."""
    n, scores = len(residuals), np.sort(np.abs(residuals) / sigmas)
    rank = int(np.ceil((n + 1) * level))
    if np.allclose(answer, np.quantile(scores, level) * new_sigmas, atol=1e-12) or np.allclose(
            answer, scores[int(np.ceil(n * level)) - 1] * new_sigmas, atol=1e-12):
        return Verdict(False, "close: rank (n + 1) · level, rounded up, not n · level — the + 1 counts the new "
                              "course among the calibration courses.")
    if np.allclose(answer, np.sort(np.abs(residuals))[rank - 1] * new_sigmas, atol=1e-12):
        return Verdict(False, "score each calibration course by |r| / σ, its residual in units of its own spread, "
                              "before taking the quantile.")
    if np.allclose(answer, np.sort(residuals / sigmas)[rank - 1] * new_sigmas, atol=1e-12):
        return Verdict(False, "the interval is symmetric: rank the residuals' sizes |r|, not their signed values.")
    return Verdict(False, f"with {n} residuals at level {level} your half-widths differ from the scaled conformal "
                          "ones: score by |r| / σ, take the ⌈(n + 1) · level⌉-th smallest score, multiply by each "
                          "new σ.")


def ex11_scaled(function: Callable) -> Verdict:
    """Build: ``function(residuals, sigmas, new_sigmas, level)`` → spread-scaled conformal half-widths, judged
    against the package's conformal quantile: ``uncertainty.conformal_threshold(|r| / σ, level) · σ_new``."""
    rng = np.random.default_rng(11)
    for n, level in ((80, 0.9), (321, 0.8)):
        sigmas, new_sigmas = rng.uniform(0.01, 0.05, size=n), rng.uniform(0.01, 0.05, size=7)
        residuals = rng.normal(0, 1, size=n) * (0.03 + sigmas)
        result, problem = guards.call(function, residuals.copy(), sigmas.copy(), new_sigmas.copy(), level)
        answer, problem = (None, problem) if problem else guards.read_array(result, "your half-widths")
        if problem:
            return problem
        expected = conformal_threshold(np.abs(residuals) / sigmas, level) * new_sigmas
        if answer.shape != expected.shape:
            return Verdict(False, f"return one half-width per new course ({len(expected)}), not an array of shape "
                                  f"{answer.shape}: multiply the quantile by each new course's σ.")
        if not np.allclose(answer, expected, rtol=0, atol=1e-12):
            return _scaled_slip(answer, residuals, sigmas, new_sigmas, level)
    return Verdict(True, "those are the spread-scaled split-conformal half-widths, uncertainty.conformal_threshold "
                         "of the scores |r| / σ times each new σ: wider where the members disagree.")


def ex11_misplaced(course: object, predict_one: Callable[[tuple[str, ...]], float], half_width: float) -> Verdict:
    """Investigate: a course of ≤ 8 modules whose interval ``prediction ± half_width`` has a true chance below 0.8.
    ``predict_one`` must be the notebook's model, and ``half_width`` wide enough that the interval centred on the
    true mean would hold this course's outcome with chance 0.8: the chance must fall because of the prediction."""
    course, problem = guards.read_course(course)
    if problem:
        return problem
    if not 1 <= len(course) <= 8:
        return Verdict(False, f"the course has {len(course)} modules; the exercise asks for 1 to 8.")
    width, problem = guards.read_number(half_width)
    if problem or width <= 0:
        return Verdict(False, "the half-width must be a positive number — the split-conformal half-width you "
                              f"computed — not {guards.show(half_width)}.")
    half_width = width
    prediction, problem = guards.model_check(guards.one_by_one(predict_one), course, "your predict_one")
    if problem:
        return problem
    distribution = truth.outcome_distribution(guards.realistic_params(), [course])
    mean = float(distribution.mean()[0])
    centred = float(distribution.coverage(max(mean - half_width, 0.0), min(mean + half_width, 1.0))[0])
    if centred < 0.8:
        return Verdict(False, f"even centred on the true mean {mean:.3f}, ±{half_width:.3f} holds this course's "
                              f"outcome with true chance only {centred:.2f}: the width is too small for its noise, so "
                              "a low chance says nothing about the model — pass the split-conformal half-width you "
                              "computed, and look for a course the model gets wrong.")
    lower, upper = max(prediction - half_width, 0.0), min(prediction + half_width, 1.0)
    chance = float(distribution.coverage(lower, upper)[0])
    if chance >= 0.8:
        return Verdict(False, f"its interval {lower:.3f} to {upper:.3f} holds the outcome with true chance "
                              f"{chance:.2f}: the prediction is {prediction - mean:+.3f} from the true mean, too "
                              f"little to push the outcome out of ±{half_width:.3f}. Look for a course the model gets "
                              "more wrong.")
    return Verdict(True, f"the interval {lower:.3f} to {upper:.3f} holds the outcome with true chance {chance:.2f}: "
                         f"the prediction {prediction:.3f} is {prediction - mean:+.3f} from the true mean {mean:.3f}, "
                         "and a fixed width cannot know that.")


def ex11_train_calibration(answer: str, train_predictions: np.ndarray, train_outcomes: np.ndarray,
                           test_predictions: np.ndarray, test_courses: pd.DataFrame) -> Verdict:
    """Predict-then-run: calibrating split conformal on the training residuals gives a true coverage "above" or
    "below" 0.9?"""
    if guards.unanswered(answer):
        return NO_ANSWER
    said = guards.read_word(answer, {"above": ("more", "higher", "over"), "below": ("less", "lower", "under")})
    if said is None:
        return Verdict(False, f"answer 'above' or 'below', not {guards.show(answer)}.")
    train_predictions, problem = guards.read_vector(train_predictions, "the training predictions")
    if problem:
        return problem
    train_outcomes, problem = guards.read_vector(train_outcomes, "the training outcomes", len(train_predictions))
    if problem:
        return problem
    courses, problem = guards.read_courses(test_courses, "the test courses")
    if problem:
        return problem
    test_predictions, problem = guards.read_vector(test_predictions, "the test predictions", len(courses))
    if problem:
        return problem
    lower, upper = split_conformal(train_predictions, train_outcomes, test_predictions, 0.9)
    if not np.isfinite(upper - lower).all():
        return Verdict(False, f"with {len(train_predictions)} calibration courses the 90 % quantile is infinite; "
                              "pass the predictions and outcomes of all the training courses.")
    coverage = float(truth.outcome_distribution(guards.realistic_params(), courses).coverage(lower, upper).mean())
    expected = "above" if coverage > 0.9 else "below"
    if said != expected:
        return Verdict(False, "the model was fitted to the training outcomes: are its residuals there typical of a "
                              "course it has never seen?")
    meaning = ("below the nominal 0.9: residuals of fitted courses are smaller than a new course's, so the intervals "
               "are too narrow." if expected == "below" else "above the nominal 0.9: these training residuals are no "
               "smaller than a new course's, so the intervals are not too narrow.")
    return Verdict(True, f"calibrated on the training courses, the 90 % intervals are {np.mean(upper - lower):.3f} "
                         f"wide and their mean true coverage is {coverage:.3f}, {meaning}")

"""The exercise checks of notebook 09, Optimising courses (``check.ex09_*``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from therapy_utils import simulate
from therapy_utils.course.check import guards
from therapy_utils.course.check.guards import Verdict
from therapy_utils.evaluate import Scorer


def ex09_greedy(function: Callable, length: int = 5) -> Verdict:
    """Build: ``function(score, modules, length)`` grows a course one module at a time, always the best next one."""
    length, problem = guards.read_number(length, int)
    if problem or length < 1:
        return problem or Verdict(False, f"the course length must be at least 1, not {length}.")
    result, problem = guards.call(function, guards.true_means, simulate.LETTERS, length)
    if problem:
        return problem
    course, problem = guards.read_course(result, length=length)
    if problem:
        return problem
    for step in range(length):
        prefix = course[:step]
        scores = guards.true_means([(*prefix, m) for m in simulate.LETTERS])
        if guards.true_means([course[:step + 1]])[0] < scores.max() - 1e-9:
            return Verdict(False, f"at step {step + 1} another module scores higher than {course[step]}; "
                                  "greedy takes the best extension every time.")
    return Verdict(True, f"{' '.join(course)}: the best extension at every step (beam search with a beam of 1).")


def ex09_g_formula(function: Callable) -> Verdict:
    """Build: ``function(by_level, probabilities)`` averages per-severity predictions (dict level → array) over the
    population's severity mix (dict level → probability): E[y | do(x)] = Σ_s E[y | x, S = s] P(S = s)."""
    by_level = {0.0: np.array([0.6, 0.7, 0.5]), 1.0: np.array([0.3, 0.5, 0.2])}
    probabilities = {0.0: 0.7, 1.0: 0.3}
    result, problem = guards.call(function, {s: v.copy() for s, v in by_level.items()}, dict(probabilities))
    got, problem = (None, problem) if problem else guards.read_array(result, "your standardised prediction")
    if problem:
        return problem
    if got.shape == (3,) and np.allclose(got, (by_level[0.0] + by_level[1.0]) / 2):
        return Verdict(False, "equal weights: average with the population's mix P(S = s), not 50/50.")
    expected = sum(probabilities[s] * by_level[s] for s in by_level)
    return guards.same_values(got, expected, "your standardised prediction") or Verdict(
        True, "the g-formula: each severity's prediction, weighted by how common that severity is.")


def ex09_overrated(course: object, model_score: Scorer) -> Verdict:
    """Investigate: a course of 5 modules the model over-rates by more than 0.05 (prediction − truth).
    ``model_score`` must be the notebook's model (see :func:`guards.model_check`)."""
    found = guards.model_and_truth(course, model_score, length=5)
    if isinstance(found, Verdict):
        return found
    course, predicted, true = found
    if predicted - true <= 0.05:
        return Verdict(False, f"the model says {predicted:.3f}, the truth {true:.3f} (difference "
                              f"{predicted - true:+.3f}). Where did notebook 09's model predict more than the truth?")
    return Verdict(True, f"the model says {predicted:.3f}, the truth {true:.3f}.")

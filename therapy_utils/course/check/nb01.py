"""The exercise checks of notebook 01, Simulating courses of therapy (``check.ex01_*``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

from therapy_utils import data, simulate, truth
from therapy_utils.course.check import guards
from therapy_utils.course.check.guards import NO_ANSWER, Verdict


def ex01_noise_direction(answer: str) -> Verdict:
    """Predict-then-run: with ``noise_sd`` raised from 0.06 to 0.15, does the oracle R² go "up" or "down"?"""
    if guards.unanswered(answer):
        return NO_ANSWER
    said = guards.read_word(answer, {"up": ("higher", "rises", "increases"), "down": ("lower", "falls", "decreases")})
    if said is None:
        return Verdict(False, f"answer 'up' or 'down', not {guards.show(answer)}.")
    r2 = {}
    for noise in (0.06, 0.15):
        params = simulate.preset_params("realistic", noise_sd=noise)
        courses = simulate.simulate_courses(params, 2000, seed=0)
        r2[noise] = r2_score(courses["effectiveness"], truth.expected_effectiveness(params, courses["modules"]))
    expected = "down" if r2[0.15] < r2[0.06] else "up"
    if said != expected:
        return Verdict(False, "the oracle knows the expected effectiveness exactly; what share of the variance is "
                              "left to the noise when the noise grows?")
    meaning = ("the same model can look worse on noisier data without being worse — judge it against the oracle."
               if expected == "down" else "even the oracle's R² rose, so here the noise is not what limits a model.")
    return Verdict(True, f"the oracle R² goes {expected} from {r2[0.06]:.3f} to {r2[0.15]:.3f}: {meaning}")


def ex01_good_course(course: object) -> Verdict:
    """Investigate: a course of 6 modules whose true expected effectiveness is at least 0.8."""
    course, problem = guards.read_course(course, length=6)
    if problem:
        return problem
    value = float(guards.true_means([course])[0])
    if value < 0.8:
        return Verdict(False, f"its true expected effectiveness is {value:.3f}, short of 0.8. The motifs add the "
                              "most, each time they occur; some single modules add a little.")
    return Verdict(True, f"{' '.join(course)}: true expected effectiveness {value:.3f}.")


def ex01_transition_counts(function: Callable) -> Verdict:
    """Build: ``function(courses, modules)`` counts how often each module is directly followed by each other one."""
    courses = simulate.simulate_courses(guards.realistic_params(), 300, seed=5)["modules"]
    modules = guards.realistic_params().modules
    result, problem = guards.call(function, courses.copy(), list(modules))
    if problem:
        return problem
    expected = data.transition_counts(courses, modules).to_numpy()
    if (isinstance(result, pd.DataFrame) and result.index.is_unique and result.columns.is_unique
            and set(result.index) == set(modules) == set(result.columns)):
        result = result.reindex(index=list(modules), columns=list(modules))  # any order of rows and columns
    got, problem = guards.read_array(result, "your table")
    if problem:
        return problem
    if got.shape == expected.shape and np.array_equal(got, expected.T):
        return Verdict(False, "rows and columns are swapped: row = the current module, column = the next one.")
    joined = data.transition_counts([tuple(m for c in courses for m in c)], modules).to_numpy()
    if got.shape == expected.shape and np.array_equal(got, joined):
        return Verdict(False, "you also counted the pair formed by the end of one course and the start of the next.")
    return guards.same_values(got, expected.astype(float), "your table", atol=0) or Verdict(
        True, "your counts equal data.transition_counts.")

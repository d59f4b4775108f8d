"""The exercise checks of notebook 04, Evaluation (``check.ex04_*``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
from scipy.stats import norm
from sklearn.metrics import r2_score

from therapy_utils import simulate, truth
from therapy_utils.course.check import guards
from therapy_utils.course.check.guards import NO_ANSWER, Verdict
from therapy_utils.evaluate import Scorer


def ex04_r2(function: Callable) -> Verdict:
    """Build: ``function(y_true, y_pred)`` is the coefficient of determination, equal to scikit-learn's."""
    rng = np.random.default_rng(6)
    y = rng.uniform(0.2, 0.9, 50)
    for prediction in (y + rng.normal(0, 0.1, 50), np.full(50, y.mean() + 0.1), y[::-1].copy()):
        got, problem = guards.call_for_number(function, y.copy(), prediction.copy())
        if problem:
            return problem
        expected = r2_score(y, prediction)
        by_predictions = 1 - np.mean((y - prediction) ** 2) / np.var(prediction) if np.var(prediction) else None
        if by_predictions is not None and np.isclose(got, by_predictions) and not np.isclose(got, expected):
            return Verdict(False, "divide by the spread of the actual values, not of the predictions.")
        if not np.isclose(got, expected, atol=1e-9):
            return Verdict(False, "R² = 1 − (sum of squared residuals) / (sum of squares of y around its mean); "
                                  "yours differs — a constant prediction off the mean must score below 0.")
    return Verdict(True, "equal to sklearn.metrics.r2_score, including below 0 for a bad constant prediction.")


def ex04_model_error(course: object, model_score: Scorer) -> Verdict:
    """Investigate: a course of at least 4 modules on which the model is off from the truth by more than 0.1.
    ``model_score`` must be the notebook's model (see :func:`guards.model_check`)."""
    course, problem = guards.read_course(course)
    if problem:
        return problem
    if len(course) < 4:
        return Verdict(False, f"the course has {len(course)} modules; take one of at least 4 (inside the data).")
    predicted, problem = guards.model_check(guards.batch_scores(model_score), course)
    if problem:
        return problem
    true = float(guards.true_means([course])[0])
    if abs(predicted - true) <= 0.1:
        return Verdict(False, f"the model says {predicted:.3f}, the truth {true:.3f}: off by only "
                              f"{abs(predicted - true):.3f}. Where did notebook 04's residuals spread most?")
    return Verdict(True, f"the model says {predicted:.3f}, the truth {true:.3f}.")


@cache
def oracle_bias() -> tuple[float, float]:
    """The exact expected residual outcome − oracle, E[y | course] − the oracle's value, over many simulated courses
    (mean and largest size): the simulator's outcome distribution against truth.expected_effectiveness."""
    params = guards.realistic_params()
    courses = simulate.simulate_courses(params, 2000, seed=0)["modules"]
    gap = truth.outcome_distribution(params, courses).mean() - truth.expected_effectiveness(params, courses)
    return float(gap.mean()), float(np.abs(gap).max())


def _sample_words(mean: float, error: float, n: int) -> str:
    """What a sample's mean residual says, by how many standard errors it lies from 0."""
    if error == 0:
        return f"your {n} residuals are all {mean:+.4f}: these are not outcomes and the oracle of the same courses."
    z = abs(mean) / error
    said = f"your {n} test courses' mean residual is {mean:+.4f}, standard error {error:.4f}"
    if z <= 2:
        return f"{said}: within two standard errors of 0, as a sample of pure noise should be."
    chance = 2 * norm.sf(z)
    if chance >= 1e-4:
        return f"{said}: {z:.1f} standard errors from 0, as far as pure noise lands with chance {chance:.2g} — luck."
    return (f"{said}: {z:.1f} standard errors from 0, further than noise of mean 0 plausibly goes — check that "
            "`actual` and `oracle` are the outcomes and the oracle of the same courses.")


def ex04_oracle_residuals(answer: str, actual: Sequence[float], oracle: Sequence[float]) -> Verdict:
    """Predict-then-run: is the mean of actual − oracle over the test courses "positive", "negative" or "zero"?
    Judged by the simulator's exact expected residual, never by a test on the sample given; the sample is described."""
    if guards.unanswered(answer):
        return NO_ANSWER
    said = guards.read_word(answer, {"positive": ("above",), "negative": ("below",),
                                     "zero": ("0", "about zero", "none")})
    if said is None:
        return Verdict(False, f"answer 'positive', 'negative' or 'zero', not {guards.show(answer)}.")
    actual, problem = guards.read_vector(actual, "actual")
    oracle, problem = (None, problem) if problem else guards.read_vector(oracle, "oracle", len(actual))
    if problem:
        return problem
    residuals = actual - oracle
    mean, error = float(residuals.mean()), float(residuals.std(ddof=1) / np.sqrt(len(residuals)))
    bias, largest = oracle_bias()
    expected = "zero" if largest < 1e-9 else ("positive" if bias > 0 else "negative")
    if said != expected:
        return Verdict(False, "the oracle is the expected effectiveness itself; what is left is the noise — what is "
                              "its mean?")
    exact = ("the simulator's outcome has the oracle as its exact mean (clipping included), so the residuals are "
             "pure noise of mean 0" if expected == "zero" else f"in the simulator the expected residual is {bias:+.4f}")
    return Verdict(True, f"{exact}; {_sample_words(mean, error, len(residuals))}")

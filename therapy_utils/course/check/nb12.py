"""The exercise checks of notebook 12, Session by session (``check.ex12_*``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from therapy_utils.clinic import CLINIC
from therapy_utils.course.check import guards
from therapy_utils.course.check.guards import NO_ANSWER, Verdict
from therapy_utils.early_warning import SessionOutcomeModel, predict_by_session
from therapy_utils.evaluate.by_session import calibration_error, outcome_labels
from therapy_utils.prognosis import improvement_chance
from therapy_utils.sessions import SCORED_SESSIONS, SessionCourses

FALSE_ALARM_TRUTH = 0.6  # the truth's chance at or above which the model's alert is one the ceiling would not raise
CHECK_DRAWS = 4000  # the check's own truth: Monte Carlo error at most 0.008


def ex12_calibration_error(function: Callable) -> Verdict:
    """Build: ``function(chance, outcome, bins)`` → the expected calibration error over equal-width bins, judged
    against :func:`evaluate.calibration_error` on three made-up sets (one with chances of exactly 0 and 1)."""
    rng = np.random.default_rng(12)
    cases = []
    for n, bins in ((500, 10), (137, 5)):
        chance = rng.uniform(0, 1, n)
        cases.append((chance, (rng.random(n) < chance ** 1.5).astype(float), bins))
    cases.append((np.array([0.0, 1.0, 1.0, 0.93, 0.55, 0.58, 0.02]), np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0]),
                  10))
    for chance, outcome, bins in cases:
        answer, problem = guards.call_for_number(function, chance.copy(), outcome.copy(), bins)
        if problem:
            return problem
        expected = calibration_error(chance, outcome, bins)
        if abs(answer - expected) > 1e-9:
            unweighted = np.mean([abs(chance[b].mean() - outcome[b].mean()) for b in _bins(chance, bins)])
            if abs(answer - unweighted) < 1e-9:
                return Verdict(False, "weight each bin's gap by its share of the patients, not each bin equally.")
            if chance.max() == 1.0:
                return Verdict(False, "a chance of exactly 1 belongs in the last bin, not in a bin of its own.")
            return Verdict(False, f"with {len(chance)} chances and {bins} bins your answer {answer:.4f} is not the "
                                  "weighted mean of |mean chance − share improved| over the equal-width bins.")
    return Verdict(True, "that is the calibration error of evaluate.calibration_error: bins on [0, 1], each gap "
                         "weighted by its patients.")


def _bins(chance: np.ndarray, bins: int) -> list[np.ndarray]:
    which = np.minimum((chance * bins).astype(int), bins - 1)
    return [which == b for b in np.unique(which)]


def _notebook_objects(test: object, model: object = None) -> Verdict | None:
    """The notebook's own ``test`` patients (and ``model``), not something else in their place."""
    if not isinstance(test, SessionCourses):
        return Verdict(False, f"pass the notebook's test patients (`test`), not {guards.show(test)}.")
    if model is not None and not isinstance(model, SessionOutcomeModel):
        return Verdict(False, f"pass the notebook's sequence model (`model`), not {guards.show(model)}.")
    return None


def ex12_false_alarm(row: object, k: object, test: SessionCourses, model: SessionOutcomeModel) -> Verdict:
    """Investigate: a test patient and session k where the model alerts (chance < 0.5) and the truth's chance,
    recomputed here with 4,000 draws, is at least 0.6."""
    if guards.unanswered(row) or guards.unanswered(k):
        return NO_ANSWER
    problem = _notebook_objects(test, model)
    if problem:
        return problem
    row_value, problem = guards.read_number(row, int)
    k_value, problem_k = guards.read_number(k, int)
    if problem or problem_k:
        return problem or problem_k
    row_value, k_value = int(row_value), int(k_value)
    if not 0 <= row_value < len(test):
        return Verdict(False, f"row {row_value} is not a row of test (0 to {len(test) - 1}).")
    if k_value not in SCORED_SESSIONS:
        return Verdict(False, f"pick a session from {SCORED_SESSIONS[0]} to {SCORED_SESSIONS[-1]}, not {k_value}.")
    if test.lengths[row_value] < k_value:
        return Verdict(False, f"patient {test.course_id[row_value]} attended {test.lengths[row_value]} sessions, so "
                              f"there is no prediction after session {k_value}.")
    model_chance = float(predict_by_session(model, test.subset([row_value]))[0, k_value - 1])
    if model_chance >= 0.5:
        return Verdict(False, f"the model's chance there is {model_chance:.2f}: no alert. Look for chances below 0.5.")
    truth, error = improvement_chance(CLINIC, test.names[row_value][:k_value],
                                      tuple(int(s) for s in test.scores[row_value, :k_value]), draws=CHECK_DRAWS)
    if truth < FALSE_ALARM_TRUTH:
        return Verdict(False, f"the model alerts ({model_chance:.2f}), but the truth's chance is {truth:.2f} ± "
                              f"{error:.2f}, below {FALSE_ALARM_TRUTH}: the ceiling might alert too. Look for a bigger "
                              "gap.")
    return Verdict(True, f"a false alarm the ceiling would not raise: the model says {model_chance:.2f}, the truth "
                         f"{truth:.2f} ± {error:.2f}. Look at the scores: what did the model miss?")


def ex12_censoring(answer: object, censored_share: object, last_score_share: object, test: SessionCourses) -> Verdict:
    """Predict, then run: censoring the early leavers raises the share improved after session 5 (leavers had
    improved less); the two shares are recomputed from ``test``."""
    word = guards.read_word(answer, {"higher": ("higher", "up", "more"), "lower": ("lower", "down", "less")})
    if word is None:
        return NO_ANSWER if guards.unanswered(answer) else Verdict(False, "answer \"higher\" or \"lower\".")
    problem = _notebook_objects(test)
    if problem:
        return problem
    shares = {}
    for rule, given in (("censored", censored_share), ("last score", last_score_share)):
        value, problem = guards.read_number(given)
        if problem:
            return problem
        labels = outcome_labels(test, rule)
        keep = (test.lengths >= 5) & ~np.isnan(labels)
        shares[rule] = float(labels[keep].mean())
        if abs(value - shares[rule]) > 5e-4:
            return Verdict(False, f"your {rule} share {value:.3f} is not the share improved among the test patients "
                                  f"still coming at session 5 under that rule (evaluate.outcome_labels(test, "
                                  f"{rule!r}), keeping lengths ≥ 5 and labels that are not NaN).")
    truth = "higher" if shares["censored"] > shares["last score"] else "lower"
    if word != truth:
        return Verdict(False, f"your shares are right ({shares['censored']:.3f} against {shares['last score']:.3f}), "
                              "but they answer your prediction: who are the patients censoring leaves out, and how "
                              "had they done?")
    return Verdict(True, f"higher: {shares['censored']:.3f} against {shares['last score']:.3f}. Leavers had improved "
                         "less, so scoring only the patients who stay flatters the service.")

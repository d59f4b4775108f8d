"""What every exercise check shares: the verdict, and guards that turn any malformed answer into a hint.

A check takes the learner's answer — a value, a course, or a function — and returns a :class:`Verdict`, which a
notebook shows as one line. Every piece of the learner's code runs through :func:`call`, and every answer is read
through a guard (:func:`read_array`, :func:`read_number`, :func:`read_course`...), so a malformed answer of any type
gets a hint, never a traceback. A scorer or a predictor said to be the notebook's model must behave like one
(:func:`model_check`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import torch

from therapy_utils import optimize, simulate

# A scorer said to be the notebook's model is run on these many typical simulated courses first (model_check): the
# notebooks' models predict within [0, 1] there, their predictions spread by about 0.1 and depart from the truth by a
# course-dependent 0.02 to 0.1. A constant, the truth, or the truth shifted by a constant is refused.
PROBE_COURSES, PROBE_SEED = 24, 12
MIN_SPREAD = 0.01  # standard deviation of a scorer's predictions over the probe courses below which it is constant
MIN_DEPARTURE = 0.002  # standard deviation of (prediction − truth) below which a scorer is the truth, maybe shifted
MIN_REMOVAL_COURSES = 30  # ex10_least_removed averages over at least this many courses (a few would be cherry-picked)


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: whether the answer passed, and what to say about it."""

    passed: bool
    message: str

    def __repr__(self) -> str:
        return ("✓ Correct. " if self.passed else "✗ Not yet: ") + self.message


NO_ANSWER = Verdict(False, "no answer yet — replace the `...` with yours and run the cell again.")
# The learner's scorer or predictor, run guarded: courses → (one score per course, None) or (None, the hint)
GuardedScores = Callable[[list[tuple[str, ...]]], tuple[np.ndarray | None, Verdict | None]]


def unanswered(answer: object) -> bool:
    return answer is None or answer is Ellipsis


def show(value: object, limit: int = 60) -> str:
    """A short repr of a learner's value for a hint (a repr that fails, or runs long, is cut)."""
    try:
        text = repr(value)
    except Exception:  # the learner's object: its repr may fail too
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def call(function: Callable, *args: object) -> tuple[object, Verdict | None]:
    """Run the learner's function; a crash or a missing return value becomes a hint instead of a traceback."""
    if unanswered(function):
        return None, NO_ANSWER
    if not callable(function):
        return None, Verdict(False, f"expected a function, got {type(function).__name__}.")
    try:
        result = function(*args)
    except (Exception, SystemExit) as error:  # the learner's code: any failure is feedback
        try:
            said = str(error)
        except Exception:  # the learner's exception: its text may fail too
            said = ""
        return None, Verdict(False, f"your function raised {type(error).__name__}: {said[:200]}")
    if result is None:
        return None, Verdict(False, "your function returned None — fill in its body and return the result.")
    return result, None


def read_array(value: object, what: str = "your result") -> tuple[np.ndarray | None, Verdict | None]:
    """Read numbers (a list, a numpy array, a tensor of any float type, a DataFrame) as float64; anything else — text,
    a dict, a generator, ragged lists, NaN or infinity — becomes the hint."""
    try:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().to(torch.float64).numpy()
        raw = np.asarray(value)
        if raw.dtype.kind == "O" and any(isinstance(item, str | bytes) for item in raw.flat):
            raise TypeError("text")
        if raw.dtype.kind not in "iufO":
            raise TypeError(raw.dtype.kind)
        values = raw.astype(float)
    except Exception:  # a learner's object: converting it runs its code
        return None, Verdict(False, f"{what} should be numbers, not {show(value)} (a {type(value).__name__}).")
    if not np.isfinite(values).all():
        return None, Verdict(False, f"{what} holds NaN or infinite values.")
    return values, None


def read_scalar(result: object, what: str = "your function's result") -> tuple[float | None, Verdict | None]:
    """Read a one-number result; text, a list, a test-result object or an array of several becomes a hint."""
    if isinstance(result, bool | np.bool_):
        return None, Verdict(False, f"{what} should be a number, not {result}.")
    value, problem = read_array(result, what)
    if problem:
        return None, problem
    if value.size != 1:
        return None, Verdict(False, f"{what} should be one number, not {value.size} of them.")
    return float(value.reshape(())), None


def read_number(answer: object, kind: type = float) -> tuple[float | None, Verdict | None]:
    """Read a numeric answer; an unanswered, non-numeric, non-finite or (for ``int``) fractional one is the hint."""
    if unanswered(answer):
        return None, NO_ANSWER
    value, problem = read_scalar(answer, "your answer")
    if problem:
        return None, Verdict(False, f"answer a number, not {show(answer)}.")
    if kind is int and not value.is_integer():
        return None, Verdict(False, f"answer a whole number, not {value}.")
    return kind(value), None


def call_for_number(function: Callable, *args: object) -> tuple[float | None, Verdict | None]:
    """Run the learner's function and read its one-number result; any failure becomes the hint."""
    result, problem = call(function, *args)
    return (None, problem) if problem else read_scalar(result)


def read_vector(value: object, what: str, length: int | None = None) -> tuple[np.ndarray | None, Verdict | None]:
    """Read a 1-D array of at least two numbers (of ``length`` of them if given); anything else is the hint."""
    if unanswered(value):
        return None, Verdict(False, f"{what} is missing.")
    values, problem = read_array(value, what)
    if problem:
        return None, problem
    if values.ndim != 1 or len(values) < 2:
        return None, Verdict(False, f"{what} should be one number per course, not shape {values.shape}.")
    if length is not None and len(values) != length:
        return None, Verdict(False, f"{what} has {len(values)} values; the other data given have {length}.")
    return values, None


def read_course(answer: object, length: int | None = None) -> tuple[tuple[str, ...] | None, Verdict | None]:
    """Read a course given as "A B A", ["A", "B", "A"] or ("A", "B", "A"), and say what is wrong with it."""
    if unanswered(answer):
        return None, NO_ANSWER
    try:
        if isinstance(answer, dict | set | frozenset | bytes):
            raise TypeError("unordered")
        course = tuple(answer.split()) if isinstance(answer, str) else tuple(answer)
    except Exception:  # a learner's object: iterating it runs its code
        return None, Verdict(False, f"give a course as modules, e.g. 'A B A F' or ['A', 'B', 'A', 'F'], not "
                                    f"{show(answer)}.")
    unknown = [m for m in course if not (isinstance(m, str) and m in simulate.LETTERS)]
    if unknown:
        return None, Verdict(False, f"{show(unknown[0])} is not a module; use the letters A–Q.")
    if length is not None and len(course) != length:
        return None, Verdict(False, f"the course has {len(course)} modules; the exercise asks for {length}.")
    return course, None


def read_courses(value: object, what: str) -> tuple[list[tuple[str, ...]] | None, Verdict | None]:
    """Read several courses: a table with a ``modules`` column, or a sequence of courses."""
    if isinstance(value, pd.DataFrame) and "modules" in value:
        value = value["modules"]
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | pd.Series | np.ndarray):
        return None, Verdict(False, f"{what} should be courses (a table with a 'modules' column, or a list of "
                                    f"courses), not {show(value)}.")
    courses = []
    for item in list(value):
        course, problem = read_course(item)
        if problem:
            return None, Verdict(False, f"{what}: {problem.message}")
        courses.append(course)
    return courses, None



def read_table(value: object, what: str, columns: Sequence[str]) -> tuple[pd.DataFrame | None, Verdict | None]:
    """A table the notebook passes in (saved runs), with the columns the check reads."""
    if not isinstance(value, pd.DataFrame) or not set(columns) <= set(value.columns):
        return None, Verdict(False, f"pass {what}: a table with the columns {list(columns)}, not {show(value)}.")
    return value, None


def same_values(answer: object, expected: np.ndarray, what: str, atol: float = 1e-6) -> Verdict | None:
    """None when ``answer`` equals ``expected`` (shape and values); otherwise the hint."""
    got, problem = read_array(answer, what)
    if problem:
        return problem
    if got.shape != expected.shape:
        return Verdict(False, f"{what} has shape {got.shape}; expected {expected.shape}.")
    if not np.allclose(got, expected, atol=atol, rtol=1e-5):
        wrong = int((~np.isclose(got, expected, atol=atol, rtol=1e-5)).sum())
        return Verdict(False, f"{what} has the right shape, but {wrong} of its {expected.size} values differ.")
    return None


def read_word(answer: object, choices: dict[str, Sequence[str]]) -> str | None:
    """Map a free-text answer ("Down", "lower") to one of ``choices``' keys, or None (also for a non-text answer)."""
    if isinstance(answer, bool) or not isinstance(answer, str | int | float):
        return None
    text = str(answer).strip().lower()
    return next((key for key, words in choices.items() if text == key or text in words), None)


@cache
def realistic_params() -> simulate.SimulatorParams:
    return simulate.preset_params("realistic")


def true_means(courses: Sequence[Sequence[str]]) -> np.ndarray:
    return optimize.truth_scorer(realistic_params())(courses)


@cache
def probe_courses() -> tuple[tuple[str, ...], ...]:
    """Typical simulated courses on which a scorer must behave like a trained model (:func:`model_check`)."""
    courses = simulate.simulate_courses(realistic_params(), PROBE_COURSES, seed=PROBE_SEED)["modules"]
    return tuple(tuple(c) for c in courses)


def call_for_values(function: object, argument: object, length: int,
                     what: str) -> tuple[np.ndarray | None, Verdict | None, tuple[int, ...]]:
    """Run the learner's function on one argument and read ``length`` numbers from it: (values, None, shape) when
    the shape is right, else (None, the hint or None, the shape returned) — the caller words a shape hint."""
    result, problem = call(function, argument)
    values, problem = (None, problem) if problem else read_array(result, what)
    if problem:
        return None, problem, ()
    return (values, None, values.shape) if values.shape == (length,) else (None, None, values.shape)


def batch_scores(score: object) -> GuardedScores:
    """The learner's scorer (courses → one score each), run guarded: courses → (scores, None) or (None, hint)."""
    def run(courses: list[tuple[str, ...]]) -> tuple[np.ndarray | None, Verdict | None]:
        values, problem, shape = call_for_values(score, list(courses), len(courses), "your scorer's result")
        if values is None and problem is None:
            problem = Verdict(False, f"a scorer returns one score per course: for {len(courses)} courses yours "
                                     f"returned shape {shape}.")
        return values, problem
    return run


def one_by_one(predict_one: object) -> GuardedScores:
    """The learner's one-course predictor, run guarded on each course in turn (as :func:`batch_scores`)."""
    def run(courses: list[tuple[str, ...]]) -> tuple[np.ndarray | None, Verdict | None]:
        values = []
        for course in courses:
            value, problem = call_for_number(predict_one, course)
            if problem:
                return None, problem
            values.append(value)
        return np.array(values), None
    return run


def not_a_model(values: np.ndarray, courses: Sequence[tuple[str, ...]], what: str) -> Verdict | None:
    """None when predictions on typical courses look like a trained model's; otherwise why they do not."""
    why = "pass the notebook's trained model" + (", evaluate.model_scorer(net, vocab)" if "scorer" in what else "")
    if values.min() < 0 or values.max() > 1:
        return Verdict(False, f"on {len(values)} typical simulated courses {what} gives {values.min():.3f} to "
                              f"{values.max():.3f}; a model trained on effectiveness scores, which lie in [0, 1], "
                              f"predicts inside [0, 1] there — {why}.")
    if values.std() < MIN_SPREAD:
        return Verdict(False, f"{what} gives {len(values)} typical simulated courses nearly the same score "
                              f"({values.mean():.3f}, sd {values.std():.4f}); a trained model tells them apart — "
                              f"{why}, not a constant.")
    departure = values - true_means(courses)
    if departure.std() < MIN_DEPARTURE:
        shift = f" shifted by {departure.mean():+.3f}" if abs(departure.mean()) >= MIN_DEPARTURE else ""
        return Verdict(False, f"{what} is the simulator's truth{shift}, not a model: the exercise asks where a "
                              f"model departs from the truth — {why}.")
    return None


def model_check(scores: GuardedScores, course: tuple[str, ...] | None = None,
                 what: str = "your scorer") -> tuple[float | None, Verdict | None]:
    """The model's prediction for ``course``, once ``scores`` behaves like a trained model on the probe courses:
    within [0, 1], not constant, not the truth (shifted or not), and the same for a course alone or among others."""
    probes = [*probe_courses(), *([course] if course is not None else [])]
    values, problem = scores(probes)
    if problem:
        return None, problem
    again, problem = scores(probes[-1:])
    if problem:
        return None, problem
    if abs(again[0] - values[-1]) > 1e-5:
        return None, Verdict(False, f"{what} gave one course two scores, {values[-1]:.4f} among other courses "
                                    f"and {again[0]:.4f} alone; a trained model's prediction is fixed — pass the "
                                    "notebook's model.")
    problem = not_a_model(values[:PROBE_COURSES], probes[:PROBE_COURSES], what)
    return (None, problem) if problem else (float(values[-1]), None)


def model_and_truth(answer: object, model_score: object, length: int) -> tuple[tuple[str, ...], float, float] | Verdict:
    """A learner's course of ``length`` modules, the notebook's model's prediction for it and its true expected
    effectiveness — or the hint that says which of the three could not be had."""
    course, problem = read_course(answer, length=length)
    if problem:
        return problem
    predicted, problem = model_check(batch_scores(model_score), course)
    if problem:
        return problem
    return course, predicted, float(true_means([course])[0])

"""Choosing modules with a model: next best module, best course by beam search, regret against the truth.

Taught in ``09_optimizing_courses.ipynb``. A *scorer* maps a list of courses to one number each: a trained model
(``evaluate.model_scorer``) or the simulator's truth (``truth_scorer``); the searches treat both alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

import numpy as np
import pandas as pd

from therapy_utils.evaluate import Scorer
from therapy_utils.simulate import SimulatorParams
from therapy_utils.truth import expected_effectiveness, interventional_effectiveness


def truth_scorer(params: SimulatorParams, interventional: bool = True) -> Scorer:
    """The simulator as a scorer: by default what a course does when assigned (the causal answer).

    Parameters
    ----------
    params : SimulatorParams
        The simulator whose exact expectations score the courses.
    interventional : bool, default=True
        True: E[effectiveness | do(course)] (``truth.interventional_effectiveness``); False: E[effectiveness |
        course] as observed in the records (``truth.expected_effectiveness``).

    Returns
    -------
    Scorer
        A function from a list of courses (tuples of module names) to their scores, shape (courses,).
    """
    truth = interventional_effectiveness if interventional else expected_effectiveness
    return lambda courses: truth(params, list(courses))


def _check(modules: Sequence[str], length: int, opening: Sequence[str]) -> tuple[str, ...]:
    """Openings must use known modules and fit in the length."""
    unknown = [m for m in opening if m not in modules]
    if unknown:
        raise ValueError(f"opening module {unknown[0]!r} is not one of {list(modules)}")
    if not len(opening) <= length or length < 1:
        raise ValueError(f"course length {length!r} must be at least 1 and at least the opening's {len(opening)}")
    return tuple(opening)


def beam_search(score: Scorer, modules: Sequence[str], length: int, opening: Sequence[str] = (),
                beam_width: int = 200) -> pd.DataFrame:
    """The best courses of ``length`` that start with ``opening``, best first (09_optimizing_courses).

    Each step extends every kept course by every module and keeps the ``beam_width`` best by ``score``
    of the course so far. Wide enough (``len(modules) ** (length - 1)``) it is exhaustive.

    Parameters
    ----------
    score : Scorer
        Maps a list of courses (tuples of module names) to one score each, e.g. ``evaluate.model_scorer``.
    modules : Sequence[str]
        The modules a course may use, at every position.
    length : int
        Number of sessions in the finished course, opening included.
    opening : Sequence[str], default=()
        Modules the course must start with.
    beam_width : int, default=200
        How many partial courses to keep after each step.

    Returns
    -------
    pandas.DataFrame
        Columns ``course`` (tuple of module names) and ``score`` (float), best first; at most ``beam_width``
        rows (a single row, the opening, when it already has ``length`` modules).

    Raises
    ------
    ValueError
        If the opening uses a module not in ``modules``, or ``length`` is below 1 or shorter than the opening.
    """
    beams = [_check(modules, length, opening)]
    for _ in range(length - len(beams[0])):
        candidates = [(*course, module) for course in beams for module in modules]
        scores = np.asarray(score(candidates))
        beams = [candidates[i] for i in np.argsort(-scores, kind="stable")[:beam_width]]
    scores = np.asarray(score(beams))
    order = np.argsort(-scores, kind="stable")
    return pd.DataFrame({"course": [beams[i] for i in order], "score": scores[order]})


def brute_force(score: Scorer, modules: Sequence[str], length: int, opening: Sequence[str] = ()) -> pd.DataFrame:
    """Every completion scored, best first: the check on beam search for short courses.

    Parameters
    ----------
    score : Scorer
        Maps a list of courses (tuples of module names) to one score each.
    modules : Sequence[str]
        The modules a course may use, at every position.
    length : int
        Number of sessions in the finished course, opening included.
    opening : Sequence[str], default=()
        Modules the course must start with.

    Returns
    -------
    pandas.DataFrame
        Columns ``course`` (tuple of module names) and ``score`` (float), best first; one row for each of the
        ``len(modules) ** (length - len(opening))`` completions.

    Raises
    ------
    ValueError
        If the opening uses a module not in ``modules``, or ``length`` is below 1 or shorter than the opening.
    """
    opening = _check(modules, length, opening)
    courses = [opening + tail for tail in product(modules, repeat=length - len(opening))]
    scores = np.asarray(score(courses))
    order = np.argsort(-scores, kind="stable")
    return pd.DataFrame({"course": [courses[i] for i in order], "score": scores[order]})


def regret_table(model: Scorer, truth: Scorer, modules: Sequence[str], lengths: Sequence[int],
                 beam_width: int = 200) -> pd.DataFrame:
    """Per length: the model's recommended course, the true optimum, and the regret between them.

    regret = truth(best course under the truth) − truth(model's course). Both searches use the same beam, so
    regret measures the model, not the search; the true optimum is itself a beam search's answer (exact for
    short courses, see the tests), and a model's course that the truth rates higher counts as regret 0.

    Parameters
    ----------
    model : Scorer
        The scorer whose best course is recommended, e.g. ``evaluate.model_scorer``.
    truth : Scorer
        The scorer that judges, e.g. :func:`truth_scorer`.
    modules : Sequence[str]
        The modules a course may use.
    lengths : Sequence[int]
        Course lengths to search, each at least 1.
    beam_width : int, default=200
        Beam width of both searches (see :func:`beam_search`).

    Returns
    -------
    pandas.DataFrame
        One row per length with columns ``length``, ``model_course`` and ``true_optimum`` (modules joined by
        spaces), ``model_predicted`` (the model's score of its course), ``model_course_true`` and
        ``true_optimum_value`` (true scores) and ``regret`` (their difference, at least 0).

    Raises
    ------
    ValueError
        If a length is below 1.
    """
    rows = []
    for length in lengths:
        chosen = beam_search(model, modules, length, beam_width=beam_width).iloc[0]
        optimum = beam_search(truth, modules, length, beam_width=beam_width).iloc[0]
        chosen_truth = float(truth([chosen["course"]])[0])
        best_truth = max(float(optimum["score"]), chosen_truth)
        rows.append({"length": length, "model_course": " ".join(chosen["course"]),
                     "model_predicted": float(chosen["score"]), "model_course_true": chosen_truth,
                     "true_optimum": " ".join(optimum["course"]), "true_optimum_value": best_truth,
                     "regret": best_truth - chosen_truth})
    return pd.DataFrame(rows)


def module_effects(score: Scorer, courses: Sequence[Sequence[str]], modules: Sequence[str]) -> pd.Series:
    """Mean change in score from appending each module to each course: a module's effect as ``score`` sees it.

    Under the interventional truth this is the module's causal effect; under a model trained on observational
    data it is what the model learned, confounding included (09_optimizing_courses).

    Parameters
    ----------
    score : Scorer
        Maps a list of courses (tuples of module names) to one score each.
    courses : Sequence[Sequence[str]]
        The courses to append each module to, e.g. the test courses.
    modules : Sequence[str]
        The modules whose effect to measure.

    Returns
    -------
    pandas.Series
        Named ``effect``, indexed by ``module``: mean of ``score(course + (module,)) - score(course)`` over courses.
    """
    courses = [tuple(c) for c in courses]
    base = np.asarray(score(courses))
    effects = {m: float(np.mean(np.asarray(score([(*c, m) for c in courses])) - base)) for m in modules}
    return pd.Series(effects, name="effect").rename_axis("module")


def severity_token(level: float) -> str:
    """The pseudo-module that carries a patient's baseline severity into a course: ``severity=1`` etc.

    Parameters
    ----------
    level : float
        The severity level, e.g. 0.0 or 1.0 (``SimulatorParams.severity_levels``).

    Returns
    -------
    str
        ``"severity="`` followed by the level in ``:g`` format (``1.0`` gives ``"severity=1"``).
    """
    return f"severity={level:g}"


def with_severity_tokens(courses: pd.DataFrame) -> pd.DataFrame:
    """Prefix each course with its baseline severity, so a sequence model can adjust for it (09_optimizing_courses).

    Severity is known before treatment starts (a baseline covariate); the first position is a simple way to
    give it to any model of this series without changing the model.

    Parameters
    ----------
    courses : pandas.DataFrame
        A course table with columns ``modules`` (a sequence of module names per course) and ``severity``.

    Returns
    -------
    pandas.DataFrame
        A copy whose ``modules`` are tuples that start with :func:`severity_token` of the course's severity.

    Raises
    ------
    ValueError
        If ``courses`` has no ``severity`` column.
    """
    if "severity" not in courses.columns:
        raise ValueError("the course table has no 'severity' column to adjust for")
    table = courses.copy()
    table["modules"] = [(severity_token(level), *course)
                        for level, course in zip(table["severity"], table["modules"], strict=True)]
    return table


def standardized_scorer(score: Scorer, levels: Sequence[float], probabilities: Sequence[float]) -> Scorer:
    """Average a severity-aware scorer over the population's severity mix (the g-formula, 09_optimizing_courses).

    ``score`` sees courses that start with a severity token; the result scores plain courses as if assigned to
    everyone, which is what a recommendation needs.

    Parameters
    ----------
    score : Scorer
        A scorer of courses that start with a :func:`severity_token`, e.g. a model trained on
        :func:`with_severity_tokens` records.
    levels : Sequence[float]
        The severity levels to average over.
    probabilities : Sequence[float]
        The population's share of each level, in the order of ``levels``; must sum to 1.

    Returns
    -------
    Scorer
        Scores plain courses as ``sum(p * score(token(level) + course))`` over the levels, shape (courses,).

    Raises
    ------
    ValueError
        If ``probabilities`` do not sum to 1.
    """
    if not np.isclose(sum(probabilities), 1.0):
        raise ValueError(f"severity probabilities {list(probabilities)} do not sum to 1")

    def standardized(courses: Sequence[Sequence[str]]) -> np.ndarray:
        courses = [tuple(c) for c in courses]
        return sum(p * np.asarray(score([(severity_token(level), *c) for c in courses]))
                   for level, p in zip(levels, probabilities, strict=True))

    return standardized


def length_curve(score: Scorer, courses: Sequence[Sequence[str]], lengths: Sequence[int]) -> pd.DataFrame:
    """Mean score of the same courses cut to each length, with its standard error over courses (09_optimizing_courses).

    With :func:`truth_scorer` this is E[effectiveness | do(L sessions)]: exact over patients, a Monte Carlo
    average over the courses given. With a model it is what the model expects L sessions to do.

    Parameters
    ----------
    score : Scorer
        Maps a list of courses (tuples of module names) to one score each.
    courses : Sequence[Sequence[str]]
        The courses to cut, each at least as long as the longest of ``lengths``.
    lengths : Sequence[int]
        Course lengths (numbers of sessions) to cut to, e.g. ``range(4, 21)``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``length``, with columns ``mean`` (mean score over courses) and ``se`` (its standard error).

    Raises
    ------
    ValueError
        If a length exceeds the length of some course.
    """
    short = [length for length in lengths if any(len(c) < length for c in courses)]
    if short:
        raise ValueError(f"length {short[0]!r} is longer than some of the courses to cut")
    rows = []
    for length in lengths:
        values = np.asarray(score([tuple(c[:length]) for c in courses]), dtype=float)
        rows.append({"length": length, "mean": values.mean(), "se": values.std(ddof=1) / np.sqrt(len(values))})
    return pd.DataFrame(rows).set_index("length")


def stopping_chances(progress: np.ndarray, lengths: np.ndarray, min_length: int, max_length: int) -> np.ndarray:
    """Each session's estimated chance that the course stops there, from the recorded interim progress
    (09_optimizing_courses).

    A pooled logistic regression over every session at which a course could stop (from ``min_length`` to its last,
    below ``max_length``): did it stop there, given the progress recorded after it? The model of the decision that
    inverse-probability weighting (:func:`ipw_length_curve`) divides by.

    Parameters
    ----------
    progress : numpy.ndarray
        ``(n, max_length)`` progress after each session (NaN after the course's end), e.g.
        ``stopping_rule.interim_progress``.
    lengths : numpy.ndarray
        Each course's number of sessions.
    min_length, max_length : int
        The first session after which a course may stop, and the session after which every course stops.

    Returns
    -------
    numpy.ndarray
        ``(n, max_length)`` chance of stopping after each session; 0 where a course could not stop (before
        ``min_length``, after its end) and 1 at ``max_length``.
    """
    from sklearn.linear_model import LogisticRegression

    sessions = np.arange(1, progress.shape[1] + 1)[None, :]
    lengths = np.asarray(lengths)[:, None]
    at_risk = (sessions >= min_length) & (sessions <= lengths) & (sessions < max_length)
    stopped = np.broadcast_to(sessions == lengths, progress.shape)[at_risk]
    model = LogisticRegression(C=1e6).fit(progress[at_risk].reshape(-1, 1), stopped)
    chances = np.zeros(progress.shape)
    chances[at_risk] = model.predict_proba(progress[at_risk].reshape(-1, 1))[:, 1]
    chances[:, max_length - 1] = 1.0
    return chances


def ipw_length_curve(outcomes: np.ndarray, lengths: np.ndarray, chances: np.ndarray,
                     min_length: int) -> pd.DataFrame:
    """E[effectiveness | do(L sessions)] from observational records by inverse-probability weighting
    (09_optimizing_courses).

    A course that stopped after L sessions followed the strategy "go on until L, then stop": it is weighted by
    1 / (the chance of each decision it received — going on after sessions ``min_length`` … L−1, stopping after L),
    so that the courses that stopped at L stand for every patient, not only those whose progress made stopping at L
    likely (Robins, Hernán & Brumback 2000; Hernán & Robins, *Causal Inference: What If*, ch. 21). Valid when the
    chances capture everything that drove the decision (sequential exchangeability) and no decision was certain
    (positivity): where weights explode, the effective sample size says so.

    Parameters
    ----------
    outcomes : numpy.ndarray
        Each course's effectiveness.
    lengths : numpy.ndarray
        Each course's number of sessions.
    chances : numpy.ndarray
        ``(n, max_length)`` chance of stopping after each session (:func:`stopping_chances` or the true ones).
    min_length : int
        The first session after which a course may stop.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``length``: ``mean`` (the weighted mean outcome of the courses that stopped there), ``se`` (its
        standard error, treating the weights as known), ``courses`` and ``effective courses`` (Kish's
        (Σw)² / Σw², how many equally weighted courses the estimate is worth).
    """
    outcomes, lengths = np.asarray(outcomes, dtype=float), np.asarray(lengths)
    sessions = np.arange(1, chances.shape[1] + 1)[None, :]
    went_on = (sessions >= min_length) & (sessions < lengths[:, None])
    log_chance = np.where(went_on, np.log1p(-np.minimum(chances, 1 - 1e-12)), 0.0).sum(axis=1)
    log_chance += np.log(np.maximum(chances[np.arange(len(lengths)), lengths - 1], 1e-300))
    weights = np.exp(-log_chance)
    rows = {}
    for length in np.unique(lengths):
        w, y = weights[lengths == length], outcomes[lengths == length]
        mean = float(np.average(y, weights=w))
        rows[int(length)] = {"mean": mean, "se": float(np.sqrt(np.sum(w ** 2 * (y - mean) ** 2)) / w.sum()),
                             "courses": len(w), "effective courses": float(w.sum() ** 2 / np.sum(w ** 2))}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("length")

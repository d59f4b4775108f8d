"""Prediction intervals for the effectiveness model, and how often they truly hold the outcome (11_uncertainty).

Ways to turn the series' models into an interval at a nominal level (e.g. 90 %):

* **split conformal**: the point model's prediction ± the calibration residuals' conformal quantile;
* **normal theory**: the same prediction ± z · the calibration residuals' RMSE, the parametric baseline that assumes
  normal errors of one spread;
* **Mondrian conformal**: split conformal within each length bin, one threshold per bin (group-conditional);
* **split conformal on the median**: split conformal around the quantile model's median, CQR's own base model, so
  that CQR and a constant width can be compared on one model;
* **conformalised quantiles (CQR)**: a model trained with the pinball loss predicts the interval's ends; the
  calibration courses say how far to widen (or narrow) them;
* **ensemble spread**: the deep ensemble's mean ± z · the members' standard deviation, as if it were the outcome's;
* **spread-scaled conformal**: split conformal on residuals divided by the spread (plus a floor), so intervals
  widen where the members disagree (normalised conformal).

Every method takes its quantile from one function, :func:`conformal_threshold`, whose rank ⌈(n + 1) · level⌉ is
computed in exact integer arithmetic: the command line, the course builder and the notebooks give the same interval
from the same calibration set, for every n.

The simulator's :func:`truth.outcome_distribution` is the referee: each interval's *true* chance of holding the
course's outcome, and the narrowest interval a perfect model would give (the oracle).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pandas as pd
from scipy.stats import norm, spearmanr

from therapy_utils.data import Vocabulary, show_value
from therapy_utils.evaluate import predict
from therapy_utils.model import CNN_ENSEMBLE_CONFIG, EnsembleModel, ModelConfig, SequenceModel
from therapy_utils.outcome import courses_to_matrix, motif_counts
from therapy_utils.simulate import SimulatorParams
from therapy_utils.truth import outcome_distribution

LEVELS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
METHODS: tuple[str, ...] = ("split conformal", "normal theory", "Mondrian conformal", "split conformal on the median",
                            "conformalised quantiles", "ensemble spread", "spread-scaled conformal")
# Course-length bins for coverage by length and for Mondrian conformal; courses beyond 20 modules are longer than
# any the series trains on.
LENGTH_EDGES: tuple[float, ...] = (0, 7, 11, 15, 20, np.inf)
LENGTH_LABELS: tuple[str, ...] = ("≤ 7", "8–11", "12–15", "16–20", "21+")


def quantile_levels(levels: Sequence[float] = LEVELS) -> tuple[float, ...]:
    """The quantile levels a quantile model needs for central intervals at ``levels``: (1 ± level) / 2, and 0.5.

    Parameters
    ----------
    levels : sequence of float, default=LEVELS
        Nominal coverages in (0, 1).

    Returns
    -------
    tuple of float
        Sorted levels, rounded to 10 digits so that 0.05 is 0.05.
    """
    return tuple(sorted({0.5, *(round((1 - lv) / 2, 10) for lv in levels), *(round((1 + lv) / 2, 10)
                                                                             for lv in levels)}))


# The quantile model: one CNN of the five-CNN ensemble's shape, one output per level that LEVELS' intervals need.
QUANTILE_CONFIG: ModelConfig = replace(CNN_ENSEMBLE_CONFIG, ensemble_size=1, quantiles=quantile_levels(LEVELS))


def conformal_rank(n: int, level: float) -> int:
    """⌈(n + 1) · level⌉ in exact arithmetic: which calibration score (1 = smallest) split conformal takes.

    ``level`` is read as the decimal it was written as (0.9 is 9/10, not the binary float just above it), so that
    (n + 1) · level lands exactly on a whole number where it should. In floating point it can miss: 100 · 0.55 is
    55.00000000000001, whose ceiling takes the 56th of 99 scores instead of the 55th; written the other way round,
    (1 − 0.9) · 10 is 0.9999999999999998, and a library that takes the k-th largest score with k the integer part of
    (n + 1)(1 − level) finds k = 0 at n = 9: no score qualifies and the interval is infinite, where the largest (9th)
    score was right.

    Parameters
    ----------
    n : int
        Number of calibration scores, at least 0.
    level : float
        Nominal coverage in (0, 1).

    Returns
    -------
    int
        The rank, from 1 to n + 1; n + 1 means that ``n`` scores are too few for ``level`` (an infinite interval).

    Raises
    ------
    ValueError
        If ``n`` is negative or ``level`` is not in (0, 1).
    """
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"the number of calibration scores must be a whole number ≥ 0, got {n!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    exact = Fraction(repr(float(level)))  # the shortest decimal that is this float: 0.9 → 9/10
    return -(-(int(n) + 1) * exact.numerator // exact.denominator)  # ceiling division of integers


def conformal_threshold(scores: np.ndarray, level: float) -> float:
    """The ⌈(n + 1) · level⌉-th smallest calibration score: the split-conformal quantile (Vovk et al.; Lei et al.).

    With exchangeable calibration and test courses, a test score falls at or below it with probability at least
    ``level``. Infinite when the calibration set is too small for the level. Every interval of the package (the
    command line's, the course builder's, notebook 11's) takes its quantile from here (:func:`conformal_rank`).

    Parameters
    ----------
    scores : numpy.ndarray
        ``(n,)`` non-conformity scores of the calibration courses (absolute residuals, or CQR's scores).
    level : float
        Nominal coverage in (0, 1).

    Returns
    -------
    float
        The threshold.
    """
    scores = np.sort(np.asarray(scores, dtype=float).ravel())
    rank = conformal_rank(len(scores), level)
    return float(scores[rank - 1]) if rank <= len(scores) else float("inf")


def _around(predictions: np.ndarray, half_width: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """``predictions`` ± ``half_width``, clipped to the outcome's range [0, 1] (no coverage is lost)."""
    predictions = np.asarray(predictions, dtype=float)
    return np.clip(predictions - half_width, 0.0, 1.0), np.clip(predictions + half_width, 0.0, 1.0)


def split_conformal(calibration_predictions: np.ndarray, calibration_outcomes: np.ndarray, predictions: np.ndarray,
                    level: float, calibration_sigmas: np.ndarray | None = None,
                    sigmas: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split-conformal intervals, plain or scaled by a per-course difficulty (11_uncertainty).

    Plain: prediction ± the conformal quantile of the calibration residuals' sizes. Scaled (the locally weighted
    conformal of Lei et al. 2018): each residual is scored in units of its course's difficulty, ``|r| / σ``, and a new
    course gets prediction ± quantile · σ_new.

    Parameters
    ----------
    calibration_predictions, calibration_outcomes : numpy.ndarray
        The point model's predictions and the observed outcomes on courses it was not trained on.
    predictions : numpy.ndarray
        Predictions for the courses that need intervals.
    level : float
        Nominal coverage in (0, 1).
    calibration_sigmas, sigmas : numpy.ndarray or None
        Positive difficulty of each calibration and new course (e.g. the ensemble's spread plus a floor); None
        gives intervals of one width. Both or neither.

    Returns
    -------
    tuple of numpy.ndarray
        ``lower`` and ``upper``, clipped to [0, 1] (the outcome's range: no coverage is lost).

    Raises
    ------
    ValueError
        If only one of the two sigmas is given, or a sigma is not positive.
    """
    if (calibration_sigmas is None) != (sigmas is None):
        raise ValueError("give both calibration_sigmas and sigmas (scaled intervals) or neither (plain intervals)")
    residuals = np.asarray(calibration_outcomes, dtype=float) - np.asarray(calibration_predictions, dtype=float)
    predictions = np.asarray(predictions, dtype=float)
    scale_calibration = np.ones_like(residuals) if calibration_sigmas is None else np.asarray(calibration_sigmas, float)
    scale = np.ones_like(predictions) if sigmas is None else np.asarray(sigmas, dtype=float)
    for name, values in (("calibration_sigmas", scale_calibration), ("sigmas", scale)):
        if not (values > 0).all():
            raise ValueError(f"{name} must be positive; got {show_value(values[~(values > 0)][0])}")
    return _around(predictions, conformal_threshold(np.abs(residuals) / scale_calibration, level) * scale)


def normal_theory_interval(calibration_predictions: np.ndarray, calibration_outcomes: np.ndarray,
                           predictions: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Prediction ± z · RMSE of the calibration residuals: the parametric interval conformal is measured against.

    Right when the errors are normal with one spread for every course; nothing guarantees its coverage otherwise
    (11_uncertainty).

    Parameters
    ----------
    calibration_predictions, calibration_outcomes : numpy.ndarray
        The point model's predictions and the observed outcomes on courses it was not trained on.
    predictions : numpy.ndarray
        Predictions for the courses that need intervals.
    level : float
        Nominal coverage in (0, 1); z is the standard normal's (1 + level)/2 quantile.

    Returns
    -------
    tuple of numpy.ndarray
        ``lower`` and ``upper``, clipped to [0, 1].
    """
    residuals = np.asarray(calibration_outcomes, dtype=float) - np.asarray(calibration_predictions, dtype=float)
    return _around(predictions, norm.ppf((1 + level) / 2) * np.sqrt(np.mean(residuals ** 2)))


def mondrian_conformal(calibration_predictions: np.ndarray, calibration_outcomes: np.ndarray,
                       calibration_groups: np.ndarray, predictions: np.ndarray, groups: np.ndarray,
                       level: float) -> tuple[np.ndarray, np.ndarray]:
    """Split conformal within each group: coverage at least ``level`` in every group, not only on average.

    Mondrian (group-conditional) conformal prediction (Vovk et al. 2005, ch. 4): each group's threshold comes from
    that group's calibration courses only, so a group on which the model errs more gets wider intervals. The price is
    fewer calibration courses per threshold; a group with too few (or none, e.g. courses longer than any calibrated)
    gets an infinite half-width, clipped to [0, 1]: no data, no guarantee (11_uncertainty).

    Parameters
    ----------
    calibration_predictions, calibration_outcomes : numpy.ndarray
        The point model's predictions and the observed outcomes on the calibration courses.
    calibration_groups, groups : numpy.ndarray
        The group of each calibration and new course (e.g. :func:`length_bins`), fixed before calibration.
    predictions : numpy.ndarray
        Predictions for the new courses.
    level : float
        Nominal coverage in (0, 1).

    Returns
    -------
    tuple of numpy.ndarray
        ``lower`` and ``upper``, clipped to [0, 1].
    """
    residuals = np.abs(np.asarray(calibration_outcomes, dtype=float) - np.asarray(calibration_predictions, float))
    calibration_groups, groups = np.asarray(calibration_groups, dtype=object), np.asarray(groups, dtype=object)
    thresholds = {group: conformal_threshold(residuals[calibration_groups == group], level)
                  for group in set(groups)}
    return _around(predictions, np.array([thresholds[group] for group in groups], dtype=float))


def length_bins(lengths: np.ndarray) -> np.ndarray:
    """Each course length's bin label (:data:`LENGTH_LABELS`), as an array of strings."""
    return np.asarray(pd.cut(np.asarray(lengths), list(LENGTH_EDGES), labels=list(LENGTH_LABELS)).astype(str))


def conformalised_quantiles(calibration_quantiles: np.ndarray, calibration_outcomes: np.ndarray,
                            quantiles: np.ndarray, level: float,
                            quantile_grid: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Conformalised quantile regression (Romano, Patterson & Candès 2019) at one level.

    The model's (1 − level)/2 and (1 + level)/2 quantiles are the raw interval; the score
    ``max(lower − y, y − upper)`` says how far outside it each calibration outcome fell (negative: inside), and
    the interval moves out (or in) by the scores' conformal quantile.

    Parameters
    ----------
    calibration_quantiles, quantiles : numpy.ndarray
        ``(n, len(quantile_grid))`` predicted quantiles of calibration and new courses.
    calibration_outcomes : numpy.ndarray
        Observed outcomes of the calibration courses.
    level : float
        Nominal coverage; (1 ± level) / 2 must be in ``quantile_grid``.
    quantile_grid : sequence of float
        The level of each column (the quantile model's ``config.quantiles``).

    Returns
    -------
    tuple of numpy.ndarray
        ``lower`` and ``upper``, clipped to [0, 1].
    """
    grid = [round(q, 10) for q in quantile_grid]
    wanted = (round((1 - level) / 2, 10), round((1 + level) / 2, 10))
    missing = [q for q in wanted if q not in grid]
    if missing:
        raise ValueError(f"level {level!r} needs the quantiles {list(wanted)}; the model predicts {grid}")
    low, high = grid.index(wanted[0]), grid.index(wanted[1])
    scores = np.maximum(calibration_quantiles[:, low] - calibration_outcomes,
                        calibration_outcomes - calibration_quantiles[:, high])
    widen = conformal_threshold(scores, level)
    return np.clip(quantiles[:, low] - widen, 0.0, 1.0), np.clip(quantiles[:, high] + widen, 0.0, 1.0)


def spread_interval(mean: np.ndarray, spread: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The ensemble's mean ± z · the members' standard deviation, as if that were the outcome's spread.

    Parameters
    ----------
    mean, spread : numpy.ndarray
        The members' mean prediction and their standard deviation, per course.
    level : float
        Nominal coverage in (0, 1); z is the standard normal's (1 + level)/2 quantile.

    Returns
    -------
    tuple of numpy.ndarray
        ``lower`` and ``upper``, clipped to [0, 1].
    """
    return _around(mean, norm.ppf((1 + level) / 2) * np.asarray(spread))


def model_outputs(ensemble: SequenceModel, quantile_model: SequenceModel | None, courses: pd.DataFrame,
                  vocab: Vocabulary) -> dict[str, np.ndarray]:
    """What every interval method reads from the models, for a course table (11_uncertainty).

    Parameters
    ----------
    ensemble : SequenceModel
        A deep ensemble (``members``) or a single model (its spread is then 0).
    quantile_model : SequenceModel or None
        A model with ``config.quantiles``; None leaves out CQR's inputs.
    courses : pandas.DataFrame
        Courses (``modules`` column).
    vocab : Vocabulary
        The models' vocabulary.

    Returns
    -------
    dict of str to numpy.ndarray
        ``mean`` (n,), ``spread`` (n,) (members' standard deviation), ``members`` (n, K), ``length`` (n,) (modules
        per course, for Mondrian conformal) and, with a quantile model, ``quantiles`` (n, Q) sorted along each row
        (no crossing quantiles).
    """
    members = list(ensemble.members) if isinstance(ensemble, EnsembleModel) else [ensemble]
    each = np.stack([predict(member, courses, vocab, batch_size=256) for member in members], axis=1).astype(float)
    outputs = {"mean": each.mean(axis=1), "spread": each.std(axis=1, ddof=1) if each.shape[1] > 1 else
               np.zeros(len(each)), "members": each, "length": courses["modules"].map(len).to_numpy()}
    if quantile_model is not None:
        outputs["quantiles"] = np.sort(predict(quantile_model, courses, vocab, batch_size=256).astype(float), axis=1)
    return outputs


def method_intervals(calibration: dict[str, np.ndarray], calibration_outcomes: np.ndarray,
                     test: dict[str, np.ndarray], level: float,
                     quantile_grid: Sequence[float] = (),
                     spread_floor: float | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every method's interval at ``level`` for the test courses, calibrated on the calibration courses.

    Parameters
    ----------
    calibration, test : dict of str to numpy.ndarray
        :func:`model_outputs` of the calibration and test courses.
    calibration_outcomes : numpy.ndarray
        Observed outcomes of the calibration courses.
    level : float
        Nominal coverage.
    quantile_grid : sequence of float, default=()
        The quantile model's levels; needed when the outputs hold ``quantiles``.
    spread_floor : float or None, default=None
        β of spread-scaled conformal (keeps a near-zero spread from giving a zero width). None takes the median
        calibration spread, which makes the score depend a little on the calibration set itself; a value fixed on
        other courses (e.g. the training courses' median spread) keeps the guarantee exact.

    Returns
    -------
    dict of str to tuple of numpy.ndarray
        Method name (see :data:`METHODS`) → ``(lower, upper)``; the quantile model's two only with quantiles, the
        spread methods only with an ensemble.
    """
    y = np.asarray(calibration_outcomes, dtype=float)
    out = {"split conformal": split_conformal(calibration["mean"], y, test["mean"], level),
           "normal theory": normal_theory_interval(calibration["mean"], y, test["mean"], level),
           "Mondrian conformal": mondrian_conformal(calibration["mean"], y, length_bins(calibration["length"]),
                                                    test["mean"], length_bins(test["length"]), level)}
    if "quantiles" in calibration:
        median = [round(q, 10) for q in quantile_grid].index(0.5)
        out["split conformal on the median"] = split_conformal(calibration["quantiles"][:, median], y,
                                                               test["quantiles"][:, median], level)
        out["conformalised quantiles"] = conformalised_quantiles(calibration["quantiles"], y, test["quantiles"],
                                                                 level, quantile_grid)
    if calibration["members"].shape[1] > 1:
        out["ensemble spread"] = spread_interval(test["mean"], test["spread"], level)
        floor = float(np.median(calibration["spread"])) if spread_floor is None else spread_floor
        out["spread-scaled conformal"] = split_conformal(calibration["mean"], y, test["mean"], level,
                                                         calibration["spread"] + floor, test["spread"] + floor)
    return out


def course_features(params: SimulatorParams, courses: pd.DataFrame) -> pd.DataFrame:
    """Per-course columns to break coverage down by: length, its bin, motif occurrences and (latent) subtype.

    Parameters
    ----------
    params : SimulatorParams
        The population (its motifs).
    courses : pandas.DataFrame
        Courses (``modules``; ``subtype`` or ``severity`` when the simulator recorded them).

    Returns
    -------
    pandas.DataFrame
        ``length``, ``length bin`` (4–7, 8–11, 12–15, 16–20, then 21+), ``motifs`` and ``patient class``.
    """
    matrix, lengths = courses_to_matrix(courses["modules"], params.modules)
    bins = pd.cut(lengths, list(LENGTH_EDGES), labels=list(LENGTH_LABELS))
    if "subtype" in courses:
        patient = courses["subtype"].to_numpy()
    elif "severity" in courses:
        patient = np.where(courses["severity"].to_numpy() > 0, "severe", "mild")
    else:
        patient = np.full(len(lengths), "all")
    return pd.DataFrame({"length": lengths, "length bin": bins, "motifs": motif_counts(matrix, params).sum(axis=1),
                         "patient class": patient})


def interval_frame(params: SimulatorParams, courses: pd.DataFrame,
                   intervals: dict[float, dict[str, tuple[np.ndarray, np.ndarray]]]) -> pd.DataFrame:
    """One row per course, method and level: the interval, whether it held the outcome and its true chance to.

    Parameters
    ----------
    params : SimulatorParams
        The population the courses come from: its outcome distribution is the referee.
    courses : pandas.DataFrame
        The test courses (``modules``, ``effectiveness``).
    intervals : dict
        Level → :func:`method_intervals`' result for these courses.

    Returns
    -------
    pandas.DataFrame
        Columns ``level``, ``method``, ``lower``, ``upper``, ``width``, ``covered`` (the observed outcome fell
        inside), ``true coverage``, ``oracle width`` (the narrowest interval with true chance ``level``) and the
        columns of :func:`course_features`.
    """
    distribution = outcome_distribution(params, courses["modules"])
    outcome = courses["effectiveness"].to_numpy(dtype=float)
    features = course_features(params, courses)
    rows = []
    for level, by_method in intervals.items():
        oracle_lower, oracle_upper = distribution.oracle_interval(level)
        for method, (lower, upper) in by_method.items():
            rows.append(features.assign(level=level, method=method, lower=lower, upper=upper, width=upper - lower,
                                        covered=(outcome >= lower) & (outcome <= upper),
                                        **{"true coverage": distribution.coverage(lower, upper),
                                           "oracle width": oracle_upper - oracle_lower}))
    return pd.concat(rows, ignore_index=True)


def coverage_summary(frame: pd.DataFrame, by: str | list[str] | None = None) -> pd.DataFrame:
    """Empirical and true coverage, mean width and the oracle's, per method and level (and ``by``).

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`interval_frame`'s rows.
    by : str, list of str or None
        Extra columns to group by (e.g. ``"length bin"``).

    Returns
    -------
    pandas.DataFrame
        ``courses``, ``coverage`` (share of outcomes inside), ``true coverage`` (mean chance), ``width``,
        ``oracle width`` and ``width / oracle``.
    """
    keys = ["method", "level", *([by] if isinstance(by, str) else by or [])]
    table = frame.groupby(keys, observed=True).agg(
        courses=("covered", "size"), coverage=("covered", "mean"), **{"true coverage": ("true coverage", "mean")},
        width=("width", "mean"), **{"oracle width": ("oracle width", "mean")})
    order = [m for m in METHODS if m in table.index.unique("method")] + sorted(
        set(table.index.unique("method")) - set(METHODS))
    table = table.reindex(order, level="method")  # methods in the lesson's order; levels and bins sorted
    return table.assign(**{"width / oracle": table["width"] / table["oracle width"]})


def spread_error_correlation(spread: np.ndarray, error: np.ndarray) -> float:
    """Spearman's rank correlation between the ensemble's spread and the model's error, per course.

    Parameters
    ----------
    spread : numpy.ndarray
        The members' standard deviation.
    error : numpy.ndarray
        The absolute error to compare with, e.g. ``|mean − E[y | course]|`` (the truth's, free of noise).

    Returns
    -------
    float
        Spearman's rho (1: the spread ranks the courses exactly as the error does).
    """
    return float(spearmanr(spread, error).statistic)

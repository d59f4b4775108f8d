"""Scoring predictions made while courses run: after each session k, on the courses still coming.

Every predictor gives, after session k, a chance of reliable improvement (or, for a rule, a score and an alert). At
each k the courses still coming are scored: AUROC (ranking), balanced accuracy (the 0.5 cut, or the rule's alert),
Brier score and calibration error (10 equal-width bins of the chance, weighted by their courses). Patients who stop
early are handled by one of three rules (:data:`DROPOUT_RULES`); an alert is scored as hits, misses and false alarms
against what happened, and beside the truth's own alert. Taught in ``12_session_by_session.ipynb``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, brier_score_loss, roc_auc_score

from therapy_utils.sessions import SCORED_SESSIONS, SessionCourses

DROPOUT_RULES = ("last score", "censored", "not improved")
SMALL_GROUP = 100  # patients: a subgroup smaller than this is flagged, its rates too noisy to compare
SMALL_CLASS = 50  # ... and one with fewer patients than this on either side of the outcome (sensitivity rests on the
# patients who did not improve, specificity on those who did: 44 of them leave a standard error near 0.07)
INTAKE_BANDS = ((0, "below 10"), (10, "10-14 moderate"), (15, "15-19 moderately severe"), (20, "20-27 severe"))


def outcome_labels(data: SessionCourses, rule: str = "last score") -> np.ndarray:
    """Each course's outcome under a dropout rule: 1.0 improved, 0.0 not, NaN not scored.

    Parameters
    ----------
    data : SessionCourses
        The courses, with ``improved`` and ``ended_early``.
    rule : str, default="last score"
        ``last score`` (the series' definition) reads every course at its last recorded score; ``censored`` scores
        only the courses that ran to their planned end; ``not improved`` counts every early leaver as not improved.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` 1.0, 0.0 or NaN.
    """
    if rule not in DROPOUT_RULES:
        raise ValueError(f"unknown dropout rule {rule!r}; choose one of {DROPOUT_RULES}")
    labels = data.improved.astype(float)
    if rule == "censored":
        labels[data.ended_early] = np.nan
    elif rule == "not improved":
        labels[data.ended_early] = 0.0
    return labels


def calibration_error(chance: np.ndarray, outcome: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the absolute gap between mean chance and share improved, bin by bin, weighted.

    Parameters
    ----------
    chance : numpy.ndarray
        ``(n,)`` predicted chances in [0, 1] (a chance of exactly 1 falls in the last bin).
    outcome : numpy.ndarray
        ``(n,)`` 1 improved, 0 not.
    bins : int, default=10
        Equal-width bins on [0, 1].

    Returns
    -------
    float
        The mean over courses of the absolute gap between their bin's mean chance and share improved.
    """
    which = np.minimum((np.asarray(chance) * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        inside = which == b
        total += inside.sum() * abs(chance[inside].mean() - outcome[inside].mean())
    return float(total / len(chance))


def alert_threshold(miss_cost: float, false_alarm_cost: float) -> float:
    """The chance of improvement below which an alert pays, for a calibrated chance p: alert when the expected cost
    of staying silent, (1 − p) · miss, exceeds that of alerting, p · false alarm: p < miss / (miss + false alarm).

    Parameters
    ----------
    miss_cost, false_alarm_cost : float
        What a missed patient and a needless alert cost, in any one unit (only their ratio matters).

    Returns
    -------
    float
        The threshold on the chance of improvement.
    """
    if not (miss_cost > 0 and false_alarm_cost > 0):
        raise ValueError(f"costs must be positive, got miss {miss_cost!r} and false alarm {false_alarm_cost!r}")
    return miss_cost / (miss_cost + false_alarm_cost)


def _scores(chance: np.ndarray, outcome: np.ndarray, alert: np.ndarray | None) -> dict[str, float]:
    both = len(np.unique(outcome)) == 2
    predicted = ~alert if alert is not None else chance >= 0.5
    probability = alert is None
    return {"auroc": roc_auc_score(outcome, chance) if both else np.nan,
            "balanced accuracy": balanced_accuracy_score(outcome, predicted) if both else np.nan,
            "brier": brier_score_loss(outcome, chance) if probability else np.nan,
            "calibration error": calibration_error(chance, outcome) if probability else np.nan}


def scores_by_session(chances: dict[str, np.ndarray], data: SessionCourses, sessions: tuple[int, ...] = SCORED_SESSIONS,
               rule: str = "last score", rules: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
               ) -> pd.DataFrame:
    """Every predictor's scores after each session k, on the courses still coming at k.

    Parameters
    ----------
    chances : dict
        Predictor name → ``(n, T)`` chance of reliable improvement after each session (the truth among them).
    data : SessionCourses
        The scored courses.
    sessions : tuple of int, default=(1, …, 8)
        The session numbers k.
    rule : str, default="last score"
        How early leavers are scored (:func:`outcome_labels`).
    rules : dict, optional
        Rule name → (margin, alert) ``(n, T)`` arrays (:func:`early_warning.not_on_track`): scored by AUROC (the
        margin) and balanced accuracy (the alert); no Brier score or calibration, as a margin is not a chance.

    Returns
    -------
    pandas.DataFrame
        One row per predictor and k: ``predictor``, ``session``, ``running`` (courses scored), ``improved`` (their
        share improved), ``auroc``, ``balanced accuracy``, ``brier``, ``calibration error``.
    """
    labels = outcome_labels(data, rule)
    named = {**{name: (chance, None) for name, chance in chances.items()}, **(rules or {})}
    rows = []
    for name, (values, alerts) in named.items():
        for k in sessions:
            keep = (data.lengths >= k) & ~np.isnan(labels)
            if not keep.any():
                continue
            outcome, chance = labels[keep], values[keep, k - 1]
            if np.isnan(chance).any():
                raise ValueError(f"{name!r} has no prediction for {int(np.isnan(chance).sum())} courses at session {k}")
            rows.append({"predictor": name, "session": k, "running": int(keep.sum()), "improved": outcome.mean(),
                         **_scores(chance, outcome, None if alerts is None else alerts[keep, k - 1])})
    return pd.DataFrame(rows)


def alert_outcomes(chance: np.ndarray, truth: np.ndarray, outcome: np.ndarray, threshold: float) -> pd.Series:
    """An alert (chance below ``threshold``) scored against what happened and beside the truth's alert.

    Parameters
    ----------
    chance, truth : numpy.ndarray
        ``(n,)`` the model's and the truth's chance of reliable improvement after one session.
    outcome : numpy.ndarray
        ``(n,)`` what happened: 1 improved, 0 not.
    threshold : float
        Alert below this chance (:func:`alert_threshold` turns costs into one).

    Returns
    -------
    pandas.Series
        ``alerts``; ``hits`` (alerted, not improved), ``misses`` (not alerted, not improved), ``false alarms``
        (alerted, improved); ``sensitivity`` and ``specificity``; and ``truth's alerts`` and ``same as truth``
        (the share of patients on whom the model and the truth agree).
    """
    alert, truth_alert, failed = chance < threshold, truth < threshold, outcome == 0
    return pd.Series({"alerts": int(alert.sum()), "hits": int((alert & failed).sum()),
                      "misses": int((~alert & failed).sum()), "false alarms": int((alert & ~failed).sum()),
                      "sensitivity": (alert & failed).sum() / max(failed.sum(), 1),
                      "specificity": (~alert & ~failed).sum() / max((~failed).sum(), 1),
                      "truth's alerts": int(truth_alert.sum()), "same as truth": (alert == truth_alert).mean()})


def intake_band(first_scores: np.ndarray) -> np.ndarray:
    """PHQ-9 severity bands of the intake score (Kroenke, Spitzer & Williams 2001), as labels.

    Parameters
    ----------
    first_scores : numpy.ndarray
        ``(n,)`` each patient's first score (0–27).

    Returns
    -------
    numpy.ndarray
        ``below 10``, ``10-14 moderate``, ``15-19 moderately severe`` or ``20-27 severe`` per patient.
    """
    edges = [low for low, _ in INTAKE_BANDS[1:]]
    return np.array([name for _, name in INTAKE_BANDS])[np.digitize(first_scores, edges)]


def subgroup_alerts(chance: np.ndarray, truth: np.ndarray, outcome: np.ndarray, groups: np.ndarray,
                    threshold: float, small: int = SMALL_GROUP, small_class: int = SMALL_CLASS) -> pd.DataFrame:
    """The alert's sensitivity, specificity and calibration in each subgroup, with the truth's beside them.

    Parameters
    ----------
    chance, truth, outcome : numpy.ndarray
        ``(n,)`` the model's and the truth's chance after one session k, and what happened (1 improved, 0 not).
    groups : numpy.ndarray
        ``(n,)`` each patient's subgroup label.
    threshold : float
        Alert below this chance.
    small : int, default=100
        Groups with fewer patients are flagged ``small``: their rates move by several points from chance alone.
    small_class : int, default=50
        Groups with fewer patients than this who improved, or who did not, are flagged too: a sensitivity rests on
        the patients who did not improve, a specificity on those who did.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``patients``, ``not improved``, the model's and the truth's ``sensitivity`` and
        ``specificity``, ``mean chance`` (model), ``mean truth`` and ``share improved`` (observed), ``small``.
    """
    rows = {}
    for group in sorted(set(groups)):
        inside = groups == group
        model = alert_outcomes(chance[inside], truth[inside], outcome[inside], threshold)
        ideal = alert_outcomes(truth[inside], truth[inside], outcome[inside], threshold)
        rows[group] = {"patients": int(inside.sum()), "not improved": int((outcome[inside] == 0).sum()),
                       "sensitivity": model["sensitivity"], "truth's sensitivity": ideal["sensitivity"],
                       "specificity": model["specificity"], "truth's specificity": ideal["specificity"],
                       "mean chance": chance[inside].mean(), "mean truth": truth[inside].mean(),
                       "share improved": outcome[inside].mean(),
                       "small": bool(inside.sum() < small or min((outcome[inside] == 0).sum(),
                                                                 (outcome[inside] == 1).sum()) < small_class)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("group")

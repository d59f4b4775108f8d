"""Figures of 12_session_by_session: score trajectories against the expected band, scores by session, reliability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# One colour per predictor, the same in every figure of notebook 12 (seaborn's colour-blind palette; the truth black).
PREDICTOR_COLOURS = dict(zip(("sequence model", "scores so far", "change so far", "intake score", "not on track"),
                             [sns.color_palette("colorblind")[i] for i in (0, 2, 4, 7, 5)], strict=True))
PREDICTOR_COLOURS["truth"] = (0.0, 0.0, 0.0)
IMPROVED_COLOURS = {True: sns.color_palette("colorblind")[0], False: sns.color_palette("colorblind")[3]}


def trajectories_figure(sessions: pd.DataFrame, improved: pd.Series, curve: pd.DataFrame | None = None,
                        title: str = "Scores session by session") -> Figure:
    """Each patient's recorded scores, coloured by whether the course ended reliably improved; with ``curve``
    (:func:`prognosis.expected_recovery_curve`) the expected mean and its 10th-90th percentile band behind them.

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``course_id``, ``session``, ``score`` for the patients to draw.
    improved : pandas.Series
        Reliable improvement by ``course_id``.
    curve : pandas.DataFrame, optional
        ``mean``, ``p10``, ``p90`` by session.
    title : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    if curve is not None:
        ax.fill_between(curve.index, curve["p10"], curve["p90"], color="#E69F00", alpha=0.25,
                        label="expected band (10th-90th percentile)")
        ax.plot(curve.index, curve["mean"], color="#E69F00", linewidth=2, label="expected recovery curve")
    for course_id, course in sessions.groupby("course_id"):
        ax.plot(course["session"], course["score"], "o-", markersize=3, linewidth=1, alpha=0.8,
                color=IMPROVED_COLOURS[bool(improved[course_id])])
    for outcome, colour in IMPROVED_COLOURS.items():
        ax.plot([], [], "o-", color=colour, label="reliably improved" if outcome else "not reliably improved")
    ax.axhline(10, color="grey", linestyle=":", linewidth=1)
    ax.text(ax.get_xlim()[1], 10.2, "caseness (10)", ha="right", va="bottom", fontsize=8, color="grey")
    ax.set(title=title, xlabel="session", ylabel="PHQ-9 score (0-27)", ylim=(0, 27))
    ax.legend(fontsize=8, loc="upper right")
    return fig


def by_session_figure(scores: pd.DataFrame, metric: str = "auroc",
                      title: str = "How well each predictor ranks patients, session by session") -> Figure:
    """A metric after each session k, one line per predictor, the truth's as the ceiling (mean ± sd over seeds when
    ``scores`` has several seeds).

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`evaluate.scores_by_session`'s rows (``predictor``, ``session``, the metric; optionally ``seed``).
    metric : str, default="auroc"
        The column to draw.
    title : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    summary = scores.groupby(["predictor", "session"])[metric].agg(["mean", "std"]).reset_index()
    for name, rows in summary.groupby("predictor", sort=False):
        if rows["mean"].isna().all():
            continue
        style = {"linestyle": "--", "linewidth": 2.5} if name == "truth" else {"linewidth": 1.5}
        ax.errorbar(rows["session"], rows["mean"], yerr=rows["std"].fillna(0), marker="o", markersize=4,
                    capsize=2, color=PREDICTOR_COLOURS.get(name), label=name, **style)
    ax.set(title=title, xlabel="after session k", ylabel=metric.replace("auroc", "AUROC"),
           xticks=sorted(summary["session"].unique()))
    ax.legend(fontsize=8, loc="lower right")
    return fig


def reliability_figure(chances: dict[str, np.ndarray], outcome: np.ndarray, bins: int = 10,
                       title: str = "Reliability: predicted chance against the share improved") -> Figure:
    """Binned mean chance against the observed share improved, per predictor (the binning of
    :func:`evaluate.calibration_error`); markers sized by the bin's patients.

    Parameters
    ----------
    chances : dict
        Predictor name → ``(n,)`` chances on the same patients.
    outcome : numpy.ndarray
        ``(n,)`` 1 improved, 0 not.
    bins : int, default=10
        Equal-width bins of the chance.
    title : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for name, chance in chances.items():
        which = np.minimum((chance * bins).astype(int), bins - 1)
        table = pd.DataFrame({"bin": which, "chance": chance, "outcome": outcome}).groupby("bin").agg(
            chance=("chance", "mean"), observed=("outcome", "mean"), patients=("outcome", "size"))
        ax.plot(table["chance"], table["observed"], color=PREDICTOR_COLOURS.get(name), label=name,
                linestyle="--" if name == "truth" else "-")
        ax.scatter(table["chance"], table["observed"], s=8 + table["patients"] / 2, color=PREDICTOR_COLOURS.get(name))
    ax.set(title=title, xlabel="predicted chance of reliable improvement", ylabel="share reliably improved",
           xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=8, loc="upper left")
    return fig


def monitor_figure(scores: tuple[int, ...], k: int, model: np.ndarray, truth: np.ndarray, band: pd.DataFrame,
                   threshold: float) -> Figure:
    """The session monitor's picture (:class:`course.monitor.SessionMonitor`): the scores up to session k against the
    expected band for the intake score, and the model's and the truth's chance after each session up to k.

    Parameters
    ----------
    scores : tuple of int
        The patient's scores, every session.
    k : int
        The session the slider stands at.
    model, truth : numpy.ndarray
        The chance after each session.
    band : pandas.DataFrame
        ``mean``, ``p10``, ``p90`` by session for this intake score.
    threshold : float
        The alert line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=(10, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    sessions = np.arange(1, len(scores) + 1)
    left.fill_between(band.index, band["p10"], band["p90"], color="#E69F00", alpha=0.25,
                      label="expected band (10th-90th percentile)")
    left.plot(band.index, band["mean"], color="#E69F00", label="expected for this intake score")
    left.plot(sessions[:k], scores[:k], "o-", color="black", label="recorded score")
    left.set(title="Scores against the expected recovery curve", xlabel="session", ylabel="PHQ-9 score",
             ylim=(0, 27), xlim=(0.5, max(len(scores), band.index.max()) + 0.5))
    left.legend(fontsize=8, loc="upper right")
    right.plot(sessions[:k], model[:k], "o-", color=PREDICTOR_COLOURS["sequence model"], label="sequence model")
    right.plot(sessions[:k], truth[:k], "s--", color=PREDICTOR_COLOURS["truth"], label="truth (simulator)")
    right.axhline(threshold, color="#D55E00", linestyle=":", label=f"alert below {threshold:.2f}")
    right.set(title="Chance of reliable improvement", xlabel="after session", ylabel="probability", ylim=(0, 1),
              xlim=(0.5, len(scores) + 0.5))
    right.legend(fontsize=8, loc="lower right")
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig

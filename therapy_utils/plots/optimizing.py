"""Recommended courses against the truth, module effects, length curves (09_optimizing_courses)."""

from __future__ import annotations

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure


def regret_figure(table: pd.DataFrame, title: str = "Recommended vs best courses, judged by the truth") -> Figure:
    """True value of the model's course and of the true optimum per length, and the regret (09_optimizing_courses).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per course length with columns ``length``, ``true_optimum_value``, ``model_course_true``
        and ``regret``, as from ``optimize.regret_table``.
    title : str, default="Recommended vs best courses, judged by the truth"
        Title of the left panel.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: both courses' true values per length, and the regret as bars with a dotted target of 0.02.
    """
    fig = Figure(figsize=(10, 4), dpi=100)
    values_ax, regret_ax = fig.subplots(1, 2)
    values_ax.plot(table["length"], table["true_optimum_value"], "o-", label="true optimum")
    values_ax.plot(table["length"], table["model_course_true"], "s--", label="model's recommendation")
    values_ax.set(title=title, xlabel="course length", ylabel="true expected effectiveness")
    values_ax.legend()
    regret_ax.bar(table["length"], table["regret"], color="#c62828")
    regret_ax.axhline(0.02, color="black", ls=":", label="target 0.02")
    regret_ax.set(title="Regret", xlabel="course length", ylabel="true optimum − model's course")
    regret_ax.legend()
    fig.tight_layout()
    return fig


def module_effects_figure(effects: pd.DataFrame, title: str = "What appending each module does") -> Figure:
    """Each module's mean effect under several scorers, side by side (09_optimizing_courses).

    Parameters
    ----------
    effects : pandas.DataFrame
        One row per module (index: module names), one column per scorer, each column as from
        ``optimize.module_effects``.
    title : str, default="What appending each module does"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        Grouped bars: per module, one bar per scorer (column), with a line at zero.
    """
    long = effects.rename_axis("module").reset_index().melt("module", var_name="according to", value_name="effect")
    fig = Figure(figsize=(10, 4), dpi=100)
    ax = fig.subplots()
    sns.barplot(data=long, x="module", y="effect", hue="according to", ax=ax)
    ax.axhline(0, color="black", lw=0.8)
    ax.set(title=title, xlabel="module appended to each test course", ylabel="mean change in effectiveness")
    fig.tight_layout()
    return fig


def length_curve_figure(curves: pd.DataFrame, observed: pd.Series | None = None,
                        title: str = "What L sessions do") -> Figure:
    """Mean score per course length for each ``source`` (± 2 standard errors), beside the records' means.

    ``curves`` has columns ``length``, ``mean``, ``se`` and ``source`` (from ``optimize.length_curve``);
    ``observed`` is the records' mean effectiveness per length (09_optimizing_courses).

    Parameters
    ----------
    curves : pandas.DataFrame
        One row per source and length with columns ``length``, ``mean``, ``se`` and ``source``.
    observed : pandas.Series or None, default=None
        Mean recorded effectiveness, indexed by course length; None leaves it out.
    title : str, default="What L sessions do"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One line per source with a band of ± 2 standard errors, and ``observed`` as a dotted line.
    """
    fig = Figure(figsize=(8, 4.5), dpi=100)
    ax = fig.subplots()
    for source, curve in curves.groupby("source", sort=False):
        ax.plot(curve["length"], curve["mean"], "o-", label=source)
        ax.fill_between(curve["length"], curve["mean"] - 2 * curve["se"], curve["mean"] + 2 * curve["se"], alpha=0.2)
    if observed is not None:
        ax.plot(observed.index, observed.to_numpy(), "k:", marker="x", label="records: mean outcome at that length")
    ax.set(title=title, xlabel="sessions (course length)", ylabel="expected effectiveness")
    ax.legend()
    fig.tight_layout()
    return fig

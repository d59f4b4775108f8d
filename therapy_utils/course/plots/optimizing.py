"""Recommended courses against the truth, module effects, length curves (09_optimizing_courses)."""

from __future__ import annotations

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

COLOURS = sns.color_palette("colorblind")
# one colour per kind of curve in every length figure: the model's, the truth's, a remedy's (colour-blind safe)
SOURCE_COLOURS = {"model": COLOURS[0], "truth": COLOURS[2], "IPW": COLOURS[1]}


def source_colour(source: str, index: int) -> tuple[float, float, float]:
    """The colour of a curve: by the first word of its source ("model ...", "truth: ...", "IPW, ..."), or the
    colour-blind palette's next free colour (09_optimizing_courses).

    Parameters
    ----------
    source : str
        The curve's label.
    index : int
        Its position among the figure's curves, for a source no first word names.

    Returns
    -------
    tuple of float
        An RGB colour.
    """
    first = source.split()[0].rstrip(":,")
    return SOURCE_COLOURS.get(first, COLOURS[3 + index % 6])


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
    fig = Figure(figsize=(11, 4), dpi=100)
    values_ax, regret_ax = fig.subplots(1, 2)
    values_ax.plot(table["length"], table["true_optimum_value"], "o-", color=SOURCE_COLOURS["truth"],
                   label="true optimum")
    values_ax.plot(table["length"], table["model_course_true"], "s--", color=SOURCE_COLOURS["model"],
                   label="model's course (true value)")
    values_ax.set(title=title, xlabel="course length (modules)", ylabel="true expected effectiveness")
    values_ax.legend(loc="lower right")
    regret_ax.bar(table["length"], table["regret"], color=COLOURS[3], label="regret")
    regret_ax.axhline(0.02, color="black", ls=":", label="target: at most 0.02")
    regret_ax.set(title="Regret: what trusting the model costs", xlabel="course length (modules)",
                  ylabel="true optimum − model's course", ylim=(0, 0.03), yticks=[0, 0.01, 0.02, 0.03])
    regret_ax.legend(loc="upper right")
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
        Grouped bars: per module, one bar per scorer (column; the truth's hatched), with a line at zero; the legend
        outside the axes, clear of the bars.
    """
    long = effects.rename_axis("module").reset_index().melt("module", var_name="according to", value_name="effect")
    fig = Figure(figsize=(11, 4.2), dpi=100)
    ax = fig.subplots()
    # hues far apart: the fourth column (notebook 09's control) grey, not a second orange beside the truth's
    palette = [COLOURS[i] for i in (0, 1, 2, 7, 4, 9, 5, 8, 3, 6)[:len(effects.columns)]]
    sns.barplot(data=long, x="module", y="effect", hue="according to", palette=palette, ax=ax)
    for bars, column in zip(ax.containers, effects.columns, strict=True):  # the truth's bars hatched, the models' plain
        for bar in bars:
            bar.set_hatch("//" if column.startswith("truth") else "")
            bar.set_edgecolor("white")
    ax.axhline(0, color="black", lw=0.8)
    ax.set(title=title, xlabel="module appended to each test course", ylabel="mean change in effectiveness")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1), title="according to", fontsize=9)
    fig.tight_layout()
    return fig


def length_curve_figure(curves: pd.DataFrame, observed: pd.Series | None = None,
                        title: str = "What L sessions do", observed_sem: pd.Series | None = None) -> Figure:
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
    observed_sem : pandas.Series or None, default=None
        Standard error of each recorded mean, same index as ``observed``: drawn as ± 2 sem bars, so that lengths
        with few courses show how little their mean says; None draws none.

    Returns
    -------
    matplotlib.figure.Figure
        One line per source with a band of ± 2 standard errors, and ``observed`` as a dotted line; each source keeps
        its colour across figures (:func:`source_colour`), and the legend sits outside the axes.
    """
    fig = Figure(figsize=(10, 4.5), dpi=100)
    ax = fig.subplots()
    for index, (source, curve) in enumerate(curves.groupby("source", sort=False)):
        colour = source_colour(source, index)
        ax.plot(curve["length"], curve["mean"], "o-", color=colour, label=source)
        ax.fill_between(curve["length"], curve["mean"] - 2 * curve["se"], curve["mean"] + 2 * curve["se"],
                        color=colour, alpha=0.2)
    if observed is not None:
        if observed_sem is None:
            ax.plot(observed.index, observed.to_numpy(), "k:", marker="x", label="records: mean outcome at that length")
        else:
            ax.errorbar(observed.index, observed.to_numpy(), yerr=2 * observed_sem.reindex(observed.index).to_numpy(),
                        fmt="k:", marker="x", capsize=2, elinewidth=0.8,
                        label="records: mean outcome at that length (± 2 sem)")
    ax.set(title=title, xlabel="sessions (course length)", ylabel="expected effectiveness")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    fig.tight_layout()
    return fig

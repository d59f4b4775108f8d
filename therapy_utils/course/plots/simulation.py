"""Figures of the simulated courses (01_simulate_therapy_courses, 06_interactive_course_builder).

Module groups are listed in the order a course runs through them (the realistic preset's phase order, then crisis
work), in legends as on axes; counts get whole-number ticks. In 06's figures the model is drawn filled and the truth
hatched, each bar in its module's group colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from therapy_utils.course.plots.palette import GROUP_ORDER, group_handles, group_palette
from therapy_utils.simulate import SimulatorParams

MODEL_STYLE = {"alpha": 0.9}  # the model's bars: filled
TRUTH_STYLE = {"facecolor": "none", "hatch": "///", "linewidth": 1.2}  # the truth's bars: hatched outlines


def phase_order(groups: Sequence[str]) -> list[str]:
    """These group names in the order a course runs through them: :data:`GROUP_ORDER` first, then any other group in
    order of appearance, so that a legend reads like the phases (01_simulate_therapy_courses).

    Parameters
    ----------
    groups : Sequence[str]
        Group names; repeats count once (e.g. ``params.group_of().values()``).

    Returns
    -------
    list[str]
        Each distinct name once: the realistic preset's groups in phase order, then the others.
    """
    seen = list(dict.fromkeys(groups))
    return [g for g in GROUP_ORDER if g in seen] + [g for g in seen if g not in GROUP_ORDER]


def _group_legend(ax: Axes, groups: Sequence[str], extra: Sequence[Patch] = (), **kwargs) -> None:
    """A legend of the groups in phase order (then ``extra`` entries), outside the axes on the right."""
    ax.legend(handles=[*group_handles(phase_order(groups)), *extra], loc="upper left", bbox_to_anchor=(1, 1),
              **kwargs)


def course_mix_figure(courses: pd.DataFrame, params: SimulatorParams, title: str = "Course length") -> Figure:
    """How long the courses are and how often each module is used, modules grouped and coloured by their group
    (01_simulate_therapy_courses).

    Parameters
    ----------
    courses : pandas.DataFrame
        A course table with a ``modules`` column (tuples of module names).
    params : SimulatorParams
        The simulator: its modules, and their groups in phase order.
    title : str, default="Course length"
        Title of the left panel (the lengths).

    Returns
    -------
    matplotlib.figure.Figure
        Left: a histogram of course lengths. Right: sessions per module, bars ordered and the legend listed in the
        order a course runs through the groups. Both count axes have whole-number ticks.
    """
    groups = params.group_of()
    order = [m for group in phase_order(groups.values()) for m in params.modules if groups[m] == group]
    frequency = courses["modules"].explode().value_counts().reindex(order, fill_value=0)
    palette = group_palette(phase_order(groups.values()))
    fig = Figure(figsize=(11, 3.5))
    ax_len, ax_freq = fig.subplots(1, 2)
    sns.histplot(courses["modules"].map(len), discrete=True, ax=ax_len)
    ax_len.set(title=title, xlabel="sessions", ylabel="courses")
    ax_freq.bar(order, frequency.to_numpy(), color=[palette[groups[m]] for m in order])
    ax_freq.set(title="How often each module is used", xlabel="module (grouped by phase)", ylabel="sessions")
    _group_legend(ax_freq, list(groups.values()), title="group (phase order)")
    lengths = courses["modules"].map(len)
    ax_len.set_xticks(range(lengths.min(), lengths.max() + 1, 2))  # whole sessions, every other one labelled
    for axis in (ax_len.yaxis, ax_freq.yaxis):
        axis.set_major_locator(MaxNLocator(nbins="auto", integer=True, steps=[1, 2, 5, 10]))
    fig.tight_layout()
    return fig


def transition_figure(probabilities: pd.DataFrame, params: SimulatorParams,
                      title: str = "Observed transitions (rows sum to 1)") -> Figure:
    """The transition matrix as a heat map, rows and columns in group order with a line between groups
    (01_simulate_therapy_courses).

    Parameters
    ----------
    probabilities : pandas.DataFrame
        P(next | current): one row per current module, one column per next module, both already in group order.
    params : SimulatorParams
        The simulator whose groups draw the separating lines.
    title : str, default="Observed transitions (rows sum to 1)"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        The heat map with a colour bar; the group blocks on the diagonal are framed by white lines.
    """
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.subplots()
    sns.heatmap(probabilities, cmap="viridis", ax=ax, cbar_kws={"label": "P(next | current)"})
    groups = params.group_of()
    labels = [groups.get(m) for m in probabilities.index]
    for edge in (i for i in range(1, len(labels)) if labels[i] != labels[i - 1]):
        ax.axhline(edge, color="white", lw=1)
        ax.axvline(edge, color="white", lw=1)
    ax.set(title=title, xlabel="next module", ylabel="current module")
    return fig


def _paired_bars(ax: Axes, positions: np.ndarray, model: np.ndarray, truth: np.ndarray, colours: list,
                 horizontal: bool = False) -> None:
    """Model (filled) and truth (hatched) side by side at each position, each bar in its group's colour."""
    draw, width = (ax.barh, "height") if horizontal else (ax.bar, "width")
    draw(positions - 0.2, model, **{width: 0.4}, color=colours, **MODEL_STYLE)  # left of, or above, the truth
    draw(positions + 0.2, truth, **{width: 0.4}, edgecolor=colours, **TRUTH_STYLE)
    (ax.axvline if horizontal else ax.axhline)(0, color="black", lw=0.8)


def _style_handles() -> list[Patch]:
    return [Patch(facecolor="grey", label="model (filled)", **MODEL_STYLE),
            Patch(edgecolor="grey", label="truth (hatched)", **TRUTH_STYLE)]


def course_explanation_figure(course: Sequence[str], groups: Mapping[str, str], values: Mapping[str, float],
                              interval: tuple[float, float], contributions: pd.DataFrame,
                              title: str = "Prediction beside the truth") -> Figure:
    """One course explained twice: the model's prediction with its 90 % interval beside the true expected value, and
    each position's occlusion contribution by the model and by the truth (06_interactive_course_builder).

    Parameters
    ----------
    course : Sequence[str]
        The course, as module names.
    groups : Mapping[str, str]
        Module → group, for the bars' colours.
    values : Mapping[str, float]
        ``"model"``: the prediction; ``"truth"``: the simulator's expected effectiveness.
    interval : tuple[float, float]
        The prediction's interval (lower, upper), drawn as an error bar on the model's bar.
    contributions : pandas.DataFrame
        One row per position (in course order), columns ``model`` and ``truth``, as from ``evaluate.occlusion``.
    title : str, default="Prediction beside the truth"
        Title of the left panel.

    Returns
    -------
    matplotlib.figure.Figure
        Left: two bars, model (with its interval) and truth. Right: per position, the model's contribution (filled)
        beside the truth's (hatched), coloured by the module's group.
    """
    fig = Figure(figsize=(10.5, 3.8))
    ax_value, ax_parts = fig.subplots(1, 2, width_ratios=(1, 2))
    model, truth = values["model"], values["truth"]
    ax_value.bar([0], [model], color="grey", **MODEL_STYLE)
    ax_value.bar([1], [truth], edgecolor="black", **TRUTH_STYLE)
    ax_value.errorbar([0], [model], yerr=[[model - interval[0]], [interval[1] - model]], fmt="none", ecolor="black",
                      capsize=6, label="90 % interval")
    ax_value.set_xticks([0, 1], ["model", "truth"])
    ax_value.set(title=title, xlabel=" → ".join(course), ylabel="effectiveness", ylim=(0, 1))
    ax_value.legend(loc="upper left")
    colours = [group_palette(phase_order(groups.values()))[groups[m]] for m in course]
    positions = np.arange(len(course))
    _paired_bars(ax_parts, positions, contributions["model"].to_numpy(), contributions["truth"].to_numpy(), colours)
    ax_parts.set_xticks(positions, [f"{i + 1}. {m}" for i, m in enumerate(course)])
    ax_parts.set(title="Contribution of each position (occlusion)", xlabel="position in the course",
                 ylabel="score − score without it")
    _group_legend(ax_parts, [groups[m] for m in course], _style_handles())
    fig.tight_layout()
    return fig


def next_gains_figure(gains: pd.DataFrame, groups: Mapping[str, str],
                      title: str = "What to add next: the model's gain beside the true gain") -> Figure:
    """For every candidate module, the gain from appending it according to the model and to the truth, in the
    model's order (06_interactive_course_builder).

    Parameters
    ----------
    gains : pandas.DataFrame
        One row per candidate module (index: module names), columns ``model gain`` and ``true gain``, as from
        ``evaluate.next_module_gains`` with the model's and the truth's scorer.
    groups : Mapping[str, str]
        Module → group, for the bars' colours.
    title : str, default="What to add next: the model's gain beside the true gain"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal paired bars, the model's first choice at the top: its gain filled, the true gain hatched, each in
        the module's group colour; where the hatched bars do not fall in the same order, the rankings disagree.
    """
    ranked = gains.sort_values("model gain", ascending=False, kind="stable")
    colours = [group_palette(phase_order(groups.values()))[groups[m]] for m in ranked.index]
    fig = Figure(figsize=(8, 0.32 * len(ranked) + 1.6))
    ax = fig.subplots()
    positions = np.arange(len(ranked))
    _paired_bars(ax, positions, ranked["model gain"].to_numpy(), ranked["true gain"].to_numpy(), colours,
                 horizontal=True)
    ax.set_yticks(positions, [f"{rank}. {m}" for rank, m in enumerate(ranked.index, start=1)])
    ax.invert_yaxis()
    ax.set(title=title, xlabel="change in effectiveness from appending the module",
           ylabel="module appended (model's ranking)")
    _group_legend(ax, [groups[m] for m in ranked.index], _style_handles())
    fig.tight_layout()
    return fig


def population_figure(courses: pd.DataFrame, title: str = "Effectiveness") -> Figure:
    """A simulated population at a glance: its outcomes, and the mean outcome by course length — the course
    builder's Simulator tab redraws it whenever a slider comes to rest (06_interactive_course_builder).

    Parameters
    ----------
    courses : pandas.DataFrame
        A course table with ``modules`` and ``effectiveness`` columns.
    title : str, default="Effectiveness"
        Title of the left panel (the tab puts the preset's name in it).

    Returns
    -------
    matplotlib.figure.Figure
        Left: a histogram of effectiveness (whole-number counts). Right: mean effectiveness per course length.
    """
    fig = Figure(figsize=(10, 3.2))
    ax_hist, ax_len = fig.subplots(1, 2)
    sns.histplot(courses["effectiveness"], bins=30, ax=ax_hist)
    ax_hist.set(title=title, xlabel="effectiveness", ylabel="courses")
    ax_hist.yaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True, steps=[1, 2, 5, 10]))
    by_length = courses.assign(length=courses["modules"].map(len))
    sns.lineplot(data=by_length, x="length", y="effectiveness", errorbar=None, ax=ax_len)
    ax_len.set(title="Mean effectiveness by length", xlabel="course length (sessions)", ylabel="mean effectiveness")
    ax_len.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig

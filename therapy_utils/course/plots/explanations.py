"""Attributions per position and per method (10_explaining_predictions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from therapy_utils.evaluate import motif_positions

_FAMILIES = ("deletion", "replacement", "integrated gradients")


def method_colour(method: str) -> tuple[float, float, float]:
    """One colour-blind-safe colour per kind of attribution, the same for the model and for the truth
    (10_explaining_predictions).

    Parameters
    ----------
    method : str
        A method's name, e.g. ``"occlusion (deletion)"`` or ``"deletion, of the truth"``: the first of deletion,
        replacement and integrated gradients that it names decides.

    Returns
    -------
    tuple of float
        An RGB colour from seaborn's colour-blind palette; grey for a name that names none of the three.
    """
    family = next((i for i, name in enumerate(_FAMILIES) if name in method), None)
    return sns.color_palette("colorblind")[family] if family is not None else (0.6, 0.6, 0.6)


def _runs(positions: set[int]) -> list[tuple[int, int]]:
    """Contiguous runs of positions as (start, length): one outline per stretch of motif."""
    runs: list[tuple[int, int]] = []
    for position in sorted(positions):
        if runs and runs[-1][0] + runs[-1][1] == position:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((position, 1))
    return runs


def _heatmap_panel(ax: Axes, cax: Axes, values: np.ndarray, letters: np.ndarray, limit: float,
                   motif_runs: list[list[tuple[int, int]]], labels: Sequence[str]) -> None:
    """One method's attributions as a heatmap centred at 0 on [-limit, limit], module letters in the cells and
    the planted motifs outlined."""
    sns.heatmap(values, mask=np.isnan(values), cmap="vlag", vmin=-limit, vmax=limit, annot=letters,
                fmt="", linewidths=0.5, linecolor="white", ax=ax, cbar_ax=cax, yticklabels=list(labels),
                cbar_kws={"label": "attribution (effectiveness units)"})
    for row, runs in enumerate(motif_runs):
        for start, length in runs:
            ax.add_patch(Rectangle((start, row), length, 1, fill=False, edgecolor="black", lw=2.2))
    ax.tick_params(axis="y", rotation=0)


def attribution_heatmap_figure(courses: Sequence[Sequence[str]], panels: Mapping[str, Sequence[np.ndarray]],
                               motifs: Sequence[Sequence[str]], labels: Sequence[str] | None = None,
                               title: str = "Attributions per position") -> Figure:
    """Attributions of several courses, courses × positions, one heatmap per method, with the planted motifs
    outlined so that each explanation is read against the truth (10_explaining_predictions).

    The colour scale is diverging, colour-blind safe ("vlag") and symmetric about 0, the same for every panel:
    white is no effect, so a method that shares an effect out looks paler than one that gives each position the
    whole of it.

    Parameters
    ----------
    courses : sequence of sequence of str
        The courses, one row each; their modules are written in the cells.
    panels : Mapping[str, sequence of numpy.ndarray]
        Method name → one attribution array per course (same order as ``courses``).
    motifs : sequence of sequence of str
        The simulator's planted motifs; positions on one are outlined in black.
    labels : sequence of str or None, default=None
        Row labels; None numbers the courses from 0.
    title : str, default="Attributions per position"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One heatmap per method, stacked, sharing one colour bar.
    """
    width = max(len(c) for c in courses)
    letters = np.array([list(c) + [""] * (width - len(c)) for c in courses], dtype=object)
    grids = {name: np.array([np.pad(np.asarray(a, dtype=float), (0, width - len(a)), constant_values=np.nan)
                             for a in values]) for name, values in panels.items()}
    limit = max(float(np.nanmax(np.abs(grid))) for grid in grids.values())
    motif_runs = [_runs(motif_positions(c, motifs)) for c in courses]
    labels = list(labels) if labels is not None else [str(i) for i in range(len(courses))]
    fig = Figure(figsize=(0.55 * width + 3.5, (0.33 * len(courses) + 0.9) * len(grids) + 0.6), dpi=100)
    grid_spec = fig.add_gridspec(len(grids), 2, width_ratios=(40, 1))
    cax = fig.add_subplot(grid_spec[:, 1])
    for row, (name, grid) in enumerate(grids.items()):
        ax = fig.add_subplot(grid_spec[row, 0])
        _heatmap_panel(ax, cax, grid, letters, limit, motif_runs, labels)
        ax.set(title=name, xlabel="position in the course", ylabel="course")
    fig.legend(handles=[Patch(fill=False, edgecolor="black", lw=2.2, label="planted motif (the truth)")],
               loc="lower left", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def _bars(ax: Axes, table: pd.DataFrame, methods: Sequence[str], motif: np.ndarray, ylabel: str) -> None:
    """Grouped bars per position, one colour per kind of method; motif positions shaded."""
    width = 0.8 / len(methods)
    positions = np.arange(len(table))
    for position in positions[motif]:
        ax.axvspan(position - 0.45, position + 0.45, color="0.9", zorder=0)
    for i, method in enumerate(methods):
        ax.bar(positions + (i - (len(methods) - 1) / 2) * width, table[method], width, label=method,
               color=method_colour(method), hatch="//" if "truth" in method else None, edgecolor="white")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(positions, [f"{t}: {m}" + (" (motif)" if on else "") for t, (m, on) in
                              enumerate(zip(table["module"], motif, strict=True))])
    ax.set(xlabel="position: module", ylabel=ylabel)
    ax.legend(fontsize=8)


def attribution_bars_figure(table: pd.DataFrame, truth_methods: Sequence[str],
                            title: str = "One course, explained") -> Figure:
    """One course's attributions per position: the model's methods side by side, and beside them the same
    removals applied to the simulator's truth (10_explaining_predictions).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per position, with columns ``module``, ``on a motif`` (bool) and one column of attributions per
        method.
    truth_methods : sequence of str
        The columns computed on the truth (right panel); every other attribution column is the model's (left).
    title : str, default="One course, explained"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels of grouped bars on one scale; positions on a planted motif are shaded and named.
    """
    methods = [c for c in table.columns if c not in ("module", "on a motif")]
    model_methods = [m for m in methods if m not in truth_methods]
    motif = table["on a motif"].to_numpy(dtype=bool)
    fig = Figure(figsize=(11, 4.2), dpi=100)
    model_ax, truth_ax = fig.subplots(1, 2)
    _bars(model_ax, table, model_methods, motif, "attribution to the model's prediction")
    _bars(truth_ax, table, list(truth_methods), motif, "attribution to the truth E[y | course]")
    model_ax.set_title("the model: three methods")
    truth_ax.set_title("the truth: the same removals")
    values = table[methods].to_numpy(dtype=float)
    limits = (min(0.0, values.min()) - 0.01, 1.3 * values.max())
    model_ax.set_ylim(limits)
    truth_ax.set_ylim(limits)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def explanation_checks_figure(scores: pd.DataFrame, courses_with_motif: int, bar: float,
                              title: str = "Explanations checked") -> Figure:
    """Each method's ``motif_hit3`` (against the truth) with ± 2 standard errors and the bar it should clear, and
    its removal checks (against the model) beside 3 random positions (10_explaining_predictions).

    Parameters
    ----------
    scores : pandas.DataFrame
        Rows ``motif_hit3``, ``comprehensiveness_top``, ``sufficiency_top``, ``comprehensiveness_random`` and
        ``sufficiency_random``; one column per method.
    courses_with_motif : int
        How many courses ``motif_hit3`` averages over: sets its standard error, sqrt(p (1 − p) / n).
    bar : float
        The share asked of a useful explanation, drawn as a dotted line.
    title : str, default="Explanations checked"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels of horizontal bars, one bar per method; the random positions' values are black ticks.
    """
    methods = list(scores.columns)
    rows = np.arange(len(methods))
    colours = [method_colour(m) for m in methods]
    hatches = ["//" if "truth" in m else None for m in methods]
    fig = Figure(figsize=(12, 4.2), dpi=100)
    axes = fig.subplots(1, 3, sharey=True)
    hit = scores.loc["motif_hit3"].to_numpy(dtype=float)
    error = 2 * np.sqrt(hit * (1 - hit) / courses_with_motif)
    axes[0].barh(rows, hit, xerr=error, color=colours, hatch=hatches, edgecolor="white", capsize=3)
    axes[0].axvline(bar, color="black", ls=":", label=f"the bar asked of a useful explanation ({bar})")
    axes[0].set(title="truth: top 3 on a motif", xlabel="motif_hit3 (± 2 standard errors)", xlim=(0, 1.05))
    for ax, check, better in zip(axes[1:], ("comprehensiveness", "sufficiency"), ("larger", "smaller"), strict=True):
        ax.barh(rows, scores.loc[f"{check}_top"], color=colours, hatch=hatches, edgecolor="white")
        ax.scatter(scores.loc[f"{check}_random"], rows, marker="|", s=300, color="black",
                   label="3 random positions (bars: the top 3)" if check == "sufficiency" else None)
        ax.set(title=f"removal check: {check}", xlabel=f"mean change of the score ({better} is better)")
    for ax in axes:
        ax.set_ylabel("method")
    axes[0].set_yticks(rows, methods)
    axes[0].invert_yaxis()
    fig.legend(loc="lower center", ncol=2, fontsize=9)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig

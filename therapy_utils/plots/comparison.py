"""Learning curves and shares of the oracle (07_transfer_learning, 08_model_comparison)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure


def learning_curve_figure(runs: pd.DataFrame, oracle_r2: float, reference_r2: float | None = None,
                          title: str = "Learning curves on the target task (mean ± sd over seeds)") -> Figure:
    """Test R² against training courses (log x) per starting point, with the oracle's ceiling (07_transfer_learning).

    ``reference_r2`` draws a dashed line, e.g. random initialisation's R² with all the data, to read savings off.

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per training run with columns ``n`` (training courses), ``r2`` (test R²) and ``start``
        (starting point); runs with the same ``n`` and ``start`` (seeds) give the mean and sd band.
    oracle_r2 : float
        The oracle's test R², drawn as a dotted ceiling.
    reference_r2 : float or None, default=None
        An R² to draw as a dashed line; None draws none.
    title : str, default="Learning curves on the target task (mean ± sd over seeds)"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One panel, one line per starting point, with the sizes in ``runs["n"]`` as x ticks.
    """
    fig = Figure(figsize=(8, 4.8), dpi=100)
    ax = fig.subplots()
    sns.lineplot(data=runs, x="n", y="r2", hue="start", errorbar="sd", marker="o", ax=ax)
    ax.axhline(oracle_r2, color="black", ls=":", label=f"oracle ({oracle_r2:.3f})")
    if reference_r2 is not None:
        ax.axhline(reference_r2, color="grey", ls="--", label=f"random init., all courses ({reference_r2:.3f})")
    ax.set(title=title, xscale="log", xlabel="training courses from the target population (log scale)",
           ylabel="test R²")
    ax.set_xticks(sorted(runs["n"].unique()), labels=[str(n) for n in sorted(runs["n"].unique())])
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def oracle_share_figure(summary: pd.DataFrame, title: str = "Share of the oracle's R² at n = 500",
                        split: str = "test") -> Figure:
    """One bar per model and preset, mean share of the oracle's R² with the sd over seeds (08_model_comparison).

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per preset and model with columns ``preset``, ``model``, ``share`` (mean test R² / oracle R²)
        and ``share_sd`` (its sd over seeds); every preset's rows list the models in the same order.
    title : str, default="Share of the oracle's R² at n = 500"
        The figure's title.
    split : str, default="test"
        Which courses the shares were measured on (e.g. "validation"), for the axis label.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal bars per model, coloured by preset, with sd error bars and a dotted line at 1.
    """
    fig = Figure(figsize=(9, 0.32 * summary["model"].nunique() * summary["preset"].nunique() + 1.5), dpi=100)
    ax = fig.subplots()
    sns.barplot(data=summary, y="model", x="share", hue="preset", ax=ax, orient="h")
    presets = summary.groupby("preset", sort=False)
    bars = ax.containers[:presets.ngroups]  # the bar containers come first, one per preset (hue level)
    for container, (_, part) in zip(bars, presets, strict=True):
        centres = [bar.get_y() + bar.get_height() / 2 for bar in container]
        ax.errorbar(part["share"], centres, xerr=part["share_sd"], fmt="none", ecolor="black", lw=1)
    ax.axvline(1.0, color="black", ls=":", lw=1)
    ax.set(title=title, xlabel=f"{split} R² / oracle R² (1 = as good as knowing the truth)", ylabel="")
    fig.tight_layout()
    return fig


def oracle_share_curve_figure(curve: pd.DataFrame, title: str = "Share of the oracle's R² vs courses") -> Figure:
    """Share of the oracle's R² against the number of courses (log x), one panel per preset (08_model_comparison).

    Parameters
    ----------
    curve : pandas.DataFrame
        One row per run with columns ``preset``, ``model``, ``n`` (simulated courses) and ``share``
        (test R² / oracle R²); runs with the same preset, model and ``n`` (seeds) give the mean and sd band.
    title : str, default="Share of the oracle's R² vs courses"
        The figure's overall title.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per preset (in order of appearance, shared y-axis), one line per model.
    """
    presets = list(dict.fromkeys(curve["preset"]))
    models = list(dict.fromkeys(curve["model"]))
    fig = Figure(figsize=(5 * len(presets), 4.2 + 0.25 * len(models)), dpi=100)
    axes = np.atleast_1d(fig.subplots(1, len(presets), sharey=True))
    for ax, preset in zip(axes, presets, strict=True):
        part = curve[curve["preset"] == preset]
        sns.lineplot(data=part, x="n", y="share", hue="model", hue_order=models, marker="o", ax=ax, errorbar="sd")
        ax.axhline(1.0, color="black", ls=":", lw=1)
        ax.set(title=f"{preset} preset", xscale="log", xlabel="simulated courses (64 % train, 16 % val)",
               ylabel="test R² / oracle R²")
        handles, labels = ax.get_legend_handles_labels()
        ax.get_legend().remove()
    # one legend for both panels, below them: inside a panel it would hide the low, noisy small-n points
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize="small", title="model (band: sd over seeds)")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05 * len(models) / 2 + 0.06, 1, 1))
    return fig

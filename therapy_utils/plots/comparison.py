"""Learning curves, paired gains and shares of the oracle (07_transfer_learning, 08_model_comparison).

Every curve over seeds is drawn the same way: a mean line with a ±sd band where a point has the model's full number
of seeds, an open marker with an sd bar where it has fewer (at least two), and a lone cross where it has one seed,
which has no spread to show. Sizes sit on a log axis labelled with plain numbers (50, 100, 1,000), not powers of 10.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

CONTROL_COLOUR = (0.45, 0.45, 0.45)  # the control of a one-change comparison, grey in every panel
MARKERS = ("o", "s", "D", "^", "v", "P")
# seaborn's colour-blind-safe palette, reordered so that neighbours differ most (its orange and vermillion apart)
PALETTE = [sns.color_palette("colorblind")[i] for i in (0, 1, 2, 4, 3, 5, 9, 8)]
# what each way of drawing a point means, for the legends ({} is the number of seeds)
SEED_KINDS = {"band": "line and band: mean ± sd over {} seeds",
              "few": "open marker and bar: mean ± sd over {} seeds",
              "single": "cross: a single seed (no spread to show)"}


def plain_log_axis(ax: Axes, sizes: Sequence[float]) -> None:
    """A log x-axis ticked at ``sizes`` and labelled 50, 100, 1,000 instead of 10² (07, 08_model_comparison).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The panel whose x-axis becomes logarithmic.
    sizes : sequence of float
        The measured sizes; each gets a tick and a plain label, and no other tick is drawn.

    Returns
    -------
    None
        ``ax`` is changed in place.
    """
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(sorted(set(sizes))))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.xaxis.set_minor_locator(NullLocator())


def seed_summary(runs: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Mean, sd and number of seeds of ``y`` per value of ``x``, and how each point is drawn (07, 08).

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per run (seed) of one model, with columns ``x`` and ``y``.
    x, y : str
        The size column and the measured column.

    Returns
    -------
    pandas.DataFrame
        One row per ``x``, sorted: ``mean``, ``sd`` (NaN for one seed), ``seeds`` and ``kind`` — "band" where the
        point has the most seeds of any point (at least two), "few" for fewer but at least two, "single" for one.
    """
    summary = runs.groupby(x)[y].agg(mean="mean", sd="std", seeds="count").reset_index().sort_values(x)
    most = summary["seeds"].max()
    summary["kind"] = np.where(summary["seeds"] < 2, "single", np.where((summary["seeds"] == most), "band", "few"))
    return summary


def draw_seed_curve(ax: Axes, runs: pd.DataFrame, x: str, y: str, colour: object, label: str,
                    marker: str = "o", ls: str = "-") -> dict[str, set[int]]:
    """One model's curve over seeds on ``ax``, drawn by :func:`seed_summary`'s kinds (07, 08_model_comparison).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The panel to draw on.
    runs : pandas.DataFrame
        One row per run of this model, with columns ``x`` and ``y``.
    x, y : str
        The size column and the measured column.
    colour : colour
        The model's colour.
    label : str
        The model's legend label (given to its line, or to its first marker when it has no band).
    marker, ls : str
        Marker and line style of the mean line.

    Returns
    -------
    dict of str to set of int
        The kinds drawn ("band", "few", "single") and their numbers of seeds, so a legend can explain them.
    """
    summary = seed_summary(runs, x, y)
    band, few, single = (summary[summary["kind"] == kind] for kind in ("band", "few", "single"))
    if len(band):
        ax.plot(band[x], band["mean"], marker=marker, ls=ls, color=colour, label=label)
        ax.fill_between(band[x], band["mean"] - band["sd"], band["mean"] + band["sd"], color=colour, alpha=0.18, lw=0)
        label = "_nolegend_"
    if len(few):
        ax.errorbar(few[x], few["mean"], yerr=few["sd"], fmt=marker, mfc="white", color=colour, capsize=3, ls="none",
                    label=label)
        label = "_nolegend_"
    if len(single):
        ax.plot(single[x], single["mean"], marker="x", ms=8, mew=2, ls="none", color=colour, label=label)
    return {kind: set(part["seeds"]) for kind, part in summary.groupby("kind")}


def seed_kind_handles(kinds: dict[str, set[int]]) -> list[Line2D]:
    """Grey legend entries that say what a band, an open marker and a cross mean, for the kinds drawn (07, 08).

    Parameters
    ----------
    kinds : dict of str to set of int
        Kinds and their numbers of seeds, merged from :func:`draw_seed_curve`'s returns.

    Returns
    -------
    list of matplotlib.lines.Line2D
        One proxy artist per kind present, in the order band, few, single.
    """
    styles = {"band": {"marker": "o", "lw": 6, "alpha": 0.35}, "few": {"marker": "o", "mfc": "white", "ls": "none"},
              "single": {"marker": "x", "mew": 2, "ls": "none"}}
    counts = {kind: " or ".join(str(k) for k in sorted(seeds)) for kind, seeds in kinds.items()}
    return [Line2D([], [], color="grey", label=SEED_KINDS[kind].format(counts[kind]), **styles[kind])
            for kind in SEED_KINDS if kind in kinds]


def learning_curve_figure(runs: pd.DataFrame, oracle_r2: float, reference_r2: float | None = None,
                          pairs: Sequence[tuple[str, str]] | None = None,
                          title: str = "Learning curves on the target task (mean ± sd over seeds)") -> Figure:
    """Test R² against training courses (log x), one panel per set-up against its control (07_transfer_learning).

    One band per panel pair is readable where five overlapping bands are not: each panel shows one set-up in its
    colour against the start it differs from in one thing, in grey, with the oracle's ceiling.

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per training run with columns ``n`` (training courses), ``r2`` (test R²) and ``start``.
    oracle_r2 : float
        The oracle's test R², drawn as a dotted ceiling.
    reference_r2 : float or None, default=None
        An R² to draw as a dashed line (e.g. random initialisation's with all the data); None draws none.
    pairs : sequence of (control, set-up) or None, default=None
        One panel per pair; None compares every other start with "random".
    title : str, default="Learning curves on the target task (mean ± sd over seeds)"
        The figure's overall title.

    Returns
    -------
    matplotlib.figure.Figure
        A grid of panels sharing both axes, one colour-blind-safe colour and marker per set-up, the control grey.
    """
    pairs = list(pairs or [("random", start) for start in dict.fromkeys(runs["start"]) if start != "random"])
    columns = min(len(pairs), 2)
    rows = -(-len(pairs) // columns)
    fig = Figure(figsize=(5 * columns, 3.3 * rows + 1.3), dpi=100)
    axes = np.atleast_1d(fig.subplots(rows, columns, sharex=True, sharey=True)).ravel()
    for i, (ax, (control, setup)) in enumerate(zip(axes, pairs, strict=False)):
        draw_seed_curve(ax, runs[runs["start"] == control], "n", "r2", CONTROL_COLOUR, control, "o", "--")
        draw_seed_curve(ax, runs[runs["start"] == setup], "n", "r2", PALETTE[i % len(PALETTE)], setup,
                        MARKERS[i % len(MARKERS)])
        ax.legend(loc="lower right", fontsize="small")
        ax.axhline(oracle_r2, color="black", ls=":", lw=1, label=f"oracle ({oracle_r2:.3f})")
        if reference_r2 is not None:
            ax.axhline(reference_r2, color="black", ls="-.", lw=0.8, label=f"random, all courses ({reference_r2:.3f})")
        plain_log_axis(ax, runs["n"].unique())
        ax.set(title=f"{setup} against {control}", xlabel="target training courses (log scale)", ylabel="test R²")
    for ax in axes[len(pairs):]:
        ax.set_visible(False)
    lines = axes[0].get_lines()[-2 if reference_r2 is not None else -1:]  # the ceiling lines, once for all panels
    fig.legend(handles=lines + seed_kind_handles({"band": set(runs.groupby(["start", "n"]).size())}),
               loc="lower center", ncol=3, fontsize="small")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def paired_gain_figure(comparison: pd.DataFrame, by: str = "n",
                       title: str = "Gain over the control, paired by seed, with family-wise intervals") -> Figure:
    """Each pair's mean paired difference per size with its family-wise interval (07_transfer_learning).

    The interval, not the mean, says what the seeds allow: a filled marker is a gap beyond noise after Holm's
    correction over the whole family, an open one is within noise.

    Parameters
    ----------
    comparison : pandas.DataFrame
        :func:`compare.paired_comparison`'s table: ``baseline``, ``candidate``, ``by``, ``difference``, ``ci low``,
        ``ci high`` and ``verdict``.
    by : str, default="n"
        The size column, drawn on a log axis with plain labels.
    title : str, default="Gain over the control, paired by seed, with family-wise intervals"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One panel: per pair a colour and marker, its points side by side at each size, a line at zero.
    """
    pairs = list(dict.fromkeys(zip(comparison["baseline"], comparison["candidate"], strict=True)))
    fig = Figure(figsize=(9, 5.6), dpi=100)
    ax = fig.subplots()
    offsets = np.exp(np.linspace(-0.12, 0.12, len(pairs)))  # side by side on the log axis
    for i, ((baseline, candidate), colour) in enumerate(zip(pairs, PALETTE, strict=False)):
        part = comparison[(comparison["baseline"] == baseline) & (comparison["candidate"] == candidate)]
        x = part[by].to_numpy(dtype=float) * offsets[i]
        errors = [part["difference"] - part["ci low"], part["ci high"] - part["difference"]]
        ax.errorbar(x, part["difference"], yerr=errors, fmt="none", ecolor=colour, capsize=3, lw=1.2)
        beyond = (part["verdict"] != "within noise").to_numpy()
        marker = MARKERS[i % len(MARKERS)]
        ax.plot(x[~beyond], part["difference"][~beyond], marker, mfc="white", color=colour, ms=7)
        ax.plot(x[beyond], part["difference"][beyond], marker, color=colour, ms=7)
        ax.plot([], [], marker, color=colour, ls="-", label=f"{candidate} − {baseline}")
    ax.axhline(0, color="black", lw=0.8)
    plain_log_axis(ax, comparison[by].unique())
    ax.set(title=title, xlabel="target training courses (log scale)", ylabel="paired difference in test R²")
    handles = [Line2D([], [], marker="o", color="grey", ls="none", label="filled: beyond noise (Holm)"),
               Line2D([], [], marker="o", color="grey", mfc="white", ls="none", label="open: within noise")]
    ax.legend(handles=ax.get_legend_handles_labels()[0] + handles, fontsize="small", ncol=2, loc="upper center",
              bbox_to_anchor=(0.5, -0.16))
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
        Horizontal bars per model, coloured by preset (colour-blind safe), with sd error bars and a dotted line at 1.
    """
    fig = Figure(figsize=(9, 0.32 * summary["model"].nunique() * summary["preset"].nunique() + 1.5), dpi=100)
    ax = fig.subplots()
    sns.barplot(data=summary, y="model", x="share", hue="preset", ax=ax, orient="h", palette="colorblind")
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

    A mean with a band is drawn only where a model has its full number of seeds; a size run on fewer seeds gets an
    open marker with an sd bar, a single seed a cross, so a point resting on 3 seeds (or 1) does not pass for 10.

    Parameters
    ----------
    curve : pandas.DataFrame
        One row per run with columns ``preset``, ``model``, ``n`` (simulated courses) and ``share``
        (test R² / oracle R²); runs with the same preset, model and ``n`` (seeds) give the mean and sd.
    title : str, default="Share of the oracle's R² vs courses"
        The figure's overall title.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per preset (in order of appearance, shared y-axis), one colour-blind-safe colour per model,
        one legend below the panels that also says what a band, an open marker and a cross mean.
    """
    presets, models = list(dict.fromkeys(curve["preset"])), list(dict.fromkeys(curve["model"]))
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(models)}
    fig = Figure(figsize=(5 * len(presets), 4.4 + 0.25 * len(models)), dpi=100)
    axes = np.atleast_1d(fig.subplots(1, len(presets), sharey=True))
    kinds: dict[str, set[int]] = {}
    for ax, preset in zip(axes, presets, strict=True):
        part = curve[curve["preset"] == preset]
        for i, name in enumerate(models):
            drawn = draw_seed_curve(ax, part[part["model"] == name], "n", "share", colours[name], name,
                                    MARKERS[i % len(MARKERS)])
            kinds = {kind: kinds.get(kind, set()) | drawn.get(kind, set()) for kind in {*kinds, *drawn}}
        ax.axhline(1.0, color="black", ls=":", lw=1)
        plain_log_axis(ax, curve["n"].unique())
        ax.set(title=f"{preset} preset", xlabel="simulated courses (log scale; 64 % train, 16 % val)",
               ylabel="test R² / oracle R²")
    handles = [Line2D([], [], color=colours[name], marker=MARKERS[i % len(MARKERS)], label=name)
               for i, name in enumerate(models)] + seed_kind_handles(kinds)
    # one legend for both panels, below them: inside a panel it would hide the low, noisy small-n points
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize="small")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.035 * -(-len(handles) // 2) + 0.03, 1, 1))
    return fig

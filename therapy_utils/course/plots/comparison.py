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
# 08's colours keep one meaning in every figure: blue and orange are the presets, the models take the rest
PRESET_COLOURS = {"original": PALETTE[0], "realistic": PALETTE[1]}
MODEL_PALETTE = [sns.color_palette("colorblind")[i] for i in (2, 4, 7, 5, 9, 8)]  # green, pink, grey, brown, …
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
                       title: str = "Gain over the control, paired by seed, with family-wise intervals",
                       ylim: tuple[float, float] = (-0.3, 0.45)) -> Figure:
    """One panel per pair: the mean paired difference per size with its family-wise interval (07_transfer_learning).

    The interval, not the mean, says what the seeds allow: a filled marker is a gap beyond noise after Holm's
    correction over the whole family, an open one is within noise. One wide interval would flatten every other
    marker onto zero, so the shared y-axis is clipped at ``ylim`` and an arrow marks each interval that goes beyond.

    Parameters
    ----------
    comparison : pandas.DataFrame
        :func:`compare.paired_comparison`'s table: ``baseline``, ``candidate``, ``by``, ``difference``, ``ci low``,
        ``ci high`` and ``verdict``.
    by : str, default="n"
        The size column, drawn on a log axis with plain labels.
    title : str, default="Gain over the control, paired by seed, with family-wise intervals"
        The figure's title.
    ylim : tuple of float, default=(-0.3, 0.45)
        The y range all panels share; interval ends outside it are clipped and marked with an arrow.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per pair (two columns), a line at zero in each; clipped interval ends carry their value.
    """
    pairs = list(dict.fromkeys(zip(comparison["baseline"], comparison["candidate"], strict=True)))
    rows = -(-len(pairs) // 2)
    fig = Figure(figsize=(10, 2.9 * rows + 1.0), dpi=100)
    axes = fig.subplots(rows, 2, sharex=True, sharey=True, squeeze=False).ravel()
    low, high = ylim
    for i, (ax, (baseline, candidate), colour) in enumerate(zip(axes, pairs, PALETTE, strict=False)):
        part = comparison[(comparison["baseline"] == baseline) & (comparison["candidate"] == candidate)]
        x, mean = part[by].to_numpy(dtype=float), part["difference"].to_numpy(dtype=float)
        lo, hi = part["ci low"].clip(low, high).to_numpy(), part["ci high"].clip(low, high).to_numpy()
        ax.vlines(x, lo, hi, color=colour, lw=1.4)
        beyond, marker = (part["verdict"] != "within noise").to_numpy(), MARKERS[i % len(MARKERS)]
        ax.plot(x[~beyond], mean[~beyond], marker, mfc="white", color=colour, ms=7)
        ax.plot(x[beyond], mean[beyond], marker, color=colour, ms=7)
        ends = part["ci high"].to_numpy(), part["ci low"].to_numpy()
        for xi, end, edge in [(xi, end, edge) for edge, side in zip(ylim[::-1], ends, strict=True)
                              for xi, end in zip(x, side, strict=True) if (end - edge) * np.sign(edge) > 0]:
            ax.annotate(f"{end:+.2f}", xy=(xi, edge), xytext=(xi * 1.12, edge - np.sign(edge) * 0.08), color=colour,
                        fontsize="x-small", arrowprops={"arrowstyle": "-|>", "color": colour})  # clipped: its true end
        ax.axhline(0, color="black", lw=0.8)
        plain_log_axis(ax, comparison[by].unique())
        ax.set_title(f"{candidate} − {baseline}", fontsize="medium")
        ax.set(ylim=(low - 0.02, high + 0.02), xlabel="target training courses (log scale)",
               ylabel="paired difference in test R²")
    for ax in axes[len(pairs):]:
        ax.set_visible(False)
    handles = [Line2D([], [], marker="o", color="grey", ls="none", label="filled: beyond noise (Holm)"),
               Line2D([], [], marker="o", color="grey", mfc="white", ls="none", label="open: within noise"),
               Line2D([], [], color="grey", label="family-wise interval; arrow: clipped, with its end")]
    fig.legend(handles=handles, fontsize="small", ncol=3, loc="lower center")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
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
    presets = dict.fromkeys(summary["preset"])
    palette = {preset: PRESET_COLOURS.get(preset, PALETTE[i]) for i, preset in enumerate(presets)}
    sns.barplot(data=summary, y="model", x="share", hue="preset", ax=ax, orient="h", palette=palette)
    presets = summary.groupby("preset", sort=False)
    bars = ax.containers[:presets.ngroups]  # the bar containers come first, one per preset (hue level)
    for container, (_, part) in zip(bars, presets, strict=True):
        centres = [bar.get_y() + bar.get_height() / 2 for bar in container]
        ax.errorbar(part["share"], centres, xerr=part["share_sd"], fmt="none", ecolor="black", lw=1)
    ax.axvline(1.0, color="black", ls=":", lw=1)
    ax.annotate("oracle (1.0)", xy=(1.0, 0.99), xycoords=("data", "axes fraction"), ha="right", va="top",
                rotation=90, fontsize="small")
    ax.legend(title="preset", loc="lower right")
    ax.set(title=title, xlabel=f"{split} R² / oracle R² (1 = as good as knowing the truth)", ylabel="")
    fig.tight_layout()
    return fig


def oracle_share_curve_figure(curve: pd.DataFrame, title: str = "Share of the oracle's R² vs courses",
                              ymin: float | None = None) -> Figure:
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
    ymin : float or None, default=None
        Clip the y-axis here so one erratic small-n model does not squash the rest; a mean below it is marked by
        an arrow with its value. None shows everything.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per preset (in order of appearance, shared y-axis), one colour-blind-safe colour per model (never
        the presets' blue and orange), models nudged apart on the log axis so equal points do not hide each other,
        one legend below the panels that also says what a band, an open marker and a cross mean.
    """
    presets, models = list(dict.fromkeys(curve["preset"])), list(dict.fromkeys(curve["model"]))
    colours = {name: MODEL_PALETTE[i % len(MODEL_PALETTE)] for i, name in enumerate(models)}
    nudges = dict(zip(models, np.exp(np.linspace(-0.06, 0.06, len(models))), strict=True))  # side by side (log x)
    fig = Figure(figsize=(5 * len(presets), 4.4 + 0.25 * len(models)), dpi=100)
    axes = np.atleast_1d(fig.subplots(1, len(presets), sharey=True))
    kinds: dict[str, set[int]] = {}
    for ax, preset in zip(axes, presets, strict=True):
        part = curve[curve["preset"] == preset]
        for i, name in enumerate(models):
            runs = part[part["model"] == name].assign(n=lambda t, f=nudges[name]: t["n"] * f)
            drawn = draw_seed_curve(ax, runs, "n", "share", colours[name], name, MARKERS[i % len(MARKERS)])
            kinds = {kind: kinds.get(kind, set()) | drawn.get(kind, set()) for kind in {*kinds, *drawn}}
            for row in seed_summary(runs, "n", "share").itertuples():
                if ymin is not None and row.mean < ymin:  # off the clipped axis: an arrow down, with its value
                    ax.annotate(f"{row.mean:.3f}", xy=(row.n, ymin), xytext=(row.n * 1.08, ymin + 0.12),
                                color=colours[name], fontsize="small", arrowprops={"arrowstyle": "->",
                                                                                   "color": colours[name]})
        if ymin is not None:
            ax.set_ylim(ymin, 1.04)
        ax.axhline(1.0, color="black", ls=":", lw=1)
        plain_log_axis(ax, curve["n"].unique())
        ax.set(title=f"{preset} preset", xlabel="simulated courses (log scale; 64 % train, 16 % val)",
               ylabel="test R² / oracle R²")
    handles = [Line2D([], [], color=colours[name], marker=MARKERS[i % len(MARKERS)], label=name)
               for i, name in enumerate(models)] + seed_kind_handles(kinds)
    for handle in handles:  # with few seeds the sd can be shorter than the marker: say so rather than promise a bar
        seeds = handle.get_label().removeprefix("open marker and bar: mean ± sd over ")
        if seeds != handle.get_label():
            handle.set_label(f"open marker: mean over {seeds} (its sd bar can hide behind the marker)")
    # one legend for both panels, below them: inside a panel it would hide the low, noisy small-n points
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize="small")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.035 * -(-len(handles) // 2) + 0.03, 1, 1))
    return fig


def interval_dot_figure(table: pd.DataFrame, label: str, hue: str, colours: dict[str, object], title: str,
                        xlabel: str = "paired difference in test share", ylabel: str = "") -> Figure:
    """Paired differences as dots with their family-wise intervals, one row per ``label`` (08_model_comparison).

    A table of sixteen differences, intervals and p-values is hard to read; dots on one axis with a line at zero
    show at a glance which gaps the seeds resolve. Filled: beyond noise after Holm's correction over the family;
    open: within noise.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`compare.paired_comparison`'s table (``difference``, ``ci low``, ``ci high``, ``verdict``) with the
        columns ``label`` and ``hue``.
    label : str
        The column naming each row of the figure (e.g. a short name of the change), top to bottom in table order.
    hue : str
        The column whose values get a colour and marker each, drawn side by side within a row (e.g. the preset).
    colours : dict of str to colour
        One colour per value of ``hue``, so that a colour means the same thing in every figure of the notebook.
    title : str
        The figure's title.
    xlabel, ylabel : str
        The axis labels.

    Returns
    -------
    matplotlib.figure.Figure
        One panel with a vertical line at zero and a legend below it.
    """
    labels, hues = list(dict.fromkeys(table[label])), list(dict.fromkeys(table[hue]))
    fig = Figure(figsize=(9, 0.5 * len(labels) * max(len(hues), 2) ** 0.5 + 2.2), dpi=100)
    ax = fig.subplots()
    offsets = np.linspace(-0.15, 0.15, len(hues)) if len(hues) > 1 else np.zeros(1)
    for i, (name, offset) in enumerate(zip(hues, offsets, strict=True)):
        part, colour, marker = table[table[hue] == name], colours[name], MARKERS[i % len(MARKERS)]
        y = np.array([labels.index(value) for value in part[label]]) + offset
        errors = [part["difference"] - part["ci low"], part["ci high"] - part["difference"]]
        ax.errorbar(part["difference"], y, xerr=errors, fmt="none", ecolor=colour, capsize=3, lw=1.2)
        beyond = (part["verdict"] != "within noise").to_numpy()
        ax.plot(part["difference"][~beyond], y[~beyond], marker, mfc="white", color=colour, ms=7, ls="none")
        ax.plot(part["difference"][beyond], y[beyond], marker, color=colour, ms=7, ls="none")
        ax.plot([], [], marker, color=colour, ls="-", label=str(name))
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)  # the first row on top
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    handles = [Line2D([], [], marker="o", color="grey", ls="none", label="filled: beyond noise (Holm)"),
               Line2D([], [], marker="o", color="grey", mfc="white", ls="none", label="open: within noise"),
               Line2D([], [], color="grey", label="bar: family-wise 95 % interval")]
    fig.legend(handles=ax.get_legend_handles_labels()[0] + handles, fontsize="small", ncol=3, loc="lower center")
    rows = -(-(len(hues) + 3) // 3)  # the legend's rows, below the panel
    fig.tight_layout(rect=(0, (0.25 * rows + 0.15) / fig.get_figheight(), 1, 1))
    return fig

"""Figures: training curves, predicted vs actual, and the embedding map (seaborn).

Taught in ``03_training.ipynb``, ``05_module_embeddings.ipynb``, ``07_transfer_learning.ipynb`` and
``08_model_comparison.ipynb``; recommendations in ``09_optimizing_courses.ipynb``; intervals in
``11_uncertainty.ipynb``; the group colours in every notebook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from therapy_utils.simulate import preset_params

# One colour per module group, the same in every notebook (tab10's first six, in the realistic preset's group order).
GROUP_ORDER = tuple(name for name, _ in preset_params("realistic").groups)
GROUP_COLOURS: dict[str, tuple[float, float, float]] = dict(zip(GROUP_ORDER, sns.color_palette("tab10", 10),
                                                                strict=False))


def group_palette(groups: Iterable[str]) -> dict[str, tuple[float, float, float]]:
    """Colours for these group names: :data:`GROUP_COLOURS` for the realistic preset's, further tab10 colours for
    any other (a flowchart population's, a user's), in order of appearance (01_simulate_therapy_courses, 05).

    Parameters
    ----------
    groups : Iterable[str]
        Group names; repeats are allowed and count once (e.g. ``groups.values()`` of a module-to-group map).

    Returns
    -------
    dict[str, tuple[float, float, float]]
        One RGB colour per distinct group name, in order of first appearance.
    """
    spare = iter(sns.color_palette("tab10", 10)[len(GROUP_ORDER):] + sns.color_palette("Set2", 8))
    return {name: GROUP_COLOURS[name] if name in GROUP_COLOURS else next(spare) for name in dict.fromkeys(groups)}


def group_handles(groups: Iterable[str]) -> list[Patch]:
    """Legend entries (coloured squares) for these groups, e.g. for a clustermap's row colours (05).

    Parameters
    ----------
    groups : Iterable[str]
        Group names; repeats count once. Colours come from :func:`group_palette`.

    Returns
    -------
    list[matplotlib.patches.Patch]
        One patch per distinct group, labelled with its name, in order of first appearance.
    """
    return [Patch(color=colour, label=name) for name, colour in group_palette(groups).items()]


def plot_losses(history: pd.DataFrame, ax, title: str, log_scale: bool = False) -> None:
    """Training and validation loss per epoch from a history table, on ``ax`` (03_training).

    Parameters
    ----------
    history : pandas.DataFrame
        One row per epoch with columns ``epoch``, ``train_loss`` and ``val_loss`` (as ``train`` records it).
    ax : matplotlib.axes.Axes
        The axes to draw on.
    title : str
        The axes' title.
    log_scale : bool, default=False
        Whether to draw the loss on a log y-axis.
    """
    curves = history.melt("epoch", ["train_loss", "val_loss"], var_name="split", value_name="loss")
    curves["split"] = curves["split"].map({"train_loss": "training", "val_loss": "validation"})
    sns.lineplot(data=curves, x="epoch", y="loss", hue="split", ax=ax)
    ax.set(title=title, xlabel="Epoch", ylabel="MSE loss", yscale="log" if log_scale else "linear")


def training_figure(history: pd.DataFrame, y_true: np.ndarray, y_pred: np.ndarray, r2: float) -> Figure:
    """Loss curves beside predicted-vs-actual on the test courses: the original's first figure.

    Parameters
    ----------
    history : pandas.DataFrame
        One row per epoch with columns ``epoch``, ``train_loss`` and ``val_loss``.
    y_true : numpy.ndarray
        Actual effectiveness of the test courses, shape (courses,).
    y_pred : numpy.ndarray
        The model's predictions for the same courses, shape (courses,).
    r2 : float
        Test R², shown in the scatter plot's title.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: loss per epoch, and predicted vs actual with the diagonal of perfect prediction.
    """
    fig = Figure(figsize=(10, 4.5), dpi=100)
    loss_ax, pred_ax = fig.subplots(1, 2)
    plot_losses(history, loss_ax, "Training and validation loss")
    sns.scatterplot(x=y_true, y=y_pred, alpha=0.6, ax=pred_ax)
    low, high = float(np.min(y_true)), float(np.max(y_true))
    pred_ax.plot([low, high], [low, high], "r--", lw=2, label="perfect prediction")
    pred_ax.set(title=f"Predicted vs actual on test courses (R² = {r2:.3f})",
                xlabel="Actual effectiveness", ylabel="Predicted effectiveness")
    pred_ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def embedding_map_figure(coords: pd.DataFrame, groups: Mapping[str, str] | None = None,
                         title: str = "Therapy module embeddings (t-SNE)") -> Figure:
    """Modules as labelled points in 2-D, coloured by group when the truth is known.

    Parameters
    ----------
    coords : pandas.DataFrame
        One row per module (index: module names) with columns ``x`` and ``y``, e.g. from
        ``embeddings.project_2d``; ``coords.attrs["axis_labels"]``, if set, labels the axes.
    groups : Mapping[str, str] or None, default=None
        True group of each module; colours the points and adds a legend. None: one colour, no legend.
    title : str, default="Therapy module embeddings (t-SNE)"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One scatter plot, each point labelled with its module name.
    """
    fig = Figure(figsize=(7, 6), dpi=100)
    ax = fig.subplots()
    hue = [groups.get(m, "?") for m in coords.index] if groups else None
    palette = group_palette(groups.values()) if groups else None
    sns.scatterplot(data=coords, x="x", y="y", hue=hue, hue_order=list(palette) if palette else None,
                    palette=palette, s=120, ax=ax, legend=bool(groups))
    for module, offset in label_offsets(coords[["x", "y"]]).items():
        ax.annotate(module, tuple(coords.loc[module, ["x", "y"]]), xytext=offset, textcoords="offset points")
    x_label, y_label = coords.attrs.get("axis_labels", ("dimension 1", "dimension 2"))
    ax.set(title=title, xlabel=x_label, ylabel=y_label)
    if groups:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1, 1), title="true group")
    fig.tight_layout()
    return fig


def label_offsets(coords: pd.DataFrame, min_gap: float = 0.05) -> dict[str, tuple[int, int]]:
    """Text offsets (points) that keep point labels apart (05_module_embeddings).

    Each label takes the first side — upper right, upper left, lower right, lower left — where it lands at least
    ``min_gap`` (a share of the plot's span) from the labels placed so far and from every other point.

    Parameters
    ----------
    coords : pandas.DataFrame
        Point positions, shape (points, 2), indexed by label (module name).
    min_gap : float, default=0.05
        Least distance from a label to other labels and points, as a share of the larger axis span.

    Returns
    -------
    dict[str, tuple[int, int]]
        Per label, its (x, y) text offset in points; upper right when no side is clear.
    """
    sides = [(5, 5), (-14, 5), (5, -15), (-14, -15)]
    points = coords.to_numpy() / (float(np.ptp(coords.to_numpy(), axis=0).max()) or 1.0)
    per_point = 0.0025  # a text offset of one point is about this share of a 7-inch figure's span
    labels: list[np.ndarray] = []
    offsets = {}
    for index, module in enumerate(coords.index):
        others = np.delete(points, index, axis=0)

        def clear(side: tuple[int, int], at: np.ndarray = points[index], others: np.ndarray = others) -> bool:
            spot = at + np.array(side) * per_point
            return all(np.linalg.norm(spot - other) >= min_gap for other in [*labels, *others])

        side = next((side for side in sides if clear(side)), sides[0])
        offsets[module] = side
        labels.append(points[index] + np.array(side) * per_point)
    return offsets


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


# One colour and line style per interval method (11_uncertainty), in uncertainty.METHODS' order; colour-blind safe.
METHOD_COLOURS: dict[str, tuple[float, float, float]] = dict(zip(
    ("split conformal", "normal theory", "Mondrian conformal", "split conformal on the median",
     "conformalised quantiles", "ensemble spread", "spread-scaled conformal"),
    sns.color_palette("colorblind", 7), strict=True))
METHOD_STYLES: dict[str, str] = {"normal theory": "--", "split conformal on the median": "--", "ensemble spread": ":"}


def reliability_figure(summary: pd.DataFrame, calibration_courses: int,
                       title: str = "True minus nominal coverage") -> Figure:
    """A reliability diagram for intervals drawn as the deviation from the level asked for (11_uncertainty).

    Plotted on 0-1, small misses vanish; the deviation, beside the band in which one calibration set's coverage
    varies (±2 sd, sd ≈ sqrt(level (1 − level) / (n + 2)) for split conformal), shows which are luck and which are not.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`uncertainty.coverage_summary` output, indexed by ``method`` and ``level``, with ``true coverage``.
    calibration_courses : int
        n, the number of calibration courses: sets the band's width.
    title : str, default="True minus nominal coverage"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One line per method; the grey band is ±2 sd of one calibration set's coverage around 0.
    """
    fig = Figure(figsize=(7, 4.5), dpi=100)
    ax = fig.subplots()
    table = summary.reset_index()
    levels = np.sort(table["level"].unique())
    band = 2 * np.sqrt(levels * (1 - levels) / (calibration_courses + 2))
    ax.fill_between(levels, -band, band, color="0.85", label="±2 sd of one calibration set")
    ax.axhline(0, color="black", lw=1)
    for method, part in table.groupby("method", sort=False):
        ax.plot(part["level"], part["true coverage"] - part["level"], marker="o", label=method,
                color=METHOD_COLOURS.get(method), ls=METHOD_STYLES.get(method, "-"))
    ax.set(title=title, xlabel="nominal coverage (the level asked for)",
           ylabel="true − nominal coverage", ylim=(-0.12, 0.12))
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def coverage_by_bin_figure(table: pd.DataFrame, level: float,
                           title: str = "True coverage by course length") -> Figure:
    """Each method's mean true coverage per length bin against the level asked for (11_uncertainty).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`uncertainty.coverage_summary` output by ``"length bin"`` at one level (index: method, level, length
        bin), with ``true coverage``.
    level : float
        The nominal level, drawn as a dotted line.
    title : str, default="True coverage by course length"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One line per method over the bins, in the bins' order.
    """
    fig = Figure(figsize=(7.5, 4.5), dpi=100)
    ax = fig.subplots()
    frame = table.reset_index()
    bins = [b for b in frame["length bin"].cat.categories if b in set(frame["length bin"])]
    for method, part in frame.groupby("method", sort=False):
        part = part.set_index("length bin").reindex(bins)
        ax.plot(bins, part["true coverage"], marker="o", label=method, color=METHOD_COLOURS.get(method),
                ls=METHOD_STYLES.get(method, "-"))
    ax.axhline(level, color="black", ls=":", lw=1, label=f"asked for ({level:.0%})")
    ax.set(title=title, xlabel="course length (modules)", ylabel="true coverage (mean chance, from the simulator)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def spread_error_figure(frame: pd.DataFrame, title: str = "Does the spread grow where the error grows?") -> Figure:
    """The ensemble's spread against the model's error per course, coloured by kind of course (11_uncertainty).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per course: ``spread`` (members' sd), ``error`` (the absolute gap between the mean prediction and
        E[y | course]) and ``courses`` (the kind: e.g. in the training range, longer than any training course).
    title : str, default="Does the spread grow where the error grows?"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        A log–log scatter with one colour per kind and the line where the error equals the spread.
    """
    fig = Figure(figsize=(7, 5), dpi=100)
    ax = fig.subplots()
    sns.scatterplot(data=frame, x="spread", y="error", hue="courses", s=12, alpha=0.6, ax=ax)
    ends = [frame["spread"].min(), frame["spread"].max()]
    ax.plot(ends, ends, color="black", ls=":", lw=1, label="error = spread")
    ax.legend(fontsize=8)
    ax.set(title=title, xscale="log", yscale="log", xlabel="ensemble spread (sd of the five members' predictions)",
           ylabel="error |prediction − true expected effectiveness|")
    fig.tight_layout()
    return fig

"""Interval coverage against the level asked for (11_uncertainty)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from therapy_utils.course.plots.palette import METHOD_COLOURS, METHOD_STYLES

# a marker per method besides its colour and line style, so that no two methods rely on hue alone (colour-blind safe)
METHOD_MARKERS = dict(zip(METHOD_COLOURS, ("o", "s", "D", "v", "^", "X", "P"), strict=True))
# kinds of course in the spread-vs-error scatter: colour-blind-safe colours far apart in hue first (blue, green, purple,
# vermillion)
KIND_COLOURS = [sns.color_palette("colorblind")[i] for i in (0, 2, 4, 3, 1, 5, 6, 7, 8, 9)]


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
        One line per method (its own colour, line style and marker); the grey band is ±2 sd of one calibration
        set's coverage around 0.
    """
    fig = Figure(figsize=(8, 4.5), dpi=100)
    ax = fig.subplots()
    table = summary.reset_index()
    levels = np.sort(table["level"].unique())
    band = 2 * np.sqrt(levels * (1 - levels) / (calibration_courses + 2))
    ax.fill_between(levels, -band, band, color="0.88", label="±2 sd of one calibration set")
    ax.axhline(0, color="black", lw=1, label="calibrated: true = nominal")
    for method, part in table.groupby("method", sort=False):
        ax.plot(part["level"], part["true coverage"] - part["level"], marker=METHOD_MARKERS.get(method, "o"),
                label=method, color=METHOD_COLOURS.get(method), ls=METHOD_STYLES.get(method, "-"))
    reach = max(0.08, float(np.abs(table["true coverage"] - table["level"]).max()) + 0.01, float(band.max()) + 0.01)
    ax.set(title=title, xlabel="nominal coverage (the level asked for)",
           ylabel="true − nominal coverage\n(above 0: covers more than asked)", ylim=(-reach, reach), xticks=levels)
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
        ax.plot(bins, part["true coverage"], marker=METHOD_MARKERS.get(method, "o"), label=method,
                color=METHOD_COLOURS.get(method), ls=METHOD_STYLES.get(method, "-"))
    ax.axhline(level, color="black", ls=":", lw=1, label=f"asked for ({level:.0%})")
    ax.set(title=title, xlabel="course length (modules)", ylabel="true coverage (mean chance, from the simulator)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def spread_error_figure(frame: pd.DataFrame, title: str = "Does the spread grow where the error grows?",
                        error_floor: float = 1e-4) -> Figure:
    """The ensemble's spread against the model's error per course, coloured by kind of course (11_uncertainty).

    The rarest kinds are drawn last and larger, so that a few hundred points are not buried under thousands; errors
    below ``error_floor`` (a prediction that happens to hit the true mean) are drawn at the floor, so that one
    such course does not stretch the log axis.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per course: ``spread`` (members' sd), ``error`` (the absolute gap between the mean prediction and
        E[y | course]) and ``courses`` (the kind: e.g. in the training range, longer than any training course).
    title : str, default="Does the spread grow where the error grows?"
        The figure's title.
    error_floor : float, default=1e-4
        Errors below it are drawn at it (the count is noted on the figure).

    Returns
    -------
    matplotlib.figure.Figure
        A log–log scatter with one colour and marker per kind and the line where the error equals the spread;
        the legend outside the axes.
    """
    fig = Figure(figsize=(7, 5), dpi=100)
    ax = fig.subplots()
    kinds = list(dict.fromkeys(frame["courses"]))
    sizes = frame["courses"].value_counts()
    markers = ("o", "s", "D", "^", "v", "P", "X", "*", "<", ">")
    for rank, kind in enumerate(sorted(kinds, key=lambda k: -sizes[k])):  # most numerous first, rarest on top
        part = frame[frame["courses"] == kind]
        i = kinds.index(kind)
        ax.scatter(part["spread"], np.maximum(part["error"], error_floor), s=10 + 10 * rank, alpha=0.7,
                   color=KIND_COLOURS[i % 10], marker=markers[i % 10], linewidths=0, zorder=2 + rank,
                   label=f"{kind} ({len(part)})")
    ends = [frame["spread"].min(), frame["spread"].max()]
    ax.plot(ends, ends, color="black", ls=":", lw=1, label="error = spread", zorder=10)
    clipped = int((frame["error"] < error_floor).sum())
    if clipped:
        ax.text(0.99, 0.01, f"{clipped} course(s) with error below {error_floor:g} drawn at {error_floor:g}",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=7)
    handles, labels = ax.get_legend_handles_labels()
    order = [labels.index(f"{k} ({sizes[k]})") for k in kinds] + [labels.index("error = spread")]
    ax.legend([handles[j] for j in order], [labels[j] for j in order], loc="upper left", bbox_to_anchor=(1.01, 1),
              fontsize=8, markerscale=1.2, title="courses (number)")
    ax.set(title=title, xscale="log", yscale="log", xlabel="ensemble spread (sd of the five members' predictions)",
           ylabel="error |prediction − true expected effectiveness|")
    fig.tight_layout()
    return fig


def coverage_width_figure(table: pd.DataFrame, oracle_width: float, level: float,
                          title: str = "True coverage against width") -> Figure:
    """Each method's mean true coverage against its mean width, beside the oracle interval (11_uncertainty).

    The two numbers that judge an interval pull against each other; one point per method shows at a glance which
    method covers as asked and how much wider than the narrowest possible (oracle) interval it is. The right panel
    zooms in on the methods near the level.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per method (index ``method``) with ``true coverage`` and ``width`` at one level.
    oracle_width : float
        The oracle interval's mean width; the oracle covers exactly ``level``.
    level : float
        The nominal level, drawn as a dotted line.
    title : str, default="True coverage against width"
        The figure's suptitle.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels (all methods; zoom on those within 0.1 of the level), a star for the oracle.
    """
    fig = Figure(figsize=(11, 4.5), dpi=100)
    axes = fig.subplots(1, 2)
    near = table[(table["true coverage"] - level).abs() < 0.1]
    for ax, part, name in ((axes[0], table, "all methods"), (axes[1], near, "zoom: methods near the level")):
        for method, row in part.iterrows():
            ax.scatter(row["width"], row["true coverage"], s=60, color=METHOD_COLOURS.get(method),
                       marker=METHOD_MARKERS.get(method, "o"), label=method, zorder=3)
        ax.scatter(oracle_width, level, s=160, marker="*", color="black", label="oracle interval", zorder=4)
        ax.axhline(level, color="black", ls=":", lw=1, label=f"asked for ({level:.0%})")
        ax.set(title=name, xlabel="mean width of the interval", ylabel="mean true coverage (from the simulator)")
    axes[1].margins(0.15)
    axes[1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def coverage_by_kind_figure(coverage: pd.DataFrame, level: float,
                            title: str = "True coverage by kind of course") -> Figure:
    """A dot plot of each method's true coverage on each kind of course (11_uncertainty).

    Coverage is promised on average; a dot per method and kind shows where it holds and where every method falls
    short at once (a shift, not one method's flaw).

    Parameters
    ----------
    coverage : pandas.DataFrame
        Rows: kinds of course; columns: methods; values: mean true coverage at ``level``.
    level : float
        The nominal level, drawn as a dotted line.
    title : str, default="True coverage by kind of course"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One row per kind (top to bottom in the table's order), one marker per method, slightly offset.
    """
    fig = Figure(figsize=(9, 4.2), dpi=100)
    ax = fig.subplots()
    rows = np.arange(len(coverage))[::-1]
    offsets = np.linspace(-0.25, 0.25, len(coverage.columns))
    for offset, method in zip(offsets, coverage.columns, strict=True):
        ax.scatter(coverage[method], rows + offset, s=45, color=METHOD_COLOURS.get(method),
                   marker=METHOD_MARKERS.get(method, "o"), label=method, zorder=3)
    ax.axvline(level, color="black", ls=":", lw=1, label=f"asked for ({level:.0%})")
    ax.set_yticks(rows, coverage.index)
    ax.grid(axis="y", color="0.9")
    ax.set(title=title, xlabel="mean true coverage (from the simulator)", ylabel="kind of course", xlim=(0, 1.03))
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    return fig

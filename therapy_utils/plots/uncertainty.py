"""Interval coverage against the level asked for (11_uncertainty)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from therapy_utils.plots.palette import METHOD_COLOURS, METHOD_STYLES

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
        A log–log scatter with one colour and marker per kind and the line where the error equals the spread;
        the legend outside the axes.
    """
    fig = Figure(figsize=(7, 5), dpi=100)
    ax = fig.subplots()
    kinds = list(dict.fromkeys(frame["courses"]))
    sns.scatterplot(data=frame, x="spread", y="error", hue="courses", style="courses", hue_order=kinds,
                    style_order=kinds, palette=[KIND_COLOURS[i % 10] for i in range(len(kinds))], s=14, alpha=0.6,
                    linewidth=0, ax=ax)
    ends = [frame["spread"].min(), frame["spread"].max()]
    ax.plot(ends, ends, color="black", ls=":", lw=1, label="error = spread")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, markerscale=1.5, title="courses")
    ax.set(title=title, xscale="log", yscale="log", xlabel="ensemble spread (sd of the five members' predictions)",
           ylabel="error |prediction − true expected effectiveness|")
    fig.tight_layout()
    return fig

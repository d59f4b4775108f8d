"""Predictions read against the truth (04_evaluation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

ORACLE = "oracle E[y | course]"


def predictor_colour(name: str) -> tuple[float, float, float]:
    """One colour-blind-safe colour per kind of predictor, the same in every figure of 04_evaluation: the oracle
    green, the ridge orange, any other model (the LSTM) blue.

    Parameters
    ----------
    name : str
        The predictor's name as a figure shows it; "oracle" or "ridge" in it decides.

    Returns
    -------
    tuple of float
        An RGB colour from seaborn's colour-blind palette.
    """
    colours = sns.color_palette("colorblind")
    return colours[2] if "oracle" in name else colours[1] if "ridge" in name else colours[0]


def _limits(*arrays: np.ndarray) -> tuple[float, float]:
    """One range that holds every value, a little padded, so that side-by-side panels compare by eye."""
    low, high = min(float(np.min(a)) for a in arrays), max(float(np.max(a)) for a in arrays)
    pad = 0.03 * (high - low)
    return low - pad, high + pad


def _diagonal_panel(ax: Axes, x: np.ndarray, y: np.ndarray, labels: tuple[str, str, str],
                    limits: tuple[float, float], colour: tuple[float, float, float]) -> None:
    """One scatter with the diagonal y = x; ``labels`` are (title, x label, y label): every panel names its own axes."""
    title, xlabel, ylabel = labels
    ax.scatter(x, y, s=12, alpha=0.5, color=colour, edgecolors="none")
    ax.plot(limits, limits, color="black", ls="--", lw=1, label="diagonal (y = x)")
    ax.set(xlim=limits, ylim=limits, aspect="equal", title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(loc="upper left", fontsize=8)


def predicted_vs_observed_figure(observed: np.ndarray, predicted: np.ndarray, oracle: np.ndarray,
                                 model_name: str = "LSTM",
                                 title: str = "Predicted vs observed effectiveness") -> Figure:
    """The model's predictions and the oracle's, each against the observed outcomes, on the same scale
    (04_evaluation).

    Side by side they show that even perfect knowledge of E[y | course] leaves a cloud around the diagonal: the
    noise. Each panel labels its own y axis (no shared axis hides which values a panel plots).

    Parameters
    ----------
    observed : numpy.ndarray
        The observed outcomes y of the courses (x axis of both panels).
    predicted : numpy.ndarray
        The model's predictions for the same courses (left panel).
    oracle : numpy.ndarray
        E[y | course] from the simulator's truth for the same courses (right panel).
    model_name : str, default="LSTM"
        Names the model in the left panel's title and y label.
    title : str, default="Predicted vs observed effectiveness"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        Two scatter panels with the diagonal; each panel's title gives its R² against the observed outcomes.
    """
    observed = np.asarray(observed, dtype=float)
    fig = Figure(figsize=(10, 5.4), dpi=100, layout="constrained")
    limits = _limits(observed, predicted, oracle)
    for ax, values, name in zip(fig.subplots(1, 2), (predicted, oracle), (f"{model_name} prediction", ORACLE),
                                strict=True):
        values = np.asarray(values, dtype=float)
        r2 = 1 - np.sum((observed - values) ** 2) / np.sum((observed - observed.mean()) ** 2)
        _diagonal_panel(ax, observed, values, (f"{name}: R² = {r2:.3f}", "observed effectiveness y", name),
                        limits, predictor_colour(name))
    fig.suptitle(title)
    return fig


def against_oracle_figure(oracle: np.ndarray, observed: np.ndarray, predicted: np.ndarray,
                          model_name: str = "LSTM", title: str = "Against the truth") -> Figure:
    """The observed outcomes and the model's predictions, each against E[y | course] (04_evaluation).

    With the oracle on the x axis the two clouds separate what an R² mixes: the vertical spread of y around the
    diagonal is the noise, which no model can remove; the spread of the predictions around it is the model's own
    error.

    Parameters
    ----------
    oracle : numpy.ndarray
        E[y | course] from the simulator's truth (x axis of both panels).
    observed : numpy.ndarray
        The observed outcomes y of the same courses (left panel).
    predicted : numpy.ndarray
        The model's predictions for the same courses (right panel).
    model_name : str, default="LSTM"
        Names the model in the right panel's title and y label.
    title : str, default="Against the truth"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        Two scatter panels with the diagonal; each title gives the root mean squared distance from the oracle (RMSE).
    """
    oracle = np.asarray(oracle, dtype=float)
    fig = Figure(figsize=(10, 5.4), dpi=100, layout="constrained")
    limits = _limits(oracle, observed, predicted)
    panels = [(observed, "noise: y around the oracle", "observed effectiveness y", sns.color_palette("colorblind")[7]),
              (predicted, f"the {model_name}'s error alone", f"{model_name} prediction", predictor_colour(model_name))]
    for ax, (values, what, ylabel, colour) in zip(fig.subplots(1, 2), panels, strict=True):
        rmse = float(np.sqrt(np.mean((np.asarray(values, dtype=float) - oracle) ** 2)))
        _diagonal_panel(ax, oracle, values, (f"{what}, RMSE {rmse:.3f}", f"{ORACLE} (the truth)", ylabel),
                        limits, colour)
    fig.suptitle(title)
    return fig


def yardsticks_figure(r2: pd.Series, title: str = "The model between two yardsticks") -> Figure:
    """Test R² of each model as bars, the oracle's as the ceiling, each labelled with its share of the oracle's
    (04_evaluation).

    Parameters
    ----------
    r2 : pandas.Series
        R² on the test courses, indexed by model name, ending with the oracle (its value is the ceiling).
    title : str, default="The model between two yardsticks"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal bars, one per model, and a dotted line at the oracle's R² (the ceiling).
    """
    fig = Figure(figsize=(8, 3), dpi=100)
    ax = fig.subplots()
    ceiling = float(r2.iloc[-1])
    ax.barh(list(r2.index), r2.to_numpy(), color=[predictor_colour(name) for name in r2.index])
    ax.axvline(ceiling, color="black", ls=":", lw=1)
    ax.text(ceiling + 0.01, 0, "← ceiling: what the noise\n    leaves to learn", va="center", fontsize=8)
    for row, value in enumerate(r2.to_numpy()):
        share = f" ({value / ceiling:.0%} of the oracle's)" if row < len(r2) - 1 else ""
        ax.text(value - 0.01, row, f"{value:.3f}{share}", va="center", ha="right", color="black", fontsize=9)
    ax.set(title=title, xlabel="R² on the test courses", ylabel="predictor", xlim=(0, 1))
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def residuals_by_length_figure(lengths: np.ndarray, residuals: np.ndarray, threshold: int,
                               title: str = "Residuals by course length") -> Figure:
    """Box plots of the residuals per course length, with the length where the fatigue penalty starts marked
    (04_evaluation).

    Parameters
    ----------
    lengths : numpy.ndarray
        Each course's length.
    residuals : numpy.ndarray
        Each course's residual, observed − predicted.
    threshold : int
        The simulator's fatigue threshold: courses longer than this pay the penalty.
    title : str, default="Residuals by course length"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One box per length, a line at 0 and a dotted line between ``threshold`` and the next length.
    """
    frame = pd.DataFrame({"length": np.asarray(lengths), "residual": np.asarray(residuals)})
    fig = Figure(figsize=(9, 3.8), dpi=100)
    ax = fig.subplots()
    sns.boxplot(data=frame, x="length", y="residual", color=sns.color_palette("colorblind")[0], ax=ax)
    ax.axhline(0, color="black", ls="--", lw=1)
    order = sorted(frame["length"].unique())
    first_long = next((i for i, length in enumerate(order) if length > threshold), None)
    if first_long is not None:
        ax.axvline(first_long - 0.5, color="black", ls=":", label=f"fatigue penalty after {threshold} sessions")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)  # outside: no box over the data
    ax.set(title=title, xlabel="course length (sessions)", ylabel="residual: observed − predicted")
    fig.tight_layout()
    return fig


def examples_figure(table: pd.DataFrame, predicted: str = "predicted", true: str = "true E[y | course]",
                    model_name: str = "LSTM", title: str = "Example courses: prediction vs truth") -> Figure:
    """Each course's prediction and true expected effectiveness joined by a line (04_evaluation).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per course (index: the course as text), with the columns named by ``predicted`` and ``true``.
    predicted, true : str
        Column names of the model's prediction and of E[y | course].
    model_name : str, default="LSTM"
        Names the model in the legend.
    title : str, default="Example courses: prediction vs truth"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One row per course: a dot for each value and a line between them, the gap the model is off by.
    """
    fig = Figure(figsize=(7, 0.5 * len(table) + 1.6), dpi=100)
    ax = fig.subplots()
    rows = np.arange(len(table))
    ax.hlines(rows, table[predicted], table[true], color="0.6", lw=2)
    ax.scatter(table[predicted], rows, color=predictor_colour("model"), zorder=3, label=f"{model_name} prediction")
    ax.scatter(table[true], rows, color=predictor_colour("oracle"), marker="D", zorder=3, label=f"the truth, {ORACLE}")
    ax.set_yticks(rows, list(table.index))
    ax.invert_yaxis()
    ax.set(title=title, xlabel="effectiveness", ylabel="course")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def error_by_group_figure(by_group: pd.DataFrame, models: tuple[str, ...] = ("LSTM", "ridge"),
                          xlabel: str = "kind of course",
                          title: str = "Error against the truth, by kind of course") -> Figure:
    """Each model's mean error and mean squared error against E[y | course], per group of courses (04_evaluation).

    Parameters
    ----------
    by_group : pandas.DataFrame
        One row per group (its index names the groups), with columns ``{model}_mean_error`` (truth − prediction)
        and ``{model}_mse_x1000`` for each model.
    models : tuple of str, default=("LSTM", "ridge")
        The models, in the order of their bars.
    xlabel : str, default="kind of course"
        What the groups are.
    title : str, default="Error against the truth, by kind of course"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels of grouped bars: the mean error (its sign: under- or over-prediction) and the squared error.
    """
    fig = Figure(figsize=(10, 3.8), dpi=100)
    axes = fig.subplots(1, 2)
    for ax, suffix, ylabel in zip(axes, ("mean_error", "mse_x1000"),
                                  ("mean error: truth − prediction", "mean squared error × 1000"), strict=True):
        long = pd.DataFrame({model: by_group[f"{model}_{suffix}"] for model in models}).rename_axis("group")
        long = long.reset_index().melt("group", var_name="model", value_name="value")
        long["group"] = long["group"].astype(str)
        sns.barplot(data=long, x="group", y="value", hue="model", ax=ax, saturation=1,  # the yardsticks' colours
                    palette={model: predictor_colour(model) for model in models})
        ax.axhline(0, color="black", lw=0.8)
        ax.set(title=ylabel.split(":")[0], xlabel=xlabel, ylabel=ylabel)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def simulator_settings_figure(outcomes: dict[str, np.ndarray], ceilings: pd.Series,
                              title: str = "One simulator setting, three values") -> Figure:
    """How one assumption of the simulator shapes the data: the outcomes' distribution and the oracle's R² (the most
    any model can explain) under a few values of one setting (06_interactive_course_builder).

    The live Simulator tab redraws this for any slider; a static figure keeps the lesson in a viewer without a kernel.

    Parameters
    ----------
    outcomes : dict of str to numpy.ndarray
        Simulated effectiveness per setting, keyed by a label such as ``"motif boost 0.12"``.
    ceilings : pandas.Series
        The oracle's R² on the same courses, indexed by the same labels.
    title : str, default="One simulator setting, three values"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        Left: one histogram outline per setting. Right: the oracle's R² per setting, as bars.
    """
    fig = Figure(figsize=(10, 3.6), dpi=100)
    ax_dist, ax_r2 = fig.subplots(1, 2, width_ratios=(2, 1))
    colours = dict(zip(outcomes, sns.color_palette("colorblind"), strict=False))
    bins = np.linspace(0, 1, 41)
    for label, values in outcomes.items():
        ax_dist.hist(values, bins=bins, histtype="step", lw=2, color=colours[label], label=label)
    ax_dist.set(title="Distribution of the outcomes", xlabel="effectiveness", ylabel="courses")
    ax_dist.legend(loc="upper left", fontsize=8)
    ax_r2.bar(range(len(ceilings)), ceilings.to_numpy(), color=[colours[label] for label in ceilings.index])
    for row, value in enumerate(ceilings.to_numpy()):
        ax_r2.text(row, value + 0.02, f"{value:.2f}", ha="center", fontsize=9)
    ax_r2.set_xticks(range(len(ceilings)), [label.split()[-1] for label in ceilings.index])
    ax_r2.set(title="What any model can explain", xlabel=ceilings.index[0].rsplit(" ", 1)[0],
              ylabel="oracle's R²", ylim=(0, 1))
    fig.suptitle(title)
    fig.tight_layout()
    return fig

"""Training curves read against the noise floor, the learning-rate schedule as steps, dropout's effect, and
predicted vs actual (03_training; the command line's first figure)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

# One colour per split in every training figure, from the colour-blind-safe palette.
SPLIT_COLOURS: dict[str, tuple[float, float, float]] = dict(zip(("training", "validation"),
                                                                sns.color_palette("colorblind", 2), strict=True))


def _log_losses(ax: Axes) -> None:
    """A log loss axis labelled at 1, 2 and 5 times each power of ten, as plain decimals (0.005, 0.01, 0.02)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def best_epoch(history: pd.DataFrame) -> int:
    """The epoch of the lowest validation loss (the first, on a tie): the one early stopping counts from (03_training).

    Parameters
    ----------
    history : pandas.DataFrame
        One row per epoch with columns ``epoch`` and ``val_loss``.

    Returns
    -------
    int
        That row's ``epoch``; ``train.train_model``'s ``best_epoch`` is the same epoch (a new best must be lower).
    """
    return int(history.loc[history["val_loss"].idxmin(), "epoch"])


def plot_losses(history: pd.DataFrame, ax: Axes, title: str, log_scale: bool = False,
                noise_floor: float | None = None, mark_best: bool = False, best_label: str = "best epoch") -> None:
    """Training and validation loss per epoch from a history table, on ``ax`` (03_training).

    The noise floor and the best epoch turn the curves into something to read: no model's validation MSE can stay
    below σ², and the marked epoch is where early stopping's count starts.

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
    noise_floor : float or None, default=None
        The outcome's noise variance σ², drawn as a horizontal dotted line when given.
    mark_best : bool, default=False
        Whether to mark the epoch of the lowest validation loss (a star, and a dashed vertical line).
    best_label : str, default="best epoch"
        The dashed line's legend entry, e.g. "best epoch (weights kept)" for a run with ``restore_best=True``.
    """
    curves = history.melt("epoch", ["train_loss", "val_loss"], var_name="split", value_name="loss")
    curves["split"] = curves["split"].map({"train_loss": "training", "val_loss": "validation"})
    sns.lineplot(data=curves, x="epoch", y="loss", hue="split", palette=SPLIT_COLOURS, ax=ax)
    if noise_floor is not None:
        ax.axhline(noise_floor, color="black", ls=":", lw=1.5, label=f"noise floor σ² = {noise_floor:.4f}")
    if mark_best:
        epoch = best_epoch(history)
        ax.axvline(epoch, color="grey", ls="--", lw=1, label=best_label)
        ax.plot([epoch], [history["val_loss"].min()], ls="none", marker="*", ms=15, markeredgecolor="black",
                color=SPLIT_COLOURS["validation"], label=f"best validation (epoch {epoch})")
    ax.set(title=title, xlabel="Epoch", ylabel="MSE loss")
    if log_scale:
        _log_losses(ax)
    if noise_floor is not None or mark_best:
        ax.legend(fontsize=8)


def plot_learning_rate(history: pd.DataFrame, ax: Axes, title: str) -> None:
    """The learning rate of each epoch as a step: constant between changes, halved at once (03_training).

    A line between epochs would draw a halving as a slope, as if the rate fell gradually; ``steps-post`` holds each
    epoch's rate until the next epoch, which is what ``ReduceLROnPlateau`` does.

    Parameters
    ----------
    history : pandas.DataFrame
        One row per epoch with columns ``epoch`` and ``lr`` (the rate used during that epoch).
    ax : matplotlib.axes.Axes
        The axes to draw on.
    title : str
        The axes' title.
    """
    ax.plot(history["epoch"], history["lr"], drawstyle="steps-post", color="black", label="learning rate")
    ax.set(title=title, xlabel="Epoch", ylabel="learning rate", ylim=(0, 1.1 * float(history["lr"].max())))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))  # plain decimals, no offset label


def curves_figure(history: pd.DataFrame, title: str, noise_floor: float, log_scale: bool = True,
                  best_label: str = "best epoch") -> Figure:
    """Loss per epoch against the noise floor with the best epoch marked, beside the learning rate (03_training).

    Parameters
    ----------
    history : pandas.DataFrame
        One row per epoch with columns ``epoch``, ``train_loss``, ``val_loss`` and ``lr``.
    title : str
        The figure's title (each panel has its own too).
    noise_floor : float
        The outcome's noise variance σ², the MSE that even the true E[y | course] makes on fresh courses.
    log_scale : bool, default=True
        Whether the loss axis is logarithmic (the first epochs' losses are many times the last ones').
    best_label : str, default="best epoch"
        The legend entry of the dashed line at the best epoch: say "(weights kept)" when the run restored them.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing the epoch axis: the losses, and the learning rate as a step; the best epoch dashed in both.
    """
    fig = Figure(figsize=(11, 3.8))
    loss_ax, lr_ax = fig.subplots(1, 2, sharex=True, gridspec_kw={"width_ratios": [2, 1]})
    plot_losses(history, loss_ax, "Loss per epoch", log_scale, noise_floor, mark_best=True, best_label=best_label)
    plot_learning_rate(history, lr_ax, "Learning rate (ReduceLROnPlateau)")
    lr_ax.axvline(best_epoch(history), color="grey", ls="--", lw=1)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def dropout_figure(histories: Mapping[str, pd.DataFrame], title: str, noise_floor: float) -> Figure:
    """Training loss and validation loss of several runs side by side, on one scale, against σ² (03_training, drawn
    in its solutions notebook: the original run with and without dropout).

    Parameters
    ----------
    histories : Mapping[str, pandas.DataFrame]
        Run name (the legend's label, e.g. "dropout 0.2") to its history (``epoch``, ``train_loss``, ``val_loss``);
        up to 8 runs.
    title : str
        The figure's title.
    noise_floor : float
        The outcome's noise variance σ²: a training loss below it is the model fitting the training courses' noise.

    Returns
    -------
    matplotlib.figure.Figure
        Left the training losses, right the validation losses (each run's best epoch starred), shared log y-axis.
    """
    fig = Figure(figsize=(11, 3.8))
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    palette = sns.color_palette("colorblind")  # not the splits' blue and orange: here a colour is a run
    colours = [palette[i] for i in (2, 4, 3, 9, 5, 6, 7, 8)[:len(histories)]]
    panels = (("train_loss", "Training loss (dropout on, if any)"), ("val_loss", "Validation loss (dropout off)"))
    for ax, (column, panel_title) in zip(axes, panels, strict=True):
        for (name, history), colour in zip(histories.items(), colours, strict=True):
            ax.plot(history["epoch"], history[column], color=colour, label=name)
        ax.axhline(noise_floor, color="black", ls=":", lw=1.5, label=f"noise floor σ² = {noise_floor:.4f}")
        ax.set(title=panel_title, xlabel="Epoch", ylabel="MSE loss")
        _log_losses(ax)
    for history, colour in zip(histories.values(), colours, strict=True):
        axes[1].plot([best_epoch(history)], [history["val_loss"].min()], ls="none", marker="*", ms=15,
                     color=colour, markeredgecolor="black")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


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

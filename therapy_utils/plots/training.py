"""Training curves and predicted vs actual (03_training; the command line's first figure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure


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

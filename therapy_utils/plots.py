"""Figures: training curves, predicted vs actual, and the embedding map (seaborn).

Taught in ``03_training.ipynb`` and ``05_module_embeddings.ipynb``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure


def plot_losses(history: pd.DataFrame, ax, title: str, log_scale: bool = False) -> None:
    """Training and validation loss per epoch from a history table, on ``ax`` (03_training)."""
    curves = history.melt("epoch", ["train_loss", "val_loss"], var_name="split", value_name="loss")
    curves["split"] = curves["split"].map({"train_loss": "training", "val_loss": "validation"})
    sns.lineplot(data=curves, x="epoch", y="loss", hue="split", ax=ax)
    ax.set(title=title, xlabel="Epoch", ylabel="MSE loss", yscale="log" if log_scale else "linear")


def training_figure(history: pd.DataFrame, y_true: np.ndarray, y_pred: np.ndarray, r2: float) -> Figure:
    """Loss curves beside predicted-vs-actual on the test courses: the original's first figure."""
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
    """Modules as labelled points in 2-D, coloured by group when the truth is known."""
    fig = Figure(figsize=(7, 6), dpi=100)
    ax = fig.subplots()
    hue = [groups.get(m, "?") for m in coords.index] if groups else None
    order = list(dict.fromkeys(groups.values())) if groups else None  # same colours as the group list order
    sns.scatterplot(data=coords, x="x", y="y", hue=hue, hue_order=order, palette="tab10" if groups else None,
                    s=120, ax=ax, legend=bool(groups))
    for module, (x, y) in coords[["x", "y"]].iterrows():
        ax.annotate(module, (x, y), xytext=(5, 5), textcoords="offset points")
    ax.set(title=title, xlabel="dimension 1", ylabel="dimension 2")
    fig.tight_layout()
    return fig

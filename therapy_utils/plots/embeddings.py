"""Modules as labelled points in 2-D, coloured by their true group (05_module_embeddings, 07)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from therapy_utils.plots.palette import group_palette


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

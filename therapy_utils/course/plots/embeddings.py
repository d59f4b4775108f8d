"""Modules as labelled points in 2-D, coloured by their true group, and their clustered similarity (05, 07)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from therapy_utils.course.plots.palette import group_handles, group_palette

MARKER_SIZE = 90  # scatter marker area, points²
# label directions around a point, in order of preference: the four diagonals, then the four sides, then between
_ANGLES = np.deg2rad([45, 135, -45, -135, 0, 90, 180, -90, 22.5, 157.5, -22.5, -157.5, 67.5, 112.5, -67.5, -112.5])
_GAPS = (3, 10, 18, 28, 40, 55, 72)  # distances (points) from the marker's edge to the label, tried in turn


def embedding_map_figure(coords: pd.DataFrame, groups: Mapping[str, str] | None = None,
                         title: str = "Therapy module embeddings (t-SNE)") -> Figure:
    """Modules as labelled points in 2-D, coloured by group when the truth is known (05_module_embeddings).

    Points that lie on top of each other stay readable: every label is placed where it overlaps no other label and
    no point (:func:`label_offsets`), with a thin leader line when it had to move away from its point.

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
    FigureCanvasAgg(fig)  # a renderer, to measure the labels
    ax = fig.subplots()
    hue = [groups.get(m, "?") for m in coords.index] if groups else None
    palette = group_palette(groups.values()) if groups else None
    sns.scatterplot(data=coords, x="x", y="y", hue=hue, hue_order=list(palette) if palette else None,
                    palette=palette, s=MARKER_SIZE, alpha=0.8, edgecolor="white", linewidth=0.8, zorder=3, ax=ax,
                    legend=bool(groups))
    ax.margins(0.1)
    x_label, y_label = coords.attrs.get("axis_labels", ("dimension 1", "dimension 2"))
    ax.set(title=title, xlabel=x_label, ylabel=y_label)
    if groups:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1, 1), title="true group")
    fig.tight_layout()  # the labels go in last, once the axes have their final size
    points, moved = nudge_apart(ax.transData.transform(coords[["x", "y"]].to_numpy(dtype=float)),
                                np.sqrt(MARKER_SIZE) * fig.dpi / 72)
    if moved:  # draw the points where they are visible, and say so: their true positions are one marker closer
        ax.collections[0].set_offsets(ax.transData.inverted().transform(points))
        true = coords[["x", "y"]].to_numpy(dtype=float)
        pairs = ", ".join(f"{coords.index[i]}–{coords.index[j]} ({np.linalg.norm(true[i] - true[j]):.2f})"
                          for i, j in moved)
        fig.text(0.01, 0.005, f"Nudged apart to stay visible (true distance): {pairs}", fontsize=8, color="0.3")
    coords = pd.DataFrame(ax.transData.inverted().transform(points), index=coords.index, columns=["x", "y"])
    for module, (dx, dy, leader) in label_offsets(ax, coords[["x", "y"]]).items():
        at = points[coords.index.get_loc(module)]
        x, y = ax.transData.inverted().transform(at + np.array([dx, dy]) * fig.dpi / 72)
        ax.text(x, y, module, ha="center", va="center", zorder=4,  # a light backing hides the leader's end
                bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
        if leader:  # from the point towards the label, drawn under the markers
            ax.plot([coords.loc[module, "x"], x], [coords.loc[module, "y"], y], color="0.45", lw=0.8, zorder=2)
    return fig


def nudge_apart(points: np.ndarray, width: float, rounds: int = 20) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Move points that would hide each other (closer than ``width`` on screen) apart until both markers show, by
    the least amount, so that a map of 17 modules shows 17 dots (05_module_embeddings).

    Parameters
    ----------
    points : numpy.ndarray
        ``(n, 2)`` screen positions (pixels).
    width : float
        A marker's width in pixels: the nearest two points may come without one hiding the other.
    rounds : int, default=20
        Passes over all pairs; each moves a too-close pair apart symmetrically.

    Returns
    -------
    tuple of numpy.ndarray and list of (int, int)
        The new positions, and the index pairs that were moved (empty when none were too close).
    """
    points = np.array(points, dtype=float)
    moved: list[tuple[int, int]] = []
    for _ in range(rounds):
        changed = False
        for i in range(len(points)):
            for j in range(i + 1, len(points)):
                gap = points[j] - points[i]
                distance = float(np.hypot(*gap))
                if distance < 0.8 * width:
                    direction = gap / distance if distance > 1e-9 else np.array([1.0, 0.0])
                    shift = direction * (0.8 * width - distance) / 2 + direction * 0.5
                    points[i] -= shift
                    points[j] += shift
                    moved += [(i, j)] if (i, j) not in moved else []
                    changed = True
        if not changed:
            break
    return points, moved


def _box(centre: np.ndarray, size: np.ndarray, pad: float = 0.0) -> Bbox:
    return Bbox([centre - size / 2 - pad, centre + size / 2 + pad])


def _distance(box: Bbox, point: np.ndarray) -> float:
    nearest = np.clip(point, [box.x0, box.y0], [box.x1, box.y1])
    return float(np.hypot(*(nearest - point)))


def _covers_point(box: Bbox, point: np.ndarray, radius: float) -> bool:
    return _distance(box, point) < radius


def label_offsets(ax: Axes, coords: pd.DataFrame,
                  marker_size: float = MARKER_SIZE) -> dict[str, tuple[float, float, bool]]:
    """Where each point's label goes so that no two labels overlap and no label covers a point (05_module_embeddings).

    Works in display units on the drawn axes: each label's size is measured with the figure's renderer, then the
    most crowded points choose first, taking the nearest free spot — a diagonal first, then a side — on rings that
    grow away from the point, inside the axes. A label that had to move past the first ring gets a leader line, and
    so does one that another point comes about as close to as its own (it is moved a ring out, so the line shows).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes the points are drawn on, already at their final size (after ``tight_layout``).
    coords : pandas.DataFrame
        Point positions in data units, shape (points, 2), indexed by label (module name).
    marker_size : float, default=MARKER_SIZE
        The markers' area in points², as passed to ``scatter(s=...)``: labels keep clear of every marker.

    Returns
    -------
    dict[str, tuple[float, float, bool]]
        Per label, the offset (points) from its point to the label's centre, and whether it needs a leader line.
    """
    renderer = ax.figure.canvas.get_renderer()
    to_pixels = ax.figure.dpi / 72
    points = ax.transData.transform(coords.to_numpy(dtype=float))
    radius = np.sqrt(marker_size) / 2 * to_pixels
    frame = ax.get_window_extent(renderer)
    sizes = {module: _label_size(ax, renderer, str(module)) for module in coords.index}
    distances = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
    crowding = np.sort(distances, axis=1)[:, 1] if len(points) > 1 else np.zeros(len(points))
    placed: list[Bbox] = []
    offsets: dict[str, tuple[float, float, bool]] = {}
    for index in np.argsort(crowding, kind="stable"):
        module, size = coords.index[index], sizes[coords.index[index]]
        mine, others = points[index], np.delete(points, index, axis=0)
        best, best_cost = None, np.inf
        for ring, gap in enumerate(_GAPS):
            for angle in _ANGLES:
                direction = np.array([np.cos(angle), np.sin(angle)])
                shift = direction * (radius + gap * to_pixels) + np.sign(np.round(direction, 6)) * size / 2
                box = _box(points[index] + shift, size)
                # next to its point, a label that another point comes as close to is ambiguous: move it out a ring
                # further, where its leader line shows which point it names
                ambiguous = min((_distance(box, p) for p in others), default=np.inf) < _distance(box, mine) + 2 * radius
                cost = _overlap_cost(box, placed, points, radius, frame) + (0.5 if ambiguous and ring == 0 else 0.0)
                if cost < best_cost:
                    best, best_cost = (shift, ring > 0 or ambiguous), cost
                if cost == 0:
                    break
            if best_cost == 0:
                break
        shift, leader = best
        placed.append(_box(points[index] + shift, size))
        offsets[module] = (float(shift[0] / to_pixels), float(shift[1] / to_pixels), bool(leader))
    return {module: offsets[module] for module in coords.index}


def _label_size(ax: Axes, renderer, label: str) -> np.ndarray:
    """A label's width and height in pixels, measured as it will be drawn."""
    text = ax.text(0, 0, label, ha="center", va="center")
    extent = text.get_window_extent(renderer)
    text.remove()
    return np.array([extent.width, extent.height])


def _overlap_cost(box: Bbox, placed: list[Bbox], points: np.ndarray, radius: float, frame: Bbox) -> float:
    """0 for a free spot; otherwise how badly it collides (other labels, points, the axes' edge)."""
    padded = _box(np.array([box.x0 + box.x1, box.y0 + box.y1]) / 2, np.array([box.width, box.height]), pad=2)
    cost = sum(1.0 for other in placed if padded.overlaps(other))
    cost += sum(1.0 for point in points if _covers_point(padded, point, radius))
    inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
    return cost + (0.0 if inside else 10.0)


def similarity_clustermap(similarity: pd.DataFrame, groups: Mapping[str, str],
                          title: str = "Cosine similarity of module embeddings") -> sns.matrix.ClusterGrid:
    """The modules' cosine similarity, clustered, with each row's true group as a colour strip (05_module_embeddings).

    The colour bar and the group legend sit to the right of the heat map, clear of both dendrograms and of the
    module labels.

    Parameters
    ----------
    similarity : pandas.DataFrame
        Modules × modules cosine similarity, e.g. from ``embeddings.similarity_matrix``.
    groups : Mapping[str, str]
        True group of each module: the strip left of the rows, in the series' group colours.
    title : str, default="Cosine similarity of module embeddings"
        The figure's title.

    Returns
    -------
    seaborn.matrix.ClusterGrid
        The clustered heat map (``.figure`` is its figure; show it with ``plt.show()``).
    """
    palette = group_palette(groups.values())
    grid = sns.clustermap(similarity, cmap="vlag", vmin=-1, vmax=1, figsize=(8.5, 7), dendrogram_ratio=0.12,
                          row_colors=similarity.index.map(groups).map(palette),
                          cbar_kws={"label": "cosine similarity"})
    grid.figure.subplots_adjust(right=0.74, top=0.93)  # room on the right for the legend and the colour bar
    grid.ax_cbar.set_position((0.87, 0.1, 0.025, 0.38))
    grid.figure.suptitle(title)
    grid.ax_heatmap.set(xlabel="module", ylabel="module")
    grid.figure.legend(handles=group_handles(palette), title="true group (left strip)", loc="upper left",
                       bbox_to_anchor=(0.81, 0.9))
    plt.setp(grid.ax_heatmap.get_yticklabels(), rotation=0)
    return grid


def two_by_two_figure(table: pd.DataFrame, columns: tuple[str, str] = ("ARI k-means", "cosine to start (mean)"),
                      title: str = "Two changes, four arms") -> Figure:
    """A 2 × 2 experiment as heat maps, one per measure: which change (objective, start) moves the number, at a glance
    (05_module_embeddings).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per arm, indexed by a two-level index (objective, start), with the ``columns`` to draw.
    columns : tuple of str, default=("ARI k-means", "cosine to start (mean)")
        The measures, one panel each; both lie in [-1, 1], so one colour scale from 0 to 1 serves.
    title : str, default="Two changes, four arms"
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One annotated 2 × 2 heat map per measure: rows the objective, columns the start.
    """
    fig = Figure(figsize=(9, 3.4), dpi=100)
    axes = fig.subplots(1, len(columns))
    level_names = list(table.index.names)
    for ax, column in zip(axes, columns, strict=True):
        grid = table[column].astype(float).unstack(level_names[1])  # unstack sorts: restore the table's order
        grid = grid.reindex(index=table.index.unique(0), columns=table.index.unique(1))
        sns.heatmap(grid, ax=ax, annot=True, fmt=".3f", vmin=0, vmax=1, cmap="viridis", cbar=False, square=True,
                    linewidths=1, annot_kws={"fontsize": 11})
        ax.set(title=column, xlabel=f"embedding {level_names[1]}", ylabel=level_names[0])
        ax.tick_params(axis="y", rotation=0)
    fig.suptitle(title)
    fig.tight_layout()
    return fig

"""Notebook 05's figures stay readable: no module label hides another, and the clustermap's colour bar keeps clear of
its dendrograms (issue 29).

The labels are measured as drawn, with the figure's own renderer, on the committed checkpoints' PCA maps (where module
E lies almost on top of M) and on a constructed case of two points on one spot; each check is shown to fail on the
layout it replaced.
"""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import seaborn as sns
from conftest import CHECKPOINTS
from matplotlib.transforms import Bbox

from therapy_utils import checkpoint, embeddings, simulate
from therapy_utils.course.plots import embeddings as maps

GROUPS = simulate.preset_params("realistic").group_of()


def label_boxes(fig) -> dict[str, Bbox]:
    """Each module label's extent on screen, measured with the figure's renderer after drawing."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (ax,) = [a for a in fig.axes if a.texts]
    return {text.get_text(): text.get_window_extent(renderer) for text in ax.texts}


def overlapping_pairs(boxes: dict[str, Bbox]) -> list[tuple[str, str]]:
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes.items(), 2) if box_a.overlaps(box_b)]


def labels_on_points(fig, coords: pd.DataFrame, boxes: dict[str, Bbox]) -> list[tuple[str, str]]:
    """(label, module) where a label covers another module's point (its centre)."""
    ax = fig.axes[0]
    points = ax.transData.transform(coords[["x", "y"]].to_numpy(dtype=float))
    return [(label, module) for label, box in boxes.items() for module, point in zip(coords.index, points, strict=True)
            if module != label and box.contains(*point)]


def committed_pca(name: str) -> pd.DataFrame:
    net, vocab = checkpoint.load_checkpoint(CHECKPOINTS / name)
    return embeddings.project_2d(embeddings.embedding_table(net, vocab), "pca")


@pytest.mark.parametrize("name", ["realistic_lstm", "realistic_multitask"])
def test_no_two_module_labels_overlap_on_the_committed_pca_maps(name):
    coords = committed_pca(name)
    fig = maps.embedding_map_figure(coords, GROUPS, title="PCA")
    boxes = label_boxes(fig)
    assert sorted(boxes) == sorted(coords.index), "every module is labelled once"
    assert not overlapping_pairs(boxes)
    assert not labels_on_points(fig, coords, boxes)
    frame = fig.axes[0].get_window_extent()
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes.values())


def test_two_modules_on_one_spot_get_two_readable_labels_with_leader_lines():
    coords = pd.DataFrame({"x": [0.0, 0.0, 0.004, 1.0, -1.0], "y": [0.0, 0.0, 0.003, 1.0, 0.5]},
                          index=["E", "M", "K", "A", "C"])
    fig = maps.embedding_map_figure(coords, GROUPS, title="a close pair")
    boxes = label_boxes(fig)
    assert not overlapping_pairs(boxes)
    assert not labels_on_points(fig, coords, boxes)
    assert len(fig.axes[0].lines) >= 2, "labels moved off a shared spot say which point they name"


def test_the_overlap_check_catches_labels_placed_on_their_points():
    """The replaced layout (every label just up and right of its point) overlaps where E sits on M."""
    coords = committed_pca("realistic_lstm")
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.scatter(coords["x"], coords["y"])
    for module, (x, y) in coords[["x", "y"]].iterrows():
        ax.annotate(module, (x, y), xytext=(5, 5), textcoords="offset points")
    assert ("E", "M") in overlapping_pairs(label_boxes(fig)) or ("M", "E") in overlapping_pairs(label_boxes(fig))
    plt.close(fig)


def clustermap_collisions(grid) -> list[str]:
    """The parts of the clustermap that its colour bar (with its ticks and label) runs into."""
    grid.figure.canvas.draw()
    renderer = grid.figure.canvas.get_renderer()
    colour_bar = grid.ax_cbar.get_tightbbox(renderer)
    parts = {"row dendrogram": grid.ax_row_dendrogram.get_window_extent(renderer),
             "column dendrogram": grid.ax_col_dendrogram.get_window_extent(renderer),
             "heat map and its labels": grid.ax_heatmap.get_tightbbox(renderer)}
    parts.update({f"legend {i}": legend.get_window_extent(renderer) for i, legend in enumerate(grid.figure.legends)})
    return [name for name, box in parts.items() if colour_bar.overlaps(box)]


def test_the_clustermap_colour_bar_keeps_clear_of_the_dendrograms():
    net, vocab = checkpoint.load_checkpoint(CHECKPOINTS / "realistic_lstm")
    similarity = embeddings.similarity_matrix(embeddings.embedding_table(net, vocab))
    grid = maps.similarity_clustermap(similarity, GROUPS, title="Cosine similarity")
    assert not clustermap_collisions(grid)
    assert grid.ax_cbar.get_ylabel() and grid.ax_heatmap.get_xlabel() and grid.figure.get_suptitle()
    plt.close(grid.figure)
    # the check can fail: seaborn's default place for the colour bar, top left, runs into the dendrograms
    default = sns.clustermap(similarity, figsize=(7, 7), dendrogram_ratio=0.12, vmin=-1, vmax=1,
                             row_colors=similarity.index.map(GROUPS).map(maps.group_palette(GROUPS.values())))
    assert {"row dendrogram", "column dendrogram"} & set(clustermap_collisions(default))
    plt.close(default.figure)


def test_label_offsets_are_measured_in_points_and_keep_every_label():
    coords = pd.DataFrame({"x": np.arange(4.0), "y": np.zeros(4)}, index=list("ABCD"))
    fig = maps.embedding_map_figure(coords, None, title="a row")
    offsets = maps.label_offsets(fig.axes[0], coords)
    assert list(offsets) == list("ABCD")
    assert all(abs(dx) < 100 and abs(dy) < 100 and isinstance(leader, bool) for dx, dy, leader in offsets.values())

"""The figures: one colour per module group across the series, titled figures with labelled axes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from therapy_utils.course import plots


def test_each_group_keeps_its_colour_and_other_groups_get_new_ones():
    palette = plots.group_palette(["crisis", "engagement", "somatic", "crisis"])
    assert list(palette) == ["crisis", "engagement", "somatic"]
    assert palette["crisis"] == plots.GROUP_COLOURS["crisis"]
    assert palette["engagement"] == plots.GROUP_COLOURS["engagement"]
    assert palette["somatic"] not in plots.GROUP_COLOURS.values()
    assert [h.get_label() for h in plots.group_handles(["skills", "skills", "crisis"])] == ["skills", "crisis"]


def test_the_training_figure_is_titled_and_labelled():
    history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.3, 0.2, 0.1], "val_loss": [0.25, 0.2, 0.18]})
    y = np.array([0.2, 0.5, 0.7, 0.9])
    figure = plots.training_figure(history, y, y + 0.05, r2=0.812)
    axes = figure.get_axes()
    assert len(axes) == 2 and "R² = 0.812" in axes[1].get_title()
    assert all(ax.get_title() and ax.get_xlabel() and ax.get_ylabel() for ax in axes)
    assert [line.get_label() for line in axes[1].get_lines()] == ["perfect prediction"]

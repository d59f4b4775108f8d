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


def test_notebook_12s_figures_draw_what_they_are_given():
    sessions = pd.DataFrame({"course_id": [0, 0, 0, 1, 1], "session": [1, 2, 3, 1, 2], "score": [18, 12, 9, 15, 16]})
    improved = pd.Series({0: True, 1: False})
    curve = pd.DataFrame({"mean": [18.0, 15.0, 13.0], "p10": [18.0, 11.0, 9.0], "p90": [18.0, 19.0, 17.0]},
                         index=pd.RangeIndex(1, 4, name="session"))
    ax = plots.sessions.trajectories_figure(sessions, improved, curve).get_axes()[0]
    assert ax.get_title() and ax.get_xlabel() == "session" and ax.get_ylabel().startswith("PHQ-9")
    patient_lines = [line for line in ax.get_lines() if len(line.get_xdata()) and line.get_marker() == "o"]
    assert sorted(list(line.get_ydata()) for line in patient_lines) == [[15, 16], [18, 12, 9]]
    scores = pd.DataFrame({"predictor": ["truth", "truth", "sequence model", "sequence model"], "session": [1, 2, 1, 2],
                           "auroc": [0.7, 0.8, 0.65, 0.78]})
    ax = plots.sessions.by_session_figure(scores).get_axes()[0]
    assert ax.get_ylabel() == "AUROC" and {t.get_text() for t in ax.get_legend().get_texts()} == {
        "truth", "sequence model"}
    chance, outcome = np.array([0.05, 0.05, 0.95, 0.95]), np.array([0.0, 1.0, 1.0, 1.0])
    ax = plots.sessions.reliability_figure({"truth": chance}, outcome).get_axes()[0]
    truth_line = next(line for line in ax.get_lines() if line.get_label() == "truth")
    assert list(truth_line.get_xdata()) == [0.05, 0.95] and list(truth_line.get_ydata()) == [0.5, 1.0]

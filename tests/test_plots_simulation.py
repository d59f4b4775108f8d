"""The figures of notebooks 01 and 06 (plots.simulation): titled, labelled, legends in the order a course runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from therapy_utils import evaluate, simulate, truth
from therapy_utils.course import plots
from therapy_utils.course.plots import simulation

PARAMS = simulate.preset_params("realistic")
PHASES = [name for name, _ in PARAMS.groups]  # engagement → skills → cognitive → exposure → maintenance, crisis


@pytest.fixture(scope="module")
def courses() -> pd.DataFrame:
    return simulate.simulate_courses(PARAMS, 300, seed=3)


def legend_labels(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def assert_titled_and_labelled(figure: Figure) -> None:
    assert isinstance(figure, Figure)
    axes = [ax for ax in figure.get_axes() if ax.get_label() != "<colorbar>"]
    assert axes and all(ax.get_title() and ax.get_xlabel() and ax.get_ylabel() for ax in axes), [
        (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) for ax in axes]


def test_phase_order_is_the_realistic_presets_group_order_then_other_groups():
    assert plots.GROUP_ORDER == tuple(PHASES)
    assert simulation.phase_order(["crisis", "somatic", "engagement", "cognitive", "engagement"]) == [
        "engagement", "cognitive", "crisis", "somatic"]
    assert simulation.phase_order(PARAMS.group_of().values()) == PHASES


def test_module_frequencies_list_groups_in_phase_order_with_whole_number_counts(courses):
    figure = simulation.course_mix_figure(courses, PARAMS, title="Course length")
    assert_titled_and_labelled(figure)
    ax_len, ax_freq = figure.get_axes()
    assert ax_len.get_title() == "Course length"
    # the legend and the bars follow the course's phases, not the alphabet (A, B, C… would give engagement,
    # cognitive, skills…)
    assert legend_labels(ax_freq) == PHASES
    modules = [tick.get_text() for tick in ax_freq.get_xticklabels()]
    assert modules == [m for _, members in PARAMS.groups for m in members]
    heights = [bar.get_height() for bar in ax_freq.patches]
    assert heights == [courses["modules"].explode().value_counts().get(m, 0) for m in modules]
    for axis in (ax_len.xaxis, ax_len.yaxis, ax_freq.yaxis):  # counts and sessions: whole numbers only
        ticks = axis.get_majorticklocs()
        assert len(ticks) >= 3 and np.array_equal(ticks, np.round(ticks)), ticks


def test_the_transition_heat_map_separates_the_groups(courses):
    from therapy_utils import data

    order = [m for _, members in PARAMS.groups for m in members]
    counts = data.transition_counts(courses["modules"], PARAMS.modules).loc[order, order]
    figure = simulation.transition_figure(counts.div(counts.sum(axis=1), axis=0), PARAMS, title="Transitions")
    assert_titled_and_labelled(figure)
    ax = figure.get_axes()[0]
    boundaries = np.cumsum([len(members) for _, members in PARAMS.groups])[:-1]
    assert sorted({line.get_ydata()[0] for line in ax.get_lines() if line.get_ydata()[0] == line.get_ydata()[1]}) \
        == list(boundaries)


def test_the_course_explanation_shows_model_and_truth_per_position():
    course = ("A", "B", "A", "K")
    score_truth = lambda batch: truth.expected_effectiveness(PARAMS, batch)  # noqa: E731
    model = lambda batch: 0.9 * score_truth(batch) + 0.03  # noqa: E731  (a stand-in model)
    contributions = pd.DataFrame({"model": evaluate.occlusion(model, course),
                                  "truth": evaluate.occlusion(score_truth, course)})
    values = {"model": float(model([course])[0]), "truth": float(score_truth([course])[0])}
    figure = simulation.course_explanation_figure(course, PARAMS.group_of(), values, (0.4, 0.8), contributions,
                                                  title="Explained")
    assert_titled_and_labelled(figure)
    ax_value, ax_parts = figure.get_axes()
    assert ax_value.get_title() == "Explained"
    assert [t.get_text() for t in ax_parts.get_xticklabels()] == ["1. A", "2. B", "3. A", "4. K"]
    bars = ax_parts.patches
    assert [b.get_height() for b in bars] == pytest.approx([*contributions["model"], *contributions["truth"]])
    assert legend_labels(ax_parts) == ["engagement", "exposure", "model (filled)", "truth (hatched)"]
    model_bar, truth_bar = ax_value.patches[:2]
    assert (model_bar.get_height(), truth_bar.get_height()) == pytest.approx((values["model"], values["truth"]))


def test_next_gains_are_drawn_in_the_models_order_beside_the_truth():
    gains = pd.DataFrame({"model gain": [0.01, 0.09, -0.02, 0.05], "true gain": [0.02, 0.03, 0.0, 0.0]},
                         index=["N", "A", "G", "K"])
    figure = simulation.next_gains_figure(gains, PARAMS.group_of(), title="What to add next")
    assert_titled_and_labelled(figure)
    ax = figure.get_axes()[0]
    assert ax.get_title() == "What to add next"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1. A", "2. K", "3. N", "4. G"]
    widths = [bar.get_width() for bar in ax.patches]
    assert widths == pytest.approx([0.09, 0.05, 0.01, -0.02, 0.03, 0.0, 0.02, 0.0])
    assert legend_labels(ax) == ["engagement", "skills", "exposure", "crisis", "model (filled)", "truth (hatched)"]
    assert ax.yaxis_inverted()  # the model's first choice at the top


def test_the_simulator_tabs_population_figure_is_titled_with_whole_number_counts(courses):
    figure = simulation.population_figure(courses, title="realistic: effectiveness")
    assert_titled_and_labelled(figure)
    ax_hist, ax_len = figure.get_axes()
    assert ax_hist.get_title() == "realistic: effectiveness"
    for axis in (ax_hist.yaxis, ax_len.xaxis):
        ticks = axis.get_majorticklocs()
        assert np.array_equal(ticks, np.round(ticks)), ticks

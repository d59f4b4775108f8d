"""The figures of 04_evaluation and 10_explaining_predictions: titled, every axis labelled for what it plots, the
attribution heatmap's colour scale symmetric about 0 and the planted motifs marked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from therapy_utils.course import plots
from therapy_utils.course.plots import evaluation, explanations

MOTIFS = (("A", "B", "A"), ("C", "D", "C"))


def panels(fig: Figure) -> list:
    """The plotting axes of a figure (a colour bar is not a panel)."""
    return [ax for ax in fig.get_axes() if getattr(ax, "_colorbar", None) is None]


def assert_titled_and_labelled(fig: Figure) -> None:
    assert isinstance(fig, Figure)
    suptitle = fig._suptitle.get_text() if fig._suptitle is not None else ""
    assert suptitle or all(ax.get_title() for ax in panels(fig)), "the figure has no title"
    for ax in panels(fig):
        assert ax.get_title(), "a panel has no title"
        assert ax.get_xlabel() and ax.get_ylabel(), f"unlabelled axis in panel {ax.get_title()!r}"
        assert ax.xaxis.label.get_visible() and ax.yaxis.label.get_visible()


@pytest.fixture
def outcomes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    oracle = rng.uniform(0.35, 0.95, 200)
    return oracle, oracle + rng.normal(0, 0.06, 200), 0.55 + 0.75 * (oracle - 0.55) + rng.normal(0, 0.03, 200)


def test_predicted_vs_observed_labels_each_panel_for_what_it_plots(outcomes):
    oracle, observed, predicted = outcomes
    fig = evaluation.predicted_vs_observed_figure(observed, predicted, oracle, title="Predicted vs observed")
    assert_titled_and_labelled(fig)
    model_ax, oracle_ax = panels(fig)
    # the defect this guards against: a shared y axis that left the oracle panel labelled as the LSTM's prediction
    assert "oracle" in oracle_ax.get_ylabel() and "LSTM" not in oracle_ax.get_ylabel()
    assert "LSTM" in model_ax.get_ylabel() and "oracle" not in model_ax.get_ylabel()
    assert all(label.get_visible() for label in oracle_ax.get_yticklabels()), "the oracle panel's scale is hidden"
    assert model_ax.get_ylim() == oracle_ax.get_ylim() == model_ax.get_xlim(), "both panels on one scale"
    r2 = 1 - np.sum((observed - oracle) ** 2) / np.sum((observed - observed.mean()) ** 2)
    assert f"R² = {r2:.3f}" in oracle_ax.get_title()
    assert [line.get_label() for line in model_ax.get_lines()] == ["diagonal (y = x)"]


def test_against_the_oracle_puts_the_truth_across_and_names_noise_and_error(outcomes):
    oracle, observed, predicted = outcomes
    fig = evaluation.against_oracle_figure(oracle, observed, predicted, title="Against the truth")
    assert_titled_and_labelled(fig)
    noise_ax, error_ax = panels(fig)
    assert all("oracle" in ax.get_xlabel() for ax in (noise_ax, error_ax))
    assert "observed" in noise_ax.get_ylabel() and "LSTM" in error_ax.get_ylabel()
    assert "noise" in noise_ax.get_title() and "error" in error_ax.get_title()
    # the scatter's points are (oracle, value): the right panel plots the predictions, not the outcomes
    np.testing.assert_allclose(error_ax.collections[0].get_offsets()[:, 1], predicted)
    np.testing.assert_allclose(noise_ax.collections[0].get_offsets()[:, 0], oracle)
    assert f"RMSE {np.sqrt(np.mean((predicted - oracle) ** 2)):.3f}" in error_ax.get_title()


def test_the_other_evaluation_figures_are_titled_and_labelled(outcomes):
    _, observed, predicted = outcomes
    r2 = pd.Series({"order-blind ridge": 0.49, "embedding + LSTM": 0.58, "oracle E[y | course]": 0.77})
    yard = evaluation.yardsticks_figure(r2, title="Yardsticks")
    assert [bar.get_width() for bar in panels(yard)[0].patches] == pytest.approx(list(r2))
    lengths = np.random.default_rng(1).integers(4, 21, len(observed))
    residuals = evaluation.residuals_by_length_figure(lengths, observed - predicted, 15, title="Residuals")
    assert any("fatigue" in line.get_label() for line in panels(residuals)[0].get_lines())
    table = pd.DataFrame({"predicted": [0.52, 0.47], "true E[y | course]": [0.63, 0.49]}, index=["A B A", "Q P O N"])
    examples = evaluation.examples_figure(table, title="Examples")
    by_group = pd.DataFrame({"LSTM_mean_error": [-0.02, 0.04], "ridge_mean_error": [-0.03, 0.06],
                             "LSTM_mse_x1000": [1.7, 4.7], "ridge_mse_x1000": [2.5, 6.9]},
                            index=pd.Index(["no motif", "holds a motif"], name="holds a motif"))
    groups = evaluation.error_by_group_figure(by_group, title="By group")
    for fig in (yard, residuals, examples, groups):
        assert_titled_and_labelled(fig)
    assert len(panels(groups)[0].patches) >= 4


def test_predictors_keep_their_colours_across_figures():
    assert evaluation.predictor_colour("oracle E[y | course]") != evaluation.predictor_colour("embedding + LSTM")
    assert evaluation.predictor_colour("order-blind ridge") != evaluation.predictor_colour("LSTM")
    assert evaluation.predictor_colour("LSTM prediction") == evaluation.predictor_colour("embedding + LSTM")


@pytest.fixture
def attributions() -> tuple[list[tuple[str, ...]], dict[str, list[np.ndarray]]]:
    courses = [("B", "E", "H", "M"), ("A", "B", "A", "H", "F"), ("C", "D", "C", "B", "A", "B", "A")]
    rng = np.random.default_rng(0)
    model = [rng.normal(0, 0.05, len(c)) for c in courses]
    model[1][:3] += 0.25  # one large value: the scale must still be symmetric about 0
    return courses, {"occlusion (deletion)": model, "integrated gradients": [a / 3 for a in model],
                     "deletion, of the truth": [a - 0.1 for a in model]}


def test_the_heatmap_is_symmetric_about_zero_annotated_and_marks_the_motifs(attributions):
    courses, methods = attributions
    fig = explanations.attribution_heatmap_figure(courses, methods, MOTIFS, title="Attributions")
    assert_titled_and_labelled(fig)
    axes = panels(fig)
    assert [ax.get_title() for ax in axes] == list(methods)
    largest = max(float(np.max(np.abs(a))) for values in methods.values() for a in values)
    for ax in axes:
        low, high = ax.collections[0].get_clim()
        assert low == pytest.approx(-high) and high == pytest.approx(largest), "colour scale not centred on 0"
        mesh = ax.collections[0]
        assert mesh.get_cmap().name == "vlag", "a diverging, colour-blind-safe map"
        assert min(mesh.get_cmap()(mesh.norm(0.0))[:3]) > 0.85, "no effect is drawn (nearly) white"
        letters = [text.get_text() for text in ax.texts]
        assert letters == [m for course in courses for m in course], "module letters in the cells, nothing else"
        outlines = [p for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()]
        # A B A in course 1; C D C and A B A (sharing no position) in course 2
        assert sorted((p.get_y(), p.get_x(), p.get_width()) for p in outlines) == [(1, 0, 3), (2, 0, 3), (2, 4, 3)]


def test_the_bars_put_the_methods_side_by_side_beside_the_truth(attributions):
    courses, methods = attributions
    course = courses[1]
    table = pd.DataFrame({"module": course, "on a motif": [True, True, True, False, False],
                          "deletion": methods["occlusion (deletion)"][1],
                          "integrated gradients": methods["integrated gradients"][1],
                          "deletion, of the truth": methods["deletion, of the truth"][1]})
    fig = explanations.attribution_bars_figure(table, ["deletion, of the truth"], title="One course")
    assert_titled_and_labelled(fig)
    model_ax, truth_ax = panels(fig)
    assert "model" in model_ax.get_ylabel() and "truth" in truth_ax.get_ylabel()
    assert [t.get_text() for t in model_ax.get_legend().get_texts()] == ["deletion", "integrated gradients"]
    assert model_ax.get_ylim() == truth_ax.get_ylim(), "the model and the truth on one scale"
    assert [t.get_text() for t in model_ax.get_xticklabels()][:3] == ["0: A (motif)", "1: B (motif)", "2: A (motif)"]
    assert explanations.method_colour("deletion") == explanations.method_colour("deletion, of the truth")


def test_the_checks_figure_draws_the_bar_and_the_random_positions():
    scores = pd.DataFrame({"integrated gradients": [0.7, 0.075, 0.019, 0.028, 0.073],
                           "occlusion (deletion)": [0.91, 0.07, 0.016, 0.028, 0.073]},
                          index=["motif_hit3", "comprehensiveness_top", "sufficiency_top",
                                 "comprehensiveness_random", "sufficiency_random"])
    fig = explanations.explanation_checks_figure(scores, 138, 0.8, title="Checks")
    assert_titled_and_labelled(fig)
    hit_ax = panels(fig)[0]
    assert [bar.get_width() for bar in hit_ax.patches] == pytest.approx([0.7, 0.91])
    assert any(np.allclose(line.get_xdata(), 0.8) for line in hit_ax.get_lines())


def test_the_package_exposes_both_submodules():
    assert plots.evaluation is evaluation and plots.explanations is explanations

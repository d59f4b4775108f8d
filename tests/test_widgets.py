"""The course builder driven as a learner would, but from Python: set values, click buttons."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import REPO

from therapy_utils.checkpoint import load_checkpoint
from therapy_utils.course.widgets import CourseBuilder
from therapy_utils.data import split_courses
from therapy_utils.evaluate import model_scorer, next_module_gains, occlusion, predict
from therapy_utils.simulate import preset_params
from therapy_utils.train import TrainConfig
from therapy_utils.truth import expected_effectiveness, outcome_distribution


@pytest.fixture()
def app(trained, small_courses):
    model, vocab, parts = trained
    return CourseBuilder(model, vocab, preset_params("realistic"), small_courses,
                         train_config=TrainConfig(max_epochs=2), debounce_seconds=0, calibration=parts["val"])


def build(app: CourseBuilder, modules: str) -> None:
    for module in modules:
        app.builder.module_picker.value = module
        app.builder.add_button.click()


def test_empty_course_shows_a_hint_not_an_error(app):
    assert "Add a module" in app.builder.prediction_label.value
    app.builder.undo_button.click()  # undo on an empty course is harmless
    assert app.builder.course == [] and app.builder.contributions.size == 0


def test_prediction_truth_and_gap_follow_the_course(app, trained):
    model, vocab, _ = trained
    build(app, "ABA")
    assert app.builder.course_label.value.endswith("A → B → A")
    expected = float(predict(model, [("A", "B", "A")], vocab)[0])
    truth = float(expected_effectiveness(preset_params("realistic"), [("A", "B", "A")])[0])
    assert f"Predicted effectiveness: <b>{expected:.3f}</b>" in app.builder.prediction_label.value
    assert f"true expected: {truth:.3f}" in app.builder.prediction_label.value
    assert f"gap: {expected - truth:+.3f}" in app.builder.prediction_label.value
    app.builder.undo_button.click()
    assert app.builder.course == ["A", "B"]
    app.builder.clear_button.click()
    assert app.builder.course == [] and "Add a module" in app.builder.prediction_label.value


def test_the_prediction_has_a_conformal_interval_and_its_true_chance(app, trained):
    model, vocab, parts = trained
    build(app, "ABA")
    val = parts["val"]
    residuals = np.sort(np.abs(val["effectiveness"].to_numpy() - predict(model, val, vocab)))
    half = residuals[int(np.ceil((len(residuals) + 1) * 0.9)) - 1]  # the ⌈(n + 1) 0.9⌉-th smallest, by hand
    prediction = float(predict(model, [("A", "B", "A")], vocab)[0])
    lower, upper = max(prediction - half, 0.0), min(prediction + half, 1.0)
    label = app.builder.prediction_label.value
    assert f"90% interval (split conformal): {lower:.3f} to {upper:.3f}" in label
    chance = outcome_distribution(preset_params("realistic"), [("A", "B", "A")]).coverage(lower, upper)[0]
    assert f"true chance it holds this course's outcome: {chance:.0%}" in label
    assert app.builder.interval == pytest.approx((lower, upper))


def test_without_calibration_courses_no_interval_is_shown(trained, small_courses):
    model, vocab, _ = trained
    app = CourseBuilder(model, vocab, preset_params("realistic"), small_courses, debounce_seconds=0)
    build(app, "AB")
    assert "interval" not in app.builder.prediction_label.value and app.builder.interval is None


def test_contributions_are_occlusion_of_the_model(app, trained):
    model, vocab, _ = trained
    build(app, "CDCQ")
    manual = [predict(model, [tuple("CDCQ")], vocab)[0] - predict(model, [tuple(c)], vocab)[0]
              for c in ("DCQ", "CCQ", "CDQ", "CDC")]
    assert np.allclose(app.builder.contributions, manual, atol=1e-6)
    assert app.builder.contributions_html.value.count("<tr>") == 4


def test_next_module_list_matches_the_model_and_shows_the_truth(small_courses):
    """With the tutorial's model (notebook 06's checkpoint): its top five, their gains, and the truth beside them."""
    model, vocab = load_checkpoint(REPO / "notebooks" / "checkpoints" / "realistic_lstm")
    params = preset_params("realistic")
    app = CourseBuilder(model, vocab, params, small_courses, train_config=TrainConfig(max_epochs=2), debounce_seconds=0)
    build(app, "AB")
    gains = next_module_gains(model_scorer(model, vocab), ("A", "B"), vocab.modules)
    assert list(app.builder.next_modules["module"]) == list(gains.index[:5])
    assert np.allclose(app.builder.next_modules["model gain"], gains.to_numpy()[:5], atol=1e-6)
    top = list(gains.index[:5])
    truth = [expected_effectiveness(params, [("A", "B", m)])[0] - expected_effectiveness(params, [("A", "B")])[0]
             for m in top]
    assert np.allclose(app.builder.next_modules["true gain"], truth)
    # A→B→A is a motif: the trained model ranks appending A first, and the truth says it gains the motif's boost
    # plus A's own effect
    assert top[0] == "A"
    assert truth[0] == pytest.approx(params.motif_boost + dict(params.module_effects)["A"], abs=1e-9)


def test_long_course_still_predicts_with_a_caution(app):
    build(app, "Q" * (app.builder.max_train_length + 2))
    assert "Predicted effectiveness" in app.builder.prediction_label.value
    assert "longer than any training course" in app.builder.caution_label.value


def test_a_course_shorter_than_any_the_simulator_makes_gets_a_caution_too(app):
    build(app, "ABA")  # the realistic preset's courses have at least 4 modules
    assert "shorter than any course the simulator makes (4)" in app.builder.caution_label.value
    app.builder.clear_button.click()
    build(app, "ABAB")
    assert app.builder.caution_label.value == ""


def test_occlusion_of_the_truth_finds_the_motif():
    truth = lambda courses: expected_effectiveness(preset_params("realistic"), courses)  # noqa: E731
    contributions = occlusion(truth, ("G", "A", "B", "A", "G"))
    assert contributions[1:4].min() > contributions[[0, 4]].max() + 0.1


@pytest.mark.slow
def test_sliders_redraw_summary_and_retrain_switches_model(app):
    first_image = app.simulator.summary_image.value
    app.simulator.n_slider.value = 300
    assert len(app.simulator.preview) == 300 and app.simulator.summary_image.value != first_image
    app.simulator.preset_picker.value = "original"
    assert app.simulator.motif_slider.value == pytest.approx(0.2)
    assert app.simulator.noise_slider.value == pytest.approx(0.1)
    build(app, "AB")
    old_model = app.builder.model
    app.simulator.retrain_button.click()
    assert app.builder.model is not old_model and app.builder.params.preset == "original"
    assert app.simulator.progress.value == 2 and "Retrained" in app.simulator.status.value
    expected = predict(app.builder.model, [("A", "B")], app.builder.vocab)[0]
    assert f"<b>{expected:.3f}</b>" in app.builder.prediction_label.value
    # the interval is recalibrated on the new model's own validation courses
    val = split_courses(app.simulator.preview, random_state=42)["val"]
    residuals = np.abs(val["effectiveness"].to_numpy() - predict(app.builder.model, val, app.builder.vocab))
    assert app.builder.half_width == pytest.approx(np.sort(residuals)[int(np.ceil((len(val) + 1) * 0.9)) - 1])


@pytest.mark.slow
def test_slider_changes_are_debounced(trained, small_courses):
    import time

    model, vocab, _ = trained
    app = CourseBuilder(model, vocab, preset_params("realistic"), small_courses, debounce_seconds=0.3)
    for n in (300, 400, 500):  # a drag: three values in quick succession
        app.simulator.n_slider.value = n
    assert len(app.simulator.preview) == 2000  # nothing redrawn while the slider moves
    time.sleep(1.5)
    assert len(app.simulator.preview) == 500  # one redraw, with the value it came to rest on


def test_retraining_while_a_redraw_is_pending_trains_on_the_sliders_values(trained, small_courses):
    """The race the debounce invites: the sliders moved, their redraw has not run, and Retrain is clicked."""
    model, vocab, _ = trained
    app = CourseBuilder(model, vocab, preset_params("realistic"), small_courses,
                        train_config=TrainConfig(max_epochs=1), debounce_seconds=30)
    app.simulator.n_slider.value = 300
    app.simulator.motif_slider.value = 0.05
    assert len(app.simulator.preview) == 2000  # the redraw is still pending
    app.simulator.retrain_button.click()
    assert len(app.simulator.preview) == 300  # retraining redrew first, with the sliders' values
    assert app.builder.params.motif_boost == pytest.approx(0.05)  # the model reports the simulator of its courses
    assert app.simulator._timer is None  # no stale redraw left to replace the courses it trained on


# A widget label in JupyterLab is 13 px DejaVu Sans or Helvetica: "Fatigue after" measured 82 px in Chromium (6.3 px a
# character); 8.5 px a character leaves room for a wider font. The default 80 px cut it to "Fatigue af…".
LABEL_PX_PER_CHARACTER = 8.5


def pixels(width: str) -> float:
    assert width.endswith("px"), f"a width in px, not {width!r}"
    return float(width.removesuffix("px"))


def test_every_simulator_label_is_wide_enough_for_its_text(app):
    controls = [*app.simulator.controls, app.simulator.progress]
    assert [c.description for c in controls] == ["Preset", "Courses", "Motif boost", "Noise sd", "Fatigue after",
                                                 "Epochs"]
    for control in controls:
        width = control.style.description_width
        needed = LABEL_PX_PER_CHARACTER * len(control.description)
        assert width == "initial" or pixels(width) >= needed, f"{control.description!r}: {width} < {needed} px"
    for control in app.simulator.controls:  # what is left beside the label holds the slider and its readout
        assert pixels(control.layout.width) - pixels(control.style.description_width) >= 200, control.description


def test_the_default_label_width_would_cut_the_longest_label():
    """The check above is not vacuous: ipywidgets' default label width, 80 px, is too narrow for "Fatigue after"."""
    assert 80 < LABEL_PX_PER_CHARACTER * len("Fatigue after")


def test_each_simulator_control_has_a_tooltip_and_a_visible_hint(app):
    grid = app.simulator.widget.children[0]
    cells = list(grid.children)
    controls, hints = cells[0::2], cells[1::2]
    assert controls[:-1] == list(app.simulator.controls)  # the last row: Retrain and the epochs bar
    assert app.simulator.retrain_button in controls[-1].children and app.simulator.progress in controls[-1].children
    assert len(hints) == len(controls)
    for hint in hints:
        assert "tb-hint" in hint._dom_classes
        text = re.sub(r"<[^>]+>", "", hint.value)
        assert 15 <= len(text) <= 60, f"a one-line hint, not {text!r}"  # one line beside a 360 px control
    for widget in [*app.simulator.controls, app.simulator.retrain_button, app.simulator.progress]:
        assert len(widget.tooltip or "") > 20, f"{widget.description!r} has no tooltip"

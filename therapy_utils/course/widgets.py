"""The interactive course builder: compose a course, watch the model and the truth.

All logic lives here so that it is testable without a browser: tests set widget values and
click buttons; the notebook only builds and displays the app (06_interactive_course_builder).
"""

from __future__ import annotations

import html
import io
import threading
from dataclasses import replace

import ipywidgets as w
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from therapy_utils.course.plots.simulation import population_figure
from therapy_utils.data import Vocabulary, split_courses
from therapy_utils.evaluate import model_scorer, next_module_gains, occlusion, predict
from therapy_utils.model import ModelConfig, SequenceModel
from therapy_utils.simulate import SimulatorParams, preset_params, simulate_courses
from therapy_utils.train import TUTORIAL_TRAIN_CONFIG, TrainConfig, fit_new_model
from therapy_utils.truth import expected_effectiveness, outcome_distribution
from therapy_utils.uncertainty import conformal_threshold

PRESET_CHOICES = ("realistic", "original")


def _bars(labels: list[str], values: np.ndarray) -> str:
    """A tiny horizontal bar chart in HTML: blue helps, vermilion hurts (colour-blind safe, seaborn's "colorblind"
    palette); no figure round-trip needed."""
    scale = max(float(np.abs(values).max()), 1e-9)
    rows = []
    for label, value in zip(labels, values, strict=True):
        colour = "#0173b2" if value >= 0 else "#d55e00"
        width = round(120 * abs(value) / scale)
        rows.append(f"<tr><td>{html.escape(label)}</td><td style='text-align:right'>{value:+.3f}</td>"
                    f"<td><div style='width:{width}px;height:10px;background:{colour}'></div></td></tr>")
    return "<table class='tb-bars'>" + "".join(rows) + "</table>"


def _figure_png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes for an Image widget (thread-safe, no display hooks)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


INTERVAL_LEVEL = 0.9  # the nominal coverage of the builder's interval around each prediction


def _half_width(model: SequenceModel, vocab: Vocabulary, calibration: pd.DataFrame | None) -> float | None:
    """Half-width of the split-conformal interval: the calibration residuals' conformal quantile (11_uncertainty)."""
    if calibration is None:
        return None
    residuals = calibration["effectiveness"].to_numpy() - predict(model, calibration, vocab, 256)
    return conformal_threshold(np.abs(residuals), INTERVAL_LEVEL)


def _interval(prediction: float, half_width: float | None, params: SimulatorParams | None,
              course: tuple[str, ...]) -> tuple[tuple[float, float] | None, str]:
    """The prediction's interval, and a line saying it and (with a simulator) its true chance to hold the outcome."""
    if half_width is None:
        return None, ""
    interval = (max(prediction - half_width, 0.0), min(prediction + half_width, 1.0))
    text = f"<br>{INTERVAL_LEVEL:.0%} interval (split conformal): {interval[0]:.3f} to {interval[1]:.3f}"
    if params is not None:
        chance = float(outcome_distribution(params, [course]).coverage(*interval)[0])
        text += f" · true chance it holds this course's outcome: {chance:.0%}"
    return interval, text


class CoursePanel:
    """The course-builder tab: compose a course, see the model's prediction beside the truth, each position's
    contribution and what to add next (06_interactive_course_builder).

    Parameters
    ----------
    model : SequenceModel
        The trained model to explore; moved to the CPU and put in eval mode.
    vocab : Vocabulary
        Its vocabulary; the module picker offers these modules.
    params : SimulatorParams or None
        The simulator behind the "true expected" values; None (or other modules) shows the model alone.
    max_train_length : int
        Longest training course; a longer course gets a warning that the model is extrapolating.
    calibration : pandas.DataFrame or None, default=None
        Courses the model did not train on (``modules``, ``effectiveness``): their residuals give the prediction a
        split-conformal interval at :data:`INTERVAL_LEVEL` (11_uncertainty). None shows no interval.
    """

    def __init__(self, model: SequenceModel, vocab: Vocabulary, params: SimulatorParams | None,
                 max_train_length: int, calibration: pd.DataFrame | None = None) -> None:
        self.model, self.vocab, self.params = model.cpu().eval(), vocab, params
        self.max_train_length, self.half_width = max_train_length, _half_width(model, vocab, calibration)
        self.course: list[str] = []
        self.contributions, self.next_modules = np.zeros(0), pd.DataFrame()
        self.module_picker = w.Dropdown(options=self._labels(), description="Module").add_class("tb-module")
        self.add_button = w.Button(description="Add", button_style="primary").add_class("tb-add")
        self.undo_button = w.Button(description="Undo").add_class("tb-undo")
        self.clear_button = w.Button(description="Clear").add_class("tb-clear")
        self.course_label = w.HTML().add_class("tb-course")
        self.prediction_label = w.HTML().add_class("tb-prediction")
        self.caution_label = w.HTML().add_class("tb-caution")
        self.contributions_html = w.HTML().add_class("tb-contributions")
        self.next_html = w.HTML().add_class("tb-next")
        self.add_button.on_click(lambda _: self.add(self.module_picker.value))
        self.undo_button.on_click(lambda _: self.undo())
        self.clear_button.on_click(lambda _: self.clear())
        self.refresh()

    def _labels(self) -> list[tuple[str, str]]:
        names = dict(self.params.module_names) if self.params and self.params.preset == "realistic" else {}
        return [(f"{m} · {names[m]}" if m in names else m, m) for m in self.vocab.modules]

    @property
    def widget(self) -> w.Widget:
        buttons = w.HBox([self.module_picker, self.add_button, self.undo_button, self.clear_button])
        return w.VBox([buttons, self.course_label, self.prediction_label, self.caution_label,
                       w.HTML("<b>Contribution of each position</b> (prediction change when it is removed)"),
                       self.contributions_html, w.HTML("<b>What to add next</b>"), self.next_html])

    def use_model(self, model: SequenceModel, vocab: Vocabulary, params: SimulatorParams,
                  max_train_length: int, calibration: pd.DataFrame | None = None) -> None:
        """Switch to a retrained model, its simulator and calibration courses; modules it lacks leave the course."""
        self.model, self.vocab, self.params = model.eval(), vocab, params
        self.max_train_length, self.half_width = max_train_length, _half_width(model, vocab, calibration)
        self.module_picker.options = self._labels()
        self.course = [m for m in self.course if m in vocab.modules]
        self.refresh()

    def add(self, module: str) -> None:
        """Append a module (what the Add button does)."""
        if module not in self.vocab.modules:
            self.caution_label.value = f"Module {html.escape(repr(module))} is not in the model's vocabulary."
            return
        self.course.append(module)
        self.refresh()

    def undo(self) -> None:
        """Remove the last module, if any."""
        if self.course:
            self.course.pop()
        self.refresh()

    def clear(self) -> None:
        """Start an empty course."""
        self.course.clear()
        self.refresh()

    def _truth(self):
        """The simulator's expected effectiveness as a scorer, or None when it cannot score these modules."""
        if self.params is None or not set(self.vocab.modules) <= set(self.params.modules):
            return None
        return lambda courses: expected_effectiveness(self.params, courses)

    def refresh(self) -> None:
        """Recompute everything shown for the current course."""
        course = tuple(self.course)
        self.course_label.value = f"<b>Course:</b> {' → '.join(course) if course else '(empty)'}"
        if not course:
            self.prediction_label.value = "Add a module to see the predicted effectiveness."
            self.caution_label.value = self.contributions_html.value = self.next_html.value = ""
            self.contributions, self.next_modules = np.zeros(0), pd.DataFrame()
            return
        model, truth = model_scorer(self.model, self.vocab), self._truth()
        self.prediction = float(model([course])[0])
        text = f"Predicted effectiveness: <b>{self.prediction:.3f}</b>"
        if truth is not None:
            self.truth = float(truth([course])[0])
            text += f" · true expected: {self.truth:.3f} · gap: {self.prediction - self.truth:+.3f}"
        simulator = None if truth is None else self.params  # the truth's chance needs a simulator that knows the course
        self.interval, interval_text = _interval(self.prediction, self.half_width, simulator, course)
        self.prediction_label.value = text + interval_text
        self.caution_label.value = _length_caution(len(course), self.max_train_length, self.params)
        self.contributions = occlusion(model, course)
        labels = [f"{i + 1}. {m}" for i, m in enumerate(course)]
        self.contributions_html.value = (_bars(labels, self.contributions) if len(course) > 1
                                         else "Add a second module to compare positions.")
        self._refresh_next(course, model, truth)

    def _refresh_next(self, course: tuple[str, ...], model, truth) -> None:
        """Top five modules to append according to the model, with the truth for the same five."""
        gains = next_module_gains(model, course, self.vocab.modules).head(5)
        table = pd.DataFrame({"module": gains.index, "model gain": gains.to_numpy()})
        if truth is not None:
            true_gains = next_module_gains(truth, course, list(gains.index)).reindex(gains.index).to_numpy()
            table["true gain"] = np.round(true_gains, 12) + 0.0  # no "-0.000" from float dust
        self.next_modules = table
        self.next_html.value = table.to_html(index=False, float_format=lambda v: f"{v:+.3f}", classes="tb-next-table")


# The simulator tab's controls: each label gets DESCRIPTION_WIDTH, wide enough for the longest ("Fatigue after", about
# 82 px in JupyterLab's 13 px font; the default 80 px cuts it to "Fatigue af…"), and each control CONTROL_WIDTH.
DESCRIPTION_WIDTH, CONTROL_WIDTH = "120px", "360px"
# Per label: the visible one-line hint beside the control, and the longer tooltip (hidden on touch screens)
HINTS = {
    "Preset": ("which simulator; choosing one resets the sliders",
               "realistic: groups, phases and motifs anywhere; original: the public script's random courses"),
    "Courses": ("how many courses to simulate and retrain on",
                "the number of simulated courses previewed on the right and used by Retrain"),
    "Motif boost": ("outcome added by a motif such as A→B→A",
                    "added to a course's expected effectiveness for a planted motif (realistic: each time one occurs)"),
    "Noise sd": ("spread of outcomes around their true mean",
                 "standard deviation of the noise added to each course's expected effectiveness"),
    "Fatigue after": ("sessions after which longer courses lose effect",
                      "courses longer than this many sessions lose effectiveness (realistic: a little per extra "
                      "session)"),
    "Retrain": ("train a new model on these courses for the builder",
                "train a new model on the simulated courses; the Course builder tab then uses it"),
}


def _control(widget: w.Widget, label: str) -> w.Widget:
    """A simulator control with its label, its tooltip and a size that shows both whole (06)."""
    widget.description, widget.tooltip = label, HINTS[label][1]
    widget.style.description_width = DESCRIPTION_WIDTH
    widget.layout.width = CONTROL_WIDTH
    return widget


def _hint(text: str) -> w.HTML:
    """The visible one-line help beside a control (a tooltip shows neither on touch screens nor in pictures)."""
    return w.HTML(f"<span style='color:var(--jp-ui-font-color2, #616161)'>{html.escape(text)}</span>").add_class(
        "tb-hint")


class SimulatorPanel:
    """The simulator tab: sliders that preview a simulated population, and retraining on it.

    A slider redraws once it rests (a debounce timer). Redrawing and retraining share one lock, and retraining
    first cancels a pending redraw and redraws with the sliders' current values, so the model is always trained on
    the courses of the parameters it reports (06_interactive_course_builder). Each control has a tooltip and, beside
    it, a visible one-line hint (:data:`HINTS`; tooltips show neither on touch screens nor in pictures), and every
    label :data:`DESCRIPTION_WIDTH`, so that none is cut short in a 1280-px-wide JupyterLab.

    Parameters (briefly): ``params`` (SimulatorParams or None) picks the preset and the sliders' start values
    (None: realistic); ``courses`` (pandas.DataFrame) is the preview until the first redraw; ``model_config``
    (ModelConfig) and ``train_config`` (TrainConfig) set up retraining, ``max_epochs`` sizing the progress bar;
    ``seed`` (int) seeds the simulation and the training; ``debounce_seconds`` (float) is how long a slider must
    rest before a redraw (0 or less: at once); ``on_retrained`` (callable) is called after retraining with the new
    model, its vocabulary, the simulator parameters, the longest course length and its validation courses (they
    calibrate the builder's interval).
    """

    def __init__(self, params: SimulatorParams | None, courses: pd.DataFrame, model_config: ModelConfig,
                 train_config: TrainConfig, seed: int, debounce_seconds: float, on_retrained) -> None:
        start = params or preset_params("realistic")
        self.preview, self.seed, self.on_retrained = courses, seed, on_retrained
        self.model_config, self.train_config, self.debounce_seconds = model_config, train_config, debounce_seconds
        self._timer: threading.Timer | None = None
        self._lock = threading.RLock()
        self.preset_picker = _control(w.Dropdown(options=PRESET_CHOICES, value=start.preset), "Preset")
        self.n_slider = _control(w.IntSlider(value=2000, min=200, max=5000, step=100), "Courses")
        self.motif_slider = _control(w.FloatSlider(value=start.motif_boost, min=0, max=0.3, step=0.01), "Motif boost")
        self.noise_slider = _control(w.FloatSlider(value=start.noise_sd, min=0.01, max=0.2, step=0.01), "Noise sd")
        self.fatigue_slider = _control(w.IntSlider(value=start.fatigue_threshold, min=4, max=20), "Fatigue after")
        # the plots at their own size (800 px), smaller only where the tab is narrower
        image_layout = w.Layout(max_width="100%", align_self="flex-start")
        self.summary_image = w.Image(format="png", layout=image_layout).add_class("tb-summary")
        self.retrain_button = w.Button(description="Retrain", button_style="warning", tooltip=HINTS["Retrain"][1],
                                       layout=w.Layout(width=DESCRIPTION_WIDTH)).add_class("tb-retrain")
        self.progress = w.IntProgress(value=0, min=0, max=train_config.max_epochs, description="Epochs",
                                      tooltip="epochs trained so far, out of the most retraining may take",
                                      style={"description_width": "initial"}, layout=w.Layout(flex="1 1 auto"))
        self.status = w.HTML().add_class("tb-status")
        self.preset_picker.observe(self._preset_changed, names="value")
        for slider in (self.n_slider, self.motif_slider, self.noise_slider, self.fatigue_slider):
            slider.observe(self._schedule_summary, names="value")
        self.retrain_button.on_click(lambda _: self.retrain())

    @property
    def widget(self) -> w.Widget:
        retrain = w.HBox([self.retrain_button, self.progress], layout=w.Layout(width=CONTROL_WIDTH))
        rows = [(control, _hint(HINTS[control.description][0])) for control in self.controls]
        rows.append((retrain, _hint(HINTS["Retrain"][0])))
        grid = w.GridBox([widget for row in rows for widget in row], layout=w.Layout(
            grid_template_columns=f"{CONTROL_WIDTH} minmax(0, 1fr)", grid_gap="0 12px", align_items="center"))
        return w.VBox([grid, self.status, self.summary_image]).add_class("tb-simulator")

    @property
    def controls(self) -> tuple[w.Widget, ...]:
        """The preset picker and the sliders, in the order the tab shows them."""
        return (self.preset_picker, self.n_slider, self.motif_slider, self.noise_slider, self.fatigue_slider)

    def slider_params(self) -> SimulatorParams:
        """Simulator parameters as the sliders set them."""
        return replace(preset_params(self.preset_picker.value), motif_boost=self.motif_slider.value,
                       noise_sd=self.noise_slider.value, fatigue_threshold=self.fatigue_slider.value)

    def _preset_changed(self, change: dict) -> None:
        """A new preset resets the sliders to its defaults, then redraws once."""
        defaults = preset_params(change["new"])
        with self.motif_slider.hold_trait_notifications(), self.noise_slider.hold_trait_notifications():
            self.motif_slider.value, self.noise_slider.value = defaults.motif_boost, defaults.noise_sd
            self.fatigue_slider.value = defaults.fatigue_threshold
        self._schedule_summary()

    def _schedule_summary(self, _change: dict | None = None) -> None:
        """Debounce: dragging a slider redraws once it rests, not at every step."""
        with self._lock:
            self._cancel_pending()
            if self.debounce_seconds <= 0:
                self.redraw_summary()
                return
            self._timer = threading.Timer(self.debounce_seconds, self.redraw_summary)
            self._timer.daemon = True  # a redraw still waiting must not keep the interpreter from exiting
            self._timer.start()

    def _cancel_pending(self) -> bool:
        """Cancel a scheduled redraw; True when one was waiting."""
        pending = self._timer is not None and self._timer.is_alive()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return pending

    def redraw_summary(self) -> None:
        """Simulate with the slider settings and draw the summary plots."""
        with self._lock:
            params = self.slider_params()
            self.preview = simulate_courses(params, self.n_slider.value, seed=self.seed)
            self.preview_params = params
            fig = population_figure(self.preview, title=f"{params.preset}: effectiveness")
            self.summary_image.value = _figure_png(fig)

    def retrain(self) -> None:
        """Train a new model on the previewed courses and hand it to ``on_retrained``."""
        with self._lock:
            if self._cancel_pending():  # a slider moved and its redraw has not run: run it now, not after
                self.redraw_summary()
            self.retrain_button.disabled, self.progress.value = True, 0
            self.status.value = f"Training on {len(self.preview)} simulated courses…"
            try:
                courses, params = self.preview, self.preview_params
                vocab = Vocabulary.from_courses(courses["modules"])
                parts = split_courses(courses, random_state=42)
                model, result = fit_new_model(parts, vocab, self.model_config, self.train_config, self.seed,
                                              device="cpu", progress=False,
                                              on_epoch=lambda row: setattr(self.progress, "value", int(row["epoch"])))
                self.status.value = f"Retrained: {result.epochs} epochs; the builder now uses the new model."
                self.on_retrained(model, vocab, params, int(courses["modules"].map(len).max()), parts["val"])
            finally:
                self.retrain_button.disabled = False


def _length_caution(length: int, max_train_length: int, params: SimulatorParams | None) -> str:
    """A warning when a course is longer than any training course or shorter than any the simulator makes."""
    if length > max_train_length:
        return (f"⚠ {length} modules is longer than any training course ({max_train_length}): the model is "
                "extrapolating.")
    if params is not None and 0 < length < params.min_length:
        return (f"⚠ {length} modules is shorter than any course the simulator makes ({params.min_length}): the model "
                "is extrapolating.")
    return ""


class CourseBuilder:
    """The course builder and the simulator, as two tabs of one app (06_interactive_course_builder).

    ``builder`` (:class:`CoursePanel`) and ``simulator`` (:class:`SimulatorPanel`) hold the widgets; retraining in
    the simulator hands the new model to the builder.

    Parameters
    ----------
    model : SequenceModel
        The trained model the builder starts with.
    vocab : Vocabulary
        Its vocabulary.
    params : SimulatorParams or None
        The simulator behind the truth and the sliders' start values; None: no truth, realistic sliders.
    courses : pandas.DataFrame
        The training courses (``modules`` column); their longest length marks where the model extrapolates.
    model_config : ModelConfig or None, default=None
        Shape of a retrained model; None is the original ``ModelConfig()``.
    train_config : TrainConfig, default=TUTORIAL_TRAIN_CONFIG
        Optimisation settings for retraining.
    seed : int, default=0
        Seeds the simulator's previews and retraining.
    debounce_seconds : float, default=0.4
        How long a slider must rest before the preview redraws; 0 redraws at once.
    calibration : pandas.DataFrame or None, default=None
        Courses the model did not train on, e.g. its validation courses: they calibrate the prediction's 90 %
        interval (split conformal, 11_uncertainty); None shows no interval. A retrained model uses its own.
    """

    def __init__(self, model: SequenceModel, vocab: Vocabulary, params: SimulatorParams | None,
                 courses: pd.DataFrame, model_config: ModelConfig | None = None,
                 train_config: TrainConfig = TUTORIAL_TRAIN_CONFIG, seed: int = 0,
                 debounce_seconds: float = 0.4, calibration: pd.DataFrame | None = None) -> None:
        self.builder = CoursePanel(model, vocab, params, int(courses["modules"].map(len).max()), calibration)
        self.simulator = SimulatorPanel(params, courses, model_config or ModelConfig(), train_config, seed,
                                        debounce_seconds, on_retrained=self.builder.use_model)
        self.simulator.redraw_summary()

    @property
    def widget(self) -> w.Widget:
        """The whole app: a builder tab and a simulator tab."""
        return w.Tab(children=[self.builder.widget, self.simulator.widget],
                     titles=("Course builder", "Simulator")).add_class("tb-app")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


class CourseRecommender:
    """Pick a length and the opening modules; see the model's best course, its predicted and true value.

    Taught in 09_optimizing_courses. The model's course comes from :func:`optimize.beam_search`; the truth
    column is the simulator's interventional expectation, so the gap is the price of trusting the model.

    Parameters
    ----------
    model_score : callable
        Scorer: a list of courses (tuples of module names) to a numpy array of predictions, e.g.
        :func:`evaluate.model_scorer`; beam search maximises it.
    truth_score : callable
        Scorer of the same form giving the true value, e.g. :func:`optimize.truth_scorer`.
    modules : tuple of str
        The modules a course may use; the opening accepts only these.
    lengths : range, default=range(3, 13)
        Course lengths the slider offers, from ``lengths.start`` to ``lengths.stop - 1``.
    beam_width : int, default=200
        Courses kept at each step of :func:`optimize.beam_search`.
    """

    def __init__(self, model_score, truth_score, modules: tuple[str, ...], lengths: range = range(3, 13),
                 beam_width: int = 200) -> None:
        from therapy_utils.optimize import beam_search

        self._search, self.model_score, self.truth_score = beam_search, model_score, truth_score
        self.modules, self.beam_width = tuple(modules), beam_width
        self.length = w.IntSlider(value=8, min=lengths.start, max=lengths.stop - 1, description="Length",
                                  continuous_update=False).add_class("tr-length")
        self.opening = w.TagsInput(value=[], allowed_tags=list(self.modules), allow_duplicates=True,
                                   description="Opening").add_class("tr-opening")
        self.result = w.HTML().add_class("tr-result")
        self.app = w.VBox([w.HTML("<b>Recommend a course</b> — type opening modules (e.g. A, then B)"),
                           w.HBox([self.length, self.opening]), self.result]).add_class("tr-app")
        self.length.observe(lambda _: self.refresh(), names="value")
        self.opening.observe(lambda _: self.refresh(), names="value")
        self.refresh()

    def refresh(self) -> None:
        """Search again for the current length and opening and show the course, predicted and true values."""
        opening = tuple(self.opening.value)
        if len(opening) > self.length.value:
            self.result.value = (f"<span class='tr-error'>The opening has {len(opening)} modules; "
                                 f"the course only {self.length.value}.</span>")
            return
        best = self._search(self.model_score, self.modules, self.length.value, opening, self.beam_width).iloc[0]
        truth = float(self.truth_score([best["course"]])[0])
        self.recommended, self.predicted, self.true_value = best["course"], float(best["score"]), truth
        self.result.value = (f"<p>Recommended: <b>{' → '.join(best['course'])}</b></p>"
                             f"<p>Model's prediction: {best['score']:.3f} · true expected effectiveness if "
                             f"assigned: {truth:.3f}</p>")

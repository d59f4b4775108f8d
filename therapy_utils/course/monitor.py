"""The session monitor: step through a patient's sessions and watch the model's and the truth's running chance.

Notebook 12's widget. Pick a held-out patient (or compose one), move the session slider, and see the scores so far
against the expected recovery band for their intake score, the model's and the truth's chance of reliable
improvement after each session, and whether the model raises an alert. All logic lives here so that tests can drive
it without a browser (12_session_by_session).
"""

from __future__ import annotations

import html
import io

import ipywidgets as w
import numpy as np
import pandas as pd

from therapy_utils.clinic import PHQ9_MAX, ClinicParams
from therapy_utils.course.plots.sessions import monitor_figure
from therapy_utils.data import Vocabulary
from therapy_utils.early_warning import SessionOutcomeModel, predict_by_session
from therapy_utils.prognosis import improvement_chances
from therapy_utils.sessions import SessionCourses, session_courses

COMPOSED = -1  # the patient menu's entry for a course typed in by hand
LABEL_STYLE = {"description_width": "110px"}


def _hint(text: str) -> w.HTML:
    return w.HTML(f"<span style='color:var(--jp-ui-font-color2, #616161)'>{html.escape(text)}</span>")


def parse_course(modules_text: str, scores_text: str, modules: tuple[str, ...]) -> tuple[tuple[str, ...],
                                                                                      tuple[int, ...]]:
    """A composed course from two space-separated fields; refuses, by value, what the clinic cannot record.

    Parameters
    ----------
    modules_text, scores_text : str
        Modules (e.g. ``"A B C"``) and one score per module (e.g. ``"18 15 12"``).
    modules : tuple of str
        The modules the model and the truth know.

    Returns
    -------
    (modules, scores) : tuple of tuples
        The course and its scores.
    """
    course, scores = tuple(modules_text.split()), scores_text.split()
    unknown = [m for m in course if m not in modules]
    if unknown:
        raise ValueError(f"module {unknown[0]!r} is not one of {', '.join(modules)}")
    bad = [s for s in scores if not s.isdigit() or int(s) > PHQ9_MAX]
    if bad:
        raise ValueError(f"score {bad[0]!r} is not a whole number from 0 to {PHQ9_MAX}")
    if not course or len(course) != len(scores):
        raise ValueError(f"give one score per module: {len(course)} modules, {len(scores)} scores")
    return course, tuple(int(s) for s in scores)


class SessionMonitor:
    """Pick or compose a patient, step through the sessions, see the trajectory, the band, both chances, the alert.

    Parameters
    ----------
    model : SessionOutcomeModel
        The trained sequence model (:func:`early_warning.fit_or_load_session_model`).
    vocab : Vocabulary
        Its vocabulary.
    params : ClinicParams
        The clinic behind the truth.
    patients : SessionCourses
        The patients the menu offers (e.g. the held-out ones).
    curves : pandas.DataFrame
        :func:`prognosis.recovery_curves`: the expected band by intake score and session.
    threshold : float, default=0.5
        The model alerts when its chance of reliable improvement is below this.
    truth_draws : int, default=200
        Monte Carlo draws per prefix for the truth (its standard error is shown).
    menu_size : int, default=30
        How many of ``patients`` the menu lists.
    """

    def __init__(self, model: SessionOutcomeModel, vocab: Vocabulary, params: ClinicParams,
                 patients: SessionCourses, curves: pd.DataFrame, threshold: float = 0.5, truth_draws: int = 200,
                 menu_size: int = 30) -> None:
        self.model, self.vocab, self.params, self.patients, self.curves = model, vocab, params, patients, curves
        self.threshold, self.truth_draws = threshold, truth_draws
        shown = patients.subset(np.arange(min(menu_size, len(patients))))
        options = [(f"patient {cid}: {n} sessions, {'improved' if ok else 'not improved'}"
                    f"{', ended early' if early else ''}", i) for i, (cid, n, ok, early) in enumerate(zip(
                        shown.course_id, shown.lengths, shown.improved, shown.ended_early, strict=True))]
        self.patient = w.Dropdown(options=[*options, ("compose your own (type below)", COMPOSED)], value=0,
                                  description="Patient", style=LABEL_STYLE,
                                  layout=w.Layout(width="430px")).add_class("sm-patient")
        self.modules = w.Text(value="A B C D E F", description="Modules", style=LABEL_STYLE,
                              layout=w.Layout(width="430px")).add_class("sm-modules")
        self.scores = w.Text(value="18 17 16 16 15 15", description="Scores", style=LABEL_STYLE,
                             layout=w.Layout(width="430px")).add_class("sm-scores")
        self.session = w.IntSlider(value=1, min=1, max=1, description="After session", style=LABEL_STYLE,
                                   continuous_update=False, layout=w.Layout(width="430px")).add_class("sm-session")
        self.image = w.Image(format="png", layout=w.Layout(width="100%", max_width="900px", margin="0px"))
        self.status = w.HTML().add_class("sm-status")
        hints = ("a held-out patient, or compose one",
                 f"module letters, space-separated ({vocab.modules[0]}-{vocab.modules[-1]})",
                 f"one score (0-{PHQ9_MAX}) per module, at the session's start", "what was known after this session")
        controls = w.VBox([w.HBox([control, _hint(hint)]) for control, hint in zip(
            (self.patient, self.modules, self.scores, self.session), hints, strict=True)])
        self.app = w.VBox([w.HTML("<b>Session by session</b>: is this simulated patient on track? (A teaching "
                                  "tool: its patients are simulated; not for real patients' scores.)"), controls,
                           self.status,
                           self.image]).add_class("sm-app")
        self._cache: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.patient.observe(lambda _: self._course_changed(), names="value")
        self.modules.observe(lambda _: self._course_changed(), names="value")
        self.scores.observe(lambda _: self._course_changed(), names="value")
        self.session.observe(lambda _: self.refresh(), names="value")
        self._course_changed()

    def course(self) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """The chosen patient's modules and scores (ValueError for a composed course that cannot be read)."""
        if self.patient.value == COMPOSED:
            return parse_course(self.modules.value, self.scores.value, self.vocab.modules)
        i = self.patient.value
        n = int(self.patients.lengths[i])
        return self.patients.names[i], tuple(int(s) for s in self.patients.scores[i, :n])

    def chances(self, course: tuple[str, ...], scores: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The model's and the truth's chance after each session, and the truth's Monte Carlo error (cached)."""
        key = (course, scores)
        if key not in self._cache:
            table = pd.DataFrame({"course_id": 0, "session": np.arange(1, len(course) + 1), "module": course,
                                  "score": scores})
            model = predict_by_session(self.model, session_courses(table, self.vocab))[0]
            truth, error = improvement_chances(self.params, [course[:k] for k in range(1, len(course) + 1)],
                                               [scores[:k] for k in range(1, len(course) + 1)],
                                               draws=self.truth_draws, seed=0)
            self._cache[key] = (model, truth, error)
        return self._cache[key]

    def _course_changed(self) -> None:
        composed = self.patient.value == COMPOSED
        self.modules.disabled = self.scores.disabled = not composed
        try:
            course, _ = self.course()
        except ValueError:
            self.refresh()
            return
        self.session.max = len(course)
        self.session.value = min(self.session.value, len(course))
        self.refresh()

    def refresh(self) -> None:
        """Redraw the status line and the figure for the chosen patient and session."""
        try:
            course, scores = self.course()
        except ValueError as err:
            self.status.value = f"<span class='sm-error'>{html.escape(str(err))}</span>"
            return
        k = min(self.session.value, len(course))
        model, truth, error = self.chances(course, scores)
        self.model_chance, self.truth_chance, self.alert = float(model[k - 1]), float(truth[k - 1]), \
            bool(model[k - 1] < self.threshold)
        verdict = (f"<b style='color:#D55E00'>alert</b>: the model's chance is below {self.threshold:.2f}; a prompt "
                   "to review the plan with the patient, not a diagnosis" if self.alert else "no alert")
        self.status.value = (f"After session {k} (score {scores[k - 1]}): model <b>{self.model_chance:.2f}</b> · "
                             f"truth <b>{self.truth_chance:.2f}</b> ± {error[k - 1]:.2f} · {verdict}")
        figure = monitor_figure(scores, k, model, truth, self.curves.loc[scores[0]], self.threshold)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
        self.image.value = buffer.getvalue()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.app)

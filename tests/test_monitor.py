"""Notebook 12's session monitor, driven without a browser: the status line and the picture follow the controls."""

from __future__ import annotations

import numpy as np
import pytest

from therapy_utils import clinic, early_warning, prognosis, sessions
from therapy_utils.course.monitor import COMPOSED, SessionMonitor, parse_course
from therapy_utils.data import Vocabulary

VOCAB = Vocabulary(clinic.CLINIC.flowchart.modules)


@pytest.fixture(scope="module")
def monitor():
    table = clinic.simulate_clinic(clinic.CLINIC, 300, seed=8)
    courses = sessions.session_courses(table, VOCAB)
    parts = {name: courses.subset(rows) for name, rows in sessions.split_patients(len(courses), 8).items()}
    model, _ = early_warning.fit_session_model(parts["train"], parts["val"], len(VOCAB),
                                               early_warning.WarningConfig(max_epochs=3), seed=0)
    curves = prognosis.recovery_curves(clinic.CLINIC, sessions=20, draws=200)
    return SessionMonitor(model, VOCAB, clinic.CLINIC, parts["test"], curves, truth_draws=100), model, parts["test"]


def test_the_status_is_the_models_and_the_truths_chance_after_the_chosen_session(monitor):
    app, model, test = monitor
    app.patient.value = int(np.argmax(test.lengths >= 3))
    app.session.value = 3
    row = app.patient.value
    expected_model = early_warning.predict_by_session(model, test.subset([row]))[0, 2]
    course, scores = test.names[row][:3], tuple(int(s) for s in test.scores[row, :3])
    expected_truth = prognosis.improvement_chances(clinic.CLINIC, [course[:k] for k in (1, 2, 3)],
                                                   [scores[:k] for k in (1, 2, 3)], draws=100, seed=0)[0][2]
    assert app.model_chance == pytest.approx(expected_model) and app.truth_chance == pytest.approx(expected_truth)
    assert f"After session 3 (score {scores[2]})" in app.status.value
    assert f"model <b>{expected_model:.2f}</b>" in app.status.value
    assert ("alert</b>" in app.status.value) == (expected_model < 0.5) == app.alert
    picture = app.image.value
    app.session.value = 2
    assert "After session 2" in app.status.value and app.image.value != picture  # slider moved: redrawn


def test_a_composed_patient_is_read_from_the_two_fields(monitor):
    app, _, _ = monitor
    app.patient.value = COMPOSED
    assert not app.modules.disabled and not app.scores.disabled
    app.modules.value, app.scores.value = "A B C D", "20 19 19 18"
    assert app.session.max == 4
    app.session.value = 4
    assert "After session 4 (score 18)" in app.status.value
    app.scores.value = "20 19 x 18"
    assert "score &#x27;x&#x27; is not a whole number" in app.status.value and "sm-error" in app.status.value
    app.patient.value = 0
    assert app.modules.disabled and "After session" in app.status.value


@pytest.mark.parametrize(("modules", "scores", "message"), [
    ("A Z", "18 17", "module 'Z' is not one of"), ("A B", "18 30", "score '30' is not a whole number from 0 to 27"),
    ("A B C", "18 17", "give one score per module: 3 modules, 2 scores"), ("", "", "give one score per module")])
def test_a_composed_course_the_clinic_cannot_record_is_refused_by_value(modules, scores, message):
    with pytest.raises(ValueError, match=message):
        parse_course(modules, scores, VOCAB.modules)

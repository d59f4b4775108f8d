"""Notebook 12's pieces: session arrays, the truth after a prefix, the sequence model and baselines, their scores."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO

from therapy_utils import clinic, early_warning, evaluate, prognosis, sessions
from therapy_utils.data import Vocabulary
from therapy_utils.outcome import progress_parts

VOCAB = Vocabulary(clinic.CLINIC.flowchart.modules)
QUICK = early_warning.WarningConfig(max_epochs=4, patience=2)


@pytest.fixture(scope="module")
def patients():
    table = clinic.simulate_clinic(clinic.CLINIC, 600, seed=3)
    courses = sessions.session_courses(table, VOCAB)
    return table, {name: courses.subset(rows) for name, rows in sessions.split_patients(len(courses), 3).items()}


@pytest.fixture(scope="module")
def quick_model(patients):
    _, parts = patients
    return early_warning.fit_session_model(parts["train"], parts["val"], len(VOCAB), QUICK, seed=0)


# Session data -----------------------------------------------------------------------------------------------------

def tiny_table() -> pd.DataFrame:
    return pd.DataFrame({"course_id": [7, 7, 7, 2, 2], "session": [2, 1, 3, 1, 2], "module": ["B", "A", "C", "Q", "Q"],
                         "score": [15, 20, 12, 9, 3], "ended_early": [True, True, True, False, False]})


def test_session_arrays_are_padded_in_session_order():
    courses = sessions.session_courses(tiny_table(), VOCAB)
    assert courses.course_id.tolist() == [2, 7] and courses.lengths.tolist() == [2, 3]
    assert courses.modules.tolist() == [[17, 17, 0], [1, 2, 3]]  # Q is module 17; 0 pads
    assert courses.scores[1].tolist() == [20, 15, 12] and np.isnan(courses.scores[0, 2])
    assert courses.improved.tolist() == [True, True]  # 9 → 3 and 20 → 12: drops of at least 6
    assert courses.ended_early.tolist() == [False, True] and courses.names == (("Q", "Q"), ("A", "B", "C"))
    rows, modules, scores = courses.prefixes(3)
    assert rows.tolist() == [1] and modules == [("A", "B", "C")] and scores == [(20, 15, 12)]
    known = courses.first(2)
    assert known.course_id.tolist() == [2, 7] and known.lengths.tolist() == [2, 2]
    assert known.scores.tolist() == [[9, 3], [20, 15]] and known.names == (("Q", "Q"), ("A", "B"))


def test_a_module_outside_the_vocabulary_is_refused_by_name():
    with pytest.raises(ValueError, match="module 'Z' is not in the vocabulary"):
        sessions.session_courses(tiny_table().replace({"module": {"B": "Z"}}), VOCAB)


def test_the_split_is_by_patient_deterministic_and_complete():
    split = sessions.split_patients(101, seed=4)
    assert sorted(np.concatenate(list(split.values())).tolist()) == list(range(101))
    assert [len(split[k]) for k in ("train", "val", "test")] == [61, 20, 20]
    assert all(np.array_equal(split[k], sessions.split_patients(101, seed=4)[k]) for k in split)
    with pytest.raises(ValueError, match="shares must be"):
        sessions.split_patients(10, 0, shares=(0.5, 0.5, 0.5))
    assert [len(part) for part in sessions.split_patients(10, 0).values()] == [6, 2, 2]
    assert [len(part) for part in sessions.split_patients(9, 0).values()] == [5, 2, 2]
    with pytest.raises(ValueError, match="8 patient\\(s\\) cannot be split 60%/20%/20% with at least 2 in each"):
        sessions.split_patients(8, 0)


# The truth ----------------------------------------------------------------------------------------------------------

def test_one_prefix_is_the_batch_of_one():
    course, scores = ("B", "E", "L"), (16, 8, 10)
    assert prognosis.improvement_chance(clinic.CLINIC, course, scores, draws=300, seed=5) == tuple(
        float(v[0]) for v in prognosis.improvement_chances(clinic.CLINIC, [course], [scores], draws=300, seed=5))


@pytest.mark.parametrize(("course", "scores", "message"), [
    (("A", "Z"), (18, 12), "prefix 1: module 'Z'"), (("A", "B"), (18, 28), "prefix 1: score 28"),
    (("A", "B"), (18,), "prefix 1: a prefix needs one score per module")])
def test_a_prefix_the_clinic_cannot_record_is_refused_by_position(course, scores, message):
    with pytest.raises(ValueError, match=message):
        prognosis.improvement_chances(clinic.CLINIC, [("A",), course], [(18,), scores])


def test_the_posterior_is_the_grid_computation_written_out():
    """Notebook 12's from-scratch posterior mean of intake severity against the package's draws: within 4 Monte Carlo
    standard errors (measured: 0.01 apart, one standard error being 0.01)."""
    params, course, scores = clinic.CLINIC, ("B", "A", "A"), (14, 18, 6)
    sd_r = params.flowchart.responsiveness_sd
    intake = np.linspace(0, 27, 109)[:, None]
    resp = np.linspace(1 - 4.5 * sd_r, 1 + 4.5 * sd_r, 81)[None, :]
    posterior = np.exp(-0.5 * ((intake - params.intake_mean) / params.intake_sd) ** 2 - 0.5 * ((resp - 1) / sd_r) ** 2)
    a, b = progress_parts(params.flowchart, np.array([[params.flowchart.modules.index(m) for m in course]]))
    for t, score in enumerate(scores):
        progress = 0.0 if t == 0 else (a[0, t - 1] - params.flowchart.base_mean) + resp * b[0, t - 1]
        ratio = np.exp(-params.recovery_rate * progress)
        posterior = posterior * prognosis.score_likelihood(params, np.array(score), intake * ratio)
        if t < len(scores) - 1:
            posterior = posterior * (1 - clinic.dropout_chance(params, ratio))
    by_hand = float((posterior / posterior.sum() * intake).sum())
    draws = prognosis.patient_posterior(params, course, scores, draws=20_000)
    assert abs(draws["intake"].mean() - by_hand) < 4 * draws["intake"].std() / np.sqrt(len(draws))
    wrong = prognosis.patient_posterior(replace(params, measurement_sd=6.0), course, scores, draws=20_000)
    assert abs(wrong["intake"].mean() - by_hand) > 4 * wrong["intake"].std() / np.sqrt(len(wrong))  # the control


def test_recovery_curves_cover_every_intake_score():
    curves = prognosis.recovery_curves(clinic.CLINIC, sessions=4, draws=300)
    assert curves.index.get_level_values("intake").unique().tolist() == list(range(28))
    assert (curves.xs(1, level="session")["mean"].to_numpy() == np.arange(28)).all()  # session 1 is the intake


# The sequence model and the baselines --------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value"), [("hidden_dim", 0), ("lr", -1.0), ("batch_size", 2.5),
                                              ("patience", True)])
def test_impossible_model_settings_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match=f"WarningConfig.{field}"):
        early_warning.WarningConfig(**{field: value})


def test_the_prediction_after_session_k_reads_only_the_first_k_sessions(patients, quick_model):
    _, parts = patients
    model, _ = quick_model
    test = parts["test"]
    changed = replace(test, scores=np.where(np.arange(test.scores.shape[1]) >= 3, 27.0, test.scores))
    before, after = (early_warning.predict_by_session(model, data) for data in (test, changed))
    assert np.allclose(before[:, :3], after[:, :3], atol=1e-6, equal_nan=True)
    assert not np.allclose(before[:, 3:], after[:, 3:], atol=1e-3, equal_nan=True)  # later steps do read them
    assert np.isnan(before[test.lengths < 3, 2]).all()  # no prediction after a course's end


def test_training_is_deterministic_and_learns(patients, quick_model):
    _, parts = patients
    model, history = quick_model
    again, history_again = early_warning.fit_session_model(parts["train"], parts["val"], len(VOCAB), QUICK, seed=0)
    assert history.equals(history_again)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(),
                                                 strict=True))
    assert history["val_loss"].min() < history["val_loss"].iloc[0]


def test_baselines_predict_where_a_course_is_running(patients):
    _, parts = patients
    fitted = early_warning.fit_baselines(parts["train"], sessions=(1, 3))
    chances = early_warning.baseline_chances(fitted, parts["test"])
    assert set(chances) == set(early_warning.BASELINES)
    for chance in chances.values():
        assert np.isfinite(chance[:, 0]).all() and np.isnan(chance[:, 1]).all()
        assert np.isfinite(chance[parts["test"].lengths >= 3, 2]).all()
    # change so far after session 1 is 0 for everyone: one chance, the training share improved
    assert np.allclose(chances["change so far"][:, 0], parts["train"].improved.mean(), atol=1e-3)


def test_not_on_track_compares_each_score_with_its_intake_curve():
    courses = sessions.session_courses(tiny_table(), VOCAB)
    curves = pd.DataFrame({"mean": [9.0, 6.0, 20.0, 17.0], "p10": 0.0, "p90": [9.0, 7.0, 20.0, 14.0]},
                          index=pd.MultiIndex.from_product([[9, 20], [1, 2]], names=["intake", "session"]))
    margin, alert = early_warning.not_on_track(courses, curves)
    assert margin[:, :2].tolist() == [[0.0, 3.0], [0.0, 2.0]]
    assert alert[:, :2].tolist() == [[False, False], [False, True]]  # 15 is above the band's 14
    assert np.isnan(margin[1, 2]) and not alert[1, 2]  # the curves stop at session 2


def test_checkpoint_round_trip_and_refusal(patients, quick_model, tmp_path, monkeypatch):
    _, parts = patients
    model, _ = quick_model
    monkeypatch.setattr(early_warning, "fit_session_model", lambda *a, **k: (model, pd.DataFrame(
        {"train_loss": [0.5], "val_loss": [0.4]}).rename_axis("epoch")))
    early_warning.fit_or_load_session_model(tmp_path, parts["train"], parts["val"], VOCAB, seed=0, config=QUICK)
    loaded, history = early_warning.fit_or_load_session_model(tmp_path, parts["train"], parts["val"], VOCAB, seed=0,
                                                              config=QUICK)
    assert np.array_equal(early_warning.predict_by_session(model, parts["test"]),
                          early_warning.predict_by_session(loaded, parts["test"]), equal_nan=True)
    assert history["val_loss"].tolist() == [0.4]
    with pytest.raises(ValueError, match="different seed"):
        early_warning.fit_or_load_session_model(tmp_path, parts["train"], parts["val"], VOCAB, seed=1, config=QUICK)


def test_the_truths_cache_is_read_back_only_for_the_same_courses(patients, tmp_path):
    _, parts = patients
    few = parts["test"].subset(np.arange(5))
    path = tmp_path / "truth.csv"
    first = early_warning.truth_or_load(path, clinic.CLINIC, few, draws=50)
    assert np.array_equal(first, early_warning.truth_or_load(path, clinic.CLINIC, few, draws=50), equal_nan=True)
    assert (np.isfinite(first) == (np.arange(first.shape[1]) < np.minimum(few.lengths, 8)[:, None])).all()
    other = parts["test"].subset(np.arange(5, 10))
    assert early_warning.truth_or_load(path, clinic.CLINIC, other, draws=50).shape == other.modules.shape
    assert pd.read_csv(path)["course_id"].isin(other.course_id).all()  # recomputed and rewritten for the new ones


# Scoring ----------------------------------------------------------------------------------------------------------

def test_dropout_rules_change_who_is_scored_and_how():
    courses = sessions.session_courses(tiny_table(), VOCAB)  # course 7 ended early and improved
    assert evaluate.outcome_labels(courses).tolist() == [1.0, 1.0]
    assert np.isnan(evaluate.outcome_labels(courses, "censored")[1])
    assert evaluate.outcome_labels(courses, "not improved").tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="unknown dropout rule"):
        evaluate.outcome_labels(courses, "ignore")


def test_calibration_error_weights_each_bin_by_its_patients():
    chance = np.array([0.05, 0.05, 0.05, 0.95])
    outcome = np.array([0.0, 0.0, 1.0, 1.0])
    # bin 0: |0.05 − 1/3| for 3 patients; bin 9: |0.95 − 1| for 1
    assert evaluate.calibration_error(chance, outcome) == pytest.approx((3 * (1 / 3 - 0.05) + 0.05) / 4)
    assert evaluate.calibration_error(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == 0.0


def test_the_alert_threshold_follows_the_costs():
    assert evaluate.alert_threshold(1, 1) == 0.5 and evaluate.alert_threshold(3, 1) == 0.75
    with pytest.raises(ValueError, match="costs must be positive"):
        evaluate.alert_threshold(0, 1)


def test_scores_by_session_rank_and_calibrate():
    courses = sessions.session_courses(pd.concat([tiny_table(), tiny_table().assign(
        course_id=lambda t: t["course_id"] + 100, score=lambda t: t["score"].where(t["session"] != 2, 30 - 12))]),
        VOCAB)  # the copies' second scores are 18: 9 → 18 is no improvement
    perfect = np.where(courses.improved[:, None], 0.9, 0.1) * np.ones(courses.modules.shape)
    table = evaluate.scores_by_session({"perfect": perfect}, courses, sessions=(1, 2))
    assert table["auroc"].tolist() == [1.0, 1.0] and table["running"].tolist() == [4, 4]
    assert table["brier"].tolist() == pytest.approx([0.01, 0.01])
    with pytest.raises(ValueError, match="no prediction for 4 courses at session 1"):
        evaluate.scores_by_session({"blank": np.full(courses.modules.shape, np.nan)}, courses, sessions=(1,))


def test_alerts_are_counted_against_the_outcome_and_the_truth():
    chance, truth = np.array([0.2, 0.3, 0.8, 0.4]), np.array([0.1, 0.7, 0.9, 0.3])
    outcome = np.array([0.0, 1.0, 1.0, 0.0])
    counts = evaluate.alert_outcomes(chance, truth, outcome, 0.5)
    assert counts[["alerts", "hits", "misses", "false alarms", "truth's alerts"]].tolist() == [3, 2, 0, 1, 2]
    assert counts["sensitivity"] == 1.0 and counts["specificity"] == 0.5 and counts["same as truth"] == 0.75


def test_subgroups_carry_their_size_and_the_small_flag():
    assert evaluate.intake_band(np.array([9, 10, 14, 15, 20, 27])).tolist() == [
        "below 10", "10-14 moderate", "10-14 moderate", "15-19 moderately severe", "20-27 severe", "20-27 severe"]
    rng = np.random.default_rng(0)
    groups = np.array(["a"] * 150 + ["b"] * 30 + ["c"] * 200)
    chance = np.concatenate([rng.random(180), np.full(200, 0.9)])
    outcome = np.concatenate([(rng.random(180) < chance[:180]), np.arange(200) >= 20]).astype(float)
    table = evaluate.subgroup_alerts(chance, chance, outcome, groups, 0.5)
    assert table["patients"].tolist() == [150, 30, 200]
    assert table["small"].tolist() == [False, True, True]  # c: 200 patients, but only 20 did not improve
    assert (table["sensitivity"] == table["truth's sensitivity"]).all()


# The saved benchmark ---------------------------------------------------------------------------------------------

def test_the_saved_targets_are_what_the_saved_runs_give():
    """benchmarks/results/early_warning.json: its targets table recomputed from its own runs."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    import early_warning as benchmark

    saved = json.loads((REPO / "benchmarks" / "results" / "early_warning.json").read_text())
    scores = pd.DataFrame([row for run in saved["runs"] for row in run["scores"]])
    recomputed = benchmark.auroc_targets(scores)
    assert np.allclose(recomputed["gap"], [row["gap"] for row in saved["targets"]])
    assert len(saved["runs"]) >= 5 and saved["patients"] == 5000

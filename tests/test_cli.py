"""The command line end to end: outputs, metrics JSON, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from conftest import REPO

pytestmark = pytest.mark.slow  # each test starts a Python process; tests/test_cli_errors.py runs in-process


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "therapy_utils", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=300)


@pytest.mark.slow
def test_run_end_to_end_on_small_simulation(tmp_path):
    done = cli("run", "--preset", "realistic", "--n-sequences", "80", "--seed", "1", "--out", str(tmp_path),
               "--json", str(tmp_path / "m.json"), "--no-progress", "--save-model", str(tmp_path / "ckpt"))
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    for key in ("mse", "rmse", "r2", "oracle_r2", "baseline_r2", "epochs", "train_seconds", "n_train", "n_val",
                "n_test", "embedding_ari", "nn_same_group", "next_top1", "next_top3", "next_top1_oracle",
                "next_top3_oracle", "coverage_90", "true_coverage_90", "width_90", "oracle_width_90"):
        assert key in metrics
    assert (metrics["n_train"], metrics["n_val"], metrics["n_test"]) == (51, 13, 16)
    # each value is what its name says, not only present
    assert isinstance(metrics["epochs"], int) and metrics["epochs"] >= 1 and metrics["train_seconds"] > 0
    assert metrics["r2"] <= 1 and metrics["baseline_r2"] <= 1 and -1 <= metrics["embedding_ari"] <= 1
    for share in ("nn_same_group", "next_top1", "next_top3", "next_top1_oracle", "next_top3_oracle"):
        assert 0 <= metrics[share] <= 1, share
    assert metrics["next_top1"] <= metrics["next_top3"] and metrics["next_top1_oracle"] <= metrics["next_top3_oracle"]
    assert f"MSE: {metrics['mse']:.4f}" in done.stdout and f"RMSE: {metrics['rmse']:.4f}" in done.stdout
    assert 0 < metrics["oracle_r2"] <= 1 and metrics["rmse"] == pytest.approx(metrics["mse"] ** 0.5)
    assert f"R² Score: {metrics['r2']:.4f}" in done.stdout
    assert f"Oracle R² (true expected effectiveness): {metrics['oracle_r2']:.3f}" in done.stdout
    assert "epochs:" not in done.stderr  # --no-progress silences the bar
    # the 90 % interval: 16 test courses, so coverage is a multiple of 1/16; true coverage and widths are chances
    assert metrics["coverage_90"] * 16 == pytest.approx(round(metrics["coverage_90"] * 16))
    assert 0 < metrics["true_coverage_90"] <= 1 and 0 < metrics["oracle_width_90"] < metrics["width_90"] <= 1
    assert (f"{metrics['coverage_90']:.1%} of test outcomes inside, true coverage {metrics['true_coverage_90']:.1%}"
            in done.stdout)
    for figure in ("training_results.png", "embeddings_2d.png"):
        assert (tmp_path / figure).stat().st_size > 10_000
    assert (tmp_path / "ckpt" / "model.pt").is_file()


@pytest.mark.slow
def test_simulate_then_run_on_the_csv(tmp_path):
    data = tmp_path / "courses.csv"
    done = cli("simulate", "--preset", "original", "--n-sequences", "70", "--seed", "3", "--out", str(data))
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(data)
    assert list(table.columns) == ["course_id", "modules", "effectiveness", "split"] and len(table) == 70
    done = cli("run", "--data", str(data), "--out", str(tmp_path), "--json", str(tmp_path / "m.json"), "--no-progress")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["oracle_r2"] is None and "embedding_ari" not in metrics  # no ground truth for a user's data
    assert metrics["true_coverage_90"] is None and metrics["oracle_width_90"] is None
    assert 0 <= metrics["coverage_90"] <= 1 and 0 < metrics["width_90"] <= 1
    assert metrics["n_test"] == (table["split"] == "test").sum()
    assert "n/a, real data have no ground truth" in done.stdout


def test_simulate_long_format(tmp_path):
    out = tmp_path / "long.csv"
    assert cli("simulate", "--n-sequences", "5", "--long", "--out", str(out)).returncode == 0
    assert list(pd.read_csv(out).columns) == ["course_id", "session", "module", "effectiveness", "split"]


def test_simulate_clinic_writes_the_routine_outcome_export(tmp_path):
    out = tmp_path / "clinic.csv"
    done = cli("simulate", "--preset", "clinic", "--n-sequences", "40", "--seed", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == ["course_id", "session", "module", "score", "reliably_improved", "ended_early"]
    assert table["course_id"].nunique() == 40 and table["score"].between(0, 27).all()
    per_course = table.groupby("course_id")
    assert (per_course[["reliably_improved", "ended_early"]].nunique() == 1).all().all()  # one value per course
    first, last = per_course["score"].first(), per_course["score"].last()
    assert ((first - last >= 6).astype(int) == per_course["reliably_improved"].first()).all()
    assert f"of 40 clinic patients to {out}" in done.stdout


@pytest.mark.slow
def test_run_clinic_reports_the_auroc_after_every_session_beside_the_truth(tmp_path):
    done = cli("run", "--preset", "clinic", "--n-sequences", "400", "--seed", "3", "--json", str(tmp_path / "m.json"))
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert (metrics["n_patients"], metrics["n_test"]) == (400, 80)
    for key in ("auroc_by_session", "truth_auroc_by_session", "running_by_session"):
        assert list(metrics[key]) == [str(k) for k in range(1, 9)], key
    running = list(metrics["running_by_session"].values())
    assert running[0] == 80 and running == sorted(running, reverse=True)  # patients still coming, fewer each session
    assert all(0 <= v <= 1 for v in metrics["truth_auroc_by_session"].values() if v is not None)
    assert set(metrics["baseline_auroc_by_session"]) == {"intake score", "change so far", "scores so far",
                                                          "not on track"}
    assert f"{metrics['auroc_by_session']['3']:.3f}" in done.stdout  # the printed table is the JSON's
    export = tmp_path / "clinic.csv"
    cli("simulate", "--preset", "clinic", "--n-sequences", "300", "--seed", "3", "--out", str(export))
    own = cli("run", "--preset", "clinic", "--data", str(export), "--json", str(tmp_path / "own.json"))
    assert own.returncode == 0, own.stderr
    mine = json.loads((tmp_path / "own.json").read_text())
    assert mine["truth_auroc_by_session"] is None and mine["n_patients"] == 300 and mine["preset"] is None


@pytest.mark.parametrize("args,fragment", [
    (["run", "--n-sequences", "0"], "must be a positive integer, got 0"),
    (["simulate", "--n-sequences", "-3", "--out", "x.csv"], "must be a positive integer, got -3"),
    (["run", "--preset", "clinical"], "invalid choice: 'clinical'"),
    (["run", "--data", "missing.csv"], "no such data file: 'missing.csv'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments_print_one_line_and_exit_2(tmp_path, args, fragment):
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert fragment in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_bad_data_file_names_row_and_value(tmp_path):
    (tmp_path / "bad.csv").write_text("course_id,modules,effectiveness\n1,A B,0.5\n2,C,high\n")
    done = cli("run", "--data", "bad.csv", "--no-progress", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "error: row 1 (course_id 2): effectiveness 'high' is not a finite number"


@pytest.mark.parametrize("command", [[], ["run"], ["simulate"]])
def test_help_everywhere(command):
    done = cli(*command, "--help")
    assert done.returncode == 0 and "usage:" in done.stdout


@pytest.mark.slow
def test_the_best_model_trains_on_courses_longer_than_its_default_positions(tmp_path):
    """--model best has position embeddings for 64 sessions; a 70-session course once failed mid-training."""
    data = tmp_path / "courses.csv"
    made = cli("simulate", "--preset", "original", "--n-sequences", "60", "--seed", "4", "--out", str(data))
    assert made.returncode == 0, made.stderr
    table = pd.read_csv(data)
    table.loc[0, "modules"] = " ".join(["A", "B", "C", "D", "E"] * 14)  # 70 sessions
    table.to_csv(data, index=False)
    done = cli("run", "--model", "best", "--data", str(data), "--out", str(tmp_path), "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "The longest course has 70 sessions: position embeddings sized to cover it (max_length 64 → 70)." \
        in done.stdout

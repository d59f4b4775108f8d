"""The best model and its benchmark (notebook 08): chosen on selection seeds only, confirmed on fresh ones, and the
CLI reproduces a confirmation row."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO

from therapy_utils.course import checkpoints
from therapy_utils.data import Vocabulary, split_courses
from therapy_utils.model import BEST_CONFIG, EnsembleModel
from therapy_utils.train import BEST_TRAIN_CONFIG, NAMED_MODELS, TrainConfig, fit_new_model

SAVED = REPO / "benchmarks" / "results" / "accuracy.json"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "therapy_utils", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=600, env=None if env is None else {**os.environ, **env})


sys.path.insert(0, str(REPO / "benchmarks"))
import accuracy  # noqa: E402  (benchmarks/ is not a package)


@pytest.fixture(scope="module")
def results() -> dict:
    saved = json.loads(SAVED.read_text())
    assert not saved["quick"]
    return saved


@pytest.fixture(scope="module")
def saved(results) -> pd.DataFrame:
    return pd.DataFrame(results["runs"])


@pytest.mark.slow
def test_run_model_best_reproduces_a_confirmation_row(tmp_path, results, saved):
    seed = results["confirmation_seeds"][0]
    # one thread, like the benchmark's workers: the same data, split, seed and order of float sums
    done = cli("run", "--model", "best", "--seed", str(seed), "--out", str(tmp_path), "--json",
               str(tmp_path / "m.json"), "--no-progress", env={"OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    row = saved.query("phase == 'confirmation' and preset == 'original' and n == 500 and seed == @seed "
                      "and model == @results['winner']")
    assert len(row) == 1
    # identical on this machine (difference 0); another CPU sums floats in another order and this training amplifies
    # the last bits: twice the largest R² gap that benchmarks/float_order.py measured for this very recipe
    measured = json.loads((REPO / "benchmarks" / "results" / "float_order.json").read_text())["rows"]
    tolerance = 2 * max(r["r2_gap"] for r in measured if r["checkpoint"] == "original_best")
    assert metrics["r2"] == pytest.approx(row["r2"].iloc[0], abs=tolerance)
    assert metrics["model"] == "best" and "Modules most similar" not in done.stdout


@pytest.mark.slow
def test_run_model_best_on_a_users_csv(tmp_path):
    data = tmp_path / "courses.csv"
    assert cli("simulate", "--preset", "realistic", "--n-sequences", "150", "--out", str(data)).returncode == 0
    done = cli("run", "--model", "best", "--data", str(data), "--out", str(tmp_path), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "Training the best model..." in done.stdout and "R² Score:" in done.stdout


def test_unknown_model_name_is_one_line_exit_2():
    done = cli("run", "--model", "biggest")
    assert done.returncode == 2 and "invalid choice: 'biggest'" in done.stderr and len(done.stderr.splitlines()) == 1


def test_selection_and_confirmation_seeds_are_disjoint_and_each_run_keeps_to_its_phase(results, saved):
    selection, confirmation = set(results["selection_seeds"]), set(results["confirmation_seeds"])
    assert selection == set(accuracy.SELECTION_SEEDS) and confirmation == set(accuracy.CONFIRMATION_SEEDS)
    assert not selection & confirmation and len(confirmation) >= 5
    assert set(saved.query("phase == 'selection'")["seed"]) == selection
    assert set(saved.query("phase != 'selection'")["seed"]) <= confirmation


def test_the_reported_model_is_the_one_chosen_on_selection_validation_scores(results, saved):
    """Recomputed from the saved selection runs, with test scores and confirmation runs out of reach: the winner,
    the config `--model best` trains, and the benchmark's record agree."""
    selection = saved[saved["phase"] == "selection"].drop(columns=["r2", "share", "oracle_r2"])
    winner = accuracy.pick_winner(selection.to_dict("records"))
    assert winner == results["winner"]
    assert accuracy.CANDIDATES[winner] == NAMED_MODELS["best"]
    assert results["winner_config"] == json.loads(json.dumps(dataclasses.asdict(NAMED_MODELS["best"][0])))
    assert results["winner_train_config"] == dataclasses.asdict(NAMED_MODELS["best"][1])


def test_pick_winner_reads_validation_scores_of_selection_seeds_only():
    seed = accuracy.SELECTION_SEEDS[0]
    rows = [{"model": "one CNN (16/32, positions)", "phase": "selection", "seed": seed, "val_share": 0.9, "share": 0.1},
            {"model": accuracy.RIDGE, "phase": "selection", "seed": seed, "val_share": 0.5, "share": 0.99}]
    assert accuracy.pick_winner(rows) == "one CNN (16/32, positions)"  # the test score says otherwise: not read
    for wrong in ({"phase": "confirmation"}, {"seed": accuracy.CONFIRMATION_SEEDS[0]}):
        with pytest.raises(ValueError, match="selection reads selection runs on seeds"):
            accuracy.pick_winner([*rows, rows[1] | wrong | {"val_share": 1.0}])
    with pytest.raises(ValueError, match="is not a candidate"):
        accuracy.pick_winner([*rows, rows[1] | {"model": accuracy.REFERENCE, "val_share": 1.0}])


def test_saved_runs_cover_the_protocol(results, saved):
    counts = saved.query("phase == 'selection'").groupby(["preset", "model"]).size()
    assert counts.to_dict() == {(p, m): len(accuracy.SELECTION_SEEDS) for p in accuracy.PRESETS
                                for m in accuracy.CANDIDATES}
    confirmation = saved.query("phase == 'confirmation'")
    for name in (results["winner"], accuracy.RIDGE, accuracy.REFERENCE):
        counts = confirmation[confirmation["model"] == name].groupby(["preset", "n"]).size()
        assert counts.to_dict() == {(p, n): len(accuracy.CONFIRMATION_SEEDS) for p in accuracy.PRESETS
                                    for n in accuracy.CONFIRMATION_SIZES}
    assert np.allclose(saved["share"], saved["r2"] / saved["oracle_r2"])


def test_notebook_08_reproduces_the_winners_run_on_the_first_confirmation_seed():
    recipe = checkpoints.RECIPES["original_best"]
    assert checkpoints.CONFIRMATION_SEED == accuracy.CONFIRMATION_SEEDS[0] == recipe.seed
    assert (recipe.model_config, recipe.train_config) == NAMED_MODELS["best"]


def test_the_saved_table_is_the_saved_runs(results):
    assert accuracy.markdown(results) == (SAVED.parent / "accuracy.md").read_text()


def test_ensemble_members_train_separately_and_predict_the_mean(trained):
    _, vocab, parts = trained
    config = NAMED_MODELS["best"][0]
    model, result = fit_new_model(parts, vocab, config, TrainConfig(max_epochs=2), seed=0, device="cpu",
                                  progress=False)
    assert isinstance(model, EnsembleModel) and len(model.members) == BEST_CONFIG.ensemble_size
    assert sorted(result.history["member"].unique()) == list(range(BEST_CONFIG.ensemble_size))
    padded, lengths = torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([3, 2])
    with torch.inference_mode():
        members = torch.stack([m(padded, lengths) for m in model.members])
        assert torch.allclose(model(padded, lengths), members.mean(dim=0))
    assert not torch.equal(members[0], members[1])  # different starts


@pytest.mark.slow
def test_best_model_is_deterministic(small_courses):
    parts = split_courses(small_courses, random_state=0)
    vocab = Vocabulary.from_courses(small_courses["modules"])
    quick = replace(BEST_TRAIN_CONFIG, max_epochs=3)
    first, _ = fit_new_model(parts, vocab, BEST_CONFIG, quick, seed=5, device="cpu", progress=False)
    second, _ = fit_new_model(parts, vocab, BEST_CONFIG, quick, seed=5, device="cpu", progress=False)
    pairs = zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


@pytest.mark.slow
def test_benchmark_quick_run_writes_json_and_table(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "accuracy.py"), "--quick", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    quick = json.loads((tmp_path / "accuracy_quick.json").read_text())
    assert {r["preset"] for r in quick["runs"]} == {"original", "realistic"}
    assert {r["phase"] for r in quick["runs"]} == {"selection", "confirmation"}
    assert not set(quick["selection_seeds"]) & set(quick["confirmation_seeds"])
    assert f"| {quick['winner']} **(winner)** |" in (tmp_path / "accuracy_quick.md").read_text()

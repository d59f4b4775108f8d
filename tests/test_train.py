"""Training: the original's published numbers exactly, determinism, and the opt-in improvements."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from therapy_utils.course.cli import EXAMPLE_COURSES
from therapy_utils.data import Vocabulary, split_courses
from therapy_utils.embeddings import embedding_table, most_similar
from therapy_utils.evaluate import predict, regression_metrics
from therapy_utils.model import ModelConfig
from therapy_utils.simulate import preset_params, simulate_courses
from therapy_utils.train import TrainConfig, fit_new_model

PINNED_TORCH = "2.13.0"


def fit(courses, config: TrainConfig, seed: int, split_seed: int = 42):
    parts = split_courses(courses, random_state=split_seed)
    vocab = Vocabulary.from_courses(courses["modules"])
    model, result = fit_new_model(parts, vocab, ModelConfig(), config, seed, device="cpu", progress=False)
    return model, vocab, parts, result


@pytest.mark.slow
def test_original_published_results_exactly():
    """The original's published output, digit for digit. Bit-for-bit parity holds on the pinned torch only
    (pyproject.toml pins it; test_packaging checks the pin), and it holds under every float order
    benchmarks/float_order.py tries (CI runs this test a second time under MKL_CBWR=COMPATIBLE, 1 thread)."""
    assert torch.__version__.split("+")[0] == PINNED_TORCH, f"the parity numbers are for torch {PINNED_TORCH}"
    courses = simulate_courses(preset_params("original"), 500, seed=42)
    model, vocab, parts, result = fit(courses, TrainConfig(), seed=42)
    assert result.epochs == 38 and result.stopped_early
    y_test = parts["test"]["effectiveness"].to_numpy().astype(np.float32)
    metrics = regression_metrics(y_test, predict(model, parts["test"], vocab))
    assert [f"{metrics[k]:.4f}" for k in ("mse", "r2", "rmse")] == ["0.0192", "0.2979", "0.1386"]
    examples = predict(model, list(EXAMPLE_COURSES), vocab, batch_size=1)
    assert [f"{p:.3f}" for p in examples] == ["0.639", "0.616", "0.700", "0.512", "0.558"]
    similar = most_similar(embedding_table(model, vocab), "A")
    assert [(m, f"{s:.3f}") for m, s in similar] == [
        ("A", "1.000"), ("C", "0.357"), ("E", "0.191"), ("F", "0.129"), ("P", "0.107")]
    first = result.history.iloc[0]
    assert (f"{first.train_loss:.4f}", f"{first.val_loss:.4f}") == ("0.1724", "0.0542")


def test_two_runs_give_identical_predictions(small_courses):
    config = TrainConfig(max_epochs=4)
    first, vocab, parts, _ = fit(small_courses, config, seed=3)
    second, _, _, _ = fit(small_courses, config, seed=3)
    assert np.array_equal(predict(first, parts["test"], vocab), predict(second, parts["test"], vocab))
    other, _, _, _ = fit(small_courses, config, seed=4)
    assert not np.array_equal(predict(first, parts["test"], vocab), predict(other, parts["test"], vocab))


def test_training_does_not_touch_global_torch_random_state(small_courses):
    torch.manual_seed(99)
    before = torch.get_rng_state()
    fit(small_courses, TrainConfig(max_epochs=2), seed=0)
    assert torch.equal(torch.get_rng_state(), before)


def test_history_and_early_stopping(small_courses):
    _, _, _, result = fit(small_courses, TrainConfig(max_epochs=60, early_stopping_patience=3), seed=0)
    history = result.history
    assert list(history.columns) == ["epoch", "train_loss", "val_loss", "lr"]
    assert result.stopped_early and result.epochs < 60
    assert result.epochs - result.best_epoch == 3
    assert history["val_loss"].idxmin() + 1 == result.best_epoch


def test_restore_best_returns_best_validation_weights(small_courses):
    config = TrainConfig(max_epochs=40, early_stopping_patience=4, restore_best=True, weighted_val_loss=True)
    model, vocab, parts, result = fit(small_courses, config, seed=0)
    val = parts["val"]
    y_val = val["effectiveness"].to_numpy().astype(np.float32)
    per_course_mse = float(np.mean((predict(model, val, vocab) - y_val) ** 2))
    assert per_course_mse == pytest.approx(result.history["val_loss"].min(), rel=1e-5)
    assert result.history["val_loss"].iloc[-1] > result.history["val_loss"].min()


def test_weighted_validation_loss_is_the_per_course_mean(small_courses):
    config = TrainConfig(max_epochs=1, weighted_val_loss=True, batch_size=16)
    model, vocab, parts, result = fit(small_courses, config, seed=0)
    y_val = parts["val"]["effectiveness"].to_numpy().astype(np.float32)
    assert len(parts["val"]) % 16 != 0  # a short last batch is where the two losses differ
    expected = float(np.mean((predict(model, parts["val"], vocab) - y_val) ** 2))
    assert result.history["val_loss"].iloc[0] == pytest.approx(expected, rel=1e-5)


def test_fit_or_load_trains_once_then_loads_the_same_model(tmp_path, small_courses):
    from therapy_utils.checkpoint import fit_or_load, training_recipe

    def load(courses, model_config, train_config, **options):
        return fit_or_load(tmp_path, training_recipe(courses, model_config, train_config, seed=1), **options)

    config = TrainConfig(max_epochs=3)
    trained, vocab, history = load(small_courses, ModelConfig(), config, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv", "model.json", "model.pt", "training.json"]
    loaded, loaded_vocab, loaded_history = load(small_courses, ModelConfig(), config)
    test = split_courses(small_courses)["test"]
    assert loaded_vocab == vocab and loaded_history.equals(history)
    assert np.array_equal(predict(loaded, test, vocab), predict(trained, test, vocab))
    (tmp_path / "model.pt").write_bytes(b"stale")  # overwrite=True must retrain rather than read this
    retrained, _, _ = load(small_courses, ModelConfig(), config, overwrite=True, progress=False)
    assert np.array_equal(predict(retrained, test, vocab), predict(trained, test, vocab))
    with pytest.raises(ValueError, match=r"a different train_config than asked for; pass overwrite=True"):
        load(small_courses, ModelConfig(), TrainConfig(max_epochs=4))
    with pytest.raises(ValueError, match=r"a different courses, courses_sha256 than"):
        load(small_courses.iloc[:100], ModelConfig(), config)
    recipe = json.loads((tmp_path / "training.json").read_text())
    del recipe["model_config"]["wide"], recipe["model_config"]["position_init_std"]  # saved before they existed
    (tmp_path / "training.json").write_text(json.dumps(recipe))
    assert load(small_courses, ModelConfig(), config)[2].equals(history)  # = the defaults
    with pytest.raises(ValueError, match=r"a different model_config than asked for"):
        load(small_courses, ModelConfig(wide=True), config)
    (tmp_path / "training.json").unlink()  # a checkpoint from before recipes were recorded
    with pytest.raises(ValueError, match=r"does not say how it was trained \(no training.json\)"):
        load(small_courses, ModelConfig(), config)


def test_a_course_longer_than_the_position_embeddings_is_refused_before_training():
    import pandas as pd

    from therapy_utils.train import check_lengths_fit

    parts = {"train": pd.DataFrame({"course_id": [7, 8], "modules": [("A",) * 3, ("B",) * 9]}),
             "val": pd.DataFrame({"course_id": [9], "modules": [("A",) * 2]})}
    config = ModelConfig(architecture="cnn", pooling="mean", positional=True, max_length=8)
    with pytest.raises(ValueError, match=r"train course_id 8 has 9 sessions, more than ModelConfig.max_length 8 .*"
                                         r"set max_length to at least 9"):
        check_lengths_fit(parts, config)
    check_lengths_fit(parts, ModelConfig(architecture="cnn", pooling="mean", positional=True, max_length=9))
    check_lengths_fit(parts, ModelConfig(max_length=8))  # no position embeddings, no limit


def test_training_on_a_gpu_puts_the_callers_cuda_generator_back(monkeypatch):
    """Training seeds the CUDA generator for its dropout masks; the caller's state is restored afterwards (checked
    with a stand-in for torch.cuda's state functions, since CI has no GPU)."""
    from therapy_utils import train

    calls = []
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device: calls.append(("get", device)) or "caller's state")
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device: calls.append(("set", state, device)))
    gpu = torch.device("cuda:0")
    with pytest.raises(RuntimeError), train._cuda_rng_restored(gpu):
        raise RuntimeError("training failed half-way")
    assert calls == [("get", gpu), ("set", "caller's state", gpu)]
    calls.clear()
    with train._cuda_rng_restored(torch.device("cpu")):
        pass
    assert calls == []


def test_the_command_line_trains_on_the_cpu_unless_told_otherwise():
    from therapy_utils.course.cli import build_parser

    assert build_parser().parse_args(["run"]).device == "cpu"

"""The fast paths (issue 8) equal the simple ones: simulation draw for draw, batches and predictions to 1e-6."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO

from therapy_utils import outcome, simulate
from therapy_utils.batching import EncodedCourses, length_buckets, make_loader
from therapy_utils.data import Vocabulary, split_courses
from therapy_utils.evaluate import predict
from therapy_utils.model import BEST_CONFIG, MULTITASK_CONFIG, ModelConfig, build_model, torch_rng
from therapy_utils.train import FAST_TRAIN_CONFIG, fit_new_model


def simple_markov(params: simulate.SimulatorParams, n: int, seed: int) -> pd.DataFrame:
    """The straightforward generator: compare each draw with the whole cumulative row, course by course."""
    rng = np.random.default_rng(seed)
    starts, trans = simulate.transition_matrices(params)
    severity = rng.choice(len(params.severity_levels), size=n, p=params.severity_probs)
    lengths = rng.integers(params.min_length, params.max_length + 1, size=n)
    cum_start, cum_trans = np.cumsum(starts, axis=1), np.cumsum(trans, axis=2)
    last = len(params.modules) - 1
    matrix = np.empty((n, params.max_length), dtype=np.int64)
    matrix[:, 0] = np.minimum((rng.random(n)[:, None] > cum_start[severity]).sum(1), last)
    for t in range(1, params.max_length):
        matrix[:, t] = np.minimum((rng.random(n)[:, None] > cum_trans[severity, matrix[:, t - 1]]).sum(1), last)
    noise = rng.normal(0.0, params.noise_sd, size=n)
    courses = [tuple(params.modules[i] for i in row[:k]) for row, k in zip(matrix, lengths, strict=True)]
    levels = np.asarray(params.severity_levels)[severity]
    effects = dict(params.module_effects)
    scores = []
    for course, level, eps in zip(courses, levels, noise, strict=True):
        motifs = sum(course[i:i + len(m)] == m for m in params.motifs for i in range(len(course)))
        score = (params.base_mean + sum(effects.get(m, 0.0) for m in course) + params.motif_boost * motifs
                 - params.fatigue_step * (len(course) > params.fatigue_threshold)
                 - params.fatigue_per_session * max(len(course) - params.fatigue_threshold, 0)
                 - params.severity_strength * params.severity_outcome * level)
        scores.append(min(max(score + eps, 0.0), 1.0))
    return pd.DataFrame({"modules": courses, "effectiveness": scores, "severity": levels})


@pytest.mark.slow
@pytest.mark.parametrize("strength", [0.0, 2.0])
def test_vectorised_simulator_draws_the_same_courses_as_the_simple_one(strength):
    params = simulate.preset_params("realistic", severity_strength=strength)
    fast = simulate.simulate_courses(params, 20_000, seed=5)
    simple = simple_markov(params, 20_000, seed=5)
    assert list(fast["modules"]) == list(simple["modules"])
    assert np.array_equal(fast["severity"].to_numpy(), simple["severity"].to_numpy())
    # summed in another order, so equal to rounding
    assert np.allclose(fast["effectiveness"], simple["effectiveness"], rtol=0, atol=1e-12)


@pytest.mark.slow
def test_simulated_transitions_follow_the_true_matrix():
    """200,000 courses: observed next-module frequencies within 4 standard errors of the true rows."""
    params = simulate.preset_params("realistic")
    courses = simulate.simulate_courses(params, 200_000, seed=11)
    matrix, lengths = outcome.courses_to_matrix(courses["modules"], params.modules)
    _, trans = simulate.transition_matrices(params)
    ok = np.arange(matrix.shape[1] - 1)[None, :] < (lengths - 1)[:, None]
    counts = np.zeros((17, 17))
    np.add.at(counts, (matrix[:, :-1][ok], matrix[:, 1:][ok]), 1)
    rows = counts.sum(axis=1, keepdims=True)
    se = np.sqrt(trans[0] * (1 - trans[0]) / rows)
    assert np.all(np.abs(counts / rows - trans[0]) < 4 * se + 1e-12)


def test_courses_are_tuples_of_plain_strings_and_other_module_names_work():
    params = simulate.preset_params("realistic")
    course = simulate.simulate_courses(params, 5, seed=0)["modules"][0]
    assert isinstance(course, tuple) and all(type(m) is str for m in course)
    names = tuple(f"M{i:02d}" for i in range(17))
    renamed = replace(params, modules=names,
                      groups=tuple((g, tuple(names[params.modules.index(m)] for m in ms)) for g, ms in params.groups),
                      motifs=(), module_effects=())
    other = simulate.simulate_courses(renamed, 200, seed=0)
    assert all(m in names for c in other["modules"] for m in c)


def test_length_buckets_cover_every_course_once_in_equal_length_batches():
    lengths = torch.tensor([3, 5, 3, 4, 5, 5, 3, 4, 5, 5])
    with torch_rng(torch.Generator().manual_seed(0)):
        batches = length_buckets(lengths, batch_size=2, shuffle=True)
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    assert all(len(b) <= 2 and len(set(lengths[b].tolist())) == 1 for b in batches)
    with torch_rng(torch.Generator().manual_seed(0)):
        again = length_buckets(lengths, batch_size=2, shuffle=True)
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        length_buckets(lengths, 0, shuffle=False)


def test_bucketed_batches_hold_the_same_tensors_as_the_padded_table(small_courses):
    vocab = Vocabulary.from_courses(small_courses["modules"])
    loader = make_loader(small_courses, vocab, batch_size=8, shuffle=False, bucketing=True)
    encoded = EncodedCourses.from_courses(small_courses, vocab)
    batches = list(loader)
    assert len(batches) == len(loader)
    for (padded, lengths, targets), index in zip(batches, loader.indices, strict=True):
        assert (lengths == padded.shape[1]).all()
        assert torch.equal(padded, encoded.padded[index, :padded.shape[1]])
        assert torch.equal(targets, torch.tensor(small_courses["effectiveness"].to_numpy()[index.numpy()],
                                                 dtype=torch.float32))


@pytest.mark.slow
@pytest.mark.parametrize("config", [ModelConfig(), replace(BEST_CONFIG, ensemble_size=2), MULTITASK_CONFIG,
                                    ModelConfig(architecture="gru", bidirectional=True, pooling="last+mean"),
                                    ModelConfig(reverse=True, pooling="last+sum")],
                         ids=["original", "cnn-ensemble", "multitask", "gru-bidirectional", "reversed"])
def test_fast_predictions_equal_simple_ones_on_the_same_weights(config):
    courses = simulate.simulate_courses(simulate.preset_params("realistic"), 2_000, seed=3)
    vocab = Vocabulary.from_courses(courses["modules"])
    model = build_model(len(vocab), config, torch.Generator().manual_seed(1))
    simple = predict(model, courses, vocab)
    fast = predict(model, courses, vocab, batch_size=512, bucketing=True)
    assert np.abs(simple - fast).max() <= 1e-6


@pytest.mark.slow
def test_fast_training_config_trains_deterministically(small_courses):
    parts = split_courses(small_courses, random_state=0)
    vocab = Vocabulary.from_courses(small_courses["modules"])
    config = replace(FAST_TRAIN_CONFIG, batch_size=16, max_epochs=15)
    first, result = fit_new_model(parts, vocab, ModelConfig(), config, seed=0, device="cpu", progress=False)
    again, _ = fit_new_model(parts, vocab, ModelConfig(), config, seed=0, device="cpu", progress=False)
    assert np.array_equal(predict(first, parts["test"], vocab), predict(again, parts["test"], vocab))
    assert result.history["train_loss"].iloc[-1] < result.history["train_loss"].iloc[0] / 2


@pytest.mark.slow
def test_speed_benchmark_smoke(tmp_path):
    script = str(REPO / "benchmarks" / "speed.py")
    done = subprocess.run([sys.executable, script, "--quick", "--only", "simulate", "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "speed_quick.json").read_text())
    assert results["simulate"]["realistic"]["n"] == 20_000 and results["simulate"]["realistic"]["seconds"] > 0
    assert "| realistic | 20,000 |" in (tmp_path / "speed_quick.md").read_text()
    missing = subprocess.run([sys.executable, script, "--original", str(tmp_path / "missing.py")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "missing.py" in missing.stderr

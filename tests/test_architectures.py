"""The general sequence model of notebook 08: every encoder and pooling, padding invisible, configs checked."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from therapy_utils.data import Vocabulary
from therapy_utils.evaluate import predict
from therapy_utils.model import (
    ModelConfig,
    SequenceRegressor,
    TherapySequenceModel,
    build_model,
    load_checkpoint,
    reverse_courses,
    save_checkpoint,
)

MODULES = tuple("ABCDEFGHIJKLMNOPQ")
VOCAB = Vocabulary(MODULES)
course = st.lists(st.sampled_from(MODULES), min_size=1, max_size=20).map(tuple)
CONFIGS = {
    "reversed lstm, last+sum": ModelConfig(reverse=True, pooling="last+sum"),
    "bidirectional gru, attention+max": ModelConfig(architecture="gru", bidirectional=True, pooling="attention+max"),
    "2-layer lstm, mean": ModelConfig(num_layers=2, bidirectional=True, pooling="last+mean", head_hidden=8),
    "cnn with positions, sum": ModelConfig(architecture="cnn", positional=True, pooling="sum", head_hidden=16),
    "transformer, mean": ModelConfig(architecture="transformer", positional=True, pooling="mean", num_layers=2),
    "wide & deep cnn, positions start at 0": ModelConfig(architecture="cnn", positional=True, pooling="sum", wide=True,
                                                         position_init_std=0.0),
}


@pytest.fixture(scope="module", params=list(CONFIGS))
def model(request):
    return build_model(len(VOCAB), CONFIGS[request.param], torch.Generator().manual_seed(3)).eval()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=course, others=st.lists(course, min_size=1, max_size=8), position=st.integers(0, 8))
def test_prediction_is_the_same_alone_and_inside_any_padded_batch(model, target, others, position):
    batch = list(others)
    batch.insert(min(position, len(batch)), target)
    alone = predict(model, [target], VOCAB, batch_size=1)[0]
    inside = predict(model, batch, VOCAB, batch_size=len(batch))[batch.index(target)]
    assert abs(float(alone) - float(inside)) <= 1e-5


def test_the_original_shape_builds_the_original_class_with_identical_weights():
    original = build_model(18, ModelConfig(), torch.Generator().manual_seed(42))
    assert type(original) is TherapySequenceModel
    general = build_model(18, ModelConfig(pooling="mean"), torch.Generator().manual_seed(42))
    assert isinstance(general, SequenceRegressor)


def test_reversing_keeps_padding_at_the_end():
    padded = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0], [6, 7, 8, 9]])
    reversed_ = reverse_courses(padded, torch.tensor([3, 2, 4]))
    assert reversed_.tolist() == [[3, 2, 1, 0], [5, 4, 0, 0], [9, 8, 7, 6]]


def test_reading_order_matters_only_when_asked():
    forward = build_model(18, ModelConfig(pooling="last+mean"), torch.Generator().manual_seed(0)).eval()
    backward = build_model(18, ModelConfig(pooling="last+mean", reverse=True), torch.Generator().manual_seed(0)).eval()
    courses = [("A", "B", "C"), ("C", "B", "A")]
    assert np.allclose(predict(forward, courses, VOCAB)[::-1], predict(backward, courses, VOCAB), atol=1e-6)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"architecture": "rnn"}, "unknown architecture 'rnn'"),
    ({"pooling": "last+median"}, "unknown pooling 'median'"),
    ({"architecture": "cnn", "pooling": "last"}, "pooling 'last' needs a recurrent architecture, not 'cnn'"),
])
def test_bad_configs_are_refused_naming_the_value(overrides, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**overrides)


def test_course_longer_than_the_position_table_is_refused():
    model = build_model(18, ModelConfig(architecture="cnn", positional=True, pooling="sum", max_length=5),
                        torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="6 modules exceeds max_length 5"):
        predict(model, [tuple("ABCDEF")], VOCAB)


def test_general_model_checkpoint_round_trip(tmp_path):
    config = CONFIGS["cnn with positions, sum"]
    model = build_model(len(VOCAB), config, torch.Generator().manual_seed(1)).eval()
    save_checkpoint(model, VOCAB, tmp_path)
    loaded, _ = load_checkpoint(tmp_path, expected_vocab=VOCAB)
    assert loaded.config == config and isinstance(loaded, SequenceRegressor)
    courses = [("A", "B", "A"), ("Q",)]
    assert np.array_equal(predict(loaded, courses, VOCAB), predict(model, courses, VOCAB))


def test_the_wide_part_starts_silent_and_leaves_every_other_weight_as_drawn():
    """Wide & deep (08_model_comparison): the linear part on counts is created last and at zero, so at the start
    the model predicts exactly what the same config without it predicts from the same seed."""
    deep = ModelConfig(architecture="cnn", positional=True, pooling="sum", head_hidden=8)
    plain = build_model(len(VOCAB), deep, torch.Generator().manual_seed(3)).eval()
    wide = build_model(len(VOCAB), replace(deep, wide=True), torch.Generator().manual_seed(3)).eval()
    padded, lengths = torch.tensor([[1, 2, 3, 1], [4, 5, 0, 0]]), torch.tensor([4, 2])
    with torch.inference_mode():
        assert torch.equal(plain(padded, lengths), wide(padded, lengths))
    assert all(torch.equal(plain.state_dict()[k], v) for k, v in wide.state_dict().items() if not k.startswith("wide"))


def test_thewide_features_are_module_counts_and_length():
    model = build_model(len(VOCAB), ModelConfig(architecture="cnn", pooling="sum", wide=True),
                        torch.Generator().manual_seed(0))
    features = model.wide_features(torch.tensor([[1, 2, 1, 0], [3, 0, 0, 0]]), torch.tensor([3, 1]))
    expected = torch.zeros(2, len(VOCAB))
    expected[0, [0, 1, 2]] = torch.tensor([3.0, 2.0, 1.0])  # column 0: the length; then module 1 twice, module 2 once
    expected[1, [0, 3]] = 1.0
    assert torch.equal(features, expected / 10)


def test_position_init_std_sets_the_starting_positions():
    """0: every position starts equal (the network begins order-blind as to where a module sits); 0.1: small ones."""
    config = ModelConfig(architecture="cnn", positional=True, pooling="sum", position_init_std=0.0)
    assert not build_model(len(VOCAB), config, torch.Generator().manual_seed(0)).position.weight.any()
    small = build_model(len(VOCAB), replace(config, position_init_std=0.1), torch.Generator().manual_seed(0))
    assert small.position.weight.std().item() == pytest.approx(0.1, rel=0.1)  # 64 × 32 draws: sd of the sd ≈ 1.6 %

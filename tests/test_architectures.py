"""The general sequence model of notebook 08: every encoder and pooling, padding invisible, configs checked."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from therapy_utils.checkpoint import load_checkpoint, save_checkpoint
from therapy_utils.data import Vocabulary
from therapy_utils.evaluate import predict
from therapy_utils.model import (
    MULTITASK_CONFIG,
    ModelConfig,
    SequenceRegressor,
    TherapySequenceModel,
    build_model,
    next_module_loss,
    reverse_courses,
    torch_rng,
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
    torch.manual_seed(42)  # the original script's way: the global seed, then the class
    scripted = TherapySequenceModel(18, ModelConfig())
    assert original.state_dict().keys() == scripted.state_dict().keys()
    assert all(torch.equal(weight, scripted.state_dict()[name]) for name, weight in original.state_dict().items())
    # the general class draws the same weights in the same order: only the pooling differs
    general = build_model(18, ModelConfig(pooling="mean"), torch.Generator().manual_seed(42))
    assert type(general) is SequenceRegressor
    drawn = [(a.shape, torch.equal(a, b)) for a, b in zip(original.state_dict().values(),
                                                          general.state_dict().values(), strict=True)]
    assert drawn == [(a.shape, True) for a in original.state_dict().values()]


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


def test_the_wide_features_are_module_counts_and_length():
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


@pytest.mark.parametrize("config", [ModelConfig(), MULTITASK_CONFIG, *CONFIGS.values()],
                         ids=["original", "next-module head, small init", *CONFIGS])
def test_the_padding_row_starts_at_zero_and_no_training_or_weight_decay_moves_it(config):
    net = build_model(len(VOCAB), config, torch.Generator().manual_seed(0))
    tables = net.embedding_layers()
    assert all(t.padding_idx == 0 and not t.weight[0].any() for t in tables)
    if getattr(net, "position", None) is not None:
        assert net.position.padding_idx is None  # position 0 is the first module, not padding
    before = [t.weight[1:].clone() for t in tables]
    optimiser = torch.optim.AdamW(net.parameters(), lr=0.05, weight_decay=0.5)  # decay would shrink a live row
    padded, lengths = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]]), torch.tensor([3, 2])
    for _ in range(3):
        optimiser.zero_grad()
        loss = (net(padded, lengths) - 1).pow(2).sum()
        if config.next_module_weight:
            loss = loss + next_module_loss(net.forward_with_next(padded, lengths)[1], padded)
        loss.backward()
        optimiser.step()
    assert all(not t.weight[0].any() for t in tables)
    assert all(not torch.equal(t.weight[1:], b) for t, b in zip(tables, before, strict=True))  # the rest trained


def test_the_padding_row_is_drawn_then_zeroed_so_every_other_weight_is_drawn_as_before():
    """Parity: the original's generator draws the whole table, then the LSTM; zeroing one row draws nothing."""
    net = build_model(len(VOCAB), ModelConfig(), torch.Generator().manual_seed(0))
    with torch_rng(torch.Generator().manual_seed(0)):
        table = torch.nn.Embedding(len(VOCAB), ModelConfig().embedding_dim)
        lstm = torch.nn.LSTM(ModelConfig().embedding_dim, ModelConfig().hidden_dim, batch_first=True)
    assert torch.equal(net.embedding.weight[1:], table.weight[1:])
    assert all(torch.equal(a, b) for a, b in zip(net.lstm.parameters(), lstm.parameters(), strict=True))


def test_the_next_module_head_scores_real_modules_only():
    net = build_model(len(VOCAB), MULTITASK_CONFIG, torch.Generator().manual_seed(0))
    _, logits = net.forward_with_next(torch.tensor([[1, 2, 0]]), torch.tensor([2]))
    assert logits.shape == (1, 3, len(MODULES))  # one column per module, none for padding
    # targets are shifted by one (column i is vocabulary index i + 1); padding targets are ignored
    by_hand = torch.nn.functional.cross_entropy(logits[0, :1], torch.tensor([1]))
    assert torch.allclose(next_module_loss(logits, torch.tensor([[1, 2, 0]])), by_hand)

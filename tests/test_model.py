"""The model: padding is invisible, and checkpoints round-trip or fail loudly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from therapy_utils.checkpoint import load_checkpoint, save_checkpoint
from therapy_utils.data import Vocabulary
from therapy_utils.evaluate import predict
from therapy_utils.model import ModelConfig, build_model, torch_rng

MODULES = tuple("ABCDEFGHIJKLMNOPQ")
course = st.lists(st.sampled_from(MODULES), min_size=1, max_size=25).map(tuple)


@pytest.fixture(scope="module")
def model_and_vocab():
    vocab = Vocabulary(MODULES)
    return build_model(len(vocab), ModelConfig(), torch.Generator().manual_seed(1)).eval(), vocab


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=course, others=st.lists(course, min_size=0, max_size=12), position=st.integers(0, 12))
def test_prediction_is_the_same_alone_and_inside_any_padded_batch(model_and_vocab, target, others, position):
    model, vocab = model_and_vocab
    batch = list(others)
    batch.insert(min(position, len(batch)), target)
    alone = predict(model, [target], vocab, batch_size=1)[0]
    inside = predict(model, batch, vocab, batch_size=len(batch))[batch.index(target)]
    assert abs(float(alone) - float(inside)) <= 1e-6


def test_forward_shape_is_one_score_per_course(model_and_vocab):
    model, _ = model_and_vocab
    out = model(torch.tensor([[1, 2, 0], [3, 0, 0]]), torch.tensor([2, 1]))
    assert out.shape == (2,)
    single = model(torch.tensor([[1, 2]]), torch.tensor([2]))
    assert single.shape == (1,)


def test_build_model_uses_only_the_given_generator():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = build_model(18, ModelConfig(), torch.Generator().manual_seed(5))
    second = build_model(18, ModelConfig(), torch.Generator().manual_seed(5))
    assert torch.equal(torch.get_rng_state(), before)
    pairs = zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_torch_rng_matches_the_global_stream_and_advances_the_generator():
    generator = torch.Generator().manual_seed(42)
    with torch_rng(generator):
        first = torch.rand(3)
    with torch_rng(generator):
        second = torch.rand(3)
    torch.manual_seed(42)
    assert torch.equal(torch.cat([first, second]), torch.rand(6))


def test_checkpoint_round_trip(tmp_path, model_and_vocab):
    model, vocab = model_and_vocab
    save_checkpoint(model, vocab, tmp_path / "ckpt")
    loaded, loaded_vocab = load_checkpoint(tmp_path / "ckpt", expected_vocab=vocab)
    courses = [("A", "B", "A"), ("Q", "P")]
    assert loaded_vocab == vocab
    assert np.array_equal(predict(loaded, courses, vocab), predict(model, courses, vocab))
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["model.json", "model.pt"]


def test_checkpoint_for_another_vocabulary_is_refused(tmp_path, model_and_vocab):
    model, vocab = model_and_vocab
    save_checkpoint(model, vocab, tmp_path)
    with pytest.raises(ValueError, match="does not match the data's"):
        load_checkpoint(tmp_path, expected_vocab=Vocabulary(("A", "B")))


def test_checkpoint_whose_config_disagrees_with_weights_is_refused(tmp_path, model_and_vocab):
    model, vocab = model_and_vocab
    save_checkpoint(model, vocab, tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["config"]["hidden_dim"] = 16
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="does not match its config"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("weights,message", [
    (b"\x00garbage" * 10, "is not a readable checkpoint"),
    (None, "not a state dict of tensors"),
])
def test_corrupt_or_foreign_weights_are_refused(tmp_path, model_and_vocab, weights, message):
    model, vocab = model_and_vocab
    save_checkpoint(model, vocab, tmp_path)
    if weights is None:
        torch.save({"epoch": 3, "note": "not weights"}, tmp_path / "model.pt")
    else:
        (tmp_path / "model.pt").write_bytes(weights)
    with pytest.raises(ValueError, match=message):
        load_checkpoint(tmp_path)


def test_non_checkpoint_description_and_missing_files_are_refused(tmp_path, model_and_vocab):
    model, vocab = model_and_vocab
    with pytest.raises(FileNotFoundError, match=r"model\.pt"):
        load_checkpoint(tmp_path / "absent")
    save_checkpoint(model, vocab, tmp_path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a therapy_utils checkpoint description"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("config", [ModelConfig(), ModelConfig(architecture="cnn", pooling="sum", positional=True)],
                         ids=["lstm", "cnn"])
def test_predict_is_the_training_loaders_batches_and_the_scorer_is_predict(config):
    """One inference path: predict() runs exactly the padded batches the DataLoader builds (so the parity numbers
    stay bit for bit), and the scorer that searches and explanations use is predict() in float64."""
    from therapy_utils.batching import make_loader
    from therapy_utils.evaluate import model_scorer

    vocab = Vocabulary(MODULES)
    net = build_model(len(vocab), config, torch.Generator().manual_seed(2)).eval()
    rng = np.random.default_rng(0)
    courses = [tuple(rng.choice(MODULES, size=rng.integers(1, 21))) for _ in range(37)]
    with torch.inference_mode():
        expected = torch.cat([net(padded, lengths) for padded, lengths, _ in make_loader(
            pd.DataFrame({"modules": courses}), vocab, 16, shuffle=False)]).numpy()
    assert np.array_equal(predict(net, courses, vocab, batch_size=16), expected)
    scored = model_scorer(net, vocab, chunk=16)(courses)
    assert scored.dtype == np.float64 and np.array_equal(scored, expected.astype(np.float64))
    assert model_scorer(net, vocab)([]).shape == (0,)
    with pytest.raises(ValueError, match="row 2: module 'Z' is not in the vocabulary"):
        model_scorer(net, vocab)([("A",), ("B",), ("A", "Z")])


def test_an_ensemble_has_no_single_embedding_table_and_says_so():
    from therapy_utils.embeddings import embedding_table
    from therapy_utils.model import module_embedding

    vocab = Vocabulary(MODULES)
    ensemble = build_model(len(vocab), ModelConfig(architecture="cnn", pooling="sum", ensemble_size=3),
                           torch.Generator().manual_seed(3))
    with pytest.raises(ValueError, match=r"3 module embedding tables .*pick a member"):
        embedding_table(ensemble, vocab)
    assert module_embedding(ensemble.members[0]) is ensemble.members[0].embedding

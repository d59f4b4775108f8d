"""Configs refuse nonsense at construction, naming the field, its value and what it allows."""

from __future__ import annotations

import re

import numpy as np
import pytest

from therapy_utils.model_config import TRANSFORMER_HEADS, ModelConfig
from therapy_utils.train import TrainConfig


@pytest.mark.parametrize(("overrides", "field", "allowed"), [
    ({"embedding_dim": 0}, "embedding_dim", "at least 1"),
    ({"hidden_dim": -4}, "hidden_dim", "at least 1"),
    ({"num_layers": 0}, "num_layers", "at least 1"),
    ({"max_length": 0}, "max_length", "at least 1"),
    ({"ensemble_size": 0}, "ensemble_size", "at least 1"),
    ({"head_hidden": -1}, "head_hidden", "positive integer width"),
    ({"hidden_dim": 2.5}, "hidden_dim", "an integer"),  # a width is counted: 2.5 was once accepted
    ({"embedding_dim": 32.0}, "embedding_dim", "an integer"),
    ({"num_layers": True}, "num_layers", "an integer"),
    ({"head_hidden": 16.0}, "head_hidden", "integer width"),
    ({"dropout": 1.0}, "dropout", "[0, 1)"),
    ({"dropout": -0.1}, "dropout", "[0, 1)"),
    ({"next_module_weight": -1.0}, "next_module_weight", "positive weight"),
    ({"embedding_init_std": 0.0}, "embedding_init_std", "positive standard deviation"),
    ({"architecture": "cnn", "pooling": "sum", "positional": True, "position_init_std": -0.1}, "position_init_std",
     "0 or more"),
    ({"architecture": "cnn", "pooling": "sum", "position_init_std": 0.1}, "position_init_std", "positional=True"),
    ({"architecture": "cnn", "pooling": "sum", "kernel_size": 4}, "kernel_size", "odd"),
    ({"architecture": "transformer", "pooling": "mean", "embedding_dim": 30}, "embedding_dim",
     f"multiple of the Transformer's {TRANSFORMER_HEADS}"),
])
def test_model_config_names_the_field_and_what_it_allows(overrides, field, allowed):
    with pytest.raises(ValueError, match=rf"ModelConfig\.{field} must be .*{re.escape(allowed)}.*got"):
        ModelConfig(**overrides)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"architecture": "rnn"}, "unknown architecture 'rnn'"),
    ({"pooling": "last+median"}, "unknown pooling 'median'"),
    ({"architecture": "cnn", "pooling": "last"}, "pooling 'last' needs a recurrent"),
])
def test_model_config_names_unknown_choices(overrides, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**overrides)


def test_valid_edge_values_are_accepted():
    ModelConfig(dropout=0.0, head_hidden=0, kernel_size=4)  # an even kernel is only refused for the CNN it shapes
    ModelConfig(architecture="transformer", pooling="mean", embedding_dim=8)
    TrainConfig(max_epochs=0, lr_patience=0, weight_decay=0.0)  # 0 epochs: the untrained starting point
    ModelConfig(hidden_dim=np.int64(8), embedding_dim=np.int32(4))  # numpy's integers are integers


@pytest.mark.parametrize(("overrides", "field"), [
    ({"lr": 0.0}, "lr"), ({"weight_decay": -1e-4}, "weight_decay"), ({"batch_size": 0}, "batch_size"),
    ({"max_epochs": -1}, "max_epochs"), ({"early_stopping_patience": 0}, "early_stopping_patience"),
    ({"lr_patience": -1}, "lr_patience"), ({"lr_factor": 1.0}, "lr_factor"), ({"lr_factor": 0.0}, "lr_factor"),
    ({"batch_size": 32.5}, "batch_size"), ({"max_epochs": 10.0}, "max_epochs"),
    ({"early_stopping_patience": 2.5}, "early_stopping_patience"), ({"lr_patience": 1.5}, "lr_patience"),
])
def test_train_config_names_the_field(overrides, field):
    value = repr(overrides[field])
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field} must be .*got {re.escape(value)}"):
        TrainConfig(**overrides)


def test_presets_are_one_registry_the_command_line_offers(capsys):
    from therapy_utils import simulate
    from therapy_utils.course import cli
    from therapy_utils.train import NAMED_MODELS

    assert set(simulate.PRESETS) >= {"original", "realistic", "flowcharts", "stopping_rule", "confounded"}
    assert simulate.preset_params("flowcharts") == simulate.preset_params("realistic", **simulate.FLOWCHARTS)
    assert simulate.preset_params("stopping_rule").stopping_threshold == simulate.STOPPING_RULE["stopping_threshold"]
    assert simulate.preset_params("confounded", noise_sd=0.1).noise_sd == 0.1  # overrides on top of a preset
    assert cli.MODELS == tuple(NAMED_MODELS)
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    run_help = " ".join(capsys.readouterr().out.split())
    assert all(name in run_help for name in simulate.PRESETS), run_help


def test_an_unknown_preset_is_named_with_the_choices():
    from therapy_utils import simulate

    with pytest.raises(ValueError, match=r"unknown preset 'clinic'; choose one of \['original', 'realistic'"):
        simulate.preset_params("clinic")


@pytest.mark.parametrize("config", [ModelConfig(), ModelConfig(architecture="gru", pooling="mean"),
                                    ModelConfig(architecture="cnn", pooling="sum"),
                                    ModelConfig(architecture="transformer", pooling="mean", embedding_dim=8),
                                    ModelConfig(architecture="cnn", pooling="sum", ensemble_size=3)],
                         ids=["original", "gru", "cnn", "transformer", "ensemble"])
def test_every_model_honours_one_interface(config):
    import torch

    from therapy_utils.model import build_model

    net = build_model(18, config, torch.Generator().manual_seed(0)).eval()
    assert net.config == config and net.next_head is None
    tables = net.embedding_layers()
    assert len(tables) == config.ensemble_size  # "the" embedding table exists only for one model
    assert all(isinstance(t, torch.nn.Embedding) and t.num_embeddings == 18 for t in tables)
    padded, lengths = torch.tensor([[1, 2, 1], [3, 4, 5]]), torch.tensor([3, 3])
    with torch.no_grad():
        scores = net(padded, lengths)
        assert scores.shape == (2,) and scores[0] != scores[1]
        for table in tables:  # the tables it lists are the ones it reads: blank them and the courses look alike
            table.weight.zero_()
        blank = net(padded, lengths)
    # equal up to float rounding between a batch's rows (measured: at most 1e-8 here)
    assert abs(float(blank[0] - blank[1])) <= 1e-6 < abs(float(scores[0] - scores[1]))

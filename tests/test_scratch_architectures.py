"""What notebooks 07 and 08 write out from scratch equals the package, checked outside the notebooks (issue 29).

The from-scratch GRU, 1-D CNN and Transformer encoder layer of notebook 08, and the transfer optimizer of notebook 07,
are taken from the notebooks' own cells (so the lesson cannot drift from the test) and compared with the package's
modules on a real batch of simulated courses, with the weights read from the package's module. Tolerance: float32's
defaults in ``torch.testing.assert_close`` (relative 1.3e-6, absolute 1e-5); the largest gap measured here is about
1e-7, and each test also shows that a plausible slip (gates swapped, a filter reversed, attention unscaled, a wrong
learning rate) lands far outside it. The figures of ``plots.comparison``: a single seed is drawn as a marker with no
band, and log axes read 50, 100, 1,000.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from torch.optim.optimizer import register_optimizer_step_pre_hook

from therapy_utils import batching, checkpoint, data, model, simulate, train
from therapy_utils.course import transfer
from therapy_utils.course.plots import comparison

matplotlib.use("Agg")


def lesson(name: str, *definitions: str, **names: object) -> dict:
    """Execute the notebook's code cells that start by defining ``definitions``; ``names`` are the globals they read."""
    cells = json.loads((REPO / "notebooks" / name).read_text())["cells"]
    namespace = {"torch": torch, "copy": copy, "replace": replace, "train": train, "model": model, "transfer": transfer,
                 "register_optimizer_step_pre_hook": register_optimizer_step_pre_hook, **names}
    for definition in definitions:
        (source,) = ["".join(c["source"]) for c in cells
                     if c["cell_type"] == "code" and "".join(c["source"]).startswith(f"def {definition}(")]
        exec(compile(source, f"{name}:{definition}", "exec"), namespace)  # the notebook's own cell
    return namespace


@pytest.fixture(scope="module")
def batch():
    """A real batch: 60 simulated courses of the original preset, of mixed lengths, padded."""
    courses = simulate.simulate_courses(simulate.preset_params("original"), 60, seed=1000)
    vocab = data.Vocabulary.from_courses(courses["modules"])
    padded, lengths = batching.encode_padded(list(courses["modules"]), vocab)
    assert int(lengths.min()) < padded.shape[1]  # some courses are padded
    return vocab, padded, lengths


def build(vocab, config: model.ModelConfig, seed: int = 42) -> torch.nn.Module:
    return model.build_model(len(vocab), config, torch.Generator().manual_seed(seed)).eval()


# notebook 08: the encoders -----------------------------------------------------------------------------------------

def test_the_from_scratch_gru_equals_the_packages_gru(batch):
    vocab, padded, lengths = batch
    gru_last_state = lesson("08_model_comparison.ipynb", "gru_last_state")["gru_last_state"]
    net = build(vocab, model.ModelConfig(architecture="gru"))
    with torch.no_grad():
        x = net.embedding(padded)
        by_hand = gru_last_state(x, lengths, net.encoder)
        torch.testing.assert_close(by_hand, model.run_recurrent(net.encoder, x, lengths, steps=False)[1][-1])
        torch.testing.assert_close(net.head(by_hand).squeeze(-1), net(padded, lengths))
        swapped = copy.deepcopy(net.encoder)  # the reset and update gates' rows exchanged
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            r, z, n = getattr(net.encoder, name).chunk(3)
            getattr(swapped, name).copy_(torch.cat([z, r, n]))
        assert (gru_last_state(x, lengths, swapped) - by_hand).abs().max() > 1e-3


@pytest.mark.parametrize("winner", [False, True], ids=["fresh CNN", "the committed winner's five CNNs"])
def test_the_from_scratch_cnn_equals_the_packages_cnn(batch, winner):
    vocab, padded, lengths = batch
    cnn_prediction = lesson("08_model_comparison.ipynb", "cnn_prediction")["cnn_prediction"]
    if winner:  # the trained winner of notebook 08, with the vocabulary it was trained with
        net, vocab = checkpoint.load_checkpoint(REPO / "notebooks" / "checkpoints" / "original_best")
        courses = simulate.simulate_courses(simulate.preset_params("original"), 60, seed=1000)
        padded, lengths = batching.encode_padded(list(courses["modules"]), vocab)
        members = list(net.eval().members)
    else:
        net = build(vocab, replace(model.BEST_CONFIG, ensemble_size=1))
        members = [net]
    with torch.no_grad():
        by_hand = torch.stack([cnn_prediction(member, padded) for member in members])
        for member, prediction in zip(members, by_hand, strict=True):
            torch.testing.assert_close(prediction, member(padded, lengths))
        torch.testing.assert_close(by_hand.mean(dim=0), net(padded, lengths))
        reversed_filter = copy.deepcopy(members[0])  # W_{-1} and W_{+1} exchanged: the course read backwards
        reversed_filter.encoder[0].weight.copy_(members[0].encoder[0].weight.flip(-1))
        assert (cnn_prediction(reversed_filter, padded) - by_hand[0]).abs().max() > 1e-3


def test_the_from_scratch_transformer_layer_equals_the_packages(batch):
    vocab, padded, lengths = batch
    namespace = lesson("08_model_comparison.ipynb", "layer_norm")
    encoder_layer = namespace["encoder_layer"]
    config = model.ModelConfig(architecture="transformer", positional=True, pooling="mean", num_layers=2)
    net = build(vocab, config)
    padding = padded == 0
    with torch.no_grad():
        x = net.embedding(padded) + net.position.weight[: padded.shape[1]]
        for layer in net.encoder.layers:
            by_hand = encoder_layer(x, padding, layer)
            torch.testing.assert_close(by_hand[~padding], layer(x, src_key_padding_mask=padding)[~padding])
            x = by_hand
        pooled = (x * ~padding.unsqueeze(-1)).sum(dim=1) / lengths.unsqueeze(-1)
        torch.testing.assert_close((pooled @ net.head.weight.T + net.head.bias).squeeze(-1), net(padded, lengths))
        first = net.encoder.layers[0]
        unscaled = copy.deepcopy(first)  # attention without the 1/√d_h: queries scaled up by √d_h
        d = unscaled.self_attn.embed_dim
        unscaled.self_attn.in_proj_weight[:d] *= (d // unscaled.self_attn.num_heads) ** 0.5
        unscaled.self_attn.in_proj_bias[:d] *= (d // unscaled.self_attn.num_heads) ** 0.5
        start = net.embedding(padded) + net.position.weight[: padded.shape[1]]
        gap = encoder_layer(start, padding, unscaled)[~padding] - encoder_layer(start, padding, first)[~padding]
        assert gap.abs().max() > 1e-3


def test_layer_norm_by_hand_equals_torch():
    layer_norm = lesson("08_model_comparison.ipynb", "layer_norm")["layer_norm"]
    norm = torch.nn.LayerNorm(8)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(1))
        norm.bias.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(2))
        x = torch.randn(3, 5, 8, generator=torch.Generator().manual_seed(3))
        torch.testing.assert_close(layer_norm(x, norm), norm(x))


# notebook 07: freezing and parameter groups ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def transfer_lesson():
    """07's optimizer in its solutions' first-step comparison, with a small pre-trained stand-in (a fresh model)."""
    setup = transfer.TRANSFER_SETUP
    pool = setup.target()[0]
    vocab = data.Vocabulary(simulate.LETTERS)
    pretrained = build(vocab, setup.model_config, seed=7)
    from therapy_utils.embeddings import embedding_table
    names = {"setup": setup, "vocab": vocab, "pretrained": pretrained, "loaded": embedding_table(pretrained, vocab),
             "SEED": 0, "DEVICE": torch.device("cpu")}
    namespace = lesson("07_transfer_learning.ipynb", "transfer_optimizer", **names)  # the lesson's optimizer
    namespace = lesson("solutions/07_solutions.ipynb", "groups_by_name", "package_first_step", "my_first_step",
                       **{name: value for name, value in namespace.items() if name != "__builtins__"})
    return namespace, {"train": pool.iloc[:16], "val": pool.iloc[16:32]}


def test_the_solutions_copy_of_the_transfer_optimizer_is_the_lessons():
    def cell(name):
        cells = json.loads((REPO / "notebooks" / name).read_text())["cells"]
        return ["".join(c["source"]) for c in cells if "".join(c["source"]).startswith("def transfer_optimizer(")]
    assert cell("solutions/07_solutions.ipynb") == cell("07_transfer_learning.ipynb")


@pytest.mark.parametrize("start", transfer.TRANSFER_STARTS)
def test_the_transfer_optimizer_from_scratch_equals_the_packages(transfer_lesson, start):
    namespace, parts = transfer_lesson
    net, caught = namespace["package_first_step"](start, parts)
    mine, optimizer = namespace["my_first_step"](start, net, caught)
    groups = namespace["groups_by_name"]
    theirs = groups(caught["optimizer"], net)
    assert groups(optimizer, mine) == theirs  # the same tensors, at the same learning rate, frozen alike
    assert {name for name, (_, trainable) in theirs.items() if not trainable} == (
        {"embedding.weight"} if start == "frozen embeddings" else set())
    lr = transfer.TRANSFER_SETUP.train_config_for(start).lr
    assert {rate for rate, _ in theirs.values()} == {lr}
    for (name, p), q in zip(mine.named_parameters(), net.parameters(), strict=True):
        torch.testing.assert_close(p, q, msg=name)
        moved = not torch.equal(q, caught["before"][q][0])
        assert moved is not (start == "frozen embeddings" and name == "embedding.weight"), name


def test_a_wrong_learning_rate_would_be_caught(transfer_lesson):
    namespace, parts = transfer_lesson
    net, caught = namespace["package_first_step"]("fine-tuned model", parts)
    mine, optimizer = namespace["my_first_step"]("random", net, caught)  # the plain step size, 1e-3, not 3e-4
    assert namespace["groups_by_name"](optimizer, mine) != namespace["groups_by_name"](caught["optimizer"], net)
    gaps = [float((p - q).detach().abs().max()) for p, q in zip(mine.parameters(), net.parameters(), strict=True)]
    assert max(gaps) > 1e-4  # far outside assert_close's 1e-5


# plots.comparison: seeds and log axes -------------------------------------------------------------------------------

def drawn(figure):
    FigureCanvasAgg(figure).draw()
    return figure.get_axes()


def curve_runs() -> pd.DataFrame:
    """Model "ten seeds" at 250 and 1,000 courses (and 3 seeds at 10,000), model "one seed" with a single run each."""
    rows = [{"preset": "p", "model": "ten seeds", "n": n, "seed": s, "share": 0.5 + 0.01 * s}
            for n in (250, 1000) for s in range(10)]
    rows += [{"preset": "p", "model": "ten seeds", "n": 10000, "seed": s, "share": 0.9 + 0.01 * s} for s in range(3)]
    rows += [{"preset": "p", "model": "one seed", "n": n, "seed": 0, "share": 0.3} for n in (250, 1000, 10000)]
    return pd.DataFrame(rows)


def test_single_seed_rows_are_drawn_as_markers_without_a_band():
    (ax,) = drawn(comparison.oracle_share_curve_figure(curve_runs(), title="test"))
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1  # the ten-seed model's band only
    singles = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(singles) == 1 and singles[0].get_linestyle() == "None" and len(singles[0].get_xdata()) == 3
    legend = [t.get_text() for t in ax.figure.legends[0].get_texts()]
    assert "line and band: mean ± sd over 10 seeds" in legend
    assert "open marker: mean over 3 seeds (its sd bar can hide behind the marker)" in legend
    assert "cross: a single seed (no spread to show)" in legend
    kinds = comparison.seed_summary(curve_runs().query("model == 'ten seeds'"), "n", "share")["kind"].tolist()
    assert kinds == ["band", "band", "few"]


def test_the_learning_curves_draw_a_band_only_where_there_are_seeds():
    runs = pd.DataFrame([{"start": start, "n": n, "seed": s, "r2": 0.1 * np.log(n) + 0.01 * s}
                         for start in ("random", "frozen embeddings") for n in (50, 100, 1600) for s in range(5)]
                        + [{"start": "one run", "n": n, "seed": 0, "r2": 0.4} for n in (50, 100, 1600)])
    axes = drawn(comparison.learning_curve_figure(runs, 0.8, 0.7, title="test"))
    visible = [ax for ax in axes if ax.get_visible()]
    assert len(visible) == 2  # one panel per set-up against random
    counts = [len([c for c in ax.collections if isinstance(c, PolyCollection)]) for ax in visible]
    assert counts == [2, 1]  # random and frozen both banded; the one-run start is not


@pytest.mark.parametrize("figure", ["curve", "learning", "gain"])
def test_log_axes_are_labelled_with_plain_numbers(figure):
    if figure == "curve":
        made = comparison.oracle_share_curve_figure(curve_runs(), title="test")
        expected = ["250", "1,000", "10,000"]
    elif figure == "learning":
        runs = pd.DataFrame([{"start": start, "n": n, "seed": s, "r2": 0.5} for start in ("random", "frozen")
                             for n in (50, 100, 200, 1600) for s in range(2)])
        made, expected = comparison.learning_curve_figure(runs, 0.8, title="test"), ["50", "100", "200", "1,600"]
    else:
        versus = pd.DataFrame([{"baseline": "a", "candidate": "b", "n": n, "difference": 0.1, "ci low": -0.1,
                                "ci high": 0.3, "verdict": "within noise"} for n in (50, 100, 800)])
        made, expected = comparison.paired_gain_figure(versus, title="test"), ["50", "100", "800"]
    for ax in drawn(made):
        if not ax.get_visible():
            continue
        assert ax.get_xscale() == "log"
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert labels == expected, labels
        assert not [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]

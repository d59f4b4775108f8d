"""What the notebooks teach by hand equals what the library does, checked outside the notebooks too (issue 16).

The from-scratch LSTM cell of notebook 02 and the training loop of notebook 03 are taken from the notebooks' own cells
(so the lesson cannot drift from the test) and compared with ``nn.LSTM`` and ``train.train_model``. The rest checks
the series' structure: previous/next links that resolve, a References section, and the equations where the lesson
is mathematics.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import torch
from conftest import REPO

from therapy_utils import batching, data, model, simulate, train

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LINK = re.compile(r"\[[^\]]+\]\(([^)\s]+\.ipynb)\)")


def cells(name: str) -> list[dict]:
    return json.loads((REPO / "notebooks" / name).read_text())["cells"]


def lesson(name: str, *definitions: str) -> dict:
    """Execute the notebook's code cells that define ``definitions`` and return the resulting namespace."""
    namespace = {"torch": torch, "pd": pd, "train": train, "model": model, "batching": batching}
    for definition in definitions:
        (source,) = ["".join(c["source"]) for c in cells(name)
                     if c["cell_type"] == "code" and "".join(c["source"]).startswith(f"def {definition}(")]
        exec(compile(source, f"{name}:{definition}", "exec"), namespace)  # the notebook's own cell
    return namespace


def test_the_from_scratch_lstm_cell_equals_nn_lstm():
    lstm_cell = lesson("02_embedding_lstm_model.ipynb", "lstm_cell")["lstm_cell"]
    generator = torch.Generator().manual_seed(3)
    with model.torch_rng(generator):
        lstm = torch.nn.LSTM(5, 7, batch_first=True)
    inputs = torch.randn(4, 6, 5, generator=generator)  # a batch of 4 sequences of 6 steps
    h, c = torch.zeros(4, 7), torch.zeros(4, 7)
    with torch.no_grad():
        for t in range(inputs.shape[1]):
            h, c, gates = lstm_cell(inputs[:, t], h, c, lstm)
        _, (h_torch, c_torch) = lstm(inputs)
    torch.testing.assert_close(h, h_torch[0])  # float32 defaults: rtol 1.3e-6, atol 1e-5
    torch.testing.assert_close(c, c_torch[0])
    assert set(gates) == {"input", "forget", "candidate", "output"}
    assert all(0 < float(gates[g].min()) and float(gates[g].max()) < 1 for g in ("input", "forget", "output"))


def test_the_equality_check_would_catch_swapped_gates():
    """The lesson's check can fail: a cell reading the gates in the wrong order is far from nn.LSTM."""
    namespace = lesson("02_embedding_lstm_model.ipynb", "lstm_cell")
    generator = torch.Generator().manual_seed(3)
    with model.torch_rng(generator):
        lstm = torch.nn.LSTM(5, 7, batch_first=True)
    swapped = torch.nn.LSTM(5, 7, batch_first=True)
    with torch.no_grad():  # the forget and input gates' rows exchanged
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            i, f, g, o = getattr(lstm, name).chunk(4, dim=0)
            getattr(swapped, name).copy_(torch.cat([f, i, g, o]))
    x = torch.randn(2, 5, generator=generator)
    right = namespace["lstm_cell"](x, torch.zeros(2, 7), torch.ones(2, 7), lstm)[1]
    wrong = namespace["lstm_cell"](x, torch.zeros(2, 7), torch.ones(2, 7), swapped)[1]
    assert (right - wrong).abs().max() > 1e-3


def test_the_written_out_training_loop_equals_train_model():
    train_by_hand = lesson("03_training.ipynb", "step", "run_epoch", "train_by_hand")["train_by_hand"]
    courses = simulate.simulate_courses(simulate.preset_params("original"), 120, seed=4)
    parts, vocab = data.split_courses(courses), data.Vocabulary.from_courses(courses["modules"])
    generator = torch.Generator().manual_seed(42)
    by_hand = train_by_hand(model.build_model(len(vocab), model.ModelConfig(), generator), parts, vocab, 2, generator)
    generator = torch.Generator().manual_seed(42)
    result = train.train_model(model.build_model(len(vocab), model.ModelConfig(), generator), parts["train"],
                               parts["val"], vocab, train.TrainConfig(max_epochs=2), generator, device="cpu",
                               progress=False)
    pd.testing.assert_frame_equal(by_hand, result.history[["epoch", "train_loss", "val_loss"]], check_exact=True)
    other = train_by_hand(model.build_model(len(vocab), model.ModelConfig(), torch.Generator().manual_seed(7)),
                          parts, vocab, 2, torch.Generator().manual_seed(7))
    assert not other.equals(by_hand)  # another seed: other draws, other losses


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_previous_and_next_links_resolve_to_the_neighbours(path):
    names = [p.name for p in NOTEBOOKS]
    index = names.index(path.name)
    expected = [names[i] for i in (index - 1, index + 1) if 0 <= i < len(names)]
    notebook = cells(path.name)
    closing = [c for c in notebook if "".join(c["source"]).startswith("## References")][-1]
    for cell in (notebook[0], closing):
        text = "".join(cell["source"])
        navigation = next(line for line in text.splitlines() if line.startswith("← Previous:"))
        assert LINK.findall(navigation) == expected, navigation
    for target in {t for c in notebook if c["cell_type"] == "markdown" for t in LINK.findall("".join(c["source"]))}:
        assert (REPO / "notebooks" / target).is_file(), target


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_ends_with_references(path):
    """The references close the lesson; only a collapsed "For maintainers" note may follow them."""
    tail = ["".join(c["source"]) for c in cells(path.name)]
    while tail[-1].startswith("<details><summary>For maintainers"):
        tail.pop()
    last = tail[-1]
    assert "## References" in last
    entries = [line for line in last.split("## References")[1].splitlines() if line.startswith("- ")]
    assert entries and all(re.search(r"\((19|20)\d\d\)", entry) for entry in entries), entries


@pytest.mark.parametrize("name", ["02_embedding_lstm_model", "03_training", "04_evaluation", "05_module_embeddings",
                                  "07_transfer_learning", "09_optimizing_courses", "10_explaining_predictions"])
def test_the_mathematics_is_written_as_equations(name):
    markdown = "".join("".join(c["source"]) for c in cells(f"{name}.ipynb") if c["cell_type"] == "markdown")
    assert markdown.count("$$") % 2 == 0, "an unclosed $$"
    blocks = re.findall(r"\$\$(.+?)\$\$", markdown, flags=re.S)
    equations = [b for b in blocks if "=" in b and re.search(r"\\[A-Za-z]+", b)]
    assert equations, "no display equation (with = and a LaTeX command)"
    unbalanced = [b.strip()[:60] for b in blocks if b.count("{") != b.count("}") or not b.strip()]
    assert not unbalanced, f"empty equations or unbalanced braces: {unbalanced}"

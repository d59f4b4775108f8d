"""The exercise checks of notebook 02, The embedding + LSTM model (``check.ex02_*``)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch

from therapy_utils import model
from therapy_utils.course.check import guards
from therapy_utils.course.check.guards import Verdict


def _gru_variants(x: torch.Tensor, h: torch.Tensor, gru: torch.nn.GRU) -> dict[str, torch.Tensor]:
    """One GRU step the right way, and the typical slips, each by name (to say which slip an answer made)."""
    gi = x @ gru.weight_ih_l0.T + gru.bias_ih_l0
    gh = h @ gru.weight_hh_l0.T + gru.bias_hh_l0
    (ir, iz, in_), (hr, hz, hn) = gi.chunk(3, -1), gh.chunk(3, -1)
    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    n = torch.tanh(in_ + r * hn)
    reset_first = torch.tanh(in_ + (r * h) @ gru.weight_hh_l0.T.chunk(3, -1)[2] + gru.bias_hh_l0.chunk(3)[2])
    z_first, r_first = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)  # gates read in the order z, r, n
    n_swapped = torch.tanh(in_ + r_first * hn)
    return {"right": (1 - z) * n + z * h, "swapped update": z * n + (1 - z) * h,
            "reset before the matrix": (1 - z) * reset_first + z * h,
            "gate order": (1 - z_first) * n_swapped + z_first * h}


def _gru_step(function: Callable, x: torch.Tensor, h: torch.Tensor,
              gru: torch.nn.GRU) -> tuple[torch.Tensor | None, Verdict | None]:
    """One step of the learner's cell on copies of the inputs, read back as a float32 tensor of shape (hidden,):
    a float64 tensor, a numpy array or a list is judged on its values."""
    result, problem = guards.call(function, x.clone(), h.clone(), copy.deepcopy(gru))
    values, problem = (None, problem) if problem else guards.read_array(result, "one step's result")
    if problem:
        return None, problem
    if values.shape != (gru.hidden_size,):
        return None, Verdict(False, f"one step returned shape {values.shape}; expected ({gru.hidden_size},).")
    return torch.as_tensor(values, dtype=torch.float32), None


def ex02_gru_cell(function: Callable) -> Verdict:
    """Build: ``function(x, h, gru)`` is one step of ``gru``'s first layer, equal to ``nn.GRU`` over a course."""
    with model.torch_rng(torch.Generator().manual_seed(3)):
        gru = torch.nn.GRU(4, 6, batch_first=True)
    inputs = torch.randn(5, 4, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        _, final = gru(inputs.unsqueeze(0))
        h = torch.zeros(6)
        for x in inputs:
            h, problem = _gru_step(function, x, h, gru)
            if problem:
                return problem
    if torch.allclose(h, final[0, 0], atol=1e-6):
        return Verdict(True, "your cell gives nn.GRU's final hidden state.")
    with torch.no_grad():
        slips = {name: step for name, step in _gru_variants(inputs[0], torch.zeros(6), gru).items() if name != "right"}
        first, _ = _gru_step(function, inputs[0], torch.zeros(6), gru)
    hints = {"swapped update": "the update gate z keeps the old state: h' = (1 − z) ⊙ n + z ⊙ h, not the other way.",
             "reset before the matrix": "PyTorch applies the reset gate after the recurrent matrix: "
                                        "r ⊙ (W_hn h + b_hn).",
             "gate order": "PyTorch stacks the gates in the order r, z, n."}
    for name, step in slips.items():
        if first is not None and torch.allclose(first, step, atol=1e-6):
            return Verdict(False, hints[name])
    return Verdict(False, "the final hidden state differs from nn.GRU's; check each gate against the equations.")


def ex02_masked_mean(function: Callable) -> Verdict:
    """Build: ``function(outputs, lengths)`` averages each course's outputs over its real steps only."""
    outputs = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(5))
    lengths = torch.tensor([5, 2, 3])
    result, problem = guards.call(function, outputs.clone(), lengths.clone())
    got, problem = (None, problem) if problem else guards.read_array(result, "your pooled summary")
    if problem:
        return problem
    mask = (torch.arange(5)[None, :] < lengths[:, None]).unsqueeze(-1)
    expected = (outputs * mask).sum(1) / lengths[:, None]
    if got.shape == (3, 4) and np.allclose(got, outputs.mean(1).numpy(), atol=1e-6):
        return Verdict(False, "the padded steps are averaged in too; only the first `lengths[i]` steps are real.")
    if got.shape == (3, 4) and np.allclose(got, ((outputs * mask).sum(1) / 5).numpy(), atol=1e-6):
        return Verdict(False, "the padding is left out of the sum, but you still divide by the padded length.")
    return guards.same_values(got, expected.numpy(), "your pooled summary") or Verdict(
        True, "padding no longer leaks into the mean.")


def ex02_parameter_count(answer: int) -> Verdict:
    """Predict-then-run: trainable parameters of the tutorial model with ``hidden_dim=16`` and 18 vocabulary rows."""
    answer, problem = guards.read_number(answer, int)
    if problem:
        return problem
    net = model.build_model(18, model.ModelConfig(hidden_dim=16), torch.Generator().manual_seed(0))
    expected = sum(p.numel() for p in net.parameters() if p.requires_grad)
    if answer == expected:
        return Verdict(True, f"{expected:,} parameters; check it with sum(p.numel() for p in net.parameters()).")
    default = model.build_model(18, model.ModelConfig(), torch.Generator().manual_seed(0))
    slips = {expected - net.lstm.bias_hh_l0.numel(): "an LSTM layer has two bias vectors per gate, b_ih and b_hh.",
             expected - net.embedding.embedding_dim: "the embedding table has a row for the padding index too.",
             expected - 1: "the linear layer has a bias.",
             expected - net.fc.in_features: "the linear layer has a weight per hidden unit.",
             sum(p.numel() for p in default.parameters() if p.requires_grad):
                 "that is the model with the default hidden size; this one has hidden_dim=16."}
    if answer in slips:
        return Verdict(False, "close: " + slips[answer])
    return Verdict(False, "count each part — the embedding table, the LSTM's gates (weights and biases) and the "
                          "linear layer — and see which one your total leaves out or counts twice.")

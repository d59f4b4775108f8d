"""What notebook 03 writes out by hand equals PyTorch, and its training figures say what the lesson reads from them.

``adam_step`` and ``dropout`` are taken from the notebook's own cells (so the lesson cannot drift from the test) and
compared with ``torch.optim.Adam(weight_decay=...)`` and ``torch.nn.functional.dropout`` / ``nn.Dropout``; each
comparison is also shown to fail for a plausible slip. The figures of ``course.plots.training`` are checked for
titles and labelled axes, a learning rate drawn as steps, the best-epoch star at the argmin of the validation loss and
the noise floor at σ².
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO

from therapy_utils import model
from therapy_utils.course import plots

NOTEBOOK = REPO / "notebooks" / "03_training.ipynb"
# Largest gap measured between adam_step and torch.optim.Adam over these steps: 1.2e-7 (one float32 rounding step
# near 1); the tolerance is about ten times that, and far below one Adam step (about lr).
ADAM_ATOL = 1e-6


def lesson(*definitions: str) -> dict:
    """Execute the notebook's code cells that define ``definitions`` and return the resulting namespace."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    namespace = {"torch": torch}
    for definition in definitions:
        (source,) = ["".join(c["source"]) for c in cells
                     if c["cell_type"] == "code" and "".join(c["source"]).startswith(f"def {definition}(")]
        exec(compile(source, f"03_training:{definition}", "exec"), namespace)  # the notebook's own cell
    return namespace


def _adam_gap(adam_step, optimizer_class=torch.optim.Adam, steps: int = 8, scratch_options: dict | None = None,
              **options) -> float:
    """Largest |difference| between ``adam_step`` and ``optimizer_class`` after ``steps`` steps on the same gradients.

    The gradients are those of a small LSTM regression at the optimiser's current weights (both copies receive the
    same ones), so every tensor shape of the tutorial model's kind is exercised.
    """
    generator = torch.Generator().manual_seed(11)
    with model.torch_rng(generator):
        lstm, head = torch.nn.LSTM(3, 5, batch_first=True), torch.nn.Linear(5, 1)
    parameters = [*lstm.parameters(), *head.parameters()]
    copies = [p.detach().clone() for p in parameters]
    inputs, targets = torch.randn(6, 4, 3, generator=generator), torch.randn(6, generator=generator)
    optimizer, state = optimizer_class(parameters, **options), {}
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(head(lstm(inputs)[0][:, -1]).squeeze(-1), targets)
        loss.backward()
        adam_step(copies, [p.grad.clone() for p in parameters], state, **(scratch_options or options))
        optimizer.step()
    return max(float((mine - theirs.detach()).abs().max()) for mine, theirs in zip(copies, parameters, strict=True))


@pytest.mark.parametrize("options", [{"lr": 1e-3, "weight_decay": 1e-4},  # the original's settings
                                     {"lr": 1e-2, "weight_decay": 0.1, "betas": (0.8, 0.99), "eps": 1e-6}])
def test_from_scratch_adam_with_weight_decay_equals_torch_adam(options):
    adam_step = lesson("adam_step")["adam_step"]
    assert _adam_gap(adam_step, **options) <= ADAM_ATOL


def test_the_adam_check_would_catch_a_missing_term_or_decoupled_decay():
    """Each slip moves the weights far beyond the tolerance, so the notebook's assert_close can fail."""
    adam_step = lesson("adam_step")["adam_step"]
    options = {"lr": 1e-2, "weight_decay": 0.1}
    assert _adam_gap(adam_step, scratch_options={"lr": 1e-2, "weight_decay": 0.0}, **options) > 10 * ADAM_ATOL
    assert _adam_gap(adam_step, scratch_options={"lr": 1e-2, "weight_decay": 0.1, "betas": (0.0, 0.999)},
                     **options) > 10 * ADAM_ATOL  # no running average of the gradient
    # AdamW decays the weights outside the adaptive step: the same λ is another optimiser
    assert _adam_gap(adam_step, torch.optim.AdamW, **options) > 10 * ADAM_ATOL


@pytest.mark.parametrize(("p", "shape"), [(0.2, (4, 64)), (0.5, (3, 7, 5)), (0.1, (1000,))])
def test_from_scratch_dropout_equals_torch_bit_for_bit(p, shape):
    dropout = lesson("dropout")["dropout"]
    h = torch.randn(*shape, generator=torch.Generator().manual_seed(3))
    mine = dropout(h, p, torch.Generator().manual_seed(5))
    with model.torch_rng(torch.Generator().manual_seed(5)):
        functional = torch.nn.functional.dropout(h, p, training=True)
    with model.torch_rng(torch.Generator().manual_seed(5)):
        module = torch.nn.Dropout(p).train()(h)
    torch.testing.assert_close(mine, functional, rtol=0, atol=0)
    torch.testing.assert_close(mine, module, rtol=0, atol=0)
    torch.testing.assert_close(torch.nn.Dropout(p).eval()(h), h, rtol=0, atol=0)  # evaluation: the identity
    other = dropout(h, p, torch.Generator().manual_seed(6))
    assert not torch.equal(other, mine)  # another stream, another mask: the equality is not vacuous


def test_from_scratch_dropout_keeps_the_expectation_and_scales_the_survivors():
    dropout = lesson("dropout")["dropout"]
    p, n = 0.2, 400_000
    h = torch.rand(n, generator=torch.Generator().manual_seed(1)) + 0.5
    out = dropout(h, p, torch.Generator().manual_seed(2))
    zeroed = out == 0
    assert abs(float(zeroed.double().mean()) - p) < 4 * np.sqrt(p * (1 - p) / n)  # Bernoulli(1 - p) keeps
    torch.testing.assert_close(out[~zeroed], h[~zeroed] / (1 - p))  # survivors scaled by 1/(1 - p)
    ratio = float(out.double().sum() / h.double().sum())  # E[h̃] = h: the ratio of sums is 1 up to sampling
    assert abs(ratio - 1) < 4 * np.sqrt(p / (1 - p) / n) * 1.1
    wrong = h * torch.empty_like(h).bernoulli_(p, generator=torch.Generator().manual_seed(2)) / (1 - p)
    assert abs(float(wrong.double().sum() / h.double().sum()) - 1) > 0.5  # keeping with probability p fails


def _history() -> pd.DataFrame:
    """Eight epochs whose validation loss is lowest at epoch 4 (not the last), the learning rate halved twice."""
    return pd.DataFrame({"epoch": range(1, 9),
                         "train_loss": [0.30, 0.20, 0.15, 0.12, 0.10, 0.08, 0.07, 0.06],
                         "val_loss": [0.25, 0.20, 0.18, 0.17, 0.19, 0.17, 0.18, 0.20],
                         "lr": [1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4]})


def _titled_and_labelled(figure) -> bool:
    return bool(figure._suptitle and figure._suptitle.get_text()) and all(
        ax.get_title() and ax.get_xlabel() and ax.get_ylabel() for ax in figure.get_axes())


def _star(ax):
    (star,) = [line for line in ax.get_lines() if line.get_marker() == "*"]
    return float(star.get_xdata()[0]), float(star.get_ydata()[0])


def test_best_epoch_is_the_first_argmin_of_the_validation_loss():
    history = _history()
    assert plots.training.best_epoch(history) == 4  # the tie at epoch 6 does not count: a new best must be lower
    assert plots.training.best_epoch(history.iloc[::-1].reset_index(drop=True)) == 6  # by row, not by position


def test_the_curves_figure_marks_the_best_epoch_the_noise_floor_and_draws_the_learning_rate_as_steps():
    history = _history()
    figure = plots.training.curves_figure(history, title="Curves", noise_floor=0.05)
    assert _titled_and_labelled(figure) and figure._suptitle.get_text() == "Curves"
    loss_ax, lr_ax = figure.get_axes()
    assert _star(loss_ax) == (4.0, pytest.approx(0.17))
    assert any(list(line.get_xdata()) == [4, 4] for line in lr_ax.get_lines())  # the best epoch, dashed, on both
    (floor,) = [line for line in loss_ax.get_lines() if line.get_label().startswith("noise floor")]
    assert list(floor.get_ydata()) == [0.05, 0.05] and "0.0500" in floor.get_label()
    (rate,) = [line for line in lr_ax.get_lines() if line.get_label() == "learning rate"]
    assert rate.get_drawstyle() == "steps-post"
    vertices = rate.get_path().vertices
    segments = np.diff(vertices, axis=0)
    assert np.all((segments[:, 0] == 0) | (segments[:, 1] == 0))  # only horizontal and vertical pieces: steps
    assert [5.0, 1e-3] in vertices.tolist() and [5.0, 5e-4] in vertices.tolist()  # halved at once, on epoch 5


def test_plot_losses_adds_marks_only_when_asked_so_the_command_line_figure_keeps_its_two_curves():
    figure = plots.training.training_figure(_history(), np.array([0.2, 0.5]), np.array([0.3, 0.4]), r2=0.5)
    drawn = [line for line in figure.get_axes()[0].get_lines() if len(line.get_xdata())]  # not seaborn's legend keys
    assert len(drawn) == 2 and all(line.get_marker() in ("None", None, "") for line in drawn)
    marked = plots.training.curves_figure(_history(), title="Curves", noise_floor=0.05).get_axes()[0]
    assert len([line for line in marked.get_lines() if len(line.get_xdata())]) == 5  # + floor, best epoch, star


def test_the_dropout_figure_compares_runs_on_one_scale_with_each_best_epoch_starred():
    runs = {"dropout 0.2": _history(), "no dropout": _history().assign(val_loss=[0.24, 0.19, 0.16, 0.18, 0.2,
                                                                                0.21, 0.22, 0.23])}
    figure = plots.training.dropout_figure(runs, title="Dropout", noise_floor=0.05)
    assert _titled_and_labelled(figure)
    train_ax, val_ax = figure.get_axes()
    assert train_ax.get_shared_y_axes().joined(train_ax, val_ax)
    stars = sorted(float(line.get_xdata()[0]) for line in val_ax.get_lines() if line.get_marker() == "*")
    assert stars == [3.0, 4.0]
    labels = [line.get_label() for line in train_ax.get_lines()]
    assert labels[:2] == list(runs) and labels[2].startswith("noise floor")

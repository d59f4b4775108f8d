"""The exercise checks of notebook 03, Training (``check.ex03_*``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from therapy_utils import simulate
from therapy_utils.course.check import guards
from therapy_utils.course.check.guards import Verdict


def _plateau_reference(losses: Sequence[float], patience: int) -> list[float]:
    """ReduceLROnPlateau(factor=0.5)'s learning-rate multiplier after each epoch."""
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=1.0)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=patience, factor=0.5)
    multipliers = []
    for loss in losses:
        scheduler.step(loss)
        multipliers.append(optimizer.param_groups[0]["lr"])
    return multipliers


def _plateau_losses(seed: int) -> list[float]:
    """Validation losses that improve by clear steps (above the scheduler's 1e-4 threshold) or not at all."""
    rng = np.random.default_rng(seed)
    steps = np.where(rng.random(60) < 0.2, rng.uniform(0.02, 0.1, 60), -rng.uniform(0, 0.05, 60))
    return list(1.0 - np.cumsum(steps).clip(max=0.9))


def ex03_plateau(function: Callable) -> Verdict:
    """Build: ``function(val_losses, patience)`` returns the learning-rate multiplier after each epoch, as
    ``ReduceLROnPlateau(patience=patience, factor=0.5)`` would."""
    for seed, patience in ((0, 3), (1, 10), (2, 5)):
        losses = _plateau_losses(seed)
        result, problem = guards.call(function, list(losses), patience)
        got, problem = (None, problem) if problem else guards.read_array(result, "your multipliers")
        if problem:
            return problem
        expected = _plateau_reference(losses, patience)
        if got.ndim != 1 or len(got) != len(expected):
            return Verdict(False, f"{got.size} multipliers of shape {got.shape} for {len(losses)} epochs; one per "
                                  "epoch.")
        if not np.allclose(got, expected):
            first = int(np.argmax(~np.isclose(got, expected)))
            who = ("the scheduler halves the rate and you do not yet" if got[first] > expected[first]
                   else "you halve the rate and the scheduler does not yet")
            return Verdict(False, f"with patience {patience}, at epoch {first + 1} {who}: it halves once *more "
                                  "than* `patience` epochs passed without a new best, then counts again from 0.")
    return Verdict(True, "your schedule equals ReduceLROnPlateau's on three loss curves.")


def _split_ids(result: object) -> tuple[dict[str, set] | None, Verdict | None]:
    """The course ids of each part of a split; a result that is not three tables of courses becomes the hint."""
    if not isinstance(result, dict) or set(result) != {"train", "val", "test"}:
        return None, Verdict(False, "return a dict with the keys 'train', 'val' and 'test'.")
    if not all(isinstance(part, pd.DataFrame) and "course_id" in part for part in result.values()):
        return None, Verdict(False, "each part must be a table of courses (rows of `table`), not positions or ids.")
    try:
        return {name: set(part["course_id"]) for name, part in result.items()}, None
    except TypeError:
        return None, Verdict(False, "each part's course_id column must hold the ids of `table`'s rows.")


def ex03_split(function: Callable) -> Verdict:
    """Build: ``function(table, random_state)`` returns {"train", "val", "test"} in 64/16/20 with no shared course."""
    table = simulate.simulate_courses(guards.realistic_params(), 500, seed=1)
    result, problem = guards.call(function, table.copy(), 0)
    ids, problem = (None, problem) if problem else _split_ids(result)
    if problem:
        return problem
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        if shared := len(ids[a] & ids[b]):
            return Verdict(False, f"{shared} courses are in both {a} and {b}: the model would be judged on courses "
                                  "it learnt from.")
    if missing := len(set(table["course_id"]) - set().union(*ids.values())):
        return Verdict(False, f"{missing} courses are in no part; every course belongs to exactly one.")
    if strangers := len(set().union(*ids.values()) - set(table["course_id"])):
        return Verdict(False, f"{strangers} ids in your parts are not courses of `table`.")
    sizes = {name: len(part) for name, part in result.items()}
    if any(abs(sizes[name] - share * 500) > 1 for name, share in (("train", .64), ("val", .16), ("test", .2))):
        return Verdict(False, f"sizes {sizes} for 500 courses; the split is 64/16/20.")
    again, problem = guards.call(function, table.copy(), 0)
    again, problem = (None, problem) if problem else _split_ids(again)
    if problem or again["test"] != ids["test"]:
        return Verdict(False, "the same random_state gives another split: draw from the seed, not a global state.")
    other, problem = guards.call(function, table.copy(), 1)
    other, problem = (None, problem) if problem else _split_ids(other)
    if problem:
        return Verdict(False, f"with random_state=1: {problem.message}")
    if other["test"] == ids["test"]:
        return Verdict(False, "another random_state gives the same split: shuffle with the seed you are given.")
    return Verdict(True, "disjoint, complete, 64/16/20 and reproducible from the seed.")


def ex03_accumulate(answer: float) -> Verdict:
    """Predict-then-run: by what factor is ``.grad`` multiplied when ``backward()`` runs twice without ``zero_grad``?"""
    answer, problem = guards.read_number(answer)
    if problem:
        return problem
    weight = torch.nn.Parameter(torch.tensor([1.5, -2.0]))
    for _ in range(2):
        (weight ** 2).sum().backward()
    factor = float(weight.grad[0] / (2 * 1.5))
    if not np.isclose(answer, factor):
        return Verdict(False, "backward() does not overwrite .grad; what does it do with what is already there?")
    return Verdict(True, "gradients add up in .grad — which is why a training step starts with zero_grad().")

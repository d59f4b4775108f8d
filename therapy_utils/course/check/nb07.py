"""The exercise checks of notebook 07, Transfer learning (``check.ex07_*``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import r2_score

from therapy_utils import evaluate, model
from therapy_utils.course.check import guards
from therapy_utils.course.check.guards import NO_ANSWER, Verdict
from therapy_utils.course.transfer import TRANSFER_SETUP
from therapy_utils.evaluate import Scorer


def _strict_verdicts(runs: pd.DataFrame, alpha: float) -> pd.Series:
    """Per size, the paired test's verdict for the fine-tuned model against its control, random at the same step."""
    pair = [("random, small steps", "fine-tuned model")]
    result = evaluate.paired_comparison(runs.rename(columns={"start": "model"}), pair, value="r2", by="n", alpha=alpha)
    return pd.Series(result["verdict"].to_numpy(), index=result["n"].astype(int))


def ex07_strict_sizes(answer: object, runs: pd.DataFrame) -> Verdict:
    """Predict-then-run: at which sizes is the fine-tuned model higher than its control (random at the same small
    step) with the stricter ``alpha=0.01``, its six sizes one family?

    ``runs`` are the saved transfer runs the notebook reads (``benchmarks/results/transfer.json``), one row per start
    (column ``model``), size ``n`` and seed, with the test ``r2``.
    """
    if guards.unanswered(answer):
        return NO_ANSWER
    runs, problem = guards.read_table(runs, "the saved transfer runs", ("n", "seed", "r2"))
    if problem:
        return problem
    verdicts = _strict_verdicts(runs, 0.01)
    expected = set(verdicts.index[verdicts == "higher"])
    given, problem, items = set(), None, []
    try:
        if isinstance(answer, str | bytes | dict):
            raise TypeError("not a collection of sizes")
        items = list(answer)
    except Exception:  # a learner's object: iterating it runs its code
        problem = Verdict(False, f"give a set of sizes such as {{50, 100}}, not {guards.show(answer)}.")
    else:
        for item in items:
            size, problem = guards.read_number(item, int)
            if problem:
                problem = Verdict(False, f"give a set of sizes such as {{50, 100}}; {guards.show(item)} is not a size.")
                break
            given.add(size)
    if problem:
        return problem
    if strangers := sorted(given - set(verdicts.index)):
        return Verdict(False, f"the curves were measured at {list(verdicts.index)} courses, not at {strangers[0]}.")
    if extra := sorted(given - expected):
        return Verdict(False, f"at {extra[0]} courses the verdict at alpha = 0.01 is '{verdicts[extra[0]]}'.")
    if missing := sorted(expected - given):
        return Verdict(False, f"one size you left out still passes at alpha = 0.01 ({len(missing)} missing).")
    lenient = _strict_verdicts(runs, 0.05)
    lenient = set(lenient.index[lenient == "higher"])
    return Verdict(True, f"{sorted(expected) or 'no size'}: higher at {len(expected)} of {len(verdicts)} sizes at "
                         f"alpha = 0.01, against {len(lenient)} at alpha = 0.05"
                         + (" — a stricter test keeps fewer." if len(lenient) > len(expected) else "."))



def ex07_param_groups(function: Callable) -> Verdict:
    """Build: ``function(net, pretrained_lr, head_lr)`` returns an optimizer whose parameter groups give the
    pre-trained parts (embedding table and LSTM) ``pretrained_lr`` and the fresh head ``head_lr``, each parameter in
    exactly one group (07_transfer_learning writes out one group per part at one rate; this asks for two rates)."""
    if guards.unanswered(function) or not callable(function):
        return guards.call(function)[1]
    net = model.build_model(18, model.ModelConfig(), torch.Generator().manual_seed(0))
    optimizer, problem = guards.call(function, net, 3e-4, 1e-3)
    if problem:
        return problem
    if not isinstance(optimizer, torch.optim.Optimizer):
        return Verdict(False, f"return the optimizer, e.g. torch.optim.Adam([{{'params': ..., 'lr': ...}}, ...]), "
                              f"not {guards.show(optimizer)}.")
    names = {id(p): name for name, p in net.named_parameters()}
    rates: dict[str, float] = {}
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            name = names.get(id(parameter))
            if name is None:
                return Verdict(False, "the optimizer holds a tensor that is not one of net's parameters: pass "
                                      "net's own (net.embedding.parameters(), net.lstm.parameters(), ...).")
            if name in rates:
                return Verdict(False, f"{name} is in two groups: put every parameter in exactly one.")
            rates[name] = float(group["lr"])
    if missing := [name for name in names.values() if name not in rates]:
        return Verdict(False, f"{missing[0]} is in no group, so it would never learn.")
    for name, rate in rates.items():
        head = name.startswith("fc")
        if not np.isclose(rate, 1e-3 if head else 3e-4, rtol=1e-9, atol=0):
            return Verdict(False, f"{name} steps at {rate:g}: " + ("the fresh head takes head_lr." if head else
                                                                   "the pre-trained parts take pretrained_lr."))
    return Verdict(True, "the embedding table and the LSTM step at pretrained_lr, the fresh head at head_lr, every "
                         "parameter in one group.")


def _zero_shot_r2(model_score: object) -> tuple[float | None, Verdict | None]:
    """R² of the learner's scorer on notebook 07's 1,000 fixed target test courses, once it behaves like a model."""
    scores = guards.batch_scores(model_score)
    _, problem = guards.model_check(scores, what="your scorer")
    if problem:
        return None, problem
    test = TRANSFER_SETUP.target()[1]
    predicted, problem = scores([tuple(course) for course in test["modules"]])
    return (None, problem) if problem else (float(r2_score(test["effectiveness"], predicted)), None)


def ex07_zero_shot(answer: int, model_score: Scorer, runs: pd.DataFrame) -> Verdict:
    """Investigate: score ``model_score`` (the pre-trained model, no target course seen) on the target's test
    courses; the fewest target courses at which every seed of random initialisation (saved curves) beats it.

    The worst seed, not the mean, against a score the notebook never prints: the answer is not on the page. ``runs``
    are the saved transfer runs the notebook reads (``benchmarks/results/transfer.json``).
    """
    answer, problem = guards.read_number(answer, int)
    if problem:
        return problem
    runs, problem = guards.read_table(runs, "the saved transfer runs", ("n", "seed", "r2"))
    if problem:
        return problem
    zero_shot, problem = _zero_shot_r2(model_score)
    if problem:
        return problem
    if zero_shot <= 0:
        return Verdict(False, f"your scorer's R² on the target's test courses is {zero_shot:.3f}: it learned "
                              "nothing that carries over — pass the pre-trained model, "
                              "evaluate.model_scorer(pretrained, vocab).")
    worst = runs.rename(columns={"start": "model"}).query("model == 'random'").groupby("n")["r2"].min()
    if answer not in worst.index:
        return Verdict(False, f"the curves were measured at {list(worst.index)} courses; pick one of those.")
    if not (worst > zero_shot).any():
        return Verdict(False, f"random's worst seed beats your scorer ({zero_shot:.3f}) at none of the measured sizes.")
    expected = int(worst[worst > zero_shot].index.min())
    if answer != expected:
        return Verdict(False, f"at {answer} courses random's worst seed has R² {worst[answer]:.3f}: "
                              + ("every seed beats the pre-trained model there, but is that the fewest courses?"
                                 if worst[answer] > zero_shot else "below the pre-trained model, used as it is."))
    before = worst[worst.index < expected]
    fewer = (f"; at {before.index[-1]} courses one seed has {before.iloc[-1]:.3f}" if len(before) else "")
    return Verdict(True, f"{expected} courses: used as it is, the pre-trained model scores R² {zero_shot:.3f} on the "
                         f"target's test courses, and random's worst seed there has {worst[expected]:.3f}{fewer}.")

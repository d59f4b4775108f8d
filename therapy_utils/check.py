"""Checks for the notebooks' exercises: each says *correct*, or gives a hint naming what is wrong, never the answer.

``exNN_name`` belongs to notebook NN. A check takes the learner's answer — a value, a course, or a function — and
returns a :class:`Verdict`, which a notebook shows as one line. Questions about data are judged against the
simulator's truth (or the saved benchmark results), not against a stored answer, so every correct answer passes.
An exercise left as ``...`` gets "no answer yet" and does nothing else. Worked solutions:
``notebooks/solutions/NN_solutions.ipynb``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import ttest_ind, ttest_rel
from sklearn.metrics import adjusted_rand_score, r2_score

from therapy_utils import batching, data, embeddings, evaluate, model, optimize, simulate, truth

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
Scorer = Callable[[Sequence[Sequence[str]]], np.ndarray]


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: whether the answer passed, and what to say about it."""

    passed: bool
    message: str

    def __repr__(self) -> str:
        return ("✓ Correct. " if self.passed else "✗ Not yet: ") + self.message


NO_ANSWER = Verdict(False, "no answer yet — replace the `...` with yours and run the cell again.")


def _unanswered(answer: object) -> bool:
    return answer is None or answer is Ellipsis


def _call(function: Callable, *args: object) -> tuple[object, Verdict | None]:
    """Run the learner's function; a crash or a missing return value becomes a hint instead of a traceback."""
    if not callable(function):
        return None, Verdict(False, f"expected a function, got {type(function).__name__}.")
    try:
        result = function(*args)
    except Exception as error:  # the learner's code: any failure is feedback
        return None, Verdict(False, f"your function raised {type(error).__name__}: {error}")
    if result is None:
        return None, Verdict(False, "your function returned None — fill in its body and return the result.")
    return result, None


def _course(answer: object, length: int | None = None) -> tuple[tuple[str, ...] | None, Verdict | None]:
    """Read a course given as "A B A", ["A", "B", "A"] or ("A", "B", "A"), and say what is wrong with it."""
    if _unanswered(answer):
        return None, NO_ANSWER
    course = tuple(answer.split()) if isinstance(answer, str) else tuple(answer)
    unknown = [m for m in course if m not in simulate.LETTERS]
    if unknown:
        return None, Verdict(False, f"{unknown[0]!r} is not a module; use the letters A–Q.")
    if length is not None and len(course) != length:
        return None, Verdict(False, f"the course has {len(course)} modules; the exercise asks for {length}.")
    return course, None


def _number(answer: object, kind: type = float) -> tuple[float | None, Verdict | None]:
    """Read a numeric answer; an unanswered or non-numeric one becomes the hint instead of a traceback."""
    if _unanswered(answer):
        return None, NO_ANSWER
    try:
        return kind(answer), None
    except (TypeError, ValueError):
        return None, Verdict(False, f"answer a number, not {answer!r}.")


def _scalar(result: object) -> tuple[float | None, Verdict | None]:
    """Read a function's one-number result; a list, a test-result object or an array of several becomes a hint."""
    try:
        value = np.asarray(result, dtype=float)
    except (TypeError, ValueError):
        return None, Verdict(False, f"return one number, not a {type(result).__name__}.")
    if value.size != 1:
        return None, Verdict(False, f"return one number, not {value.size} of them.")
    return float(value.reshape(())), None


def _call_for_number(function: Callable, *args: object) -> tuple[float | None, Verdict | None]:
    """Run the learner's function and read its one-number result; any failure becomes the hint."""
    result, problem = _call(function, *args)
    return (None, problem) if problem else _scalar(result)


def _results(name: str) -> dict:
    """A results file of benchmarks/ (the checks of notebooks 07 and 08 read the saved runs, as the notebooks do)."""
    path = RESULTS / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: these checks read the repository's benchmarks/results/ folder, "
                                "so run them from a clone of the repository (pip install -e .)")
    return json.loads(path.read_text())


def _array(value: object) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value, dtype=float)


def _same(answer: object, expected: np.ndarray, what: str, atol: float = 1e-6) -> Verdict | None:
    """None when ``answer`` equals ``expected`` (shape and values); otherwise the hint."""
    got = _array(answer)
    if got.shape != expected.shape:
        return Verdict(False, f"{what} has shape {got.shape}; expected {expected.shape}.")
    if not np.allclose(got, expected, atol=atol, rtol=1e-5):
        wrong = int((~np.isclose(got, expected, atol=atol, rtol=1e-5)).sum())
        return Verdict(False, f"{what} has the right shape, but {wrong} of its {expected.size} values differ.")
    return None


def _word(answer: object, choices: dict[str, Sequence[str]]) -> str | None:
    """Map a free-text answer ("Down", "lower") to one of ``choices``' keys, or None."""
    text = str(answer).strip().lower()
    return next((key for key, words in choices.items() if text == key or text in words), None)


@cache
def _realistic() -> simulate.SimulatorParams:
    return simulate.preset_params("realistic")


def _truth(courses: Sequence[Sequence[str]]) -> np.ndarray:
    return optimize.truth_scorer(_realistic())(courses)


# 01 · Simulating courses of therapy ----------------------------------------------------------------------------------

def ex01_noise_direction(answer: str) -> Verdict:
    """Predict-then-run: with ``noise_sd`` raised from 0.06 to 0.15, does the oracle R² go "up" or "down"?"""
    if _unanswered(answer):
        return NO_ANSWER
    said = _word(answer, {"up": ("higher", "rises", "increases"), "down": ("lower", "falls", "decreases")})
    if said is None:
        return Verdict(False, f"answer 'up' or 'down', not {answer!r}.")
    r2 = {}
    for noise in (0.06, 0.15):
        params = simulate.preset_params("realistic", noise_sd=noise)
        courses = simulate.simulate_courses(params, 2000, seed=0)
        r2[noise] = r2_score(courses["effectiveness"], truth.expected_effectiveness(params, courses["modules"]))
    if said != ("down" if r2[0.15] < r2[0.06] else "up"):
        return Verdict(False, "the oracle knows the expected effectiveness exactly; what share of the variance is "
                              "left to the noise when the noise grows?")
    return Verdict(True, f"the oracle R² goes from {r2[0.06]:.3f} to {r2[0.15]:.3f}: the same model can look worse "
                         "on noisier data without being worse — judge it against the oracle.")


def ex01_good_course(course: object) -> Verdict:
    """Investigate: a course of 6 modules whose true expected effectiveness is at least 0.8."""
    course, problem = _course(course, length=6)
    if problem:
        return problem
    value = float(_truth([course])[0])
    if value < 0.8:
        return Verdict(False, f"its true expected effectiveness is {value:.3f}, short of 0.8. The motifs add the "
                              "most, each time they occur; some single modules add a little.")
    return Verdict(True, f"{' '.join(course)}: true expected effectiveness {value:.3f}.")


def ex01_transition_counts(function: Callable) -> Verdict:
    """Build: ``function(courses, modules)`` counts how often each module is directly followed by each other one."""
    courses = simulate.simulate_courses(_realistic(), 300, seed=5)["modules"]
    modules = _realistic().modules
    result, problem = _call(function, courses, modules)
    if problem:
        return problem
    expected = data.transition_counts(courses, modules).to_numpy()
    if isinstance(result, pd.DataFrame) and set(result.index) == set(modules) == set(result.columns):
        result = result.reindex(index=list(modules), columns=list(modules))  # any order of rows and columns
    got = _array(result)
    if got.shape == expected.shape and np.array_equal(got, expected.T):
        return Verdict(False, "rows and columns are swapped: row = the current module, column = the next one.")
    joined = data.transition_counts([tuple(m for c in courses for m in c)], modules).to_numpy()
    if got.shape == expected.shape and np.array_equal(got, joined):
        return Verdict(False, "you also counted the pair formed by the end of one course and the start of the next.")
    return _same(got, expected.astype(float), "your table", atol=0) or Verdict(
        True, "your counts equal data.transition_counts.")


# 02 · The embedding + LSTM model ------------------------------------------------------------------------------------

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


def ex02_gru_cell(function: Callable) -> Verdict:
    """Build: ``function(x, h, gru)`` is one step of ``gru``'s first layer, equal to ``nn.GRU`` over a course."""
    with model.torch_rng(torch.Generator().manual_seed(3)):
        gru = torch.nn.GRU(4, 6, batch_first=True)
    inputs = torch.randn(5, 4, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        _, final = gru(inputs.unsqueeze(0))
        h = torch.zeros(6)
        for x in inputs:
            h, problem = _call(function, x, h, gru)
            if problem:
                return problem
            if tuple(torch.as_tensor(h).shape) != (6,):
                return Verdict(False, f"one step returned shape {tuple(torch.as_tensor(h).shape)}; expected (6,).")
    if torch.allclose(torch.as_tensor(h), final[0, 0], atol=1e-6):
        return Verdict(True, "your cell gives nn.GRU's final hidden state.")
    with torch.no_grad():
        slips = {name: step for name, step in _gru_variants(inputs[0], torch.zeros(6), gru).items() if name != "right"}
        first, _ = _call(function, inputs[0], torch.zeros(6), gru)
    hints = {"swapped update": "the update gate z keeps the old state: h' = (1 − z) ⊙ n + z ⊙ h, not the other way.",
             "reset before the matrix": "PyTorch applies the reset gate after the recurrent matrix: "
                                        "r ⊙ (W_hn h + b_hn).",
             "gate order": "PyTorch stacks the gates in the order r, z, n."}
    for name, step in slips.items():
        if first is not None and torch.allclose(torch.as_tensor(first), step, atol=1e-6):
            return Verdict(False, hints[name])
    return Verdict(False, "the final hidden state differs from nn.GRU's; check each gate against the equations.")


def ex02_masked_mean(function: Callable) -> Verdict:
    """Build: ``function(outputs, lengths)`` averages each course's outputs over its real steps only."""
    outputs = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(5))
    lengths = torch.tensor([5, 2, 3])
    result, problem = _call(function, outputs, lengths)
    if problem:
        return problem
    mask = (torch.arange(5)[None, :] < lengths[:, None]).unsqueeze(-1)
    expected = (outputs * mask).sum(1) / lengths[:, None]
    got = _array(result)
    if got.shape == (3, 4) and np.allclose(got, outputs.mean(1).numpy(), atol=1e-6):
        return Verdict(False, "the padded steps are averaged in too; only the first `lengths[i]` steps are real.")
    if got.shape == (3, 4) and np.allclose(got, ((outputs * mask).sum(1) / 5).numpy(), atol=1e-6):
        return Verdict(False, "the padding is left out of the sum, but you still divide by the padded length.")
    return _same(got, expected.numpy(), "your pooled summary") or Verdict(
        True, "padding no longer leaks into the mean.")


def ex02_parameter_count(answer: int) -> Verdict:
    """Predict-then-run: trainable parameters of the tutorial model with ``hidden_dim=16`` and 18 vocabulary rows."""
    answer, problem = _number(answer, int)
    if problem:
        return problem
    net = model.build_model(18, model.ModelConfig(hidden_dim=16), torch.Generator().manual_seed(0))
    expected = sum(p.numel() for p in net.parameters() if p.requires_grad)
    if answer == expected:
        return Verdict(True, f"{expected:,} parameters; check it with sum(p.numel() for p in net.parameters()).")
    slips = {expected - net.lstm.bias_hh_l0.numel(): "an LSTM layer has two bias vectors per gate, b_ih and b_hh.",
             expected - 32: "the embedding table has a row for the padding index too.",
             expected - 1: "the linear layer has a bias.",
             expected - 16: "the linear layer has a weight per hidden unit.",
             25729: "that is the model with the default hidden size; this one has hidden_dim=16."}
    if answer in slips:
        return Verdict(False, "close: " + slips[answer])
    return Verdict(False, "count each part — the embedding table, the LSTM's gates (weights and biases) and the "
                          "linear layer — and see which one your total leaves out or counts twice.")


# 03 · Training ------------------------------------------------------------------------------------------------------

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
        result, problem = _call(function, losses, patience)
        if problem:
            return problem
        got, expected = list(_array(result)), _plateau_reference(losses, patience)
        if len(got) != len(expected):
            return Verdict(False, f"{len(got)} multipliers for {len(losses)} epochs; one per epoch.")
        if not np.allclose(got, expected):
            first = int(np.argmax(~np.isclose(got, expected)))
            who = ("the scheduler halves the rate and you do not yet" if got[first] > expected[first]
                   else "you halve the rate and the scheduler does not yet")
            return Verdict(False, f"with patience {patience}, at epoch {first + 1} {who}: it halves once *more "
                                  "than* `patience` epochs passed without a new best, then counts again from 0.")
    return Verdict(True, "your schedule equals ReduceLROnPlateau's on three loss curves.")


def ex03_split(function: Callable) -> Verdict:
    """Build: ``function(table, random_state)`` returns {"train", "val", "test"} in 64/16/20 with no shared course."""
    table = simulate.simulate_courses(_realistic(), 500, seed=1)
    result, problem = _call(function, table, 0)
    if problem:
        return problem
    if not isinstance(result, dict) or set(result) != {"train", "val", "test"}:
        return Verdict(False, "return a dict with the keys 'train', 'val' and 'test'.")
    if not all(isinstance(part, pd.DataFrame) and "course_id" in part for part in result.values()):
        return Verdict(False, "each part must be a table of courses (rows of `table`), not positions or ids.")
    ids = {name: set(part["course_id"]) for name, part in result.items()}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        if shared := len(ids[a] & ids[b]):
            return Verdict(False, f"{shared} courses are in both {a} and {b}: the model would be judged on courses "
                                  "it learnt from.")
    if missing := len(set(table["course_id"]) - set().union(*ids.values())):
        return Verdict(False, f"{missing} courses are in no part; every course belongs to exactly one.")
    sizes = {name: len(part) for name, part in result.items()}
    if any(abs(sizes[name] - share * 500) > 1 for name, share in (("train", .64), ("val", .16), ("test", .2))):
        return Verdict(False, f"sizes {sizes} for 500 courses; the split is 64/16/20.")
    again, _ = _call(function, table, 0)
    other, _ = _call(function, table, 1)
    if not isinstance(again, dict) or set(again["test"]["course_id"]) != ids["test"]:
        return Verdict(False, "the same random_state gives another split: draw from the seed, not a global state.")
    if isinstance(other, dict) and set(other["test"]["course_id"]) == ids["test"]:
        return Verdict(False, "another random_state gives the same split: shuffle with the seed you are given.")
    return Verdict(True, "disjoint, complete, 64/16/20 and reproducible from the seed.")


def ex03_accumulate(answer: float) -> Verdict:
    """Predict-then-run: by what factor is ``.grad`` multiplied when ``backward()`` runs twice without ``zero_grad``?"""
    answer, problem = _number(answer)
    if problem:
        return problem
    weight = torch.nn.Parameter(torch.tensor([1.5, -2.0]))
    for _ in range(2):
        (weight ** 2).sum().backward()
    factor = float(weight.grad[0] / (2 * 1.5))
    if not np.isclose(answer, factor):
        return Verdict(False, "backward() does not overwrite .grad; what does it do with what is already there?")
    return Verdict(True, "gradients add up in .grad — which is why a training step starts with zero_grad().")


# 04 · Evaluation ----------------------------------------------------------------------------------------------------

def ex04_r2(function: Callable) -> Verdict:
    """Build: ``function(y_true, y_pred)`` is the coefficient of determination, equal to scikit-learn's."""
    rng = np.random.default_rng(6)
    y = rng.uniform(0.2, 0.9, 50)
    for prediction in (y + rng.normal(0, 0.1, 50), np.full(50, y.mean() + 0.1), y[::-1].copy()):
        got, problem = _call_for_number(function, y, prediction)
        if problem:
            return problem
        expected = r2_score(y, prediction)
        by_predictions = 1 - np.mean((y - prediction) ** 2) / np.var(prediction) if np.var(prediction) else None
        if by_predictions is not None and np.isclose(got, by_predictions) and not np.isclose(got, expected):
            return Verdict(False, "divide by the spread of the actual values, not of the predictions.")
        if not np.isclose(got, expected, atol=1e-9):
            return Verdict(False, "R² = 1 − (sum of squared residuals) / (sum of squares of y around its mean); "
                                  "yours differs — a constant prediction off the mean must score below 0.")
    return Verdict(True, "equal to sklearn.metrics.r2_score, including below 0 for a bad constant prediction.")


def ex04_model_error(course: object, model_score: Scorer) -> Verdict:
    """Investigate: a course of at least 4 modules on which the model is off from the truth by more than 0.1."""
    course, problem = _course(course)
    if problem:
        return problem
    if len(course) < 4:
        return Verdict(False, f"the course has {len(course)} modules; take one of at least 4 (inside the data).")
    predicted, true = float(model_score([course])[0]), float(_truth([course])[0])
    if abs(predicted - true) <= 0.1:
        return Verdict(False, f"the model says {predicted:.3f}, the truth {true:.3f}: off by only "
                              f"{abs(predicted - true):.3f}. Where did notebook 04's residuals spread most?")
    return Verdict(True, f"the model says {predicted:.3f}, the truth {true:.3f}.")


def ex04_oracle_residuals(answer: str, actual: Sequence[float], oracle: Sequence[float]) -> Verdict:
    """Predict-then-run: is the mean of actual − oracle over the test courses "positive", "negative" or "zero"
    (zero: within two standard errors)?"""
    if _unanswered(answer):
        return NO_ANSWER
    said = _word(answer, {"positive": ("above",), "negative": ("below",), "zero": ("0", "about zero", "none")})
    if said is None:
        return Verdict(False, f"answer 'positive', 'negative' or 'zero', not {answer!r}.")
    residuals = np.asarray(actual, dtype=float) - np.asarray(oracle, dtype=float)
    mean, error = residuals.mean(), residuals.std(ddof=1) / np.sqrt(len(residuals))
    truth = "zero" if abs(mean) <= 2 * error else ("positive" if mean > 0 else "negative")
    if said != truth:
        return Verdict(False, "the oracle is the expected effectiveness itself; what is left is the noise — what is "
                              "its mean?")
    return Verdict(True, f"mean residual {mean:+.4f}, standard error {error:.4f}: the oracle is unbiased, its "
                         "residuals are the noise.")


# 05 · Module embeddings ---------------------------------------------------------------------------------------------

def ex05_cosine(function: Callable) -> Verdict:
    """Build: ``function(table)`` returns the modules' cosine similarity matrix (a DataFrame or an array)."""
    table = pd.DataFrame(np.random.default_rng(7).normal(size=(6, 4)) * [1, 3, 0.5, 2], index=list("ABCDEF"))
    result, problem = _call(function, table)
    if problem:
        return problem
    expected = embeddings.similarity_matrix(table).to_numpy()
    got = _array(result)
    if got.shape == expected.shape and np.allclose(got, table.to_numpy() @ table.to_numpy().T):
        return Verdict(False, "these are dot products: divide by both vectors' lengths.")
    return _same(got, expected, "your matrix") or Verdict(True, "equal to embeddings.similarity_matrix.")


def ex05_top_k(function: Callable) -> Verdict:
    """Build: ``function(probabilities, actual, k)`` is the share of rows whose actual column is among the k largest."""
    rng = np.random.default_rng(8)
    probabilities, actual = rng.dirichlet(np.ones(7), 200), rng.integers(0, 7, 200)
    for k in (1, 3):
        got, problem = _call_for_number(function, probabilities, actual, k)
        if problem:
            return problem
        expected = evaluate.top_k_hit_rate(probabilities, actual, k)
        if np.isclose(got, evaluate.top_k_hit_rate(-probabilities, actual, k)) and k == 1:
            return Verdict(False, "you ranked from the smallest; the largest probability is the model's first guess.")
        if not np.isclose(got, expected):
            return Verdict(False, f"for k = {k} your share is {got:.3f}; count a row when fewer than k columns score "
                                  "higher than its actual one.")
    return Verdict(True, "equal to evaluate.top_k_hit_rate for k = 1 and 3.")


def ex05_groups(labels: object) -> Verdict:
    """Investigate: group the 17 modules (a dict module → label); passes at ARI ≥ 0.9 against the true groups."""
    if _unanswered(labels):
        return NO_ANSWER
    try:
        labels = dict(labels)
    except (TypeError, ValueError):
        return Verdict(False, f"give a dict module → label, not {type(labels).__name__}.")
    truth = _realistic().group_of()
    if missing := sorted(set(truth) - set(labels)):
        return Verdict(False, f"no label for {', '.join(missing)}; give every module a group.")
    ari = adjusted_rand_score([truth[m] for m in truth], [labels[m] for m in truth])
    if ari < 0.9:
        return Verdict(False, f"your grouping agrees with the true groups at ARI {ari:.2f} (1 = exactly, 0 = chance). "
                              "The groups show in which module tends to follow which.")
    return Verdict(True, f"ARI {ari:.2f} against the simulator's true groups.")


# 06 · Interactive course builder ------------------------------------------------------------------------------------

def ex06_occlusion(function: Callable) -> Verdict:
    """Build: ``function(score, course)`` gives each position the score of the course minus the score without it."""
    course = ("A", "B", "A", "F", "F", "K")
    result, problem = _call(function, _truth, course)
    if problem:
        return problem
    expected = evaluate.occlusion(_truth, course)
    got = _array(result)
    if got.shape == expected.shape and np.allclose(got, -expected):
        return Verdict(False, "the sign is flipped: a module that helps must get a positive contribution.")
    return _same(got, expected, "your contributions") or Verdict(True, "equal to evaluate.occlusion on the truth.")


def ex06_close_course(course: object, model_score: Scorer) -> Verdict:
    """Investigate: a course of 4 modules on which the model and the truth differ by less than 0.01."""
    course, problem = _course(course, length=4)
    if problem:
        return problem
    predicted, true = float(model_score([course])[0]), float(_truth([course])[0])
    if abs(predicted - true) >= 0.01:
        return Verdict(False, f"the model says {predicted:.3f}, the truth {true:.3f}; try courses like those the "
                              "model saw most often.")
    return Verdict(True, f"the model says {predicted:.3f}, the truth {true:.3f}.")


def ex06_best_next(answer: str, course: Sequence[str] = ("C", "D")) -> Verdict:
    """Predict-then-run: which module does the truth say to add after ``course``?"""
    if _unanswered(answer):
        return NO_ANSWER
    module = str(answer).strip().upper()
    if module not in simulate.LETTERS:
        return Verdict(False, f"{answer!r} is not a module; answer one letter A–Q.")
    gains = evaluate.next_module_gains(_truth, course, simulate.LETTERS)
    if gains[module] < gains.max() - 1e-9:
        return Verdict(False, f"adding {module} gains {gains[module]:+.3f} in the truth; another module gains more. "
                              "Which motif has the course already begun?")
    return Verdict(True, f"adding {module} gains {gains[module]:+.3f}, the most of any module.")


# 07 · Transfer learning ---------------------------------------------------------------------------------------------

def ex07_freeze(function: Callable) -> Verdict:
    """Build: ``function(net)`` freezes the embedding table (and only it), so training moves the LSTM but not it."""
    net = model.build_model(18, model.ModelConfig(), torch.Generator().manual_seed(0))
    returned, problem = _call(lambda n: (function(n),), net)
    if problem:
        return problem
    if returned == (None,) and all(p.requires_grad for p in net.parameters()):
        return NO_ANSWER  # an untouched stub: nothing frozen, nothing returned
    trainable = [p for p in net.parameters() if p.requires_grad]
    if not trainable:
        return Verdict(False, "nothing is left to train: freeze the embedding only.")
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    optimizer = torch.optim.Adam(trainable, lr=0.01)
    padded, lengths = batching.encode_padded([("A", "B", "A"), ("C", "D")], data.Vocabulary(simulate.LETTERS))
    torch.nn.functional.mse_loss(net(padded, lengths), torch.tensor([0.8, 0.4])).backward()
    optimizer.step()
    moved = {name for name, p in net.named_parameters() if not torch.equal(p, before[name])}
    if "embedding.weight" in moved:
        return Verdict(False, "the embedding table still changes after one step: what tells autograd to leave a "
                              "parameter alone?")
    if not any(name.startswith("lstm") for name in moved):
        return Verdict(False, "the LSTM no longer learns: freeze the embedding only.")
    return Verdict(True, "one training step moves the LSTM and the head, not the embedding table.")


def _transfer_runs() -> pd.DataFrame:
    return pd.DataFrame(_results("transfer.json")["runs"]).rename(columns={"start": "model"})


def ex07_strict_sizes(answer: object) -> Verdict:
    """Predict-then-run: at which sizes is the fine-tuned model higher than random with the stricter ``alpha=0.01``?"""
    if _unanswered(answer):
        return NO_ANSWER
    result = evaluate.paired_comparison(_transfer_runs(), [("random", "fine-tuned model")], value="r2", by="n",
                                        alpha=0.01)
    expected = set(result.loc[result["verdict"] == "higher", "n"].astype(int))
    try:
        given = {int(n) for n in answer}
    except (TypeError, ValueError):
        return Verdict(False, f"give a set of sizes such as {{50, 100}}, not {answer!r}.")
    if extra := sorted(given - expected):
        return Verdict(False, f"at {extra[0]} courses the gap is within noise at alpha = 0.01.")
    if missing := sorted(expected - given):
        return Verdict(False, f"one size you left out still passes at alpha = 0.01 ({len(missing)} missing).")
    return Verdict(True, f"{sorted(expected)}: a stricter test keeps only the largest gaps.")


def ex07_courses_for(answer: int, target: float = 0.6) -> Verdict:
    """Investigate: the fewest courses at which random initialisation's mean R² (saved curves) reaches ``target``."""
    answer, problem = _number(answer, int)
    if problem:
        return problem
    means = _transfer_runs().query("model == 'random'").groupby("n")["r2"].mean()
    expected = int(means[means >= target].index.min())
    if answer not in means.index:
        return Verdict(False, f"the curves were measured at {list(means.index)} courses; pick one of those.")
    if answer != expected:
        reached = means[answer] >= target
        return Verdict(False, f"at {answer} courses random's mean R² is {means[answer]:.3f}: "
                              + ("it reaches the target, but is that the fewest courses?" if reached
                                 else f"short of {target}."))
    return Verdict(True, f"{expected} courses: mean R² {means[expected]:.3f}.")


# 08 · Model comparison ----------------------------------------------------------------------------------------------

def ex08_paired_p(function: Callable) -> Verdict:
    """Build: ``function(a, b)`` is the two-sided p-value of the paired t-test of a against b (same seeds, in order)."""
    rng = np.random.default_rng(9)
    base = rng.uniform(0.4, 0.8, 5)
    for a in (base + rng.normal(0.05, 0.03, 5), base + rng.normal(0.0, 0.1, 5)):
        got, problem = _call_for_number(function, a, base)
        if problem:
            return problem
        expected = float(ttest_rel(a, base).pvalue)
        if np.isclose(got, float(ttest_ind(a, base).pvalue)) and not np.isclose(got, expected):
            return Verdict(False, "that is the unpaired test: pair each seed's two results first.")
        if np.isclose(got, expected / 2):
            return Verdict(False, "that is one-sided; the text asks whether a difference exists in either direction.")
        if not np.isclose(got, expected, rtol=1e-6):
            return Verdict(False, "t = mean of the differences / (their sd / √n), with n − 1 degrees of freedom.")
    return Verdict(True, "equal to scipy.stats.ttest_rel's p-value.")


def _accuracy_comparison() -> pd.DataFrame:
    runs = pd.DataFrame(_results("accuracy.json")["runs"])
    return runs[(runs["part"] == "comparison") & ~runs["model"].str.contains("reference")]


def ex08_wider_cnn(answer: object) -> Verdict:
    """Investigate: per preset, is "CNN, wider (32/64)" "higher", "lower" or "within noise" against "CNN (one model of
    the best)" at n = 500? Answer a dict preset → verdict."""
    if _unanswered(answer):
        return NO_ANSWER
    if not isinstance(answer, dict):
        return Verdict(False, f"answer a dict such as {{'original': ..., 'realistic': ...}}, not {answer!r}.")
    result = evaluate.paired_comparison(_accuracy_comparison(), [("CNN (one model of the best)", "CNN, wider (32/64)")])
    for preset, expected in zip(result["preset"], result["verdict"], strict=True):
        said = _word(answer.get(preset, ""), {"higher": (), "lower": (), "within noise": ("noise", "within")})
        if said is None:
            return Verdict(False, f"give a verdict for the {preset} preset: 'higher', 'lower' or 'within noise'.")
        if said != expected:
            return Verdict(False, f"the {preset} preset's verdict is not that: pair the two models' runs by seed and "
                                  "test the differences (evaluate.paired_comparison).")
    return Verdict(True, "within noise on both presets: doubling the CNN's width buys nothing measurable at 500 "
                         "courses." if set(result["verdict"]) == {"within noise"} else "the paired test agrees.")


def ex08_shuffled_vs_ridge(answer: object) -> Verdict:
    """Predict-then-run: in how many of the 5 seeds does the shuffled CNN score above the ridge on the realistic
    preset (benchmarks/results/order.json)?"""
    answer, problem = _number(answer, int)
    if problem:
        return problem
    rows = pd.DataFrame(_results("order.json")["rows"]).query("variant == 'realistic preset'")
    above = int((rows["shuffled_r2"] > rows["ridge_r2"]).sum())
    if answer != above:
        return Verdict(False, f"not {answer} of {len(rows)}: compare shuffled_r2 with ridge_r2 seed by seed.")
    return Verdict(True, f"{above} of {len(rows)}: shuffled, the CNN is the ridge's equal, above it in some seeds and "
                         "below it in others — what it gained over the ridge was all order.")


# 09 · Optimising courses --------------------------------------------------------------------------------------------

def ex09_greedy(function: Callable, length: int = 5) -> Verdict:
    """Build: ``function(score, modules, length)`` grows a course one module at a time, always the best next one."""
    result, problem = _call(function, _truth, simulate.LETTERS, length)
    if problem:
        return problem
    course, problem = _course(result, length=length)
    if problem:
        return problem
    for step in range(length):
        prefix = course[:step]
        scores = _truth([(*prefix, m) for m in simulate.LETTERS])
        if _truth([course[:step + 1]])[0] < scores.max() - 1e-9:
            return Verdict(False, f"at step {step + 1} another module scores higher than {course[step]}; "
                                  "greedy takes the best extension every time.")
    return Verdict(True, f"{' '.join(course)}: the best extension at every step (beam search with a beam of 1).")


def ex09_g_formula(function: Callable) -> Verdict:
    """Build: ``function(by_level, probabilities)`` averages per-severity predictions (dict level → array) over the
    population's severity mix (dict level → probability): E[y | do(x)] = Σ_s E[y | x, S = s] P(S = s)."""
    by_level = {0.0: np.array([0.6, 0.7, 0.5]), 1.0: np.array([0.3, 0.5, 0.2])}
    probabilities = {0.0: 0.7, 1.0: 0.3}
    result, problem = _call(function, by_level, probabilities)
    if problem:
        return problem
    got = _array(result)
    if got.shape == (3,) and np.allclose(got, (by_level[0.0] + by_level[1.0]) / 2):
        return Verdict(False, "equal weights: average with the population's mix P(S = s), not 50/50.")
    expected = 0.7 * by_level[0.0] + 0.3 * by_level[1.0]
    return _same(got, expected, "your standardised prediction") or Verdict(
        True, "the g-formula: each severity's prediction, weighted by how common that severity is.")


def ex09_overrated(course: object, model_score: Scorer) -> Verdict:
    """Investigate: a course of 5 modules the model over-rates by more than 0.05 (prediction − truth)."""
    course, problem = _course(course, length=5)
    if problem:
        return problem
    predicted, true = float(model_score([course])[0]), float(_truth([course])[0])
    if predicted - true <= 0.05:
        return Verdict(False, f"the model says {predicted:.3f}, the truth {true:.3f} (difference "
                              f"{predicted - true:+.3f}). Where did notebook 09's model predict more than the truth?")
    return Verdict(True, f"the model says {predicted:.3f}, the truth {true:.3f}.")


# 10 · Explaining predictions ----------------------------------------------------------------------------------------

def ex10_ig_linear(function: Callable) -> Verdict:
    """Build: ``function(w, x, baseline)``: integrated gradients of f(x) = w · x, one attribution per coordinate."""
    rng = np.random.default_rng(10)
    w, x, baseline = rng.normal(size=6), rng.normal(size=6), rng.normal(size=6)
    result, problem = _call(function, w, x, baseline)
    if problem:
        return problem
    got = _array(result)
    if got.shape == (6,) and np.allclose(got, w * x):
        return Verdict(False, "the baseline is missing: IG integrates along the path from the baseline to x.")
    if got.shape == (6,) and not np.isclose(got.sum(), w @ x - w @ baseline):
        return Verdict(False, "not complete: the attributions must add up to f(x) − f(baseline).")
    return _same(got, (x - baseline) * w, "your attributions") or Verdict(
        True, "for a linear model IG is exact: (x − x′) ⊙ w, and it adds up to f(x) − f(x′).")


def ex10_disagree(course: object, model_score: Scorer, attributions: Callable) -> Verdict:
    """Investigate: a motif-free course of at most 6 modules where occlusion and ``attributions(course)`` (integrated
    gradients) pick different most important positions."""
    course, problem = _course(course)
    if problem:
        return problem
    if not 2 <= len(course) <= 6:
        return Verdict(False, f"the course has {len(course)} modules; take one of 2 to 6.")
    if evaluate.motif_positions(course, _realistic().motifs):
        return Verdict(False, "the course holds a motif; find one without.")
    occluded = evaluate.occlusion(model_score, course)
    integrated = _array(attributions(course))
    if int(np.argmax(occluded)) == int(np.argmax(integrated)):
        return Verdict(False, f"both put position {int(np.argmax(occluded))} ({course[int(np.argmax(occluded))]}) "
                              "first. Where no position stands out, small differences decide.")
    return Verdict(True, f"occlusion picks position {int(np.argmax(occluded))}, integrated gradients "
                         f"{int(np.argmax(integrated))}.")


def ex10_least_removed(answer: str, model_score: Scorer, courses: Sequence[Sequence[str]]) -> Verdict:
    """Predict-then-run: removing each course's 3 *least* occlusion-attributed positions changes the prediction
    "more" or "less" than removing 3 random ones?"""
    if _unanswered(answer):
        return NO_ANSWER
    said = _word(answer, {"more": ("larger", "bigger"), "less": ("smaller", "fewer")})
    if said is None:
        return Verdict(False, f"answer 'more' or 'less', not {answer!r}.")
    least = [-evaluate.occlusion(model_score, c) for c in courses]
    checks = evaluate.removal_checks(model_score, least, courses, k=3, seed=0)
    expected = "more" if checks["comprehensiveness_top"] > checks["comprehensiveness_random"] else "less"
    if said != expected:
        return Verdict(False, "the least attributed positions are those whose removal the model minds least (or "
                              "even welcomes).")
    return Verdict(True, f"removing the least attributed changes it by {checks['comprehensiveness_top']:+.3f} on "
                         f"average, random positions by {checks['comprehensiveness_random']:+.3f}.")


def ex11_scaled(function: Callable) -> Verdict:
    """Build: ``function(residuals, sigmas, new_sigmas, level)`` → spread-scaled conformal half-widths, judged
    against crepes' normalised conformal regressor."""
    from crepes import ConformalRegressor

    rng = np.random.default_rng(11)
    for n, level in ((80, 0.9), (321, 0.8)):
        sigmas, new_sigmas = rng.uniform(0.01, 0.05, size=n), rng.uniform(0.01, 0.05, size=7)
        residuals = rng.normal(0, 1, size=n) * (0.03 + sigmas)
        got = _call(function, residuals.copy(), sigmas.copy(), new_sigmas.copy(), level)
        if got[1]:
            return got[1]
        try:
            answer = _array(got[0])
        except (TypeError, ValueError):
            return Verdict(False, f"return numbers, one half-width per new course, not a {type(got[0]).__name__}.")
        expected = ConformalRegressor().fit(residuals, sigmas=sigmas).predict_int(
            np.zeros(7), sigmas=new_sigmas, confidence=level)[:, 1]
        if answer.shape != expected.shape:
            return Verdict(False, f"return one half-width per new course ({len(expected)}), not an array of shape "
                                  f"{answer.shape}: multiply the quantile by each new course's σ.")
        if np.allclose(answer, expected, rtol=0, atol=1e-12):
            continue
        scores = np.sort(np.abs(residuals) / sigmas)
        if np.allclose(answer, np.quantile(scores, level) * new_sigmas, atol=1e-12) or np.allclose(
                answer, scores[int(np.ceil(n * level)) - 1] * new_sigmas, atol=1e-12):
            return Verdict(False, "close: rank (n + 1) · level, rounded up, not n · level — the + 1 counts the new "
                                  "course among the calibration courses.")
        plain = np.sort(np.abs(residuals))[int(np.ceil((n + 1) * level)) - 1]
        if np.allclose(answer, plain * new_sigmas, atol=1e-12):
            return Verdict(False, "score each calibration course by |r| / σ, its residual in units of its own spread, "
                                  "before taking the quantile.")
        if np.allclose(answer, np.sort(residuals / sigmas)[int(np.ceil((n + 1) * level)) - 1] * new_sigmas,
                       atol=1e-12):
            return Verdict(False, "the interval is symmetric: rank the residuals' sizes |r|, not their signed values.")
        return Verdict(False, f"with {n} residuals at level {level} your half-widths differ from the scaled conformal "
                              "ones: score by |r| / σ, take the ⌈(n + 1) · level⌉-th smallest score, multiply by each "
                              "new σ.")
    return Verdict(True, "those are crepes' normalised conformal half-widths: wider where the members disagree.")


def ex11_misplaced(course: object, predict_one: Callable[[tuple[str, ...]], float], half_width: float) -> Verdict:
    """Investigate: a course of ≤ 8 modules whose interval ``prediction ± half_width`` has a true chance below 0.8."""
    course, problem = _course(course)
    if problem:
        return problem
    if not 1 <= len(course) <= 8:
        return Verdict(False, f"the course has {len(course)} modules; the exercise asks for 1 to 8.")
    prediction = float(predict_one(course))
    lower, upper = max(prediction - half_width, 0.0), min(prediction + half_width, 1.0)
    distribution = truth.outcome_distribution(_realistic(), [course])
    chance, mean = float(distribution.coverage(lower, upper)[0]), float(distribution.mean()[0])
    if chance >= 0.8:
        return Verdict(False, f"its interval {lower:.3f} to {upper:.3f} holds the outcome with true chance "
                              f"{chance:.2f}: the prediction is only {prediction - mean:+.3f} from the true mean. "
                              "Look for a course the model gets wrong by more than about 0.05.")
    return Verdict(True, f"the interval {lower:.3f} to {upper:.3f} holds the outcome with true chance {chance:.2f}: "
                         f"the prediction {prediction:.3f} is {prediction - mean:+.3f} from the true mean {mean:.3f}, "
                         "and a fixed width cannot know that.")


def ex11_train_calibration(answer: str, train_predictions: np.ndarray, train_outcomes: np.ndarray,
                           test_predictions: np.ndarray, test_courses: pd.DataFrame) -> Verdict:
    """Predict-then-run: calibrating split conformal on the training residuals gives a true coverage "above" or
    "below" 0.9?"""
    from therapy_utils.uncertainty import split_conformal

    if _unanswered(answer):
        return NO_ANSWER
    said = _word(answer, {"above": ("more", "higher", "over"), "below": ("less", "lower", "under")})
    if said is None:
        return Verdict(False, f"answer 'above' or 'below', not {answer!r}.")
    lower, upper = split_conformal(train_predictions, train_outcomes, test_predictions, 0.9)
    coverage = float(truth.outcome_distribution(_realistic(), test_courses["modules"]).coverage(lower, upper).mean())
    expected = "above" if coverage > 0.9 else "below"
    if said != expected:
        return Verdict(False, "the model was fitted to the training outcomes: are its residuals there typical of a "
                              "course it has never seen?")
    return Verdict(True, f"calibrated on the training courses, the 90 % intervals are {np.mean(upper - lower):.3f} "
                         f"wide and their mean true coverage is {coverage:.3f}: residuals of fitted courses are "
                         "too small, so the intervals are too narrow.")

"""Checks for the notebooks' exercises: each says *correct*, or gives a hint naming what is wrong, never the answer.

``exNN_name`` belongs to notebook NN. A check takes the learner's answer — a value, a course, or a function — and
returns a :class:`Verdict`, which a notebook shows as one line. Questions about data are judged against the
simulator's truth (or the saved benchmark results), not against a stored answer, so every correct answer passes;
no check draws at random. Every piece of the learner's code runs through :func:`_call`, and every answer is read
through a guard (:func:`_array`, :func:`_number`, :func:`_course`...), so a malformed answer of any type gets a hint,
never a traceback. A scorer or a predictor said to be the notebook's model must behave like one (:func:`_model_check`).
An exercise left as ``...`` gets "no answer yet" and does nothing else. Worked solutions:
``notebooks/solutions/NN_solutions.ipynb``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm, ttest_ind, ttest_rel
from sklearn.metrics import adjusted_rand_score, r2_score

from therapy_utils import batching, compare, data, embeddings, evaluate, model, optimize, simulate, truth
from therapy_utils.evaluate import Scorer
from therapy_utils.uncertainty import conformal_threshold, split_conformal

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
# A scorer said to be the notebook's model is run on these many typical simulated courses first (_model_check): the
# notebooks' models predict within [0, 1] there, their predictions spread by about 0.1 and depart from the truth by a
# course-dependent 0.02 to 0.1. A constant, the truth, or the truth shifted by a constant is refused.
PROBE_COURSES, PROBE_SEED = 24, 12
MIN_SPREAD = 0.01  # standard deviation of a scorer's predictions over the probe courses below which it is constant
MIN_DEPARTURE = 0.002  # standard deviation of (prediction − truth) below which a scorer is the truth, maybe shifted
MIN_REMOVAL_COURSES = 30  # ex10_least_removed averages over at least this many courses (a few would be cherry-picked)


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: whether the answer passed, and what to say about it."""

    passed: bool
    message: str

    def __repr__(self) -> str:
        return ("✓ Correct. " if self.passed else "✗ Not yet: ") + self.message


NO_ANSWER = Verdict(False, "no answer yet — replace the `...` with yours and run the cell again.")
# The learner's scorer or predictor, run guarded: courses → (one score per course, None) or (None, the hint)
GuardedScores = Callable[[list[tuple[str, ...]]], tuple[np.ndarray | None, Verdict | None]]


def _unanswered(answer: object) -> bool:
    return answer is None or answer is Ellipsis


def _show(value: object, limit: int = 60) -> str:
    """A short repr of a learner's value for a hint (a repr that fails, or runs long, is cut)."""
    try:
        text = repr(value)
    except Exception:  # the learner's object: its repr may fail too
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _call(function: Callable, *args: object) -> tuple[object, Verdict | None]:
    """Run the learner's function; a crash or a missing return value becomes a hint instead of a traceback."""
    if _unanswered(function):
        return None, NO_ANSWER
    if not callable(function):
        return None, Verdict(False, f"expected a function, got {type(function).__name__}.")
    try:
        result = function(*args)
    except (Exception, SystemExit) as error:  # the learner's code: any failure is feedback
        try:
            said = str(error)
        except Exception:  # the learner's exception: its text may fail too
            said = ""
        return None, Verdict(False, f"your function raised {type(error).__name__}: {said[:200]}")
    if result is None:
        return None, Verdict(False, "your function returned None — fill in its body and return the result.")
    return result, None


def _array(value: object, what: str = "your result") -> tuple[np.ndarray | None, Verdict | None]:
    """Read numbers (a list, a numpy array, a tensor of any float type, a DataFrame) as float64; anything else — text,
    a dict, a generator, ragged lists, NaN or infinity — becomes the hint."""
    try:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().to(torch.float64).numpy()
        raw = np.asarray(value)
        if raw.dtype.kind == "O" and any(isinstance(item, str | bytes) for item in raw.flat):
            raise TypeError("text")
        if raw.dtype.kind not in "iufO":
            raise TypeError(raw.dtype.kind)
        values = raw.astype(float)
    except Exception:  # a learner's object: converting it runs its code
        return None, Verdict(False, f"{what} should be numbers, not {_show(value)} (a {type(value).__name__}).")
    if not np.isfinite(values).all():
        return None, Verdict(False, f"{what} holds NaN or infinite values.")
    return values, None


def _scalar(result: object, what: str = "your function's result") -> tuple[float | None, Verdict | None]:
    """Read a one-number result; text, a list, a test-result object or an array of several becomes a hint."""
    if isinstance(result, bool | np.bool_):
        return None, Verdict(False, f"{what} should be a number, not {result}.")
    value, problem = _array(result, what)
    if problem:
        return None, problem
    if value.size != 1:
        return None, Verdict(False, f"{what} should be one number, not {value.size} of them.")
    return float(value.reshape(())), None


def _number(answer: object, kind: type = float) -> tuple[float | None, Verdict | None]:
    """Read a numeric answer; an unanswered, non-numeric, non-finite or (for ``int``) fractional one is the hint."""
    if _unanswered(answer):
        return None, NO_ANSWER
    value, problem = _scalar(answer, "your answer")
    if problem:
        return None, Verdict(False, f"answer a number, not {_show(answer)}.")
    if kind is int and not value.is_integer():
        return None, Verdict(False, f"answer a whole number, not {value}.")
    return kind(value), None


def _call_for_number(function: Callable, *args: object) -> tuple[float | None, Verdict | None]:
    """Run the learner's function and read its one-number result; any failure becomes the hint."""
    result, problem = _call(function, *args)
    return (None, problem) if problem else _scalar(result)


def _vector(value: object, what: str, length: int | None = None) -> tuple[np.ndarray | None, Verdict | None]:
    """Read a 1-D array of at least two numbers (of ``length`` of them if given); anything else is the hint."""
    if _unanswered(value):
        return None, Verdict(False, f"{what} is missing.")
    values, problem = _array(value, what)
    if problem:
        return None, problem
    if values.ndim != 1 or len(values) < 2:
        return None, Verdict(False, f"{what} should be one number per course, not shape {values.shape}.")
    if length is not None and len(values) != length:
        return None, Verdict(False, f"{what} has {len(values)} values; the other data given have {length}.")
    return values, None


def _course(answer: object, length: int | None = None) -> tuple[tuple[str, ...] | None, Verdict | None]:
    """Read a course given as "A B A", ["A", "B", "A"] or ("A", "B", "A"), and say what is wrong with it."""
    if _unanswered(answer):
        return None, NO_ANSWER
    try:
        if isinstance(answer, dict | set | frozenset | bytes):
            raise TypeError("unordered")
        course = tuple(answer.split()) if isinstance(answer, str) else tuple(answer)
    except Exception:  # a learner's object: iterating it runs its code
        return None, Verdict(False, f"give a course as modules, e.g. 'A B A F' or ['A', 'B', 'A', 'F'], not "
                                    f"{_show(answer)}.")
    unknown = [m for m in course if not (isinstance(m, str) and m in simulate.LETTERS)]
    if unknown:
        return None, Verdict(False, f"{_show(unknown[0])} is not a module; use the letters A–Q.")
    if length is not None and len(course) != length:
        return None, Verdict(False, f"the course has {len(course)} modules; the exercise asks for {length}.")
    return course, None


def _courses(value: object, what: str) -> tuple[list[tuple[str, ...]] | None, Verdict | None]:
    """Read several courses: a table with a ``modules`` column, or a sequence of courses."""
    if isinstance(value, pd.DataFrame) and "modules" in value:
        value = value["modules"]
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | pd.Series | np.ndarray):
        return None, Verdict(False, f"{what} should be courses (a table with a 'modules' column, or a list of "
                                    f"courses), not {_show(value)}.")
    courses = []
    for item in list(value):
        course, problem = _course(item)
        if problem:
            return None, Verdict(False, f"{what}: {problem.message}")
        courses.append(course)
    return courses, None


def _results(name: str) -> dict:
    """A results file of benchmarks/ (the checks of notebooks 07 and 08 read the saved runs, as the notebooks do)."""
    path = RESULTS / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: these checks read the repository's benchmarks/results/ folder, "
                                "so run them from a clone of the repository (pip install -e .)")
    return json.loads(path.read_text())


def _same(answer: object, expected: np.ndarray, what: str, atol: float = 1e-6) -> Verdict | None:
    """None when ``answer`` equals ``expected`` (shape and values); otherwise the hint."""
    got, problem = _array(answer, what)
    if problem:
        return problem
    if got.shape != expected.shape:
        return Verdict(False, f"{what} has shape {got.shape}; expected {expected.shape}.")
    if not np.allclose(got, expected, atol=atol, rtol=1e-5):
        wrong = int((~np.isclose(got, expected, atol=atol, rtol=1e-5)).sum())
        return Verdict(False, f"{what} has the right shape, but {wrong} of its {expected.size} values differ.")
    return None


def _word(answer: object, choices: dict[str, Sequence[str]]) -> str | None:
    """Map a free-text answer ("Down", "lower") to one of ``choices``' keys, or None (also for a non-text answer)."""
    if isinstance(answer, bool) or not isinstance(answer, str | int | float):
        return None
    text = str(answer).strip().lower()
    return next((key for key, words in choices.items() if text == key or text in words), None)


@cache
def _realistic() -> simulate.SimulatorParams:
    return simulate.preset_params("realistic")


def _truth(courses: Sequence[Sequence[str]]) -> np.ndarray:
    return optimize.truth_scorer(_realistic())(courses)


@cache
def _probes() -> tuple[tuple[str, ...], ...]:
    """Typical simulated courses on which a scorer must behave like a trained model (:func:`_model_check`)."""
    return tuple(tuple(c) for c in simulate.simulate_courses(_realistic(), PROBE_COURSES, seed=PROBE_SEED)["modules"])


def _call_for_values(function: object, argument: object, length: int,
                     what: str) -> tuple[np.ndarray | None, Verdict | None, tuple[int, ...]]:
    """Run the learner's function on one argument and read ``length`` numbers from it: (values, None, shape) when
    the shape is right, else (None, the hint or None, the shape returned) — the caller words a shape hint."""
    result, problem = _call(function, argument)
    values, problem = (None, problem) if problem else _array(result, what)
    if problem:
        return None, problem, ()
    return (values, None, values.shape) if values.shape == (length,) else (None, None, values.shape)


def _batch_scores(score: object) -> GuardedScores:
    """The learner's scorer (courses → one score each), run guarded: courses → (scores, None) or (None, hint)."""
    def run(courses: list[tuple[str, ...]]) -> tuple[np.ndarray | None, Verdict | None]:
        values, problem, shape = _call_for_values(score, list(courses), len(courses), "your scorer's result")
        if values is None and problem is None:
            problem = Verdict(False, f"a scorer returns one score per course: for {len(courses)} courses yours "
                                     f"returned shape {shape}.")
        return values, problem
    return run


def _one_by_one(predict_one: object) -> GuardedScores:
    """The learner's one-course predictor, run guarded on each course in turn (as :func:`_batch_scores`)."""
    def run(courses: list[tuple[str, ...]]) -> tuple[np.ndarray | None, Verdict | None]:
        values = []
        for course in courses:
            value, problem = _call_for_number(predict_one, course)
            if problem:
                return None, problem
            values.append(value)
        return np.array(values), None
    return run


def _not_a_model(values: np.ndarray, courses: Sequence[tuple[str, ...]], what: str) -> Verdict | None:
    """None when predictions on typical courses look like a trained model's; otherwise why they do not."""
    why = "pass the notebook's trained model" + (", evaluate.model_scorer(net, vocab)" if "scorer" in what else "")
    if values.min() < 0 or values.max() > 1:
        return Verdict(False, f"on {len(values)} typical simulated courses {what} gives {values.min():.3f} to "
                              f"{values.max():.3f}; a model trained on effectiveness scores, which lie in [0, 1], "
                              f"predicts inside [0, 1] there — {why}.")
    if values.std() < MIN_SPREAD:
        return Verdict(False, f"{what} gives {len(values)} typical simulated courses nearly the same score "
                              f"({values.mean():.3f}, sd {values.std():.4f}); a trained model tells them apart — "
                              f"{why}, not a constant.")
    departure = values - _truth(courses)
    if departure.std() < MIN_DEPARTURE:
        shift = f" shifted by {departure.mean():+.3f}" if abs(departure.mean()) >= MIN_DEPARTURE else ""
        return Verdict(False, f"{what} is the simulator's truth{shift}, not a model: the exercise asks where a "
                              f"model departs from the truth — {why}.")
    return None


def _model_check(scores: GuardedScores, course: tuple[str, ...] | None = None,
                 what: str = "your scorer") -> tuple[float | None, Verdict | None]:
    """The model's prediction for ``course``, once ``scores`` behaves like a trained model on the probe courses:
    within [0, 1], not constant, not the truth (shifted or not), and the same for a course alone or among others."""
    probes = [*_probes(), *([course] if course is not None else [])]
    values, problem = scores(probes)
    if problem:
        return None, problem
    again, problem = scores(probes[-1:])
    if problem:
        return None, problem
    if abs(again[0] - values[-1]) > 1e-5:
        return None, Verdict(False, f"{what} gave one course two scores, {values[-1]:.4f} among other courses "
                                    f"and {again[0]:.4f} alone; a trained model's prediction is fixed — pass the "
                                    "notebook's model.")
    problem = _not_a_model(values[:PROBE_COURSES], probes[:PROBE_COURSES], what)
    return (None, problem) if problem else (float(values[-1]), None)


# 01 · Simulating courses of therapy ----------------------------------------------------------------------------------

def ex01_noise_direction(answer: str) -> Verdict:
    """Predict-then-run: with ``noise_sd`` raised from 0.06 to 0.15, does the oracle R² go "up" or "down"?"""
    if _unanswered(answer):
        return NO_ANSWER
    said = _word(answer, {"up": ("higher", "rises", "increases"), "down": ("lower", "falls", "decreases")})
    if said is None:
        return Verdict(False, f"answer 'up' or 'down', not {_show(answer)}.")
    r2 = {}
    for noise in (0.06, 0.15):
        params = simulate.preset_params("realistic", noise_sd=noise)
        courses = simulate.simulate_courses(params, 2000, seed=0)
        r2[noise] = r2_score(courses["effectiveness"], truth.expected_effectiveness(params, courses["modules"]))
    expected = "down" if r2[0.15] < r2[0.06] else "up"
    if said != expected:
        return Verdict(False, "the oracle knows the expected effectiveness exactly; what share of the variance is "
                              "left to the noise when the noise grows?")
    meaning = ("the same model can look worse on noisier data without being worse — judge it against the oracle."
               if expected == "down" else "even the oracle's R² rose, so here the noise is not what limits a model.")
    return Verdict(True, f"the oracle R² goes {expected} from {r2[0.06]:.3f} to {r2[0.15]:.3f}: {meaning}")


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
    result, problem = _call(function, courses.copy(), list(modules))
    if problem:
        return problem
    expected = data.transition_counts(courses, modules).to_numpy()
    if (isinstance(result, pd.DataFrame) and result.index.is_unique and result.columns.is_unique
            and set(result.index) == set(modules) == set(result.columns)):
        result = result.reindex(index=list(modules), columns=list(modules))  # any order of rows and columns
    got, problem = _array(result, "your table")
    if problem:
        return problem
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


def _gru_step(function: Callable, x: torch.Tensor, h: torch.Tensor,
              gru: torch.nn.GRU) -> tuple[torch.Tensor | None, Verdict | None]:
    """One step of the learner's cell on copies of the inputs, read back as a float32 tensor of shape (hidden,):
    a float64 tensor, a numpy array or a list is judged on its values."""
    result, problem = _call(function, x.clone(), h.clone(), copy.deepcopy(gru))
    values, problem = (None, problem) if problem else _array(result, "one step's result")
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
    result, problem = _call(function, outputs.clone(), lengths.clone())
    got, problem = (None, problem) if problem else _array(result, "your pooled summary")
    if problem:
        return problem
    mask = (torch.arange(5)[None, :] < lengths[:, None]).unsqueeze(-1)
    expected = (outputs * mask).sum(1) / lengths[:, None]
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
        result, problem = _call(function, list(losses), patience)
        got, problem = (None, problem) if problem else _array(result, "your multipliers")
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
    table = simulate.simulate_courses(_realistic(), 500, seed=1)
    result, problem = _call(function, table.copy(), 0)
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
    again, problem = _call(function, table.copy(), 0)
    again, problem = (None, problem) if problem else _split_ids(again)
    if problem or again["test"] != ids["test"]:
        return Verdict(False, "the same random_state gives another split: draw from the seed, not a global state.")
    other, problem = _call(function, table.copy(), 1)
    other, problem = (None, problem) if problem else _split_ids(other)
    if problem:
        return Verdict(False, f"with random_state=1: {problem.message}")
    if other["test"] == ids["test"]:
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
        got, problem = _call_for_number(function, y.copy(), prediction.copy())
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
    """Investigate: a course of at least 4 modules on which the model is off from the truth by more than 0.1.
    ``model_score`` must be the notebook's model (see :func:`_model_check`)."""
    course, problem = _course(course)
    if problem:
        return problem
    if len(course) < 4:
        return Verdict(False, f"the course has {len(course)} modules; take one of at least 4 (inside the data).")
    predicted, problem = _model_check(_batch_scores(model_score), course)
    if problem:
        return problem
    true = float(_truth([course])[0])
    if abs(predicted - true) <= 0.1:
        return Verdict(False, f"the model says {predicted:.3f}, the truth {true:.3f}: off by only "
                              f"{abs(predicted - true):.3f}. Where did notebook 04's residuals spread most?")
    return Verdict(True, f"the model says {predicted:.3f}, the truth {true:.3f}.")


@cache
def _oracle_bias() -> tuple[float, float]:
    """The exact expected residual outcome − oracle, E[y | course] − the oracle's value, over many simulated courses
    (mean and largest size): the simulator's outcome distribution against truth.expected_effectiveness."""
    courses = simulate.simulate_courses(_realistic(), 2000, seed=0)["modules"]
    gap = truth.outcome_distribution(_realistic(), courses).mean() - truth.expected_effectiveness(_realistic(), courses)
    return float(gap.mean()), float(np.abs(gap).max())


def _sample_words(mean: float, error: float, n: int) -> str:
    """What a sample's mean residual says, by how many standard errors it lies from 0."""
    if error == 0:
        return f"your {n} residuals are all {mean:+.4f}: these are not outcomes and the oracle of the same courses."
    z = abs(mean) / error
    said = f"your {n} test courses' mean residual is {mean:+.4f}, standard error {error:.4f}"
    if z <= 2:
        return f"{said}: within two standard errors of 0, as a sample of pure noise should be."
    chance = 2 * norm.sf(z)
    if chance >= 1e-4:
        return f"{said}: {z:.1f} standard errors from 0, as far as pure noise lands with chance {chance:.2g} — luck."
    return (f"{said}: {z:.1f} standard errors from 0, further than noise of mean 0 plausibly goes — check that "
            "`actual` and `oracle` are the outcomes and the oracle of the same courses.")


def ex04_oracle_residuals(answer: str, actual: Sequence[float], oracle: Sequence[float]) -> Verdict:
    """Predict-then-run: is the mean of actual − oracle over the test courses "positive", "negative" or "zero"?
    Judged by the simulator's exact expected residual, never by a test on the sample given; the sample is described."""
    if _unanswered(answer):
        return NO_ANSWER
    said = _word(answer, {"positive": ("above",), "negative": ("below",), "zero": ("0", "about zero", "none")})
    if said is None:
        return Verdict(False, f"answer 'positive', 'negative' or 'zero', not {_show(answer)}.")
    actual, problem = _vector(actual, "actual")
    oracle, problem = (None, problem) if problem else _vector(oracle, "oracle", len(actual))
    if problem:
        return problem
    residuals = actual - oracle
    mean, error = float(residuals.mean()), float(residuals.std(ddof=1) / np.sqrt(len(residuals)))
    bias, largest = _oracle_bias()
    expected = "zero" if largest < 1e-9 else ("positive" if bias > 0 else "negative")
    if said != expected:
        return Verdict(False, "the oracle is the expected effectiveness itself; what is left is the noise — what is "
                              "its mean?")
    exact = ("the simulator's outcome has the oracle as its exact mean (clipping included), so the residuals are "
             "pure noise of mean 0" if expected == "zero" else f"in the simulator the expected residual is {bias:+.4f}")
    return Verdict(True, f"{exact}; {_sample_words(mean, error, len(residuals))}")


# 05 · Module embeddings ---------------------------------------------------------------------------------------------

def ex05_cosine(function: Callable) -> Verdict:
    """Build: ``function(table)`` returns the modules' cosine similarity matrix (a DataFrame or an array)."""
    table = pd.DataFrame(np.random.default_rng(7).normal(size=(6, 4)) * [1, 3, 0.5, 2], index=list("ABCDEF"))
    result, problem = _call(function, table.copy())
    got, problem = (None, problem) if problem else _array(result, "your matrix")
    if problem:
        return problem
    expected = embeddings.similarity_matrix(table).to_numpy()
    if got.shape == expected.shape and np.allclose(got, table.to_numpy() @ table.to_numpy().T):
        return Verdict(False, "these are dot products: divide by both vectors' lengths.")
    return _same(got, expected, "your matrix") or Verdict(True, "equal to embeddings.similarity_matrix.")


def ex05_top_k(function: Callable) -> Verdict:
    """Build: ``function(probabilities, actual, k)`` is the share of rows whose actual column is among the k largest."""
    rng = np.random.default_rng(8)
    probabilities, actual = rng.dirichlet(np.ones(7), 200), rng.integers(0, 7, 200)
    for k in (1, 3):
        got, problem = _call_for_number(function, probabilities.copy(), actual.copy(), k)
        if problem:
            return problem
        expected = evaluate.top_k_hit_rate(probabilities, actual, k)
        if np.isclose(got, evaluate.top_k_hit_rate(-probabilities, actual, k)) and k == 1:
            return Verdict(False, "you ranked from the smallest; the largest probability is the model's first guess.")
        if not np.isclose(got, expected):
            return Verdict(False, f"for k = {k} your share is {got:.3f}; count a row when fewer than k columns score "
                                  "higher than its actual one.")
    return Verdict(True, "equal to evaluate.top_k_hit_rate for k = 1 and 3.")


@cache
def _renamed_population() -> tuple[pd.DataFrame, dict[str, str]]:
    """Realistic courses whose module letters are renamed by a fixed permutation, and their true groups: a grouping
    read off notebook 05's printed clusters does not fit them, one computed from the courses does."""
    params = _realistic()
    courses = simulate.simulate_courses(params, 2000, seed=5)[["course_id", "modules", "effectiveness"]]
    renamed = dict(zip(params.modules, np.random.default_rng(5).permutation(list(params.modules)), strict=True))
    courses = courses.assign(modules=courses["modules"].map(lambda course: tuple(renamed[m] for m in course)))
    return courses, {renamed[m]: group for m, group in params.group_of().items()}


def ex05_groups(labels: object) -> Verdict:
    """Investigate: group the 17 modules; passes at ARI ≥ 0.9 against the true groups.

    The exercise asks for a function ``labels(courses)`` → dict module → label, run here on realistic courses whose
    module letters were renamed (so copying a printed grouping does not pass); a dict is judged against the realistic
    preset's own groups."""
    if _unanswered(labels):
        return NO_ANSWER
    truth_groups, renamed = _realistic().group_of(), ""
    if callable(labels):
        courses, truth_groups = _renamed_population()
        labels, problem = _call(labels, courses.copy())
        if problem:
            return problem
        renamed = " on 2,000 courses whose module letters were renamed"
    try:
        if isinstance(labels, str | bytes):
            raise TypeError("text")
        labels = dict(labels)
    except Exception:  # a learner's object: converting it runs its code
        return Verdict(False, f"give a dict module → label, not {type(labels).__name__}.")
    if missing := sorted(set(truth_groups) - set(labels)):
        return Verdict(False, f"no label for {', '.join(missing)}; give every module a group.")
    try:
        ari = adjusted_rand_score([truth_groups[m] for m in truth_groups], [labels[m] for m in truth_groups])
    except Exception:  # the learner's labels: comparing them runs their code
        return Verdict(False, "each label must be a single value such as 0 or 'skills', not a list or a table.")
    if ari < 0.9:
        return Verdict(False, f"your grouping agrees with the true groups{renamed} at ARI {ari:.2f} (1 = exactly, "
                              "0 = chance). Compute it from the courses you are given: the groups show in which "
                              "module tends to follow which.")
    return Verdict(True, f"ARI {ari:.2f} against the simulator's true groups{renamed}.")


# 06 · Interactive course builder ------------------------------------------------------------------------------------

def ex06_occlusion(function: Callable) -> Verdict:
    """Build: ``function(score, course)`` gives each position the score of the course minus the score without it."""
    course = ("A", "B", "A", "F", "F", "K")
    result, problem = _call(function, _truth, course)
    got, problem = (None, problem) if problem else _array(result, "your contributions")
    if problem:
        return problem
    expected = evaluate.occlusion(_truth, course)
    if got.shape == expected.shape and np.allclose(got, -expected):
        return Verdict(False, "the sign is flipped: a module that helps must get a positive contribution.")
    return _same(got, expected, "your contributions") or Verdict(True, "equal to evaluate.occlusion on the truth.")


def ex06_close_course(course: object, model_score: Scorer) -> Verdict:
    """Investigate: a course of 4 modules on which the model and the truth differ by less than 0.01.
    ``model_score`` must be the notebook's model (see :func:`_model_check`)."""
    course, problem = _course(course, length=4)
    if problem:
        return problem
    predicted, problem = _model_check(_batch_scores(model_score), course)
    if problem:
        return problem
    true = float(_truth([course])[0])
    if abs(predicted - true) >= 0.01:
        return Verdict(False, f"the model says {predicted:.3f}, the truth {true:.3f}; try courses like those the "
                              "model saw most often.")
    return Verdict(True, f"the model says {predicted:.3f}, the truth {true:.3f}.")


def ex06_best_next(answer: str, course: Sequence[str] = ("C", "D"), model_score: Scorer | None = None) -> Verdict:
    """Predict-then-run: which module does the truth say to add after ``course``? With ``model_score`` (the
    notebook's model, see :func:`_model_check`), a right answer also says where the model ranks that module."""
    if _unanswered(answer):
        return NO_ANSWER
    course, problem = _course(course)
    if problem or not course:
        return problem or Verdict(False, "the course to extend is empty; give it at least one module.")
    module = answer.strip().upper() if isinstance(answer, str) else None
    if module not in simulate.LETTERS:
        return Verdict(False, f"{_show(answer)} is not a module; answer one letter A–Q.")
    gains = evaluate.next_module_gains(_truth, course, simulate.LETTERS)
    if gains[module] < gains.max() - 1e-9:
        begun = any(course[-k:] == motif[:k] for motif in _realistic().motifs for k in range(1, len(motif)))
        return Verdict(False, f"adding {module} gains {gains[module]:+.3f} in the truth; another module gains more. "
                              + ("Which motif has the course already begun?" if begun else
                                 "Compare every module's gain with evaluate.next_module_gains."))
    verdict = f"adding {module} gains {gains[module]:+.3f}, the most of any module."
    if model_score is None:
        return Verdict(True, verdict)
    _, problem = _model_check(_batch_scores(model_score))
    scores, problem = (None, problem) if problem else _batch_scores(model_score)(
        [course, *((*course, m) for m in simulate.LETTERS)])
    if problem:
        return problem
    model_gains = pd.Series(scores[1:] - scores[0], index=simulate.LETTERS).sort_values(ascending=False, kind="stable")
    rank, top = model_gains.index.get_loc(module) + 1, model_gains.index[0]
    if rank == 1:
        return Verdict(True, verdict + f" The model agrees: it is its first choice too ({model_gains[top]:+.3f}).")
    return Verdict(True, verdict + f" The model ranks it {rank} of {len(model_gains)} ({model_gains[module]:+.3f}); "
                                   f"its first choice is {top} ({model_gains[top]:+.3f}).")


# 07 · Transfer learning ---------------------------------------------------------------------------------------------

def ex07_freeze(function: Callable) -> Verdict:
    """Build: ``function(net)`` freezes the embedding table (and only it), so training moves the LSTM but not it."""
    if _unanswered(function) or not callable(function):
        return _call(function)[1]
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


def _strict_verdicts(alpha: float) -> pd.Series:
    """Per size, the paired test's verdict for the fine-tuned model against its control, random at the same step."""
    result = compare.paired_comparison(_transfer_runs(), [("random, small steps", "fine-tuned model")], value="r2",
                                       by="n", alpha=alpha)
    return pd.Series(result["verdict"].to_numpy(), index=result["n"].astype(int))


def ex07_strict_sizes(answer: object) -> Verdict:
    """Predict-then-run: at which sizes is the fine-tuned model higher than its control (random at the same small
    step) with the stricter ``alpha=0.01``, its six sizes one family?"""
    if _unanswered(answer):
        return NO_ANSWER
    verdicts = _strict_verdicts(0.01)
    expected = set(verdicts.index[verdicts == "higher"])
    given, problem, items = set(), None, []
    try:
        if isinstance(answer, str | bytes | dict):
            raise TypeError("not a collection of sizes")
        items = list(answer)
    except Exception:  # a learner's object: iterating it runs its code
        problem = Verdict(False, f"give a set of sizes such as {{50, 100}}, not {_show(answer)}.")
    else:
        for item in items:
            size, problem = _number(item, int)
            if problem:
                problem = Verdict(False, f"give a set of sizes such as {{50, 100}}; {_show(item)} is not a size.")
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
    lenient = _strict_verdicts(0.05)
    lenient = set(lenient.index[lenient == "higher"])
    return Verdict(True, f"{sorted(expected) or 'no size'}: higher at {len(expected)} of {len(verdicts)} sizes at "
                         f"alpha = 0.01, against {len(lenient)} at alpha = 0.05"
                         + (" — a stricter test keeps fewer." if len(lenient) > len(expected) else "."))


def ex07_courses_for(answer: int, target: float = 0.6) -> Verdict:
    """Investigate: the fewest courses at which every seed of random initialisation (saved curves) reaches ``target``.

    The worst seed, not the mean: the notebook prints means and sds, so the answer is not on the page.
    """
    answer, problem = _number(answer, int)
    target, problem = (None, problem) if problem else _number(target)
    if problem:
        return problem
    worst = _transfer_runs().query("model == 'random'").groupby("n")["r2"].min()
    if answer not in worst.index:
        return Verdict(False, f"the curves were measured at {list(worst.index)} courses; pick one of those.")
    if not (worst >= target).any():
        return Verdict(False, f"random's worst seed reaches {target} at none of the measured sizes (at most "
                              f"{worst.max():.3f}).")
    expected = int(worst[worst >= target].index.min())
    if answer != expected:
        reached = worst[answer] >= target
        return Verdict(False, f"at {answer} courses random's worst seed has R² {worst[answer]:.3f}: "
                              + ("it reaches the target, but is that the fewest courses?" if reached
                                 else f"short of {target}."))
    return Verdict(True, f"{expected} courses: the worst of the seeds has R² {worst[expected]:.3f}.")


def ex07_param_groups(function: Callable) -> Verdict:
    """Build: ``function(net, pretrained_lr, head_lr)`` returns an optimizer whose parameter groups give the
    pre-trained parts (embedding table and LSTM) ``pretrained_lr`` and the fresh head ``head_lr``, each parameter in
    exactly one group (07_transfer_learning writes out one group per part at one rate; this asks for two rates)."""
    if _unanswered(function) or not callable(function):
        return _call(function)[1]
    net = model.build_model(18, model.ModelConfig(), torch.Generator().manual_seed(0))
    optimizer, problem = _call(function, net, 3e-4, 1e-3)
    if problem:
        return problem
    if not isinstance(optimizer, torch.optim.Optimizer):
        return Verdict(False, f"return the optimizer, e.g. torch.optim.Adam([{{'params': ..., 'lr': ...}}, ...]), "
                              f"not {_show(optimizer)}.")
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
    from therapy_utils.train import TRANSFER_SETUP

    scores = _batch_scores(model_score)
    _, problem = _model_check(scores, what="your scorer")
    if problem:
        return None, problem
    test = TRANSFER_SETUP.target()[1]
    predicted, problem = scores([tuple(course) for course in test["modules"]])
    return (None, problem) if problem else (float(r2_score(test["effectiveness"], predicted)), None)


def ex07_zero_shot(answer: int, model_score: Scorer) -> Verdict:
    """Investigate: score ``model_score`` (the pre-trained model, no target course seen) on the target's test
    courses; the fewest target courses at which every seed of random initialisation (saved curves) beats it.

    The worst seed, not the mean, against a score the notebook never prints: the answer is not on the page.
    """
    answer, problem = _number(answer, int)
    if problem:
        return problem
    zero_shot, problem = _zero_shot_r2(model_score)
    if problem:
        return problem
    if zero_shot <= 0:
        return Verdict(False, f"your scorer's R² on the target's test courses is {zero_shot:.3f}: it learned "
                              "nothing that carries over — pass the pre-trained model, "
                              "evaluate.model_scorer(pretrained, vocab).")
    worst = _transfer_runs().query("model == 'random'").groupby("n")["r2"].min()
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



# 08 · Model comparison ----------------------------------------------------------------------------------------------

def ex08_paired_p(function: Callable) -> Verdict:
    """Build: ``function(a, b)`` is the two-sided p-value of the paired t-test of a against b (same seeds, in order)."""
    rng = np.random.default_rng(9)
    base = rng.uniform(0.4, 0.8, 5)
    for a in (base + rng.normal(0.05, 0.03, 5), base + rng.normal(0.0, 0.1, 5)):
        got, problem = _call_for_number(function, a.copy(), base.copy())
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
    return runs[(runs["phase"] == "selection") & ~runs["model"].str.contains("reference")]


def ex08_wider_cnn(answer: object) -> Verdict:
    """Investigate: per preset, is "CNN, wider (32/64)" "higher", "lower" or "within noise" against "one CNN (16/32,
    positions)" on the *validation* share of the selection seeds at n = 500 (the notebook's table reads the test
    share)? Answer a dict preset → verdict."""
    if _unanswered(answer):
        return NO_ANSWER
    if not isinstance(answer, dict):
        return Verdict(False, f"answer a dict such as {{'original': ..., 'realistic': ...}}, not {_show(answer)}.")
    runs = _accuracy_comparison()
    result = compare.paired_comparison(runs, [("one CNN (16/32, positions)", "CNN, wider (32/64)")], value="val_share")
    choices = {"higher": (), "lower": (), "within noise": ("noise", "within"), "identical": ("same", "equal")}
    for preset, expected in zip(result["preset"], result["verdict"], strict=True):
        said = _word(answer.get(preset, ""), choices)
        if said is None:
            return Verdict(False, f"give a verdict for the {preset} preset: 'higher', 'lower' or 'within noise'.")
        if said != expected:
            return Verdict(False, f"the {preset} preset's verdict is not that: pair the two models' validation shares "
                                  "by seed and test the differences (compare.paired_comparison, value='val_share').")
    found = "; ".join(f"{p}: {v} ({d:+.3f})" for p, v, d in zip(result["preset"], result["verdict"],
                                                               result["difference"], strict=True))
    sizes = " and ".join(str(n) for n in sorted(runs["n"].unique()))
    meaning = (f"doubling the CNN's width buys nothing measurable at {sizes} courses." if
               set(result["verdict"]) <= {"within noise", "identical"} else "the paired test agrees.")
    return Verdict(True, f"{found} — {meaning}")


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
    return Verdict(True, f"{above} of {len(rows)}: " + _shuffled_words(rows))


def _shuffled_words(rows: pd.DataFrame) -> str:
    """What the seeds say about the shuffled CNN against the ridge, and the CNN in order, in the data's own terms."""
    shuffled, ridge, ordered = (rows[c].to_numpy() for c in ("shuffled_r2", "ridge_r2", "ordered_r2"))

    def relation(a: np.ndarray, b: np.ndarray) -> str:
        p = float(ttest_rel(a, b).pvalue)
        side = "within the seeds' noise of" if p >= 0.05 else ("above" if a.mean() > b.mean() else "below")
        return f"{side} it ({np.mean(a - b):+.3f} on average, paired p = {p:.2g})"
    if (shuffled > ridge).all() or (shuffled < ridge).all():
        seeds = f"shuffled, the CNN is {'above' if shuffled[0] > ridge[0] else 'below'} the ridge in every seed"
    else:
        seeds = "shuffled, the CNN is above the ridge in some seeds and below it in others"
    gained = relation(ordered, ridge)
    moral = (": its gain over the ridge comes from the order of the modules" if gained.startswith("above")
             and not relation(shuffled, ridge).startswith("above") else "")
    return f"{seeds}, {relation(shuffled, ridge)}; in order it is {gained}{moral}."


# 09 · Optimising courses --------------------------------------------------------------------------------------------

def ex09_greedy(function: Callable, length: int = 5) -> Verdict:
    """Build: ``function(score, modules, length)`` grows a course one module at a time, always the best next one."""
    length, problem = _number(length, int)
    if problem or length < 1:
        return problem or Verdict(False, f"the course length must be at least 1, not {length}.")
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
    result, problem = _call(function, {s: v.copy() for s, v in by_level.items()}, dict(probabilities))
    got, problem = (None, problem) if problem else _array(result, "your standardised prediction")
    if problem:
        return problem
    if got.shape == (3,) and np.allclose(got, (by_level[0.0] + by_level[1.0]) / 2):
        return Verdict(False, "equal weights: average with the population's mix P(S = s), not 50/50.")
    expected = sum(probabilities[s] * by_level[s] for s in by_level)
    return _same(got, expected, "your standardised prediction") or Verdict(
        True, "the g-formula: each severity's prediction, weighted by how common that severity is.")


def ex09_overrated(course: object, model_score: Scorer) -> Verdict:
    """Investigate: a course of 5 modules the model over-rates by more than 0.05 (prediction − truth).
    ``model_score`` must be the notebook's model (see :func:`_model_check`)."""
    course, problem = _course(course, length=5)
    if problem:
        return problem
    predicted, problem = _model_check(_batch_scores(model_score), course)
    if problem:
        return problem
    true = float(_truth([course])[0])
    if predicted - true <= 0.05:
        return Verdict(False, f"the model says {predicted:.3f}, the truth {true:.3f} (difference "
                              f"{predicted - true:+.3f}). Where did notebook 09's model predict more than the truth?")
    return Verdict(True, f"the model says {predicted:.3f}, the truth {true:.3f}.")


# 10 · Explaining predictions ----------------------------------------------------------------------------------------

def ex10_ig_linear(function: Callable) -> Verdict:
    """Build: ``function(w, x, baseline)``: integrated gradients of f(x) = w · x, one attribution per coordinate."""
    rng = np.random.default_rng(10)
    w, x, baseline = rng.normal(size=6), rng.normal(size=6), rng.normal(size=6)
    result, problem = _call(function, w.copy(), x.copy(), baseline.copy())
    got, problem = (None, problem) if problem else _array(result, "your attributions")
    if problem:
        return problem
    if got.shape == (6,) and np.allclose(got, w * x):
        return Verdict(False, "the baseline is missing: IG integrates along the path from the baseline to x.")
    if got.shape == (6,) and not np.isclose(got.sum(), w @ x - w @ baseline):
        return Verdict(False, "not complete: the attributions must add up to f(x) − f(baseline).")
    return _same(got, (x - baseline) * w, "your attributions") or Verdict(
        True, "for a linear model IG is exact: (x − x′) ⊙ w, and it adds up to f(x) − f(x′).")


def _attributions(attributions: Callable, course: tuple[str, ...]) -> tuple[np.ndarray | None, Verdict | None]:
    """The learner's attributions for ``course``, run guarded: one finite number per position, not all equal."""
    values, problem, shape = _call_for_values(attributions, course, len(course), "your attributions")
    if problem:
        return None, problem
    if values is None:
        return None, Verdict(False, f"the attributions have shape {shape}; give one number per position of "
                                    f"the course ({len(course)}).")
    if np.ptp(values) == 0:
        return None, Verdict(False, "your attributions give every position the same value: no position is the most "
                                    "important, so they cannot disagree with anything.")
    return values, None


def ex10_disagree(course: object, model_score: Scorer, attributions: Callable) -> Verdict:
    """Investigate: a motif-free course of at most 6 modules where occlusion and ``attributions(course)`` (integrated
    gradients) pick different most important positions. ``model_score`` must be the notebook's model."""
    course, problem = _course(course)
    if problem:
        return problem
    if not 2 <= len(course) <= 6:
        return Verdict(False, f"the course has {len(course)} modules; take one of 2 to 6.")
    if evaluate.motif_positions(course, _realistic().motifs):
        return Verdict(False, "the course holds a motif; find one without.")
    _, problem = _model_check(_batch_scores(model_score), course)
    occluded, problem = (None, problem) if problem else _call(evaluate.occlusion, model_score, course)
    integrated, problem = (None, problem) if problem else _attributions(attributions, course)
    if problem:
        return problem
    by_occlusion, by_integrated = int(np.argmax(occluded)), int(np.argmax(integrated))
    if by_occlusion == by_integrated:
        return Verdict(False, f"both put position {by_occlusion} ({course[by_occlusion]}) first. Where no position "
                              "stands out, small differences decide.")
    return Verdict(True, f"occlusion picks position {by_occlusion} ({course[by_occlusion]}), integrated gradients "
                         f"{by_integrated} ({course[by_integrated]}).")


def ex10_least_removed(answer: str, model_score: Scorer, courses: Sequence[Sequence[str]]) -> Verdict:
    """Predict-then-run: removing each course's 3 *least* occlusion-attributed positions changes the prediction
    "more" or "less" than removing 3 random ones? Judged by the mean drop of the prediction (comprehensiveness)
    over ``courses``, at least ``MIN_REMOVAL_COURSES`` of them longer than 3; ``model_score`` must be the notebook's
    model."""
    k, minimum = 3, MIN_REMOVAL_COURSES
    if _unanswered(answer):
        return NO_ANSWER
    said = _word(answer, {"more": ("larger", "bigger"), "less": ("smaller", "fewer")})
    if said is None:
        return Verdict(False, f"answer 'more' or 'less', not {_show(answer)}.")
    courses, problem = _courses(courses, "the courses")
    if problem:
        return problem
    if sum(len(c) > k for c in courses) < minimum:
        return Verdict(False, f"{sum(len(c) > k for c in courses)} of the courses are longer than {k} modules; an "
                              f"average over fewer than {minimum} says little — pass the held-out courses.")
    _, problem = _model_check(_batch_scores(model_score))
    checks, problem = (None, problem) if problem else _call(
        lambda: evaluate.removal_checks(model_score, [-evaluate.occlusion(model_score, c) for c in courses], courses,
                                        k=k, seed=0))
    if problem:
        return problem
    least, random = checks["comprehensiveness_top"], checks["comprehensiveness_random"]
    expected = "more" if least > random else "less"
    if said != expected:
        return Verdict(False, "the least attributed positions are those whose removal the model minds least (or "
                              "even welcomes).")

    def moves(drop: float) -> str:
        return f"{'lowers' if drop >= 0 else 'raises'} the prediction by {abs(drop):.3f}"
    welcome = " — the model even welcomes losing them" if least < 0 else ""
    return Verdict(True, f"removing the {k} least attributed positions {moves(least)} on average, removing {k} "
                         f"random ones {moves(random)}: the prediction drops {expected} than for random "
                         f"positions{welcome}.")


# 11 · Uncertainty ---------------------------------------------------------------------------------------------------

def _scaled_slip(answer: np.ndarray, residuals: np.ndarray, sigmas: np.ndarray, new_sigmas: np.ndarray,
                 level: float) -> Verdict:
    """Name the slip a wrong set of spread-scaled half-widths made."""
    n, scores = len(residuals), np.sort(np.abs(residuals) / sigmas)
    rank = int(np.ceil((n + 1) * level))
    if np.allclose(answer, np.quantile(scores, level) * new_sigmas, atol=1e-12) or np.allclose(
            answer, scores[int(np.ceil(n * level)) - 1] * new_sigmas, atol=1e-12):
        return Verdict(False, "close: rank (n + 1) · level, rounded up, not n · level — the + 1 counts the new "
                              "course among the calibration courses.")
    if np.allclose(answer, np.sort(np.abs(residuals))[rank - 1] * new_sigmas, atol=1e-12):
        return Verdict(False, "score each calibration course by |r| / σ, its residual in units of its own spread, "
                              "before taking the quantile.")
    if np.allclose(answer, np.sort(residuals / sigmas)[rank - 1] * new_sigmas, atol=1e-12):
        return Verdict(False, "the interval is symmetric: rank the residuals' sizes |r|, not their signed values.")
    return Verdict(False, f"with {n} residuals at level {level} your half-widths differ from the scaled conformal "
                          "ones: score by |r| / σ, take the ⌈(n + 1) · level⌉-th smallest score, multiply by each "
                          "new σ.")


def ex11_scaled(function: Callable) -> Verdict:
    """Build: ``function(residuals, sigmas, new_sigmas, level)`` → spread-scaled conformal half-widths, judged
    against the package's conformal quantile: ``uncertainty.conformal_threshold(|r| / σ, level) · σ_new``."""
    rng = np.random.default_rng(11)
    for n, level in ((80, 0.9), (321, 0.8)):
        sigmas, new_sigmas = rng.uniform(0.01, 0.05, size=n), rng.uniform(0.01, 0.05, size=7)
        residuals = rng.normal(0, 1, size=n) * (0.03 + sigmas)
        result, problem = _call(function, residuals.copy(), sigmas.copy(), new_sigmas.copy(), level)
        answer, problem = (None, problem) if problem else _array(result, "your half-widths")
        if problem:
            return problem
        expected = conformal_threshold(np.abs(residuals) / sigmas, level) * new_sigmas
        if answer.shape != expected.shape:
            return Verdict(False, f"return one half-width per new course ({len(expected)}), not an array of shape "
                                  f"{answer.shape}: multiply the quantile by each new course's σ.")
        if not np.allclose(answer, expected, rtol=0, atol=1e-12):
            return _scaled_slip(answer, residuals, sigmas, new_sigmas, level)
    return Verdict(True, "those are the spread-scaled split-conformal half-widths, uncertainty.conformal_threshold "
                         "of the scores |r| / σ times each new σ: wider where the members disagree.")


def ex11_misplaced(course: object, predict_one: Callable[[tuple[str, ...]], float], half_width: float) -> Verdict:
    """Investigate: a course of ≤ 8 modules whose interval ``prediction ± half_width`` has a true chance below 0.8.
    ``predict_one`` must be the notebook's model, and ``half_width`` wide enough that the interval centred on the
    true mean would hold this course's outcome with chance 0.8: the chance must fall because of the prediction."""
    course, problem = _course(course)
    if problem:
        return problem
    if not 1 <= len(course) <= 8:
        return Verdict(False, f"the course has {len(course)} modules; the exercise asks for 1 to 8.")
    width, problem = _number(half_width)
    if problem or width <= 0:
        return Verdict(False, "the half-width must be a positive number — the split-conformal half-width you "
                              f"computed — not {_show(half_width)}.")
    half_width = width
    prediction, problem = _model_check(_one_by_one(predict_one), course, "your predict_one")
    if problem:
        return problem
    distribution = truth.outcome_distribution(_realistic(), [course])
    mean = float(distribution.mean()[0])
    centred = float(distribution.coverage(max(mean - half_width, 0.0), min(mean + half_width, 1.0))[0])
    if centred < 0.8:
        return Verdict(False, f"even centred on the true mean {mean:.3f}, ±{half_width:.3f} holds this course's "
                              f"outcome with true chance only {centred:.2f}: the width is too small for its noise, so "
                              "a low chance says nothing about the model — pass the split-conformal half-width you "
                              "computed, and look for a course the model gets wrong.")
    lower, upper = max(prediction - half_width, 0.0), min(prediction + half_width, 1.0)
    chance = float(distribution.coverage(lower, upper)[0])
    if chance >= 0.8:
        return Verdict(False, f"its interval {lower:.3f} to {upper:.3f} holds the outcome with true chance "
                              f"{chance:.2f}: the prediction is {prediction - mean:+.3f} from the true mean, too "
                              f"little to push the outcome out of ±{half_width:.3f}. Look for a course the model gets "
                              "more wrong.")
    return Verdict(True, f"the interval {lower:.3f} to {upper:.3f} holds the outcome with true chance {chance:.2f}: "
                         f"the prediction {prediction:.3f} is {prediction - mean:+.3f} from the true mean {mean:.3f}, "
                         "and a fixed width cannot know that.")


def ex11_train_calibration(answer: str, train_predictions: np.ndarray, train_outcomes: np.ndarray,
                           test_predictions: np.ndarray, test_courses: pd.DataFrame) -> Verdict:
    """Predict-then-run: calibrating split conformal on the training residuals gives a true coverage "above" or
    "below" 0.9?"""
    if _unanswered(answer):
        return NO_ANSWER
    said = _word(answer, {"above": ("more", "higher", "over"), "below": ("less", "lower", "under")})
    if said is None:
        return Verdict(False, f"answer 'above' or 'below', not {_show(answer)}.")
    train_predictions, problem = _vector(train_predictions, "the training predictions")
    train_outcomes, problem = (None, problem) if problem else _vector(train_outcomes, "the training outcomes",
                                                                      len(train_predictions))
    courses, problem = (None, problem) if problem else _courses(test_courses, "the test courses")
    test_predictions, problem = (None, problem) if problem else _vector(test_predictions, "the test predictions",
                                                                        len(courses))
    if problem:
        return problem
    lower, upper = split_conformal(train_predictions, train_outcomes, test_predictions, 0.9)
    if not np.isfinite(upper - lower).all():
        return Verdict(False, f"with {len(train_predictions)} calibration courses the 90 % quantile is infinite; "
                              "pass the predictions and outcomes of all the training courses.")
    coverage = float(truth.outcome_distribution(_realistic(), courses).coverage(lower, upper).mean())
    expected = "above" if coverage > 0.9 else "below"
    if said != expected:
        return Verdict(False, "the model was fitted to the training outcomes: are its residuals there typical of a "
                              "course it has never seen?")
    meaning = ("below the nominal 0.9: residuals of fitted courses are smaller than a new course's, so the intervals "
               "are too narrow." if expected == "below" else "above the nominal 0.9: these training residuals are no "
               "smaller than a new course's, so the intervals are not too narrow.")
    return Verdict(True, f"calibrated on the training courses, the 90 % intervals are {np.mean(upper - lower):.3f} "
                         f"wide and their mean true coverage is {coverage:.3f}, {meaning}")

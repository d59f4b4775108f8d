"""Predictions, metrics, the oracle ceiling, an order-blind baseline, per-course explanations, comparisons over seeds.

Taught in ``04_evaluation.ipynb`` (metrics), ``05_module_embeddings.ipynb`` (next-module scores),
``06_interactive_course_builder.ipynb`` (occlusion), ``07_transfer_learning.ipynb`` (learning curves) and
``10_explaining_predictions.ipynb`` (integrated gradients, removal checks). Comparisons over seeds live in
:mod:`therapy_utils.compare`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.special import softmax
from scipy.stats import entropy
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer
from torch import nn

from therapy_utils.batching import encode_padded, make_loader
from therapy_utils.data import Vocabulary
from therapy_utils.model import PADDING_INDEX, SequenceModel


def predict(model: SequenceModel, courses: pd.DataFrame | Sequence[Sequence[str]], vocab: Vocabulary,
            batch_size: int = 16, bucketing: bool = False) -> np.ndarray:
    """Predicted effectiveness (float32) for a course table or a list of courses, in table order (04_evaluation).

    The series' one inference path: every prediction — evaluation, the course builder, searches, explanations — runs
    here, under ``torch.inference_mode`` with the model in eval mode. Courses are encoded once
    (:func:`batching.encode_padded`) and run ``batch_size`` at a time, each batch cut to its longest course: the very
    tensors the training DataLoader's :func:`batching.collate_courses` would build. ``bucketing`` runs equal-length
    batches instead (the fast path of benchmarks/speed.py).

    Parameters
    ----------
    model : SequenceModel
        A trained model; it is put in eval mode and run on the device its parameters are on.
    courses : pandas.DataFrame or sequence of sequence of str
        A course table with a ``modules`` column, or the courses themselves as sequences of module names.
    vocab : Vocabulary
        The vocabulary the model was trained with.
    batch_size : int, default=16
        Courses per forward pass.
    bucketing : bool, default=False
        Batch equal-length courses without padding; the predictions still come back in input order.

    Returns
    -------
    numpy.ndarray
        Shape (courses,) — or (courses, quantiles) for a quantile model — float32, in input order; empty for no
        courses.

    Raises
    ------
    ValueError
        If a course is empty or holds a module not in ``vocab`` (the message names its row).
    """
    table = courses if isinstance(courses, pd.DataFrame) else pd.DataFrame({"modules": [tuple(c) for c in courses]})
    device = next(model.parameters()).device
    model.eval()
    if bucketing:
        return _predict_bucketed(model, table, vocab, batch_size, device)
    padded, lengths = encode_padded(list(table["modules"]), vocab)
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(lengths), batch_size):
            rows = slice(start, start + batch_size)
            width = int(lengths[rows].max())
            outputs.append(model(padded[rows, :width].to(device), lengths[rows]).cpu())
    return torch.cat(outputs).numpy() if outputs else np.zeros(0, dtype=np.float32)


def _predict_bucketed(model: SequenceModel, table: pd.DataFrame, vocab: Vocabulary, batch_size: int,
                      device: torch.device) -> np.ndarray:
    """:func:`predict` over equal-length batches, each prediction put back in its row."""
    loader = make_loader(table, vocab, batch_size, shuffle=False, bucketing=True)
    with torch.inference_mode():
        outputs = [model(padded.to(device), lengths).cpu() for padded, lengths, _ in loader]
    predictions = torch.cat(outputs)
    return torch.empty_like(predictions).index_copy_(0, torch.cat(loader.indices), predictions).numpy()


Scorer = Callable[[Sequence[Sequence[str]]], np.ndarray]
"""Courses (sequences of module names) in, one score per course out: a model (:func:`model_scorer`) or the truth
(``optimize.truth_scorer``), so that searches, explanations and exercise checks treat both alike."""


def model_scorer(model: SequenceModel, vocab: Vocabulary, chunk: int = 4096) -> Scorer:
    """Courses → the model's predictions as float64, so explanations and searches treat a model and the truth alike.

    A thin wrapper around :func:`predict` (the one inference path) with large batches: searches score thousands of
    candidates per step.

    Parameters
    ----------
    model : SequenceModel
        A trained model; ``score`` puts it in eval mode and runs it on the device its parameters are on.
    vocab : Vocabulary
        The vocabulary the model was trained with.
    chunk : int, default=4096
        Courses per forward pass.

    Returns
    -------
    callable
        A :data:`Scorer`, ``score(courses) -> numpy.ndarray``: float64 predictions of shape (courses,) for a sequence
        of courses (sequences of module names); an empty array for no courses.
    """
    def score(courses: Sequence[Sequence[str]]) -> np.ndarray:
        return predict(model, [tuple(c) for c in courses], vocab, batch_size=chunk).astype(np.float64)

    return score


def occlusion(score: Scorer, course: Sequence[str]) -> np.ndarray:
    """Each position's contribution: the score of the course minus the score without that position.

    Like RETAIN's per-visit contributions (06_interactive_course_builder). A one-module course has
    nothing to compare with, so it gets no contributions. Dropping either of two equal neighbours leaves the same
    course; it is scored once, so the two positions get exactly the same contribution on every machine (scored
    in two rows of a batch, the last bits could differ and decide which of them ranks first).

    Parameters
    ----------
    score : callable
        A :data:`Scorer`: a list of courses in, their scores of shape (courses,) out (e.g. :func:`model_scorer`).
    course : sequence of str
        The course to explain, as module names.

    Returns
    -------
    numpy.ndarray
        Shape (len(course),): the course's score minus its score with that position left out; shape (0,) for a
        course of fewer than two modules.
    """
    course = tuple(course)
    if len(course) < 2:
        return np.zeros(0)
    without = [course[:i] + course[i + 1:] for i in range(len(course))]
    distinct = list(dict.fromkeys([course, *without]))
    scores = dict(zip(distinct, score(distinct), strict=True))
    return scores[course] - np.array([scores[w] for w in without])


def replacement_occlusion(score: Scorer, courses: Sequence[Sequence[str]], modules: Sequence[str]) -> list[np.ndarray]:
    """Each position's contribution with everything else kept: the course's score minus its mean score over the
    courses where that one position holds each other module instead (10_explaining_predictions).

    :func:`occlusion` *deletes* a position: the course gets shorter and every later module moves one step earlier,
    which can break or create a motif and changes the length the model sees — several changes at once. Replacing the
    module changes one thing; averaging over every other module keeps any one replacement from deciding it. All
    courses' variants are scored in one call (a course of length L has L × (modules − 1) of them).

    Parameters
    ----------
    score : callable
        A :data:`Scorer`: a list of courses in, their scores of shape (courses,) out (e.g. :func:`model_scorer`).
    courses : sequence of sequence of str
        The courses to explain, as module names, each one of ``modules``.
    modules : sequence of str
        The modules a position may hold (e.g. ``vocab.modules``).

    Returns
    -------
    list of numpy.ndarray
        One array per course, of shape (len(course),): its score minus the mean score of its replacements there.

    Raises
    ------
    ValueError
        If a course holds a module that is not one of ``modules``, or fewer than two modules are given.
    """
    modules = tuple(dict.fromkeys(modules))
    if len(modules) < 2:
        raise ValueError(f"replacement needs at least two modules, got {list(modules)}")
    courses = [tuple(c) for c in courses]
    for row, course in enumerate(courses):
        unknown = [m for m in course if m not in modules]
        if unknown:
            raise ValueError(f"course {row} holds module {unknown[0]!r}, which is not one of the modules given")
    variants = [[(*c[:t], m, *c[t + 1:]) for t in range(len(c)) for m in modules if m != c[t]] for c in courses]
    distinct = list(dict.fromkeys([*courses, *(v for vs in variants for v in vs)]))
    scores = dict(zip(distinct, score(distinct), strict=True))
    return [scores[c] - np.array([scores[v] for v in vs]).reshape(len(c), len(modules) - 1).mean(axis=1)
            for c, vs in zip(courses, variants, strict=True)]


def integrated_gradients(model: nn.Module, courses: Sequence[Sequence[str]], vocab: Vocabulary,
                         steps: int = 32) -> list[np.ndarray]:
    """Each position's attribution by integrated gradients on the module embeddings (10_explaining_predictions).

    captum's ``LayerIntegratedGradients`` walks, in embedding space, from the padding row at every position to the
    course's module vectors and sums the gradients on the way; a position's attribution is the sum over its
    embedding dimensions, and all of them add up to the prediction minus :func:`path_start_predictions` (not minus
    an all-padding course's prediction). An ensemble is attributed through every member's embedding layer at once.

    Parameters
    ----------
    model : torch.nn.Module
        A :class:`SequenceModel` (it must offer ``embedding_layers()``); it is put in eval mode.
    courses : sequence of sequence of str
        The courses to explain, as module names; none may be empty.
    vocab : Vocabulary
        The vocabulary the model was trained with.
    steps : int, default=32
        Steps of the path integral (captum's ``n_steps``).

    Returns
    -------
    list of numpy.ndarray
        One array per course, in input order, of shape (len(course),): each position's attribution.
    """
    from captum.attr import LayerIntegratedGradients

    layers = model.embedding_layers()
    padded, lengths = encode_padded([tuple(c) for c in courses], vocab)
    device = next(model.parameters()).device
    model.eval()
    with warnings.catch_warnings():  # captum warns about layers that feed each other; the members' do not
        warnings.filterwarnings("ignore", message="Multiple layers provided")
        method = LayerIntegratedGradients(lambda x, n: model(x, n), layers if len(layers) > 1 else layers[0])
    attributions = method.attribute(padded.to(device), baselines=torch.zeros_like(padded).to(device),
                                    additional_forward_args=(lengths,), n_steps=steps, internal_batch_size=4096)
    attributions = attributions if isinstance(attributions, list) else [attributions]
    per_position = sum(a.sum(dim=-1) for a in attributions).detach().cpu().numpy()
    return [row[:n] for row, n in zip(per_position, lengths.tolist(), strict=True)]


def path_start_predictions(model: SequenceModel, courses: Sequence[Sequence[str]], vocab: Vocabulary) -> np.ndarray:
    """The prediction that :func:`integrated_gradients`' path starts from (10_explaining_predictions).

    captum interpolates the embedding layer's *output*, from the baseline's (the padding row at every position) to
    the course's, while everything after that layer still sees the real course: its length, its padding mask and,
    for models with positions, its position embeddings. So the attributions add up to the prediction minus this
    start — each module's vector replaced by the padding row (zero: see :func:`model.module_table`) at the course's
    own positions — not minus the prediction for an all-padding course, which a masked model reads as empty.

    Parameters
    ----------
    model : SequenceModel
        The model that was attributed; it is put in eval mode.
    courses : sequence of sequence of str
        The courses, as module names; none may be empty.
    vocab : Vocabulary
        The vocabulary the model was trained with.

    Returns
    -------
    numpy.ndarray
        Shape (courses,) (or (courses, quantiles)): the model's output at the start of each course's path.
    """
    padded, lengths = encode_padded([tuple(c) for c in courses], vocab)
    device = next(model.parameters()).device
    hooks = [layer.register_forward_hook(lambda layer, _, output: layer.weight[PADDING_INDEX].expand_as(output))
             for layer in model.embedding_layers()]
    model.eval()
    try:
        with torch.inference_mode():
            return model(padded.to(device), lengths).cpu().numpy()
    finally:
        for hook in hooks:
            hook.remove()


def motif_positions(course: Sequence[str], motifs: Sequence[Sequence[str]]) -> set[int]:
    """Positions covered by any occurrence of any motif in the course.

    Parameters
    ----------
    course : sequence of str
        The course, as module names.
    motifs : sequence of sequence of str
        Module patterns, each matched as a contiguous run of modules.

    Returns
    -------
    set of int
        0-based positions of ``course`` inside at least one occurrence of a motif; empty when none occurs.
    """
    course = tuple(course)
    return {start + offset for motif in motifs for start in range(len(course) - len(motif) + 1)
            if course[start:start + len(motif)] == tuple(motif) for offset in range(len(motif))}


def motif_hit(attributions: Sequence[np.ndarray], courses: Sequence[Sequence[str]],
              motifs: Sequence[Sequence[str]], k: int = 3) -> float:
    """Share of the courses holding a motif whose ``k`` most-attributed positions all lie on motifs (``motif_hit3``,
    10_explaining_predictions).

    The simulator says the motifs are what drives these outcomes most, so an explanation that agrees with the truth
    points at them. (Agreement with the truth, not faithfulness to the model: :func:`removal_checks` measures that.)
    NaN when no course has motifs covering ``k`` positions: there is nothing to check.

    Parameters
    ----------
    attributions : sequence of numpy.ndarray
        One array per course, shape (len(course),), e.g. from :func:`integrated_gradients` or :func:`occlusion`.
    courses : sequence of sequence of str
        The courses, as module names, in the same order as ``attributions``.
    motifs : sequence of sequence of str
        Module patterns, each matched as a contiguous run (see :func:`motif_positions`).
    k : int, default=3
        How many most-attributed positions must lie on motifs; equal attributions rank the earlier position first.

    Returns
    -------
    float
        Share in [0, 1] of the courses with at least ``k`` motif positions that are hits; NaN when there are none.
    """
    hits = [set(np.argsort(-a, kind="stable")[:k].tolist()) <= positions
            for a, c in zip(attributions, courses, strict=True) if len(positions := motif_positions(c, motifs)) >= k]
    return float(np.mean(hits)) if hits else float("nan")


def removal_checks(score: Scorer, attributions: Sequence[np.ndarray], courses: Sequence[Sequence[str]], k: int,
                   seed: int) -> dict[str, float]:
    """Comprehensiveness and sufficiency of the top-``k`` positions, beside ``k`` random positions (10).

    Comprehensiveness: mean drop in the score when the top-k positions are removed (large is good). Sufficiency:
    mean drop when only they are kept (small is good). Courses with ``k`` or fewer modules are skipped.

    Parameters
    ----------
    score : callable
        A :data:`Scorer`: a list of courses in, their scores of shape (courses,) out (e.g. :func:`model_scorer`).
    attributions : sequence of numpy.ndarray
        One array per course, shape (len(course),), in the same order as ``courses``.
    courses : sequence of sequence of str
        The explained courses, as module names.
    k : int
        Positions removed or kept per course; the top ones rank equal attributions by position.
    seed : int
        Seed of the numpy generator that draws the random positions.

    Returns
    -------
    dict of str to float
        ``comprehensiveness_top``, ``sufficiency_top``, ``comprehensiveness_random`` and ``sufficiency_random``:
        mean score drops over the courses longer than ``k``.
    """
    rng = np.random.default_rng(seed)
    kept = [(tuple(c), a) for c, a in zip(courses, attributions, strict=True) if len(c) > k]
    full = score([c for c, _ in kept])
    result = {}
    for name, pick in (("top", lambda a: np.argsort(-a, kind="stable")[:k]),
                       ("random", lambda a: rng.choice(len(a), size=k, replace=False))):
        chosen = [set(pick(a).tolist()) for _, a in kept]
        pairs = list(zip(kept, chosen, strict=True))
        removed = score([tuple(m for i, m in enumerate(c) if i not in s) for (c, _), s in pairs])
        only = score([tuple(m for i, m in enumerate(c) if i in s) for (c, _), s in pairs])
        result[f"comprehensiveness_{name}"] = float(np.mean(full - removed))
        result[f"sufficiency_{name}"] = float(np.mean(full - only))
    return result


def next_module_gains(score: Scorer, course: Sequence[str], candidates: Sequence[str]) -> pd.Series:
    """Score change from appending each candidate module, best first (06_interactive_course_builder).

    Parameters
    ----------
    score : callable
        A :data:`Scorer`: a list of courses in, their scores of shape (courses,) out (e.g. :func:`model_scorer`).
    course : sequence of str
        The course so far, as module names; at least one module.
    candidates : sequence of str
        Modules to try appending.

    Returns
    -------
    pandas.Series
        Named ``gain``, indexed by candidate: the score with the candidate appended minus the course's score, sorted
        from best to worst (equal gains keep the order of ``candidates``).

    Raises
    ------
    ValueError
        If ``course`` is empty.
    """
    course = tuple(course)
    if not course:
        raise ValueError("course is empty; add a module before asking what should follow")
    scores = score([course, *[(*course, module) for module in candidates]])
    gains = pd.Series(scores[1:] - scores[0], index=list(candidates), name="gain")
    return gains.sort_values(ascending=False, kind="stable")


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MSE, RMSE and R², computed in the predictions' own precision as the original did.

    Parameters
    ----------
    y_true : numpy.ndarray
        Shape (courses,): observed effectiveness.
    y_pred : numpy.ndarray
        Shape (courses,): predicted effectiveness.

    Returns
    -------
    dict of str to float
        ``mse``, ``rmse`` and ``r2``.
    """
    mse = mean_squared_error(y_true, y_pred)
    return {"mse": float(mse), "rmse": float(np.sqrt(mse)), "r2": float(r2_score(y_true, y_pred))}


def count_features(courses: pd.Series | Sequence[Sequence[str]], modules: Sequence[str]) -> np.ndarray:
    """How often each module occurs, plus the course length: everything an order-blind model sees."""
    column = {m: j for j, m in enumerate(modules)}
    features = np.zeros((len(courses), len(modules) + 1))
    for row, course in enumerate(courses):
        for module in course:
            if module in column:
                features[row, column[module]] += 1
        features[row, -1] = len(course)
    return features


def count_baseline(train: pd.DataFrame, modules: Sequence[str], alpha: float = 1.0) -> Pipeline:
    """Ridge on module counts and length, fitted on ``train``: the order-blind yardstick (04_evaluation).

    The CLI fits it on train + validation courses, all the data the network learns from.

    Parameters
    ----------
    train : pandas.DataFrame
        Courses with ``modules`` and ``effectiveness`` columns.
    modules : sequence of str
        Modules to count, one feature each (e.g. ``vocab.modules``); others count only towards the length.
    alpha : float, default=1.0
        Ridge's regularisation strength.

    Returns
    -------
    sklearn.pipeline.Pipeline
        The fitted pipeline; its ``predict`` takes a column of courses (e.g. ``test["modules"]``) and returns
        shape (courses,).
    """
    features = FunctionTransformer(count_features, kw_args={"modules": tuple(modules)})
    return make_pipeline(features, Ridge(alpha=alpha)).fit(train["modules"], train["effectiveness"].to_numpy())


def prefixes_and_next(courses: pd.Series | Sequence[Sequence[str]]) -> tuple[list[tuple[str, ...]], list[str]]:
    """Every prefix of every course that has a following module, with that module (05_module_embeddings).

    Parameters
    ----------
    courses : pandas.Series or sequence of sequence of str
        Courses as module names, e.g. a table's ``modules`` column.

    Returns
    -------
    tuple of (list of tuple of str, list of str)
        The prefixes and the module that follows each, aligned: a course of ``L`` modules gives ``L - 1`` pairs,
        course by course, shortest prefix first.
    """
    prefixes, following = [], []
    for course in courses:
        for t in range(1, len(course)):
            prefixes.append(tuple(course[:t]))
            following.append(course[t])
    return prefixes, following


def next_module_probabilities(model: SequenceModel, courses: pd.DataFrame, vocab: Vocabulary,
                              batch_size: int = 256) -> np.ndarray:
    """The next-module head's distribution (columns: ``vocab.modules``) for each prefix of ``prefixes_and_next``.

    Parameters
    ----------
    model : SequenceModel
        A model with a next-module head (``forward_with_next``); it is put in eval mode, and the batches are moved
        to its device.
    courses : pandas.DataFrame
        Course table with a ``modules`` column.
    vocab : Vocabulary
        The vocabulary the model was trained with.
    batch_size : int, default=256
        Courses per forward pass.

    Returns
    -------
    numpy.ndarray
        Shape (prefixes, len(vocab.modules)), float64, rows summing to 1, in the order of
        ``prefixes_and_next(courses["modules"])``.
    """
    model.eval()
    device = next(model.parameters()).device
    rows = []
    with torch.inference_mode():
        for padded, lengths, _ in make_loader(courses, vocab, batch_size, shuffle=False):
            _, logits = model.forward_with_next(padded.to(device), lengths)
            probabilities = torch.softmax(logits, dim=-1)  # one column per real module
            for row, length in enumerate(lengths.tolist()):
                rows.append(probabilities[row, : length - 1])
    return torch.cat(rows).cpu().numpy().astype(np.float64)


def similarity_next_probabilities(embeddings: pd.DataFrame, prefixes: Sequence[Sequence[str]],
                                  temperature: float) -> np.ndarray:
    """The original description's idea: compare the prefix's mean embedding with every module's (cosine).

    A softmax with ``temperature`` turns the similarities into a distribution, so it can be scored like a head.

    Parameters
    ----------
    embeddings : pandas.DataFrame
        One row per module (index: module names), one column per embedding dimension, as from
        :func:`embeddings.embedding_table`.
    prefixes : sequence of sequence of str
        Non-empty prefixes of modules in ``embeddings.index``.
    temperature : float
        Softmax temperature: smaller gives a sharper distribution (see :func:`fit_similarity_temperature`).

    Returns
    -------
    numpy.ndarray
        Shape (prefixes, modules), float64, rows summing to 1, columns in ``embeddings.index`` order.
    """
    vectors = embeddings.to_numpy(dtype=np.float64)  # float64: mathematically tied similarities stay tied to 1e-15
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    position = {m: i for i, m in enumerate(embeddings.index)}
    pattern = np.stack([unit[[position[m] for m in prefix]].mean(axis=0) for prefix in prefixes])
    pattern /= np.linalg.norm(pattern, axis=1, keepdims=True)
    return softmax(pattern @ unit.T / temperature, axis=1)


def fit_similarity_temperature(embeddings: pd.DataFrame, prefixes: Sequence[Sequence[str]],
                               following: Sequence[str]) -> float:
    """The temperature that makes the similarity ranking most likely on these (validation) prefixes.

    Parameters
    ----------
    embeddings : pandas.DataFrame
        One row per module (index: module names), one column per embedding dimension.
    prefixes : sequence of sequence of str
        Non-empty prefixes, e.g. from :func:`prefixes_and_next`.
    following : sequence of str
        The module that actually followed each prefix.

    Returns
    -------
    float
        The temperature that minimises the mean negative log-likelihood of ``following``, searched between
        ``exp(-5)`` and ``exp(3)`` (about 0.007 to 20).
    """
    from scipy.optimize import minimize_scalar

    columns = [embeddings.index.get_loc(m) for m in following]

    def negative_log_likelihood(log_temperature: float) -> float:
        probabilities = similarity_next_probabilities(embeddings, prefixes, float(np.exp(log_temperature)))
        return -np.log(probabilities[np.arange(len(columns)), columns] + 1e-12).mean()

    return float(np.exp(minimize_scalar(negative_log_likelihood, bounds=(-5, 3), method="bounded").x))


def top_k_hit_rate(probabilities: np.ndarray, actual: np.ndarray, k: int, tie_tolerance: float = 1e-9) -> float:
    """Share of rows whose ``actual`` column is among the ``k`` largest, ties broken by column order (05).

    Kept instead of ``sklearn.metrics.top_k_accuracy_score``, which ranks exact ties by a reversed stable argsort
    (the *last* tied column first) and has no tolerance, so the last bits of a float would decide ties again.

    Scores closer than ``tie_tolerance`` count as tied: a prefix such as (A, B) is exactly as similar to A as to B,
    and which of the two the last bits of a float favour differs between CPUs. Ranking those by column order
    instead keeps the metric the same on every machine. Without near-ties it equals a stable ``argsort``.

    Parameters
    ----------
    probabilities : numpy.ndarray
        Shape (rows, columns): scores, larger is better.
    actual : numpy.ndarray
        Shape (rows,), integer: the column index of the right answer in each row.
    k : int
        How many top columns count as a hit.
    tie_tolerance : float, default=1e-9
        Scores within this of the right answer's count as tied with it.

    Returns
    -------
    float
        Share of rows that are hits, in [0, 1].
    """
    rows = np.arange(len(actual))
    right = probabilities[rows, actual][:, None]
    better = (probabilities > right + tie_tolerance).sum(axis=1)
    tied_before = ((np.abs(probabilities - right) <= tie_tolerance)
                   & (np.arange(probabilities.shape[1])[None, :] < actual[:, None])).sum(axis=1)
    return float((better + tied_before < k).mean())


def next_module_scores(probabilities: np.ndarray, following: Sequence[str], truth: np.ndarray,
                       modules: Sequence[str]) -> dict[str, float]:
    """Top-1/top-3 accuracy against the module that actually came next, beside the oracle's, and KL(truth ‖ model).

    ``truth`` is the simulator's next-module distribution for the same prefixes, columns in ``modules`` order.

    Parameters
    ----------
    probabilities : numpy.ndarray
        Shape (prefixes, modules): the model's next-module distribution, columns in ``modules`` order.
    following : sequence of str
        The module that actually came next after each prefix.
    truth : numpy.ndarray
        Shape (prefixes, modules): the simulator's next-module distribution for the same prefixes.
    modules : sequence of str
        Column order of ``probabilities`` and ``truth`` (e.g. ``vocab.modules``).

    Returns
    -------
    dict of str to float
        ``top1`` and ``top3`` (the model), ``top1_oracle`` and ``top3_oracle`` (``truth`` ranked the same way), and
        ``kl``: the mean KL(truth ‖ model) over prefixes in nats, model probabilities clipped at 1e-12.

    Raises
    ------
    ValueError
        If a module of ``following`` is not in ``modules``.
    """
    actual = np.array([list(modules).index(m) for m in following])

    def top(p: np.ndarray, k: int) -> float:
        return top_k_hit_rate(p, actual, k)

    kl = entropy(truth, np.clip(probabilities, 1e-12, None), axis=1).mean()  # KL(truth ‖ model) per prefix
    return {"top1": top(probabilities, 1), "top3": top(probabilities, 3), "top1_oracle": top(truth, 1),
            "top3_oracle": top(truth, 3), "kl": float(kl)}


def draw_training_set(pool: pd.DataFrame, n: int, seed: int, val_share: float = 0.2) -> dict[str, pd.DataFrame]:
    """``n`` courses drawn from ``pool`` (``random_state=seed``), the first ``val_share`` kept for early stopping.

    One cell of :func:`learning_curve`'s grid (07_transfer_learning).

    Parameters
    ----------
    pool : pandas.DataFrame
        Courses to draw from.
    n : int
        How many to draw; at most ``len(pool)``.
    seed : int
        ``random_state`` of the draw.
    val_share : float, default=0.2
        Share of the drawn courses kept for validation, rounded, at least one course.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``{"train": ..., "val": ...}``, as the training functions take them; the index runs 0 to ``n - 1`` over
        both, validation rows first.

    Raises
    ------
    ValueError
        If ``n`` exceeds ``len(pool)``.
    """
    if n > len(pool):
        raise ValueError(f"training size {n} exceeds the {len(pool)} courses in the pool")
    drawn = pool.sample(n, random_state=seed).reset_index(drop=True)
    n_val = max(1, round(n * val_share))
    return {"train": drawn.iloc[n_val:], "val": drawn.iloc[:n_val]}


def learning_curve(fit: Callable[[dict[str, pd.DataFrame], int], SequenceModel], pool: pd.DataFrame,
                   test: pd.DataFrame, vocab: Vocabulary, sizes: Sequence[int], seeds: Sequence[int],
                   val_share: float = 0.2) -> pd.DataFrame:
    """Test R² of ``fit`` trained on ``n`` courses drawn from ``pool``, for every size and seed (07_transfer_learning).

    Each draw takes ``n`` courses at random (``random_state=seed``), keeps ``val_share`` of them for early stopping,
    and scores on the fixed ``test`` table, so sizes and seeds differ only in what the model learns from.

    Parameters
    ----------
    fit : callable
        ``fit(parts, seed) -> model``: trains on a ``{"train": ..., "val": ...}`` dict from
        :func:`draw_training_set` and returns a :class:`SequenceModel`.
    pool : pandas.DataFrame
        Courses to draw the training sets from.
    test : pandas.DataFrame
        Fixed test courses with ``modules`` and ``effectiveness`` columns.
    vocab : Vocabulary
        The vocabulary the models use.
    sizes : sequence of int
        Numbers of courses ``n`` to draw (training plus validation), each at most ``len(pool)``.
    seeds : sequence of int
        Seeds of the draws, also passed to ``fit``.
    val_share : float, default=0.2
        Share of each draw kept for early stopping.

    Returns
    -------
    pandas.DataFrame
        One row per size and seed (sizes outer), columns ``n``, ``seed`` and ``r2``.

    Raises
    ------
    ValueError
        If a size exceeds ``len(pool)``.
    """
    too_big = [n for n in sizes if n > len(pool)]
    if too_big:
        raise ValueError(f"training size(s) {too_big} exceed the {len(pool)} courses in the pool")
    rows = []
    for n in sizes:
        for seed in seeds:
            model = fit(draw_training_set(pool, n, seed, val_share), seed)
            r2 = r2_score(test["effectiveness"], predict(model, test, vocab, batch_size=256))
            rows.append({"n": n, "seed": seed, "r2": float(r2)})
    return pd.DataFrame(rows)


def learning_curve_summary(runs: pd.DataFrame | list[dict]) -> pd.DataFrame:
    """Mean and sample sd of R² over seeds, per starting point and size, in the order the starts first appear.

    Parameters
    ----------
    runs : pandas.DataFrame or list of dict
        One run per row (or dict) with ``start``, ``n`` and ``r2``, e.g. :func:`learning_curve`'s rows with a
        ``start`` column added.

    Returns
    -------
    pandas.DataFrame
        One row per start and size, columns ``start``, ``n``, ``mean``, ``sd`` (NaN for a single seed) and ``seeds``.
    """
    runs = pd.DataFrame(runs)
    summary = runs.groupby(["start", "n"], sort=False)["r2"].agg(mean="mean", sd="std", seeds="count")
    return summary.reset_index()


def courses_needed(summary: pd.DataFrame, baseline: str = "random") -> pd.Series:
    """Per start: the fewest courses whose mean R² reaches ``baseline``'s mean R² at its largest size (NaN: never).

    The transfer-learning target reads this against that largest size (07_transfer_learning).

    Parameters
    ----------
    summary : pandas.DataFrame
        Columns ``start``, ``n`` and ``mean``, as from :func:`learning_curve_summary`.
    baseline : str, default="random"
        The start whose mean R² at its largest size sets the bar.

    Returns
    -------
    pandas.Series
        Indexed by start, in the order the starts first appear: the smallest ``n`` whose mean reaches the bar, NaN
        where none does; named ``"courses to reach {baseline} at n={largest size}"``.
    """
    reference = summary[summary["start"] == baseline].sort_values("n").iloc[-1]
    reached = summary[summary["mean"] >= reference["mean"]]
    needed = reached.groupby("start", sort=False)["n"].min()
    return needed.reindex(summary["start"].unique()).rename(f"courses to reach {baseline} at n={reference['n']}")

"""Predictions: one number per course from a trained model, a scorer for any course, and next-module scores.

Taught in ``04_evaluation.ipynb`` (predictions), ``05_module_embeddings.ipynb`` (next-module scores) and
``06_interactive_course_builder.ipynb`` (the gain of each next module).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.special import softmax
from scipy.stats import entropy

from therapy_utils.batching import encode_padded, make_loader
from therapy_utils.data import Vocabulary
from therapy_utils.model import SequenceModel


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

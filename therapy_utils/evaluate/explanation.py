"""Per-course explanations: occlusion, integrated gradients, and the checks that judge them against the motifs.

Taught in ``06_interactive_course_builder.ipynb`` (occlusion) and ``10_explaining_predictions.ipynb`` (integrated
gradients, removal checks).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from therapy_utils.batching import encode_padded
from therapy_utils.data import Vocabulary
from therapy_utils.evaluate.prediction import Scorer
from therapy_utils.model import PADDING_INDEX, SequenceModel


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
    hits = []
    for attribution, course in zip(attributions, courses, strict=True):
        positions = motif_positions(course, motifs)
        if len(positions) >= k:  # a course with fewer motif positions than k cannot be a hit
            top = set(np.argsort(-attribution, kind="stable")[:k].tolist())
            hits.append(top <= positions)
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

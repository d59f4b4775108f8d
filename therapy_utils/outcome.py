"""The simulator's outcome model, public: what a course's effectiveness is made of.

Module effects, motifs wherever they occur, long-course fatigue, latent classes (subtype × severity) and the
progress a course has made after each session. :mod:`therapy_utils.simulate` draws courses and outcomes from it;
:mod:`therapy_utils.truth` computes its exact expectations — one model, so the truth is the simulator's own
(01_simulate_therapy_courses, 09_optimizing_courses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from therapy_utils.simulate import SimulatorParams

PHASE_ORDER: tuple[str, ...] = ("engagement", "skills", "cognitive", "exposure", "maintenance")


def group_spread(params: SimulatorParams, members: tuple[str, ...]) -> np.ndarray:
    """Equal probability over ``members``, zero elsewhere."""
    row = np.zeros(len(params.modules))
    row[[params.modules.index(m) for m in members]] = 1.0 / len(members)
    return row


def subtype_effects(params: SimulatorParams) -> np.ndarray:
    """Each latent class's extra module effects by index, ``(K, V + 1)``; zeros without subtypes."""
    n_levels = len(params.severity_levels)
    extra = np.zeros((max(len(params.subtypes), 1) * n_levels, len(params.modules) + 1))
    for u, subtype in enumerate(params.subtypes):
        for module, effect in subtype.module_effects:
            extra[u * n_levels:(u + 1) * n_levels, params.modules.index(module)] += effect
    return extra


def class_shift(params: SimulatorParams) -> np.ndarray:
    """What each latent class's severity takes off the outcome, ``(K,)``."""
    levels = np.asarray(params.severity_levels, dtype=float)
    return np.tile(params.severity_strength * params.severity_outcome * levels, max(len(params.subtypes), 1))


def class_prior(params: SimulatorParams) -> np.ndarray:
    """P(latent class) = P(subtype) · P(severity), ``(K,)``."""
    subtype_probs = [s.prob for s in params.subtypes] or [1.0]
    return np.outer(subtype_probs, params.severity_probs).ravel()


def step_rows(params: SimulatorParams, trans: np.ndarray) -> np.ndarray:
    """Transition rows ``(F, K, V, V)``: F = 1, or 2 with interim response (index 1: the patient is not responding).

    Not responding moves ``nonresponse_shift`` of each row to the first group of the class's flowchart.
    """
    if params.nonresponse_below is None:
        return trans[None]
    groups, n_levels = dict(params.groups), len(params.severity_levels)
    flowcharts = [subtype.phases for subtype in params.subtypes] or [PHASE_ORDER]
    first = [next(p for p in phases if p in groups) for phases in flowcharts]
    engage = np.repeat([group_spread(params, groups[phase]) for phase in first], n_levels, axis=0)
    shifted = (1 - params.nonresponse_shift) * trans + params.nonresponse_shift * engage[:, None, :]
    return np.stack([trans, shifted])


def session_curve(params: SimulatorParams, lengths: np.ndarray) -> np.ndarray:
    """What ``lengths`` sessions add for an average patient: rises, then levels off (09_optimizing_courses)."""
    return params.session_gain * (1.0 - np.exp(-np.asarray(lengths, dtype=float) / params.session_scale))


def progress_parts(params: SimulatorParams, matrix: np.ndarray,
                    latent: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Expected progress after each prefix length t = 1..T as ``a + r * b``: ``a`` and ``b``, shape ``(n, T)``.

    ``a`` holds base, module effects (a subtype's own too, given each course's ``latent`` class), motifs completed
    so far and fatigue; ``b`` the sessions' curve, which a patient's responsiveness ``r`` scales.
    """
    n, width = matrix.shape
    effects = effect_table(params)[matrix]
    if latent is not None and params.subtypes:
        effects = effects + subtype_effects(params)[latent[:, None], matrix]
    a = params.base_mean + effects.cumsum(axis=1)
    for motif in params.motifs:
        completed = np.zeros((n, width))  # a motif counts from the session that completes it
        completed[:, len(motif) - 1:] = motif_hits(matrix, params, motif)
        a += params.motif_boost * completed.cumsum(axis=1)
    t = np.arange(1, width + 1)
    a -= params.fatigue_step * (t > params.fatigue_threshold) + params.fatigue_per_session * np.maximum(
        t - params.fatigue_threshold, 0)
    return a, np.broadcast_to(session_curve(params, t), (n, width))


def motif_hits(matrix: np.ndarray, params: SimulatorParams, motif: tuple[str, ...]) -> np.ndarray:
    """Where ``motif`` starts in each course: a boolean ``(n, T - len(motif) + 1)`` array (empty if too short)."""
    index = {m: i for i, m in enumerate(params.modules)}
    k = len(motif)
    hit = np.ones((matrix.shape[0], max(matrix.shape[1] - k + 1, 0)), dtype=bool)
    for offset, module in enumerate(motif):
        hit &= matrix[:, offset: matrix.shape[1] - k + 1 + offset] == index[module]
    return hit


def motif_counts(matrix: np.ndarray, params: SimulatorParams) -> np.ndarray:
    """Occurrences of each motif anywhere in each course, in order: shape ``(n, n_motifs)``.

    Parameters
    ----------
    matrix : numpy.ndarray
        ``(n, T)`` module indices, −1 padded (:func:`courses_to_matrix`).
    params : SimulatorParams
        Supplies ``motifs`` and the ``modules`` order of the indices.

    Returns
    -------
    numpy.ndarray
        ``(n, len(params.motifs))`` int64 counts, overlapping occurrences included, motifs in ``params.motifs`` order.
    """
    counts = np.zeros((matrix.shape[0], len(params.motifs)), dtype=np.int64)
    for j, motif in enumerate(params.motifs):
        counts[:, j] = motif_hits(matrix, params, motif).sum(axis=1)
    return counts


def effect_table(params: SimulatorParams) -> np.ndarray:
    """Each module's effect by index, with a last slot of 0 that the −1 padding picks."""
    effects = np.zeros(len(params.modules) + 1)
    for module, effect in params.module_effects:
        effects[params.modules.index(module)] = effect
    return effects


def outcome_mean(params: SimulatorParams, matrix: np.ndarray, lengths: np.ndarray,
                  count_motifs: bool = True) -> np.ndarray:
    """Mean effectiveness before noise and severity: base, module effects, fatigue and (realistic) motifs anywhere."""
    mean = params.base_mean + effect_table(params)[matrix].sum(axis=1)
    if count_motifs:
        mean += params.motif_boost * motif_counts(matrix, params).sum(axis=1)
    mean -= params.fatigue_step * (lengths > params.fatigue_threshold)
    mean -= params.fatigue_per_session * np.maximum(lengths - params.fatigue_threshold, 0)
    return mean + session_curve(params, lengths)


def noise_sd_for_length(params: SimulatorParams, lengths: np.ndarray) -> np.ndarray:
    """The outcome noise's sd for courses of each length: ``noise_sd`` plus ``noise_sd_per_session`` per session
    beyond ``min_length`` (11_uncertainty).

    Parameters
    ----------
    params : SimulatorParams
        The population (realistic generator).
    lengths : numpy.ndarray
        Course lengths.

    Returns
    -------
    numpy.ndarray
        One sd per course, float.
    """
    extra = np.asarray(lengths, dtype=float) - params.min_length
    return params.noise_sd + params.noise_sd_per_session * np.maximum(extra, 0.0)


def courses_to_matrix(courses: pd.Series | list, modules: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Integer matrix (−1 padded) and lengths, for vectorised ground-truth arithmetic.

    Parameters
    ----------
    courses : pandas.Series or list
        Courses, each a sequence of module names.
    modules : tuple of str
        The simulator's modules (``params.modules``); a module's index in it is its code.

    Returns
    -------
    matrix : numpy.ndarray
        ``(n, T)`` int64 module indices, −1 after each course's end; ``T`` is the longest length (at least 1).
    lengths : numpy.ndarray
        ``(n,)`` int64 course lengths.

    Raises
    ------
    ValueError
        When a course holds a module that is not in ``modules`` (the row is named).
    """
    index = {m: i for i, m in enumerate(modules)}
    courses = list(courses)
    lengths = np.array([len(c) for c in courses], dtype=np.int64)
    matrix = np.full((len(courses), max(lengths.max(initial=0), 1)), -1, dtype=np.int64)
    for row, course in enumerate(courses):
        try:
            matrix[row, : len(course)] = [index[m] for m in course]
        except KeyError as err:
            raise ValueError(f"row {row}: module {err.args[0]!r} is not one of the simulator's modules") from None
    return matrix, lengths

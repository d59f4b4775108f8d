"""Simulated courses of therapy with known ground truth.

Two presets share one parameter dataclass:

* ``original`` reproduces the public single-file script's generator draw for draw
  (numpy's legacy RNG plus Python's ``random``), so any seed gives its exact courses.
* ``realistic`` (the tutorial's default) keeps the original's story but adds module
  groups, a phase-ordered Markov process, motifs that count wherever they occur and an
  optional latent severity, so the claims made about embeddings can be checked.

Both presets expose the exact expected effectiveness ``E[y | course]`` (clipping
included); the realistic one also exposes the true next-module distribution.
Taught in ``01_simulate_therapy_courses.ipynb``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np
import pandas as pd
from scipy.stats import norm

LETTERS: tuple[str, ...] = tuple("ABCDEFGHIJKLMNOPQ")
ORIGINAL_MOTIFS: tuple[tuple[str, ...], ...] = (
    ("A", "B", "A"),
    ("C", "D", "C"),
    ("A", "F", "F"),
    ("B", "C", "B"),
)

# Realistic preset: (group, [(letter, clinical name), ...]); groups are listed in phase order,
# except crisis/safety, which can interrupt any phase.
MODULE_CATALOGUE: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("engagement", (("A", "Psychoeducation"), ("B", "Motivational interviewing"), ("E", "Goal setting"))),
    ("skills", (("F", "Behavioural activation"), ("G", "Relaxation training"),
                ("H", "Problem solving"), ("I", "Emotion regulation skills"))),
    ("cognitive", (("C", "Cognitive restructuring"), ("D", "Thought records"), ("J", "Core beliefs work"))),
    ("exposure", (("K", "Exposure hierarchy"), ("L", "In-vivo exposure"), ("M", "Imaginal exposure"))),
    ("maintenance", (("P", "Relapse prevention"), ("Q", "Booster and ending"))),
    ("crisis", (("N", "Safety planning"), ("O", "Crisis intervention"))),
)
PHASE_ORDER: tuple[str, ...] = ("engagement", "skills", "cognitive", "exposure", "maintenance")
CRISIS_GROUP = "crisis"


@dataclass(frozen=True)
class SimulatorParams:
    """Every knob of the simulator in one place; build one with :func:`preset_params`.

    Fields marked *realistic* are read only by the Markov generator; the original
    generator reads the shared outcome fields exactly as the public script did.
    """

    preset: str = "realistic"
    modules: tuple[str, ...] = LETTERS
    min_length: int = 4
    max_length: int = 20
    base_mean: float = 0.45
    noise_sd: float = 0.06
    motifs: tuple[tuple[str, ...], ...] = ORIGINAL_MOTIFS
    motif_boost: float = 0.12
    module_effects: tuple[tuple[str, float], ...] = (
        ("A", 0.03), ("F", 0.02), ("C", 0.015), ("N", 0.02), ("O", 0.02))
    fatigue_threshold: int = 15
    fatigue_step: float = 0.0  # subtracted once when length > threshold (the original's rule)
    fatigue_per_session: float = 0.02  # subtracted per session beyond the threshold
    # original only: chance that a course opens with one motif (then boosted once)
    motif_start_prob: float = 0.3
    # realistic: the Markov process
    groups: tuple[tuple[str, tuple[str, ...]], ...] = field(
        default_factory=lambda: tuple((g, tuple(m for m, _ in ms)) for g, ms in MODULE_CATALOGUE))
    module_names: tuple[tuple[str, str], ...] = field(
        default_factory=lambda: tuple(pair for _, ms in MODULE_CATALOGUE for pair in ms))
    start_in_first_phase: float = 0.7
    group_stickiness: float = 0.5
    phase_advance: float = 0.25
    motif_affinity: float = 0.5
    # realistic: latent severity (confounding by indication); strength 0 switches it off
    severity_levels: tuple[float, ...] = (0.0, 1.0)
    severity_probs: tuple[float, ...] = (0.7, 0.3)
    severity_strength: float = 0.0
    severity_crisis_mass: float = 0.3
    severity_outcome: float = 0.15
    # realistic: sessions help with diminishing returns, session_gain * (1 - exp(-length / session_scale)),
    # scaled per patient by a responsiveness drawn from N(1, responsiveness_sd); 0 switches both off
    session_gain: float = 0.0
    session_scale: float = 5.0
    responsiveness_sd: float = 0.0
    # realistic: None draws each course's length in advance; a number ends a course at the first session (from
    # min_length on) whose expected progress reaches it, or at max_length: who improves leaves early
    stopping_threshold: float | None = None

    def group_of(self) -> dict[str, str]:
        """Module → group name (realistic preset); explains the colours of the embedding maps."""
        return {m: g for g, members in self.groups for m in members}


# 09_optimizing_courses' stopping-rule population: sessions help up to a plateau, patients differ in how much,
# and a course ends when the patient is doing well enough.
STOPPING_RULE = {"session_gain": 0.3, "session_scale": 4.0, "responsiveness_sd": 0.6, "stopping_threshold": 0.75}


def preset_params(preset: str = "realistic", **overrides: object) -> SimulatorParams:
    """Parameters of a named preset, with any field overridden (01_simulate_therapy_courses)."""
    if preset == "realistic":
        params = SimulatorParams()
    elif preset == "original":
        params = SimulatorParams(
            preset="original", base_mean=0.5, noise_sd=0.1, motif_boost=0.2,
            module_effects=(("A", 0.05), ("F", 0.03), ("C", 0.02)),
            fatigue_step=0.1, fatigue_per_session=0.0)
    else:
        raise ValueError(f"unknown preset {preset!r}; choose 'original' or 'realistic'")
    return replace(params, **overrides)


def simulate_courses(params: SimulatorParams, n_sequences: int, seed: int) -> pd.DataFrame:
    """Simulate a course table: ``course_id``, ``modules`` (tuple), ``effectiveness``.

    The realistic preset adds the latent ``severity`` column, kept for ground-truth
    lessons; models never see it. Taught in 01_simulate_therapy_courses.
    """
    if isinstance(n_sequences, bool) or not isinstance(n_sequences, (int, np.integer)) or n_sequences <= 0:
        raise ValueError(f"n_sequences must be a positive integer, got {n_sequences!r}")
    if params.preset == "original":
        courses, scores = _simulate_original(params, int(n_sequences), seed)
        return pd.DataFrame({"course_id": np.arange(n_sequences), "modules": courses,
                             "effectiveness": scores})
    if params.preset == "realistic":
        return _simulate_markov(params, int(n_sequences), seed)
    raise ValueError(f"unknown preset {params.preset!r}; choose 'original' or 'realistic'")


def _simulate_original(params: SimulatorParams, n: int, seed: int) -> tuple[list, list]:
    """The public script's loop, draw for draw, on explicit generator objects."""
    np_rng = np.random.RandomState(seed)  # numpy's legacy stream, as np.random.seed(seed)
    py_rng = random.Random(seed)  # Python's stream, as random.seed(seed)
    modules = list(params.modules)
    patterns = [list(m) for m in params.motifs]
    bonuses = dict(params.module_effects)
    courses, scores = [], []
    for _ in range(n):
        length = np_rng.randint(params.min_length, params.max_length + 1)
        score = np_rng.normal(params.base_mean, params.noise_sd)
        course: list[str] = []
        if np_rng.random_sample() < params.motif_start_prob:
            course = list(py_rng.choice(patterns))
            score += params.motif_boost
        while len(course) < length:
            course.append(str(np_rng.choice(modules)))
        for module in course:
            if module in bonuses:
                score += bonuses[module]
        if len(course) > params.fatigue_threshold:
            score -= params.fatigue_step
        courses.append(tuple(course))
        scores.append(float(np.clip(score, 0, 1)))
    return courses, scores


def transition_matrices(params: SimulatorParams) -> tuple[np.ndarray, np.ndarray]:
    """Start distributions ``(S, V)`` and transition matrices ``(S, V, V)`` per severity level.

    Row ``T[s, i]`` is the true next-module distribution after module ``i`` for a patient
    of severity level ``s``. Taught in 01_simulate_therapy_courses.
    """
    index = {m: i for i, m in enumerate(params.modules)}
    n_modules = len(params.modules)
    groups = dict(params.groups)
    group_of = params.group_of()
    uniform = np.full(n_modules, 1.0 / n_modules)

    def spread(members: tuple[str, ...]) -> np.ndarray:
        row = np.zeros(n_modules)
        row[[index[m] for m in members]] = 1.0 / len(members)
        return row

    phases = [p for p in PHASE_ORDER if p in groups]
    next_group = {p: phases[min(i + 1, len(phases) - 1)] for i, p in enumerate(phases)}
    next_group[CRISIS_GROUP] = phases[min(1, len(phases) - 1)]
    background = 1.0 - params.group_stickiness - params.phase_advance
    base = np.empty((n_modules, n_modules))
    for module, i in index.items():
        group = group_of[module]
        base[i] = (params.group_stickiness * spread(groups[group])
                   + params.phase_advance * spread(groups[next_group[group]]) + background * uniform)
    for motif in params.motifs:
        for a, b in pairwise(motif):
            base[index[a], index[b]] += params.motif_affinity
    start = params.start_in_first_phase * spread(groups[phases[0]]) + (1 - params.start_in_first_phase) * uniform
    crisis = spread(groups[CRISIS_GROUP]) if CRISIS_GROUP in groups else np.zeros(n_modules)
    levels = np.asarray(params.severity_levels, dtype=float)
    extra = params.severity_strength * params.severity_crisis_mass * levels[:, None] * crisis[None, :]
    starts = start[None, :] + extra
    trans = base[None, :, :] + extra[:, None, :]
    starts /= starts.sum(axis=1, keepdims=True)
    trans /= trans.sum(axis=2, keepdims=True)
    return starts, trans


def _simulate_markov(params: SimulatorParams, n: int, seed: int) -> pd.DataFrame:
    """Vectorised Markov generator: one step of all courses at a time (1,000,000 courses in a few seconds)."""
    rng = np.random.default_rng(seed)
    starts, trans = transition_matrices(params)
    n_levels, n_modules = starts.shape
    severity = rng.choice(n_levels, size=n, p=params.severity_probs)
    lengths = rng.integers(params.min_length, params.max_length + 1, size=n)
    start_table = _stacked_cdf(starts)
    step_table = _stacked_cdf(trans.reshape(n_levels * n_modules, n_modules))
    matrix = np.empty((n, params.max_length), dtype=np.int8 if n_modules < 127 else np.int64)
    matrix[:, 0] = _inverse_cdf(start_table, severity, rng.random(n), n_modules)
    for t in range(1, params.max_length):
        state = severity * n_modules + matrix[:, t - 1]
        matrix[:, t] = _inverse_cdf(step_table, state, rng.random(n), n_modules)
    noise = rng.normal(0.0, params.noise_sd, size=n)
    responsiveness = rng.normal(1.0, params.responsiveness_sd, size=n) if params.responsiveness_sd > 0 else 1.0
    levels = np.asarray(params.severity_levels)[severity]
    if params.stopping_threshold is not None:
        lengths = _stopping_lengths(params, matrix, responsiveness)
    matrix[np.arange(params.max_length)[None, :] >= lengths[:, None]] = -1
    mean = (_outcome_mean(params, matrix, lengths) + (responsiveness - 1.0) * session_curve(params, lengths)
            - params.severity_strength * params.severity_outcome * levels)
    table = pd.DataFrame({"course_id": np.arange(n), "modules": _matrix_to_courses(matrix, params.modules),
                          "effectiveness": np.clip(mean + noise, 0.0, 1.0), "severity": levels})
    if params.responsiveness_sd > 0:
        table["responsiveness"] = responsiveness  # latent, like severity: for ground-truth lessons only
    return table


def session_curve(params: SimulatorParams, lengths: np.ndarray) -> np.ndarray:
    """What ``lengths`` sessions add for an average patient: rises, then levels off (09_optimizing_courses)."""
    return params.session_gain * (1.0 - np.exp(-np.asarray(lengths, dtype=float) / params.session_scale))


def _progress_parts(params: SimulatorParams, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected progress after each prefix length t = 1..T as ``a + r * b``: ``a`` and ``b``, shape ``(n, T)``.

    ``a`` holds base, module effects, motifs completed so far and fatigue; ``b`` the sessions' curve, which a
    patient's responsiveness ``r`` scales.
    """
    n, width = matrix.shape
    a = params.base_mean + _effect_table(params)[matrix].cumsum(axis=1)
    for motif in params.motifs:
        completed = np.zeros((n, width))  # a motif counts from the session that completes it
        completed[:, len(motif) - 1:] = motif_hits(matrix, params, motif)
        a += params.motif_boost * completed.cumsum(axis=1)
    t = np.arange(1, width + 1)
    a -= params.fatigue_step * (t > params.fatigue_threshold) + params.fatigue_per_session * np.maximum(
        t - params.fatigue_threshold, 0)
    return a, np.broadcast_to(session_curve(params, t), (n, width))


def _refuse_confounding(params: SimulatorParams) -> None:
    """The stopping rule's ground truth assumes no severity confounding; say so instead of being silently wrong."""
    if params.severity_strength != 0:
        raise ValueError(f"the stopping rule needs severity_strength 0 (got {params.severity_strength!r}): "
                         "its ground truth does not model both at once")


def _stopping_lengths(params: SimulatorParams, matrix: np.ndarray, responsiveness: np.ndarray | float) -> np.ndarray:
    """Each course's length under the stopping rule: the first t ≥ min_length whose progress reaches the threshold."""
    _refuse_confounding(params)
    a, b = _progress_parts(params, matrix)
    reached = a + np.reshape(responsiveness, (-1, 1)) * b >= params.stopping_threshold
    reached[:, : params.min_length - 1] = False
    reached[:, -1] = True
    return reached.argmax(axis=1) + 1


def _stacked_cdf(rows: np.ndarray) -> np.ndarray:
    """Cumulative rows laid end to end, row ``r`` shifted by ``r``: one sorted array that serves every row."""
    return (np.cumsum(rows, axis=1) + np.arange(len(rows))[:, None]).ravel()


def _inverse_cdf(table: np.ndarray, row: np.ndarray, u: np.ndarray, width: int) -> np.ndarray:
    """For each draw, the first category whose cumulative probability in its ``row`` reaches ``u``.

    One binary search over :func:`_stacked_cdf` replaces a (courses × categories) comparison per step; it picks
    the same category as counting ``u > cdf`` except when ``u`` lies within about 1e-14 of a boundary.
    """
    found = np.searchsorted(table, row + u, side="left") - row * width
    return np.minimum(found, width - 1)


def _matrix_to_courses(matrix: np.ndarray, modules: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Rows of module indices (−1 padded) → tuples of letters, via one byte string per row.

    Single-letter names only (else a plain loop); the letters are Python's shared one-character strings,
    so a million courses cost tuples, not a million times twenty string objects.
    """
    if any(len(m) != 1 or not m.isascii() for m in modules):
        return [tuple(modules[i] for i in row if i >= 0) for row in matrix.tolist()]
    codes = np.frombuffer("".join(modules).encode("ascii"), dtype=np.uint8)
    chars = np.where(matrix >= 0, codes[np.maximum(matrix, 0)], 0).astype(np.uint8)
    rows = np.ascontiguousarray(chars).view(f"S{matrix.shape[1]}").ravel()
    return list(map(tuple, rows.astype(f"U{matrix.shape[1]}").tolist()))


def courses_to_matrix(courses: pd.Series | list, modules: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Integer matrix (−1 padded) and lengths, for vectorised ground-truth arithmetic."""
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


def motif_hits(matrix: np.ndarray, params: SimulatorParams, motif: tuple[str, ...]) -> np.ndarray:
    """Where ``motif`` starts in each course: a boolean ``(n, T - len(motif) + 1)`` array (empty if too short)."""
    index = {m: i for i, m in enumerate(params.modules)}
    k = len(motif)
    hit = np.ones((matrix.shape[0], max(matrix.shape[1] - k + 1, 0)), dtype=bool)
    for offset, module in enumerate(motif):
        hit &= matrix[:, offset: matrix.shape[1] - k + 1 + offset] == index[module]
    return hit


def motif_counts(matrix: np.ndarray, params: SimulatorParams) -> np.ndarray:
    """Occurrences of each motif anywhere in each course, in order: shape ``(n, n_motifs)``."""
    counts = np.zeros((matrix.shape[0], len(params.motifs)), dtype=np.int64)
    for j, motif in enumerate(params.motifs):
        counts[:, j] = motif_hits(matrix, params, motif).sum(axis=1)
    return counts


def _effect_table(params: SimulatorParams) -> np.ndarray:
    """Each module's effect by index, with a last slot of 0 that the −1 padding picks."""
    effects = np.zeros(len(params.modules) + 1)
    for module, effect in params.module_effects:
        effects[params.modules.index(module)] = effect
    return effects


def _outcome_mean(params: SimulatorParams, matrix: np.ndarray, lengths: np.ndarray,
                  count_motifs: bool = True) -> np.ndarray:
    """Mean effectiveness before noise and severity: base, module effects, fatigue and (realistic) motifs anywhere."""
    mean = params.base_mean + _effect_table(params)[matrix].sum(axis=1)
    if count_motifs:
        mean += params.motif_boost * motif_counts(matrix, params).sum(axis=1)
    mean -= params.fatigue_step * (lengths > params.fatigue_threshold)
    mean -= params.fatigue_per_session * np.maximum(lengths - params.fatigue_threshold, 0)
    return mean + session_curve(params, lengths)


def clipped_normal_mean(mean: np.ndarray, sd: float) -> np.ndarray:
    """E[clip(X, 0, 1)] for X ~ N(mean, sd): the clipping the simulators apply, in closed form."""
    mean = np.asarray(mean, dtype=float)
    lo, hi = (0.0 - mean) / sd, (1.0 - mean) / sd
    inside = mean * (norm.cdf(hi) - norm.cdf(lo)) + sd * (norm.pdf(lo) - norm.pdf(hi))
    return inside + norm.sf(hi)


def severity_posterior(params: SimulatorParams, matrix: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """P(severity level | observed modules), shape ``(n, S)``; equals the prior when strength is 0."""
    starts, trans = transition_matrices(params)
    log_prior = np.log(np.asarray(params.severity_probs, dtype=float))
    loglik = np.tile(log_prior, (matrix.shape[0], 1))
    has_first = lengths > 0
    loglik[has_first] += np.log(starts[:, matrix[has_first, 0]]).T
    for t in range(1, matrix.shape[1]):
        ok = lengths > t
        loglik[ok] += np.log(trans[:, matrix[ok, t - 1], matrix[ok, t]]).T
    loglik -= loglik.max(axis=1, keepdims=True)
    post = np.exp(loglik)
    return post / post.sum(axis=1, keepdims=True)


def expected_effectiveness(params: SimulatorParams, courses: pd.Series | list) -> np.ndarray:
    """Exact E[effectiveness | course]: the oracle every model is measured against (04_evaluation)."""
    matrix, lengths = courses_to_matrix(courses, params.modules)
    if params.preset == "original":
        return _expected_original(params, matrix, lengths)
    if params.stopping_threshold is not None:
        return _expected_after_stopping(params, matrix, lengths)
    mean = _outcome_mean(params, matrix, lengths)
    levels = np.asarray(params.severity_levels, dtype=float)
    post = severity_posterior(params, matrix, lengths)
    shifted = mean[:, None] - params.severity_strength * params.severity_outcome * levels[None, :]
    return (post * clipped_normal_mean(shifted, _outcome_sd(params, lengths)[:, None])).sum(axis=1)


def _outcome_sd(params: SimulatorParams, lengths: np.ndarray) -> np.ndarray:
    """Spread of the outcome around its mean for a course of each length: noise plus responsiveness."""
    return np.hypot(params.noise_sd, params.responsiveness_sd * session_curve(params, lengths))


def _expected_after_stopping(params: SimulatorParams, matrix: np.ndarray, lengths: np.ndarray,
                             nodes: int = 200) -> np.ndarray:
    """E[effectiveness | course] when the course's end tells something about the patient.

    A course that stopped at L means progress reached the threshold at L and not before, which bounds the patient's
    responsiveness ``r`` to an interval; the expectation over that truncated normal is a 1-D integral, computed by
    the midpoint rule in probability space (``nodes`` points; error below 1e-4 in the tests).
    """
    _refuse_confounding(params)
    a, b = _progress_parts(params, matrix)
    rows, last = np.arange(len(lengths)), lengths - 1
    a_end, b_end = a[rows, last], b[rows, last]
    sd_r = params.responsiveness_sd
    if sd_r == 0:
        return clipped_normal_mean(a_end + b_end, params.noise_sd)
    bound = (params.stopping_threshold - a) / b  # r at which progress after t sessions reaches the threshold
    t = np.arange(a.shape[1])[None, :]
    earlier = (t >= params.min_length - 1) & (t < last[:, None])
    upper = np.where(earlier, bound, np.inf).min(axis=1)  # it did not stop earlier: r below every earlier bound
    lower = np.where(lengths < params.max_length, bound[rows, last], -np.inf)  # it stopped here: r reached it
    p_lo, p_hi = norm.cdf((lower - 1.0) / sd_r), norm.cdf((upper - 1.0) / sd_r)
    quantiles = p_lo[:, None] + (p_hi - p_lo)[:, None] * (np.arange(nodes) + 0.5)[None, :] / nodes
    r = 1.0 + sd_r * norm.ppf(np.clip(quantiles, 1e-300, 1 - 1e-16))
    return clipped_normal_mean(a_end[:, None] + r * b_end[:, None], params.noise_sd).mean(axis=1)


def interventional_effectiveness(params: SimulatorParams, courses: pd.Series | list) -> np.ndarray:
    """E[effectiveness | do(course)]: give every patient this course, average over the population's severity.

    The causal answer a recommendation needs (09_optimizing_courses). It differs from
    :func:`expected_effectiveness` only when severity both steers the modules and lowers outcomes:
    observing a crisis module then also says "this patient is probably severe"; assigning it says nothing.
    """
    matrix, lengths = courses_to_matrix(courses, params.modules)
    if params.preset == "original":
        return _expected_original(params, matrix, lengths)  # no confounder: observing = intervening
    mean = _outcome_mean(params, matrix, lengths)
    levels = np.asarray(params.severity_levels, dtype=float)
    prior = np.asarray(params.severity_probs, dtype=float)
    shifted = mean[:, None] - params.severity_strength * params.severity_outcome * levels[None, :]
    return (prior[None, :] * clipped_normal_mean(shifted, _outcome_sd(params, lengths)[:, None])).sum(axis=1)


def _expected_original(params: SimulatorParams, matrix: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Original rule: the motif boost applies only when the course *opened* with a motif.

    A course that begins with a motif could also have drawn it by chance, so the boost is
    weighted by the posterior probability that the opening was planted.
    """
    mean = _outcome_mean(params, matrix, lengths, count_motifs=False)
    index = {m: i for i, m in enumerate(params.modules)}
    n_modules = len(params.modules)
    planted = np.zeros(matrix.shape[0])
    for motif in set(params.motifs):
        k = len(motif)
        if matrix.shape[1] < k:
            continue
        opens = (matrix[:, :k] == [index[m] for m in motif]).all(axis=1) & (lengths >= k)
        prior = params.motif_start_prob * params.motifs.count(motif) / len(params.motifs)
        chance = (1 - params.motif_start_prob) * n_modules ** (-k)
        planted[opens] = prior / (prior + chance)
    boosted = clipped_normal_mean(mean + params.motif_boost, params.noise_sd)
    return planted * boosted + (1 - planted) * clipped_normal_mean(mean, params.noise_sd)


def next_module_distribution(params: SimulatorParams, prefixes: pd.Series | list) -> np.ndarray:
    """True P(next module | prefix), shape ``(n, V)`` in ``params.modules`` order (05_module_embeddings).

    The process is first-order Markov given severity, so the answer mixes the transition
    rows of the last module by the posterior over severity given the prefix.
    """
    if params.preset != "realistic":
        raise ValueError(f"next-module ground truth exists for the realistic preset, not {params.preset!r}")
    matrix, lengths = courses_to_matrix(prefixes, params.modules)
    if (lengths == 0).any():
        raise ValueError(f"row {int(np.argmax(lengths == 0))}: empty prefix has no last module")
    _, trans = transition_matrices(params)
    post = severity_posterior(params, matrix, lengths)
    last = matrix[np.arange(len(lengths)), lengths - 1]
    return np.einsum("ns,snv->nv", post, trans[:, last, :])

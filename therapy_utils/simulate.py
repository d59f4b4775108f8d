"""Simulated courses of therapy with known ground truth.

Two presets share one parameter dataclass:

* ``original`` reproduces the public single-file script's generator draw for draw
  (numpy's legacy RNG plus Python's ``random``), so any seed gives its exact courses.
* ``realistic`` (the tutorial's default) keeps the original's story but adds module
  groups, a phase-ordered Markov process, motifs that count wherever they occur and an
  optional latent severity, so the claims made about embeddings can be checked.

This module holds the parameters and the generators; the outcome model they draw from is :mod:`therapy_utils.outcome`,
the stopping rule :mod:`therapy_utils.stopping_rule`, and what is *true* about a population :mod:`therapy_utils.truth`.
The realistic preset's options closer to the clinic are off by default: patient subtypes that choose the flowchart,
detours and returns, interim response (01_simulate_therapy_courses), and a stopping rule with patient responsiveness
(09_optimizing_courses). Taught in ``01_simulate_therapy_courses.ipynb``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np
import pandas as pd

from therapy_utils.outcome import (
    PHASE_ORDER,
    class_shift,
    group_spread,
    noise_sd_for_length,
    outcome_mean,
    progress_parts,
    session_curve,
    step_rows,
    subtype_effects,
)
from therapy_utils.stopping_rule import stopping_lengths

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
CRISIS_GROUP = "crisis"


@dataclass(frozen=True)
class Subtype:
    """A latent patient subtype (the primary problem): the flowchart its therapist follows and what works for it.

    ``phases`` lists module groups in the order the flowchart works through them; ``module_effects`` are added to
    the shared module effects for patients of this subtype. Taught in 01_simulate_therapy_courses.
    """

    name: str
    prob: float
    phases: tuple[str, ...]
    module_effects: tuple[tuple[str, float], ...] = ()


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
    # realistic: the noise sd grows by this much per session beyond min_length (heteroscedastic outcomes: longer
    # courses, more varied results); 0 keeps one sd for every course
    noise_sd_per_session: float = 0.0
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
    # realistic, with a stopping rule: 0 stops at the threshold for certain; a positive value makes the decision a
    # clinician's judgement, stopping with probability Phi((progress - threshold) / stopping_softness) at each session
    stopping_softness: float = 0.0
    # realistic: latent subtypes, each choosing the flowchart (the transition probabilities); () = one population
    subtypes: tuple[Subtype, ...] = ()
    # realistic: from the second session on, each session is with this probability a detour to one of
    # detour_modules (an interfering problem), after which the course returns to where the flowchart was
    detour_prob: float = 0.0
    detour_modules: tuple[str, ...] = ("H", "I")
    # realistic: interim response: while a patient's progress so far is below nonresponse_below, this share of the
    # next module's probability moves to the engagement group (re-engage, set goals again); None switches it off
    nonresponse_below: float | None = None
    nonresponse_shift: float = 0.5

    def group_of(self) -> dict[str, str]:
        """Module → group name (realistic preset); explains the colours of the embedding maps."""
        return {m: g for g, members in self.groups for m in members}


# 09_optimizing_courses' stopping-rule population: sessions help up to a plateau, patients differ in how much,
# and a course ends when the patient is doing well enough.
STOPPING_RULE = {"session_gain": 0.3, "session_scale": 4.0, "responsiveness_sd": 0.6, "stopping_threshold": 0.75}


# 11_uncertainty's heteroscedastic population: the noise sd grows from 0.03 (4 sessions) to 0.126 (20 sessions), so
# an interval that adapts to the course has something to adapt to.
HETEROSCEDASTIC = {"noise_sd": 0.03, "noise_sd_per_session": 0.006}


# 01_simulate_therapy_courses' flowchart population: two primary problems with their own flowcharts and modules that
# work for them, detours to problem solving or emotion regulation, and re-engagement while a patient is not improving.
FLOWCHARTS = {
    "subtypes": (Subtype("depression", 0.5, ("engagement", "skills", "cognitive", "maintenance"),
                         (("F", 0.04), ("C", 0.03), ("D", 0.02))),
                 Subtype("anxiety", 0.5, ("engagement", "skills", "exposure", "maintenance"),
                         (("G", 0.02), ("K", 0.03), ("L", 0.04)))),
    "detour_prob": 0.1, "nonresponse_below": 0.5, "nonresponse_shift": 0.3}


# Every named population, as data: the tutorial's two presets and the realistic preset's variants that notebooks
# 01 and 09 switch on. ``preset_params(name, **overrides)`` starts from one of them; ``--preset`` offers them all.
PRESETS: dict[str, SimulatorParams] = {
    "original": SimulatorParams(
        preset="original", base_mean=0.5, noise_sd=0.1, motif_boost=0.2,
        module_effects=(("A", 0.05), ("F", 0.03), ("C", 0.02)), fatigue_step=0.1, fatigue_per_session=0.0),
    "realistic": SimulatorParams(),
    "flowcharts": replace(SimulatorParams(), **FLOWCHARTS),
    "stopping_rule": replace(SimulatorParams(), **STOPPING_RULE),
    "confounded": SimulatorParams(severity_strength=2.0),
    "heteroscedastic": replace(SimulatorParams(), **HETEROSCEDASTIC),
}


def preset_params(preset: str = "realistic", **overrides: object) -> SimulatorParams:
    """Parameters of a named preset, with any field overridden (01_simulate_therapy_courses).

    Parameters
    ----------
    preset : str
        A key of :data:`PRESETS`: "original" (the public script's population), "realistic" (the tutorial's), or a
        realistic variant ("flowcharts", "stopping_rule", "confounded", "heteroscedastic").
    **overrides
        Fields of :class:`SimulatorParams` to change, e.g. ``noise_sd=0.15``.

    Returns
    -------
    SimulatorParams
        A new frozen parameter set; the registry's entry is left as it is.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {list(PRESETS)}")
    return replace(PRESETS[preset], **overrides)


def outcome_parameters(params: SimulatorParams) -> pd.Series:
    """The outcome model's parameters, one per row, so that a notebook shows the numbers its text quotes.

    Taught in 01_simulate_therapy_courses; later notebooks print the rows they discuss.

    Parameters
    ----------
    params : SimulatorParams
        A preset's parameters (:func:`preset_params`).

    Returns
    -------
    pandas.Series
        Values indexed by what they mean: the base level, the motif boost (and, for the original preset, the chance
        that a course opens with a motif), each module's own effect, the fatigue rule and the noise.
    """
    rows = {"base level": params.base_mean, "motif boost (each occurrence)": params.motif_boost}
    if params.preset == "original":
        rows = {"base level": params.base_mean, "chance a course opens with a motif": params.motif_start_prob,
                "motif boost (once)": params.motif_boost}
    rows |= {f"effect of {module}": effect for module, effect in params.module_effects}
    rows |= {"fatigue: sessions before it starts": params.fatigue_threshold,
             "fatigue: once, beyond that": -params.fatigue_step or 0.0,
             "fatigue: per session beyond that": -params.fatigue_per_session or 0.0,
             "noise sd": params.noise_sd}
    return pd.Series(rows, name=params.preset, dtype=object)


def simulate_courses(params: SimulatorParams, n_sequences: int, seed: int) -> pd.DataFrame:
    """Simulate a course table: ``course_id``, ``modules`` (tuple), ``effectiveness``.

    The realistic preset adds the latent ``severity`` column, kept for ground-truth
    lessons; models never see it. Taught in 01_simulate_therapy_courses.

    Parameters
    ----------
    params : SimulatorParams
        The population (:func:`preset_params`); ``params.preset`` picks the original or the Markov generator.
    n_sequences : int
        Number of courses; a positive integer.
    seed : int
        Seed of the generator(s); the same seed gives the same table.

    Returns
    -------
    pandas.DataFrame
        One row per course: ``course_id`` (0 .. n - 1), ``modules`` (tuple of str), ``effectiveness`` (in [0, 1]);
        realistic also ``severity``, plus ``responsiveness`` and ``subtype`` when those options are on.

    Raises
    ------
    ValueError
        When ``n_sequences`` is not a positive integer, the preset is unknown, or an option value is invalid.
    """
    if isinstance(n_sequences, bool) or not isinstance(n_sequences, (int, np.integer)) or n_sequences <= 0:
        raise ValueError(f"n_sequences must be a positive integer, got {n_sequences!r}")
    if params.noise_sd_per_session < 0:
        raise ValueError(f"noise_sd_per_session must be at least 0, got {params.noise_sd_per_session!r}")
    if params.preset == "original":
        if params.noise_sd_per_session:
            raise ValueError("noise_sd_per_session needs the realistic generator; the original draws as the "
                             f"public script did (got {params.noise_sd_per_session!r})")
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
    """Start distributions ``(K, V)`` and transition matrices ``(K, V, V)`` per latent class.

    A class is a subtype and a severity level, ``k = subtype * S + severity`` (one subtype when ``params.subtypes``
    is empty, so ``k`` is the severity level). Row ``T[k, i]`` is the flowchart's next-module distribution after
    module ``i``; detours and interim response act on top of it. Taught in 01_simulate_therapy_courses.

    Parameters
    ----------
    params : SimulatorParams
        A realistic-preset population: its groups, flowcharts, motif affinity and severity options.

    Returns
    -------
    starts : numpy.ndarray
        ``(K, V)`` first-module probabilities, ``K = max(len(params.subtypes), 1) * S`` classes (S severity levels),
        ``V = len(params.modules)``; rows sum to 1.
    trans : numpy.ndarray
        ``(K, V, V)`` next-module probabilities; ``trans[k, i]`` sums to 1.

    Raises
    ------
    ValueError
        When a subtype or detour option is invalid (e.g. subtype probabilities that do not sum to 1).
    """
    check_options(params)
    index = {m: i for i, m in enumerate(params.modules)}
    groups = dict(params.groups)
    flowcharts = [subtype.phases for subtype in params.subtypes] or [PHASE_ORDER]
    crisis = group_spread(params, groups[CRISIS_GROUP]) if CRISIS_GROUP in groups else np.zeros(len(index))
    levels = np.asarray(params.severity_levels, dtype=float)
    extra = params.severity_strength * params.severity_crisis_mass * levels[:, None] * crisis[None, :]
    pairs = [_flowchart(params, phases) for phases in flowcharts]
    starts = np.concatenate([start[None, :] + extra for start, _ in pairs])
    trans = np.concatenate([base[None, :, :] + extra[:, None, :] for _, base in pairs])
    starts /= starts.sum(axis=1, keepdims=True)
    trans /= trans.sum(axis=2, keepdims=True)
    return starts, trans


def _flowchart(params: SimulatorParams, phases: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Start row and (unnormalised) transition rows of one flowchart: stay in a group, advance a phase, or wander.

    Crisis work and groups off this flowchart lead back to its second phase.
    """
    groups, group_of = dict(params.groups), params.group_of()
    uniform = np.full(len(params.modules), 1.0 / len(params.modules))
    phases = [p for p in phases if p in groups]
    next_group = {p: phases[min(i + 1, len(phases) - 1)] for i, p in enumerate(phases)}
    next_group[CRISIS_GROUP] = phases[min(1, len(phases) - 1)]
    background = 1.0 - params.group_stickiness - params.phase_advance
    base = np.empty((len(params.modules), len(params.modules)))
    for i, module in enumerate(params.modules):
        group = group_of[module]
        if group in next_group:
            base[i] = (params.group_stickiness * group_spread(params, groups[group])
                       + params.phase_advance * group_spread(params, groups[next_group[group]]) + background * uniform)
        else:
            base[i] = ((params.group_stickiness + params.phase_advance)
                       * group_spread(params, groups[next_group[CRISIS_GROUP]]) + background * uniform)
    for motif in params.motifs:
        for a, b in pairwise(motif):
            base[params.modules.index(a), params.modules.index(b)] += params.motif_affinity
    start = (params.start_in_first_phase * group_spread(params, groups[phases[0]])
             + (1 - params.start_in_first_phase) * uniform)
    return start, base


def _simulate_markov(params: SimulatorParams, n: int, seed: int) -> pd.DataFrame:
    """Vectorised Markov generator: one step of all courses at a time (1,000,000 courses in a few seconds).

    Each option draws only when it is on, so with the flowchart options off every draw is the earlier simulator's.
    """
    rng = np.random.default_rng(seed)
    starts, trans = transition_matrices(params)
    n_classes, n_modules = starts.shape
    n_levels = len(params.severity_levels)
    subtype = (rng.choice(len(params.subtypes), size=n, p=[s.prob for s in params.subtypes]) if params.subtypes
               else np.zeros(n, dtype=np.int64))
    severity = rng.choice(n_levels, size=n, p=params.severity_probs)
    latent = subtype * n_levels + severity
    lengths = rng.integers(params.min_length, params.max_length + 1, size=n)
    interim = params.nonresponse_below is not None
    responsiveness = _draw_responsiveness(params, rng, n) if interim else None  # needed while the course runs
    start_table = _stacked_cdf(starts)
    step_table = _stacked_cdf(step_rows(params, trans).reshape(-1, n_modules))
    matrix = np.empty((n, params.max_length), dtype=np.int8 if n_modules < 127 else np.int64)
    matrix[:, 0] = _inverse_cdf(start_table, latent, rng.random(n), n_modules)
    anchor = matrix[:, 0].astype(np.int64)  # where the flowchart is: the last module that was not a detour
    detours = np.array([params.modules.index(m) for m in params.detour_modules if params.detour_prob > 0])
    for t in range(1, params.max_length):
        row = latent * n_modules + anchor
        if interim:
            row += n_classes * n_modules * _not_responding(params, matrix[:, :t], latent, responsiveness)
        matrix[:, t] = _inverse_cdf(step_table, row, rng.random(n), n_modules)
        if params.detour_prob > 0:
            u = rng.random(n)
            detour = u < params.detour_prob
            pick = np.minimum((u / params.detour_prob * len(detours)).astype(np.int64), len(detours) - 1)
            anchor = np.where(detour, anchor, matrix[:, t])
            matrix[:, t] = np.where(detour, detours[pick], matrix[:, t])
        else:
            anchor = matrix[:, t].astype(np.int64)
    noise = rng.normal(0.0, params.noise_sd, size=n)
    if responsiveness is None:
        responsiveness = _draw_responsiveness(params, rng, n)
    if params.stopping_threshold is not None:
        # a soft rule draws one uniform per session, after every other draw: with softness 0 nothing is drawn
        decisions = rng.random((n, params.max_length)) if params.stopping_softness > 0 else None
        lengths = stopping_lengths(params, matrix, responsiveness, decisions)
    if params.noise_sd_per_session:  # the same draws, rescaled: with 0 every course keeps noise_sd's draw exactly
        noise = noise * (noise_sd_for_length(params, lengths) / params.noise_sd)
    matrix[np.arange(params.max_length)[None, :] >= lengths[:, None]] = -1
    mean = (outcome_mean(params, matrix, lengths) + (responsiveness - 1.0) * session_curve(params, lengths)
            + subtype_effects(params)[latent[:, None], matrix].sum(axis=1) - class_shift(params)[latent])
    table = pd.DataFrame({"course_id": np.arange(n), "modules": _matrix_to_courses(matrix, params.modules),
                          "effectiveness": np.clip(mean + noise, 0.0, 1.0),
                          "severity": np.asarray(params.severity_levels)[severity]})
    if params.responsiveness_sd > 0:
        table["responsiveness"] = responsiveness  # latent, like severity: for ground-truth lessons only
    if params.subtypes:
        table["subtype"] = np.array([s.name for s in params.subtypes], dtype=object)[subtype]  # latent too
    return table


def _draw_responsiveness(params: SimulatorParams, rng: np.random.Generator, n: int) -> np.ndarray:
    """Each patient's multiplier of the sessions' benefit; no draw (all 1) when its spread is 0."""
    return rng.normal(1.0, params.responsiveness_sd, size=n) if params.responsiveness_sd > 0 else np.ones(n)


def uses_flowcharts(params: SimulatorParams) -> bool:
    """Whether subtypes, detours or interim response are on (their ground truth runs the forward algorithm)."""
    return bool(params.subtypes) or params.detour_prob > 0 or params.nonresponse_below is not None


def check_options(params: SimulatorParams) -> None:
    """Refuse option values the simulator cannot honour, naming the value."""
    groups, known = dict(params.groups), set(params.modules)
    if params.subtypes and not np.isclose(sum(s.prob for s in params.subtypes), 1.0):
        raise ValueError(f"subtype probabilities {[s.prob for s in params.subtypes]} do not sum to 1")
    for subtype in params.subtypes:
        for phase in subtype.phases:
            if phase not in groups:
                raise ValueError(f"subtype {subtype.name!r}: phase {phase!r} is not one of the groups {list(groups)}")
        for module, _ in subtype.module_effects:
            if module not in known:
                raise ValueError(f"subtype {subtype.name!r}: module {module!r} is not one of the simulator's modules")
    if not 0 <= params.detour_prob < 1:
        raise ValueError(f"detour_prob must be in [0, 1), got {params.detour_prob!r}")
    unknown = [m for m in params.detour_modules if m not in known]
    if params.detour_prob > 0 and (unknown or not params.detour_modules):
        raise ValueError(f"detour_modules {list(params.detour_modules)} must be some of the simulator's modules")
    if not 0 <= params.nonresponse_shift <= 1:
        raise ValueError(f"nonresponse_shift must be in [0, 1], got {params.nonresponse_shift!r}")
    if params.stopping_softness < 0:
        raise ValueError(f"stopping_softness must be at least 0, got {params.stopping_softness!r}")
    if params.stopping_threshold is not None:
        refuse_confounding(params)


def _not_responding(params: SimulatorParams, prefix: np.ndarray, latent: np.ndarray,
                    responsiveness: np.ndarray) -> np.ndarray:
    """Whether each patient's progress after the sessions in ``prefix`` is still below ``nonresponse_below``."""
    a, b = progress_parts(params, prefix, latent)
    return (a[:, -1] + responsiveness * b[:, -1] < params.nonresponse_below).astype(np.int64)


def refuse_confounding(params: SimulatorParams) -> None:
    """The stopping rule's ground truth assumes one population with a fixed flowchart; say so instead of being
    silently wrong."""
    if params.severity_strength != 0:
        raise ValueError(f"the stopping rule needs severity_strength 0 (got {params.severity_strength!r}): "
                         "its ground truth does not model both at once")
    if uses_flowcharts(params):
        raise ValueError("the stopping rule needs subtypes, detours and interim response off: its ground truth "
                         "does not model them together")


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

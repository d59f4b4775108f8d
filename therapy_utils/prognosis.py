"""The truth while a course runs: the chance of reliable improvement after every prefix; expected recovery curves.

P(reliable improvement | the first k sessions' modules and scores) is what the best possible early-warning model
would say. A patient's intake severity and responsiveness are unknown, so the chance averages over their posterior
given the scores so far and the fact that the patient kept coming,

    p(s, r | x_1..k) ∝ p(s) p(r) · Π_t P(x_t | s · exp(−κ (a_t + r b_t))) · Π_{t<k} (1 − dropout_t),

computed on a grid of intake s × responsiveness r; the rest of the course (planned end, dropout, modules, scores) is
then simulated from the clinic's own model (Monte Carlo, with its standard error). The outcome is the one
:func:`therapy_utils.clinic.course_outcomes` reads: first score minus the last recorded one, at least 6 points; a
patient who stops early keeps the score of their last session, as routine-care reports do. Taught in
``12_session_by_session.ipynb``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.stats import lognorm, norm

from therapy_utils.clinic import PHQ9_MAX, RELIABLE_CHANGE, ClinicParams, dropout_chance, measured
from therapy_utils.outcome import courses_to_matrix, progress_parts
from therapy_utils.simulate import simulate_courses, transition_matrices

GRID_CELLS = (109, 81)  # intake severity 0–27 in steps of 0.25; responsiveness ± 4.5 sd in 81 steps


def planned_length_pmf(params: ClinicParams) -> np.ndarray:
    """P(planned length = l) for l = 0 … max_length (zero below 2): :func:`clinic.planned_lengths`' distribution.

    Parameters
    ----------
    params : ClinicParams
        The clinic (its ``planned_mean``, ``planned_sd`` and the flowchart's ``max_length``).

    Returns
    -------
    numpy.ndarray
        ``(max_length + 1,)`` probabilities adding to 1.
    """
    sigma2 = np.log1p((params.planned_sd / params.planned_mean) ** 2)
    cdf = lognorm(np.sqrt(sigma2), scale=np.exp(np.log(params.planned_mean) - sigma2 / 2)).cdf
    top = params.flowchart.max_length
    edges = np.concatenate([[0.0], cdf(np.arange(2, top) + 0.5), [1.0]])  # rounded, then clipped to 2..top
    return np.concatenate([np.zeros(2), np.diff(edges)])


def score_likelihood(params: ClinicParams, scores: np.ndarray, severity: np.ndarray) -> np.ndarray:
    """P(score | latent severity) for the rounded, clipped, noisy questionnaire, elementwise.

    Parameters
    ----------
    params : ClinicParams
        The clinic (its ``measurement_sd``).
    scores : numpy.ndarray
        Recorded scores, 0–27 (broadcast against ``severity``).
    severity : numpy.ndarray
        Latent severities on the same scale.

    Returns
    -------
    numpy.ndarray
        The chance of recording each score: the normal noise's mass over the score's rounding interval (the whole
        tail for 0 and 27).
    """
    upper = np.where(scores >= PHQ9_MAX, np.inf, scores + 0.5)
    lower = np.where(scores <= 0, -np.inf, scores - 0.5)
    return norm.cdf((upper - severity) / params.measurement_sd) - norm.cdf((lower - severity) / params.measurement_sd)


@dataclass(frozen=True)
class _Model:
    """What every prefix shares: the grid, its prior, the plan's distribution and the flowchart's transitions."""

    intake: np.ndarray
    resp: np.ndarray
    log_prior: np.ndarray
    widths: tuple[float, float]
    planned_pmf: np.ndarray
    transition_cdf: np.ndarray

    @classmethod
    def build(cls, params: ClinicParams, cells: tuple[int, int]) -> _Model:
        intake = np.linspace(0.0, PHQ9_MAX, cells[0])
        width_s = intake[1] - intake[0]
        mass_s = np.diff(norm.cdf(np.concatenate([[-np.inf], intake[:-1] + width_s / 2, [np.inf]]),
                                  params.intake_mean, params.intake_sd))  # the clipped tails land on 0 and 27
        sd_r = params.flowchart.responsiveness_sd
        resp = np.linspace(1.0 - 4.5 * sd_r, 1.0 + 4.5 * sd_r, cells[1])
        mass_r = norm.pdf(resp, 1.0, sd_r)
        s, r = np.meshgrid(intake, resp, indexing="ij")
        prior = np.outer(mass_s, mass_r / mass_r.sum()).ravel()
        _, trans = transition_matrices(replace(params.flowchart, min_length=params.flowchart.max_length))
        return cls(s.ravel(), r.ravel(), np.log(prior + 1e-300), (width_s, resp[1] - resp[0]),
                   planned_length_pmf(params), np.cumsum(trans[0], axis=1))


def _progress(params: ClinicParams, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Progress after 0, 1, … modules as ``A + r · B``: ``A`` and ``B`` of shape ``(n, T + 1)`` (column 0: none)."""
    a, b = progress_parts(params.flowchart, matrix)
    zero = np.zeros((len(matrix), 1))
    return np.hstack([zero, a - params.flowchart.base_mean]), np.hstack([zero, b])


def _posterior_draws(params: ClinicParams, model: _Model, courses: np.ndarray, scores: np.ndarray, draws: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``draws`` draws of (intake, responsiveness) for each of m prefixes of one length k, flattened to m · draws."""
    k = scores.shape[1]
    a, b = _progress(params, courses)
    progress = a[:, None, :k] + model.resp[None, :, None] * b[:, None, :k]  # (m, grid, k): before sessions 1..k
    ratio = np.exp(-params.recovery_rate * progress)
    likelihood = score_likelihood(params, scores[:, None, :], model.intake[None, :, None] * ratio)
    log_post = model.log_prior + np.log(likelihood + 1e-300).sum(axis=2)
    log_post += np.log1p(-dropout_chance(params, ratio[:, :, :k - 1])).sum(axis=2)  # came back after 1..k−1
    weights = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    cumulative = np.cumsum(weights, axis=1)
    uniform = rng.random((len(scores), draws)) * cumulative[:, -1:]
    pick = np.concatenate([np.searchsorted(row, u, side="right") for row, u in zip(cumulative, uniform, strict=True)])
    pick = np.minimum(pick, len(model.intake) - 1)
    jitter = rng.uniform(-0.5, 0.5, size=(2, len(pick)))  # a continuous draw within the grid cell
    return (np.clip(model.intake[pick] + jitter[0] * model.widths[0], 0, PHQ9_MAX),
            model.resp[pick] + jitter[1] * model.widths[1])


def _futures(params: ClinicParams, model: _Model, courses: np.ndarray, scores: np.ndarray, intake: np.ndarray,
             resp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each draw's course continued from its prefix (one row per draw) with the clinic's own model: its last
    recorded score."""
    draws, k = scores.shape
    top = params.flowchart.max_length
    pmf = model.planned_pmf[k:]
    planned = k + rng.choice(len(pmf), size=draws, p=pmf / pmf.sum())  # the plan, given it reached session k
    matrix = np.empty((draws, top), dtype=np.int64)
    matrix[:, :k] = courses
    cdf = model.transition_cdf
    for t in range(k, top):
        matrix[:, t] = np.minimum((rng.random(draws)[:, None] > cdf[matrix[:, t - 1]]).sum(axis=1), cdf.shape[1] - 1)
    a, b = _progress(params, matrix)
    ratio = np.exp(-params.recovery_rate * (a + resp[:, None] * b))  # before sessions 1..top+1
    last = scores[:, -1].astype(float)
    running = planned > k
    running &= rng.random(draws) >= dropout_chance(params, ratio[:, k - 1])  # came back after session k?
    for t in range(k, top):  # session t + 1
        score = measured(params, intake * ratio[:, t], rng)
        last = np.where(running, score, last)
        running &= (planned > t + 1) & (rng.random(draws) >= dropout_chance(params, ratio[:, t]))
    return last


def _prefix_arrays(params: ClinicParams, courses: Sequence[Sequence[str]],
                   scores: Sequence[Sequence[int]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each prefix as (module indices, scores), refused by position and value where it cannot be a clinic's."""
    known = {m: i for i, m in enumerate(params.flowchart.modules)}
    prefixes = []
    for i, (course, score) in enumerate(zip(courses, scores, strict=True)):
        if len(course) != len(score) or not len(course):
            raise ValueError(f"prefix {i}: a prefix needs one score per module, at least one: got {len(course)} "
                             f"modules and {len(score)} scores")
        unknown = [m for m in course if m not in known]
        outside = [s for s in score if not (float(s) == int(s) and 0 <= s <= PHQ9_MAX)]
        if unknown or outside:
            raise ValueError(f"prefix {i}: " + (f"module {unknown[0]!r} is not one of the clinic's modules"
                                                if unknown else f"score {outside[0]!r} is not a whole number 0-27"))
        prefixes.append((np.array([known[m] for m in course]), np.asarray(score, dtype=float)))
    return prefixes


def improvement_chances(params: ClinicParams, courses: Sequence[Sequence[str]], scores: Sequence[Sequence[int]],
                        draws: int = 400, seed: int = 0, cells: tuple[int, int] = GRID_CELLS,
                        chunk_cells: int = 2_000_000) -> tuple[np.ndarray, np.ndarray]:
    """The truth after many prefixes at once: P(reliable improvement | each prefix's modules and scores).

    Parameters
    ----------
    params : ClinicParams
        The clinic the patients come from.
    courses, scores : sequence of sequences
        For each prefix, the k ≥ 1 modules given and the k scores recorded (the score at the start of each session).
    draws : int, default=400
        Monte Carlo draws of the patient and of the rest of the course, per prefix.
    seed : int, default=0
        Seeds the draws (of all prefixes, in the order given).
    cells : (int, int), default=(109, 81)
        Grid points for intake severity (0–27) and responsiveness (± 4.5 sd) in the posterior.
    chunk_cells : int, default=2_000_000
        Prefixes are handled in chunks of about this many grid cells × sessions (memory, not results).

    Returns
    -------
    chance : numpy.ndarray
        The Monte Carlo estimate for each prefix.
    error : numpy.ndarray
        Its Monte Carlo standard error, sqrt(p (1 − p) / draws).
    """
    prefixes = _prefix_arrays(params, courses, scores)
    rng = np.random.default_rng(seed)
    model = _Model.build(params, cells)
    lengths = np.array([len(c) for c, _ in prefixes])
    chance = np.empty(len(prefixes))
    for k in np.unique(lengths):
        same = np.flatnonzero(lengths == k)
        step = max(1, chunk_cells // (len(model.intake) * k))
        for start in range(0, len(same), step):
            part = same[start:start + step]
            index = np.stack([prefixes[i][0] for i in part])
            observed = np.stack([prefixes[i][1] for i in part])
            intake, resp = _posterior_draws(params, model, index, observed, draws, rng)
            repeated = np.repeat(observed, draws, axis=0)
            last = _futures(params, model, np.repeat(index, draws, axis=0), repeated, intake, resp, rng)
            chance[part] = (repeated[:, 0] - last >= RELIABLE_CHANGE).reshape(len(part), draws).mean(axis=1)
    return chance, np.sqrt(chance * (1 - chance) / draws)


def improvement_chance(params: ClinicParams, course: Sequence[str], scores: Sequence[int], draws: int = 400,
                       seed: int = 0, cells: tuple[int, int] = GRID_CELLS) -> tuple[float, float]:
    """The truth after one prefix: P(reliable improvement | the first k sessions' modules and scores).

    Parameters
    ----------
    params : ClinicParams
        The clinic the patient comes from.
    course, scores : sequence
        The k modules given and the k scores recorded so far (the score at the start of each session), k ≥ 1.
    draws : int, default=400
        Monte Carlo draws of the patient and of the rest of the course.
    seed : int, default=0
        Seeds the draws.
    cells : (int, int), default=(109, 81)
        Grid points for intake severity and responsiveness in the posterior.

    Returns
    -------
    chance : float
        The Monte Carlo estimate of the probability (:func:`improvement_chances` for one prefix).
    error : float
        Its Monte Carlo standard error, sqrt(p (1 − p) / draws).
    """
    chance, error = improvement_chances(params, [course], [scores], draws=draws, seed=seed, cells=cells)
    return float(chance[0]), float(error[0])


def patient_posterior(params: ClinicParams, course: Sequence[str], scores: Sequence[int], draws: int = 4000,
                      seed: int = 0, cells: tuple[int, int] = GRID_CELLS) -> pd.DataFrame:
    """Draws of one patient's unknown intake severity and responsiveness given their first k modules and scores.

    The first step of :func:`improvement_chance`: the grid posterior (the module docstring's equation), each draw
    jittered uniformly within its grid cell.

    Parameters
    ----------
    params : ClinicParams
        The clinic.
    course, scores : sequence
        The k modules and k scores so far.
    draws : int, default=4000
        How many draws.
    seed : int, default=0
        Seeds them.
    cells : (int, int), default=(109, 81)
        The grid.

    Returns
    -------
    pandas.DataFrame
        ``intake`` (the latent severity at intake) and ``responsiveness``, one row per draw.
    """
    (index, observed), = _prefix_arrays(params, [course], [scores])
    intake, resp = _posterior_draws(params, _Model.build(params, cells), index[None, :], observed[None, :], draws,
                                    np.random.default_rng(seed))
    return pd.DataFrame({"intake": intake, "responsiveness": resp})


def expected_recovery_curve(params: ClinicParams, intake_score: int, sessions: int = 12, draws: int = 4000,
                            seed: int = 0, cells: tuple[int, int] = GRID_CELLS) -> pd.DataFrame:
    """What a patient with this intake score can expect, session by session, if they keep coming.

    The scores recorded at sessions 1 … ``sessions`` for patients who arrive with ``intake_score``: the mean and the
    10th and 90th percentiles — the expected recovery curve and its band, against which routine outcome monitoring
    flags a patient as "not on track". Intake severity and responsiveness come from their posterior given the intake
    score; modules from the flowchart; no one drops out (the curve describes treatment received).

    Parameters
    ----------
    params : ClinicParams
        The clinic.
    intake_score : int
        The score at the first session, 0–27.
    sessions : int, default=12
        How many sessions the curve covers (at most the flowchart's ``max_length``).
    draws : int, default=4000
        Monte Carlo draws of patients and courses.
    seed : int, default=0
        Seeds the draws.
    cells : (int, int), default=(109, 81)
        The posterior grid, as in :func:`improvement_chance`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``session`` (1 …): ``mean``, ``p10`` and ``p90`` of the recorded score.
    """
    if not 0 <= intake_score <= PHQ9_MAX or not 1 <= sessions <= params.flowchart.max_length:
        raise ValueError(f"intake_score must be 0-{PHQ9_MAX} and sessions 1-{params.flowchart.max_length}; got "
                         f"{intake_score!r} and {sessions!r}")
    rng = np.random.default_rng(seed)
    flow = replace(params.flowchart, min_length=params.flowchart.max_length)
    courses = simulate_courses(flow, draws, seed=int(rng.integers(2**31)))["modules"]
    matrix, _ = courses_to_matrix(courses, flow.modules)
    intake, resp = _posterior_draws(params, _Model.build(params, cells), matrix[:1, :1],
                                    np.array([[float(intake_score)]]), draws, rng)
    a, b = _progress(params, matrix)
    scores = measured(params, intake[:, None] * np.exp(-params.recovery_rate * (a + resp[:, None] * b)), rng)
    scores[:, 0] = intake_score  # the first session's score is the one given
    shown = scores[:, :sessions]
    return pd.DataFrame({"mean": shown.mean(axis=0), "p10": np.percentile(shown, 10, axis=0),
                         "p90": np.percentile(shown, 90, axis=0)},
                        index=pd.RangeIndex(1, sessions + 1, name="session"))


def recovery_curves(params: ClinicParams, sessions: int = 8, draws: int = 2000, seed: int = 0) -> pd.DataFrame:
    """:func:`expected_recovery_curve` for every intake score 0–27, the table a "not on track" rule looks up.

    Parameters
    ----------
    params : ClinicParams
        The clinic.
    sessions : int, default=8
        Sessions per curve.
    draws : int, default=2000
        Monte Carlo draws per intake score.
    seed : int, default=0
        Seeds the draws (the same seed for every intake score).

    Returns
    -------
    pandas.DataFrame
        Indexed by (``intake``, ``session``): ``mean``, ``p10`` and ``p90``.
    """
    return pd.concat({s: expected_recovery_curve(params, s, sessions, draws, seed) for s in range(PHQ9_MAX + 1)},
                     names=["intake"])

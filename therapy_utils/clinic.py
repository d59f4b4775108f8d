"""The clinic preset: courses of routine care recorded session by session, with a PHQ-9-like score at every session.

A patient arrives with a latent severity on the PHQ-9's scale (0–27). Each session gives a module, drawn by the
realistic preset's flowchart, and the realistic outcome model's progress after the sessions so far (module effects,
motifs that count from the session that completes them, diminishing returns scaled by the patient's responsiveness;
:func:`therapy_utils.outcome.progress_parts`) lowers the severity multiplicatively:

    severity_t = intake · exp(−κ · progress_t),   progress_t = (a_t − base) + r · b_t,

so a completed motif is a step down — the simulator's sudden gains. The questionnaire filled in at the start of
session t measures the severity after the t − 1 sessions before it, with noise, rounded and clipped to 0–27. Each
course has a planned length; after every session a patient who is not improving is more likely to stop coming
(dropout that depends on progress: missing not at random). :func:`improvement_chance` gives the truth after any
prefix of a course: the chance of reliable improvement given the modules and scores so far. Calibrated to
routine-care figures (``tests/test_clinic.py`` names each source and tolerance); this module holds the parameters,
the generator, the measures and the truth. Its notebook, 12_session_by_session, is still to be written (issue 31).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import lognorm, norm

from therapy_utils.outcome import courses_to_matrix, progress_parts
from therapy_utils.simulate import SimulatorParams, preset_params, simulate_courses, transition_matrices

PHQ9_MAX = 27
CASENESS = 10  # PHQ-9 of 10 or more: a "case" of depression (NHS Talking Therapies' threshold)
RELIABLE_CHANGE = 6  # a change of 6 or more PHQ-9 points: more than the measure's own error (reliable change)


@dataclass(frozen=True)
class ClinicParams:
    """Every knob of the clinic preset; the defaults are the calibrated clinic.

    Attributes
    ----------
    flowchart : SimulatorParams
        The realistic preset whose flowchart draws the modules and whose outcome model gives the progress.
    intake_mean, intake_sd : float
        The latent severity at intake ~ N(mean, sd), clipped to 0–27.
    recovery_rate : float
        κ: how far progress lowers the severity, ``exp(−κ · progress)``.
    measurement_sd : float
        The questionnaire's noise around the latent severity, in PHQ-9 points.
    planned_mean, planned_sd : float
        Planned course length (sessions) ~ a rounded log-normal with this mean and sd, within 2–20.
    dropout_base, dropout_slope : float
        After each session, the chance of not coming back is ``expit(base + slope · (ratio − 1))``,
        ``ratio`` = latent severity now / at intake: no improvement keeps the ratio at 1, improvement lowers it.
    """

    flowchart: SimulatorParams = field(default_factory=lambda: preset_params(
        "realistic", session_gain=0.3, session_scale=4.0, responsiveness_sd=0.6, motif_boost=0.12))
    intake_mean: float = 18.0
    intake_sd: float = 5.0
    recovery_rate: float = 2.5
    measurement_sd: float = 2.0
    planned_mean: float = 7.5
    planned_sd: float = 3.5
    dropout_base: float = -2.55
    dropout_slope: float = 3.0

    def __post_init__(self) -> None:
        """Refuse, naming the field, values the generator cannot honour."""
        for name in ("intake_sd", "recovery_rate", "measurement_sd", "planned_sd"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ClinicParams.{name} must be positive, got {getattr(self, name)!r}")
        if not 2 <= self.planned_mean <= self.flowchart.max_length:
            raise ValueError(f"ClinicParams.planned_mean must be in [2, {self.flowchart.max_length}], "
                             f"got {self.planned_mean!r}")


CLINIC = ClinicParams()


def latent_severity(params: ClinicParams, intake: np.ndarray, responsiveness: np.ndarray,
                    matrix: np.ndarray) -> np.ndarray:
    """The latent severity before each session: column 0 at intake, column t after the first t modules.

    Parameters
    ----------
    params : ClinicParams
        The clinic.
    intake : numpy.ndarray
        ``(n,)`` latent severity at intake.
    responsiveness : numpy.ndarray
        ``(n,)`` each patient's multiplier of the sessions' diminishing returns.
    matrix : numpy.ndarray
        ``(n, T)`` module indices of the courses (−1 padded), :func:`outcome.courses_to_matrix`.

    Returns
    -------
    numpy.ndarray
        ``(n, T + 1)`` severities on the PHQ-9 scale (not rounded, no noise).
    """
    a, b = progress_parts(params.flowchart, np.where(matrix < 0, 0, matrix))
    progress = (a - params.flowchart.base_mean) + np.reshape(responsiveness, (-1, 1)) * b
    progress = np.concatenate([np.zeros((len(intake), 1)), progress], axis=1)
    return np.reshape(intake, (-1, 1)) * np.exp(-params.recovery_rate * progress)


def dropout_chance(params: ClinicParams, ratio: np.ndarray) -> np.ndarray:
    """The chance of not coming back, given latent severity now / at intake (1: no better, lower: improving)."""
    return expit(params.dropout_base + params.dropout_slope * (np.asarray(ratio, dtype=float) - 1.0))


def planned_lengths(params: ClinicParams, rng: np.random.Generator, n: int) -> np.ndarray:
    """Each course's planned number of sessions: a rounded log-normal with the given mean and sd, within 2–20."""
    sigma2 = np.log1p((params.planned_sd / params.planned_mean) ** 2)
    draws = rng.lognormal(np.log(params.planned_mean) - sigma2 / 2, np.sqrt(sigma2), size=n)
    return np.clip(np.rint(draws), 2, params.flowchart.max_length).astype(np.int64)


def measured(params: ClinicParams, severity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The questionnaire's integer scores: latent severity plus noise, rounded, within 0–27."""
    noisy = severity + rng.normal(0.0, params.measurement_sd, size=severity.shape)
    return np.clip(np.rint(noisy), 0, PHQ9_MAX).astype(np.int64)


def simulate_clinic(params: ClinicParams, n_patients: int, seed: int) -> pd.DataFrame:
    """Simulate routine care, one row per attended session.

    Parameters
    ----------
    params : ClinicParams
        The clinic (:data:`CLINIC`).
    n_patients : int
        Patients who start treatment (each attends at least one session).
    seed : int
        Seeds every draw: intake, responsiveness, modules, planned length, scores and dropout.

    Returns
    -------
    pandas.DataFrame
        ``course_id``, ``session`` (1, 2, ...), ``module``, ``score`` (the PHQ-9 at the start of that session),
        and per course: ``planned_sessions``, ``ended_early`` (stopped coming before the planned end),
        ``responsiveness`` and the latent ``true_severity`` the score measured.
    """
    rng = np.random.default_rng(seed)
    flow = replace(params.flowchart, min_length=params.flowchart.max_length)  # full flowcharts, cut below
    modules = simulate_courses(flow, n_patients, seed=int(rng.integers(2**31)))["modules"]
    matrix, _ = courses_to_matrix(modules, flow.modules)
    intake = np.clip(rng.normal(params.intake_mean, params.intake_sd, n_patients), 0, PHQ9_MAX)
    responsiveness = rng.normal(1.0, params.flowchart.responsiveness_sd, n_patients)
    ratio = latent_severity(params, np.ones(n_patients), responsiveness, matrix)[:, :-1]  # before sessions 1..T
    severity = intake[:, None] * ratio
    planned = planned_lengths(params, rng, n_patients)
    leaves = rng.random(severity.shape) < dropout_chance(params, ratio)
    attended = np.minimum(planned, np.where(leaves.any(axis=1), leaves.argmax(axis=1) + 1, planned))
    scores = measured(params, severity, rng)
    rows = np.arange(severity.shape[1])[None, :] < attended[:, None]
    patient, step = np.nonzero(rows)
    return pd.DataFrame({
        "course_id": patient, "session": step + 1, "module": np.asarray(flow.modules)[matrix[patient, step]],
        "score": scores[patient, step], "planned_sessions": planned[patient],
        "ended_early": (attended < planned)[patient], "responsiveness": responsiveness[patient],
        "true_severity": severity[patient, step]})


def course_outcomes(sessions: pd.DataFrame) -> pd.DataFrame:
    """One row per course: first and last score, sessions attended, and the outcome measures of routine care.

    The outcome of every course, ended early or not, is read from its **last recorded score** (the last
    observation), as routine-care reports do; a course with a single session has no pair of scores and is not
    "finished" (the NHS report's definition: at least two treatment sessions).

    Parameters
    ----------
    sessions : pandas.DataFrame
        One row per attended session with ``course_id``, ``session``, ``score`` (and optionally ``ended_early``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``course_id``: ``first``, ``last``, ``sessions``, ``finished`` (≥ 2 sessions), ``case`` (first
        ≥ 10), ``recovered`` (a case whose last score is below 10), ``reliably_improved`` (a drop of ≥ 6 points),
        ``reliably_recovered`` (both); and ``ended_early`` when the table has it.
    """
    ordered = sessions.sort_values(["course_id", "session"]).groupby("course_id")
    out = pd.DataFrame({"first": ordered["score"].first(), "last": ordered["score"].last(),
                        "sessions": ordered["session"].size()})
    out["finished"] = out["sessions"] >= 2
    out["case"] = out["first"] >= CASENESS
    out["recovered"] = out["case"] & (out["last"] < CASENESS)
    out["reliably_improved"] = out["first"] - out["last"] >= RELIABLE_CHANGE
    out["reliably_recovered"] = out["recovered"] & out["reliably_improved"]
    if "ended_early" in sessions:
        out["ended_early"] = ordered["ended_early"].first()
    return out


def sudden_gains(scores: np.ndarray, absolute: int = RELIABLE_CHANGE) -> np.ndarray:
    """Tang & DeRubeis' (1999) three criteria for a sudden gain between sessions n and n + 1, for every n.

    (1) the drop is at least ``absolute`` points; (2) it is at least 25 % of the score before it; (3) the mean of the
    three scores before it (n − 2 … n) exceeds the mean of the three after (n + 1 … n + 3) by more than 2.776 times
    their pooled standard deviation (a t-test at p < .05 with 4 degrees of freedom). With fewer than three scores on
    a side, the two or one available are used, as Tang & DeRubeis allow.

    Parameters
    ----------
    scores : numpy.ndarray
        One course's scores in session order.
    absolute : int, default=6
        The absolute criterion in PHQ-9 points.

    Returns
    -------
    numpy.ndarray
        Boolean, one entry per consecutive pair (length ``len(scores) − 1``): a sudden gain between them.
    """
    scores = np.asarray(scores, dtype=float)
    found = np.zeros(max(len(scores) - 1, 0), dtype=bool)
    for n in range(1, len(scores) - 2):  # a gain needs a score before the pair and two after it
        before, after = scores[max(n - 2, 0): n + 1], scores[n + 1: n + 4]
        drop = scores[n] - scores[n + 1]
        if drop < absolute or drop < 0.25 * scores[n]:
            continue
        pooled = np.sqrt(((len(before) - 1) * before.var(ddof=1) + (len(after) - 1) * after.var(ddof=1))
                         / (len(before) + len(after) - 2))
        found[n] = before.mean() - after.mean() > 2.776 * pooled
    return found


def calibration_figures(sessions: pd.DataFrame) -> pd.Series:
    """The routine-care figures the clinic preset is calibrated to, each defined as its source defines it.

    Parameters
    ----------
    sessions : pandas.DataFrame
        One row per attended session (:func:`simulate_clinic`), with ``ended_early``.

    Returns
    -------
    pandas.Series
        ``mean sessions, finished`` (courses of at least two sessions), ``recovery, finished cases`` (a case at the
        first score, below 10 at the last, among finished courses that started as cases), ``reliable improvement,
        finished`` (a drop of at least 6 points among finished courses), ``ended early, started`` (stopped before the
        planned end, among everyone who attended a session), ``one session only, started``, ``sudden gain,
        finished`` (Tang & DeRubeis, 6-point criterion) and ``last score, sudden gain`` / ``last score, no sudden
        gain`` (mean last score of finished courses with and without one).
    """
    outcomes = course_outcomes(sessions)
    finished = outcomes[outcomes["finished"]]
    scores = sessions.sort_values(["course_id", "session"]).groupby("course_id")["score"]
    gained = scores.apply(lambda s: bool(sudden_gains(s.to_numpy()).any()))[finished.index]
    return pd.Series({
        "mean sessions, finished": finished["sessions"].mean(),
        "recovery, finished cases": finished.loc[finished["case"], "recovered"].mean(),
        "reliable improvement, finished": finished["reliably_improved"].mean(),
        "ended early, started": outcomes["ended_early"].mean(),
        "one session only, started": (~outcomes["finished"]).mean(),
        "sudden gain, finished": gained.mean(),
        "last score, sudden gain": finished.loc[gained, "last"].mean(),
        "last score, no sudden gain": finished.loc[~gained, "last"].mean()})


# The truth after every prefix --------------------------------------------------------------------------------------
# P(reliable improvement | the first k sessions' modules and scores): the patient's intake severity and
# responsiveness are unknown, so the chance averages over their posterior given the scores so far (and the fact that
# the patient kept coming), computed on a grid; the rest of the course — planned end, dropout, modules, scores — is
# then simulated from the clinic's own model. The outcome is the one `course_outcomes` reads: the first score minus
# the last recorded one, at least 6 points; a patient who stops early keeps the score of their last session.

def planned_length_pmf(params: ClinicParams) -> np.ndarray:
    """P(planned length = l) for l = 0 … max_length (zero below 2): :func:`planned_lengths`' distribution."""
    sigma2 = np.log1p((params.planned_sd / params.planned_mean) ** 2)
    cdf = lognorm(np.sqrt(sigma2), scale=np.exp(np.log(params.planned_mean) - sigma2 / 2)).cdf
    top = params.flowchart.max_length
    edges = np.concatenate([[0.0], cdf(np.arange(2, top) + 0.5), [1.0]])  # rounded, then clipped to 2..top
    return np.concatenate([np.zeros(2), np.diff(edges)])


def score_likelihood(params: ClinicParams, scores: np.ndarray, severity: np.ndarray) -> np.ndarray:
    """P(score | latent severity) for the rounded, clipped, noisy questionnaire, elementwise."""
    upper = np.where(scores >= PHQ9_MAX, np.inf, scores + 0.5)
    lower = np.where(scores <= 0, -np.inf, scores - 0.5)
    return norm.cdf((upper - severity) / params.measurement_sd) - norm.cdf((lower - severity) / params.measurement_sd)


def _grid(params: ClinicParams, cells: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Intake × responsiveness grid points (flattened), their prior mass, and the two cell widths."""
    intake = np.linspace(0.0, PHQ9_MAX, cells[0])
    width_s = intake[1] - intake[0]
    mass_s = np.diff(norm.cdf(np.concatenate([[-np.inf], intake[:-1] + width_s / 2, [np.inf]]),
                              params.intake_mean, params.intake_sd))  # the clipped tails land on 0 and 27
    sd_r = params.flowchart.responsiveness_sd
    resp = np.linspace(1.0 - 4.5 * sd_r, 1.0 + 4.5 * sd_r, cells[1])
    width_r = resp[1] - resp[0]
    mass_r = norm.pdf(resp, 1.0, sd_r) * width_r
    s, r = np.meshgrid(intake, resp, indexing="ij")
    return s.ravel(), r.ravel(), np.outer(mass_s, mass_r / mass_r.sum()).ravel(), width_s, width_r


def _progress(params: ClinicParams, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Progress after 0, 1, … modules as ``A + r · B``: ``A`` and ``B`` of shape ``(n, T + 1)`` (column 0: none)."""
    a, b = progress_parts(params.flowchart, matrix)
    zero = np.zeros((len(matrix), 1))
    return np.hstack([zero, a - params.flowchart.base_mean]), np.hstack([zero, b])


def _posterior_draws(params: ClinicParams, course: np.ndarray, scores: np.ndarray, draws: int,
                     rng: np.random.Generator, grid: tuple) -> tuple[np.ndarray, np.ndarray, float]:
    """Draws of (intake, responsiveness) given one prefix: its scores and that the patient kept coming."""
    intake, resp, prior, width_s, width_r = grid
    k = len(scores)
    a, b = _progress(params, course[None, :])
    progress = a[0, :k][None, :] + resp[:, None] * b[0, :k][None, :]  # before sessions 1..k
    ratio = np.exp(-params.recovery_rate * progress)
    log_post = np.log(prior + 1e-300)
    log_post += np.log(score_likelihood(params, scores[None, :], intake[:, None] * ratio) + 1e-300).sum(axis=1)
    log_post += np.log1p(-dropout_chance(params, ratio[:, :k - 1])).sum(axis=1)  # came back after 1..k−1
    weights = np.exp(log_post - log_post.max())
    weights /= weights.sum()
    pick = rng.choice(len(weights), size=draws, p=weights)
    jitter = rng.uniform(-0.5, 0.5, size=(2, draws))  # a continuous draw within the grid cell
    return (np.clip(intake[pick] + jitter[0] * width_s, 0, PHQ9_MAX), resp[pick] + jitter[1] * width_r,
            1.0 / float(np.sum(weights ** 2)))


def _futures(params: ClinicParams, course: np.ndarray, scores: np.ndarray, intake: np.ndarray, resp: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
    """Each draw's course continued from its prefix with the clinic's own model: the last recorded score."""
    draws, k, top = len(intake), len(scores), params.flowchart.max_length
    pmf = planned_length_pmf(params)[k:]
    planned = k + rng.choice(len(pmf), size=draws, p=pmf / pmf.sum())  # the plan, given it reached session k
    _, trans = transition_matrices(replace(params.flowchart, min_length=top))
    matrix = np.empty((draws, top), dtype=np.int64)
    matrix[:, :k] = course
    cdf = np.cumsum(trans[0], axis=1)
    for t in range(k, top):
        matrix[:, t] = np.minimum((rng.random(draws)[:, None] > cdf[matrix[:, t - 1]]).sum(axis=1), cdf.shape[1] - 1)
    a, b = _progress(params, matrix)
    ratio = np.exp(-params.recovery_rate * (a + resp[:, None] * b))  # before sessions 1..top+1
    last = np.full(draws, scores[-1])
    running = planned > k
    running &= rng.random(draws) >= dropout_chance(params, ratio[:, k - 1])  # came back after session k?
    for t in range(k, top):  # session t + 1
        score = measured(params, intake * ratio[:, t], rng)
        last = np.where(running, score, last)
        running &= (planned > t + 1) & (rng.random(draws) >= dropout_chance(params, ratio[:, t]))
    return last


def improvement_chance(params: ClinicParams, course: tuple[str, ...], scores: tuple[int, ...], draws: int = 400,
                       seed: int = 0, cells: tuple[int, int] = (109, 81)) -> tuple[float, float]:
    """The truth after a prefix: P(reliable improvement | the first k sessions' modules and scores).

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
        Grid points for intake severity (0–27) and responsiveness (± 4.5 sd) in the posterior.

    Returns
    -------
    chance : float
        The Monte Carlo estimate of the probability.
    error : float
        Its Monte Carlo standard error, sqrt(p (1 − p) / draws).
    """
    if len(course) != len(scores) or not course:
        raise ValueError(f"a prefix needs one score per module, at least one: got {len(course)} modules and "
                         f"{len(scores)} scores")
    rng = np.random.default_rng(seed)
    index = np.array([params.flowchart.modules.index(m) for m in course])
    observed = np.asarray(scores, dtype=float)
    intake, resp, _ = _posterior_draws(params, index, observed, draws, rng, _grid(params, cells))
    improved = observed[0] - _futures(params, index, observed, intake, resp, rng) >= RELIABLE_CHANGE
    chance = float(improved.mean())
    return chance, float(np.sqrt(chance * (1 - chance) / draws))


def expected_recovery_curve(params: ClinicParams, intake_score: int, sessions: int = 12, draws: int = 4000,
                            seed: int = 0, cells: tuple[int, int] = (109, 81)) -> pd.DataFrame:
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
    grid = _grid(params, cells)
    intake, resp, _ = _posterior_draws(params, matrix[0, :1], np.array([float(intake_score)]), draws, rng, grid)
    a, b = _progress(params, matrix)
    scores = measured(params, intake[:, None] * np.exp(-params.recovery_rate * (a + resp[:, None] * b)), rng)
    scores[:, 0] = intake_score  # the first session's score is the one given
    shown = scores[:, :sessions]
    return pd.DataFrame({"mean": shown.mean(axis=0), "p10": np.percentile(shown, 10, axis=0),
                         "p90": np.percentile(shown, 90, axis=0)},
                        index=pd.RangeIndex(1, sessions + 1, name="session"))

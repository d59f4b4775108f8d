"""The clinic preset: courses of routine care recorded session by session, with a PHQ-9-like score at every session.

A patient arrives with a latent severity on the PHQ-9's scale (0–27). Each session gives a module, drawn by the
realistic preset's flowchart, and the realistic outcome model's progress after the sessions so far (module effects,
motifs that count from the session that completes them, diminishing returns scaled by the patient's responsiveness;
:func:`therapy_utils.outcome.progress_parts`) lowers the severity multiplicatively:

    severity_t = intake · exp(−κ · progress_t),   progress_t = (a_t − base) + r · b_t,

so a completed motif is a step down — the simulator's sudden gains. The questionnaire filled in at the start of
session t measures the severity after the t − 1 sessions before it, with noise, rounded and clipped to 0–27. Each
course has a planned length; after every session a patient who is not improving is more likely to stop coming
(dropout that depends on progress: missing not at random). :func:`prognosis.improvement_chance` gives the truth
after any prefix of a course: the chance of reliable improvement given the modules and scores so far. Calibrated to
routine-care figures (``tests/test_clinic.py`` names each source and tolerance); this module holds the parameters,
the generator and the measures, :mod:`therapy_utils.prognosis` the truth after every session. Taught in
``12_session_by_session.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.special import expit

from therapy_utils.outcome import courses_to_matrix, progress_parts
from therapy_utils.simulate import SimulatorParams, preset_params, simulate_courses

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

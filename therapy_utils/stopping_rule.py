"""The stopping rule: a course ends once the patient's expected progress is good enough (09_optimizing_courses).

What routine outcome monitoring would record after every session (:func:`interim_progress`), the chance that a course
stops there (:func:`stopping_chance`), and each course's length under the rule (:func:`stopping_lengths`). Used by the
simulator to draw the courses and by :mod:`therapy_utils.truth` for their exact ground truth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.stats import norm

from therapy_utils.outcome import courses_to_matrix, progress_parts

if TYPE_CHECKING:
    from therapy_utils.simulate import SimulatorParams


def stopping_chance(params: SimulatorParams, progress: np.ndarray) -> np.ndarray:
    """The chance that a course stops after a session with this expected progress (09_optimizing_courses).

    1 at or above the threshold and 0 below it for a hard rule (``stopping_softness`` 0); otherwise
    Phi((progress - threshold) / stopping_softness). Sessions before ``min_length`` are the caller's to exclude.

    Parameters
    ----------
    params : SimulatorParams
        A population with a stopping rule (``stopping_threshold`` set).
    progress : numpy.ndarray
        Expected progress after a session (:func:`interim_progress`), any shape.

    Returns
    -------
    numpy.ndarray
        Chances in [0, 1], the shape of ``progress``.
    """
    if params.stopping_threshold is None:
        raise ValueError("these parameters have no stopping rule (stopping_threshold is None)")
    if params.stopping_softness < 0:
        raise ValueError(f"stopping_softness must be at least 0, got {params.stopping_softness!r}")
    gap = np.asarray(progress, dtype=float) - params.stopping_threshold
    if params.stopping_softness == 0:
        return (gap >= 0).astype(float)
    return norm.cdf(gap / params.stopping_softness)


def interim_progress(params: SimulatorParams, courses: pd.Series | list, responsiveness: np.ndarray) -> np.ndarray:
    """Each patient's expected progress after every session of their course: what routine outcome monitoring would
    record, and what the stopping rule reads (09_optimizing_courses).

    Parameters
    ----------
    params : SimulatorParams
        The population (realistic generator, one population).
    courses : pandas.Series or list
        Courses, each a sequence of module names.
    responsiveness : numpy.ndarray
        Each patient's responsiveness (the simulator's latent ``responsiveness`` column).

    Returns
    -------
    numpy.ndarray
        ``(n, max_length)``: progress after sessions 1, 2, ...; NaN after a course's last session.
    """
    matrix, lengths = courses_to_matrix(courses, params.modules)
    a, b = progress_parts(params, matrix)
    progress = a + np.reshape(np.asarray(responsiveness, dtype=float), (-1, 1)) * b
    return np.where(np.arange(matrix.shape[1])[None, :] < lengths[:, None], progress, np.nan)


def stopping_lengths(params: SimulatorParams, matrix: np.ndarray, responsiveness: np.ndarray | float,
                      decisions: np.ndarray | None = None) -> np.ndarray:
    """Each course's length under the stopping rule: the first t ≥ min_length at which it stops (for a hard rule,
    whose progress reaches the threshold; for a soft one, whose uniform in ``decisions`` falls below the chance).

    ``matrix`` holds the courses' module indices as drawn to full length, ``responsiveness`` each patient's
    multiplier; :func:`simulate.simulate_courses` calls it after refusing what the rule's truth does not model.
    """
    a, b = progress_parts(params, matrix)
    chance = stopping_chance(params, a + np.reshape(responsiveness, (-1, 1)) * b)
    reached = chance >= 1.0 if decisions is None else decisions < chance
    reached[:, : params.min_length - 1] = False
    reached[:, -1] = True
    return reached.argmax(axis=1) + 1

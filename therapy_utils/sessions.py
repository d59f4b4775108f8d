"""Session data: a clinic's sessions (one row per attended session, with its score) as padded arrays per patient.

Every early-warning predictor (:mod:`therapy_utils.early_warning`) reads :class:`SessionCourses`; the split keeps
every session of a patient on one side (train, validation or test). Taught in ``12_session_by_session.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from therapy_utils.clinic import course_outcomes
from therapy_utils.data import Vocabulary

SCORED_SESSIONS = tuple(range(1, 9))  # k = 1 … 8: the sessions after which predictions are scored
MIN_PART = 2  # training, validation and test need two patients each (at 60/20/20, nine patients give 5/2/2)
PADDING_INDEX = 0  # data.Vocabulary keeps index 0 for padding (model.PADDING_INDEX; this module needs no torch)


@dataclass(frozen=True)
class SessionCourses:
    """Courses as padded arrays: what every predictor reads.

    Attributes
    ----------
    course_id : numpy.ndarray
        ``(n,)`` the patients' ids.
    modules : numpy.ndarray
        ``(n, T)`` vocabulary indices of the module given at each session, :data:`PADDING_INDEX` after the end.
    scores : numpy.ndarray
        ``(n, T)`` the score recorded at the start of each session, NaN after the end.
    lengths : numpy.ndarray
        ``(n,)`` sessions attended.
    improved : numpy.ndarray
        ``(n,)`` reliable improvement: first minus last recorded score ≥ 6 (:func:`clinic.course_outcomes`).
    ended_early : numpy.ndarray
        ``(n,)`` stopped coming before the planned end (all False when the table does not say).
    names : tuple of tuple of str
        The module names of each course, for the truth and for display.
    """

    course_id: np.ndarray
    modules: np.ndarray
    scores: np.ndarray
    lengths: np.ndarray
    improved: np.ndarray
    ended_early: np.ndarray
    names: tuple[tuple[str, ...], ...]

    def __len__(self) -> int:
        return len(self.course_id)

    def subset(self, rows: np.ndarray) -> SessionCourses:
        """The courses at ``rows`` (integer positions)."""
        rows = np.asarray(rows)
        return SessionCourses(*(getattr(self, f.name)[rows] for f in fields(self) if f.name != "names"),
                              names=tuple(self.names[i] for i in rows))

    def first(self, k: int) -> SessionCourses:
        """The courses still coming at session k, cut to their first k sessions: what was known after session k."""
        rows = np.flatnonzero(self.lengths >= k)
        return SessionCourses(self.course_id[rows], self.modules[rows, :k], self.scores[rows, :k],
                              np.full(len(rows), k), self.improved[rows], self.ended_early[rows],
                              tuple(self.names[i][:k] for i in rows))

    def prefixes(self, k: int) -> tuple[np.ndarray, list[tuple[str, ...]], list[tuple[int, ...]]]:
        """The courses still coming at session k: their positions, and their first k modules and scores."""
        known = self.first(k)
        return (np.flatnonzero(self.lengths >= k), list(known.names),
                [tuple(int(s) for s in row) for row in known.scores])


def session_courses(sessions: pd.DataFrame, vocab: Vocabulary) -> SessionCourses:
    """One row per attended session (``course_id``, ``session``, ``module``, ``score``) → :class:`SessionCourses`.

    Parameters
    ----------
    sessions : pandas.DataFrame
        :func:`clinic.simulate_clinic`'s table or :func:`files.read_sessions`' (``ended_early`` optional).
    vocab : Vocabulary
        Maps module names to indices; a module it lacks is refused by name.

    Returns
    -------
    SessionCourses
        Courses in ``course_id`` order.
    """
    ordered = sessions.sort_values(["course_id", "session"], kind="stable")
    unknown = sorted(set(ordered["module"]) - set(vocab.modules))
    if unknown:
        raise ValueError(f"module {unknown[0]!r} is not in the vocabulary {list(vocab.modules)}")
    outcomes = course_outcomes(ordered)
    grouped = ordered.groupby("course_id", sort=True)
    lengths = grouped.size().to_numpy()
    width = int(lengths.max())
    position = grouped.cumcount().to_numpy()
    row = np.repeat(np.arange(len(lengths)), lengths)
    index = {m: i + 1 for i, m in enumerate(vocab.modules)}
    modules = np.full((len(lengths), width), PADDING_INDEX, dtype=np.int64)
    scores = np.full((len(lengths), width), np.nan)
    modules[row, position] = ordered["module"].map(index).to_numpy()
    scores[row, position] = ordered["score"].to_numpy(dtype=float)
    names = tuple(tuple(group) for _, group in grouped["module"])
    ended = (outcomes["ended_early"].to_numpy(dtype=bool) if "ended_early" in outcomes
             else np.zeros(len(lengths), dtype=bool))
    return SessionCourses(outcomes.index.to_numpy(), modules, scores, lengths,
                          outcomes["reliably_improved"].to_numpy(dtype=bool), ended, names)


def split_patients(n: int, seed: int, shares: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> dict[str, np.ndarray]:
    """Train / validation / test positions, split by patient (every session of a patient on one side).

    Parameters
    ----------
    n : int
        Number of courses (one per patient).
    seed : int
        Seeds the shuffle.
    shares : (float, float, float), default=(0.6, 0.2, 0.2)
        Train, validation and test shares; they must add to 1.

    Returns
    -------
    dict
        ``"train"``, ``"val"``, ``"test"`` → sorted integer positions.
    """
    if not np.isclose(sum(shares), 1.0) or min(shares) <= 0:
        raise ValueError(f"shares must be three positive numbers adding to 1, got {shares!r}")
    cut = np.cumsum(np.rint(np.array(shares[:2]) * n).astype(int))
    if min(cut[0], cut[1] - cut[0], n - cut[1]) < MIN_PART:
        raise ValueError(f"{n} patient(s) cannot be split {'/'.join(f'{s:.0%}' for s in shares)} with at least "
                         f"{MIN_PART} in each part")
    order = np.random.default_rng(seed).permutation(n)
    return {name: np.sort(part) for name, part in zip(("train", "val", "test"), np.split(order, cut), strict=True)}

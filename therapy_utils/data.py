"""Course tables: validation, splits and the vocabulary (files in and out: :mod:`therapy_utils.files`).

A *course table* is a pandas DataFrame with one row per course: ``course_id``,
``modules`` (a tuple of module names), ``effectiveness`` and optionally ``split``.
Taught in ``01_simulate_therapy_courses.ipynb`` and ``02_embedding_lstm_model.ipynb``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

SPLITS: tuple[str, ...] = ("train", "val", "test")
PAD = "<PAD>"


def show_value(value: object) -> str:
    """repr of a value as the user wrote it: numpy scalars shown as plain Python numbers."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def check_effectiveness(values: pd.Series, course_ids: pd.Series) -> np.ndarray:
    """Effectiveness values as numbers, finite and present: anything else names its row, course and value."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    for row, (raw, number) in enumerate(zip(values, numbers, strict=True)):
        if not math.isfinite(number):
            kind = "missing" if raw is None or (isinstance(raw, str) and not raw.strip()) else "not a finite number"
            where = f"row {row} (course_id {show_value(course_ids.iloc[row])})"
            raise ValueError(f"{where}: effectiveness {show_value(raw)} is {kind}")
    return numbers


def _check_split(split: pd.Series, course_ids: pd.Series) -> pd.Series:
    """Only train/val/test, and none of them empty: a model needs all three."""
    for row, value in enumerate(split):
        if value not in SPLITS:
            raise ValueError(f"row {row} (course_id {show_value(course_ids.iloc[row])}): split {show_value(value)} "
                             f"is not one of {list(SPLITS)}")
    for name in SPLITS:
        if not (split == name).any():
            raise ValueError(f"split {show_value(name)} is empty: every one of {list(SPLITS)} needs at least one "
                             "course")
    return split


def validate_courses(table: pd.DataFrame) -> pd.DataFrame:
    """Return a clean course table or raise ValueError naming the offending row and value.

    ``modules`` may hold sequences or space-separated strings; they come back as tuples.
    Nothing is dropped: a bad row stops the load. Taught in 01_simulate_therapy_courses.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per course: ``course_id``, ``modules``, ``effectiveness`` and optionally ``split``.

    Returns
    -------
    pandas.DataFrame
        A copy with a fresh 0..n-1 index, ``modules`` as tuples of str and ``effectiveness`` as float.

    Raises
    ------
    ValueError
        A required column is missing, a ``course_id`` repeats, a course is empty or has a module that is not a
        non-empty string, an ``effectiveness`` is missing or not finite, or ``split`` has a value other than
        train/val/test or leaves one of them empty.
    """
    missing = [c for c in ("course_id", "modules", "effectiveness") if c not in table.columns]
    if missing:
        raise ValueError(f"course table lacks column(s) {missing}; it has {list(table.columns)}")
    table = table.reset_index(drop=True)
    ids = table["course_id"]
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise ValueError(f"row {duplicated.index[0]}: course_id {show_value(duplicated.iloc[0])} appears more than "
                         "once")
    courses = []
    for row, raw in enumerate(table["modules"]):
        course = tuple(raw.split()) if isinstance(raw, str) else tuple(raw) if isinstance(raw, Iterable) else None
        if not course:
            raise ValueError(f"row {row} (course_id {show_value(ids.iloc[row])}): course {show_value(raw)} is empty")
        if not all(isinstance(m, str) and m for m in course):
            raise ValueError(f"row {row} (course_id {show_value(ids.iloc[row])}): module names must be non-empty "
                             f"strings, got {show_value(course)}")
        courses.append(course)
    clean = table.copy()
    clean["modules"] = courses
    clean["effectiveness"] = check_effectiveness(table["effectiveness"], ids)
    if "split" in clean.columns:
        clean["split"] = _check_split(clean["split"], ids)
    return clean


def assign_split(courses: pd.DataFrame, random_state: int = 42, test_size: float = 0.2,
                 val_size: float = 0.2) -> pd.DataFrame:
    """Add a ``split`` column: the original's two scikit-learn splits (64/16/20 by default)."""
    parts = random_split_indices(len(courses), random_state, test_size, val_size)
    split = np.empty(len(courses), dtype=object)
    for name, index in parts.items():
        split[index] = name
    return courses.assign(split=split)


def random_split_indices(n: int, random_state: int = 42, test_size: float = 0.2,
                         val_size: float = 0.2) -> dict[str, np.ndarray]:
    """Row positions of train/val/test, in scikit-learn's shuffled order (the order the original trained in)."""
    if n < 3:
        raise ValueError(f"{n} course(s) cannot be split into train, validation and test; at least 3 are needed")
    train_val, test = train_test_split(np.arange(n), test_size=test_size, random_state=random_state)
    train, val = train_test_split(train_val, test_size=val_size, random_state=random_state)
    return {"train": train, "val": val, "test": test}


def shuffle_within_courses(courses: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The same table with each course's modules in a random order: the shuffled-order control (08_model_comparison).

    Counts, length and which modules occur are kept; only the order is destroyed. A model that does as well on
    these courses as on the real ones was not using the order.
    """
    rng = np.random.default_rng(seed)
    shuffled = [tuple(course[i] for i in rng.permutation(len(course))) for course in courses["modules"]]
    return courses.assign(modules=shuffled)


def split_courses(courses: pd.DataFrame, random_state: int = 42) -> dict[str, pd.DataFrame]:
    """Train/val/test tables: the ``split`` column when present (file order), else the random split.

    Taught in 03_training.

    Parameters
    ----------
    courses : pandas.DataFrame
        A course table, with or without a ``split`` column.
    random_state : int, default 42
        Seed of the random 64/16/20 split; unused when ``split`` is present.

    Returns
    -------
    dict of str to pandas.DataFrame
        Keys ``"train"``, ``"val"``, ``"test"``; each a validated course table with a fresh 0..n-1 index.

    Raises
    ------
    ValueError
        The table fails :func:`validate_courses`, or it has no ``split`` and fewer than 3 courses.
    """
    courses = validate_courses(courses)
    if "split" in courses.columns:
        return {name: courses[courses["split"] == name].reset_index(drop=True) for name in SPLITS}
    parts = random_split_indices(len(courses), random_state)
    return {name: courses.iloc[index].reset_index(drop=True) for name, index in parts.items()}


@dataclass(frozen=True)
class Vocabulary:
    """Module names ↔ indices; index 0 is padding, so real modules start at 1 (02_embedding_lstm_model).

    ``len(vocab)`` is the number of modules plus one (the padding index): the size of an embedding table.

    Parameters
    ----------
    modules : tuple of str
        The distinct module names; ``modules[i]`` gets index ``i + 1``.
    """

    modules: tuple[str, ...]

    @classmethod
    def from_courses(cls, courses: Iterable[Sequence[str]]) -> Vocabulary:
        """Sorted distinct modules, as the original script built its vocabulary.

        Parameters
        ----------
        courses : iterable of sequence of str
            The courses, e.g. a course table's ``modules`` column.

        Returns
        -------
        Vocabulary
            Every module that occurs, sorted by name.
        """
        return cls(tuple(sorted({m for course in courses for m in course})))

    def __len__(self) -> int:
        return len(self.modules) + 1

    def index(self, module: str) -> int:
        """Index of one module; an unknown one is an error, never a silent padding index.

        Parameters
        ----------
        module : str
            A module name.

        Returns
        -------
        int
            Its index, from 1 to ``len(self.modules)``.

        Raises
        ------
        ValueError
            ``module`` is not in the vocabulary.
        """
        try:
            return self.modules.index(module) + 1
        except ValueError:
            raise ValueError(f"module {show_value(module)} is not in the vocabulary {list(self.modules)}") from None

    @cached_property
    def lookup(self) -> dict[str, int]:
        """Module name → index (1 and up), built once per vocabulary."""
        return {m: i + 1 for i, m in enumerate(self.modules)}

    def encode(self, course: Sequence[str], row: int | None = None) -> list[int]:
        """Indices of a course; errors name the row when one is given.

        The series' one encoder: the training DataLoader (:class:`batching.CourseDataset`) and every prediction
        (:func:`batching.encode_padded`) go through it.

        Parameters
        ----------
        course : sequence of str
            The course's module names, in session order.
        row : int or None, default None
            The course's row in its table, named in error messages.

        Returns
        -------
        list of int
            One index (1 or more) per session.

        Raises
        ------
        ValueError
            The course is empty or holds a module not in the vocabulary.
        """
        where = "" if row is None else f"row {row}: "
        if len(course) == 0:
            raise ValueError(f"{where}course is empty; nothing to predict")
        try:
            return [self.lookup[m] for m in course]
        except (KeyError, TypeError):
            unknown = next(m for m in course if not isinstance(m, str) or m not in self.lookup)
            raise ValueError(f"{where}module {show_value(unknown)} is not in the vocabulary "
                             f"{list(self.modules)}") from None


def transition_counts(courses: pd.Series, modules: Sequence[str]) -> pd.DataFrame:
    """How often module ``row`` is directly followed by module ``column`` (01_simulate_therapy_courses).

    Parameters
    ----------
    courses : pandas.Series
        One course (a sequence of module names) per entry, e.g. a course table's ``modules`` column.
    modules : sequence of str
        Row and column order; must hold every module that occurs in ``courses``.

    Returns
    -------
    pandas.DataFrame
        Shape (modules, modules), int64 counts of consecutive pairs; index named ``from``, columns ``to``.
    """
    position = {m: i for i, m in enumerate(modules)}
    counts = np.zeros((len(modules), len(modules)), dtype=np.int64)
    for course in courses:
        for a, b in pairwise(course):
            counts[position[a], position[b]] += 1
    return pd.DataFrame(counts, index=pd.Index(modules, name="from"), columns=pd.Index(modules, name="to"))

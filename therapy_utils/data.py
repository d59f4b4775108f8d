"""Course tables in and out: validation, CSV formats, splits, vocabulary and batching.

A *course table* is a pandas DataFrame with one row per course: ``course_id``,
``modules`` (a tuple of module names), ``effectiveness`` and optionally ``split``.
Taught in ``01_simulate_therapy_courses.ipynb`` and ``02_embedding_lstm_model.ipynb``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

SPLITS: tuple[str, ...] = ("train", "val", "test")
PAD = "<PAD>"


def show_value(value: object) -> str:
    """repr of a value as the user wrote it: numpy scalars shown as plain Python numbers."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _check_effectiveness(values: pd.Series, course_ids: pd.Series) -> np.ndarray:
    """Numbers, finite, present: anything else names its row and value."""
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
    clean["effectiveness"] = _check_effectiveness(table["effectiveness"], ids)
    if "split" in clean.columns:
        clean["split"] = _check_split(clean["split"], ids)
    return clean


def _check_constant(group: pd.DataFrame, column: str, name: str, course_id: object) -> None:
    """A per-course value repeated on every session must not change within the course."""
    if group[column].nunique() > 1:
        row = int(group["_row"].iloc[list(group[column] != group[column].iloc[0]).index(True)])
        raise ValueError(f"row {row} (course_id {show_value(course_id)}): {name} differs within the course "
                         f"({sorted(map(str, group[column].unique()))})")


def _session_numbers(sessions: pd.DataFrame) -> pd.Series:
    """The ``session`` column as whole numbers, each once per course: "1", "01" and 1.0 are the same session."""
    session_no = pd.to_numeric(sessions["session"], errors="coerce")
    for bad, what in ((session_no.isna(), "a number"), (session_no % 1 != 0, "a whole number")):
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"row {row}: session {show_value(sessions.at[row, 'session'])} is not {what}")
    dup = pd.DataFrame({"course_id": sessions["course_id"], "session": session_no}).duplicated(keep="first")
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        first = int(np.flatnonzero((sessions["course_id"] == sessions.at[row, "course_id"])
                                   & (session_no == session_no[row]))[0])
        raise ValueError(f"row {row}: (course_id, session) = ({show_value(sessions.at[row, 'course_id'])}, "
                         f"{show_value(sessions.at[row, 'session'])}) repeats session {session_no[row]:g} of row "
                         f"{first}")
    return session_no


def long_to_courses(sessions: pd.DataFrame) -> pd.DataFrame:
    """One row per session (``course_id``, ``session``, ``module``, ``effectiveness``) → course table.

    Sessions are ordered by their ``session`` number; courses keep their first-seen order.
    """
    missing = [c for c in ("course_id", "session", "module", "effectiveness") if c not in sessions.columns]
    if missing:
        raise ValueError(f"session table lacks column(s) {missing}; it has {list(sessions.columns)}")
    sessions = sessions.reset_index(drop=True)
    session_no = _session_numbers(sessions)
    for row, module in enumerate(sessions["module"]):
        if not isinstance(module, str) or not module:
            where = f"row {row} (course_id {show_value(sessions.at[row, 'course_id'])})"
            raise ValueError(f"{where}: module {show_value(module)} is empty")
    scores = pd.Series(_check_effectiveness(sessions["effectiveness"], sessions["course_id"]))
    per_course = sessions.assign(_score=scores, _session=session_no, _row=np.arange(len(sessions)))
    extra = [c for c in ("split",) if c in sessions.columns]
    rows = []
    for course_id, group in per_course.groupby("course_id", sort=False):
        for column, name in [("_score", "effectiveness"), *[(c, c) for c in extra]]:
            _check_constant(group, column, name, course_id)
        ordered = group.sort_values("_session", kind="stable")
        rows.append({"course_id": course_id, "modules": tuple(ordered["module"]),
                     "effectiveness": ordered["_score"].iloc[0], **{c: group[c].iloc[0] for c in extra}})
    return validate_courses(pd.DataFrame(rows, columns=["course_id", "modules", "effectiveness", *extra]))


def courses_to_long(courses: pd.DataFrame) -> pd.DataFrame:
    """Course table → one row per session, the shape a clinic's record system exports."""
    courses = validate_courses(courses)
    extra = [c for c in ("split",) if c in courses.columns]
    long = courses.explode("modules").rename(columns={"modules": "module"})
    long.insert(1, "session", long.groupby("course_id", sort=False).cumcount() + 1)
    return long[["course_id", "session", "module", "effectiveness", *extra]].reset_index(drop=True)


def _first_overlong_row(path: Path) -> str:
    """The message for a CSV row with more fields than its header (pandas would drop the extra ones)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        header = next(rows)
        for row, fields in enumerate(rows):
            if len(fields) > len(header):
                return (f"row {row}: {len(fields)} fields, but the header has {len(header)} "
                        f"({', '.join(header)}); extra value {show_value(fields[len(header)])}")
    return f"{str(path)!r}: a row has more fields than the header"


MAX_COURSE_LENGTH = 1000  # sessions; a clinic's course is tens of sessions, a longer one is almost surely an error


def read_courses(path: str | Path) -> pd.DataFrame:
    """Read a course CSV (``modules`` space-separated) or a long session CSV, validated (01_simulate_therapy_courses).

    Parameters
    ----------
    path : str or pathlib.Path
        A course CSV (``course_id,modules,effectiveness[,split]``) or a long one
        (``course_id,session,module,effectiveness[,split]``).

    Returns
    -------
    pandas.DataFrame
        The course table, one row per course, ``modules`` as tuples; integer ``course_id`` values as int64.
        Nothing is dropped.

    Raises
    ------
    FileNotFoundError
        ``path`` is not a file.
    ValueError
        Naming the row and value of the first problem: an unreadable CSV, a row with more fields than the header,
        anything :func:`validate_courses` (or, for a long file, the session checks) refuses, or a course longer
        than ``MAX_COURSE_LENGTH`` (1000) sessions.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such data file: {str(path)!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # extra fields would be silently dropped
            table = pd.read_csv(path, dtype=str, keep_default_na=False, index_col=False)
    except pd.errors.ParserWarning:
        raise ValueError(_first_overlong_row(path)) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{str(path)!r} is not a readable CSV file: {err}") from None
    if "course_id" in table.columns:
        as_int = pd.to_numeric(table["course_id"], errors="coerce")
        if as_int.notna().all() and (as_int % 1 == 0).all():
            table["course_id"] = as_int.astype(np.int64)
    courses = long_to_courses(table) if "module" in table.columns and "modules" not in table.columns \
        else validate_courses(table)
    lengths = courses["modules"].map(len)
    if (lengths > MAX_COURSE_LENGTH).any():
        row = int(np.flatnonzero(lengths > MAX_COURSE_LENGTH)[0])
        raise ValueError(f"row {row} (course_id {show_value(courses['course_id'].iloc[row])}): {lengths.iloc[row]:,} "
                         f"sessions; courses longer than {MAX_COURSE_LENGTH:,} are not supported (every batch holding "
                         "one would be padded to its length)")
    return courses


def write_courses(courses: pd.DataFrame, path: str | Path, long: bool = False) -> None:
    """Write a course table as the reference CSV shape (or the long session shape).

    Parameters
    ----------
    courses : pandas.DataFrame
        A course table (``course_id``, ``modules``, ``effectiveness``, optionally ``split``); other columns are
        not written.
    path : str or pathlib.Path
        The CSV file to write (overwritten).
    long : bool, default False
        Write one row per session (``course_id,session,module,effectiveness[,split]``) instead of one row per
        course with ``modules`` space-separated.

    Raises
    ------
    ValueError
        The table fails :func:`validate_courses`, or (one row per course only) a module name contains whitespace.
    """
    courses = validate_courses(courses)
    if long:
        courses_to_long(courses).to_csv(path, index=False)
        return
    for row, course in enumerate(courses["modules"]):
        bad = [m for m in course if len(m.split()) != 1]
        if bad:
            raise ValueError(f"row {row}: module {show_value(bad[0])} contains whitespace; write the long format "
                             "instead")
    columns = ["course_id", "modules", "effectiveness", *(["split"] if "split" in courses.columns else [])]
    out = courses[columns].assign(modules=courses["modules"].map(" ".join))
    out.to_csv(path, index=False)


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


def load_or_simulate(path: str | Path, params, n_sequences: int, seed: int, overwrite: bool = False) -> pd.DataFrame:
    """Read the saved course table, or simulate it (with the 64/16/20 split) and save it first.

    Either way the table comes back through the CSV, so a notebook sees identical data
    whether an earlier notebook saved it or not (01_simulate_therapy_courses). The CSV is a cache: a record beside it
    (``<name>.csv.params.json``) says how it was made, and it is reused only when that record shows the same
    ``params``, ``n_sequences`` and ``seed``; otherwise (another population, an older file, no record) it is simulated
    again and overwritten, so a changed parameter never returns stale courses.

    Parameters
    ----------
    path : str or pathlib.Path
        The course CSV; its parent directories are created when it is written.
    params : therapy_utils.simulate.SimulatorParams
        The simulator's population (e.g. from ``preset_params``); used only when simulating.
    n_sequences : int
        Number of courses to simulate.
    seed : int
        Seed of the simulation.
    overwrite : bool, default False
        Simulate and overwrite the file even when it exists.

    Returns
    -------
    pandas.DataFrame
        The course table as :func:`read_courses` returns it; a simulated one has ``course_id``, ``modules``,
        ``effectiveness`` and ``split`` (the latent ``severity`` column is not saved).

    Raises
    ------
    ValueError
        ``n_sequences`` is not a positive integer (when simulating), or the file fails :func:`read_courses`.
    """
    from therapy_utils.simulate import simulate_courses

    path = Path(path)
    record_path = path.with_name(path.name + ".params.json")
    record = json.dumps({"params": asdict(params), "n_sequences": n_sequences, "seed": seed, "split_seed": 42},
                        sort_keys=True, default=str)
    made_alike = path.is_file() and record_path.is_file() and record_path.read_text() == record
    if overwrite or not made_alike:
        path.parent.mkdir(parents=True, exist_ok=True)
        # written beside and renamed into place, so that a reader never sees half a file
        with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
            write_courses(assign_split(simulate_courses(params, n_sequences, seed), random_state=42),
                          Path(scratch) / path.name)
            Path(scratch, "record").write_text(record)
            os.replace(Path(scratch) / path.name, path)
            os.replace(Path(scratch, "record"), record_path)
    return read_courses(path)

"""Course files: the course CSV and the long one (one row per session, as a clinic's record system exports it).

Reading validates everything and names the first offending row and value; nothing is dropped. A long file may carry
a ``score`` per session (a routine-outcome questionnaire such as the PHQ-9: whole numbers from 0 to 27), which comes
back as each course's ``scores`` in session order. :func:`load_or_simulate` caches a simulated table as a CSV, so
every notebook reads the same courses. Taught in ``01_simulate_therapy_courses.ipynb``.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from therapy_utils.clinic import RELIABLE_CHANGE
from therapy_utils.data import assign_split, check_effectiveness, show_value, validate_courses
from therapy_utils.simulate import simulate_courses

SCORE_RANGE = (0, 27)  # a score column holds a questionnaire's whole-number totals: the PHQ-9's 0-27


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


def check_scores(sessions: pd.DataFrame) -> np.ndarray:
    """The ``score`` column as whole numbers within :data:`SCORE_RANGE`; anything else names its row and value.

    Parameters
    ----------
    sessions : pandas.DataFrame
        One row per session, with ``course_id`` and ``score`` (as read: strings or numbers).

    Returns
    -------
    numpy.ndarray
        The scores as int64, in the table's row order.

    Raises
    ------
    ValueError
        A score that is missing, not a number, not a whole number or outside 0–27, naming row, course and value.
    """
    low, high = SCORE_RANGE
    numbers = pd.to_numeric(sessions["score"], errors="coerce").to_numpy(dtype=float)
    for row, (raw, number) in enumerate(zip(sessions["score"], numbers, strict=True)):
        missing = raw is None or (isinstance(raw, str) and not raw.strip()) or (isinstance(raw, float) and raw != raw)
        problem = ("missing" if missing else "not a number" if not np.isfinite(number)
                   else "not a whole number" if number % 1 else f"outside {low}-{high}" if not low <= number <= high
                   else None)
        if problem:
            where = f"row {row} (course_id {show_value(sessions['course_id'].iloc[row])})"
            raise ValueError(f"{where}: score {show_value(raw)} is {problem}")
    return numbers.astype(np.int64)


def long_to_courses(sessions: pd.DataFrame) -> pd.DataFrame:
    """One row per session (``course_id``, ``session``, ``module``, ``effectiveness``, optionally ``score`` and
    ``split``) → course table; a ``score`` column becomes each course's ``scores``, a tuple in session order.

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
    outcome = pd.Series(check_effectiveness(sessions["effectiveness"], sessions["course_id"]))
    per_course = sessions.assign(_outcome=outcome, _session=session_no, _row=np.arange(len(sessions)))
    if "score" in sessions.columns:
        per_course["score"] = check_scores(sessions)
    extra = [c for c in ("split",) if c in sessions.columns]
    rows = []
    for course_id, group in per_course.groupby("course_id", sort=False):
        for column, name in [("_outcome", "effectiveness"), *[(c, c) for c in extra]]:
            _check_constant(group, column, name, course_id)
        ordered = group.sort_values("_session", kind="stable")
        scores = {"scores": tuple(ordered["score"].tolist())} if "score" in ordered else {}
        rows.append({"course_id": course_id, "modules": tuple(ordered["module"]),
                     "effectiveness": ordered["_outcome"].iloc[0], **{c: group[c].iloc[0] for c in extra}, **scores})
    columns = ["course_id", "modules", "effectiveness", *extra, *(["scores"] if "score" in sessions else [])]
    return validate_courses(pd.DataFrame(rows, columns=columns))


def courses_to_long(courses: pd.DataFrame) -> pd.DataFrame:
    """Course table → one row per session, the shape a clinic's record system exports (``scores`` → ``score``)."""
    courses = validate_courses(courses)
    extra = [c for c in ("split",) if c in courses.columns]
    scored = "scores" in courses.columns
    if scored and (courses["scores"].map(len) != courses["modules"].map(len)).any():
        row = int(np.flatnonzero(courses["scores"].map(len) != courses["modules"].map(len))[0])
        raise ValueError(f"row {row} (course_id {show_value(courses['course_id'].iloc[row])}): "
                         f"{len(courses['scores'].iloc[row])} scores for {len(courses['modules'].iloc[row])} sessions")
    long = courses.explode(["modules", "scores"] if scored else "modules").rename(
        columns={"modules": "module", "scores": "score"})
    long.insert(1, "session", long.groupby("course_id", sort=False).cumcount() + 1)
    return long[["course_id", "session", "module", "effectiveness", *extra, *(["score"] if scored else [])]
                ].reset_index(drop=True)


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


def _read_csv(path: str | Path) -> pd.DataFrame:
    """Every field as a string (nothing guessed or dropped); whole-number course ids as int64."""
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
    return table


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
    table = _read_csv(path)
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
        The table fails :func:`validate_courses`, or (one row per course only) a module name contains whitespace
        or the table has per-session ``scores``, which only the long shape can hold.
    """
    courses = validate_courses(courses)
    if "scores" in courses.columns and not long:
        raise ValueError("this course table has per-session scores, which the one-row-per-course CSV cannot hold; "
                         "write the long format (long=True)")
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


SESSION_FLAGS = ("reliably_improved", "ended_early")  # per-course 0/1 columns a routine-outcome export may carry


def _flag(sessions: pd.DataFrame, column: str) -> pd.Series:
    """A per-course 0/1 column (also true/false) as booleans, the same on every session of a course."""
    values = sessions[column].astype(str).str.strip().str.lower()
    known = {"0": False, "1": True, "false": False, "true": True}
    bad = ~values.isin(list(known))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"row {row} (course_id {show_value(sessions.at[row, 'course_id'])}): {column} "
                         f"{show_value(sessions.at[row, column])} is not 0 or 1")
    flags = values.map(known)
    for course_id, group in sessions.assign(_flag=flags, _row=np.arange(len(sessions))).groupby("course_id"):
        _check_constant(group, "_flag", column, course_id)
    return flags.astype(bool)


def read_sessions(path: str | Path) -> pd.DataFrame:
    """Read a routine-outcome export: one row per attended session with its score (12_session_by_session).

    Parameters
    ----------
    path : str or pathlib.Path
        A CSV with ``course_id``, ``session``, ``module``, ``score`` and optionally ``reliably_improved`` and
        ``ended_early`` (0/1 per course), as ``python -m therapy_utils simulate --preset clinic`` writes.

    Returns
    -------
    pandas.DataFrame
        The sessions sorted by course and session: ``session`` and ``score`` as int64, the flags as booleans.

    Raises
    ------
    ValueError
        Naming the row and value of the first problem: a missing column, a session number that is not a whole number,
        repeats or leaves a gap (every session from 1 on has a score), an empty module, a score that is missing or not
        a whole number 0–27, a flag that is not 0/1 or changes within a course, or a ``reliably_improved`` that its
        course's scores contradict (first minus last score ≥ 6).
    """
    table = _read_csv(path)
    missing = [c for c in ("course_id", "session", "module", "score") if c not in table.columns]
    if missing:
        raise ValueError(f"a session file needs column(s) {missing}; it has {list(table.columns)}")
    table["session"] = _session_numbers(table).astype(np.int64)
    table["score"] = check_scores(table)
    for row, module in enumerate(table["module"]):
        if not module.strip():
            raise ValueError(f"row {row} (course_id {show_value(table.at[row, 'course_id'])}): module is empty")
    rank = table.groupby("course_id")["session"].rank(method="first").astype(np.int64)
    gap = table["session"] != rank
    if gap.any():
        row = int(np.flatnonzero(gap)[0])
        raise ValueError(f"row {row} (course_id {show_value(table.at[row, 'course_id'])}): session "
                         f"{table.at[row, 'session']} leaves a gap; a session file has every session from 1 on")
    for column in SESSION_FLAGS:
        if column in table.columns:
            table[column] = _flag(table, column)
    ordered = table.sort_values(["course_id", "session"], kind="stable").reset_index(drop=True)
    if "reliably_improved" in ordered.columns:
        scores = ordered.groupby("course_id", sort=False)["score"]
        drop = (scores.transform("first") - scores.transform("last")) >= RELIABLE_CHANGE
        wrong = drop != ordered["reliably_improved"]
        if wrong.any():
            course_id = ordered.at[int(np.flatnonzero(wrong)[0]), "course_id"]
            raise ValueError(f"course_id {show_value(course_id)}: reliably_improved disagrees with its scores (it is "
                             "first minus last score of at least 6)")
    return ordered[[c for c in ("course_id", "session", "module", "score", *SESSION_FLAGS) if c in ordered.columns]]

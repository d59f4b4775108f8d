"""Course tables: formats round-trip, and every kind of bad input is named, never dropped."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from therapy_utils.batching import CourseDataset, collate_courses
from therapy_utils.data import Vocabulary, split_courses, validate_courses
from therapy_utils.files import read_courses, write_courses


def table(**columns) -> pd.DataFrame:
    base = {"course_id": [1, 2, 3], "modules": ["A B", "C", "A A D"], "effectiveness": [0.5, 0.6, 0.7]}
    base.update(columns)
    return pd.DataFrame(base)


def test_course_and_long_csv_round_trip(tmp_path, small_courses):
    courses = small_courses.drop(columns="severity")
    write_courses(courses, tmp_path / "courses.csv")
    write_courses(courses, tmp_path / "long.csv", long=True)
    from_course, from_long = read_courses(tmp_path / "courses.csv"), read_courses(tmp_path / "long.csv")
    pd.testing.assert_frame_equal(from_course, validate_courses(courses))
    pd.testing.assert_frame_equal(from_long, validate_courses(courses))
    long = pd.read_csv(tmp_path / "long.csv")
    assert list(long.columns) == ["course_id", "session", "module", "effectiveness"]
    assert len(long) == courses["modules"].map(len).sum()


def test_long_format_orders_sessions_and_accepts_any_module_names(tmp_path):
    (tmp_path / "long.csv").write_text(
        "course_id,session,module,effectiveness\n"
        "c1,2,Safety plan,0.4\nc1,1,Psycho-education,0.4\nc2,1,NA,0.9\n")
    courses = read_courses(tmp_path / "long.csv")
    assert courses["modules"].tolist() == [("Psycho-education", "Safety plan"), ("NA",)]
    assert courses["effectiveness"].tolist() == [0.4, 0.9]
    with pytest.raises(ValueError, match="'Safety plan' contains whitespace"):
        write_courses(courses, tmp_path / "out.csv")


def test_split_column_replaces_random_split():
    courses = table(split=["test", "train", "val"])
    parts = split_courses(courses)
    assert [parts[s]["course_id"].tolist() for s in ("train", "val", "test")] == [[2], [3], [1]]


def test_random_split_is_64_16_20():
    courses = pd.DataFrame({"course_id": range(500), "modules": ["A"] * 500, "effectiveness": 0.5})
    assert [len(p) for p in split_courses(courses).values()] == [320, 80, 100]


@pytest.mark.parametrize("columns,message", [
    ({"effectiveness": [0.5, "abc", 0.7]}, r"row 1 \(course_id 2\): effectiveness 'abc' is not a finite number"),
    ({"effectiveness": [0.5, 0.6, np.nan]}, r"row 2 \(course_id 3\): effectiveness nan"),
    ({"effectiveness": [np.inf, 0.6, 0.7]}, r"row 0 \(course_id 1\): effectiveness inf"),
    ({"effectiveness": [0.5, "", 0.7]}, r"row 1 \(course_id 2\): effectiveness '' is missing"),
    ({"modules": ["A B", "", "A"]}, r"row 1 \(course_id 2\): course '' is empty"),
    ({"modules": ["A B", [], "A"]}, r"row 1 \(course_id 2\): course \[\] is empty"),
    ({"course_id": [1, 2, 1]}, r"row 2: course_id 1 appears more than once"),
    ({"split": ["train", "validation", "test"]}, r"row 1 \(course_id 2\): split 'validation' is not one of"),
    ({"split": ["train", "train", "test"]}, r"split 'val' is empty"),
])
def test_bad_course_rows_are_named(columns, message):
    with pytest.raises(ValueError, match=message):
        validate_courses(table(**columns))


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['effectiveness'\]"):
        validate_courses(table().drop(columns="effectiveness"))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['session'\]"):
        read_courses_from_text("course_id,module,effectiveness\n1,A,0.5\n")


def read_courses_from_text(text: str):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "data.csv"
    path.write_text(text)
    return read_courses(path)


@pytest.mark.parametrize("text,message", [
    ("course_id,session,module,effectiveness\n1,1,A,0.5\n1,1,B,0.5\n",
     r"row 1: \(course_id, session\) = \(1, '1'\) repeats session 1 of row 0"),
    # sessions are compared as numbers: "01" is session 1 again, not a new session
    ("course_id,session,module,effectiveness\n1,1,A,0.5\n2,1,A,0.4\n1,01,B,0.5\n",
     r"row 2: \(course_id, session\) = \(1, '01'\) repeats session 1 of row 0"),
    ("course_id,session,module,effectiveness\n1,1.5,A,0.5\n", r"row 0: session '1.5' is not a whole number"),
    ("course_id,session,module,effectiveness\n1,1,A,0.5\n1,2,B,0.6\n", r"row 1 \(course_id 1\): effectiveness differs"),
    ("course_id,session,module,effectiveness\n1,x,A,0.5\n", r"row 0: session 'x' is not a number"),
    ("course_id,session,module,effectiveness,split\n1,1,A,0.5,train\n1,2,B,0.5,test\n",
     r"row 1 \(course_id 1\): split differs within the course"),
    ("course_id,session,module,effectiveness\n1,1,,0.5\n", r"row 0 \(course_id 1\): module '' is empty"),
    ("course_id,session,module,effectiveness\n1,1,A,\n", r"row 0 \(course_id 1\): effectiveness '' is missing"),
])
def test_bad_long_rows_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        read_courses_from_text(text)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        read_courses(tmp_path / "nope.csv")


def test_unknown_or_empty_course_to_predict_is_named():
    vocab = Vocabulary(("A", "B"))
    assert vocab.encode(["A", "B", "A"]) == [1, 2, 1] and len(vocab) == 3
    with pytest.raises(ValueError, match="row 4: module 'Z' is not in the vocabulary"):
        vocab.encode(["A", "Z"], row=4)
    with pytest.raises(ValueError, match="course is empty"):
        vocab.encode([])


def test_collate_pads_with_zero_and_keeps_lengths():
    vocab = Vocabulary(("A", "B", "C"))
    dataset = CourseDataset(pd.DataFrame({"modules": [("A", "B", "C"), ("C",)], "effectiveness": [0.1, 0.2]}), vocab)
    padded, lengths, targets = collate_courses([dataset[0], dataset[1]])
    assert padded.tolist() == [[1, 2, 3], [3, 0, 0]] and lengths.tolist() == [3, 1]
    assert targets.dtype.is_floating_point and targets.tolist() == pytest.approx([0.1, 0.2])


def test_load_or_simulate_saves_then_reads_identically(tmp_path):
    from therapy_utils.files import load_or_simulate
    from therapy_utils.simulate import preset_params

    path = tmp_path / "sub" / "courses.csv"
    first = load_or_simulate(path, preset_params("realistic"), 50, seed=2)
    assert path.is_file() and list(first.columns) == ["course_id", "modules", "effectiveness", "split"]
    path.write_text(path.read_text().replace("\n0,", "\n0,Z ", 1))  # a hand edit is read back, not overwritten
    assert load_or_simulate(path, preset_params("realistic"), 50, seed=2)["modules"][0][0] == "Z"
    again = load_or_simulate(path, preset_params("realistic"), 50, seed=2, overwrite=True)
    pd.testing.assert_frame_equal(again, first)


def test_load_or_simulate_reuses_a_csv_only_when_made_with_the_same_parameters(tmp_path):
    from dataclasses import replace

    from therapy_utils.files import load_or_simulate
    from therapy_utils.simulate import preset_params

    path, params = tmp_path / "courses.csv", preset_params("realistic")
    first = load_or_simulate(path, params, 50, seed=2)
    for changed in [(params, 60, 2), (params, 50, 3), (replace(params, noise_sd=params.noise_sd * 2), 50, 2)]:
        table = load_or_simulate(path, *changed[:2], seed=changed[2])
        expected = load_or_simulate(tmp_path / f"fresh_{len(list(tmp_path.iterdir()))}.csv", *changed[:2],
                                    seed=changed[2])
        pd.testing.assert_frame_equal(table, expected)  # simulated again, not the stale file
        assert not table.equals(first)
    (path.parent / (path.name + ".params.json")).unlink()  # an older file, without the record of how it was made
    path.write_text(path.read_text().replace("\n0,", "\n0,Z ", 1))
    pd.testing.assert_frame_equal(load_or_simulate(path, params, 50, seed=2), first)


def test_transition_counts():
    from therapy_utils.data import transition_counts

    counts = transition_counts(pd.Series([("A", "B", "A"), ("B", "B")]), ["A", "B"])
    assert counts.to_numpy().tolist() == [[0, 1], [1, 1]]


def test_a_score_column_comes_back_as_each_courses_scores_in_session_order(tmp_path):
    """A routine-outcome export: the sessions in any row order, "01" and 1 the same session, the scores kept."""
    path = tmp_path / "long.csv"
    path.write_text("course_id,session,module,effectiveness,score\n"
                    "7,2,B,0.6,11\n7,01,A,0.6,18\n7,3,C,0.6,9\n8,1,A,0.4,20\n8,2,A,0.4,21\n")
    courses = read_courses(path)
    assert courses["modules"].tolist() == [("A", "B", "C"), ("A", "A")]
    assert courses["scores"].tolist() == [(18, 11, 9), (20, 21)]
    again = tmp_path / "again.csv"
    write_courses(courses, again, long=True)
    assert read_courses(again).equals(courses)  # the long shape holds the scores, nothing is lost
    with pytest.raises(ValueError, match="per-session scores"):
        write_courses(courses, tmp_path / "wide.csv")  # the one-row-per-course CSV would drop them
    with pytest.raises(ValueError, match=r"row 1 \(course_id 8\): 1 scores for 2 sessions"):
        write_courses(courses.assign(scores=[(18, 11, 9), (20,)]), tmp_path / "bad.csv", long=True)


@pytest.mark.parametrize(("value", "problem"), [("28", "outside 0-27"), ("-1", "outside 0-27"),
                                                ("3.5", "not a whole number"), ("", "missing"),
                                                ("x", "not a number")])
def test_a_bad_score_is_named_with_its_row(tmp_path, value, problem):
    path = tmp_path / "long.csv"
    path.write_text(f"course_id,session,module,effectiveness,score\n1,1,A,0.5,10\n1,2,B,0.5,{value}\n")
    with pytest.raises(ValueError, match=rf"row 1 \(course_id 1\): score '{re.escape(value)}' is {problem}"):
        read_courses(path)

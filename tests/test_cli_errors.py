"""Malformed input of every kind: exit code 2, one line naming the problem, no traceback, nothing half-written.

The command line is called in-process (``cli.main``), as the ``python -m therapy_utils`` entry point calls it; one
case also goes through a real subprocess so the entry point itself is covered (``tests/test_cli.py`` has more).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

from therapy_utils.course import cli

HEADER = "course_id,modules,effectiveness\n"
GOOD = "".join(f"{100 + i},A B C,0.{i % 9 + 1}\n" for i in range(30))
LONG = "course_id,session,module,effectiveness\n"

# name → (CSV bytes, a fragment the one-line error must contain)
FILES = {
    "empty file": (b"", "is not a readable CSV file"),
    "header only": (HEADER.encode(), "0 course(s) cannot be split"),
    "two courses": ((HEADER + "1,A B,0.5\n2,A,0.4\n").encode(), "2 course(s) cannot be split"),
    "no course_id column": (b"modules,effectiveness\nA B,0.5\n", "lacks column(s) ['course_id']"),
    "no effectiveness column": (b"course_id,modules\n1,A B\n", "lacks column(s) ['effectiveness']"),
    "NaN effectiveness": ((HEADER + "1,A B,nan\n" + GOOD).encode(), "row 0 (course_id 1): effectiveness 'nan'"),
    "inf effectiveness": ((HEADER + GOOD + "1,A B,inf\n").encode(), "row 30 (course_id 1): effectiveness 'inf'"),
    "-inf effectiveness": ((HEADER + "1,A B,-inf\n").encode(), "effectiveness '-inf' is not a finite number"),
    "overflowing effectiveness": ((HEADER + "1,A B,1e400\n").encode(), "effectiveness '1e400' is not a finite"),
    "text effectiveness": ((HEADER + "1,A B,high\n").encode(), "effectiveness 'high' is not a finite number"),
    "blank effectiveness": ((HEADER + "1,A B,\n").encode(), "effectiveness '' is missing"),
    "empty course": ((HEADER + "1,,0.5\n").encode(), "row 0 (course_id 1): course '' is empty"),
    "duplicate course_id": ((HEADER + "1,A B,0.5\n1,C D,0.4\n").encode(), "row 1: course_id 1 appears more than once"),
    "extra fields": ((HEADER + "1,A B,0.5,extra\n").encode(), "row 0: 4 fields, but the header has 3"),
    "course of 200,000 sessions": ((HEADER + "1," + " ".join("A" * 200_000) + ",0.5\n").encode(),
                                   "200,000 sessions; courses longer than 1,000 are not supported"),
    "Latin-1 encoding": ((HEADER + "1,Ä B,0.5\n").encode("latin-1"), "'utf-8' codec can't decode"),
    "UTF-16 encoding": ((HEADER + GOOD).encode("utf-16"), "'utf-8' codec can't decode"),
    "binary garbage": (bytes(range(256)) * 4, "is not a readable CSV file"),
    "unknown split": (b"course_id,modules,effectiveness,split\n1,A B,0.5,training\n",
                      "split 'training' is not one of ['train', 'val', 'test']"),
    "split without val rows": (("course_id,modules,effectiveness,split\n"
                                + "".join(f"{i},A B,0.5,{'train' if i % 2 else 'test'}\n" for i in range(10))).encode(),
                               "split 'val' is empty: every one of ['train', 'val', 'test'] needs"),
    "long: NaN effectiveness": ((LONG + "1,1,A,nan\n1,2,B,nan\n").encode(), "effectiveness 'nan' is not a finite"),
    "long: session not a number": ((LONG + "1,x,A,0.5\n").encode(), "row 0: session 'x' is not a number"),
    "long: effectiveness changes": ((LONG + "1,1,A,0.5\n1,2,B,0.7\n").encode(),
                                    "row 1 (course_id 1): effectiveness differs within the course"),
    "long: empty module": ((LONG + "1,1,,0.5\n").encode(), "row 0 (course_id 1): module '' is empty"),
    "long: repeated session": ((LONG + "1,1,A,0.5\n1,1,B,0.5\n").encode(), "row 1"),
    # a routine-outcome export's score column (PHQ-9: whole numbers 0-27)
    "long: score out of range": (b"course_id,session,module,effectiveness,score\n1,1,A,0.5,12\n1,2,B,0.5,28\n",
                                 "row 1 (course_id 1): score '28' is outside 0-27"),
    "long: score not whole": (b"course_id,session,module,effectiveness,score\n1,1,A,0.5,12.5\n",
                              "row 0 (course_id 1): score '12.5' is not a whole number"),
    "long: score missing": (b"course_id,session,module,effectiveness,score\n1,1,A,0.5,12\n1,2,B,0.5,\n",
                            "row 1 (course_id 1): score '' is missing"),
    "long: score not a number": (b"course_id,session,module,effectiveness,score\n1,1,A,0.5,high\n",
                                 "row 0 (course_id 1): score 'high' is not a number"),
}
SESSIONS = "course_id,session,module,score,reliably_improved\n"
# a session file (routine-outcome export) given to run --preset clinic → a fragment of the one-line error
SESSION_FILES = {
    "sessions: no score column": (b"course_id,session,module\n1,1,A\n", "needs column(s) ['score']"),
    "sessions: score out of range": ((SESSIONS + "1,1,A,12,0\n1,2,B,28,0\n").encode(),
                                     "row 1 (course_id 1): score '28' is outside 0-27"),
    "sessions: score not whole": ((SESSIONS + "1,1,A,12.5,0\n").encode(),
                                  "row 0 (course_id 1): score '12.5' is not a whole number"),
    "sessions: score missing": ((SESSIONS + "1,1,A,12,0\n1,2,B,,0\n").encode(),
                                "row 1 (course_id 1): score '' is missing"),
    "sessions: a gap in the sessions": ((SESSIONS + "1,1,A,12,0\n1,3,B,10,0\n").encode(),
                                        "row 1 (course_id 1): session 3 leaves a gap"),
    "sessions: flag not 0 or 1": ((SESSIONS + "1,1,A,12,yes\n").encode(),
                                  "row 0 (course_id 1): reliably_improved 'yes' is not 0 or 1"),
    "sessions: too few patients to split": ((SESSIONS + "1,1,A,12,0\n2,1,B,10,0\n").encode(),
                                            "2 patient(s) cannot be split 60%/20%/20%"),
    "sessions: outcome contradicts the scores": ((SESSIONS + "1,1,A,12,1\n1,2,B,10,1\n").encode(),
                                                 "course_id 1: reliably_improved disagrees with its scores"),
}
# command-line arguments → a fragment of the one-line error
FLAGS = {
    ("run", "--preset", "clinic", "--shuffled"): "--shuffled does not apply to --preset clinic",
    ("run", "--preset", "clinic", "--model", "best"): "--model does not apply to --preset clinic",
    ("run", "--n-sequences", "0"): "must be a positive integer, got 0",
    ("run", "--n-sequences", "abc"): "'abc' is not an integer",
    ("run", "--n-sequences", "1e9"): "'1e9' is not an integer",
    ("run", "--n-sequences", "99999999999"): "at most 10,000,000 courses, got 99,999,999,999",
    ("run", "--seed", "-1"): "a seed is from 0 to 4294967295, got -1",
    ("run", "--seed", "x"): "'x' is not an integer",
    ("run", "--device", "gpu"): "unknown device 'gpu'; choose auto, cpu, cuda or cuda:N",
    ("run", "--device", "cuda:x"): "unknown device 'cuda:x'",
    ("run", "--model", "huge"): "invalid choice: 'huge'",
    ("run", "--preset", "clinical"): "invalid choice: 'clinical'",
    ("run", "--data", "missing.csv"): "no such data file: 'missing.csv'",
    ("run", "--data", "."): "no such data file: '.'",
    ("run", "--json", "no/such/folder/m.json"): "the folder for 'no/such/folder/m.json' does not exist",
    ("run", "--json", "."): "'.' is a folder, not a file",
    ("run", "--out", "/proc/version/figures"): "'/proc/version' is not a writable folder",
    ("simulate", "--out", "no/such/folder/x.csv"): "the folder for 'no/such/folder/x.csv' does not exist",
    ("simulate", "--preset", "x", "--out", "y.csv"): "invalid choice: 'x'",
    ("simulate",): "the following arguments are required: --out",
    ("frobnicate",): "invalid choice: 'frobnicate'",
}


def call(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the CLI in-process; argparse's errors exit through SystemExit like the real command."""
    try:
        code = cli.main(argv)
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_clean_line(code: int, err: str, fragment: str) -> None:
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert fragment in err and "Traceback" not in err


@pytest.mark.parametrize("name", FILES)
def test_a_malformed_data_file_is_refused_in_one_line(name, tmp_path, capsys, monkeypatch):
    content, fragment = FILES[name]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_bytes(content)
    code, _, err = call(["run", "--data", "data.csv", "--no-progress", "--out", "figures", "--json", "m.json"],
                        capsys)
    assert_one_clean_line(code, err, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]  # no figures folder, no metrics file


@pytest.mark.parametrize("name", SESSION_FILES)
def test_a_malformed_session_file_is_refused_in_one_line(name, tmp_path, capsys, monkeypatch):
    content, fragment = SESSION_FILES[name]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sessions.csv").write_bytes(content)
    code, _, err = call(["run", "--preset", "clinic", "--data", "sessions.csv", "--json", "m.json"], capsys)
    assert_one_clean_line(code, err, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sessions.csv"]  # no metrics file


@pytest.mark.parametrize("argv", FLAGS, ids=" ".join)
def test_a_bad_flag_is_refused_in_one_line(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = call(list(argv), capsys)
    assert_one_clean_line(code, err, FLAGS[argv])
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_there_are_at_least_thirty_malformed_inputs():
    assert len(FILES) + len(SESSION_FILES) + len(FLAGS) >= 30


def test_cuda_on_a_machine_without_it_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = call(["run", "--device", "cuda"], capsys)
    assert_one_clean_line(code, err, "device 'cuda' is not available")


@pytest.mark.slow
def test_the_entry_point_itself_exits_2_without_traceback(tmp_path):
    (tmp_path / "bad.csv").write_bytes(FILES["extra fields"][0])
    done = subprocess.run([sys.executable, "-m", "therapy_utils", "run", "--data", "bad.csv", "--device", "cpu"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert_one_clean_line(done.returncode, done.stderr, "row 0: 4 fields, but the header has 3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"] and REPO.is_dir()

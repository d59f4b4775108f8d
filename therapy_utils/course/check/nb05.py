"""The exercise checks of notebook 05, Module embeddings (``check.ex05_*``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from therapy_utils import embeddings, evaluate, simulate
from therapy_utils.course.check import guards
from therapy_utils.course.check.guards import NO_ANSWER, Verdict


def ex05_cosine(function: Callable) -> Verdict:
    """Build: ``function(table)`` returns the modules' cosine similarity matrix (a DataFrame or an array)."""
    table = pd.DataFrame(np.random.default_rng(7).normal(size=(6, 4)) * [1, 3, 0.5, 2], index=list("ABCDEF"))
    result, problem = guards.call(function, table.copy())
    got, problem = (None, problem) if problem else guards.read_array(result, "your matrix")
    if problem:
        return problem
    expected = embeddings.similarity_matrix(table).to_numpy()
    if got.shape == expected.shape and np.allclose(got, table.to_numpy() @ table.to_numpy().T):
        return Verdict(False, "these are dot products: divide by both vectors' lengths.")
    return guards.same_values(got, expected, "your matrix") or Verdict(True, "equal to embeddings.similarity_matrix.")


def ex05_top_k(function: Callable) -> Verdict:
    """Build: ``function(probabilities, actual, k)`` is the share of rows whose actual column is among the k largest."""
    rng = np.random.default_rng(8)
    probabilities, actual = rng.dirichlet(np.ones(7), 200), rng.integers(0, 7, 200)
    for k in (1, 3):
        got, problem = guards.call_for_number(function, probabilities.copy(), actual.copy(), k)
        if problem:
            return problem
        expected = evaluate.top_k_hit_rate(probabilities, actual, k)
        if np.isclose(got, evaluate.top_k_hit_rate(-probabilities, actual, k)) and k == 1:
            return Verdict(False, "you ranked from the smallest; the largest probability is the model's first guess.")
        if not np.isclose(got, expected):
            return Verdict(False, f"for k = {k} your share is {got:.3f}; count a row when fewer than k columns score "
                                  "higher than its actual one.")
    return Verdict(True, "equal to evaluate.top_k_hit_rate for k = 1 and 3.")


@cache
def _renamed_population() -> tuple[pd.DataFrame, dict[str, str]]:
    """Realistic courses whose module letters are renamed by a fixed permutation, and their true groups: a grouping
    read off notebook 05's printed clusters does not fit them, one computed from the courses does."""
    params = guards.realistic_params()
    courses = simulate.simulate_courses(params, 2000, seed=5)[["course_id", "modules", "effectiveness"]]
    renamed = dict(zip(params.modules, np.random.default_rng(5).permutation(list(params.modules)), strict=True))
    courses = courses.assign(modules=courses["modules"].map(lambda course: tuple(renamed[m] for m in course)))
    return courses, {renamed[m]: group for m, group in params.group_of().items()}


def ex05_groups(labels: object) -> Verdict:
    """Investigate: group the 17 modules; passes at ARI ≥ 0.9 against the true groups.

    The exercise asks for a function ``labels(courses)`` → dict module → label, run here on realistic courses whose
    module letters were renamed (so copying a printed grouping does not pass); a dict is judged against the realistic
    preset's own groups."""
    if guards.unanswered(labels):
        return NO_ANSWER
    truth_groups, renamed = guards.realistic_params().group_of(), ""
    if callable(labels):
        courses, truth_groups = _renamed_population()
        labels, problem = guards.call(labels, courses.copy())
        if problem:
            return problem
        renamed = " on 2,000 courses whose module letters were renamed"
    try:
        if isinstance(labels, str | bytes):
            raise TypeError("text")
        labels = dict(labels)
    except Exception:  # a learner's object: converting it runs its code
        return Verdict(False, f"give a dict module → label, not {type(labels).__name__}.")
    if missing := sorted(set(truth_groups) - set(labels)):
        return Verdict(False, f"no label for {', '.join(missing)}; give every module a group.")
    try:
        ari = adjusted_rand_score([truth_groups[m] for m in truth_groups], [labels[m] for m in truth_groups])
    except Exception:  # the learner's labels: comparing them runs their code
        return Verdict(False, "each label must be a single value such as 0 or 'skills', not a list or a table.")
    if ari < 0.9:
        return Verdict(False, f"your grouping agrees with the true groups{renamed} at ARI {ari:.2f} (1 = exactly, "
                              "0 = chance). Compute it from the courses you are given: the groups show in which "
                              "module tends to follow which.")
    return Verdict(True, f"ARI {ari:.2f} against the simulator's true groups{renamed}.")

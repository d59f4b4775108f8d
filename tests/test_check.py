"""The exercise checks: each accepts correct answers (ours and another), refuses a blank and a typical wrong answer,
and its hint names what is wrong without giving the answer. The reference solutions themselves run, and pass, in
notebooks/solutions/ under strict nbval; ``test_every_solution_passes_its_checks`` reads their stored verdicts."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO
from scipy import stats

from therapy_utils import check, data, evaluate, simulate
from therapy_utils import truth as ground_truth

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = REPO / "notebooks" / "solutions"
PARAMS = simulate.preset_params("realistic")


def truth(courses):
    return ground_truth.expected_effectiveness(PARAMS, list(courses))


def shifted(offset: float):
    """A fake model: the truth plus ``offset`` (a model that is right, or wrong by a known amount, for no training)."""
    return lambda courses: truth(courses) + offset


def blank(*_):
    """What an unsolved build exercise is: a function whose body is ``...``."""


def verdict_is(result: check.Verdict, passed: bool, *words: str) -> None:
    assert isinstance(result, check.Verdict) and result.passed is passed, result
    for word in words:
        assert word in result.message, (word, result)


# Answers given as values ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("exercise", "right", "wrong", "hint"), [
    (check.ex01_noise_direction, "down", "up", "noise"),
    (check.ex02_parameter_count, 3793, 3793 - 64, "two bias vectors"),
    (check.ex03_accumulate, 2, 1, "does not overwrite"),
    (check.ex06_best_next, "C", "A", "another module gains more"),
    (check.ex07_strict_sizes, {50}, {50, 100}, "within noise"),
    (check.ex07_courses_for, 800, 400, "short of"),
    (check.ex08_wider_cnn, {"original": "within noise", "realistic": "Within noise"},
     {"original": "within noise", "realistic": "higher"}, "paired"),
    (check.ex08_shuffled_vs_ridge, 2, 0, "seed by seed"),
])
def test_value_answers(exercise, right, wrong, hint):
    verdict_is(exercise(right), True)
    verdict_is(exercise(...), False, "no answer yet")
    verdict_is(exercise(wrong), False, hint)


@pytest.mark.parametrize(("exercise", "malformed", "hint"), [
    (check.ex02_parameter_count, "many", "answer a number"), (check.ex03_accumulate, None, "no answer yet"),
    (check.ex07_courses_for, "eight hundred", "answer a number"), (check.ex07_courses_for, 300, "measured at"),
    (check.ex07_strict_sizes, 50, "set of sizes"), (check.ex08_wider_cnn, "within noise", "a dict"),
    (check.ex08_wider_cnn, {"original": "within noise"}, "realistic preset"),
    (check.ex05_groups, 3, "dict"),
])
def test_malformed_answers_get_a_hint_not_a_traceback(exercise, malformed, hint):
    verdict_is(exercise(malformed), False, hint)


@pytest.mark.parametrize(("slip", "hint"), [(3793 - 32, "padding"), (3793 - 1, "bias"), (3793 - 16, "weight per"),
                                           (25729, "default hidden size"), (1000, "which one your total")])
def test_a_parameter_count_slip_is_named_without_the_formula(slip, hint):
    result = check.ex02_parameter_count(slip)
    verdict_is(result, False, hint)
    assert "×" not in result.message  # no counting formula handed out


def test_answers_in_other_words_are_accepted_and_nonsense_is_named():
    verdict_is(check.ex01_noise_direction("Lower"), True)
    verdict_is(check.ex01_noise_direction("sideways"), False, "'sideways'")
    verdict_is(check.ex06_best_next("c"), True)
    verdict_is(check.ex06_best_next("Z"), False, "not a module")


def test_oracle_residuals_are_judged_on_the_data_given():
    test = data.split_courses(simulate.simulate_courses(PARAMS, 2000, seed=0))["test"]
    oracle = truth(test["modules"])
    verdict_is(check.ex04_oracle_residuals("zero", test["effectiveness"], oracle), True)
    verdict_is(check.ex04_oracle_residuals("positive", test["effectiveness"], oracle), False, "noise")
    verdict_is(check.ex04_oracle_residuals("zero", test["effectiveness"], oracle - 0.05), False)  # a biased "oracle"


# Courses judged by the truth: any correct course passes ---------------------------------------------------------

@pytest.mark.parametrize("course", ["A B A F F A", ("A", "F", "F", "A", "F", "F"), ["A", "B", "A", "F", "F", "F"]])
def test_several_courses_reach_0_8(course):
    verdict_is(check.ex01_good_course(course), True)


@pytest.mark.parametrize(("course", "hint"), [("A B C D E F", "short of 0.8"), ("A B A", "has 3 modules"),
                                               ("A B A F F Z", "'Z' is not a module"), (..., "no answer yet")])
def test_a_course_short_of_0_8_gets_its_value_not_the_answer(course, hint):
    verdict_is(check.ex01_good_course(course), False, hint)


def test_model_courses_use_the_scorer_given():
    verdict_is(check.ex04_model_error("A B A F", shifted(0.2)), True)
    verdict_is(check.ex04_model_error("A B A F", shifted(0.05)), False, "off by only")
    verdict_is(check.ex04_model_error("A B", shifted(0.2)), False, "at least 4")
    verdict_is(check.ex06_close_course("A B A F", shifted(0.005)), True)
    verdict_is(check.ex06_close_course("A B A F", shifted(0.05)), False)
    verdict_is(check.ex09_overrated("A B A F F", shifted(0.06)), True)
    verdict_is(check.ex09_overrated("A B A F F", shifted(-0.06)), False, "difference -0.060")  # under-rated
    verdict_is(check.ex09_overrated(..., shifted(0.06)), False, "no answer yet")


def test_a_misplaced_interval_is_judged_by_its_true_chance():
    course = ("A", "B", "A", "F")
    mean = float(truth([course])[0])
    verdict_is(check.ex11_misplaced(course, lambda c: mean + 0.09, 0.1), True, "true chance")
    verdict_is(check.ex11_misplaced(course, lambda c: mean, 0.1), False, "only +0.000 from the true mean")
    verdict_is(check.ex11_misplaced("A B A F F A B A F", lambda c: mean + 0.2, 0.1), False, "1 to 8")
    verdict_is(check.ex11_misplaced(..., lambda c: mean, 0.1), False, "no answer yet")


def test_calibrating_on_fitted_courses_is_judged_by_the_true_coverage():
    courses = simulate.simulate_courses(PARAMS, 800, seed=4)
    train_part, test_part = courses.iloc[:400], courses.iloc[400:].reset_index(drop=True)
    y_train = train_part["effectiveness"].to_numpy()
    predict_train, predict_test = truth(train_part["modules"]), truth(test_part["modules"])
    # "fitted" residuals: predictions pulled halfway to the observed outcomes, as an over-fitted model's are
    overfitted = (predict_train + y_train) / 2
    verdict_is(check.ex11_train_calibration("below", overfitted, y_train, predict_test, test_part), True, "too narrow")
    verdict_is(check.ex11_train_calibration("above", overfitted, y_train, predict_test, test_part), False, "typical")
    verdict_is(check.ex11_train_calibration("Lower", overfitted, y_train, predict_test, test_part), True)
    verdict_is(check.ex11_train_calibration("sideways", overfitted, y_train, predict_test, test_part), False,
               "'sideways'")


def test_disagreeing_explanations():
    course = ("E", "H", "K", "A")  # no motif
    occlusion_first = int(np.argmax(evaluate.occlusion(truth, course)))
    other = np.eye(4)[(occlusion_first + 1) % 4]
    verdict_is(check.ex10_disagree(course, truth, lambda c: other), True)
    verdict_is(check.ex10_disagree(course, truth, lambda c: np.eye(4)[occlusion_first]), False, "both put")
    verdict_is(check.ex10_disagree(("A", "B", "A", "K"), truth, lambda c: other), False, "holds a motif")
    verdict_is(check.ex10_disagree(("E", "H") * 4, truth, lambda c: np.eye(8)[0]), False, "take one of 2 to 6")


def test_removing_the_least_attributed():
    courses = list(simulate.simulate_courses(PARAMS, 60, seed=2)["modules"])
    verdict_is(check.ex10_least_removed("less", truth, courses), True)
    verdict_is(check.ex10_least_removed("more", truth, courses), False, "least attributed")


def test_groups_are_judged_by_agreement_not_by_names():
    groups = PARAMS.group_of()
    renamed = {module: f"cluster {sorted(set(groups.values())).index(g)}" for module, g in groups.items()}
    verdict_is(check.ex05_groups(renamed), True)
    merged = {module: "all" if g in ("engagement", "skills") else g for module, g in groups.items()}
    verdict_is(check.ex05_groups(merged), False, "ARI")
    verdict_is(check.ex05_groups({m: 0 for m in "ABC"}), False, "no label for")


# Functions: ours and another correct one pass; blank and a typical slip fail -------------------------------------

def counts_loop(courses, modules):
    table = pd.DataFrame(0, index=list(modules), columns=list(modules))
    for course in courses:
        for a, b in itertools.pairwise(course):
            table.loc[a, b] += 1
    return table


def counts_numpy(courses, modules):
    index = {m: i for i, m in enumerate(modules)}
    table = np.zeros((len(modules), len(modules)))
    for course in courses:
        np.add.at(table, ([index[m] for m in course[:-1]], [index[m] for m in course[1:]]), 1)
    return table


def gru_cell(x, h, gru, order=(0, 1, 2), swap=False):
    gi = (x @ gru.weight_ih_l0.T + gru.bias_ih_l0).chunk(3, -1)
    gh = (h @ gru.weight_hh_l0.T + gru.bias_hh_l0).chunk(3, -1)
    r, z, n = order
    reset, update = torch.sigmoid(gi[r] + gh[r]), torch.sigmoid(gi[z] + gh[z])
    new = torch.tanh(gi[n] + reset * gh[n])
    return update * new + (1 - update) * h if swap else (1 - update) * new + update * h


def gru_cell_by_torch(x, h, gru):
    """Another correct answer: a GRUCell carrying the same weights."""
    cell = torch.nn.GRUCell(gru.input_size, gru.hidden_size)
    cell.load_state_dict({"weight_ih": gru.weight_ih_l0, "weight_hh": gru.weight_hh_l0, "bias_ih": gru.bias_ih_l0,
                          "bias_hh": gru.bias_hh_l0})
    return cell(x.unsqueeze(0), h.unsqueeze(0))[0]


def plateau(losses, patience, reset=True, strictly_more=True):
    best, bad, rate, rates = float("inf"), 0, 1.0, []
    for loss in losses:
        best, bad = (loss, 0) if loss < best * (1 - 1e-4) else (best, bad + 1)
        if bad > patience if strictly_more else bad >= patience:
            rate, bad = rate * 0.5, 0 if reset else bad
        rates.append(rate)
    return rates


def split_fractions(table, random_state, leak=False):
    order = np.random.default_rng(random_state).permutation(len(table))
    train, val, test = np.split(order, [int(0.64 * len(table)), int(0.8 * len(table))])
    if leak:
        val = train[:len(val)]
    return {"train": table.iloc[train], "val": table.iloc[val], "test": table.iloc[test]}


def split_sklearn(table, random_state):
    from sklearn.model_selection import train_test_split
    rest, test = train_test_split(table, test_size=0.2, random_state=random_state)
    train, val = train_test_split(rest, test_size=0.2, random_state=random_state)
    return {"train": train, "val": val, "test": test}


def r2_by_hand(y, p):
    return 1 - np.sum((np.asarray(y) - p) ** 2) / np.sum((np.asarray(y) - np.mean(y)) ** 2)


def cosine_numpy(table):
    unit = table.to_numpy() / np.linalg.norm(table.to_numpy(), axis=1, keepdims=True)
    return unit @ unit.T


def cosine_sklearn(table):
    from sklearn.metrics.pairwise import cosine_similarity
    return pd.DataFrame(cosine_similarity(table), index=table.index, columns=table.index)


def top_k_count(p, actual, k):
    return float(((p > p[np.arange(len(actual)), actual][:, None]).sum(1) < k).mean())


def top_k_sort(p, actual, k):
    return float(np.mean([a in np.argsort(-row)[:k] for row, a in zip(p, actual, strict=True)]))


def occlusion_loop(score, course):
    course = tuple(course)
    return np.array([score([course])[0] - score([course[:t] + course[t + 1:]])[0] for t in range(len(course))])


def paired_p_by_hand(a, b):
    d = np.asarray(a) - np.asarray(b)
    return 2 * stats.t.sf(abs(d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))), len(d) - 1)


def greedy(score, modules, length):
    course = ()
    for _ in range(length):
        options = [(*course, m) for m in modules]
        course = options[int(np.argmax(score(options)))]
    return course


def freeze_only_embedding(net):
    net.embedding.weight.requires_grad_(False)


def freeze_by_name(net):
    for name, parameter in net.named_parameters():
        parameter.requires_grad = not name.startswith("embedding")


def freeze_all(net):
    net.requires_grad_(False)


def scaled_by_rank(residuals, sigmas, new_sigmas, level):
    scores = np.sort(np.abs(residuals) / sigmas)
    return scores[int(np.ceil((len(scores) + 1) * level)) - 1] * np.asarray(new_sigmas)


def scaled_by_partition(residuals, sigmas, new_sigmas, level):
    """Another correct answer: the k-th smallest by np.partition, returned as a list."""
    k = int(np.ceil((len(residuals) + 1) * level)) - 1
    return list(np.partition(np.abs(residuals) / sigmas, k)[k] * np.asarray(new_sigmas))


FUNCTIONS = [  # (check, correct answers, (typical wrong answer, words its hint must hold))
    (check.ex01_transition_counts, [counts_loop, counts_numpy,
                                    lambda c, m: counts_loop(c, m).iloc[::-1, ::-1]],  # any row/column order
     [(lambda c, m: counts_loop(c, m).T, "swapped"),
      (lambda c, m: counts_loop([tuple(x for course in c for x in course)], m), "end of one course")]),
    (check.ex02_gru_cell, [gru_cell, gru_cell_by_torch],
     [(lambda x, h, g: gru_cell(x, h, g, swap=True), "update gate"),
      (lambda x, h, g: gru_cell(x, h, g, order=(1, 0, 2)), "order r, z, n")]),
    (check.ex02_masked_mean,
     [lambda o, n: torch.stack([o[i, :n[i]].mean(0) for i in range(len(n))]),
      lambda o, n: (o * (torch.arange(o.shape[1]) < n[:, None])[..., None]).sum(1) / n[:, None]],
     [(lambda o, n: o.mean(1), "padded steps"),
      (lambda o, n: (o * (torch.arange(o.shape[1]) < n[:, None])[..., None]).sum(1) / o.shape[1], "padded length")]),
    (check.ex03_plateau, [plateau, lambda losses, patience: [float(x) for x in plateau(losses, patience)]],
     [(lambda losses, p: plateau(losses, p, strictly_more=False), "*more than*"),
      (lambda losses, p: plateau(losses, p, reset=False), "counts again")]),
    (check.ex03_split, [lambda t, s: split_fractions(t, s), split_sklearn],
     [(lambda t, s: split_fractions(t, s, leak=True), "both train and val"),
      (lambda t, s: {"train": np.arange(320), "val": np.arange(80), "test": np.arange(100)}, "table of courses"),
      (lambda t, s: split_fractions(t, 0), "same split")]),
    (check.ex04_r2, [r2_by_hand, lambda y, p: np.array([r2_by_hand(y, p)]),
                     lambda y, p: float(1 - np.mean((y - p) ** 2) / np.var(y))],
     [(lambda y, p: 1 - np.mean((y - p) ** 2) / np.var(p), "spread of the actual"),
      (lambda y, p: [r2_by_hand(y, p), 0.0], "one number"),
      (lambda y, p: np.corrcoef(y, p)[0, 1] ** 2, "below 0")]),
    (check.ex05_cosine, [cosine_numpy, cosine_sklearn], [(lambda t: t.to_numpy() @ t.to_numpy().T, "dot products")]),
    (check.ex05_top_k, [top_k_count, top_k_sort], [(lambda p, a, k: top_k_count(-p, a, k), "smallest")]),
    (check.ex06_occlusion, [occlusion_loop, evaluate.occlusion],
     [(lambda s, c: -occlusion_loop(s, c), "sign is flipped")]),
    (check.ex07_freeze, [freeze_only_embedding, freeze_by_name],
     [(lambda net: net.lstm.requires_grad_(False), "still changes"), (freeze_all, "nothing is left")]),
    (check.ex08_paired_p, [paired_p_by_hand, lambda a, b: stats.ttest_rel(a, b).pvalue],
     [(lambda a, b: stats.ttest_ind(a, b).pvalue, "unpaired"), (stats.ttest_rel, "one number"),
      (lambda a, b: paired_p_by_hand(a, b) / 2,
                                                                  "one-sided")]),
    (check.ex09_greedy, [greedy], [(lambda s, m, n: ("A", "B", "A", "F", "F"), "another module scores higher")]),
    (check.ex09_g_formula, [lambda by, p: sum(p[s] * np.asarray(v) for s, v in by.items()),
                            lambda by, p: np.average(np.stack(list(by.values())), axis=0, weights=list(p.values()))],
     [(lambda by, p: np.mean(list(by.values()), axis=0), "equal weights")]),
    (check.ex10_ig_linear, [lambda w, x, b: (x - b) * w, lambda w, x, b: np.multiply(w, np.subtract(x, b))],
     [(lambda w, x, b: w * x, "baseline is missing")]),
    (check.ex11_scaled, [scaled_by_rank, scaled_by_partition],
     [(lambda r, s, new, level: np.quantile(np.abs(r) / s, level) * new, "(n + 1)"),
      (lambda r, s, new, level: scaled_by_rank(r, np.ones_like(s), new, level), "|r| / σ"),
      (lambda r, s, new, level: np.sort(r / s)[int(np.ceil((len(r) + 1) * level)) - 1] * new, "sizes"),
      (lambda r, s, new, level: float(scaled_by_rank(r, s, new, level)[0]), "one half-width per new course")]),
]


@pytest.mark.parametrize(("exercise", "rights", "wrongs"), FUNCTIONS, ids=[f[0].__name__ for f in FUNCTIONS])
def test_function_answers(exercise, rights, wrongs):
    for right in rights:
        verdict_is(exercise(right), True)
    # a blank freeze_embeddings returns None as a correct one does (it changes the model in place)
    verdict_is(exercise(blank), False, "no answer yet" if exercise is check.ex07_freeze else "returned None")
    verdict_is(exercise(lambda *args: 1 / 0), False, "ZeroDivisionError")
    for wrong, hint in wrongs:
        verdict_is(exercise(wrong), False, hint)


def test_every_check_is_tested_here():
    tested = {f[0].__name__ for f in FUNCTIONS} | {
        "ex01_noise_direction", "ex02_parameter_count", "ex03_accumulate", "ex06_best_next", "ex07_strict_sizes",
        "ex07_courses_for", "ex08_wider_cnn", "ex08_shuffled_vs_ridge", "ex04_oracle_residuals", "ex01_good_course",
        "ex04_model_error", "ex06_close_course", "ex09_overrated", "ex10_disagree", "ex10_least_removed",
        "ex05_groups", "ex11_misplaced", "ex11_train_calibration"}
    assert tested == {name for name in dir(check) if re.fullmatch(r"ex\d\d_\w+", name)}


# The notebooks ----------------------------------------------------------------------------------------------------

def outputs(path) -> list[str]:
    return ["".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
            for c in json.loads(path.read_text())["cells"] for o in c.get("outputs", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_has_three_to_five_checked_exercises_left_unsolved(path):
    cells = json.loads(path.read_text())["cells"]
    exercises = [c for c in cells if c["cell_type"] == "code" and "check.ex" in "".join(c["source"])]
    prefix = f"check.ex{path.name[:2]}_"
    assert 3 <= len(exercises) <= 5 and all(prefix in "".join(c["source"]) for c in exercises)
    said = ["".join(o.get("data", {}).get("text/plain", "")) for c in exercises for o in c["outputs"]]
    assert len(said) == len(exercises) and all(s.startswith("✗ Not yet: ") for s in said), said
    assert (SOLUTIONS / f"{path.name[:2]}_solutions.ipynb").is_file()


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*_solutions.ipynb")), ids=lambda p: p.name)
def test_every_solution_passes_its_checks(path):
    """nbval reruns these notebooks and compares; here: their stored verdicts are all ✓, one per exercise."""
    verdicts = [o for o in outputs(path) if o.startswith(("✓", "✗"))]
    exercises = len(re.findall(r"check\.ex\d\d_", path.read_text()))
    assert verdicts and all(v.startswith("✓ Correct.") for v in verdicts) and len(verdicts) == exercises

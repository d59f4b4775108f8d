"""The exercise checks: each accepts correct answers (ours and another), refuses a blank and a typical wrong answer,
and its hint names what is wrong without giving the answer. The reference solutions themselves run, and pass, in
notebooks/solutions/ under strict nbval; ``test_every_solution_passes_its_checks`` reads their stored verdicts."""

from __future__ import annotations

import functools
import inspect
import itertools
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import CHECKPOINTS, REPO
from scipy import stats

from therapy_utils import checkpoint, data, early_warning, evaluate, simulate, uncertainty
from therapy_utils import truth as ground_truth
from therapy_utils.course import check, checkpoints
from therapy_utils.course.check import nb01, nb04, nb10, nb11
from therapy_utils.uncertainty import conformal_threshold

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = REPO / "notebooks" / "solutions"
PARAMS = simulate.preset_params("realistic")


def saved(name: str, key: str) -> pd.DataFrame:
    """Saved benchmark runs, read as the notebooks read them and passed in (the checks read no files)."""
    return pd.DataFrame(json.loads((REPO / "benchmarks" / "results" / name).read_text())[key])


TRANSFER_RUNS, ACCURACY_RUNS, ORDER_ROWS = (saved("transfer.json", "runs"), saved("accuracy.json", "runs"),
                                            saved("order.json", "rows"))
strict_sizes = functools.partial(check.ex07_strict_sizes, runs=TRANSFER_RUNS)
wider_cnn = functools.partial(check.ex08_wider_cnn, runs=ACCURACY_RUNS)
shuffled_vs_ridge = functools.partial(check.ex08_shuffled_vs_ridge, rows=ORDER_ROWS)


def truth(courses):
    return ground_truth.expected_effectiveness(PARAMS, list(courses))


def shifted(offset: float):
    """A stand-in for a trained model, for no training: on the courses these tests ask about (no module O, P or Q) the
    truth plus ``offset``, right or wrong by a known amount; elsewhere it departs from the truth course by course and
    stays in [0, 1], as a trained model does (a check refuses the truth, shifted or not, and a constant)."""
    def score(courses):
        wiggle = np.array([0.02 * sum(m in "OPQ" for m in course) for course in courses])
        return np.clip(truth(courses) + offset + wiggle, 0, 1)
    return score


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
    (strict_sizes, set(), {50}, "within noise"),
    (wider_cnn, {"original": "within noise", "realistic": "Within noise"},
     {"original": "within noise", "realistic": "higher"}, "paired"),
    (shuffled_vs_ridge, 2, 0, "seed by seed"),
])
def test_value_answers(exercise, right, wrong, hint):
    verdict_is(exercise(right), True)
    verdict_is(exercise(...), False, "no answer yet")
    verdict_is(exercise(wrong), False, hint)


@pytest.mark.parametrize(("exercise", "malformed", "hint"), [
    (check.ex02_parameter_count, "many", "answer a number"), (check.ex03_accumulate, None, "no answer yet"),
    (strict_sizes, 50, "set of sizes"), (wider_cnn, "within noise", "a dict"),
    (wider_cnn, {"original": "within noise"}, "realistic preset"),
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


def test_oracle_residuals_are_judged_by_the_simulator_never_by_a_test_on_the_sample():
    test = data.split_courses(simulate.simulate_courses(PARAMS, 2000, seed=0))["test"]
    oracle, actual = truth(test["modules"]), test["effectiveness"].to_numpy()
    verdict_is(check.ex04_oracle_residuals("zero", actual, oracle), True, "exact mean", "within two standard errors")
    verdict_is(check.ex04_oracle_residuals("positive", actual, oracle), False, "noise")
    # an unlucky sample, 2.5 standard errors from 0 (as about 1 honest sample in 80 is): "zero" is still right
    residuals = actual - oracle
    unlucky = actual - residuals.mean() + 2.5 * residuals.std(ddof=1) / np.sqrt(len(residuals))
    verdict_is(check.ex04_oracle_residuals("zero", unlucky, oracle), True, "2.5 standard errors from 0", "luck")
    verdict_is(check.ex04_oracle_residuals("positive", unlucky, oracle), False, "noise")
    # values that are not the oracle's: the answer is still judged by the simulator, and the message says so
    verdict_is(check.ex04_oracle_residuals("zero", actual, oracle - 0.05), True, "same courses")
    verdict_is(check.ex04_oracle_residuals("zero", actual[:10], oracle), False, "the other data given have")
    verdict_is(check.ex04_oracle_residuals("zero", "actual", oracle), False, "should be numbers")
    assert nb04.oracle_bias()[1] < 1e-9  # the simulator's exact expected residual: 0


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
    assert shifted(0.09)([course])[0] == pytest.approx(mean + 0.09)
    verdict_is(check.ex11_misplaced(course, lambda c: shifted(0.09)([c])[0], 0.1), True, "true chance")
    verdict_is(check.ex11_misplaced(course, lambda c: shifted(0)([c])[0], 0.1), False, "+0.000 from the true mean",
               "too little")
    verdict_is(check.ex11_misplaced("A B A F F A B A F", lambda c: shifted(0.2)([c])[0], 0.1), False, "1 to 8")
    verdict_is(check.ex11_misplaced(..., lambda c: shifted(0)([c])[0], 0.1), False, "no answer yet")


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
    model_score = shifted(0)
    verdict_is(check.ex10_disagree(course, model_score, lambda c: other), True)
    verdict_is(check.ex10_disagree(course, model_score, lambda c: np.eye(4)[occlusion_first]), False, "both put")
    verdict_is(check.ex10_disagree(("A", "B", "A", "K"), model_score, lambda c: other), False, "holds a motif")
    verdict_is(check.ex10_disagree(("E", "H") * 4, model_score, lambda c: np.eye(8)[0]), False, "take one of 2 to 6")


def test_removing_the_least_attributed():
    courses = list(simulate.simulate_courses(PARAMS, 60, seed=2)["modules"])
    verdict_is(check.ex10_least_removed("less", shifted(0), courses), True, "drops less than")
    verdict_is(check.ex10_least_removed("more", shifted(0), courses), False, "least attributed")
    verdict_is(check.ex10_least_removed("less", shifted(0), courses[:20]), False, "held-out courses")


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


def two_rates(net, pretrained_lr, head_lr):
    return torch.optim.Adam([{"params": [*net.embedding.parameters(), *net.lstm.parameters()], "lr": pretrained_lr},
                             {"params": net.fc.parameters(), "lr": head_lr}])


def two_rates_by_name(net, pretrained_lr, head_lr):
    """Another correct answer: groups by parameter name, SGD instead of Adam, a default lr overridden per group."""
    head = [p for name, p in net.named_parameters() if name.startswith("fc")]
    rest = [p for name, p in net.named_parameters() if not name.startswith("fc")]
    return torch.optim.SGD([{"params": rest}, {"params": head, "lr": head_lr}], lr=pretrained_lr)


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
    (check.ex07_param_groups, [two_rates, two_rates_by_name],
     [(lambda net, a, b: torch.optim.Adam(net.parameters(), lr=a), "head takes head_lr"),
      (lambda net, a, b: two_rates(net, b, a), "pre-trained parts take pretrained_lr"),
      (lambda net, a, b: torch.optim.Adam([{"params": net.lstm.parameters(), "lr": a},
                                           {"params": net.fc.parameters(), "lr": b}]), "in no group"),
      (lambda net, a, b: "Adam", "return the optimizer")]),
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
    verdict_is(exercise(blank), False, "returned None")
    verdict_is(exercise(lambda *args: 1 / 0), False, "ZeroDivisionError")
    for wrong, hint in wrongs:
        verdict_is(exercise(wrong), False, hint)


def test_the_zero_shot_check_reads_the_pre_trained_model_against_the_worst_seed():
    scorer = evaluate.model_scorer(*checkpoint.load_checkpoint(CHECKPOINTS / "transfer_pretrained"))
    zero_shot = functools.partial(check.ex07_zero_shot, runs=TRANSFER_RUNS)
    verdict_is(zero_shot(200, scorer), True, "0.302", "0.361")
    verdict_is(zero_shot(..., scorer), False, "no answer yet")
    verdict_is(zero_shot(100, scorer), False, "below the pre-trained model")  # the mean passes there
    verdict_is(zero_shot(400, scorer), False, "fewest courses")
    verdict_is(zero_shot(300, scorer), False, "measured at")
    verdict_is(zero_shot(200, lambda courses: np.full(len(courses), 0.5)), False, "not a constant")
    verdict_is(zero_shot(200, scorer, runs="transfer.json"), False, "the saved transfer runs")


def test_every_check_is_tested_here():
    tested = {f[0].__name__ for f in FUNCTIONS} | {
        "ex01_noise_direction", "ex02_parameter_count", "ex03_accumulate", "ex06_best_next", "ex07_strict_sizes",
        "ex08_wider_cnn", "ex08_shuffled_vs_ridge", "ex04_oracle_residuals", "ex01_good_course",
        "ex04_model_error", "ex06_close_course", "ex09_overrated", "ex10_disagree", "ex10_least_removed",
        "ex05_groups", "ex11_misplaced", "ex11_train_calibration", "ex07_zero_shot", "ex12_calibration_error",
        "ex12_censoring", "ex12_false_alarm"}
    assert tested == {name for name in dir(check) if re.fullmatch(r"ex\d\d_\w+", name)}


# Notebook 12 ------------------------------------------------------------------------------------------------------

def test_the_calibration_error_check_names_the_slip():
    def weighted(chance, outcome, bins):
        return evaluate.calibration_error(np.asarray(chance), np.asarray(outcome), bins)

    def unweighted(chance, outcome, bins):
        which = np.minimum((chance * bins).astype(int), bins - 1)
        return np.mean([abs(chance[which == b].mean() - outcome[which == b].mean()) for b in np.unique(which)])

    def own_bin_for_one(chance, outcome, bins):
        which = (chance * bins).astype(int)  # a chance of 1 gets a bin of its own
        return sum((which == b).sum() * abs(chance[which == b].mean() - outcome[which == b].mean())
                   for b in np.unique(which)) / len(chance)

    verdict_is(check.ex12_calibration_error(weighted), True, "weighted")
    verdict_is(check.ex12_calibration_error(unweighted), False, "weight each bin")
    verdict_is(check.ex12_calibration_error(own_bin_for_one), False, "last bin")
    verdict_is(check.ex12_calibration_error(...), False, "no answer yet")


@pytest.fixture(scope="module")
def clinic_notebook():
    """Notebook 12's held-out patients and its committed session model."""
    from therapy_utils import early_warning
    from therapy_utils.course import checkpoints

    vocab, parts = checkpoints.clinic_parts()
    model, _ = early_warning.fit_or_load_session_model(CHECKPOINTS / "clinic_session_lstm", parts["train"],
                                                       parts["val"], vocab, seed=0)
    return parts["test"], model


def test_a_false_alarm_is_judged_by_the_truth_recomputed(clinic_notebook):
    test, model = clinic_notebook
    row = int(np.flatnonzero(test.course_id == 4154)[0])  # the solutions' answer: model 0.46, truth 0.85
    verdict_is(check.ex12_false_alarm(row, 6, test, model), True, "would not raise")
    verdict_is(check.ex12_false_alarm(row, 3, test, model), False, "no alert")
    verdict_is(check.ex12_false_alarm(row, 9, test, model), False, "from 1 to 8")
    verdict_is(check.ex12_false_alarm(5000, 1, test, model), False, "not a row of test")
    verdict_is(check.ex12_false_alarm(row, ..., test, model), False, "no answer yet")


def test_censoring_is_judged_on_the_shares_it_recomputes(clinic_notebook):
    from therapy_utils import evaluate as scores

    test, _ = clinic_notebook
    shares = {}
    for rule in ("censored", "last score"):
        labels = scores.outcome_labels(test, rule)
        shares[rule] = labels[(test.lengths >= 5) & ~np.isnan(labels)].mean()
    assert shares["censored"] > shares["last score"]
    verdict_is(check.ex12_censoring("higher", shares["censored"], shares["last score"], test), True, "flatters")
    verdict_is(check.ex12_censoring("lower", shares["censored"], shares["last score"], test), False,
               "your shares are right")
    verdict_is(check.ex12_censoring("higher", 0.5, shares["last score"], test), False, "your censored share")
    verdict_is(check.ex12_censoring("sideways", 0.5, 0.5, test), False, "higher")


# Answers that used to fool a check, or crash it --------------------------------------------------------------------

@pytest.fixture(scope="module")
def notebook_models():
    """The notebooks' own models, from the committed checkpoints: the scorers the notebooks pass to the checks."""
    names = ("realistic_lstm", "realistic_cnn_ensemble")
    return {name: checkpoint.load_checkpoint(CHECKPOINTS / name) for name in names}


def test_the_notebooks_models_and_the_solutions_answers_pass(notebook_models):
    lstm, best = (evaluate.model_scorer(*notebook_models[name])
                  for name in ("realistic_lstm", "realistic_cnn_ensemble"))
    verdict_is(check.ex04_model_error("C D F I D C B C M Q C C D K L G O O N", lstm), True)
    verdict_is(check.ex06_close_course("D A F B", lstm), True)
    verdict_is(check.ex09_overrated("A F A F A", best), True)
    net, vocab = notebook_models["realistic_cnn_ensemble"]
    verdict_is(check.ex10_disagree("P F F G D", best, lambda c: evaluate.integrated_gradients(net, [c], vocab)[0]),
               True)
    held_out = list(simulate.simulate_courses(PARAMS, 40, seed=3)["modules"])
    verdict_is(check.ex10_least_removed("less", best, held_out), True)

    def predict_one(course):
        return uncertainty.model_outputs(net, None, pd.DataFrame({"modules": [tuple(course)]}), vocab)["mean"][0]

    verdict_is(check.ex11_misplaced("A F A E A O M L", predict_one, 0.1045), True)


def drifting(one_course: bool = False):
    """A scorer (or a one-course predictor) whose scores change from call to call, in [0, 1] and spread like a
    model's."""
    rng = np.random.default_rng(0)
    return (lambda course: rng.uniform(0.2, 0.8)) if one_course else lambda courses: rng.uniform(0.2, 0.8, len(courses))


FAKE_SCORERS = [  # (a scorer that is not a model, words its hint must hold)
    (lambda courses: np.full(len(courses), 5.0), "inside [0, 1]"),
    (lambda courses: np.full(len(courses), 0.5), "nearly the same score"),
    (truth, "the simulator's truth, not a model"),
    (lambda courses: truth(courses) + 0.06, "truth shifted by +0.060"),
    (drifting(), "two scores"),
    (lambda courses: shifted(0.2)(courses) if len(courses) > 1 else np.full(1, 5.0), "two scores"),  # alone: 5
    (lambda courses: "0.5", "should be numbers"),
    (lambda courses: truth(courses)[:1], "one score per course"),
    (lambda courses: 1 / 0, "ZeroDivisionError"),
]
SCORER_CHECKS = [  # (check, its other arguments around the scorer: each passes with a model-like scorer)
    (check.ex04_model_error, ("A B A F",), (), shifted(0.2)),
    (check.ex06_close_course, ("A B A F",), (), shifted(0.005)),
    (check.ex09_overrated, ("A B A F F",), (), shifted(0.06)),
    (check.ex10_disagree, (("E", "H", "K", "A"),), (lambda c: np.arange(len(c)) % 2,), shifted(0)),
    (check.ex10_least_removed, ("less",), (list(simulate.simulate_courses(PARAMS, 60, seed=2)["modules"]),),
     shifted(0)),
]


@pytest.mark.parametrize(("exercise", "before", "after", "model_like"), SCORER_CHECKS,
                         ids=[c[0].__name__ for c in SCORER_CHECKS])
def test_a_scorer_that_is_not_a_model_is_refused(exercise, before, after, model_like):
    verdict_is(exercise(*before, model_like, *after), True)
    for fake, hint in FAKE_SCORERS:
        verdict_is(exercise(*before, fake, *after), False, hint)


@pytest.mark.parametrize(("half_width", "hint"), [
    (0, "positive number"), (0.0, "positive number"), (-0.1, "positive number"), (float("nan"), "positive number"),
    (float("inf"), "positive number"), ("0.1", "positive number"), ([0.1, 0.2], "positive number"),
    (..., "positive number"), (0.01, "too small for its noise")])
def test_a_misplaced_interval_needs_a_real_half_width(half_width, hint):
    course = ("A", "B", "A", "F")
    verdict_is(check.ex11_misplaced(course, lambda c: shifted(0.09)([c])[0], half_width), False, hint)


def test_a_misplaced_interval_needs_a_model_that_predicts():
    course = ("A", "B", "A", "F")
    mean = float(truth([course])[0])
    for predict_one, hint in [(lambda c: mean + 0.09, "nearly the same score"),
                              (lambda c: float(truth([c])[0]) + 0.09, "truth shifted by +0.090"),
                              (lambda c: "0.7", "should be numbers"), (lambda c: [0.7, 0.8], "one number"),
                              (lambda c: 1 / 0, "ZeroDivisionError"), (drifting(True), "two scores")]:
        verdict_is(check.ex11_misplaced(course, predict_one, 0.1), False, hint)


def gru_cell_float64(x, h, gru):
    """Another correct answer, computed in float64 throughout (on a copy of the layer)."""
    return gru_cell(x.double(), h.double(), gru.double())


@pytest.mark.parametrize("convert", [lambda t: t.double(), lambda t: t.double().numpy(), lambda t: t.tolist(),
                                     lambda t: t.numpy()], ids=["float64 tensor", "float64 array", "list", "array"])
def test_answers_of_another_float_type_or_container_are_judged_on_their_values(convert):
    verdict_is(check.ex02_gru_cell(lambda x, h, g: convert(gru_cell(x, h, g))), True)
    verdict_is(check.ex02_gru_cell(lambda x, h, g: convert(gru_cell(x, h, g, swap=True))), False, "update gate")
    verdict_is(check.ex02_gru_cell(lambda x, h, g: convert(gru_cell(x, h, g).unsqueeze(0))), False, "shape")
    verdict_is(check.ex02_masked_mean(lambda o, n: convert(torch.stack([o[i, :n[i]].mean(0) for i in range(3)]))), True)
    verdict_is(check.ex02_masked_mean(lambda o, n: convert(o.mean(1))), False, "padded steps")
    verdict_is(check.ex11_scaled(lambda *args: convert(torch.as_tensor(scaled_by_rank(*args)))), True)
    verdict_is(check.ex10_ig_linear(lambda w, x, b: convert(torch.as_tensor((x - b) * w))), True)


def test_a_gru_cell_computed_in_float64_passes():
    verdict_is(check.ex02_gru_cell(gru_cell_float64), True)


def test_learner_code_in_any_argument_runs_guarded():
    course, model_score = ("E", "H", "K", "A"), shifted(0)
    for attributions, hint in [(lambda c: 1 / 0, "ZeroDivisionError"), (lambda c: "first", "should be numbers"),
                               (lambda c: np.ones(3), "one number per position"), (lambda c: np.zeros(4), "same value"),
                               (lambda c: None, "returned None"), ("integrated gradients", "expected a function")]:
        verdict_is(check.ex10_disagree(course, model_score, attributions), False, hint)
    # a scorer that fails only on the shortened courses occlusion and removal score, after it looked like a model
    fails_on_three = lambda cs: 1 / 0 if ("E", "H", "K") in [tuple(c) for c in cs] else model_score(cs)  # noqa: E731
    verdict_is(check.ex10_disagree(course, fails_on_three, lambda c: np.arange(4)), False, "ZeroDivisionError")
    fails_short = lambda cs: 1 / 0 if min(map(len, cs)) < 4 else model_score(cs)  # noqa: E731
    courses = list(simulate.simulate_courses(PARAMS, 60, seed=2)["modules"])
    verdict_is(check.ex10_least_removed("less", fails_short, courses), False, "ZeroDivisionError")


def test_a_learner_function_cannot_change_what_it_is_judged_against():
    def overwrite_y(y, p):
        y[:] = p  # the data the check compares with, made to fit the answer
        return 1.0

    def overwrite_probabilities(probabilities, actual, k):
        probabilities[np.arange(len(actual)), actual] = 2.0
        return 1.0

    verdict_is(check.ex04_r2(overwrite_y), False, "R²")
    verdict_is(check.ex05_top_k(overwrite_probabilities), False, "for k = 1")


@pytest.mark.parametrize(("exercise", "answer", "hint"), [
    (check.ex02_parameter_count, 3793.5, "whole number"), (shuffled_vs_ridge, 2.4, "whole number"),
    (check.ex02_parameter_count, "3793", "answer a number"),
    (check.ex03_accumulate, float("nan"), "answer a number"), (check.ex03_accumulate, True, "answer a number"),
    (strict_sizes, {50.5}, "not a size"), (strict_sizes, "50", "set of sizes"),
    (strict_sizes, {7}, "not at 7"), (check.ex06_best_next, ["C"], "not a module"),
])
def test_numbers_are_read_exactly(exercise, answer, hint):
    verdict_is(exercise(answer), False, hint)


def test_scaled_half_widths_are_judged_by_the_package_quantile_not_crepes():
    package = lambda r, s, new, level: conformal_threshold(np.abs(r) / s, level) * np.asarray(new)  # noqa: E731
    result = check.ex11_scaled(package)
    verdict_is(result, True, "conformal_threshold")
    assert "crepes" not in inspect.getsource(nb11) and "crepes" not in result.message


# Each verdict says what the data say ------------------------------------------------------------------------------

def test_noise_direction_says_what_the_numbers_say(monkeypatch):
    verdict_is(check.ex01_noise_direction("down"), True, "goes down from", "look worse")
    rising = iter([0.3, 0.5])  # the oracle R² at noise 0.06, then at 0.15: rising, against the simulator's
    monkeypatch.setattr(nb01, "r2_score", lambda *_: next(rising))
    result = check.ex01_noise_direction("up")
    verdict_is(result, True, "goes up from 0.300 to 0.500")
    assert "look worse" not in result.message


def order_rows(offset):
    """The saved order rows with the realistic preset's shuffled CNN put ``offset`` (+ a little) off the ridge in every
    seed."""
    realistic = ORDER_ROWS["variant"] == "realistic preset"
    moved = ORDER_ROWS["ridge_r2"] + offset + 0.01 * ORDER_ROWS["seed"]
    return ORDER_ROWS.assign(shuffled_r2=np.where(realistic, moved, ORDER_ROWS["shuffled_r2"]))


def test_shuffled_against_ridge_says_what_the_seeds_say():
    verdict_is(shuffled_vs_ridge(2), True, "some seeds and below it in others", "within the seeds' noise",
               "comes from the order")
    for offset, count, words in ((0.05, 5, "above the ridge in every seed"),
                                 (-0.1, 0, "below the ridge in every seed")):
        result = check.ex08_shuffled_vs_ridge(count, order_rows(offset))
        verdict_is(result, True, words)
        assert "some seeds" not in result.message and "within the seeds' noise of it" not in result.message


def test_wider_cnn_says_what_the_test_says():
    runs = ACCURACY_RUNS
    wider = runs["model"] == "CNN, wider (32/64)"
    better = runs.assign(val_share=np.where(wider, runs["val_share"] + 0.3 + 0.01 * runs["seed"], runs["val_share"]))
    result = check.ex08_wider_cnn({"original": "higher", "realistic": "higher"}, better)
    verdict_is(result, True, "original: higher", "the paired test agrees")
    assert "buys nothing" not in result.message


def test_strict_sizes_counts_what_the_test_finds():
    runs_read = TRANSFER_RUNS.rename(columns={"start": "model"})
    fine_tuned = runs_read["model"] == "fine-tuned model"
    boosted = runs_read.assign(r2=np.where(fine_tuned, runs_read["r2"] + 0.3 + 0.01 * runs_read["seed"],
                                           runs_read["r2"]))
    for runs in (runs_read, boosted):
        result = evaluate.paired_comparison(runs, [("random, small steps", "fine-tuned model")], value="r2", by="n",
                                           alpha=0.01)
        expected = set(result.loc[result["verdict"] == "higher", "n"].astype(int))
        verdict_is(check.ex07_strict_sizes(expected, runs), True, f"higher at {len(expected)} of {len(result)} sizes")
    assert len(expected) == len(result)  # boosted: higher everywhere, whatever the saved runs say


def test_least_removed_says_what_the_drops_say(monkeypatch):
    courses = list(simulate.simulate_courses(PARAMS, 60, seed=2)["modules"])
    for top, random, expected, words in ((0.05, 0.02, "more", "lowers the prediction by 0.050"),
                                         (0.01, 0.03, "less", "lowers the prediction by 0.010"),
                                         (-0.05, 0.02, "less", "raises the prediction by 0.050")):
        checks = {"comprehensiveness_top": top, "comprehensiveness_random": random}
        monkeypatch.setattr(nb10.evaluate, "removal_checks", lambda *args, checks=checks, **kwargs: checks)
        other = "less" if expected == "more" else "more"
        result = check.ex10_least_removed(expected, shifted(0), courses)
        verdict_is(result, True, words, f"drops {expected} than")
        assert ("welcomes" in result.message) == (top < 0)
        verdict_is(check.ex10_least_removed(other, shifted(0), courses), False, "least attributed")


def test_train_calibration_says_whether_the_intervals_are_too_narrow():
    courses = simulate.simulate_courses(PARAMS, 800, seed=4)
    train_part, test_part = courses.iloc[:400], courses.iloc[400:].reset_index(drop=True)
    y_train = train_part["effectiveness"].to_numpy()
    predict_train, predict_test = truth(train_part["modules"]), truth(test_part["modules"])
    inflated = predict_train - (y_train - predict_train)  # residuals twice the noise: intervals too wide
    result = check.ex11_train_calibration("above", inflated, y_train, predict_test, test_part)
    verdict_is(result, True, "above the nominal 0.9", "not too narrow")
    assert "so the intervals are too narrow" not in result.message
    verdict_is(check.ex11_train_calibration("below", inflated[:-1], y_train, predict_test, test_part), False,
               "the other data given have")
    verdict_is(check.ex11_train_calibration("below", inflated, y_train, predict_test, "test"), False, "courses")


def test_best_next_hints_at_a_motif_only_when_one_has_begun():
    gains = evaluate.next_module_gains(truth, ("E",), simulate.LETTERS)
    result = check.ex06_best_next(str(gains.idxmin()), ("E",))
    verdict_is(result, False, "another module gains more")
    assert "motif" not in result.message
    verdict_is(check.ex06_best_next("A", ("C", "D")), False, "Which motif")


# Malformed answers of any type: a hint, never a traceback ---------------------------------------------------------

MALFORMED = {  # factories, so that a generator is fresh for every call
    "text": lambda: "seven", "empty text": lambda: "", "a dict": lambda: {"a": 1},
    "nested lists": lambda: [[1, 2], [3]],
    "NaN": lambda: float("nan"), "infinity": lambda: float("inf"), "a negative number": lambda: -1,
    "a generator": lambda: (i for i in range(3)), "an object": object,
    "a function returning text": lambda: lambda *args: "seven",
    "a function returning a dict": lambda: lambda *args: {"a": 1},
    "a function returning nested lists": lambda: lambda *args: [[1, 2], [3]],
    "a function returning NaN": lambda: lambda *args: float("nan"),
    "a function returning a generator": lambda: lambda *args: (i for i in range(3)),
    "a function that raises": lambda: lambda *args: 1 / 0,
}


def right_calls() -> dict:
    """Every check's arguments for a correct answer, every optional one given."""
    courses = simulate.simulate_courses(PARAMS, 800, seed=4)
    train_part, test_part = courses.iloc[:400], courses.iloc[400:].reset_index(drop=True)
    y_train, predict_train = train_part["effectiveness"].to_numpy(), truth(train_part["modules"])
    test = data.split_courses(simulate.simulate_courses(PARAMS, 2000, seed=0))["test"]
    renamed = {module: str(group) for module, group in PARAMS.group_of().items()}
    vocab, clinic_parts = checkpoints.clinic_parts()
    clinic_test = clinic_parts["test"]
    session_model, _ = early_warning.fit_or_load_session_model(
        CHECKPOINTS / "clinic_session_lstm", clinic_parts["train"], clinic_parts["val"], vocab, seed=0)
    return {
        "ex01_noise_direction": ("down",), "ex01_good_course": ("A B A F F A",),
        "ex01_transition_counts": (counts_loop,), "ex02_gru_cell": (gru_cell,),
        "ex02_masked_mean": (lambda o, n: torch.stack([o[i, :n[i]].mean(0) for i in range(len(n))]),),
        "ex02_parameter_count": (3793,), "ex03_plateau": (plateau,), "ex03_split": (split_sklearn,),
        "ex03_accumulate": (2,), "ex04_r2": (r2_by_hand,), "ex04_model_error": ("A B A F", shifted(0.2)),
        "ex04_oracle_residuals": ("zero", test["effectiveness"], truth(test["modules"])),
        "ex05_cosine": (cosine_numpy,), "ex05_top_k": (top_k_count,), "ex05_groups": (renamed,),
        "ex06_occlusion": (occlusion_loop,), "ex06_close_course": ("A B A F", shifted(0.005)),
        "ex06_best_next": ("C", ("C", "D")), "ex07_strict_sizes": (set(), TRANSFER_RUNS),
        "ex08_paired_p": (paired_p_by_hand,), "ex07_param_groups": (two_rates,),
        "ex07_zero_shot": (200, evaluate.model_scorer(*checkpoint.load_checkpoint(CHECKPOINTS / "transfer_pretrained")),
                           TRANSFER_RUNS),
        "ex08_wider_cnn": ({"original": "within noise", "realistic": "within noise"}, ACCURACY_RUNS),
        "ex08_shuffled_vs_ridge": (2, ORDER_ROWS), "ex09_greedy": (greedy, 5),
        "ex09_g_formula": (lambda by, p: sum(p[s] * np.asarray(v) for s, v in by.items()),),
        "ex09_overrated": ("A B A F F", shifted(0.06)), "ex10_ig_linear": (lambda w, x, b: (x - b) * w,),
        "ex10_disagree": (("E", "H", "K", "A"), shifted(0), lambda c: np.arange(len(c)) % 2),
        "ex10_least_removed": ("less", shifted(0), list(simulate.simulate_courses(PARAMS, 60, seed=2)["modules"])),
        "ex11_scaled": (scaled_by_rank,),
        "ex11_misplaced": (("A", "B", "A", "F"), lambda c: shifted(0.09)([c])[0], 0.1),
        "ex11_train_calibration": ("below", (predict_train + y_train) / 2, y_train, truth(test_part["modules"]),
                                   test_part),
        "ex12_calibration_error": (lambda c, o, b: evaluate.calibration_error(np.asarray(c), np.asarray(o), b),),
        "ex12_false_alarm": (int(np.flatnonzero(clinic_test.course_id == 4154)[0]), 6, clinic_test, session_model),
        "ex12_censoring": ("higher", *censoring_shares(clinic_test), clinic_test),
    }


def censoring_shares(test) -> tuple[float, float]:
    """The share improved after session 5 when leavers are censored, and at their last score."""
    shares = []
    for rule in ("censored", "last score"):
        labels = evaluate.outcome_labels(test, rule)
        shares.append(float(labels[(test.lengths >= 5) & ~np.isnan(labels)].mean()))
    return tuple(shares)


@pytest.fixture(scope="module")
def right():
    return right_calls()


def test_every_check_has_a_right_call_that_passes(right):
    assert set(right) == {name for name in dir(check) if name.startswith("ex")}
    for name, args in right.items():
        verdict_is(getattr(check, name)(*args), True)


@pytest.mark.parametrize("name", sorted(name for name in dir(check) if name.startswith("ex")))
def test_malformed_input_in_any_argument_gets_a_hint(name, right):
    exercise, args = getattr(check, name), right[name]
    for position in range(len(args)):
        for kind, malformed in MALFORMED.items():
            given = (*args[:position], malformed(), *args[position + 1:])
            result = exercise(*given)
            assert isinstance(result, check.Verdict) and result.passed is False, (position, kind, result)
            assert result.message and "Traceback" not in result.message, (position, kind, result)


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

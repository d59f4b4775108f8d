"""The exercise checks of notebook 08, Model comparison (``check.ex08_*``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import ttest_ind, ttest_rel

from therapy_utils import evaluate
from therapy_utils.course.check import guards
from therapy_utils.course.check.guards import NO_ANSWER, Verdict


def ex08_paired_p(function: Callable) -> Verdict:
    """Build: ``function(a, b)`` is the two-sided p-value of the paired t-test of a against b (same seeds, in order)."""
    rng = np.random.default_rng(9)
    base = rng.uniform(0.4, 0.8, 5)
    for a in (base + rng.normal(0.05, 0.03, 5), base + rng.normal(0.0, 0.1, 5)):
        got, problem = guards.call_for_number(function, a.copy(), base.copy())
        if problem:
            return problem
        expected = float(ttest_rel(a, base).pvalue)
        if np.isclose(got, float(ttest_ind(a, base).pvalue)) and not np.isclose(got, expected):
            return Verdict(False, "that is the unpaired test: pair each seed's two results first.")
        if np.isclose(got, expected / 2):
            return Verdict(False, "that is one-sided; the text asks whether a difference exists in either direction.")
        if not np.isclose(got, expected, rtol=1e-6):
            return Verdict(False, "t = mean of the differences / (their sd / √n), with n − 1 degrees of freedom.")
    return Verdict(True, "equal to scipy.stats.ttest_rel's p-value.")


def _selection_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The selection seeds' runs, without the reference rows."""
    return runs[(runs["phase"] == "selection") & ~runs["model"].str.contains("reference")]


def ex08_wider_cnn(answer: object, runs: pd.DataFrame) -> Verdict:
    """Investigate: per preset, is "CNN, wider (32/64)" "higher", "lower" or "within noise" against "one CNN (16/32,
    positions)" on the *validation* share of the selection seeds at n = 500 (the notebook's table reads the test
    share)? Answer a dict preset → verdict. ``runs``: the saved runs of ``benchmarks/accuracy.py``, as the notebook
    reads them (one row per model, preset, phase, size and seed)."""
    if guards.unanswered(answer):
        return NO_ANSWER
    if not isinstance(answer, dict):
        return Verdict(False, "answer a dict such as {'original': ..., 'realistic': ...}, not "
                              f"{guards.show(answer)}.")
    runs, problem = guards.read_table(runs, "the saved accuracy runs", ("model", "preset", "phase", "seed",
                                                                         "val_share"))
    if problem:
        return problem
    runs = _selection_runs(runs)
    result = evaluate.paired_comparison(runs, [("one CNN (16/32, positions)", "CNN, wider (32/64)")], value="val_share")
    choices = {"higher": (), "lower": (), "within noise": ("noise", "within"), "identical": ("same", "equal")}
    for preset, expected in zip(result["preset"], result["verdict"], strict=True):
        said = guards.read_word(answer.get(preset, ""), choices)
        if said is None:
            return Verdict(False, f"give a verdict for the {preset} preset: 'higher', 'lower' or 'within noise'.")
        if said != expected:
            return Verdict(False, f"the {preset} preset's verdict is not that: pair the two models' validation shares "
                                  "by seed and test the differences (evaluate.paired_comparison, value='val_share').")
    found = "; ".join(f"{p}: {v} ({d:+.3f})" for p, v, d in zip(result["preset"], result["verdict"],
                                                               result["difference"], strict=True))
    sizes = " and ".join(str(n) for n in sorted(runs["n"].unique()))
    meaning = (f"doubling the CNN's width buys nothing measurable at {sizes} courses." if
               set(result["verdict"]) <= {"within noise", "identical"} else "the paired test agrees.")
    return Verdict(True, f"{found} — {meaning}")


def ex08_shuffled_vs_ridge(answer: object, rows: pd.DataFrame) -> Verdict:
    """Predict-then-run: in how many of the 5 seeds does the shuffled CNN score above the ridge on the realistic
    preset? ``rows``: the saved rows of ``benchmarks/order.py`` as the notebook reads them (one per variant and
    seed, with ``shuffled_r2``, ``ridge_r2`` and ``ordered_r2``)."""
    answer, problem = guards.read_number(answer, int)
    if problem:
        return problem
    rows, problem = guards.read_table(rows, "the saved order rows", ("variant", "shuffled_r2", "ridge_r2",
                                                                      "ordered_r2"))
    if problem:
        return problem
    rows = rows.query("variant == 'realistic preset'")
    above = int((rows["shuffled_r2"] > rows["ridge_r2"]).sum())
    if answer != above:
        return Verdict(False, f"not {answer} of {len(rows)}: compare shuffled_r2 with ridge_r2 seed by seed.")
    return Verdict(True, f"{above} of {len(rows)}: " + _shuffled_words(rows))


def _shuffled_words(rows: pd.DataFrame) -> str:
    """What the seeds say about the shuffled CNN against the ridge, and the CNN in order, in the data's own terms."""
    shuffled, ridge, ordered = (rows[c].to_numpy() for c in ("shuffled_r2", "ridge_r2", "ordered_r2"))

    def relation(a: np.ndarray, b: np.ndarray) -> str:
        p = float(ttest_rel(a, b).pvalue)
        side = "within the seeds' noise of" if p >= 0.05 else ("above" if a.mean() > b.mean() else "below")
        return f"{side} it ({np.mean(a - b):+.3f} on average, paired p = {p:.2g})"
    if (shuffled > ridge).all() or (shuffled < ridge).all():
        seeds = f"shuffled, the CNN is {'above' if shuffled[0] > ridge[0] else 'below'} the ridge in every seed"
    else:
        seeds = "shuffled, the CNN is above the ridge in some seeds and below it in others"
    gained = relation(ordered, ridge)
    moral = (": its gain over the ridge comes from the order of the modules" if gained.startswith("above")
             and not relation(shuffled, ridge).startswith("above") else "")
    return f"{seeds}, {relation(shuffled, ridge)}; in order it is {gained}{moral}."

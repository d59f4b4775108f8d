"""Comparisons over seeds (mean ± sd tables, paired tests corrected for their family) and the simulator parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from therapy_utils import evaluate, simulate


def runs_of(differences: list[float], base: list[float]) -> pd.DataFrame:
    rows = [{"model": "base", "preset": "p", "seed": s, "share": b} for s, b in enumerate(base)]
    rows += [{"model": "new", "preset": "p", "seed": s, "share": b + d}
             for s, (b, d) in enumerate(zip(base, differences, strict=True))]
    return pd.DataFrame(rows)


def test_mean_sd_table_shows_mean_sd_and_seeds_in_first_seen_order():
    runs = pd.DataFrame({"model": ["b", "b", "a", "a", "a"], "n": [10, 10, 10, 10, 20],
                         "r2": [0.5, 0.7, 0.1, 0.3, 0.9]})
    table = evaluate.mean_sd_table(runs, "model", "n", "r2")
    assert list(table.index) == ["b", "a"] and list(table.columns) == [10, 20]
    assert table.loc["b", 10] == "0.600 ± 0.141 (2)"  # sample sd of 0.5, 0.7
    assert table.loc["a", 20] == "0.900 (1)"  # one run: no spread to show
    assert pd.isna(table.loc["b", 20])


def test_a_gap_the_seeds_agree_on_is_a_difference():
    base = [0.40, 0.70, 0.55, 0.62, 0.48]  # the split's luck: large spread between seeds
    result = evaluate.paired_comparison(runs_of([0.10, 0.11, 0.09, 0.10, 0.12], base), [("base", "new")])
    row = result.iloc[0]
    assert row["verdict"] == "higher" and row["higher in"] == 5 and row["p"] < 1e-4
    assert row["difference"] == pytest.approx(0.104)


def test_a_gap_smaller_than_its_noise_is_within_noise():
    base = [0.40, 0.70, 0.55, 0.62, 0.48]
    result = evaluate.paired_comparison(runs_of([0.15, -0.10, 0.05, -0.08, 0.02], base), [("base", "new")])
    assert result.iloc[0]["verdict"] == "within noise" and result.iloc[0]["p"] > 0.5


def test_higher_in_every_seed_is_not_enough_with_five_noisy_seeds():
    """Matches notebook 08: five wins out of five can still leave p above 0.05 when the gaps vary a lot."""
    result = evaluate.paired_comparison(runs_of([0.01, 0.20, 0.02, 0.15, 0.01], [0.5] * 5), [("base", "new")])
    assert result.iloc[0]["higher in"] == 5 and result.iloc[0]["verdict"] == "within noise"


def family_at(p_value: float, members: int, seeds: int = 5) -> pd.DataFrame:
    """Runs in which each of ``members`` candidates beats "base" with a paired t-test p-value of exactly ``p_value``."""
    pattern = np.linspace(-1, 1, seeds) * 0.01  # zero-mean spread of the per-seed differences
    t = stats.t.ppf(1 - p_value / 2, seeds - 1)
    shift = t * pattern.std(ddof=1) / np.sqrt(seeds)
    base = np.linspace(0.4, 0.7, seeds)
    rows = [{"model": "base", "preset": "p", "seed": s, "share": b} for s, b in enumerate(base)]
    rows += [{"model": f"new {k}", "preset": "p", "seed": s, "share": b + shift + e}
             for k in range(members) for s, (b, e) in enumerate(zip(base, pattern, strict=True))]
    return pd.DataFrame(rows)


def test_ten_comparisons_at_p_0_047_are_within_noise_as_a_family():
    runs = family_at(0.047, 10)
    result = evaluate.paired_comparison(runs, [("base", f"new {k}") for k in range(10)])
    assert np.allclose(result["p"], 0.047) and np.allclose(result["p (Holm)"], 0.47)
    assert set(result["verdict"]) == {"within noise"}
    alone = evaluate.paired_comparison(runs, [("base", "new 0")])  # the same comparison, a family of one
    assert alone["p (Holm)"].item() == pytest.approx(0.047) and alone["verdict"].item() == "higher"


def test_identical_runs_are_identical_not_lower():
    runs = runs_of([0.0] * 5, [0.40, 0.70, 0.55, 0.62, 0.48])
    row = evaluate.paired_comparison(runs, [("base", "new")]).iloc[0]
    assert row["verdict"] == "identical" and row["p"] == 1.0 and row["ci low"] == row["ci high"] == 0.0


def test_a_constant_shift_takes_the_exact_sign_test():
    """No spread: the t-test is undefined; five seeds agreeing on the sign give p = 2 / 2^5, not a certainty."""
    row = evaluate.paired_comparison(runs_of([0.02] * 5, [0.40, 0.70, 0.55, 0.62, 0.48]), [("base", "new")]).iloc[0]
    assert row["p"] == 0.0625 and row["sd"] == 0.0 and row["verdict"] == "within noise"
    row = evaluate.paired_comparison(runs_of([-0.02] * 6, [0.5] * 6), [("base", "new")]).iloc[0]
    assert row["p"] == 0.03125 and row["verdict"] == "lower"


def test_holm_on_a_worked_example():
    """Four hypotheses with raw p 0.01, 0.04, 0.03, 0.005 (the Holm–Bonferroni method's Wikipedia example): the
    adjusted p-values are 4 · 0.005, 3 · 0.01, then max(2 · 0.03, 0.03) and max(0.04, 0.06)."""
    assert np.allclose(evaluate.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    assert np.allclose(evaluate.holm([0.6, 0.4]), [0.8, 0.8])  # never below a smaller raw p's adjusted value
    assert np.allclose(evaluate.holm([0.7, 0.6]), [1.0, 1.0])  # capped at 1
    with pytest.raises(ValueError, match="must be in"):
        evaluate.holm([0.2, float("nan")])


def test_the_interval_is_the_t_interval_bonferroni_widened():
    base = [0.40, 0.70, 0.55, 0.62, 0.48]
    differences = [0.15, -0.10, 0.05, -0.08, 0.02]
    row = evaluate.paired_comparison(runs_of(differences, base), [("base", "new")]).iloc[0]
    expected = stats.ttest_1samp(differences, 0.0).confidence_interval(0.95)
    assert (row["ci low"], row["ci high"]) == pytest.approx((expected.low, expected.high))
    two = pd.concat([runs_of(differences, base), runs_of(differences, base).assign(preset="q")])
    rows = evaluate.paired_comparison(two, [("base", "new")])  # a family of two: each interval at 97.5 %
    wider = stats.ttest_1samp(differences, 0.0).confidence_interval(0.975)
    assert rows["ci low"].tolist() == pytest.approx([wider.low] * 2)


def test_format_mean_sd_is_the_one_cell_format():
    assert evaluate.format_mean_sd(0.75312, 0.16, 5) == "0.753 ± 0.160 (5)"
    assert evaluate.format_mean_sd(0.75312, float("nan"), 1) == "0.753 (1)"
    assert evaluate.format_mean_sd(0.75312, 0.16, decimals=2) == "0.75 ± 0.16"


def test_a_pair_without_runs_is_named():
    with pytest.raises(ValueError, match="'missing'"):
        evaluate.paired_comparison(runs_of([0.1] * 5, [0.5] * 5), [("base", "missing")])
    with pytest.raises(ValueError, match="at least two seeds"):
        evaluate.paired_comparison(runs_of([0.1], [0.5]), [("base", "new")])


@pytest.mark.parametrize("preset", ["realistic", "original"])
def test_outcome_parameters_are_the_simulator_s(preset):
    params = simulate.preset_params(preset)
    table = simulate.outcome_parameters(params)
    assert table["noise sd"] == params.noise_sd and table["fatigue: sessions before it starts"] == 15
    assert {k[-1]: v for k, v in table.items() if k.startswith("effect of")} == dict(params.module_effects)
    assert np.isclose(table.filter(like="motif boost").item(), params.motif_boost)
    assert ("chance a course opens with a motif" in table) is (preset == "original")


def test_winners_curse_compares_the_winner_on_choosing_and_fresh_seeds_per_preset_and_on_average():
    rows = [{"model": "w", "preset": preset, "phase": phase, "n": 500, "seed": seed,
             "val_share": base + bump + 0.01 * seed, "share": base + 0.01 * seed}
            for preset, base in (("original", 0.8), ("realistic", 0.85))
            for phase, bump, seeds in (("selection", 0.05, (1, 2, 3)), ("confirmation", 0.0, (1, 2, 3)))
            for seed in seeds]
    rows.append({"model": "other", "preset": "original", "phase": "selection", "n": 500, "seed": 1,
                 "val_share": 9.0, "share": 9.0})  # another model: ignored
    table = evaluate.winners_curse(pd.DataFrame(rows), "w", 500).set_index(["score", "preset"])
    assert table.loc[("val_share", "original"), "gap"] == pytest.approx(0.05)
    assert table.loc[("val_share", "average"), "gap"] == pytest.approx(0.05)
    assert table.loc[("share", "realistic"), "gap"] == pytest.approx(0.0)
    # se from both sides: each side's sd of (0.01, 0.02, 0.03) is 0.01, its se 0.01 / sqrt(3)
    assert table.loc[("share", "original"), "se"] == pytest.approx(np.hypot(0.01, 0.01) / np.sqrt(3))


def test_against_baseline_pairs_by_seed_at_each_preset_and_size():
    rows = [{"model": model, "preset": "p", "n": n, "seed": seed, "share": 0.5 + gap * (model == "c") + 0.001 * seed}
            for n, gap in ((250, 0.2), (500, 0.0)) for seed in range(5) for model in ("b", "c")]
    table = evaluate.against_baseline(pd.DataFrame(rows), "b", "c").set_index("setting")
    assert table.loc["p, n = 250", "difference"] == pytest.approx(0.2)
    assert table.loc["p, n = 500", "verdict"] == "identical"

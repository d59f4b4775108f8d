"""Comparisons over seeds (mean ± sd tables, paired tests) and the printed simulator parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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


def test_a_pair_without_runs_is_named():
    with pytest.raises(ValueError, match="'missing'"):
        evaluate.paired_comparison(runs_of([0.1] * 5, [0.5] * 5), [("base", "missing")])


@pytest.mark.parametrize("preset", ["realistic", "original"])
def test_outcome_parameters_are_the_simulator_s(preset):
    params = simulate.preset_params(preset)
    table = simulate.outcome_parameters(params)
    assert table["noise sd"] == params.noise_sd and table["fatigue: sessions before it starts"] == 15
    assert {k[-1]: v for k, v in table.items() if k.startswith("effect of")} == dict(params.module_effects)
    assert np.isclose(table.filter(like="motif boost").item(), params.motif_boost)
    assert ("chance a course opens with a motif" in table) is (preset == "original")

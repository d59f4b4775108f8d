"""Comparisons: metrics, an order-blind baseline, learning curves, and paired tests over seeds.

A benchmark trains each configuration on the same seeds; a seed fixes the simulated population and its split, so two
configurations' results on one seed are a pair. This module turns such runs into the tables the notebooks show and
says which differences are larger than the seed-to-seed noise — once for the whole *family* of comparisons a table
or a claim draws from, so that ten tries at p = 0.047 do not become ten findings (Holm 1979). Taught in
``04_evaluation.ipynb`` (metrics, the count baseline), ``07_transfer_learning.ipynb`` (learning curves) and
``08_model_comparison.ipynb`` (paired tests); used by 11_uncertainty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from therapy_utils.data import Vocabulary
from therapy_utils.evaluate.prediction import predict
from therapy_utils.model import SequenceModel

VERDICTS: tuple[str, ...] = ("higher", "lower", "within noise", "identical")


def format_mean_sd(mean: float, sd: float | None = None, count: int | None = None, decimals: int = 3) -> str:
    """One "mean ± sd (count)" cell, the series' one way of writing a result over seeds.

    Parameters
    ----------
    mean : float
        The mean over seeds.
    sd : float or None, default=None
        Their sample standard deviation; None or NaN (a single seed) leaves out the "± sd".
    count : int or None, default=None
        How many seeds; None leaves out the bracket.
    decimals : int, default=3
        Decimals of the mean and the sd.

    Returns
    -------
    str
        E.g. ``"0.753 ± 0.160 (5)"``, ``"0.753 ± 0.160"`` or ``"0.753 (1)"``.
    """
    text = f"{mean:.{decimals}f}"
    if sd is not None and np.isfinite(sd):
        text += f" ± {sd:.{decimals}f}"
    return text + ("" if count is None else f" ({count:.0f})")


def mean_sd_table(runs: pd.DataFrame, index: str | list[str], columns: str, value: str,
                  decimals: int = 3) -> pd.DataFrame:
    """A pivot of "mean ± sd (seeds)" cells: a comparison over seeds with its spread beside every mean.

    Used by 07_transfer_learning and 08_model_comparison, where rankings are read only where gaps exceed the spread.

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per run (one seed of one configuration), holding ``index``, ``columns`` and ``value``.
    index, columns : str or list of str
        Columns whose values become the rows and the columns of the table.
    value : str
        The measured column to average over seeds.
    decimals : int, default=3
        Decimals shown for the mean and the sample standard deviation.

    Returns
    -------
    pandas.DataFrame
        Strings like ``"0.753 ± 0.160 (5)"`` (:func:`format_mean_sd`); the sd is left out for a single run. Rows and
        columns keep the order in which they first appear in ``runs``.
    """
    keys = [index] if isinstance(index, str) else list(index)
    stats_table = runs.groupby([*keys, columns], sort=False)[value].agg(["mean", "std", "count"]).reset_index()
    cells = [format_mean_sd(m, s if c > 1 else None, c, decimals)
             for m, s, c in zip(stats_table["mean"], stats_table["std"], stats_table["count"], strict=True)]
    return stats_table.assign(cell=cells).pivot(index=keys, columns=columns, values="cell").reindex(
        index=stats_table.set_index(keys).index.unique(), columns=stats_table[columns].unique())


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values: the family-wise error rate stays at most alpha for any dependence.

    Sort the m p-values, multiply the i-th smallest by m − i + 1, keep the running maximum, cap at 1 (Holm 1979).
    A hypothesis is rejected at level alpha when its adjusted p-value is at most alpha.

    Parameters
    ----------
    p_values : sequence of float
        The raw p-values of one family of tests, each in [0, 1].

    Returns
    -------
    numpy.ndarray
        The adjusted p-values, in the input's order.

    Raises
    ------
    ValueError
        If a p-value is missing or outside [0, 1].
    """
    p = np.asarray(p_values, dtype=float)
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"p-values must be in [0, 1]; got {p[~((p >= 0) & (p <= 1))][0]!r}")
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p))))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def _paired_row(difference: pd.Series) -> dict:
    """Mean, sd and raw p-value of one set of paired differences (``identical`` when all are zero).

    With no spread at all the t statistic is undefined. Every difference 0: p = 1. Every difference the same
    non-zero number: the exact two-sided sign test, p = 2^(1 − n) — all n seeds agree on the sign, which is as much as
    n seeds can say without assuming a distribution (0.0625 for 5 seeds), not a certainty.
    """
    n, mean, sd = len(difference), float(difference.mean()), float(difference.std(ddof=1))
    if sd == 0:
        return {"difference": mean, "sd": 0.0, "seeds": n, "p": 1.0 if mean == 0 else 2.0 ** (1 - n),
                "identical": mean == 0}
    p_value = float(stats.ttest_1samp(difference, 0.0).pvalue)
    return {"difference": mean, "sd": sd, "seeds": n, "p": p_value, "identical": False}


def paired_comparison(runs: pd.DataFrame, pairs: Sequence[tuple[str, str]], value: str = "share",
                      by: str = "preset", unit: str = "seed", alpha: float = 0.05) -> pd.DataFrame:
    """Candidate minus baseline, paired by seed: which gaps in one family of comparisons exceed the seeds' noise?

    Two configurations trained on the same seeds share their data, so their difference per seed removes the data's
    luck; a paired t-test asks whether the mean difference could be zero (08_model_comparison).

    **A family** is every comparison one table or one claim draws from: here, every pair × every value of ``by``
    in one call. Looking at many comparisons and reporting those with p < 0.05 finds "effects" by chance (ten
    comparisons at p = 0.047 would be ten), so the verdicts use Holm-adjusted p-values over the family, which keep
    the chance of *any* false finding of a difference at most ``alpha``, whatever the dependence between the tests.
    Call it once per table, with that table's pairs. Holm steps down (after the smallest p-value is rejected, the
    next is tested at a less strict level), while each interval uses the Bonferroni level alpha / m throughout: a
    verdict can be "higher" or "lower" while its interval still covers 0, never the other way round.

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per run with columns ``model``, ``by``, ``unit`` and ``value``.
    pairs : sequence of (baseline, candidate)
        Model names to compare, the baseline first.
    value, by, unit : str
        The measured column, the column that separates comparisons (the preset) and the pairing column (the seed).
    alpha : float, default=0.05
        Family-wise error rate of the verdicts, and 1 − the simultaneous confidence of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per pair and ``by``: ``difference`` (mean paired difference), ``sd``, ``seeds``, ``higher in`` (seeds
        where the candidate was higher), ``ci low`` and ``ci high`` (a Bonferroni interval for the mean difference:
        all the family's intervals hold their true differences together with probability ≥ 1 − alpha), ``p`` (the
        raw paired t-test), ``p (Holm)`` and ``verdict``: "higher" or "lower" when the Holm p-value is at most
        ``alpha``, "identical" when every difference is exactly 0, otherwise "within noise". Differences of zero
        spread but not zero take the exact sign test's p-value, 2^(1 − seeds).

    Raises
    ------
    ValueError
        If a pair has no paired runs for some ``by`` value, or fewer than two seeds.
    """
    rows = []
    for baseline, candidate in pairs:
        for group, table in runs[runs["model"].isin([baseline, candidate])].groupby(by, sort=False):
            wide = table.pivot(index=unit, columns="model", values=value).dropna()
            if baseline not in wide or candidate not in wide or len(wide) < 2:
                raise ValueError(f"{baseline!r} and {candidate!r} need paired runs on at least two {unit}s for {by} "
                                 f"{group!r}; found {len(wide) if baseline in wide and candidate in wide else 0}")
            difference = wide[candidate] - wide[baseline]
            rows.append({"baseline": baseline, "candidate": candidate, by: group, **_paired_row(difference),
                         "higher in": int((difference > 0).sum())})
    table = pd.DataFrame(rows)
    table["p (Holm)"] = holm(table["p"])
    t = stats.t.ppf(1 - alpha / (2 * len(table)), table["seeds"] - 1)  # Bonferroni: alpha shared by the family
    half = t * table["sd"] / np.sqrt(table["seeds"])
    table["ci low"], table["ci high"] = table["difference"] - half, table["difference"] + half
    table["verdict"] = np.where(table.pop("identical"), "identical", np.where(
        table["p (Holm)"] > alpha, "within noise", np.where(table["difference"] > 0, "higher", "lower")))
    return table[["baseline", "candidate", by, "difference", "sd", "seeds", "higher in", "ci low", "ci high", "p",
                  "p (Holm)", "verdict"]]


def winners_curse(runs: pd.DataFrame, winner: str, selection_n: int) -> pd.DataFrame:
    """How much choosing flattered the winner: its mean on the seeds that chose it against fresh seeds
    (08_model_comparison; ``benchmarks/accuracy.py`` reports the same table).

    Per score — ``val_share``, the validation share of the oracle's R² that the choice read, and ``share``, the test
    share it never read — and per preset, plus the presets' average (what the choice ranked): the winner's mean on
    the selection seeds and on the confirmation seeds at the selection's size, the gap, and its standard error from
    both sides, sqrt(se_sel² + se_conf²) with se = sd / sqrt(seeds).

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per run: ``model``, ``preset``, ``phase`` ("selection" or "confirmation"), ``n``, ``seed``,
        ``val_share`` and ``share``.
    winner : str
        The chosen model's name.
    selection_n : int
        The number of courses the selection ran at; the confirmation runs at that size are compared.

    Returns
    -------
    pandas.DataFrame
        Columns ``score``, ``preset`` (each preset, then ``"average"``), ``selection``, ``confirmation``, ``gap``
        and ``se``.
    """
    chosen = runs[(runs["model"] == winner) & (runs["n"] == selection_n)]
    averaged = chosen.groupby(["phase", "seed"], as_index=False)[["val_share", "share"]].mean().assign(
        preset="average")
    rows = []
    for score in ("val_share", "share"):
        for preset, part in [*chosen.groupby("preset", sort=False), ("average", averaged)]:
            stats_by_phase = part.groupby("phase")[score].agg(["mean", "sem"])
            selected, fresh = stats_by_phase.loc["selection"], stats_by_phase.loc["confirmation"]
            rows.append({"score": score, "preset": preset, "selection": selected["mean"],
                         "confirmation": fresh["mean"], "gap": selected["mean"] - fresh["mean"],
                         "se": float(np.hypot(selected["sem"], fresh["sem"]))})
    return pd.DataFrame(rows)


def against_baseline(runs: pd.DataFrame, baseline: str, candidate: str) -> pd.DataFrame:
    """``candidate`` minus ``baseline``, paired by seed at every preset and size: one family, Holm-corrected
    (08_model_comparison; ``benchmarks/accuracy.py`` reports the same table).

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per run with ``model``, ``preset``, ``n``, ``seed`` and ``share``, from one phase.
    baseline, candidate : str
        The two models' names.

    Returns
    -------
    pandas.DataFrame
        :func:`paired_comparison`'s table with a ``setting`` column, "preset, n = size".
    """
    settings = runs.assign(setting=runs["preset"] + ", n = " + runs["n"].astype(str))
    return paired_comparison(settings, [(baseline, candidate)], by="setting")


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MSE, RMSE and R², computed in the predictions' own precision as the original did.

    Parameters
    ----------
    y_true : numpy.ndarray
        Shape (courses,): observed effectiveness.
    y_pred : numpy.ndarray
        Shape (courses,): predicted effectiveness.

    Returns
    -------
    dict of str to float
        ``mse``, ``rmse`` and ``r2``.
    """
    mse = mean_squared_error(y_true, y_pred)
    return {"mse": float(mse), "rmse": float(np.sqrt(mse)), "r2": float(r2_score(y_true, y_pred))}


def count_features(courses: pd.Series | Sequence[Sequence[str]], modules: Sequence[str]) -> np.ndarray:
    """How often each module occurs, plus the course length: everything an order-blind model sees."""
    column = {m: j for j, m in enumerate(modules)}
    features = np.zeros((len(courses), len(modules) + 1))
    for row, course in enumerate(courses):
        for module in course:
            if module in column:
                features[row, column[module]] += 1
        features[row, -1] = len(course)
    return features


def count_baseline(train: pd.DataFrame, modules: Sequence[str], alpha: float = 1.0) -> Pipeline:
    """Ridge on module counts and length, fitted on ``train``: the order-blind yardstick (04_evaluation).

    The CLI fits it on train + validation courses, all the data the network learns from.

    Parameters
    ----------
    train : pandas.DataFrame
        Courses with ``modules`` and ``effectiveness`` columns.
    modules : sequence of str
        Modules to count, one feature each (e.g. ``vocab.modules``); others count only towards the length.
    alpha : float, default=1.0
        Ridge's regularisation strength.

    Returns
    -------
    sklearn.pipeline.Pipeline
        The fitted pipeline; its ``predict`` takes a column of courses (e.g. ``test["modules"]``) and returns
        shape (courses,).
    """
    features = FunctionTransformer(count_features, kw_args={"modules": tuple(modules)})
    return make_pipeline(features, Ridge(alpha=alpha)).fit(train["modules"], train["effectiveness"].to_numpy())


def draw_training_set(pool: pd.DataFrame, n: int, seed: int, val_share: float = 0.2) -> dict[str, pd.DataFrame]:
    """``n`` courses drawn from ``pool`` (``random_state=seed``), the first ``val_share`` kept for early stopping.

    One cell of :func:`learning_curve`'s grid (07_transfer_learning).

    Parameters
    ----------
    pool : pandas.DataFrame
        Courses to draw from.
    n : int
        How many to draw; at most ``len(pool)``.
    seed : int
        ``random_state`` of the draw.
    val_share : float, default=0.2
        Share of the drawn courses kept for validation, rounded, at least one course.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``{"train": ..., "val": ...}``, as the training functions take them; the index runs 0 to ``n - 1`` over
        both, validation rows first.

    Raises
    ------
    ValueError
        If ``n`` exceeds ``len(pool)``.
    """
    if n > len(pool):
        raise ValueError(f"training size {n} exceeds the {len(pool)} courses in the pool")
    drawn = pool.sample(n, random_state=seed).reset_index(drop=True)
    n_val = max(1, round(n * val_share))
    return {"train": drawn.iloc[n_val:], "val": drawn.iloc[:n_val]}


def learning_curve(fit: Callable[[dict[str, pd.DataFrame], int], SequenceModel], pool: pd.DataFrame,
                   test: pd.DataFrame, vocab: Vocabulary, sizes: Sequence[int], seeds: Sequence[int],
                   val_share: float = 0.2) -> pd.DataFrame:
    """Test R² of ``fit`` trained on ``n`` courses drawn from ``pool``, for every size and seed (07_transfer_learning).

    Each draw takes ``n`` courses at random (``random_state=seed``), keeps ``val_share`` of them for early stopping,
    and scores on the fixed ``test`` table, so sizes and seeds differ only in what the model learns from.

    Parameters
    ----------
    fit : callable
        ``fit(parts, seed) -> model``: trains on a ``{"train": ..., "val": ...}`` dict from
        :func:`draw_training_set` and returns a :class:`SequenceModel`.
    pool : pandas.DataFrame
        Courses to draw the training sets from.
    test : pandas.DataFrame
        Fixed test courses with ``modules`` and ``effectiveness`` columns.
    vocab : Vocabulary
        The vocabulary the models use.
    sizes : sequence of int
        Numbers of courses ``n`` to draw (training plus validation), each at most ``len(pool)``.
    seeds : sequence of int
        Seeds of the draws, also passed to ``fit``.
    val_share : float, default=0.2
        Share of each draw kept for early stopping.

    Returns
    -------
    pandas.DataFrame
        One row per size and seed (sizes outer), columns ``n``, ``seed`` and ``r2``.

    Raises
    ------
    ValueError
        If a size exceeds ``len(pool)``.
    """
    too_big = [n for n in sizes if n > len(pool)]
    if too_big:
        raise ValueError(f"training size(s) {too_big} exceed the {len(pool)} courses in the pool")
    rows = []
    for n in sizes:
        for seed in seeds:
            model = fit(draw_training_set(pool, n, seed, val_share), seed)
            r2 = r2_score(test["effectiveness"], predict(model, test, vocab, batch_size=256))
            rows.append({"n": n, "seed": seed, "r2": float(r2)})
    return pd.DataFrame(rows)


def learning_curve_summary(runs: pd.DataFrame | list[dict]) -> pd.DataFrame:
    """Mean and sample sd of R² over seeds, per starting point and size, in the order the starts first appear.

    Parameters
    ----------
    runs : pandas.DataFrame or list of dict
        One run per row (or dict) with ``start``, ``n`` and ``r2``, e.g. :func:`learning_curve`'s rows with a
        ``start`` column added.

    Returns
    -------
    pandas.DataFrame
        One row per start and size, columns ``start``, ``n``, ``mean``, ``sd`` (NaN for a single seed) and ``seeds``.
    """
    runs = pd.DataFrame(runs)
    summary = runs.groupby(["start", "n"], sort=False)["r2"].agg(mean="mean", sd="std", seeds="count")
    return summary.reset_index()


def courses_needed(summary: pd.DataFrame, baseline: str = "random") -> pd.Series:
    """Per start: the fewest courses whose mean R² reaches ``baseline``'s mean R² at its largest size (NaN: never).

    The transfer-learning target reads this against that largest size (07_transfer_learning).

    Parameters
    ----------
    summary : pandas.DataFrame
        Columns ``start``, ``n`` and ``mean``, as from :func:`learning_curve_summary`.
    baseline : str, default="random"
        The start whose mean R² at its largest size sets the bar.

    Returns
    -------
    pandas.Series
        Indexed by start, in the order the starts first appear: the smallest ``n`` whose mean reaches the bar, NaN
        where none does; named ``"courses to reach {baseline} at n={largest size}"``.
    """
    reference = summary[summary["start"] == baseline].sort_values("n").iloc[-1]
    reached = summary[summary["mean"] >= reference["mean"]]
    needed = reached.groupby("start", sort=False)["n"].min()
    return needed.reindex(summary["start"].unique()).rename(f"courses to reach {baseline} at n={reference['n']}")

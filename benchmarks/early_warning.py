"""Session by session: the early-warning targets behind notebook 12 (issue 31).

For each seed: simulate 5,000 clinic patients (routine care, a PHQ-9-like score per session) and split them by
patient 60/20/20; train the (module, score) sequence model with early stopping on the validation patients; fit the
baselines on the training patients (intake score, change so far, a logistic regression on the scores so far, the
"not on track" rule of the expected recovery curves); compute the truth's chance of reliable improvement after every
session k = 1 … 8 of every test patient (Monte Carlo, 400 draws each); and score every predictor at each k on the
test patients still coming — AUROC, balanced accuracy, Brier score and calibration error (10 equal-width bins) —
beside the truth. Also the calibration figures of the clinic (every figure of issue 31 item 1) on the same 5,000
patients, and the sequence model's AUROC minus the linear model's at each k, a paired test over seeds with Holm's
correction across k.

    python benchmarks/early_warning.py            # 5 seeds × 5,000 patients, about 10 min on 2 CPU cores
    python benchmarks/early_warning.py --quick    # one seed, 800 patients: checks the pipeline runs

Writes ``early_warning.json`` (every seed's tables) and ``early_warning.md`` (means and targets) into ``--out``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from common import write_results
from scipy import stats

from therapy_utils import clinic, early_warning, sessions
from therapy_utils.data import Vocabulary
from therapy_utils.evaluate import by_session, format_mean_sd, paired_comparison

RESULTS = Path(__file__).resolve().parent / "results"
SEEDS = (0, 1, 2, 3, 4)
TRUTH_DRAWS = 400
MIN_RUNNING = 200  # the AUROC target applies at k ≥ 3 where at least this many test patients are still coming
# tolerances of the calibration figures (tests/test_clinic.py states the same, with their sources)
PUBLISHED = {"mean sessions, finished": (6.8, 0.3), "recovery, finished cases": (0.508, 0.03),
             "reliable improvement, finished": (0.664, 0.03), "ended early, started": (0.197, 0.03)}


def run_seed(seed: int, n: int) -> dict:
    """Every predictor's scores by session on one seed's test patients, and the clinic's calibration figures."""
    table = clinic.simulate_clinic(clinic.CLINIC, n, seed)
    vocab = Vocabulary(clinic.CLINIC.flowchart.modules)
    courses = sessions.session_courses(table, vocab)
    started = time.perf_counter()
    compared = early_warning.compare_predictors(courses, len(vocab), seed, clinic.CLINIC, truth_draws=TRUTH_DRAWS)
    seconds = time.perf_counter() - started
    scores = pd.concat([by_session.scores_by_session(compared.chances, compared.test, rule=rule, rules=compared.rules)
                        .assign(dropouts=rule) for rule in by_session.DROPOUT_RULES])
    return {"seed": seed, "scores": scores.assign(seed=seed).to_dict("records"),
            "figures": clinic.calibration_figures(table).to_dict(), "epochs": len(compared.history),
            "seconds": seconds}


def auroc_targets(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean AUROC by k of the sequence model and the truth, the gap with a 95 % t interval over seeds, the running
    count, and whether the target (gap ≤ 0.03 where k ≥ 3 and ≥ 200 running) is met; calibration error likewise."""
    main = scores[scores["dropouts"] == "last score"]
    wide = main.pivot_table(index=["seed", "session"], columns="predictor", values=["auroc", "calibration error"])
    running = main[main["predictor"] == "truth"].groupby("session")["running"].mean()
    rows = []
    for k, table in wide.groupby(level="session"):
        gap = table[("auroc", "truth")] - table[("auroc", "sequence model")]
        extra = table[("calibration error", "sequence model")] - table[("calibration error", "truth")]
        half = stats.t.ppf(0.975, len(gap) - 1) * gap.std(ddof=1) / np.sqrt(len(gap)) if len(gap) > 1 else np.nan
        applies = k >= 3 and running[k] >= MIN_RUNNING
        rows.append({"session": k, "running": running[k], "truth auroc": table[("auroc", "truth")].mean(),
                     "model auroc": table[("auroc", "sequence model")].mean(), "gap": gap.mean(),
                     "gap ci low": gap.mean() - half, "gap ci high": gap.mean() + half,
                     "extra calibration error": extra.mean(), "target applies": applies,
                     "auroc met": bool(gap.mean() <= 0.03) if applies else None,
                     "calibration met": bool(extra.mean() <= 0.02)})
    return pd.DataFrame(rows)


def markdown(runs: list[dict], scores: pd.DataFrame, targets: pd.DataFrame, tests: pd.DataFrame | None) -> str:
    """The results as the markdown table the README links to."""
    figures = pd.DataFrame([r["figures"] for r in runs])
    lines = ["# Early warning (issue 31)", "", f"{len(runs)} seed(s); mean ± sd over seeds.", "",
             "## Calibration figures", "", "| figure | simulated | published | tolerance | met? |",
             "|---|---|---|---|---|"]
    for name, values in figures.items():
        published, tolerance = PUBLISHED.get(name, (None, None))
        met = "" if published is None else ("yes" if abs(values.mean() - published) <= tolerance else "no")
        lines.append(f"| {name} | {format_mean_sd(values.mean(), values.std(ddof=1) if len(values) > 1 else None)} | "
                     f"{'' if published is None else published} | {'' if tolerance is None else f'±{tolerance}'} | "
                     f"{met} |")
    lines += ["", "## Sequence model against the truth (dropouts: last score)", "",
              "| k | running | truth AUROC | model AUROC | gap (95% CI) | calibration error above truth's | "
              "AUROC target | calibration target |", "|---|---|---|---|---|---|---|---|"]
    for row in targets.itertuples():
        lines.append(f"| {row.session} | {row.running:.0f} | {row._3:.3f} | {row._4:.3f} | {row.gap:.3f} "
                     f"({row._6:.3f}, {row._7:.3f}) | {row._8:.3f} | "
                     f"{'n/a' if row._10 is None else 'met' if row._10 else 'missed'} | "
                     f"{'met' if row._11 else 'missed'} |")
    main = scores[scores["dropouts"] == "last score"]
    for metric in ("auroc", "balanced accuracy", "brier", "calibration error"):
        table = main.groupby(["predictor", "session"])[metric].mean().unstack("session")
        lines += ["", f"## {metric} by session (mean over seeds)", "", table.to_markdown(floatfmt=".3f")]
    if tests is not None:
        lines += ["", "## Sequence model minus scores-so-far logistic regression, AUROC (paired over seeds, Holm "
                  "across k)", "", tests.to_markdown(index=False, floatfmt=".3g")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 800 patients")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    seeds, n = ((0,), 800) if args.quick else (SEEDS, 5000)
    runs = []
    for seed in seeds:
        started = time.perf_counter()
        runs.append(run_seed(seed, n))
        print(f"seed {seed}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    scores = pd.DataFrame([row for run in runs for row in run["scores"]])
    targets = auroc_targets(scores)
    main_scores = scores[scores["dropouts"] == "last score"].assign(model=lambda t: t["predictor"])
    tests = (paired_comparison(main_scores, [("scores so far", "sequence model")], value="auroc", by="session")
             if len(seeds) > 1 else None)
    results = {"seeds": list(seeds), "patients": n, "truth_draws": TRUTH_DRAWS, "runs": runs,
               "targets": targets.to_dict("records"),
               "paired_tests": None if tests is None else tests.to_dict("records"),
               "machine": {"python": platform.python_version(), "torch": torch.__version__, "threads": 1}}
    write_results(args.out, "early_warning", args.quick, results, markdown(runs, scores, targets, tests))


if __name__ == "__main__":
    main()

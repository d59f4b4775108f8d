"""Accuracy benchmark behind notebook 08: which sequence models get close to the oracle, and with how many courses.

For each preset, seed and model: simulate ``n`` courses with that seed, split them as the original did (64/16/20,
random_state 42), train with that seed, and score R² on the test courses against the oracle's R² (the true expected
effectiveness) on the same courses. Only the validation split guides training (early stopping, best weights).

    python benchmarks/accuracy.py            # full run: comparison at n = 500, learning curves to 20,000 (~1 h)
    python benchmarks/accuracy.py --quick    # CI-sized smoke run, about a minute

Writes ``accuracy.json`` (every run) and ``accuracy.md`` (the tables) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from common import write_results
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

from therapy_utils import data, evaluate, simulate, train, truth
from therapy_utils.compare import format_mean_sd
from therapy_utils.model import BEST_CONFIG, ModelConfig

RESULTS = Path(__file__).resolve().parent / "results"
SEEDS = (42, 43, 44, 45, 46)  # 42 first: `run --model best` reproduces that row
PRESETS = ("original", "realistic")
CURVE_SIZES = (250, 500, 1000, 2000, 5000, 10000, 20000)
CURVE_SEEDS = {n: SEEDS[:3] if n <= 2000 else SEEDS[:1] for n in CURVE_SIZES}  # big runs are slow: fewer seeds

RESTORE = train.TrainConfig(restore_best=True)
SINGLE = replace(BEST_CONFIG, ensemble_size=1)
# name → (model config, train config); None marks the ridge baselines
CANDIDATES: dict[str, tuple[ModelConfig, train.TrainConfig] | None] = {
    "original (parity)": train.NAMED_MODELS["original"],
    "original + best-weights restore": (ModelConfig(), RESTORE),
    "LSTM reversed": (ModelConfig(reverse=True), RESTORE),
    "LSTM reversed, last + sum": (ModelConfig(reverse=True, pooling="last+sum"), RESTORE),
    "LSTM bidirectional, last + mean": (ModelConfig(bidirectional=True, pooling="last+mean"), RESTORE),
    "LSTM, attention pooling": (ModelConfig(pooling="attention"), RESTORE),
    "LSTM, hidden 128": (ModelConfig(hidden_dim=128), RESTORE),
    "GRU bidirectional, last + mean": (ModelConfig(architecture="gru", bidirectional=True, pooling="last+mean"),
                                       RESTORE),
    "Transformer (2 layers, positions, mean)": (ModelConfig(architecture="transformer", positional=True,
                                                            pooling="mean", num_layers=2), RESTORE),
    "CNN, no positions": (replace(SINGLE, positional=False), train.BEST_TRAIN_CONFIG),
    "CNN, no dropout": (replace(SINGLE, dropout=0.0), train.BEST_TRAIN_CONFIG),
    "CNN, wider (32/64)": (replace(SINGLE, embedding_dim=32, hidden_dim=64), train.BEST_TRAIN_CONFIG),
    "CNN, batch 16, lr 1e-3": (SINGLE, RESTORE),
    "CNN (one model of the best)": (SINGLE, train.BEST_TRAIN_CONFIG),
    "best: 5 CNNs averaged": train.NAMED_MODELS["best"],
    "ridge on module counts + length": None,
    "ridge on the generator's features (reference, not learned)": None,
}
CURVE_MODELS = ("best: 5 CNNs averaged", "original + best-weights restore", "ridge on module counts + length")
CURVE_MAX_N = {"original + best-weights restore": 2000}  # batch-16 LSTM training beyond this takes too long


def generator_features(params: simulate.SimulatorParams, courses: pd.Series) -> np.ndarray:
    """What the simulator scores: motif occurrences (original: the opening), module counts, length and fatigue."""
    matrix, lengths = simulate.courses_to_matrix(courses, params.modules)
    if params.preset == "original":
        index = {m: i for i, m in enumerate(params.modules)}
        motifs = np.stack([(matrix[:, :3] == [index[m] for m in motif]).all(axis=1) for motif in params.motifs], 1)
    else:
        motifs = simulate.motif_counts(matrix, params)
    counts = evaluate.count_features(courses, params.modules)
    over = lengths - params.fatigue_threshold
    return np.column_stack([motifs, counts, over > 0, np.maximum(over, 0)]).astype(float)


def score_one(name: str, preset: str, n: int, seed: int) -> dict:
    """Train and test one candidate on one simulated data set; R², oracle R², their ratio and the time taken."""
    params = simulate.preset_params(preset)
    courses = simulate.simulate_courses(params, n, seed)
    parts = data.split_courses(courses)
    test = parts["test"]
    y_test = test["effectiveness"].to_numpy()
    oracle = r2_score(y_test, truth.expected_effectiveness(params, test["modules"]))
    seen = pd.concat([parts["train"], parts["val"]])  # ridge: no early stopping, so it learns from both
    started = time.perf_counter()
    if name.startswith("ridge on module counts"):
        predicted = evaluate.count_baseline(seen, params.modules).predict(test["modules"])
    elif name.startswith("ridge on the generator"):
        ridge = RidgeCV(alphas=np.logspace(-3, 2, 11)).fit(generator_features(params, seen["modules"]),
                                                           seen["effectiveness"])
        predicted = ridge.predict(generator_features(params, test["modules"]))
    else:
        model_config, train_config = CANDIDATES[name]
        vocab = data.Vocabulary.from_courses(courses["modules"])
        model, _ = train.fit_new_model(parts, vocab, model_config, train_config, seed, device="cpu", progress=False)
        predicted = evaluate.predict(model, test, vocab, batch_size=256)
    seconds = time.perf_counter() - started
    r2 = r2_score(y_test, predicted)
    return {"model": name, "preset": preset, "n": n, "seed": seed, "r2": float(r2), "oracle_r2": float(oracle),
            "share": float(r2 / oracle), "train_seconds": round(seconds, 2)}


def _score_job(job: tuple) -> dict:
    """One (model, preset, n, seed, part) job, in a worker with one thread: small models train fastest that way."""
    torch.set_num_threads(1)
    name, preset, n, seed, part = job
    return score_one(name, preset, n, seed) | {"part": part}


def jobs_for(quick: bool) -> list[tuple]:
    """The comparison at n = 500 (every candidate, 5 seeds) and the learning curves."""
    candidates = ["CNN (one model of the best)", "ridge on module counts + length"] if quick else list(CANDIDATES)
    seeds = SEEDS[:1] if quick else SEEDS
    jobs = [(name, preset, 250 if quick else 500, seed, "comparison")
            for preset in PRESETS for name in candidates for seed in seeds]
    for n in (() if quick else CURVE_SIZES):  # each size in front: the slowest runs first, no idle worker at the end
        jobs[:0] = [(name, preset, n, seed, "curve") for preset in PRESETS
                    for name in CURVE_MODELS if n <= CURVE_MAX_N.get(name, n) for seed in CURVE_SEEDS[n]]
    return jobs


def run(quick: bool, workers: int) -> list[dict]:
    """Every job, ``workers`` at a time (each on one thread); rows come back in job order."""
    jobs = jobs_for(quick)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        rows = []
        for row in pool.map(_score_job, jobs):
            rows.append(row)
            print(f"[{len(rows)}/{len(jobs)}] {row['preset']:>9} n={row['n']:<6} seed {row['seed']} "
                  f"{row['model']:<58} share {row['share']:.3f}", flush=True)
    return rows


def summarise(rows: list[dict], part: str) -> pd.DataFrame:
    """Mean ± sd over seeds of R² and share of the oracle, per model (and size)."""
    table = pd.DataFrame(rows)
    table = table[table["part"] == part]
    keys = ["preset", "model", "n"]
    return table.groupby(keys, sort=False).agg(r2=("r2", "mean"), r2_sd=("r2", "std"), share=("share", "mean"),
                                               share_sd=("share", "std"), seeds=("seed", "count"),
                                               train_seconds=("train_seconds", "median")).reset_index()


def markdown(results: dict) -> str:
    """The comparison table per preset, then the learning curve of shares."""
    lines = [f"# Accuracy benchmark\n\n{results['machine']}; {results['seconds']:.0f} s in all.\n"]
    for preset, table in summarise(results["runs"], "comparison").groupby("preset", sort=False):
        lines += [f"\n## {preset} preset, n = {int(table['n'].iloc[0])}, mean ± sd over {table['seeds'].max()} seeds\n",
                  "| model | test R² | share of oracle | train s (median) |", "|---|---:|---:|---:|"]
        lines += [f"| {r.model} | {format_mean_sd(r.r2, r.r2_sd)} | {format_mean_sd(r.share, r.share_sd)} | "
                  f"{r.train_seconds:.1f} |" for r in table.itertuples()]
    curve = summarise(results["runs"], "curve")
    if len(curve):
        lines += ["\n## Learning curve: share of the oracle's R² (mean over seeds)\n"]
        pivot = curve.pivot_table(index=["preset", "model"], columns="n", values="share", sort=False)
        pivot = pivot[sorted(pivot.columns)]
        lines += ["| preset | model | " + " | ".join(f"n = {n}" for n in pivot.columns) + " |",
                  "|---|---|" + "---:|" * len(pivot.columns)]
        lines += [f"| {p} | {m} | " + " | ".join(f"{v:.3f}" for v in row) + " |" for (p, m), row in pivot.iterrows()]
        lines.append(f"\nSeeds per size: { {n: len(s) for n, s in CURVE_SEEDS.items()} }.")
    return "\n".join(lines).replace("nan", "–") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table-only", action="store_true", help="rewrite accuracy.md from the saved JSON")
    parser.add_argument("--quick", action="store_true", help="two models, one seed, n = 250: checks the pipeline")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for accuracy.json and accuracy.md")
    parser.add_argument("--workers", type=int, default=2, help="parallel training processes, one thread each")
    args = parser.parse_args(argv)
    if args.table_only:
        (args.out / "accuracy.md").write_text(markdown(json.loads((args.out / "accuracy.json").read_text())))
        return 0
    started = time.perf_counter()
    rows = run(args.quick, args.workers)
    results = {"quick": args.quick, "seconds": round(time.perf_counter() - started, 1),
               "machine": f"Python {platform.python_version()}, torch {torch.__version__}, {args.workers} workers "
                          f"of one thread, {platform.machine()}",
               "best_config": asdict(BEST_CONFIG), "best_train_config": asdict(train.BEST_TRAIN_CONFIG), "runs": rows}
    write_results(args.out, "accuracy", args.quick, results, markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Does order matter? The shuffled-order control behind notebook 08 (issue 9).

For each variant and seed: simulate courses with that seed, split them as the original did, and score on the test
courses (R²) the same model trained on the real courses and on courses whose modules are shuffled within each course
(train, validation and test alike), beside the order-blind ridge and the oracle. Variants: the original preset, the
realistic preset, and the realistic preset with its order effect (the motifs) switched off, where shuffling should
cost nothing.

    python benchmarks/order.py            # 3 variants × 5 seeds, about 5 min on 2 CPU cores
    python benchmarks/order.py --quick    # one seed, small data: checks the pipeline runs

Writes ``order.json`` (every run) and ``order.md`` (mean ± sd) into ``--out``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch
from common import write_results
from sklearn.metrics import r2_score

from therapy_utils import data, evaluate, simulate, train, truth
from therapy_utils.evaluate import format_mean_sd
from therapy_utils.model import CNN_ENSEMBLE_CONFIG

RESULTS = Path(__file__).resolve().parent / "results"
SEEDS = (0, 1, 2, 3, 4)
# name → (preset overrides, courses)
VARIANTS: dict[str, tuple[str, dict, int]] = {
    "original preset": ("original", {}, 500),
    "realistic preset": ("realistic", {}, 2000),
    "realistic, order effects off (no motifs)": ("realistic", {"motif_boost": 0.0}, 2000),
}
# One CNN of the five-CNN ensemble (notebooks 08-11): it reads order through filters and positions, trains in seconds.
MODEL = (replace(CNN_ENSEMBLE_CONFIG, ensemble_size=1), train.BEST_TRAIN_CONFIG)


def score_variant(variant: str, seed: int, n: int | None = None) -> dict:
    """Order-aware, shuffled and ridge R² (and the oracle's) for one variant and seed."""
    preset, overrides, default_n = VARIANTS[variant]
    params = simulate.preset_params(preset, **overrides)
    courses = simulate.simulate_courses(params, n or default_n, seed)
    vocab = data.Vocabulary.from_courses(courses["modules"])
    parts = data.split_courses(courses)
    shuffled = {name: data.shuffle_within_courses(part, seed * 10 + i) for i, (name, part) in enumerate(parts.items())}
    y_test = parts["test"]["effectiveness"].to_numpy()
    row = {"variant": variant, "seed": seed, "n": len(courses),
           "oracle_r2": r2_score(y_test, truth.expected_effectiveness(params, parts["test"]["modules"]))}
    for name, table in (("ordered_r2", parts), ("shuffled_r2", shuffled)):
        model, _ = train.fit_new_model(table, vocab, *MODEL, seed, device="cpu", progress=False)
        row[name] = r2_score(y_test, evaluate.predict(model, table["test"], vocab, batch_size=256))
    seen = pd.concat([parts["train"], parts["val"]])
    row["ridge_r2"] = r2_score(y_test, evaluate.count_baseline(seen, params.modules).predict(parts["test"]["modules"]))
    return row


def markdown_table(rows: list[dict]) -> str:
    """Mean ± sd over seeds per variant."""
    table = pd.DataFrame(rows)
    columns = {"ordered_r2": "order-aware model", "shuffled_r2": "same model, shuffled courses",
               "ridge_r2": "ridge on counts + length", "oracle_r2": "oracle"}
    lines = ["| data | " + " | ".join(columns.values()) + " |", "|---|" + "---:|" * len(columns)]
    for variant, group in table.groupby("variant", sort=False):
        cells = [format_mean_sd(group[c].mean(), group[c].std(ddof=1) if len(group) > 1 else None) for c in columns]
        lines.append(f"| {variant} (n = {group['n'].iloc[0]:,}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\nTest R², mean ± sd over seeds {sorted(table['seed'].unique().tolist())}.\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 300 courses per variant")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for order.json and order.md")
    args = parser.parse_args(argv)
    started, rows = time.perf_counter(), []
    for variant in VARIANTS:
        for seed in SEEDS[:1] if args.quick else SEEDS:
            rows.append(score_variant(variant, seed, 300 if args.quick else None))
            print(f"{variant:>42} seed {seed}: ordered {rows[-1]['ordered_r2']:.3f} "
                  f"shuffled {rows[-1]['shuffled_r2']:.3f}", flush=True)
    results = {"quick": args.quick, "seconds": round(time.perf_counter() - started, 1), "rows": rows,
               "machine": {"python": platform.python_version(), "torch": torch.__version__,
                           "threads": torch.get_num_threads()}}
    write_results(args.out, "order", args.quick, results, markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

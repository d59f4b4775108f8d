"""Transfer-learning benchmark behind notebook 07: learning curves from four starting points.

Pre-trains on a large realistic population (the notebook's own pre-trained model, same seed), then learns a
related task — a population whose modules work differently — from n courses, for several n and seeds.

    python benchmarks/transfer.py            # full run, about 15 min on 2 CPU cores
    python benchmarks/transfer.py --quick    # smoke run on the committed pre-trained model, seconds

Writes ``transfer.json`` (every run, plus the summary) and ``transfer.md`` (the table) into ``--out``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from common import write_results

from therapy_utils import evaluate, train, truth
from therapy_utils.compare import format_mean_sd

RESULTS = Path(__file__).resolve().parent / "results"
SHIPPED_PRETRAINED = Path(__file__).resolve().parents[1] / "notebooks" / "checkpoints" / "transfer_pretrained"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one seed: checks the pipeline runs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for transfer.json and transfer.md")
    return parser.parse_args(argv)


def run(quick: bool, checkpoint_dir: Path) -> dict:
    """Pre-train (or load), then every start × size × seed; returns the JSON-ready results."""
    setup = train.TRANSFER_SETUP
    sizes = (50,) if quick else setup.sizes
    seeds = (0,) if quick else setup.seeds
    source = setup.source()
    started = time.perf_counter()
    pretrained, vocab, _ = train.fit_or_load(source, checkpoint_dir, setup.model_config, setup.pretrain_config,
                                             seed=setup.train_seed, progress=False)
    pretrain_seconds = time.perf_counter() - started
    pool, test = setup.target()
    rows = []
    for start in train.TRANSFER_STARTS:
        def fit(parts, seed, start=start):
            return train.fit_transfer(start, parts, vocab, setup.train_config_for(start), seed, pretrained,
                                      progress=False)[0]
        curve = evaluate.learning_curve(fit, pool, test, vocab, sizes, seeds)
        rows += curve.assign(start=start).to_dict("records")
        print(f"{start:>22}: " + "  ".join(f"n={n} R²={r2:.3f}" for n, r2 in curve.groupby("n")["r2"].mean().items()),
              flush=True)
    oracle = evaluate.regression_metrics(test["effectiveness"].to_numpy(),
                                         truth.expected_effectiveness(setup.target_params(), test["modules"]))["r2"]
    return {"quick": quick, "sizes": list(sizes), "seeds": list(seeds), "oracle_r2": oracle,
            "pretrain_seconds": round(pretrain_seconds, 1), "seconds": round(time.perf_counter() - started, 1),
            "machine": {"python": platform.python_version(), "torch": torch.__version__,
                        "threads": torch.get_num_threads(), "processor": platform.processor() or platform.machine()},
            "runs": rows}


def markdown_table(results: dict) -> str:
    """Mean ± sd of test R² per start and size, as a markdown table."""
    table = evaluate.learning_curve_summary(results["runs"])
    sizes = sorted(table["n"].unique())
    lines = ["| start | " + " | ".join(f"n = {n}" for n in sizes) + " |", "|---|" + "---:|" * len(sizes)]
    for start, group in table.groupby("start", sort=False):
        cells = [format_mean_sd(r.mean, r.sd if r.seeds > 1 else None) for r in group.sort_values("n").itertuples()]
        lines.append(f"| {start} | " + " | ".join(cells) + " |")
    needed = evaluate.courses_needed(table)
    lines += ["", f"Courses needed to reach random initialisation's R² at n = {max(results['sizes'])}:"]
    lines += [f"- {start}: {'not reached' if pd.isna(n) else int(n)}" for start, n in needed.items()]
    lines.append(f"\nOracle R² {results['oracle_r2']:.3f}; seeds {results['seeds']}; {results['seconds']:.0f} s.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        # --quick loads the committed pre-trained model (same recipe; fit_or_load checks it), the full run trains it
        results = run(args.quick, SHIPPED_PRETRAINED if args.quick else Path(scratch) / "pretrained")
    write_results(args.out, "transfer", args.quick, results, markdown_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

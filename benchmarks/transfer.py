"""Transfer-learning benchmark behind notebook 07: learning curves from five starting points.

Pre-trains on a large realistic population (the notebook's own pre-trained model, same seed), then learns a
related task — a population whose modules work differently — from n courses, for several n and seeds.

    python benchmarks/transfer.py            # full run, about 15 min on 2 CPU cores
    python benchmarks/transfer.py --quick    # smoke run on the committed pre-trained model, seconds
    python benchmarks/transfer.py --starts "random, small steps"   # rerun some starts, keep the saved others

Writes ``transfer.json`` (every run, plus the summary) and ``transfer.md`` (the table) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from common import write_results

from therapy_utils import checkpoint, evaluate, truth
from therapy_utils.course import transfer
from therapy_utils.evaluate import format_mean_sd

RESULTS = Path(__file__).resolve().parent / "results"
SHIPPED_PRETRAINED = Path(__file__).resolve().parents[1] / "notebooks" / "checkpoints" / "transfer_pretrained"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one seed: checks the pipeline runs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for transfer.json and transfer.md")
    parser.add_argument("--starts", nargs="+", choices=transfer.TRANSFER_STARTS, default=list(transfer.TRANSFER_STARTS),
                        help="run only these starts; the saved full run's rows for the others are kept")
    args = parser.parse_args(argv)
    if args.quick and len(args.starts) < len(transfer.TRANSFER_STARTS):
        parser.error("--starts merges into a saved full run; it cannot be combined with --quick")
    return args


def run(quick: bool, checkpoint_dir: Path, starts: list[str]) -> dict:
    """Pre-train (or load), then every start × size × seed; returns the JSON-ready results."""
    setup = transfer.TRANSFER_SETUP
    sizes = (50,) if quick else setup.sizes
    seeds = (0,) if quick else setup.seeds
    source = setup.source()
    started = time.perf_counter()
    pretrained, vocab, _ = checkpoint.fit_or_load(checkpoint_dir,
                                                  checkpoint.training_recipe(source, setup.model_config,
                                                                             setup.pretrain_config,
                                                                             seed=setup.train_seed), progress=False)
    pretrain_seconds = time.perf_counter() - started
    pool, test = setup.target()
    rows, seconds_by_start = [], {}
    for start in starts:
        start_began = time.perf_counter()

        def fit(parts, seed, start=start):
            return transfer.fit_transfer(start, parts, vocab, setup.train_config_for(start), seed, pretrained,
                                      progress=False)[0]
        curve = evaluate.learning_curve(fit, pool, test, vocab, sizes, seeds)
        rows += curve.assign(start=start).to_dict("records")
        seconds_by_start[start] = round(time.perf_counter() - start_began, 1)
        print(f"{start:>22}: " + "  ".join(f"n={n} R²={r2:.3f}" for n, r2 in curve.groupby("n")["r2"].mean().items()),
              flush=True)
    oracle = evaluate.regression_metrics(test["effectiveness"].to_numpy(),
                                         truth.expected_effectiveness(setup.target_params(), test["modules"]))["r2"]
    return {"quick": quick, "sizes": list(sizes), "seeds": list(seeds), "oracle_r2": oracle,
            "pretrain_seconds": round(pretrain_seconds, 1), "seconds": round(time.perf_counter() - started, 1),
            "seconds_by_start": seconds_by_start,
            "machine": {"python": platform.python_version(), "torch": torch.__version__,
                        "threads": torch.get_num_threads(), "processor": platform.processor() or platform.machine()},
            "runs": rows}


def merge_into_saved(saved: dict, fresh: dict) -> dict:
    """The saved full run with the freshly run starts' rows replacing theirs (``--starts``).

    Both runs must share sizes, seeds and the machine's thread count, so that their rows are comparable; the total
    ``seconds`` adds the fresh run's starts to the saved run's.
    """
    for key in ("sizes", "seeds", "oracle_r2"):
        if saved[key] != fresh[key]:
            raise ValueError(f"the saved run's {key} {saved[key]} differ from this run's {fresh[key]}; run all starts")
    if saved["machine"]["threads"] != fresh["machine"]["threads"]:
        raise ValueError(f"the saved run used {saved['machine']['threads']} thread(s), this one "
                         f"{fresh['machine']['threads']}; set OMP_NUM_THREADS to match or run all starts")
    rerun = set(fresh["seconds_by_start"])
    kept = [row for row in saved["runs"] if row["start"] not in rerun]
    seconds = dict(saved.get("seconds_by_start", {}), **fresh["seconds_by_start"])
    return {**saved, "seconds": round(saved["seconds"] + sum(fresh["seconds_by_start"].values()), 1),
            "seconds_by_start": seconds, "runs": kept + fresh["runs"]}


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
        results = run(args.quick, SHIPPED_PRETRAINED if args.quick else Path(scratch) / "pretrained", args.starts)
    if len(args.starts) < len(transfer.TRANSFER_STARTS):
        results = merge_into_saved(json.loads((args.out / "transfer.json").read_text()), results)
    write_results(args.out, "transfer", args.quick, results, markdown_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

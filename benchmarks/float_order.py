"""How far does retraining a committed checkpoint move when the float order changes? (issue 15)

Floats are summed in a different order on another CPU (the BLAS picks its kernels by instruction set), with another
thread count, or with PyTorch's generic kernels; the last bits differ, and a training of thousands of steps can
amplify them. For every checkpoint in ``course.checkpoints`` and every setting below, this script trains the
recipe from scratch in a fresh process with that environment and compares what the notebooks report from it — the
test R² and the predictions on the test courses — with the shipped checkpoint. ``tests/test_checkpoints.py`` takes
its tolerances from these measurements.

    python benchmarks/float_order.py                 # every checkpoint × every setting, about 25 min on 2 cores
    python benchmarks/float_order.py --quick         # one small checkpoint, one setting: checks the pipeline
    python benchmarks/float_order.py --only NAME     # one checkpoint, every setting; its rows replace the saved ones

Writes ``float_order.json`` (every run) and ``float_order.md`` (the largest gap per checkpoint) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import write_results

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
CHECKPOINTS = REPO / "notebooks" / "checkpoints"
# name → environment added to this process's: each changes the order in which some floats are summed
SETTINGS: dict[str, dict[str, str]] = {
    "native kernels, 2 threads": {},
    "1 thread": {"OMP_NUM_THREADS": "1"},
    "ATen generic kernels (ATEN_CPU_CAPABILITY=default)": {"ATEN_CPU_CAPABILITY": "default"},
    "MKL_CBWR=COMPATIBLE, 1 thread (CI's second run)": {"MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "1"},
}
QUICK = (["transfer_random"], ["1 thread"])


def measure_one(name: str) -> dict:
    """Retrain ``name`` here (in this process's environment) and compare with the shipped checkpoint."""
    from sklearn.metrics import r2_score

    from therapy_utils import checkpoint, evaluate
    from therapy_utils.course import checkpoints

    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        fresh, vocab, test = checkpoints.refit(name, Path(scratch) / name, Path(scratch), CHECKPOINTS)
        seconds = time.perf_counter() - start
    shipped, _ = checkpoint.load_checkpoint(CHECKPOINTS / name, expected_vocab=vocab)
    y = test["effectiveness"].to_numpy()
    shipped_pred = evaluate.predict(shipped, test, vocab, batch_size=256)
    fresh_pred = evaluate.predict(fresh, test, vocab, batch_size=256)
    weights = max(float((a - b).abs().max()) for a, b in zip(shipped.state_dict().values(),
                                                               fresh.state_dict().values(), strict=True))
    shipped_r2 = float(r2_score(y, checkpoints.point_predictions(shipped, shipped_pred)))  # a quantile model: median
    fresh_r2 = float(r2_score(y, checkpoints.point_predictions(fresh, fresh_pred)))
    return {"checkpoint": name, "shipped_r2": shipped_r2, "fresh_r2": fresh_r2, "r2_gap": abs(shipped_r2 - fresh_r2),
            "max_prediction_gap": float(np.abs(shipped_pred - fresh_pred).max()),
            "mean_prediction_gap": float(np.abs(shipped_pred - fresh_pred).mean()), "max_weight_gap": weights,
            "seconds": seconds}


def run_setting(name: str, setting: str) -> dict:
    """One measurement in a fresh process, so the environment variables take effect when torch loads."""
    env = {**os.environ, **SETTINGS[setting]}
    done = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"{name} under {setting}: {done.stderr.strip().splitlines()[-1]}")
    return {"setting": setting, **json.loads(done.stdout.strip().splitlines()[-1])}


def table(rows: list[dict]) -> str:
    """Largest gaps per checkpoint over the settings, and the tolerances the test uses."""
    lines = ["| checkpoint | shipped test R² | fresh R², min–max over settings | largest R² gap |"
             " largest prediction gap | largest weight gap |", "|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["checkpoint"] for r in rows):
        mine = [r for r in rows if r["checkpoint"] == name]
        fresh = [r["fresh_r2"] for r in mine]
        lines.append(f"| {name} | {mine[0]['shipped_r2']:.4f} | {min(fresh):.4f}–{max(fresh):.4f} | "
                     f"{max(r['r2_gap'] for r in mine):.1e} | {max(r['max_prediction_gap'] for r in mine):.1e} | "
                     f"{max(r['max_weight_gap'] for r in mine):.1e} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small checkpoint, one setting")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the results (default: %(default)s)")
    parser.add_argument("--only", help="measure this checkpoint only and update its rows in the saved results")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one checkpoint in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one)))
        return
    from therapy_utils.course.checkpoints import checkpoint_names

    names, settings = QUICK if args.quick else ([args.only] if args.only else checkpoint_names(), list(SETTINGS))
    saved = json.loads((args.out / "float_order.json").read_text()) if args.only else {"rows": []}
    rows = [row for row in saved["rows"] if row["checkpoint"] != args.only]
    for name in names:
        for setting in settings:
            rows.append(run_setting(name, setting))
            print(f"{name:28s} {setting:50s} R² gap {rows[-1]['r2_gap']:.1e}, "
                  f"prediction gap {rows[-1]['max_prediction_gap']:.1e}", flush=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}"
    results = {"machine": saved.get("machine", machine), "settings": SETTINGS, "rows": rows}
    if args.only:
        results[f"machine for {args.only}"] = machine
    write_results(args.out, "float_order", args.quick, results, table(rows))


if __name__ == "__main__":
    main()

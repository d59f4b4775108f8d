"""Speed benchmark (issue 8): the parity run against the original script, simulation at a million courses,
training throughput of the simple and the fast path, the notebook series, each a median of repeated runs, and the
test suite as CI runs it (issue 15; one run of each of its two passes, from a fresh clone of HEAD) and the quick tier
of `make test-fast` (issue 26).

    python benchmarks/speed.py --original PATH/simulate_train.py   # everything, about 15 min on 2 CPU cores
    python benchmarks/speed.py --quick                               # smoke run of every section, about 1 min
    python benchmarks/speed.py --only training --repeats 3           # one section
    python benchmarks/speed.py --only suite                          # the test suite, about 10 min

The original script is not part of this repository; pass its path to time it side by side (its two
``plt.pause(5)`` calls are made no-ops, figures go to a scratch folder). Writes ``speed.json`` and ``speed.md``
(``speed_quick.*`` with ``--quick``) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from therapy_utils import batching, data, evaluate, simulate, train
from therapy_utils.model import CNN_ENSEMBLE_CONFIG, ModelConfig, build_model

RESULTS = Path(__file__).resolve().parent / "results"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SECTIONS = ("parity", "simulate", "training", "notebooks", "suite")

# Runs a target in a fresh interpreter and reports its own peak memory, so both programs are measured alike.
CHILD = """
import resource, runpy, sys
kind, target, *argv = sys.argv[1:]
sys.argv = [target, *argv]
if kind == "script":  # the original script: same figures, without its two 5-second pauses
    import matplotlib.pyplot as plt
    plt.pause = lambda *args, **kwargs: None
try:
    runpy.run_path(target, run_name="__main__") if kind == "script" else runpy.run_module(target, run_name="__main__")
except SystemExit as stop:
    if stop.code:
        raise
print(f"PEAK_MB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}", file=sys.stderr)
"""

SIMULATE = """
import resource, sys, time
from therapy_utils import simulate
preset, n = sys.argv[1], int(sys.argv[2])
started = time.perf_counter()
courses = simulate.simulate_courses(simulate.preset_params(preset), n, seed=0)
print(f"SECONDS {time.perf_counter() - started:.3f}", file=sys.stderr)
print(f"PEAK_MB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}", file=sys.stderr)
"""

# The two model shapes timed: the original's LSTM and one member of the five-CNN ensemble.
MODELS: dict[str, ModelConfig] = {
    "LSTM 32/64 (original size)": ModelConfig(),
    "CNN 16/32 (one member of the 5-CNN ensemble)": replace(CNN_ENSEMBLE_CONFIG, ensemble_size=1)}
SIMPLE = {"bucketing": False, "batch_size": 256}  # the "plain LSTM with batches of 256"
FAST = {"bucketing": train.FAST_TRAIN_CONFIG.bucketing, "batch_size": train.FAST_TRAIN_CONFIG.batch_size}


def child_run(args: list[str], cwd: Path) -> tuple[float, float, str, str]:
    """Wall seconds, peak MB, stdout and stderr of one fresh-interpreter run."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{args[:4]} failed: {done.stderr.strip().splitlines()[-1:]}")
    return wall, _tagged(done.stderr, "PEAK_MB"), done.stdout, done.stderr


def _tagged(text: str, tag: str) -> float:
    """The number after ``tag`` on the child's stderr."""
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith(tag)))


def _r2_line(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith("R² Score"))


def parity(original: Path | None, repeats: int) -> dict:
    """``run --preset original --seed 42`` against the original script, runs interleaved, medians compared."""
    with tempfile.TemporaryDirectory() as scratch:
        ours_cmd = ["-c", CHILD, "module", "therapy_utils", "run", "--preset", "original", "--seed", "42",
                    "--no-progress", "--out", str(Path(scratch) / "results")]
        ours, theirs = [], []
        for _ in range(repeats):
            ours.append(child_run(ours_cmd, Path(scratch)))
            if original is not None:
                theirs.append(child_run(["-c", CHILD, "script", str(original.resolve())], Path(scratch)))
    result = {"ours_s": statistics.median(r[0] for r in ours), "ours_peak_mb": max(r[1] for r in ours),
              "ours_r2_line": _r2_line(ours[0][2]), "runs": repeats}
    if theirs:
        result.update(original_s=statistics.median(r[0] for r in theirs),
                      original_peak_mb=max(r[1] for r in theirs), original_r2_line=_r2_line(theirs[0][2]))
        result["ratio"] = result["ours_s"] / result["original_s"]
        result["same_numbers"] = result["ours_r2_line"] == result["original_r2_line"]
    return result


def simulate_section(n_realistic: int, n_original: int, repeats: int) -> dict:
    """Seconds and peak memory to simulate each preset, fresh interpreter per run."""
    rows = {}
    for preset, n in (("realistic", n_realistic), ("original", n_original)):
        runs = [child_run(["-c", SIMULATE, preset, str(n)], Path.cwd()) for _ in range(repeats)]
        seconds = statistics.median(_tagged(r[3], "SECONDS") for r in runs)
        rows[preset] = {"n": n, "seconds": seconds, "peak_mb": max(r[1] for r in runs),
                        "courses_per_s": n / seconds}
    return rows


def epoch_seconds(courses, vocab, config: ModelConfig, path: dict, repeats: int) -> tuple[float, float]:
    """Seconds to build the batches' tensors, and the median seconds of one training epoch."""
    model = build_model(len(vocab), config, torch.Generator().manual_seed(0)).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    started = time.perf_counter()
    loader = batching.make_loader(courses, vocab, path["batch_size"], shuffle=True, bucketing=path["bucketing"])
    build = time.perf_counter() - started
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        train._run_epoch(model, loader, torch.device("cpu"), optimizer, weighted=False)
        times.append(time.perf_counter() - started)
    return build, statistics.median(times)


def training_section(sizes: tuple[int, ...], lengths: tuple[int, ...], simple_max: int, repeats: int) -> dict:
    """Courses per second per epoch for both paths, growing n and course length; predictions compared."""
    params = simulate.preset_params("realistic")
    rows = []
    for n in sizes:
        courses = simulate.simulate_courses(params, n, seed=1)
        vocab = data.Vocabulary.from_courses(courses["modules"])
        for name, config in MODELS.items():
            for path_name, path in (("simple", SIMPLE), ("fast", FAST)):
                if path_name == "simple" and n > simple_max:
                    continue
                build, epoch = epoch_seconds(courses, vocab, config, path, repeats if n < 10**6 else 1)
                rows.append({"model": name, "path": path_name, "n": n, "length": "4–20", "build_s": build,
                             "epoch_s": epoch, "courses_per_s": n / epoch})
    for length in lengths:
        courses = simulate.simulate_courses(simulate.preset_params("realistic", min_length=length,
                                                                   max_length=length), 10_000, seed=1)
        vocab = data.Vocabulary.from_courses(courses["modules"])
        for name, config in MODELS.items():
            for path_name, path in (("simple", SIMPLE), ("fast", FAST)):
                build, epoch = epoch_seconds(courses, vocab, config, path, repeats)
                rows.append({"model": name, "path": path_name, "n": 10_000, "length": str(length), "build_s": build,
                             "epoch_s": epoch, "courses_per_s": 10_000 / epoch})
    return {"rows": rows, "same_predictions": prediction_gap(params)}


def prediction_gap(params) -> dict[str, float]:
    """Largest |simple − fast| prediction on the same weights, per model, over 10,000 courses."""
    courses = simulate.simulate_courses(params, 10_000, seed=2)
    vocab = data.Vocabulary.from_courses(courses["modules"])
    gaps = {}
    for name, config in MODELS.items():
        model = build_model(len(vocab), config, torch.Generator().manual_seed(0))
        simple = evaluate.predict(model, courses, vocab, batch_size=SIMPLE["batch_size"])
        fast = evaluate.predict(model, courses, vocab, batch_size=FAST["batch_size"], bucketing=True)
        gaps[name] = float(np.abs(simple - fast).max())
    return gaps


def notebooks_section() -> dict:
    """Each notebook executed in order in a fresh copy of the repository's layout, as CI does: the committed
    checkpoints are there, the data sets of ``notebooks/artifacts/`` are not."""
    import nbformat
    from nbclient import NotebookClient

    seconds = {}
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        shutil.copytree(NOTEBOOKS / "checkpoints", repo / "notebooks" / "checkpoints")
        (repo / "benchmarks").symlink_to(NOTEBOOKS.parent / "benchmarks")
        (Path(scratch) / "shared").symlink_to(NOTEBOOKS.parents[1] / "shared")
        (repo / "notebooks" / "solutions").mkdir()
        solutions = sorted((NOTEBOOKS / "solutions").glob("*_solutions.ipynb"))
        for source in [*sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")), *solutions]:
            notebook = nbformat.read(source, as_version=4)
            started = time.perf_counter()
            NotebookClient(notebook, timeout=600,
                           resources={"metadata": {"path": str(repo / source.parent.relative_to(NOTEBOOKS.parent))}}
                           ).execute()
            seconds[source.relative_to(NOTEBOOKS).as_posix()] = time.perf_counter() - started
    lessons = {name: s for name, s in seconds.items() if "/" not in name}
    solved = {name: s for name, s in seconds.items() if "/" in name}
    return {"seconds": lessons, "total_s": sum(lessons.values()), "solutions_seconds": solved,
            "solutions_total_s": sum(solved.values())}


NBVAL = ["--nbval", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "--nbval-current-env"]
# name → (extra environment, pytest arguments): `make test`'s pytest step and CI's second, float-order run
# The README check is left out of the timed run: it compares the README with the figures this very run produces.
README_CHECK = "tests/test_packaging.py::test_readme_timings_are_the_speed_benchmark_s"
SUITE_RUNS = {"make test": ({}, [*NBVAL, "tests", "notebooks", "--deselect", README_CHECK]),
              "float-order rerun (MKL_CBWR=COMPATIBLE, 1 thread)": (
                  {"MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "1"},
                  [*NBVAL, "tests/test_checkpoints.py", "tests/test_train.py", "notebooks"]),
              "make test-fast (tests not marked slow)": ({}, ["-m", "not slow", "tests", "--deselect", README_CHECK])}


def suite_section() -> dict:
    """The test suite as CI runs it, in a fresh clone of the committed HEAD with ``CI=true``, after installation
    (this interpreter's packages; the clone's own package first on the path); ruff excluded (under 1 s)."""
    repo = NOTEBOOKS.parent
    runs = {}
    with tempfile.TemporaryDirectory() as scratch:
        clone = Path(scratch) / "repo"
        subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
        if (repo.parent / "shared").is_dir():
            (Path(scratch) / "shared").symlink_to(repo.parent / "shared")
        for name, (extra, args) in SUITE_RUNS.items():
            env = {**os.environ, **extra, "PYTHONPATH": str(clone), "CI": "true"}
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider"], cwd=clone,
                                  env=env, capture_output=True, text=True)
            runs[name] = {"seconds": time.perf_counter() - started, "exit_code": done.returncode,
                          "summary": done.stdout.strip().splitlines()[-1]}
    return runs


def markdown(results: dict) -> str:
    """The tables of benchmarks/README.md."""
    lines = ["# Speed benchmark", "", _machine_line(results["machine"]), ""]
    if "parity" in results:
        p = results["parity"]
        lines += [f"## Parity run (median of {p['runs']} runs, fresh interpreter each)", "", *_measured(p),
                  "| program | wall s | peak MB | printed R² |", "|---|---:|---:|---|",
                  f"| `python -m therapy_utils run --preset original --seed 42` | {p['ours_s']:.2f} | "
                  f"{p['ours_peak_mb']:.0f} | {p['ours_r2_line']} |"]
        if "original_s" in p:
            lines += [f"| original script (pauses removed) | {p['original_s']:.2f} | {p['original_peak_mb']:.0f} | "
                      f"{p['original_r2_line']} |", "",
                      f"Ratio ours / original: **{p['ratio']:.2f}** (target ≤ 0.5); same printed numbers: "
                      f"{p['same_numbers']}."]
        lines.append("")
    if "simulate" in results:
        lines += ["## Simulation (median seconds, fresh interpreter each)", "", *_measured(results["simulate"]),
                  "| preset | courses | seconds | courses/s | peak MB (whole process) |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {preset} | {r['n']:,} | {r['seconds']:.2f} | {r['courses_per_s']:,.0f} | {r['peak_mb']:.0f} |"
                  for preset, r in results["simulate"].items() if preset != "measured"]
        lines.append("")
    if "training" in results:
        lines += ["## Training throughput (one epoch, median)", "", *_measured(results["training"]),
                  f"simple = DataLoader padding each batch of {SIMPLE['batch_size']}; fast = "
                  f"`TrainConfig(bucketing=True, batch_size={FAST['batch_size']})`: equal-length batches sliced "
                  "from tensors built once (build time separate).", "",
                  "| model | path | courses | length | build s | epoch s | courses/s |",
                  "|---|---|---:|---|---:|---:|---:|"]
        lines += [f"| {r['model']} | {r['path']} | {r['n']:,} | {r['length']} | {r['build_s']:.2f} | "
                  f"{r['epoch_s']:.3f} | {r['courses_per_s']:,.0f} |" for r in results["training"]["rows"]]
        lines += ["", "Largest |simple − fast| prediction on the same weights (10,000 courses): " + ", ".join(
            f"{name} {gap:.1e}" for name, gap in results["training"]["same_predictions"].items()), ""]
    if "notebooks" in results:
        nb = results["notebooks"]
        lines += ["## Notebook series (executed in order from a fresh copy: committed checkpoints, no saved data)", "",
                  *_measured(nb),
                  "| notebook | seconds |", "|---|---:|"]
        lines += [f"| {name} | {s:.1f} |" for name, s in nb["seconds"].items()]
        lines += [f"| **all** | **{nb['total_s']:.1f}** |"]
        lines += [f"| {name} | {s:.1f} |" for name, s in nb.get("solutions_seconds", {}).items()]
        if "solutions_total_s" in nb:
            lines += [f"| **all solutions** | **{nb['solutions_total_s']:.1f}** |"]
        lines.append("")
    if "suite" in results:
        lines += ["## Test suite (fresh clone, CI=true, after installation)", "", *_measured(results["suite"]),
                  f"The README check (`{README_CHECK}`) is left out: it compares the README with this file.", "",
                  "| run | seconds | result |", "|---|---:|---|"]
        lines += [f"| {name} | {r['seconds']:.0f} | {r['summary'].strip('= ')} |"
                  for name, r in results["suite"].items() if name != "measured"]
        lines.append("")
    return "\n".join(lines) + "\n"


def cpu_model() -> str:
    """The CPU's model name and widest vector unit: timings and float rounding both depend on them."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                platform.processor() or platform.machine())
    return f"{name}, {'AVX-512' if 'avx512f' in info else 'AVX2' if 'avx2' in info else 'no AVX2'}"


def _measured(section: dict) -> list[str]:
    """One line saying when and on which CPU a section was measured (sections are merged from separate runs)."""
    measured = section.get("measured")
    return [f"Measured {measured['date']} on {measured['cpu']}.", ""] if measured else []


def _machine_line(machine: dict) -> str:
    return (f"Python {machine['python']}, torch {machine['torch']} ({machine['threads']} threads), numpy "
            f"{machine['numpy']}, {machine['cpus']} CPUs, {machine['processor']}.")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", type=Path, help="the original simulate_train.py, timed side by side")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement; the median is reported")
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 repeats, no notebooks or suite")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for speed.json and speed.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.original is not None and not args.original.is_file():
        print(f"error: --original {str(args.original)!r} is not a file", file=sys.stderr)
        return 2
    repeats = 2 if args.quick else args.repeats

    results: dict = {"quick": args.quick, "repeats": repeats, "machine": {
        "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
        "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine()}}
    args.out.mkdir(parents=True, exist_ok=True)
    name = "speed_quick" if args.quick else "speed"
    saved = args.out / f"{name}.json"
    # sections run separately are merged into the saved file; each is written as soon as it is measured
    results = {**(json.loads(saved.read_text()) if saved.is_file() else {}), **results}
    sections = {
        "parity": lambda: parity(args.original, repeats),
        "simulate": lambda: simulate_section(20_000 if args.quick else 1_000_000, 2_000 if args.quick else 100_000,
                                             repeats),
        "training": lambda: training_section((1_000, 5_000) if args.quick else (1_000, 10_000, 100_000, 1_000_000),
                                             (5, 10) if args.quick else (5, 10, 20, 40, 60), simple_max=100_000,
                                             repeats=repeats),
        "notebooks": notebooks_section,
        "suite": suite_section}
    for section in args.only:
        if section in ("notebooks", "suite") and args.quick:
            continue
        results[section] = sections[section]()
        results[section]["measured"] = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_model()}
        saved.write_text(json.dumps(results, indent=1))
        (args.out / f"{name}.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

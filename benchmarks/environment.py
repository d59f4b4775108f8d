"""How large the installed environment is, per Python and torch build (issue 26): what a learner's disk must hold.

    python benchmarks/environment.py                          # measure .venv, add it to the results
    python benchmarks/environment.py --venv /path/to/.venv   # another environment (e.g. made with PYTHON=python3.13)

pip takes torch's CPU build where one is offered for the Python in use (on these machines: Python 3.11) and the
CUDA build from PyPI otherwise; the CUDA build brings NVIDIA's libraries with it. Each run measures one environment
(its Python, its torch build tag and its size on disk) and merges it into ``results/environment.json``, keyed by
Python version and build, so the README can quote both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
PROBE = "import platform, torch; print(platform.python_version(), torch.__version__)"


def folder_bytes(folder: Path) -> int:
    """Bytes of every regular file under ``folder`` (symbolic links not followed, so nothing counts twice)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def measure(venv: Path) -> dict:
    """Python version, torch version with its build tag, and size in GB of the environment ``venv``."""
    python = venv / "bin" / "python"
    if not python.is_file():
        raise SystemExit(f"error: {str(venv)!r} has no bin/python; pass the folder that `make install` created")
    probe = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True, check=True).stdout.split()
    python_version, torch_version = probe
    build = torch_version.partition("+")[2] or "default"
    return {"python": python_version, "torch": torch_version, "build": "CPU" if build == "cpu" else f"CUDA ({build})",
            "size_gb": round(folder_bytes(venv) / 1e9, 1)}


def table(environments: list[dict]) -> str:
    """The measured environments as a markdown table."""
    lines = ["| Python | torch | build | environment size |", "|---|---|---|---:|"]
    lines += [f"| {e['python']} | {e['torch']} | {e['build']} | {e['size_gb']:.1f} GB |" for e in environments]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=REPO / ".venv", help="the environment to measure")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for environment.json and environment.md")
    args = parser.parse_args()
    path = args.out / "environment.json"
    saved = json.loads(path.read_text())["environments"] if path.is_file() else []
    entry = measure(args.venv)
    kept = [e for e in saved if (e["python"], e["build"]) != (entry["python"], entry["build"])]
    environments = sorted([*kept, entry], key=lambda e: (e["python"], e["build"]))
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"environments": environments}, indent=1) + "\n")
    (args.out / "environment.md").write_text(table(environments))
    print(table(environments), end="")


if __name__ == "__main__":
    sys.exit(main())

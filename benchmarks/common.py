"""What every benchmark script does at the end: save its results as JSON and a markdown table, and print the table."""

from __future__ import annotations

import json
from pathlib import Path


def write_results(out: Path, name: str, quick: bool, results: dict, table: str) -> None:
    """``out/<name>.json`` and ``out/<name>.md`` (``<name>_quick.*`` for a ``--quick`` run, so saved results stay)."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{name}_quick" if quick else name
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1))
    (out / f"{stem}.md").write_text(table)
    print(table)

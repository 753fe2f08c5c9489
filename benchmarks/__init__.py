"""Benchmarks: each prints its measure as a ratio against a baseline measured in the same run."""

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name, results):
    """Writes a benchmark's figures to benchmarks/results/<name>.json."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")

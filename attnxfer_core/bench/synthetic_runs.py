"""Synthetic run directories, for testing and benchmarking the analysis path without training.

Numbers are drawn at random (seeded): these directories exist to exercise
collection, aggregation, figures and the dashboard — never as results.
"""
from __future__ import annotations

import functools
import json
import random
from pathlib import Path
from typing import Sequence

from attnxfer_core.config import canonical_json, to_dict
from attnxfer_core.evaluation.corruptions import BENCHMARK
from attnxfer_core.experiments.study import PlannedRun
from attnxfer_core.runs.files import atomic_write_json
from attnxfer_core.runs.rundir import CONFIG, FAILURE, METRICS, SUMMARY, run_dir_of

_write = functools.partial(atomic_write_json, durable=False)

METRIC_KEYS = ("top1", "top5", "nll", "ece")


def _metrics(rng: random.Random, top1: float, n: int = 100) -> dict:
    return {"top1": top1, "top5": min(100.0, top1 + 15), "nll": rng.uniform(0.3, 2.0), "ece": rng.uniform(0, 0.1),
            "n": n}


def write_run(run: PlannedRun, rng: random.Random, state: str = "done", corruptions: bool = False,
              epochs: int = 3) -> Path:
    """A run directory in ``state``: done, failed, half (config + torn metrics) or absent."""
    rd = run_dir_of(run.config)
    path = rd.path
    if state == "absent":
        return path
    path.mkdir(parents=True, exist_ok=True)
    for stale in (SUMMARY, FAILURE):
        (path / stale).unlink(missing_ok=True)
    # JSON files are replaced atomically, as real runs write them (readers may be scanning);
    # no fsync: these directories are throwaway, and thousands of fsyncs would dominate a benchmark
    _write(path / CONFIG, {"run_id": run.run_id, "config": to_dict(run.config),
                                  "canonical": canonical_json(run.config)})
    base = rng.uniform(40, 90)
    lines = [json.dumps({"kind": "eval", "epoch": e, "step": 10 * e, **_metrics(rng, base - 10 + 10 * e / epochs)})
             for e in range(1, epochs + 1)]
    if state == "half":
        (path / METRICS).write_text("\n".join(lines[:1]) + "\n{\"kind\": \"ev")  # torn last line
        return path
    (path / METRICS).write_text("\n".join(lines) + "\n")
    if state == "failed":
        _write(path / FAILURE, {"error": "RuntimeError: <script>window.__xss=1</script> went wrong"})
        return path
    final = {"epoch": epochs, "step": 10 * epochs, **_metrics(rng, base)}
    _write(path / SUMMARY, {"status": "done", "run_id": run.run_id, "final": final,
                                   "epochs": epochs, "train_seconds": 1.0, "code_version": "synthetic",
                                   "threads": [2]})
    if corruptions:
        evals = {"clean_subset": _metrics(rng, base)}
        for name in BENCHMARK:
            for severity in range(1, 6):
                evals[f"corruptions/{name}/{severity}"] = {**_metrics(rng, base - 6 * severity),
                                                          "corruption": name, "severity": severity}
        _write(rd.eval_metrics_path(), evals)
    return path


def populate(runs: Sequence[PlannedRun], seed: int = 0, corruptions: bool = False,
             failed: int = 0, half: int = 0, absent: int = 0) -> None:
    """Write every run as done, except the first ``failed``, ``half`` and ``absent`` ones (in that order)."""
    rng = random.Random(seed)
    students = [r for r in runs if r.role == "run"]
    states = ["failed"] * failed + ["half"] * half + ["absent"] * absent
    for run in runs:
        state = "done"
        if run.role == "run":
            index = students.index(run)
            state = states[index] if index < len(states) else "done"
        write_run(run, rng, state, corruptions=corruptions)

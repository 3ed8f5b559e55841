"""``attnxfer bench plan``: how long expanding (and validating) studies takes.

Targets from the study-registry issue: all studies at paper scale in under 2 s,
and a 10,000-run study in under 2 s (expansion).
"""
from __future__ import annotations

import time
from typing import Mapping

from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Study, product, with_values
from attnxfer_core.experiments.validation import validate_runs
from attnxfer_core.modes import Mode


def synthetic_study(n_weights: int = 100, n_lrs: int = 25) -> Study:
    """A 10,000-point sweep (weights x heads x learning rates) on the embedded distill run."""
    def build(scale, p):
        return with_values(base_run(scale, Mode.DISTILL),
                           {"transfer.weight": p["weight"], "transfer.heads": p["heads"], "optim.lr": p["lr"]})

    return Study(
        name="synthetic10k", paper="-", description="benchmark only",
        points=lambda scale: product(weight=[0.05 * (i + 1) for i in range(n_weights)],
                                     heads=("first:1", "first:2", "first:3", "all"),
                                     lr=[1e-4 * (i + 1) for i in range(n_lrs)]),
        build=build, seeds={"embedded": 1, "paper": 1},
    )


def time_expansion(studies: Mapping[str, Study]) -> list[str]:
    """Expand (and validate) every study at paper scale, then the synthetic 10,000-run study; report lines."""
    start = time.perf_counter()
    total = sum(len(s.expand("paper")) for s in studies.values())
    expand_all = time.perf_counter() - start
    start = time.perf_counter()
    for s in studies.values():
        validate_runs(s, s.expand("paper"), "paper")
    validate_all = time.perf_counter() - start
    big = synthetic_study()
    start = time.perf_counter()
    runs = big.expand("embedded")
    expand_big = time.perf_counter() - start
    start = time.perf_counter()
    validate_runs(big, runs)
    validate_big = time.perf_counter() - start
    return [f"all {len(studies)} studies at paper scale: {total} runs expanded in {expand_all:.2f} s "
            f"(target < 2 s); expanded + validated in {expand_all + validate_all:.2f} s",
            f"synthetic study: {len(runs)} runs expanded in {expand_big:.2f} s (target < 2 s); "
            f"validated in a further {validate_big:.2f} s"]

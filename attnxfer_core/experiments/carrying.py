"""Carrying a study's finished runs into the repository, for the next machine (``attnxfer carry``).

What a carried run holds and how it is restored is :mod:`attnxfer_core.runs.carried`;
this module decides which of a study's runs may be carried. A run is carried once
the study's evaluations of it are done (they cannot be made later without its
weights); the study's dependencies are shipped with their weights instead
(:mod:`attnxfer_core.runs.shipped`), since other runs learn from them; and studies
whose analyses read weights are refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from attnxfer_core.errors import UserError
from attnxfer_core.evaluation.sets import set_names
from attnxfer_core.experiments.study import PlannedRun, Study
from attnxfer_core.runs.carried import carried_path, carried_root, carry
from attnxfer_core.runs.files import read_json_record
from attnxfer_core.runs.rundir import run_dir_of
from attnxfer_core.runs.shipped import find as find_shipped
from attnxfer_core.runs.shipped import ship, shipped_root


@dataclass
class CarryReport:
    root: Path
    carried: int = 0
    changed: int = 0
    shipped: int = 0
    unfinished: int = 0
    unevaluated: int = 0
    size: int = 0  # bytes of the carried files

    def line(self, study: str) -> str:
        return (f"study {study}: carried {self.carried} finished runs to {self.root} ({self.changed} new or changed, "
                f"{self.size / 1024:.0f} KiB); shipped {self.shipped} dependencies with their weights; "
                f"{self.unfinished} runs unfinished"
                + (f"; {self.unevaluated} finished runs not carried until the study evaluates them (attnxfer "
                   f"analyze {study})" if self.unevaluated else ""))


def carry_study(study: Study, runs: Sequence[PlannedRun], command: str) -> CarryReport:
    """Carry every finished, evaluated run of ``runs`` and ship the study's unshipped dependencies."""
    if study.analyses:
        raise UserError(f"study {study.name}: its analyses ({', '.join(study.analyses)}) read its runs' weights, "
                        f"which carry does not keep; train it where its run directories stay")
    wanted = set(set_names(list(study.evaluations)))
    report = CarryReport(carried_root(runs[0].config))
    for run in runs:
        rd = run_dir_of(run.config)
        if not rd.finished:
            report.unfinished += 1
        elif run.role == "dependency":
            if find_shipped(run.config) is None:
                ship(rd.path, shipped_root(run.config), command)
                report.shipped += 1
        elif not wanted <= set(read_json_record(rd.eval_metrics_path()) or {}):
            report.unevaluated += 1
        else:
            path = carried_path(report.root, run.run_id)
            before = path.read_bytes() if path.is_file() else None
            carry(rd.path, report.root, command)
            after = path.read_bytes()
            report.carried, report.changed, report.size = (report.carried + 1, report.changed + (after != before),
                                                           report.size + len(after))
    return report

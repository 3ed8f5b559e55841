"""``attnxfer bench estimates RUNS_ROOT``: how close ``plan``'s time estimates come to finished runs.

``plan`` sizes studies from the calibration table (:mod:`attnxfer_core.experiments.cost`); this holds
that table to what runs actually took. Each finished run under a runs root that one process trained
on the CPU, with the table's thread count, in one attempt (a resumed run's wall time covers its last
attempt only) is compared with its estimate: measured is the attempt's set-up plus its wall time
(runs written before set-up was recorded: the wall time, against the estimate less the table's
set-up). MAE pretraining is left out: the table times its steps, not its evaluations. The ratio is
measured over estimated, so above 1 is an underestimate. Whatever else the machine was doing is in
every measured time: a run trained beside a test suite shows as a high ratio. Runs record the share
of their CPUs' time that other processes took (``others_cpu_share``, :mod:`attnxfer_core.runs.contention`),
so the summary is given twice: every run, then only the runs trained on an otherwise quiet machine
(others took less than ``QUIET_OTHERS_SHARE`` of it), the estimate's own error. Runs written before that was
recorded appear in the first only.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from attnxfer_core.config import RunConfig, from_dict
from attnxfer_core.errors import UserError
from attnxfer_core.experiments.cost import StepTimes, estimate, rate_key
from attnxfer_core.runs.rundir import RunDir

QUIET_OTHERS_SHARE = 0.10  # a run whose CPUs others kept busy less than this share of the time: a quiet machine


@dataclass(frozen=True)
class Comparison:
    """One finished run: its estimate from the table and what it took, in seconds."""

    run_id: str
    key: str  # the table's key: the mode, or MAE pretraining
    estimated: float
    measured: float
    setup_timed: bool  # the summary records its set-up (else both sides leave it out)
    others_cpu_share: Optional[float] = None  # of its CPUs' time, what other processes took (None: not recorded)

    @property
    def quiet(self) -> bool:
        return self.others_cpu_share is not None and self.others_cpu_share < QUIET_OTHERS_SHARE

    @property
    def ratio(self) -> float:
        return self.measured / self.estimated


@dataclass
class Report:
    comparisons: list[Comparison] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # why a finished run was left out -> how many


def _whole_attempt(summary: dict) -> bool:
    """Whether the last attempt trained the run from its first step (its wall time is the whole run's).

    Summaries say where the attempt began; older ones do not, but their training seconds add up over
    attempts while the wall time covers the last one, so a resumed run has more of the first than of
    the second (evaluation and export are in the wall time only)."""
    if "attempt_from_step" in summary:
        return summary["attempt_from_step"] == 0
    return summary.get("train_seconds", 0.0) <= summary["wall_seconds_this_attempt"]


def _compare(run: Path, times: StepTimes) -> Union[Comparison, str]:
    """The run compared with its estimate, or why it is left out."""
    rd = RunDir(run)
    summary, stored = rd.summary(), rd.config()
    if summary.get("device") != "cpu" or summary.get("world_size", 1) != 1:
        return "not trained by one process on the CPU"
    threads = times.environment.get("threads")
    if threads and summary.get("threads", [threads]) != [threads]:
        return f"trained on other than the table's {threads} CPU threads"
    if summary.get("objective") == "mae":
        return "MAE pretraining: the table times its training steps only"
    if "wall_seconds_this_attempt" not in summary:
        return "no wall time (installed, not trained here)"
    if not _whole_attempt(summary):
        return "resumed: its wall time covers the last attempt only"
    try:
        cfg = from_dict(RunConfig, stored["config"])
    except (KeyError, TypeError, ValueError, UserError):
        return "config unreadable by this code version"
    est = estimate(cfg, "embedded", times)
    if not est.measured:
        return "its mode has no measured rate in the table"
    key = rate_key(cfg)
    setup, wall = summary.get("setup_seconds"), summary["wall_seconds_this_attempt"]
    if setup is None:  # written before set-up was recorded: both sides leave it out
        estimated, measured = est.seconds - times.setup_seconds.get(key, 0.0), wall
    else:
        estimated, measured = est.seconds, setup + wall
    return Comparison(run.name, key, estimated, measured, setup is not None, summary.get("others_cpu_share"))


def compare_runs(root: Path, times: StepTimes) -> Report:
    """Every finished run directly under ``root`` compared with its estimate from ``times``."""
    if not root.is_dir():
        raise UserError(f"runs root {root} is not a directory")
    report = Report()
    for run in sorted(root.iterdir()):
        if run.is_dir() and RunDir(run).finished:
            found = _compare(run, times)
            if isinstance(found, str):
                report.skipped[found] = report.skipped.get(found, 0) + 1
            else:
                report.comparisons.append(found)
    return report


def _table(comparisons: list[Comparison]) -> list[str]:
    """Per table key and over all: runs, median ratio with the least and greatest, runs with set-up timed."""
    groups: dict[str, list[Comparison]] = {}
    for c in comparisons:
        groups.setdefault(c.key, []).append(c)
    lines = [f"{'rates':<14} {'runs':>5} {'median':>7} {'least':>6} {'most':>6}  set-up timed   (measured / estimated)"]
    for key, group in [*sorted(groups.items()), ("all", comparisons)]:
        if not group:
            continue
        ratios = [c.ratio for c in group]
        lines.append(f"{key:<14} {len(group):>5} {statistics.median(ratios):>7.2f} {min(ratios):>6.2f} "
                     f"{max(ratios):>6.2f}  {sum(c.setup_timed for c in group):>5}")
    return lines


def summary_lines(report: Report) -> list[str]:
    """The comparison over every run, then over the runs trained on a quiet machine, then what was left out."""
    quiet = [c for c in report.comparisons if c.quiet]
    unknown = sum(c.others_cpu_share is None for c in report.comparisons)
    lines = ["every run:", *_table(report.comparisons),
             f"on a quiet machine (other processes took < {QUIET_OTHERS_SHARE:.0%} of its CPUs' time; "
             f"not recorded by {unknown} of the runs above):"]
    lines += _table(quiet) if quiet else ["(none)"]
    lines += [f"left out: {n} ({why})" for why, n in sorted(report.skipped.items())]
    return lines

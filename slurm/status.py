"""Where each run of a study stands: from its run directory and the scheduler's accounting."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from attnxfer_core.runs.rundir import RunDir, RunState, StateReport

ACTIVE_SLURM = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED", "REQUEUE_HOLD",
                "REQUEUE_FED"}


@dataclass
class RunStatus:
    run_id: str
    state: str  # a RunState value: done | running | pending | stopped | failed | not started
    job_id: Optional[str]
    restarts: int
    last_epoch: Optional[int]
    error: str


def slurm_states(job_ids: Sequence[str]) -> dict[str, str]:
    """Scheduler states of jobs (array tasks as ``123_4``) from sacct; {} when sacct is unavailable."""
    ids = sorted({j for j in job_ids if j})
    if not ids:
        return {}
    try:
        out = subprocess.run(["sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(ids)],
                             capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    states: dict[str, str] = {}
    for line in out.splitlines():
        if "|" in line:
            job, state = line.split("|", 1)
            states[job.strip()] = state.split()[0] if state.strip() else "UNKNOWN"  # "CANCELLED by 0" -> CANCELLED
    return states


def _local_alive(job_id: str) -> bool:
    try:
        os.kill(int(job_id), 0)
        return True
    except (ValueError, ProcessLookupError, PermissionError):
        return False


def scheduler(states: dict[str, str]) -> Callable[[dict, list[dict]], Optional[StateReport]]:
    """What the scheduler says about a run's job, in :class:`RunState` terms (for :meth:`RunDir.state`).

    ``states``: sacct's answer for SLURM jobs; local jobs are checked by process id.
    """
    def lookup(job: dict, attempts: list[dict]) -> Optional[StateReport]:
        job_id = str(job.get("job_id", ""))
        if job.get("executor") == "slurm":
            sched = states.get(job_id, "UNKNOWN")
            if sched in ACTIVE_SLURM:
                return StateReport(RunState.RUNNING if sched in {"RUNNING", "COMPLETING"} else RunState.PENDING)
            if sched == "UNKNOWN" and not attempts:
                return StateReport(RunState.PENDING)
            return StateReport(RunState.FAILED, f"scheduler: {sched}")
        if _local_alive(job_id):  # local: the job id is the controller's pid
            return StateReport(RunState.RUNNING if attempts else RunState.PENDING)
        return StateReport(RunState.FAILED, "local job exited without finishing")

    return lookup


def run_status(run_id: str, rd: RunDir, states: dict[str, str]) -> RunStatus:
    report = rd.state(scheduler(states))
    job = rd.job()
    metrics = rd.metrics() if rd.path.exists() else []
    last_epoch = max((r.get("epoch", 0) for r in metrics), default=None)
    restarts = max(0, len(rd.attempts()) - 1)
    return RunStatus(run_id, report.state.value, job["job_id"] if job else None, restarts, last_epoch, report.reason)


def active(status: RunStatus) -> bool:
    return status.state in (RunState.RUNNING.value, RunState.PENDING.value)


def format_status(rows: list[RunStatus], labels: dict[str, str]) -> str:
    head = f"{'run id':<24} {'values':<36} {'state':<13} {'job':<12} {'restarts':>8} {'epoch':>5}  last error"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.run_id:<24} {labels.get(r.run_id, '')[:36]:<36} {r.state:<13} {r.job_id or '-':<12} "
                     f"{r.restarts:>8} {'' if r.last_epoch is None else r.last_epoch:>5}  {r.error[:80]}")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    lines.append("")
    lines.append(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return "\n".join(lines)


def job_ids_of(run_dirs: Sequence[RunDir]) -> list[str]:
    return [job["job_id"] for job in (rd.job() for rd in run_dirs) if job is not None]

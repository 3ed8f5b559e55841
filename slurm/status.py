"""Where each run of a study stands: from its run directory and the scheduler's accounting."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from attnxfer_core.rundir import RunDir, read_json_record, read_jsonl

from .job import ATTEMPTS, JOB

ACTIVE_SLURM = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED", "REQUEUE_HOLD", "REQUEUE_FED"}
FAILED_SLURM = {"FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE"}


@dataclass
class RunStatus:
    run_id: str
    state: str  # done | running | pending | failed | not submitted
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


def run_status(run_id: str, rd: RunDir, states: dict[str, str]) -> RunStatus:
    job = read_json_record(rd.path / JOB)
    attempts = read_jsonl(rd.path / ATTEMPTS)
    metrics = rd.metrics() if rd.path.exists() else []
    last_epoch = max((r.get("epoch", 0) for r in metrics), default=None)
    restarts = max(0, len(attempts) - 1)
    failure = rd.failure()  # tolerant: a job may be replacing it right now
    job_id = job["job_id"] if job else None
    if rd.finished:
        state, error = "done", ""
    elif failure is not None:
        state, error = "failed", failure.get("error", "")
    elif job is None:
        state, error = ("stopped" if rd.has_checkpoint() else "not submitted"), ""
    elif job["executor"] == "slurm":
        sched = states.get(job_id, "UNKNOWN")
        if sched in ACTIVE_SLURM:
            state = "running" if sched in {"RUNNING", "COMPLETING"} else "pending"
            error = ""
        elif sched in FAILED_SLURM:
            state, error = "failed", f"scheduler: {sched}"
        else:
            state, error = ("pending", "") if sched == "UNKNOWN" and not attempts else ("failed", f"scheduler: {sched}")
    else:  # local: the job id is the controller's pid
        state = ("running" if attempts else "pending") if _local_alive(job_id) else "failed"
        error = "" if state != "failed" else "local job exited without finishing"
    return RunStatus(run_id, state, job_id, restarts, last_epoch, error)


def active(status: RunStatus) -> bool:
    return status.state in ("running", "pending")


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


def job_ids_of(run_dirs: Sequence[Path]) -> list[str]:
    ids = []
    for path in run_dirs:
        job = read_json_record(path / JOB)
        if job is not None:
            ids.append(job["job_id"])
    return ids

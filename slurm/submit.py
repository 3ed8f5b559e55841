"""``attnxfer submit``: a study's unfinished runs to SLURM (or local processes) through submitit.

Runs are grouped by dependency level (teacher pretraining first); on SLURM
each level's runs become job arrays that start ``afterok`` their dependencies.
Submission returns at once. Re-submitting never reruns a finished run and
never starts a second job on a run that is pending or running: the job id
recorded in each run directory, checked against the scheduler, decides.
"""
from __future__ import annotations

import contextlib
import fcntl
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import submitit

from attnxfer_core.errors import UserError
from attnxfer_core.experiments.resources import Resources
from attnxfer_core.experiments.study import PlannedRun
from attnxfer_core.models.hub import require_cached
from attnxfer_core.runs.rundir import SUBMIT_LOCK, SUBMITIT, RunState, run_dir_of
from slurm.job import QueueJob, TrainJob, job_config, record_submission
from slurm.profiles import ClusterProfile
from slurm.status import RunStatus, active, job_ids_of, run_status, slurm_states

EXECUTORS = ("slurm", "local", "debug")
MAX_TIMEOUT_REQUEUES = 50  # a run longer than its job's time limit requeues itself this many times


@dataclass
class Submission:
    run_id: str
    job_id: str
    level: int


def current_status(runs: Sequence[PlannedRun]) -> dict[str, RunStatus]:
    dirs = {r.run_id: run_dir_of(r.config) for r in runs}
    states = slurm_states(job_ids_of(list(dirs.values())))
    return {rid: run_status(rid, rd, states) for rid, rd in dirs.items()}


def levels(runs: Sequence[PlannedRun], todo: set[str]) -> dict[str, int]:
    """Dependency level of each run to submit: 0 needs nothing unfinished, k needs level k-1."""
    by_id = {r.run_id: r for r in runs}
    memo: dict[str, int] = {}

    def level(rid: str) -> int:
        if rid not in memo:
            deps = [d for d in by_id[rid].deps if d in todo]
            memo[rid] = 0 if not deps else 1 + max(level(d) for d in deps)
        return memo[rid]

    return {rid: level(rid) for rid in todo}


def _sinfo(fmt: str) -> list[str]:
    try:
        out = subprocess.run(["sinfo", "-h", "-o", fmt], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise UserError(f"cannot query the SLURM cluster with sinfo ({exc}); is SLURM installed? "
                        "nothing was submitted") from None
    if out.returncode != 0:
        reason = (out.stderr.strip().splitlines() or ["no answer"])[-1]
        raise UserError(f"cannot query the SLURM cluster with sinfo ({reason}); is SLURM_CONF set? "
                        "nothing was submitted")
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def check_cluster(profile: ClusterProfile, resources: Sequence[Resources]) -> None:
    """Refuse, before anything is submitted, what the cluster cannot run."""
    partitions = {p.rstrip("*") for p in _sinfo("%P")}
    if profile.partition and profile.partition not in partitions:
        raise UserError(f"partition {profile.partition!r} does not exist on this cluster "
                        f"(available: {', '.join(sorted(partitions))}); nothing was submitted")
    node_mem_mb = max((int(m.rstrip("+")) for m in _sinfo("%m") if m.rstrip("+").isdigit()), default=0)
    for res in resources:
        mem = _mem_gb(profile, res)
        if node_mem_mb and mem * 1024 > node_mem_mb:
            raise UserError(f"runs ask for {mem} GB of memory but the largest node has {node_mem_mb // 1024} GB; "
                            "nothing was submitted")
        gpus = _gpus(profile, res)
        if gpus and not any("gpu" in g for g in _sinfo("%G")):
            raise UserError(f"runs ask for {gpus} GPUs per node but no node of this cluster has GPUs; "
                            "use --gpus-per-run 0 or another cluster; nothing was submitted")


def _gpus(profile: ClusterProfile, res: Resources) -> int:
    return res.gpus_per_node if profile.gpus_per_run is None else profile.gpus_per_run


def _mem_gb(profile: ClusterProfile, res: Resources) -> int:
    return profile.mem_gb if profile.mem_gb is not None else res.mem_gb


def executor_parameters(kind: str, profile: ClusterProfile, res: Resources, dependency: Optional[str]) -> dict:
    gpus = _gpus(profile, res)
    tasks = max(1, gpus)  # one process per GPU
    cpus = profile.cpus_per_task or (res.cpus_per_gpu if gpus else res.cpus_per_gpu)
    params = {
        "timeout_min": int(60 * (profile.hours if profile.hours is not None else res.hours)),
        "nodes": res.nodes,
        "tasks_per_node": tasks,
        "gpus_per_node": gpus,
        "cpus_per_task": cpus,
        "mem_gb": _mem_gb(profile, res),
        "name": "attnxfer",
    }
    if kind == "slurm":
        extra = dict(profile.additional)
        if dependency:
            extra["dependency"] = dependency
        params.update({
            "slurm_partition": profile.partition,
            "slurm_account": profile.account,
            "slurm_qos": profile.qos,
            "slurm_array_parallelism": profile.array_parallelism,
            "slurm_constraint": profile.constraint,
            "slurm_exclude": profile.exclude,
            "slurm_additional_parameters": extra,
        })
        params = {k: v for k, v in params.items() if v is not None}
    return params


class _SubmitLock:
    """One submission at a time per runs root, so two submits cannot both start a run."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.handle = open(root / SUBMIT_LOCK, "a+")

    def __enter__(self) -> "_SubmitLock":
        fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
        self.handle.close()


def submit_runs(
    runs: Sequence[PlannedRun], kind: str, profile: ClusterProfile, *, retry_failed: bool = False,
    dry_run: bool = False, out=None, evaluations: Sequence[str] = (),
) -> tuple[list[Submission], list]:
    """Submit what is not done, pending or running; returns (submissions, submitit jobs)."""
    out = out or sys.stdout
    if kind not in EXECUTORS:
        raise UserError(f"unknown executor {kind!r}; choose one of: {', '.join(EXECUTORS)}")
    root = Path(runs[0].config.exec.runs_root) if runs else Path("runs")
    if kind == "slurm" and not dry_run:
        check_cluster(profile, [r.resources for r in runs])  # before anything is written
    # a dry run only reads: it takes no lock, so it creates neither the runs root nor the lock file
    with contextlib.nullcontext() if dry_run else _SubmitLock(root):
        status = current_status(runs)
        startable = {RunState.NOT_STARTED.value, RunState.STOPPED.value}
        failed = RunState.FAILED.value
        todo = {r.run_id for r in runs
                if status[r.run_id].state in startable or (retry_failed and status[r.run_id].state == failed)}
        by_id = {r.run_id: r for r in runs}
        blocked = {rid for rid in todo
                   if any(status[d].state == failed and d not in todo for d in by_id[rid].deps)}
        for rid in sorted(blocked):
            print(f"skipping {rid}: a dependency failed (use --retry-failed)", file=out)
        todo -= blocked
        skipped = [(rid, s.state) for rid, s in status.items() if rid not in todo and rid not in blocked]
        for rid, state in skipped:
            print(f"{rid}: {state}, not resubmitted", file=out)
        if not todo:
            print("nothing to submit", file=out)
            return [], []
        require_cached([by_id[rid].config for rid in todo])
        lvl = levels(runs, todo)
        if dry_run:
            for rid in sorted(todo, key=lambda r: (lvl[r], r)):
                print(f"would submit {rid} (level {lvl[rid]}, {by_id[rid].resources})", file=out)
            return [], []
        folder = root / SUBMITIT
        if kind == "slurm":
            return _submit_slurm(runs, todo, lvl, status, profile, folder, out, tuple(evaluations))
        return _submit_local(runs, todo, lvl, kind, profile, folder, out, tuple(evaluations))


def _train_job(run: PlannedRun, by_id: dict[str, PlannedRun], evaluations: tuple[str, ...]) -> TrainJob:
    deps = tuple(str(run_dir_of(by_id[d].config).path) for d in run.deps if d in by_id)
    return TrainJob(job_config(run.config), deps, evaluations if run.role == "run" else ())


def _submit_slurm(runs, todo, lvl, status, profile, folder, out, evaluations):
    by_id = {r.run_id: r for r in runs}
    job_of: dict[str, str] = {rid: s.job_id for rid, s in status.items() if active(s) and s.job_id}
    submissions, jobs = [], []
    for level in sorted(set(lvl.values())):
        groups: dict[Resources, list[PlannedRun]] = defaultdict(list)
        for rid in sorted(r for r in todo if lvl[r] == level):
            groups[by_id[rid].resources].append(by_id[rid])
        for res, members in groups.items():
            after = sorted({job_of[d] for r in members for d in r.deps if d in job_of})
            executor = submitit.AutoExecutor(folder=folder, cluster="slurm", slurm_max_num_timeout=MAX_TIMEOUT_REQUEUES)
            executor.update_parameters(**executor_parameters("slurm", profile, res,
                                                             "afterok:" + ":".join(after) if after else None))
            with executor.batch():
                array = [executor.submit(_train_job(r, by_id, evaluations)) for r in members]
            for run, job in zip(members, array):
                job_of[run.run_id] = job.job_id
                record_submission(run_dir_of(run.config), job.job_id, "slurm", str(folder))
                submissions.append(Submission(run.run_id, job.job_id, level))
                print(f"{run.run_id} -> job {job.job_id} (level {level})", file=out)
            jobs.extend(array)
    return submissions, jobs


def _submit_local(runs, todo, lvl, kind, profile, folder, out, evaluations):
    """Local processes: ``array_parallelism`` queues, each running its runs in dependency order."""
    by_id = {r.run_id: r for r in runs}
    ordered = sorted(todo, key=lambda r: (lvl[r], r))
    n_queues = 1 if kind == "debug" else max(1, min(profile.array_parallelism, len(ordered)))
    queues = [ordered[i::n_queues] for i in range(n_queues)]
    submissions, jobs = [], []
    for queue in queues:
        res = by_id[queue[0]].resources
        executor = submitit.AutoExecutor(folder=folder, cluster=kind)
        params = executor_parameters(kind, profile, res, None)
        executor.update_parameters(timeout_min=params["timeout_min"], tasks_per_node=params["tasks_per_node"],
                                   gpus_per_node=params["gpus_per_node"])
        if kind == "debug":
            for rid in queue:  # the debug executor runs at submit time: record first
                record_submission(run_dir_of(by_id[rid].config), "debug", kind, str(folder))
        job = executor.submit(QueueJob([_train_job(by_id[rid], by_id, evaluations) for rid in queue]))
        if kind == "debug":
            job.result()  # the debug executor runs in this process, when asked for the result
        for rid in queue:
            if kind != "debug":
                record_submission(run_dir_of(by_id[rid].config), job.job_id, kind, str(folder))
            submissions.append(Submission(rid, job.job_id, lvl[rid]))
            print(f"{rid} -> {kind} job {job.job_id} (level {lvl[rid]})", file=out)
        jobs.append(job)
    return submissions, jobs

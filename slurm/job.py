"""What a submitted job runs: one run, preemption-safe.

The job pickle holds only the run's config; all state lives in the run
directory. On SLURM's warning signal (USR2 under submitit) the trainer
checkpoints at the next step boundary, then submitit requeues the job; the
requeued job resumes from the run directory and ends exactly as an
uninterrupted run would.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import time
import traceback
from pathlib import Path
from typing import Optional

import submitit
import torch
import torch.distributed as dist

from attnxfer_core.config import RunConfig, from_dict, to_dict
from attnxfer_core.errors import failure_line
from attnxfer_core.evaluation.posthoc import evaluate_run
from attnxfer_core.models.hub import hub_names, hub_offline
from attnxfer_core.runs.rundir import RunDir, run_dir_of
from attnxfer_core.training.distributed import SINGLE, DistContext
from attnxfer_core.training.execute import execute
from attnxfer_core.training.signals import graceful_stop, received

DEP_POLL_SECONDS = 2.0


def init_from_submitit() -> DistContext:
    """Initialise torch.distributed from a submitit job's environment when it has several tasks."""
    env = submitit.JobEnvironment()
    if env.num_tasks <= 1:
        return SINGLE
    if not dist.is_initialized():
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    if torch.cuda.is_available():
        torch.cuda.set_device(env.local_rank)
    return DistContext(env.global_rank, env.num_tasks, env.local_rank)


class DependencyFailed(RuntimeError):
    """A run this one needs failed, so this one cannot start."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _job_id() -> str:
    try:
        return str(submitit.JobEnvironment().job_id)
    except RuntimeError:  # not inside a submitit job (tests, debug)
        return f"pid-{os.getpid()}"


def wait_for_dependencies(dep_dirs: list[str], timeout_s: Optional[float] = None) -> None:
    """Block until every dependency run finished; fail if one of them failed.

    SLURM's afterok already orders jobs; this makes the order hold for the
    local executor too, and guards against a dependency finished elsewhere.
    """
    start = time.monotonic()
    pending = [RunDir(Path(d)) for d in dep_dirs]
    while pending:
        for rd in list(pending):
            if rd.finished:
                pending.remove(rd)
            elif (failure := rd.failure()) is not None:
                reason = failure.get("error", "")
                raise DependencyFailed(f"dependency {rd.path.name} failed: {reason}")
        if pending:
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                raise DependencyFailed(f"timed out waiting for {[p.path.name for p in pending]}")
            time.sleep(DEP_POLL_SECONDS)


class TrainJob(submitit.helpers.Checkpointable):
    """One run as a submitit job (the same object is resubmitted on requeue)."""

    def __init__(self, config: dict, dep_dirs: tuple[str, ...] = (), evaluations: tuple[str, ...] = ()) -> None:
        self.config = config  # plain dict: nothing else of the run is pickled
        self.dep_dirs = list(dep_dirs)
        self.evaluations = list(evaluations)  # evaluation sets to run after training (the study's)

    @property
    def run_config(self) -> RunConfig:
        return from_dict(RunConfig, self.config)

    def __call__(self) -> dict:
        cfg = self.run_config
        rd = run_dir_of(cfg)
        ctx = init_from_submitit() if _in_submitit() else None
        main = ctx is None or ctx.is_main
        if main:
            rd.path.mkdir(parents=True, exist_ok=True)
            rd.clear_failure()
            rd.record_attempt(_job_id(), _now())
        try:
            wait_for_dependencies(self.dep_dirs)
            # the submission checked that the weights it names are cached: jobs never wait on the network
            offline = hub_offline() if hub_names([cfg]) else contextlib.nullcontext()
            with offline, graceful_stop((signal.SIGUSR2,)) as previous:
                result = execute(cfg, progress=False)
            if not result.finished and received() is not None:
                # checkpoint is on disk: now let submitit requeue this job (it exits the process)
                handler = previous.get(received())
                if callable(handler):
                    handler(received(), None)
                raise RuntimeError(f"stopped by signal {received()} at step {result.stopped_at}")
            if self.evaluations and main and result.finished:
                evaluate_run(rd.path, self.evaluations)
            return result.summary
        except Exception as exc:
            if main and rd.failure() is None:  # training failures are recorded by the runner
                rd.write_failure(failure_line(exc), job_id=_job_id(), at=_now(),
                                 traceback=traceback.format_exc()[-4000:])
            raise


def _in_submitit() -> bool:
    try:
        submitit.JobEnvironment()
        return True
    except RuntimeError:
        return False


class QueueJob(submitit.helpers.Checkpointable):
    """Several runs, one after another, in one local job (the local executor's job unit).

    Requeue-safe like :class:`TrainJob`: a restarted queue skips finished runs
    and resumes the interrupted one from its run directory.
    """

    def __init__(self, jobs: list[TrainJob]) -> None:
        self.jobs = jobs

    def __call__(self) -> list[dict]:
        results = []
        for job in self.jobs:
            rd = run_dir_of(job.run_config)
            results.append(rd.summary() if rd.finished else job())
        return results


def record_submission(rd: RunDir, job_id: str, executor: str, folder: str) -> None:
    rd.record_job(job_id, executor, folder, _now())


def job_config(cfg: RunConfig) -> dict:
    return to_dict(cfg)

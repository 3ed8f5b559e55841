"""A run's directory: every path in it, the records it holds, and where the run stands.

Layout of ``<runs root>/<run id>/``::

    config.json        resolved config (written when the run starts)
    metrics.jsonl      one JSON record per line (train steps, evaluations)
    checkpoint.pt      latest training state; torch.load(weights_only=True) safe
    weights.pt         the final weights, a plain timm state dict
    weights/epoch_NNN.pt  weights of intermediate evaluations (save_eval_weights=true)
    summary.json       written last: its presence means the run finished
    failure.json       why the last attempt failed (removed when a new attempt starts)
    run.lock           held (flock) while a process trains into, or evaluates, the dir
    job.json           the scheduler job that was asked to run it (attnxfer submit)
    attempts.jsonl     one line per job attempt that started (requeues add lines)
    evals/<tag>/metrics.json, evals/<tag>/<set>.pt, evals/final/similarity.json
                       after-the-fact evaluations: metrics and per-example logits

Beside the run directories, under the runs root: ``analyses/<study>/`` (a study's
cross-run analyses), ``.cache/`` (generated evaluation sets) and ``.submitit/``.

:meth:`RunDir.state` is the one answer to "where does this run stand?" for
``collect``, ``status``, ``submit`` and the dashboard, in one vocabulary
(:class:`RunState`). Importing this module imports neither torch nor the trainer.
"""
from __future__ import annotations

import enum
import fcntl
import io
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

from attnxfer_core.config import RunConfig, run_id
from attnxfer_core.errors import RunLockedError, UserError
from attnxfer_core.runs.files import (
    TMP_MARK,
    append_jsonl,
    atomic_write_bytes,
    atomic_write_json,
    jsonl_text,
    read_json_record,
    read_jsonl,
)

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
SUMMARY = "summary.json"
FAILURE = "failure.json"
LOCK = "run.lock"
WEIGHTS = "weights.pt"
TIMING = "timing.json"  # this attempt's step time, data wait and peak memory (not part of the results)
TENSORBOARD = "tensorboard"  # TensorBoard event files, rebuilt from the metrics log at every attempt
WANDB = "wandb"  # W&B's offline run folders (exec.wandb)
TIMM_EXPORT = "timm"  # the final weights as a timm folder (model.safetensors + timm's config.json)
EVAL_WEIGHTS = "weights"  # folder of per-evaluation weights
EVALS = "evals"  # folder of after-the-fact evaluations
JOB = "job.json"
ATTEMPTS = "attempts.jsonl"
EVAL_METRICS = "metrics.json"  # inside evals/<tag>/
SIMILARITY = "similarity.json"  # inside evals/final/
FINAL = "final"  # the eval tag of a run's final weights

ANALYSES = "analyses"  # <runs root>/analyses/<study>/
# What each named study analysis writes into its analyses folder.
ANALYSIS_FILES = {"ensembles": "ensembles.json", "matched": "matched.json", "similarity": "similarity.json",
                  "attention_maps": "attention_maps.png"}
REPORT = "report"  # <runs root>/report/: the demo's tables, figures and dashboard
CACHE = ".cache"  # <runs root>/.cache/: generated evaluation sets
SUBMITIT = ".submitit"  # <runs root>/.submitit/: submitit's job folder
SUBMIT_LOCK = ".submit.lock"  # <runs root>/.submit.lock: one submission at a time
LOCK_PATIENCE_S = 1.0  # how long taking a run's lock waits out readers probing it


class RunState(str, enum.Enum):
    """Where a run stands: the one vocabulary of collect, status, submit and the dashboard."""

    DONE = "done"  # summary.json exists
    FAILED = "failed"  # the last attempt failed (failure record, or the scheduler says so)
    RUNNING = "running"  # a process holds the run's lock, or the scheduler runs its job
    PENDING = "pending"  # submitted; its job has not started
    STOPPED = "stopped"  # started and stopped before finishing; running it again resumes
    NOT_STARTED = "not started"  # nothing of it exists yet


@dataclass(frozen=True)
class StateReport:
    state: RunState
    reason: str = ""  # why it failed: the failure record's error, or the scheduler's verdict


# What a scheduler says about a run's job: (job record, attempt records) -> a report, or None
# when it cannot tell. ``attnxfer status`` passes SLURM's answer; collect passes none.
Scheduler = Callable[[dict, list[dict]], Optional[StateReport]]


class RunDir:
    """Reading and writing one run's directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_handle: Optional[io.TextIOWrapper] = None

    # -- paths ------------------------------------------------------------------

    def file(self, name: str) -> Path:
        return self.path / name

    def eval_dir(self, tag: str = FINAL) -> Path:
        return self.path / EVALS / tag

    def eval_metrics_path(self, tag: str = FINAL) -> Path:
        return self.eval_dir(tag) / EVAL_METRICS

    def logits_path(self, set_name: str, tag: str = FINAL) -> Path:
        return self.eval_dir(tag) / f"{set_name}.pt"

    def similarity_path(self) -> Path:
        return self.eval_dir(FINAL) / SIMILARITY

    def eval_weights_path(self, epoch: int) -> Path:
        return self.path / EVAL_WEIGHTS / f"{eval_tag(epoch)}.pt"

    # -- records ----------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return (self.path / SUMMARY).exists()

    def summary(self) -> Optional[dict]:
        return read_json_record(self.path / SUMMARY)

    def config(self) -> Optional[dict]:
        return read_json_record(self.path / CONFIG)

    def metrics(self) -> list[dict]:
        return read_jsonl(self.path / METRICS)

    def failure(self) -> Optional[dict]:
        return read_json_record(self.path / FAILURE)

    def job(self) -> Optional[dict]:
        return read_json_record(self.path / JOB)

    def attempts(self) -> list[dict]:
        return read_jsonl(self.path / ATTEMPTS)

    def has_checkpoint(self) -> bool:
        return (self.path / CHECKPOINT).exists()

    def eval_weights(self) -> dict[int, Path]:
        """{epoch: path} of the kept intermediate weights."""
        folder = self.path / EVAL_WEIGHTS
        if not folder.is_dir():
            return {}
        return {epoch_of(p.stem): p for p in sorted(folder.glob("epoch_*.pt"))}

    # -- state ------------------------------------------------------------------

    def state(self, scheduler: Optional[Scheduler] = None) -> StateReport:
        """Where the run stands, from its files (and the scheduler's word on its job, if given)."""
        if self.finished:
            return StateReport(RunState.DONE)
        failure = self.failure()  # tolerant: a job may be replacing it right now
        if failure is not None:
            return StateReport(RunState.FAILED, failure.get("error", ""))
        if self.locked():  # a live process is training it, whatever the scheduler's accounting says
            return StateReport(RunState.RUNNING)
        job = self.job()
        if job is not None and scheduler is not None:
            verdict = scheduler(job, self.attempts())
            if verdict is not None:
                return verdict
        if any((self.path / name).exists() for name in (CONFIG, METRICS, CHECKPOINT)):
            return StateReport(RunState.STOPPED)
        return StateReport(RunState.PENDING if job is not None else RunState.NOT_STARTED)

    def locked(self) -> bool:
        """Whether some process holds the run's lock right now (it is training or evaluating).

        The probe holds a shared lock for an instant; :meth:`lock` retries briefly, so a probe
        never makes a starting run fail.
        """
        try:
            fd = os.open(self.path / LOCK, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    # -- writing ----------------------------------------------------------------

    def create(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create run directory {self.path}: {exc.strerror or exc}") from None
        if not os.access(self.path, os.W_OK):
            raise UserError(f"run directory is not writable: {self.path}")

    def lock(self) -> None:
        """Take the run's lock or fail at once: two processes never train one run.

        Holding the lock, temporary files an earlier (killed) attempt left are removed.
        """
        try:
            handle = open(self.path / LOCK, "a+")
        except OSError as exc:
            raise UserError(f"run directory is not writable: {self.path} ({exc.strerror or exc})") from None
        deadline = time.monotonic() + LOCK_PATIENCE_S
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:  # not a reader's probe: a process holds it
                    handle.close()
                    raise RunLockedError(self.path) from None
                time.sleep(0.02)
        self._lock_handle = handle
        for stale in self.path.rglob(f".*{TMP_MARK}*"):
            stale.unlink(missing_ok=True)

    def unlock(self) -> None:
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle.fileno(), fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    def write_config(self, config: dict) -> None:
        atomic_write_json(self.path / CONFIG, config)

    def append_metrics(self, records: Iterable[dict]) -> None:
        append_jsonl(self.path / METRICS, records)

    def truncate_metrics(self, count: int) -> None:
        """Keep the first ``count`` records: those the checkpoint being resumed had seen."""
        atomic_write_bytes(self.path / METRICS, jsonl_text(self.metrics()[:count]).encode())

    def write_failure(self, error: str, **extra) -> None:
        atomic_write_json(self.path / FAILURE, {"error": error, **extra})

    def clear_failure(self) -> None:
        """A new attempt starts: the last one's failure no longer describes the run."""
        (self.path / FAILURE).unlink(missing_ok=True)

    def write_summary(self, summary: dict) -> None:
        atomic_write_json(self.path / SUMMARY, summary)

    def record_job(self, job_id: str, executor: str, folder: str, submitted_at: str) -> None:
        """The job a scheduler was asked to run this run in (``attnxfer status`` follows it)."""
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path / JOB, {"job_id": job_id, "executor": executor, "submitted_at": submitted_at,
                                            "folder": folder})

    def record_attempt(self, job_id: str, started_at: str) -> None:
        """One line per job attempt that starts (requeued jobs add lines: restarts = lines - 1)."""
        self.path.mkdir(parents=True, exist_ok=True)
        append_jsonl(self.path / ATTEMPTS, [{"job_id": job_id, "host": socket.gethostname(), "pid": os.getpid(),
                                             "started_at": started_at}], durable=False)

    def clear_results(self) -> None:
        """Forget a previous attempt (``--force``): summary, checkpoint and metrics."""
        for name in (SUMMARY, CHECKPOINT, METRICS, WEIGHTS, TIMING):
            (self.path / name).unlink(missing_ok=True)
        for folder in (EVAL_WEIGHTS, EVALS, TIMM_EXPORT, TENSORBOARD, WANDB):
            if (self.path / folder).is_dir():
                shutil.rmtree(self.path / folder)


def eval_tag(epoch: int) -> str:
    """The tag of an intermediate evaluation's weights and results: ``epoch_007``."""
    return f"epoch_{epoch:03d}"


def epoch_of(tag: str) -> Optional[int]:
    """The epoch an ``epoch_NNN`` tag names (None for other tags, such as ``final``)."""
    head, _, number = tag.partition("_")
    return int(number) if head == "epoch" and number.isdigit() else None


def run_dir_of(cfg: RunConfig) -> RunDir:
    """Where ``cfg`` runs: ``exec.run_dir`` if set, else ``<exec.runs_root>/<run id>``."""
    return RunDir(Path(cfg.exec.run_dir) if cfg.exec.run_dir else Path(cfg.exec.runs_root) / run_id(cfg))


def analyses_dir(runs_root: Path, study: str) -> Path:
    """Where a study's cross-run analyses are written."""
    return Path(runs_root) / ANALYSES / study


def cache_dir(runs_root: Path, cache_root: str = "") -> Path:
    """Generated evaluation sets: ``exec.cache_root`` if set, else ``<runs root>/.cache``."""
    return Path(cache_root) if cache_root else Path(runs_root) / CACHE

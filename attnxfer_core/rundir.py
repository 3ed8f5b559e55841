"""A run's directory: resolved config, metrics log, checkpoint and summary.

Layout::

    <run dir>/config.json      resolved config (written when the run starts)
    <run dir>/metrics.jsonl    one JSON record per line (train steps, evaluations)
    <run dir>/checkpoint.pt    latest state; torch.load(weights_only=True) safe
    <run dir>/summary.json     written last: its presence means the run finished
    <run dir>/run.lock         held (flock) while a process trains into the dir

Every file that is replaced is written to a temporary name, fsynced and renamed,
so a kill at any moment leaves either the old or the new version, never half.
"""
from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterable, Optional

import torch

from .errors import RunLockedError, UserError

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
SUMMARY = "summary.json"
FAILURE = "failure.json"  # why the last attempt failed (removed when a new attempt starts)
LOCK = "run.lock"
WEIGHTS = "weights.pt"
EVAL_WEIGHTS = "weights"  # folder of per-evaluation weights
EVALS = "evals"  # folder of after-the-fact evaluations


TMP_MARK = ".tmp-"
# Fault injection for the kill-anywhere harness: writes pause half-way for this many seconds,
# so that a kill can be aimed at the moment a checkpoint or summary is being written.
SLOW_WRITES_ENV = "ATTNXFER_SLOW_WRITES"


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Write to a temporary name, fsync, rename over ``path``, fsync the directory.

    Readers always see the old or the new file whole. ``durable=False`` skips the fsyncs
    (the file survives a process kill but maybe not a power cut): for caches and throwaway
    files written by the thousand.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")
    pause = float(os.environ.get(SLOW_WRITES_ENV, 0) or 0)
    with open(tmp, "wb") as handle:
        if pause:
            handle.write(data[: len(data) // 2])
            handle.flush()
            time.sleep(pause)
            handle.write(data[len(data) // 2:])
        else:
            handle.write(data)
        handle.flush()
        if durable:
            os.fsync(handle.fileno())
    os.replace(tmp, path)
    if durable:
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_json(path: Path, data: Any, durable: bool = True) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), durable)


def save_tensors(path: Path, state: dict) -> None:
    """Atomically write a checkpoint made of tensors and plain Python values only."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_tensors(path: Path) -> dict:
    """Load a checkpoint with ``weights_only=True``: a file that would run code is refused."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"checkpoint not found: {path}") from None
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError ... on bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot load checkpoint {path}: {first}") from None


def read_json_record(path: Path) -> Optional[dict]:
    """A JSON record another process may be replacing or removing right now: None when it
    is absent or unreadable, never an exception (readers scan while jobs write)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def read_jsonl(path: Path) -> list[dict]:
    """Records of a JSON-lines file; a torn (half-written) last line is ignored."""
    if not path.exists():
        return []
    records = []
    lines = path.read_bytes().split(b"\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i >= len(lines) - 2:  # only the last line may be torn
                break
            raise UserError(f"{path}: line {i + 1} is not JSON") from None
    return records


class RunDir:
    """Reading and writing one run's directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_handle: Optional[io.TextIOWrapper] = None

    # -- state ------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return (self.path / SUMMARY).exists()

    def summary(self) -> Optional[dict]:
        path = self.path / SUMMARY
        return json.loads(path.read_text()) if path.exists() else None

    def config(self) -> Optional[dict]:
        path = self.path / CONFIG
        return json.loads(path.read_text()) if path.exists() else None

    def metrics(self) -> list[dict]:
        return read_jsonl(self.path / METRICS)

    def has_checkpoint(self) -> bool:
        return (self.path / CHECKPOINT).exists()

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
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RunLockedError(f"run {self.path} is already being trained by another process") from None
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
        lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        if not lines:
            return
        with open(self.path / METRICS, "a") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def truncate_metrics(self, count: int) -> None:
        """Keep the first ``count`` records: those the checkpoint being resumed had seen."""
        kept = self.metrics()[:count]
        atomic_write_bytes(self.path / METRICS, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept).encode())

    def save_checkpoint(self, state: dict) -> None:
        save_tensors(self.path / CHECKPOINT, state)

    def load_checkpoint(self) -> dict:
        return load_tensors(self.path / CHECKPOINT)

    def save_weights(self, state: dict, epoch: int) -> None:
        """Weights of an intermediate evaluation: ``weights/epoch_XXX.pt``."""
        (self.path / EVAL_WEIGHTS).mkdir(exist_ok=True)
        save_tensors(self.path / EVAL_WEIGHTS / f"epoch_{epoch:03d}.pt", state)

    def eval_weights(self) -> dict[int, Path]:
        """{epoch: path} of the kept intermediate weights."""
        folder = self.path / EVAL_WEIGHTS
        if not folder.is_dir():
            return {}
        return {int(p.stem.split("_")[1]): p for p in sorted(folder.glob("epoch_*.pt"))}

    def write_failure(self, error: str, **extra) -> None:
        atomic_write_json(self.path / FAILURE, {"error": error, **extra})

    def failure(self) -> Optional[dict]:
        return read_json_record(self.path / FAILURE)

    def clear_failure(self) -> None:
        """A new attempt starts: the last one's failure no longer describes the run."""
        (self.path / FAILURE).unlink(missing_ok=True)

    def write_summary(self, summary: dict) -> None:
        atomic_write_json(self.path / SUMMARY, summary)

    def clear_results(self) -> None:
        """Forget a previous attempt (``--force``): summary, checkpoint and metrics."""
        for name in (SUMMARY, CHECKPOINT, METRICS, WEIGHTS):
            (self.path / name).unlink(missing_ok=True)
        for folder in (EVAL_WEIGHTS, EVALS):
            if (self.path / folder).is_dir():
                shutil.rmtree(self.path / folder)

"""Finished runs whose records the repository carries, so a long study can be trained across machines.

A study that needs more CPU time than one machine's session (heads, averaging or
budget take hours to days on two cores) is trained in pieces. Run directories do
not survive from one machine to the next; what its tables are made of does: each
finished run's resolved config, summary, metrics log and after-the-fact evaluation
metrics. ``attnxfer carry STUDY`` writes them, one gzipped JSON file a run, to the
carried root (``results/carried/`` of the checkout, committed); on the next
machine :func:`find` matches a planned run to its file (the same run id, its
config read with today's schema) and :func:`install` turns it back into an
ordinary finished run directory, so ``plan``, ``run``, ``status`` and ``collect``
see it as done and only the rest is trained.

Weights are not carried (each student's is as large as its records a hundred
times over): a carried run serves its study's tables, not inference. Whatever
needs its weights (an evaluation added later, a study analysis that reads
attention) says so in one line and names the remedy, retraining it (training is
bit-for-bit reproducible on the CPU). Runs others learn from are shipped with their
weights instead (:mod:`attnxfer_core.runs.shipped`), which ``carry`` does for a
study's dependencies. Every carried run keeps the code version, device and threads
its summary recorded, so a table's per-run provenance says where each row was made.
"""
from __future__ import annotations

import datetime as dt
import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from attnxfer_core.config import RunConfig, from_dict, run_id
from attnxfer_core.errors import UserError
from attnxfer_core.runs.files import atomic_write_bytes, atomic_write_json, jsonl_text, read_json_record
from attnxfer_core.runs.provenance import PACKAGE_ROOT, code_version
from attnxfer_core.runs.rundir import EVAL_METRICS, EVALS, METRICS, SIMILARITY, WEIGHTS, RunDir, run_dir_of

DEFAULT_ROOT = Path("results") / "carried"  # inside the checkout
SUFFIX = ".json.gz"
FORMAT = 1  # the layout of a carried file; another value is not read


@dataclass(frozen=True)
class Carried:
    path: Path  # <carried root>/<run id>.json.gz
    record: dict


def carried_root(cfg: RunConfig) -> Path:
    return Path(cfg.exec.carried_root) if cfg.exec.carried_root else PACKAGE_ROOT / DEFAULT_ROOT


def carried_path(root: Path, rid: str) -> Path:
    return Path(root) / f"{rid}{SUFFIX}"


def read(path: Path) -> Optional[dict]:
    """A carried file's record; None when it is absent, unreadable or of another format."""
    try:
        record = json.loads(gzip.decompress(Path(path).read_bytes()))
    except (OSError, ValueError, EOFError):
        return None
    return record if isinstance(record, dict) and record.get("format") == FORMAT else None


def find(cfg: RunConfig) -> Optional[Carried]:
    """The carried records of ``cfg``'s run, if the repository has them (the same run under today's schema)."""
    rid = run_id(cfg)
    path = carried_path(carried_root(cfg), rid)
    record = read(path) if path.is_file() else None
    if record is None or "config" not in record:
        return None
    try:
        same = run_id(from_dict(RunConfig, record["config"]["config"])) == rid
    except (UserError, KeyError, TypeError):  # a record from a schema this code cannot read
        return None
    return Carried(path, record) if same else None


def carry(run_dir: Path, root: Path, command: str) -> Path:
    """Write a finished run's records (no weights) to ``root``; returns the file. Byte-stable: carrying the
    same run twice writes the same bytes, so a re-carry shows no change in git."""
    rd = RunDir(run_dir)
    summary, stored = rd.summary(), rd.config()
    if summary is None or stored is None:
        raise UserError(f"{run_dir} is not a finished run directory")
    if "carried" in summary:  # restored from a carried file: that file is the record already
        return carried_path(root, stored["run_id"])
    evals = {}
    if (rd.path / EVALS).is_dir():
        for metrics in sorted((rd.path / EVALS).glob(f"*/{EVAL_METRICS}")):
            evals[metrics.parent.name] = read_json_record(metrics) or {}
    similarity = read_json_record(rd.similarity_path())
    record = {"format": FORMAT, "run_id": stored["run_id"], "config": stored, "summary": summary,
              "metrics": rd.metrics(), "evals": evals, "similarity": similarity,
              "carried_by": {"command": command, "code_version": code_version()}}
    path = carried_path(root, stored["run_id"])
    previous = read(path) if path.is_file() else None
    if previous is not None and {k: v for k, v in previous.items() if k != "carried_by"} == {
            k: v for k, v in record.items() if k != "carried_by"}:
        return path  # the same records: keep the file (and its first command) as it is
    root.mkdir(parents=True, exist_ok=True)
    data = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    atomic_write_bytes(path, gzip.compress(data, mtime=0))
    return path


def install(carried: Carried, cfg: RunConfig, rd: RunDir) -> None:
    """Write ``carried`` into ``rd`` as a finished run of ``cfg`` (without weights), holding the run's lock.
    The summary is written last and says where it came from (``carried``)."""
    record = carried.record
    rd.create()
    rd.lock()
    try:
        if rd.config() is not None or rd.finished:  # someone else installed or started it meanwhile
            return
        atomic_write_bytes(rd.file(METRICS), jsonl_text(record.get("metrics", [])).encode())
        for tag, metrics in sorted(record.get("evals", {}).items()):
            rd.eval_dir(tag).mkdir(parents=True, exist_ok=True)
            atomic_write_json(rd.eval_metrics_path(tag), metrics)
        if record.get("similarity") is not None:
            rd.eval_dir().mkdir(parents=True, exist_ok=True)
            atomic_write_json(rd.eval_dir() / SIMILARITY, record["similarity"])
        rd.write_config(record["config"])
        restored = {"from": str(carried.path), **record.get("carried_by", {}),
                    "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        rd.write_summary({**record["summary"], "run_id": run_id(cfg), "carried": restored})
    finally:
        rd.unlock()


def weights_of(run_dir: Path) -> Path:
    """A finished run's weights file, or a one-line error when it was restored from carried records."""
    rd = RunDir(run_dir)
    path = rd.file(WEIGHTS)
    if not path.exists():
        carried = (rd.summary() or {}).get("carried")
        if carried:
            raise UserError(f"run {rd.path.name} was restored from {carried.get('from')} without its weights; "
                            f"to use its model, delete {rd.path} and train it again (bit-for-bit the same run)")
        raise UserError(f"{rd.path} has no weights file {WEIGHTS}")
    return path


def restore(cfg: RunConfig) -> bool:
    """Install ``cfg``'s carried records where it runs, when it has none there yet; whether it did."""
    rd = run_dir_of(cfg)
    if rd.finished or rd.config() is not None or cfg.exec.force:
        return False
    carried = find(cfg)
    if carried is None:
        return False
    install(carried, cfg, rd)
    return True

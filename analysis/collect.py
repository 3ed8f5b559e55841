"""``attnxfer collect``: run directories -> one tidy table per study.

One row per (run, evaluation set): the study's varied values, the flattened
config, the run's state and the metrics. Runs that are unfinished or failed go
to a separate status table and never break the collection; a half-written run
directory is read as far as it is readable. Re-collecting is cheap: each run's
rows are cached with the modification times of the files they came from, and
only changed runs (and runs that were running) are read again. Run states
are :meth:`attnxfer_core.runs.rundir.RunDir.state`'s, as ``attnxfer status`` shows them.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import pandas as pd

from attnxfer_core.config import fields_of, to_dict
from attnxfer_core.errors import UserError
from attnxfer_core.experiments.study import PlannedRun, Study
from attnxfer_core.experiments.validation import validate_runs
from attnxfer_core.runs.carried import restore as restore_carried
from attnxfer_core.runs.files import atomic_write_bytes, read_json_record, read_jsonl
from attnxfer_core.runs.provenance import code_version
from attnxfer_core.runs.rundir import (
    ANALYSIS_FILES,
    CONFIG,
    EVAL_METRICS,
    EVALS,
    FAILURE,
    FINAL,
    JOB,
    LOCK,
    METRICS,
    SUMMARY,
    RunDir,
    RunState,
    analyses_dir,
    run_dir_of,
)
from attnxfer_core.runs.summary import RunSummary

CACHE_VERSION = 6  # 5: status rows carry the device; 6: and the CPU threads
WATCHED = (SUMMARY, FAILURE, METRICS, CONFIG, JOB, LOCK, f"{EVALS}/{FINAL}/{EVAL_METRICS}")
LIVE = RunState.RUNNING.value  # the one state that can end without any watched file changing (a killed process)


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, list):
            out[name] = json.dumps(value)
        else:
            out[name] = value
    return out


class ConfigFlattener:
    """Flattened ``cfg.*`` columns of run configs. Configs are immutable and share unchanged
    sections, so each section object is flattened once per collection."""

    def __init__(self) -> None:
        self._memo: dict[tuple[int, str], dict[str, Any]] = {}
        self._keep: list[Any] = []  # keeps memoised objects alive, so their ids stay unique

    def __call__(self, cfg: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value, is_section in fields_of(cfg):
            if name == "exec":
                continue
            if is_section:
                out.update(self._section(value, f"cfg.{name}."))
            else:
                out[f"cfg.{name}"] = to_dict(value)
        return out

    def _section(self, obj: Any, prefix: str) -> dict[str, Any]:
        key = (id(obj), prefix)  # one object may sit under two names (teacher and init)
        if key not in self._memo:
            self._memo[key] = flatten(to_dict(obj), prefix)
            self._keep.append(obj)
        return self._memo[key]


def _signature(path: Path) -> list[Optional[int]]:
    stamps = []
    base = os.fspath(path)
    for name in WATCHED:
        try:
            stamps.append(os.stat(f"{base}/{name}").st_mtime_ns)  # plain strings: pathlib joins cost more than the stat
        except OSError:
            stamps.append(None)
    return stamps


@dataclass
class RunRecord:
    state: str  # a RunState value
    rows: list[dict]  # metric rows (done runs)
    status: dict  # one status row
    curve: list[dict]  # (epoch, top1) of evaluations during training


def read_run(run: PlannedRun, path: Path) -> RunRecord:
    rd = RunDir(path)
    report = rd.state()
    evals = [r for r in read_jsonl_safe(path / METRICS) if r.get("kind") == "eval"]
    last_epoch = evals[-1]["epoch"] if evals else None
    base = {"run_id": run.run_id, "seed": run.seed, "role": run.role,
            **{f"value.{k}": v for k, v in run.values.items()}}
    curve = [{"run_id": run.run_id, "epoch": r["epoch"], "split": r.get("split", "test"), "top1": r.get("top1"),
              "recon_loss": r.get("recon_loss"), **{k: v for k, v in r.items() if k.startswith("attn")}}
             for r in evals]
    stored = rd.summary() if report.state is RunState.DONE else None
    if stored is None:
        state = report.state if report.state is not RunState.DONE else RunState.STOPPED  # summary being replaced
        return RunRecord(state.value, [], {**base, "state": state.value, "last_epoch": last_epoch,
                                           "error": report.reason}, curve)
    summary = RunSummary.from_dict(stored)
    rows = []
    final = {k: v for k, v in summary.final.items() if k not in ("epoch", "step")}
    sets = {"clean": final}
    sets.update(read_json_record(rd.eval_metrics_path()) or {})
    for name, metrics in sets.items():
        rows.append({**base, "set": name, "epoch": summary.epochs, **metrics})
    status = {**base, "state": RunState.DONE.value, "last_epoch": last_epoch, "error": "",
              "train_seconds": summary.train_seconds, "code_version": summary.code_version,
              "device": summary.device or None, "threads": _threads(summary),
              "cpu_isa": summary.extra.get("cpu_isa")}  # None: trained before it was recorded
    return RunRecord(RunState.DONE.value, rows, status, curve)


def _threads(summary: RunSummary) -> Optional[str]:
    """``"2"``, or ``"2,1"`` for a run resumed with another count: the CPU threads that trained it (their
    count changes round-off); None for a run that finished before they were recorded."""
    threads = summary.threads
    return ",".join(str(n) for n in threads) if threads else None


def read_jsonl_safe(path: Path) -> list[dict]:
    try:
        return read_jsonl(path)
    except Exception:  # a corrupt log must not break a collection
        return []


@dataclass
class Collection:
    results: pd.DataFrame  # one row per (run, evaluation set) of finished runs
    status: pd.DataFrame  # one row per run: state, last epoch, error
    curves: pd.DataFrame  # evaluations during training
    reread: int  # how many runs were read (not served from the cache)


def collect_study(study: Study, runs: Sequence[PlannedRun], cache_path: Optional[Path] = None) -> Collection:
    cache: dict[str, Any] = {}
    if cache_path is not None and cache_path.exists():
        loaded = read_json_record(cache_path)
        if loaded and loaded.get("version") == CACHE_VERSION:
            cache = loaded["runs"]
    rows, statuses, curves = [], [], []
    reread = 0
    fresh: dict[str, Any] = {}
    config_columns = ConfigFlattener()
    for run in runs:
        path = run_dir_of(run.config).path
        signature = _signature(path)
        hit = cache.get(run.run_id)
        if hit is not None and hit["signature"] == signature and hit["record"]["status"]["state"] != LIVE:
            record = hit["record"]
        else:
            rec = read_run(run, path)
            record = {"rows": rec.rows, "status": rec.status, "curve": rec.curve}
            reread += 1
        fresh[run.run_id] = {"signature": signature, "record": record}
        if record["rows"]:
            columns = config_columns(run.config)
            rows += [{**r, **columns} for r in record["rows"]]
        statuses.append(record["status"])
        curves += record["curve"]
    if cache_path is not None:
        cache = json.dumps({"version": CACHE_VERSION, "runs": fresh}).encode()
        atomic_write_bytes(cache_path, cache, durable=False)  # a cache: losing it costs a re-read
    results = pd.DataFrame(rows)
    if not results.empty:
        results.insert(0, "study", study.name)
    status = pd.DataFrame(statuses)
    if not status.empty:
        status.insert(0, "study", study.name)
    return Collection(results, status, pd.DataFrame(curves), reread)


def write_tables(name: str, collection: Collection, out_dir: Path, provenance: dict) -> list[Path]:
    """``<study>.parquet`` / ``.csv`` (results), ``<study>.status.csv``, ``<study>.curves.csv``,
    and a provenance file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    results = collection.results
    if not results.empty:
        results = results.reindex(sorted(results.columns, key=_column_order), axis=1)
        results.to_parquet(out_dir / f"{name}.parquet", index=False)
        results.to_csv(out_dir / f"{name}.csv", index=False)
        written += [out_dir / f"{name}.parquet", out_dir / f"{name}.csv"]
    collection.status.to_csv(out_dir / f"{name}.status.csv", index=False)
    collection.curves.to_csv(out_dir / f"{name}.curves.csv", index=False)
    (out_dir / f"{name}.provenance.json").write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    return written + [out_dir / f"{name}.status.csv"]


def _column_order(column: str) -> tuple[int, str]:
    if column.startswith("cfg."):
        return (3, column)
    if column.startswith("value."):
        return (1, column)
    return (0 if column in ("study", "run_id", "seed", "role", "set") else 2, column)


def check_one_device(study: str, status: pd.DataFrame) -> None:
    """A study's table holds results of one kind of device: CPU-made and GPU-made runs are never mixed."""
    if status.empty or "device" not in status:
        return
    done = status[(status["state"] == RunState.DONE.value) & (status["role"] == "run")]
    devices = sorted({str(d) for d in done["device"].dropna()})
    if len(devices) > 1:
        raise UserError(f"study {study}: its finished runs were made on {' and '.join(devices)}; one study's table "
                        f"never mixes devices (retrain the others with exec.device, or collect into other tables)")


ANALYSES_SUBDIR = "analyses"  # <tables>/analyses/<study>/: the cross-run analyses, beside the tables


def copy_analyses(source: Path, dest: Path) -> None:
    """Copy a study's analysis outputs (``attnxfer analyze``) next to its tables, so that figures and the
    dashboard are made from the tables folder alone (a clean clone has no run directories)."""
    for name in ANALYSIS_FILES.values():
        if (source / name).exists():
            dest.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(dest / name, (source / name).read_bytes())


def collect_studies(studies: Sequence[Study], scale: str, seeds: Optional[int], overrides: Sequence[str],
                    tables: Path, command: str) -> dict[str, Collection]:
    """Collect each study's runs into ``tables`` (with the command and code version that made them)."""
    out = {}
    for study in studies:
        runs = study.expand(scale, seeds=seeds, overrides=list(overrides))
        validate_runs(study, runs, scale)
        root = Path(runs[0].config.exec.runs_root)
        for run in runs:  # a run trained on another machine, whose records the repository carries
            restore_carried(run.config)
        collection = collect_study(study, runs, cache_path=tables / ".cache" / f"{study.name}.json")
        check_one_device(study.name, collection.status)
        copy_analyses(analyses_dir(root, study.name), tables / ANALYSES_SUBDIR / study.name)
        provenance = {"command": command, "code_version": code_version(), "scale": scale, "study": study.name,
                      "runs_root": str(root), "analyses_dir": f"{ANALYSES_SUBDIR}/{study.name}",
                      "paper": study.paper, "configs": {r.run_id: to_dict(r.config) for r in runs
                                                        if run_dir_of(r.config).finished}}
        write_tables(study.name, collection, tables, provenance)
        out[study.name] = collection
    return out

"""Finished runs that ship with the repository, such as the embedded MAE teacher.

Some runs are expensive and every user needs the same one: the embedded MAE
teacher takes the better part of an hour on two cores, and every embedded
student learns from it. The repository carries its result in the shipped root
(``results/teachers/`` of the checkout): ``<run id>.safetensors`` (the weights)
and ``<run id>.json`` (the run's config and summary, the command and code
version that made it, and the sha256 of the weights file).

:func:`find` looks a config up: a shipped run matches when its stored config,
read with today's schema, is the same run (the same id), so adding a field with
a default does not orphan it, while any change of its recipe does. :func:`install`
turns a match into an ordinary finished run directory, after checking the file
against its hash, so dependencies, plans, status and collection all see it as
done. Without a match the run trains like any other; training is bit-for-bit
reproducible on the CPU, so a recipe that did not change regenerates the same
weights (``attnxfer ship --verify``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from attnxfer_core.config import RunConfig, canonical_json, from_dict, run_id, to_dict
from attnxfer_core.errors import UserError
from attnxfer_core.runs.files import atomic_write_bytes, atomic_write_json, read_json_record
from attnxfer_core.runs.provenance import PACKAGE_ROOT, code_version
from attnxfer_core.runs.rundir import WEIGHTS, RunDir
from attnxfer_core.runs.tensors import load_tensors, save_tensors

DEFAULT_ROOT = Path("results") / "teachers"  # inside the checkout


@dataclass(frozen=True)
class Shipped:
    weights: Path  # <run id>.safetensors
    record: dict  # the <run id>.json beside it


def shipped_root(cfg: RunConfig) -> Path:
    return Path(cfg.exec.shipped_root) if cfg.exec.shipped_root else PACKAGE_ROOT / DEFAULT_ROOT


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find(cfg: RunConfig) -> Optional[Shipped]:
    """The shipped result of ``cfg``'s run, if the repository carries one."""
    root = shipped_root(cfg)
    if not root.is_dir():
        return None
    wanted = run_id(cfg)
    for path in sorted(root.glob("*.json")):
        record = read_json_record(path)
        if not record or "config" not in record:
            continue
        try:
            same = run_id(from_dict(RunConfig, record["config"])) == wanted
        except UserError:  # a record from a schema this code cannot read
            continue
        if same:
            weights = path.with_suffix(".safetensors")
            if not weights.is_file():
                raise UserError(f"shipped run {path} has no weights file {weights.name}")
            return Shipped(weights, record)
    return None


def install(shipped: Shipped, cfg: RunConfig, rd: RunDir) -> None:
    """Write ``shipped`` into ``rd`` as a finished run of ``cfg`` (weights checked against their hash),
    holding the run's lock."""
    from safetensors.torch import load_file

    digest = file_sha256(shipped.weights)
    if digest != shipped.record.get("sha256"):
        raise UserError(f"shipped weights {shipped.weights} do not match their record (sha256 {digest[:12]}, "
                        f"recorded {str(shipped.record.get('sha256'))[:12]}); restore the file from git")
    rd.create()
    rd.lock()  # a second process starting at the same moment waits (or is refused), never trains over it
    try:
        if rd.config() is not None or rd.finished:  # someone else installed or started it meanwhile
            return
        save_tensors(rd.file(WEIGHTS), load_file(str(shipped.weights)))
        rd.write_config({"run_id": run_id(cfg), "config": to_dict(cfg), "canonical": canonical_json(cfg)})
        installed = {"from": str(shipped.weights), "sha256": digest,
                     "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        rd.write_summary({**shipped.record.get("summary", {}), "run_id": run_id(cfg), "installed": installed})
    finally:
        rd.unlock()


def ship(run_dir: Path, root: Path, command: str) -> Path:
    """Write a finished run's weights and record into ``root`` (what ``attnxfer ship`` commits)."""
    from safetensors.torch import save_file

    rd = RunDir(run_dir)
    summary, stored = rd.summary(), rd.config()
    if summary is None or stored is None:
        raise UserError(f"{run_dir} is not a finished run directory")
    rid = stored["run_id"]
    root.mkdir(parents=True, exist_ok=True)
    weights = root / f"{rid}.safetensors"
    state = {k: v.contiguous() for k, v in load_tensors(rd.file(WEIGHTS)).items()}
    tmp = weights.with_name(f".{weights.name}.tmp")
    save_file(state, str(tmp))
    atomic_write_bytes(weights, tmp.read_bytes())
    tmp.unlink()
    record = {"run_id": rid, "config": stored["config"], "summary": summary, "sha256": file_sha256(weights),
              "command": command, "code_version": code_version(),
              "shipped_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    atomic_write_json(root / f"{rid}.json", record)
    return weights


def verify(shipped_weights: Path, regenerated_run: Path) -> tuple[bool, str, str]:
    """Whether a run trained again from the recipe holds the shipped weights, byte for byte (via safetensors)."""
    from safetensors.torch import save

    state = {k: v.contiguous() for k, v in load_tensors(RunDir(regenerated_run).file(WEIGHTS)).items()}
    again = hashlib.sha256(save(state)).hexdigest()
    shipped = file_sha256(shipped_weights)
    return again == shipped, shipped, again

"""Run-directory maintenance: ``reindex`` (after a run-id scheme change), ``ship`` (a finished run's weights),
``carry`` (a study's finished runs' records, for the next machine)."""
from __future__ import annotations

import argparse
from pathlib import Path

from attnxfer_core.cli.common import command_line, study_parser, validated_study
from attnxfer_core.config import RunConfig, canonical_json, from_dict, run_id
from attnxfer_core.errors import UserError
from attnxfer_core.evaluation.sets import set_names
from attnxfer_core.runs.carried import carried_path, carried_root, carry
from attnxfer_core.runs.files import read_json_record
from attnxfer_core.runs.provenance import PACKAGE_ROOT
from attnxfer_core.runs.rundir import CONFIG, RunDir, run_dir_of
from attnxfer_core.runs.shipped import DEFAULT_ROOT, file_sha256, ship, shipped_root, verify
from attnxfer_core.runs.shipped import find as find_shipped


def reindex(args: argparse.Namespace) -> int:
    """Rename run directories to the ids their configs have under this code version."""
    root = Path(args.runs_root)
    moved = 0
    for path in sorted(p for p in root.iterdir() if (p / CONFIG).is_file()):
        rd = RunDir(path)
        stored = rd.config()
        if stored is None:
            print(f"skip {path.name}: unreadable {CONFIG}")
            continue
        cfg = from_dict(RunConfig, stored["config"])
        new_id = run_id(cfg)
        if new_id == path.name:
            continue
        target = root / new_id
        if target.exists():
            print(f"skip {path.name}: {new_id} exists")
            continue
        print(f"{path.name} -> {new_id}")
        if args.dry_run:
            continue
        stored.update(run_id=new_id, canonical=canonical_json(cfg))
        rd.write_config(stored)
        summary = rd.summary()
        if summary is not None:
            rd.write_summary({**summary, "run_id": new_id})
        path.rename(target)
        moved += 1
    print(f"renamed {moved} run directories")
    return 0


def ship_run(args: argparse.Namespace) -> int:
    """Write a finished run's weights and record where runs look for shipped results (``--verify``: compare)."""
    root = Path(args.root)
    rd = RunDir(Path(args.run_dir))
    stored = rd.config()
    if stored is None:
        raise UserError(f"{args.run_dir} is not a run directory (no {CONFIG})")
    target = root / f"{stored['run_id']}.safetensors"
    if args.verify:
        if not target.exists():
            raise UserError(f"nothing shipped for {stored['run_id']} under {root}")
        same, shipped, again = verify(target, rd.path)
        print(f"{'identical' if same else 'DIFFERENT'}: shipped sha256 {shipped}, {rd.path.name} sha256 {again}")
        return 0 if same else 1
    weights = ship(rd.path, root, command_line(args))
    print(f"shipped {weights} (sha256 {file_sha256(weights)}) with its record {weights.with_suffix('.json')}")
    return 0


def carry_study(args: argparse.Namespace) -> int:
    """Carry a study's finished runs (records; its dependencies shipped with weights) into the repository, so
    that the next machine trains only the rest. A run is carried once the study's evaluations of it are done
    (they cannot be made without its weights); studies whose analyses read weights are refused."""
    study, runs = validated_study(args)
    if study.analyses:
        raise UserError(f"study {study.name}: its analyses ({', '.join(study.analyses)}) read its runs' weights, "
                        f"which carry does not keep; train it where its run directories stay")
    wanted = set_names(list(study.evaluations))
    command = command_line(args)
    root = carried_root(runs[0].config)
    carried, changed, shipped, unfinished, unevaluated, size = 0, 0, 0, 0, 0, 0
    for run in runs:
        rd = run_dir_of(run.config)
        if not rd.finished:
            unfinished += 1
            continue
        if run.role == "dependency":
            if find_shipped(run.config) is None:
                ship(rd.path, shipped_root(run.config), command)
                shipped += 1
            continue
        if not set(wanted) <= set(read_json_record(rd.eval_metrics_path()) or {}):
            unevaluated += 1
            continue
        path = carried_path(root, run.run_id)
        before = path.read_bytes() if path.is_file() else None
        carry(rd.path, root, command)
        after = path.read_bytes()
        carried, changed, size = carried + 1, changed + (after != before), size + len(after)
    print(f"study {study.name}: carried {carried} finished runs to {root} ({changed} new or changed, "
          f"{size / 1024:.0f} KiB); shipped {shipped} dependencies with their weights; {unfinished} runs unfinished"
          + (f"; {unevaluated} finished runs not carried until the study evaluates them (attnxfer analyze "
             f"{study.name})" if unevaluated else ""))
    return 0


def register(sub) -> None:
    sh = sub.add_parser("ship", help="write a finished run's weights to the shipped root (--verify: compare)")
    sh.add_argument("run_dir")
    sh.add_argument("--root", default=str(PACKAGE_ROOT / DEFAULT_ROOT), help="where shipped runs live "
                    "(default: results/teachers of the checkout)")
    sh.add_argument("--verify", action="store_true",
                    help="compare this run's weights with the shipped ones, byte for byte")
    sh.set_defaults(handler=ship_run)
    study_parser(sub, "carry", "write a study's finished runs' records (no weights) to results/carried, so that "
                 "another machine trains only the rest").set_defaults(handler=carry_study)
    rx = sub.add_parser("reindex",
                        help="rename run dirs to their ids under this code version (after an id scheme change)")
    rx.add_argument("runs_root")
    rx.add_argument("--dry-run", action="store_true")
    rx.set_defaults(handler=reindex)

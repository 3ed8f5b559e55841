"""Run-directory maintenance: ``reindex`` (after a run-id scheme change), ``ship`` (a finished run's weights),
``carry`` (a study's finished runs' records, for the next machine)."""
from __future__ import annotations

import argparse
from pathlib import Path

from attnxfer_core.cli.common import command_line, study_parser, validated_study
from attnxfer_core.errors import UserError
from attnxfer_core.experiments.carrying import carry_study as carry_runs
from attnxfer_core.runs.provenance import PACKAGE_ROOT
from attnxfer_core.runs.reindex import reindex_runs
from attnxfer_core.runs.rundir import CONFIG, RunDir
from attnxfer_core.runs.shipped import DEFAULT_ROOT, file_sha256, ship, verify


def reindex(args: argparse.Namespace) -> int:
    """Rename run directories to the ids their configs have under this code version."""
    moves = reindex_runs(Path(args.runs_root), dry_run=args.dry_run)
    for line in moves.lines:
        print(line)
    print(f"renamed {moves.renamed} run directories")
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
    """Carry a study's finished runs into the repository (:func:`~attnxfer_core.experiments.carrying.carry_study`)."""
    study, runs = validated_study(args)
    print(carry_runs(study, runs, command_line(args)).line(study.name))
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

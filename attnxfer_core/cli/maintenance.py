"""Run-directory maintenance: ``reindex`` renames run directories after a change of the run-id scheme."""
from __future__ import annotations

import argparse
from pathlib import Path

from attnxfer_core.config import RunConfig, canonical_json, from_dict, run_id
from attnxfer_core.runs.rundir import CONFIG, RunDir


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


def register(sub) -> None:
    rx = sub.add_parser("reindex",
                        help="rename run dirs to their ids under this code version (after an id scheme change)")
    rx.add_argument("runs_root")
    rx.add_argument("--dry-run", action="store_true")
    rx.set_defaults(handler=reindex)

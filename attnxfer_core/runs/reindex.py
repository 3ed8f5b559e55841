"""Renaming run directories after a change of the run-id scheme (``attnxfer reindex``).

A run's id is a hash of its canonical config; when the scheme changes (a field
leaves the id, a default moves), finished runs would be orphaned under their old
names. Reindexing renames each directory to the id its stored config has under
this code version and rewrites the id in its config and summary; a directory whose
target exists, or whose config cannot be read, is skipped and named.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from attnxfer_core.config import RunConfig, canonical_json, from_dict, run_id
from attnxfer_core.runs.rundir import CONFIG, RunDir


@dataclass
class Reindexed:
    lines: list[str] = field(default_factory=list)  # what was (or, in a dry run, would be) done, one line each
    renamed: int = 0


def reindex_runs(root: Path, dry_run: bool = False) -> Reindexed:
    out = Reindexed()
    for path in sorted(p for p in Path(root).iterdir() if (p / CONFIG).is_file()):
        rd = RunDir(path)
        stored = rd.config()
        if stored is None:
            out.lines.append(f"skip {path.name}: unreadable {CONFIG}")
            continue
        cfg = from_dict(RunConfig, stored["config"])
        new_id = run_id(cfg)
        if new_id == path.name:
            continue
        target = Path(root) / new_id
        if target.exists():
            out.lines.append(f"skip {path.name}: {new_id} exists")
            continue
        out.lines.append(f"{path.name} -> {new_id}")
        if dry_run:
            continue
        stored.update(run_id=new_id, canonical=canonical_json(cfg))
        rd.write_config(stored)
        summary = rd.summary()
        if summary is not None:
            rd.write_summary({**summary, "run_id": new_id})
        path.rename(target)
        out.renamed += 1
    return out

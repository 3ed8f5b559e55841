"""Cluster profiles: a named JSON file of SLURM settings, so flags need not be repeated.

``slurm/profiles/<name>.json`` (or any path) holds a subset of
:class:`ClusterProfile`'s fields; command-line flags override it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from attnxfer_core.config.bounds import bounded, check_bounds
from attnxfer_core.config.codec import from_dict
from attnxfer_core.errors import ConfigError, UserError

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"


@dataclass(frozen=True)
class ClusterProfile:
    partition: Optional[str] = None  # SLURM partition (None: the cluster's default)
    account: Optional[str] = None
    qos: Optional[str] = None
    array_parallelism: int = bounded(64, ge=1)  # at most this many tasks of one array run at once
    gpus_per_run: Optional[int] = bounded(None, ge=0)  # override every run's GPU count (per node)
    cpus_per_task: Optional[int] = bounded(None, ge=1)  # default: the run's cpus_per_gpu (or 2 on CPU-only runs)
    mem_gb: Optional[int] = bounded(None, ge=1)  # per node; default: the run's resources
    hours: Optional[float] = bounded(None, gt=0)  # job time limit; longer runs requeue themselves
    constraint: Optional[str] = None  # e.g. a GPU type feature
    exclude: Optional[str] = None  # nodes to avoid
    additional: dict = field(default_factory=dict)  # any other sbatch option, e.g. {"mail-type": "END"}


def load_profile(name_or_path: Optional[str]) -> ClusterProfile:
    """A profile by name (slurm/profiles/NAME.json) or path; unknown fields are errors."""
    if not name_or_path:
        return ClusterProfile()
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILE_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise UserError(f"cluster profile not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"cluster profile {path} is not valid JSON: {exc}") from None
    try:
        profile = from_dict(ClusterProfile, data, prefix="profile.")  # field names, then types, as config files
        check_bounds(profile, "profile.")
    except ConfigError as exc:
        raise UserError(f"cluster profile {path}: {exc}") from None
    return profile


def with_flags(profile: ClusterProfile, **flags) -> ClusterProfile:
    """Flags given on the command line (not None) win over the profile."""
    return replace(profile, **{k: v for k, v in flags.items() if v is not None})

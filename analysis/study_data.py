"""One study's collected results, as the figures, verdicts and dashboard read them.

``attnxfer collect`` writes per study: ``<study>.parquet`` (one row per run and
evaluation set), ``<study>.status.csv``, ``<study>.curves.csv`` and
``<study>.provenance.json`` (command, code version, configs). This module reads
them back into a :class:`StudyData`; nothing downstream reads run directories.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import pandas as pd

from attnxfer_core.experiments.study import Study


@dataclass
class StudyData:
    study: Study
    results: pd.DataFrame
    curves: pd.DataFrame
    status: pd.DataFrame
    analyses_dir: Optional[Path] = None  # <runs_root>/analyses/<study>
    provenance: dict = field(default_factory=dict)

    @property
    def clean(self) -> pd.DataFrame:
        """Clean-set rows of the study's own runs (not of shared dependencies such as teacher pretraining)."""
        if self.results.empty:
            return self.results
        rows = self.results[self.results["set"] == "clean"]
        return rows[rows["role"] == "run"] if "role" in rows else rows

    def per_seed(self, selector: Mapping[str, Any], metric: str = "top1") -> pd.Series:
        """Per seed, the mean clean ``metric`` of the runs matching ``selector`` (empty when none)."""
        clean = self.clean
        if clean.empty or metric not in clean:
            return pd.Series(dtype=float)
        mask = pd.Series(True, index=clean.index)
        for key, value in selector.items():
            column = f"value.{key}"
            if column not in clean:
                return pd.Series(dtype=float)
            mask &= clean[column].astype(str) == str(value)
        return clean[mask].groupby("seed")[metric].mean().astype(float)

    def analysis(self, name: str) -> Optional[list]:
        if self.analyses_dir is None or not (self.analyses_dir / name).exists():
            return None
        return json.loads((self.analyses_dir / name).read_text())


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame()


def load_study_data(study: Study, tables: Path) -> Optional[StudyData]:
    """The collected tables of ``study`` under ``tables`` (None when it was never collected)."""
    parquet = tables / f"{study.name}.parquet"
    status_csv = tables / f"{study.name}.status.csv"
    if not status_csv.exists():
        return None
    results = pd.read_parquet(parquet) if parquet.exists() else pd.DataFrame()
    provenance = json.loads((tables / f"{study.name}.provenance.json").read_text())
    return StudyData(study, results, _read_csv(tables / f"{study.name}.curves.csv"), _read_csv(status_csv),
                     Path(provenance["analyses_dir"]), provenance)

"""Collect -> figures -> dashboard, as the CLI runs them."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

from attnxfer_core.config import to_dict
from attnxfer_core.provenance import code_version
from attnxfer_core.runner import run_dir_of
from attnxfer_core.study import Study, validate_runs

from .aggregate import aggregate
from .collect import Collection, collect_study, iter_studies, write_tables
from .dashboard import build_dashboard
from .figures import FIGURES, FigureResult, StudyData
from .replication import verdicts

log = logging.getLogger("attnxfer")


def collect(names: Sequence[str], scale: str, seeds: Optional[int], overrides: Sequence[str], tables: Path,
            command: str) -> dict[str, Collection]:
    out = {}
    for study in iter_studies(names):
        runs = study.expand(scale, seeds=seeds, overrides=list(overrides))
        validate_runs(study, runs)
        root = Path(runs[0].config.exec.runs_root)
        collection = collect_study(study, runs, cache_path=tables / ".cache" / f"{study.name}.json")
        provenance = {"command": command, "code_version": code_version(), "scale": scale, "study": study.name,
                      "runs_root": str(root), "analyses_dir": str(root / "analyses" / study.name),
                      "paper": study.paper, "configs": {r.run_id: to_dict(r.config) for r in runs
                                                        if run_dir_of(r.config).finished}}
        write_tables(study.name, collection, tables, provenance)
        out[study.name] = collection
    return out


def load_study_data(study: Study, tables: Path) -> Optional[StudyData]:
    parquet = tables / f"{study.name}.parquet"
    status_csv = tables / f"{study.name}.status.csv"
    if not status_csv.exists():
        return None
    results = pd.read_parquet(parquet) if parquet.exists() else pd.DataFrame()
    status = _read_csv(status_csv)
    curves = _read_csv(tables / f"{study.name}.curves.csv")
    provenance = json.loads((tables / f"{study.name}.provenance.json").read_text())
    return StudyData(study, results, curves, status, Path(provenance["analyses_dir"]))


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame()


def figures(names: Sequence[str], tables: Path, out: Path, formats: Sequence[str]) -> dict[str, list[FigureResult]]:
    made = {}
    for study in iter_studies(names):
        data = load_study_data(study, tables)
        if data is None:
            made[study.name] = [FigureResult(note=f"not collected (attnxfer collect {study.name})")]
            continue
        made[study.name] = [fn(data, out, formats) for fn in FIGURES.get(study.name, [])]
    return made


def dashboard(names: Sequence[str], tables: Path, figures_dir: Path, out: Path) -> Path:
    studies, clean = {}, {}
    provenance = {}
    for study in iter_studies(names):
        data = load_study_data(study, tables)
        if data is None:
            continue
        provenance = json.loads((tables / f"{study.name}.provenance.json").read_text())
        agg = aggregate(data.clean) if not data.results.empty else pd.DataFrame()
        pngs = sorted(p for p in figures_dir.glob("*.png") if p.stem == study.name or p.stem.startswith(f"{study.name}_")
                      or (study.name == "robustness" and p.stem == "corruptions_heatmap"))
        studies[study.name] = {"paper": study.paper, "results": data.results, "aggregate": agg, "status": data.status,
                               "curves": data.curves, "configs": provenance.get("configs", {}), "figures": pngs}
        clean[study.name] = data.clean
    return build_dashboard(out, studies, verdicts(clean), figures_dir, provenance)

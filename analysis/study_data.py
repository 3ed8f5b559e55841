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
from typing import Any, Mapping, Optional, Sequence

import pandas as pd

from attnxfer_core.config import RunConfig, from_dict
from attnxfer_core.experiments.claims import ENSEMBLE, SIMILARITY
from attnxfer_core.experiments.presets import budget_of
from attnxfer_core.experiments.scales import EMBEDDED
from attnxfer_core.experiments.study import Study, same_value


@dataclass
class StudyData:
    study: Study
    results: pd.DataFrame
    curves: pd.DataFrame
    status: pd.DataFrame
    analyses_dir: Optional[Path] = None  # <runs_root>/analyses/<study>
    provenance: dict = field(default_factory=dict)

    def budgets(self) -> str:
        """The embedded budgets (``full``, ``short``, ``other``) its classification runs were trained at, joined;
        "" at paper scale. A verdict about method ranking is read against it: the short budget reorders methods."""
        if self.provenance.get("scale") != EMBEDDED:
            return ""
        configs = self.provenance.get("configs", {}).values()
        return ", ".join(sorted({budget_of(from_dict(RunConfig, c)) for c in configs
                                 if c.get("objective") == "classify"}))

    @property
    def clean(self) -> pd.DataFrame:
        """Clean-set rows of the study's own runs (not of shared dependencies such as teacher pretraining)."""
        if self.results.empty:
            return self.results
        rows = self.results[self.results["set"] == "clean"]
        return rows[rows["role"] == "run"] if "role" in rows else rows

    def per_seed(self, selector: Mapping[str, Any], metric: str = "top1") -> pd.Series:
        """Per seed, the mean clean ``metric`` of the runs matching ``selector`` (empty when none).

        Two kinds of name read a cross-run analysis instead of the clean evaluation:
        ``similarity:<key>`` (e.g. ``similarity:jsd_matched/pretrained``), a run's value averaged over
        its layers; and a selector ``{"ensemble": name}``, that ensemble's ``metric`` with the seed of
        its first member.
        """
        if ENSEMBLE in selector:
            return self._ensemble_per_seed(str(selector[ENSEMBLE]), metric)
        if metric.startswith(SIMILARITY):
            return self._similarity_per_seed(selector, metric[len(SIMILARITY):])
        rows = self._matching(selector)
        if rows.empty or metric not in rows:
            return pd.Series(dtype=float)
        return rows.groupby("seed")[metric].mean().astype(float)

    def _matching(self, selector: Mapping[str, Any]) -> pd.DataFrame:
        """Clean-set rows of the study's runs whose point values match ``selector`` (none when a key is unknown)."""
        clean = self.clean
        if clean.empty:
            return clean
        mask = pd.Series(True, index=clean.index)
        for key, value in selector.items():
            column = f"value.{key}"
            if column not in clean:
                return clean.iloc[0:0]
            mask &= value_in(clean[column], [value])
        return clean[mask]

    def _runs_matching(self, selector: Mapping[str, Any]) -> dict[str, int]:
        """run id -> seed of the study's runs whose point values match ``selector``."""
        rows = self._matching(selector)
        return dict(zip(rows["run_id"], rows["seed"].astype(int))) if not rows.empty else {}

    def _similarity_per_seed(self, selector: Mapping[str, Any], key: str) -> pd.Series:
        rows = self.analysis("similarity.json") or []
        runs = self._runs_matching(selector)
        values: dict[int, list[float]] = {}
        for row in rows:
            if row.get("run_id") in runs:
                layers = [v[key] for v in row["layers"].values() if key in v and v[key] == v[key]]
                if layers:
                    values.setdefault(runs[row["run_id"]], []).append(sum(layers) / len(layers))
        return pd.Series({seed: sum(v) / len(v) for seed, v in sorted(values.items())}, dtype=float)

    def _ensemble_per_seed(self, name: str, metric: str) -> pd.Series:
        rows = self.analysis("ensembles.json") or []
        seeds = dict(zip(self.clean["run_id"], self.clean["seed"].astype(int))) if not self.clean.empty else {}
        values = {seeds[r["member_ids"][0]]: float(r["ensemble"][metric]) for r in rows
                  if r["name"] == name and r["member_ids"][0] in seeds and metric in r["ensemble"]}
        return pd.Series(dict(sorted(values.items())), dtype=float)

    def matched_gap(self, method: str, reference: str, family: str) -> pd.Series:
        """Per seed, reference - method top-1 on ``family`` (mean over its sets), both taken at the same
        clean accuracy (the ``matched`` analysis: Table 4's protocol)."""
        out: dict[int, float] = {}
        for row in self.analysis("matched.json") or []:
            if row["method"] != method or row["reference"] != reference:
                continue
            pair = [[v for k, v in r["sets"].items() if k == family or k.startswith(f"{family}/")]
                    for r in row["rows"]]  # [reference, method], as the analysis writes them
            if len(pair) == 2 and all(pair):
                out[int(row["seed"])] = sum(pair[0]) / len(pair[0]) - sum(pair[1]) / len(pair[1])
        return pd.Series(dict(sorted(out.items())), dtype=float)

    def matched_clean_gap(self, method: str, reference: str) -> pd.Series:
        """Per seed, reference - method clean (validation) top-1 at the checkpoints the ``matched`` analysis
        chose: how well the accuracies were matched (nan where the analysis did not record them)."""
        out: dict[int, float] = {}
        for row in self.analysis("matched.json") or []:
            if row["method"] == method and row["reference"] == reference and len(row["rows"]) == 2:
                ref, other = (r.get("clean_top1") for r in row["rows"])
                out[int(row["seed"])] = float("nan") if ref is None or other is None else ref - other
        return pd.Series(dict(sorted(out.items())), dtype=float)

    def matched_within(self, method: str, reference: str, family: str,
                       tolerance: float) -> tuple[pd.Series, pd.Series, pd.Series]:
        """The ``matched`` analysis held to a clean-accuracy tolerance: per seed, the shifted gap
        (:meth:`matched_gap`) and the clean gap (:meth:`matched_clean_gap`) of every analysed seed, and the
        shifted gaps of the seeds whose clean gap is within ``tolerance`` points (the ones a claim counts)."""
        gaps = self.matched_gap(method, reference, family)
        clean = self.matched_clean_gap(method, reference).reindex(gaps.index)
        return gaps, clean, gaps[(clean.abs() <= tolerance).to_numpy()]

    def analysis(self, name: str) -> Optional[list]:
        if self.analyses_dir is None or not (self.analyses_dir / name).exists():
            return None
        return json.loads((self.analyses_dir / name).read_text())


def value_in(column: pd.Series, values: Sequence[Any]) -> pd.Series:
    """Which of a varied value's cells are one of ``values``, by the suite's one value rule
    (:func:`attnxfer_core.experiments.study.same_value`: 4 selects 4.0 and "4")."""
    return column.map(lambda cell: any(same_value(cell, v) for v in values)).astype(bool)


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
    # the analyses copied beside the tables (older tables named the run root's folder: absolute)
    analyses = tables / provenance["analyses_dir"]
    return StudyData(study, results, _read_csv(tables / f"{study.name}.curves.csv"), _read_csv(status_csv),
                     analyses, provenance)

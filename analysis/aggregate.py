"""Aggregation over seeds: mean, sd, n and the half-width of the 95% t interval of the mean.

The final epoch's numbers are used unless the best epoch is asked for; then the
table says so (column ``epoch_choice``), since picking the best epoch on the
test set flatters a method.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from analysis.stats import t_halfwidth

METRICS = ("top1", "top5", "nll", "ece")


def value_columns(frame: pd.DataFrame) -> list[str]:
    return sorted(c for c in frame.columns if c.startswith("value."))


def aggregate(results: pd.DataFrame, metrics: Sequence[str] = METRICS, by: Sequence[str] = ()) -> pd.DataFrame:
    """One row per (varied values, evaluation set): mean, std, n, ci95 of each metric over seeds."""
    if results.empty:
        return pd.DataFrame()
    keys = list(by) or [*value_columns(results), "set"]
    keys = [k for k in keys if k in results.columns]
    rows = []
    for group, part in results.groupby(keys, dropna=False, sort=True):
        group = group if isinstance(group, tuple) else (group,)
        row = dict(zip(keys, group))
        row["n"] = int(part["seed"].nunique()) if "seed" in part else len(part)
        for metric in metrics:
            if metric not in part or part[metric].isna().all():
                continue
            values = part[metric].dropna().astype(float)
            mean, std = float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            row.update({f"{metric}_mean": mean, f"{metric}_std": std, f"{metric}_ci95": t_halfwidth(std, len(values))})
        rows.append(row)
    out = pd.DataFrame(rows)
    out["epoch_choice"] = "final"
    return out

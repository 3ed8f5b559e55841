"""The "does it replicate?" panel: each claim of the paper against our confidence intervals.

A comparison "A > B" replicates when the 95% CI of the per-seed difference A - B
lies above 0, does not when it lies below 0, and is inconclusive when it
straddles 0 (or with a single seed). Paired by seed where both runs share one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import pandas as pd

from .aggregate import ci95_halfwidth

REPLICATES, DOES_NOT, INCONCLUSIVE, NO_DATA = "replicates", "does not replicate", "inconclusive", "no data"


@dataclass
class Verdict:
    study: str
    claim: str
    verdict: str
    evidence: str


def _values(clean: pd.DataFrame, column: str, value) -> pd.Series:
    if clean.empty or column not in clean:
        return pd.Series(dtype=float)
    part = clean[clean[column].astype(str) == str(value)]
    return part.groupby("seed")["top1"].mean()


def difference(a: pd.Series, b: pd.Series) -> tuple[Optional[float], float, int]:
    """Mean of a - b (paired on seeds when possible), its 95% CI half-width, and n."""
    if a.empty or b.empty:
        return None, float("nan"), 0
    common = a.index.intersection(b.index)
    if len(common) >= 2:
        d = (a[common] - b[common]).astype(float)
        return float(d.mean()), ci95_halfwidth(float(d.std(ddof=1)), len(d)), len(d)
    mean = float(a.mean() - b.mean())
    n = min(len(a), len(b))
    if n < 2:
        return mean, float("nan"), n
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return mean, ci95_halfwidth(float(se * np.sqrt(n)), n), n


def greater(study: str, claim: str, a: pd.Series, b: pd.Series, label_a: str, label_b: str) -> Verdict:
    mean, ci, n = difference(a, b)
    if mean is None:
        return Verdict(study, claim, NO_DATA, f"needs finished runs of {label_a} and {label_b}")
    evidence = f"{label_a} - {label_b} = {mean:+.2f}" + ("" if np.isnan(ci) else f" ± {ci:.2f}") + f" points (n={n})"
    if np.isnan(ci):
        return Verdict(study, claim, INCONCLUSIVE, evidence + "; one seed gives no interval")
    verdict = REPLICATES if mean - ci > 0 else DOES_NOT if mean + ci < 0 else INCONCLUSIVE
    return Verdict(study, claim, verdict, evidence)


def _main(clean: pd.DataFrame) -> list[Verdict]:
    v = lambda m: _values(clean, "value.method", m)  # noqa: E731
    out = [
        greater("main", "Fine-tuning the pretrained model beats training from scratch", v("finetune"), v("scratch"), "finetune", "scratch"),
        greater("main", "Attention copy beats training from scratch", v("copy"), v("scratch"), "copy", "scratch"),
        greater("main", "Attention distillation beats training from scratch", v("distill"), v("scratch"), "distill", "scratch"),
    ]
    for method, paper_gap in (("copy", 0.778), ("distill", 1.0)):
        a, s, f = v(method), v("scratch"), v("finetune")
        common = a.index.intersection(s.index).intersection(f.index)
        claim = f"{method} recovers most of the scratch -> fine-tune gap (paper: {100 * paper_gap:.1f}%)"
        if len(common) < 2:
            out.append(Verdict("main", claim, NO_DATA if len(common) == 0 else INCONCLUSIVE, "needs >= 2 seeds of all three"))
            continue
        gap = (a[common] - s[common]) / (f[common] - s[common])
        mean, ci = float(gap.mean()), ci95_halfwidth(float(gap.std(ddof=1)), len(gap))
        verdict = REPLICATES if mean - ci > 0.5 else DOES_NOT if mean + ci < 0.5 else INCONCLUSIVE
        out.append(Verdict("main", claim, verdict, f"gap recovered {100 * mean:.1f}% ± {100 * ci:.1f} (n={len(gap)}; 'most' = above 50%)"))
    return out


def _qkv(clean):
    q = clean[(clean.get("value.kind") == "copy") & (clean.get("value.target") == "q")] if "value.kind" in clean else clean.iloc[0:0]
    m = clean[(clean.get("value.kind") == "copy") & (clean.get("value.target") == "map")] if "value.kind" in clean else clean.iloc[0:0]
    return [greater("qkv", "Copying Q alone beats copying the attention map", q.groupby("seed")["top1"].mean(),
                    m.groupby("seed")["top1"].mean(), "copy Q", "copy map")]


def _feature_kd(clean):
    v = lambda m: _values(clean, "value.method", m)  # noqa: E731
    return [greater("feature_kd", "Attention distillation beats residual-stream feature distillation",
                    v("distill"), v("feature_kd"), "distill", "feature_kd")]


def _averaging(clean):
    out = []
    for how in ("examples", "queries"):
        if "value.average" not in clean:
            out.append(Verdict("averaging", f"Averaging teacher maps over {how} hurts", NO_DATA, "no runs"))
            continue
        full = clean[(clean["value.average"] == "none") & (clean["value.mode"] == "distill")].groupby("seed")["top1"].mean()
        avg = clean[(clean["value.average"] == how) & (clean["value.mode"] == "distill")].groupby("seed")["top1"].mean()
        out.append(greater("averaging", f"Averaging teacher maps over {how} hurts (distill)", full, avg, "per-example maps", f"averaged over {how}"))
    return out


def _teachers(clean):
    if "value.teacher" not in clean:
        return [Verdict("teachers", "A pretrained teacher beats a random-init teacher", NO_DATA, "no runs")]
    base = clean[(clean["value.mode"] == "distill") & (clean["value.init"] == "random")]
    sup = base[base["value.teacher"] == "supervised"].groupby("seed")["top1"].mean()
    rnd = base[base["value.teacher"] == "random"].groupby("seed")["top1"].mean()
    return [greater("teachers", "Teacher quality dominates: a pretrained teacher beats a random one (distill)", sup, rnd,
                    "supervised teacher", "random teacher")]


def _layers(clean):
    if "value.side" not in clean:
        return [Verdict("layers", "Later layers matter more than early ones", NO_DATA, "no runs")]
    out = []
    for mode in ("copy", "distill"):
        part = clean[(clean["value.mode"] == mode) & clean["value.side"].isin(["first", "last"])]
        if part.empty:
            out.append(Verdict("layers", f"Later layers matter more ({mode})", NO_DATA, "no runs"))
            continue
        k = sorted(part["value.k"].unique())[len(part["value.k"].unique()) // 2]
        last = part[(part["value.side"] == "last") & (part["value.k"] == k)].groupby("seed")["top1"].mean()
        first = part[(part["value.side"] == "first") & (part["value.k"] == k)].groupby("seed")["top1"].mean()
        out.append(greater("layers", f"Later layers matter more: last-{k} beats first-{k} ({mode})", last, first, f"last {k}", f"first {k}"))
    return out


CLAIMS: dict[str, Callable[[pd.DataFrame], list[Verdict]]] = {
    "main": _main, "qkv": _qkv, "feature_kd": _feature_kd, "averaging": _averaging, "teachers": _teachers,
    "layers": _layers,
}


def verdicts(clean_by_study: dict[str, pd.DataFrame]) -> list[Verdict]:
    out = []
    for study, fn in CLAIMS.items():
        clean = clean_by_study.get(study, pd.DataFrame())
        out += fn(clean) if not clean.empty else [Verdict(study, f"claims of the {study} study", NO_DATA, "no finished runs")]
    return out

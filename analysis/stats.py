"""The statistics every verdict, table, figure and the demo use: one implementation, from scipy.

All comparisons are paired by seed (the same seed gives two methods the same data
order and augmentation); unpaired intervals are used only when runs share fewer
than two seeds, and say so. Every interval here is a confidence interval, never
a standard deviation; :class:`Interval` carries its confidence level so the
text that shows it can say what "±" means.

- :func:`mean_interval`: Student's t interval of a mean over seeds.
- :func:`paired_difference`: t interval of the mean per-seed difference A - B
  (``scipy.stats.ttest_rel``), or Welch's interval when unpaired.
- :func:`gap_share`: the share of the low -> high gap a method recovers,
  (mean(M - L)) / (mean(H - L)), with a Fieller interval: the set of shares rho
  for which the paired contrast M - (1 - rho) L - rho H is not rejected by a
  one-sample t test. Its ends can be unbounded when the gap itself is not
  clearly above zero.
- :func:`equivalence`: two one-sided tests (TOST) of |A - B| < margin.
- :func:`p_above` and :func:`gap_share_p`: the p-value of a rule's "replicates"
  test on the two-sided scale, so that p < alpha exactly when the (1 - alpha)
  interval above clears the rule's threshold; :func:`holm` adjusts a study's
  p-values for the number of its claims.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float  # -inf / +inf when unbounded; nan when there is no interval (one seed)
    high: float
    n: int  # seeds (pairs) behind it
    confidence: float = 0.95
    paired: bool = True

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    @property
    def half_width(self) -> float:
        """(high - low) / 2 for symmetric intervals; nan when unbounded or absent."""
        return (self.high - self.low) / 2 if self.bounded else float("nan")

    def text(self, scale: float = 1.0, digits: int = 2, unit: str = "") -> str:
        """``12.30 [8.10, 16.50] (95% CI, 5 paired seeds)``."""
        est = f"{scale * self.estimate:.{digits}f}{unit}"
        how = f"{self.n} paired seeds" if self.paired else f"n={self.n}, unpaired"
        if math.isnan(self.low) or math.isnan(self.high):
            return f"{est} (no interval: {how})"
        lo = "-inf" if self.low == -math.inf else f"{scale * self.low:.{digits}f}{unit}"
        hi = "inf" if self.high == math.inf else f"{scale * self.high:.{digits}f}{unit}"
        return f"{est} [{lo}, {hi}] ({100 * self.confidence:g}% CI, {how})"


def t_halfwidth(std: float, n: int, confidence: float = 0.95) -> float:
    """Half-width of the t interval of a mean from its sample sd (NaN for a single seed)."""
    if n < 2 or not np.isfinite(std):
        return float("nan")
    return float(stats.t.ppf(0.5 + confidence / 2, n - 1) * std / np.sqrt(n))


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> Optional[Interval]:
    """The t interval of the mean of ``values`` (None when there are none)."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return None
    mean = float(x.mean())
    if len(x) < 2:
        return Interval(mean, float("nan"), float("nan"), len(x), confidence)
    if np.ptp(x) == 0:
        return Interval(mean, mean, mean, len(x), confidence)
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(confidence)
    return Interval(mean, float(ci.low), float(ci.high), len(x), confidence)


def _common(*series: pd.Series) -> pd.Index:
    index = series[0].index
    for s in series[1:]:
        index = index.intersection(s.index)
    return index.sort_values()


def paired_difference(a: pd.Series, b: pd.Series, confidence: float = 0.95) -> Optional[Interval]:
    """Mean of a - b with its t interval: paired on the seeds (index) both have, else Welch's.

    ``a`` and ``b`` are per-seed values indexed by seed. None when either is empty.
    """
    if a.empty or b.empty:
        return None
    common = _common(a, b)
    if len(common) >= 2:
        d = (a[common] - b[common]).astype(float).to_numpy()
        if np.ptp(d) == 0:
            return Interval(float(d.mean()), float(d[0]), float(d[0]), len(d), confidence)
        ci = stats.ttest_rel(a[common].astype(float), b[common].astype(float)).confidence_interval(confidence)
        return Interval(float(d.mean()), float(ci.low), float(ci.high), len(d), confidence)
    mean = float(a.mean() - b.mean())
    n = min(len(a), len(b))
    if n < 2:
        return Interval(mean, float("nan"), float("nan"), n, confidence, paired=len(common) == n)
    with warnings.catch_warnings():  # zero-variance samples warn; the interval is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = stats.ttest_ind(a.astype(float), b.astype(float), equal_var=False).confidence_interval(confidence)
    return Interval(mean, float(ci.low), float(ci.high), n, confidence, paired=False)


def gap_share(method: pd.Series, low: pd.Series, high: pd.Series, confidence: float = 0.95) -> Optional[Interval]:
    """Share of the low -> high gap ``method`` recovers, mean(M - L) / mean(H - L), with a Fieller interval.

    Paired on the seeds all three share; None with no common seed or no gap on average.
    """
    common = _common(method, low, high)
    if len(common) == 0:
        return None
    a = (method[common] - low[common]).astype(float).to_numpy()  # what the method gains
    b = (high[common] - low[common]).astype(float).to_numpy()  # the gap
    n = len(a)
    if b.mean() == 0:
        return None
    estimate = float(a.mean() / b.mean())
    if n < 2:
        return Interval(estimate, float("nan"), float("nan"), n, confidence)
    t2 = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) ** 2
    cov = np.cov(np.vstack([a, b]), ddof=1) / n  # covariance of the two means
    # {rho : (mean_a - rho mean_b)^2 <= t^2 var(mean_a - rho mean_b)} = {A rho^2 + B rho + C <= 0}
    qa = b.mean() ** 2 - t2 * cov[1, 1]
    qb = -2 * (a.mean() * b.mean() - t2 * cov[0, 1])
    qc = a.mean() ** 2 - t2 * cov[0, 0]
    # The gap not clearly above zero: the set is unbounded (or, for a gap clearly below zero, bounded but not a
    # share of anything: a method 20 points below "low" must not read as recovering most of a reversed gap).
    if qa <= 0 or b.mean() <= 0:
        return Interval(estimate, -math.inf, math.inf, n, confidence)
    root = math.sqrt(max(qb * qb - 4 * qa * qc, 0.0))  # >= 0 in exact arithmetic: the estimate is in the set
    lo, hi = sorted(((-qb - root) / (2 * qa), (-qb + root) / (2 * qa)))
    return Interval(estimate, float(lo), float(hi), n, confidence)


@dataclass(frozen=True)
class EquivalenceTest:
    difference: Interval  # at 1 - 2 alpha (90% for alpha 0.05): inside ±margin means equivalent
    p_value: float  # TOST: the larger of the two one-sided p-values
    margin: float


def equivalence(a: pd.Series, b: pd.Series, margin: float, alpha: float = 0.05) -> Optional[EquivalenceTest]:
    """Two one-sided paired t tests of -margin < mean(a - b) < margin."""
    diff = paired_difference(a, b, confidence=1 - 2 * alpha)
    if diff is None or diff.n < 2 or not diff.paired:
        return None if diff is None else EquivalenceTest(diff, float("nan"), margin)
    common = _common(a, b)
    d = (a[common] - b[common]).astype(float).to_numpy()
    with warnings.catch_warnings():  # zero-variance differences warn; the p-values are still right
        warnings.simplefilter("ignore", RuntimeWarning)
        above = stats.ttest_1samp(d, -margin, alternative="greater").pvalue
        below = stats.ttest_1samp(d, margin, alternative="less").pvalue
    p = float(max(above, below)) if np.isfinite(above) and np.isfinite(below) else float(abs(d.mean()) >= margin)
    return EquivalenceTest(diff, p, margin)


def _above(x: np.ndarray, threshold: float) -> float:
    """Two-sided-scale p that mean(x) > threshold (one-sample t): twice the one-sided p, at most 1."""
    if len(x) < 2:
        return float("nan")
    if np.ptp(x) == 0:  # no spread: the interval is the point itself
        return 0.0 if x[0] > threshold else 1.0
    one_sided = stats.ttest_1samp(x, threshold, alternative="greater").pvalue
    return float(min(1.0, 2 * one_sided))


def p_above(a: pd.Series, b: pd.Series, threshold: float = 0.0) -> float:
    """p that mean(a - b) > ``threshold``, on the two-sided scale of :func:`paired_difference`'s interval.

    Paired on the seeds both have (two or more), else Welch's test; nan when no interval exists. p < alpha
    exactly when the (1 - alpha) interval lies above ``threshold``, which is what makes one p-value per rule
    comparable across a study's claims (and correctable by :func:`holm`).
    """
    if a.empty or b.empty:
        return float("nan")
    common = _common(a, b)
    if len(common) >= 2:
        return _above((a[common] - b[common]).astype(float).to_numpy(), threshold)
    if min(len(a), len(b)) < 2:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        one_sided = stats.ttest_ind(a.astype(float) - threshold, b.astype(float), equal_var=False,
                                    alternative="greater").pvalue
    return float(min(1.0, 2 * one_sided)) if np.isfinite(one_sided) else float("nan")


def gap_share_p(method: pd.Series, low: pd.Series, high: pd.Series, threshold: float) -> float:
    """p that the share of the gap recovered exceeds ``threshold``, matching :func:`gap_share`'s Fieller rule.

    The Fieller interval lies above ``threshold`` exactly when the gap H - L is clearly above zero (else the
    interval is unbounded) and the contrast (M - L) - threshold (H - L) is clearly above zero; so p is the
    larger of the two tests' p-values (an intersection-union test), on the two-sided scale.
    """
    common = _common(method, low, high)
    if len(common) < 2:
        return float("nan")
    a = (method[common] - low[common]).astype(float).to_numpy()
    b = (high[common] - low[common]).astype(float).to_numpy()
    gap, contrast = _above(b, 0.0), _above(a - threshold * b, 0.0)
    return float("nan") if math.isnan(gap) or math.isnan(contrast) else max(gap, contrast)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given.

    A nan (a registered claim without data) counts as p = 1: it is still one of the family, so leaving it out
    would make the correction weaker than what was registered.
    """
    p = np.array([1.0 if not np.isfinite(v) else float(v) for v in p_values])
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(np.argsort(p, kind="stable")):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()

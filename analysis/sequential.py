"""Group-sequential alpha spending, so a study may look at its seeds more than once without inflating type I error.

A study that tests after 5 seeds and, if undecided, again after 10 gets two chances to reject a true null; at
nominal alpha each time its false-positive rate is about 8%, not 5%. Here the looks are registered in advance and
alpha is spread over them by a Lan-DeMets spending function alpha(t) of the information fraction t (seeds so far /
seeds at the last look): by look k at most alpha(t_k) may have been spent in all. Under H0 the standardized
statistics of the looks behave like Brownian motion observed at t_1 < ... < t_K, multivariate normal with
corr(Z_i, Z_j) = sqrt(t_i / t_j), so the two-sided critical values c_k are solved one look at a time (brentq) so that
the chance of first crossing at look k is exactly the alpha that look may spend. Those chances are rectangle
probabilities of that normal (``multivariate_normal.cdf`` with ``lower_limit``). A verdict at look k then uses the
nominal level 2 * (1 - Phi(c_k)): a ``1 - nominal_alpha`` confidence interval in place of the 95% one.

The boundaries are the normal ones; the verdicts apply them to t statistics over few seeds, whose looks share
a variance estimate. Simulated under no effect, the overall error is then close to alpha, not equal to it:
0.050-0.052 for O'Brien-Fleming at (3, 6), (4, 8), (5, 10) or (7, 13) seeds, 0.052-0.055 for Pocock at
(5, 10) and (3, 6) (200,000 draws each).

- :func:`spent`: the O'Brien-Fleming- or Pocock-type spending function.
- :func:`boundaries`: the critical |z|, nominal alpha and cumulative spend of every registered look.
- :func:`nominal_confidence`: the confidence level a verdict made at a given seed count must use.
"""
from __future__ import annotations

import functools
import math
import operator
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import brentq
from scipy.stats import multivariate_normal, norm

from attnxfer_core.experiments.protocol import OBRIEN_FLEMING, POCOCK, SPENDING  # the names a protocol registers

__all__ = ["OBRIEN_FLEMING", "POCOCK", "SPENDING", "Look", "boundaries", "nominal_confidence", "spent"]

# Looks beyond the second are integrated by scipy's randomized lattice rule (one and two are exact). A fixed seed,
# fresh for every evaluation, makes every boundary reproducible and the integrand a smooth function of the
# boundary brentq is moving. The tolerance is absolute on the crossing probability of one look: at most _ABSEPS,
# and at most _RELEPS of what that look may spend, so a look that spends little (an early O'Brien-Fleming look)
# is not lost in the error of a fixed tolerance. scipy's integrator reads abseps only; releps is passed for form.
_SEED = 20240501
_ABSEPS = 1e-7
_RELEPS = 1e-5
_XTOL = 1e-7  # in z; well below the integration noise (~1e-5 in z for five looks)


def _rule(rule: str) -> str:
    if rule not in SPENDING:
        raise ValueError(f"rule must be one of {SPENDING}, got {rule!r}")
    return rule


def _alpha(alpha: float) -> float:
    if not 0 < alpha < 1:  # also rejects nan
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return float(alpha)


def _looks(looks: Sequence[int]) -> tuple[int, ...]:
    """The registered looks as a tuple of ints, or a ValueError saying what is wrong with them."""
    try:
        out = tuple(operator.index(n) for n in looks)
    except TypeError:
        raise ValueError(f"looks must be whole seed counts, got {tuple(looks)!r}") from None
    if not out:
        raise ValueError("looks must name at least one seed count at which the data are analysed, got none")
    if any(n < 2 for n in out):
        raise ValueError(f"looks must each have at least 2 seeds (a paired t test needs two), got {out}")
    if any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f"looks must be strictly increasing seed counts, got {out}")
    return out


def spent(fraction: float, alpha: float = 0.05, rule: str = OBRIEN_FLEMING) -> float:
    """Two-sided alpha a Lan-DeMets spending function allows to have been spent by information fraction ``t``.

    O'Brien-Fleming type spends almost nothing early, so a verdict at the last look is nearly the fixed-sample one
    (the price of looking early is small, and so is the chance of stopping early); Pocock type spends about evenly,
    so early stops come easier and the last look pays more. Both reach exactly ``alpha`` at ``t = 1``.

    The two-sided test is two one-sided tests at alpha / 2 each, each spending by the one-sided function, as
    gsDesign, ldbounds and the published tables do. For O'Brien-Fleming type that is
    ``2 * (2 - 2 * Phi(z_{1 - alpha/4} / sqrt(t)))``; applying ``2 - 2 * Phi(z_{1 - alpha/2} / sqrt(t))`` to the
    two-sided alpha directly spends more early (|z| 2.772 then 1.979 for looks at t = .5, 1, against the published
    2.963 then 1.969). Pocock type, ``alpha * ln(1 + (e - 1) t)``, is linear in alpha, so the two readings agree.
    """
    alpha, rule = _alpha(alpha), _rule(rule)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    if fraction == 1:
        return alpha  # exactly, not up to rounding: the last look spends what was registered
    if rule == OBRIEN_FLEMING:
        return float(4 * norm.sf(norm.isf(alpha / 4) / math.sqrt(fraction)))
    return float(alpha * math.log1p((math.e - 1) * fraction))


@dataclass(frozen=True)
class Look:
    """One registered analysis: how many seeds, its critical value, and what a verdict made there must use."""

    seeds: int
    fraction: float  # information fraction: seeds / seeds at the last look
    z: float  # two-sided critical |z|; inf when the spending function allows nothing here (rounds to zero)
    nominal_alpha: float  # 2 * (1 - Phi(z)): the two-sided level of a test at this look alone
    spent: float  # cumulative alpha spent through this look

    @property
    def confidence(self) -> float:
        """The level of the interval a verdict at this look uses: the interval excludes 0 exactly when |Z| > z."""
        return 1 - self.nominal_alpha


def _correlation(fractions: np.ndarray) -> np.ndarray:
    """corr(Z_i, Z_j) = sqrt(t_i / t_j), i <= j: the statistics share the seeds of the earlier look."""
    return np.sqrt(np.minimum.outer(fractions, fractions) / np.maximum.outer(fractions, fractions))


def _next_boundary(previous: list[float], cov: np.ndarray, increment: float, cumulative: float) -> float:
    """c_k such that P(|Z_j| <= c_j for j < k, |Z_k| > c_k) = ``increment``, given c_1 .. c_{k-1}.

    The crossing probability is solved for directly rather than as a difference of two "no crossing yet"
    probabilities near 1: it is small, so the integrator's absolute error on it is small too. By symmetry it is
    twice the probability of crossing upwards, one rectangle: -c_j <= Z_j <= c_j (j < k), Z_k > c_k.

    The root is bracketed without search: crossing first at k implies |Z_k| > c_k, so 2 (1 - Phi(c_k)) >=
    increment; and |Z_k| > c_k implies crossing at some look up to k, so 2 (1 - Phi(c_k)) <= cumulative.
    """
    if increment <= 0:  # spending underflowed to nothing here: the look cannot reject
        return math.inf
    k = len(previous)
    upper = np.array([*previous, math.inf])
    eps = min(_ABSEPS, _RELEPS * increment)

    def excess(c: float) -> float:
        lower = np.array([*(-b for b in previous), c])
        dist = multivariate_normal(np.zeros(k + 1), cov, seed=_SEED, abseps=eps, releps=eps)
        return 2 * float(dist.cdf(upper, lower_limit=lower)) - increment

    low, high = float(norm.isf(cumulative / 2)), float(norm.isf(increment / 2))
    for _ in range(8):  # the bracket is exact; widen only if integration noise hides the sign at an end
        if excess(low) >= 0 >= excess(high):
            return float(brentq(excess, low, high, xtol=_XTOL))
        low, high = max(low - 0.25, 0.0), high + 0.25
    raise RuntimeError(f"no boundary found for look {k + 1} (increment {increment:.3g}): integration too coarse")


@functools.lru_cache(maxsize=64)
def _design(looks: tuple[int, ...], alpha: float, rule: str) -> tuple[Look, ...]:
    """The boundaries of validated input; cached because a study asks for the same design at every verdict."""
    fractions = np.array(looks, dtype=float) / looks[-1]
    cov = _correlation(fractions)
    cumulative = [spent(float(t), alpha, rule) for t in fractions]
    z: list[float] = []
    for k, total in enumerate(cumulative):
        increment = total - (cumulative[k - 1] if k else 0.0)
        if k == 0:
            z.append(float(norm.isf(increment / 2)) if increment > 0 else math.inf)
        else:
            z.append(_next_boundary(z, cov[: k + 1, : k + 1], increment, total))
    return tuple(
        Look(seeds=n, fraction=float(t), z=c, nominal_alpha=float(2 * norm.sf(c)), spent=s)
        for n, t, c, s in zip(looks, fractions, z, cumulative)
    )


def boundaries(looks: Sequence[int], alpha: float = 0.05, rule: str = OBRIEN_FLEMING) -> tuple[Look, ...]:
    """The two-sided critical values of the registered ``looks`` (seed counts, strictly increasing).

    Seeds are the information: look k sits at t_k = looks[k] / looks[-1]. The boundaries are what keep the chance
    of any false rejection, over all looks together, at ``alpha`` when each look's verdict uses its own nominal
    level. One look is the fixed-sample test (|z| 1.95996 at alpha .05). Exact for up to two looks; further looks
    are integrated numerically (deterministic, ~1e-5 in z), and the cost grows with their number (5: ~0.1 s).
    """
    return _design(_looks(looks), _alpha(alpha), _rule(rule))


def nominal_confidence(seeds: int, looks: Sequence[int], alpha: float = 0.05, rule: str = OBRIEN_FLEMING) -> float:
    """The confidence level of the interval a verdict made at ``seeds`` seeds must use under the registered looks.

    A verdict may only be made at a registered look: looking at any other seed count spends alpha the design
    never set aside, so that is an error rather than an interpolation.
    """
    design = boundaries(looks, alpha, rule)
    for look in design:
        if look.seeds == seeds:
            return look.confidence
    registered = tuple(look.seeds for look in design)
    raise ValueError(f"seeds={seeds!r} is not a registered look; a verdict may only be made at looks {registered}")

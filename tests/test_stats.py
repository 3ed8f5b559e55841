"""The one statistics module: intervals agree with scipy's tests they are defined by."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from analysis.stats import equivalence, gap_share, mean_interval, paired_difference, t_halfwidth


def _series(values):
    return pd.Series(values, index=range(len(values)), dtype=float)


def test_paired_difference_is_scipys_paired_t_interval():
    rng = np.random.default_rng(1)
    a, b = _series(70 + rng.normal(0, 2, 6)), _series(66 + rng.normal(0, 2, 6))
    interval = paired_difference(a, b)
    expected = scipy_stats.ttest_rel(a, b).confidence_interval(0.95)
    assert interval.paired and interval.n == 6
    assert (interval.low, interval.high) == pytest.approx((expected.low, expected.high))
    assert interval.estimate == pytest.approx(float((a - b).mean()))


def test_paired_difference_falls_back_to_welch_without_common_seeds():
    a = pd.Series([70.0, 71.0, 72.0], index=[0, 1, 2])
    b = pd.Series([60.0, 65.0, 61.0], index=[3, 4, 5])
    interval = paired_difference(a, b)
    expected = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert not interval.paired and (interval.low, interval.high) == pytest.approx((expected.low, expected.high))


def test_one_seed_gives_no_interval():
    interval = paired_difference(_series([70.0]), _series([60.0]))
    assert interval.estimate == 10.0 and math.isnan(interval.low) and "no interval" in interval.text()
    assert math.isnan(t_halfwidth(1.0, 1)) and math.isnan(mean_interval([3.0]).low)


def test_gap_share_fieller_ends_are_where_the_paired_contrast_test_reaches_alpha():
    """The Fieller interval inverts the t test of M - (1 - rho) L - rho H = 0: at its ends p = 0.05."""
    rng = np.random.default_rng(0)
    low = _series(60 + rng.normal(0, 3, 5))
    high = low + 15 + _series(rng.normal(0, 1, 5))
    method = low + 9 + _series(rng.normal(0, 1, 5))
    interval = gap_share(method, low, high)
    assert interval.estimate == pytest.approx(float((method - low).mean() / (high - low).mean()))
    assert interval.low < interval.estimate < interval.high
    for rho in (interval.low, interval.high):
        contrast = method - (1 - rho) * low - rho * high
        assert scipy_stats.ttest_1samp(contrast, 0.0).pvalue == pytest.approx(0.05, abs=1e-9)
    inside = method - (1 - interval.estimate) * low - interval.estimate * high
    assert scipy_stats.ttest_1samp(inside, 0.0).pvalue > 0.05


def test_gap_share_is_unbounded_when_the_gap_itself_is_unclear():
    low = _series([60.0, 70.0, 65.0])
    high = _series([62.0, 66.0, 70.0])  # the gap straddles zero
    method = _series([61.0, 68.0, 67.0])
    interval = gap_share(method, low, high)
    assert not interval.bounded and "inf" in interval.text()


def test_equivalence_is_two_one_sided_tests():
    a = _series([80.0, 81.0, 79.5, 80.5, 80.2])
    b = a + _series([0.1, -0.2, 0.15, -0.05, 0.0])
    close = equivalence(a, b, margin=1.0)
    assert close.p_value < 0.05 and -1.0 < close.difference.low and close.difference.high < 1.0
    assert close.difference.confidence == pytest.approx(0.90)
    far = equivalence(a, b - 3.0, margin=1.0)
    assert far.p_value > 0.5

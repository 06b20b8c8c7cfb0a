"""The bootstrap intervals, now drawn by ``scipy.stats.bootstrap``, against a plain
percentile bootstrap written out here: the same intervals within Monte-Carlo error, a
seed that reproduces an interval exactly, whole patients in a grouped resample."""

import numpy as np
import pytest

from skecg.metrics import bootstrap_ci, grouped_bootstrap_ci, paired_bootstrap
from skecg.metrics._compare import paired_bootstrap_terms

B = 4000  # resamples on both sides: their 2.5 % / 97.5 % points differ by ~0.1 standard errors (measured)


def reference_interval(statistic, n_units, units_to_rows, seed, confidence=0.95):
    """The textbook percentile bootstrap: draw units (records or patients) with
    replacement, score their rows, take the percentiles."""
    rng = np.random.default_rng(seed)
    dist = np.array([statistic(units_to_rows(rng.integers(0, n_units, n_units))) for _ in range(B)])
    a = (1 - confidence) / 2
    return np.percentile(dist, [100 * a, 100 * (1 - a)])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    x = rng.gamma(2.0, size=300)  # skewed: the percentile interval is not symmetric
    return x, x.std() / np.sqrt(len(x))


def test_record_interval_agrees_with_a_plain_percentile_bootstrap(data):
    x, se = data
    r = bootstrap_ci(np.mean, x, n_resamples=B, random_state=0)
    low, high = reference_interval(np.mean, len(x), lambda i: x[i], seed=123)
    assert r.estimate == pytest.approx(x.mean())
    assert abs(r.low - low) < 0.25 * se and abs(r.high - high) < 0.25 * se
    # the percentile interval is not the normal one: the skew shows on both sides
    assert (r.high - r.estimate) > (r.estimate - r.low)
    assert r.distribution.shape == (B,) and r.n_resamples == B


def test_grouped_interval_agrees_with_a_plain_cluster_bootstrap():
    rng = np.random.default_rng(8)
    groups = np.repeat(np.arange(100), 3)  # three records per patient, alike within a patient
    x = rng.gamma(2.0, size=100)[groups] + rng.normal(0, 0.1, len(groups))
    members = [np.flatnonzero(groups == g) for g in range(100)]
    se = np.std([x[m].mean() for m in members]) / np.sqrt(100)
    r = grouped_bootstrap_ci(np.mean, x, groups=groups, n_resamples=B, random_state=1)
    low, high = reference_interval(np.mean, 100, lambda g: x[np.concatenate([members[i] for i in g])], seed=321)
    assert abs(r.low - low) < 0.25 * se and abs(r.high - high) < 0.25 * se
    # records of a patient are not independent evidence: resampling records would be too narrow
    records = bootstrap_ci(np.mean, x, n_resamples=B, random_state=1)
    assert (r.high - r.low) > 1.4 * (records.high - records.low)


def test_paired_interval_agrees_with_a_plain_paired_bootstrap(data):
    x, se = data
    rng = np.random.default_rng(3)
    y = np.zeros(len(x))
    a, b = x, x + rng.normal(0.05, 0.5, len(x))  # two "systems" scored on the same records

    def err(t, p):
        return float(np.mean(p))  # a score of the predictions alone: its difference is mean(a - b)

    d = paired_bootstrap(err, y, a, b, n_resamples=B, random_state=2)
    low, high = reference_interval(np.mean, len(x), lambda i: a[i] - b[i], seed=99)
    se_d = (a - b).std() / np.sqrt(len(x))
    assert d.estimate == pytest.approx(np.mean(a - b))
    assert abs(d.low - low) < 0.25 * se_d and abs(d.high - high) < 0.25 * se_d
    # per-record terms: the same draws give the same interval as scoring each resample
    t = paired_bootstrap_terms(np.mean, a, b, n_resamples=B, random_state=2)
    assert (t.low, t.high) == pytest.approx((d.low, d.high))


@pytest.mark.parametrize("make_seed", [lambda: 5, lambda: np.random.RandomState(5), lambda: np.random.default_rng(5)],
                         ids=["int", "RandomState", "Generator"])
def test_a_seed_reproduces_the_interval_exactly(data, make_seed):
    x, _ = data
    r1 = bootstrap_ci(np.mean, x, n_resamples=300, random_state=make_seed())
    r2 = bootstrap_ci(np.mean, x, n_resamples=300, random_state=make_seed())
    assert (r1.low, r1.high) == (r2.low, r2.high)
    np.testing.assert_array_equal(r1.distribution, r2.distribution)
    other = bootstrap_ci(np.mean, x, n_resamples=300, random_state=11)
    assert not np.array_equal(other.distribution, r1.distribution)


def test_undefined_resamples_are_left_out_of_the_percentiles():
    x = np.r_[np.zeros(5), np.arange(1.0, 16.0)]

    def mean_unless_few_positive(v):
        if np.count_nonzero(v) < 12:
            raise ValueError("undefined on this resample")
        return float(np.mean(v))

    r = bootstrap_ci(mean_unless_few_positive, x, n_resamples=500, random_state=0)
    undefined = np.isnan(r.distribution)
    assert 0 < undefined.sum() < 500  # some resamples raised, and count as NaN
    kept = r.distribution[~undefined]
    assert (r.low, r.high) == pytest.approx(tuple(np.percentile(kept, [2.5, 97.5])))


def test_a_single_patient_cannot_give_an_interval():
    y = np.ones((4, 2))
    with pytest.raises(ValueError, match="at least two patients, got 1"):
        grouped_bootstrap_ci(lambda a: float(a.mean()), y, groups=["p"] * 4, n_resamples=10)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        bootstrap_ci(np.mean, np.arange(5.0), confidence=95)

"""The percentile bootstrap under :func:`~skecg.metrics.bootstrap_ci`,
:func:`~skecg.metrics.grouped_bootstrap_ci` and the paired intervals: one place that
hands the resampling and the percentiles to :func:`scipy.stats.bootstrap`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats
from sklearn.utils import check_random_state


@dataclass
class BootstrapResult:
    """A point estimate with a percentile bootstrap interval."""

    estimate: object
    low: object
    high: object
    confidence: float
    n_resamples: int
    distribution: np.ndarray

    def __iter__(self):
        return iter((self.estimate, self.low, self.high))

    def __str__(self):
        if np.ndim(self.estimate) == 0:
            return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"
        return f"{self.estimate} [{self.low}, {self.high}]"


class _Groups:
    """Records grouped by patient: ``positions(pick)`` are the records of the drawn
    patients ``pick`` (with repeats), patient after patient, in the order drawn."""

    def __init__(self, groups, n: int):
        if groups is None:
            self.order, self.n_groups = None, n
            return
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} entries for {n} records")
        _, inv = np.unique(groups.astype(str), return_inverse=True)
        self.order = np.argsort(inv, kind="stable")  # records of patient 0, then of patient 1, ...
        self.sizes = np.bincount(inv)
        self.starts = np.cumsum(self.sizes) - self.sizes
        self.n_groups = len(self.sizes)

    def positions(self, pick: np.ndarray) -> np.ndarray:
        if self.order is None:
            return pick
        sizes = self.sizes[pick]
        # position k of the output is record (k - first output position of its draw) of that patient
        offsets = np.repeat(self.starts[pick] - (np.cumsum(sizes) - sizes), sizes) + np.arange(sizes.sum())
        return self.order[offsets]


def percentile_bootstrap(statistic: Callable, groups, n: int, *, n_resamples: int, confidence: float,
                         random_state, shape=(), undefined=(ValueError,)):
    """Percentile interval of ``statistic(positions)`` over bootstrap resamples of
    patients (``groups``; ``None``: each of the ``n`` records its own patient).

    ``scipy.stats.bootstrap`` draws the patients: its one sample is the patients'
    numbers, with ``paired=True`` (every array the statistic reads is indexed by the
    same draw) and ``vectorized=False`` (a statistic scores one resample of whole
    records at a time; scipy's own loop over 2-D samples would score each column
    alone).  scipy cannot bootstrap clusters itself, so each draw of patients becomes
    their records here (:class:`_Groups`).  ``statistic`` raising one of ``undefined``
    gives NaN, and NaN resamples are left out of the percentiles (scipy's percentile
    of the same distribution, with ``nan_policy='omit'``).

    Returns
    -------
    distribution : ndarray of shape (n_resamples, *shape)
    low, high : ndarray of shape ``shape``
    n_groups : int
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    members = _Groups(groups, n)
    if members.n_groups < 2:
        raise ValueError(f"a bootstrap interval needs records of at least two patients, got "
                         f"{members.n_groups}: every resample would be the same data")
    rng = random_state if isinstance(random_state, np.random.Generator) else check_random_state(random_state)

    def one_resample(pick):
        try:
            value = statistic(members.positions(pick))
        except undefined:
            return np.full(shape, np.nan)
        return np.asarray(value, dtype=float)  # float from the first resample on: scipy stacks them

    with warnings.catch_warnings():
        # a NaN resample makes scipy's own interval NaN, with this warning; ours omits them below
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap((np.arange(members.n_groups),), one_resample, n_resamples=int(n_resamples),
                              batch=max(1, 2**20 // members.n_groups), vectorized=False, paired=True,
                              confidence_level=confidence, method="percentile", rng=rng)
    dist = res.bootstrap_distribution  # (*shape, n_resamples)
    alpha = (1 - confidence) / 2
    low, high = (stats.quantile(dist, q, axis=-1, nan_policy="omit") for q in (alpha, 1 - alpha))
    return np.moveaxis(dist, -1, 0), low, high, members.n_groups


def bootstrap_result(statistic: Callable, estimate, groups, n: int, *, n_resamples: int, confidence: float,
                     random_state) -> BootstrapResult:
    """:class:`BootstrapResult` of ``statistic(positions)`` around ``estimate`` (see
    :func:`percentile_bootstrap`): :func:`~skecg.metrics.bootstrap_ci` and
    :func:`~skecg.metrics.grouped_bootstrap_ci` in one place."""
    dist, low, high, _ = percentile_bootstrap(statistic, groups, n, n_resamples=n_resamples, confidence=confidence,
                                              random_state=random_state, shape=np.shape(estimate))
    if np.ndim(estimate) == 0:
        low, high = float(low), float(high)
    return BootstrapResult(estimate, low, high, confidence, int(n_resamples), dist)

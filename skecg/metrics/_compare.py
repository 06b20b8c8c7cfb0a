"""Comparing systems honestly: several seeds, and paired bootstrap intervals that resample
patients, for the difference between two systems on the same records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.base import clone

from ..labels import NORMAL_CLASS
from ._bootstrap import BootstrapResult, bootstrap_result, percentile_bootstrap
from ._challenge import prepare


@dataclass
class SeedSummary:
    """Mean and standard deviation of a score over training seeds."""

    values: np.ndarray

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def sd(self) -> float:
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else float("nan")

    def __str__(self):
        if len(self.values) == 1:
            return f"{self.mean:.3f} (1 seed)"
        return f"{self.mean:.3f} ± {self.sd:.3f} ({len(self.values)} seeds)"


def seed_summary(values) -> SeedSummary:
    """Mean ± sd (ddof=1) of per-seed scores.

    Examples
    --------
    >>> str(seed_summary([0.30, 0.34, 0.32]))
    '0.320 ± 0.020 (3 seeds)'
    """
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("no per-seed values")
    return SeedSummary(v)


def with_seed(estimator, seed: int):
    """A clone of ``estimator`` with every ``random_state`` parameter (nested ones too)
    set to ``seed``: one training run of a multi-seed experiment.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from sklearn.decomposition import PCA
    >>> p = with_seed(make_pipeline(PCA(random_state=0), RandomForestClassifier(random_state=0)), 7)
    >>> sorted(v for k, v in p.get_params().items() if k.endswith("random_state"))
    [7, 7]
    """
    est = clone(estimator)
    keys = [k for k in est.get_params(deep=True) if k == "random_state" or k.endswith("__random_state")]
    # set the deepest parameters last: setting an outer estimator replaces nothing inside it
    return est.set_params(**{k: int(seed) for k in sorted(keys, key=lambda k: k.count("__"))})


def grouped_bootstrap_ci(metric: Callable, *arrays, groups=None, n_resamples: int = 1000, confidence: float = 0.95,
                         random_state=None) -> BootstrapResult:
    """Percentile bootstrap interval of a score, resampling patients (``groups``).

    All records of a drawn patient enter the resample together, so records of one
    patient do not count as independent evidence.  With ``groups=None`` each record
    is its own group (the plain record bootstrap).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1], [1], [0], [0], [1], [0]])
    >>> r = grouped_bootstrap_ci(lambda a, b: float((a == b).mean()), y, y, groups=[0, 0, 1, 1, 2, 2],
    ...                          n_resamples=20, random_state=0)
    >>> (r.estimate, r.low, r.high)
    (1.0, 1.0, 1.0)
    """
    arrays = [np.asarray(a) for a in arrays]
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays):
        raise ValueError(f"arrays must be non-empty and aligned, got lengths {[len(a) for a in arrays]}")
    return bootstrap_result(lambda idx: metric(*[a[idx] for a in arrays]), metric(*arrays), groups, n,
                     n_resamples=n_resamples, confidence=confidence, random_state=random_state)


@dataclass
class PairedDifference:
    """Score of system A minus score of system B on the same records, with a paired
    bootstrap interval.  ``significant`` is False when the interval covers zero."""

    name_a: str
    name_b: str
    estimate: float
    low: float
    high: float
    confidence: float
    n_resamples: int
    n_groups: int

    @property
    def significant(self) -> bool:
        return not (self.low <= 0 <= self.high)

    @property
    def verdict(self) -> str:
        if not self.significant:
            return "not significant"
        return f"{self.name_a} better" if self.estimate > 0 else f"{self.name_b} better"

    def __str__(self):
        return (f"{self.name_a} - {self.name_b}: {self.estimate:+.3f} "
                f"[{self.low:+.3f}, {self.high:+.3f}] ({self.verdict})")


def _seed_mean(metric, y, preds, idx):
    return float(np.mean([metric(y[idx], p[idx]) for p in preds]))


def paired_bootstrap(metric: Callable, y_true, pred_a, pred_b, *, groups=None, names=("A", "B"),
                     n_resamples: int = 1000, confidence: float = 0.95, random_state=None) -> PairedDifference:
    """Paired bootstrap interval for ``metric(y, pred_a) - metric(y, pred_b)``.

    Both systems are scored on the same resample of patients each time, so the
    interval is for their difference on these records, not for each score apart.
    ``pred_a`` or ``pred_b`` may be a list of per-seed predictions: a system's score is
    then the mean over its seeds in every resample.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_pred) -> float``, e.g. :func:`challenge_score`.
    y_true : array-like of shape (n_records, n_classes)
    pred_a, pred_b : array-like of shape (n_records, n_classes), or lists of them
    groups : array-like of shape (n_records,), optional
        Patient of each record (default: each record its own patient).
    names : (str, str)
    n_resamples : int, default=1000
    confidence : float, default=0.95
    random_state : int, RandomState or None

    Returns
    -------
    PairedDifference
        ``str()`` reads e.g. ``"zhu - catboost: +0.120 [-0.020, +0.260] (not significant)"``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random((80, 3)) < 0.3).astype(int)
    >>> noisy = np.where(rng.random(y.shape) < 0.1, 1 - y, y)
    >>> acc = lambda t, p: float((t == p).mean())
    >>> d = paired_bootstrap(acc, y, y, noisy, names=("perfect", "noisy"), n_resamples=200, random_state=0)
    >>> d.significant, d.verdict
    (True, 'perfect better')
    """
    y = np.asarray(y_true)
    A = [np.asarray(p) for p in pred_a] if isinstance(pred_a, (list, tuple)) else [np.asarray(pred_a)]
    B = [np.asarray(p) for p in pred_b] if isinstance(pred_b, (list, tuple)) else [np.asarray(pred_b)]
    n = len(y)
    if n == 0:
        raise ValueError("no records to compare on")
    for p in A + B:
        if p.shape[0] != n:
            raise ValueError(f"predictions cover {p.shape[0]} records but y_true has {n}: "
                             "two systems can only be compared on the same records")
    full = np.arange(n)
    est = _seed_mean(metric, y, A, full) - _seed_mean(metric, y, B, full)
    return _paired(lambda idx: _seed_mean(metric, y, A, idx) - _seed_mean(metric, y, B, idx), est, groups, n,
                   names, n_resamples, confidence, random_state, undefined=(ValueError,))


def _paired(statistic, estimate, groups, n, names, n_resamples, confidence, random_state, undefined):
    """:class:`PairedDifference` of ``statistic(positions)`` (A minus B on the same
    resample of patients) around ``estimate``."""
    _, low, high, n_groups = percentile_bootstrap(statistic, groups, n, n_resamples=n_resamples,
                                                  confidence=confidence, random_state=random_state,
                                                  undefined=undefined)
    return PairedDifference(str(names[0]), str(names[1]), float(estimate), float(low), float(high), confidence,
                            int(n_resamples), n_groups)


# --- per-record terms: a bootstrap resample is a sum, not a fresh scoring call ----------
def challenge_terms(y_true, y_pred, classes=None) -> np.ndarray:
    """Per-record terms of the challenge score: columns observed, correct, inactive.

    The official score is ``(observed - inactive) / (correct - inactive)`` over sums of
    record contributions, so the score of any resample of records is
    :func:`challenge_from_terms` of the resampled rows: the bootstraps score thousands
    of resamples with sums instead of re-running the scorer (equal to
    :func:`~skecg.metrics.challenge_score`, tested).
    """
    p = prepare(y_true, y_pred, classes=classes)
    L, O, W = p["labels"], p["outputs"], np.nan_to_num(p["weights"])
    LW = L @ W
    inactive = np.zeros_like(L)
    inactive[:, p["classes"].index(NORMAL_CLASS)] = 1

    def per_record(out):
        return (LW * out).sum(1) / np.maximum(np.logical_or(L, out).sum(1), 1)
    return np.stack([per_record(O), per_record(L), per_record(inactive)], axis=1)


def challenge_from_terms(terms) -> float:
    """The challenge score from per-record terms (rows) or their column sums."""
    t = np.asarray(terms, dtype=float)
    s = t.sum(0) if t.ndim == 2 else t
    return 0.0 if s[1] == s[2] else float((s[0] - s[2]) / (s[1] - s[2]))


def f1_terms(y_true, y_pred) -> np.ndarray:
    """Per-record TP, FP, FN of each class: shape (n_records, 3, n_classes)."""
    y = np.asarray(y_true) > 0
    p = np.asarray(y_pred) > 0
    return np.stack([y & p, ~y & p, y & ~p], axis=1).astype(np.int32)


def macro_f1_from_terms(terms) -> float:
    """Macro F1 (0 for a class with no TP, FP or FN, as ``per_class_scores``) from
    per-record terms or their sums."""
    t = np.asarray(terms)
    tp, fp, fn = t.sum(0) if t.ndim == 3 else t
    den = 2 * tp + fp + fn
    return float(np.mean(np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0)))


def seed_mean_score(score: Callable) -> Callable:
    """``score`` of per-record terms, averaged over seeds (axis 1 of the terms)."""
    def f(T):
        return float(np.mean([score(T[:, s]) for s in range(T.shape[1])]))
    return f


def paired_bootstrap_terms(score: Callable, terms_a, terms_b, *, groups=None, names=("A", "B"),
                           n_resamples: int = 1000, confidence: float = 0.95, random_state=None) -> PairedDifference:
    """:func:`paired_bootstrap` on per-record terms: ``score(terms[idx])`` for each
    system on the same resamples of patients (same draws as :func:`paired_bootstrap`)."""
    A, B = np.asarray(terms_a), np.asarray(terms_b)
    n = len(A)
    if n == 0 or len(B) != n:
        raise ValueError(f"terms cover {n} and {len(B)} records: two systems can only be compared on the "
                         "same records")
    return _paired(lambda idx: score(A[idx]) - score(B[idx]), score(A) - score(B), groups, n, names, n_resamples,
                   confidence, random_state, undefined=())

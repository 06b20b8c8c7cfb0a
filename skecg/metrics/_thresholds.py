"""Per-class decision thresholds chosen on (validation) probabilities: skecg's one threshold search.

:class:`~skecg.models.ECGClassifier` (``tune_thresholds=True``) and
:class:`~skecg.tuning.MultilabelThresholdTuner` both call :func:`best_thresholds`.

The candidate grid is taken from the data, not fixed: for each class, the
midpoints between its sorted distinct probabilities (the only places where a
threshold changes a decision), at most ``candidates`` of them (evenly spaced
quantiles when there are more), plus one threshold at the smallest probability
(every record positive) and one above the largest (none).  Within that grid the
middle of the best plateau is chosen, the threshold least sensitive to the
validation sample.  A data grid finds the exact optimum on the validation records
wherever the probabilities lie (also for logits, ``predict_nonlinearity=None``), and
costs the same as a fixed grid of ``candidates`` values.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..labels import merge_equivalent_columns
from ._challenge import _challenge_from_prepared, _default_classes, prepare

#: The objectives :func:`best_thresholds` knows by name (a callable is also accepted).
THRESHOLD_OBJECTIVES = ("f1", "challenge")


def _candidates(p, candidates):
    if not isinstance(candidates, numbers.Integral):
        return np.asarray(candidates, dtype=float)
    lo, hi = float(np.min(p)), float(np.max(p))
    if hi <= lo:
        return np.array([lo, hi + 1e-9])
    # midpoints between sorted distinct probabilities are the only thresholds that
    # change a decision; with many records take evenly spaced quantiles of them
    u = np.unique(p)
    mids = (u[1:] + u[:-1]) / 2
    if len(mids) > candidates:
        mids = np.quantile(mids, np.linspace(0, 1, candidates))
    return np.r_[lo, mids, hi + 1e-9]


def _f1_curve(pos, p, cand):
    pred = p[:, None] >= cand[None, :]
    tp = (pred & pos[:, None]).sum(0)
    fp = (pred & ~pos[:, None]).sum(0)
    fn = (~pred & pos[:, None]).sum(0)
    return 2 * tp / np.maximum(2 * tp + fp + fn, 1)


def _best(cand, score):
    # the middle of the best plateau: a threshold in the middle of the interval that
    # gives the best score is the least sensitive to the validation sample
    best = np.flatnonzero(score >= score.max() - 1e-12)
    run = best[: 1 + int(np.argmax(np.r_[np.diff(best) != 1, True]))]
    return float(cand[run[len(run) // 2]])


def best_thresholds(y_true, proba, *, objective="f1", classes=None, candidates=100, default=0.5, n_passes=2):
    """Per-class thresholds that maximise ``objective`` on (validation) data.

    Parameters
    ----------
    y_true : array-like of shape (n_records, n_classes)
        0/1 indicator matrix.
    proba : array-like of shape (n_records, n_classes)
        Scores of the same records (probabilities, or any score that grows with the
        chance of the class).
    objective : {'f1', 'challenge'} or callable, default='f1'
        ``'f1'`` maximises each class's F1 on its own.  ``'challenge'`` maximises the
        PhysioNet/CinC 2020 challenge score, and a callable ``objective(y_true,
        y_pred) -> float`` any other score of the whole 0/1 matrix; both by coordinate
        ascent (one class at a time, ``n_passes`` rounds), starting from the F1
        thresholds.
    classes : sequence of str, optional
        SNOMED CT codes of the columns (for ``'challenge'``).
    candidates : int or array-like, default=100
        An int: the candidate thresholds of each class come from its probabilities,
        at most that many midpoints between its distinct values plus the two ends
        (see the module's description); an array: the candidate grid itself, the
        same for every class.
    default : float, default=0.5
        Threshold of a class without positives in ``y_true`` (nothing to tune on).
    n_passes : int, default=2
        Rounds of coordinate ascent for ``'challenge'`` and a callable.

    Returns
    -------
    ndarray of shape (n_classes,)

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1, 0], [0, 0], [1, 1], [0, 1]])
    >>> p = np.array([[0.3, 0.1], [0.1, 0.2], [0.4, 0.6], [0.2, 0.7]])
    >>> best_thresholds(y, p).round(2).tolist()
    [0.25, 0.4]
    >>> best_thresholds(np.array([[1], [0], [1]]), np.array([[0.4], [0.2], [0.9]])).round(2).tolist()
    [0.3]
    """
    y = np.asarray(y_true) > 0
    p = np.asarray(proba, dtype=float)
    if y.shape != p.shape or y.ndim != 2:
        raise ValueError(f"y_true {y.shape} and proba {p.shape} must both be (n_records, n_classes)")
    if not np.all(np.isfinite(p)):
        raise ValueError("proba has NaN or inf values")
    if not (callable(objective) or objective in THRESHOLD_OBJECTIVES):
        raise ValueError(f"objective must be one of {THRESHOLD_OBJECTIVES} or a callable, got {objective!r}")
    k = y.shape[1]
    cands = [_candidates(p[:, j], candidates) for j in range(k)]
    out = np.full(k, float(default))
    for j in range(k):
        if y[:, j].any():
            out[j] = _best(cands[j], _f1_curve(y[:, j], p[:, j], cands[j]))
    if objective == "f1":
        return out
    if objective == "challenge":
        return _challenge_ascent(y.astype(int), p, out, cands, classes, n_passes)

    def score(pred):
        return float(objective(y.astype(int), pred))

    pred = (p >= out[None, :]).astype(int)
    current = score(pred)
    for _ in range(int(n_passes)):
        changed = False
        for j in range(k):
            vals = np.r_[cands[j], np.inf]  # inf: never predict the class
            s = np.empty(len(vals))
            for i, t in enumerate(vals):
                pred[:, j] = p[:, j] >= t
                s[i] = score(pred)
            t_best = _best(vals, s) if s.max() > current + 1e-12 else out[j]
            if t_best != out[j]:
                changed = True
                out[j] = t_best
                current = float(s.max())
            pred[:, j] = p[:, j] >= out[j]
        if not changed:
            break
    return out


def _challenge_ascent(y, p, out, cands, classes, n_passes):
    """Coordinate ascent on the challenge score, each class's candidates scored at once.

    The score is a sum over records, so with the other columns fixed each record
    contributes one of two amounts (class ``j`` predicted or not); a threshold's score
    is a masked sum of those.  This gives the same numbers as calling
    :func:`~skecg.metrics.challenge_score` per candidate (tested) without rescoring
    every record for every candidate.
    """
    prep = prepare(y, classes=classes)
    L, W = prep["labels"], np.nan_to_num(prep["weights"])
    scored = prep["classes"]
    classes = _default_classes(y.shape[1]) if classes is None else [str(c) for c in classes]
    _, mcls = merge_equivalent_columns(y, classes)
    pos = [scored.index(c) for c in mcls]
    _, internals = _challenge_from_prepared(prep, prep["labels"])
    correct, inactive = internals["correct_score"], internals["inactive_score"]
    if correct == inactive:
        return out  # every choice scores 0: nothing to tune
    LW = L @ W

    def embed(pred):
        merged, _ = merge_equivalent_columns(pred, classes, how="or")
        full = np.zeros((len(pred), len(scored)))
        full[:, pos] = merged
        return full

    def per_record(O):
        norm = np.maximum(np.logical_or(L, O).sum(1), 1)
        return (LW * O).sum(1) / norm

    pred = (p >= out[None, :]).astype(int)
    current = (per_record(embed(pred)).sum() - inactive) / (correct - inactive)
    for _ in range(int(n_passes)):
        changed = False
        for j in range(y.shape[1]):
            pred[:, j] = 0
            r0 = per_record(embed(pred))
            pred[:, j] = 1
            r1 = per_record(embed(pred))
            vals = np.r_[cands[j], np.inf]
            on = p[:, j][:, None] >= vals[None, :]
            s = ((np.where(on, r1[:, None], r0[:, None])).sum(0) - inactive) / (correct - inactive)
            if s.max() > current + 1e-12:
                out[j] = _best(vals, s)
                current = float(s.max())
                changed = True
            pred[:, j] = p[:, j] >= out[j]
        if not changed:
            break
    return out

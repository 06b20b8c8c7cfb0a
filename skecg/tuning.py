"""Per-class decision thresholds tuned on an inner validation split of the training data.

The multilabel counterpart of scikit-learn's ``TunedThresholdClassifierCV``: a
meta-estimator around any estimator with ``predict_proba`` of shape
``(n_records, n_classes)`` that chooses one threshold per class to maximise F1 or the
challenge score on records the model did not train on.  The test fold is never seen:
the inner split is taken from the data given to ``fit``.
"""

from __future__ import annotations

import numbers
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.model_selection import GroupKFold
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._records import ECGRecords
from .metrics import challenge_score, proba_matrix
from .models._split import multilabel_group_split
from .utils.validation import MultilabelClassifierMixin

OBJECTIVES = ("f1", "challenge")


def _patient_groups(X, n):
    if isinstance(X, ECGRecords) and "patient_id" in X.meta:
        g = X.meta["patient_id"].to_numpy()
        if not np.all(g == g):  # NaN ids: fall back to one group per record for those
            g = np.where(g == g, g, np.array([f"_record{i}" for i in range(n)], dtype=object))
        return np.asarray([str(v) for v in g], dtype=object)
    return np.arange(n)


def _candidates(p, thresholds):
    if isinstance(thresholds, numbers.Integral):
        lo, hi = float(np.min(p)), float(np.max(p))
        if hi <= lo:
            return np.array([lo])
        # midpoints between sorted distinct probabilities are the only thresholds that
        # change a decision; with many records take evenly spaced quantiles of them
        u = np.unique(p)
        mids = (u[1:] + u[:-1]) / 2
        if len(mids) > thresholds:
            mids = np.quantile(mids, np.linspace(0, 1, thresholds))
        return np.r_[mids, hi + 1e-9]
    return np.asarray(thresholds, dtype=float)


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


def tune_multilabel_thresholds(y_true, proba, *, objective="f1", classes=None, thresholds=100, default=0.5,
                               n_passes=2):
    """Per-class thresholds that maximise ``objective`` on (validation) data.

    Parameters
    ----------
    y_true : array-like of shape (n_records, n_classes)
        0/1 indicator matrix.
    proba : array-like of shape (n_records, n_classes)
    objective : {'f1', 'challenge'} or callable, default='f1'
        ``'f1'`` maximises each class's F1 on its own.  ``'challenge'`` maximises the
        PhysioNet/CinC 2020 challenge score, and a callable ``objective(y_true,
        y_pred) -> float`` any other score of the whole 0/1 matrix; both by coordinate
        ascent (one class at a time, ``n_passes`` rounds), starting from the F1
        thresholds.
    classes : sequence of str, optional
        SNOMED CT codes of the columns (for ``'challenge'``).
    thresholds : int or array-like, default=100
        An int: at most that many candidates per class, between that class's distinct
        probabilities; an array: the candidate grid.
    default : float, default=0.5
        Threshold of a class without positives in ``y_true`` (nothing to tune on).
    n_passes : int, default=2

    Returns
    -------
    ndarray of shape (n_classes,)

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1, 0], [0, 0], [1, 1], [0, 1]])
    >>> p = np.array([[0.3, 0.1], [0.1, 0.2], [0.4, 0.6], [0.2, 0.7]])
    >>> tune_multilabel_thresholds(y, p).round(2).tolist()
    [0.25, 0.4]
    """
    y = np.asarray(y_true) > 0
    p = np.asarray(proba, dtype=float)
    if y.shape != p.shape or y.ndim != 2:
        raise ValueError(f"y_true {y.shape} and proba {p.shape} must both be (n_records, n_classes)")
    if not np.all(np.isfinite(p)):
        raise ValueError("proba has NaN or inf values")
    k = y.shape[1]
    cands = [_candidates(p[:, j], thresholds) for j in range(k)]
    out = np.full(k, float(default))
    for j in range(k):
        if y[:, j].any():
            out[j] = _best(cands[j], _f1_curve(y[:, j], p[:, j], cands[j]))
    if objective == "f1":
        return out
    if objective == "challenge":
        return _challenge_ascent(y.astype(int), p, out, cands, classes, n_passes)
    if callable(objective):
        def score(pred):
            return float(objective(y.astype(int), pred))
    else:
        raise ValueError(f"objective must be one of {OBJECTIVES} or a callable, got {objective!r}")
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
    :func:`~skecg.metrics.challenge_score` per candidate (tested), about a thousand
    times faster on 24 classes.
    """
    from .labels import merge_equivalent_columns
    from .metrics._challenge import _challenge_from_prepared, _default_classes, prepare

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


class MultilabelThresholdTuner(MultilabelClassifierMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Tune one decision threshold per class on an inner validation split of the training data.

    In the spirit of scikit-learn's ``TunedThresholdClassifierCV``, for multilabel
    estimators: ``fit`` holds out part of the data it is given (patient-grouped where
    ``meta['patient_id']`` exists, balanced over labels), fits a clone of
    ``estimator`` on the rest, chooses per-class thresholds on the held-out part, then
    (``refit=True``) fits the estimator on all of it.  The data passed to ``fit`` are
    all it ever sees, so in cross-validation or cross-source evaluation the
    thresholds are tuned inside the training fold, never on the test fold.

    Parameters
    ----------
    estimator : estimator with predict_proba of shape (n_records, n_classes)
        A classifier or Pipeline; 2-D or ECG (3-D) input.
    scoring : {'f1', 'challenge'} or callable, default='f1'
        What the thresholds maximise on the validation records; see
        :func:`tune_multilabel_thresholds`.
    cv : float or int, default=0.25
        A float in (0, 1): the fraction of records (patients) in one inner validation
        split.  An int >= 2: grouped K-fold; thresholds are tuned on the out-of-fold
        probabilities of all records (K extra fits).
    refit : bool, default=True
        Fit the final estimator on all the training data (else keep the one fitted on
        the inner training part; only with a float ``cv``).
    thresholds : int or array-like, default=100
        Candidate thresholds per class (see :func:`tune_multilabel_thresholds`).
    classes : sequence of str, optional
        SNOMED CT codes of the columns for ``scoring='challenge'`` (default: the
        estimator's ``classes_``).
    random_state : int, RandomState or None, default=None
        Seed of the inner split.

    Attributes
    ----------
    estimator_ : estimator
        The fitted estimator that makes the probabilities.
    thresholds_ : ndarray of shape (n_classes,)
    classes_ : ndarray of str
    best_score_ : float
        ``scoring`` on the validation records at the tuned thresholds.
    untuned_score_ : float
        ``scoring`` on the same records at 0.5 for every class.
    valid_indices_ : ndarray of int
        The validation records (float ``cv``), as positions in the fitted data.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multioutput import MultiOutputClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4)); y = np.c_[X[:, 0] > 1.2, X[:, 1] > 0].astype(int)
    >>> clf = MultilabelThresholdTuner(MultiOutputClassifier(LogisticRegression()), random_state=0).fit(X, y)
    >>> clf.thresholds_.shape, clf.best_score_ >= clf.untuned_score_
    ((2,), True)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "scoring": [StrOptions(set(OBJECTIVES)), callable],
        "cv": [Interval(RealNotInt, 0, 1, closed="neither"), Interval(Integral, 2, None, closed="left")],
        "refit": ["boolean"],
        "thresholds": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "classes": ["array-like", None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, *, scoring="f1", cv=0.25, refit=True, thresholds=100, classes=None,
                 random_state=None):
        self.estimator = estimator
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.thresholds = thresholds
        self.classes = classes
        self.random_state = random_state

    def _score(self, y, pred, classes):
        if self.scoring == "f1":
            from .metrics import per_class_scores

            return per_class_scores(y, pred)["macro_f1"]
        if self.scoring == "challenge":
            return challenge_score(y, pred, classes)
        return float(self.scoring(y, pred))

    @_fit_context(prefer_skip_nested_validation=False)  # estimator is a user's: validated when it fits
    def fit(self, X, y, groups=None, **fit_params):
        """Fit, tune the thresholds on the inner validation records, refit.

        Parameters
        ----------
        X : ECGRecords, array-like
        y : ndarray of shape (n_records, n_classes)
        groups : array-like of shape (n_records,), optional
            Patient of each record for the inner split; default: ``X.meta['patient_id']``
            when X is an :class:`~skecg.ECGRecords`, else one group per record.
        **fit_params
            Passed to the estimator's ``fit``.

        Returns
        -------
        self
        """
        y = np.asarray(y)
        if y.ndim != 2:
            raise ValueError(f"y must be a 0/1 indicator matrix (n_records, n_classes), got shape {y.shape}")
        n = len(y)
        if groups is None:
            groups = _patient_groups(X, n)
        else:
            groups = np.asarray(groups)
            if len(groups) != n:
                raise ValueError(f"groups has {len(groups)} entries for {n} records")
        seed = self.random_state if isinstance(self.random_state, numbers.Integral) or self.random_state is None \
            else int(np.random.RandomState(self.random_state).randint(2**31 - 1))
        take = X.take if isinstance(X, ECGRecords) else (lambda idx: X[idx])
        if not isinstance(self.cv, numbers.Integral):  # a validation fraction in (0, 1)
            tr, va = multilabel_group_split(y, groups, self.cv, random_state=seed)
            if len(va) == 0 or len(tr) == 0:
                raise ValueError(f"cannot split {n} records ({len(set(groups))} patients) into inner training "
                                 f"and validation parts with cv={self.cv}")
            inner = clone(self.estimator).fit(take(tr), y[tr], **fit_params)
            proba = proba_matrix(inner, take(va))
            y_val = y[va]
            self.valid_indices_ = va
        else:  # an int >= 2: grouped K-fold
            if not self.refit:
                raise ValueError("refit=False needs a float cv (one inner model to keep)")
            n_groups = len(set(groups.tolist()))
            if n_groups < self.cv:
                raise ValueError(f"cv={self.cv} folds but only {n_groups} patients")
            proba = np.zeros(y.shape, dtype=float)
            for tr, va in GroupKFold(self.cv).split(np.zeros(n), y, groups):
                inner = clone(self.estimator).fit(take(tr), y[tr], **fit_params)
                proba[va] = proba_matrix(inner, take(va))
            y_val = y
            inner = None
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params) if self.refit else inner
        cls = getattr(self.estimator_, "classes_", None)
        if cls is None or len(cls) != y.shape[1] or np.ndim(cls[0]) > 0:
            cls = [str(j) for j in range(y.shape[1])]
        self.classes_ = np.asarray([str(c) for c in cls], dtype=object)
        classes = [str(c) for c in self.classes] if self.classes is not None else list(self.classes_)
        if self.scoring == "challenge" and not all(c.isdigit() for c in classes):
            raise ValueError("scoring='challenge' needs SNOMED CT codes: pass classes= or use an estimator "
                             "whose classes_ are codes")
        self.thresholds_ = tune_multilabel_thresholds(y_val, proba, objective=self.scoring, classes=classes,
                                                      thresholds=self.thresholds)
        self.best_score_ = float(self._score(y_val, (proba >= self.thresholds_).astype(int), classes))
        self.untuned_score_ = float(self._score(y_val, (proba >= 0.5).astype(int), classes))
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "estimator_")
        return proba_matrix(self.estimator_, X)

    def predict(self, X):
        """0/1 indicator matrix: probabilities against the tuned ``thresholds_``."""
        return (self.predict_proba(X) >= self.thresholds_[None, :]).astype(np.int64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = True
        return tags

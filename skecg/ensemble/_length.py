"""Zhu et al.'s two-length ensemble: the weighted mean of members' probabilities."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone, _fit_context
from sklearn.utils.validation import check_is_fitted

from ..metrics import proba_matrix
from ..utils.validation import ThresholdLabelsMixin
from ._base import _PROBABILITY, _fit_router, _route_fit_params, _thresholds


class LengthEnsemble(ThresholdLabelsMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Average the probabilities of members that see different input lengths
    (Zhu et al.: 5,000 and 15,000 samples at 500 Hz), each its own pipeline.

    Parameters
    ----------
    estimators : list of (name, estimator)
    weights : list of float, optional
        Weights of the members' probabilities (normalised to sum 1).
    threshold : float, array or None, default=None
        Decision threshold(s); by default the weighted mean of the members'
        ``thresholds_`` (0.5 for members without).
    """

    _parameter_constraints: dict = {
        "estimators": [list],
        "weights": ["array-like", None],
        "threshold": [_PROBABILITY, "array-like", None],
    }

    def __init__(self, estimators, weights=None, threshold=None):
        self.estimators = estimators
        self.weights = weights
        self.threshold = threshold

    @_fit_context(prefer_skip_nested_validation=False)  # the wrapped estimators validate their own
    def fit(self, X, y, **fit_params):
        """Fit a clone of every member; parameters are checked against ``y`` before any training.

        ``fit_params`` go to every member's ``fit``, or with scikit-learn's metadata
        routing enabled to the members that requested them.
        """
        if not self.estimators:
            raise ValueError("estimators is empty")
        names = [n for n, _ in self.estimators]
        if len(set(names)) != len(names):
            raise ValueError(f"member names must be unique, got {names}")
        w = np.ones(len(self.estimators)) if self.weights is None else np.asarray(self.weights, float)
        if w.shape != (len(self.estimators),) or np.any(w < 0) or w.sum() == 0:
            raise ValueError(f"weights must be {len(self.estimators)} non-negative numbers, got {self.weights}")
        if self.threshold is not None and np.ndim(self.threshold) > 0:
            t = np.asarray(self.threshold, dtype=float)
            k = np.shape(y)[1] if np.ndim(y) == 2 else 1
            if t.shape != (k,) or np.any((t < 0) | (t > 1)):
                raise ValueError(f"threshold must be one number or {k} numbers in [0, 1] (one per column of y), "
                                 f"got shape {t.shape}")
        self.weights_ = w / w.sum()
        routed = _route_fit_params(self, names, fit_params)
        self.estimators_ = [clone(e).fit(X, y, **routed[n]) for n, e in self.estimators]
        cls = [list(map(str, e.classes_)) for e in self.estimators_]
        if any(c != cls[0] for c in cls):
            raise ValueError("members were fitted with different classes_")
        self.classes_ = np.asarray(cls[0], dtype=object)
        k = len(self.classes_)
        if self.threshold is None:
            self.thresholds_ = sum(wi * _thresholds(e, k) for wi, e in zip(self.weights_, self.estimators_))
        else:
            t = np.asarray(self.threshold, dtype=float)
            self.thresholds_ = np.full(k, float(t)) if t.ndim == 0 else t
        return self

    def get_metadata_routing(self):
        """Metadata routing: ``fit``'s metadata go to each member's ``fit`` (where requested)."""
        return _fit_router(self, **dict(self.estimators))

    @property
    def named_estimators_(self):
        return dict(zip([n for n, _ in self.estimators], self.estimators_))

    def predict_proba(self, X):
        check_is_fitted(self, "estimators_")
        return sum(w * proba_matrix(e, X) for w, e in zip(self.weights_, self.estimators_))

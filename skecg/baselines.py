"""The CatBoost baseline of Zhu et al.: HRV features (+ age, sex, optional deep features)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from .ensemble import DeepFeatures
from .labels import column_classes
from .preprocessing import RRFeatureExtractor
from .utils.validation import MultilabelClassifierMixin


class CatBoostECGClassifier(MultilabelClassifierMixin, ClassifierMixin, BaseEstimator):
    """Gradient boosting (CatBoost) on a 2-D feature matrix, multilabel or not.

    A 0/1 indicator ``y`` trains one CatBoost model with ``MultiLogloss`` (all labels
    at once); a 1-D ``y`` trains ``Logloss`` or ``MultiClass``.  NaN features (e.g.
    HRV of records with too few beats) are treated as missing by CatBoost.

    Parameters
    ----------
    iterations : int, default=300
    depth : int, default=6
    learning_rate : float, default=0.05
    l2_leaf_reg : float, default=3.0
    classes : sequence of str or vocabulary name, optional
        Codes of the columns of a multilabel ``y`` (default: the vocabulary of that
        width, else column indices).
    threshold : float, default=0.5
    thread_count : int, default=1
    random_state : int, default=0

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 3)); y = np.c_[X[:, 0] > 0, X[:, 1] > 0].astype(int)
    >>> clf = CatBoostECGClassifier(iterations=50).fit(X, y)
    >>> clf.predict_proba(X).shape, float((clf.predict(X) == y).mean()) > 0.9
    ((80, 2), True)
    """

    _parameter_constraints: dict = {
        "iterations": [Interval(Integral, 1, None, closed="left")],
        "depth": [Interval(Integral, 1, 16, closed="both")],  # CatBoost's own limit
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "l2_leaf_reg": [Interval(Real, 0, None, closed="left")],
        "classes": [str, "array-like", None],
        "threshold": [Interval(Real, 0, 1, closed="both"), "array-like"],
        "thread_count": [Integral],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(self, iterations=300, depth=6, learning_rate=0.05, l2_leaf_reg=3.0, classes=None, threshold=0.5,
                 thread_count=1, random_state=0):
        self.iterations = iterations
        self.depth = depth
        self.learning_rate = learning_rate
        self.l2_leaf_reg = l2_leaf_reg
        self.classes = classes
        self.threshold = threshold
        self.thread_count = thread_count
        self.random_state = random_state

    def _model(self, loss):
        from catboost import CatBoostClassifier  # heavy to import: loaded when a model is first built

        return CatBoostClassifier(iterations=self.iterations, depth=self.depth, learning_rate=self.learning_rate,
                                  l2_leaf_reg=self.l2_leaf_reg, loss_function=loss, thread_count=self.thread_count,
                                  random_seed=self.random_state if self.random_state is not None else 0,
                                  verbose=False, allow_writing_files=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit CatBoost on the feature matrix ``X`` and labels ``y``; returns self."""
        X, y = validate_data(self, X, y, multi_output=True, ensure_all_finite="allow-nan", dtype=np.float64)
        self.multilabel_ = y.ndim == 2 and y.shape[1] > 1
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if self.multilabel_:
            if type_of_target(y) != "multilabel-indicator":
                raise ValueError("a 2-D y must be a 0/1 indicator matrix")
            k = y.shape[1]
            self.classes_ = np.asarray(column_classes(k, self.classes), dtype=object)
            y = y.astype(int)
            self.constant_ = {}
            fit_cols = [j for j in range(k) if 0 < y[:, j].sum() < len(y)]
            for j in range(k):
                if j not in fit_cols:
                    self.constant_[j] = float(y[0, j])  # a label with one value in training
            self.fit_cols_ = fit_cols
            if len(fit_cols) >= 2:
                self.model_ = self._model("MultiLogloss").fit(X, y[:, fit_cols])
            elif len(fit_cols) == 1:
                self.model_ = self._model("Logloss").fit(X, y[:, fit_cols[0]])
            else:
                self.model_ = None
        else:
            check_classification_targets(y)
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError("y has 1 class; CatBoost needs at least two")
            loss = "Logloss" if len(self.classes_) == 2 else "MultiClass"
            self.model_ = self._model(loss).fit(X, y)
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "classes_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        if not self.multilabel_:
            return self.model_.predict_proba(X)
        out = np.zeros((len(X), len(self.classes_)))
        for j, v in self.constant_.items():
            out[:, j] = v
        if self.model_ is not None:
            p = self.model_.predict_proba(X)
            if len(self.fit_cols_) == 1:
                p = p[:, 1:2]
            out[:, self.fit_cols_] = p
        return out

    def predict(self, X):
        return self.labels_from_proba(X, self.predict_proba(X))

    _labels_ignore_X = True  # labels_from_proba needs only the probabilities

    def labels_from_proba(self, X, proba):
        """``predict(X)`` from ``proba = predict_proba(X)`` (``X`` is not read)."""
        check_is_fitted(self, "classes_")
        p = np.asarray(proba)
        if self.multilabel_:
            return (p >= self.threshold).astype(np.int64)
        return self.classes_[np.argmax(p, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def make_catboost_baseline(deep=None, lead="II", iterations=300, thread_count=1, random_state=0):
    """RR/HRV features (+ age, sex) into CatBoost; optionally stacked with deep features.

    Parameters
    ----------
    deep : estimator, optional
        A Pipeline ending in an :class:`~skecg.models.ECGClassifier` whose penultimate
        features (:class:`~skecg.ensemble.DeepFeatures`) join the HRV features.

    Returns
    -------
    sklearn.pipeline.Pipeline
    """
    feats = RRFeatureExtractor(lead=lead) if deep is None else FeatureUnion(
        [("hrv", RRFeatureExtractor(lead=lead)), ("deep", DeepFeatures(deep))])
    return Pipeline([("features", feats),
                     ("catboost", CatBoostECGClassifier(iterations=iterations, thread_count=thread_count,
                                                        random_state=random_state))])

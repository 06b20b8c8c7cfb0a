"""Zhu et al.'s pseudo-label relabelling of a source whose label set was narrower."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import clone, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval

from .._records import validate_records
from ..labels import SCORED_CLASSES_2020, equivalence_map
from ..metrics import proba_matrix
from ._base import _Wrapper


class PseudoLabelRelabeler(_Wrapper):
    """Zhu et al.'s relabelling of CPSC: add labels a first model is sure of, then refit.

    1. Fit a clone of ``estimator`` on ``(X, y)``.
    2. For records of ``sources`` (``meta['source']``), add a label where its
       probability exceeds ``threshold``, the class is scored, and the class was not in
       that source's original label set (the source could not have labelled it).
    3. Fit a fresh clone on the relabelled ``y``; it makes the predictions.

    Parameters
    ----------
    estimator : classifier
    sources : list of str, default=('CPSC',)
    threshold : float, default=0.8
    scored_classes : list of str, optional
        Default: the 2020 challenge's scored classes (equivalents included).

    Attributes
    ----------
    added_ : dict
        Class code -> number of labels added.
    y_relabelled_ : ndarray
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "sources": [str, "array-like"],
        "threshold": [Interval(Real, 0, 1, closed="neither")],
        "scored_classes": ["array-like", None],
    }

    def __init__(self, estimator, sources=("CPSC",), threshold=0.8, scored_classes=None):
        self.estimator = estimator
        self.sources = sources
        self.threshold = threshold
        self.scored_classes = scored_classes

    @_fit_context(prefer_skip_nested_validation=False)  # the wrapped estimators validate their own
    def fit(self, X, y, **fit_params):
        """Fit, relabel the chosen sources, refit on the relabelled ``y``.

        ``fit_params`` go to both fits of the estimator: all of them, or with
        scikit-learn's metadata routing enabled those it requested.
        """
        if not validate_records(X).is_records:
            raise ValueError("relabelling needs ECGRecords (meta['source'] says which records to relabel)")
        y = np.asarray(y)
        fit_params = self._estimator_fit_params(fit_params)
        first = clone(self.estimator).fit(X, y, **fit_params)
        classes = [str(c) for c in first.classes_]
        scored = set(self.scored_classes) if self.scored_classes is not None else set(SCORED_CLASSES_2020)
        eq = equivalence_map()
        scored |= {eq.get(c, c) for c in scored}
        src = X.meta["source"].to_numpy()
        sources = [self.sources] if isinstance(self.sources, str) else list(self.sources)
        proba = proba_matrix(first, X)
        y_new = y.copy()
        added = {}
        for s in sources:
            rows = np.flatnonzero(src == s)
            if rows.size == 0:
                continue
            original = y[rows].any(axis=0)
            for j, c in enumerate(classes):
                if original[j] or c not in scored:
                    continue
                hit = rows[(proba[rows, j] > self.threshold) & (y[rows, j] == 0)]
                if hit.size:
                    y_new[hit, j] = 1
                    added[c] = added.get(c, 0) + int(hit.size)
        self.first_estimator_ = first
        self.added_ = added
        self.y_relabelled_ = y_new
        self._fit_estimator(X, y_new, **fit_params)
        return self

"""A network's penultimate features as a transformer, for stacking."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, TransformerMixin, clone, _fit_context
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted

from ..utils.validation import ECGInputMixin
from ._base import _fit_router, _route_fit_params


class DeepFeatures(ECGInputMixin, TransformerMixin, MetaEstimatorMixin, BaseEstimator):
    """Deep features from a network's penultimate layer, as a transformer for stacking.

    ``fit`` trains a clone of ``estimator`` (an :class:`~skecg.models.ECGClassifier`, or
    a Pipeline ending in one) on ``(X, y)``; ``transform`` returns the network's
    penultimate representation of each record.

    Parameters
    ----------
    estimator : ECGClassifier or Pipeline ending in one
    """

    _parameter_constraints: dict = {"estimator": [HasMethods(["fit", "embed"]), Pipeline]}

    def __init__(self, estimator):
        self.estimator = estimator

    @_fit_context(prefer_skip_nested_validation=False)  # the wrapped estimators validate their own
    def fit(self, X, y, **fit_params):
        """Train a clone of ``estimator`` on ``(X, y)``.

        ``fit_params`` go to its ``fit``: all of them, or with scikit-learn's metadata
        routing enabled those it requested.
        """
        params = _route_fit_params(self, ["estimator"], fit_params)["estimator"]
        self.estimator_ = clone(self.estimator).fit(X, y, **params)
        return self

    def get_metadata_routing(self):
        """Metadata routing: ``fit``'s metadata go to ``estimator.fit`` (where requested)."""
        return _fit_router(self, estimator=self.estimator)

    def transform(self, X):
        check_is_fitted(self, "estimator_")
        est = self.estimator_
        if hasattr(est, "steps"):
            Xt = est[:-1].transform(X) if len(est.steps) > 1 else X
            est = est.steps[-1][1]
        else:
            Xt = X
        return est.embed(Xt)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "estimator_")
        n = self.estimator_.steps[-1][1].module_.lin.in_features if hasattr(self.estimator_, "steps") \
            else self.estimator_.module_.lin.in_features
        return np.asarray([f"deep{i}" for i in range(n)], dtype=object)

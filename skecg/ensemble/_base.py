"""What the meta-estimators of :mod:`skecg.ensemble` share: the wrapper base, metadata routing."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils._param_validation import Interval
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, _routing_enabled, process_routing
from sklearn.utils.validation import check_is_fitted

from ..metrics import labels_from_proba, proba_matrix
from ..utils.validation import ECGInputMixin, MultilabelClassifierMixin

_PROBABILITY = Interval(Real, 0, 1, closed="both")


def _thresholds(est, n):
    t = getattr(est, "thresholds_", None)
    if t is None and hasattr(est, "steps"):
        t = getattr(est.steps[-1][1], "thresholds_", None)
    return np.full(n, 0.5) if t is None else np.asarray(t, dtype=float)


def _class_index(classes, code, what):
    classes = [str(c) for c in classes]
    code = str(code)
    if code not in classes:
        raise ValueError(f"{what} {code!r} is not among the estimator's classes_ {classes}")
    return classes.index(code)


def _labels_from_proba_alone(est) -> bool:
    """Whether :func:`skecg.metrics.labels_from_proba` makes ``est``'s labels from the
    probabilities alone (so a pipeline ending in ``est`` need not run again)."""
    final = est.steps[-1][1] if hasattr(est, "steps") else est
    return hasattr(final, "labels_from_proba") and bool(getattr(final, "_labels_ignore_X", False))


def _fit_router(owner, **children):
    """A :class:`~sklearn.utils.metadata_routing.MetadataRouter` that sends ``fit``'s
    metadata to each child's ``fit``."""
    return MetadataRouter(owner=type(owner).__name__).add(
        method_mapping=MethodMapping().add(caller="fit", callee="fit"), **children)


def _route_fit_params(owner, names, fit_params) -> dict:
    """``{child name: the parameters of its fit}``.

    With scikit-learn's metadata routing enabled (``sklearn.set_config(
    enable_metadata_routing=True)``) each child gets what it requested (e.g.
    ``set_fit_request(sample_weight=True)``), and metadata no child requested raise;
    without, every child gets all of ``fit_params``, as skecg always did.
    """
    if not _routing_enabled():
        return {n: dict(fit_params) for n in names}
    routed = process_routing(owner, "fit", **fit_params)
    return {n: dict(getattr(routed, n).fit) for n in names}


class _Wrapper(ECGInputMixin, MultilabelClassifierMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fits a clone of ``estimator``; exposes ``classes_`` and ``predict_proba``; labels
    are the wrapped estimator's, changed by the wrapper's rule (``_post``)."""

    def _fit_estimator(self, X, y, **fit_params):
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        cls = self.estimator_.classes_
        if isinstance(cls, list) and cls and np.ndim(cls[0]) == 1:
            # scikit-learn's multi-output classifiers: one array of values per column
            cls = [str(j) for j in range(len(cls))]
        self.classes_ = np.asarray([str(c) for c in cls], dtype=object)
        return self

    def _estimator_fit_params(self, fit_params) -> dict:
        return _route_fit_params(self, ["estimator"], fit_params)["estimator"]

    def get_metadata_routing(self):
        """Metadata routing: ``fit``'s metadata go to ``estimator.fit`` (where requested)."""
        return _fit_router(self, estimator=self.estimator)

    def predict_proba(self, X):
        check_is_fitted(self, "estimator_")
        return proba_matrix(self.estimator_, X)

    def predict(self, X):
        check_is_fitted(self, "estimator_")
        return self._post(X, np.array(self.estimator_.predict(X), copy=True))

    #: whether :meth:`labels_from_proba` needs ``X``: the rule's own need, or the wrapped estimator's
    _rule_reads_X = False

    @property
    def _labels_ignore_X(self):
        est = getattr(self, "estimator_", None)
        return not self._rule_reads_X and est is not None and _labels_from_proba_alone(est)

    def labels_from_proba(self, X, proba):
        """``predict(X)`` from ``proba = predict_proba(X)``: the wrapped estimator's
        labels from the same probabilities, then this wrapper's rule."""
        check_is_fitted(self, "estimator_")
        return self._post(X, np.array(labels_from_proba(self.estimator_, X, proba), copy=True))

    def _post(self, X, pred):
        """This wrapper's change to the wrapped estimator's labels (none here)."""
        return pred

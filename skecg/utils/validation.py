"""Input checks shared by every skecg estimator, reader and scorer: one place for each.

Parameters are validated by scikit-learn's own mechanism (``_parameter_constraints``
checked by ``BaseEstimator._validate_params`` at the start of ``fit``); this module holds
the checks of *data*: finite signals, 0/1 indicator labels, 3-D shape, lead names, and the
mixin that tags an estimator as taking 3-D ECG input.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, Options, StrOptions, validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted

from .._records import (STANDARD_LEADS, check_finite_records, check_finite_signals, nonfinite_records,
                       normalize_lead_name)
from .._threads import local_threads

__all__ = [
    "ECGInputMixin",
    "MultilabelClassifierMixin",
    "STANDARD_LEADS",
    "ThresholdLabelsMixin",
    "check_3d",
    "check_finite_records",
    "check_finite_signals",
    "check_indicator_matrix",
    "local_threads",
    "check_lead_names",
    "check_same_length",
    "nonfinite_records",
    "net_parameter_constraints",
    "validate_params",
]

def check_indicator_matrix(y, name: str = "y", *, n_rows: int | None = None) -> np.ndarray:
    """Check that ``y`` is a 2-D 0/1 indicator matrix ``(n_records, n_classes)``; return it
    as an array (booleans become 0/1 of the same layout, values are not copied otherwise).

    Parameters
    ----------
    y : array-like of shape (n_records, n_classes)
    name : str, default='y'
        The name used in messages.
    n_rows : int, optional
        The number of rows ``y`` must have (the number of records of ``X``).

    Examples
    --------
    >>> check_indicator_matrix([[0, 1], [1, 1]]).shape
    (2, 2)
    >>> check_indicator_matrix([[0, 0.7]])
    Traceback (most recent call last):
    ...
    ValueError: y must be a 0/1 indicator matrix, found values [0.7]; threshold probabilities first (e.g. estimator.predict)
    """
    a = np.asarray(y)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D 0/1 indicator matrix (n_records, n_classes), got shape {a.shape}")
    if n_rows is not None and len(a) != n_rows:
        raise ValueError(f"X has {n_rows} records but {name} has {len(a)} rows")
    if a.dtype == bool:
        return a
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a 0/1 indicator matrix, got dtype {a.dtype}")
    vals = np.unique(a)
    wrong = vals[~np.isin(vals, (0, 1))]
    if wrong.size:
        raise ValueError(f"{name} must be a 0/1 indicator matrix, found values {wrong[:5]}; "
                         "threshold probabilities first (e.g. estimator.predict)")
    return a


def check_same_length(X, y, y_name: str = "y") -> None:
    """Raise a ValueError when ``X`` and ``y`` have a different number of records.

    Examples
    --------
    >>> check_same_length([1, 2], [[0], [1]])
    """
    if y is not None and len(X) != len(y):
        raise ValueError(f"X has {len(X)} records but {y_name} has {len(y)} rows")


def check_3d(X, name: str = "X", *, dtype=None) -> np.ndarray:
    """Return ``X`` as a 3-D array ``(n_records, n_leads, n_samples)``, or raise a ValueError
    saying what shape it has and what to do.

    Examples
    --------
    >>> import numpy as np
    >>> check_3d(np.zeros((2, 12, 100))).shape
    (2, 12, 100)
    >>> check_3d(np.zeros((12, 100)))
    Traceback (most recent call last):
    ...
    ValueError: X must be 3-D (n_records, n_leads, n_samples), got shape (12, 100); for one record use X[None]
    """
    a = np.asarray(X, dtype=dtype)
    if a.ndim != 3:
        hint = "; for one record use X[None]" if a.ndim == 2 else ""
        raise ValueError(f"{name} must be 3-D (n_records, n_leads, n_samples), got shape {a.shape}{hint}")
    return a


def check_lead_names(leads, *, n_leads: int | None = None) -> tuple[str, ...]:
    """Normalise lead names (``'avr'`` -> ``'aVR'``) and check they are unique and, when
    ``n_leads`` is given, that there is one per lead.

    Examples
    --------
    >>> check_lead_names(["i", "AVR", "v1"])
    ('I', 'aVR', 'V1')
    """
    if isinstance(leads, str):
        raise TypeError(f"leads must be a sequence of lead names, got the string {leads!r}")
    names = tuple(normalize_lead_name(v) for v in leads)
    dup = sorted({v for v in names if names.count(v) > 1})
    if dup:
        raise ValueError(f"lead name(s) {dup} appear more than once in {list(names)}")
    if n_leads is not None and len(names) != n_leads:
        raise ValueError(f"{len(names)} lead names given for {n_leads} leads: {list(names)}")
    return names


def validate_params(estimator) -> None:
    """Check ``estimator``'s parameters against its ``_parameter_constraints`` with
    scikit-learn's machinery and messages.

    ``BaseEstimator._validate_params`` does the same; this function is for skorch
    nets, whose ``_validate_params`` checks the names of ``**kwargs`` prefixes instead
    (those stay skorch's to check).  Only the parameters named in the constraints are
    checked.

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> from sklearn.utils._param_validation import StrOptions
    >>> class Est(BaseEstimator):
    ...     _parameter_constraints = {"mode": [StrOptions({"a"})]}
    ...     def __init__(self, mode="a"):
    ...         self.mode = mode
    >>> validate_params(Est(mode="c"))
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: The 'mode' parameter of Est must be a str among {'a'}. Got 'c' instead.
    """
    constraints = estimator._parameter_constraints
    validate_parameter_constraints(constraints, {k: getattr(estimator, k) for k in constraints},
                                   caller_name=type(estimator).__name__)


def net_parameter_constraints() -> dict:
    """Constraints of the training parameters skecg's skorch nets name in their ``__init__``
    (:class:`~skecg.models.ECGClassifier`, :class:`~skecg.models.WaveSegmenter`), in
    one place.  skorch's ``**kwargs`` prefixes (``module__*``, ``iterator_train__*``) stay
    skorch's to check.

    Examples
    --------
    >>> sorted(net_parameter_constraints())[:3]
    ['batch_size', 'callbacks', 'criterion']
    """
    import torch  # only here: every skecg module imports this one, and most need no torch

    return {
        "module": [type, torch.nn.Module],
        "criterion": [type, torch.nn.Module],
        "optimizer": [type],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), Options(Integral, {-1})],
        "patience": [Interval(Integral, 0, None, closed="left"), None],
        "valid_size": [Interval(Real, 0, 1, closed="left"), None],
        "random_state": ["random_state"],
        "device": [str, torch.device, None],
        "progress_bar": ["boolean"],
        "callbacks": [list, StrOptions({"disable"}), None],
        "verbose": ["verbose"],
    }


class ECGInputMixin:
    """Tags an estimator as taking 3-D ECG input ``(n_records, n_leads, n_samples)`` (or
    :class:`~skecg.ECGRecords`, or a list of 2-D records) and not 2-D tables.

    Put it first among the bases, before scikit-learn's mixins.

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> class Est(ECGInputMixin, BaseEstimator):
    ...     pass
    >>> tags = Est().__sklearn_tags__()
    >>> tags.input_tags.three_d_array, tags.input_tags.two_d_array
    (True, False)
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags


class MultilabelClassifierMixin:
    """Tags a classifier as predicting a 0/1 indicator matrix ``(n_records, n_classes)``
    (multi-output, multi-label).  Put it before ``ClassifierMixin`` among the bases.

    Examples
    --------
    >>> from sklearn.base import BaseEstimator, ClassifierMixin
    >>> class Clf(MultilabelClassifierMixin, ClassifierMixin, BaseEstimator):
    ...     pass
    >>> Clf().__sklearn_tags__().classifier_tags.multi_label
    True
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_label = True
        return tags


class ThresholdLabelsMixin:
    """``predict`` as the probabilities against per-class ``thresholds_``.

    Gives ``predict(X)`` and ``labels_from_proba(X, proba)`` (the labels from
    probabilities already computed, used by :func:`skecg.metrics.predict_with_proba`
    so that a pipeline's preprocessing and network run once for both).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> class Clf(ThresholdLabelsMixin, BaseEstimator):
    ...     def fit(self, X, y=None):
    ...         self.thresholds_ = np.array([0.5, 0.2])
    ...         return self
    ...     def predict_proba(self, X):
    ...         return np.array([[0.6, 0.1], [0.4, 0.3]])
    >>> Clf().fit(None).predict(None).tolist()
    [[1, 0], [0, 1]]
    """

    _labels_ignore_X = True  # labels_from_proba needs only the probabilities

    def predict(self, X):
        """0/1 indicator matrix: probabilities against the per-class ``thresholds_``."""
        return self.labels_from_proba(X, self.predict_proba(X))

    def labels_from_proba(self, X, proba):
        """``predict(X)`` from ``proba = predict_proba(X)`` (``X`` is not read)."""
        check_is_fitted(self, "thresholds_")
        return (np.asarray(proba) >= np.asarray(self.thresholds_)[None, :]).astype(np.int64)

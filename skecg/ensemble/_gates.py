"""Zhu et al.'s rules over a classifier's labels: the bradycardia R-R gate and the sinus-rhythm fallback."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .._records import validate_records
from ..labels import NORMAL_CLASS
from ..preprocessing import NEUROKIT_METHODS, RRFeatureExtractor
from ._base import _PROBABILITY, _class_index, _Wrapper


def bradycardia_rule(rr: np.ndarray, low: float = 1.0, high: float = 1.6, min_fraction: float = 0.5) -> bool:
    """Zhu et al.'s Algorithm 1: bradycardia when at least ``min_fraction`` of the R-R
    intervals (seconds) lie within ``[low, high]`` (60-37.5 beats per minute).

    Examples
    --------
    >>> bradycardia_rule([1.1, 1.2, 1.15, 0.8]), bradycardia_rule([0.8, 0.9, 1.2])
    (True, False)
    """
    rr = np.asarray(rr, dtype=float)
    if rr.size == 0:
        return False
    return bool(np.mean((rr >= low) & (rr <= high)) >= min_fraction)


class BradycardiaRuleGate(_Wrapper):
    """Combine a classifier's bradycardia output with Zhu et al.'s R-R rule.

    R peaks come from Pan-Tompkins on ``lead`` of the raw input records (sampling rate
    from their metadata, or ``fs``); the rule (:func:`bradycardia_rule`) holds when at
    least ``min_fraction`` of the R-R intervals lie within ``[low, high]`` seconds.

    ``mode='veto'`` follows the paper's Algorithm 2: a positive from the model stands
    only where the rule also holds.  ``mode='rescue'`` follows the paper's text: the
    rule is consulted only where the model says no, and turns it into a positive when
    it holds.  Only ``predict`` is gated; ``predict_proba`` is the model's.

    Parameters
    ----------
    estimator : classifier with ``classes_`` of SNOMED codes
    gated_class : str, default='426627000'
        Bradycardia, the class Zhu et al.'s rule is about (the 2020 challenge scores it
        apart from sinus bradycardia, 426177001, and the paper names the two as classes
        that get confused); pass '426177001' to gate sinus bradycardia instead (e.g. in
        the six-class TNMG vocabulary, which has no bradycardia class).
    mode : {'veto', 'rescue'}, default='veto'
    lead : str, default='I'
    low, high : float, default=1.0, 1.6
    min_fraction : float, default=0.5
    fs : float, optional
        Sampling rate of plain-array input.  The rule measures R-R intervals in seconds,
        so ``fit`` and ``predict`` refuse input whose rate they cannot know: a plain
        array (or list) while ``fs`` is None, or records whose ``meta['fs']`` is NaN.
    method : str, default='skecg'
        R-peak detector, as :class:`~skecg.preprocessing.RRFeatureExtractor`'s
        ``method`` (skecg's own, ``'multilead'``, or one of neurokit2's).
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "gated_class": [str, Integral],
        "mode": [StrOptions({"veto", "rescue"})],
        "lead": [str, Interval(Integral, 0, None, closed="left")],
        "low": [Interval(Real, 0, None, closed="neither")],
        "high": [Interval(Real, 0, None, closed="neither")],
        "min_fraction": [_PROBABILITY],
        "fs": [Interval(Real, 0, None, closed="neither"), None],
        "method": [StrOptions({"skecg", "multilead", *NEUROKIT_METHODS})],
    }

    def __init__(self, estimator, gated_class="426627000", mode="veto", lead="I", low=1.0, high=1.6,
                 min_fraction=0.5, fs=None, method="skecg"):
        self.estimator = estimator
        self.gated_class = gated_class
        self.mode = mode
        self.lead = lead
        self.low = low
        self.high = high
        self.min_fraction = min_fraction
        self.fs = fs
        self.method = method

    @_fit_context(prefer_skip_nested_validation=False)  # the wrapped estimators validate their own
    def fit(self, X, y, **fit_params):
        """Fit a clone of ``estimator``; the rule needs no fitting.

        ``fit_params`` go to the estimator's ``fit``: all of them, or with scikit-learn's
        metadata routing enabled those it requested.
        """
        if not self.low < self.high:
            raise ValueError(f"need 0 < low < high, got low={self.low}, high={self.high}")
        self._check_rate(X)  # before training: predict could not apply the rule
        self._fit_estimator(X, y, **self._estimator_fit_params(fit_params))
        self.gated_index_ = _class_index(self.classes_, self.gated_class, "gated class")
        return self

    def _check_rate(self, X) -> None:
        """The rule counts R-R intervals in seconds: refuse input whose sampling rate is unknown,
        whatever the model says (in veto mode the rule would otherwise run only on its positives)."""
        if self.fs is not None:
            return
        if not validate_records(X).is_records:
            raise ValueError("BradycardiaRuleGate needs the sampling rate: its rule measures R-R intervals in "
                             f"seconds, and a plain {type(X).__name__} has none; pass ECGRecords (meta['fs']) "
                             "or set BradycardiaRuleGate(fs=...)")
        rates = X.meta["fs"].to_numpy(dtype=float)
        if np.isnan(rates).any():
            i = int(np.flatnonzero(np.isnan(rates))[0])
            raise ValueError(f"BradycardiaRuleGate needs the sampling rate, and record "
                             f"{X.meta['record_id'].iat[i]} has none (meta['fs'] is NaN); set meta['fs'] "
                             "or BradycardiaRuleGate(fs=...)")

    def rule(self, X) -> np.ndarray:
        """The rule's verdict for every record (bool array)."""
        self._check_rate(X)
        ext = RRFeatureExtractor(lead=self.lead, fs=self.fs, method=self.method).fit(X)
        return np.array([bradycardia_rule(rr, self.low, self.high, self.min_fraction) for rr in ext.rr_intervals(X)])

    _rule_reads_X = True  # the R-R rule reads the records this gate is given

    def _post(self, X, pred):
        self._check_rate(X)
        j = self.gated_index_
        said = pred[:, j].astype(bool)
        # the rule can change a label only where the model says yes (veto) or no (rescue), so
        # R peaks are detected on those records only: the same labels, and `skecg predict`
        # skips Pan-Tompkins on the records no model calls bradycardic (benchmarks/predict.py)
        need = np.flatnonzero(said if self.mode == "veto" else ~said)
        rule = np.zeros(len(pred), dtype=bool)
        if len(need):
            rule[need] = self.rule(_safe_indexing(X, need))  # ECGRecords, arrays, lists
        pred[:, j] = (said & rule) if self.mode == "veto" else (said | rule)
        return pred


class SinusRhythmFallback(_Wrapper):
    """Zhu et al.'s post-processing: a record with no positive class is called normal
    (sinus rhythm, 426783006).

    Parameters
    ----------
    estimator : classifier with ``classes_`` of SNOMED codes
    normal_class : str, default='426783006'
        The class a record with no positive class is given.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> y = np.zeros((4, 3), int); y[0, 0] = 1
    >>> clf = SinusRhythmFallback(DummyClassifier(), normal_class="2").fit(np.zeros((4, 1)), y)
    >>> clf.predict(np.zeros((2, 1))).tolist()
    [[0, 0, 1], [0, 0, 1]]
    """

    _parameter_constraints: dict = {"estimator": [HasMethods(["fit", "predict"])], "normal_class": [str, Integral]}

    def __init__(self, estimator, normal_class=NORMAL_CLASS):
        self.estimator = estimator
        self.normal_class = normal_class

    @_fit_context(prefer_skip_nested_validation=False)  # the wrapped estimators validate their own
    def fit(self, X, y, **fit_params):
        """Fit a clone of ``estimator``; ``fit_params`` go to its ``fit`` (routed, with metadata routing on)."""
        self._fit_estimator(X, y, **self._estimator_fit_params(fit_params))
        self.normal_index_ = _class_index(self.classes_, self.normal_class, "normal class")
        return self

    def _post(self, X, pred):
        empty = ~pred.any(axis=1)
        pred[empty, self.normal_index_] = 1
        return pred

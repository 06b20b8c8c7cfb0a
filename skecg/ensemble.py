"""Meta-estimators of Zhu et al.: bradycardia rule gate, two-length ensemble, sinus-rhythm
fallback, pseudo-label relabelling; and deep features for stacking."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, TransformerMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._records import ECGRecords
from .labels import NORMAL_CLASS, SCORED_CLASSES_2020, equivalence_map
from .metrics import labels_from_proba, proba_matrix
from .preprocessing import NEUROKIT_METHODS, RRFeatureExtractor
from .utils.validation import ECGInputMixin, MultilabelClassifierMixin, ThresholdLabelsMixin

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


class _Wrapper(ECGInputMixin, MultilabelClassifierMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fits a clone of ``estimator``; exposes ``classes_`` and ``predict_proba``."""

    def _fit_estimator(self, X, y, **fit_params):
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        cls = self.estimator_.classes_
        if isinstance(cls, list) and cls and np.ndim(cls[0]) == 1:
            # scikit-learn's multi-output classifiers: one array of values per column
            cls = [str(j) for j in range(len(cls))]
        self.classes_ = np.asarray([str(c) for c in cls], dtype=object)
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "estimator_")
        return proba_matrix(self.estimator_, X)

    def predict(self, X):
        check_is_fitted(self, "estimator_")
        return self._post(X, np.array(self.estimator_.predict(X), copy=True))

    def labels_from_proba(self, X, proba):
        """``predict(X)`` from ``proba = predict_proba(X)``: the wrapped estimator's
        labels from the same probabilities, then this wrapper's rule."""
        check_is_fitted(self, "estimator_")
        return self._post(X, np.array(labels_from_proba(self.estimator_, X, proba), copy=True))

    def _post(self, X, pred):
        """This wrapper's change to the wrapped estimator's labels (none here)."""
        return pred


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

    def fit(self, X, y, **fit_params):
        """Fit a clone of ``estimator``; the rule needs no fitting."""
        self._validate_params()
        if not self.low < self.high:
            raise ValueError(f"need 0 < low < high, got low={self.low}, high={self.high}")
        self._check_rate(X)  # before training: predict could not apply the rule
        self._fit_estimator(X, y, **fit_params)
        self.gated_index_ = _class_index(self.classes_, self.gated_class, "gated class")
        return self

    def _check_rate(self, X) -> None:
        """The rule counts R-R intervals in seconds: refuse input whose sampling rate is unknown,
        whatever the model says (in veto mode the rule would otherwise run only on its positives)."""
        if self.fs is not None:
            return
        if not isinstance(X, ECGRecords):
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

    def __init__(self, estimator, normal_class=NORMAL_CLASS):
        self.estimator = estimator
        self.normal_class = normal_class

    _parameter_constraints: dict = {"estimator": [HasMethods(["fit", "predict"])], "normal_class": [str, Integral]}

    def fit(self, X, y, **fit_params):
        """Fit a clone of ``estimator``."""
        self._validate_params()
        self._fit_estimator(X, y, **fit_params)
        self.normal_index_ = _class_index(self.classes_, self.normal_class, "normal class")
        return self

    def _post(self, X, pred):
        empty = ~pred.any(axis=1)
        pred[empty, self.normal_index_] = 1
        return pred


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

    def __init__(self, estimators, weights=None, threshold=None):
        self.estimators = estimators
        self.weights = weights
        self.threshold = threshold

    _parameter_constraints: dict = {
        "estimators": [list],
        "weights": ["array-like", None],
        "threshold": [_PROBABILITY, "array-like", None],
    }

    def fit(self, X, y, **fit_params):
        """Fit a clone of every member; parameters are checked against ``y`` before any training."""
        self._validate_params()
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
        self.estimators_ = [clone(e).fit(X, y, **fit_params) for _, e in self.estimators]
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

    @property
    def named_estimators_(self):
        return dict(zip([n for n, _ in self.estimators], self.estimators_))

    def predict_proba(self, X):
        check_is_fitted(self, "estimators_")
        return sum(w * proba_matrix(e, X) for w, e in zip(self.weights_, self.estimators_))


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

    def __init__(self, estimator, sources=("CPSC",), threshold=0.8, scored_classes=None):
        self.estimator = estimator
        self.sources = sources
        self.threshold = threshold
        self.scored_classes = scored_classes

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "sources": [str, "array-like"],
        "threshold": [Interval(Real, 0, 1, closed="neither")],
        "scored_classes": ["array-like", None],
    }

    def fit(self, X, y, **fit_params):
        """Fit, relabel the chosen sources, refit on the relabelled ``y``."""
        self._validate_params()
        if not isinstance(X, ECGRecords):
            raise ValueError("relabelling needs ECGRecords (meta['source'] says which records to relabel)")
        y = np.asarray(y)
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

    def fit(self, X, y):
        """Train a clone of ``estimator`` on ``(X, y)``."""
        self._validate_params()
        self.estimator_ = clone(self.estimator).fit(X, y)
        return self

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


from ._segment_rule import SegmentRuleClassifier  # noqa: E402, F401  (Zhu's Model 8 rule, re-exported)

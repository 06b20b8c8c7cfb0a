"""Zhu et al.'s segment rule ("Model 8") as a classifier over a wave segmenter."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from .._records import validate_records
from ..utils.validation import ECGInputMixin, MultilabelClassifierMixin
from ._base import _fit_router, _route_fit_params


def _is_fitted(est) -> bool:
    """A fitted segmenter: it has ``classes_`` (what the rule reads).  scikit-learn 1.6's
    generic check takes an unfitted skorch net for a fitted one."""
    try:
        check_is_fitted(est, "classes_")
    except Exception:  # noqa: BLE001 - NotFittedError, or an estimator check_is_fitted cannot judge
        return False
    return True


class SegmentRuleClassifier(ECGInputMixin, MultilabelClassifierMixin, MetaEstimatorMixin, ClassifierMixin,
                            BaseEstimator):
    """A record is positive when its segmenter finds a long enough segment of one class.

    Zhu et al.'s Model 8: a 1D U-Net segments the span of every beat of one class
    (PVC) on lead II, and a record is positive when at least one segment is
    predicted.  Here the segmenter is any estimator with ``predict_waves`` (a
    :class:`~skecg.models.WaveSegmenter`), the segment class is chosen by
    name (``segment_class``) and a segment counts when it lasts at least
    ``min_length`` seconds.  The output is one column of a multilabel indicator
    matrix named by ``classes`` (a SNOMED CT code), so the classifier composes with
    :class:`BradycardiaRuleGate`, :class:`SinusRhythmFallback`,
    :class:`LengthEnsemble` and the scorers of :mod:`skecg.metrics`.

    ``predict_proba`` is the largest mean class probability of a qualifying segment
    (0 when there is none), so ``predict`` is ``predict_proba > 0``.

    Parameters
    ----------
    segmenter : estimator with ``predict_waves``
        Fitted: used as it is (wrap it in :class:`sklearn.frozen.FrozenEstimator` so
        that ``clone`` and ``GridSearchCV`` keep its weights).  Unfitted: a clone is
        fitted in :meth:`fit` on ``masks``.
    segment_class : str, default='QRS'
        The wave name (``segmenter.classes_``) whose segments are counted.
    min_length : float, default=0.0
        Shortest segment (seconds, ``(offset - onset + 1) / fs``) that makes a record
        positive.  ``0.12`` with ``'QRS'`` is the "wide QRS" rule (bundle branch
        block or ventricular beat).
    classes : sequence of one str, default=('427172004',)
        The label of the output column (PVC).
    fs : float, optional
        Sampling rate for the segment lengths (default: the segmenter's ``fs_``).

    Attributes
    ----------
    segmenter_ : the fitted segmenter
    classes_ : ndarray of str, shape (1,)

    Notes
    -----
    Reproducing Model 8 exactly: with PVC span annotations (onset and offset of each PVC beat on lead II), build
    masks with :func:`~skecg.segmentation.waves_to_masks` and
    ``classes=('none', 'PVC')`` (every other sample background, also in the
    negative records), train ``WaveSegmenter(classes=['none', 'PVC'])`` on
    the 160 annotated PVC records and the 500 negatives, and use
    ``SegmentRuleClassifier(seg, segment_class='PVC', min_length=0.0)``: any
    predicted PVC segment makes the record positive, as in the paper.  A
    ``min_length`` above 0, or :meth:`~skecg.models.WaveSegmenter`'s
    cleaning rules (``min_duration``), drop spikes; set ``min_duration=0`` for
    the paper's rule verbatim.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.frozen import FrozenEstimator
    >>> from skecg.models import WaveSegmenter
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(8, 1, 200)).astype("float32")
    >>> masks = np.zeros((8, 200), int)
    >>> masks[:4, 50:110] = 1
    >>> X[:4, 0, 50:110] += 4
    >>> seg = WaveSegmenter(module__filters=(4, 8), max_epochs=20, fs=100, classes=["none", "wide"],
    ...                     valid_size=0, random_state=0).fit(X, masks)
    >>> clf = SegmentRuleClassifier(FrozenEstimator(seg), segment_class="wide", min_length=0.4)
    >>> clf.fit(X, np.r_[[1] * 4, [0] * 4][:, None]).predict(X).ravel().tolist()
    [1, 1, 1, 1, 0, 0, 0, 0]
    """

    _parameter_constraints: dict = {
        "segmenter": [HasMethods(["predict_waves"])],
        "segment_class": [str],
        "min_length": [Interval(Real, 0, None, closed="left")],
        "classes": ["array-like"],
        "fs": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(self, segmenter, segment_class="QRS", min_length=0.0, classes=("427172004",), fs=None):
        self.segmenter = segmenter
        self.segment_class = segment_class
        self.min_length = min_length
        self.classes = classes
        self.fs = fs

    @_fit_context(prefer_skip_nested_validation=False)  # the wrapped estimators validate their own
    def fit(self, X, y=None, masks=None, **fit_params):
        """Use the fitted segmenter, or fit a clone on ``masks``; ``y`` only names the column.

        ``y`` (n,) or (n, 1) 0/1 is checked for shape; the rule itself learns nothing.
        ``fit_params`` go to the segmenter's ``fit`` with ``masks``: all of them, or with
        scikit-learn's metadata routing enabled those it requested (``masks`` is then
        this classifier's own request: ``set_fit_request(masks=True)``).
        """
        classes = [str(c) for c in np.atleast_1d(np.asarray(self.classes, dtype=object))]
        if len(classes) != 1:
            raise ValueError(f"classes must name one output column, got {classes}")
        if y is not None:
            y = np.asarray(y)
            if y.ndim == 2 and y.shape[1] != 1 or y.ndim > 2 or len(y) != len(X):
                raise ValueError(f"y must be (n_records,) or (n_records, 1) for {len(X)} records, got {y.shape}")
        params = _route_fit_params(self, ["segmenter"], fit_params)["segmenter"]
        if masks is not None:
            self.segmenter_ = clone(self.segmenter).fit(X, masks, **params)
        elif _is_fitted(self.segmenter):
            self.segmenter_ = self.segmenter
        else:
            raise ValueError("the segmenter is not fitted: pass masks= to fit it, or a fitted segmenter "
                             "(in sklearn.frozen.FrozenEstimator to keep it through clone/GridSearchCV)")
        names = [str(c) for c in self.segmenter_.classes_]
        if self.segment_class not in names:
            raise ValueError(f"segment_class {self.segment_class!r} is not among the segmenter's classes {names}")
        self.fs_ = float(self.fs) if self.fs is not None else float(self.segmenter_.fs_)
        self.classes_ = np.asarray(classes, dtype=object)
        return self

    def get_metadata_routing(self):
        """Metadata routing: ``masks`` is this classifier's own; the rest go to ``segmenter.fit``."""
        return _fit_router(self, segmenter=self.segmenter).add_self_request(self)

    def segments(self, X):
        """The predicted segments of ``segment_class`` with their length in seconds."""
        check_is_fitted(self, "classes_")
        w = self.segmenter_.predict_waves(X)
        w = w[w["wave"] == self.segment_class].copy()
        w["length"] = (w["offset"] - w["onset"] + 1) / self.fs_
        return w

    def predict_proba(self, X):
        """Largest segment probability of a qualifying segment per record, shape (n, 1)."""
        w = self.segments(X)
        w = w[w["length"] >= self.min_length - 1e-9]
        ids = list(validate_records(X).meta["record_id"])  # '0', '1', ... for plain arrays
        best = w.groupby("record_id")["proba"].max() if len(w) else {}
        return np.array([[float(best.get(r, 0.0))] for r in ids])

    def predict(self, X):
        """1 where at least one segment of ``segment_class`` is ``min_length`` long, shape (n, 1)."""
        return self.labels_from_proba(X, self.predict_proba(X))

    _labels_ignore_X = True  # labels_from_proba needs only the probabilities

    def labels_from_proba(self, X, proba):
        """``predict(X)`` from ``proba = predict_proba(X)`` (``X`` is not read)."""
        check_is_fitted(self, "classes_")
        return (np.asarray(proba) > 0).astype(np.int64)

"""Per-class decision thresholds tuned on an inner validation split of the training data.

The multilabel counterpart of scikit-learn's ``TunedThresholdClassifierCV``: a
meta-estimator around any estimator with ``predict_proba`` of shape
``(n_records, n_classes)`` that chooses one threshold per class to maximise F1 or the
challenge score on records the model did not train on.  The test fold is never seen:
the inner split is taken from the data given to ``fit``.  The thresholds themselves
are chosen by :func:`skecg.metrics.best_thresholds`, skecg's one threshold search.
"""

from __future__ import annotations

import numbers
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.model_selection import BaseCrossValidator, GroupKFold
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Hidden, Interval, RealNotInt, StrOptions
from sklearn.utils.metadata_routing import (
    UNUSED,
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import _check_method_params, check_is_fitted

from .metrics import THRESHOLD_OBJECTIVES, best_thresholds, challenge_score, per_class_scores, proba_matrix
from .models import multilabel_group_split
from .utils.validation import MultilabelClassifierMixin, ThresholdLabelsMixin

OBJECTIVES = THRESHOLD_OBJECTIVES
_DEPRECATED = "deprecated"


def _patient_groups(X, n):
    meta = getattr(X, "meta", None)  # records carry patients; feature matrices do not
    if meta is not None and "patient_id" in meta:
        g = meta["patient_id"].to_numpy()
        if not np.all(g == g):  # NaN ids: fall back to one group per record for those
            g = np.where(g == g, g, np.array([f"_record{i}" for i in range(n)], dtype=object))
        return np.asarray([str(v) for v in g], dtype=object)
    return np.arange(n)


def _renamed_candidates(thresholds, candidates, owner):
    """``candidates``, or the deprecated ``thresholds`` (with a FutureWarning) where it was given."""
    if isinstance(thresholds, str) and thresholds == _DEPRECATED:
        return candidates
    warnings.warn(f"{owner}: 'thresholds' was renamed 'candidates' (the number of candidate thresholds per "
                  "class, or the candidates themselves); 'thresholds' will be removed in the next release",
                  FutureWarning, stacklevel=3)
    return thresholds


def tune_multilabel_thresholds(y_true, proba, *, objective="f1", classes=None, candidates=100, default=0.5,
                               n_passes=2, thresholds=_DEPRECATED):
    """Per-class thresholds that maximise ``objective`` on (validation) data.

    The same as :func:`skecg.metrics.best_thresholds` (see its parameters), which
    :class:`MultilabelThresholdTuner` and :class:`~skecg.models.ECGClassifier` call.

    Parameters
    ----------
    y_true, proba : array-like of shape (n_records, n_classes)
    objective : {'f1', 'challenge'} or callable, default='f1'
    classes : sequence of str, optional
    candidates : int or array-like, default=100
        An int: the number of candidate thresholds per class, taken from the data;
        an array: the candidates themselves.
    default : float, default=0.5
    n_passes : int, default=2
    thresholds : int or array-like
        Deprecated: the old name of ``candidates`` (a FutureWarning; removed in the
        next release).

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
    candidates = _renamed_candidates(thresholds, candidates, "tune_multilabel_thresholds")
    return best_thresholds(y_true, proba, objective=objective, classes=classes, candidates=candidates,
                           default=default, n_passes=n_passes)


class _ValidationSplit(BaseCrossValidator):
    """The tuner's one inner split (:func:`~skecg.models.multilabel_group_split`) as a
    splitter, so that metadata routing sends it ``groups`` as it does a ``GroupKFold``."""

    __metadata_request__split = {"groups": True}

    def __init__(self, valid_size, random_state=None):
        self.valid_size = valid_size
        self.random_state = random_state

    def split(self, X, y=None, groups=None):
        yield multilabel_group_split(y, groups, self.valid_size, random_state=self.random_state)

    def get_n_splits(self, X=None, y=None, groups=None):
        return 1


class MultilabelThresholdTuner(ThresholdLabelsMixin, MultilabelClassifierMixin, MetaEstimatorMixin, ClassifierMixin,
                               BaseEstimator):
    """Tune one decision threshold per class on an inner validation split of the training data.

    In the spirit of scikit-learn's ``TunedThresholdClassifierCV``, for multilabel
    estimators: ``fit`` holds out part of the data it is given (patient-grouped where
    ``meta['patient_id']`` exists, balanced over labels), fits a clone of
    ``estimator`` on the rest, chooses per-class thresholds on the held-out part, then
    (``refit=True``) fits the estimator on all of it.  The data passed to ``fit`` are
    all it ever sees, so in cross-validation or cross-source evaluation the
    thresholds are tuned inside the training fold, never on the test fold.

    ``predict`` compares the probabilities with ``thresholds_``
    (:class:`~skecg.utils.validation.ThresholdLabelsMixin`), so
    :func:`skecg.metrics.predict_with_proba` gets both from one pass.

    Parameters
    ----------
    estimator : estimator with predict_proba of shape (n_records, n_classes)
        A classifier or Pipeline; 2-D or ECG (3-D) input.
    scoring : {'f1', 'challenge'} or callable, default='f1'
        What the thresholds maximise on the validation records; see
        :func:`skecg.metrics.best_thresholds`.
    cv : float or int, default=0.25
        A float in (0, 1): the fraction of records (patients) in one inner validation
        split.  An int >= 2: grouped K-fold; thresholds are tuned on the out-of-fold
        probabilities of all records (K extra fits).
    refit : bool, default=True
        Fit the final estimator on all the training data (else keep the one fitted on
        the inner training part; only with a float ``cv``).
    candidates : int or array-like, default=100
        An int: the number of candidate thresholds per class, taken from the
        validation probabilities; an array: the candidates themselves (see
        :func:`skecg.metrics.best_thresholds`).
    classes : sequence of str, optional
        SNOMED CT codes of the columns for ``scoring='challenge'`` (default: the
        estimator's ``classes_``).
    random_state : int, RandomState or None, default=None
        Seed of the inner split.
    thresholds : int or array-like
        Deprecated: the old name of ``candidates`` (a FutureWarning at ``fit``;
        removed in the next release).

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
        "candidates": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "classes": ["array-like", None],
        "random_state": ["random_state"],
        "thresholds": [Interval(Integral, 1, None, closed="left"), "array-like", Hidden(StrOptions({_DEPRECATED}))],
    }

    # groups is routed to the inner splitter (get_metadata_routing), not requested by the tuner itself
    __metadata_request__fit = {"groups": UNUSED}

    def __init__(self, estimator, *, scoring="f1", cv=0.25, refit=True, candidates=100, classes=None,
                 random_state=None, thresholds=_DEPRECATED):
        self.estimator = estimator
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.candidates = candidates
        self.classes = classes
        self.random_state = random_state
        self.thresholds = thresholds

    def _splitter(self, seed=None):
        """The inner split: one validation part (float ``cv``) or grouped K-fold (int ``cv``)."""
        if isinstance(self.cv, numbers.Integral):
            return GroupKFold(self.cv)
        return _ValidationSplit(self.cv, random_state=seed)

    def get_metadata_routing(self):
        """Metadata routing: ``groups`` goes to the inner splitter, the rest to ``estimator.fit``
        (where requested)."""
        return (MetadataRouter(owner=type(self).__name__)
                .add(estimator=self.estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
                .add(splitter=self._splitter(), method_mapping=MethodMapping().add(caller="fit", callee="split")))

    def _score(self, y, pred, classes):
        if self.scoring == "f1":
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
            when X is an :class:`~skecg.ECGRecords`, else one group per record.  With
            metadata routing enabled it is routed to the inner splitter (a
            ``GridSearchCV`` around the tuner passes its ``groups`` on).
        **fit_params
            Passed to the estimator's ``fit`` (with metadata routing enabled: those it
            requested); those with one value per record are split with the records.

        Returns
        -------
        self
        """
        y = np.asarray(y)
        if y.ndim != 2:
            raise ValueError(f"y must be a 0/1 indicator matrix (n_records, n_classes), got shape {y.shape}")
        n = len(y)
        candidates = _renamed_candidates(self.thresholds, self.candidates, "MultilabelThresholdTuner")
        if _routing_enabled():
            routed = process_routing(self, "fit", **({} if groups is None else {"groups": groups}), **fit_params)
            groups = routed.splitter.split.get("groups")
            fit_params = dict(routed.estimator.fit)
        if groups is None:
            groups = _patient_groups(X, n)
        else:
            groups = np.asarray(groups)
            if len(groups) != n:
                raise ValueError(f"groups has {len(groups)} entries for {n} records")
        seed = self.random_state if isinstance(self.random_state, numbers.Integral) or self.random_state is None \
            else int(np.random.RandomState(self.random_state).randint(2**31 - 1))
        take = lambda idx: _safe_indexing(X, idx)  # noqa: E731 - records, arrays and frames alike
        splitter = self._splitter(seed)

        def fit_on(idx):  # a clone fitted on some records, with their part of per-record fit_params
            return clone(self.estimator).fit(take(idx), y[idx], **_check_method_params(y, fit_params, idx))

        if not isinstance(self.cv, numbers.Integral):  # a validation fraction in (0, 1)
            tr, va = next(splitter.split(np.zeros(n), y, groups))
            if len(va) == 0 or len(tr) == 0:
                raise ValueError(f"cannot split {n} records ({len(set(groups))} patients) into inner training "
                                 f"and validation parts with cv={self.cv}")
            inner = fit_on(tr)
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
            for tr, va in splitter.split(np.zeros(n), y, groups):
                proba[va] = proba_matrix(fit_on(tr), take(va))
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
        self.thresholds_ = best_thresholds(y_val, proba, objective=self.scoring, classes=classes,
                                           candidates=candidates)
        self.best_score_ = float(self._score(y_val, (proba >= self.thresholds_).astype(int), classes))
        self.untuned_score_ = float(self._score(y_val, (proba >= 0.5).astype(int), classes))
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "estimator_")
        return proba_matrix(self.estimator_, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = True
        return tags

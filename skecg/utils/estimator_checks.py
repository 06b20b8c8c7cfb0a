"""skecg's own estimator checks for estimators that take 3-D ECG input.

scikit-learn's ``check_estimator`` skips estimators that reject 2-D input, so these
checks cover the same contract on ``(n_records, n_leads, n_samples)`` data: clone and
``get_params``/``set_params`` round trips, ``fit`` returning self, no mutation of the
input, float32 kept, determinism, pickling, and use inside ``Pipeline``,
``GridSearchCV`` and ``cross_val_score`` with groups.

Use :func:`check_estimator_3d` directly, or parametrize a pytest test over
:data:`ALL_CHECKS` (as ``tests/test_preprocessing.py`` and ``tests/test_models.py`` do).
Parameter validation is checked for every public estimator by
``tests/test_validation.py``.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GroupKFold, GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline

from .._records import ECGRecords


def _output_array(out):
    if isinstance(out, ECGRecords):
        return out.signals if not out.is_ragged else out.to_list()
    return out


def _assert_same(a, b, what):
    a, b = _output_array(a), _output_array(b)
    if isinstance(a, list):
        assert len(a) == len(b), what
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, err_msg=what)
    else:
        np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-5,
                                   atol=1e-6, err_msg=what)


def _apply(est, X):
    if hasattr(est, "transform"):
        return est.transform(X)
    if hasattr(est, "predict_proba"):
        return est.predict_proba(X)
    return est.predict(X)


def check_clone_params(est, X, y):
    params = est.get_params(deep=False)
    c = clone(est)
    assert c.get_params(deep=False).keys() == params.keys()
    for k, v in params.items():
        cv = c.get_params(deep=False)[k]
        assert cv is v or cv == v or repr(cv) == repr(v), f"clone changed parameter {k}"
    c.set_params(**params)
    assert c.get_params(deep=False).keys() == params.keys()


#: bookkeeping skorch's own ``__init__`` creates (not fitted state)
_FRAMEWORK_ATTRS = {"history_", "initialized_", "virtual_params_"}


def check_init_stores_only(est, X, y):
    c = clone(est)
    fitted = [k for k in vars(c) if k.endswith("_") and not k.startswith("_") and k not in _FRAMEWORK_ATTRS]
    assert not fitted, f"__init__ must not set fitted attributes, found {fitted}"


def check_fit_returns_self(est, X, y):
    c = clone(est)
    assert c.fit(X, y) is c


def check_no_input_mutation(est, X, y):
    sig = copy.deepcopy(X.signals if isinstance(X, ECGRecords) else X)
    meta = X.meta.copy() if isinstance(X, ECGRecords) else None
    y0 = None if y is None else np.array(y, copy=True)
    c = clone(est).fit(X, y)
    _apply(c, X)
    now = X.signals if isinstance(X, ECGRecords) else X
    _assert_same(sig, now, "fit/transform mutated the input signals")
    if meta is not None:
        assert meta.drop(columns=["leads", "dx"], errors="ignore").equals(
            X.meta.drop(columns=["leads", "dx"], errors="ignore")), "fit/transform mutated the metadata"
    if y0 is not None:
        np.testing.assert_array_equal(y0, y)


def check_float32_kept(est, X, y):
    c = clone(est).fit(X, y)
    out = _output_array(c.transform(X)) if hasattr(c, "transform") else None
    if out is None:
        return
    arrays = out if isinstance(out, list) else [out]
    if all(np.asarray(a).ndim >= 2 and np.asarray(a).dtype.kind == "f" for a in arrays):
        # signal outputs keep float32; feature matrices may be float64
        if np.asarray(arrays[0]).ndim == 3 or isinstance(out, list):
            assert all(np.asarray(a).dtype == np.float32 for a in arrays), "float32 input gave another dtype"


def check_deterministic(est, X, y):
    a = _apply(clone(est).fit(X, y), X)
    b = _apply(clone(est).fit(X, y), X)
    _assert_same(a, b, "two fits with the same parameters differ")


def check_pickle(est, X, y):
    c = clone(est).fit(X, y)
    before = _apply(c, X)
    c2 = pickle.loads(pickle.dumps(c))
    _assert_same(before, _apply(c2, X), "pickling changed the output")


def check_pipeline_and_search(est, X, y, groups=None, scoring=None, param_grid=None):
    """Pipeline, GridSearchCV and cross_val_score with groups."""
    n = len(X)
    groups = np.arange(n) % 3 if groups is None else groups
    if is_classifier(est) or hasattr(est, "predict"):
        pipe = Pipeline([("est", clone(est))])
        grid = {f"est__{k}": v for k, v in (param_grid or {}).items()} or \
            {f"est__{k}": [v] for k, v in list(est.get_params(deep=False).items())[:1]}
        gs = GridSearchCV(pipe, grid, cv=GroupKFold(3), scoring=scoring, error_score="raise")
        gs.fit(X, y, groups=groups)
        s = cross_val_score(pipe, X, y, groups=groups, cv=GroupKFold(3), scoring=scoring, error_score="raise")
        assert np.all(np.isfinite(s))
        return
    # a transformer: put it in front of a simple classifier on 2-D summaries
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.dummy import DummyClassifier

    class _Summ(TransformerMixin, BaseEstimator):
        def fit(self, Z, yy=None):
            return self

        def transform(self, Z):
            if isinstance(Z, ECGRecords):
                Z = Z.signals if not Z.is_ragged else Z.to_list()
            if isinstance(Z, list):
                return np.array([[np.mean(s), np.std(s)] for s in Z])
            Z = np.asarray(Z, dtype=float)
            return Z.reshape(len(Z), -1)[:, :50] if Z.ndim == 2 else np.c_[Z.mean(axis=(1, 2)), Z.std(axis=(1, 2))]

    pipe = Pipeline([("pre", clone(est)), ("summ", _Summ()), ("clf", DummyClassifier())])
    yy = np.arange(n) % 2 if y is None else (y[:, 0] if np.ndim(y) == 2 else y)
    grid = {f"pre__{k}": v for k, v in (param_grid or {}).items()} or {"clf__strategy": ["prior", "most_frequent"]}
    gs = GridSearchCV(pipe, grid, cv=GroupKFold(3), error_score="raise")
    gs.fit(X, yy, groups=groups)
    s = cross_val_score(pipe, X, yy, groups=groups, cv=GroupKFold(3), error_score="raise")
    assert np.all(np.isfinite(s))


ALL_CHECKS = (
    check_clone_params,
    check_init_stores_only,
    check_fit_returns_self,
    check_no_input_mutation,
    check_float32_kept,
    check_deterministic,
    check_pickle,
    check_pipeline_and_search,
)


def check_estimator_3d(estimator, X, y=None, checks=ALL_CHECKS) -> None:
    """Run every check on ``estimator`` with 3-D (or records) input ``X``; raises on failure.

    Examples
    --------
    >>> import numpy as np
    >>> from skecg.preprocessing import PadTruncate
    >>> X = np.random.default_rng(0).normal(size=(9, 2, 50)).astype(np.float32)
    >>> check_estimator_3d(PadTruncate(length=40), X)
    """
    for check in checks:
        check(estimator, X, y)


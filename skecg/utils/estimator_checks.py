"""skecg's own estimator checks for estimators that take 3-D ECG input.

scikit-learn's ``check_estimator`` skips estimators that reject 2-D input, so these
checks cover the same contract on ``(n_records, n_leads, n_samples)`` data: clone and
``get_params``/``set_params`` round trips, ``fit`` returning self, no mutation of the
input, float32 kept, determinism, pickling, use inside ``Pipeline``, ``GridSearchCV``
and ``cross_val_score`` with groups, a ``NotFittedError`` before ``fit``, the same
result batched and one record at a time, a second ``fit`` on the same instance, ``fit``
leaving the parameters alone, read-only (memory-mapped) input, empty input, and float64
and integer input.

Samplers (``fit_resample``, as imbalanced-learn's) are checked on what ``fit_resample``
returns; checks that need a fitted ``transform``/``predict`` do not apply to them
(:func:`checks_for` leaves them out).

Use :func:`check_estimator_3d` directly, or parametrize a pytest test over
:func:`checks_for` or :data:`ALL_CHECKS` (as ``tests/utils/test_estimator_checks.py`` does for
every public estimator of skecg that takes 3-D signals).  Parameter validation is
checked for every public estimator by ``tests/utils/test_validation.py``.
"""

from __future__ import annotations

import copy
import os
import pickle
import tempfile

import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone, is_classifier
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import NotFittedError
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _is_fitted
from sklearn.model_selection import GroupKFold, GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline

from .._records import records_of, validate_records


#: tolerance of the batched-versus-one-record check: float32 BLAS and oneDNN choose
#: kernels by batch size, so a network's or a matrix-product filter's outputs for one
#: record alone may differ in the last bits from the same record inside a batch
BATCH_RTOL, BATCH_ATOL = 1e-4, 1e-5


def _output_array(out):
    if records_of(out) is not None:
        return out.signals if not out.is_ragged else out.to_list()
    if isinstance(out, (pd.DataFrame, pd.Series)):
        return out.to_numpy()
    return out


def _is_sampler(est) -> bool:
    return hasattr(est, "fit_resample") and not any(hasattr(est, m) for m in ("transform", "predict"))


def _take(X, idx):
    """Records ``idx`` of ``X`` in its container kind."""
    idx = np.asarray(idx, dtype=np.intp)
    return _safe_indexing(X, idx)  # records, arrays, lists and frames alike


def _take_y(y, idx):
    return None if y is None else np.asarray(y)[np.asarray(idx, dtype=np.intp)]


def _map_signals(X, func):
    """``X`` with ``func`` applied to its signal arrays, in the same container kind."""
    if records_of(X) is not None:
        sig = X.signals
        new = [func(s) for s in sig] if isinstance(sig, list) else func(sig)
        return X.with_signals(new)  # the container keeps float32 (a float32 memory map as it is)
    if isinstance(X, list):
        return [func(s) for s in X]
    return func(np.asarray(X))


def _rows(out):
    a = _output_array(out)
    return a if isinstance(a, list) else np.asarray(a)


def _assert_same(a, b, what):
    a, b = _output_array(a), _output_array(b)
    if isinstance(a, list):
        assert len(a) == len(b), what
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, err_msg=what)
    else:
        np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-5,
                                   atol=1e-6, err_msg=what)


def _apply(est, X, y=None):
    """What a fitted estimator gives for ``X``: ``transform``, else ``predict_proba``, else
    ``predict``; a sampler's ``fit_resample(X, y)`` (its chosen records)."""
    if hasattr(est, "transform"):
        return est.transform(X)
    if hasattr(est, "predict_proba"):
        return est.predict_proba(X)
    if hasattr(est, "predict"):
        return est.predict(X)
    return est.fit_resample(X, y)[0]


def _same_param(a, b) -> bool:
    """Whether a cloned parameter equals the original: nested estimators by their own
    parameters (a repr can list a set in another order), sequences item by item."""
    if a is b:
        return True
    if hasattr(a, "get_params") and not isinstance(a, type):
        pa, pb = a.get_params(deep=False), b.get_params(deep=False)
        return type(a) is type(b) and pa.keys() == pb.keys() and all(_same_param(pa[k], pb[k]) for k in pa)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_param(x, z) for x, z in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    try:
        if a == b:
            return True
    except Exception:  # noqa: BLE001 - objects whose == is not a bool
        pass
    return repr(a) == repr(b)


def check_clone_params(est, X, y):
    params = est.get_params(deep=False)
    c = clone(est)
    assert c.get_params(deep=False).keys() == params.keys()
    for k, v in params.items():
        assert _same_param(v, c.get_params(deep=False)[k]), f"clone changed parameter {k}"
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
    R = validate_records(X)
    sig = copy.deepcopy(R.signals if R.is_records else X)
    meta = X.meta.copy() if R.is_records else None
    y0 = None if y is None else np.array(y, copy=True)
    c = clone(est).fit(X, y)
    _apply(c, X, y)
    now = X.signals if R.is_records else X
    _assert_same(sig, now, "fit/transform mutated the input signals")
    if meta is not None:
        assert meta.drop(columns=["leads", "dx"], errors="ignore").equals(
            X.meta.drop(columns=["leads", "dx"], errors="ignore")), "fit/transform mutated the metadata"
    if y0 is not None:
        np.testing.assert_array_equal(y0, y)


def check_float32_kept(est, X, y):
    c = clone(est).fit(X, y)
    out = _output_array(_apply(c, X, y)) if hasattr(c, "transform") or _is_sampler(c) else None
    if out is None:
        return
    arrays = out if isinstance(out, list) else [out]
    if all(np.asarray(a).ndim >= 2 and np.asarray(a).dtype.kind == "f" for a in arrays):
        # signal outputs keep float32; feature matrices may be float64
        if np.asarray(arrays[0]).ndim == 3 or isinstance(out, list):
            assert all(np.asarray(a).dtype == np.float32 for a in arrays), "float32 input gave another dtype"


def check_deterministic(est, X, y):
    a = _apply(clone(est).fit(X, y), X, y)
    b = _apply(clone(est).fit(X, y), X, y)
    _assert_same(a, b, "two fits with the same parameters differ")


def check_pickle(est, X, y):
    c = clone(est).fit(X, y)
    before = _apply(c, X, y)
    c2 = pickle.loads(pickle.dumps(c))
    _assert_same(before, _apply(c2, X, y), "pickling changed the output")


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
    class _Summ(TransformerMixin, BaseEstimator):
        def fit(self, Z, yy=None):
            return self

        def transform(self, Z):
            if records_of(Z) is not None:
                Z = Z.signals if not Z.is_ragged else Z.to_list()
            if isinstance(Z, list):
                return np.array([[np.mean(s), np.std(s)] for s in Z])
            Z = np.asarray(Z, dtype=float)
            return Z.reshape(len(Z), -1)[:, :50] if Z.ndim == 2 else np.c_[Z.mean(axis=(1, 2)), Z.std(axis=(1, 2))]

    pipe = Pipeline([("pre", clone(est)), ("summ", _Summ()), ("clf", DummyClassifier())])
    yy = np.arange(n) % 2 if y is None else np.asarray(y)  # DummyClassifier takes multilabel y too
    grid = {f"pre__{k}": v for k, v in (param_grid or {}).items()} or {"clf__strategy": ["prior", "most_frequent"]}
    gs = GridSearchCV(pipe, grid, cv=GroupKFold(3), error_score="raise")
    gs.fit(X, yy, groups=groups)
    s = cross_val_score(pipe, X, yy, groups=groups, cv=GroupKFold(3), error_score="raise")
    assert np.all(np.isfinite(s))


def check_not_fitted_error(est, X, y):
    """An unfitted estimator's ``transform``/``predict_proba``/``predict`` raise
    scikit-learn's ``NotFittedError`` (not an AttributeError or a torch error)."""
    c = clone(est)
    methods = [m for m in ("transform", "predict_proba", "predict", "decision_function", "embed")
               if hasattr(c, m)]
    assert methods, f"{type(est).__name__} has no method to call before fit"
    for m in methods:
        try:
            getattr(c, m)(X)
        except NotFittedError:
            continue
        except Exception as exc:  # noqa: BLE001 - the check names what it got instead
            raise AssertionError(f"unfitted {type(est).__name__}.{m} raised {type(exc).__name__}: {exc} "
                                 "instead of NotFittedError") from exc
        raise AssertionError(f"unfitted {type(est).__name__}.{m} did not raise NotFittedError")


def check_batched_equals_single(est, X, y, n_records=3):
    """The output for each of the first ``n_records`` records alone equals its row of the
    output for all records (within :data:`BATCH_RTOL`/:data:`BATCH_ATOL`, relative to the
    output's scale)."""
    c = clone(est).fit(X, y)
    whole = _rows(_apply(c, X))
    assert len(whole) == len(X), f"{len(whole)} outputs for {len(X)} records"
    for i in range(min(n_records, len(X))):
        one = _rows(_apply(c, _take(X, [i])))
        assert len(one) == 1, f"{len(one)} outputs for one record"
        a, b = np.asarray(whole[i], dtype=float), np.asarray(one[0], dtype=float)
        assert a.shape == b.shape, f"record {i}: shape {b.shape} alone, {a.shape} in a batch"
        scale = max(1.0, float(np.nanmax(np.abs(a))) if a.size else 1.0)
        np.testing.assert_allclose(b, a, rtol=BATCH_RTOL, atol=BATCH_ATOL * scale,
                                   err_msg=f"record {i} alone differs from the same record in a batch")


def check_refit_same_instance(est, X, y):
    """A second ``fit`` on the same (seeded) instance gives the first fit's result."""
    c = clone(est)
    a = _apply(c.fit(X, y), X, y)
    b = _apply(c.fit(X, y), X, y)
    _assert_same(a, b, "a second fit on the same instance differs from the first")


def check_fit_keeps_params(est, X, y):
    """``fit`` leaves every parameter as it was (scikit-learn's
    ``check_dont_overwrite_parameters``: same ``joblib.hash`` before and after, which
    also catches a nested estimator fitted in place instead of a clone)."""
    c = clone(est)
    before = _param_hashes(c)
    c.fit(X, y)
    after = _param_hashes(c)
    assert set(after) == set(before), "fit added or removed parameters"
    changed = sorted(k for k, h in before.items() if after[k] != h)
    assert not changed, f"fit changed the parameter(s) {changed}"


def _param_hashes(est) -> dict:
    """A fingerprint of every parameter: ``joblib.hash`` of a value; for a nested
    estimator its identity, whether it is fitted and its own parameters (a fitted
    network's pickle is not stable enough to hash, and fitting a nested estimator in
    place instead of a clone shows as unfitted -> fitted).  A ``Pipeline`` fits its
    steps in place by design (scikit-learn's documented exception), so for one its
    steps count by their parameters only."""
    if hasattr(est, "steps"):
        return {k: _hash(v) for k, v in est.get_params(deep=True).items()
                if not hasattr(v, "get_params") and k != "steps"}
    return {k: _param_state(v) for k, v in est.get_params(deep=False).items()}


def _param_state(value):
    if hasattr(value, "get_params") and not isinstance(value, type):
        nested = {k: _param_state(v) for k, v in value.get_params(deep=False).items()}
        return ("estimator", id(value), _is_fitted(value), _hash(sorted(nested.items(), key=lambda kv: kv[0])))
    if isinstance(value, (list, tuple)) and any(hasattr(v, "get_params") for v in _flatten(value)):
        return tuple(_param_state(v) for v in value)
    return _hash(value)


def _flatten(seq):
    for v in seq:
        if isinstance(v, (list, tuple)):
            yield from _flatten(v)
        else:
            yield v


def _hash(value):
    try:
        return joblib.hash(value)
    except Exception:  # noqa: BLE001 - an object joblib cannot hash (e.g. one holding tensors): its identity
        return ("id", id(value))


def check_readonly_input(est, X, y):
    """Read-only, memory-mapped signals (``np.load(mmap_mode='r')``) fit and give the
    same output as in-memory ones."""
    ref = _apply(clone(est).fit(X, y), X, y)
    with tempfile.TemporaryDirectory() as tmp:
        n = [0]

        def memmap(a):
            path = os.path.join(tmp, f"{n[0]}.npy")
            n[0] += 1
            np.save(path, np.ascontiguousarray(a))
            m = np.load(path, mmap_mode="r")
            assert not m.flags.writeable
            return m

        Xr = _map_signals(X, memmap)
        yr = None if y is None else memmap(np.asarray(y))
        try:
            c = clone(est).fit(Xr, yr)
            out = _apply(c, Xr, yr)
        except Exception as exc:  # noqa: BLE001 - the check names what it got
            raise AssertionError(f"read-only input raised {type(exc).__name__}: {exc}") from exc
        _assert_same(ref, out, "read-only input gave another output")
        del Xr, yr, c, out  # release the maps before the folder goes


def check_empty_input(est, X, y):
    """No records: ``fit`` and (fitted on ``X``) ``transform``/``predict`` either raise a
    ``ValueError`` with a message, or return an empty output; never an IndexError, a
    ZeroDivisionError, a torch error or a non-empty result."""
    empty = _take(X, [])
    y_empty = _take_y(y, [])

    def ok(call, what):
        try:
            out = call()
        except ValueError as exc:
            assert str(exc).strip(), f"{what} on no records raised a ValueError without a message"
            return
        except Exception as exc:  # noqa: BLE001 - the check names what it got instead
            raise AssertionError(f"{what} on no records raised {type(exc).__name__}: {exc}; "
                                 "expected a ValueError or an empty output") from exc
        if out is not None and not hasattr(out, "fit"):
            rows = _rows(out[0] if isinstance(out, tuple) else out)
            assert len(rows) == 0, f"{what} on no records gave {len(rows)} outputs"

    ok(lambda: clone(est).fit(empty, y_empty), "fit")
    if _is_sampler(est):
        ok(lambda: clone(est).fit_resample(empty, y_empty), "fit_resample")
        return
    c = clone(est).fit(X, y)
    ok(lambda: _apply(c, empty), "transform/predict")


def check_float64_and_int_input(est, X, y):
    """Integer signals (raw int32 ADC units: the signals in µV, rounded) are accepted and
    give the result of the same values as float32, and float64 signals give the float32
    result within rounding.  (:class:`~skecg.ECGRecords` stores float32, so there this
    checks the container's conversion; plain arrays reach the estimator as they are.)"""

    def run(Z):
        return _apply(clone(est).fit(Z, y), Z, y)

    as_int = _map_signals(X, lambda a: np.round(np.asarray(a, dtype=np.float64) * 1000).astype(np.int32))
    ref = run(_map_signals(as_int, lambda a: np.asarray(a, dtype=np.float32)))
    _assert_close(ref, run(as_int), "integer input differs from the same values as float32", rtol=1e-4, atol=1e-5)
    out64 = run(_map_signals(as_int, lambda a: np.asarray(a, dtype=np.float64)))
    _assert_close(ref, out64, "float64 input differs from float32 input", rtol=1e-3, atol=1e-4)


def _assert_close(a, b, what, rtol, atol):
    a, b = _output_array(a), _output_array(b)
    pairs = zip(a, b) if isinstance(a, list) else [(a, b)]
    if isinstance(a, list):
        assert len(a) == len(b), what
    for x, z in pairs:
        x, z = np.asarray(x, dtype=float), np.asarray(z, dtype=float)
        scale = max(1.0, float(np.nanmax(np.abs(x))) if x.size else 1.0)
        np.testing.assert_allclose(z, x, rtol=rtol, atol=atol * scale, err_msg=what)


ALL_CHECKS = (
    check_clone_params,
    check_init_stores_only,
    check_fit_returns_self,
    check_no_input_mutation,
    check_float32_kept,
    check_deterministic,
    check_pickle,
    check_pipeline_and_search,
    check_not_fitted_error,
    check_batched_equals_single,
    check_refit_same_instance,
    check_fit_keeps_params,
    check_readonly_input,
    check_empty_input,
    check_float64_and_int_input,
)

#: checks that need a fitted transform/predict, which samplers do not have
_NOT_FOR_SAMPLERS = {check_not_fitted_error, check_batched_equals_single, check_pipeline_and_search}


def checks_for(estimator) -> tuple:
    """The checks of :data:`ALL_CHECKS` that apply to ``estimator`` (all of them but
    three for a sampler, which has no fitted ``transform``/``predict``).

    Examples
    --------
    >>> from skecg.sampling import TrainingSubsetSampler
    >>> len(checks_for(TrainingSubsetSampler())) == len(ALL_CHECKS) - 3
    True
    """
    if _is_sampler(estimator):
        return tuple(c for c in ALL_CHECKS if c not in _NOT_FOR_SAMPLERS)
    return ALL_CHECKS


def check_estimator_3d(estimator, X, y=None, checks=None) -> None:
    """Run every check (default: :func:`checks_for` the estimator) on ``estimator`` with 3-D
    (or records) input ``X``; raises on failure.

    Examples
    --------
    >>> import numpy as np
    >>> from skecg.preprocessing import PadTruncate
    >>> X = np.random.default_rng(0).normal(size=(9, 2, 50)).astype(np.float32)
    >>> check_estimator_3d(PadTruncate(length=40), X)
    """
    for check in checks_for(estimator) if checks is None else checks:
        check(estimator, X, y)


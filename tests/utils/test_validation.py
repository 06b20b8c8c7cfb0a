"""Parameter validation over every public estimator, and the shared input checks.

Every public estimator or transformer of the library (not the application modules)
declares ``_parameter_constraints`` for each of its own parameters, and ``fit`` rejects a
wrong type or value of each one with scikit-learn's message *before it touches the data*:
``fit`` is given data that raise when read, so an estimator that trains (or reads a single
record) before validating fails here.
"""

import importlib
import inspect
import pkgutil
import re

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import InvalidParameterError, generate_invalid_param_val, make_constraint

import skecg
from skecg.utils.validation import (
    ECGInputMixin,
    check_3d,
    check_finite_signals,
    check_indicator_matrix,
    check_lead_names,
)

#: the application on top of the library: not estimators' home, not scanned
APPLICATION = ("skecg.apps",)


def public_estimators():
    """Every public class of skecg's public modules with ``get_params`` and ``fit``."""
    found = {}
    for info in pkgutil.walk_packages(skecg.__path__, "skecg."):
        name = info.name
        if any(p.startswith("_") for p in name.split(".")[1:]) or name.startswith(APPLICATION):
            continue
        for cls_name, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass):
            if (not cls_name.startswith("_") and cls.__module__.startswith("skecg.")
                    and issubclass(cls, BaseEstimator) and hasattr(cls, "fit")):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[k] for k in sorted(found)]


ESTIMATORS = public_estimators()

#: estimators whose owner's rewrite must land before their constraints: strict xfail, so the
#: entry must go when they get them
PENDING: dict = {}


def _maybe_pending(cls, pending=PENDING):
    if cls.__name__ in pending:
        return pytest.param(cls, id=cls.__name__, marks=pytest.mark.xfail(reason=PENDING[cls.__name__], strict=True))
    return pytest.param(cls, id=cls.__name__)


class _Stub(BaseEstimator):
    """A member for meta-estimators; any method call means the meta-estimator trained it."""

    def fit(self, X, y=None):
        raise AssertionError("a member was fitted before the parameters were validated")

    predict = predict_proba = predict_waves = embed = transform = fit


class _Untouchable:
    """Data that fail the test when anything reads them."""

    def __getattr__(self, name):
        raise AssertionError(f"fit read the data (.{name}) before validating its parameters")

    def __len__(self):
        raise AssertionError("fit read the data (len) before validating its parameters")

    def __array__(self, *args, **kwargs):
        raise AssertionError("fit read the data (np.asarray) before validating its parameters")

    def __getitem__(self, key):
        raise AssertionError("fit read the data (indexing) before validating its parameters")

    def __iter__(self):
        raise AssertionError("fit read the data (iteration) before validating its parameters")


class _StubAccelerator:
    """An ``accelerate.Accelerator`` stand-in; any use means fit went past validation."""

    def prepare(self, *args, **kwargs):
        raise AssertionError("the accelerator was used before the parameters were validated")

    unwrap_model = gather_for_metrics = wait_for_everyone = prepare


#: values for constructor arguments without a default
REQUIRED = {"estimator": _Stub(), "estimators": [("a", _Stub()), ("b", _Stub())], "segmenter": _Stub(),
            "steps": [("a", _Stub())],
            "accelerator": _StubAccelerator()}


def own_params(cls):
    """The parameters an estimator's own ``__init__`` names (not skorch's ``**kwargs``)."""
    sig = inspect.signature(cls.__init__)
    return [p.name for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def make(cls):
    sig = inspect.signature(cls.__init__)
    kw = {n: REQUIRED[n] for n, p in sig.parameters.items()
          if n != "self" and p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    return cls(**kw)


def _id(cls):
    return cls.__name__


def test_the_scan_finds_the_estimators():
    names = {c.__name__ for c in ESTIMATORS}
    assert {"ECGClassifier", "Resampler", "TrainingSubsetSampler", "LengthEnsemble",
            "MultilabelThresholdTuner", "CatBoostECGClassifier"} <= names
    assert "Pipeline" not in names  # skecg.sampling.Pipeline is gone: imblearn's is used


@pytest.mark.parametrize("cls", [_maybe_pending(c) for c in ESTIMATORS])
def test_every_parameter_has_constraints(cls):
    constraints = getattr(cls, "_parameter_constraints", None)
    assert isinstance(constraints, dict), f"{cls.__name__} declares no _parameter_constraints"
    missing = sorted(set(own_params(cls)) - set(constraints))
    assert not missing, f"{cls.__name__}: parameters without constraints: {missing}"
    # a subclass whose **kwargs reach its parent's __init__ keeps the parent's constraints:
    # those parameters are its own too, get_params names them
    unknown = sorted(set(constraints) - set(make(cls).get_params(deep=False)))
    assert not unknown, f"{cls.__name__}: constraints for parameters it does not have: {unknown}"


def _cases():
    for cls in ESTIMATORS:
        if cls.__name__ in PENDING:
            continue
        for param in sorted(getattr(cls, "_parameter_constraints", {})):
            yield pytest.param(cls, param, id=f"{cls.__name__}-{param}")


BadType = type("BadType", (), {})


def _fit_must_reject(est, param, value):
    est.set_params(**{param: value})
    match = rf"The '{param}' parameter of {type(est).__name__} must be .* Got .* instead\."
    with pytest.raises(InvalidParameterError, match=match):
        est.fit(_Untouchable(), _Untouchable())


@pytest.mark.parametrize("cls,param", list(_cases()))
def test_wrong_parameter_fails_in_fit_before_the_data_are_read(cls, param):
    """scikit-learn's check_param_validation, with data that may not be read."""
    constraints = cls._parameter_constraints[param]
    if constraints == "no_validation":
        return
    _fit_must_reject(make(cls), param, BadType())  # a type no constraint accepts
    for constraint in map(make_constraint, constraints):
        try:
            bad = generate_invalid_param_val(constraint)
        except NotImplementedError:
            continue  # a type-only constraint: covered by BadType
        _fit_must_reject(make(cls), param, bad)


def test_wrong_length_threshold_fails_before_training():
    from skecg.ensemble import LengthEnsemble
    from skecg.models import ECGClassifier

    X = np.zeros((6, 2, 64), np.float32)
    y = np.eye(3, dtype=int)[np.arange(6) % 3]
    net = ECGClassifier(threshold=[0.5, 0.5], module__filters=(4,), max_epochs=1)
    with pytest.raises(ValueError, match="threshold has 2 values for 3 classes"):
        net.fit(X, y)
    assert not net.initialized_  # the network was never built, let alone trained
    net.set_params(threshold=[0.5, -0.1, 0.5])
    with pytest.raises(ValueError, match="threshold values must be non-negative"):
        net.fit(X, y)
    assert not net.initialized_
    with pytest.raises(ValueError, match=r"threshold must be one number or 3 numbers in \[0, 1\]"):
        make(LengthEnsemble).set_params(threshold=[0.5, 0.5]).fit(X, y)  # members raise if fitted


# --- shared input checks ---------------------------------------------------------------------
def test_check_finite_signals_names_records_in_arrays_and_lists():
    X = np.zeros((7, 2, 5), np.float32)
    X[[1, 6], 1, 3] = [np.inf, np.nan]
    with pytest.raises(ValueError, match=r"^2 record\(s\) hold NaN or inf values: b, g; repair or drop them$"):
        check_finite_signals(X, list("abcdefg"))
    with pytest.raises(ValueError, match=r"1 record\(s\) .*: record 1;"):
        check_finite_signals([np.zeros((2, 3)), np.full((2, 4), np.nan)])
    check_finite_signals([np.zeros((2, 3))])
    big = np.zeros((8, 1, 2)); big[:, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"8 record\(s\) .*record 4 \.\.\.;"):  # five named, then ...
        check_finite_signals(big)


def test_check_indicator_matrix():
    assert check_indicator_matrix(np.array([[True, False]])).dtype == bool
    with pytest.raises(ValueError, match=r"2-D 0/1 indicator matrix .* got shape \(3,\)"):
        check_indicator_matrix([0, 1, 1])
    with pytest.raises(ValueError, match=r"X has 4 records but y has 2 rows"):
        check_indicator_matrix([[0], [1]], n_rows=4)
    with pytest.raises(ValueError, match=r"y_pred must be a 0/1 indicator matrix, found values \[2\]"):
        check_indicator_matrix([[0, 2]], "y_pred")
    with pytest.raises(ValueError, match="dtype"):
        check_indicator_matrix([["a"]])


def test_check_3d_and_lead_names():
    assert check_3d([[[1.0]]], dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match=r"got shape \(4,\)$"):
        check_3d(np.zeros(4))
    assert check_lead_names(["DII", "avf"], n_leads=2) == ("II", "aVF")
    with pytest.raises(ValueError, match=r"\['II'\] appear more than once"):
        check_lead_names(["II", "ii"])
    with pytest.raises(ValueError, match="2 lead names given for 3 leads"):
        check_lead_names(["I", "II"], n_leads=3)
    with pytest.raises(TypeError, match="string"):
        check_lead_names("II")


@pytest.mark.parametrize("cls", [c for c in ESTIMATORS if issubclass(c, ECGInputMixin) and c.__name__ not in PENDING],
                         ids=_id)
def test_3d_estimators_take_their_tags_from_the_mixin(cls):
    tags = make(cls).__sklearn_tags__()
    assert tags.input_tags.three_d_array and not tags.input_tags.two_d_array
    assert tags.requires_fit  # transform/predict raise NotFittedError before fit


# --- docs that cannot go stale -----------------------------------------------------------------
def test_user_guide_snippets_run():
    """Every snippet of docs/guide.rst runs and prints what the page says."""
    import doctest
    from pathlib import Path

    guide = Path(__file__).resolve().parents[2] / "docs" / "guide.rst"
    res = doctest.testfile(str(guide), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False)
    assert res.attempted >= 30 and res.failed == 0, f"{res.failed} of {res.attempted} guide examples failed"


@pytest.mark.parametrize("cls", ESTIMATORS, ids=_id)
def test_estimator_docstrings_document_every_parameter_in_numpydoc_order(cls):
    """numpydoc's validation of the class docstring: every parameter documented (PR01), none
    unknown (PR02), known sections (GL06) in order (GL07).  ``**kwargs`` of skorch nets is
    skorch's prefixes, described in prose."""
    validate = pytest.importorskip("numpydoc.validate").validate
    res = validate(f"{cls.__module__}.{cls.__qualname__}")
    errors = [(code, msg) for code, msg in res["errors"] if code in {"PR01", "PR02", "GL06", "GL07"}
              and msg != "Parameters {'**kwargs'} not documented"]
    if cls.__name__ not in PENDING and "kwargs" in inspect.signature(cls.__init__).parameters:
        # skorch parameters passed through **kwargs (train_split, compile) may be documented
        known = set(make(cls).get_params(deep=False))
        errors = [(c, m) for c, m in errors
                  if not (c == "PR02" and set(re.findall(r"'(\w+)'", m)) <= known)]
    assert not errors, errors

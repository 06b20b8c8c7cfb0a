"""The records container keeps signals and metadata aligned."""

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupKFold, cross_val_score, train_test_split

from skecg import ECGRecords, concat_records
from skecg.datasets import load_sample, sample_summary


def _records(n, ragged=False):
    if ragged:
        sig = [np.full((12, 10 + i), i, np.float32) for i in range(n)]
    else:
        sig = np.arange(n, dtype=np.float32)[:, None, None] * np.ones((1, 12, 8), np.float32)
    meta = pd.DataFrame({"record_id": [f"r{i}" for i in range(n)], "age": np.arange(n) + 20.0,
                         "patient_id": [f"p{i // 2}" for i in range(n)], "source": "x"})
    return ECGRecords(sig, meta, fs=100, classes=["a", "b"])


def _aligned(X):
    for sig, rid, age in zip(X.signals, X.meta.record_id, X.meta.age):
        i = int(rid[1:])
        assert np.all(sig == i) and age == i + 20


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), ragged=st.booleans(), data=st.data())
def test_indexing_keeps_alignment(n, ragged, data):
    X = _records(n, ragged)
    idx = data.draw(st.lists(st.integers(0, n - 1), max_size=40))
    sub = X[np.array(idx, dtype=int)]
    assert len(sub) == len(idx) and sub.classes == ["a", "b"]
    _aligned(sub)
    mask = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    _aligned(X[np.array(mask)])
    _aligned(X[::2])
    _aligned(X[np.array(idx, dtype=int), ...])  # the form sklearn's _safe_indexing uses


@settings(max_examples=20, deadline=None)
@given(n=st.integers(4, 40), k=st.integers(2, 4), ragged=st.booleans())
def test_cv_splits_keep_alignment(n, k, ragged):
    X = _records(n, ragged)
    y = (np.arange(n) % 2)[:, None].repeat(2, 1)
    groups = X.meta.patient_id.to_numpy()
    for tr, te in GroupKFold(n_splits=min(k, len(set(groups)))).split(X, y, groups):
        from sklearn.utils import _safe_indexing
        _aligned(_safe_indexing(X, tr))
        _aligned(_safe_indexing(X, te))
    a, b, ya, yb = train_test_split(X, y, test_size=0.25, random_state=0)
    _aligned(a), _aligned(b)
    assert len(a) == len(ya)


class _MeanLead(ClassifierMixin, BaseEstimator):
    """Checks that fit/predict see aligned records (signal value == record number)."""

    def fit(self, X, y):
        assert isinstance(X, ECGRecords)
        _aligned(X)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        _aligned(X)
        return (np.array([s.mean() for s in X.signals]) % 2).astype(int)


def test_cross_val_score_slices_container():
    X = _records(20)
    y = np.arange(20) % 2
    s = cross_val_score(_MeanLead(), X, y, groups=X.meta.patient_id, cv=GroupKFold(4))
    assert np.allclose(s, 1.0)


def test_plain_arrays_and_protocol():
    X = _records(5)
    assert X.shape == (5, 12, 8) and np.asarray(X).dtype == np.float32
    assert X[2].shape == (12, 8) and np.all(X[2] == 2)
    R = _records(3, ragged=True)
    assert R.shape == (3, 12, None)
    with pytest.raises(ValueError, match="different shapes"):
        np.asarray(R)
    with pytest.raises(IndexError, match="axis 0"):
        X[:, 0]
    assert pickle.loads(pickle.dumps(X)).meta.equals(X.meta)
    assert X.fs == 100.0


def test_bad_construction():
    with pytest.raises(ValueError, match="3-D"):
        ECGRecords(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="meta has 2 rows but there are 3 signals"):
        ECGRecords(np.zeros((3, 1, 4)), pd.DataFrame({"age": [1, 2]}))


@pytest.mark.parametrize("kw,err,match", [
    (dict(fs="abc"), ValueError, r"fs must be the sampling rate in Hz \(a positive number such as 500\), got 'abc'"),
    (dict(fs=[500]), TypeError, r"fs must be the sampling rate in Hz .* got list \[500\]"),
    (dict(fs=True), TypeError, r"fs must be the sampling rate in Hz .* got bool True"),
    (dict(fs=0), ValueError, r"fs must be a sampling rate in Hz in \(0, 100000\], got 0"),
    (dict(fs=float("nan")), ValueError, r"fs must be a sampling rate in Hz in \(0, 100000\], got nan"),
    (dict(leads=["I", "II"]), ValueError, r"leads names 2 lead\(s\) \['I', 'II'\] but the signals have \[12\]"),
    (dict(leads=[1.5] * 12), TypeError, r"leads must be names \(str\), got float 1.5"),
    (dict(leads=3.0), TypeError, r"leads must be a sequence of names, got float 3.0"),
    (dict(classes=[None]), TypeError, r"classes must be names \(str\), got NoneType None"),
    (dict(skipped=["A0001"]), ValueError, r"skipped must be a list of \(record, reason\) pairs, got 'A0001'"),
    (dict(meta=pd.DataFrame({"fs": ["500", "abc"]})), ValueError, r"meta\['fs'\] of record 1 is 'abc'"),
    (dict(meta=pd.DataFrame({"fs": [500, -500]})), ValueError, r"meta\['fs'\] of record 1 is -500"),
])
def test_parameters_of_the_wrong_type_are_named(kw, err, match):
    """Every argument of the container is checked on the way in, with a sentence naming it."""
    X, _ = load_sample(sources=["Georgia"])
    sig = np.asarray(X.signals[:2])  # real records
    with pytest.raises(err, match=match):
        ECGRecords(sig, **kw)


def test_parameters_in_another_accepted_form():
    X, _ = load_sample(sources=["Georgia"])
    sig = np.asarray(X.signals[:2])
    R = ECGRecords(sig, fs="500", classes="426783006", leads=[f"lead{i}" for i in range(12)])
    assert R.fs == 500.0 and R.classes == ["426783006"] and R.leads[0] == "lead0"  # one class, not its digits
    one = ECGRecords(sig[:, 1:2], leads="II", fs=np.float32(500))
    assert one.leads == ("II",) and one.fs == 500.0  # one lead named by a str, not 'I', 'I'
    assert ECGRecords(sig, pd.DataFrame({"fs": ["500", None]})).meta.fs.isna().tolist() == [False, True]
    with pytest.raises(ValueError, match=r"record 1: signal values must be numbers, got dtype <U3"):
        ECGRecords([sig[0], np.full((12, 4), "abc")])
    with pytest.raises(TypeError, match="signals must be a 3-D array .* got int"):
        ECGRecords(5)


def test_mixed_rates_error():
    a = ECGRecords(np.zeros((1, 12, 10), np.float32), fs=100)
    b = ECGRecords(np.zeros((1, 12, 10), np.float32), fs=500)
    with pytest.raises(ValueError, match=r"different sampling rates \[100.0, 500.0\].*Resampler"):
        concat_records([a, b]).fs


def test_sample_offline_both_vocabularies():
    X, y = load_sample()
    assert len(X) == 620 and y.shape == (620, 24)
    X6, y6 = load_sample("tnmg")
    assert y6.shape == (620, 6) and y6.sum(0).min() > 0  # every TNMG class is present
    assert set(X.meta.source) == {"CPSC", "CPSC-Extra", "Georgia", "PTB-XL", "PTB", "Chapman-Ningbo"}
    assert X.meta.age.notna().mean() > 0.9 and set(X.meta.sex.dropna()) == {"M", "F"}
    assert "records per source and class" in sample_summary()


def test_sample_is_lossless_against_shared(cinc):
    from conftest import CINC
    from skecg.io import read_challenge_record
    X, _ = load_sample(sources=["CPSC"])
    for rec in ("A0001", "A0005"):
        sig, _ = read_challenge_record(CINC / f"{rec}.hea")
        i = X.meta.index[X.meta.record_id == rec][0]
        n = X.signals[i].shape[1]
        np.testing.assert_array_equal(X.signals[i], sig[:, :n])

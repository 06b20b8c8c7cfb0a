"""SignalPipeline: the chunked run equals scikit-learn's Pipeline of the same steps."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError

from skecg import ECGRecords
from skecg.datasets import load_sample
from skecg.pipelines import make_zhu_preprocessing
from skecg.preprocessing import LeadSelector, PadTruncate, Resampler, RRFeatureExtractor, SignalPipeline
from skecg.sources import ArraySource

X_ALL, _ = load_sample()  # real records of five sources: 257-1000 Hz, 10-30 s


def _one_shape(n=45):
    keep = np.flatnonzero((X_ALL.meta.fs == 500).to_numpy() & np.array([s.shape[1] == 5000 for s in X_ALL.signals]))
    return X_ALL.take(keep[np.arange(n) % len(keep)])


R = _one_shape()


def _sklearn(pipe):
    """The same fitted-from-scratch steps in scikit-learn's Pipeline."""
    return Pipeline([(name, clone(step)) for name, step in pipe.steps])


def _assert_same(a, b, atol=1e-6):
    assert isinstance(a, ECGRecords) and isinstance(b, ECGRecords)
    assert a.shape == b.shape
    np.testing.assert_allclose(a.signals, b.signals, rtol=0, atol=atol)
    assert a.meta.equals(b.meta)
    assert a.classes == b.classes


@pytest.mark.parametrize("n_jobs", [None, 2])
@pytest.mark.parametrize("chunk_size", [7, 64])
def test_zhu_chain_in_chunks_equals_sklearn_pipeline(n_jobs, chunk_size):
    pipe = make_zhu_preprocessing(400, 10, n_jobs=n_jobs).set_params(chunk_size=chunk_size)
    ref = _sklearn(pipe).fit_transform(R)
    out = pipe.fit_transform(R)
    _assert_same(out, ref)
    assert out.fs == 400 and out.meta["leads"].iat[0] == ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
    # transform with the fitted steps, on other records, is the same run again
    _assert_same(pipe.transform(R[5:40]), ref[5:40])
    # the fitted steps are those of the sklearn run
    assert pipe.named_steps["pad"].length_ == 4000 and pipe.named_steps["leads"].n_leads_in_ == 12


def test_chunked_run_happens_and_reads_each_record_once(monkeypatch):
    """The chunked path runs (not a silent fallback): the chain's array functions see
    chunks of at most ``chunk_size`` records covering every record once."""
    pipe = SignalPipeline([("leads", LeadSelector()), ("resample", Resampler(250))], chunk_size=10)
    seen = []
    original = Resampler._chunk_function

    def spy(self, X):
        f = original(self, X)
        return lambda a: (seen.append(len(a)), f(a))[1]

    monkeypatch.setattr(Resampler, "_chunk_function", spy)
    pipe.fit_transform(R)
    assert sum(seen) == len(R) and max(seen) <= 10 and len(seen) == 5


def test_mixed_rates_and_lengths_run_per_batch_and_equal_sklearn():
    """Records differing in rate and length: chunks through the lazy per-batch path,
    still equal to the sklearn run (the output is 3-D after PadTruncate)."""
    pipe = SignalPipeline([("leads", LeadSelector()), ("resample", Resampler(200)),
                           ("pad", PadTruncate(seconds=10))], chunk_size=8, n_jobs=2)
    fs = X_ALL.meta.fs.to_numpy()
    X = X_ALL.take(np.r_[np.flatnonzero(fs == 500)[:12], np.flatnonzero(fs != 500)[:12]])
    assert len(set(X.meta.fs)) > 1 and X.is_ragged
    ref = _sklearn(pipe).fit_transform(X)
    out = pipe.fit_transform(X)  # ragged input: sklearn's Pipeline itself
    _assert_same(out, ref)
    # equal shapes but two rates: the per-batch path of the chunked run
    Y = ECGRecords(np.asarray(PadTruncate(length=3000).fit_transform(X)), X.meta, classes=X.classes)
    _assert_same(pipe.fit_transform(Y), _sklearn(pipe).fit_transform(Y))


def test_nonfinite_record_is_named_before_any_work():
    X = R[:20]
    sig = X.signals.copy()
    sig[13, 4, 100] = np.nan
    bad = X.with_signals(sig)
    with pytest.raises(ValueError, match=str(bad.meta["record_id"].iat[13])):
        make_zhu_preprocessing(400, 10).set_params(chunk_size=4).fit_transform(bad)


def test_other_inputs_and_steps_run_as_sklearn_pipeline():
    pipe = SignalPipeline([("leads", LeadSelector()), ("rr", RRFeatureExtractor(fs=500))], chunk_size=4)
    ref = _sklearn(pipe).fit_transform(R[:12])
    np.testing.assert_array_equal(pipe.fit_transform(R[:12]), ref)  # a feature step: not chunked
    arr = np.asarray(R[:12])
    a = make_zhu_preprocessing(400, 10).set_params(leads__input_leads=None, resample__fs_in=500, chunk_size=4)
    np.testing.assert_allclose(a.fit_transform(arr), _sklearn(a).fit_transform(arr), atol=1e-6)  # plain array
    lazy = ECGRecords.from_source(ArraySource(np.asarray(R), R.meta))
    z = make_zhu_preprocessing(400, 10).set_params(chunk_size=4).fit_transform(lazy)
    assert z.is_lazy  # lazy input keeps its steps pending, as with sklearn's Pipeline


def test_parameters_are_validated_and_clone_round_trips():
    pipe = make_zhu_preprocessing(400, 10, n_jobs=2)
    assert pipe.get_params()["chunk_size"] == 64 and pipe.get_params()["n_jobs"] == 2
    assert clone(pipe).get_params()["denoise__level"] == pipe.get_params()["denoise__level"]
    with pytest.raises(InvalidParameterError, match="chunk_size"):
        pipe.set_params(chunk_size=0).fit_transform(R)


def test_model_file_round_trip(tmp_path):
    from skecg.persistence import load_model, save_model

    pipe = make_zhu_preprocessing(400, 10).fit(R[:5])
    save_model(pipe, tmp_path / "prep.skecg")
    back = load_model(tmp_path / "prep.skecg")
    assert type(back) is SignalPipeline and back.get_params()["chunk_size"] == 64
    _assert_same(back.transform(R), pipe.transform(R))


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_lazy_load_in_batches_equals_one_read(n_jobs):
    lazy = ECGRecords.from_source(ArraySource(np.asarray(R), R.meta))
    Z = make_zhu_preprocessing(400, 10).fit_transform(lazy)
    _assert_same(Z.load(batch_size=8, n_jobs=n_jobs), Z.load())
    ragged = ECGRecords.from_source(ArraySource(list(X_ALL[:12].signals), X_ALL[:12].meta))
    a, b = ragged.load(batch_size=5, n_jobs=n_jobs), ragged.load()
    assert all(np.array_equal(p, q) for p, q in zip(a.signals, b.signals)) and a.meta.equals(b.meta)

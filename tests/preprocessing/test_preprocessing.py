"""Preprocessing transformers: skecg's 3-D estimator checks, properties, real data, bad input."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.pipeline import make_pipeline

from skecg import ECGRecords
from skecg.datasets import load_sample
from skecg.preprocessing import (
    HRV_FEATURES,
    LeadSelector,
    PadTruncate,
    RRFeatureExtractor,
    Resampler,
    WaveletDenoiser,
    detect_r_peaks,
    pad_truncate,
    resample_signal,
    select_leads,
    wavelet_denoise,
)


def _georgia():
    X, y = load_sample("tnmg", sources=["Georgia"])
    return X, y


X_G, Y_G = _georgia()
# skecg's 3-D estimator checks of these transformers: tests/utils/test_estimator_checks.py


def test_ragged_input_and_lists():
    X, _ = load_sample(sources=["CPSC", "PTB"])  # 500 and 1000 Hz, 10-30 s
    assert X.is_ragged
    Z = make_pipeline(Resampler(500), LeadSelector(), WaveletDenoiser(), PadTruncate(seconds=10)).fit_transform(X)
    assert Z.shape == (20, 8, 5000) and Z.signals.dtype == np.float32 and set(Z.meta.fs) == {500.0}
    assert Z.leads == ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
    lst = Resampler(fs_out=250, fs_in=500).fit_transform(X.to_list())
    assert isinstance(lst, list) and lst[0].shape[1] == round(X.signals[0].shape[1] / 2)
    # records that differ are processed in groups (same rate, leads, length): each record's
    # result is the one it gets alone, in its place, with one thread or two
    for n_jobs in (1, 2):
        steps = [Resampler(100, n_jobs=n_jobs), LeadSelector(), WaveletDenoiser(level=5, n_jobs=n_jobs)]
        R = make_pipeline(*steps).fit_transform(X)
        assert R.is_ragged and list(R.meta.record_id) == list(X.meta.record_id)
        for i in range(len(X)):
            alone = make_pipeline(*steps).fit_transform(X[[i]]).signals[0]
            np.testing.assert_allclose(R.signals[i], alone, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(20, 3000), fs_in=st.sampled_from([100, 250, 257, 360, 400, 500, 1000]),
       fs_out=st.sampled_from([100, 250, 400, 500, 1000]))
def test_resampled_length(n, fs_in, fs_out):
    y = resample_signal(np.zeros((2, 3, n), np.float32), fs_in, fs_out)
    assert y.shape[-1] == round(n * fs_out / fs_in) and y.dtype == np.float32


def test_resampling_matches_scipy_and_keeps_a_sine():
    from scipy.signal import resample_poly
    t = np.arange(5000) / 500
    x = np.sin(2 * np.pi * 5 * t).astype(np.float32)[None, None]
    y = resample_signal(x, 500, 400)
    np.testing.assert_allclose(y[0, 0], resample_poly(x[0, 0], 4, 5).astype(np.float32), atol=1e-6)
    t2 = np.arange(4000) / 400
    np.testing.assert_allclose(y[0, 0, 100:-100], np.sin(2 * np.pi * 5 * t2)[100:-100], atol=1e-3)


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.integers(1, 300), min_size=1, max_size=6), length=st.integers(1, 400),
       mode=st.sampled_from(["end", "center"]))
def test_pad_truncate_idempotent(lengths, length, mode):
    sigs = [np.arange(n, dtype=np.float32)[None].repeat(2, 0) + 1 for n in lengths]
    once = pad_truncate(sigs, length, mode)
    twice = pad_truncate(once, length, mode)
    assert once.shape == (len(lengths), 2, length)
    np.testing.assert_array_equal(once, twice)
    for s, o in zip(sigs, once):  # truncation keeps the start
        if s.shape[1] >= length:
            np.testing.assert_array_equal(o, s[:, :length])


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_derived_leads_satisfy_einthoven(data):
    n = data.draw(st.integers(1, 50))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    x = rng.normal(size=(2, 2, n)).astype(np.float32)
    d = select_leads(x, ["I", "II"], ["I", "II", "III", "aVR", "aVL", "aVF"])
    I, II, III, aVR, aVL, aVF = (d[:, j] for j in range(6))
    np.testing.assert_allclose(I + III, II, atol=1e-5)            # Einthoven
    np.testing.assert_allclose(aVR + aVL + aVF, 0, atol=1e-5)     # Goldberger leads sum to zero
    np.testing.assert_allclose(aVF, (II + III) / 2, atol=1e-5)


def test_derived_leads_match_recorded_ones():
    X, _ = load_sample(sources=["Georgia"])
    sig = np.asarray(X)
    d = select_leads(sig[:, :2], ["I", "II"], ["III", "aVR", "aVL", "aVF"])
    # recorded limb leads are computed from I and II by the recorder, up to quantisation
    np.testing.assert_allclose(d, sig[:, 2:6], atol=0.0051)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(300, 6000), level=st.integers(1, 8), mode=st.sampled_from(["soft", "hard"]),
       noise=st.sampled_from(["finest", "level"]))
def test_denoising_zero_gives_zero(n, level, mode, noise):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = WaveletDenoiser(level=level, mode=mode, noise=noise).fit_transform(np.zeros((1, 2, n), np.float32))
    assert out.shape == (1, 2, n) and not out.any() and out.dtype == np.float32


def test_denoising_removes_noise_and_keeps_ecg():
    X, _ = load_sample(sources=["Georgia"])
    clean = WaveletDenoiser().fit_transform(np.asarray(X))
    rng = np.random.default_rng(0)
    noisy = np.asarray(X) + rng.normal(scale=0.05, size=clean.shape).astype(np.float32)
    den = wavelet_denoise(noisy)
    err_noisy = np.mean((noisy - clean) ** 2)
    err_den = np.mean((den - clean) ** 2)
    assert err_den < 0.5 * err_noisy  # measured: 0.36


def test_level_capped_with_warning_and_too_short():
    with pytest.warns(UserWarning, match="level 8 needs more samples.*using level 4"):
        WaveletDenoiser().fit_transform(np.ones((1, 1, 300), np.float32))
    with pytest.raises(ValueError, match="too short for any bior2.6"):
        WaveletDenoiser().fit_transform(np.ones((1, 1, 10), np.float32))


def test_nan_and_inf_name_the_record():
    X, _ = load_sample(sources=["Georgia"])
    sig = np.asarray(X).copy()
    sig[3, 2, 10] = np.nan
    sig[7, 0, 0] = np.inf
    bad = X.with_signals(sig)
    for est in (Resampler(400), LeadSelector(), WaveletDenoiser(), PadTruncate(length=10), RRFeatureExtractor()):
        with pytest.raises(ValueError, match="2 record\\(s\\) hold NaN or inf values: E00004, E00008"):
            est.fit(bad)


def test_flat_lead_and_missing_rate():
    x = np.zeros((2, 12, 5000), np.float32)
    x[1] = np.random.default_rng(0).normal(size=(12, 5000))
    f = RRFeatureExtractor(fs=500).fit_transform(x)
    assert f[0, 0] == 0 and np.isnan(f[0, 1:len(HRV_FEATURES)]).all()  # flat: 0 beats, NaN features
    assert np.isfinite(WaveletDenoiser().fit_transform(x)).all()
    with pytest.raises(ValueError, match="sampling rate is missing.*fs_in"):
        Resampler(400).fit(x)
    X = ECGRecords(x)  # no fs in metadata
    with pytest.raises(ValueError, match=r"sampling rate of record\(s\) \['0', '1'\] is missing"):
        Resampler(400).fit(X)


def test_unknown_lead_lists_available():
    with pytest.raises(ValueError, match=r"lead 'V7' is not available; available leads are \['I', 'II'"):
        LeadSelector(["V7"]).fit_transform(np.zeros((1, 12, 10), np.float32))
    with pytest.raises(ValueError, match="can be derived from I and II"):
        LeadSelector(["III"], input_leads=["I", "V1"]).fit_transform(np.zeros((1, 2, 10), np.float32))


def test_rr_features_on_real_heart_rate_classes():
    X, y = load_sample("tnmg")
    F = RRFeatureExtractor().fit_transform(X)
    hr = F[:, list(HRV_FEATURES).index("mean_hr")]
    sb, st_ = y[:, 3] == 1, y[:, 5] == 1
    assert np.nanmedian(hr[sb]) < 60 < np.nanmedian(hr[~sb & ~st_]) < 100 < np.nanmedian(hr[st_])
    names = RRFeatureExtractor().fit(X).get_feature_names_out()
    assert len(names) == F.shape[1] == 32 and names[-2:].tolist() == ["age", "sex"]
    assert (F[:, -1][X.meta.sex.eq("M").to_numpy()] == 1).all()


def test_r_peaks_agree_with_neurokit():
    import neurokit2 as nk
    X, _ = load_sample(sources=["Georgia", "CPSC", "CPSC-Extra", "PTB-XL"])
    ok = n = 0
    for sig, fs in zip(X.signals[:120], X.meta.fs[:120]):
        lead = sig[1].astype(float)
        ours = detect_r_peaks(lead, fs)
        _, info = nk.ecg_peaks(nk.ecg_clean(lead, sampling_rate=int(fs)), sampling_rate=int(fs))
        ok += abs(len(ours) - len(info["ECG_R_Peaks"])) <= 1
        n += 1
    assert ok / n >= 0.85, ok / n


def test_n_jobs_gives_same_result():
    X, _ = load_sample(sources=["Georgia", "CPSC"])
    pipe = lambda nj: make_pipeline(Resampler(400, n_jobs=nj), WaveletDenoiser(n_jobs=nj), PadTruncate(seconds=10))
    a, b = pipe(1).fit_transform(X), pipe(2).fit_transform(X)
    np.testing.assert_array_equal(a.signals, b.signals)
    np.testing.assert_array_equal(RRFeatureExtractor(n_jobs=2).fit_transform(X),
                                  RRFeatureExtractor().fit_transform(X))


# --- the matrix-product wavelet transform and resampler (issue 18) ---------------------------
@pytest.mark.parametrize("wavelet", ["bior2.6", "db4", "haar", "sym5", "coif2"])
@pytest.mark.parametrize("n", [28, 29, 257, 4000, 4001])
def test_gemm_dwt_equals_pywt(wavelet, n):
    import pywt

    from skecg.preprocessing._functional import _gemm_dwt_ok, _wavedec_gemm, _waverec_gemm

    x = np.random.default_rng(n).normal(size=(3, 2, n))
    level = min(8, pywt.dwt_max_level(n, pywt.Wavelet(wavelet).dec_len))
    assert _gemm_dwt_ok(n, wavelet, level)
    ours, ref = _wavedec_gemm(x, wavelet, level), pywt.wavedec(x, wavelet, level=level, axis=-1)
    assert [c.shape for c in ours] == [c.shape for c in ref]
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(_waverec_gemm(ref, wavelet), pywt.waverec(ref, wavelet, axis=-1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("wavelet", ["bior2.6", "db2", "haar"])
def test_gemm_single_level_at_the_shortest_lengths(wavelet):
    import pywt

    from skecg.preprocessing._functional import _dwt_gemm, _gemm_dwt_ok, _idwt_gemm

    F = pywt.Wavelet(wavelet).dec_len
    rng = np.random.default_rng(F)
    assert not _gemm_dwt_ok(F - 2, wavelet, 1)  # shorter than the extension: pywt runs
    for n in range(max(F - 1, 1), F + 40):
        x = rng.normal(size=(2, n))
        y, (a, d) = _dwt_gemm(x, wavelet), pywt.dwt(x, wavelet, axis=-1)
        np.testing.assert_allclose(y[..., 0], a, rtol=0, atol=1e-12, err_msg=f"n={n}")
        np.testing.assert_allclose(y[..., 1], d, rtol=0, atol=1e-12, err_msg=f"n={n}")
        np.testing.assert_allclose(_idwt_gemm(a, d, wavelet), pywt.idwt(a, d, wavelet, axis=-1), rtol=0, atol=1e-12)


def _pywt_denoise(z, noise="finest", mode="soft"):
    import pywt

    c = pywt.wavedec(z, "bior2.6", level=8, axis=-1)
    scale = np.sqrt(2 * np.log(z.shape[-1]))
    fine = np.median(np.abs(c[-1]), axis=-1, keepdims=True) / 0.6745
    out = [c[0]]
    for d in c[1:]:
        sigma = fine if noise == "finest" else np.median(np.abs(d), axis=-1, keepdims=True) / 0.6745
        out.append(np.where(np.abs(d) > sigma * scale, d - np.sign(d) * sigma * scale, 0) if mode == "soft"
                   else np.where(np.abs(d) > sigma * scale, d, 0))
    return pywt.waverec(out, "bior2.6", axis=-1)[..., :z.shape[-1]]


@pytest.mark.parametrize("noise", ["finest", "level"])
@pytest.mark.parametrize("mode", ["soft", "hard"])
def test_denoising_equals_pywt_on_real_records_within_1e5_mv(noise, mode):
    # real 12-lead records of the bundled sample, float32 as the pipeline runs them,
    # against pywt in float64: the matrix-product transform stays within 1e-5 mV
    sig = np.asarray(X_G)[:8]
    ours = wavelet_denoise(sig, noise=noise, mode=mode)
    ref = _pywt_denoise(sig.astype(np.float64), noise=noise, mode=mode)
    assert ours.dtype == np.float32 and ours.shape == sig.shape
    err = np.abs(ours - ref).max()
    assert err < 1e-5, err  # measured: 1.5e-6 on 30 records


@pytest.mark.parametrize("fs_in,fs_out", [(500, 400), (500, 250), (1000, 500), (257, 500), (500, 100)])
def test_blocked_resampling_matches_scipy(fs_in, fs_out):
    from scipy.signal import resample_poly

    x = np.random.default_rng(fs_in).normal(size=(2, 3, 3001))
    up, down = fs_out // np.gcd(fs_in, fs_out), fs_in // np.gcd(fs_in, fs_out)
    ref = resample_poly(x, up, down, axis=-1)[..., :int(round(3001 * fs_out / fs_in))]
    np.testing.assert_allclose(resample_signal(x, fs_in, fs_out), ref, rtol=0, atol=1e-12)


def test_no_records_give_no_records_or_one_sentence():
    """Empty input: each transformer returns no records of the shape it would give, or says
    in one sentence why it cannot know that shape (the Zhu chain ends at its fixed shape)."""
    from skecg.pipelines import make_zhu_preprocessing

    X, _ = load_sample(sources=["PTB"])
    E = X.take([])
    assert LeadSelector().fit_transform(E).shape == (0, 8, 30000)
    assert LeadSelector(["II", "V1"]).fit_transform(np.zeros((0, 12, 7), np.float32)).shape == (0, 2, 7)
    assert WaveletDenoiser().fit(X).transform(E).shape == (0, 12, 30000)
    assert PadTruncate(seconds=5).fit(X).transform(E).shape == (0, 12, 5000)  # the fitted length
    with pytest.raises(ValueError, match="X holds no records to read one from; pass fs= or length="):
        PadTruncate(seconds=5).fit(E)
    assert PadTruncate(seconds=5, fs=500).fit_transform(E).shape == (0, 12, 2500)
    assert make_zhu_preprocessing(500, 10).fit_transform(E).shape == (0, 8, 5000)
    assert RRFeatureExtractor().fit_transform(E).shape == (0, len(HRV_FEATURES) + 2)

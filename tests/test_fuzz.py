"""Property-based fuzzing of what reads untrusted input: the WFDB header parser, whole
challenge records, the HDF5 readers (TNMG/CODE, SPH) and the transformers' input checks.

The property everywhere: any input gives either a correct result or an error of skecg's
own type (``RecordReadError``) that names the record (or the file); for the transformers,
a ``ValueError`` that names the bad record.  Nothing else may escape (IndexError,
numpy's or h5py's own errors, MemoryError from a declared size, ...).
"""

import math
import shutil
import tempfile
import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import TEST_DATA
from skecg.io import RecordReadError, parse_header, read_challenge_record, read_sph, read_tnmg_hdf5
from skecg.io._challenge import MAX_FS

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_FILES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_SPECIAL = ["500", "0", "-1", "nan", "NaN", "inf", "1e12", "1e999", "1e-320", "16", "16+24", "16x1+24", "212",
            "1000/mV", "1000.0(0)/mV", "1e999/mV", "-5/mV", "nan/mV", "0/mV", "1000(x)/mV", "(0)/mV", "", "x",
            "99999999999999999999", "-0", "500/1", "I", "aVR", "E00001.mat", "E00001.dat"]
token = st.one_of(
    st.sampled_from(_SPECIAL),
    st.integers(-10**13, 10**13).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc")), max_size=6),
)


@st.composite
def headers(draw):
    rec = " ".join(["R1"] + draw(st.lists(token, max_size=5)))
    sigs = [" ".join(["R1.mat"] + draw(st.lists(token, max_size=10))) for _ in range(draw(st.integers(0, 4)))]
    comments = ["#" + draw(st.text(max_size=30)).replace("\n", " ") for _ in range(draw(st.integers(0, 3)))]
    return "\n".join([rec] + sigs + comments)


def _check_header(h):
    assert math.isfinite(h.fs) and 0 < h.fs <= MAX_FS
    assert h.n_sig == len(h.leads) == len(h.gains) == len(h.baselines) == len(h.files) > 0
    assert all(math.isfinite(g) and g > 0 for g in h.gains)
    assert h.n_samples != 0


@FUZZ
@given(headers())
def test_header_parser_structured(text):
    try:
        h = parse_header(text, "R1")
    except RecordReadError as e:
        assert e.record == "R1" and e.reason
        return
    _check_header(h)


@FUZZ
@given(st.text(max_size=300))
def test_header_parser_any_text(text):
    try:
        h = parse_header(text, "R1")
    except RecordReadError as e:
        assert e.record == "R1"
        return
    _check_header(h)


@st.composite
def mutated_header(draw):
    """The real header of E00001 with a few tokens replaced, dropped or duplicated."""
    lines = [ln.split(" ") for ln in (TEST_DATA / "cinc2021" / "E00001.hea").read_text().splitlines()]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        if not lines[i]:
            continue
        j = draw(st.integers(0, len(lines[i]) - 1))
        action = draw(st.sampled_from(["replace", "replace", "drop", "dropline", "dupline"]))
        if action == "replace":
            lines[i][j] = draw(token)
        elif action == "drop":
            del lines[i][j]
        elif action == "dropline":
            del lines[i]
        else:
            lines.insert(i, list(lines[i]))
    return "\n".join(" ".join(ln) for ln in lines) + "\n"


@FUZZ_FILES
@given(mutated_header())
def test_challenge_record_with_mutated_header(text):
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(TEST_DATA / "cinc2021" / "E00001.mat", Path(d) / "E00001.mat")
        (Path(d) / "E00001.hea").write_text(text)
        try:
            sig, meta = read_challenge_record(Path(d) / "E00001.hea", require_dx=False)
        except RecordReadError as e:
            assert e.record == "E00001" and e.reason
            return
        assert sig.ndim == 2 and sig.shape[0] == len(meta["leads"]) and sig.shape[1] > 0
        assert np.isfinite(sig).all() and 0 < meta["fs"] <= MAX_FS


_DTYPES = [np.float32, np.float64, np.int16, np.uint8, np.bool_, "S3"]


@st.composite
def tnmg_files(draw):
    n = draw(st.integers(0, 3))
    shape = (n, draw(st.integers(0, 40)), draw(st.sampled_from([12, 12, 12, 11, 13])))
    if draw(st.booleans()):
        shape = draw(st.sampled_from([(n, 12), (n, 12, 40, 1), (n,)]))
    dtype = draw(st.sampled_from(_DTYPES))
    spec = {"shape": shape, "dtype": dtype, "nan": draw(st.booleans()), "declared_only": draw(st.booleans()),
            "exam_id": draw(st.sampled_from([None, "ok", "short", "long", "float", "2d", "zeros"])),
            "junk": draw(st.sampled_from([False] * 5 + [True])), "name": draw(st.sampled_from(["tracings", "other"]))}
    return spec


def _write_tnmg(path, s):
    if s["junk"]:
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 40)
        return
    with h5py.File(path, "w") as f:
        if s["declared_only"]:
            f.create_dataset(s["name"], shape=(10**5,) + tuple(s["shape"][1:]) if len(s["shape"]) > 1 else (10**9,),
                             dtype=np.float32)
        else:
            x = np.ones(s["shape"], dtype=np.float64)
            if s["nan"] and x.size:
                x.flat[x.size // 2] = np.nan
            f[s["name"]] = x.astype(s["dtype"])
        n = s["shape"][0]
        e = s["exam_id"]
        if e is not None:
            f["exam_id"] = {"ok": np.arange(1, n + 1), "short": np.arange(max(n - 1, 0)), "long": np.arange(n + 2),
                            "float": np.arange(n, dtype=float), "2d": np.ones((n, 2), int),
                            "zeros": np.zeros(n, int)}[e]


@FUZZ_FILES
@given(tnmg_files())
def test_tnmg_hdf5_any_file(spec):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.hdf5"
        _write_tnmg(path, spec)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                X, y = read_tnmg_hdf5(path, on_error="skip")
            except RecordReadError as e:
                assert e.record.startswith("f.hdf5") and e.reason
                return
    assert y.shape[0] == len(X)
    for s in X.signals:
        assert s.shape[0] == 12 and s.shape[1] > 0 and np.isfinite(s).all()


@st.composite
def sph_files(draw):
    return {"shape": draw(st.sampled_from([(12, 500), (12, 1), (500, 12), (12,), (12, 0), (11, 500), (12, 500, 1)])),
            "dtype": draw(st.sampled_from(_DTYPES)), "nan": draw(st.booleans()),
            "key": draw(st.sampled_from(["ecg", "ecg", "data"])), "junk": draw(st.booleans()),
            "declared_only": draw(st.booleans()),
            "aha": draw(st.sampled_from(["1", "", "50+346;21", ";;", "x,y"])),
            "age": draw(st.sampled_from(["60", "", "abc", "-5", "1e9"])),
            "sex": draw(st.sampled_from(["M", "F", "", "X"]))}


@FUZZ_FILES
@given(sph_files())
def test_sph_any_file(spec):
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "records").mkdir()
        pd.DataFrame([{"ECG_ID": "A00001", "AHA_Code": spec["aha"], "Patient_ID": "7", "Age": spec["age"],
                       "Sex": spec["sex"]}]).to_csv(root / "metadata.csv", index=False)
        f5 = root / "records" / "A00001.h5"
        if spec["junk"]:
            f5.write_bytes(b"not hdf5")
        else:
            with h5py.File(f5, "w") as f:
                if spec["declared_only"]:
                    f.create_dataset(spec["key"], shape=(12, 10**9), dtype=np.float32)
                else:
                    x = np.ones(spec["shape"])
                    if spec["nan"] and x.size:
                        x.flat[0] = np.nan
                    f[spec["key"]] = x.astype(spec["dtype"])
        try:
            X, y = read_sph(root)
        except RecordReadError as e:
            assert e.record == "A00001" and e.reason
            return
    assert X.signals[0].shape[0] == 12 and X.signals[0].shape[1] > 0 and np.isfinite(X.signals[0]).all()
    assert X.meta.labelled[0] == bool(X.meta.dx[0])
    assert np.isnan(X.meta.age[0]) or 0 <= X.meta.age[0] < 130


# --- transformers' input checks -----------------------------------------------------------
def _transformers():
    from skecg.preprocessing import LeadSelector, PadTruncate, Resampler, WaveletDenoiser

    return [PadTruncate(length=64), LeadSelector("independent8"), Resampler(250, fs_in=500),
            WaveletDenoiser("bior2.6", level=2)]


@st.composite
def signal_inputs(draw):
    n = draw(st.integers(1, 3))
    leads = draw(st.sampled_from([12, 12, 8, 1]))
    if draw(st.booleans()):  # ragged list of records
        X = [np.ones((leads, draw(st.integers(1, 80))), np.float32) for _ in range(n)]
    else:
        X = np.ones((n, leads, draw(st.integers(1, 80))), draw(st.sampled_from([np.float32, np.float64, np.int16])))
    bad = None
    if draw(st.booleans()):
        bad = draw(st.integers(0, n - 1))
        if isinstance(X, np.ndarray):
            X = X.astype(np.float32)
        rec = X[bad].astype(np.float32)
        rec.flat[draw(st.integers(0, rec.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        X[bad] = rec
    return X, bad


@FUZZ
@given(signal_inputs(), st.integers(0, 3))
def test_transformers_check_input(inp, which):
    X, bad = inp
    t = _transformers()[which]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = t.fit_transform(X)
    except ValueError as e:
        if bad is not None:  # a non-finite record is named by its index
            assert "NaN or inf" in str(e) and str(bad) in str(e), str(e)
        return
    assert bad is None, f"{type(t).__name__} accepted a non-finite record {bad}"
    sigs = list(out) if not isinstance(out, np.ndarray) else out
    assert len(sigs) == len(X)
    assert all(np.isfinite(np.asarray(s)).all() for s in sigs)


def test_resampler_on_zero_records():
    from skecg import ECGRecords
    from skecg.preprocessing import Resampler

    out = Resampler(250).fit_transform(ECGRecords(np.zeros((0, 12, 100), np.float32), fs=500))
    assert len(out) == 0 and out.shape[1] == 12
    assert Resampler(250, fs_in=500).fit_transform(np.zeros((0, 12, 100), np.float32)).shape == (0, 12, 50)

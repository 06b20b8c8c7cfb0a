"""Property-based fuzzing of what reads untrusted input: the WFDB header parser, whole
challenge records, the HDF5 readers (TNMG/CODE, SPH) and the transformers' input checks; then
the kinds of hostile input, each on real records (see the section at the end): every record of a
batch unreadable, CLI paths missing/files/empty, parameters of the wrong type, rule components
without a sampling rate.

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
from skecg._wfdb import MAX_FS

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


# =====================================================================================================
# Kinds of hostile input, each on real records.  Every case ends in a result, a reported skip, or one
# sentence naming the record/file/parameter and the problem; never a traceback from inside a library.
#
#   1. every record of a batch unreadable: every reader, every CLI command that reads data
#   2. CLI paths that do not exist, are files where folders are wanted (or the reverse), are empty
#   3. parameters of the wrong type or value where a public function or constructor takes a rate,
#      a length, a lead or a record name
#   4. rule components without a sampling rate (the bradycardia rule counts R-R seconds)
#   (5. malformed headers, HDF5 files, SPH tables and transformer inputs: the hypothesis tests above)
# =====================================================================================================
from conftest import LUDB, needs_shared  # noqa: E402
from skecg.io import SkippedRecordsWarning  # noqa: E402

CINC_FIX = TEST_DATA / "cinc2021"
PTBXL_FIX = TEST_DATA / "ptbxl"
MODEL = TEST_DATA / "models" / "v1_resnet_pipeline.skecg"  # a real fitted pipeline (tnmg classes)


def _truncate(path, keep=100):
    path.write_bytes(path.read_bytes()[:keep])


def _bad_challenge(dst, how="truncated"):
    """The 8 real challenge fixtures, every one made unreadable in the same way."""
    dst.mkdir(parents=True, exist_ok=True)
    for hea in sorted(CINC_FIX.glob("*.hea")):
        for ext in (".hea", ".mat"):
            shutil.copy(CINC_FIX / f"{hea.stem}{ext}", dst / f"{hea.stem}{ext}")
        if how == "truncated":
            _truncate(dst / f"{hea.stem}.mat")
        elif how == "checksum":  # one sample changed: the header's checksum no longer holds
            import scipy.io

            val = scipy.io.loadmat(str(dst / f"{hea.stem}.mat"))["val"]
            val[0, 10] += 1
            scipy.io.savemat(str(dst / f"{hea.stem}.mat"), {"val": val})
        elif how == "header":
            (dst / f"{hea.stem}.hea").write_text(f"{hea.stem} 12 abc 5000\n")
    return dst


def _bad_ptbxl(dst):
    shutil.copytree(PTBXL_FIX, dst)
    for dat in dst.rglob("*.dat"):
        _truncate(dat, 1000)
    return dst


def _bad_cpsc(dst):
    dst.mkdir()
    for name in ("A1980", "A1981"):
        shutil.copy(TEST_DATA / "cpsc2018" / "A1980.mat", dst / f"{name}.mat")
        _truncate(dst / f"{name}.mat", 300)
    return dst


def _bad_sph(dst):
    from skecg.io import read_challenge_record

    (dst / "records").mkdir(parents=True)
    rows = []
    for i, hea in enumerate(sorted(CINC_FIX.glob("*.hea"))[:3]):
        sig, _ = read_challenge_record(hea)
        with h5py.File(dst / "records" / f"S{i}.h5", "w") as f:
            f["ecg"] = sig.T  # leads last: not the published layout
        rows.append({"ECG_ID": f"S{i}", "AHA_Code": "1"})
    pd.DataFrame(rows).to_csv(dst / "metadata.csv", index=False)
    return dst


def _bad_tnmg(dst):
    from skecg.io import read_challenge_folder

    X, _ = read_challenge_folder(CINC_FIX)
    tr = np.stack([s[:, :4096].T for s in X.signals]).astype(np.float32)
    tr[:, 100, 3] = np.nan  # every tracing holds a NaN
    dst.mkdir()
    with h5py.File(dst / "t.hdf5", "w") as f:
        f["tracings"] = tr
    return dst / "t.hdf5"


def _bad_ludb(dst):
    dst.mkdir()
    for n in (1, 2):
        for f in LUDB.glob(f"{n}.*"):
            shutil.copy(f, dst / f.name)
        _truncate(dst / f"{n}.dat", 500)
    return dst


def _read(kind, path, on_error):
    from skecg import io

    if kind == "challenge":
        return io.read_challenge_folder(path, on_error=on_error)
    if kind == "ptbxl":
        return io.read_ptbxl(path, on_error=on_error)
    if kind == "cpsc2018":
        return io.read_cpsc2018(path, on_error=on_error)
    if kind == "sph":
        return io.read_sph(path, on_error=on_error)
    if kind == "tnmg":
        return io.read_tnmg_hdf5(path, on_error=on_error)
    return io.read_ludb(path, on_error=on_error)[:2]


_ALL_BAD = {"challenge": (_bad_challenge, 8), "ptbxl": (_bad_ptbxl, 3), "cpsc2018": (_bad_cpsc, 2),
            "sph": (_bad_sph, 3), "tnmg": (_bad_tnmg, 8),
            "ludb": (_bad_ludb, 2)}


@pytest.mark.parametrize("kind", [pytest.param(k, marks=needs_shared(LUDB)) if k == "ludb" else k for k in _ALL_BAD])
def test_kind_every_record_bad_in_every_reader(tmp_path, kind):
    """Kind 1, readers: with on_error='skip' nothing is read, every record is named with its reason
    (records.skipped and one warning); with on_error='raise' the first record is named."""
    make, n = _ALL_BAD[kind]
    path = make(tmp_path / "bad")
    with pytest.warns(SkippedRecordsWarning, match=f"skipped {n} record") as rec:
        X, y = _read(kind, path, "skip")
    assert len(X) == 0 and y.shape[0] == 0 and len(X.skipped) == n
    assert all(r and why for r, why in X.skipped)
    said = " ".join(str(w.message) for w in rec if issubclass(w.category, SkippedRecordsWarning))
    assert all(r in said for r, _ in X.skipped)
    with pytest.raises(RecordReadError) as e:
        _read(kind, path, "raise")
    assert e.value.record == X.skipped[0][0] and e.value.reason


@pytest.mark.parametrize("how", ["truncated", "checksum", "header"])
def test_kind_every_record_bad_in_lazy_folders_and_stores(tmp_path, how):
    """Kind 1, lazy containers: a WFDB folder whose headers are all bad is refused in one sentence;
    one whose signals are all bad names the record when a batch is read; so does a corrupt store."""
    from skecg.io import convert, open_store, open_wfdb_folder
    from skecg.sources import SourceError

    d = _bad_challenge(tmp_path / "bad", how)
    if how == "header":
        with pytest.raises(RecordReadError, match="A0002: malformed record line 'A0002 12 abc 5000'"):
            open_wfdb_folder(d)
        with pytest.warns(SkippedRecordsWarning), pytest.raises(ValueError, match="no readable record header under .*"
                                                                   r"skipped 8: A0002: malformed record line"):
            open_wfdb_folder(d, on_error="skip")
        return
    X, _ = open_wfdb_folder(d)
    with pytest.raises(SourceError, match=r"record A0002: .*" + ("truncated" if how == "truncated" else "checksum")):
        X.load()
    out = convert(CINC_FIX, tmp_path / "store", progress=False)
    shard = next(out.glob("signals-*.h5"))
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2: len(raw) // 2 + 64] = bytes(64)  # zeros over stored samples
    shard.write_bytes(bytes(raw))
    S, _ = open_store(out, verify="checksum")
    with pytest.raises(SourceError, match=r"record \w+: .*checksum"):
        S.load()


def _exit_sentence(argv, capsys=None):
    """Run the CLI; it must end in SystemExit with one sentence (str, one line), not a traceback."""
    from skecg.apps.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SystemExit) as e:
            main([str(a) for a in argv])
    msg = e.value.code
    assert isinstance(msg, str) and msg.startswith("skecg: ") and "\n" not in msg and "Traceback" not in msg, msg
    return msg


def test_kind_every_record_bad_in_every_cli_command(tmp_path):
    """Kind 1, CLI: predict, convert, train, evaluate and reproduce on a folder of real records that are all
    unreadable end in one sentence and a non-zero exit (predict used to end in
    ``ValueError: need at least one array to concatenate``)."""
    bad = _bad_challenge(tmp_path / "bad", "truncated")
    out = tmp_path / "out"
    msg = _exit_sentence(["predict", MODEL, bad, "-o", out])
    assert "none of the 8 record(s)" in msg and "nothing written" in msg
    report = pd.read_csv(out / "skipped_records.tsv", sep="\t")
    assert sorted(report.record_id) == sorted(p.stem for p in CINC_FIX.glob("*.hea"))
    assert not list(out.glob("*.csv"))  # no challenge output file claims a prediction
    bad_h = _bad_challenge(tmp_path / "bad_headers", "header")
    assert "none of the 8 record(s)" in _exit_sentence(["predict", MODEL, bad_h, "-o", tmp_path / "out2"])
    msg = _exit_sentence(["convert", bad, tmp_path / "store"])
    assert "none of the 8 record(s)" in msg and "holds no records" in msg
    assert len(pd.read_csv(tmp_path / "store" / "skipped.csv")) == 8  # the reasons are kept
    assert "could be read" in _exit_sentence(["train", bad, "--pipeline", "catboost", "-o", tmp_path / "m.skecg"])
    assert "could be read" in _exit_sentence(["evaluate", bad, "--epochs", "1"])  # was "needs two sources; found []"
    for paper in ("zhu", "huang"):  # both used to end in a traceback (IndexError, sklearn's "0 sample(s)")
        assert "could be read" in _exit_sentence(["reproduce", paper, bad, "-o", tmp_path / f"rep_{paper}"])
    # a store whose only shard is truncated: predict and convert name every record (and exit non-zero)
    from skecg.io import convert

    store = convert(CINC_FIX, tmp_path / "st", progress=False)
    shard = next(store.glob("signals-*.h5"))
    _truncate(shard, shard.stat().st_size // 3)
    msg = _exit_sentence(["predict", MODEL, store, "-o", tmp_path / "out3"])
    assert "none of the 8 record(s)" in msg
    assert len(pd.read_csv(tmp_path / "out3" / "skipped_records.tsv", sep="\t")) == 8
    assert "none of the 8 record(s)" in _exit_sentence(["convert", store, tmp_path / "st_copy"])
    assert len(pd.read_csv(tmp_path / "st_copy" / "skipped.csv")) == 8


def _cli_cases(tmp_path):
    """(label, argv, the path the sentence must name) for every subcommand and every path argument,
    each missing, a file where a folder is wanted (or a folder where a file is), or an empty folder."""
    missing, afile, empty = tmp_path / "missing", tmp_path / "a.txt", tmp_path / "empty"
    afile.write_text("not ECG data\n")
    empty.mkdir()
    notstore = tmp_path / "notstore"
    notstore.mkdir()
    (notstore / "keep.txt").write_text("precious\n")
    out = tmp_path / "o"
    cases = []
    for label, p in (("missing", missing), ("file", afile), ("empty", empty)):
        cases += [(f"evaluate {label}", ["evaluate", p, "--epochs", "1"], p),
                  (f"train {label}", ["train", p, "--pipeline", "catboost", "-o", tmp_path / "m.skecg"], p),
                  (f"predict data {label}", ["predict", MODEL, p, "-o", out], p),
                  (f"convert src {label}", ["convert", p, tmp_path / f"st_{label}"], p),
                  (f"reproduce {label}", ["reproduce", "zhu", p, "-o", tmp_path / "rep"], p)]
    cases += [("predict model missing", ["predict", missing, CINC_FIX, "-o", out], missing),
              ("predict model is a folder", ["predict", empty, CINC_FIX, "-o", out], empty),
              ("predict model is text", ["predict", afile, CINC_FIX, "-o", out], afile),
              ("predict output is a file", ["predict", MODEL, CINC_FIX, "-o", afile], afile),
              ("predict output inside a file", ["predict", MODEL, CINC_FIX, "-o", afile / "out"], afile),
              ("convert dest inside a file", ["convert", CINC_FIX, afile / "store"], afile),
              ("convert dest is a file", ["convert", CINC_FIX, afile], afile),
              ("convert dest is a file, --overwrite", ["convert", CINC_FIX, afile, "--overwrite"], afile),
              ("convert dest is another folder, --overwrite", ["convert", CINC_FIX, notstore, "--overwrite"], notstore),
              ("inspect model missing", ["inspect", missing], missing),
              ("inspect model is text", ["inspect", afile], afile)]
    return cases, afile, notstore


def test_kind_cli_paths_missing_file_or_empty(tmp_path):
    """Kind 2: every subcommand, every path argument: one sentence naming the path, non-zero exit,
    nothing deleted (``convert --overwrite`` replaces a store, never another folder or a file)."""
    from skecg.apps.cli import build_parser

    commands = set(build_parser()._subparsers._group_actions[0].choices)
    cases, afile, notstore = _cli_cases(tmp_path)
    ran = set()
    for label, argv, named in cases:
        if argv[0] not in commands:  # a subcommand of another branch
            continue
        msg = _exit_sentence(argv)
        ran.add(argv[0])
        assert str(named) in msg, (label, msg)
    assert {"evaluate", "train", "predict", "convert", "reproduce"} <= ran
    assert afile.read_text() == "not ECG data\n" and (notstore / "keep.txt").read_text() == "precious\n"


def test_kind_parameters_of_the_wrong_type_in_readers_and_functions(tmp_path):
    """Kind 3, functions and readers (the estimators' parameters are checked by scikit-learn's
    validation in tests/utils/test_validation.py; ECGRecords' in tests/records/test_records.py)."""
    from skecg import iter_batches
    from skecg.datasets import load_sample
    from skecg.io import (assemble, convert, read_challenge_folder, read_cpsc2018, read_ptbxl, read_sph,
                          read_tnmg_hdf5)

    for call in (lambda fs: read_challenge_folder(CINC_FIX, fs=fs), lambda fs: read_ptbxl(PTBXL_FIX, fs=fs),
                 lambda fs: read_cpsc2018(TEST_DATA / "cpsc2018", fs=fs), lambda fs: read_sph(tmp_path, fs=fs),
                 lambda fs: read_tnmg_hdf5(tmp_path / "x.hdf5", fs=fs), lambda fs: load_sample(fs=fs),
                 lambda fs: assemble([], [], [], "tnmg", fs=fs),
                 lambda fs: convert(CINC_FIX, tmp_path / "st", fs=fs, progress=False)):
        for fs in ("abc", [500], -500, float("nan"), True):
            with pytest.raises(ValueError, match=r"fs must be a sampling rate in Hz"):
                call(fs)
    assert not (tmp_path / "st").exists() and not (tmp_path / "st.partial").exists()  # refused before writing
    with pytest.raises(ValueError, match="sampling_rate must be 100 or 500, got 'abc'"):
        read_ptbxl(PTBXL_FIX, sampling_rate="abc")
    with pytest.raises(ValueError, match=r"shard_records must be a positive number of records per shard, got 0"):
        convert(CINC_FIX, tmp_path / "st", shard_records=0, progress=False)
    with pytest.raises(ValueError, match=r"jobs must be a number of processes .* got 'two'"):
        convert(CINC_FIX, tmp_path / "st", jobs="two", progress=False)
    X, _ = read_challenge_folder(CINC_FIX, records=["E00001"])
    for size in (0, -1, "abc", 2.5):
        with pytest.raises(ValueError, match=r"batch_size must be a positive number of records"):
            list(iter_batches(X, size))


def test_kind_parameters_of_the_wrong_type_in_estimators_on_real_records():
    """Kind 3, estimators that take a rate, a length or a lead: fit on real records names the
    parameter (scikit-learn's validation) or the lead that is not there."""
    from sklearn.utils._param_validation import InvalidParameterError

    from skecg.ensemble import BradycardiaRuleGate
    from skecg.io import read_challenge_folder
    from skecg.preprocessing import LeadSelector, PadTruncate, Resampler, RRFeatureExtractor

    X, _ = read_challenge_folder(CINC_FIX, records=["A0002", "E00001"])
    y = np.zeros((2, 2), int)
    cases = [(Resampler, {"fs_out": "abc"}), (Resampler, {"fs_in": -1}), (PadTruncate, {"length": "abc"}),
             (PadTruncate, {"seconds": 0}), (PadTruncate, {"seconds": 2, "fs": [500]}), (LeadSelector, {"leads": "II"}),
             (RRFeatureExtractor, {"fs": "abc"}), (RRFeatureExtractor, {"lead": 1.5}),
             (lambda **kw: BradycardiaRuleGate(_SaysBradycardia(), **kw), {"fs": "abc"}),
             (lambda **kw: BradycardiaRuleGate(_SaysBradycardia(), **kw), {"lead": -1})]
    for make, kw in cases:
        param = list(kw)[-1]
        with pytest.raises(InvalidParameterError, match=rf"The '{param}' parameter of \w+ must be"):
            make(**kw).fit(X, y)
    for est in (LeadSelector(["I", "V9"]), RRFeatureExtractor(lead="V9")):
        with pytest.raises(ValueError, match=r"lead 'V9' is not available; available leads are \['I', 'II'"):
            est.fit_transform(X)
    # a lead index past the records' leads (used to be a bare IndexError), on records and on an array
    for data in (X, np.asarray(X.signals)):
        with pytest.raises(ValueError, match=r"lead index 20, but the records have 12 leads"):
            RRFeatureExtractor(lead=20, fs=500).fit_transform(data)
    from skecg.pipelines import make_zhu_preprocessing

    for kw, param in (({"fs": "abc"}, "fs"), ({"seconds": -1}, "seconds"), ({"fs": float("nan")}, "fs")):
        with pytest.raises(ValueError, match=rf"make_zhu_preprocessing: {param} must be a positive number"):
            make_zhu_preprocessing(**kw)


@needs_shared(LUDB)
def test_kind_parameters_of_the_wrong_type_in_ludb():
    from skecg.io import read_ludb

    with pytest.raises(ValueError, match=r"fs must be a sampling rate in Hz"):
        read_ludb(LUDB, records=[1], fs="abc")
    with pytest.raises(ValueError, match=r"unknown annotation lead\(s\) \['v9'\]"):
        read_ludb(LUDB, records=[1], annotation_leads=["V9"])
    with pytest.raises(ValueError, match=r"records must be LUDB record numbers .* got 1.5"):
        read_ludb(LUDB, records=[1.5])


class _SaysBradycardia:
    """A fitted stand-in model on real records: bradycardia for every record, or for none."""

    def __init__(self, positive=True):
        self.positive = positive

    def get_params(self, deep=True):
        return {"positive": self.positive}

    def set_params(self, **p):
        self.positive = p.get("positive", self.positive)
        return self

    def fit(self, X, y):
        self.classes_ = np.array(["426627000", "426783006"], dtype=object)
        return self

    def predict_proba(self, X):
        return np.tile([0.9 if self.positive else 0.1, 0.5], (len(X), 1))

    def predict(self, X):
        return (self.predict_proba(X) > 0.5).astype(int)


@pytest.mark.parametrize("mode,positive", [("veto", True), ("veto", False), ("rescue", True), ("rescue", False)])
def test_kind_rule_components_without_a_sampling_rate(mode, positive):
    """Kind 4: the bradycardia rule measures R-R intervals in seconds; on a plain array without
    ``fs`` (or records whose rate is unknown) the gate refuses to fit or predict, whatever the model
    says (in veto mode with no positive the rule used to be skipped and the array predicted silently);
    with ``fs=`` it gives the labels it gives on the records themselves."""
    from skecg import ECGRecords
    from skecg.ensemble import BradycardiaRuleGate
    from skecg.io import read_challenge_folder
    from skecg.preprocessing import RRFeatureExtractor

    X, _ = read_challenge_folder(CINC_FIX, records=["A0002", "E00001", "HR00002", "JS00001"])
    y = np.zeros((len(X), 2), int)
    arr = np.asarray(X.signals)
    gate = BradycardiaRuleGate(_SaysBradycardia(positive), mode=mode)
    with pytest.raises(ValueError, match=r"BradycardiaRuleGate needs the sampling rate.*plain ndarray.*"
                                         r"pass ECGRecords \(meta\['fs'\]\) or set BradycardiaRuleGate\(fs=\.\.\.\)"):
        gate.fit(arr, y)
    fitted = gate.fit(X, y)
    for bad in (arr, list(arr)):
        with pytest.raises(ValueError, match="BradycardiaRuleGate needs the sampling rate"):
            fitted.predict(bad)
    unknown = ECGRecords(arr, X.meta.assign(fs=[500.0, np.nan, 500.0, 500.0]))
    with pytest.raises(ValueError, match=r"record E00001 has none \(meta\['fs'\] is NaN\)"):
        fitted.predict(unknown)
    with pytest.raises(ValueError, match="sampling rate"):
        fitted.rule(arr)
    with pytest.raises(ValueError, match=r"the sampling rate is missing: pass RRFeatureExtractor\(fs=\.\.\.\)"):
        RRFeatureExtractor().fit_transform(arr)
    on_records = fitted.predict(X)
    on_array = BradycardiaRuleGate(_SaysBradycardia(positive), mode=mode, fs=500).fit(arr, y).predict(arr)
    np.testing.assert_array_equal(on_array, on_records)

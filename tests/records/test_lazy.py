"""Lazy ECGRecords, stores, CODE-15% in place, convert: equality with the in-memory path,
no reads on indexing, handles that pickle small, clear errors for broken stores."""

import pickle
import warnings

import h5py
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, cross_val_score

from skecg import ECGRecords, concat_records
from skecg.datasets import load_sample
from skecg.io import SkippedRecordsWarning, convert, open_store, read_code15, write_store
from skecg.preprocessing import LeadSelector, PadTruncate, Resampler, RRFeatureExtractor, WaveletDenoiser
from skecg.sources import ArraySource, SourceError, StoreSource, decode_index, encode_index

from conftest import CINC, needs_shared

META = ["record_id", "source", "fs", "age", "sex", "patient_id", "leads", "dx"]


@pytest.fixture(scope="module")
def sample():
    return load_sample("cinc2020", sources=["Georgia", "PTB", "CPSC"])  # ragged: 500/1000 Hz, 10-30 s


@pytest.fixture(scope="module")
def store(sample, tmp_path_factory):
    X, y = sample
    path = tmp_path_factory.mktemp("st") / "store"
    write_store(X, path, y, shard_mb=1)  # several shards
    return path


def _same_meta(a, b):
    for col in META:
        va, vb = a.meta[col].tolist(), b.meta[col].tolist()
        assert len(va) == len(vb)
        for x, z in zip(va, vb):
            assert (x == z) or (pd.isna(x) and pd.isna(z)), (col, x, z)


def test_store_round_trip_equals_memory(sample, store):
    X, y = sample
    Xs, ys = open_store(store)
    assert Xs.is_lazy and len(Xs) == len(X) and Xs.shape == X.shape
    assert (ys == y).all() and Xs.classes == X.classes
    _same_meta(Xs, X)
    got = Xs.read_signals(np.arange(len(X)))
    for a, b in zip(got, X.signals):
        assert a.dtype == np.float32 and np.array_equal(a, b)
    assert len(StoreSource(store).manifest["shards"]) > 1


@needs_shared(CINC)
def test_convert_challenge_folder_equals_reader(tmp_path):
    from skecg.io import read_challenge_folder

    names = sorted(p.stem for p in CINC.glob("*.hea"))[::6]
    X, y = read_challenge_folder(CINC, records=names, fs=500)
    sub = tmp_path / "src"
    sub.mkdir()
    for n in names:
        for f in CINC.glob(f"{n}.*"):
            (sub / f.name).symlink_to(f)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedRecordsWarning)
        out = convert(sub, tmp_path / "st", fs=500, shard_records=7, progress=False)
    Xs, ys = open_store(out)
    order = pd.Index(Xs.meta["record_id"]).get_indexer(X.meta["record_id"])
    assert (order >= 0).all()
    assert (ys[order] == y).all()
    for i, j in enumerate(order):
        assert np.array_equal(Xs[int(j)], X.signals[i])
    _same_meta(Xs[order], X)


def test_indexing_reads_nothing(sample):
    X, _ = sample
    src = ArraySource(X.signals, X.meta)
    L = ECGRecords.from_source(src)
    parts = [L[3], L[2:9], L[np.arange(len(L)) % 2 == 0], L[[5, 1, 1]], L[np.array([4, 0]), ...]]
    assert src.n_reads == 1  # only L[3], an int, returns a signal
    sub = parts[1][[0, 2]][np.array([True, False])]
    assert src.n_reads == 1 and len(sub) == 1 and sub.meta["record_id"].iat[0] == X.meta["record_id"].iat[2]
    train, test = next(iter(GroupKFold(2).split(L, groups=L.meta["patient_id"])))
    from sklearn.utils import _safe_indexing

    fold = _safe_indexing(L, train)
    assert fold.is_lazy and len(fold) == len(train) and src.n_reads == 1
    assert np.array_equal(fold[0], X.signals[train[0]])


def test_store_reads_are_counted_per_batch(store, monkeypatch):
    Xs, _ = open_store(store)
    calls = []
    orig = StoreSource._read_runs
    monkeypatch.setattr(StoreSource, "_read_runs", lambda self, rows, out: (calls.append(len(rows)),
                                                                            orig(self, rows, out)))
    sub = Xs[10:30][::2]
    clone(Resampler(100)).fit(sub)
    assert calls == []
    sub.read_signals([3, 1, 3, 1])
    assert calls == [2]  # two distinct records, read once each


def test_unsorted_and_duplicate_indices(sample, store):
    X, _ = sample
    Xs, _ = open_store(store)
    idx = np.array([17, 3, 3, 40, 0, 17])
    got = Xs.read_signals(idx)
    for g, i in zip(got, idx):
        assert np.array_equal(g, X.signals[i])
    assert np.array_equal(np.asarray(Xs[idx][[2]].read_signals([0])[0]), X.signals[3])


def test_pickle_and_clone_are_handles(sample, store):
    Xs, _ = open_store(store)
    sub = Xs[np.arange(len(Xs))[::-3]]
    for obj in (sub, Xs):
        b = pickle.dumps(obj)
        assert len(b) < 20_000
        back = pickle.loads(b)
        assert back.is_lazy and back.meta.equals(obj.meta)
        assert np.array_equal(back.read_signals([1])[0], obj.read_signals([1])[0])
    import copy

    assert copy.deepcopy(sub).meta.equals(sub.meta)
    edited = sub[:5]
    edited.meta["age"] = 1.0  # a user's edit travels with the pickle
    assert (pickle.loads(pickle.dumps(edited)).meta["age"] == 1.0).all()


def test_index_codes():
    for idx in (np.arange(5, 105), np.array([3]), np.array([], int), np.sort(np.random.default_rng(0).choice(
            10**6, 50_000, replace=False)), np.array([9, 2, 2, 7])):
        code = encode_index(idx, 10**6)
        assert np.array_equal(decode_index(code), idx)
    dense = np.flatnonzero(np.random.default_rng(1).random(2_000_000) < 0.5)
    assert len(pickle.dumps(encode_index(dense, 2_000_000))) < 300_000  # a bit mask, not 8 MB of ints


def test_pending_steps_equal_eager(sample, store):
    X, _ = sample
    Xs, _ = open_store(store)
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(LeadSelector(), Resampler(250), WaveletDenoiser(level=6), PadTruncate(seconds=10))
    Z = pipe.fit_transform(Xs)
    E = clone(pipe).fit_transform(X)
    assert Z.is_lazy and Z.shape == E.shape == (len(X), 8, 2500)
    assert Z.meta["fs"].eq(250).all() and Z.meta["leads"].iat[0] == E.meta["leads"].iat[0]
    idx = np.array([5, 0, 22])
    np.testing.assert_allclose(Z.read_signals(idx), E.signals[idx], atol=1e-6)
    F1 = RRFeatureExtractor().fit_transform(Z)
    F2 = RRFeatureExtractor().fit_transform(E)
    np.testing.assert_allclose(F1, F2, atol=1e-9, equal_nan=True)


def test_load_limit(store, monkeypatch):
    Xs, _ = open_store(store)
    monkeypatch.setenv("SKECG_MAX_LOAD_BYTES", "100000")
    with pytest.raises(MemoryError, match="stream"):
        np.asarray(Xs)
    with pytest.raises(MemoryError, match="SKECG_MAX_LOAD_BYTES"):
        Xs.signals
    with pytest.raises(MemoryError, match=r"would take 351\.6 kB in memory, more than the 97\.7 kB"):
        Xs[:1].load()  # 12 x 7500 float32
    assert Xs.load(max_bytes=10**10).is_lazy is False


def test_truncated_and_corrupt_stores(store, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(store, bad)
    shard = sorted(bad.glob("signals-*.h5"))[-1]
    with open(shard, "r+b") as f:
        f.truncate(shard.stat().st_size // 2)
    X, _ = open_store(bad)
    with pytest.raises(SourceError, match=r"store .*bad.*truncated"):
        X.read_signals([len(X) - 1])
    # corrupted bytes: the checksum names the record
    bad2 = tmp_path / "bad2"
    shutil.copytree(store, bad2)
    X2, _ = open_store(bad2)
    rec = X2.meta["record_id"].iat[0]
    shard = bad2 / "signals-00000.h5"
    off = h5py.File(shard, "r")["signals"].id.get_offset()
    with open(shard, "r+b") as f:
        f.seek(off + 400)
        f.write(b"\x01\x02\x03\x04" * 8)
    X3, _ = open_store(bad2, verify="checksum")
    with pytest.raises(SourceError, match=f"record {rec}.*checksum"):
        X3.read_signals([0])
    (bad2 / "skecg_store.json").write_text("{ not json")
    with pytest.raises(SourceError, match="skecg_store.json is corrupt"):
        open_store(bad2)
    (bad2 / "skecg_store.json").unlink()
    with pytest.raises(SourceError, match="not a complete skecg store"):
        open_store(bad2)


def _code15(folder, parts, exams_missing=()):
    rng = np.random.default_rng(0)
    rows, eid = [], 100
    for k, n in enumerate(parts):
        ids = np.arange(eid, eid + n)
        eid += n
        tr = rng.normal(size=(n + 1, 64, 12)).astype(np.float32)
        tr[-1] = 0
        with h5py.File(folder / f"exams_part{k}.hdf5", "w") as f:
            f["tracings"] = tr
            f["exam_id"] = np.concatenate([ids, [0]])
        for j, i in enumerate(ids):
            if i not in exams_missing:
                rows.append({"exam_id": i, "age": 40 + j, "is_male": j % 2 == 0, "1dAVb": j % 3 == 0,
                             "RBBB": False, "LBBB": False, "SB": j % 5 == 0, "ST": False, "AF": False,
                             "patient_id": i // 2, "trace_file": f"exams_part{k}.hdf5"})
    pd.DataFrame(rows).sample(frac=1, random_state=0).to_csv(folder / "exams.csv", index=False)


def test_code15_joins_parts_and_reports_missing(tmp_path):
    _code15(tmp_path, [5, 7, 4], exams_missing={106})
    with pytest.warns(SkippedRecordsWarning, match="exam-106"):
        X, y = read_code15(tmp_path)
    assert X.is_lazy and len(X) == 15 and X.shape == (15, 12, 64)
    assert X.skipped == [("exam-106", "exam_id 106 (exams_part1.hdf5, row 1) is not in exams.csv")]
    with h5py.File(tmp_path / "exams_part2.hdf5") as f:
        want = f["tracings"][2].T  # exam 114
    i = X.meta.index[X.meta["record_id"] == "exam-114"][0]
    assert np.array_equal(X[i], want)
    assert X.meta["patient_id"].iat[i] == "code-p57" and X.meta["age"].iat[i] == 40 + 2
    assert y[:, 0].sum() == sum(1 for e in X.meta["exam_id"] if (e - 100 - (0 if e < 105 else 5 if e < 112 else 12))
                                % 3 == 0)
    assert len(pickle.dumps(X[[3, 1]])) < 20_000
    # exam_id length differs from tracings: a clear error naming the file
    with h5py.File(tmp_path / "exams_part1.hdf5", "r+") as f:
        del f["exam_id"]
        f["exam_id"] = np.arange(3)
    with pytest.raises(SourceError, match="exams_part1.hdf5: exam_id has 3 entries but tracings has 8"):
        read_code15(tmp_path)


def test_convert_resumes_after_interrupt(tmp_path, monkeypatch):
    _code15(tmp_path, [6, 6])
    import skecg.io._convert as conv

    calls = []
    real = conv._convert_shard

    def flaky(k, *a, **kw):
        calls.append(k)
        if k == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during shard 2
        return real(k, *a, **kw)

    monkeypatch.setattr(conv, "_convert_shard", flaky)
    with pytest.raises(KeyboardInterrupt):
        convert(tmp_path, tmp_path / "st", vocabulary="tnmg", shard_records=4, progress=False)
    assert not (tmp_path / "st").exists() and (tmp_path / "st.partial").is_dir()
    with pytest.raises(SourceError, match="not a complete skecg store"):
        open_store(tmp_path / "st.partial")
    monkeypatch.setattr(conv, "_convert_shard", lambda k, *a, **kw: (calls.append(k), real(k, *a, **kw))[1])
    out = convert(tmp_path, tmp_path / "st", vocabulary="tnmg", shard_records=4, progress=False)
    assert calls == [0, 1, 2, 2]  # shards 0 and 1 were not redone
    Xs, ys = open_store(out)
    X, y = read_code15(tmp_path)
    assert (ys == y).all() and np.array_equal(Xs.read_signals(np.arange(12)), X.read_signals(np.arange(12)))


def test_concat_lazy_and_memory(sample, store):
    X, _ = sample
    Xs, _ = open_store(store)
    both = concat_records([Xs[:3], X[5:7]])
    assert both.is_lazy and len(both) == 5
    assert np.array_equal(both[4], X.signals[6]) and np.array_equal(both[0], X.signals[0])
    assert len(pickle.dumps(concat_records([Xs[:3], Xs[9:]]))) < 20_000


class _BatchReads:
    """A minimal map-style dataset reading whole batches (module level: spawn pickles it)."""

    def __init__(self, X):
        self.X = X

    def __len__(self):
        return len(self.X)

    def __getitems__(self, idx):
        import torch

        return torch.from_numpy(np.ascontiguousarray(self.X.read_signals(idx)))


def _identity(batch):
    return batch


def test_dataloader_workers_fork_and_spawn(store):
    torch = pytest.importorskip("torch")
    Xs, _ = open_store(store)
    Z = PadTruncate(length=3000).fit_transform(Resampler(300).fit_transform(Xs))

    # A worker reads each batch exactly as the main process does: bitwise equal, on any CPU.
    # Batch composition is another matter: BLAS may pick another kernel for another number
    # of rows (seen on an AVX2-only AMD CPU), so batches of 16 equal one read of all records
    # within float32 rounding of the signals (measured up to 9.5e-7 mV there), not bitwise.
    main = _BatchReads(Z)
    same_batches = np.concatenate([main.__getitems__(list(range(a, min(a + 16, len(Z))))).numpy()
                                   for a in range(0, len(Z), 16)])
    for ctx in ("fork", "spawn"):
        dl = torch.utils.data.DataLoader(_BatchReads(Z), batch_size=16, num_workers=2,
                                         multiprocessing_context=ctx, collate_fn=_identity)
        got = torch.cat(list(dl)).numpy()
        np.testing.assert_array_equal(got, same_batches)
    want = Z.read_signals(np.arange(len(Z)))
    np.testing.assert_allclose(same_batches, want, rtol=1e-5, atol=1e-5)


def test_cross_validation_on_lazy_data(store):
    from sklearn.pipeline import make_pipeline

    from skecg.baselines import CatBoostECGClassifier

    Xs, ys = open_store(store)
    keep = ys.sum(0) >= 6
    pipe = make_pipeline(RRFeatureExtractor(), CatBoostECGClassifier(iterations=20, classes=np.asarray(
        Xs.classes)[keep]))
    scores = cross_val_score(pipe, Xs, ys[:, keep], groups=Xs.meta["patient_id"], cv=GroupKFold(2),
                             scoring="f1_macro", error_score="raise")
    assert scores.shape == (2,) and np.isfinite(scores).all()


TEST_DATA = __import__("conftest").TEST_DATA


@pytest.mark.parametrize("kind", ["challenge", "ptbxl", "cpsc2018"])
def test_every_reader_through_a_store_equals_memory(kind, tmp_path):
    """Convert the tests' real fixtures of each format; the store gives what the reader gives."""
    from skecg.io import read_challenge_folder, read_cpsc2018, read_ptbxl

    src = {"challenge": TEST_DATA / "cinc2021", "ptbxl": TEST_DATA / "ptbxl", "cpsc2018": TEST_DATA / "cpsc2018"}[kind]
    read = {"challenge": lambda: read_challenge_folder(src, on_error="skip"),
            "ptbxl": lambda: read_ptbxl(src, sampling_rate=500 if (src / "records500").is_dir() else 100,
                                        on_error="skip"),
            "cpsc2018": lambda: read_cpsc2018(src, on_error="skip")}[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedRecordsWarning)
        X, y = read()
        out = convert(src, tmp_path / "st", shard_records=3, progress=False)
    Xs, ys = open_store(out)
    order = pd.Index(Xs.meta["record_id"]).get_indexer(X.meta["record_id"])
    assert (order >= 0).all() and len(Xs) == len(X)
    assert (ys[order] == y).all()
    for i, j in enumerate(order):
        assert np.array_equal(Xs[int(j)], X.signals[i])
    _same_meta(Xs[order], X)


def test_code15_equals_the_in_memory_tnmg_reader(tmp_path):
    from skecg.io import read_tnmg_hdf5

    _code15(tmp_path, [6, 5])
    X, y = read_code15(tmp_path)
    parts = [read_tnmg_hdf5(tmp_path / f"exams_part{k}.hdf5", tmp_path / "exams.csv") for k in (0, 1)]
    Xm = concat_records([p[0] for p in parts])
    ym = np.concatenate([p[1] for p in parts])
    assert (y == ym).all() and np.array_equal(X.read_signals(np.arange(len(X))), Xm.signals)
    for col in ("record_id", "fs", "age", "sex", "leads", "dx"):
        assert X.meta[col].tolist() == Xm.meta[col].tolist(), col


def test_wfdb_folder_read_on_demand_equals_reader(tmp_path):
    from skecg.io import open_wfdb_folder, read_challenge_folder

    src = TEST_DATA / "cinc2021"
    X, y = read_challenge_folder(src)
    L, yl = open_wfdb_folder(src)
    assert L.is_lazy and (yl == y).all()
    _same_meta(L, X)
    for i in range(len(X)):
        assert np.array_equal(L[i], X.signals[i])
    back = pickle.loads(pickle.dumps(L[[2, 0]]))
    assert np.array_equal(back[1], X.signals[0])
    # a header that cannot be parsed is skipped and reported; a signal file that breaks later names its record
    for f in src.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "E00001.hea").write_text("garbage\n")
    (tmp_path / "A0002.mat").write_bytes(b"not a mat file")
    with pytest.warns(SkippedRecordsWarning, match="E00001"):
        L2, _ = open_wfdb_folder(tmp_path, on_error="skip")
    i = int(np.flatnonzero(L2.meta["record_id"] == "A0002")[0])
    with pytest.raises(SourceError, match="record A0002"):
        L2.read_signals([i])


def test_cli_convert_train_predict_on_a_store(tmp_path, capsys):
    from skecg.apps.cli import main

    store = tmp_path / "st"
    assert main(["convert", str(TEST_DATA / "cinc2021"), str(store), "--shard-records", "3"]) == 0
    assert "wrote store" in capsys.readouterr().out
    model = tmp_path / "m.skecg"
    assert main(["train", "--pipeline", "catboost", str(store), "-o", str(model)]) == 0
    out = tmp_path / "out"
    assert main(["predict", str(model), str(store), "-o", str(out)]) == 0
    X, _ = open_store(store)
    assert sorted(p.stem for p in out.glob("*.csv")) == sorted(X.meta["record_id"])

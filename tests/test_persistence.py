"""Safe model files: round trip, and hostile files refused without executing anything."""

import io
import json
import pickle
import zipfile

import joblib
import numpy as np
import pytest
import torch

from conftest import TEST_DATA
from skecg.apps.cli import main
from skecg.io import read_challenge_folder
from skecg.metrics import proba_matrix
from skecg.models import ECGClassifier
from skecg.persistence import UnsafeModelFileError, load_model, save_model
from skecg.preprocessing import PadTruncate
from sklearn.pipeline import Pipeline



class Hostile:
    """Unpickling this runs code: it creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def data():
    return read_challenge_folder(TEST_DATA / "cinc2021", "tnmg")


@pytest.fixture(scope="module")
def small_net(data):
    X, y = data
    pipe = Pipeline([("pad", PadTruncate(length=1024)),
                     ("net", ECGClassifier("resnet1d", module__filters=(8, 8), module__kernel_size=5,
                                           max_epochs=1, batch_size=4, random_state=0))])
    return pipe.fit(X, y)


def test_round_trip_network_pipeline(data, small_net, tmp_path):
    X, _ = data
    p = save_model(small_net, tmp_path / "m.skecg", pipeline="small")
    est, info = load_model(p, return_info=True)
    assert info == {"pipeline": "small"} and type(est) is Pipeline
    np.testing.assert_array_equal(proba_matrix(est, X), proba_matrix(small_net, X))
    np.testing.assert_array_equal(est.predict(X), small_net.predict(X))
    names = zipfile.ZipFile(p).namelist()
    assert "model.json" in names and any(n.startswith("weights/") for n in names)


def test_round_trip_catboost_pipeline(tmp_path):
    from skecg.baselines import make_catboost_baseline

    X, y = read_challenge_folder(TEST_DATA / "cinc2021", "tnmg")
    est = make_catboost_baseline(iterations=20, thread_count=1, random_state=0).fit(X, y)
    back = load_model(save_model(est, tmp_path / "cb.skecg"))
    np.testing.assert_array_equal(proba_matrix(back, X), proba_matrix(est, X))
    assert any(n.startswith("catboost/") for n in zipfile.ZipFile(tmp_path / "cb.skecg").namelist())


def test_unsaveable_object_is_refused_on_save(tmp_path):
    pad = PadTruncate(length=10)
    pad.extra_ = Hostile(tmp_path / "x")
    with pytest.raises(TypeError, match="PadTruncate.extra_: cannot save a .*Hostile"):
        save_model(pad, tmp_path / "m.skecg")


def test_pickle_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "marker"
    bad = tmp_path / "model.joblib"
    joblib.dump({"estimator": Hostile(marker)}, bad)
    with pytest.raises(UnsafeModelFileError, match="pickle/joblib file"):
        load_model(bad)
    with pytest.raises(SystemExit, match="pickle/joblib file, which can run any code.*--trust-pickle"):
        main(["predict", str(bad), str(TEST_DATA / "cinc2021"), "-o", str(tmp_path / "out")])
    assert not marker.exists()
    # the plain pickle protocol too
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(Hostile(marker)))
    with pytest.raises(UnsafeModelFileError):
        load_model(tmp_path / "m.pkl")
    assert not marker.exists()
    # and the test itself can fail: trusting the file runs it
    with pytest.raises(SystemExit):
        main(["predict", str(bad), str(TEST_DATA / "cinc2021"), "-o", str(tmp_path / "out"), "--trust-pickle"])
    assert marker.exists()


def _archive(path, tree, members=()):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model.json", json.dumps({"format": "skecg-model", "version": 1, "info": {},
                                              "estimator": tree}))
        for name, data in members:
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("case", ["class", "param_type", "npy_pickle", "weights_pickle", "member_path"])
def test_crafted_archive_is_refused(tmp_path, case):
    marker = tmp_path / "marker"
    pad = {"__estimator__": "skecg.preprocessing._transformers.PadTruncate", "params": {"length": 10}}
    members = []
    if case == "class":
        tree = {"__estimator__": "subprocess.Popen", "params": {"args": ["touch", str(marker)]}}
        match = "'subprocess.Popen'.*not in skecg.persistence.TRUSTED_TYPES"
    elif case == "param_type":
        tree = dict(pad, params={"length": {"__type__": "subprocess.Popen"}})
        match = "subprocess.Popen.*refused"
    elif case == "npy_pickle":
        buf = io.BytesIO()
        np.save(buf, np.array([Hostile(marker)], dtype=object), allow_pickle=True)
        members = [("arrays/1.npy", buf.getvalue())]
        tree = dict(pad, state={"length_": {"__ndarray__": "arrays/1.npy"}})
        match = "arrays/1.npy refused"
    elif case == "weights_pickle":
        buf = io.BytesIO()
        torch.save({"state_dict": Hostile(marker)}, buf)
        members = [("weights/1.pt", buf.getvalue())]
        tree = {"__estimator__": "skecg.models._classifier.ECGClassifier", "params": {"module": "resnet1d"},
                "weights": "weights/1.pt"}
        match = "weights weights/1.pt refused"
    else:  # a member reference outside the archive's folders
        tree = dict(pad, state={"length_": {"__ndarray__": "../../etc/passwd"}})
        match = "bad member reference"
    path = _archive(tmp_path / "m.skecg", tree, members)
    with pytest.raises(UnsafeModelFileError, match=match):
        load_model(path)
    assert not marker.exists()
    with pytest.raises(SystemExit, match="skecg: "):
        main(["predict", str(path), str(TEST_DATA / "cinc2021"), "-o", str(tmp_path / "out")])
    assert not marker.exists()


def test_wrong_object_gives_clear_error(tmp_path):
    joblib.dump([1, 2, 3], tmp_path / "list.joblib")
    with pytest.raises(SystemExit, match=r"holds a builtins.list, not a fitted skecg estimator"):
        main(["predict", str(tmp_path / "list.joblib"), str(TEST_DATA / "cinc2021"), "--trust-pickle",
              "-o", str(tmp_path / "out")])
    save_model(PadTruncate(length=10), tmp_path / "pad.skecg")
    with pytest.raises(SystemExit, match=r"holds a .*PadTruncate, not a fitted skecg estimator"):
        main(["predict", str(tmp_path / "pad.skecg"), str(TEST_DATA / "cinc2021"), "-o", str(tmp_path / "out")])
    (tmp_path / "junk.skecg").write_bytes(b"not a model")
    with pytest.raises(SystemExit, match="not a skecg model file"):
        main(["predict", str(tmp_path / "junk.skecg"), str(TEST_DATA / "cinc2021")])


@pytest.mark.parametrize("doc", ['[' * 100000 + ']' * 100000, '{"format": "skecg-model", "version": 1, "estimator": 5}',
                                 '{"format": "skecg-model", "version": 1, "estimator": {"__estimator__": '
                                 '"skecg.preprocessing._transformers.PadTruncate", "params": {"length": {"x": 1}}}}',
                                 '{"format": "other"}', '{"format": "skecg-model", "version": 99}'])
def test_malformed_model_json_is_refused(tmp_path, doc):
    with zipfile.ZipFile(tmp_path / "m.skecg", "w") as zf:
        zf.writestr("model.json", doc)
    with pytest.raises(UnsafeModelFileError):
        load_model(tmp_path / "m.skecg")


def test_compressed_joblib_is_recognised_as_pickle(tmp_path):
    from skecg.persistence import is_pickle_file

    for compress in (0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3)):
        joblib.dump({"a": 1}, tmp_path / "m.joblib", compress=compress)
        assert is_pickle_file(tmp_path / "m.joblib"), compress
        with pytest.raises(UnsafeModelFileError, match="pickle/joblib"):
            load_model(tmp_path / "m.joblib")

"""Ribeiro et al.'s Keras model read into skecg (skecg.models.load_ribeiro_keras).

The fixtures in tests/data/ribeiro are a reduced-width instance of Ribeiro's
architecture built, randomised and run by Keras 3 (torch backend) from
``tools/make_ribeiro_fixture.py``: ``small_keras3.h5`` as Keras 3 saves a legacy
``.h5`` file, ``small_keras2.hdf5`` the same network in the layout Keras 2.x wrote
(his ``model.hdf5``), and ``small_outputs.npz`` the real records it was run on (tests/data
cinc2021 at 400 Hz, 4096 samples) with Keras' probabilities.
"""

import json
import shutil

import h5py
import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from conftest import TEST_DATA
from skecg.labels import get_vocabulary
from skecg.metrics import f1_macro_scorer
from skecg.models import RIBEIRO_THRESHOLDS, ECGClassifier, KerasModelError, load_ribeiro_keras

DATA = TEST_DATA / "ribeiro"
FILES = [DATA / "small_keras3.h5", DATA / "small_keras2.hdf5"]


@pytest.fixture(scope="module")
def outputs():
    d = np.load(DATA / "small_outputs.npz")
    return d["x"], d["proba"], [str(r) for r in d["records"]]


@pytest.mark.parametrize("path", FILES, ids=["keras3", "keras2"])
def test_keras_outputs_reproduced(path, outputs):
    x, proba, _ = outputs
    clf = load_ribeiro_keras(path)
    assert isinstance(clf, ECGClassifier)
    assert list(clf.classes_) == list(get_vocabulary("tnmg").classes)
    np.testing.assert_array_equal(clf.thresholds_, RIBEIRO_THRESHOLDS)
    got = clf.predict_proba(x)
    assert got.shape == proba.shape == (5, 6)
    assert 0.05 < proba.min() and proba.max() < 0.95  # the comparison is not of saturated outputs
    assert np.abs(got - proba).max() <= 1e-4
    # both forms of skecg's network (CPU fast path and plain Conv1d) give the same outputs
    clf.module_.as_conv2d = False
    assert np.abs(clf.predict_proba(x) - proba).max() <= 1e-4


def test_architecture_read_from_the_file():
    clf = load_ribeiro_keras(FILES[1])
    p = clf.get_params()
    assert p["module__filters"] == (8, 12, 12, 16) and p["module__stem_filters"] == 8
    assert p["module__kernel_size"] == 16 and p["module__downsample"] == 4
    assert p["module__dropout"] == pytest.approx(0.8)  # Keras' Dropout(rate): the fraction dropped
    assert clf.n_leads_ == 12 and clf.n_samples_ == 4096 and clf.leads_[0] == "I"
    assert len(clf.module_.blocks[2].skip) == 1  # the unit that keeps its width has no skip convolution


def test_batch_norm_epsilon_folded_into_running_variance():
    clf = load_ribeiro_keras(FILES[0])
    with h5py.File(FILES[0]) as f:
        cfg = json.loads(f.attrs["model_config"])
        name = [lay["config"]["name"] for lay in cfg["config"]["layers"]
                if lay["class_name"] == "BatchNormalization"][0]
        eps = [lay["config"]["epsilon"] for lay in cfg["config"]["layers"] if lay["config"]["name"] == name][0]
        var = f[f"model_weights/{name}/{name}/moving_variance"][()]
    bn = clf.module_.bn1
    assert eps == pytest.approx(1e-3) and bn.eps == pytest.approx(1e-5)
    np.testing.assert_allclose(bn.running_var.numpy() + bn.eps, var + eps, rtol=1e-6)


def test_pipeline_on_raw_records_and_cross_val_score(outputs):
    from skecg.io import read_challenge_folder
    from skecg.preprocessing import PadTruncate, Resampler

    frozen = pytest.importorskip("sklearn.frozen", reason="FrozenEstimator needs scikit-learn >= 1.6")
    x, proba, names = outputs
    X, y = read_challenge_folder(TEST_DATA / "cinc2021", vocabulary="tnmg", records=names)
    order = [list(X.meta["record_id"]).index(r) for r in names]
    pipe = make_pipeline(Resampler(400), PadTruncate(length=4096),
                         frozen.FrozenEstimator(load_ribeiro_keras(FILES[1])))
    pipe.fit(X, y)  # fits the transformers; the frozen classifier keeps its weights
    z = np.asarray(pipe[:-1].transform(X))[order]
    if np.abs(z - x).max() > 1e-5:
        pytest.fail("skecg's Resampler/PadTruncate no longer give the inputs the fixture was made from; "
                    "rebuild it with tools/make_ribeiro_fixture.py")
    assert np.abs(pipe.predict_proba(X)[order] - proba).max() <= 1e-4
    scores = cross_val_score(pipe, X, y, cv=2, scoring=f1_macro_scorer)
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_save_and_load_keeps_outputs(tmp_path, outputs):
    from skecg.persistence import load_model, save_model

    x, proba, _ = outputs
    save_model(load_ribeiro_keras(FILES[0]), tmp_path / "ribeiro.skecg")
    back = load_model(tmp_path / "ribeiro.skecg")
    assert np.abs(back.predict_proba(x) - proba).max() <= 1e-4
    np.testing.assert_array_equal(back.thresholds_, RIBEIRO_THRESHOLDS)


def test_weights_only_file(tmp_path, outputs):
    """A file without model_config (Keras' save_weights): layers in creation order."""
    x, proba, _ = outputs
    p = tmp_path / "weights.h5"
    shutil.copyfile(FILES[1], p)
    with h5py.File(p, "r+") as f:
        del f.attrs["model_config"]
    assert np.abs(load_ribeiro_keras(p).predict_proba(x) - proba).max() <= 1e-4


def _broken(tmp_path, edit, src=FILES[1]):
    p = tmp_path / "bad.hdf5"
    shutil.copyfile(src, p)
    with h5py.File(p, "r+") as f:
        edit(f)
    return p


def test_bad_files_give_one_sentence(tmp_path):
    not_h5 = tmp_path / "model.hdf5"
    not_h5.write_text("not a model")
    with pytest.raises(KerasModelError, match="model.hdf5 is not a readable HDF5 file"):
        load_ribeiro_keras(not_h5)
    with pytest.raises(FileNotFoundError):
        load_ribeiro_keras(tmp_path / "missing.hdf5")
    empty = tmp_path / "empty.h5"
    h5py.File(empty, "w").close()
    with pytest.raises(KerasModelError, match="not a Keras model"):
        load_ribeiro_keras(empty)

    def drop_weight(f):
        del f["model_weights/batch_normalization_2/batch_normalization_2/moving_variance:0"]
    with pytest.raises(KerasModelError, match="lacks it"):
        load_ribeiro_keras(_broken(tmp_path, drop_weight))

    def drop_layer(f):
        del f["model_weights/conv1d_3"]
    with pytest.raises(KerasModelError, match="conv1d_3"):
        load_ribeiro_keras(_broken(tmp_path, drop_layer))

    def wrong_shape(f):
        g = f["model_weights/dense_1/dense_1"]
        k = g["kernel:0"][()]
        del g["kernel:0"]
        g.create_dataset("kernel:0", data=k[:-16])
    with pytest.raises(KerasModelError, match="dense kernel has"):
        load_ribeiro_keras(_broken(tmp_path, wrong_shape))

    def other_architecture(f):
        cfg = json.loads(f.attrs["model_config"])
        for lay in cfg["config"]["layers"]:
            if lay["class_name"] == "Activation":
                lay["config"]["activation"] = "tanh"
        f.attrs["model_config"] = json.dumps(cfg)
    with pytest.raises(KerasModelError, match="expected 'relu'"):
        load_ribeiro_keras(_broken(tmp_path, other_architecture))

    def nan_weight(f):
        d = f["model_weights/conv1d_1/conv1d_1/kernel:0"]
        d[0, 0, 0] = np.nan
    with pytest.raises(KerasModelError, match="NaN"):
        load_ribeiro_keras(_broken(tmp_path, nan_weight))

"""Export for deployment (skecg.export, ``skecg export``): ONNX checked by ONNX Runtime and
TorchScript checked by torch.jit.load, against skecg's probabilities on real records."""

import warnings

import h5py
import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from conftest import TEST_DATA, TINY
from skecg.export import export_model, read_export_metadata, run_exported
from skecg.models import ECGClassifier, load_ribeiro_keras

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:torch.jit.*",
                                        "ignore::DeprecationWarning:torch.onnx.*")


@pytest.fixture(scope="module")
def ribeiro():
    d = np.load(TEST_DATA / "ribeiro" / "small_outputs.npz")
    return load_ribeiro_keras(TEST_DATA / "ribeiro" / "small_keras2.hdf5"), d["x"], d["proba"]


@pytest.fixture(scope="module")
def trained_pipeline():
    """A ResNet-1d trained (briefly) on real records behind Resampler and PadTruncate."""
    from skecg.datasets import load_sample
    from skecg.preprocessing import PadTruncate, Resampler

    X, y = load_sample("tnmg", sources=["Georgia", "Chapman-Ningbo", "CPSC"])
    pipe = make_pipeline(Resampler(100), PadTruncate(length=256), ECGClassifier("resnet1d", **TINY)).fit(X, y)
    return pipe, X


def test_onnx_runtime_matches_on_real_records(ribeiro, tmp_path):
    clf, x, keras_proba = ribeiro
    path = tmp_path / "ribeiro.onnx"
    info = export_model(clf, path, check_input=x)
    assert info["check"] == {"records": 5, "max_abs_diff": pytest.approx(info["check"]["max_abs_diff"])}
    assert info["check"]["max_abs_diff"] <= 1e-4
    want = clf.predict_proba(x)
    for batch in (x[:1], x, np.concatenate([x, x])):  # the batch axis is dynamic
        got = run_exported(path, batch)
        assert got.shape == (len(batch), 6)
        assert np.abs(got - clf.predict_proba(batch)).max() <= 1e-4
    assert np.abs(run_exported(path, x) - keras_proba).max() <= 1e-4  # and Keras' own outputs
    meta = read_export_metadata(path)
    assert meta["classes"] == [str(c) for c in clf.classes_]
    assert meta["thresholds"] == pytest.approx([0.124, 0.07, 0.05, 0.278, 0.390, 0.174])
    assert meta["leads"][:3] == ["I", "II", "III"] and meta["input_shape"] == ["batch", 12, 4096]
    assert np.abs(want - keras_proba).max() <= 1e-4


def test_torchscript_matches_and_default_cpu_form_exports(ribeiro, tmp_path):
    clf, x, _ = ribeiro
    clf.module_.as_conv2d = True  # the CPU fast path, which torch.jit.trace cannot follow itself
    path = tmp_path / "ribeiro.pt"
    info = export_model(clf, path, check_input=x)
    assert info["format"] == "torchscript" and info["check"]["max_abs_diff"] <= 1e-4
    assert clf.module_.as_conv2d is True  # the classifier's own network is left as it was
    assert np.abs(run_exported(path, x[:2]) - clf.predict_proba(x[:2])).max() <= 1e-4
    assert read_export_metadata(path)["abbreviations"] == ["1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"]


@pytest.mark.parametrize("module", ["attention_resnet1d", "se_resnet1d"])
def test_other_networks_export(module, small, tmp_path):
    Z, y = small
    params = dict(TINY, max_epochs=1)
    if module == "se_resnet1d":
        params["module__filters"] = (8, 8)
    clf = ECGClassifier(module, **params).fit(Z, y)
    x = np.asarray(Z[:6])
    info = export_model(clf, tmp_path / "net.onnx", check_input=x)
    assert info["network"] in ("AttentionResNet1d", "SEResNet1d")
    assert info["check"]["max_abs_diff"] <= 1e-4


def test_cli_exports_a_trained_pipeline(trained_pipeline, tmp_path, capsys):
    from skecg.apps.cli import main
    from skecg.persistence import save_model

    pipe, X = trained_pipeline
    model = tmp_path / "model.skecg"
    save_model(pipe, model)
    out = tmp_path / "model.onnx"
    assert main(["export", str(model), str(out)]) == 0
    text = capsys.readouterr().out
    assert "NOT exported, apply before the network: Resampler(" in text and "PadTruncate(length=256)" in text
    assert "ONNX Runtime matches skecg's probabilities" in text
    Z = np.asarray(pipe[:-1].transform(X))  # the real records, preprocessed as the metadata says
    assert np.abs(run_exported(out, Z) - pipe.predict_proba(X)).max() <= 1e-4
    meta = read_export_metadata(out)
    assert [s.split("(")[0] for s in meta["preprocessing"]] == ["Resampler", "PadTruncate"]
    pt = tmp_path / "model.ts"
    assert main(["export", str(model), str(pt), "--format", "torchscript"]) == 0
    assert "TorchScript" in capsys.readouterr().out
    assert np.abs(run_exported(pt, Z[:4]) - pipe.predict_proba(X[:4])).max() <= 1e-4


def test_cli_exports_ribeiros_keras_file(ribeiro, tmp_path, capsys):
    from skecg.apps.cli import main

    clf, x, keras_proba = ribeiro
    out = tmp_path / "ribeiro.pt"
    assert main(["export", str(TEST_DATA / "ribeiro" / "small_keras3.h5"), str(out)]) == 0
    assert "0.124, 0.07, 0.05, 0.278, 0.39, 0.174" in capsys.readouterr().out
    assert np.abs(run_exported(out, x) - keras_proba).max() <= 1e-4
    bad = tmp_path / "bad.hdf5"
    h5py.File(bad, "w").close()
    with pytest.raises(SystemExit, match="bad.hdf5 is an HDF5 file but not a Keras model"):
        main(["export", str(bad), str(out)])


def test_refusals(trained_pipeline, tmp_path):
    from sklearn.linear_model import LogisticRegression

    from skecg.apps.cli import main

    pipe, X = trained_pipeline
    with pytest.raises(ValueError, match="only an ECGClassifier"):
        export_model(make_pipeline(LogisticRegression()), tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="not fitted"):
        export_model(ECGClassifier(), tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="format must be one of"):
        export_model(pipe, tmp_path / "x.onnx", format="tflite")
    with pytest.raises(SystemExit, match="does not exist"):
        main(["export", str(tmp_path / "missing.skecg"), str(tmp_path / "x.onnx")])
    frozen = pytest.importorskip("sklearn.frozen", reason="FrozenEstimator needs scikit-learn >= 1.6")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = export_model(frozen.FrozenEstimator(pipe), tmp_path / "f.pt", check=False)
    assert "check" not in info and len(info["preprocessing"]) == 2

"""Safe model files: round trip, hostile files refused without executing anything,
trusted user types, older format versions, history/optimizer state, model card, inspect."""

import io
import json
import pickle
import sys
import zipfile

import joblib
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import TEST_DATA
from skecg.apps.cli import main
from skecg.io import read_challenge_folder
from skecg.metrics import proba_matrix
from skecg.models import ECGClassifier
from skecg.persistence import (
    UnsafeModelFileError,
    get_untrusted_types,
    inspect_model,
    load_model,
    model_card,
    save_model,
)
from skecg.preprocessing import PadTruncate
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

FIXTURES = TEST_DATA / "models"


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
        match = r"'subprocess.Popen', which is neither in skecg.persistence.TRUSTED_TYPES nor in trusted=.*trusted="
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
        match = "weights weights/1.pt hold pickled Python objects, not only tensors.*refused"
    else:  # a member reference outside the archive's folders
        tree = dict(pad, state={"length_": {"__ndarray__": "../../etc/passwd"}})
        match = "bad member reference"
    path = _archive(tmp_path / "m.skecg", tree, members)
    with pytest.raises(UnsafeModelFileError, match=match) as err:
        load_model(path)
    assert "PyTorch" not in str(err.value)  # skecg's sentence, not torch's
    assert not marker.exists()
    try:  # inspecting reads it without building or running anything
        r = inspect_model(path)
    except UnsafeModelFileError:
        pass
    else:
        if case == "class":
            assert r["untrusted_types"] == ["subprocess.Popen"]
        if case == "weights_pickle":
            assert r["classifiers"][0]["error"].startswith("the weights weights/1.pt hold pickled Python objects")
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
    try:
        inspect_model(tmp_path / "m.skecg")
    except UnsafeModelFileError:
        pass


def test_compressed_joblib_is_recognised_as_pickle(tmp_path):
    from skecg.persistence import is_pickle_file

    for compress in (0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3)):
        joblib.dump({"a": 1}, tmp_path / "m.joblib", compress=compress)
        assert is_pickle_file(tmp_path / "m.joblib"), compress
        with pytest.raises(UnsafeModelFileError, match="pickle/joblib"):
            load_model(tmp_path / "m.joblib")


def _signals(X):
    return np.asarray(getattr(X, "signals", X), dtype=np.float32)


def _params(net):
    return np.concatenate([p.detach().cpu().numpy().ravel() for p in net.module_.parameters()])


# --- format version 1, written by main before format 2 (tests/data/models/README.md) -------
@pytest.mark.parametrize("name", ["v1_resnet_pipeline", "v1_catboost_baseline"])
def test_format_version_1_files_load(data, name):
    X, _ = data
    path = FIXTURES / f"{name}.skecg"
    assert json.loads(zipfile.ZipFile(path).read("model.json"))["version"] == 1
    est, info = load_model(path, return_info=True)
    assert info["pipeline"] in ("fixture-v1", "catboost")
    # probabilities the writing version computed; tolerance for another CPU's kernels
    np.testing.assert_allclose(proba_matrix(est, X), np.load(FIXTURES / f"{name}_proba.npy"), rtol=0, atol=1e-5)
    r = inspect_model(path)
    assert r["format_version"] == 1 and r["untrusted_types"] == [] and r["card"] == {}
    assert r["vocabulary"]["name"] == "tnmg" and r["vocabulary"]["classes"] == [str(c) for c in est.classes_]
    assert "Not recorded in this file" in model_card(r)


# --- format version 2, written by main before the regrouping of issue 27 ------------------
@pytest.mark.parametrize("name", ["v2_gated_ensemble", "v2_threshold_tuner"])
def test_format_version_2_files_written_before_the_regrouping_load(data, name):
    """The ensemble became a package and the tuner's ``thresholds`` became ``candidates``:
    files that name the old classes and parameters still load and predict the same."""
    X, _ = data
    path = FIXTURES / f"{name}.skecg"
    assert json.loads(zipfile.ZipFile(path).read("model.json"))["version"] == 2
    est, info = load_model(path, return_info=True)
    assert info["pipeline"] == "fixture-v2"
    np.testing.assert_allclose(proba_matrix(est, X), np.load(FIXTURES / f"{name}_proba.npy"), rtol=0, atol=1e-5)
    if name == "v2_threshold_tuner":
        np.testing.assert_array_equal(est.predict(X), np.load(FIXTURES / f"{name}_pred.npy"))
    assert inspect_model(path)["untrusted_types"] == []


def test_newer_format_version_is_refused_with_what_to_do(tmp_path):
    with zipfile.ZipFile(tmp_path / "m.skecg", "w") as zf:
        zf.writestr("model.json", json.dumps({"format": "skecg-model", "version": 3, "estimator": {}}))
    with pytest.raises(UnsafeModelFileError, match="format version 3; this skecg reads versions 1 to 2; upgrade"):
        load_model(tmp_path / "m.skecg")


# --- the file keeps history, configuration, training data and metrics ---------------------
def test_file_keeps_history_configuration_and_card(data, small_net, tmp_path, capsys):
    X, y = data
    config = {"pipeline": "small", "training": {"epochs": 1, "batch_size": 4}}
    metrics = {"macro_auroc": 0.75, "per_class": {"AF": 0.5}}
    p = save_model(small_net, tmp_path / "m.skecg", config=config, metrics=metrics, train_data=(X, y),
                   pipeline="small")
    est, info = load_model(p, return_info=True)
    assert info == {"pipeline": "small"}
    h0, h1 = small_net[-1].history, est[-1].history
    assert len(h1) == len(h0) == 1
    assert h1[:, "train_loss"] == pytest.approx(h0[:, "train_loss"])
    assert [len(b) for b in h1[:, "batches"]] == [len(b) for b in h0[:, "batches"]]

    r = inspect_model(p)
    assert r["format_version"] == 2 and r["config"] == config and r["card"]["metrics"] == metrics
    classes = [str(c) for c in small_net.classes_]
    td = r["card"]["training_data"]
    assert td["n_records"] == len(X) == sum(td["sources"].values())
    assert td["positives"] == dict(zip(classes, y.sum(0).tolist()))
    assert td["sources"] == X.meta["source"].value_counts().to_dict()
    assert [(c["path"], c["class"].rpartition(".")[2]) for c in r["tree"]["children"]] == \
        [("pad", "PadTruncate"), ("net", "ECGClassifier")]
    (net,) = r["classifiers"]
    assert net["path"] == "net" and net["classes"] == classes and len(net["history"]) == 1
    assert net["n_parameters"] == sum(q.numel() for q in small_net[-1].module_.parameters())
    assert r["preprocessing"] == [{"path": "pad", "class": "skecg.preprocessing._transformers.PadTruncate",
                                   "training_only": False, "params": {"length": "1024"}}]

    card = model_card(p)
    af = classes.index("164889003")
    assert f"| 164889003 (AF) | {int(y[:, af].sum())} |" in card
    assert "| macro_auroc | 0.75 |" in card and "| per_class / AF | 0.5 |" in card
    assert "| pad | PadTruncate | length=1024 |" in card and '"batch_size": 4' in card

    assert main(["inspect", str(p), "--card", str(tmp_path / "MODEL_CARD.md")]) == 0
    out = capsys.readouterr().out
    assert "├─ pad: PadTruncate(length=1024)" in out and "Training history of net (1 epochs)" in out
    assert "Types outside skecg's trusted list: none" in out and card in out
    assert (tmp_path / "MODEL_CARD.md").read_text() == card
    assert main(["inspect", str(p), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"] == config and doc["classifiers"][0]["history"][0]["epoch"] == 1


def test_save_model_keeps_info_keywords_backwards_compatible(tmp_path):
    p = save_model(PadTruncate(length=10), tmp_path / "p.skecg", pipeline="pad", epochs=3)
    assert load_model(p, return_info=True)[1] == {"pipeline": "pad", "epochs": 3}
    with pytest.raises(TypeError, match="plain JSON"):
        save_model(PadTruncate(length=10), tmp_path / "q.skecg", config={"f": print})
    assert not (tmp_path / "q.skecg").exists()


# --- optimizer state: partial_fit continues where training stopped ------------------------
def test_partial_fit_of_loaded_model_continues_training(data, tmp_path):
    X, y = data
    A = _signals(PadTruncate(length=256).fit_transform(X))
    # one batch per epoch and no dropout, so that three epochs in one fit and 2 + 1 see the same batches
    kw = dict(module__filters=(4, 4), module__kernel_size=3, module__stem_filters=4, module__dropout=0.0,
              batch_size=len(A), valid_size=0, patience=None, random_state=0)
    two = ECGClassifier("resnet1d", max_epochs=2, **kw).fit(A, y)
    three = ECGClassifier("resnet1d", max_epochs=3, **kw).fit(A, y)
    resumed = load_model(save_model(two, tmp_path / "two.skecg", optimizer_state=True))
    s0, s1 = two.optimizer_.state_dict(), resumed.optimizer_.state_dict()
    assert s0["param_groups"] == s1["param_groups"] and s0["state"].keys() == s1["state"].keys()
    for pid, st in s0["state"].items():  # Adam's step count and moments, exactly
        assert st.keys() == s1["state"][pid].keys()
        assert all(torch.equal(st[k], s1["state"][pid][k]) for k in st)
    resumed.partial_fit(A, y, epochs=1)
    assert len(resumed.history) == 3
    np.testing.assert_allclose(_params(resumed), _params(three), rtol=0, atol=1e-6)
    np.testing.assert_allclose(proba_matrix(resumed, A), proba_matrix(three, A), rtol=0, atol=1e-6)
    # without the optimizer state Adam starts over, and the third epoch ends elsewhere
    fresh = load_model(save_model(two, tmp_path / "plain.skecg"))
    assert not hasattr(fresh, "optimizer_")  # a model that only predicts builds no optimizer
    fresh.partial_fit(A, y, epochs=1)
    assert np.abs(_params(fresh) - _params(three)).max() > 1e-4
    with pytest.raises(ValueError, match="no optimizer state"):
        save_model(load_model(tmp_path / "plain.skecg"), tmp_path / "x.skecg", optimizer_state=True)
    with pytest.raises(ValueError, match="holds no ECGClassifier"):
        save_model(PadTruncate(length=10), tmp_path / "x.skecg", optimizer_state=True)


def test_learning_rate_schedule_resumes_with_optimizer_state(data, tmp_path):
    X, y = data
    A = _signals(PadTruncate(length=256).fit_transform(X))
    kw = dict(module__filters=(4, 4), module__kernel_size=3, module__stem_filters=4, batch_size=len(A),
              valid_size=0, patience=None, random_state=0, lr_schedule=(1, 0.5))
    net = ECGClassifier("resnet1d", max_epochs=2, **kw).fit(A, y)
    resumed = load_model(save_model(net, tmp_path / "s.skecg", optimizer_state=True))
    net.partial_fit(A, y, epochs=1)
    resumed.partial_fit(A, y, epochs=1)
    assert resumed.optimizer_.param_groups[0]["lr"] == net.optimizer_.param_groups[0]["lr"] < 1e-3 / 4
    # without it the schedule cannot resume at epoch 2 (torch needs the optimizer's state): the
    # loaded model starts a fresh history and trains on, its saved history still in the file
    plain = load_model(save_model(net, tmp_path / "p.skecg"))
    plain.partial_fit(A, y, epochs=1)
    assert len(plain.history) == 1 and len(inspect_model(tmp_path / "p.skecg")["classifiers"][0]["history"]) == 3


# --- a user's own pipeline step, allowed with trusted= ------------------------------------
class ClipStep(TransformerMixin, BaseEstimator):
    """A user's own step: clips the signals at a quantile of their absolute values."""

    def __init__(self, quantile=0.99):
        self.quantile = quantile

    def fit(self, X, y=None):
        self.bound_ = float(np.quantile(np.abs(_signals(X)), self.quantile))
        return self

    def transform(self, X):
        return np.clip(_signals(X), -self.bound_, self.bound_)


def test_user_type_is_refused_then_allowed_with_trusted(data, tmp_path, capsys):
    X, y = data
    name = f"{ClipStep.__module__}.ClipStep"
    pipe = Pipeline([("pad", PadTruncate(length=256)), ("clip", ClipStep()),
                     ("net", ECGClassifier("resnet1d", module__filters=(4, 4), module__kernel_size=3,
                                           module__stem_filters=4, max_epochs=1, batch_size=4,
                                           random_state=0))]).fit(X, y)
    with pytest.raises(TypeError) as err:
        save_model(pipe, tmp_path / "m.skecg")
    msg = str(err.value)
    assert msg.count(". ") == 0 and msg.startswith(f"Pipeline.steps[1][1]: {name} is not a trusted type")
    assert f"save_model(..., trusted=['{name}'])" in msg and f"load_model(..., trusted=['{name}'])" in msg
    assert not (tmp_path / "m.skecg").exists()

    p = save_model(pipe, tmp_path / "m.skecg", trusted=[ClipStep])
    assert get_untrusted_types(p) == [name]
    with pytest.raises(UnsafeModelFileError, match=rf"'{name}', which is neither .* trusted=\['{name}'\]"):
        load_model(p)
    with pytest.raises(SystemExit, match=f"skecg: .*{name}.*trusted="):
        main(["predict", str(p), str(TEST_DATA / "cinc2021"), "-o", str(tmp_path / "out")])
    for trusted in ([ClipStep], [name]):  # as a class or by name
        back = load_model(p, trusted=trusted)
        assert back[1].bound_ == pipe[1].bound_
        np.testing.assert_array_equal(proba_matrix(back, X), proba_matrix(pipe, X))
    assert main(["inspect", str(p)]) == 0
    out = capsys.readouterr().out
    assert f"clip: ClipStep(quantile=0.99)  [NOT TRUSTED: {name}]" in out
    assert f"load_model(path, trusted=['{name}'])" in out
    # trusting one type trusts nothing else
    evil = _archive(tmp_path / "evil.skecg", {"__estimator__": "subprocess.Popen", "params": {"args": ["true"]}})
    with pytest.raises(UnsafeModelFileError, match="subprocess.Popen"):
        load_model(evil, trusted=[ClipStep])


def test_trusted_argument_is_checked(tmp_path):
    class Local(BaseEstimator):
        pass

    with pytest.raises(TypeError, match="inside a function"):
        save_model(PadTruncate(length=5), tmp_path / "m.skecg", trusted=[Local])
    with pytest.raises(TypeError, match="classes or 'module.QualName' strings"):
        load_model(save_model(PadTruncate(length=5), tmp_path / "m.skecg"), trusted=[3])


def test_inspect_imports_and_builds_nothing(tmp_path):
    mod = "skecg_test_never_imported"
    tree = {"__estimator__": f"{mod}.Evil", "params": {"a": 1, "loss": {"__type__": f"{mod}.Loss"}}}
    p = _archive(tmp_path / "m.skecg", tree)
    assert get_untrusted_types(p) == [f"{mod}.Evil", f"{mod}.Loss"]
    assert mod not in sys.modules
    with pytest.raises(UnsafeModelFileError, match=f"{mod}.Evil"):
        load_model(p)
    assert mod not in sys.modules


# --- issue 28: what a file is, said in skecg's words ---------------------------------------
@pytest.mark.parametrize("text", ["this is not a model\n", "x marks the spot\n", "BZh is not bzip2\n",
                                  "ZF0x0000 is not joblib\n", '{"format": "skecg-model"}\n'])
def test_text_file_named_skecg_is_not_a_model_file(tmp_path, text):
    p = tmp_path / "model.skecg"
    p.write_text(text)
    with pytest.raises(UnsafeModelFileError, match="is not a skecg model file") as err:
        load_model(p)
    assert "pickle" not in str(err.value)
    for cmd in (["predict", str(p), str(TEST_DATA / "cinc2021"), "-o", str(tmp_path / "out")], ["inspect", str(p)]):
        with pytest.raises(SystemExit, match="skecg: .*model.skecg is not a skecg model file") as err:
            main(cmd)
        assert "pickle" not in str(err.value) and "run any code" not in str(err.value)


@pytest.mark.parametrize("version", [1, 2])
def test_weights_that_are_a_torch_pickle_are_refused_in_skecg_words(tmp_path, version):
    marker = tmp_path / "marker"
    buf = io.BytesIO()
    torch.save({"state_dict": Hostile(marker)}, buf)
    member = "weights/1.pt" if version == 1 else "weights/1.safetensors"
    tree = {"__estimator__": "skecg.models._classifier.ECGClassifier", "params": {"module": "resnet1d"},
            "weights": member, "fitted": {"classes": ["a"], "thresholds": [0.5], "shape": [1, 64, 1], "leads": []}}
    with zipfile.ZipFile(tmp_path / "m.skecg", "w") as zf:
        zf.writestr("model.json", json.dumps({"format": "skecg-model", "version": version, "estimator": tree}))
        zf.writestr(member, buf.getvalue())
    match = ("hold pickled Python objects, not only tensors, and loading them could run code; refused"
             if version == 1 else "weights/1.safetensors is not a readable safetensors file")
    with pytest.raises(UnsafeModelFileError, match=match) as err:
        load_model(tmp_path / "m.skecg")
    assert "PyTorch" not in str(err.value) and "Weights only load failed" not in str(err.value)
    with pytest.raises(SystemExit, match=match):
        main(["predict", str(tmp_path / "m.skecg"), str(TEST_DATA / "cinc2021"), "-o", str(tmp_path / "out")])
    assert not marker.exists()
    # a version-2 file cannot point at a .pt member at all
    if version == 2:
        tree["weights"] = "weights/1.pt"
        with zipfile.ZipFile(tmp_path / "n.skecg", "w") as zf:
            zf.writestr("model.json", json.dumps({"format": "skecg-model", "version": 2, "estimator": tree}))
            zf.writestr("weights/1.pt", buf.getvalue())
        with pytest.raises(UnsafeModelFileError, match="bad member reference"):
            load_model(tmp_path / "n.skecg")
        assert not marker.exists()


def test_inspect_of_a_pickle_says_so_without_running_it(tmp_path):
    marker = tmp_path / "marker"
    joblib.dump(Hostile(marker), tmp_path / "m.skecg")
    with pytest.raises(SystemExit, match="is a pickle/joblib file"):
        main(["inspect", str(tmp_path / "m.skecg")])
    with pytest.raises(SystemExit, match="does not exist"):
        main(["inspect", str(tmp_path / "none.skecg")])
    assert not marker.exists()


@pytest.mark.parametrize("state", [{"np_rng_": {"__generator__": {"__dict__": [["bit_generator", "PCG64"],
                                                                             ["state", "nonsense"]]}}},
                                   {"__class__": 1}, {"seed_": {"__npscalar__": "M8[s]", "value": "x"}}])
def test_crafted_training_state_is_refused(tmp_path, state):
    from safetensors.torch import save as save_safetensors

    tree = {"__estimator__": "skecg.models._classifier.ECGClassifier", "params": {"module": "resnet1d"},
            "weights": "weights/1.safetensors", "train_state": state,
            "fitted": {"classes": ["a"], "thresholds": [0.5], "shape": [1, 64, 1], "leads": []}}
    with zipfile.ZipFile(tmp_path / "m.skecg", "w") as zf:
        zf.writestr("model.json", json.dumps({"format": "skecg-model", "version": 2, "estimator": tree}))
        zf.writestr("weights/1.safetensors", save_safetensors({"x": torch.zeros(1)}))
    with pytest.raises(UnsafeModelFileError) as err:
        load_model(tmp_path / "m.skecg")
    assert "weights" not in str(err.value)  # refused for its training state, before any weights are set


# --- any edit of model.json: loaded, or refused with UnsafeModelFileError, never anything else ----
_JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
                     | st.text(max_size=12) | st.sampled_from(["__estimator__", "__type__", "__ndarray__",
                                                               "arrays/1.npy", "sklearn.pipeline.Pipeline"]),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                         st.sampled_from(["__estimator__", "__tuple__", "__dict__", "__type__", "__ndarray__",
                                          "__npscalar__", "__generator__", "params", "state", "value", "x"]),
                         inner, max_size=3), max_leaves=8)


def _paths(v, here=()):
    yield here
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _paths(x, here + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _paths(x, here + (i,))


@pytest.fixture(scope="module")
def small_file(data, tmp_path_factory):
    """A fitted network pipeline with everything format 2 holds (arrays, weights, history,
    training and optimizer state, configuration, card)."""
    X, y = data
    net = ECGClassifier("resnet1d", module__filters=(2,), module__kernel_size=3, module__stem_filters=2,
                        max_epochs=1, batch_size=8, valid_size=0, random_state=0)
    est = Pipeline([("pad", PadTruncate(length=64)), ("net", net)]).fit(X, y)
    p = save_model(est, tmp_path_factory.mktemp("fuzz") / "m.skecg", config={"a": [1, 2]}, optimizer_state=True)
    with zipfile.ZipFile(p) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_edit_of_model_json_loads_or_is_refused(small_file, tmp_path, data):
    doc = json.loads(small_file["model.json"])
    paths = list(_paths(doc))[1:]
    where = data.draw(st.sampled_from(paths))
    node = doc
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = data.draw(_JSON)
    p = tmp_path / "m.skecg"
    with zipfile.ZipFile(p, "w") as zf:
        for name, raw in small_file.items():
            zf.writestr(name, json.dumps(doc) if name == "model.json" else raw)
    for read in (load_model, inspect_model):
        try:
            read(p)
        except UnsafeModelFileError:
            pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damaged_member_loads_or_is_refused(small_file, tmp_path, data):
    old = [FIXTURES / "v1_resnet_pipeline.skecg", FIXTURES / "v1_catboost_baseline.skecg"]  # .pt and .cbm members
    which = data.draw(st.sampled_from([None] + old))
    if which is not None:
        with zipfile.ZipFile(which) as zf:
            small_file = {n: zf.read(n) for n in zf.namelist()}
    name = data.draw(st.sampled_from(sorted(n for n in small_file if n != "model.json")))
    raw = bytearray(small_file[name])
    cut = data.draw(st.integers(0, len(raw)))
    damaged = bytes(raw[:cut]) + data.draw(st.binary(max_size=16)) if data.draw(st.booleans()) else \
        bytes(raw[:cut]) + bytes([raw[cut] ^ 0xFF]) + bytes(raw[cut + 1:]) if cut < len(raw) else bytes(raw)
    p = tmp_path / "m.skecg"
    with zipfile.ZipFile(p, "w") as zf:
        for n, b in small_file.items():
            zf.writestr(n, damaged if n == name else b)
    for read in (load_model, inspect_model):
        try:
            read(p)
        except UnsafeModelFileError:
            pass

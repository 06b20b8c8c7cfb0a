"""A fit interrupted mid-epoch and resumed from skecg's checkpoint ends with the same
weights and history as one never interrupted; checkpoints are written so that a kill
at any moment leaves a complete one; determinism settings on CUDA (logic, on the CPU)."""

import json
import os

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from conftest import TINY
from skecg.models import ECGClassifier, WaveSegmenter
from skecg.models._device import CUBLAS_WORKSPACE_CONFIG, determinism_settings, deterministic_context
from skecg.models._skorch_common import EpochLog, LoadTrainingState, TrainingCheckpoint

#: dropout, a learning-rate schedule, early stopping on a validation score, threshold
#: tuning: every piece of state a resume has to bring back
SETTINGS = {**TINY, "module__stem_filters": 8, "max_epochs": 3, "module__dropout": 0.3, "lr_schedule": (1, 0.5), "monitor": "valid_auroc",
            "patience": 3, "tune_thresholds": True}


class Interrupt(Callback):
    """Ctrl-C at the start of training batch ``batch`` of epoch ``epoch``."""

    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def initialize(self):
        self.n_ = 0
        return self

    def on_batch_begin(self, net, training=None, **kwargs):
        if training and len(net.history) == self.epoch:
            self.n_ += 1
            if self.n_ == self.batch:
                raise KeyboardInterrupt


def _history(net):
    return [{k: v for k, v in row.items() if k not in ("dur", "batches", "event_cp")} for row in net.history]


def _resumable(folder, *extra, **settings):
    cp = TrainingCheckpoint(folder)
    return ECGClassifier(**{**SETTINGS, **settings},
                         callbacks=[("checkpoint", cp), ("resume", LoadTrainingState(cp)), *extra])


def test_interrupted_and_resumed_equals_uninterrupted(small, tmp_path):
    Z, y = small
    ref = ECGClassifier(**SETTINGS).fit(Z, y)
    assert not ref.interrupted_ and len(ref.history) == 3

    first = _resumable(tmp_path, ("stop", Interrupt(epoch=2, batch=2))).fit(Z, y)
    assert first.interrupted_ and len(first.history) == 2  # epoch 2 began, never finished
    (fit_dir,) = list(tmp_path.iterdir())
    assert sorted(os.listdir(fit_dir)) == ["criterion_1.pt", "history.json", "optimizer_1.pt", "params_1.pt",
                                           "state_1.pt"]  # only the last complete epoch's files
    second = _resumable(tmp_path).fit(Z, y)
    assert second.callbacks_[-1][1].resumed_epoch_ == 1
    assert not second.interrupted_
    a, b = ref.module_.state_dict(), second.module_.state_dict()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-6, msg=k)
    assert _history(second) == _history(ref)
    assert {"valid_auroc", "valid_challenge", "event_lr"} <= set(ref.history[-1])
    np.testing.assert_array_equal(second.thresholds_, ref.thresholds_)
    np.testing.assert_allclose(second.predict_proba(Z), ref.predict_proba(Z), rtol=0, atol=1e-6)


def test_wave_segmenter_resumes_exactly_too(tmp_path):
    """The segmenter shares the classifier's checkpoints (one skorch base), and its
    augmentation draws resume where they stopped."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 1, 128)).astype("float32")
    masks = (X[:, 0] > 0.8).astype(int)
    kw = dict(module__filters=(4, 8), max_epochs=3, batch_size=4, fs=100, valid_size=0.25, patience=3,
              random_state=0)
    ref = WaveSegmenter(**kw).fit(X, masks)
    cp = TrainingCheckpoint(tmp_path)
    cbs = [("checkpoint", cp), ("resume", LoadTrainingState(cp))]
    first = WaveSegmenter(**kw, callbacks=[*cbs, ("stop", Interrupt(epoch=2, batch=2))]).fit(X, masks)
    assert first.interrupted_ and len(first.history) == 2
    second = WaveSegmenter(**kw, callbacks=cbs).fit(X, masks)
    assert second.callbacks_[-1][1].resumed_epoch_ == 1
    assert _history(second) == _history(ref)
    np.testing.assert_allclose(second.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-6)


def test_fresh_fit_without_checkpoint_equals_plain_fit(small, tmp_path):
    """Checkpointing itself changes nothing (no random draw, no state)."""
    Z, y = small
    plain = ECGClassifier(**{**SETTINGS, "max_epochs": 1}).fit(Z, y)
    ck = _resumable(tmp_path, max_epochs=1).fit(Z, y)
    for k, v in plain.module_.state_dict().items():
        torch.testing.assert_close(ck.module_.state_dict()[k], v, rtol=0, atol=0)


def test_other_fits_keep_apart_and_damage_is_reported(small, tmp_path):
    Z, y = small
    _resumable(tmp_path, max_epochs=1).fit(Z, y)
    # another seed: another fit, its own folder; nothing resumed from the first
    other = _resumable(tmp_path, max_epochs=1, random_state=1).fit(Z, y)
    assert other.callbacks_[-1][1].resumed_epoch_ is None and len(list(tmp_path.iterdir())) == 2
    # the same fit resumes; with a file missing it is refused with a sentence, not skipped
    again = _resumable(tmp_path, max_epochs=1)
    again.fit(Z, y)
    assert again.callbacks_[-1][1].resumed_epoch_ == 1 and len(again.history) == 1
    fit_dir = tmp_path / again._fit_key()
    (fit_dir / "state_1.pt").unlink()
    with pytest.raises(ValueError, match="is incomplete: state_1.pt of epoch 1 is missing"):
        _resumable(tmp_path, max_epochs=2).fit(Z, y)


def test_checkpoint_files_load_without_code(small, tmp_path):
    """Every checkpoint file is tensors or JSON (torch.load(weights_only=True) reads it)."""
    Z, y = small
    _resumable(tmp_path, max_epochs=1).fit(Z, y)
    (fit_dir,) = list(tmp_path.iterdir())
    for f in fit_dir.iterdir():
        if f.suffix == ".pt":
            torch.load(f, weights_only=True)
        else:
            assert isinstance(json.loads(f.read_text()), list)


def test_monitor_is_checked_before_training(small):
    Z, y = small
    with pytest.raises(ValueError, match="monitor='valid_f1' is not recorded"):
        ECGClassifier(**{**SETTINGS, "monitor": "valid_f1"}).fit(Z, y)
    with pytest.raises(ValueError, match="challenge scores"):
        ECGClassifier(**{**SETTINGS, "monitor": "valid_challenge"}, classes=[str(i) for i in range(6)]).fit(Z, y)


def test_epoch_log_line(small, capsys):
    Z, y = small
    ECGClassifier(**{**SETTINGS, "max_epochs": 1, "epoch_scoring": ("auroc", "challenge", "f1")},
                  callbacks=[("log", EpochLog())]).fit(Z, y)
    (line,) = capsys.readouterr().err.strip().splitlines()
    for part in ("epoch 1/1", "train_loss", "valid_loss", "valid_auroc", "valid_challenge", "valid_f1", "s/epoch",
                 "ETA 0s"):
        assert part in line


# --- determinism on CUDA: what is set when (the logic runs on any CPU) ---------------------------
@pytest.mark.parametrize("random_state, deterministic, expected", [
    (0, "auto", (False, True, True)),
    (None, "auto", (True, None, None)),
    (0, False, (True, None, None)),  # the explicit opt-out for speed
    (None, True, (False, True, True)),
])
def test_determinism_settings_on_cuda(random_state, deterministic, expected):
    got = determinism_settings("cuda", random_state, deterministic)
    assert (got["cudnn_benchmark"], got["cudnn_deterministic"], got["deterministic_algorithms"]) == expected
    assert set(determinism_settings("cpu", random_state, deterministic).values()) == {None}
    with pytest.raises(ValueError, match="deterministic must be"):
        determinism_settings("cuda", 0, "yes")


def test_deterministic_context_sets_and_restores(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    cudnn = torch.backends.cudnn
    before = (cudnn.benchmark, cudnn.deterministic, torch.are_deterministic_algorithms_enabled())
    net = ECGClassifier(device="cuda", random_state=0)
    with net._determinism():
        assert (cudnn.benchmark, cudnn.deterministic) == (False, True)
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE_CONFIG
    assert (cudnn.benchmark, cudnn.deterministic, torch.are_deterministic_algorithms_enabled()) == before
    with ECGClassifier(device="cuda", random_state=0, deterministic=False)._determinism():
        assert cudnn.benchmark and not torch.are_deterministic_algorithms_enabled()
    with ECGClassifier(device="cpu", random_state=0)._determinism():  # CPUs: nothing changed
        assert (cudnn.benchmark, cudnn.deterministic, torch.are_deterministic_algorithms_enabled()) == before


def test_user_cublas_setting_is_kept(monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    with deterministic_context(determinism_settings("cuda", 0)):
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"

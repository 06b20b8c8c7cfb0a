"""skorch pieces shared by skecg's networks (:class:`~skecg.models.ECGClassifier`,
:class:`~skecg.models.WaveSegmenter`): default callbacks, per-epoch validation
scores, a one-line-per-epoch log, and checkpoints that resume a fit exactly."""

from __future__ import annotations

import glob
import json
import os
import re
import sys

import numpy as np
import torch
from sklearn.metrics import f1_score, roc_auc_score
from skorch.callbacks import (Callback, Checkpoint, EarlyStopping, EpochTimer, LoadInitState, PassthroughScoring,
                              PrintLog, ProgressBar)

from ..labels import equivalence_map, load_weights
from ..metrics import challenge_score

#: validation scores an ECGClassifier can record per epoch (``epoch_scoring``), as
#: ``valid_<name>`` in its history; all are higher-is-better
EPOCH_SCORES = ("auroc", "challenge", "f1")


def silent(*args, **kwargs):
    """A picklable sink that prints nothing (early-stopping messages)."""


class _EarlyStopping(EarlyStopping):
    """Early stopping that waits while an epoch has no validation score (a data set
    too small for a validation part trains without one, see ``valid_size``)."""

    def on_epoch_end(self, net, **kwargs):
        if self.monitor in net.history[-1]:
            super().on_epoch_end(net, **kwargs)


def lower_is_better(monitor: str) -> bool:
    """Whether a smaller value of the history key ``monitor`` is better: losses are,
    scores (``valid_auroc``, ``valid_challenge``, ``valid_f1``) are not.

    Examples
    --------
    >>> lower_is_better("valid_loss"), lower_is_better("valid_auroc")
    (True, False)
    """
    return monitor.endswith("loss")


def default_callbacks(net, *, validation: bool, early_stopping=EarlyStopping, sink=silent, extra=(),
                      scores=()) -> list:
    """The default skorch callbacks of a skecg net, in order: epoch timer, training
    loss, then with ``validation`` the validation loss, the validation ``scores``
    (:class:`ValidationScores`) and (when ``net.patience``) early stopping on
    ``net.monitor`` (default ``'valid_loss'``) that restores the best weights, then
    ``extra`` (e.g. a learning-rate schedule), a progress bar (``net.progress_bar``)
    and the printed log (``net.verbose``).

    Parameters
    ----------
    net : skorch NeuralNet
        Read for ``patience``, ``progress_bar``, ``verbose`` and ``monitor``.
    validation : bool
        Whether the net scores a validation part.
    early_stopping : class, default=skorch.callbacks.EarlyStopping
    sink : callable, default=silent
        Where early stopping writes its message.
    extra : sequence of (name, callback)
    scores : sequence of str
        Names from :data:`EPOCH_SCORES`.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> net = SimpleNamespace(patience=5, progress_bar=False, verbose=0)
    >>> [name for name, _ in default_callbacks(net, validation=True)]
    ['epoch_timer', 'train_loss', 'valid_loss', 'early_stopping']
    >>> net.monitor = "valid_auroc"
    >>> cbs = dict(default_callbacks(net, validation=True, scores=["auroc"]))
    >>> cbs["early_stopping"].monitor, cbs["early_stopping"].lower_is_better
    ('valid_auroc', False)
    """
    cbs = [("epoch_timer", EpochTimer()),
           ("train_loss", PassthroughScoring(name="train_loss", on_train=True))]
    if validation:
        cbs.append(("valid_loss", PassthroughScoring(name="valid_loss")))
        if scores:
            cbs.append(("valid_scores", ValidationScores(tuple(scores))))
        if net.patience:
            monitor = getattr(net, "monitor", None) or "valid_loss"
            cbs.append(("early_stopping", early_stopping(monitor=monitor, patience=int(net.patience),
                                                         lower_is_better=lower_is_better(monitor),
                                                         load_best=True, sink=sink)))
    cbs.extend(extra)
    if net.progress_bar:
        cbs.append(("progress_bar", ProgressBar()))
    if net.verbose:
        cbs.append(("print_log", PrintLog()))
    return cbs


class ValidationScores(Callback):
    """Validation scores of each epoch from the validation pass's own outputs (no
    second pass): ``valid_auroc`` (macro AUROC over the classes with positives and
    negatives in the validation part), ``valid_challenge`` (the PhysioNet/CinC 2020
    challenge score at the net's ``threshold``; recorded only when every class is a
    code the challenge scores) and ``valid_f1`` (macro F1 at ``threshold``), each with
    its ``*_best`` flag, as skorch's scoring callbacks write them.

    Parameters
    ----------
    scores : sequence of str, default=('auroc', 'challenge')
        Names from :data:`EPOCH_SCORES`.

    Examples
    --------
    >>> ValidationScores(["auroc"]).scores
    ('auroc',)
    """

    def __init__(self, scores=("auroc", "challenge")):
        self.scores = tuple(scores)

    def initialize(self):
        bad = [s for s in self.scores if s not in EPOCH_SCORES]
        if bad:
            raise ValueError(f"unknown epoch score(s) {bad}; choose from {list(EPOCH_SCORES)}")
        self.best_ = {}
        self.outputs_, self.labels_ = [], []
        return self

    def on_train_begin(self, net, **kwargs):
        self.best_ = {}
        # valid_challenge only where the 2020 challenge scores every class (ECGClassifier refuses
        # monitor='valid_challenge' elsewhere, before training)
        self.challenge_ok_ = "challenge" in self.scores and _challenge_scores(getattr(net, "classes_", None))

    def on_epoch_begin(self, net, **kwargs):
        self.outputs_, self.labels_ = [], []

    def on_batch_end(self, net, batch=None, training=None, y_pred=None, **kwargs):
        if training or y_pred is None or batch is None or batch[1] is None:
            return
        if isinstance(y_pred, tuple):
            y_pred = y_pred[0]
        self.outputs_.append(y_pred.detach())
        self.labels_.append(batch[1].detach())

    def on_epoch_end(self, net, **kwargs):
        if not self.outputs_:
            return
        logits, labels = torch.cat(self.outputs_).float(), torch.cat(self.labels_).float().to(self.outputs_[0].device)
        acc = getattr(net, "accelerator", None)
        if acc is not None and acc.num_processes > 1:  # every process scores all processes' records
            logits, labels = _gather_rows(acc, logits), _gather_rows(acc, labels)
        logits = logits.cpu().numpy()
        y = (labels.cpu().numpy() > 0.5).astype(np.int8)
        self.outputs_, self.labels_ = [], []
        proba = 1.0 / (1.0 + np.exp(-logits))
        pred = None
        if {"challenge", "f1"} & set(self.scores):
            t = np.broadcast_to(np.asarray(net.threshold, dtype=float), (y.shape[1],))
            pred = (proba >= t).astype(np.int8)
        for name in self.scores:
            if name == "auroc":
                value = macro_auroc(y, proba)
            elif name == "challenge":
                if not self.challenge_ok_:
                    continue
                value = challenge_score(y, pred, list(net.classes_))
            else:
                value = float(f1_score(y, pred, average="macro", zero_division=0))
            key = "valid_" + name
            net.history.record(key, float(value))
            best = self.best_.get(key, -np.inf)
            improved = bool(np.isfinite(value) and value > best)
            if improved:
                self.best_[key] = float(value)
            net.history.record(key + "_best", improved)


def _gather_rows(acc, t):
    """Rows of ``t`` from every process (different counts allowed), in process order."""
    n = acc.gather(torch.tensor([len(t)], device=t.device)).cpu().tolist()
    padded = acc.pad_across_processes(t, dim=0)
    every = acc.gather(padded)
    size = len(padded)
    return torch.cat([every[i * size:i * size + k] for i, k in enumerate(n)])


def _challenge_scores(classes) -> bool:
    if classes is None:
        return False
    scored = {equivalence_map().get(c, c) for c in load_weights()[0]}
    m = equivalence_map()
    return all(m.get(str(c), str(c)) in scored for c in classes)


def macro_auroc(y_true, proba) -> float:
    """Mean AUROC over the classes that have positives and negatives (NaN when none has).

    Examples
    --------
    >>> import numpy as np
    >>> macro_auroc(np.array([[1, 0], [0, 0], [1, 0]]), np.array([[0.9, 0.1], [0.2, 0.3], [0.8, 0.2]]))
    1.0
    """
    y_true = np.asarray(y_true)
    both = [j for j in range(y_true.shape[1]) if 0 < y_true[:, j].sum() < len(y_true)]
    if not both:
        return float("nan")
    return float(np.mean([roc_auc_score(y_true[:, j], proba[:, j]) for j in both]))


def _fmt_seconds(s: float) -> str:
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class EpochLog(Callback):
    """One line per epoch: epoch, losses, validation scores, seconds per epoch and the
    time left (ETA) if training runs to ``max_epochs``, written to ``sink``
    (standard error by default).  A resumed fit counts its epochs from the
    checkpoint's.

    Examples
    --------
    >>> import io
    >>> from types import SimpleNamespace
    >>> out = io.StringIO()
    >>> log = EpochLog(sink=out).initialize()
    >>> net = SimpleNamespace(max_epochs=4, history=[{"epoch": 1, "train_loss": 0.5, "valid_loss": 0.6,
    ...                                               "valid_auroc": 0.7, "dur": 12.0}])
    >>> log.on_epoch_end(net)
    >>> out.getvalue().split()[:3]
    ['epoch', '1/4', 'train_loss']
    """

    keys = ("train_loss", "valid_loss", "valid_auroc", "valid_challenge", "valid_f1")

    def __init__(self, sink=None):
        self.sink = sink

    def initialize(self):
        self.durations_ = []
        return self

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        self.durations_.append(float(row.get("dur", 0.0)))
        done, total = int(row["epoch"]), int(net.max_epochs)
        parts = [f"epoch {done}/{total}"]
        parts += [f"{k} {row[k]:.4f}" for k in self.keys if k in row and row[k] is not None]
        per = float(np.mean(self.durations_[-5:]))
        parts.append(f"{per:.1f} s/epoch")
        parts.append(f"ETA {_fmt_seconds(per * max(total - done, 0))}")
        sink = self.sink or sys.stderr
        print("  ".join(parts), file=sink, flush=True)


# --- checkpoints that resume exactly ------------------------------------------------------------
_EPOCH_FILE = re.compile(r"^(params|optimizer|criterion|state)_(\d+)\.pt$")


class TrainingCheckpoint(Checkpoint):
    """skorch's ``Checkpoint`` after every epoch, plus what an exact resume needs.

    Each fit writes into its own subfolder of ``dirname``, named by a fingerprint of
    the fit (seed, data shape, classes, labels, network settings; so the several fits
    of one pipeline, e.g. the first and second fit of a
    :class:`~skecg.ensemble.PseudoLabelRelabeler` or the members of a
    :class:`~skecg.ensemble.LengthEnsemble`, keep apart).  Each epoch writes skorch's
    files (``params_<epoch>.pt``, ``optimizer_<epoch>.pt``, ``criterion_<epoch>.pt``,
    ``history.json``) and ``state_<epoch>.pt``: the random state of torch (CPU and
    CUDA), of the batch order and of the loader, and the state of the learning-rate
    schedules, early stopping (with its best weights), scoring callbacks and the
    gradient scaler.  ``history.json`` is written last and atomically, and it names the
    epoch the other files belong to, so a process killed at any moment leaves a
    complete checkpoint (the previous epoch's until the new one is whole); older
    epochs' files are then removed.  Every file is tensors or JSON: loading runs
    ``torch.load(weights_only=True)`` and executes nothing.

    Put it after skecg's own callbacks (``callbacks=`` does), and resume with
    :class:`LoadTrainingState`.  Works with skecg's networks (:class:`~skecg.models.ECGClassifier`,
    :class:`~skecg.models.WaveSegmenter`).

    Parameters
    ----------
    dirname : str or Path
        The checkpoint folder (created).

    Examples
    --------
    >>> import tempfile
    >>> cp = TrainingCheckpoint(tempfile.mkdtemp())
    >>> cp.f_params, cp.monitor
    ('params_{last_epoch[epoch]}.pt', None)
    """

    def __init__(self, dirname, **kwargs):
        kwargs.setdefault("monitor", None)
        kwargs.setdefault("f_params", "params_{last_epoch[epoch]}.pt")
        kwargs.setdefault("f_optimizer", "optimizer_{last_epoch[epoch]}.pt")
        kwargs.setdefault("f_criterion", "criterion_{last_epoch[epoch]}.pt")
        kwargs.setdefault("f_history", "history.json")
        super().__init__(dirname=str(dirname), **kwargs)

    def fit_dir(self, net) -> str:
        """This fit's subfolder (created), from ``net``'s fit fingerprint."""
        path = os.path.join(self.dirname, net._fit_key())
        os.makedirs(path, exist_ok=True)
        self.fit_dir_ = path
        return path

    def _dir(self) -> str:
        return getattr(self, "fit_dir_", None) or self.dirname

    def on_train_begin(self, net, **kwargs):
        self.fit_dir(net)

    @property
    def f_history_(self):
        return None if self.f_history is None else os.path.join(self._dir(), self.fn_prefix + self.f_history)

    def _format_target(self, net, f, idx):
        if not isinstance(f, str):
            return f
        return os.path.join(self._dir(), self.fn_prefix + f.format(
            net=net, last_epoch=net.history[idx], last_batch=net.history[idx, "batches", -1]))

    def state_file(self, epoch: int) -> str:
        return os.path.join(self._dir(), f"state_{int(epoch)}.pt")

    def saved_epoch(self):
        """The epoch of the complete checkpoint of the current fit, or ``None``."""
        path = self.f_history_
        if not path or not os.path.exists(path):
            return None
        with open(path) as fh:
            hist = json.load(fh)
        return int(hist[-1]["epoch"]) if hist else None

    def save_model(self, net):
        epoch = int(net.history[-1, "epoch"])
        _atomic_torch_save(net._training_state(), self.state_file(epoch))
        super().save_model(net)  # skorch: params, optimizer, criterion, then history.json (last)
        folder = self._dir()
        for path in glob.glob(os.path.join(glob.escape(folder), "*_*.pt")):
            m = _EPOCH_FILE.match(os.path.basename(path))
            if m and int(m.group(2)) != epoch:
                os.remove(path)

    def _save_params(self, f, net, f_name, log_name):
        # skorch's writes each file in place and only logs a failure; here a file is
        # written beside its target and renamed over it, and a failure is an error
        tmp = f"{f}.tmp"
        net.save_params(**{f_name: tmp, "use_safetensors": self.use_safetensors})
        os.replace(tmp, f)


def _atomic_torch_save(obj, path):
    tmp = f"{path}.tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


class LoadTrainingState(LoadInitState):
    """skorch's ``LoadInitState`` for a :class:`TrainingCheckpoint`: when the fit
    begins and the checkpoint folder holds a checkpoint, its weights, optimizer,
    criterion, history and training state are loaded, and ``fit`` trains the epochs
    left up to ``max_epochs``.  A fit resumed this way ends with the same weights and
    history as one never interrupted (``tests/models/test_resume.py``).  An empty folder
    starts a fresh fit.

    Only a checkpoint of the same fit (same seed, data shape, classes, labels and
    network settings; see :class:`TrainingCheckpoint`) is resumed; a damaged one (a
    file missing) is refused with a ``ValueError`` rather than skipped.
    ``resumed_epoch_`` is the epoch resumed from (``None``: a fresh fit).

    Parameters
    ----------
    checkpoint : TrainingCheckpoint

    Examples
    --------
    >>> import tempfile
    >>> cp = TrainingCheckpoint(tempfile.mkdtemp())
    >>> net_callbacks = [("checkpoint", cp), ("resume", LoadTrainingState(cp))]
    """

    def initialize(self):
        super().initialize()
        self.resumed_epoch_ = None
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if self.did_load_:
            return
        self.did_load_ = True
        cp = self.checkpoint
        cp.fit_dir(net)
        epoch = cp.saved_epoch()
        if epoch is None:
            return
        state_path = cp.state_file(epoch)
        try:
            state = torch.load(state_path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise ValueError(f"checkpoint {cp._dir()} is incomplete: {os.path.basename(state_path)} of epoch "
                             f"{epoch} is missing; delete the folder to start over") from None
        net._check_training_state(state, cp._dir())
        try:
            net.load_params(checkpoint=cp)  # skorch: history, params, optimizer, criterion (weights only)
        except FileNotFoundError as e:
            raise ValueError(f"checkpoint {cp._dir()} is incomplete ({e}); delete the folder to start "
                             "over") from None
        net._restore_training_state(state)
        self.resumed_epoch_ = epoch

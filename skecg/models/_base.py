"""ECGNet: the skorch base of skecg's networks.

:class:`~skecg.models.ECGClassifier` (multilabel classification of records) and
:class:`~skecg.models.WaveSegmenter` (sample-wise wave segmentation) are both an
:class:`ECGNet`.  What they share lives here, once:

- the data path: input checked by shape (a lazy :class:`~skecg.ECGRecords` is not
  read), wrapped, never copied, in an :class:`~skecg.models.ECGDataset`
  (``get_dataset``); batches come from a torch ``DataLoader`` over a
  :class:`~skecg.models.BatchSampler` (``get_iterator``, ``iterator_train__*`` /
  ``iterator_valid__*``) and reach a CUDA device one batch ahead
  (:class:`~skecg.models.DevicePrefetcher`); inference runs through ``forward_iter``;
- the validation split: ``train_split='auto'`` is a
  :class:`~skecg.models.PatientSplit` of ``valid_size`` (patients from the records'
  ``meta['patient_id']``, or from ``fit(X, y, groups=...)``);
- the device (``'auto'``, ``'cpu'``, ``'cuda'``), autocast precision (a gradient
  scaler with float16), seeding, and deterministic kernels on CUDA;
- the default callbacks (early stopping that restores the best weights, progress
  bar, printed log) and checkpoints that resume a fit exactly
  (:class:`~skecg.models.TrainingCheckpoint`, :class:`~skecg.models.LoadTrainingState`);
- weights-only persistence (:meth:`ECGNet.save_weights`, :meth:`ECGNet.load_weights`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import warnings
from numbers import Integral

import numpy as np
import pandas as pd
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, LRScheduler
from skorch.callbacks.scoring import PassthroughScoring, ScoringBase
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator, is_dataset

from .._records import records_of
from ..utils.validation import ECGInputMixin, check_finite_records, net_parameter_constraints
from ._data import ECGDataset, make_loader, to_device
from ._device import PRECISIONS, amp_dtype, determinism_settings, deterministic_context, resolve_device
from ._skorch_common import ValidationScores, _EarlyStopping, default_callbacks, silent
from ._split import PatientSplit

#: the fit parameters an :class:`ECGNet` takes besides ``X`` and ``y``
FIT_PARAMS = ("groups",)


def on_device(method):
    """Run ``method`` with the net's ``device`` resolved (``'auto'``: CUDA where torch
    sees a GPU, else the CPU) and put back after, see :meth:`ECGNet._on_device`."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with self._on_device():
            return method(self, *args, **kwargs)
    return run


class ECGNet(ECGInputMixin, NeuralNet):
    """The skorch base of skecg's networks over 3-D ECG input.

    Not used directly: :class:`~skecg.models.ECGClassifier` and
    :class:`~skecg.models.WaveSegmenter` are its subclasses, and document the
    parameters below (shared by both) with their defaults.

    Parameters
    ----------
    module, criterion, optimizer, lr, max_epochs, batch_size
        skorch's.
    patience : int or None
        Early stopping on the validation loss (or ``monitor``), restoring the best weights.
    valid_size : float
        Validation share of ``train_split='auto'`` (a
        :class:`~skecg.models.PatientSplit`: by patient); 0 trains without validation.
    inference_batch_size : int or None
        Batch size of prediction and validation; ``None``: 16 on CPUs, 256 on GPUs.
    precision : {'auto', 'fp32', 'bf16', 'fp16'}
        Autocast (see :func:`~skecg.models.amp_dtype`).
    random_state : int or None
        Seeds initialisation, shuffling, dropout and the split; the global torch random
        state is left as it was.
    deterministic : 'auto', True or False
        Deterministic kernels on CUDA (see :func:`~skecg.models.determinism_settings`).
    device : {'cpu', 'cuda', 'auto'} or torch.device
        ``'auto'``: CUDA where torch sees a GPU, else the CPU (resolved at each fit and
        prediction; the parameter keeps its value).
    progress_bar : bool
    callbacks : list of (name, skorch callback), optional
        Added to skecg's own.
    verbose : int
    **kwargs
        skorch's prefixed parameters (``module__*``, ``iterator_train__*``, ...);
        ``train_split`` defaults to ``'auto'`` and ``dataset`` to
        :class:`~skecg.models.ECGDataset`.

    Notes
    -----
    ``fit`` takes ``X``, ``y`` and ``groups`` (the patient of each record, for the
    validation split instead of ``meta['patient_id']``).  No fit parameter reaches
    the network's ``forward``; any other one (``sample_weight`` included) raises a
    ``TypeError``.
    """

    _parameter_constraints: dict = {
        **net_parameter_constraints(),
        "inference_batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "precision": [StrOptions(set(PRECISIONS))],
        "deterministic": [StrOptions({"auto"}), "boolean"],
    }

    #: parameters that may change between a fit and its resumption (more epochs, another
    #: device, other loader or logging settings); any other setting keys the checkpoint
    _RESUMABLE_CHANGES = ("max_epochs", "callbacks", "device", "verbose", "progress_bar", "inference_batch_size",
                          "patience", "monitor", "epoch_scoring", "deterministic", "compile")

    def __init__(self, module, criterion, *, optimizer, lr, max_epochs, batch_size, patience, valid_size,
                 inference_batch_size, precision, random_state, deterministic, device, progress_bar, callbacks,
                 verbose, **kwargs):
        kwargs.setdefault("train_split", "auto")
        kwargs.setdefault("dataset", ECGDataset)
        super().__init__(module, criterion, optimizer=optimizer, lr=lr, max_epochs=max_epochs,
                         batch_size=batch_size, callbacks=callbacks, verbose=verbose, device=device, **kwargs)
        self.patience = patience
        self.valid_size = valid_size
        self.inference_batch_size = inference_batch_size
        self.precision = precision
        self.random_state = random_state
        self.deterministic = deterministic
        self.progress_bar = progress_bar

    # -- device, precision, seeding -------------------------------------------------------
    def _run_device(self):
        """The device this net computes on: ``device`` with ``'auto'`` resolved."""
        return resolve_device(self.device)

    @contextlib.contextmanager
    def _on_device(self):
        """``device`` resolved (:meth:`_run_device`) for the duration of the block and
        put back after, so that ``get_params`` keeps what the user set."""
        given, run = self.device, self._run_device()
        if run is given or (isinstance(run, str) and isinstance(given, str) and run == given):
            yield
            return
        self.device = run
        try:
            yield
        finally:
            self.device = given

    def _initialize_module(self, reason=None):
        with self._on_device():  # skorch moves the module to self.device
            return super()._initialize_module(reason=reason)

    def _initialize_criterion(self, reason=None):
        with self._on_device():
            return super()._initialize_criterion(reason=reason)

    @on_device
    def forward(self, X, training=False, device="cpu"):
        """skorch's ``forward`` (network outputs of all of ``X``), on the resolved device."""
        return super().forward(X, training=training, device=device)

    def forward_iter(self, X, training=False, device="cpu"):
        """skorch's ``forward_iter`` (network outputs batch by batch), on the resolved device."""
        with self._on_device():
            yield from super().forward_iter(X, training=training, device=device)

    @on_device
    def load_params(self, *args, **kwargs):
        """skorch's ``load_params``, mapped to the resolved device."""
        return super().load_params(*args, **kwargs)

    def __setstate__(self, state):
        # skorch maps the pickled tensors to state['device'], which must be a real device
        given = state.get("device")
        if isinstance(given, str) and given == "auto":
            state = {**state, "device": resolve_device(given)}
            super().__setstate__(state)
            self.device = given
        else:
            super().__setstate__(state)

    def _check_device_settings(self, float32_fallback=False):
        """Precision and compilation for ``device``; sets ``amp_dtype_`` and the scaler.

        ``float32_fallback`` (loading weights): a precision this device lacks (bf16 weights
        trained on a CPU that has it, loaded on one that does not) warns and predicts in
        float32 instead of raising."""
        try:
            self.amp_dtype_ = amp_dtype(self.device, self.precision)
        except ValueError as e:
            if not float32_fallback or self.precision not in PRECISIONS:
                raise
            warnings.warn(f"{e}: predicting in float32 (set_params(precision=...) to choose)", UserWarning,
                          stacklevel=3)
            self.amp_dtype_ = None
        if self.compile and torch.device(self.device).type != "cuda":
            raise ValueError("compile=True is supported on CUDA devices only; on CPUs the networks run skecg's "
                             "own fast path (fused kernels, see module__as_conv2d), which torch.compile is not "
                             "set up for: leave compile=False")
        self.grad_scaler_ = torch.amp.GradScaler("cuda") if self.amp_dtype_ == torch.float16 else None

    def _determinism(self):
        """:func:`~skecg.models.determinism_settings` applied during fit and predict (restored after)."""
        return deterministic_context(determinism_settings(self.device, self.random_state, self.deterministic))

    def _new_seed(self) -> int:
        """Draw this fit's seed from ``random_state``: ``seed_`` (torch, the split) and
        ``np_rng_`` (the loaders' batch orders)."""
        rs = check_random_state(self.random_state)
        self.seed_ = int(rs.randint(0, 2**31 - 1))
        self.np_rng_ = np.random.default_rng(self.seed_)
        return self.seed_

    @contextlib.contextmanager
    def _seeded(self):
        """Torch's random state seeded with ``seed_`` and the determinism settings on, for
        the block (a fit); both are put back after, so the process is left as it was."""
        dev = torch.device(self.device)
        forked = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
        with torch.random.fork_rng(devices=forked), self._determinism():
            torch.manual_seed(self.seed_)
            yield

    def _autocast(self):
        dtype = getattr(self, "amp_dtype_", None)
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(torch.device(self.device).type, dtype=dtype)

    def _infer_bs(self) -> int:
        if self.inference_batch_size:
            return int(self.inference_batch_size)
        return 256 if torch.device(self.device).type == "cuda" else 16

    def _net(self):
        """The fitted network itself (unwrapped from ``torch.compile``)."""
        return getattr(self.module_, "_orig_mod", self.module_)

    # -- input: checked by shape, read through an ECGDataset ---------------------------------
    def _check_X(self, X, fitting: bool):
        """``X`` as an ndarray of float32 or an ECGRecords, checked by shape alone (a lazy
        container is not read; it checks each batch it reads)."""
        if records_of(X) is not None:
            shape = X.shape
            if None in shape[1:]:
                raise ValueError("records have different lengths or lead counts; resample and pad them first "
                                 "(skecg.preprocessing.Resampler, PadTruncate)")
            if not X.is_lazy:
                check_finite_records(X, X.signals)  # cheap in memory
        else:
            if isinstance(X, torch.Tensor):
                X = X.detach().cpu().numpy()
            elif isinstance(X, (list, tuple)):
                X = _stack_records(X)
            X = np.asarray(X)
            if X.ndim != 3:
                hint = "; for one lead use X[:, None, :]" if X.ndim == 2 else ""
                raise ValueError(f"X must be 3-D (n_records, n_leads, n_samples), got shape {X.shape}{hint}")
            X = np.ascontiguousarray(X, dtype=np.float32)
            check_finite_records(X, X)
            shape = X.shape
        if shape[0] == 0:
            raise ValueError("X holds no records")
        if not fitting:
            renamed = getattr(self, "leads_", None) is not None and records_of(X) is not None
            if shape[1] != self.n_leads_ and not renamed:
                raise ValueError(f"X has {shape[1]} leads but the model was fitted on {self.n_leads_}; "
                                 "select the same leads (skecg.preprocessing.LeadSelector) first")
        return X

    def get_dataset(self, X, y=None):
        """``X`` (and ``y``) as a torch Dataset: an :class:`~skecg.models.ECGDataset` by
        default (``dataset`` and ``dataset__*`` choose another); a Dataset is kept.

        Raw input is checked first (by shape: a lazy container is not read); after
        ``fit``, records that name their leads are matched to ``leads_`` by name."""
        if is_dataset(X):
            return X
        fitted = hasattr(self, "classes_")
        X = self._check_X(X, fitting=not fitted)
        return self._make_dataset(X, y, getattr(self, "leads_", None) if fitted else None)

    def _make_dataset(self, X, y, leads):
        if not callable(self.dataset):
            return self.dataset
        kwargs = self.get_params_for("dataset")
        if isinstance(self.dataset, type) and issubclass(self.dataset, ECGDataset):
            kwargs.setdefault("leads", leads)
        return self.dataset(X, y, **kwargs)

    def get_iterator(self, dataset, training=False):
        """A DataLoader over whole batches (see :func:`~skecg.models._data.make_loader`)
        with the ``iterator_train__*`` / ``iterator_valid__*`` settings; on CUDA,
        prefetched to the device."""
        prefix, loader_cls = ("iterator_train", self.iterator_train) if training else \
            ("iterator_valid", self.iterator_valid)
        rng = getattr(self, "np_rng_", None)
        seed = int(rng.integers(2**31 - 1)) if (training and rng is not None) else 0
        it = make_loader(dataset, loader_cls, self.get_params_for(prefix),
                         batch_size=self.batch_size if training else self._infer_bs(),
                         shuffle=training, seed=seed, device=self.device)
        if training:  # the loader whose random state a checkpoint keeps (TrainingCheckpoint)
            self._train_loader_ = getattr(it, "loader", it)
            pending = self.__dict__.pop("_pending_loader_state_", None)
            if pending is not None:
                _set_loader_state(self._train_loader_, pending)
        return it

    # -- fit parameters and the validation split ----------------------------------------------
    def _check_fit_params(self, fit_params: dict, n: int):
        """The fit parameters checked: ``groups`` (one per record) or ``None``; any other
        one raises a ``TypeError`` (none reaches the network's ``forward``)."""
        unknown = sorted(set(fit_params) - set(FIT_PARAMS))
        if unknown:
            why = (" (sample weights are not supported: the loss weighs every record alike)"
                   if "sample_weight" in unknown else "")
            raise TypeError(f"{type(self).__name__}.fit got unsupported fit parameter(s) {unknown}{why}; it takes "
                            "X, y and groups= (the patient of each record, for the validation split)")
        groups = fit_params.get("groups")
        if groups is None:
            return None
        groups = pd.Series(np.asarray(groups, dtype=object).reshape(-1) if np.ndim(groups) else [groups])
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} values for {n} records; give one patient per record")
        missing = groups.isna().to_numpy()
        out = groups.astype(str).to_numpy(dtype=object)
        out[missing] = [f"\0record {i}" for i in np.flatnonzero(missing)]  # unknown: a patient of its own
        return out

    def _has_validation(self) -> bool:
        return bool(self.valid_size) if self.train_split == "auto" else self.train_split is not None

    def _split_labels(self, dataset):
        """What the split balances over (``None``: the dataset's own ``y``)."""
        return None

    def get_split_datasets(self, X, y=None, **fit_params):
        """Training and validation datasets from ``train_split`` (``'auto'``:
        :class:`~skecg.models.PatientSplit` with ``valid_size``); ``groups`` given to
        ``fit`` go to the split."""
        dataset = self.get_dataset(X, y)
        split = self.train_split
        if split == "auto":
            split = None
            if self.valid_size:
                split = PatientSplit(self.valid_size, random_state=getattr(self, "seed_", None), on_empty="warn")
        groups = self.__dict__.pop("_split_groups_", None)
        if split is None:  # no validation: groups have nothing to do
            self._valid_dataset_ = None
            return dataset, None
        kwargs = dict(fit_params)
        if groups is not None:
            if not _takes_groups(split):
                raise TypeError(f"groups= is for a split that takes them (train_split='auto' or a PatientSplit); "
                                f"train_split={split!r} does not")
            kwargs["groups"] = groups
        labels = self._split_labels(dataset) if y is None else y
        train, valid = split(dataset, **kwargs) if labels is None else split(dataset, labels, **kwargs)
        self._valid_dataset_ = valid
        return train, valid

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """skorch's loop, fed by the data path; ``groups`` go to the validation split
        only (no fit parameter reaches ``forward``).  A fit resumed from a checkpoint
        trains the epochs left up to ``max_epochs``, and an interrupt (not early
        stopping) sets ``interrupted_``."""
        # skorch's own keyword (which entry point routes metadata), passed on as it came
        routing = {k: fit_params.pop(k) for k in ("_routing_method",) if k in fit_params}
        groups = self._check_fit_params(fit_params, len(X))
        resumed = self.__dict__.pop("_resumed_epochs_", None)
        if epochs is None and resumed is not None:
            epochs = max(int(self.max_epochs) - resumed, 0)
        if groups is not None:
            self._split_groups_ = groups
        try:
            return super().fit_loop(X, y, epochs=epochs, **routing)
        except KeyboardInterrupt:
            stopped = any(isinstance(cb, EarlyStopping) and cb.misses_ >= cb.patience
                          for _, cb in self.callbacks_)
            self.interrupted_ = not stopped
            raise
        finally:
            self.__dict__.pop("_split_groups_", None)

    def _forget_data(self) -> None:
        """Drop what a fit held of its data (the model keeps no reference to it)."""
        for key in ("_valid_dataset_", "_train_loader_", "_resumed_epochs_", "_pending_loader_state_"):
            self.__dict__.pop(key, None)

    # -- skorch hooks: callbacks, steps, epochs, inference ----------------------------------------
    def get_default_callbacks(self):
        return default_callbacks(self, validation=self._has_validation(), early_stopping=_EarlyStopping,
                                 sink=silent)

    def infer(self, x, **fit_params):
        """The network's output on one batch (on the device, under autocast when set)."""
        x = to_device(x, self.device)
        with self._autocast():
            return self.module_(x, **fit_params)

    def _training_input(self, x):
        """A training batch as the network sees it (subclasses augment here)."""
        return x

    def train_step_single(self, batch, **fit_params):
        Xi, yi = unpack_data(batch)
        return super().train_step_single((self._training_input(Xi), yi), **fit_params)

    def train_step(self, batch, **fit_params):
        """skorch's step; with fp16 autocast the loss is scaled (``torch.amp.GradScaler``)."""
        scaler = getattr(self, "grad_scaler_", None)
        if scaler is None:
            return super().train_step(batch, **fit_params)
        self._zero_grad_optimizer()
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(self._training_input(Xi), **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler.scale(loss).backward()
        scaler.unscale_(self.optimizer_)  # callbacks (e.g. gradient clipping) see true gradients
        self.notify("on_grad_computed", named_parameters=TeeGenerator(self.get_all_learnable_params()),
                    batch=batch, training=True)
        scaler.step(self.optimizer_)
        scaler.update()
        return {"loss": loss, "y_pred": y_pred}

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch loop, but batch losses are read back from the device once per
        epoch rather than after every batch (``.item()`` stalls a GPU each time).
        With a progress bar, losses are read per batch as skorch does."""
        if iterator is None:
            return
        if self.progress_bar:
            return super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        losses, sizes = [], []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            losses.append(step["loss"].detach())
            sizes.append(len(batch[0]))
            self.notify("on_batch_end", batch=batch, training=training, **step)
        batches = self.history[-1]["batches"][-len(losses):] if losses else []
        for entry, loss, size in zip(batches, torch.stack(losses).float().cpu().tolist() if losses else [], sizes):
            entry[prefix + "_loss"] = loss
            entry[prefix + "_batch_size"] = size
        self.history.record(prefix + "_batch_count", len(losses))

    def evaluation_step(self, batch, training=False):
        """One batch of inference under ``torch.inference_mode``: the network's output by
        default, or what ``_outputs`` asks for (:meth:`_evaluate`)."""
        self.check_is_fitted()
        Xi, _ = unpack_data(batch)
        self._set_training(training)
        what = getattr(self, "_output_", "logits")
        with (torch.enable_grad() if training else torch.inference_mode()):
            x = to_device(Xi, self.device)
            with self._autocast():
                out = self._evaluate(x, what)
            return out.float()

    def _evaluate(self, x, what: str):
        """The network's output on a batch on the device: ``'logits'``, or ``'proba'``
        (``predict_nonlinearity`` applied)."""
        out = self.module_(x)
        if isinstance(out, tuple):
            out = out[0]
        if what == "proba":
            out = self._proba_nonlinearity()(out.float())
        return out

    def _auto_nonlinearity(self, logits):
        """What ``predict_nonlinearity='auto'`` applies to the logits."""
        raise NotImplementedError

    def _proba_nonlinearity(self):
        """What turns logits into ``predict_proba``'s outputs: ``predict_nonlinearity``,
        where ``'auto'`` is the net's own (:meth:`_auto_nonlinearity`; skorch's 'auto'
        would guess from the criterion) and ``None`` keeps the logits."""
        f = getattr(self, "predict_nonlinearity", "auto")
        if isinstance(f, str) and f == "auto":
            return self._auto_nonlinearity
        if f is None:
            return _identity
        return f

    def _outputs(self, X, what: str) -> np.ndarray:
        """``forward_iter`` over ``X`` (data or a dataset), asking each batch for ``what``."""
        self._output_ = what
        try:
            with self._determinism():
                # outputs stay on the device until the end: a copy back per batch would
                # make the host wait for each batch's compute before queueing the next
                parts = list(self.forward_iter(X, training=False, device=self.device))
        finally:
            del self._output_
        return torch.cat(parts).cpu().numpy()

    # -- training state for exact resumption (TrainingCheckpoint / LoadTrainingState) ---------------
    def _training_state(self) -> dict:
        """What a checkpoint keeps beyond skorch's files: random states and callbacks' state."""
        state = {"epoch": int(self.history[-1, "epoch"]),
                 "signature": json.dumps(getattr(self, "_fit_signature_", None)),
                 "torch_rng": torch.get_rng_state()}
        dev = torch.device(self.device)
        if dev.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(dev)
        loader = getattr(self, "_train_loader_", None)
        if loader is not None:
            state["loader"] = _loader_state(loader)
        if getattr(self, "grad_scaler_", None) is not None:
            state["grad_scaler"] = self.grad_scaler_.state_dict()
        cbs = {}
        for name, cb in self.callbacks_:
            entry = {}
            if isinstance(cb, LRScheduler) and getattr(cb, "lr_scheduler_", None) is not None:
                entry["scheduler"] = cb.lr_scheduler_.state_dict()
                entry["batch_idx"] = int(cb.batch_idx_)
            if isinstance(cb, EarlyStopping):
                entry["early_stopping"] = {"misses": int(cb.misses_), "threshold": float(cb.dynamic_threshold_),
                                           "best_epoch": int(cb.best_epoch_)}
                if cb.best_model_weights_ is not None:
                    entry["best_weights"] = {k: v.detach().cpu().clone()
                                             for k, v in cb.best_model_weights_.items()}
            if isinstance(cb, (ScoringBase, PassthroughScoring)):
                entry["best_score"] = float(cb.best_score_)
            if isinstance(cb, ValidationScores):
                entry["best_scores"] = dict(cb.best_)
            if entry:
                cbs[name] = entry
        state["callbacks"] = cbs
        return state

    def _signature(self, X, y, groups=None) -> dict:
        """What identifies a fit for its checkpoint: seed, data shape, classes, labels
        (and patients, when given to ``fit``) and the settings that shape the training."""
        params = {k: repr(sorted(v, key=repr) if isinstance(v, (set, frozenset)) else v)
                  for k, v in sorted(self.get_params(deep=False).items())
                  if not (k in self._RESUMABLE_CHANGES or k.startswith(("_", "iterator_", "callbacks__", "compile__")))}
        y8 = np.ascontiguousarray(np.asarray(y, dtype=np.int8))
        sig = {"seed": self.seed_, "shape": [len(X), *(int(v) for v in X.shape[1:]), int(self.n_classes_)],
               "classes": [str(c) for c in self.classes_], "labels": hashlib.sha256(y8.tobytes()).hexdigest(),
               "params": hashlib.sha256(json.dumps(params).encode()).hexdigest()}
        if groups is not None:
            sig["groups"] = hashlib.sha256(json.dumps([str(g) for g in groups]).encode()).hexdigest()
        return sig

    def _fit_key(self) -> str:
        """The folder name of this fit in a :class:`~skecg.models.TrainingCheckpoint`."""
        sig = json.dumps(getattr(self, "_fit_signature_", None), sort_keys=True)
        return "fit-" + hashlib.sha256(sig.encode()).hexdigest()[:16]

    def _check_training_state(self, state: dict, where) -> None:
        saved = json.loads(state.get("signature") or "null")
        mine = getattr(self, "_fit_signature_", None)
        if saved != mine:
            def say(sig):
                return ("unknown" if not sig else f"seed {sig['seed']}, {sig['shape'][0]} records of "
                        f"{sig['shape'][1]} leads x {sig['shape'][2]} samples, {sig['shape'][3]} classes")
            raise ValueError(f"checkpoint {where} belongs to another fit ({say(saved)}); this fit has {say(mine)}: "
                             "resume with the same data, random_state and settings, or delete the folder to "
                             "start over")

    def _restore_training_state(self, state: dict) -> None:
        """Set the state :meth:`_training_state` saved (after skorch loaded its files)."""
        torch.set_rng_state(state["torch_rng"])
        dev = torch.device(self.device)
        if dev.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], dev)
        if "loader" in state:  # the training loader is built after this, in fit_loop
            self._pending_loader_state_ = state["loader"]
        if "grad_scaler" in state and getattr(self, "grad_scaler_", None) is not None:
            self.grad_scaler_.load_state_dict(state["grad_scaler"])
        saved = state.get("callbacks", {})
        for name, cb in self.callbacks_:
            entry = saved.get(name)
            if not entry:
                continue
            if "scheduler" in entry and getattr(cb, "lr_scheduler_", None) is not None:
                cb.lr_scheduler_.load_state_dict(entry["scheduler"])
                cb.batch_idx_ = entry["batch_idx"]
            if "early_stopping" in entry and isinstance(cb, EarlyStopping):
                es = entry["early_stopping"]
                cb.misses_, cb.dynamic_threshold_, cb.best_epoch_ = es["misses"], es["threshold"], es["best_epoch"]
                cb.best_model_weights_ = ({k: v.to(dev) for k, v in entry["best_weights"].items()}
                                          if "best_weights" in entry else None)
            if "best_score" in entry and hasattr(cb, "best_score_"):
                cb.best_score_ = entry["best_score"]
            if "best_scores" in entry and isinstance(cb, ValidationScores):
                cb.best_ = dict(entry["best_scores"])
        self._resumed_epochs_ = int(state["epoch"])

    # -- persistence ---------------------------------------------------------------------
    def _weights_facts(self) -> dict:
        """What :meth:`save_weights` writes beside the weights (plain values and tensors)."""
        raise NotImplementedError

    def _set_weights_facts(self, state: dict) -> None:
        """The fitted attributes :meth:`load_weights` sets from a saved file."""
        raise NotImplementedError

    def save_weights(self, path) -> None:
        """Save weights and what is needed to rebuild the model (no pickled code).

        Load with ``<same class>(<same module settings>).load_weights(path)``, which
        reads the file with ``torch.load(weights_only=True)``.
        """
        check_is_fitted(self, "classes_")
        torch.save({"state_dict": {k: v.detach().cpu() for k, v in self._net().state_dict().items()},
                    **self._weights_facts()}, path)

    @on_device
    def load_weights(self, path):
        """Load weights saved by :meth:`save_weights`; returns self, ready to predict."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        self._set_weights_facts(state)
        self._check_device_settings(float32_fallback=True)
        self._initialize_for_inference()
        self._net().load_state_dict(state["state_dict"])
        self.module_.to(self.device)
        return self

    def _initialize_for_inference(self):
        """skorch's ``initialize`` without the optimizer, for a loaded model.

        A model that only predicts never needs one, and building the first torch
        optimizer imports ``torch._dynamo`` (seconds of a ``skecg predict`` run;
        ``benchmarks/predict.py --profile``).  Training a loaded model further builds it
        then (:meth:`partial_fit`).
        """
        self._initialize_virtual_params()
        self._initialize_callbacks()
        self._initialize_module()
        self._initialize_criterion()
        self._initialize_history()
        self._validate_params()
        self.initialized_ = True
        return self

    @on_device
    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """skorch's ``partial_fit``; builds the optimizer of a loaded model first.

        On a model that was never fitted this is ``fit`` (which reads the input's
        shape, the classes and the seed, then trains ``max_epochs`` epochs, as skorch's
        ``partial_fit`` of a new net does); later calls continue training."""
        if not hasattr(self, "classes_"):
            return self.fit(X, y, **fit_params)
        if getattr(self, "initialized_", False) and not hasattr(self, "optimizer_"):
            self._initialize_optimizer()
        return super().partial_fit(X, y, classes, **fit_params)


def _takes_groups(split) -> bool:
    """Whether the callable ``split`` takes a ``groups`` argument."""
    if isinstance(split, PatientSplit):
        return True
    try:
        params = inspect.signature(split).parameters
    except (TypeError, ValueError):
        return False
    return "groups" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _identity(t):
    return t


def _loader_state(loader) -> dict:
    """Random state of a training loader: its batch sampler's generator (the batch
    order) and its torch generator (worker seeds)."""
    out = {}
    sampler = getattr(loader, "batch_sampler", None)
    if isinstance(getattr(sampler, "rng", None), np.random.Generator):
        out["sampler"] = json.dumps(sampler.rng.bit_generator.state)
    gen = getattr(loader, "generator", None)
    if isinstance(gen, torch.Generator):
        out["generator"] = gen.get_state()
    return out


def _set_loader_state(loader, state: dict) -> None:
    sampler = getattr(loader, "batch_sampler", None)
    if "sampler" in state and isinstance(getattr(sampler, "rng", None), np.random.Generator):
        sampler.rng.bit_generator.state = json.loads(state["sampler"])
    gen = getattr(loader, "generator", None)
    if "generator" in state and isinstance(gen, torch.Generator):
        gen.set_state(state["generator"])


def _stack_records(records) -> np.ndarray:
    """A list of 2-D records as one 3-D array, or a ValueError that says what to do."""
    arrs = [np.asarray(r) for r in records]
    for i, a in enumerate(arrs):
        if a.ndim != 2:
            raise ValueError(f"record {i} of X has shape {a.shape}; each record must be 2-D (n_leads, n_samples)")
    shapes = sorted({a.shape for a in arrs})
    if len(shapes) > 1:
        raise ValueError(f"X is a list of {len(arrs)} records of different shapes ({shapes[0]}, {shapes[-1]} ...); "
                         "a network needs one shape: put them in skecg.ECGRecords and resample and pad them "
                         "first (skecg.preprocessing.Resampler, PadTruncate)")
    return np.stack(arrs) if arrs else np.zeros((0, 0, 0), np.float32)

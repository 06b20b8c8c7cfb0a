"""ECGClassifier: a skorch-based multilabel classifier over 3-D ECG input.

Data reach the network through skorch's own data path: ``get_dataset`` wraps the
input in an :class:`~skecg.models.ECGDataset` (whole-batch reads, nothing copied),
``get_iterator`` builds a torch ``DataLoader`` from the ``iterator_train__*`` /
``iterator_valid__*`` settings over a :class:`~skecg.models.BatchSampler`, the
validation split is a skorch ``train_split`` (:class:`~skecg.models.PatientSplit`),
and inference runs through ``forward_iter``.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, LRScheduler
from skorch.callbacks.scoring import PassthroughScoring, ScoringBase
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator, is_dataset
from sklearn.base import ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._records import ECGRecords
from ..labels import column_classes
from ..metrics import best_thresholds
from ..preprocessing import check_finite_records
from ..utils.validation import (
    ECGInputMixin,
    MultilabelClassifierMixin,
    ThresholdLabelsMixin,
    net_parameter_constraints,
    validate_params,
)
from ._data import ECGDataset, known_leads, make_loader, to_device
from ._losses import CRITERIA
from ._nets import MODULES, AttentionResNet1d, ResNet1d, keras_init_
from ._skorch_common import EPOCH_SCORES, ValidationScores, _challenge_scores, default_callbacks
from ._split import PatientSplit

PRECISIONS = ("auto", "fp32", "bf16", "fp16")

#: what ``cuBLAS`` needs for deterministic matrix products on CUDA (NVIDIA's cuBLAS
#: documentation, "Results reproducibility"); set by skecg when a deterministic fit
#: starts and the variable is unset
CUBLAS_WORKSPACE_CONFIG = ":4096:8"


def determinism_settings(device, random_state, deterministic="auto") -> dict:
    """What :class:`ECGClassifier` sets while it trains or predicts on ``device``.

    On CUDA a deterministic run (``deterministic=True``, or ``'auto'`` with a
    ``random_state``) switches cuDNN's autotuning off (``cudnn.benchmark``, which
    picks kernels by timing them, so two runs may use different ones), asks cuDNN
    for deterministic kernels (``cudnn.deterministic``) and turns on
    ``torch.use_deterministic_algorithms(True, warn_only=True)`` (an operation
    without a deterministic kernel warns instead of failing); cuBLAS needs
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8``, set when unset.  Without a
    ``random_state`` (or with ``deterministic=False``, the explicit opt-out for
    speed), cuDNN autotunes.  On other devices nothing is changed: CPU kernels give
    the same result for the same inputs and thread count.

    Parameters
    ----------
    device : str or torch.device
    random_state : int, RandomState or None
    deterministic : bool or 'auto', default='auto'

    Returns
    -------
    dict
        ``cudnn_benchmark``, ``cudnn_deterministic``, ``deterministic_algorithms``
        (each ``None`` where left as it is).

    Examples
    --------
    >>> determinism_settings("cuda", 0)
    {'cudnn_benchmark': False, 'cudnn_deterministic': True, 'deterministic_algorithms': True}
    >>> determinism_settings("cuda", 0, deterministic=False)["cudnn_benchmark"]
    True
    >>> determinism_settings("cpu", 0)["cudnn_benchmark"] is None
    True
    """
    if deterministic not in ("auto", True, False):
        raise ValueError(f"deterministic must be 'auto', True or False, got {deterministic!r}")
    if torch.device(device).type != "cuda":
        return {"cudnn_benchmark": None, "cudnn_deterministic": None, "deterministic_algorithms": None}
    det = random_state is not None if deterministic == "auto" else bool(deterministic)
    if det:
        return {"cudnn_benchmark": False, "cudnn_deterministic": True, "deterministic_algorithms": True}
    return {"cudnn_benchmark": True, "cudnn_deterministic": None, "deterministic_algorithms": None}


@contextlib.contextmanager
def deterministic_context(settings: dict):
    """Apply :func:`determinism_settings` for the duration of the block and restore
    torch's global flags after it (a fit leaves the process as it found it).

    Examples
    --------
    >>> before = torch.backends.cudnn.benchmark
    >>> with deterministic_context(determinism_settings("cuda", 0)):
    ...     torch.backends.cudnn.benchmark, torch.are_deterministic_algorithms_enabled()
    (False, True)
    >>> torch.backends.cudnn.benchmark == before, torch.are_deterministic_algorithms_enabled()
    (True, False)
    """
    with contextlib.ExitStack() as stack:
        for key, attr in (("cudnn_benchmark", "benchmark"), ("cudnn_deterministic", "deterministic")):
            if settings.get(key) is not None:
                stack.enter_context(_set_flag(torch.backends.cudnn, attr, settings[key]))
        if settings.get("deterministic_algorithms"):
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE_CONFIG)
            old = (torch.are_deterministic_algorithms_enabled(),
                   torch.is_deterministic_algorithms_warn_only_enabled())
            torch.use_deterministic_algorithms(True, warn_only=True)
            stack.callback(lambda: torch.use_deterministic_algorithms(old[0], warn_only=old[1]))
        yield


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX, as oneDNN reports).

    Where it does, ``ECGClassifier(precision='bf16')`` runs training and inference under
    bf16 autocast on the CPU (see :func:`amp_dtype`).

    Returns
    -------
    bool

    Examples
    --------
    >>> isinstance(cpu_has_native_bf16(), bool)
    True
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


def amp_dtype(device, precision: str = "auto", capability=None):
    """The autocast dtype of training and inference on ``device`` (``None``: float32).

    ``'auto'`` gives bfloat16 on CUDA GPUs that compute it natively (compute
    capability 8.0 and later: A100, H100 ...), float16 with a gradient scaler on
    older ones, and float32 (no autocast) on every other device.  On a CPU that
    computes bf16 natively (AVX512-BF16 or AMX, :func:`cpu_has_native_bf16`),
    ``'bf16'`` turns bf16 autocast on: about 2x faster training and inference on this
    project's AMD EPYC CPUs (``benchmarks/training.py --cpu-bf16``), probabilities
    within 0.01 of float32 (``tests/test_models.py``).  It stays opt-in there, so that
    a ``random_state`` gives the same network on every CPU; CPUs without native bf16
    emulate it in software and are refused.

    Parameters
    ----------
    device : str or torch.device
    precision : {'auto', 'fp32', 'bf16', 'fp16'}, default='auto'
    capability : tuple of int, optional
        The GPU's compute capability; read from the device when not given.

    Examples
    --------
    >>> amp_dtype("cpu"), amp_dtype("cuda", capability=(9, 0)), amp_dtype("cuda", capability=(7, 0))
    (None, torch.bfloat16, torch.float16)
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    dev = torch.device(device)
    if precision == "fp32":
        return None
    if dev.type != "cuda":
        if precision == "auto":
            return None
        if precision == "bf16" and dev.type == "cpu" and cpu_has_native_bf16():
            return torch.bfloat16
        why = ("this CPU has no native bf16 (AVX512-BF16 or AMX) and would emulate it in software"
               if precision == "bf16" and dev.type == "cpu" else
               "fp16 autocast is for CUDA devices" if precision == "fp16" else "autocast is for CUDA devices and CPUs")
        raise ValueError(f"precision={precision!r} does not apply here: {why}; on {dev.type} skecg computes in "
                         "float32 with precision='auto' or 'fp32'")
    if capability is None:
        capability = torch.cuda.get_device_capability(dev)
    native_bf16 = tuple(capability) >= (8, 0)
    if precision == "bf16" and not native_bf16:
        raise ValueError(f"this GPU (compute capability {capability[0]}.{capability[1]}) has no native bf16; "
                         "use precision='fp16' (with a gradient scaler) or 'auto'")
    if precision == "auto":
        return torch.bfloat16 if native_bf16 else torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


class _EarlyStopping(EarlyStopping):
    """Early stopping that waits while an epoch has no validation score (a data set
    too small for a validation part trains without one, see ``valid_size``)."""

    def on_epoch_end(self, net, **kwargs):
        if self.monitor in net.history[-1]:
            super().on_epoch_end(net, **kwargs)


def _silent(*args, **kwargs):
    """A picklable sink that prints nothing (early-stopping messages)."""


def tune_thresholds(y_true, proba, grid=None, default: float = 0.5) -> np.ndarray:
    """Deprecated: use :func:`skecg.metrics.best_thresholds` (F1, the same candidate grid
    as :class:`ECGClassifier` and :class:`~skecg.tuning.MultilabelThresholdTuner`).

    ``grid`` is passed as ``candidates``; ``None`` takes the default grid from the data.
    """
    warnings.warn("skecg.models.tune_thresholds is deprecated and will be removed in the next release; use "
                  "skecg.metrics.best_thresholds (ECGClassifier's parameter tune_thresholds stays)",
                  FutureWarning, stacklevel=2)
    return best_thresholds(y_true, proba, candidates=100 if grid is None else grid, default=default)


class ECGClassifier(ThresholdLabelsMixin, ECGInputMixin, MultilabelClassifierMixin, ClassifierMixin, NeuralNet):
    """Multilabel ECG classifier: a torch network trained through skorch.

    Every component is a hyperparameter, so ``GridSearchCV`` can search over networks
    (``module``), their arguments (``module__*``), losses (``criterion``) and training
    settings.  ``n_leads``, ``n_samples`` and ``n_classes`` of the network are read
    from the data at fit time unless set as ``module__n_leads`` etc.

    Data take skorch's own path: ``X`` (a 3-D array, or :class:`~skecg.ECGRecords`
    in memory or on disk) is wrapped, never copied, in an
    :class:`~skecg.models.ECGDataset` that reads whole batches; batches come from a
    torch ``DataLoader`` configured by ``iterator_train__*`` and ``iterator_valid__*``
    (``num_workers``, ``pin_memory``, ``persistent_workers``,
    ``multiprocessing_context``, ``prefetch_factor``, ``batch_size``).  The default
    is no worker processes: in-memory batches cost less to index than to send
    between processes (see the README); lazy containers gain from workers.

    Parameters
    ----------
    module : str, torch module class or instance, default='resnet1d'
        ``'resnet1d'`` (Ribeiro et al.), ``'attention_resnet1d'`` (Huang et al.),
        ``'se_resnet1d'`` (Zhu et al.), or any module mapping (batch, leads, samples)
        to logits (batch, classes).
    criterion : str or loss class, default='bce'
        ``'bce'`` (BCE with logits), ``'weighted_bce'`` (``pos_weight`` from the
        training labels in ``fit``), ``'sign'`` (the Sign Loss of Zhu et al.).
    classes : sequence of str or vocabulary name, optional
        The column codes of ``y`` (``classes_``).  By default the records' own
        ``classes``, else the named vocabulary of that width (24, 27, 6), else the
        column indices.  Never inferred from the labels present.
    threshold : float or array-like, default=0.5
        Decision threshold(s) of ``predict``: a class is predicted where its
        probability is at least its threshold.  Non-negative; 0 always predicts
        the class and a value above 1 switches it off.
    tune_thresholds : bool, default=False
        Choose per-class thresholds that maximise F1 on the validation split after
        training (Zhu et al. found 0.36 on theirs); ``thresholds_`` holds them.
    optimizer, lr : default Adam, 1e-3 (the papers' choice)
    max_epochs : int, default=30
    batch_size : int, default=64
    patience : int or None, default=9
        Early stopping on ``monitor``, restoring the best weights.
    monitor : str, default='valid_loss'
        The history key early stopping watches: ``'valid_loss'``, ``'train_loss'``
        or a validation score of ``epoch_scoring`` (``'valid_auroc'``,
        ``'valid_challenge'``, ``'valid_f1'``); losses are better lower, scores higher.
    epoch_scoring : tuple of str or None, default=('auroc', 'challenge')
        Validation scores recorded in the history after each epoch, computed from
        the validation pass's outputs (:class:`~skecg.models._skorch_common.ValidationScores`):
        macro AUROC, the 2020 challenge score at ``threshold`` (only where every class
        is a scored code) and macro F1.  ``None`` records none.
    lr_schedule : None, 'zhu', 'ribeiro' or (step_size, gamma), default=None
        ``'zhu'`` steps the learning rate 1e-3 -> 1e-4 at epoch 13; ``'ribeiro'`` is
        the schedule of Ribeiro et al.'s ``train.py`` (Keras ``ReduceLROnPlateau`` on
        the validation loss, factor 0.1, patience 7, ``min_lr = lr / 100``), as torch's
        ``ReduceLROnPlateau`` (patience 6, because torch reduces after ``patience + 1``
        epochs without improvement where Keras reduces after ``patience``; absolute
        threshold 1e-4, Keras's ``min_delta``).
    init : {'torch', 'keras'}, default='torch'
        How a new network is initialised: torch's defaults, or ``'keras'``, Ribeiro et
        al.'s Keras model (``he_normal`` kernels, zero biases, batch norms with Keras'
        momentum 0.99 and ``eps=1e-3``; :func:`skecg.models.keras_init_`).  Part of the
        network's definition (the batch norms' ``eps``), so a saved model rebuilds with it.
    valid_size : float, default=0.1
        Validation share of the default split (``train_split='auto'``): by patient
        (``meta['patient_id']`` of the records) and balanced over labels, see
        :class:`~skecg.models.PatientSplit`.  0 disables validation (and early
        stopping).  When the data are too few for a validation part, a warning says
        so and training runs without validation.
    train_split : 'auto', None or callable, default='auto'
        skorch's validation split: ``'auto'`` is ``PatientSplit(valid_size)``;
        any skorch ``train_split`` (e.g. ``PatientSplit(0.2, on_empty='raise')``,
        ``skorch.helper.predefined_split``) or ``None`` (no validation).
    inference_batch_size : int or None, default=None
        Batch size of ``predict_proba`` and validation; ``None``: 16 on CPUs (faster
        there than 64), 256 on GPUs.
    precision : {'auto', 'fp32', 'bf16', 'fp16'}, default='auto'
        Autocast on CUDA: bf16 where the GPU computes it natively, else fp16 with a
        gradient scaler; float32 on CPUs, where ``'bf16'`` opts in to bf16 autocast on
        CPUs that compute it natively (see :func:`amp_dtype`).  Tolerance against
        float32 eager, at inference with trained weights on the learning test's real
        records: probabilities within 0.01 (measured 0.001 for bf16, 0.0003 for fp16
        with CPU autocast, ``tests/test_models.py``); a random network trained one step
        under bf16 stays within 0.03 (``tests/test_data_path.py``).  Not yet measured on
        a GPU.
    compile : bool, default=False
        ``torch.compile`` the network (CUDA only: on CPUs the networks run skecg's
        own fast path, refused with a ``ValueError``); ``compile__*`` are passed on.
    random_state : int or None
        Seeds initialisation, shuffling, dropout and the split; the same value gives
        identical results, whatever ``iterator_train__num_workers``, on CUDA too (see
        ``deterministic``).  Global torch random state is left as it was.
    predict_nonlinearity : 'auto', callable or None, default='auto'
        skorch's parameter, applied by :meth:`predict_proba` to the logits: ``'auto'`` is
        one sigmoid per class, ``None`` returns the logits, a callable is applied as is.
        ``threshold`` and ``predict`` compare against what it returns.
    deterministic : 'auto', True or False, default='auto'
        On CUDA: ``'auto'`` trains and predicts deterministically when
        ``random_state`` is set (cuDNN autotuning off, deterministic cuDNN kernels,
        ``torch.use_deterministic_algorithms(True, warn_only=True)``, cuBLAS's
        ``CUBLAS_WORKSPACE_CONFIG``; see :func:`determinism_settings`) and lets cuDNN
        autotune otherwise.  ``False`` is the explicit opt-out for speed: autotuned
        kernels even with a ``random_state`` (results may then differ in the last
        bits from run to run).  No effect on CPUs, which are deterministic.
    device : {'cpu', 'cuda'}, default='cpu'
        On CUDA, batches come from pinned memory and are copied with
        ``non_blocking=True`` one batch ahead of use (:class:`~skecg.models.DevicePrefetcher`),
        and inference runs under ``torch.inference_mode``.
    progress_bar : bool, default=False
    callbacks : list of (name, skorch callback), optional
        Added to skecg's own (early stopping, learning-rate schedule, progress bar).
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of str
    thresholds_ : ndarray of float
    leads_ : tuple of str or None
        Lead names of the training records (``None`` for plain arrays); records
        given to ``predict`` with these leads in another order are reordered by name.
    module_ : torch.nn.Module
    history_ : skorch History (also ``history``)
    interrupted_ : bool
        Whether the last fit was stopped by an interrupt (Ctrl-C) rather than by
        reaching ``max_epochs`` or by early stopping; skorch keeps the weights trained
        so far, and a :class:`~skecg.models._skorch_common.TrainingCheckpoint` in
        ``callbacks`` lets the fit resume.

    Examples
    --------
    >>> from skecg.datasets import load_sample
    >>> from skecg.preprocessing import Resampler, PadTruncate
    >>> from sklearn.pipeline import make_pipeline
    >>> X, y = load_sample("tnmg", sources=["Georgia", "Chapman-Ningbo"])
    >>> net = ECGClassifier("resnet1d", module__filters=(16, 16), max_epochs=1, random_state=0)
    >>> pipe = make_pipeline(Resampler(100), PadTruncate(length=1024), net).fit(X, y)
    >>> pipe.predict_proba(X).shape, list(pipe.classes_)[:2]
    ((70, 6), ['270492004', '713427006'])
    """

    # checked by skecg.utils.validation.validate_params at the start of fit; skorch's own
    # _validate_params keeps checking the **kwargs prefixes (module__*, iterator_train__*)
    _parameter_constraints: dict = {
        **net_parameter_constraints(),
        "module": [StrOptions(set(MODULES)), type, torch.nn.Module],
        "criterion": [StrOptions(set(CRITERIA)), type, torch.nn.Module],
        "classes": [str, "array-like", None],
        "threshold": [Interval(Real, 0, None, closed="left"), "array-like"],
        "tune_thresholds": ["boolean"],
        "lr_schedule": [StrOptions({"zhu", "ribeiro"}), tuple, None],
        "init": [StrOptions({"torch", "keras"})],
        "inference_batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "precision": [StrOptions(set(PRECISIONS))],
        "monitor": [str],
        "epoch_scoring": [tuple, list, None],
        "deterministic": [StrOptions({"auto"}), "boolean"],
    }

    def __init__(self, module="resnet1d", criterion="bce", *, classes=None, threshold=0.5, tune_thresholds=False,
                 optimizer=torch.optim.Adam, lr=1e-3, max_epochs=30, batch_size=64, patience=9, lr_schedule=None,
                 init="torch", monitor="valid_loss", epoch_scoring=("auroc", "challenge"), valid_size=0.1,
                 inference_batch_size=None, precision="auto", random_state=None, deterministic="auto",
                 device="cpu", progress_bar=False, callbacks=None, verbose=0, **kwargs):
        kwargs.setdefault("train_split", "auto")
        kwargs.setdefault("dataset", ECGDataset)
        super().__init__(module, criterion, optimizer=optimizer, lr=lr, max_epochs=max_epochs,
                         batch_size=batch_size, callbacks=callbacks, verbose=verbose, device=device, **kwargs)
        self.classes = classes
        self.threshold = threshold
        self.tune_thresholds = tune_thresholds
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.init = init
        self.monitor = monitor
        self.epoch_scoring = epoch_scoring
        self.valid_size = valid_size
        self.inference_batch_size = inference_batch_size
        self.precision = precision
        self.random_state = random_state
        self.deterministic = deterministic
        self.progress_bar = progress_bar

    # -- sklearn plumbing ---------------------------------------------------------------
    @property
    def _estimator_type(self):
        return "classifier"

    # -- input validation (reads no signal of a lazy container) --------------------------
    def _check_X(self, X, fitting: bool):
        """``X`` as an ndarray of float32 or an ECGRecords, checked by shape alone."""
        if isinstance(X, ECGRecords):
            shape = X.shape
            if None in shape[1:]:
                raise ValueError("records have different lengths or lead counts; resample and pad them first "
                                 "(skecg.preprocessing.Resampler, PadTruncate)")
            if not X.is_lazy:
                check_finite_records(X, X.signals)  # cheap in memory; lazy containers check each batch read
        else:
            if isinstance(X, torch.Tensor):
                X = X.detach().cpu().numpy()
            elif isinstance(X, (list, tuple)):
                X = _stack_records(X)
            X = np.asarray(X)
            if X.ndim != 3:
                raise ValueError(f"X must be 3-D (n_records, n_leads, n_samples), got shape {X.shape}")
            X = np.ascontiguousarray(X, dtype=np.float32)
            check_finite_records(X, X)
            shape = X.shape
        if shape[0] == 0:
            raise ValueError("X holds no records")
        n_leads, n_samples = shape[1:]
        if not fitting:
            model_leads = getattr(self, "leads_", None)
            renamed = model_leads is not None and isinstance(X, ECGRecords)
            if n_leads != self.n_leads_ and not renamed:
                raise ValueError(f"X has {n_leads} leads but the model was fitted on {self.n_leads_}; "
                                 "select the same leads (skecg.preprocessing.LeadSelector) first")
            if n_samples != self.n_samples_ and type(self._net()) is ResNet1d:
                raise ValueError(f"X has {n_samples} samples but this ResNet1d (dense head on the flattened "
                                 f"output) was fitted on {self.n_samples_}; use PadTruncate(length="
                                 f"{self.n_samples_})")
        min_samples = self._min_samples()
        if min_samples and n_samples < min_samples:
            raise ValueError(f"X has {n_samples} samples, too short for the network's downsampling "
                             f"(at least {min_samples} needed); pad the records (PadTruncate)")
        return X

    def _net(self):
        """The fitted network itself (unwrapped from ``torch.compile``)."""
        return getattr(self.module_, "_orig_mod", self.module_)

    def _min_samples(self):
        mod = getattr(self, "module_", None)
        if mod is not None and hasattr(self._net(), "min_samples"):
            return int(self._net().min_samples)
        cls = self._module_class()
        if cls is not None and issubclass(cls, ResNet1d):
            kw = self.get_params_for("module")
            return int(kw.get("downsample", 4)) ** len(kw.get("filters", (128, 196, 256, 320)))
        return 0

    def _module_class(self):
        m = self.module
        if isinstance(m, str):
            try:
                return MODULES[m]
            except KeyError:
                raise ValueError(f"unknown module {m!r}; choose one of {sorted(MODULES)} or pass a torch "
                                 "module class") from None
        if isinstance(m, torch.nn.Module):
            return type(m)
        return m

    def _resolve_classes(self, X, k: int):
        fallback = X.classes if isinstance(X, ECGRecords) else None
        return np.asarray(column_classes(k, self.classes, fallback), dtype=object)

    def _validate_y(self, y, n):
        y = np.asarray(y)
        if y.ndim == 1:
            raise ValueError("y must be a 2-D 0/1 indicator matrix (n_records, n_classes); "
                             "for one class use y.reshape(-1, 1)")
        if y.ndim != 2 or len(y) != n:
            raise ValueError(f"y has shape {y.shape} for {n} records")
        vals = np.unique(y)
        if not np.all(np.isin(vals, (0, 1))):
            raise ValueError(f"y must hold 0/1 labels, found {vals[:5]}")
        return y

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

    # -- skorch hooks ----------------------------------------------------------------------
    def _has_validation(self) -> bool:
        return bool(self.valid_size) if self.train_split == "auto" else self.train_split is not None

    def get_default_callbacks(self):
        extra = []
        if self.lr_schedule == "ribeiro":
            # Ribeiro et al.'s train.py: Keras ReduceLROnPlateau(monitor='val_loss', factor=0.1,
            # patience=7, min_lr=lr / 100) with Keras's default min_delta 1e-4 (absolute)
            extra.append(("lr_schedule", LRScheduler(policy="ReduceLROnPlateau", monitor="valid_loss", factor=0.1,
                                                     patience=6, min_lr=float(self.lr) / 100, threshold=1e-4,
                                                     threshold_mode="abs")))
        elif self.lr_schedule is not None:
            step, gamma = (13, 0.1) if self.lr_schedule == "zhu" else self.lr_schedule
            extra.append(("lr_schedule", LRScheduler(policy="StepLR", step_size=int(step), gamma=float(gamma))))
        return default_callbacks(self, validation=self._has_validation(), early_stopping=_EarlyStopping,
                                 sink=_silent, extra=extra, scores=tuple(self.epoch_scoring or ()))

    def _check_monitor(self):
        """``monitor`` names a key the history will have; ``epoch_scoring`` names known scores."""
        scores = tuple(self.epoch_scoring or ())
        bad = [s for s in scores if s not in EPOCH_SCORES]
        if bad:
            raise ValueError(f"epoch_scoring names unknown score(s) {bad}; choose from {list(EPOCH_SCORES)}")
        known = ["train_loss", "valid_loss"] + ["valid_" + s for s in scores]
        if self.patience and self.monitor not in known:
            raise ValueError(f"monitor={self.monitor!r} is not recorded by this classifier; choose one of {known} "
                             "(validation scores need their name in epoch_scoring)")
        if self.patience and self.monitor == "valid_challenge" and not _challenge_scores(self.classes_):
            raise ValueError("monitor='valid_challenge' needs classes that the 2020 challenge scores (SNOMED CT "
                             f"codes of its weights); these are {list(self.classes_)[:5]}")

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        cls = self._module_class()
        if isinstance(self.module, torch.nn.Module) and not kwargs:
            self.module_ = self.module
            return self
        for key, attr in (("n_leads", "n_leads_"), ("n_samples", "n_samples_"), ("n_classes", "n_classes_")):
            if hasattr(self, attr):
                kwargs.setdefault(key, int(getattr(self, attr)))
        self.module_ = cls(**kwargs)
        if self.init == "keras":
            keras_init_(self.module_)
        return self

    def initialize_criterion(self):
        kwargs = self.get_params_for("criterion")
        crit = self.criterion
        if isinstance(crit, str):
            try:
                crit = CRITERIA[crit]
            except KeyError:
                raise ValueError(f"unknown criterion {self.criterion!r}; choose one of {sorted(CRITERIA)}") from None
            if self.criterion == "weighted_bce" and "pos_weight" not in kwargs and hasattr(self, "pos_weight_"):
                kwargs["pos_weight"] = torch.as_tensor(self.pos_weight_, dtype=torch.float32)
        self.criterion_ = self.initialized_instance(crit, kwargs)
        return self

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

    def get_split_datasets(self, X, y=None, **fit_params):
        """Training and validation datasets from ``train_split`` (``'auto'``:
        :class:`~skecg.models.PatientSplit` with ``valid_size``)."""
        dataset = self.get_dataset(X, y)
        split = self.train_split
        if split == "auto":
            split = None
            if self.valid_size:
                split = PatientSplit(self.valid_size, random_state=getattr(self, "seed_", None), on_empty="warn")
        if split is None:
            self._valid_dataset_ = None
            return dataset, None
        train, valid = split(dataset, **fit_params) if y is None else split(dataset, y, **fit_params)
        self._valid_dataset_ = valid
        return train, valid

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

    def _autocast(self):
        dtype = getattr(self, "amp_dtype_", None)
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(torch.device(self.device).type, dtype=dtype)

    def infer(self, x, **fit_params):
        """The network's output on one batch (on the device, under autocast when set)."""
        x = to_device(x, self.device)
        with self._autocast():
            return self.module_(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The criterion in float32 (outside autocast) on the device's labels."""
        if isinstance(y_pred, tuple):
            y_pred = y_pred[0]
        y_true = y_true.to(self.device, dtype=torch.float32)
        return self.criterion_(y_pred.float(), y_true)

    def train_step(self, batch, **fit_params):
        """skorch's step; with fp16 autocast the loss is scaled (``torch.amp.GradScaler``)."""
        scaler = getattr(self, "grad_scaler_", None)
        if scaler is None:
            return super().train_step(batch, **fit_params)
        self._zero_grad_optimizer()
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler.scale(loss).backward()
        scaler.unscale_(self.optimizer_)  # callbacks (e.g. gradient clipping) see true gradients
        self.notify("on_grad_computed", named_parameters=TeeGenerator(self.get_all_learnable_params()),
                    batch=batch, training=True)
        scaler.step(self.optimizer_)
        scaler.update()
        return {"loss": loss, "y_pred": y_pred}

    def evaluation_step(self, batch, training=False):
        """One batch of inference under ``torch.inference_mode``: logits by default, or
        what :meth:`predict_proba`, :meth:`embed` or :meth:`attention_weights` ask for."""
        self.check_is_fitted()
        Xi, _ = unpack_data(batch)
        self._set_training(training)
        what = getattr(self, "_output_", "logits")
        with (torch.enable_grad() if training else torch.inference_mode()):
            x = to_device(Xi, self.device)
            with self._autocast():
                if what == "features":
                    out = self._net().features(x)
                elif what == "attention":
                    out = self._net()(x, return_attention=True)[1]
                else:
                    out = self.module_(x)
                    if isinstance(out, tuple):
                        out = out[0]
                    if what == "proba":
                        out = self._proba_nonlinearity()(out.float())
            return out.float()

    def _proba_nonlinearity(self):
        """What turns logits into ``predict_proba``'s outputs: ``predict_nonlinearity``,
        where ``'auto'`` is one sigmoid per class (multilabel; skorch's own 'auto' would
        give a two-column binary output) and ``None`` keeps the logits."""
        f = getattr(self, "predict_nonlinearity", "auto")
        if f == "auto":
            return torch.sigmoid
        if f is None:
            return _identity
        return f

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

    # -- fit / predict ----------------------------------------------------------------------
    def fit(self, X, y, **fit_params):
        """Train on records (or a 3-D array) and a 0/1 indicator matrix ``y``."""
        validate_params(self)
        X = self._check_X(X, fitting=True)
        y = self._validate_y(y, len(X))
        self._check_device_settings()
        self.classes_ = self._resolve_classes(X, y.shape[1])
        self.n_leads_, self.n_samples_ = (int(v) for v in X.shape[1:])
        self.n_classes_ = int(y.shape[1])
        self._initial_thresholds()  # a threshold of the wrong length fails before the network trains
        self.leads_ = known_leads(X)
        pos = y.sum(0)
        self.pos_weight_ = np.where(pos > 0, (len(y) - pos) / np.maximum(pos, 1), 1.0).astype(np.float32)
        rs = check_random_state(self.random_state)
        self.seed_ = int(rs.randint(0, 2**31 - 1))
        self.np_rng_ = np.random.default_rng(self.seed_)
        self._check_monitor()
        self.interrupted_ = False
        self._fit_signature_ = self._signature(X, y)
        dataset = self._make_dataset(X, y, None)
        dev = torch.device(self.device)
        forked = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=forked), self._determinism():
                torch.manual_seed(self.seed_)
                super().fit(dataset, None, **fit_params)
            self.thresholds_ = self._initial_thresholds()
            valid = self._valid_dataset_
            if self.tune_thresholds and valid is not None and len(valid):
                yv = valid.y if getattr(valid, "y", None) is not None else y[np.asarray(valid.indices)]
                self.thresholds_ = best_thresholds(yv, self._outputs(valid, "proba"),
                                                   default=float(np.mean(self.thresholds_)))
        finally:
            for key in ("_valid_dataset_", "_train_loader_", "_resumed_epochs_", "_pending_loader_state_"):
                self.__dict__.pop(key, None)  # the model keeps no reference to the data
        return self

    def _determinism(self):
        """:func:`determinism_settings` applied during fit and predict (restored after)."""
        return deterministic_context(determinism_settings(self.device, self.random_state, self.deterministic))

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """skorch's loop; a fit resumed from a checkpoint trains the epochs left up to
        ``max_epochs``, and an interrupt (not early stopping) sets ``interrupted_``."""
        resumed = self.__dict__.pop("_resumed_epochs_", None)
        if epochs is None and resumed is not None:
            epochs = max(int(self.max_epochs) - resumed, 0)
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            stopped = any(isinstance(cb, EarlyStopping) and cb.misses_ >= cb.patience
                          for _, cb in self.callbacks_)
            self.interrupted_ = not stopped
            raise

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

    #: parameters that may change between a fit and its resumption (more epochs, another
    #: device, other loader or logging settings); any other setting keys the checkpoint
    _RESUMABLE_CHANGES = ("max_epochs", "callbacks", "device", "verbose", "progress_bar", "inference_batch_size",
                          "patience", "monitor", "epoch_scoring", "deterministic", "compile")

    def _signature(self, X, y) -> dict:
        """What identifies a fit for its checkpoint: seed, data shape, classes, labels and
        the settings that shape the training."""
        import hashlib

        params = {k: repr(sorted(v, key=repr) if isinstance(v, (set, frozenset)) else v)
                  for k, v in sorted(self.get_params(deep=False).items())
                  if not (k in self._RESUMABLE_CHANGES or k.startswith(("_", "iterator_", "callbacks__", "compile__")))}
        y8 = np.ascontiguousarray(np.asarray(y, dtype=np.int8))
        return {"seed": self.seed_, "shape": [len(X), self.n_leads_, self.n_samples_, self.n_classes_],
                "classes": [str(c) for c in self.classes_], "labels": hashlib.sha256(y8.tobytes()).hexdigest(),
                "params": hashlib.sha256(json.dumps(params).encode()).hexdigest()}

    def _fit_key(self) -> str:
        """The folder name of this fit in a :class:`~skecg.models._skorch_common.TrainingCheckpoint`."""
        import hashlib

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

    def _initial_thresholds(self):
        t = np.asarray(self.threshold, dtype=float)
        if t.ndim == 0:
            return np.full(self.n_classes_, float(t))
        if t.shape != (self.n_classes_,):
            raise ValueError(f"threshold has {t.size} values for {self.n_classes_} classes")
        if np.isnan(t).any() or (t < 0).any():
            raise ValueError(f"threshold values must be non-negative numbers, got {t.tolist()}")
        return t

    def _infer_bs(self) -> int:
        if self.inference_batch_size:
            return int(self.inference_batch_size)
        return 256 if torch.device(self.device).type == "cuda" else 16

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

    def predict_proba(self, X):
        """Probabilities, shape (n_records, n_classes), float32.

        Records that name their leads are reordered by name to the training
        records' lead order (``leads_``); a missing lead raises a ``ValueError``."""
        check_is_fitted(self, "classes_")
        return self._outputs(X, "proba")

    def embed(self, X):
        """The network's penultimate representation of each record (deep features)."""
        check_is_fitted(self, "classes_")
        return self._outputs(X, "features")

    def attention_weights(self, X):
        """Attention weights per record over the downsampled time steps
        (attention ResNet only), shape (n_records, n_steps), rows sum to 1."""
        check_is_fitted(self, "classes_")
        if not isinstance(self._net(), AttentionResNet1d):
            raise ValueError("attention weights exist only for module='attention_resnet1d'")
        return self._outputs(X, "attention")

    # -- persistence ---------------------------------------------------------------------
    def save_weights(self, path) -> None:
        """Save weights and what is needed to rebuild the model (no pickled code).

        Load with ``ECGClassifier(<same module settings>).load_weights(path)``, which
        reads the file with ``torch.load(weights_only=True)``.
        """
        check_is_fitted(self, "classes_")
        torch.save({
            "state_dict": {k: v.detach().cpu() for k, v in self._net().state_dict().items()},
            "classes": [str(c) for c in self.classes_],
            "thresholds": torch.as_tensor(self.thresholds_, dtype=torch.float64),
            "shape": [self.n_leads_, self.n_samples_, self.n_classes_],
            "leads": [] if getattr(self, "leads_", None) is None else list(self.leads_),
        }, path)

    def load_weights(self, path):
        """Load weights saved by :meth:`save_weights`; returns self, ready to predict."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.n_leads_, self.n_samples_, self.n_classes_ = (int(v) for v in state["shape"])
        self.classes_ = np.asarray(state["classes"], dtype=object)
        self.thresholds_ = state["thresholds"].numpy()
        self.leads_ = tuple(state["leads"]) if state.get("leads") else None
        self._check_device_settings(float32_fallback=True)
        self._initialize_for_inference()
        self._net().load_state_dict(state["state_dict"])
        self.module_.to(self.device)
        return self

    def _initialize_for_inference(self):
        """skorch's ``initialize`` without the optimizer, for a loaded model.

        A model that only predicts never needs one, and building the first torch
        optimizer imports ``torch._dynamo`` (about 1.8 s of a ``skecg predict`` run on
        this project's 2-core machine; ``benchmarks/predict.py --profile``).  Training a
        loaded model further builds it then (:meth:`partial_fit`).
        """
        self._initialize_virtual_params()
        self._initialize_callbacks()
        self._initialize_module()
        self._initialize_criterion()
        self._initialize_history()
        self._validate_params()
        self.initialized_ = True
        return self

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """skorch's ``partial_fit``; builds the optimizer of a loaded model first.

        On a model that was never fitted this is :meth:`fit` (which reads the input's
        shape, the classes and the seed, then trains ``max_epochs`` epochs, as skorch's
        ``partial_fit`` of a new net does); later calls continue training."""
        if not hasattr(self, "classes_"):
            return self.fit(X, y, **fit_params)
        if getattr(self, "initialized_", False) and not hasattr(self, "optimizer_"):
            self._initialize_optimizer()
        return super().partial_fit(X, y, classes, **fit_params)


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


@contextlib.contextmanager
def _set_flag(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


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

"""ECGClassifier: a skorch-based multilabel classifier over 3-D ECG input.

It is an :class:`~skecg.models._base.ECGNet`, which holds the data path (records
wrapped in an :class:`~skecg.models.ECGDataset`, whole batches from a
:class:`~skecg.models.BatchSampler`, the :class:`~skecg.models.PatientSplit`
validation split), the device, precision and seeding, checkpoints and weights-only
persistence; this module adds what is particular to multilabel classification:
the networks and losses by name, classes and thresholds, the learning-rate
schedules and the validation scores.
"""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
import torch
from skorch.callbacks import LRScheduler
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._records import validate_records
from ..labels import column_classes
from ..metrics import best_thresholds
from ..utils.validation import MultilabelClassifierMixin, ThresholdLabelsMixin, validate_params
from ._base import ECGNet, on_device
from ._data import known_leads
from ._losses import CRITERIA
from ._nets import MODULES, AttentionResNet1d, ResNet1d, keras_init_
from ._skorch_common import EPOCH_SCORES, _challenge_scores, _EarlyStopping, default_callbacks, silent

#: the early-stopping sink of models pickled by earlier versions (their callbacks name it here)
_silent = silent


def tune_thresholds(y_true, proba, grid=None, default: float = 0.5) -> np.ndarray:
    """Deprecated: use :func:`skecg.metrics.best_thresholds` (F1, the same candidate grid
    as :class:`ECGClassifier` and :class:`~skecg.tuning.MultilabelThresholdTuner`).

    ``grid`` is passed as ``candidates``; ``None`` takes the default grid from the data.
    """
    warnings.warn("skecg.models.tune_thresholds is deprecated and will be removed in the next release; use "
                  "skecg.metrics.best_thresholds (ECGClassifier's parameter tune_thresholds stays)",
                  FutureWarning, stacklevel=2)
    return best_thresholds(y_true, proba, candidates=100 if grid is None else grid, default=default)


class ECGClassifier(ThresholdLabelsMixin, MultilabelClassifierMixin, ClassifierMixin, ECGNet):
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
        records: probabilities within 0.01 (``tests/models/test_models.py``); a random
        network trained one step under bf16 stays within 0.03
        (``tests/models/test_data_path.py``).  Not yet checked on a GPU.
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
    device : {'cpu', 'cuda', 'auto'} or torch.device, default='cpu'
        ``'auto'``: CUDA where torch sees a GPU, else the CPU (resolved at each fit and
        prediction; the parameter keeps its value).  On CUDA, batches come from pinned
        memory and are copied with
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
        **ECGNet._parameter_constraints,
        "module": [StrOptions(set(MODULES)), type, torch.nn.Module],
        "criterion": [StrOptions(set(CRITERIA)), type, torch.nn.Module],
        "classes": [str, "array-like", None],
        "threshold": [Interval(Real, 0, None, closed="left"), "array-like"],
        "tune_thresholds": ["boolean"],
        "lr_schedule": [StrOptions({"zhu", "ribeiro"}), tuple, None],
        "init": [StrOptions({"torch", "keras"})],
        "monitor": [str],
        "epoch_scoring": [tuple, list, None],
    }

    def __init__(self, module="resnet1d", criterion="bce", *, classes=None, threshold=0.5, tune_thresholds=False,
                 optimizer=torch.optim.Adam, lr=1e-3, max_epochs=30, batch_size=64, patience=9, lr_schedule=None,
                 init="torch", monitor="valid_loss", epoch_scoring=("auroc", "challenge"), valid_size=0.1,
                 inference_batch_size=None, precision="auto", random_state=None, deterministic="auto",
                 device="cpu", progress_bar=False, callbacks=None, verbose=0, **kwargs):
        super().__init__(module, criterion, optimizer=optimizer, lr=lr, max_epochs=max_epochs,
                         batch_size=batch_size, patience=patience, valid_size=valid_size,
                         inference_batch_size=inference_batch_size, precision=precision,
                         random_state=random_state, deterministic=deterministic, device=device,
                         progress_bar=progress_bar, callbacks=callbacks, verbose=verbose, **kwargs)
        self.classes = classes
        self.threshold = threshold
        self.tune_thresholds = tune_thresholds
        self.lr_schedule = lr_schedule
        self.init = init
        self.monitor = monitor
        self.epoch_scoring = epoch_scoring

    # -- sklearn plumbing ---------------------------------------------------------------
    @property
    def _estimator_type(self):
        return "classifier"

    # -- input validation (reads no signal of a lazy container) --------------------------
    def _check_X(self, X, fitting: bool):
        """``X`` checked by shape (:meth:`ECGNet._check_X`), and its length against the
        network's: a ResNet1d's dense head fixes it, downsampling bounds it below."""
        X = super()._check_X(X, fitting)
        n_samples = X.shape[2]
        if not fitting and n_samples != self.n_samples_ and type(self._net()) is ResNet1d:
            raise ValueError(f"X has {n_samples} samples but this ResNet1d (dense head on the flattened "
                             f"output) was fitted on {self.n_samples_}; use PadTruncate(length="
                             f"{self.n_samples_})")
        min_samples = self._min_samples()
        if min_samples and n_samples < min_samples:
            raise ValueError(f"X has {n_samples} samples, too short for the network's downsampling "
                             f"(at least {min_samples} needed); pad the records (PadTruncate)")
        return X

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
        fallback = validate_records(X).classes
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

    # -- skorch hooks ----------------------------------------------------------------------
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
                                 sink=silent, extra=extra, scores=tuple(self.epoch_scoring or ()))

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

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The criterion in float32 (outside autocast) on the device's labels."""
        if isinstance(y_pred, tuple):
            y_pred = y_pred[0]
        y_true = y_true.to(self.device, dtype=torch.float32)
        return self.criterion_(y_pred.float(), y_true)

    def _evaluate(self, x, what: str):
        """The network's output on a batch: logits, probabilities (``'proba'``), deep
        features (``'features'``, see :meth:`embed`) or attention weights (``'attention'``)."""
        if what == "features":
            return self._net().features(x)
        if what == "attention":
            return self._net()(x, return_attention=True)[1]
        return super()._evaluate(x, what)

    def _auto_nonlinearity(self, logits):
        """One sigmoid per class (multilabel; skorch's own 'auto' would give a two-column
        binary output)."""
        return torch.sigmoid(logits)

    # -- fit / predict ----------------------------------------------------------------------
    @on_device
    def fit(self, X, y, **fit_params):
        """Train on records (or a 3-D array) and a 0/1 indicator matrix ``y``.

        ``groups`` (one patient per record) may replace the records'
        ``meta['patient_id']`` in the validation split; no other fit parameter is
        taken (``sample_weight`` raises a ``TypeError``), and none reaches the network."""
        validate_params(self)
        X = self._check_X(X, fitting=True)
        y = self._validate_y(y, len(X))
        groups = self._check_fit_params(fit_params, len(X))
        self._check_device_settings()
        self.classes_ = self._resolve_classes(X, y.shape[1])
        self.n_leads_, self.n_samples_ = (int(v) for v in X.shape[1:])
        self.n_classes_ = int(y.shape[1])
        self._initial_thresholds()  # a threshold of the wrong length fails before the network trains
        self.leads_ = known_leads(X)
        pos = y.sum(0)
        self.pos_weight_ = np.where(pos > 0, (len(y) - pos) / np.maximum(pos, 1), 1.0).astype(np.float32)
        self._new_seed()
        self._check_monitor()
        self.interrupted_ = False
        self._fit_signature_ = self._signature(X, y, groups)
        dataset = self._make_dataset(X, y, None)
        try:
            with self._seeded():
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

    def _initial_thresholds(self):
        t = np.asarray(self.threshold, dtype=float)
        if t.ndim == 0:
            return np.full(self.n_classes_, float(t))
        if t.shape != (self.n_classes_,):
            raise ValueError(f"threshold has {t.size} values for {self.n_classes_} classes")
        if np.isnan(t).any() or (t < 0).any():
            raise ValueError(f"threshold values must be non-negative numbers, got {t.tolist()}")
        return t

    @on_device
    def predict_proba(self, X):
        """Probabilities, shape (n_records, n_classes), float32.

        Records that name their leads are reordered by name to the training
        records' lead order (``leads_``); a missing lead raises a ``ValueError``."""
        check_is_fitted(self, "classes_")
        return self._outputs(X, "proba")

    @on_device
    def embed(self, X):
        """The network's penultimate representation of each record (deep features)."""
        check_is_fitted(self, "classes_")
        return self._outputs(X, "features")

    @on_device
    def attention_weights(self, X):
        """Attention weights per record over the downsampled time steps
        (attention ResNet only), shape (n_records, n_steps), rows sum to 1."""
        check_is_fitted(self, "classes_")
        if not isinstance(self._net(), AttentionResNet1d):
            raise ValueError("attention weights exist only for module='attention_resnet1d'")
        return self._outputs(X, "attention")

    # -- persistence (ECGNet.save_weights / load_weights) ---------------------------------
    def _weights_facts(self) -> dict:
        return {"classes": [str(c) for c in self.classes_],
                "thresholds": torch.as_tensor(self.thresholds_, dtype=torch.float64),
                "shape": [self.n_leads_, self.n_samples_, self.n_classes_],
                "leads": [] if getattr(self, "leads_", None) is None else list(self.leads_)}

    def _set_weights_facts(self, state: dict) -> None:
        self.n_leads_, self.n_samples_, self.n_classes_ = (int(v) for v in state["shape"])
        self.classes_ = np.asarray(state["classes"], dtype=object)
        self.thresholds_ = state["thresholds"].numpy()
        self.leads_ = tuple(state["leads"]) if state.get("leads") else None

"""ECGClassifier: a skorch-based multilabel classifier over 3-D ECG input."""

from __future__ import annotations


import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, EpochTimer, LRScheduler, PassthroughScoring, PrintLog, ProgressBar
from sklearn.base import ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._records import ECGRecords
from ..labels import column_classes
from ..preprocessing import check_finite_records
from ._losses import CRITERIA
from ._nets import MODULES, AttentionResNet1d, ResNet1d
from ._split import multilabel_group_split


def _silent(*args, **kwargs):
    """A picklable sink that prints nothing (early-stopping messages)."""


class _TensorData:
    """Signals and labels as tensors; batches are slices, never single items."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor | None = None):
        self.X = X
        self.y = y

    def __len__(self):
        return len(self.X)


class _BatchIterator:
    """Re-iterable batch loader over :class:`_TensorData` (a new order each epoch)."""

    def __init__(self, data: _TensorData, batch_size: int, shuffle: bool = False, rng=None):
        self.data = data
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.rng = rng

    def __len__(self):
        return -(-len(self.data) // self.batch_size)

    def __iter__(self):
        n = len(self.data)
        X, y = self.data.X, self.data.y
        if self.shuffle:
            order = torch.from_numpy(self.rng.permutation(n)).to(X.device)
            for b in range(0, n, self.batch_size):
                idx = order[b:b + self.batch_size]
                yield X[idx], (y[idx] if y is not None else None)
        else:
            for b in range(0, n, self.batch_size):
                yield X[b:b + self.batch_size], (y[b:b + self.batch_size] if y is not None else None)


def tune_thresholds(y_true, proba, grid=None, default: float = 0.5) -> np.ndarray:
    """Per-class thresholds that maximise F1 on (validation) data.

    Classes without positives in ``y_true`` keep ``default``.

    Examples
    --------
    >>> import numpy as np
    >>> tune_thresholds(np.array([[1], [0], [1]]), np.array([[0.4], [0.2], [0.9]])).round(2).tolist()
    [0.21]
    """
    y_true = np.asarray(y_true) > 0
    proba = np.asarray(proba, dtype=float)
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2) if grid is None else np.asarray(grid)
    out = np.full(y_true.shape[1], float(default))
    for j in range(y_true.shape[1]):
        pos = y_true[:, j]
        if not pos.any():
            continue
        pred = proba[:, j][:, None] >= grid[None, :]
        tp = (pred & pos[:, None]).sum(0)
        fp = (pred & ~pos[:, None]).sum(0)
        fn = (~pred & pos[:, None]).sum(0)
        f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
        out[j] = grid[int(np.argmax(f1))]
    return out


class ECGClassifier(ClassifierMixin, NeuralNet):
    """Multilabel ECG classifier: a torch network trained through skorch.

    Every component is a hyperparameter, so ``GridSearchCV`` can search over networks
    (``module``), their arguments (``module__*``), losses (``criterion``) and training
    settings.  ``n_leads``, ``n_samples`` and ``n_classes`` of the network are read
    from the data at fit time unless set as ``module__n_leads`` etc.

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
        Decision threshold(s) of ``predict``.
    tune_thresholds : bool, default=False
        Choose per-class thresholds that maximise F1 on the validation split after
        training (Zhu et al. found 0.36 on theirs); ``thresholds_`` holds them.
    optimizer, lr : default Adam, 1e-3 (the papers' choice)
    max_epochs : int, default=30
    batch_size : int, default=64
    patience : int or None, default=9
        Early stopping on validation loss, restoring the best weights.
    lr_schedule : None, 'zhu' or (step_size, gamma), default=None
        ``'zhu'`` steps the learning rate 1e-3 -> 1e-4 at epoch 13.
    valid_size : float, default=0.1
        Validation share, split by patient (``meta['patient_id']`` of the records)
        and balanced over labels.  0 disables validation (and early stopping).
    inference_batch_size : int or None, default=None
        Batch size of ``predict_proba``; ``None``: 16 on CPUs (faster there than 64),
        256 on GPUs.
    random_state : int or None
        Seeds initialisation, shuffling, dropout and the split; the same value gives
        identical results.  Global torch random state is left as it was.
    device : {'cpu', 'cuda'}, default='cpu'
    progress_bar : bool, default=False
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of str
    thresholds_ : ndarray of float
    module_ : torch.nn.Module
    history_ : skorch History (also ``history``)

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

    def __init__(self, module="resnet1d", criterion="bce", *, classes=None, threshold=0.5, tune_thresholds=False,
                 optimizer=torch.optim.Adam, lr=1e-3, max_epochs=30, batch_size=64, patience=9, lr_schedule=None,
                 valid_size=0.1, inference_batch_size=None, random_state=None, device="cpu", progress_bar=False,
                 callbacks=None, verbose=0, **kwargs):
        kwargs.setdefault("train_split", None)  # the split is ours (valid_size, by patient)
        super().__init__(module, criterion, optimizer=optimizer, lr=lr, max_epochs=max_epochs,
                         batch_size=batch_size, callbacks=callbacks, verbose=verbose, device=device, **kwargs)
        self.classes = classes
        self.threshold = threshold
        self.tune_thresholds = tune_thresholds
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.valid_size = valid_size
        self.inference_batch_size = inference_batch_size
        self.random_state = random_state
        self.progress_bar = progress_bar

    # -- sklearn plumbing ---------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_label = True
        return tags

    @property
    def _estimator_type(self):
        return "classifier"

    # -- input validation ----------------------------------------------------------------
    def _as_tensor(self, X, fitting: bool):
        if isinstance(X, ECGRecords):
            if X.is_ragged:
                raise ValueError("records have different lengths or lead counts; resample and pad them first "
                                 "(skecg.preprocessing.Resampler, PadTruncate)")
            arr = X.signals
        elif isinstance(X, torch.Tensor):
            arr = X.detach().cpu().numpy()
        else:
            arr = np.asarray(X)
        if arr.ndim != 3:
            raise ValueError(f"X must be 3-D (n_records, n_leads, n_samples), got shape {arr.shape}")
        if len(arr) == 0:
            raise ValueError("X holds no records")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        check_finite_records(X, arr)
        n_leads, n_samples = arr.shape[1:]
        if not fitting:
            if n_leads != self.n_leads_:
                raise ValueError(f"X has {n_leads} leads but the model was fitted on {self.n_leads_}; "
                                 "select the same leads (skecg.preprocessing.LeadSelector) first")
            if n_samples != self.n_samples_ and type(self.module_) is ResNet1d:
                raise ValueError(f"X has {n_samples} samples but this ResNet1d (dense head on the flattened "
                                 f"output) was fitted on {self.n_samples_}; use PadTruncate(length="
                                 f"{self.n_samples_})")
        min_samples = self._min_samples()
        if min_samples and n_samples < min_samples:
            raise ValueError(f"X has {n_samples} samples, too short for the network's downsampling "
                             f"(at least {min_samples} needed); pad the records (PadTruncate)")
        return torch.from_numpy(arr)

    def _min_samples(self):
        mod = getattr(self, "module_", None)
        if mod is not None and hasattr(mod, "min_samples"):
            return int(mod.min_samples)
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

    # -- skorch hooks ----------------------------------------------------------------------
    def get_default_callbacks(self):
        cbs = [("epoch_timer", EpochTimer()),
               ("train_loss", PassthroughScoring(name="train_loss", on_train=True))]
        if self.valid_size:
            cbs.append(("valid_loss", PassthroughScoring(name="valid_loss")))
            if self.patience:
                cbs.append(("early_stopping", EarlyStopping(monitor="valid_loss", patience=int(self.patience),
                                                            load_best=True, sink=_silent)))
        if self.lr_schedule is not None:
            step, gamma = (13, 0.1) if self.lr_schedule == "zhu" else self.lr_schedule
            cbs.append(("lr_schedule", LRScheduler(policy="StepLR", step_size=int(step), gamma=float(gamma))))
        if self.progress_bar:
            cbs.append(("progress_bar", ProgressBar()))
        if self.verbose:
            cbs.append(("print_log", PrintLog()))
        return cbs

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
        if isinstance(X, _TensorData):
            return X
        return _TensorData(X if isinstance(X, torch.Tensor) else self._as_tensor(X, False),
                           None if y is None else torch.as_tensor(y, dtype=torch.float32))

    def get_split_datasets(self, X, y=None, **fit_params):
        data = self.get_dataset(X, y)
        if not self.valid_size or getattr(self, "valid_idx_", None) is None:
            return data, None
        tr = torch.from_numpy(self.train_idx_).to(data.X.device)
        va = torch.from_numpy(self.valid_idx_).to(data.X.device)
        return _TensorData(data.X[tr], data.y[tr]), _TensorData(data.X[va], data.y[va])

    def get_iterator(self, dataset, training=False):
        bs = self.batch_size if training else self._infer_bs()
        rng = getattr(self, "np_rng_", None) or np.random.default_rng()
        return _BatchIterator(dataset, bs, shuffle=training, rng=rng)

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
        Xt = self._as_tensor(X, fitting=True)
        y = self._validate_y(y, len(Xt))
        self.classes_ = self._resolve_classes(X, y.shape[1])
        self.n_leads_, self.n_samples_ = int(Xt.shape[1]), int(Xt.shape[2])
        self.n_classes_ = int(y.shape[1])
        pos = y.sum(0)
        self.pos_weight_ = np.where(pos > 0, (len(y) - pos) / np.maximum(pos, 1), 1.0).astype(np.float32)
        rs = check_random_state(self.random_state)
        seed = int(rs.randint(0, 2**31 - 1))
        self.np_rng_ = np.random.default_rng(seed)
        groups = X.meta["patient_id"].to_numpy() if isinstance(X, ECGRecords) else None
        if self.valid_size:
            if not 0 < self.valid_size < 1:
                raise ValueError(f"valid_size must be in (0, 1) or 0, got {self.valid_size}")
            self.train_idx_, self.valid_idx_ = multilabel_group_split(y, groups, self.valid_size, seed)
            if len(self.valid_idx_) == 0 or len(self.train_idx_) == 0:
                self.train_idx_, self.valid_idx_ = np.arange(len(y)), None
        else:
            self.train_idx_, self.valid_idx_ = np.arange(len(y)), None
        yt = torch.from_numpy(y.astype(np.float32))
        Xt, yt = self._on_device(Xt), (yt.to(self.device) if str(self.device).startswith("cuda") else yt)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            super().fit(_TensorData(Xt, yt), None, **fit_params)
        self.thresholds_ = self._initial_thresholds()
        if self.tune_thresholds and self.valid_idx_ is not None:
            va = self.valid_idx_
            self.thresholds_ = tune_thresholds(y[va], self._proba_tensor(Xt[torch.from_numpy(va).to(Xt.device)]),
                                               default=float(np.mean(self.thresholds_)))
        return self

    def _initial_thresholds(self):
        t = np.asarray(self.threshold, dtype=float)
        if t.ndim == 0:
            return np.full(self.n_classes_, float(t))
        if t.shape != (self.n_classes_,):
            raise ValueError(f"threshold has {t.size} values for {self.n_classes_} classes")
        return t

    def _infer_bs(self) -> int:
        if self.inference_batch_size:
            return int(self.inference_batch_size)
        return 256 if str(self.device).startswith("cuda") else 16

    def _on_device(self, Xt: torch.Tensor) -> torch.Tensor:
        """Move small data sets to the GPU once, instead of batch by batch."""
        if str(self.device).startswith("cuda") and Xt.numel() * 4 < 2**31:
            return Xt.to(self.device)
        return Xt

    def _proba_tensor(self, Xt: torch.Tensor) -> np.ndarray:
        self.module_.eval()
        bs = self._infer_bs()
        Xt = self._on_device(Xt)
        out = []
        with torch.inference_mode():
            for b in range(0, len(Xt), bs):
                logits = self.module_(Xt[b:b + bs].to(self.device))
                if isinstance(logits, tuple):
                    logits = logits[0]
                out.append(torch.sigmoid(logits).float().cpu())
        return torch.cat(out).numpy()

    def predict_proba(self, X):
        """Probabilities, shape (n_records, n_classes), float32."""
        check_is_fitted(self, "classes_")
        return self._proba_tensor(self._as_tensor(X, fitting=False))

    def predict(self, X):
        """0/1 indicator matrix: probabilities against the per-class ``thresholds_``."""
        return (self.predict_proba(X) >= self.thresholds_[None, :]).astype(np.int64)

    def embed(self, X):
        """The network's penultimate representation of each record (deep features)."""
        check_is_fitted(self, "classes_")
        Xt = self._as_tensor(X, fitting=False)
        self.module_.eval()
        bs = self._infer_bs()
        out = []
        with torch.inference_mode():
            for b in range(0, len(Xt), bs):
                out.append(self.module_.features(Xt[b:b + bs].to(self.device)).float().cpu())
        return torch.cat(out).numpy()

    def attention_weights(self, X):
        """Attention weights per record over the downsampled time steps
        (attention ResNet only), shape (n_records, n_steps), rows sum to 1."""
        check_is_fitted(self, "classes_")
        if not isinstance(self.module_, AttentionResNet1d):
            raise ValueError("attention weights exist only for module='attention_resnet1d'")
        Xt = self._as_tensor(X, fitting=False)
        self.module_.eval()
        out = []
        with torch.inference_mode():
            for b in range(0, len(Xt), 16):
                out.append(self.module_(Xt[b:b + 16].to(self.device), return_attention=True)[1].cpu())
        return torch.cat(out).numpy()

    # -- persistence ---------------------------------------------------------------------
    def save_weights(self, path) -> None:
        """Save weights and what is needed to rebuild the model (no pickled code).

        Load with ``ECGClassifier(<same module settings>).load_weights(path)``, which
        reads the file with ``torch.load(weights_only=True)``.
        """
        check_is_fitted(self, "classes_")
        torch.save({
            "state_dict": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()},
            "classes": [str(c) for c in self.classes_],
            "thresholds": torch.as_tensor(self.thresholds_, dtype=torch.float64),
            "shape": [self.n_leads_, self.n_samples_, self.n_classes_],
        }, path)

    def load_weights(self, path):
        """Load weights saved by :meth:`save_weights`; returns self, ready to predict."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.n_leads_, self.n_samples_, self.n_classes_ = (int(v) for v in state["shape"])
        self.classes_ = np.asarray(state["classes"], dtype=object)
        self.thresholds_ = state["thresholds"].numpy()
        self.initialize()
        self.module_.load_state_dict(state["state_dict"])
        self.module_.to(self.device)
        return self

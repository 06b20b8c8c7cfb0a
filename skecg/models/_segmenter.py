"""WaveSegmenter: sample-wise ECG wave segmentation by a 1D U-Net trained through skorch."""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
import torch
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from .._records import validate_records
from ..labels import LUDB_WAVES, clean_masks, masks_to_waves
from ..utils.validation import validate_params
from ._base import ECGNet, on_device
from ._data import known_leads, to_device
from ._unet import UNet1d

#: the mask label the loss ignores (``torch.nn.CrossEntropyLoss``'s default ``ignore_index``)
IGNORE_INDEX = -100


def _softmax_classes(logits: torch.Tensor) -> torch.Tensor:
    """Class probabilities per sample: softmax over the class axis of (n, classes, L)."""
    return torch.softmax(logits, dim=1)


class WaveSegmenter(ECGNet):
    """Sample-wise ECG wave segmenter: a 1D U-Net (:class:`~skecg.models.UNet1d`)
    trained by skorch with cross-entropy.

    ``fit(X, masks)`` takes signals ``(n, n_leads, L)`` (an :class:`~skecg.ECGRecords`,
    in memory or on disk, or an array; a single lead ``(n, 1, L)`` is the main use) and
    int masks ``(n, L)``: 0 = background and 1..K-1 the wave classes (LUDB: 1 P,
    2 QRS, 3 T; build them with :func:`~skecg.labels.waves_to_masks`).  Negative mask
    values (the unannotated ends of LUDB records) are ignored by the loss.  Any
    length and sampling rate work (the network is fully convolutional); the
    durations of the cleaning rules of :meth:`predict_waves` are in seconds and need
    ``fs``.

    It is an :class:`~skecg.models._base.ECGNet`, as
    :class:`~skecg.models.ECGClassifier` is, and trains the same way: records are
    read in whole batches through an :class:`~skecg.models.ECGDataset` (a lazy
    :class:`~skecg.ECGRecords` stays on disk), the validation split is a
    :class:`~skecg.models.PatientSplit` by patient (``valid_size``; ``meta['patient_id']``
    or ``fit(X, masks, groups=...)``; balanced over the wave classes each record
    holds) with early stopping on its loss (best weights restored), ``random_state``
    seeds the split, initialisation, shuffling and augmentation, ``device`` may be a
    GPU (``'cuda'``, or ``'auto'``), and :meth:`save_weights` / :meth:`load_weights`
    are weights-only.  Records that name their leads are matched to the training
    records' leads (``leads_``) by name at prediction.

    Augmentation (on by default, training batches only): each record is scaled by a
    factor drawn log-uniformly from ``scale_range``, gets a baseline wander (a
    sinusoid of 0.05-0.5 Hz with an amplitude up to ``wander`` times the record's
    standard deviation) and Gaussian noise (standard deviation up to ``noise`` times
    the record's).

    Parameters
    ----------
    module : torch module class, default=UNet1d
        ``n_leads`` and ``n_classes`` are set from the data unless given as
        ``module__n_leads`` / ``module__n_classes``.
    criterion : torch loss class, default=torch.nn.CrossEntropyLoss
        Given the logits (n, classes, L) and the masks (n, L) as class indices, with
        ignored samples at -100.
    classes : sequence of str, optional
        Class names of the mask values (default ``('none', 'P', 'QRS', 'T')`` for
        four classes, else ``'0', '1', ...``); their number fixes ``n_classes``
        (default: the largest mask value + 1).
    fs : float, optional
        Sampling rate, used by the cleaning rules and the wander frequency; taken
        from the records' ``meta['fs']`` when X is an ECGRecords.
    max_gap, min_duration, min_separation : float, default=0.05, 0.04, 0.125
        Cleaning rules of :meth:`predict_waves` (seconds), see
        :func:`~skecg.labels.clean_masks` (chosen by cross-validation inside LUDB's
        training records in ``benchmarks/segmentation.py``, not on the held-out
        ones).  ``0`` switches a rule off.
    augment : bool, default=True
    scale_range : (float, float), default=(0.5, 2.0)
    wander : float, default=0.5
    noise : float, default=0.1
    optimizer, lr, max_epochs, batch_size, patience, valid_size
        As in :class:`~skecg.models.ECGClassifier`.
    inference_batch_size, precision, random_state, deterministic, device, progress_bar, callbacks, verbose
        As in :class:`~skecg.models.ECGClassifier`.
    **kwargs
        skorch's prefixed parameters (``module__*``, ``optimizer__*``, ``iterator_train__*``),
        ``train_split`` (default ``'auto'``: ``PatientSplit(valid_size)``) and
        ``predict_nonlinearity`` (default ``'auto'``: softmax over the classes).

    Attributes
    ----------
    classes_ : ndarray of str
    n_leads_, n_classes_ : int
    fs_ : float
    leads_ : tuple of str or None
        Lead names of the training records (``None`` for plain arrays).
    history_ : skorch History

    Examples
    --------
    >>> import numpy as np
    >>> from skecg.models import WaveSegmenter
    >>> X = np.random.default_rng(0).normal(size=(8, 1, 512)).astype("float32")
    >>> masks = (X[:, 0] > 1).astype(int)
    >>> seg = WaveSegmenter(module__filters=(4, 8), max_epochs=2, fs=100, classes=["none", "hi"],
    ...                     random_state=0).fit(X, masks)
    >>> seg.predict(X).shape, seg.predict_proba(X).shape
    ((8, 512), (8, 2, 512))
    """

    _parameter_constraints: dict = {
        **ECGNet._parameter_constraints,
        "classes": ["array-like", None],
        "fs": [Interval(Real, 0, None, closed="neither"), None],
        "max_gap": [Interval(Real, 0, None, closed="left")],
        "min_duration": [Interval(Real, 0, None, closed="left")],
        "min_separation": [Interval(Real, 0, None, closed="left")],
        "augment": ["boolean"],
        "scale_range": ["array-like"],
        "wander": [Interval(Real, 0, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, module=UNet1d, criterion=torch.nn.CrossEntropyLoss, *, classes=None, fs=None,
                 max_gap=0.05, min_duration=0.04, min_separation=0.125, augment=True,
                 scale_range=(0.5, 2.0), wander=0.5, noise=0.1,
                 optimizer=torch.optim.Adam, lr=3e-3, max_epochs=60, batch_size=8, patience=8, valid_size=0.1,
                 inference_batch_size=None, precision="auto", random_state=None, deterministic="auto",
                 device="cpu", progress_bar=False, callbacks=None, verbose=0, **kwargs):
        super().__init__(module, criterion, optimizer=optimizer, lr=lr, max_epochs=max_epochs,
                         batch_size=batch_size, patience=patience, valid_size=valid_size,
                         inference_batch_size=inference_batch_size, precision=precision,
                         random_state=random_state, deterministic=deterministic, device=device,
                         progress_bar=progress_bar, callbacks=callbacks, verbose=verbose, **kwargs)
        self.classes = classes
        self.fs = fs
        self.max_gap = max_gap
        self.min_duration = min_duration
        self.min_separation = min_separation
        self.augment = augment
        self.scale_range = scale_range
        self.wander = wander
        self.noise = noise

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # -- validation ---------------------------------------------------------------------------
    def _check_masks(self, y, shape) -> np.ndarray:
        """Int masks (n_records, n_samples), checked against the records' ``shape``."""
        masks = np.asarray(y)
        if masks.shape != (shape[0], shape[2]):
            raise ValueError(f"masks must have shape (n_records, n_samples) = {(shape[0], shape[2])}, "
                             f"got {masks.shape}")
        if not np.issubdtype(masks.dtype, np.integer):
            if not np.all(np.mod(masks, 1) == 0):
                raise ValueError("masks must hold integer class labels")
        return masks.astype(np.int64)

    def _resolve_classes(self, masks) -> np.ndarray:
        top = int(masks.max()) if masks.size else 0
        if self.classes is not None:
            classes = [str(c) for c in self.classes]
            if top >= len(classes):
                raise ValueError(f"masks hold label {top} but only {len(classes)} classes are named")
        else:
            k = max(top + 1, 2)
            classes = list(LUDB_WAVES) if k == 4 else [str(j) for j in range(k)]
        if top < 1:
            raise ValueError("masks hold no wave label (all background or unannotated)")
        return np.asarray(classes, dtype=object)

    def _resolve_fs(self, X) -> float:
        if self.fs is not None:
            return float(self.fs)
        if validate_records(X).is_records:
            fs = X.meta["fs"].dropna().unique()
            if len(fs) == 1:
                return float(fs[0])
            raise ValueError(f"records have sampling rates {sorted(fs)}; resample them to one (Resampler) "
                             "or pass fs=")
        raise ValueError("X is an array: pass fs= (the sampling rate) to WaveSegmenter")

    # -- skorch hooks -------------------------------------------------------------------------
    def initialize_module(self):
        kwargs = self.get_params_for("module")
        for key, attr in (("n_leads", "n_leads_"), ("n_classes", "n_classes_")):
            if hasattr(self, attr):
                kwargs.setdefault(key, int(getattr(self, attr)))
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def _split_labels(self, dataset):
        """Which wave classes each record holds: the patient split balances over them."""
        y = getattr(dataset, "y", None)
        if y is None or y.ndim != 2:
            return None
        return np.stack([(y == k).any(axis=1) for k in range(1, self.n_classes_)], axis=1).astype(np.int8)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The criterion in float32 (outside autocast) on the masks as class indices."""
        if isinstance(y_pred, tuple):
            y_pred = y_pred[0]
        return self.criterion_(y_pred.float(), y_true.to(self.device).long())

    def _auto_nonlinearity(self, logits):
        return _softmax_classes(logits)

    def _training_input(self, x):
        return self._augment(to_device(x, self.device)) if self.augment else x

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        """Scaling, baseline wander and noise of a training batch, drawn from ``torch_rng_``
        (on the CPU, so a seed gives the same draws on every device)."""
        g = self.torch_rng_
        n, _, length = x.shape

        def draw(*shape):
            return torch.rand(*shape, generator=g).to(x.device)
        lo, hi = np.log(self.scale_range[0]), np.log(self.scale_range[1])
        scale = torch.exp(lo + (hi - lo) * draw(n, 1, 1))
        sd = x.std(dim=-1, keepdim=True) + 1e-6
        t = torch.arange(length, dtype=torch.float32, device=x.device) / self.fs_
        freq = 0.05 + 0.45 * draw(n, 1, 1)
        phase = 2 * np.pi * draw(n, 1, 1)
        amp = self.wander * draw(n, 1, 1) * sd
        noise_sd = self.noise * draw(n, 1, 1) * sd
        noise = torch.randn(x.shape, generator=g).to(x.device)
        out = x + amp * torch.sin(2 * np.pi * freq * t + phase) + noise_sd * noise
        return out * scale

    def _training_state(self) -> dict:
        state = super()._training_state()
        state["augment_rng"] = self.torch_rng_.get_state()
        return state

    def _restore_training_state(self, state: dict) -> None:
        super()._restore_training_state(state)
        if "augment_rng" in state:
            self.torch_rng_.set_state(state["augment_rng"])

    # -- fit / predict --------------------------------------------------------------------------
    @on_device
    def fit(self, X, y, **fit_params):
        """Train on signals (n, n_leads, L) and int masks (n, L); ``groups`` (one
        patient per record) may replace the records' ``meta['patient_id']`` in the
        validation split."""
        validate_params(self)  # skorch's _validate_params checks its **kwargs prefixes
        X = self._check_X(X, fitting=True)
        groups = self._check_fit_params(fit_params, len(X))
        masks = self._check_masks(y, X.shape)
        self.classes_ = self._resolve_classes(masks)
        self.n_classes_ = len(self.classes_)
        self.n_leads_ = int(X.shape[1])
        self.fs_ = self._resolve_fs(X)
        self.leads_ = known_leads(X)
        self._check_device_settings()
        self.torch_rng_ = torch.Generator().manual_seed(self._new_seed())
        self.interrupted_ = False
        self._fit_signature_ = self._signature(X, masks, groups)
        dataset = self._make_dataset(X, np.where(masks < 0, IGNORE_INDEX, masks), None)
        try:
            with self._seeded():
                super().fit(dataset, None, **fit_params)
        finally:
            self._forget_data()
        return self

    @on_device
    def predict_proba(self, X):
        """Class probabilities per sample, shape (n_records, n_classes, n_samples), float32."""
        check_is_fitted(self, "classes_")
        return self._outputs(X, "proba")

    def predict(self, X):
        """Most probable class per sample, shape (n_records, n_samples), int64."""
        return self.predict_proba(X).argmax(axis=1).astype(np.int64)

    def predict_waves(self, X, *, clean=True) -> pd.DataFrame:
        """Table of predicted segments: ``record_id, wave, onset, offset, proba``.

        The argmax masks are cleaned by :func:`~skecg.labels.clean_masks` (``max_gap``,
        ``min_duration``, ``min_separation``) unless ``clean=False``; ``proba`` is the
        segment's mean probability of its class; ``offset`` is inclusive.
        """
        proba = self.predict_proba(X)
        masks = proba.argmax(axis=1)
        if clean:
            masks = clean_masks(masks, self.fs_, max_gap=self.max_gap, min_duration=self.min_duration,
                                min_separation=self.min_separation, proba=proba)
        ids = list(validate_records(X).meta["record_id"])  # '0', '1', ... for plain arrays
        return masks_to_waves(masks, ids, self.classes_, proba)

    # -- persistence -------------------------------------------------------------------------------
    def _weights_facts(self) -> dict:
        return {"classes": [str(c) for c in self.classes_], "shape": [self.n_leads_, self.n_classes_],
                "fs": float(self.fs_), "leads": [] if getattr(self, "leads_", None) is None else list(self.leads_)}

    def _set_weights_facts(self, state: dict) -> None:
        self.n_leads_, self.n_classes_ = (int(v) for v in state["shape"])
        self.classes_ = np.asarray(state["classes"], dtype=object)
        self.fs_ = float(state["fs"])
        self.leads_ = tuple(state["leads"]) if state.get("leads") else None  # files of older versions have none

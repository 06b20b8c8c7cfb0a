"""Sample-wise ECG wave segmentation: masks, a skorch U-Net segmenter, wave tables, scores.

- :func:`waves_to_masks` turns a wave table (``read_ludb``'s, or any table with
  ``record_id, wave, onset, offset``) into int masks, one label per sample.
- :class:`WaveSegmenter` learns masks from signals (a 1D U-Net trained by skorch).
- :func:`masks_to_waves` turns masks back into a wave table, with the cleaning
  rules documented there.
- :func:`delineation_scores` compares predicted and annotated onsets and offsets.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import GroupShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet

from ._records import ECGRecords
from .utils.validation import ECGInputMixin, check_finite_records, net_parameter_constraints, validate_params
from .models._classifier import _EarlyStopping
from .models._skorch_common import default_callbacks
from .models._unet import UNet1d

#: Class names of LUDB masks: 0 none, 1 P, 2 QRS, 3 T.
LUDB_WAVES = ("none", "P", "QRS", "T")
#: Mask value of samples outside the annotated region (ignored in training and scoring).
UNANNOTATED = -1


# --- masks <-> tables ------------------------------------------------------------------
def waves_to_masks(waves, records, n_samples: int, *, lead=None, classes=LUDB_WAVES,
                   unannotated: int = UNANNOTATED) -> np.ndarray:
    """Int masks ``(n_records, n_samples)`` from a wave table.

    Parameters
    ----------
    waves : DataFrame
        ``record_id, wave, onset, offset`` (and ``lead`` when ``lead`` is given), as
        returned by :func:`skecg.io.read_ludb`.
    records : ECGRecords or sequence of str
        The records (their ``record_id``) in the order of the mask rows.
    n_samples : int
        Mask length.
    lead : str, optional
        Use only the annotations of this lead (e.g. ``'II'``).
    classes : sequence of str, default=('none', 'P', 'QRS', 'T')
        Class names; a wave named ``classes[k]`` is labelled ``k`` (``classes[0]``
        is the background).
    unannotated : int, default=-1
        Label of the samples outside the annotated region of each record (before
        its first onset and after its last offset: LUDB leaves the first and last
        beats unannotated), and of a 40 ms margin beyond a missing onset or offset.
        :class:`WaveSegmenter` ignores negative labels in training.  Pass 0 to
        treat them as background.

    Examples
    --------
    >>> import pandas as pd
    >>> w = pd.DataFrame({"record_id": ["a", "a"], "wave": ["P", "QRS"],
    ...                   "onset": [2, 6], "offset": [3, 8]})
    >>> waves_to_masks(w, ["a"], 10)
    array([[-1, -1,  1,  1,  0,  0,  2,  2,  2, -1]])
    """
    ids = list(records.meta["record_id"]) if isinstance(records, ECGRecords) else [str(r) for r in records]
    w = waves
    if lead is not None:
        if "lead" not in w:
            raise ValueError("lead given but the wave table has no 'lead' column")
        w = w[w["lead"] == lead]
    code = {str(c): k for k, c in enumerate(classes)}
    unknown = sorted(set(map(str, w["wave"])) - set(code))
    if unknown:
        raise ValueError(f"wave names {unknown} are not in classes {list(classes)}")
    masks = np.full((len(ids), int(n_samples)), int(unannotated), dtype=np.int64)
    margin = 20  # samples (40 ms at 500 Hz) marked unannotated beyond a missing bound
    groups = {rid: g for rid, g in w.groupby("record_id", sort=False)}
    for i, rid in enumerate(ids):
        g = groups.get(rid)
        if g is None or len(g) == 0:
            continue
        on = pd.to_numeric(g["onset"]).to_numpy(float)
        off = pd.to_numeric(g["offset"]).to_numpy(float)
        pk = pd.to_numeric(g["peak"]).to_numpy(float) if "peak" in g else np.full(len(g), np.nan)
        start = np.fmin(on, pk)
        stop = np.fmax(off, pk)
        lo, hi = int(np.nanmin(start)), int(np.nanmax(stop))
        masks[i, max(lo, 0):min(hi + 1, n_samples)] = 0
        for k, a, b, o, f in zip(g["wave"].astype(str), start, stop, on, off):
            if np.isnan(a) or np.isnan(b):
                continue
            a, b = int(a), int(b)
            masks[i, max(a, 0):min(b + 1, n_samples)] = code[k]
            if np.isnan(o):
                masks[i, max(a - margin, 0):max(a, 0)] = unannotated
            if np.isnan(f):
                masks[i, min(b + 1, n_samples):min(b + 1 + margin, n_samples)] = unannotated
    return masks


def _runs(row: np.ndarray):
    """(value, start, stop) of the constant runs of a 1-D int array (stop exclusive)."""
    if row.size == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)
    change = np.flatnonzero(np.diff(row)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [row.size]])
    return row[starts], starts, stops


def clean_masks(masks, fs: float, *, max_gap: float = 0.01, min_duration: float = 0.02,
                min_separation: float = 0.0, proba=None) -> np.ndarray:
    """Clean predicted masks with three rules, applied in this order per record:

    1. a background gap of at most ``max_gap`` seconds between two segments of the
       same class is filled with that class (one wave split by a dip of the
       probability becomes one segment);
    2. a segment shorter than ``min_duration`` seconds becomes background (spikes);
    3. of two segments of the same class less than ``min_separation`` seconds apart
       (from the end of one to the start of the next), the one of smaller
       probability mass (the sum of its class probability over its samples, from
       ``proba`` (n, n_classes, L); its length without ``proba``) becomes background,
       strongest first: a heart cannot beat twice within its refractory period, so
       a short extra "QRS" just before or after a complex is dropped.

    Examples
    --------
    >>> m = np.array([[0, 2, 2, 0, 2, 2, 0, 0, 1, 0, 0]])
    >>> clean_masks(m, fs=1000, max_gap=0.001, min_duration=0.002)
    array([[0, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0]])
    >>> m = np.array([[2, 0, 0, 2, 2, 2, 0, 0, 0, 0, 2, 2]])
    >>> clean_masks(m, fs=1000, max_gap=0, min_duration=0, min_separation=0.003)
    array([[0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 2, 2]])
    """
    out = np.array(masks, dtype=np.int64, copy=True)
    gap = int(round(max_gap * fs))
    short = int(round(min_duration * fs))
    sep = int(round(min_separation * fs))
    for i, row in enumerate(out):
        v, a, b = _runs(row)
        if gap > 0:
            for j in range(1, len(v) - 1):
                if v[j] == 0 and v[j - 1] == v[j + 1] and v[j - 1] > 0 and b[j] - a[j] <= gap:
                    row[a[j]:b[j]] = v[j - 1]
            v, a, b = _runs(row)
        for j in np.flatnonzero((v > 0) & (b - a < short)):
            row[a[j]:b[j]] = 0
        if sep > 0:
            v, a, b = _runs(row)
            for c in np.unique(v[v > 0]):
                k = np.flatnonzero(v == c)
                if k.size < 2 or np.min(a[k[1:]] - b[k[:-1]]) >= sep:
                    continue
                mass = (np.array([proba[i, c, a[j]:b[j]].sum() for j in k]) if proba is not None
                        else (b[k] - a[k]).astype(float))
                kept: list = []
                for j in k[np.argsort(-mass, kind="stable")]:
                    if all(a[j] - b[q] >= sep or a[q] - b[j] >= sep for q in kept):
                        kept.append(j)
                    else:
                        row[a[j]:b[j]] = 0
    return out


def masks_to_waves(masks, record_ids=None, classes=LUDB_WAVES, proba=None) -> pd.DataFrame:
    """Wave table (``record_id, wave, onset, offset``) of the segments of int masks.

    ``offset`` is the last sample of the segment (inclusive, as LUDB's).  With
    ``proba`` (n, n_classes, L) a column ``proba`` holds each segment's mean
    probability of its class.  Background (0) and negative labels are not listed.

    Examples
    --------
    >>> masks_to_waves(np.array([[0, 1, 1, 0, 2, 2, 2]]), ["r1"])
      record_id wave  onset  offset
    0        r1    P      1       2
    1        r1  QRS      4       6
    """
    masks = np.asarray(masks)
    ids = [str(i) for i in range(len(masks))] if record_ids is None else [str(r) for r in record_ids]
    rows = []
    for i, row in enumerate(masks):
        v, a, b = _runs(row)
        for k, s, e in zip(v, a, b):
            if k <= 0:
                continue
            r = [ids[i], str(classes[k]) if k < len(classes) else str(k), int(s), int(e - 1)]
            if proba is not None:
                r.append(float(proba[i, k, s:e].mean()))
            rows.append(r)
    cols = ["record_id", "wave", "onset", "offset"] + (["proba"] if proba is not None else [])
    return pd.DataFrame(rows, columns=cols)


# --- scoring -----------------------------------------------------------------------------
def _match(true: np.ndarray, pred: np.ndarray, tol: float):
    """Greedy one-to-one matching of two sorted point sets within ``tol``, closest pairs
    first.  Returns the signed errors (pred - true) of the matched pairs."""
    if len(true) == 0 or len(pred) == 0:
        return np.zeros(0)
    d = pred[None, :] - true[:, None]
    i, j = np.nonzero(np.abs(d) <= tol)
    order = np.argsort(np.abs(d[i, j]), kind="stable")
    used_t, used_p, err = set(), set(), []
    for k in order:
        a, b = i[k], j[k]
        if a in used_t or b in used_p:
            continue
        used_t.add(a)
        used_p.add(b)
        err.append(d[a, b])
    return np.asarray(err, dtype=float)


def annotated_regions(waves) -> pd.DataFrame:
    """Per record: the annotated region ``[start, stop]`` (first onset, last offset).

    Examples
    --------
    >>> w = pd.DataFrame({"record_id": ["a", "a"], "onset": [5, 40], "offset": [20, 60]})
    >>> annotated_regions(w).loc["a"].tolist()
    [5, 60]
    """
    start = np.fmin(pd.to_numeric(waves["onset"]).to_numpy(float),
                    pd.to_numeric(waves.get("peak", waves["onset"])).to_numpy(float))
    stop = np.fmax(pd.to_numeric(waves["offset"]).to_numpy(float),
                   pd.to_numeric(waves.get("peak", waves["offset"])).to_numpy(float))
    df = pd.DataFrame({"record_id": waves["record_id"].to_numpy(), "start": start, "stop": stop})
    return df.groupby("record_id", sort=False).agg(start=("start", "min"), stop=("stop", "max")).astype(int)


def _overlaps_missing(t: pd.DataFrame, p: pd.DataFrame, point: str) -> np.ndarray:
    """Which predicted waves ``p`` overlap an annotated wave of ``t`` that lacks ``point``."""
    miss = t[pd.to_numeric(t[point]).isna()]
    if len(miss) == 0 or len(p) == 0:
        return np.zeros(len(p), dtype=bool)
    cols = [c for c in ("onset", "peak", "offset") if c in miss]
    span = miss[cols].apply(pd.to_numeric).to_numpy(float)
    lo, hi = np.nanmin(span, axis=1), np.nanmax(span, axis=1)
    on, off = p["onset"].to_numpy(float), p["offset"].to_numpy(float)
    return ((on[:, None] <= hi[None]) & (off[:, None] >= lo[None])).any(1)


def delineation_scores(true_waves, pred_waves, fs: float, *, tolerance: float = 0.15,
                       waves=("P", "QRS", "T"), skip_missing: bool = True) -> pd.DataFrame:
    """Onset and offset detection scores of predicted waves against annotated ones.

    For each record, wave type and point (onset, offset), predicted points are
    matched one-to-one to annotated points within ``tolerance`` seconds (closest
    pairs first).  Only the annotated region of each record counts (first to last
    annotated point, :func:`annotated_regions`): a predicted wave whose centre lies
    outside it is left out, as are records absent from ``true_waves``.

    An annotated wave may lack a point (LUDB gives some paced QRS complexes a peak
    and an offset but no onset).  With ``skip_missing`` (default) the same point of
    a predicted wave of that type overlapping such a wave counts neither way (it
    cannot be checked); with ``skip_missing=False`` it is a false positive.

    Returns
    -------
    DataFrame
        Index (wave, point); columns ``tp, fp, fn, se, ppv, f1, mean_error_ms,
        sd_error_ms`` (errors of the matched pairs, predicted minus annotated).

    Examples
    --------
    >>> t = pd.DataFrame({"record_id": ["a"] * 2, "wave": ["QRS"] * 2,
    ...                   "onset": [100, 600], "offset": [140, 640]})
    >>> p = pd.DataFrame({"record_id": ["a"] * 2, "wave": ["QRS"] * 2,
    ...                   "onset": [102, 900], "offset": [141, 950]})
    >>> s = delineation_scores(t, p, fs=500, waves=["QRS"])
    >>> s.loc[("QRS", "onset"), ["tp", "fp", "fn"]].tolist(), float(s.loc[("QRS", "onset"), "mean_error_ms"])
    ([1, 0, 1], 4.0)
    """
    tol = tolerance * fs
    regions = annotated_regions(true_waves)
    pw = pred_waves[pred_waves["record_id"].isin(regions.index)]
    centre = (pw["onset"].to_numpy(float) + pw["offset"].to_numpy(float)) / 2
    reg = regions.loc[pw["record_id"]]
    pw = pw[(centre >= reg["start"].to_numpy()) & (centre <= reg["stop"].to_numpy())]
    rows = []
    tw_by = dict(tuple(true_waves.groupby(["record_id", "wave"], observed=True)))
    pw_by = dict(tuple(pw.groupby(["record_id", "wave"], observed=True)))
    for wave in waves:
        for point in ("onset", "offset"):
            tp = fp = fn = 0
            errs = []
            for rid in regions.index:
                t = tw_by.get((rid, wave))
                p = pw_by.get((rid, wave))
                tv = np.sort(pd.to_numeric(t[point]).dropna().to_numpy(float)) if t is not None else np.zeros(0)
                if p is not None and t is not None and skip_missing:
                    p = p[~_overlaps_missing(t, p, point)]
                pv = np.sort(p[point].to_numpy(float)) if p is not None else np.zeros(0)
                e = _match(tv, pv, tol)
                tp += len(e)
                fp += len(pv) - len(e)
                fn += len(tv) - len(e)
                errs.append(e)
            e = np.concatenate(errs) * 1000.0 / fs if errs else np.zeros(0)
            se = tp / max(tp + fn, 1)
            ppv = tp / max(tp + fp, 1)
            rows.append({"wave": wave, "point": point, "tp": tp, "fp": fp, "fn": fn, "se": se, "ppv": ppv,
                         "f1": 2 * tp / max(2 * tp + fp + fn, 1),
                         "mean_error_ms": float(e.mean()) if e.size else np.nan,
                         "sd_error_ms": float(e.std()) if e.size else np.nan})
    return pd.DataFrame(rows).set_index(["wave", "point"])


# --- the estimator -------------------------------------------------------------------------
class _SegmentData(torch.utils.data.Dataset):
    """Signals (n, leads, L) float32 and masks (n, L) int64; batches fetched whole."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor | None = None):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], (self.y[i] if self.y is not None else torch.zeros(0))

    def __getitems__(self, idx):
        xb = self.X[idx]
        yb = self.y[idx] if self.y is not None else torch.zeros((len(idx), 0))
        return list(zip(xb.unbind(0), yb.unbind(0)))


class WaveSegmenter(ECGInputMixin, NeuralNet):
    """Sample-wise ECG wave segmenter: a 1D U-Net (:class:`~skecg.models.UNet1d`)
    trained by skorch with cross-entropy.

    ``fit(X, masks)`` takes signals ``(n, n_leads, L)`` (an :class:`ECGRecords` or an
    array; a single lead ``(n, 1, L)`` is the main use) and int masks ``(n, L)``:
    0 = background and 1..K-1 the wave classes (LUDB: 1 P, 2 QRS, 3 T; build them
    with :func:`waves_to_masks`).  Negative mask values (the unannotated ends of
    LUDB records) are ignored by the loss.  Any length and sampling rate work
    (the network is fully convolutional); the durations of the cleaning rules of
    :meth:`predict_waves` are in seconds and need ``fs``.

    Training follows :class:`~skecg.models.ECGClassifier`'s conventions: a
    validation split by patient (``valid_size``) with early stopping on its loss
    (best weights restored), ``random_state`` seeding the split, initialisation,
    shuffling and augmentation, ``progress_bar``, and weights-only
    :meth:`save_weights` / :meth:`load_weights`.  Augmentation (on by default,
    training batches only): each record is scaled by a factor drawn log-uniformly
    from ``scale_range``, gets a baseline wander (a sinusoid of 0.05-0.5 Hz with an
    amplitude up to ``wander`` times the record's standard deviation) and Gaussian
    noise (standard deviation up to ``noise`` times the record's).

    Parameters
    ----------
    module : torch module class, default=UNet1d
        ``n_leads`` and ``n_classes`` are set from the data unless given as
        ``module__n_leads`` / ``module__n_classes``.
    criterion : torch loss class, default=torch.nn.CrossEntropyLoss
    classes : sequence of str, optional
        Class names of the mask values (default ``('none', 'P', 'QRS', 'T')`` for
        four classes, else ``'0', '1', ...``); their number fixes ``n_classes``
        (default: the largest mask value + 1).
    fs : float, optional
        Sampling rate, used by the cleaning rules and the wander frequency; taken
        from the records' ``meta['fs']`` when X is an ECGRecords.
    max_gap, min_duration, min_separation : float, default=0.05, 0.04, 0.125
        Cleaning rules of :meth:`predict_waves` (seconds), see :func:`clean_masks`
        (chosen on LUDB training records, not on the held-out ones; ``min_separation``
        by 4-fold cross-validation inside the 128 training records of
        ``benchmarks/segmentation.py``: out-of-fold QRS onset F1 0.9991 without it,
        0.9996 for any value from 0.075 to 0.175 s, lower from 0.2 s, where close
        beats start to be dropped; P and T unchanged or better).  ``0`` switches a
        rule off.
    augment : bool, default=True
    scale_range : (float, float), default=(0.5, 2.0)
    wander : float, default=0.5
    noise : float, default=0.1
    optimizer, lr, max_epochs, batch_size, patience, valid_size, random_state, device, progress_bar, callbacks, verbose
        As in :class:`~skecg.models.ECGClassifier`.
    **kwargs
        skorch's prefixed parameters (``module__*``, ``optimizer__*``, ``iterator_train__*``).

    Attributes
    ----------
    classes_ : ndarray of str
    n_leads_, n_classes_ : int
    fs_ : float
    history_ : skorch History

    Examples
    --------
    >>> import numpy as np
    >>> from skecg.segmentation import WaveSegmenter
    >>> X = np.random.default_rng(0).normal(size=(8, 1, 512)).astype("float32")
    >>> masks = (X[:, 0] > 1).astype(int)
    >>> seg = WaveSegmenter(module__filters=(4, 8), max_epochs=2, fs=100, classes=["none", "hi"],
    ...                     random_state=0).fit(X, masks)
    >>> seg.predict(X).shape, seg.predict_proba(X).shape
    ((8, 512), (8, 2, 512))
    """

    _parameter_constraints: dict = {
        **net_parameter_constraints(),
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
                 random_state=None, device="cpu", progress_bar=False, callbacks=None, verbose=0, **kwargs):
        kwargs.setdefault("train_split", None)  # ours: valid_size, grouped by patient
        super().__init__(module, criterion, optimizer=optimizer, lr=lr, max_epochs=max_epochs,
                         batch_size=batch_size, callbacks=callbacks, verbose=verbose, device=device, **kwargs)
        self.classes = classes
        self.fs = fs
        self.max_gap = max_gap
        self.min_duration = min_duration
        self.min_separation = min_separation
        self.augment = augment
        self.scale_range = scale_range
        self.wander = wander
        self.noise = noise
        self.patience = patience
        self.valid_size = valid_size
        self.random_state = random_state
        self.progress_bar = progress_bar

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # -- validation ---------------------------------------------------------------------------
    def _as_array(self, X, fitting: bool) -> np.ndarray:
        if isinstance(X, ECGRecords):
            if X.is_ragged:
                raise ValueError("records have different lengths or lead counts; resample and pad them first "
                                 "(skecg.preprocessing.Resampler, PadTruncate)")
            arr = np.asarray(X.signals)
        else:
            arr = np.asarray(X)
        if arr.ndim != 3:
            raise ValueError(f"X must be 3-D (n_records, n_leads, n_samples), got shape {arr.shape}; "
                             "for one lead use X[:, None, :]")
        if len(arr) == 0:
            raise ValueError("X holds no records")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        check_finite_records(X, arr)
        if not fitting and arr.shape[1] != self.n_leads_:
            raise ValueError(f"X has {arr.shape[1]} leads but the segmenter was fitted on {self.n_leads_}")
        return arr

    def _resolve_fs(self, X) -> float:
        if self.fs is not None:
            return float(self.fs)
        if isinstance(X, ECGRecords):
            fs = X.meta["fs"].dropna().unique()
            if len(fs) == 1:
                return float(fs[0])
            raise ValueError(f"records have sampling rates {sorted(fs)}; resample them to one (Resampler) "
                             "or pass fs=")
        raise ValueError("X is an array: pass fs= (the sampling rate) to WaveSegmenter")

    # -- skorch hooks -------------------------------------------------------------------------
    def get_default_callbacks(self):
        # early stopping that waits while an epoch has no validation score (too few patients to split)
        return default_callbacks(self, validation=bool(self.valid_size), early_stopping=_EarlyStopping)

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        for key, attr in (("n_leads", "n_leads_"), ("n_classes", "n_classes_")):
            if hasattr(self, attr):
                kwargs.setdefault(key, int(getattr(self, attr)))
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def get_dataset(self, X, y=None):
        if isinstance(X, torch.utils.data.Dataset):
            return X
        return _SegmentData(torch.from_numpy(self._as_array(X, False)))

    def get_split_datasets(self, X, y=None, **fit_params):
        data = self.get_dataset(X, y)
        if getattr(self, "valid_idx_", None) is None:
            return data, None
        return (torch.utils.data.Subset(data, self.train_idx_.tolist()),
                torch.utils.data.Subset(data, self.valid_idx_.tolist()))

    def train_step_single(self, batch, **fit_params):
        Xi, yi = batch
        if self.augment:
            Xi = self._augment(Xi)
        return super().train_step_single((Xi, yi), **fit_params)

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        g = self.torch_rng_
        n, _, length = x.shape
        lo, hi = np.log(self.scale_range[0]), np.log(self.scale_range[1])
        scale = torch.exp(lo + (hi - lo) * torch.rand(n, 1, 1, generator=g))
        sd = x.std(dim=-1, keepdim=True) + 1e-6
        t = torch.arange(length, dtype=torch.float32) / self.fs_
        freq = 0.05 + 0.45 * torch.rand(n, 1, 1, generator=g)
        phase = 2 * np.pi * torch.rand(n, 1, 1, generator=g)
        amp = self.wander * torch.rand(n, 1, 1, generator=g) * sd
        noise_sd = self.noise * torch.rand(n, 1, 1, generator=g) * sd
        out = x + amp * torch.sin(2 * np.pi * freq * t + phase) + noise_sd * torch.randn(x.shape, generator=g)
        return out * scale

    # -- fit / predict --------------------------------------------------------------------------
    def fit(self, X, y, **fit_params):
        """Train on signals (n, n_leads, L) and int masks (n, L)."""
        validate_params(self)  # skorch's _validate_params checks its **kwargs prefixes
        arr = self._as_array(X, fitting=True)
        masks = np.asarray(y)
        if masks.shape != (arr.shape[0], arr.shape[2]):
            raise ValueError(f"masks must have shape (n_records, n_samples) = {(arr.shape[0], arr.shape[2])}, "
                             f"got {masks.shape}")
        if not np.issubdtype(masks.dtype, np.integer):
            if not np.all(np.mod(masks, 1) == 0):
                raise ValueError("masks must hold integer class labels")
        masks = masks.astype(np.int64)
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
        self.classes_ = np.asarray(classes, dtype=object)
        self.n_classes_ = len(classes)
        self.n_leads_ = int(arr.shape[1])
        self.fs_ = self._resolve_fs(X)
        rs = check_random_state(self.random_state)
        seed = int(rs.randint(0, 2**31 - 1))
        self.torch_rng_ = torch.Generator().manual_seed(seed)
        groups = X.meta["patient_id"].to_numpy() if isinstance(X, ECGRecords) else np.arange(len(arr))
        groups = np.where(pd.isna(groups), np.arange(len(arr)).astype(object), groups)
        self.train_idx_, self.valid_idx_ = np.arange(len(arr)), None
        if self.valid_size:
            if len(np.unique(groups)) >= 2:
                split = GroupShuffleSplit(n_splits=1, test_size=self.valid_size, random_state=seed)
                self.train_idx_, self.valid_idx_ = next(split.split(arr, groups=groups))
        yt = torch.from_numpy(np.where(masks < 0, -100, masks))  # CrossEntropyLoss's ignore_index
        data = _SegmentData(torch.from_numpy(arr), yt)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            super().fit(data, None, **fit_params)
        return self

    def predict_proba(self, X):
        """Class probabilities per sample, shape (n_records, n_classes, n_samples)."""
        check_is_fitted(self, "classes_")
        data = _SegmentData(torch.from_numpy(self._as_array(X, fitting=False)))
        self.module_.eval()
        out = []
        with torch.inference_mode():
            for logits in self.forward_iter(data, training=False):
                out.append(torch.softmax(logits.float(), dim=1).cpu())
        return torch.cat(out).numpy()

    def predict(self, X):
        """Most probable class per sample, shape (n_records, n_samples), int64."""
        return self.predict_proba(X).argmax(axis=1).astype(np.int64)

    def predict_waves(self, X, *, clean=True) -> pd.DataFrame:
        """Table of predicted segments: ``record_id, wave, onset, offset, proba``.

        The argmax masks are cleaned by :func:`clean_masks` (``max_gap``,
        ``min_duration``, ``min_separation``) unless ``clean=False``; ``proba`` is the segment's mean
        probability of its class; ``offset`` is inclusive.
        """
        proba = self.predict_proba(X)
        masks = proba.argmax(axis=1)
        if clean:
            masks = clean_masks(masks, self.fs_, max_gap=self.max_gap, min_duration=self.min_duration,
                                min_separation=self.min_separation, proba=proba)
        ids = list(X.meta["record_id"]) if isinstance(X, ECGRecords) else None  # else 0, 1, ...
        return masks_to_waves(masks, ids, self.classes_, proba)

    # -- persistence -------------------------------------------------------------------------------
    def save_weights(self, path) -> None:
        """Save weights and what rebuilds the model (no pickled code); load with
        ``WaveSegmenter(<same module settings>).load_weights(path)``."""
        check_is_fitted(self, "classes_")
        torch.save({
            "state_dict": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()},
            "classes": [str(c) for c in self.classes_],
            "shape": [self.n_leads_, self.n_classes_],
            "fs": float(self.fs_),
        }, path)

    def load_weights(self, path):
        """Load weights saved by :meth:`save_weights` (``torch.load(weights_only=True)``)."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.n_leads_, self.n_classes_ = (int(v) for v in state["shape"])
        self.classes_ = np.asarray(state["classes"], dtype=object)
        self.fs_ = float(state["fs"])
        self.initialize()
        self.module_.load_state_dict(state["state_dict"])
        self.module_.to(self.device)
        return self

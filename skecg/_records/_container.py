"""The records container: signals and per-record facts that stay aligned."""

from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np
import pandas as pd

from .._schema import normalize_lead_name
from ..labels import LabelReport, get_vocabulary
from .. import sources
from ..sources import SignalSource
from ._lazy import LazyRecordsMixin, concat_lazy
from ._meta import default_meta

__all__ = ["ECGRecords", "concat_records", "record_index"]

class ECGRecords(LazyRecordsMixin):
    """ECG signals with aligned per-record metadata.

    Signals are float32 and leads first: a 3-D array ``(n_records, n_leads,
    n_samples)`` when every record has the same shape, else a list of 2-D
    ``(n_leads, n_samples_i)`` arrays.  Integer-array or boolean indexing, slicing,
    ``len`` and ``shape`` keep signals and metadata aligned, so scikit-learn's
    splitters, ``cross_val_score`` and ``GridSearchCV`` slice both together.
    ``np.asarray(records)`` gives the 3-D signal array, so code written for plain
    arrays keeps working.

    Parameters
    ----------
    signals : ndarray of shape (n_records, n_leads, n_samples) or list of 2-D arrays
    meta : pandas.DataFrame, optional
        One row per record.  Columns of :data:`META_COLUMNS` that are missing are
        added (``fs`` and ``leads`` from the arguments below).
    fs : float, optional
        Sampling rate for every record, when ``meta`` has no ``fs`` column.
    leads : sequence of str, optional
        Lead names for every record, when ``meta`` has no ``leads`` column.
    classes : sequence of str, optional
        The SNOMED codes of the columns of the ``y`` that goes with these records.
    skipped : list of (record, reason), optional
        Records a reader skipped, and why.

    Examples
    --------
    >>> import numpy as np
    >>> X = ECGRecords(np.zeros((4, 12, 5000), np.float32), fs=500)
    >>> X.shape, len(X[[0, 2]]), X[[0, 2]].meta["fs"].tolist()
    ((4, 12, 5000), 2, [500.0, 500.0])
    """

    def __init__(self, signals, meta=None, *, fs=None, leads=None, classes=None, skipped=None):
        fs = _check_rate(fs, "fs")
        classes = _check_names(classes, "classes")
        skipped = _check_skipped(skipped)
        if isinstance(signals, SignalSource):
            lazy = ECGRecords.from_source(signals, classes=classes, skipped=skipped)
            self.__dict__.update(lazy.__dict__)
            return
        if isinstance(signals, np.ndarray):
            if signals.ndim != 3:
                raise ValueError(
                    f"signals must be 3-D (n_records, n_leads, n_samples), got shape {signals.shape}"
                )
            signals = _as_float32(signals, "signals")
            n = signals.shape[0]
        else:
            if isinstance(signals, (str, bytes)) or not hasattr(signals, "__iter__"):
                raise TypeError("signals must be a 3-D array (n_records, n_leads, n_samples) or a list of 2-D "
                                f"arrays, got {type(signals).__name__}")
            signals = [_as_float32(s, f"record {i}") for i, s in enumerate(signals)]
            for i, s in enumerate(signals):
                if s.ndim != 2:
                    raise ValueError(f"record {i}: signal must be 2-D (n_leads, n_samples), got {s.shape}")
            n = len(signals)
        if meta is None:
            meta = pd.DataFrame(index=range(n))
        else:
            meta = pd.DataFrame(meta).reset_index(drop=True)
        if len(meta) != n:
            raise ValueError(f"meta has {len(meta)} rows but there are {n} signals")
        meta = meta.copy()
        if "fs" not in meta:
            meta["fs"] = np.nan if fs is None else fs
        if "leads" not in meta:
            if leads is not None:
                leads = _check_names(leads, "leads")
                n_leads = {s.shape[0] for s in signals}
                if n_leads and n_leads != {len(leads)}:
                    raise ValueError(f"leads names {len(leads)} lead(s) {list(leads)[:12]} but the signals have "
                                     f"{sorted(n_leads)} lead(s); pass one name per lead")
                t = tuple(normalize_lead_name(x) for x in leads)
                meta["leads"] = pd.Series([t] * n, dtype=object)
        meta = default_meta(meta, [s.shape[0] for s in signals])
        meta["fs"] = _meta_rates(meta["fs"])
        self._signals = signals
        self.meta = meta
        self.classes = None if classes is None else [str(c) for c in classes]
        self.skipped = list(skipped or [])

    # -- array protocol ---------------------------------------------------------------
    @property
    def signals(self):
        """The signals: a 3-D float32 array, or a list of 2-D float32 arrays.

        On a lazy container this reads every record (see :meth:`load`).
        """
        return self.load()._signals if self.is_lazy else self._signals

    @property
    def is_ragged(self) -> bool:
        """True when records differ in shape (signals is a list)."""
        if self.is_lazy:
            return self.shape[1] is None or self.shape[2] is None
        return not isinstance(self._signals, np.ndarray)

    def __len__(self) -> int:
        return len(self._signals)

    @property
    def shape(self) -> tuple:
        """``(n_records, n_leads, n_samples)``; a dimension that varies is ``None``."""
        if self.is_lazy:
            n = len(self)
            leads, lengths = set(self.meta["n_leads"].tolist()), set(self.meta["length"].tolist())
        elif not self.is_ragged:
            return tuple(self._signals.shape)
        else:
            n = len(self._signals)
            leads = {s.shape[0] for s in self._signals}
            lengths = {s.shape[1] for s in self._signals}
        return (n, int(leads.pop()) if len(leads) == 1 else None,
                int(lengths.pop()) if len(lengths) == 1 else None)

    @property
    def ndim(self) -> int:
        return 3

    @property
    def dtype(self):
        return np.dtype(np.float32)

    @property
    def fs(self) -> float:
        """The sampling rate shared by all records (error if they differ or are unknown)."""
        vals = self.meta["fs"].to_numpy(dtype=float)
        if len(vals) == 0 or np.isnan(vals).any():
            raise ValueError("the sampling rate of some records is unknown (meta['fs'] is NaN)")
        if not np.all(vals == vals[0]):
            raise ValueError(
                f"records have different sampling rates {sorted(set(vals.tolist()))}; "
                "resample them to one rate first (skecg.preprocessing.Resampler)"
            )
        return float(vals[0])

    @property
    def leads(self) -> tuple:
        """The lead names shared by all records (error if they differ)."""
        vals = set(self.meta["leads"])
        if len(vals) != 1:
            raise ValueError(f"records have different lead sets: {sorted(vals)}")
        return tuple(vals.pop())

    def __array__(self, dtype=None, copy=None):
        if self.is_lazy:
            return self.load().__array__(dtype)
        if self.is_ragged:
            raise ValueError(
                "records have different shapes and cannot form one 3-D array; "
                "use skecg.preprocessing.PadTruncate (and Resampler) first"
            )
        return self._signals if dtype is None else self._signals.astype(dtype)

    def __getitem__(self, key):
        idx, scalar = record_index(key, len(self))
        if scalar:
            # a single record: its 2-D signal, as numpy would give
            if self.is_lazy:
                return self.read_signals(idx)[0]
            return self._signals[int(idx[0])]
        return self.take(idx)

    def take(self, indices) -> "ECGRecords":
        """Records at ``indices`` (a new container; signals and metadata together).

        On a lazy container nothing is read: the new container holds an index.
        """
        idx = np.asarray(indices, dtype=np.intp)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"index out of range for {len(self)} records")
        idx = np.where(idx < 0, idx + len(self), idx)
        if self.is_lazy:
            return self._with(self._signals.take(idx), self.meta.iloc[idx].reset_index(drop=True))
        if self.is_ragged:
            sig = [self._signals[i] for i in idx]
            if sig and len({x.shape for x in sig}) == 1:
                sig = np.stack(sig)  # a subset of equal shapes becomes 3-D
        else:
            sig = self._signals[idx]
        return self._with(sig, self.meta.iloc[idx].reset_index(drop=True))

    def _with(self, signals, meta=None) -> "ECGRecords":
        """A container with new signals and the same (or given) metadata and classes."""
        out = ECGRecords.__new__(ECGRecords)
        if isinstance(signals, np.ndarray):
            signals = signals.astype(np.float32, copy=False)
        out._signals = signals
        out.meta = (self.meta if meta is None else meta).copy()
        out.classes = None if self.classes is None else list(self.classes)
        out.skipped = list(self.skipped)
        return out

    def with_signals(self, signals, **meta_updates) -> "ECGRecords":
        """Same records with new signals (e.g. after a transform) and updated metadata.

        Examples
        --------
        >>> import numpy as np
        >>> X = ECGRecords(np.zeros((2, 12, 100), np.float32), fs=100)
        >>> X.with_signals(np.zeros((2, 12, 200), np.float32), fs=200).meta["fs"].tolist()
        [200.0, 200.0]
        """
        if len(signals) != len(self):
            raise ValueError(f"{len(signals)} signals for {len(self)} records")
        meta = self.meta.copy()
        for col, val in meta_updates.items():
            if col == "leads":
                val = tuple(val)
                meta[col] = pd.Series([val] * len(meta), dtype=object)
            elif col == "fs":
                meta[col] = float(val)
            else:
                meta[col] = val
        return self._with(signals, meta)

    def read_signals(self, indices) -> "np.ndarray | list":
        """Signals of the records at ``indices``, in that order (repeats allowed).

        The one batch-read entry point of the data path: in-memory containers index
        their array; lazy ones read just these records from disk and apply pending
        preprocessing steps.  Returns a 3-D float array when the records share a
        shape, else a list of 2-D arrays.
        """
        idx = np.asarray(indices, dtype=np.intp).ravel()
        if self.is_lazy:
            return self._read_lazy(idx)
        if self.is_ragged:
            sig = [self._signals[i] for i in idx]
            return np.stack(sig) if sig and len({x.shape for x in sig}) == 1 else sig
        return self._signals[idx]

    def to_list(self) -> list:
        """Signals as a list of 2-D arrays (views, no copy; lazy containers load)."""
        return list(self.signals)

    def to_store(self, path, y=None, **kwargs):
        """Write these records as a store (see :func:`skecg.io.write_store`); returns its path."""
        return sources.write_records(self, path, y, **kwargs)

    def label_report(self, vocabulary=None) -> LabelReport:
        """Count the records' codes (``meta['dx']``) inside and outside a vocabulary."""
        if vocabulary is None:
            if self.classes is None:
                raise ValueError("no vocabulary given and the records carry no classes")
            vocabulary = self.classes
        return get_vocabulary(vocabulary).report(self.meta["dx"])

    def __repr__(self) -> str:
        src = self.meta["source"].value_counts(dropna=False).to_dict() if len(self) else {}
        lazy = f", lazy from {self.source.name}" if self.is_lazy else ""
        return f"ECGRecords(n={len(self)}, shape={self.shape}, sources={src}{lazy})"

    def summary(self) -> pd.DataFrame:
        """One row per source: records, sampling rates, durations, ages, sex counts."""
        m = self.meta.copy()
        lengths = m["length"].to_numpy(float) if self.is_lazy else [s.shape[-1] for s in self._signals]
        m["duration_s"] = lengths / m["fs"].to_numpy()
        g = m.groupby(m["source"].fillna("?"))
        return pd.DataFrame({
            "records": g.size(),
            "fs": g["fs"].agg(lambda s: "/".join(str(int(v)) for v in sorted(set(s.dropna())))),
            "duration_s": g["duration_s"].agg(lambda s: f"{s.min():.0f}-{s.max():.0f}"),
            "age_median": g["age"].median(),
            "female": g["sex"].agg(lambda s: int((s == "F").sum())),
        })


def _check_rate(fs, what: str):
    """A sampling-rate argument as float (None stays None), or an error that names it."""
    if fs is None:
        return None
    if isinstance(fs, (bool, np.bool_)) or not isinstance(fs, (numbers.Real, str, np.number)):
        raise TypeError(f"{what} must be the sampling rate in Hz (a positive number such as 500), "
                        f"got {type(fs).__name__} {fs!r}")
    try:
        f = float(fs)
    except ValueError:
        raise ValueError(f"{what} must be the sampling rate in Hz (a positive number such as 500), "
                         f"got {fs!r}") from None
    if not (np.isfinite(f) and 0 < f <= 100_000):
        raise ValueError(f"{what} must be a sampling rate in Hz in (0, 100000], got {fs!r}")
    return f


def _meta_rates(col: pd.Series) -> pd.Series:
    """``meta['fs']`` as float: numbers (or NaN for unknown); anything else names the record."""
    try:
        out = pd.to_numeric(col, errors="raise").astype(float)
    except (TypeError, ValueError):
        bad = next((i for i, v in enumerate(col) if not _is_rate_like(v)), 0)
        raise ValueError(f"meta['fs'] of record {bad} is {col.iloc[bad]!r}: sampling rates must be positive "
                         "numbers in Hz (NaN where unknown)") from None
    bad = np.flatnonzero(~(np.isnan(out.to_numpy()) | ((out.to_numpy() > 0) & (out.to_numpy() <= 100_000))))
    if bad.size:
        v = col.iloc[int(bad[0])]
        raise ValueError(f"meta['fs'] of record {int(bad[0])} is {v.item() if isinstance(v, np.generic) else v!r}: "
                         "sampling rates must be in (0, 100000] Hz (NaN where unknown)")
    return out


def _is_rate_like(v) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return v is None
    return not isinstance(v, bool)


def _check_names(names, what: str):
    """Lead or class names as a tuple of str: one str is one name (``'II'``, not ``'I', 'I'``)."""
    if names is None:
        return None
    if isinstance(names, (str, numbers.Integral)):
        return (str(names),)
    try:
        out = tuple(names)
    except TypeError:
        raise TypeError(f"{what} must be a sequence of names, got {type(names).__name__} {names!r}") from None
    if any(not isinstance(x, (str, numbers.Integral, np.str_)) or isinstance(x, bool) for x in out):
        bad = next(x for x in out if not isinstance(x, (str, numbers.Integral, np.str_)) or isinstance(x, bool))
        raise TypeError(f"{what} must be names (str), got {type(bad).__name__} {bad!r} among them")
    return tuple(str(x) for x in out)


def _check_skipped(skipped) -> list:
    """``skipped`` as a list of (record, reason) pairs, or an error saying so."""
    out = []
    for item in skipped or []:
        if isinstance(item, str) or not hasattr(item, "__len__") or len(item) != 2:
            raise ValueError(f"skipped must be a list of (record, reason) pairs, got {item!r} among them")
        out.append((str(item[0]), str(item[1])))
    return out


def _as_float32(x, what: str) -> np.ndarray:
    """Signal values as float32, or an error naming the record whose values are not numbers."""
    arr = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"{what}: signal values must be numbers, got dtype {arr.dtype}") from None
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{what}: signal values must be numbers, got dtype {arr.dtype}")
    return arr.astype(np.float32, copy=False)


def record_index(key, n: int) -> tuple:
    """``(indices, is_scalar)`` for a key of records: int, slice, mask, index array, or ``(key, ...)``."""
    if isinstance(key, tuple):
        rest = key[1:]
        if any(k is not Ellipsis and k != slice(None) for k in rest):
            raise IndexError("ECGRecords only supports indexing along records (axis 0)")
        key = key[0]
    if isinstance(key, numbers.Integral):
        return np.array([int(key)]), True
    if isinstance(key, slice):
        return np.arange(n)[key], False
    key = np.asarray(key)
    if key.dtype == bool:
        if key.shape != (n,):
            raise IndexError(f"boolean index of shape {key.shape} for {n} records")
        return np.flatnonzero(key), False
    if key.dtype.kind not in "iu":
        raise IndexError(f"records can be indexed by integers, slices or masks, not {key.dtype}")
    return key.astype(np.intp).ravel(), False


def concat_records(parts: Sequence[ECGRecords]) -> ECGRecords:
    """Concatenate containers (e.g. several sources); ragged if shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> a = ECGRecords(np.zeros((2, 12, 10), np.float32), fs=100)
    >>> b = ECGRecords(np.zeros((1, 12, 20), np.float32), fs=200)
    >>> concat_records([a, b]).shape
    (3, 12, None)
    """
    parts = [p for p in parts]
    if not parts:
        raise ValueError("nothing to concatenate")
    if len(parts) == 1:
        return parts[0]
    if any(p.is_lazy for p in parts):
        return concat_lazy(parts)
    classes = {tuple(p.classes) if p.classes is not None else None for p in parts}
    if len(classes) > 1:
        raise ValueError("cannot concatenate records labelled in different vocabularies")
    shapes = {p.shape[1:] for p in parts}
    if len(shapes) == 1 and None not in next(iter(shapes)):
        signals = np.concatenate([p.signals for p in parts], axis=0)
    else:
        signals = [s for p in parts for s in p.signals]
    meta = pd.concat([p.meta for p in parts], ignore_index=True)
    out = parts[0]._with(signals, meta)
    out.skipped = [s for p in parts for s in p.skipped]
    return out

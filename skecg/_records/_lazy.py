"""How records are read lazily: the lazy half of :class:`skecg.ECGRecords`, the whole story in one file.

An :class:`skecg.ECGRecords` is *lazy* when its signals are a :class:`LazySignals`:

1. **A source** (``StoreSource``, ``Code15Source``, ``ArraySource``; each a short class
   in its own module of :mod:`skecg.sources`) knows every record's shape and metadata
   without reading it, and reads a batch of records on request: sorted, each distinct
   record once, grouped by file, as contiguous runs (:meth:`SignalSource.read`).
2. **An index** maps the container's rows to the source's rows.  Indexing the
   container (ints, slices, masks, index arrays, and ``X[key, ...]`` as
   ``sklearn.utils._safe_indexing`` does) only composes indices: nothing is read, so
   every fold and every grid candidate costs a few bytes, not a copy.
3. **Pending steps**: a stateless transformer (``Resampler``, ``LeadSelector``,
   ``WaveletDenoiser``, ``PadTruncate``) given a lazy container returns a lazy
   container with itself appended to ``steps``, and updates the metadata it changes
   (``fs``, ``leads``, ``length``) at once.  The steps run per batch when records are
   read (:meth:`skecg.ECGRecords.read_signals`), e.g. inside DataLoader workers, so a
   ``Pipeline`` of these steps followed by a network streams.
4. **Reads** happen only in :meth:`ECGRecords.read_signals` (batches) and in
   explicit loads: ``np.asarray(X)``, ``X.signals`` or ``X.load()``.  A load larger
   than :func:`max_load_bytes` (2 GiB by default, ``SKECG_MAX_LOAD_BYTES`` to change)
   raises instead of quietly reading 60 GB.
5. **Pickles are handles**: the source pickles to its paths, the index to a compact
   code (a range, a bit mask or compressed integers), the steps to their parameters.
   A container over 20,000 records pickles to a few kB, so ``clone``, ``deepcopy``,
   joblib and dask move handles, never signals.  Files open on first read in each
   process and re-open after a fork (:mod:`skecg.sources._files`).
"""


from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from .._threads import local_threads
from ..sources import ArraySource, ConcatSource, LazySignals, SignalSource, SourceError, max_load_bytes
from .._finite import nonfinite_records
from ._meta import default_meta

class LazyRecordsMixin:
    """What makes an :class:`skecg.ECGRecords` lazy: reading, steps, loading, pickling.

    ``ECGRecords`` keeps its signals in ``_signals``: an array or list in memory, or a
    :class:`LazySignals`.  The methods here are the lazy half of the container.
    """

    @classmethod
    def from_source(cls, source: SignalSource, *, classes=None, skipped=None) -> "LazyRecordsMixin":
        """A lazy container over every record of ``source`` (see :mod:`skecg.sources`).

        Examples
        --------
        >>> from skecg import ECGRecords
        >>> from skecg.sources import ArraySource
        >>> X = ECGRecords.from_source(ArraySource(np.zeros((5, 12, 100), np.float32)))
        >>> X.is_lazy, X[1:3].shape, X.source.n_reads
        (True, (2, 12, 100), 0)
        """
        out = cls.__new__(cls)
        out._signals = LazySignals(source)
        out.meta = _base_meta(source)
        out.classes = None if classes is None else [str(c) for c in classes]
        out.skipped = list(skipped or [])
        return out


    @property
    def is_lazy(self) -> bool:
        """True when signals stay on disk and are read on demand (see :mod:`skecg.sources`)."""
        return isinstance(self._signals, LazySignals)

    @property
    def source(self):
        """The source of a lazy container's signals (None in memory)."""
        return self._signals.source if self.is_lazy else None


    def load(self, max_bytes: int | None = None, *, batch_size: int | None = None,
             n_jobs: int | None = None) -> "LazyRecordsMixin":
        """An in-memory copy of these records (the container itself when in memory).

        Parameters
        ----------
        max_bytes : int, optional
            Refuse to load more than this (default :func:`skecg.sources.max_load_bytes`,
            2 GiB or ``SKECG_MAX_LOAD_BYTES``).
        batch_size : int, optional
            Read, and run the pending steps on, this many records at a time, writing each
            batch into one preallocated array: the steps' intermediate arrays then stay
            small (and in cache) instead of full-size.  Default: all records in one read.
        n_jobs : int, optional
            Threads reading batches (with ``batch_size``); -1 uses every core.

        Examples
        --------
        >>> from skecg import ECGRecords
        >>> from skecg.sources import ArraySource
        >>> X = ECGRecords.from_source(ArraySource(np.ones((5, 12, 100), np.float32)))
        >>> X.load(batch_size=2, n_jobs=2).signals.shape
        (5, 12, 100)
        """
        if not self.is_lazy:
            return self
        limit = max_load_bytes() if max_bytes is None else int(max_bytes)
        need = int((self.meta["n_leads"].to_numpy(np.int64) * self.meta["length"].to_numpy(np.int64)).sum()) * 4
        if need > limit:
            raise MemoryError(
                f"{self!r} would take {_size(need)} in memory, more than the {_size(limit)} "
                "skecg loads at once. Pass the container itself to skecg's transformers and estimators "
                "(they stream it in batches), read batches with X.read_signals(indices), take a subset "
                "(X[:1000]), or raise the limit with X.load(max_bytes=...) or SKECG_MAX_LOAD_BYTES.")
        if batch_size is None or len(self) <= int(batch_size):
            sig = self.read_signals(np.arange(len(self)))
        else:
            sig = self._read_in_batches(int(batch_size), local_threads(n_jobs))
        meta = self.meta.drop(columns=["n_leads", "length"], errors="ignore")
        return self._with(sig, meta.reset_index(drop=True))

    def _read_in_batches(self, batch_size: int, n_threads: int):
        """Every record, ``batch_size`` at a time, into one array (a list when ragged)."""
        n = len(self)
        starts = range(0, n, batch_size)
        first = self.read_signals(np.arange(min(batch_size, n)))
        if not isinstance(first, np.ndarray) or None in self.shape:
            parts = [first] + [self.read_signals(np.arange(a, min(a + batch_size, n))) for a in starts[1:]]
            return [s for p in parts for s in p]
        out = np.empty((n,) + first.shape[1:], first.dtype)
        out[:len(first)] = first

        def read(a):
            out[a:a + batch_size] = self.read_signals(np.arange(a, min(a + batch_size, n)))

        if n_threads <= 1:
            for a in starts[1:]:
                read(a)
        else:
            with ThreadPoolExecutor(min(n_threads, len(starts) - 1)) as pool:
                list(pool.map(read, starts[1:]))  # list(): re-raises a batch's error
        return out

    def _read_lazy(self, idx):
        lazy = self._signals
        try:
            raw = lazy.read_raw(idx)
        except SourceError:
            raise
        except Exception as e:  # noqa: BLE001 - name the records whatever the failure
            names = self.meta["record_id"].iloc[idx[:5]].tolist()
            raise SourceError(lazy.source.name, f"reading records {names} failed: {type(e).__name__}: {e}") from e
        if not lazy.source.values_checked:  # skecg stores were checked when written
            _check_finite_batch(raw, self.meta["record_id"].to_numpy()[idx], lazy.source.name)
        if lazy.steps:
            rows = _base_meta(lazy.source, lazy.index[idx]).drop(columns=["n_leads", "length"])
            batch = type(self)(raw, rows, classes=self.classes)
            for step in lazy.steps:
                # the batch was checked above and the steps were fitted when they were added:
                # run them without checking each intermediate again (one pass per step saved)
                batch = step._transform(batch) if hasattr(step, "_transform") else step.transform(batch)
            raw = batch._signals
        return raw

    def with_step(self, step) -> "LazyRecordsMixin":
        """A lazy container with ``step`` (a fitted stateless transformer) pending.

        The step runs on each batch when records are read; the metadata it changes
        (``fs``, ``leads``, ``length``) is updated now, from ``step._meta_after``.
        """
        if not self.is_lazy:
            raise ValueError("with_step is for lazy containers; transform in-memory records directly")
        out = self._with(self._signals.with_step(step), _apply_meta(self.meta, step))
        return out

    def __getstate__(self):
        state = dict(self.__dict__)
        if self.is_lazy:
            # a handle: the table is rebuilt from the source unless it was edited
            if _derived_meta(self._signals).equals(self.meta):
                state["meta"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.__dict__.get("meta") is None:
            self.meta = _derived_meta(self._signals)


_LAYOUT = ("shard", "offset", "checksum", "part", "row")


def _size(n: int) -> str:
    for unit, k in (("GiB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n} bytes"


def _base_meta(source: SignalSource, rows=None) -> pd.DataFrame:
    """The container table of a source's records (all, or at ``rows``)."""
    m = source.meta if rows is None else source.meta.iloc[np.asarray(rows, dtype=np.int64)]
    m = m.drop(columns=[c for c in _LAYOUT if c in m]).reset_index(drop=True)
    m = default_meta(m, m["n_leads"])
    m["fs"] = m["fs"].astype(float)
    return m


def _apply_meta(meta: pd.DataFrame, step) -> pd.DataFrame:
    """Metadata after a pending step: the columns it changes (``step._meta_after``)."""
    meta = meta.copy()
    for col, val in step._meta_after(meta).items():
        if col == "leads":
            val = tuple(val)
            meta[col] = pd.Series([val] * len(meta), dtype=object)
            meta["n_leads"] = len(val)
        else:
            meta[col] = val
    meta["fs"] = meta["fs"].astype(float)
    return meta


def _derived_meta(lazy: LazySignals) -> pd.DataFrame:
    meta = _base_meta(lazy.source, lazy.index)
    for step in lazy.steps:
        meta = _apply_meta(meta, step)
    return meta


def _check_finite_batch(signals, names, source_name: str) -> None:
    bad = nonfinite_records(signals)
    if len(bad):
        raise SourceError(source_name, "holds NaN or inf values (a corrupted record?)", record=names[bad[0]])


def concat_lazy(parts):
    """Concatenate containers of which some are lazy: a lazy container over all of them."""
    if any(p.is_lazy and p._signals.steps for p in parts):
        raise ValueError("cannot concatenate lazy records with pending preprocessing steps; "
                         "concatenate first, then preprocess")
    classes = {tuple(p.classes) if p.classes is not None else None for p in parts}
    if len(classes) > 1:
        raise ValueError("cannot concatenate records labelled in different vocabularies")
    srcs = []
    for p in parts:
        if p.is_lazy:
            srcs.append(_IndexedSource(p))
        else:
            srcs.append(ArraySource(p._signals, p.meta))
    out = type(parts[0]).from_source(ConcatSource(srcs), classes=parts[0].classes)
    out.skipped = [s for p in parts for s in p.skipped]
    return out


class _IndexedSource(SignalSource):
    """A lazy container's rows of its source, as a source (pickles as the container)."""

    def __init__(self, records):
        self.records = records
        self.name = records.source.name
        self.meta = records.meta.copy()

    def __getstate__(self):
        return {"records": self.records}

    def __setstate__(self, state):
        self.__init__(state["records"])

    @property
    def dtype(self):
        return self.records.source.dtype

    def _read_runs(self, rows, out):
        got = self.records._signals.read_raw(rows)
        for i in range(len(rows)):
            out[i] = got[i]

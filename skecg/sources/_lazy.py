"""Handles on records that stay in their source: an index, pending steps, a load limit.

A :class:`LazySignals` is what a lazy :class:`skecg.ECGRecords` holds instead of an array;
how the container reads through it is told in :mod:`skecg._records._lazy`.
"""
from __future__ import annotations

import os
import zlib

import numpy as np

from ._base import SignalSource

_DEFAULT_MAX_LOAD = 2 * 1024**3


def max_load_bytes() -> int:
    """Largest lazy container ``np.asarray`` / ``X.signals`` / ``X.load()`` read at once.

    2 GiB, or ``SKECG_MAX_LOAD_BYTES`` from the environment.
    """
    v = os.environ.get("SKECG_MAX_LOAD_BYTES")
    return int(float(v)) if v else _DEFAULT_MAX_LOAD


def encode_index(idx: np.ndarray, n_source: int):
    """A compact, picklable code for an index array (see :func:`decode_index`).

    Examples
    --------
    >>> code = encode_index(np.arange(5, 1005), 10**6)
    >>> code[0], bool((decode_index(code) == np.arange(5, 1005)).all())
    ('range', True)
    """
    idx = np.asarray(idx, dtype=np.int64)
    n = idx.size
    if n == 0:
        return ("raw", b"", "<i8")
    if n == 1 or (np.diff(idx) == idx[1] - idx[0]).all():
        step = int(idx[1] - idx[0]) if n > 1 else 1
        return ("range", int(idx[0]), n, step)
    d = np.diff(idx)
    if (d > 0).all() and n * 32 > n_source:  # sorted, unique and dense: a bit mask is smaller
        mask = np.zeros(n_source, bool)
        mask[idx] = True
        return ("mask", zlib.compress(np.packbits(mask).tobytes()), n_source)
    dt = "<i4" if idx.max() < 2**31 else "<i8"
    return ("raw", zlib.compress(idx.astype(dt).tobytes()), dt)


def decode_index(code) -> np.ndarray:
    kind = code[0]
    if kind == "range":
        _, start, n, step = code
        return start + step * np.arange(n, dtype=np.int64)
    if kind == "mask":
        _, data, n_source = code
        return np.flatnonzero(np.unpackbits(np.frombuffer(zlib.decompress(data), np.uint8))[:n_source])
    _, data, dt = code
    return np.frombuffer(zlib.decompress(data) if data else b"", dtype=dt).astype(np.int64)


class LazySignals:
    """Signals that stay in their source: a source, an index into it, pending steps.

    Parameters
    ----------
    source : SignalSource
    index : array of int, optional
        Source rows of this container's records (default: all, in order).
    steps : tuple of fitted transformers
        Applied in order to each batch after reading.
    """

    def __init__(self, source: SignalSource, index=None, steps=()):
        self.source = source
        self.index = np.arange(len(source), dtype=np.int64) if index is None else np.asarray(index, np.int64)
        self.steps = tuple(steps)

    def __len__(self) -> int:
        return int(self.index.size)

    def take(self, idx) -> "LazySignals":
        return LazySignals(self.source, self.index[np.asarray(idx, dtype=np.int64)], self.steps)

    def with_step(self, step) -> "LazySignals":
        return LazySignals(self.source, self.index, self.steps + (step,))

    def read_raw(self, idx):
        """Source records at container rows ``idx`` (before the pending steps)."""
        return self.source.read(self.index[np.asarray(idx, dtype=np.int64)])

    def __getstate__(self):
        return {"source": self.source, "index": encode_index(self.index, len(self.source)), "steps": self.steps}

    def __setstate__(self, state):
        self.source = state["source"]
        self.index = decode_index(state["index"])
        self.steps = tuple(state["steps"])

    def __repr__(self):
        return f"LazySignals({self.source.name}, n={len(self)}, steps={[type(s).__name__ for s in self.steps]})"


#: names that moved to the records boundary (skecg._records._lazy): pickles of lazy record
#: views written before name them here; kept for one release
_MOVED = ("LazyRecordsMixin", "concat_lazy", "_IndexedSource")


def __getattr__(name):
    if name in _MOVED:
        import importlib  # the records package imports this module: resolve on access, no cycle

        return getattr(importlib.import_module("skecg._records._lazy"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

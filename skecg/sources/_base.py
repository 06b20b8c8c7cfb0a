"""The interface every kind of signal source implements, and the batch-read helper.

A *source* is an ordered collection of raw records (2-D ``(n_leads, n_samples)``
arrays) plus one metadata row per record.  It knows each record's shape without
reading it, reads any batch of records on request, and pickles to a small handle
(paths, never arrays or open files).  :class:`skecg.ECGRecords` puts an index and
pending preprocessing steps on top (see :mod:`skecg._records._lazy`).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd


class SourceError(ValueError):
    """A source (a store, a CODE-15% folder) cannot be read.

    ``source`` names the store or file, ``record`` the record when one is concerned.
    """

    def __init__(self, source: str, reason: str, record: str | None = None):
        self.source = str(source)
        self.record = None if record is None else str(record)
        self.reason = str(reason)
        where = self.source if record is None else f"{self.source}, record {record}"
        super().__init__(f"{where}: {reason}")


class SignalSource:
    """Raw records on demand.  Subclasses set ``meta`` and implement ``_read_runs``.

    Attributes
    ----------
    meta : pandas.DataFrame
        One row per record, with at least ``record_id``, ``n_leads`` and ``length``
        (samples), plus whatever metadata the source holds.
    name : str
        What error messages call this source (a path).
    """

    name = "source"
    meta: pd.DataFrame
    #: True when every stored value was checked finite when written (skecg stores), so
    #: batch reads need not scan for NaN/inf; corruption is then caught by checksums.
    values_checked = False

    def __len__(self) -> int:
        return len(self.meta)

    @property
    def dtype(self) -> np.dtype:  # the dtype records are stored in
        return np.dtype(np.float32)

    def nbytes(self, rows=None) -> int:
        """Bytes the records at ``rows`` (all by default) take as float32."""
        m = self.meta if rows is None else self.meta.iloc[np.asarray(rows)]
        return int((m["n_leads"].to_numpy(np.int64) * m["length"].to_numpy(np.int64)).sum()) * 4

    # -- reading --------------------------------------------------------------------------
    def read(self, rows) -> np.ndarray | list:
        """Records at source rows ``rows``, in that order (repeats allowed).

        Reads each distinct record once, in file order, as contiguous runs; returns a
        3-D array when the records share a shape, else a list of 2-D arrays.
        """
        rows = np.asarray(rows, dtype=np.int64).ravel()
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"{self.name}: row index out of range 0..{len(self) - 1}")
        uniq, inv = np.unique(rows, return_inverse=True)
        n_leads = self._n_leads[uniq]
        length = self._length[uniq]
        same = uniq.size > 0 and (n_leads == n_leads[0]).all() and (length == length[0]).all()
        if same:
            out = np.empty((uniq.size, int(n_leads[0]), int(length[0])), dtype=self.dtype)
        else:
            out = [None] * uniq.size
        self._read_runs(uniq, out)
        if same:
            return out if (uniq.size == rows.size and (inv == np.arange(rows.size)).all()) else out[inv]
        return [out[i] for i in inv]

    def _read_runs(self, rows: np.ndarray, out) -> None:
        """Fill ``out[i]`` with the record at sorted unique ``rows[i]``."""
        raise NotImplementedError

    @cached_property
    def _n_leads(self) -> np.ndarray:
        return self.meta["n_leads"].to_numpy(np.int64)

    @cached_property
    def _length(self) -> np.ndarray:
        return self.meta["length"].to_numpy(np.int64)


def runs(keys: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> list[tuple[int, int]]:
    """Split sorted items into runs that lie back to back in the same file.

    Item ``i`` occupies ``[starts[i], stops[i])`` of file ``keys[i]``; a run is a range
    ``[a, b)`` of items with the same key where each item starts where the previous
    one stopped, so the run is one contiguous read.

    Examples
    --------
    >>> runs(np.array([0, 0, 0, 1]), np.array([0, 10, 30, 0]), np.array([10, 20, 40, 5]))
    [(0, 2), (2, 3), (3, 4)]
    """
    n = len(keys)
    if n == 0:
        return []
    brk = np.flatnonzero((keys[1:] != keys[:-1]) | (starts[1:] != stops[:-1])) + 1
    edges = np.concatenate(([0], brk, [n]))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]

"""An in-memory array as a source: lazy semantics over data already in RAM.

Useful to test code paths of lazy containers, and to put pending preprocessing steps
on in-memory data so they run per batch (e.g. in DataLoader workers).  Pickles with
its data: use a store to ship handles instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._base import SignalSource


class ArraySource(SignalSource):
    """Records of a 3-D array or a list of 2-D arrays.

    Examples
    --------
    >>> src = ArraySource(np.zeros((3, 12, 100), np.float32))
    >>> src.read([2, 0]).shape
    (2, 12, 100)
    """

    name = "in-memory array"

    def __init__(self, signals, meta: pd.DataFrame | None = None):
        self.signals = signals if isinstance(signals, np.ndarray) else [np.asarray(s) for s in signals]
        n = len(self.signals)
        meta = pd.DataFrame(index=range(n)) if meta is None else meta.reset_index(drop=True).copy()
        if "record_id" not in meta:
            meta["record_id"] = [str(i) for i in range(n)]
        meta["n_leads"] = [s.shape[0] for s in self.signals]
        meta["length"] = [s.shape[1] for s in self.signals]
        self.meta = meta
        self.n_reads = 0  # records read so far (tests count reads with it)

    @property
    def dtype(self):
        return np.dtype(self.signals.dtype if isinstance(self.signals, np.ndarray) else np.float32)

    def _read_runs(self, rows, out):
        self.n_reads += len(rows)
        for i, r in enumerate(rows):
            out[i] = self.signals[int(r)]

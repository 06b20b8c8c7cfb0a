"""Several sources as one: what ``concat_records`` builds from lazy containers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._base import SignalSource


class ConcatSource(SignalSource):
    """The records of several sources, one after the other (pickles as its parts).

    Examples
    --------
    >>> from skecg.sources import ArraySource
    >>> s = ConcatSource([ArraySource(np.zeros((2, 12, 10))), ArraySource(np.ones((1, 12, 10)))])
    >>> len(s), s.read([2, 0])[:, 0, 0].tolist()
    (3, [1.0, 0.0])
    """

    def __init__(self, parts):
        self.parts = list(parts)
        self.name = " + ".join(p.name for p in self.parts)
        self.meta = pd.concat([p.meta for p in self.parts], ignore_index=True)
        sizes = np.array([len(p) for p in self.parts], dtype=np.int64)
        self._starts = np.concatenate(([0], np.cumsum(sizes)))
        self.values_checked = all(p.values_checked for p in self.parts)

    def __getstate__(self):
        return {"parts": self.parts}

    def __setstate__(self, state):
        self.__init__(state["parts"])

    @property
    def dtype(self):
        return np.result_type(*[p.dtype for p in self.parts])

    def _read_runs(self, rows, out):
        which = np.searchsorted(self._starts, rows, side="right") - 1
        for k in np.unique(which):
            sel = np.flatnonzero(which == k)
            part = self.parts[int(k)]
            got = part.read(rows[sel] - self._starts[k])
            for j, i in enumerate(sel):
                out[i] = got[j]

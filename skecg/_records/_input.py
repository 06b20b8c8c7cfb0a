"""The one input boundary: every kind of ``X`` skecg takes, seen one way.

skecg's estimators, transformers, readers and scorers take four kinds of input: a
3-D array ``(n_records, n_leads, n_samples)``, a list of 2-D ``(n_leads, n_samples)``
arrays (records of different lengths), an in-memory :class:`skecg.ECGRecords`, and a
lazy one whose signals stay on disk.  :func:`validate_records` turns any of them into a
:class:`RecordsInput`, the one object the rest of the code reads: ``read_signals(idx)``
for a batch, ``meta`` for the per-record facts (defaults where a plain array has none),
``names`` for messages, and ``like_input`` to give results back in the kind that came in.
Code outside this package does not branch on the input's type.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from .._finite import check_finite_signals, nonfinite_records
from ._container import ECGRecords
from ._meta import default_meta

__all__ = ["RecordsInput", "as_signals", "check_finite_records", "iter_batches", "record_names", "records_of",
           "validate_records"]


class RecordsInput:
    """Any ``X`` skecg takes, behind one interface (built by :func:`validate_records`).

    Attributes
    ----------
    X : object
        The input as given.
    records : ECGRecords or None
        The container, when ``X`` is one.
    meta : pandas.DataFrame
        One row per record: the container's table, or defaults for a plain array
        (``record_id`` '0', '1', ..., ``fs`` NaN, default lead names).

    Examples
    --------
    >>> import numpy as np
    >>> R = validate_records(np.zeros((3, 12, 10), np.float32))
    >>> len(R), R.is_lazy, R.names[:2], R.read_signals([2, 0]).shape
    (3, False, ['record 0', 'record 1'], (2, 12, 10))
    >>> R.like_input(np.ones((3, 12, 5))).shape
    (3, 12, 5)
    """

    def __init__(self, X, records=None, signals=None):
        self.X = X
        self.records = records
        self._signals = signals
        self._meta = None

    def __len__(self) -> int:
        return len(self.records) if self.records is not None else len(self._signals)

    @property
    def is_records(self) -> bool:
        """True when ``X`` is an :class:`ECGRecords` (results then keep its metadata)."""
        return self.records is not None

    @property
    def is_lazy(self) -> bool:
        """True when the signals stay on disk and are read batch by batch."""
        return self.records is not None and self.records.is_lazy

    @property
    def meta(self) -> pd.DataFrame:
        if self.records is not None:
            return self.records.meta
        if self._meta is None:
            sig = self._signals
            n_leads = [sig.shape[1]] * len(sig) if isinstance(sig, np.ndarray) else [s.shape[0] for s in sig]
            self._meta = default_meta(pd.DataFrame({"fs": np.full(len(sig), np.nan)}), n_leads)
        return self._meta

    @property
    def names(self) -> list[str]:
        """A name per record for messages: ``record_id`` of a container, ``record <i>`` else."""
        return record_names(self.X if self.records is None else self.records, len(self))

    @property
    def signals(self):
        """Every record's signals in memory (a lazy container is loaded)."""
        return self.records.signals if self.records is not None else self._signals

    @property
    def classes(self):
        """The vocabulary a container carries (None for plain arrays)."""
        return None if self.records is None else self.records.classes

    def read_signals(self, indices):
        """Signals of the records at ``indices``: a 3-D array, or a list when ragged."""
        if self.records is not None:
            return self.records.read_signals(indices)
        idx = np.asarray(indices, dtype=np.intp).ravel()
        if isinstance(self._signals, np.ndarray):
            return self._signals[idx]
        sig = [self._signals[i] for i in idx]
        return np.stack(sig) if sig and len({s.shape for s in sig}) == 1 else sig

    def take(self, indices):
        """The records at ``indices``, in the kind ``X`` was (a container reads nothing)."""
        if self.records is not None:
            return self.records.take(indices)
        idx = np.asarray(indices, dtype=np.intp).ravel()
        if isinstance(self.X, np.ndarray):
            return self.X[idx]
        return [self._signals[i] for i in idx]

    def like_input(self, signals, **meta_updates):
        """New ``signals`` for these records in the kind ``X`` was: a container gets them
        with its metadata (and ``meta_updates``: ``fs``, ``leads``, ...), an array stays one."""
        if self.records is not None:
            return self.records.with_signals(signals, **meta_updates)
        return signals

    def column(self, name: str, dtype=None) -> np.ndarray:
        """One metadata column as an array (NaN / None for facts a plain array lacks)."""
        return self.meta[name].to_numpy(dtype=dtype)

    def check_finite(self, signals=None) -> None:
        """Raise a ValueError naming the records that hold NaN or inf (see :func:`check_finite_records`)."""
        check_finite_records(self.X if self.records is None else self.records,
                             self.signals if signals is None else signals)


def records_of(X):
    """``X`` itself when it is an :class:`~skecg.ECGRecords` (lazy or not), else None.

    For code that takes any object, records or not (a feature matrix, a tensor), and
    must not convert it: the one place outside this module that asks what ``X`` is.

    Examples
    --------
    >>> import numpy as np
    >>> records_of(np.zeros((1, 12, 5))) is None
    True
    """
    return X if isinstance(X, ECGRecords) else None


def validate_records(X, *, finite: bool = False) -> RecordsInput:
    """Check ``X`` and give the one object skecg reads it through.

    Parameters
    ----------
    X : ndarray of shape (n_records, n_leads, n_samples), list of 2-D arrays, or ECGRecords
        A plain array-like becomes a float array; a container (lazy or not) is kept.
    finite : bool, default=False
        Also check that in-memory signals hold no NaN or inf (lazy containers check
        each batch when it is read).

    Returns
    -------
    RecordsInput

    Raises
    ------
    ValueError
        An array that is not 3-D, a record that is not 2-D, or (``finite=True``)
        records holding NaN or inf, named.

    Examples
    --------
    >>> import numpy as np
    >>> validate_records(np.zeros((2, 12, 5))).meta["leads"][0][:3]
    ('I', 'II', 'III')
    >>> validate_records(np.zeros((2, 5)))
    Traceback (most recent call last):
    ...
    ValueError: expected a 3-D array (n_records, n_leads, n_samples), got shape (2, 5)
    """
    if isinstance(X, RecordsInput):
        out = X
    elif isinstance(X, ECGRecords):
        out = RecordsInput(X, records=X)
    else:
        signals, _ = as_signals(X)
        out = RecordsInput(X, signals=signals)
    if finite and not out.is_lazy:
        out.check_finite()
    return out


def as_signals(X) -> tuple:
    """Split input into (signals, meta-or-None): signals a 3-D float array or list of 2-D."""
    if isinstance(X, ECGRecords):
        return X.signals, X
    if isinstance(X, np.ndarray):
        if X.ndim != 3:
            raise ValueError(
                f"expected a 3-D array (n_records, n_leads, n_samples), got shape {X.shape}"
            )
        return X, None
    if isinstance(X, (list, tuple)):
        arrs = [np.asarray(s) for s in X]
        for i, s in enumerate(arrs):
            if s.ndim != 2:
                raise ValueError(f"record {i}: expected a 2-D (n_leads, n_samples) array, got {s.shape}")
        return arrs, None
    arr = np.asarray(X)
    return as_signals(arr)


def record_names(X, n: int | None = None) -> list[str]:
    """Record ids for error messages (indices for plain arrays)."""
    if isinstance(X, ECGRecords):
        return [str(r) for r in X.meta["record_id"]]
    n = len(X) if n is None else n
    return [f"record {i}" for i in range(n)]


def check_finite_records(X, signals=None) -> None:
    """Raise a ValueError naming the records of ``X`` (array, list or
    :class:`~skecg.ECGRecords`, by ``record_id``) whose signals hold NaN or inf.

    Examples
    --------
    >>> import numpy as np
    >>> check_finite_records(np.zeros((2, 1, 4)))
    """
    if signals is None:
        signals, _ = as_signals(X)
    if not len(nonfinite_records(signals)):
        return
    check_finite_signals(signals, record_names(X, len(signals)))


def iter_batches(X, batch_size: int = 256, *, desc: str | None = None, progress: bool | None = None):
    """Yield ``(indices, records)`` over ``X`` in batches; lazy containers are read batch by batch.

    For code that must see every record (features, R peaks, predictions) without
    holding the data set in memory.

    Parameters
    ----------
    X : ECGRecords or array-like
        Records; a lazy container reads (and preprocesses) one batch at a time.
    batch_size : int, default=256
        Records per batch (the last one may be smaller).
    desc : str, optional
        Label of the progress bar.
    progress : bool, optional
        Show a tqdm bar; None shows one for a lazy container of more than one batch
        (on a terminal).

    Yields
    ------
    indices : ndarray of int
        Positions of the batch's records in ``X``.
    records : ECGRecords or array
        The batch, loaded in memory.

    Examples
    --------
    >>> X = ECGRecords(np.zeros((5, 12, 10), np.float32))
    >>> [len(b) for _, b in iter_batches(X, 2)]
    [2, 2, 1]
    """
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive number of records, got {batch_size!r}")
    n = len(X)
    starts = range(0, n, int(batch_size))
    if progress is None:
        progress = n > batch_size and getattr(X, "is_lazy", False)
    if progress:
        from tqdm.auto import tqdm  # only when a bar is shown: tqdm.auto probes for notebooks

        starts = tqdm(starts, desc=desc or "records", unit="batch", disable=None, leave=False)
    for a in starts:
        idx = np.arange(a, min(a + int(batch_size), n))
        batch = X.take(idx) if isinstance(X, ECGRecords) else X[idx]
        yield idx, (batch.load() if isinstance(batch, ECGRecords) else batch)



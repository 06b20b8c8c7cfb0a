"""The one finiteness check of skecg: which records hold NaN or inf, and the error naming them.

It sits below every other module (sources check what they write, readers what they read,
the records and the data path each batch), so there is one definition of "finite".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["check_finite_signals", "nonfinite_records"]

_SHOWN = 5  # records named in an error message


def _name_list(names, idx) -> str:
    shown = ", ".join(str(names[i]) if names is not None else f"record {i}" for i in idx[:_SHOWN])
    return shown + (" ..." if len(idx) > _SHOWN else "")


def nonfinite_records(signals) -> np.ndarray:
    """Indices of the records whose signals hold NaN or inf (empty when all are finite).

    Parameters
    ----------
    signals : ndarray of shape (n_records, n_leads, n_samples) or list of 2-D arrays

    Returns
    -------
    ndarray of int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((3, 1, 4)); X[1, 0, 2] = np.inf
    >>> nonfinite_records(X).tolist()
    [1]
    """
    if isinstance(signals, np.ndarray):
        # fast path: a finite sum means every value is finite (ECG values are far from
        # float32 overflow); only a failing input pays for the per-record scan
        if np.isfinite(np.sum(signals, dtype=np.float64)):
            return np.zeros(0, dtype=np.intp)
        return np.flatnonzero(~np.isfinite(signals.reshape(len(signals), -1)).all(axis=1))
    return np.array([i for i, s in enumerate(signals)  # the same fast path per record
                     if not np.isfinite(np.sum(s, dtype=np.float64)) and not np.isfinite(s).all()], dtype=np.intp)


def check_finite_signals(signals, names: Sequence | None = None) -> None:
    """Raise a ValueError naming the first records whose signals hold NaN or inf.

    Parameters
    ----------
    signals : ndarray of shape (n_records, n_leads, n_samples) or list of 2-D arrays
        The signals to check.
    names : sequence of str, optional
        A name per record for the message; default ``record <index>``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((3, 1, 4), np.float32); X[2, 0, 1] = np.nan
    >>> check_finite_signals(X, ["a", "b", "c"])
    Traceback (most recent call last):
    ...
    ValueError: 1 record(s) hold NaN or inf values: c; repair or drop them
    """
    bad = nonfinite_records(signals)
    if bad.size:
        raise ValueError(f"{bad.size} record(s) hold NaN or inf values: {_name_list(names, bad)}; "
                         "repair or drop them")

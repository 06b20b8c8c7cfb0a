"""The metadata every records container has, and the defaults of missing facts (one place)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._schema import META_COLUMNS, STANDARD_LEADS


def default_leads(n_leads: int) -> tuple:
    """Lead names of a record with ``n_leads`` leads and no names: the 12 standard leads, else ``lead<j>``."""
    return tuple(STANDARD_LEADS) if n_leads == 12 else tuple(f"lead{j}" for j in range(n_leads))


def default_meta(meta: pd.DataFrame, n_leads) -> pd.DataFrame:
    """``meta`` with every column of :data:`META_COLUMNS` it lacks, filled with the defaults.

    ``record_id`` becomes ``'0', '1', ...``, ``leads`` the default names for each record's
    lead count (``n_leads``, one int per record), ``dx`` empty tuples, ``source``, ``sex`` and
    ``patient_id`` None, numbers NaN.  ``meta`` is changed in place and returned.

    Examples
    --------
    >>> default_meta(pd.DataFrame(index=range(2)), [12, 3])["leads"].tolist()[1]
    ('lead0', 'lead1', 'lead2')
    """
    n = len(meta)
    for col in META_COLUMNS:
        if col in meta:
            continue
        if col == "record_id":
            meta[col] = [str(i) for i in range(n)]
        elif col == "dx":
            meta[col] = pd.Series([()] * n, dtype=object, index=meta.index)
        elif col == "leads":
            meta[col] = pd.Series([default_leads(int(k)) for k in n_leads], dtype=object, index=meta.index)
        else:
            meta[col] = None if col in ("source", "sex", "patient_id") else np.nan
    return meta

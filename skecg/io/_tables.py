"""Metadata tables of the readers: picking the records a caller asked for, finding
columns whatever a copy named them, reading number cells."""

from __future__ import annotations

import math
import re

import pandas as pd


def select_rows(table: pd.DataFrame, ids: list, what: str, source) -> pd.DataFrame:
    """The rows of ``table`` (indexed by record id) for ``ids``, in that order.

    Ids the table lacks raise ``ValueError`` naming the first ten of them and ``source``
    (the file the table came from).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"age": [40, 50]}, index=["a", "b"])
    >>> select_rows(t, ["b"], "ECG_ID", "metadata.csv")["age"].tolist()
    [50]
    >>> select_rows(t, ["b", "z"], "ECG_ID", "metadata.csv")
    Traceback (most recent call last):
    ...
    ValueError: ECG_ID(s) ['z'] are not in metadata.csv
    """
    unknown = sorted(set(ids) - set(table.index))
    if unknown:
        raise ValueError(f"{what}(s) {unknown[:10]} are not in {source}")
    return table.loc[ids]


def _key(name) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def find_column(table: pd.DataFrame, *names: str, prefix: str | None = None):
    """The column of ``table`` called one of ``names``, ignoring case, spaces, ``_`` and
    ``-`` (``ECG_ID``, ``ecg id``, ``EcgId``); else the first whose name starts with
    ``prefix`` on the same terms; else None.

    Examples
    --------
    >>> t = pd.DataFrame(columns=["ECG_ID", "AHA_Code", "SNOMEDCTCode"])
    >>> find_column(t, "ecg_id"), find_column(t, "snomed_code", prefix="snomed"), find_column(t, "fs")
    ('ECG_ID', 'SNOMEDCTCode', None)
    """
    keys = {}
    for c in table.columns:
        keys.setdefault(_key(c), c)
    for n in names:
        if _key(n) in keys:
            return keys[_key(n)]
    if prefix is not None:
        for k, c in keys.items():
            if k.startswith(_key(prefix)):
                return c
    return None


def cell_number(cell, kind=int):
    """A table cell as int (or float), None where it is empty or not a number.

    Examples
    --------
    >>> cell_number("12"), cell_number(3.0, float), cell_number(""), cell_number(float("nan"))
    (12, 3.0, None, None)
    """
    try:
        v = float(cell)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    return int(v) if kind is int else v

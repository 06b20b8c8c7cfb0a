"""Metadata tables of the readers: picking the records a caller asked for."""

from __future__ import annotations

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

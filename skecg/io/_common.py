"""Shared reader machinery: reading many records, reported skips, assembly.

The error that names a record and the file helpers every reader uses are in
:mod:`skecg._reading`, below :mod:`skecg.sources`, which reads record files too.
"""

from __future__ import annotations

import logging
import warnings
from typing import Callable, Iterable

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from .._reading import RecordReadError, check_on_error
from .._records import ECGRecords
from ..labels import get_vocabulary
from .. import preprocessing  # a lazy face: scipy.signal loads when a record is resampled

logger = logging.getLogger("skecg.io")


class SkippedRecordsWarning(UserWarning):
    """Emitted when a reader skipped records (``on_error='skip'``); lists each and why."""


def read_many(
    names: Iterable[str],
    read_one: Callable[[str], tuple[np.ndarray, dict]],
    on_error: str,
    n_jobs: int | None = 1,
) -> tuple[list[np.ndarray], list[dict], list[tuple[str, str]]]:
    """Run ``read_one`` over names; collect (signals, meta rows, skipped)."""
    check_on_error(on_error)
    names = list(names)

    def guarded(name):
        try:
            return read_one(name)
        except RecordReadError as e:
            return e
        except Exception as e:  # noqa: BLE001 - any failure becomes a named record error
            label = name.stem if hasattr(name, "stem") else name  # a file path: name the record
            return RecordReadError(label, f"{type(e).__name__}: {e}")

    if n_jobs is not None and n_jobs != 1 and len(names) > 1:
        results = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(guarded)(n) for n in names)
    else:
        results = [guarded(n) for n in names]
    signals, rows, skipped = [], [], []
    for res in results:
        if isinstance(res, RecordReadError):
            if on_error == "raise":
                raise res
            skipped.append((res.record, res.reason))
            continue
        sig, row = res
        signals.append(sig)
        rows.append(row)
    if skipped:
        warnings.warn(
            f"skipped {len(skipped)} record(s): "
            + "; ".join(f"{r}: {why}" for r, why in skipped),
            SkippedRecordsWarning,
            stacklevel=3,
        )
    return signals, rows, skipped


def check_fs(fs, what: str = "fs"):
    """``fs`` as a float, or a ValueError that names the argument and the value.

    Examples
    --------
    >>> check_fs("500"), check_fs(None)
    (500.0, None)
    """
    if fs is None:
        return None
    if isinstance(fs, (bool, np.bool_)):
        raise ValueError(f"{what} must be a sampling rate in Hz (a positive number), got {fs!r}")
    try:
        f = float(fs)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a sampling rate in Hz (a positive number), got {fs!r}") from None
    if not (np.isfinite(f) and 0 < f <= 100_000):
        raise ValueError(f"{what} must be a sampling rate in Hz in (0, 100000], got {fs!r}")
    return f


def assemble(
    signals: list[np.ndarray],
    rows: list[dict],
    skipped: list,
    vocabulary,
    fs: float | None = None,
) -> tuple[ECGRecords, np.ndarray]:
    """Build ``(records, y)`` from read signals and their metadata rows, as every reader does.

    The last step of each ``read_*`` function, public for readers of other archives:
    resampling to ``fs`` when asked, a 3-D array when all shapes agree (a ragged
    container otherwise), ``y`` encoded in ``vocabulary``, and a log line (logger
    ``skecg.io``) about labels outside the vocabulary.

    Parameters
    ----------
    signals : list of ndarray of shape (n_leads, n_samples)
        One array per record, in the order of ``rows``.
    rows : list of dict
        One metadata row per record: ``record_id``, ``source``, ``fs``, ``leads``
        (tuple of lead names) and ``dx`` (tuple of SNOMED CT codes) at least; ``age``,
        ``sex``, ``patient_id`` and others are kept as columns.  A ``labelled`` entry
        False marks a record without labels (its all-zero row of ``y`` means
        "unknown", not "all negative"); it defaults to True.
    skipped : list of (str, str)
        ``(record, reason)`` of the records left out while reading; kept as
        ``records.skipped``.
    vocabulary : str, Vocabulary or list of str
        Columns of ``y`` (see :func:`skecg.labels.get_vocabulary`).
    fs : float, optional
        Resample every record to this rate (Hz).

    Returns
    -------
    records : ECGRecords
    y : ndarray of shape (n_records, n_classes), uint8

    Examples
    --------
    >>> from skecg._schema import STANDARD_LEADS
    >>> sig = np.zeros((12, 500), np.float32)
    >>> row = {"record_id": "r1", "source": "mine", "fs": 500.0, "dx": ("426783006",), "leads": STANDARD_LEADS}
    >>> X, y = assemble([sig, sig], [row, dict(row, record_id="r2")], [], "cinc2020", fs=250)
    >>> X.shape, X.fs, int(y[:, X.classes.index("426783006")].sum())
    ((2, 12, 250), 250.0, 2)
    """
    fs = check_fs(fs)
    vocab = get_vocabulary(vocabulary)
    meta = pd.DataFrame(rows)
    if len(meta) == 0:
        meta = pd.DataFrame(columns=["record_id", "source", "fs", "age", "sex", "patient_id", "leads", "dx",
                                     "labelled"])
    if "labelled" not in meta:
        meta["labelled"] = True
    meta["labelled"] = meta["labelled"].astype(bool)
    if fs is not None:
        signals = [
            s if float(f) == float(fs) else preprocessing.resample_signal(s, float(f), float(fs))
            for s, f in zip(signals, meta["fs"])
        ]
        meta["fs"] = float(fs)
    shapes = {s.shape for s in signals}
    if len(shapes) == 1:
        sig: object = np.stack(signals).astype(np.float32, copy=False)
    elif not signals:
        sig = np.zeros((0, 12, 0), np.float32)
    else:
        sig = signals
    records = ECGRecords(sig, meta, classes=vocab.classes, skipped=skipped)
    y = vocab.encode(records.meta["dx"])
    report = vocab.report(records.meta["dx"])
    if report.outside_vocabulary:
        logger.info("%s", report)
    return records, y

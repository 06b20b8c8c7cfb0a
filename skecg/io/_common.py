"""Shared reader machinery: errors that name the record, reported skips, assembly."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from .._records import ECGRecords
from ..labels import get_vocabulary

logger = logging.getLogger("skecg.io")


class RecordReadError(ValueError):
    """A record could not be read.  ``record`` names it and ``reason`` says why."""

    def __init__(self, record: str, reason: str):
        self.record = str(record)
        self.reason = str(reason)
        super().__init__(f"{self.record}: {self.reason}")


class SkippedRecordsWarning(UserWarning):
    """Emitted when a reader skipped records (``on_error='skip'``); lists each and why."""


def _check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")


def read_many(
    names: Iterable[str],
    read_one: Callable[[str], tuple[np.ndarray, dict]],
    on_error: str,
    n_jobs: int | None = 1,
) -> tuple[list[np.ndarray], list[dict], list[tuple[str, str]]]:
    """Run ``read_one`` over names; collect (signals, meta rows, skipped)."""
    _check_on_error(on_error)
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
        from joblib import Parallel, delayed

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


class FolderIndex:
    """Files of one folder looked up by name, exactly or else ignoring case.

    Real archives copied through other systems come back with ``A0001.MAT`` beside
    ``A0001.hea``, ``Metadata.csv``, ``RECORDS/``; the exact name is tried first (one
    ``stat``), the folder is listed once, only when a name is not found as written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "A0001.MAT").write_bytes(b"")
    >>> FolderIndex(d).find("A0001.mat").name, FolderIndex(d).find("A0002.mat")
    ('A0001.MAT', None)
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self._lower: dict | None = None

    def find(self, name: str, *, dirs: bool = False):
        """The path of ``name`` in the folder (exact, else the one entry equal ignoring case), or None."""
        p = self.folder / name
        if p.is_dir() if dirs else p.is_file():
            return p
        if self._lower is None:  # built whole, then published: safe to share between reading threads
            lower: dict = {}
            try:
                for q in self.folder.iterdir():
                    lower.setdefault(q.name.lower(), []).append(q)
            except OSError:
                pass
            self._lower = lower
        hits = [q for q in self._lower.get(name.lower(), []) if (q.is_dir() if dirs else q.is_file())]
        return hits[0] if len(hits) == 1 else None


_INDEXES: dict = {}


def find_file(folder, name: str, *, dirs: bool = False):
    """:meth:`FolderIndex.find` with the folder's listing kept between calls while the
    folder is unchanged (its modification time), so that a folder of 100k records whose
    files are all named in another case is listed once, not once per record."""
    folder = Path(folder)
    p = folder / name
    if p.is_dir() if dirs else p.is_file():
        return p
    try:
        key = (str(folder), folder.stat().st_mtime_ns)
    except OSError:
        return None
    idx = _INDEXES.get(key)
    if idx is None:
        if len(_INDEXES) > 64:
            _INDEXES.clear()
        idx = _INDEXES[key] = FolderIndex(folder)
    return idx.find(name, dirs=dirs)


def strip_suffix(name: str, *suffixes: str) -> str:
    """``name`` without a trailing extension of ``suffixes`` (any case); other names unchanged.

    Examples
    --------
    >>> strip_suffix("SPH00001.h5", ".h5", ".hdf5"), strip_suffix("A00001", ".h5")
    ('SPH00001', 'A00001')
    """
    for s in suffixes:
        if name.lower().endswith(s.lower()) and len(name) > len(s):
            return name[: -len(s)]
    return name


def as_list(names) -> list:
    """A ``records``/``ecg_ids`` argument as a list: one name (``'A0001'``, ``12``) is one
    record, not its characters.

    Examples
    --------
    >>> as_list("A0001"), as_list(12), as_list(("A0001", "E00001"))
    (['A0001'], [12], ['A0001', 'E00001'])
    """
    if isinstance(names, (str, bytes, int, np.integer)):
        return [names]
    try:
        return list(names)
    except TypeError:
        raise TypeError(f"expected record names (a list, or one name), got {type(names).__name__} {names!r}") from None


def read_text(path) -> str:
    """A text file (header, table) as str: UTF-8 with or without a byte-order mark, any
    line endings (``splitlines`` takes CRLF), undecodable bytes replaced, not fatal."""
    return Path(path).read_bytes().decode("utf-8-sig", errors="replace")


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


def check_signal(name: str, sig: np.ndarray) -> None:
    if sig.ndim != 2 or sig.shape[1] == 0:
        raise RecordReadError(name, f"signal has shape {sig.shape}: a zero-length or malformed record")
    if not np.all(np.isfinite(sig)):
        bad = np.argwhere(~np.isfinite(sig))
        lead, t = bad[0]
        raise RecordReadError(
            name, f"signal has {len(bad)} non-finite value(s) (NaN or inf), first at lead {lead}, sample {t}"
        )


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
    >>> sig = np.zeros((12, 500), np.float32)
    >>> row = {"record_id": "r1", "source": "mine", "fs": 500.0, "dx": ("426783006",),
    ...        "leads": ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")}
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
        from ..preprocessing import resample_signal

        signals = [
            s if float(f) == float(fs) else resample_signal(s, float(f), float(fs))
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

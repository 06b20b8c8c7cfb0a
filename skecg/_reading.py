"""What every reader of record files shares: the error that names a record, files found
whatever the case of their names, text, and the checks of a decoded signal.

Below :mod:`skecg.sources` and :mod:`skecg.io` (it imports numpy only), so that the
sources that read record files on demand (:class:`skecg.sources.WFDBFolderSource`) and
the readers of :mod:`skecg.io` report the same errors the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._finite import nonfinite_records


class RecordReadError(ValueError):
    """A record could not be read.  ``record`` names it and ``reason`` says why."""

    def __init__(self, record: str, reason: str):
        self.record = str(record)
        self.reason = str(reason)
        super().__init__(f"{self.record}: {self.reason}")


def check_on_error(on_error: str) -> None:
    """Refuse an ``on_error`` other than ``'raise'`` or ``'skip'``."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")


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


def check_signal(name: str, sig: np.ndarray) -> None:
    """Refuse a decoded signal that is not 2-D with samples, or holds NaN or inf
    (:class:`RecordReadError` naming the record, and the first bad lead and sample)."""
    if sig.ndim != 2 or sig.shape[1] == 0:
        raise RecordReadError(name, f"signal has shape {sig.shape}: a zero-length or malformed record")
    if len(nonfinite_records(sig[None])):  # skecg's one finiteness check; then where
        bad = np.argwhere(~np.isfinite(sig))
        lead, t = bad[0]
        raise RecordReadError(
            name, f"signal has {len(bad)} non-finite value(s) (NaN or inf), first at lead {lead}, sample {t}"
        )


def parse_age(text) -> float:
    """An age in years from a header or table cell; NaN when it is not a number in [0, 130)."""
    try:
        age = float(str(text).strip())
    except (TypeError, ValueError):
        return np.nan
    return age if 0 <= age < 130 else np.nan


def parse_sex(text) -> str | None:
    """``'M'`` or ``'F'`` from ``male``/``m``/``female``/``f`` in any case, else None."""
    t = str(text).strip().lower()
    if t in ("male", "m"):
        return "M"
    if t in ("female", "f"):
        return "F"
    return None

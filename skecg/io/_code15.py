"""CODE-15% / TNMG multi-part HDF5, read in place (the source: :mod:`skecg.sources._code15`)."""

from __future__ import annotations

from pathlib import Path

from .._reading import find_file
from .._records import ECGRecords
from ..labels import get_vocabulary
from ..sources import Code15Source
from ._store import _warn_skipped


def code15_source(folder, exams="exams.csv", **kwargs) -> Code15Source:
    """:class:`~skecg.sources.Code15Source` of ``folder``, its exams table found in any case."""
    if Path(folder).is_dir() and not (Path(folder) / exams).is_file():  # EXAMS.CSV, Exams.csv: the same table
        found = find_file(folder, exams)
        exams = found.name if found is not None else exams
    return Code15Source(folder, exams=exams, **kwargs)


def read_code15(folder, vocabulary="tnmg", *, files=None, exams="exams.csv", locking=None, rdcc_nbytes=None):
    """Read CODE-15% (``exams_part*.hdf5`` + ``exams.csv``) lazily, in place.

    Exam ids of every part are joined to ``exams.csv``; records are never copied into
    a new file, and are read (and transposed to leads first) only when needed.
    Patient ids are kept (``meta['patient_id']``) for grouped splits.  An exam with
    tracings but no row in ``exams.csv`` is skipped and reported (a
    :class:`~skecg.io.SkippedRecordsWarning` and ``records.skipped``); the all-zero
    padding row that ends each part (exam id 0) is not a record.

    Parameters
    ----------
    folder : str or Path
    vocabulary : default='tnmg'
        Columns of ``y`` (1dAVb, RBBB, LBBB, SB, AF, ST).
    files : list of str, optional
        Which HDF5 files of the folder to read (default: all, in part order).
    exams : str, default='exams.csv'
        The table's file name inside ``folder``, found in any case (``EXAMS.CSV``).
    locking, rdcc_nbytes : h5py options for chunked files.

    Returns
    -------
    records : ECGRecords (lazy, 400 Hz, 12 leads, 4096 samples)
    y : ndarray of shape (n_records, n_classes)
    """
    src = code15_source(folder, files=files, exams=exams, locking=locking, rdcc_nbytes=rdcc_nbytes)
    vocab = get_vocabulary(vocabulary)
    X = ECGRecords.from_source(src, classes=vocab.classes, skipped=src.skipped)
    _warn_skipped(src.skipped, f"CODE-15% folder {folder}")
    return X, vocab.encode(X.meta["dx"])

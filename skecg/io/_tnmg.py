"""TNMG/CODE HDF5 files as Ribeiro et al. publish them, and their 827-record test set."""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from .._reading import RecordReadError, check_on_error, check_signal, find_file, parse_sex
from .._records import STANDARD_LEADS
from ..labels import TNMG_TO_SNOMED, get_vocabulary
from ._common import SkippedRecordsWarning, assemble, check_fs
from ._tables import cell_number


def read_tnmg_hdf5(
    hdf5_path,
    exams=None,
    vocabulary="tnmg",
    *,
    dataset: str = "tracings",
    fs: float | None = None,
    source: str = "TNMG",
    on_error: str = "raise",
):
    """Read a TNMG/CODE HDF5 file as Ribeiro et al. publish it.

    ``tracings`` has shape ``(N, 4096, 12)`` at 400 Hz (leads DI, DII, DIII, aVR,
    aVL, aVF, V1-V6) and is transposed to leads first.  Labels and facts come from a
    CSV (``exams.csv`` of CODE-15%, or the test set's annotation file) with the
    columns ``1dAVb, RBBB, LBBB, SB, ST, AF`` and optionally ``exam_id, age,
    is_male, patient_id``.  When the HDF5 file has an ``exam_id`` dataset, rows are
    matched by exam id (CODE-15% pads each file with an all-zero row of exam id 0,
    which is dropped); otherwise the CSV rows follow the tracings' order.

    The declared shape is checked against the file's size before anything is
    allocated, and only the kept rows are read.  File-level problems (not HDF5, wrong
    layout, ``exam_id`` of another length, a declared size the file cannot hold) raise
    :class:`RecordReadError` naming the file; a bad tracing raises naming the exam, or
    with ``on_error='skip'`` is skipped and reported like in every other reader.

    Returns
    -------
    records : ECGRecords
    y : ndarray of shape (n_records, n_classes)
    """
    hdf5_path = Path(hdf5_path)
    check_on_error(on_error)
    fs = check_fs(fs)
    if not hdf5_path.exists():
        raise FileNotFoundError(f"{hdf5_path} does not exist")
    fname = hdf5_path.name
    try:
        f = h5py.File(hdf5_path, "r")
    except OSError as e:
        raise RecordReadError(fname, f"not a readable HDF5 file ({e})") from None
    with f:
        if dataset not in f:
            raise RecordReadError(fname, f"no dataset {dataset!r} (it has {list(f.keys())})")
        tr = f[dataset]
        if not isinstance(tr, h5py.Dataset) or tr.ndim != 3 or tr.shape[2] != 12 or tr.dtype.kind not in "iuf":
            raise RecordReadError(fname, f"{dataset} has shape {getattr(tr, 'shape', None)} and dtype "
                                  f"{getattr(tr, 'dtype', None)}; expected numbers of shape (N, n_samples, 12)")
        if tr.shape[1] == 0:
            raise RecordReadError(fname, f"{dataset} has shape {tr.shape}: zero-length tracings")
        _check_hdf5_size(fname, hdf5_path, tr, dataset)
        exam_ids = None
        if "exam_id" in f:
            e = f["exam_id"]
            if not isinstance(e, h5py.Dataset) or e.ndim != 1 or e.dtype.kind not in "iu":
                raise RecordReadError(fname, f"exam_id has shape {getattr(e, 'shape', None)} and dtype "
                                      f"{getattr(e, 'dtype', None)}; expected integers of shape (N,)")
            if e.shape[0] != tr.shape[0]:
                raise RecordReadError(fname, f"exam_id has {e.shape[0]} entries but {dataset} has "
                                      f"{tr.shape[0]} tracings")
            exam_ids = np.asarray(e[...])
        keep = np.flatnonzero(exam_ids != 0) if exam_ids is not None else np.arange(tr.shape[0])
        x = np.empty((len(keep), tr.shape[1], 12), np.float32)
        step = max(1, (64 << 20) // (tr.shape[1] * 12 * 4))  # ~64 MB of rows at a time
        for a in range(0, len(keep), step):
            idx = keep[a:a + step]
            block = np.asarray(tr[int(idx[0]):int(idx[-1]) + 1], dtype=np.float32)
            x[a:a + len(idx)] = block[idx - idx[0]]
    sig = np.ascontiguousarray(x.transpose(0, 2, 1))
    del x
    n = sig.shape[0]
    ids = exam_ids[keep] if exam_ids is not None else None
    if exams is not None:
        df = _tnmg_table(exams)
        if ids is not None and "exam_id" in df:
            df = df.drop_duplicates()  # a row repeated as is says nothing new
            dup = sorted(set(df["exam_id"][df["exam_id"].duplicated()].tolist()))
            if dup:
                raise ValueError(f"exam_id(s) {dup[:10]} occur more than once, with different values, in the "
                                 f"exams table of {hdf5_path.name}")
            df = df.set_index("exam_id")
            missing = sorted(set(ids.tolist()) - set(df.index))
            if missing:
                raise ValueError(f"exam_id(s) {missing[:10]} of {hdf5_path.name} are not in the exams table")
            df = df.loc[ids].reset_index()
        elif len(df) != n:
            raise ValueError(f"the exams table has {len(df)} rows but {hdf5_path.name} has {n} tracings")
        df = df.reset_index(drop=True)
    else:
        df = pd.DataFrame(index=range(n))
    if ids is None:
        ids = df["exam_id"].to_numpy() if "exam_id" in df else np.arange(n)
    bad, skipped = [], []
    for i in range(n):
        try:
            check_signal(f"{fname}[{i}] (exam {ids[i]})", sig[i])
        except RecordReadError as e:
            if on_error == "raise":
                raise
            bad.append(i)
            skipped.append((e.record, e.reason))
    label_cols = [c for c in TNMG_TO_SNOMED if c in df]
    flags = {c: _flags(df[c], c, hdf5_path.name) for c in label_cols}
    dx = [tuple(TNMG_TO_SNOMED[c] for c in label_cols if flags[c][i]) for i in range(n)]
    meta = pd.DataFrame({
        "record_id": [f"exam-{int(e)}" for e in ids],
        "source": source,
        "fs": 400.0,
        "age": [cell_number(a, float) for a in df["age"]] if "age" in df else np.nan,
        "sex": _tnmg_sex(df),
        "patient_id": [f"tnmg-p{p}" if p is not None else f"exam-{int(e)}"
                       for p, e in zip(map(cell_number, df["patient_id"]), ids)] if "patient_id" in df
        else [f"exam-{int(e)}" for e in ids],
        "leads": pd.Series([STANDARD_LEADS] * n,
                           dtype=object),
        "dx": pd.Series(dx, dtype=object),
    })
    rows = meta.to_dict("records")
    if bad:
        warnings.warn(f"skipped {len(skipped)} record(s): " + "; ".join(f"{r}: {w}" for r, w in skipped),
                      SkippedRecordsWarning, stacklevel=2)
        good = [i for i in range(n) if i not in set(bad)]
        return assemble([sig[i] for i in good], [rows[i] for i in good], skipped, get_vocabulary(vocabulary), fs)
    return assemble(list(sig), rows, skipped, get_vocabulary(vocabulary), fs)


#: canonical column names of the TNMG/CODE tables, found whatever the case of a copy
_TNMG_COLUMNS = ("exam_id", "age", "is_male", "sex", "patient_id", *TNMG_TO_SNOMED)


def _tnmg_table(exams) -> pd.DataFrame:
    """The exams/annotation table (a path or a DataFrame) with its columns named as
    Ribeiro et al. publish them (``exam_id``, ``age``, ``is_male``, ``1dAVb``, ...),
    whatever their case or surrounding spaces in this copy."""
    if isinstance(exams, pd.DataFrame):
        df = exams.copy()
    else:
        try:
            df = pd.read_csv(exams)
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
            raise ValueError(f"{exams} is not a readable CSV table ({type(e).__name__}: {e})") from None
    canon = {c.lower(): c for c in _TNMG_COLUMNS}
    df.columns = [canon.get(str(c).strip().lower(), c) for c in df.columns]
    return df


def _flags(col: pd.Series, name: str, fname: str) -> np.ndarray:
    """A 0/1 label column as bool (``1``/``0``, ``True``/``False``, empty = 0)."""
    text = col.map(lambda v: "" if pd.isna(v) else str(v).strip().lower())
    on = text.isin(["1", "1.0", "true"])
    bad = ~(on | text.isin(["0", "0.0", "false", "", "nan", "none"]))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"label column {name} of the exams table of {fname} holds {col.iloc[i]!r} in row {i}; "
                         "expected 0/1 or True/False")
    return on.to_numpy()


def _tnmg_sex(df: pd.DataFrame):
    """``'M'``/``'F'`` per row from ``is_male`` (CODE-15%) or ``sex`` (the test set's
    attributes: M/F), None where unknown."""
    if "is_male" in df:
        v = df["is_male"].map(lambda x: "" if pd.isna(x) else str(x).strip().lower())
        return [("M" if x in ("1", "1.0", "true") else "F" if x in ("0", "0.0", "false") else None) for x in v]
    if "sex" in df:
        return [parse_sex(x) for x in df["sex"]]
    return None


def _check_hdf5_size(fname, path, ds, dataset) -> None:
    """Refuse a dataset whose declared size the file cannot hold (before allocating):
    uncompressed data must fit in the file; compressed data may expand at most 1000x."""
    declared = int(np.prod(ds.shape, dtype=np.float64)) * 4  # read as float32
    size = path.stat().st_size
    limit = size * (1000 if ds.compression else 2) + (1 << 20)
    if declared > limit:
        raise RecordReadError(fname, f"{dataset} declares shape {ds.shape} ({declared / 2**30:.3g} GiB as "
                              f"float32) but the file has {size:,} bytes; truncated or hostile file")


def read_tnmg_test(path, vocabulary="tnmg", *, fs: float | None = None, on_error: str = "raise"):
    """Read a TNMG/CODE test set in Ribeiro et al.'s published layout.

    The folder of Ribeiro's 827-record test set (zenodo 3625006, described in
    github.com/antonior92/automatic-ecg-diagnosis ``data/README.md``) holds one HDF5 file
    (``ecg_tracings.hdf5``: ``tracings`` of shape ``(N, 4096, 12)`` at 400 Hz, zero-padded
    on both sides), ``annotations/gold_standard.csv`` (the columns ``1dAVb, RBBB,
    LBBB, SB, AF, ST``, one row per tracing, in order) and ``attributes.csv`` (``age``,
    ``sex`` as M/F).  The other annotation files (cardiologists, residents, students,
    the DNN) are not read.  Tracings are read by :func:`read_tnmg_hdf5` (source
    ``'TNMG-test'``).

    Parameters
    ----------
    path : str or Path
        The folder.
    vocabulary : str, default='tnmg'
    fs : float, optional
        Resample to this rate.
    on_error : {'raise', 'skip'}, default='raise'

    Returns
    -------
    records : ECGRecords
    y : ndarray of shape (n_records, n_classes)
    """
    path = Path(path)
    ann = find_file(path / "annotations", "gold_standard.csv") if (path / "annotations").is_dir() else None
    ann = ann or find_file(path, "gold_standard.csv")
    h5 = sorted(path.glob("*.[hH][dD][fF]5")) + sorted(path.glob("*.[hH]5"))
    if ann is None or not h5:
        raise FileNotFoundError(f"{path}: not a TNMG test set in Ribeiro's layout (needs an HDF5 file and "
                                "annotations/gold_standard.csv)")
    if len(h5) > 1:
        raise ValueError(f"{path}: {len(h5)} HDF5 files ({', '.join(p.name for p in h5)}); the test set has one")
    exams = pd.read_csv(ann)
    missing = [c for c in TNMG_TO_SNOMED if c not in exams]
    if missing:
        raise ValueError(f"{ann}: no column(s) {missing}; expected {list(TNMG_TO_SNOMED)}")
    attrs = find_file(path, "attributes.csv")
    if attrs is not None:
        a = pd.read_csv(attrs)
        if len(a) != len(exams):
            raise ValueError(f"{attrs} has {len(a)} rows but {ann.name} has {len(exams)}")
        if "age" in a:
            exams["age"] = pd.to_numeric(a["age"], errors="coerce")
        if "sex" in a:
            sex = a["sex"].astype(str).str.strip().str.upper()
            bad = sorted(set(sex) - {"M", "F"})
            if bad:
                raise ValueError(f"{attrs}: sex must be M or F, found {bad[:5]}")
            exams["is_male"] = (sex == "M").to_numpy()
    exams.insert(0, "exam_id", np.arange(1, len(exams) + 1))
    return read_tnmg_hdf5(h5[0], exams, vocabulary, fs=fs, source="TNMG-test", on_error=on_error)

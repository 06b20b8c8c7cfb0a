"""Readers for PTB-XL, original CPSC 2018 files, and TNMG/CODE HDF5 files."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io

from .._records import normalize_lead_name
from ..labels import CPSC2018_TO_SNOMED, HEART_AXIS_TO_SNOMED, SCP_TO_SNOMED, TNMG_TO_SNOMED
from ..labels import get_vocabulary
from ._challenge import _check_declared_size, _parse_sex, parse_header
from ._common import (RecordReadError, _check_on_error, as_list, assemble, check_fs, check_signal, find_file,
                      read_many, read_text, strip_suffix)
from ._tables import find_column, select_rows


# --- PTB-XL -------------------------------------------------------------------------
def ptbxl_codes(scp_codes: dict, heart_axis=None, likelihood_threshold: float = 0.0) -> tuple:
    """SNOMED codes of one PTB-XL record; unmapped statements kept as ``'scp:NAME'``.

    Statements whose likelihood is below ``likelihood_threshold`` are left out
    (PTB-XL gives rhythm statements likelihood 0, so the default 0 keeps them).

    Examples
    --------
    >>> ptbxl_codes({"NORM": 80.0, "SBRAD": 0.0})
    ('426783006', '426177001')
    >>> ptbxl_codes({"IMI": 35.0, "DIG": 100.0}, heart_axis="LAD", likelihood_threshold=50)
    ('scp:DIG', '39732003')
    """
    out: list[str] = []
    for stmt, lik in scp_codes.items():
        if float(lik) < likelihood_threshold:
            continue
        code = SCP_TO_SNOMED.get(stmt, f"scp:{stmt}")
        if code not in out:
            out.append(code)
    if isinstance(heart_axis, str) and heart_axis in HEART_AXIS_TO_SNOMED:
        code = HEART_AXIS_TO_SNOMED[heart_axis]
        if code not in out:
            out.append(code)
    return tuple(out)


def read_ptbxl(
    path,
    vocabulary="cinc2020",
    *,
    sampling_rate: int = 500,
    likelihood_threshold: float = 0.0,
    folds=None,
    ecg_ids=None,
    fs: float | None = None,
    on_error: str = "raise",
    n_jobs: int | None = 1,
):
    """Read PTB-XL (``ptbxl_database.csv`` with ``records100/`` or ``records500/``).

    Parameters
    ----------
    path : str or Path
        The PTB-XL folder.
    vocabulary : default='cinc2020'
        Columns of ``y`` (SCP statements are mapped to SNOMED CT, see
        :data:`skecg.labels.SCP_TO_SNOMED`).
    sampling_rate : {100, 500}
        Which copy of the signals to read.
    likelihood_threshold : float, default=0
        Keep SCP statements with at least this likelihood (0-100).
    folds : list of int, optional
        Only these ``strat_fold`` values (1-10).
    ecg_ids : list of int, optional
        Only these records.
    fs : float, optional
        Resample on load.

    Returns
    -------
    records : ECGRecords
        ``meta`` also holds ``strat_fold``, ``scp_codes`` and the noise flags.
    y : ndarray of shape (n_records, n_classes)
    """
    import wfdb

    root = Path(path)
    db_file = find_file(root, "ptbxl_database.csv") if root.is_dir() else None
    if db_file is None:
        raise FileNotFoundError(f"{root / 'ptbxl_database.csv'} does not exist; is {root} a PTB-XL folder?")
    if isinstance(sampling_rate, str) and sampling_rate.strip().isdigit():
        sampling_rate = int(sampling_rate)
    if sampling_rate not in (100, 500) or isinstance(sampling_rate, bool):
        raise ValueError(f"sampling_rate must be 100 or 500, got {sampling_rate!r}")
    db = _read_ptbxl_table(db_file)
    if folds is not None:
        db = db[db["strat_fold"].isin(list(folds))]
    if ecg_ids is not None:
        db = select_rows(db, [_ecg_id(i) for i in as_list(ecg_ids)], "ecg_id", db_file)
    col = "filename_hr" if sampling_rate == 500 else "filename_lr"
    fs = check_fs(fs)
    real_root = root.resolve()

    def read_one(ecg_id):
        name = f"ptbxl-{ecg_id}"
        try:
            return _read_one(ecg_id, name)
        except RecordReadError:
            raise
        except Exception as e:  # noqa: BLE001 - anything else, named with the record
            raise RecordReadError(name, f"{type(e).__name__}: {e}") from None

    def _read_one(ecg_id, name):
        row = db.loc[ecg_id]
        rel = _record_path(row[col])
        if not rel:
            raise RecordReadError(name, f"{col} is empty in {db_file.name}")
        rec_path = root / rel
        try:  # a database row must not send the reader outside the PTB-XL folder
            rec_path.resolve().relative_to(real_root)
        except ValueError:
            raise RecordReadError(name, f"{col} {rel!r} points outside the PTB-XL folder {root}") from None
        try:
            scp = ast.literal_eval(str(row["scp_codes"]))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            scp = None
        if not (isinstance(scp, dict) and all(isinstance(k, str) and isinstance(v, (int, float))
                                              and not isinstance(v, bool) for k, v in scp.items())):
            raise RecordReadError(name, f"scp_codes cell {str(row['scp_codes'])[:80]!r} is not a dict of "
                                  "statement: likelihood")
        hea = rec_path.with_name(rec_path.name + ".hea")
        if not hea.exists():
            raise RecordReadError(name, f"header {hea} is missing")
        h = parse_header(read_text(hea), name)  # rejects impossible rates
        dat = hea.with_name(Path(h.files[0]).name) if h.files else None
        if dat is None or not dat.exists():
            raise RecordReadError(name, f"signal file {dat.name if dat else '(none named)'} is missing")
        _check_declared_size(name, h, dat)  # before wfdb allocates what the header declares
        try:
            sig, fields = wfdb.rdsamp(str(rec_path))
        except Exception as e:
            raise RecordReadError(name, f"cannot read {rec_path.name} ({type(e).__name__}: {e})") from None
        sig = np.ascontiguousarray(sig.T, dtype=np.float32)
        check_signal(name, sig)
        sex = {0: "M", 1: "F"}.get(_number(row.get("sex")))
        age = _number(row.get("age"), float)
        pid = _number(row.get("patient_id"))
        return sig, {
            "record_id": name,
            "source": "PTB-XL",
            "fs": float(fields["fs"]),
            "age": age if age is not None and 0 <= age < 130 else np.nan,
            "sex": sex,
            "patient_id": f"ptbxl-p{pid}" if pid is not None else name,
            "leads": tuple(normalize_lead_name(s) for s in fields["sig_name"]),
            "dx": ptbxl_codes(scp, row.get("heart_axis"), likelihood_threshold),
            "ecg_id": int(ecg_id),
            "strat_fold": int(row["strat_fold"]),
            "scp_codes": scp,
        }

    signals, rows, skipped = read_many(list(db.index), read_one, on_error, n_jobs)
    return assemble(signals, rows, skipped, vocabulary, fs)


def _read_ptbxl_table(db_file: Path) -> pd.DataFrame:
    """``ptbxl_database.csv`` indexed by ``ecg_id``, its columns named as PhysioNet
    publishes them whatever the copy wrote (``ECG_ID``, ``Filename HR``: lower case,
    ``_`` for spaces); a byte-order mark and Windows line endings are read by pandas."""
    try:
        db = pd.read_csv(db_file)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise ValueError(f"{db_file} is not a readable CSV table ({type(e).__name__}: {e})") from None
    db.columns = [re.sub(r"[^a-z0-9]+", "_", str(c).strip().lower()).strip("_") for c in db.columns]
    need = [c for c in ("ecg_id", "scp_codes", "strat_fold") if c not in db]
    if need or not {"filename_hr", "filename_lr"} & set(db.columns):
        raise ValueError(f"{db_file} lacks the column(s) {need or ['filename_hr/filename_lr']} of PTB-XL's "
                         f"database table (it has {list(db.columns)[:12]})")
    try:
        db["ecg_id"] = db["ecg_id"].astype(int)
    except (TypeError, ValueError):
        raise ValueError(f"{db_file}: ecg_id holds values that are not integers") from None
    dup = db["ecg_id"][db["ecg_id"].duplicated()].tolist()
    if dup:
        raise ValueError(f"{db_file}: ecg_id(s) {dup[:10]} occur more than once")
    return db.set_index("ecg_id")


def _ecg_id(i) -> int:
    """A PTB-XL ecg_id from ``12``, ``'12'`` or skecg's record id ``'ptbxl-12'``."""
    if isinstance(i, (float, np.floating)) and float(i).is_integer():  # 12.0 from a float column
        return int(i)
    m = re.fullmatch(r"\s*(?:ptbxl-)?(\d+)\s*", str(i))
    if m is None or isinstance(i, (bool, float, np.floating)):
        raise ValueError(f"ecg_ids must be PTB-XL ecg_id numbers (12, '12', 'ptbxl-12'), got {i!r}")
    return int(m.group(1))


def _number(cell, kind=int):
    """A table cell as int (or float), None where it is empty or not a number."""
    try:
        v = float(cell)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(v):
        return None
    return int(v) if kind is int else v


def _record_path(cell) -> str:
    """A ``filename_hr``/``filename_lr`` cell as a relative record path: Windows separators
    turned into ``/``, a leading ``./`` and a ``.hea``/``.dat`` extension dropped."""
    if not isinstance(cell, str):
        return ""
    rel = cell.strip().replace("\\", "/")
    while rel.startswith("./"):
        rel = rel[2:]
    return strip_suffix(rel, ".hea", ".dat")


# --- CPSC 2018 (original files) -----------------------------------------------------
def read_cpsc2018(
    path,
    vocabulary="cinc2020",
    *,
    reference=None,
    fs: float | None = None,
    on_error: str = "raise",
    n_jobs: int | None = 1,
):
    """Read the original CPSC 2018 ``.mat`` files (MATLAB struct ``ECG``: sex, age, data).

    Signals are 12 x n in mV at 500 Hz.  Labels come from ``REFERENCE.csv``
    (``Recording, First_label, Second_label, Third_label`` with classes 1-9) when
    it exists in the folder or is given; records without a reference row get no
    labels (an all-zero row of ``y``, and ``meta['labelled']`` False).

    Returns
    -------
    records : ECGRecords
    y : ndarray of shape (n_records, n_classes)
    """
    root = Path(path)
    fs = check_fs(fs)  # before reading anything
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    mats = sorted(root.glob("*.[mM][aA][tT]"))  # .mat, and .MAT of archives copied through other systems
    if not mats:
        raise FileNotFoundError(f"no .mat files in {root}")
    ref_path = Path(reference) if reference is not None else (find_file(root, "REFERENCE.csv")
                                                              or root / "REFERENCE.csv")
    labels: dict[str, tuple] = {}
    if ref_path.is_file():
        labels = _read_cpsc_reference(ref_path)
    elif reference is not None:
        raise FileNotFoundError(f"reference file {ref_path} does not exist")

    def read_one(mat: Path):
        name = mat.stem
        try:
            m = scipy.io.loadmat(str(mat))
        except Exception as e:
            raise RecordReadError(name, f"cannot read {mat.name} ({type(e).__name__}: {e})") from None
        if "ECG" not in m:
            raise RecordReadError(name, f"{mat.name} has no 'ECG' struct (not an original CPSC 2018 file)")
        ecg = m["ECG"][0, 0]
        data = np.asarray(ecg["data"], dtype=np.float32)
        if data.ndim != 2 or data.shape[0] != 12:
            raise RecordReadError(name, f"expected 12 leads x samples, got data of shape {data.shape}")
        check_signal(name, data)
        try:
            age = float(np.asarray(ecg["age"]).ravel()[0])
        except (IndexError, ValueError, TypeError):
            age = np.nan
        sex_raw = np.asarray(ecg["sex"]).ravel()
        sex = str(sex_raw[0]).strip().lower() if sex_raw.size else ""
        return data, {
            "record_id": name,
            "source": "CPSC",
            "fs": 500.0,
            "age": age if 0 <= age < 130 else np.nan,
            "sex": {"male": "M", "female": "F"}.get(sex),
            "patient_id": name,
            "leads": ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"),
            "dx": labels.get(name, ()),
            "labelled": name in labels,
        }

    signals, rows, skipped = read_many(mats, read_one, on_error, n_jobs)
    return assemble(signals, rows, skipped, vocabulary, fs)


def _read_cpsc_reference(ref_path: Path) -> dict:
    """``REFERENCE.csv`` of CPSC 2018 as ``{record: SNOMED codes}``.

    The published table is ``Recording, First_label, Second_label, Third_label`` (classes
    1-9); copies with the columns in another order or case, extra columns (only those
    named ``*label*`` hold labels, when any is so named), record names ending in ``.mat``,
    a byte-order mark or Windows line endings are read the same.
    """
    try:
        ref = pd.read_csv(ref_path, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise ValueError(f"{ref_path} is not a readable CSV table ({type(e).__name__}: {e})") from None
    if ref.shape[1] < 2:
        raise ValueError(f"{ref_path} needs a record column and label columns, it has {list(ref.columns)}")
    rec_col = find_column(ref, "recording", "record", "record_id") or ref.columns[0]
    label_cols = [c for c in ref.columns if c != rec_col and "label" in str(c).lower()]
    label_cols = label_cols or [c for c in ref.columns if c != rec_col]
    rank = ("first", "second", "third")  # the published order, whatever the copy's column order
    label_cols.sort(key=lambda c: next((k for k, r in enumerate(rank) if str(c).lower().startswith(r)), len(rank)))
    labels: dict[str, tuple] = {}
    for rec, *vals in ref[[rec_col, *label_cols]].itertuples(index=False):
        rec = strip_suffix(str(rec).strip(), ".mat")
        codes = []
        for v in vals:
            v = str(v).strip()
            if not v:
                continue
            try:
                code = CPSC2018_TO_SNOMED[int(float(v))]
            except (KeyError, ValueError, OverflowError):
                raise ValueError(f"{ref_path}: record {rec} has unknown label {v!r} (CPSC 2018 classes are "
                                 "1-9)") from None
            if code not in codes:
                codes.append(code)
        if rec in labels and set(labels[rec]) != set(codes):
            raise ValueError(f"{ref_path}: record {rec} has two rows with different labels")
        labels[rec] = tuple(codes)
    return labels


# --- TNMG / CODE --------------------------------------------------------------------
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
    import h5py

    hdf5_path = Path(hdf5_path)
    _check_on_error(on_error)
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
        "age": [_number(a, float) for a in df["age"]] if "age" in df else np.nan,
        "sex": _tnmg_sex(df),
        "patient_id": [f"tnmg-p{p}" if p is not None else f"exam-{int(e)}"
                       for p, e in zip(map(_number, df["patient_id"]), ids)] if "patient_id" in df
        else [f"exam-{int(e)}" for e in ids],
        "leads": pd.Series([("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")] * n,
                           dtype=object),
        "dx": pd.Series(dx, dtype=object),
    })
    rows = meta.to_dict("records")
    if bad:
        import warnings

        from ._common import SkippedRecordsWarning

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
        return [_parse_sex(x) for x in df["sex"]]
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

"""The original CPSC 2018 files: MATLAB ``.mat`` records and ``REFERENCE.csv``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io

from .._reading import RecordReadError, check_signal, find_file, strip_suffix
from .._records import STANDARD_LEADS
from ..labels import CPSC2018_TO_SNOMED
from ._common import assemble, check_fs, read_many
from ._tables import find_column


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
            "leads": STANDARD_LEADS,
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

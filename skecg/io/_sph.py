"""SPH (Shandong Provincial Hospital, Liu et al., Sci Data 2022): one HDF5 file per record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ._common import RecordReadError, assemble, check_fs, check_signal, read_many
from ._tables import select_rows

SPH_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
SPH_FS = 500.0


def _codes(cell, sep=";") -> tuple:
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return ()
    return tuple(c.strip() for c in str(cell).replace(",", sep).split(sep) if c.strip())


def _column(df, *names):
    low = {c.lower().replace(" ", "_"): c for c in df.columns}
    for n in names:
        if n in low:
            return low[n]
    return None


def read_sph(
    path,
    vocabulary="cinc2020",
    *,
    fs: float | None = None,
    records=None,
    on_error: str = "raise",
    n_jobs: int | None = 1,
):
    """Read the SPH database: ``metadata.csv`` and one HDF5 file per record.

    Layout (as published): ``records/<ECG_ID>.h5`` (or ``<ECG_ID>.h5`` beside the
    table), each with a dataset ``ecg`` of shape (12, n_samples) in mV at 500 Hz, leads
    I, II, III, aVR, aVL, aVF, V1-V6 (10 s records are (12, 5000)).  ``metadata.csv``
    has one row per record: ``ECG_ID``, ``AHA_Code`` (statements separated by ``;``,
    a modifier joined by ``+``), optionally SNOMED CT codes (a column named
    ``SNOMED_Code``/``SNOMED``/``SNOMED_CT``), ``Patient_ID``, ``Age``, ``Sex``.

    Labels: the SNOMED codes where the table has them; AHA statements are always kept
    in ``meta['aha']``, and stand in ``meta['dx']`` as ``'aha:<code>'`` (outside every
    vocabulary, so they are counted by ``records.label_report()``, never guessed) for
    records without SNOMED codes.  A record with no statement at all is unlabelled
    (``meta['labelled']`` False).

    Parameters
    ----------
    path : str or Path
        The SPH folder.
    vocabulary : default='cinc2020'
    fs : float, optional
        Resample on load.
    records : list of str, optional
        Only these ECG_IDs.
    on_error : {'raise', 'skip'}, default='raise'
        As in every reader: ``'skip'`` skips unreadable records, lists them in
        ``records.skipped`` and warns with each name and reason.
    n_jobs : int, default=1

    Returns
    -------
    records : ECGRecords
    y : ndarray of shape (n_records, n_classes)

    Examples
    --------
    >>> X, y = read_sph("SPH/")  # doctest: +SKIP
    >>> X.meta[["record_id", "aha", "dx"]].head()  # doctest: +SKIP
    """
    import h5py

    root = Path(path)
    fs = check_fs(fs)
    table = root / "metadata.csv"
    if not table.is_file():
        raise FileNotFoundError(f"{table} does not exist; is {root} an SPH folder?")
    df = pd.read_csv(table, dtype=str, keep_default_na=False)
    id_col = _column(df, "ecg_id", "record_id", "id")
    if id_col is None:
        raise ValueError(f"{table} has no ECG_ID column (columns: {list(df.columns)})")
    aha_col = _column(df, "aha_code", "aha")
    snomed_col = _column(df, "snomed_code", "snomed", "snomed_ct", "snomed_codes")
    pid_col, age_col, sex_col = _column(df, "patient_id"), _column(df, "age"), _column(df, "sex")
    ids = df[id_col].astype(str).str.strip()
    dup = sorted(set(ids[ids.duplicated()]))
    if dup:
        raise ValueError(f"{table}: ECG_ID(s) {dup[:10]} occur more than once")
    df = df.set_index(ids)
    if records is not None:
        df = select_rows(df, [str(r) for r in records], "ECG_ID", table)
    folder = root / "records" if (root / "records").is_dir() else root

    def read_one(rid):
        row = df.loc[rid]
        if not rid or "/" in rid or "\\" in rid or rid in (".", ".."):
            raise RecordReadError(rid or "(empty ECG_ID)", "ECG_ID cannot name a file inside the folder")
        f = folder / f"{rid}.h5"
        if not f.is_file():
            raise RecordReadError(rid, f"signal file {f.name} is missing")
        try:
            h = h5py.File(f, "r")
        except OSError as e:
            raise RecordReadError(rid, f"{f.name} is not a readable HDF5 file ({e})") from None
        with h:
            ds = h.get("ecg")
            if not isinstance(ds, h5py.Dataset):
                raise RecordReadError(rid, f"{f.name} has no dataset 'ecg' (it has {list(h.keys())})")
            if ds.ndim != 2 or ds.shape[0] != 12 or ds.dtype.kind not in "iuf":
                raise RecordReadError(rid, f"'ecg' in {f.name} has shape {ds.shape} and dtype {ds.dtype}; "
                                      "expected numbers of shape (12, n_samples)")
            declared = int(np.prod(ds.shape, dtype=np.float64)) * 4
            size = f.stat().st_size
            if declared > size * (1000 if ds.compression else 2) + (1 << 20):
                raise RecordReadError(rid, f"'ecg' declares shape {ds.shape} but {f.name} has {size:,} bytes")
            sig = np.asarray(ds[...], dtype=np.float32)
        check_signal(rid, sig)
        aha = _codes(row[aha_col]) if aha_col else ()
        snomed = _codes(row[snomed_col]) if snomed_col else ()
        dx = snomed if snomed else tuple(f"aha:{c}" for c in aha)
        try:
            age = float(row[age_col]) if age_col and str(row[age_col]).strip() else np.nan
        except ValueError:
            age = np.nan
        sex = str(row[sex_col]).strip().upper()[:1] if sex_col else ""
        pid = str(row[pid_col]).strip() if pid_col else ""
        return sig, {
            "record_id": rid,
            "source": "SPH",
            "fs": SPH_FS,
            "age": age if 0 <= age < 130 else np.nan,
            "sex": sex if sex in ("M", "F") else None,
            "patient_id": f"sph-p{pid}" if pid else rid,
            "leads": SPH_LEADS,
            "dx": dx,
            "aha": aha,
            "labelled": bool(dx),
        }

    signals, rows, skipped = read_many(list(df.index), read_one, on_error, n_jobs)
    return assemble(signals, rows, skipped, vocabulary, fs)

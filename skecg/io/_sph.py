"""SPH (Shandong Provincial Hospital, Liu et al., Sci Data 2022): one HDF5 file per record."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from .._records import STANDARD_LEADS
from .._reading import FolderIndex, RecordReadError, as_list, check_signal, find_file, strip_suffix
from ._common import assemble, check_fs, read_many
from ._tables import find_column, select_rows

SPH_LEADS = STANDARD_LEADS  # the order of SPH's files
SPH_FS = 500.0

#: AHA/ACC/HRS primary statement (Mason et al., "Recommendations for the standardization
#: and interpretation of the electrocardiogram", Circulation 2007; the codes of SPH's
#: ``AHA_Code``) -> SNOMED CT code.  Only statements with a SNOMED concept of the same
#: meaning among the PhysioNet/CinC 2020 classes (``dx_mapping_scored.csv`` and
#: ``dx_mapping_unscored.csv``) are mapped; the few judgement calls follow skecg's other
#: readers: a normal ECG is sinus rhythm (as PTB-XL's NORM), right atrial enlargement is
#: 446358003 (as PTB-XL's RAO/RAE and LUDB), ventricular pacing is pacing rhythm (as LUDB).
AHA_TO_SNOMED: dict[str, str] = {
    "1": "426783006",     # Normal ECG -> sinus rhythm
    "20": "426783006",    # Sinus rhythm
    "21": "427084000",    # Sinus tachycardia
    "22": "426177001",    # Sinus bradycardia
    "23": "427393009",    # Sinus arrhythmia
    "24": "65778007",     # Sinoatrial block, type I -> sinoatrial block
    "25": "65778007",     # Sinoatrial block, type II -> sinoatrial block
    "30": "284470004",    # Atrial premature complex(es)
    "31": "251170000",    # Atrial premature complexes, nonconducted -> blocked PAC
    "33": "195101003",    # Wandering atrial pacemaker
    "36": "251164006",    # Junctional premature complex(es)
    "37": "426995002",    # Junctional escape complex(es)
    "38": "29320008",     # Junctional rhythm -> atrioventricular junctional rhythm
    "39": "426664006",    # Accelerated junctional rhythm
    "50": "164889003",    # Atrial fibrillation
    "51": "164890007",    # Atrial flutter
    "52": "713422000",    # Ectopic atrial tachycardia, unifocal -> atrial tachycardia
    "54": "426648003",    # Junctional tachycardia
    "55": "426761007",    # Supraventricular tachycardia
    "60": "427172004",    # Ventricular premature complex(es)
    "62": "75532003",     # Ventricular escape complex(es)
    "63": "49260003",     # Idioventricular rhythm
    "70": "164895002",    # Ventricular tachycardia
    "74": "164896001",    # Ventricular fibrillation
    "80": "49578007",     # Short PR interval
    "82": "164947007",    # Prolonged PR interval
    "83": "54016002",     # Second-degree AV block, Mobitz type I (Wenckebach)
    "84": "195042002",    # Second-degree AV block, Mobitz type II -> 2nd degree AV block
    "85": "195042002",    # 2:1 AV block -> 2nd degree AV block
    "88": "27885002",     # AV block, complete (third-degree)
    "101": "445118002",   # Left anterior fascicular block
    "102": "445211001",   # Left posterior fascicular block
    "104": "164909002",   # Left bundle-branch block
    "105": "713426002",   # Incomplete right bundle-branch block
    "106": "59118001",    # Right bundle-branch block
    "107": "698252002",   # Intraventricular conduction delay
    "108": "195060002",   # Ventricular preexcitation
    "120": "47665007",    # Right-axis deviation
    "121": "39732003",    # Left-axis deviation
    "123": "251200008",   # Indeterminate axis
    "125": "251146004",   # Low voltage
    "140": "67741000119109",  # Left atrial enlargement
    "141": "446358003",   # Right atrial enlargement
    "142": "164873001",   # Left ventricular hypertrophy
    "143": "89792004",    # Right ventricular hypertrophy
    "147": "164934002",   # T-wave abnormality
    "148": "111975006",   # Prolonged QT interval
    "149": "77867006",    # Short QT interval
    "155": "428417006",   # Early repolarization
    "180": "251268003",   # Atrial-paced complex(es) or rhythm
    "181": "10370003",    # Ventricular-paced complex(es) or rhythm -> pacing rhythm
}

#: AHA modifiers that make a statement uncertain: 302 consider, 312 possible, 315 probable.
#: A statement with one of them is kept as ``'aha:<statement>'``, never mapped.
AHA_UNCERTAIN_MODIFIERS = frozenset({"302", "312", "315"})


def _codes(cell, sep=";") -> tuple:
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return ()
    return tuple(c.strip() for c in str(cell).replace(",", sep).split(sep) if c.strip())


def aha_statement_codes(statements) -> tuple:
    """SNOMED CT codes of SPH's AHA statements; unmapped ones as ``'aha:<statement>'``.

    A statement is a primary code with optional modifiers joined by ``+`` (``'50+346'``,
    atrial fibrillation with a rapid ventricular response); the primary code is mapped by
    :data:`AHA_TO_SNOMED`.  Statements with an uncertainty modifier
    (:data:`AHA_UNCERTAIN_MODIFIERS`) and codes without a SNOMED concept of the same
    meaning are kept as text, so the label report counts them instead of a guess.

    Examples
    --------
    >>> aha_statement_codes(["50+346", "22", "146"])
    ('164889003', '426177001', 'aha:146')
    >>> aha_statement_codes(["104+315"])
    ('aha:104+315',)
    """
    out: list[str] = []
    for stmt in statements:
        stmt = str(stmt).strip().replace(" ", "")
        primary, *mods = stmt.split("+")
        primary = primary.lstrip("0") or primary
        code = AHA_TO_SNOMED.get(primary)
        if code is None or AHA_UNCERTAIN_MODIFIERS.intersection(mods):
            code = f"aha:{stmt}"
        if code not in out:
            out.append(code)
    return tuple(out)


def read_sph_table(path) -> pd.DataFrame:
    """SPH's ``metadata.csv`` indexed by ``ECG_ID`` without a ``.h5`` extension.

    The file is found in any case (``Metadata.csv``); columns are kept as the copy names
    them (see :func:`read_sph` for the variants read); ``attrs['path']`` is the file.
    Raises ``FileNotFoundError`` or ``ValueError`` naming the file and the problem.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    table = find_file(root, "metadata.csv")
    if table is None:
        raise FileNotFoundError(f"{root / 'metadata.csv'} does not exist; is {root} an SPH folder?")
    try:
        df = pd.read_csv(table, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise ValueError(f"{table} is not a readable CSV table ({type(e).__name__}: {e})") from None
    id_col = find_column(df, "ecg_id", "record_id", "id")
    if id_col is None:
        raise ValueError(f"{table} has no ECG_ID column (columns: {list(df.columns)})")
    ids = df[id_col].astype(str).str.strip().map(lambda r: strip_suffix(r, ".h5", ".hdf5"))
    dup = sorted(set(ids[ids.duplicated()]))
    if dup:
        raise ValueError(f"{table}: ECG_ID(s) {dup[:10]} occur more than once")
    df = df.set_index(ids)
    df.attrs["path"] = table
    return df


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

    Layout (Liu et al., Sci Data 2022, figshare): ``records/<ECG_ID>.h5`` (or
    ``<ECG_ID>.h5`` beside the table, or in any one sub-folder), each with a dataset ``ecg`` of shape
    (12, n_samples) in mV at 500 Hz, leads I, II, III, aVR, aVL, aVF, V1-V6 (10 s records
    are (12, 5000)).  ``metadata.csv`` has one row per record: ``ECG_ID, AHA_Code,
    Patient_ID, Age, Sex, N, Date``; ``AHA_Code`` holds AHA/ACC/HRS statements separated
    by ``;``, modifiers joined by ``+`` (``50+346``).

    Copies of the data differ, and these variants are read too: ``ECG_ID`` with or
    without the file's extension (``SPH00001.h5``); extra, reordered or differently
    written columns (``ecg_id``, ``AHA code``), among them SNOMED CT codes (a column
    whose name starts with ``SNOMED``: ``SNOMEDCTCode``, ``SNOMED_Code``, ...) and a
    sampling rate per record (``fs``); ``.h5``/``.hdf5`` in any case; a byte-order mark
    and Windows line endings in the table.

    Labels (``meta['dx']``): a record's SNOMED codes where the table has them; else its
    AHA statements mapped by :func:`aha_statement_codes` (statements without a SNOMED
    concept of the same meaning stay as ``'aha:<statement>'``, outside every
    vocabulary, counted by ``records.label_report()``, never guessed).  The AHA
    statements are always kept in ``meta['aha']``.  A record with no statement at all
    is unlabelled (``meta['labelled']`` False).

    Parameters
    ----------
    path : str or Path
        The SPH folder.
    vocabulary : default='cinc2020'
    fs : float, optional
        Resample on load.
    records : list of str, optional
        Only these ECG_IDs (with or without ``.h5``).
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
    root = Path(path)
    fs = check_fs(fs)
    df = read_sph_table(root)
    table = df.attrs["path"]
    aha_col = find_column(df, "aha_code", "aha_codes", "aha")
    snomed_col = find_column(df, "snomed_ct_code", "snomed_ct_codes", "snomed_code", "snomed_codes", "snomed_ct",
                             "snomed", prefix="snomed")
    fs_col = find_column(df, "fs", "sampling_rate", "sampling_frequency", "frequency")
    pid_col, age_col, sex_col = find_column(df, "patient_id"), find_column(df, "age"), find_column(df, "sex")
    if records is not None:
        df = select_rows(df, [strip_suffix(str(r).strip(), ".h5", ".hdf5") for r in as_list(records)], "ECG_ID", table)
    folder = find_file(root, "records", dirs=True) or root
    files = FolderIndex(folder)
    deep: dict = {}  # stem (lower case) -> HDF5 files anywhere under root, built on the first miss
    deep_lock = threading.Lock()

    def locate(rid):
        f = files.find(f"{rid}.h5") or files.find(f"{rid}.hdf5")
        if f is not None:
            return f
        with deep_lock:  # copies that keep the files in another sub-folder (data/, signals/, ...)
            if not deep:
                for q in root.rglob("*"):
                    if q.suffix.lower() in (".h5", ".hdf5") and q.is_file():
                        deep.setdefault(q.stem.lower(), []).append(q)
                deep.setdefault("", [])
        hits = deep.get(rid.lower(), [])
        if len(hits) > 1:
            raise RecordReadError(rid, f"{len(hits)} signal files are named {rid}.h5 under {root} "
                                  f"({', '.join(str(h.relative_to(root)) for h in hits[:3])}); keep one")
        return hits[0] if hits else None

    def rate(rid, row):
        if not fs_col or not str(row[fs_col]).strip():
            return SPH_FS
        try:
            return check_fs(str(row[fs_col]).strip())
        except ValueError:
            raise RecordReadError(rid, f"fs {row[fs_col]!r} in {table.name} is not a sampling rate in Hz") from None

    def read_one(rid):
        row = df.loc[rid]
        if not rid or "/" in rid or "\\" in rid or rid in (".", ".."):
            raise RecordReadError(rid or "(empty ECG_ID)", "ECG_ID cannot name a file inside the folder")
        f = locate(rid)
        if f is None:
            raise RecordReadError(rid, f"signal file {rid}.h5 is missing from {folder} (and from every "
                                  f"sub-folder of {root})")
        rec_fs = rate(rid, row)
        try:
            h = h5py.File(f, "r")
        except OSError as e:
            raise RecordReadError(rid, f"{f.name} is not a readable HDF5 file ({e})") from None
        with h:
            ds = h.get("ecg")
            if ds is None:  # 'ECG', 'Ecg': the name in another case
                alt = [k for k in h.keys() if k.lower() == "ecg"]
                ds = h.get(alt[0]) if len(alt) == 1 else None
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
        snomed = tuple(c.removesuffix(".0") for c in re.split(r"[;,|\s]+", str(row[snomed_col])) if c) \
            if snomed_col else ()
        dx = snomed if snomed else aha_statement_codes(aha)
        try:
            age = float(row[age_col]) if age_col and str(row[age_col]).strip() else np.nan
        except ValueError:
            age = np.nan
        sex = str(row[sex_col]).strip().upper()[:1] if sex_col else ""
        pid = str(row[pid_col]).strip() if pid_col else ""
        return sig, {
            "record_id": rid,
            "source": "SPH",
            "fs": rec_fs,
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

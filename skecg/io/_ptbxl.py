"""PTB-XL: ``ptbxl_database.csv`` with the WFDB records of ``records100/`` or ``records500/``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pandas as pd
import wfdb

from .._reading import RecordReadError, as_list, check_signal, find_file, read_text, strip_suffix
from .._schema import normalize_lead_name
from .._wfdb import check_declared_size, parse_header
from ..labels import HEART_AXIS_TO_SNOMED, SCP_TO_SNOMED
from ._common import assemble, check_fs, read_many
from ._tables import cell_number, select_rows


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
    root = Path(path)
    db_file = find_file(root, "ptbxl_database.csv") if root.is_dir() else None
    if db_file is None:
        raise FileNotFoundError(f"{root / 'ptbxl_database.csv'} does not exist; is {root} a PTB-XL folder?")
    if isinstance(sampling_rate, str) and sampling_rate.strip().isdigit():
        sampling_rate = int(sampling_rate)
    if sampling_rate not in (100, 500) or isinstance(sampling_rate, bool):
        raise ValueError(f"sampling_rate must be 100 or 500, got {sampling_rate!r}")
    db = read_ptbxl_table(db_file)
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
        check_declared_size(name, h, dat)  # before wfdb allocates what the header declares
        try:
            sig, fields = wfdb.rdsamp(str(rec_path))
        except Exception as e:
            raise RecordReadError(name, f"cannot read {rec_path.name} ({type(e).__name__}: {e})") from None
        sig = np.ascontiguousarray(sig.T, dtype=np.float32)
        check_signal(name, sig)
        sex = {0: "M", 1: "F"}.get(cell_number(row.get("sex")))
        age = cell_number(row.get("age"), float)
        pid = cell_number(row.get("patient_id"))
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


def read_ptbxl_table(db_file: Path) -> pd.DataFrame:
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


def _record_path(cell) -> str:
    """A ``filename_hr``/``filename_lr`` cell as a relative record path: Windows separators
    turned into ``/``, a leading ``./`` and a ``.hea``/``.dat`` extension dropped."""
    if not isinstance(cell, str):
        return ""
    rel = cell.strip().replace("\\", "/")
    while rel.startswith("./"):
        rel = rel[2:]
    return strip_suffix(rel, ".hea", ".dat")

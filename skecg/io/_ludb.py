"""Reader for LUDB (Lobachevsky University Electrocardiography Database)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import wfdb

from .._reading import RecordReadError, check_signal
from .._schema import normalize_lead_name
from ._common import assemble, check_fs, read_many

#: LUDB's annotation file extensions, in the order of the leads of its signals.
LUDB_LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")

#: LUDB diagnosis statement (a regular expression matched at the start of the
#: statement, case-insensitive) -> SNOMED CT code.  First match wins.  Statements that
#: match none (normal/vertical/horizontal axis, LV overload, ischemia, scar, STEMI,
#: non-specific repolarization abnormalities, P-synchrony, aberrant conduction) are
#: kept in ``dx`` as ``'ludb:<statement>'`` and counted by the label report.
LUDB_TO_SNOMED: tuple[tuple[str, str], ...] = (
    (r"rhythm: sinus rhythm", "426783006"),                   # NSR
    (r"rhythm: sinus bradycardia", "426177001"),              # SB
    (r"rhythm: sinus tachycardia", "427084000"),              # STach
    (r"rhythm: (sinus arrhythmia|irregular sinus rhythm)", "427393009"),  # SA
    (r"rhythm: atrial fibrillation", "164889003"),            # AF
    (r"rhythm: atrial flutter", "164890007"),                 # AFL
    (r"electric axis of the heart: left axis deviation", "39732003"),   # LAD
    (r"electric axis of the heart: right axis deviation", "47665007"),  # RAD
    (r"incomplete right bundle branch block", "713426002"),   # IRBBB
    (r"complete right bundle branch block", "713427006"),     # CRBBB
    (r"incomplete left bundle branch block", "251120003"),    # ILBBB
    (r"complete left bundle branch block", "164909002"),      # LBBB
    (r"left anterior hemiblock", "445118002"),                # LAnFB
    (r"non-specific intrav[ei]ntricular conduction delay", "698252002"),  # NSIVCB
    (r"i degree av block", "270492004"),                      # IAVB
    (r"iii degree av-?block", "27885002"),                    # CHB
    (r"ventricular extrasystole", "427172004"),               # PVC (any type/localisation)
    (r"atrial extrasystole: sa-nodal", "63593006"),           # SVPB
    (r"atrial extrasystole", "284470004"),                    # PAC
    (r"(unipolar|bipolar) ventricular pacing|biventricular pacing", "10370003"),  # PR
    (r"unipolar atrial pacing", "251268003"),                 # AP
    (r"wandering atrial pacemaker", "195101003"),             # WAP
    (r"left ventricular hypertrophy", "164873001"),           # LVH
    (r"right ventricular hypertrophy", "89792004"),           # RVH
    (r"left atrial hypertrophy", "446813000"),                # LAH
    (r"right atrial hypertrophy", "446358003"),               # RAH
    (r"left atrial overload", "67741000119109"),              # LAE (as PTB-XL's LAO/LAE)
    (r"right atrial overload", "446358003"),                  # RAH (as PTB-XL's RAO/RAE)
    (r"early repolarization", "428417006"),                   # ERe
)
_COMPILED = tuple((re.compile(p, re.IGNORECASE), c) for p, c in LUDB_TO_SNOMED)

#: Annotation peak symbol -> wave name.
_WAVE_OF_SYMBOL = {"p": "P", "N": "QRS", "t": "T"}
WAVE_COLUMNS = ("record_id", "lead", "wave", "onset", "peak", "offset")


def ludb_statement_codes(statements) -> tuple:
    """SNOMED CT codes of LUDB diagnosis statements; unmapped ones as ``'ludb:<text>'``.

    Examples
    --------
    >>> ludb_statement_codes(["Rhythm: Sinus bradycardia.", "Left ventricular overload."])
    ('426177001', 'ludb:Left ventricular overload.')
    >>> ludb_statement_codes(["Ventricular extrasystole, type: single PVC."])
    ('427172004',)
    """
    out: list[str] = []
    for s in statements:
        s = str(s).strip()
        code = next((c for rx, c in _COMPILED if rx.match(s)), f"ludb:{s}")
        if code not in out:
            out.append(code)
    return tuple(out)


def _parse_comments(name: str, comments: list) -> tuple[float, str | None, list[str]]:
    age, sex, stmts, in_dx = np.nan, None, [], False
    for line in comments:
        line = str(line).strip()
        if line.startswith("<age>:"):
            v = line.split(":", 1)[1].strip()
            try:
                age = float(v)
            except ValueError:
                age = np.nan  # LUDB writes '>89' for the oldest patients
                if v.startswith(">"):
                    age = float(v[1:])
        elif line.startswith("<sex>:"):
            v = line.split(":", 1)[1].strip().upper()
            sex = v if v in ("M", "F") else None
        elif line.startswith("<diagnoses>:"):
            in_dx = True
        elif in_dx and line:
            # one statement a line; a few lines hold two, joined by '#'
            stmts.extend(p.strip() for p in line.split("#") if p.strip())
    if not in_dx:
        raise RecordReadError(name, "header has no '#<diagnoses>:' comment (not a LUDB record?)")
    return age, sex, stmts


def _ludb_number(r) -> int:
    """A LUDB record number from ``5``, ``'5'``, ``'5.hea'`` or ``'ludb-5'`` (skecg's record id)."""
    if isinstance(r, (float, np.floating)) and float(r).is_integer():  # 5.0 from a float column
        return int(r)
    m = re.fullmatch(r"\s*(?:ludb-)?(\d+)(?:\.hea)?\s*", str(r), flags=re.IGNORECASE)
    if m is None or isinstance(r, (bool, float, np.floating)):
        raise ValueError(f"records must be LUDB record numbers (1, '1', 'ludb-1'), got {r!r}")
    return int(m.group(1))


def _parse_annotation(samples, symbols) -> list[tuple[str, float, int, float]]:
    """(wave, onset, peak, offset) per annotated wave; missing onset/offset as NaN.

    LUDB writes ``( peak )`` per wave; a few files lack an onset or an offset, which
    becomes NaN.  A bare ``( )`` with no peak names no wave and is dropped.
    """
    waves = []
    onset = np.nan
    pending = None  # [wave, onset, peak]
    for s, sym in zip(samples, symbols):
        if sym == "(":
            if pending is not None:
                waves.append((*pending, np.nan))
                pending = None
            onset = float(s)
        elif sym in _WAVE_OF_SYMBOL:
            if pending is not None:
                waves.append((*pending, np.nan))
            pending = [_WAVE_OF_SYMBOL[sym], onset, int(s)]
            onset = np.nan
        elif sym == ")":
            if pending is not None:
                waves.append((*pending, float(s)))
                pending = None
            onset = np.nan
    if pending is not None:
        waves.append((*pending, np.nan))
    return waves


def read_ludb(
    path,
    vocabulary="cinc2020",
    *,
    records=None,
    annotation_leads=LUDB_LEADS,
    fs: float | None = None,
    on_error: str = "raise",
    n_jobs: int | None = 1,
):
    """Read LUDB: 12-lead 10 s records with cardiologists' P/QRS/T delineation.

    Signals (WFDB ``N.dat``, 500 Hz, mV) and the per-lead annotation files
    (``N.i`` ... ``N.v6``: ``(`` onset, ``p``/``N``/``t`` peak, ``)`` offset) are read
    with wfdb.  Diagnoses are the free-text statements of the header comments,
    mapped to SNOMED CT by :data:`LUDB_TO_SNOMED`:

    - Rhythm: Sinus rhythm -> 426783006 (NSR); Sinus bradycardia -> 426177001 (SB);
      Sinus tachycardia -> 427084000 (STach); Sinus arrhythmia and Irregular sinus
      rhythm -> 427393009 (SA); Atrial fibrillation -> 164889003 (AF); Atrial
      flutter -> 164890007 (AFL)
    - Electric axis: left axis deviation -> 39732003 (LAD); right axis deviation
      -> 47665007 (RAD)
    - Incomplete RBBB -> 713426002 (IRBBB); Complete RBBB -> 713427006 (CRBBB);
      Incomplete LBBB -> 251120003 (ILBBB); Complete LBBB -> 164909002 (LBBB);
      Left anterior hemiblock -> 445118002 (LAnFB); Non-specific intraventricular
      conduction delay -> 698252002 (NSIVCB)
    - I degree AV block -> 270492004 (IAVB); III degree AV-block -> 27885002 (CHB)
    - Ventricular extrasystole (any type or localisation) -> 427172004 (PVC);
      Atrial extrasystole -> 284470004 (PAC), the SA-nodal one -> 63593006 (SVPB)
    - Unipolar/bipolar ventricular or biventricular pacing -> 10370003 (PR);
      Unipolar atrial pacing -> 251268003 (AP); Wandering atrial pacemaker
      -> 195101003 (WAP)
    - Left / right ventricular hypertrophy -> 164873001 (LVH) / 89792004 (RVH);
      Left / right atrial hypertrophy -> 446813000 (LAH) / 446358003 (RAH);
      Left atrial overload -> 67741000119109 (LAE); Right atrial overload
      -> 446358003 (RAH), as PTB-XL's LAO/LAE and RAO/RAE
    - Early repolarization syndrome -> 428417006 (ERe)

    Other statements (normal, vertical or horizontal axis, left ventricular overload,
    ischemia, scar, STEMI, non-specific repolarization abnormalities, ...) stay in
    ``meta['dx']`` as ``'ludb:<statement>'``; ``meta['diagnoses']`` holds every
    statement verbatim.

    Parameters
    ----------
    path : str or Path
        The LUDB folder (``1.hea``, ``1.dat``, ``1.i``, ...).
    vocabulary : default='cinc2020'
        Columns of ``y``.
    records : iterable of int, optional
        LUDB record numbers to read (default: every ``N.hea`` of the folder, in
        numeric order); ``'5'``, ``'5.hea'`` and skecg's record id ``'ludb-5'`` work too.
    annotation_leads : str or sequence of str, default all twelve
        Which annotation files to read (``'ii'`` or ``['ii']`` for lead II only, any
        case); ``()`` for none.
    fs : float, optional
        Resample signals on load; annotation samples are rescaled to match
        (rounded to the nearest sample).
    on_error : {'raise', 'skip'}
        A record that cannot be read raises :class:`RecordReadError` naming it, or
        is skipped and reported in a :class:`SkippedRecordsWarning` and
        ``records.skipped``.
    n_jobs : int, default=1
        Threads for reading.

    Returns
    -------
    records : ECGRecords
        12 leads, ``record_id`` ``'ludb-N'``, ``source`` ``'LUDB'``, ``patient_id``
        (one record per patient in LUDB), ``age``, ``sex``, ``dx``, plus
        ``ludb_id`` (int N) and ``diagnoses`` (tuple of statements).
    y : ndarray of shape (n_records, n_classes)
    waves : pandas.DataFrame
        One row per annotated wave: ``record_id``, ``lead`` (skecg lead name,
        e.g. ``'II'``), ``wave`` (``'P'``, ``'QRS'``, ``'T'``), ``onset``, ``peak``,
        ``offset`` (samples at the returned ``fs``; onset/offset ``<NA>`` where
        LUDB lacks them).  LUDB leaves the first and last beats of each record
        unannotated: the annotated region of a lead is from its first onset to its
        last offset.

    Examples
    --------
    >>> from skecg.io import read_ludb
    >>> X, y, waves = read_ludb("../shared/data/ludb", records=[1, 2],
    ...                         annotation_leads=["ii"])  # doctest: +SKIP
    >>> waves.query("wave == 'QRS'").head()  # doctest: +SKIP
    """
    root = Path(path)
    fs = check_fs(fs)  # before reading anything
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    if isinstance(annotation_leads, str):  # one lead: 'ii', not the letters 'i', 'i'
        annotation_leads = (annotation_leads,)
    ann_leads = tuple(str(a).strip().lower() for a in annotation_leads)
    unknown = [a for a in ann_leads if a not in LUDB_LEADS]
    if unknown:
        raise ValueError(f"unknown annotation lead(s) {unknown}; LUDB has {list(LUDB_LEADS)}")
    if records is None:
        nums = sorted(int(p.stem) for p in root.glob("*.hea") if p.stem.isdigit())
        if not nums:
            upper = sorted(p.name for p in root.glob("*.[hH][eE][aA]") if p.stem.isdigit())
            if upper:  # wfdb opens '<record>.hea' only
                raise FileNotFoundError(f"the LUDB headers in {root} are named {upper[:3]}: wfdb reads them only "
                                        "with lower-case extensions (N.hea, N.dat, N.ii); rename them")
            raise FileNotFoundError(f"no LUDB headers (N.hea) in {root}")
    else:
        nums = [_ludb_number(r) for r in ([records] if isinstance(records, (str, int)) else records)]
    waves_of: dict[str, list] = {}

    def read_one(num: int):
        name = f"ludb-{num}"
        base = root / str(num)
        if not base.with_suffix(".hea").exists():
            raise RecordReadError(name, f"header {base.with_suffix('.hea')} is missing")
        try:
            rec = wfdb.rdrecord(str(base))
        except Exception as e:
            raise RecordReadError(name, f"cannot read {num}.dat ({type(e).__name__}: {e})") from None
        sig = np.ascontiguousarray(rec.p_signal.T, dtype=np.float32)
        check_signal(name, sig)
        age, sex, stmts = _parse_comments(name, rec.comments)
        leads = tuple(normalize_lead_name(s) for s in rec.sig_name)
        rows = []
        for ext in ann_leads:
            try:
                ann = wfdb.rdann(str(base), ext)
            except Exception as e:
                raise RecordReadError(
                    name, f"cannot read annotation file {num}.{ext} ({type(e).__name__}: {e})") from None
            lead = normalize_lead_name(ext)
            rows.extend((name, lead, *w) for w in _parse_annotation(ann.sample, ann.symbol))
        waves_of[name] = rows
        return sig, {
            "record_id": name,
            "source": "LUDB",
            "fs": float(rec.fs),
            "age": age,
            "sex": sex,
            "patient_id": name,
            "leads": leads,
            "dx": ludb_statement_codes(stmts),
            "ludb_id": num,
            "diagnoses": tuple(stmts),
        }

    signals, rows, skipped = read_many(nums, read_one, on_error, n_jobs)
    X, y = assemble(signals, rows, skipped, vocabulary, fs)
    all_rows = [r for m in rows for r in waves_of[m["record_id"]]]
    waves = pd.DataFrame(all_rows, columns=list(WAVE_COLUMNS))
    if fs is not None and len(rows):
        scale = float(fs) / np.array([float(m["fs"]) for m in rows])
        scale_of = dict(zip([m["record_id"] for m in rows], scale))
        s = waves["record_id"].map(scale_of).to_numpy(float)
        for col in ("onset", "peak", "offset"):
            waves[col] = np.round(waves[col].to_numpy(float) * s)
    for col in ("onset", "peak", "offset"):
        waves[col] = waves[col].astype("Int64")
    waves["wave"] = pd.Categorical(waves["wave"], categories=["P", "QRS", "T"])
    return X, y, waves

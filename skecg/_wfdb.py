"""WFDB records of the PhysioNet/CinC challenges on disk: the header format and one
record's signal file (``.hea`` + ``.mat`` of 2020/2021, ``.hea`` + ``.dat`` of 2024).

No records container here: :func:`skecg.io.read_challenge_folder` and
:func:`skecg.io.open_wfdb_folder` build :class:`~skecg.ECGRecords` on these functions,
and :class:`skecg.sources.WFDBFolderSource` reads signals with them on demand, which is
why this module sits below both (it imports only :mod:`skecg._schema` and
:mod:`skecg._reading` of skecg).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._reading import RecordReadError, as_list, check_signal, find_file, parse_age, parse_sex, read_text
from ._schema import normalize_lead_name

#: Record-name prefix -> source database of the challenge data.
SOURCE_PREFIXES = (
    ("HR", "PTB-XL"),
    ("JS", "Chapman-Ningbo"),
    ("A", "CPSC"),
    ("Q", "CPSC-Extra"),
    ("E", "Georgia"),
    ("S", "PTB"),
    ("I", "StPetersburg"),
)


def source_of_record(name: str) -> str:
    """Source database of a challenge record, from its name prefix.

    Examples
    --------
    >>> source_of_record("JS00001"), source_of_record("A0001")
    ('Chapman-Ningbo', 'CPSC')
    """
    for prefix, source in SOURCE_PREFIXES:
        if name.startswith(prefix) and name[len(prefix):len(prefix) + 1].isdigit():
            return source
    return "unknown"


@dataclass
class WFDBHeader:
    """The parts of a WFDB header that skecg uses."""

    record: str
    n_sig: int
    fs: float
    n_samples: int
    files: list = field(default_factory=list)
    gains: list = field(default_factory=list)
    baselines: list = field(default_factory=list)
    units: list = field(default_factory=list)
    initial: list = field(default_factory=list)
    checksums: list = field(default_factory=list)
    formats: list = field(default_factory=list)
    format_specs: list = field(default_factory=list)  # the whole format field: '16', '212', '16x2', '16+24'
    leads: list = field(default_factory=list)
    comments: dict = field(default_factory=dict)


#: Highest sampling rate a header may declare (Hz); higher is rejected as impossible.
MAX_FS = 100_000.0
#: Bytes per sample of the WFDB signal formats (for checking declared sizes against files).
_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "61": 2, "80": 1, "160": 2, "212": 1.5, "310": 4 / 3, "311": 4 / 3,
                     "24": 3, "32": 4, "508": 1, "516": 2, "524": 3}

_GAIN = re.compile(r"^([-+0-9.eE]+)(?:\(([-+0-9]+)\))?(?:/(\S+))?$")


def _strip_ext(name: str) -> str:
    for ext in (".hea", ".mat", ".dat"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def parse_header(text: str, name: str = "header") -> WFDBHeader:
    """Parse a WFDB header as the challenge data writes it, tolerating its variants.

    Tolerated: ``#Dx:`` and ``# Dx:``, a record line that names ``X.mat``, units in
    any case (``mV``/``mv``), gains with or without a baseline (``1000.0(0)/mV``),
    byte offsets and sample counts in the format field (``16+24``, ``16x1+24``),
    Windows line endings and a UTF-8 byte-order mark.

    Examples
    --------
    >>> h = parse_header("A1 2 500 10\\nA1.mat 16+24 1000/mV 16 0 1 2 0 I\\n"
    ...                  "A1.mat 16+24 1000/mV 16 0 3 4 0 II\\n# Dx: 164889003\\n#Age: 60")
    >>> h.fs, h.leads, h.comments["dx"], h.comments["age"]
    (500.0, ['I', 'II'], '164889003', '60')
    """
    lines = [ln.strip() for ln in text.lstrip("\ufeff").splitlines()]
    body = [ln for ln in lines if ln and not ln.startswith("#")]
    if not body:
        raise RecordReadError(name, "header is empty (no record line)")
    rec = body[0].split()
    if len(rec) < 2:
        raise RecordReadError(name, f"malformed record line {body[0]!r}")
    try:
        n_sig = int(rec[1])
        fs = float(rec[2].split("/")[0]) if len(rec) > 2 else 250.0
        n_samples = int(rec[3]) if len(rec) > 3 else -1
    except ValueError:
        raise RecordReadError(name, f"malformed record line {body[0]!r}") from None
    if not (math.isfinite(fs) and 0 < fs <= MAX_FS):
        raise RecordReadError(name, f"impossible sampling rate {rec[2]!r} Hz in the record line "
                              f"(must be in (0, {MAX_FS:g}])")
    if n_sig <= 0:
        raise RecordReadError(name, f"header declares {n_sig} signals")
    if n_samples == 0:
        raise RecordReadError(name, "header declares 0 samples (zero-length record)")
    h = WFDBHeader(_strip_ext(rec[0].split("/")[0]), n_sig, fs, n_samples)
    sig_lines = body[1:]
    if len(sig_lines) != n_sig:
        raise RecordReadError(
            name, f"header declares {n_sig} signals but has {len(sig_lines)} signal lines"
        )
    for ln in sig_lines:
        parts = ln.split()
        if len(parts) < 3:
            raise RecordReadError(name, f"malformed signal line {ln!r}")
        h.files.append(parts[0])
        m = _GAIN.match(parts[2])
        if not m:
            raise RecordReadError(name, f"cannot read gain {parts[2]!r} in signal line {ln!r}")
        try:
            gain = float(m.group(1)) or 200.0  # WFDB: a gain of 0 means the default, 200
        except ValueError:
            raise RecordReadError(name, f"cannot read gain {parts[2]!r} in signal line {ln!r}") from None
        if not (math.isfinite(gain) and 0 < gain < 1e12):
            raise RecordReadError(name, f"impossible gain {m.group(1)!r} in signal line {ln!r} "
                                  "(must be a positive finite number of ADC units per physical unit)")
        try:
            adc_zero = int(parts[4]) if len(parts) > 4 else 0
            h.baselines.append(int(m.group(2)) if m.group(2) is not None else adc_zero)
            h.initial.append(int(parts[5]) if len(parts) > 5 else None)
            h.checksums.append(int(parts[6]) if len(parts) > 6 else None)
        except ValueError:
            raise RecordReadError(name, f"malformed signal line {ln!r}") from None
        h.gains.append(gain)
        h.formats.append(parts[1].split("x")[0].split(":")[0].split("+")[0])
        h.format_specs.append(parts[1])
        h.units.append(m.group(3) or "mV")
        h.leads.append(normalize_lead_name(parts[8]) if len(parts) > 8 else f"lead{len(h.leads)}")
    for ln in lines:
        if ln.startswith("#"):
            key, sep, val = ln.lstrip("#").strip().partition(":")
            if sep:
                h.comments[key.strip().lower()] = val.strip()
    return h


def _wfdb_checksum(x: np.ndarray) -> np.ndarray:
    """Per-lead 16-bit WFDB checksum (two's complement) of digital samples (leads first)."""
    s = x.astype(np.int64).sum(axis=1) & 0xFFFF
    return np.where(s >= 0x8000, s - 0x10000, s)


def read_challenge_record(
    path, require_dx: bool = True, verify_checksum: bool = True
) -> tuple[np.ndarray, dict]:
    """Read one challenge record (``.hea`` + ``.mat``, or ``.hea`` + ``.dat``).

    The signal file is the one the header's signal lines name: a MATLAB ``.mat``
    (``val``, the 2020/2021 challenges) or a WFDB ``.dat`` (the 2024 challenge; read by
    ``wfdb``).  Labels come from ``# Dx:`` or ``# Labels:`` (2024); an empty label line
    means *unlabelled* (``meta['labelled']`` False), never "all negative".

    Parameters
    ----------
    path : str or Path
        The ``.hea`` file (``.HEA`` too), or the record path without extension.  The
        signal file the header names is found whatever the case of its name
        (``A0001.MAT`` for ``A0001.mat``).
    require_dx : bool, default=True
        Raise when the header has no ``Dx``/``Labels`` line or an empty one.
    verify_checksum : bool, default=True
        Compare every lead against the header's WFDB checksum (catches truncated or
        corrupted files).

    Returns
    -------
    signal : ndarray of shape (n_leads, n_samples), float32, in the header's units (mV)
    meta : dict
        record_id, source, fs, age, sex, patient_id, leads, dx.
    """
    path = Path(path)
    if path.suffix.lower() == ".hea":
        hea = path
    else:
        hea = find_file(path.parent, path.name + ".hea") or path.with_name(path.name + ".hea")
    name = _strip_ext(hea.name)
    if not hea.is_file():
        raise RecordReadError(name, f"header file {hea} does not exist")
    h = parse_header(read_text(hea), name)
    dx_text = h.comments.get("dx", h.comments.get("labels"))
    if require_dx and dx_text is None:
        raise RecordReadError(name, "header has no Dx line ('# Dx: <SNOMED codes>' or '# Labels: ...')")
    if require_dx and not dx_text.strip():
        raise RecordReadError(name, "the Dx line is empty: an unlabelled record (read it with "
                              "require_dx=False to predict on it)")
    sig_name = Path(h.files[0].replace("\\", "/")).name if h.files else name + ".mat"
    if sig_name.lower().endswith(".dat"):
        val = _read_dat(hea, h, name, sig_name)
    else:
        val = _read_mat(hea, h, name, sig_name)
    if val.ndim == 2 and val.shape[1] == 0:
        raise RecordReadError(name, "the signal file holds 0 samples (zero-length record)")
    if val.ndim != 2 or val.shape[0] != h.n_sig:
        raise RecordReadError(
            name, f"signal file has {val.shape[0] if val.ndim == 2 else val.shape} leads "
            f"but the header declares {h.n_sig}"
        )
    if h.n_samples >= 0 and val.shape[1] != h.n_samples:
        raise RecordReadError(
            name, f"signal file has {val.shape[1]} samples but the header declares {h.n_samples} "
            "(truncated file?)"
        )
    if verify_checksum and val.dtype.kind in "iu":
        want = np.array([c if c is not None else 0 for c in h.checksums])
        has = np.array([c is not None for c in h.checksums])
        got = _wfdb_checksum(val)
        bad = np.flatnonzero(has & ((got - want) % 0x10000 != 0))  # headers write signed or unsigned
        if bad.size:
            raise RecordReadError(
                name, f"checksum mismatch in lead(s) {[h.leads[i] for i in bad]} "
                "(corrupted signal file?)"
            )
    gains = np.asarray(h.gains, dtype=np.float32)[:, None]
    base = np.asarray(h.baselines, dtype=np.float32)[:, None]
    sig = ((val.astype(np.float32) - base) / gains).astype(np.float32, copy=False)
    check_signal(name, sig)
    return sig, header_meta(h, name)


def header_meta(h: WFDBHeader, name: str) -> dict:
    """The metadata row of a challenge record, from its parsed header alone.

    Used by :func:`read_challenge_record` and by :class:`skecg.sources.WFDBFolderSource`,
    which reads headers up front and signals on demand.
    """
    dx_text = h.comments.get("dx", h.comments.get("labels"))
    dx = tuple(c.strip() for c in (dx_text or "").split(",") if c.strip())
    if not (math.isfinite(h.fs) and 0 < h.fs <= MAX_FS):  # a WFDBHeader built by hand
        raise RecordReadError(name, f"impossible sampling rate {h.fs!r} Hz")
    return {
        "record_id": name,
        "source": source_of_record(name),
        "fs": h.fs,
        "age": parse_age(h.comments.get("age")),
        "sex": parse_sex(h.comments.get("sex")),
        "patient_id": name,  # the challenge data do not identify patients
        "leads": tuple(h.leads),
        "dx": dx,
        "labelled": bool(dx),
    }


def check_declared_size(name, h: WFDBHeader, file: Path) -> None:
    """Refuse a header whose declared size exceeds what the signal file can hold,
    before anything is allocated (a header declaring 10**12 samples)."""
    if h.n_samples < 0:
        return
    per = sum(_BYTES_PER_SAMPLE.get(f, 2) for f in h.formats) or 2 * h.n_sig
    need = per * h.n_samples
    have = file.stat().st_size
    # only a gross excess is refused here (a slightly short file gets the reader's own,
    # more precise message); MATLAB files may also store samples wider than declared
    if need > 2 * have + (1 << 20):
        raise RecordReadError(name, f"header declares {h.n_samples} samples x {h.n_sig} signals "
                              f"(~{need:,.0f} bytes) but {file.name} has {have:,} bytes (truncated file "
                              "or impossible header)")


def _signal_file(hea: Path, name: str, file_name: str) -> Path:
    """The signal file beside ``hea``: the name its header gives, in whatever case it was stored."""
    f = find_file(hea.parent, file_name)
    if f is None:
        raise RecordReadError(name, f"signal file {file_name} is missing")
    return f


def _read_mat(hea: Path, h: WFDBHeader, name: str, mat_name: str) -> np.ndarray:
    mat = _signal_file(hea, name, mat_name if mat_name.lower().endswith(".mat") else name + ".mat")
    check_declared_size(name, h, mat)
    try:
        import scipy.io  # MATLAB records only: scipy.io costs start-up time every other command saves

        val = scipy.io.loadmat(str(mat))["val"]
    except KeyError:
        raise RecordReadError(name, f"{mat.name} has no 'val' variable") from None
    except Exception as e:  # truncated or not a MATLAB file
        raise RecordReadError(name, f"cannot read {mat.name} ({type(e).__name__}: {e}); "
                              "the file may be truncated") from None
    return np.asarray(val)


def _read_dat_format16(dat: Path, h: WFDBHeader) -> "np.ndarray | None":
    """Digital samples (leads first) of the commonest ``.dat`` layout, else None.

    All signals in one file, format ``16`` (little-endian 16-bit, interleaved), no
    skew, byte offset or multiple samples per frame, and a file of exactly the
    declared size: one ``np.fromfile``.  Kept beside wfdb because wfdb parses the
    header a second time (with pandas) for every record, where ``benchmarks/predict.py``
    saw most of its reading time go; the result is tested equal
    to ``wfdb.rdrecord``'s ``d_signal`` in ``tests/io/test_io.py``.  Any other layout goes
    to wfdb.
    """
    if (h.n_samples <= 0 or any(f != "16" for f in h.format_specs) or len(set(h.files)) != 1
            or dat.stat().st_size != 2 * h.n_sig * h.n_samples):
        return None
    val = np.fromfile(dat, dtype="<i2").reshape(h.n_samples, h.n_sig)
    return np.ascontiguousarray(val.T)


def _read_dat(hea: Path, h: WFDBHeader, name: str, dat_name: str) -> np.ndarray:
    """Digital samples (leads first) of a WFDB ``.dat`` record (format 16 directly,
    every other format by wfdb)."""
    import wfdb  # here, not at the top: this module loads with `import skecg` (through skecg.sources)

    dat = _signal_file(hea, name, dat_name)
    check_declared_size(name, h, dat)
    fast = _read_dat_format16(dat, h)
    if fast is not None:
        return fast
    if hea.suffix != ".hea" or dat.name != dat_name:
        raise RecordReadError(name, f"{hea.name} and {dat.name} must be named in lower case ({name}.hea, "
                              f"{dat_name}) for wfdb to read their format {' '.join(sorted(set(h.format_specs)))}")
    try:
        rec = wfdb.rdrecord(str(hea.with_suffix("")), physical=False, return_res=32)
    except Exception as e:  # noqa: BLE001 - wfdb's own errors, named with the record
        raise RecordReadError(name, f"cannot read {dat.name} ({type(e).__name__}: {e})") from None
    return np.ascontiguousarray(np.asarray(rec.d_signal).T)


def list_headers(path, records=None) -> list:
    """The ``.hea`` files under ``path`` (of ``records`` when given), record names unique."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    heas = sorted(root.rglob("*.[hH][eE][aA]"))  # .hea, and .HEA of archives copied through other systems
    by_name: dict = {}
    for hp in heas:
        by_name.setdefault(hp.stem, []).append(hp)
    dups = {k: v for k, v in by_name.items() if len(v) > 1}
    if dups:
        shown = "; ".join(f"{k}: " + ", ".join(str(p.relative_to(root)) for p in v)
                          for k, v in sorted(dups.items())[:5])
        raise ValueError(f"{len(dups)} record name(s) occur in more than one sub-folder or header file of {root} "
                         f"({shown}); record ids must be unique: read those sub-folders separately, or remove the "
                         "second header")
    if records is not None:
        wanted = {_strip_ext(str(r).strip()) for r in as_list(records)}
        heas = [h for h in heas if h.stem in wanted]
        missing = wanted - {h.stem for h in heas}
        if missing:
            raise FileNotFoundError(f"no header for record(s) {sorted(missing)} under {root}")
    if not heas:
        raise FileNotFoundError(f"no .hea files under {root}")
    return heas

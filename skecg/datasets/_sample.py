"""The bundled sample of real recordings (see ``data/ATTRIBUTION.md``)."""

from __future__ import annotations

import lzma
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from ..io import assemble
from ..labels import get_vocabulary

SAMPLE_SOURCES = ("CPSC", "CPSC-Extra", "Georgia", "PTB-XL", "PTB", "Chapman-Ningbo")


@lru_cache(maxsize=1)
def _decoded() -> tuple[pd.DataFrame, tuple]:
    base = resources.files("skecg.datasets").joinpath("data")
    meta = pd.read_csv(base.joinpath("sample_records.csv").open("r"), keep_default_na=True,
                       dtype={"patient_id": str, "record_id": str, "dx": str})
    raw = lzma.decompress(base.joinpath("sample_signals.xz").read_bytes())
    buf = np.frombuffer(raw, dtype="<i2")
    signals = []
    for r in meta.itertuples():
        start = r.offset // 2
        d = buf[start:start + r.n_leads * r.n_samples].reshape(r.n_leads, r.n_samples)
        dig = np.cumsum(d, axis=1, dtype=np.int16)  # exact: delta coding wraps modulo 2**16
        sig = (dig.astype(np.float32) / np.float32(r.gain))
        sig.setflags(write=False)
        signals.append(sig)
    return meta, tuple(signals)


def load_sample(vocabulary="cinc2020", *, sources=None, fs: float | None = None):
    """Load the bundled real sample: 620 12-lead ECGs from seven sources, offline.

    120 PhysioNet/CinC 2020/2021 training records (CPSC, CPSC-Extra, Georgia, PTB-XL,
    PTB at 1000 Hz, Chapman-Ningbo; each capped at 30 s) and PTB-XL ecg_id 1-500 at
    100 Hz, with age, sex, patient id and SNOMED CT labels.  See
    ``skecg/datasets/data/ATTRIBUTION.md`` for sources and licences (CC BY 4.0).

    Parameters
    ----------
    vocabulary : str, Vocabulary or list of str, default='cinc2020'
        Columns of ``y``: ``'cinc2020'`` (24 scored classes), ``'cinc2020_27'``,
        ``'tnmg'`` (1dAVb, RBBB, LBBB, SB, AF, ST) or a list of SNOMED codes.
    sources : list of str, optional
        Keep only these sources (``meta['source']`` values).
    fs : float, optional
        Resample every record to this rate.

    Returns
    -------
    records : ECGRecords
        Ragged (rates and lengths differ) unless ``fs`` and one length make it 3-D.
    y : ndarray of shape (n_records, n_classes), uint8

    Examples
    --------
    >>> X, y = load_sample("tnmg", sources=["Georgia"])
    >>> len(X), y.shape[1], X.meta["source"].unique().tolist()
    (30, 6, ['Georgia'])
    """
    meta, signals = _decoded()
    keep = np.arange(len(meta))
    if sources is not None:
        sources = [sources] if isinstance(sources, str) else list(sources)
        unknown = sorted(set(sources) - set(meta["source"]))
        if unknown:
            raise ValueError(f"unknown source(s) {unknown}; the sample has {sorted(set(meta['source']))}")
        keep = np.flatnonzero(meta["source"].isin(sources).to_numpy())
    rows = []
    for i in keep:
        r = meta.iloc[i]
        rows.append({
            "record_id": r["record_id"], "source": r["source"], "fs": float(r["fs"]),
            "age": float(r["age"]), "sex": r["sex"] if isinstance(r["sex"], str) else None,
            "patient_id": r["patient_id"], "leads": tuple(r["leads"].split("|")),
            "dx": tuple(r["dx"].split("|")) if isinstance(r["dx"], str) and r["dx"] else (),
        })
    return assemble([signals[i] for i in keep], rows, [], vocabulary, fs)


def sample_summary() -> str:
    """A printable summary of the bundled sample: records per source and per class."""
    X, y = load_sample("tnmg")
    _, y24 = load_sample("cinc2020")
    lines = ["skecg bundled sample (real recordings, CC BY 4.0; see datasets/data/ATTRIBUTION.md)", ""]
    lines.append(X.summary().to_string())
    for name, yy in (("tnmg", y), ("cinc2020", y24)):
        v = get_vocabulary(name)
        df = pd.DataFrame(yy, columns=v.abbreviations)
        df["source"] = X.meta["source"].to_numpy()
        tab = df.groupby("source").sum()
        tab = tab.loc[:, tab.sum(0) > 0]
        lines += ["", f"records per source and class ({name}):", tab.to_string()]
    return "\n".join(lines)

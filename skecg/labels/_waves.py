"""Wave tables and sample-wise masks: the label side of wave segmentation.

- :func:`waves_to_masks` turns a wave table (``read_ludb``'s, or any table with
  ``record_id, wave, onset, offset``) into int masks, one label per sample.
- :func:`clean_masks` applies the cleaning rules to predicted masks.
- :func:`masks_to_waves` turns masks back into a wave table.
- :func:`annotated_regions` gives each record's annotated span of a wave table.

Public through :mod:`skecg.labels` (and :mod:`skecg.segmentation`).  Records are read
for their ``meta['record_id']`` only, so this module needs nothing above the labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Class names of LUDB masks: 0 none, 1 P, 2 QRS, 3 T.
LUDB_WAVES = ("none", "P", "QRS", "T")
#: Mask value of samples outside the annotated region (ignored in training and scoring).
UNANNOTATED = -1


# --- masks <-> tables ------------------------------------------------------------------
def waves_to_masks(waves, records, n_samples: int, *, lead=None, classes=LUDB_WAVES,
                   unannotated: int = UNANNOTATED) -> np.ndarray:
    """Int masks ``(n_records, n_samples)`` from a wave table.

    Parameters
    ----------
    waves : DataFrame
        ``record_id, wave, onset, offset`` (and ``lead`` when ``lead`` is given), as
        returned by :func:`skecg.io.read_ludb`.
    records : ECGRecords or sequence of str
        The records (their ``record_id``) in the order of the mask rows.
    n_samples : int
        Mask length.
    lead : str, optional
        Use only the annotations of this lead (e.g. ``'II'``).
    classes : sequence of str, default=('none', 'P', 'QRS', 'T')
        Class names; a wave named ``classes[k]`` is labelled ``k`` (``classes[0]``
        is the background).
    unannotated : int, default=-1
        Label of the samples outside the annotated region of each record (before
        its first onset and after its last offset: LUDB leaves the first and last
        beats unannotated), and of a 40 ms margin beyond a missing onset or offset.
        :class:`~skecg.models.WaveSegmenter` ignores negative labels in training.  Pass 0 to
        treat them as background.

    Examples
    --------
    >>> import pandas as pd
    >>> w = pd.DataFrame({"record_id": ["a", "a"], "wave": ["P", "QRS"],
    ...                   "onset": [2, 6], "offset": [3, 8]})
    >>> waves_to_masks(w, ["a"], 10)
    array([[-1, -1,  1,  1,  0,  0,  2,  2,  2, -1]])
    """
    meta = getattr(records, "meta", None)  # an ECGRecords: its record ids
    ids = list(meta["record_id"]) if meta is not None else [str(r) for r in records]
    w = waves
    if lead is not None:
        if "lead" not in w:
            raise ValueError("lead given but the wave table has no 'lead' column")
        w = w[w["lead"] == lead]
    code = {str(c): k for k, c in enumerate(classes)}
    unknown = sorted(set(map(str, w["wave"])) - set(code))
    if unknown:
        raise ValueError(f"wave names {unknown} are not in classes {list(classes)}")
    masks = np.full((len(ids), int(n_samples)), int(unannotated), dtype=np.int64)
    margin = 20  # samples (40 ms at 500 Hz) marked unannotated beyond a missing bound
    groups = {rid: g for rid, g in w.groupby("record_id", sort=False)}
    for i, rid in enumerate(ids):
        g = groups.get(rid)
        if g is None or len(g) == 0:
            continue
        on = pd.to_numeric(g["onset"]).to_numpy(float)
        off = pd.to_numeric(g["offset"]).to_numpy(float)
        pk = pd.to_numeric(g["peak"]).to_numpy(float) if "peak" in g else np.full(len(g), np.nan)
        start = np.fmin(on, pk)
        stop = np.fmax(off, pk)
        lo, hi = int(np.nanmin(start)), int(np.nanmax(stop))
        masks[i, max(lo, 0):min(hi + 1, n_samples)] = 0
        for k, a, b, o, f in zip(g["wave"].astype(str), start, stop, on, off):
            if np.isnan(a) or np.isnan(b):
                continue
            a, b = int(a), int(b)
            masks[i, max(a, 0):min(b + 1, n_samples)] = code[k]
            if np.isnan(o):
                masks[i, max(a - margin, 0):max(a, 0)] = unannotated
            if np.isnan(f):
                masks[i, min(b + 1, n_samples):min(b + 1 + margin, n_samples)] = unannotated
    return masks


def _runs(row: np.ndarray):
    """(value, start, stop) of the constant runs of a 1-D int array (stop exclusive)."""
    if row.size == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)
    change = np.flatnonzero(np.diff(row)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [row.size]])
    return row[starts], starts, stops


def clean_masks(masks, fs: float, *, max_gap: float = 0.01, min_duration: float = 0.02,
                min_separation: float = 0.0, proba=None) -> np.ndarray:
    """Clean predicted masks with three rules, applied in this order per record:

    1. a background gap of at most ``max_gap`` seconds between two segments of the
       same class is filled with that class (one wave split by a dip of the
       probability becomes one segment);
    2. a segment shorter than ``min_duration`` seconds becomes background (spikes);
    3. of two segments of the same class less than ``min_separation`` seconds apart
       (from the end of one to the start of the next), the one of smaller
       probability mass (the sum of its class probability over its samples, from
       ``proba`` (n, n_classes, L); its length without ``proba``) becomes background,
       strongest first: a heart cannot beat twice within its refractory period, so
       a short extra "QRS" just before or after a complex is dropped.

    Examples
    --------
    >>> m = np.array([[0, 2, 2, 0, 2, 2, 0, 0, 1, 0, 0]])
    >>> clean_masks(m, fs=1000, max_gap=0.001, min_duration=0.002)
    array([[0, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0]])
    >>> m = np.array([[2, 0, 0, 2, 2, 2, 0, 0, 0, 0, 2, 2]])
    >>> clean_masks(m, fs=1000, max_gap=0, min_duration=0, min_separation=0.003)
    array([[0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 2, 2]])
    """
    out = np.array(masks, dtype=np.int64, copy=True)
    gap = int(round(max_gap * fs))
    short = int(round(min_duration * fs))
    sep = int(round(min_separation * fs))
    for i, row in enumerate(out):
        v, a, b = _runs(row)
        if gap > 0:
            for j in range(1, len(v) - 1):
                if v[j] == 0 and v[j - 1] == v[j + 1] and v[j - 1] > 0 and b[j] - a[j] <= gap:
                    row[a[j]:b[j]] = v[j - 1]
            v, a, b = _runs(row)
        for j in np.flatnonzero((v > 0) & (b - a < short)):
            row[a[j]:b[j]] = 0
        if sep > 0:
            v, a, b = _runs(row)
            for c in np.unique(v[v > 0]):
                k = np.flatnonzero(v == c)
                if k.size < 2 or np.min(a[k[1:]] - b[k[:-1]]) >= sep:
                    continue
                mass = (np.array([proba[i, c, a[j]:b[j]].sum() for j in k]) if proba is not None
                        else (b[k] - a[k]).astype(float))
                kept: list = []
                for j in k[np.argsort(-mass, kind="stable")]:
                    if all(a[j] - b[q] >= sep or a[q] - b[j] >= sep for q in kept):
                        kept.append(j)
                    else:
                        row[a[j]:b[j]] = 0
    return out


def masks_to_waves(masks, record_ids=None, classes=LUDB_WAVES, proba=None) -> pd.DataFrame:
    """Wave table (``record_id, wave, onset, offset``) of the segments of int masks.

    ``offset`` is the last sample of the segment (inclusive, as LUDB's).  With
    ``proba`` (n, n_classes, L) a column ``proba`` holds each segment's mean
    probability of its class.  Background (0) and negative labels are not listed.

    Examples
    --------
    >>> masks_to_waves(np.array([[0, 1, 1, 0, 2, 2, 2]]), ["r1"])
      record_id wave  onset  offset
    0        r1    P      1       2
    1        r1  QRS      4       6
    """
    masks = np.asarray(masks)
    ids = [str(i) for i in range(len(masks))] if record_ids is None else [str(r) for r in record_ids]
    rows = []
    for i, row in enumerate(masks):
        v, a, b = _runs(row)
        for k, s, e in zip(v, a, b):
            if k <= 0:
                continue
            r = [ids[i], str(classes[k]) if k < len(classes) else str(k), int(s), int(e - 1)]
            if proba is not None:
                r.append(float(proba[i, k, s:e].mean()))
            rows.append(r)
    cols = ["record_id", "wave", "onset", "offset"] + (["proba"] if proba is not None else [])
    return pd.DataFrame(rows, columns=cols)


def annotated_regions(waves) -> pd.DataFrame:
    """Per record: the annotated region ``[start, stop]`` (first onset, last offset).

    Examples
    --------
    >>> w = pd.DataFrame({"record_id": ["a", "a"], "onset": [5, 40], "offset": [20, 60]})
    >>> annotated_regions(w).loc["a"].tolist()
    [5, 60]
    """
    start = np.fmin(pd.to_numeric(waves["onset"]).to_numpy(float),
                    pd.to_numeric(waves.get("peak", waves["onset"])).to_numpy(float))
    stop = np.fmax(pd.to_numeric(waves["offset"]).to_numpy(float),
                   pd.to_numeric(waves.get("peak", waves["offset"])).to_numpy(float))
    df = pd.DataFrame({"record_id": waves["record_id"].to_numpy(), "start": start, "stop": stop})
    return df.groupby("record_id", sort=False).agg(start=("start", "min"), stop=("stop", "max")).astype(int)

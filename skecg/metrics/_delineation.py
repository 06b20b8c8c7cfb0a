"""Delineation scores: predicted wave onsets and offsets against annotated ones."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..labels import annotated_regions


def _match(true: np.ndarray, pred: np.ndarray, tol: float):
    """Greedy one-to-one matching of two sorted point sets within ``tol``, closest pairs
    first.  Returns the signed errors (pred - true) of the matched pairs."""
    if len(true) == 0 or len(pred) == 0:
        return np.zeros(0)
    d = pred[None, :] - true[:, None]
    i, j = np.nonzero(np.abs(d) <= tol)
    order = np.argsort(np.abs(d[i, j]), kind="stable")
    used_t, used_p, err = set(), set(), []
    for k in order:
        a, b = i[k], j[k]
        if a in used_t or b in used_p:
            continue
        used_t.add(a)
        used_p.add(b)
        err.append(d[a, b])
    return np.asarray(err, dtype=float)


def _overlaps_missing(t: pd.DataFrame, p: pd.DataFrame, point: str) -> np.ndarray:
    """Which predicted waves ``p`` overlap an annotated wave of ``t`` that lacks ``point``."""
    miss = t[pd.to_numeric(t[point]).isna()]
    if len(miss) == 0 or len(p) == 0:
        return np.zeros(len(p), dtype=bool)
    cols = [c for c in ("onset", "peak", "offset") if c in miss]
    span = miss[cols].apply(pd.to_numeric).to_numpy(float)
    lo, hi = np.nanmin(span, axis=1), np.nanmax(span, axis=1)
    on, off = p["onset"].to_numpy(float), p["offset"].to_numpy(float)
    return ((on[:, None] <= hi[None]) & (off[:, None] >= lo[None])).any(1)


def delineation_scores(true_waves, pred_waves, fs: float, *, tolerance: float = 0.15,
                       waves=("P", "QRS", "T"), skip_missing: bool = True) -> pd.DataFrame:
    """Onset and offset detection scores of predicted waves against annotated ones.

    For each record, wave type and point (onset, offset), predicted points are
    matched one-to-one to annotated points within ``tolerance`` seconds (closest
    pairs first).  Only the annotated region of each record counts (first to last
    annotated point, :func:`~skecg.labels.annotated_regions`): a predicted wave whose centre lies
    outside it is left out, as are records absent from ``true_waves``.

    An annotated wave may lack a point (LUDB gives some paced QRS complexes a peak
    and an offset but no onset).  With ``skip_missing`` (default) the same point of
    a predicted wave of that type overlapping such a wave counts neither way (it
    cannot be checked); with ``skip_missing=False`` it is a false positive.

    Returns
    -------
    DataFrame
        Index (wave, point); columns ``tp, fp, fn, se, ppv, f1, mean_error_ms,
        sd_error_ms`` (errors of the matched pairs, predicted minus annotated).

    Examples
    --------
    >>> t = pd.DataFrame({"record_id": ["a"] * 2, "wave": ["QRS"] * 2,
    ...                   "onset": [100, 600], "offset": [140, 640]})
    >>> p = pd.DataFrame({"record_id": ["a"] * 2, "wave": ["QRS"] * 2,
    ...                   "onset": [102, 900], "offset": [141, 950]})
    >>> s = delineation_scores(t, p, fs=500, waves=["QRS"])
    >>> s.loc[("QRS", "onset"), ["tp", "fp", "fn"]].tolist(), float(s.loc[("QRS", "onset"), "mean_error_ms"])
    ([1, 0, 1], 4.0)
    """
    tol = tolerance * fs
    regions = annotated_regions(true_waves)
    pw = pred_waves[pred_waves["record_id"].isin(regions.index)]
    centre = (pw["onset"].to_numpy(float) + pw["offset"].to_numpy(float)) / 2
    reg = regions.loc[pw["record_id"]]
    pw = pw[(centre >= reg["start"].to_numpy()) & (centre <= reg["stop"].to_numpy())]
    rows = []
    tw_by = dict(tuple(true_waves.groupby(["record_id", "wave"], observed=True)))
    pw_by = dict(tuple(pw.groupby(["record_id", "wave"], observed=True)))
    for wave in waves:
        for point in ("onset", "offset"):
            tp = fp = fn = 0
            errs = []
            for rid in regions.index:
                t = tw_by.get((rid, wave))
                p = pw_by.get((rid, wave))
                tv = np.sort(pd.to_numeric(t[point]).dropna().to_numpy(float)) if t is not None else np.zeros(0)
                if p is not None and t is not None and skip_missing:
                    p = p[~_overlaps_missing(t, p, point)]
                pv = np.sort(p[point].to_numpy(float)) if p is not None else np.zeros(0)
                e = _match(tv, pv, tol)
                tp += len(e)
                fp += len(pv) - len(e)
                fn += len(tv) - len(e)
                errs.append(e)
            e = np.concatenate(errs) * 1000.0 / fs if errs else np.zeros(0)
            se = tp / max(tp + fn, 1)
            ppv = tp / max(tp + fp, 1)
            rows.append({"wave": wave, "point": point, "tp": tp, "fp": fp, "fn": fn, "se": se, "ppv": ppv,
                         "f1": 2 * tp / max(2 * tp + fp + fn, 1),
                         "mean_error_ms": float(e.mean()) if e.size else np.nan,
                         "sd_error_ms": float(e.std()) if e.size else np.nan})
    return pd.DataFrame(rows).set_index(["wave", "point"])

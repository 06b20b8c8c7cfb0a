"""Pan-Tompkins R-peak detection and HRV features (time and frequency domain)."""

from __future__ import annotations

import numpy as np
from scipy import signal as sps


def _bandpass_sos(fs: float):
    hi = min(15.0, 0.45 * fs)
    return sps.butter(2, [5.0, hi], btype="bandpass", fs=fs, output="sos")


def pan_tompkins_features(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """The Pan-Tompkins front end: band-pass (5-15 Hz), derivative, squaring and
    moving-window integration (150 ms), vectorised along the last axis.

    Returns
    -------
    filtered : ndarray
        The band-passed signal (where R peaks are located).
    integrated : ndarray
        The moving-window integral (where QRS complexes are detected).
    """
    x = np.asarray(x, dtype=np.float64)
    filtered = sps.sosfiltfilt(_bandpass_sos(fs), x, axis=-1)
    # five-point derivative of Pan & Tompkins (1985)
    deriv = np.zeros_like(filtered)
    deriv[..., 2:-2] = (-filtered[..., :-4] - 2 * filtered[..., 1:-3]
                        + 2 * filtered[..., 3:-1] + filtered[..., 4:]) * (fs / 8.0)
    sq = deriv * deriv
    w = max(1, int(round(0.150 * fs)))
    kernel = np.ones(w) / w
    integrated = sps.oaconvolve(sq, kernel.reshape((1,) * (sq.ndim - 1) + (w,)), mode="same", axes=-1) \
        if sq.ndim > 1 else np.convolve(sq, kernel, mode="same")
    return filtered, integrated


def _detect_from_integrated(filtered: np.ndarray, integrated: np.ndarray, fs: float) -> np.ndarray:
    """Adaptive-threshold decision rules of Pan & Tompkins on one lead."""
    n = integrated.shape[-1]
    if n < int(0.5 * fs) or not np.any(integrated > 0):
        return np.zeros(0, dtype=np.int64)
    refractory = int(round(0.2 * fs))
    cand, _ = sps.find_peaks(integrated, distance=refractory)
    if cand.size == 0:
        return np.zeros(0, dtype=np.int64)
    heights = integrated[cand]
    # learning phase: the first 2 s set the signal and noise levels
    init = integrated[: int(2 * fs)]
    spk = 0.25 * init.max()
    npk = 0.5 * np.mean(init)
    qrs: list[int] = []
    rr_avg = None
    # steepest band-passed slope in the integration window before each candidate
    slope_all = np.abs(np.diff(filtered, prepend=filtered[0]))
    w = max(1, int(round(0.150 * fs)))
    slopes = np.array([slope_all[max(0, c - w):c + 1].max() for c in cand])
    last_slope = None
    t_wave_gap = int(round(0.36 * fs))
    for c, h, sl in zip(cand, heights, slopes):
        thr1 = npk + 0.25 * (spk - npk)
        if h > thr1 and qrs and c - qrs[-1] < t_wave_gap and last_slope is not None and sl < 0.5 * last_slope:
            # within 360 ms of a QRS with less than half its slope: a T wave
            npk = 0.125 * h + 0.875 * npk
            continue
        if h > thr1:
            # search back for a missed beat when the gap exceeds 166% of the mean RR
            if qrs and rr_avg is not None and c - qrs[-1] > 1.66 * rr_avg:
                lo, hi = qrs[-1] + refractory, c - refractory
                if hi > lo:
                    inside = cand[(cand > lo) & (cand < hi)]
                    if inside.size:
                        best = inside[np.argmax(integrated[inside])]
                        if integrated[best] > 0.5 * thr1:
                            qrs.append(int(best))
                            spk = 0.25 * integrated[best] + 0.75 * spk
            qrs.append(int(c))
            last_slope = sl
            spk = 0.125 * h + 0.875 * spk
            if len(qrs) >= 2:
                recent = np.diff(qrs[-9:])
                rr_avg = float(np.mean(recent))
        else:
            npk = 0.125 * h + 0.875 * npk
    qrs_arr = np.asarray(sorted(set(qrs)), dtype=np.int64)
    # locate the R peak: the largest |band-passed| value in the QRS window before the
    # integrator's peak (the integrator lags the QRS by up to its window length)
    half = int(round(0.15 * fs))
    peaks = []
    mag = np.abs(filtered)
    for q in qrs_arr:
        lo, hi = max(0, q - half), min(n, q + int(round(0.05 * fs)) + 1)
        peaks.append(lo + int(np.argmax(mag[lo:hi])))
    peaks = np.asarray(sorted(set(peaks)), dtype=np.int64)
    if peaks.size > 1:  # merge detections closer than the refractory period
        keep = np.r_[True, np.diff(peaks) >= refractory]
        peaks = peaks[keep]
    return peaks


def detect_r_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices of one lead by the Pan-Tompkins algorithm (1985).

    Band-pass, derivative, squaring, 150-ms moving-window integration, adaptive
    thresholds with search-back, 200-ms refractory period.  A flat or too short
    signal gives no peaks.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 500
    >>> t = np.arange(10 * fs) / fs
    >>> ecg = np.exp(-((t[:, None] - np.arange(0.5, 10, 1.0)) ** 2) / (2 * 0.01 ** 2)).sum(1)
    >>> detect_r_peaks(ecg, fs).size
    10
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"detect_r_peaks takes one lead (1-D), got shape {x.shape}")
    if x.size < 0.5 * fs or np.ptp(x) == 0:
        return np.zeros(0, dtype=np.int64)
    filtered, integrated = pan_tompkins_features(x, fs)
    return _detect_from_integrated(filtered, integrated, fs)


def detect_r_peaks_batch(x: np.ndarray, fs: float) -> list[np.ndarray]:
    """:func:`detect_r_peaks` for many single-lead records of one length at once
    (the filtering is vectorised across records)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected (n_records, n_samples), got shape {x.shape}")
    flat = np.ptp(x, axis=1) == 0
    if x.shape[1] < 0.5 * fs:
        return [np.zeros(0, dtype=np.int64) for _ in range(len(x))]
    filtered, integrated = pan_tompkins_features(x, fs)
    return [np.zeros(0, dtype=np.int64) if flat[i] else _detect_from_integrated(filtered[i], integrated[i], fs)
            for i in range(len(x))]


TIME_FEATURES = (
    "n_beats", "mean_rr", "median_rr", "sdnn", "rmssd", "sdsd", "nn50", "pnn50", "nn20", "pnn20",
    "cvnn", "cvsd", "min_rr", "max_rr", "range_rr", "iqr_rr", "mad_rr",
    "mean_hr", "std_hr", "min_hr", "max_hr",
)
FREQ_FEATURES = ("vlf", "lf", "hf", "total_power", "lf_hf", "lf_nu", "hf_nu", "lf_peak", "hf_peak")
HRV_FEATURES = TIME_FEATURES + FREQ_FEATURES
_BANDS = {"vlf": (0.0033, 0.04), "lf": (0.04, 0.15), "hf": (0.15, 0.4)}


def rr_intervals(peaks: np.ndarray, fs: float) -> np.ndarray:
    """RR intervals in seconds from R-peak sample indices."""
    return np.diff(np.asarray(peaks, dtype=np.float64)) / float(fs)


_LS_FREQS = np.linspace(0.0033, 0.5, 256)


def lomb_scargle(t: np.ndarray, y: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Classic (un-normalised) Lomb-Scargle periodogram of ``y`` sampled at times ``t``,
    vectorised over frequencies (Hz).

    ``P(f) = ½[(Σ y cos ω(t-τ))² / Σ cos² ω(t-τ) + (Σ y sin ω(t-τ))² / Σ sin² ω(t-τ)]``
    with ``tan 2ωτ = Σ sin 2ωt / Σ cos 2ωt``.
    """
    w = 2 * np.pi * np.asarray(freqs)[:, None]
    wt = w * t[None, :]
    tau = np.arctan2(np.sin(2 * wt).sum(1), np.cos(2 * wt).sum(1)) / (2 * w[:, 0])
    arg = wt - w * tau[:, None]
    c, s = np.cos(arg), np.sin(arg)
    cc = np.maximum((c * c).sum(1), 1e-300)
    ss = np.maximum((s * s).sum(1), 1e-300)
    return 0.5 * ((c @ y) ** 2 / cc + (s @ y) ** 2 / ss)


def _sorted_quantile(srt: np.ndarray, q: float) -> float:
    """Linear-interpolated quantile of an already sorted array (numpy's default method)."""
    pos = q * (srt.size - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, srt.size - 1)
    return float(srt[lo] + (srt[hi] - srt[lo]) * (pos - lo))


def hrv_features(rr: np.ndarray, min_beats: int = 3) -> np.ndarray:
    """Time- and frequency-domain HRV features of one RR series (seconds).

    21 time-domain features (:data:`TIME_FEATURES`; ``n_beats`` counts R peaks) and 9
    frequency-domain ones (:data:`FREQ_FEATURES`: Lomb-Scargle power in the VLF
    0.0033-0.04 Hz, LF 0.04-0.15 Hz and HF 0.15-0.4 Hz bands in s², their total, LF/HF,
    normalised units and peak frequencies; suited to unevenly sampled RR series).

    Fewer than ``min_beats`` beats give NaN for every feature but ``n_beats``, and
    frequency features of a band that a short record cannot resolve (e.g. VLF in
    10 s) are NaN.

    Examples
    --------
    >>> import numpy as np
    >>> f = dict(zip(HRV_FEATURES, hrv_features(np.full(12, 0.8))))
    >>> [float(f[k]) for k in ("n_beats", "mean_hr", "rmssd")]
    [13.0, 75.0, 0.0]
    """
    rr = np.asarray(rr, dtype=np.float64)
    out = np.full(len(HRV_FEATURES), np.nan)
    out[0] = rr.size + 1 if rr.size else 0.0
    if rr.size + 1 < min_beats:
        return out
    d = np.diff(rr)
    ad = np.abs(d)
    hr = 60.0 / rr
    n = rr.size
    mean_rr = rr.sum() / n
    srt = np.sort(rr)
    med = _sorted_quantile(srt, 0.5)
    sd = float(np.sqrt(((rr - mean_rr) ** 2).sum() / (n - 1))) if n > 1 else 0.0
    rmssd = float(np.sqrt((d * d).sum() / d.size)) if d.size else np.nan
    mean_hr = hr.sum() / n
    vals = [
        n + 1, mean_rr, med, sd, rmssd,
        float(np.sqrt(((d - d.mean()) ** 2).sum() / (d.size - 1))) if d.size > 1 else np.nan,
        float((ad > 0.05).sum()), float((ad > 0.05).sum() / d.size) if d.size else np.nan,
        float((ad > 0.02).sum()), float((ad > 0.02).sum() / d.size) if d.size else np.nan,
        sd / mean_rr, rmssd / mean_rr, srt[0], srt[-1], srt[-1] - srt[0],
        _sorted_quantile(srt, 0.75) - _sorted_quantile(srt, 0.25),
        _sorted_quantile(np.sort(np.abs(rr - med)), 0.5),
        mean_hr, float(np.sqrt(((hr - mean_hr) ** 2).sum() / (n - 1))) if n > 1 else 0.0, hr.min(), hr.max(),
    ]
    out[: len(TIME_FEATURES)] = vals
    # frequency domain: Lomb-Scargle periodogram of the RR series at the beat times
    if rr.size >= 4 and sd > 0:
        t = np.cumsum(rr)
        duration = t[-1] - t[0]
        freqs = _LS_FREQS
        pgram = lomb_scargle(t, rr - mean_rr, freqs)
        # one-sided PSD in s^2/Hz: a sinusoid's band power approximates its variance
        psd = pgram * 2.0 * max(duration, 1e-9) / rr.size
        df = freqs[1] - freqs[0]
        powers = {}
        for band, (lo, hi) in _BANDS.items():
            m = (freqs >= lo) & (freqs < hi)
            resolvable = duration > 0 and 1.0 / duration <= hi
            powers[band] = float(np.sum(psd[m]) * df) if resolvable else np.nan
        lf, hf = powers["lf"], powers["hf"]
        total = np.nansum([powers["vlf"], lf, hf])
        fi = len(TIME_FEATURES)
        out[fi:fi + 4] = [powers["vlf"], lf, hf, total]
        out[fi + 4] = lf / hf if hf and np.isfinite(lf) and np.isfinite(hf) and hf > 0 else np.nan
        lfhf = lf + hf
        out[fi + 5] = lf / lfhf if np.isfinite(lfhf) and lfhf > 0 else np.nan
        out[fi + 6] = hf / lfhf if np.isfinite(lfhf) and lfhf > 0 else np.nan
        for k, band in ((7, "lf"), (8, "hf")):
            lo, hi = _BANDS[band]
            m = (freqs >= lo) & (freqs < hi)
            out[fi + k] = freqs[m][np.argmax(psd[m])] if np.isfinite(powers[band]) else np.nan
    return out

"""R-peak detection (Pan-Tompkins front end, robust thresholds) and HRV features."""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft
from scipy import signal as sps
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import uniform_filter1d


@functools.lru_cache(maxsize=32)  # designing the filter costs more than running it on 10 s
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
    return _pt_energy(np.asarray(x, dtype=np.float64), fs)


def _pt_energy(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pan_tompkins_features` in the dtype of ``x`` (float32 halves the memory
    traffic of the 12-lead fused detector), with few temporaries."""
    sos = _bandpass_sos(float(fs)).astype(x.dtype)
    filtered = sps.sosfiltfilt(sos, x, axis=-1)
    # five-point derivative of Pan & Tompkins (1985): (f[i+2] - f[i-2] + 2 (f[i+1] - f[i-1])) fs / 8
    deriv = np.zeros_like(filtered)
    d = deriv[..., 2:-2]
    np.subtract(filtered[..., 4:], filtered[..., :-4], out=d)
    tmp = filtered[..., 3:-1] - filtered[..., 1:-3]
    tmp *= 2
    d += tmp
    del tmp
    np.square(deriv, out=deriv)
    deriv *= (fs / 8.0) ** 2
    w = max(1, int(round(0.150 * fs)))
    # running mean in O(n) (scipy.ndimage), as np.convolve(sq, ones(w) / w, 'same') up to rounding
    integrated = uniform_filter1d(deriv, w, axis=-1, mode="constant", output=deriv)
    return filtered, integrated


_PAD = 0.25  # s: odd extension at each end before the FFT (the 5 Hz high-pass forgets in ~0.1 s)
_ENERGY_FS = 125.0  # Hz: the QRS energy is computed at about this rate (it lies below 40 Hz)


@functools.lru_cache(maxsize=32)
def _energy_response(fs: float, pre: int, n_fft: int, step: int) -> np.ndarray:
    """Frequency response of the Pan-Tompkins filter chain as ``sosfiltfilt`` applies it
    at ``fs``: the squared magnitude of the 5-15 Hz band-pass times the five-point
    derivative, for a signal averaged over ``pre`` samples (its delay of ``(pre - 1) / 2``
    samples undone), on the rfft bins kept when decimating by ``step`` more."""
    f = np.fft.rfftfreq(n_fft, pre / fs)[: n_fft // step // 2 + 1]
    _, h = sps.sosfreqz(_bandpass_sos(fs), worN=f, fs=fs)
    w = 2 * np.pi * f / fs
    deriv = 1j * (fs / 8.0) * (2 * np.sin(2 * w) + 4 * np.sin(w))
    return np.abs(h) ** 2 * deriv * np.exp(1j * w * (pre - 1) / 2) / step


def _fft_energy(x: np.ndarray, fs: float, dtype=np.float64) -> tuple[np.ndarray, int]:
    """The Pan-Tompkins QRS energy (5-15 Hz band-pass, five-point derivative, squaring,
    150 ms moving integration) of every row of ``x``, sampled at about ``_ENERGY_FS``.

    The signal is averaged over pairs of samples when ``fs`` allows (above 250 Hz),
    extended by an odd reflection of ``_PAD`` s at both ends, and filtered in the
    frequency domain with the zero-phase response of ``sosfiltfilt`` (one rfft and one
    shorter irfft, which decimates); the 12 leads of a record cost little more than one
    lead filtered with ``sosfiltfilt``.  Returns the energy, of length ``ceil(n / step)``
    along the last axis, and ``step``, the decimation factor (energy sample ``j`` is at
    signal sample ``j * step``).  The arithmetic is in ``dtype`` (float32 for the
    12-lead fused energy, whose decisions do not need more).
    """
    n = x.shape[-1]
    pre = 2 if fs >= 2 * 2 * _ENERGY_FS else 1
    if pre == 2:
        if n % 2:
            x = np.concatenate([x, x[..., -1:]], axis=-1)
        x = np.add(x[..., 0::2], x[..., 1::2], dtype=dtype)
        x *= 0.5
    else:
        x = np.asarray(x, dtype=dtype)
    nd = x.shape[-1]
    sub_step = max(1, int(fs / pre // _ENERGY_FS))
    step = pre * sub_step
    pad = min(nd - 1, int(round(_PAD * fs / pre)) // sub_step * sub_step)
    n_fft = scipy.fft.next_fast_len(nd + 2 * pad, real=True)
    n_fft += (-n_fft) % sub_step
    right = min(n_fft - nd - pad, nd - 1)
    ext = np.concatenate([2 * x[..., :1] - x[..., pad:0:-1], x,
                          2 * x[..., -1:] - x[..., -2::-1][..., :right]], axis=-1)
    spec = scipy.fft.rfft(ext, n=n_fft, axis=-1)
    m = n_fft // sub_step // 2 + 1
    sub = spec[..., :m]
    sub *= _energy_response(float(fs), pre, n_fft, sub_step).astype(spec.dtype)
    y = scipy.fft.irfft(sub, n=n_fft // sub_step, axis=-1)
    np.square(y, out=y)
    w = max(1, int(round(0.150 * fs / step)))
    y = uniform_filter1d(y, w, axis=-1, mode="constant", output=y)
    lo = pad // sub_step
    return y[..., lo:lo + -(-n // step)], step


#: neurokit2's R-peak methods that ``method=`` accepts (``ecg_clean`` + ``ecg_peaks``).
NEUROKIT_METHODS = ("neurokit", "pantompkins1985", "hamilton2002", "elgendi2010", "engzeemod2012",
                    "christov2004", "kalidas2017", "nabian2018", "rodrigues2021", "emrich2023", "promac")
_NK_CLEANERS = ("neurokit", "pantompkins1985", "hamilton2002", "elgendi2010", "engzeemod2012")

# Decision constants of skecg's detector, chosen on LUDB records 1-130 (lead II; the
# T-wave rule and the repeated search-back also on their other 11 leads) and checked on
# records 131-160, never tuned on (benchmarks/rpeak_accuracy.py, tests/preprocessing/test_rpeaks.py).
_REFRACTORY = 0.20   # s: no two beats closer than this
_THRESHOLD = 0.25    # fraction of the reference QRS energy a beat must exceed
_SEARCH = 0.10       # s: R peak searched within +-_SEARCH of the energy peak
_QS_RATIO = 0.30     # an upward deflection smaller than this fraction of the downward one: a QS complex
_QS_BACK = 0.08      # s: how far before a QS trough its start is searched
_QS_DROP = 0.20      # the QS "peak" is where the signal has fallen by this fraction of the complex
_SEARCHBACK_RR = 1.66  # an RR gap this many times the median is searched again for a missed beat (Pan-Tompkins)
_SEARCHBACK_THRESHOLD = 0.2  # ... with this fraction of the threshold (on records 1-100 any value in
#                              0.05-0.3 recovers the one beat lead II missed there without a false one)
_SEARCHBACK_ROUNDS = 3  # a gap that held several missed beats is searched again after each one found
_SEARCHBACK_GAP = 0.30  # s: ... at least this far from the beats around the gap (not their T waves)
_TWAVE = 0.36        # s: a beat this close to the previous one ...
_TWAVE_RATIO = 0.5   # ... with less than this fraction of its energy is a T wave (Pan & Tompkins'
#                      half; on the 12 leads of records 1-130 it halves the extra beats, 166 -> 92)
_TWAVE_RR = 0.7      # ... and only when it comes earlier than this fraction of the median RR of
#                      the intervals over _TWAVE (a fast rhythm of alternating amplitude is kept)
_BLOCK = 10.0        # s: the reference energy is taken per block of this length
_MIN_RATE = 0.6      # beats/s (36 bpm): the reference is the median of the top _MIN_RATE * seconds
#                      candidates of a block, a typical beat even when tall PVCs are many


@functools.lru_cache(maxsize=32)
def _broadband_sos(fs: float):
    sos = sps.butter(2, [0.5, min(40.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    return sos, sps.sosfilt_zi(sos)


def _broadband(x: np.ndarray, fs: float) -> np.ndarray:
    """``sosfiltfilt`` with the 0.5-40 Hz band-pass along the last axis, with the
    filter's initial conditions designed once per rate (``sosfiltfilt`` designs them at
    every call, most of its cost on one 10 s lead); the same arithmetic as scipy's."""
    sos, zi = _broadband_sos(float(fs))
    edge = 3 * (2 * len(sos) + 1 - min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum()))
    if x.shape[-1] <= edge:
        return sps.sosfiltfilt(sos, x, axis=-1)  # scipy's own error for too short a signal
    ext = np.concatenate([2 * x[..., :1] - x[..., edge:0:-1], x, 2 * x[..., -1:] - x[..., -2:-edge - 2:-1]],
                         axis=-1)
    zi = zi.reshape((len(sos),) + (1,) * (x.ndim - 1) + (2,))
    y, _ = sps.sosfilt(sos, ext, axis=-1, zi=zi * ext[..., :1])
    y, _ = sps.sosfilt(sos, y[..., ::-1], axis=-1, zi=zi * y[..., -1:])
    return y[..., ::-1][..., edge:-edge]


def _detect(broad: np.ndarray, integrated: np.ndarray, fs: float, step: int = 1,
            skip: np.ndarray | None = None) -> list[np.ndarray]:
    """Beats from the QRS energy of each record, R peaks located on its broadband signal.

    1. Candidates: peaks of the integrated energy at least ``_REFRACTORY`` apart.
    2. A candidate is a beat when its energy exceeds ``_THRESHOLD`` times a reference:
       the median energy of the ``_MIN_RATE * seconds`` largest candidates of its
       ``_BLOCK``-second block (the energy of a typical beat at any rate above 36 bpm,
       robust to tall PVCs and artifacts, and to amplitude changes along long records).
       Search-back (Pan & Tompkins): in an RR gap above ``_SEARCHBACK_RR`` times the
       median RR, the largest candidate at least ``_SEARCHBACK_GAP`` from the beats
       around it is a beat if it exceeds ``_SEARCHBACK_THRESHOLD`` times that threshold
       (repeated, up to ``_SEARCHBACK_ROUNDS`` times, for gaps that held several).
       T-wave discrimination (Pan & Tompkins): a beat within ``_TWAVE`` of the previous
       one, and earlier than ``_TWAVE_RR`` times the median of the RR intervals longer
       than ``_TWAVE``, with less than ``_TWAVE_RATIO`` of its energy is dropped.
    3. The R peak is the maximum of the 0.5-40 Hz signal within ``_SEARCH`` of the
       energy peak; in a QS complex (no upward deflection worth ``_QS_RATIO`` of the
       downward one) it is the start of the downstroke, where LUDB's cardiologists
       mark it.
    4. Peaks closer than ``_REFRACTORY`` keep the one of larger energy.

    ``broad`` is (n_records, n) at ``fs``, ``integrated`` (n_records, m) at ``fs / step``;
    step 3 runs once for the beats of all records.  Records flagged in ``skip`` (flat
    signals) get no peaks.
    """
    n_rec, n = broad.shape
    beats, energy = [], []
    for r in range(n_rec):
        if skip is not None and skip[r]:
            b, e = np.zeros(0, dtype=np.int64), np.zeros(0)
        else:
            b, e = _beats(integrated[r], fs / step)
        beats.append(np.minimum(b * step, n - 1))
        energy.append(e)
    counts = [b.size for b in beats]
    rows = np.repeat(np.arange(n_rec), counts)
    peaks = np.split(_locate(broad, rows, np.concatenate(beats), fs), np.cumsum(counts)[:-1])
    refr = max(1, int(round(_REFRACTORY * fs)))
    return [_refractory(p, e, refr) for p, e in zip(peaks, energy)]


def _beats(integrated: np.ndarray, fs_e: float) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1-2 of :func:`_detect` on one record's energy (at ``fs_e``): the beats'
    energy-sample indices and energies."""
    n = integrated.shape[-1]
    none = np.zeros(0, dtype=np.int64), np.zeros(0)
    if n < int(0.5 * fs_e) or not np.any(integrated > 0):
        return none
    cand, _ = sps.find_peaks(integrated, distance=max(1, int(round(_REFRACTORY * fs_e))))
    if cand.size == 0:
        return none
    h = integrated[cand]
    block = max(1, int(round(_BLOCK * fs_e)))
    n_blocks = max(1, int(round(n / block)))
    which = np.minimum(cand // block, n_blocks - 1)
    refs = np.empty(cand.size)
    for b in range(n_blocks):
        sel = which == b
        hb = h[sel] if sel.sum() >= 3 else h
        seconds = (min(n, (b + 1) * block) - b * block) / fs_e if b < n_blocks - 1 else (n - b * block) / fs_e
        k = max(3, int(_MIN_RATE * seconds))
        ref = np.median(np.sort(hb)[::-1][:k])
        refs[sel] = ref
    keep = h > _THRESHOLD * refs
    if _SEARCHBACK_RR and keep.sum() >= 3:
        keep = _searchback(cand, h, refs, keep, fs_e)
    if _TWAVE_RATIO:
        keep = _twave(cand, h, keep, fs_e)
    return cand[keep].astype(np.int64), h[keep]


def _twave(cand: np.ndarray, h: np.ndarray, keep: np.ndarray, fs_e: float) -> np.ndarray:
    """Step 2c of :func:`_detect` (Pan & Tompkins' T-wave discrimination): a beat
    within ``_TWAVE`` s of the previous beat, and earlier than ``_TWAVE_RR`` times the
    record's median RR (of the intervals over ``_TWAVE``), whose energy is below
    ``_TWAVE_RATIO`` times that beat's is a T wave (or the tail of a wide QRS), not a
    beat.  A record without an interval over ``_TWAVE`` (a fast rhythm) keeps all."""
    keep = keep.copy()
    win = _TWAVE * fs_e
    rr = np.diff(cand[keep])
    slow = rr[rr >= win]
    if slow.size == 0:  # a fast rhythm throughout: close beats are the rhythm, not T waves
        return keep
    early = min(win, _TWAVE_RR * np.median(slow))
    last = -1
    for k in np.flatnonzero(keep):
        if last >= 0 and cand[k] - cand[last] < early and h[k] < _TWAVE_RATIO * h[last]:
            keep[k] = False
        else:
            last = k
    return keep


def _searchback(cand: np.ndarray, h: np.ndarray, refs: np.ndarray, keep: np.ndarray, fs_e: float) -> np.ndarray:
    """Step 2b of :func:`_detect` (Pan & Tompkins' search-back): in an RR gap longer than
    ``_SEARCHBACK_RR`` times the median RR, the largest candidate at least
    ``_SEARCHBACK_GAP`` s from both neighbouring beats becomes a beat when its energy
    exceeds ``_SEARCHBACK_THRESHOLD`` times the threshold of step 2."""
    keep = keep.copy()
    beats = np.flatnonzero(keep)
    med = np.median(np.diff(cand[beats]))
    gap = int(round(_SEARCHBACK_GAP * fs_e))
    for _ in range(_SEARCHBACK_ROUNDS):
        beats = np.flatnonzero(keep)
        rr = np.diff(cand[beats])
        added = False
        for g in np.flatnonzero(rr > _SEARCHBACK_RR * med):
            a, b = cand[beats[g]], cand[beats[g + 1]]
            inside = np.flatnonzero((cand >= a + gap) & (cand <= b - gap))
            if inside.size:
                best = inside[np.argmax(h[inside])]
                if h[best] > _SEARCHBACK_THRESHOLD * _THRESHOLD * refs[best]:
                    keep[best] = added = True
        if not added:
            break
    return keep


def _refractory(peaks: np.ndarray, energy: np.ndarray, refr: int) -> np.ndarray:
    """Step 4 of :func:`_detect`: localisation can bring two beats closer than the
    refractory period; keep the stronger."""
    if peaks.size < 2 or np.diff(np.sort(peaks)).min() >= refr:
        return np.unique(peaks)
    order = np.argsort(-energy, kind="stable")
    taken = np.zeros(0, dtype=np.int64)
    for o in order:
        if not np.any(np.abs(peaks[taken] - peaks[o]) < refr):
            taken = np.append(taken, o)
    return np.unique(peaks[taken])


def _locate(broad: np.ndarray, rows: np.ndarray, beats: np.ndarray, fs: float) -> np.ndarray:
    """Step 3 of :func:`_detect`, vectorised over the beats of all records (``rows``
    the record of each beat, ``beats`` its sample): the maximum of ``broad`` within
    ``_SEARCH`` of each energy peak, or the start of the downstroke of a QS complex."""
    n_rec, n = broad.shape
    peaks = np.empty(beats.size, dtype=np.int64)
    if beats.size == 0:
        return peaks
    half = int(round(_SEARCH * fs))
    back = int(round(_QS_BACK * fs))
    flat = np.ascontiguousarray(broad).ravel()
    start = rows * n + beats
    # +-half windows (clipped at the ends of the record)
    i_max, i_min = np.empty(beats.size, np.int64), np.empty(beats.size, np.int64)
    inside = (beats >= half) & (beats + half < n)
    win = sliding_window_view(flat, 2 * half + 1)[start[inside] - half]
    i_max[inside], i_min[inside] = win.argmax(1), win.argmin(1)
    for k in np.flatnonzero(~inside):
        lo = max(0, beats[k] - half)
        seg = broad[rows[k], lo:beats[k] + half + 1]
        i_max[k], i_min[k] = lo - beats[k] + half + seg.argmax(), lo - beats[k] + half + seg.argmin()
    top = flat[start - half + i_max]
    bottom = flat[start - half + i_min]
    # the local baseline: the median of the +-1 s around the beat (clipped at the ends)
    F = int(fs)
    base = np.empty(beats.size)
    inner = (beats >= F) & (beats + F <= n)
    if inner.any():
        base[inner] = np.median(sliding_window_view(flat, 2 * F)[start[inner] - F], axis=1)
    for k in np.flatnonzero(~inner):
        base[k] = np.median(broad[rows[k], max(0, beats[k] - F):beats[k] + F])
    upright = top - base >= _QS_RATIO * (base - bottom)
    peaks[upright] = np.clip(beats[upright] - half + i_max[upright], 0, n - 1)
    for k in np.flatnonzero(~upright):
        x = broad[rows[k]]
        m = min(max(beats[k] - half + int(i_min[k]), 0), n - 1)
        a = max(0, m - back)
        j = a + int(np.argmax(x[a:m + 1]))
        level = x[j] - _QS_DROP * (x[j] - x[m])
        below = np.flatnonzero(x[j:m + 1] < level)
        peaks[k] = j + (int(below[0]) - 1 if below.size else 0)
    return peaks


def _check_method(method: str) -> None:
    if method != "skecg" and method not in NEUROKIT_METHODS:
        raise ValueError(f"unknown R-peak method {method!r}; choose 'skecg' or one of neurokit2's "
                         f"{list(NEUROKIT_METHODS)}")


def _neurokit_peaks(x: np.ndarray, fs: float, method: str) -> np.ndarray:
    import neurokit2 as nk  # only for these methods: neurokit2 takes about a second to import

    clean = nk.ecg_clean(x, sampling_rate=int(round(fs)),
                         method=method if method in _NK_CLEANERS else "neurokit")
    _, info = nk.ecg_peaks(clean, sampling_rate=int(round(fs)), method=method)
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)


def detect_r_peaks(x: np.ndarray, fs: float, method: str = "skecg") -> np.ndarray:
    """R-peak sample indices of one lead.

    ``method='skecg'`` (default): the Pan-Tompkins front end (5-15 Hz band-pass,
    derivative, squaring, 150 ms moving-window integration, computed in the
    frequency domain at about 125 Hz) finds the beats, with a robust per-block
    energy threshold, Pan & Tompkins' search-back in long RR gaps and T-wave
    discrimination, and a 200 ms refractory period; the R peak is located on the
    0.5-40 Hz signal (the start of the downstroke in a QS complex).  Its constants
    were chosen on LUDB records 1-130 and it is scored on records 131-160
    (cardiologists' QRS annotations, 75 ms tolerance): ``benchmarks/rpeak_accuracy.py``
    prints sensitivity, PPV, timing error and speed against neurokit2, and the
    README quotes the figures.  Any of neurokit2's
    methods (:data:`NEUROKIT_METHODS`) runs its ``ecg_clean`` + ``ecg_peaks``
    instead.  A flat or too short signal gives no peaks.

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
    return detect_r_peaks_batch(x[None], fs, method)[0]


def detect_r_peaks_batch(x: np.ndarray, fs: float, method: str = "skecg") -> list[np.ndarray]:
    """:func:`detect_r_peaks` for many single-lead records of one length at once
    (the filtering is vectorised across records)."""
    _check_method(method)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected (n_records, n_samples), got shape {x.shape}")
    flat = np.ptp(x, axis=1) == 0 if x.shape[1] else np.ones(len(x), bool)
    if x.shape[1] < 0.5 * fs:
        return [np.zeros(0, dtype=np.int64) for _ in range(len(x))]
    if method != "skecg":
        return [np.zeros(0, dtype=np.int64) if flat[i] else _neurokit_peaks(x[i], fs, method)
                for i in range(len(x))]
    integrated, step = _fft_energy(x, fs)
    broad = _broadband(x, fs)
    return _detect(broad, integrated, fs, step, skip=flat)


def _percentile99(e: np.ndarray) -> np.ndarray:
    """``np.percentile(e, 99, axis=-1, keepdims=True)`` (linear interpolation) from one
    ``np.partition`` instead of a full quantile pass."""
    pos = 0.99 * (e.shape[-1] - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, e.shape[-1] - 1)
    part = np.partition(e, (lo, hi), axis=-1)
    return (part[..., lo] + (part[..., hi] - part[..., lo]) * (pos - lo))[..., None]


def detect_r_peaks_multilead(x: np.ndarray, fs: float, lead=1):
    """R peaks from several leads at once: beats found on the fused QRS energy of all
    leads, R peaks located on ``lead`` (default 1, lead II of the standard order).

    Each lead's Pan-Tompkins energy is divided by its 99th percentile (so every lead
    weighs alike) and the leads are averaged; the decision and localisation rules are
    those of :func:`detect_r_peaks`.  A beat that is small or noisy on one lead is
    carried by the others (``benchmarks/rpeak_accuracy.py`` scores both detectors on
    LUDB).  A 3-D input is processed in one vectorised pass (the energy in float32).

    Parameters
    ----------
    x : ndarray of shape (n_leads, n_samples) or (n_records, n_leads, n_samples)
    fs : float
    lead : int or array-like of int, default=1
        The lead whose R peaks are returned; one per record for 3-D input is accepted.

    Returns
    -------
    ndarray of int, or a list of them for 3-D input.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 500
    >>> t = np.arange(10 * fs) / fs
    >>> beat = np.exp(-((t[:, None] - np.arange(0.5, 10, 1.0)) ** 2) / (2 * 0.01 ** 2)).sum(1)
    >>> detect_r_peaks_multilead(np.stack([beat, 0.5 * beat, -beat]), fs).size
    10
    """
    x = np.asarray(x)
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"expected (n_leads, n_samples) or (n_records, n_leads, n_samples), got shape {x.shape}")
    leads = np.asarray(lead)
    if leads.dtype.kind not in "iu" or leads.ndim > 1 or (leads.ndim == 1 and leads.size != len(x)):
        raise ValueError(f"lead must be an int or one int per record ({len(x)}), got {lead!r}")
    leads = np.broadcast_to(leads, (len(x),))
    bad = leads[(leads < 0) | (leads >= x.shape[1])]
    if bad.size:
        raise ValueError(f"lead {int(bad[0])} is out of range for {x.shape[1]} leads")
    n = x.shape[-1]
    if n < 0.5 * fs:
        out = [np.zeros(0, dtype=np.int64) for _ in range(len(x))]
        return out[0] if single else out
    integrated, step = _fft_energy(x, fs, dtype=np.float32)
    ref = _percentile99(integrated)[..., 0]  # (n_records, n_leads)
    live = ref > 0  # a flat lead adds nothing
    weight = np.where(live, 1.0 / np.where(live, ref, 1.0), 0.0) / np.maximum(live.sum(1, keepdims=True), 1)
    fused = np.matmul(weight[:, None, :].astype(np.float32), integrated)[:, 0].astype(np.float64)
    broad = _broadband(np.asarray(x[np.arange(len(x)), leads], dtype=np.float64), fs)
    out = _detect(broad, fused, fs, step, skip=~live.any(1))
    return out[0] if single else out


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
    at frequencies in Hz: ``scipy.signal.lombscargle`` (which takes angular frequencies).

    ``P(f) = ½[(Σ y cos ω(t-τ))² / Σ cos² ω(t-τ) + (Σ y sin ω(t-τ))² / Σ sin² ω(t-τ)]``
    with ``tan 2ωτ = Σ sin 2ωt / Σ cos 2ωt``.  It agrees with skecg's former own
    implementation to 1e-14 at the same speed.
    """
    return sps.lombscargle(np.asarray(t, dtype=float), np.asarray(y, dtype=float), 2 * np.pi * np.asarray(freqs))


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

"""Pure numerical functions behind the preprocessing transformers."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pywt
from scipy import signal as _sps

from .._schema import STANDARD_LEADS, normalize_lead_name


def _ratio(fs_in: float, fs_out: float) -> tuple[int, int]:
    if not (np.isfinite(fs_in) and fs_in > 0):
        raise ValueError(f"input sampling rate must be a positive number, got {fs_in}")
    if not (np.isfinite(fs_out) and fs_out > 0):
        raise ValueError(f"output sampling rate must be a positive number, got {fs_out}")
    frac = Fraction(float(fs_out) / float(fs_in)).limit_denominator(10000)
    return frac.numerator, frac.denominator


_POLY_CACHE: dict = {}


def _polyphase_plan(up: int, down: int, n: int):
    """The matrix form of ``scipy.signal.resample_poly(x, up, down)`` (Kaiser 5.0, zero pad).

    Output block ``b`` (``up`` samples) is ``x[b*down + kmin : b*down + kmin + K] @ W``;
    ``W`` holds the polyphase taps of scipy's own filter, so the result equals
    ``resample_poly`` up to float rounding, while the work runs as one BLAS matrix
    product instead of a scalar filter loop.
    """
    key = (up, down)
    if key not in _POLY_CACHE:
        max_rate = max(up, down)
        half_len = 10 * max_rate
        h = _sps.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * up
        n_pre_pad = down - half_len % down
        hf = np.concatenate([np.zeros(n_pre_pad), h])
        P = (half_len + n_pre_pad) // down  # samples scipy removes at the start
        Lf = hf.size
        kmin = -((Lf - 1 - P * down) // up)  # ceil((P*down - Lf + 1) / up)
        kmax = ((up - 1 + P) * down) // up
        K = kmax - kmin + 1
        W = np.zeros((K, up))
        for r in range(up):
            for k in range(K):
                j = (r + P) * down - (k + kmin) * up
                if 0 <= j < Lf:
                    W[k, r] = hf[j]
        _POLY_CACHE[key] = (W, kmin, K)
    W, kmin, K = _POLY_CACHE[key]
    n_out = -(-n * up // down)
    nb = -(-n_out // up)
    pad_l = max(0, -kmin)
    last = (nb - 1) * down + kmin + K  # one past the last input sample used
    pad_r = max(0, last - n)
    return W, kmin, K, n_out, nb, pad_l, pad_r


_BLOCK_CACHE: dict = {}


def _blocked(W: np.ndarray, up: int, down: int, m: int, dtype) -> np.ndarray:
    """``m`` consecutive output blocks of ``W`` as one matrix: window ``(m-1)*down + K``.

    With only ``up`` output columns a matrix product is too narrow for BLAS to reach
    speed; blocking trades zero taps for width.
    """
    key = (up, down, m, np.dtype(dtype).str)
    if key not in _BLOCK_CACHE:
        K = W.shape[0]
        Wb = np.zeros(((m - 1) * down + K, m * up), dtype)
        for j in range(m):
            Wb[j * down:j * down + K, j * up:(j + 1) * up] = W
        _BLOCK_CACHE[key] = Wb
    return _BLOCK_CACHE[key]


def _resample_poly_gemm(x: np.ndarray, up: int, down: int) -> np.ndarray:
    n = x.shape[-1]
    W, kmin, K, n_out, nb, pad_l, pad_r = _polyphase_plan(up, down, n)
    m = max(1, min(-(-32 // up), nb))  # output blocks per matrix row
    nbb = -(-nb // m)
    pad_r += (nbb * m - nb) * down
    Wb = _blocked(W, up, down, m, x.dtype)
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad_l, pad_r)])
    start = kmin + pad_l
    win = np.lib.stride_tricks.sliding_window_view(xp, Wb.shape[0], axis=-1)[..., start::m * down, :][..., :nbb, :]
    y = np.matmul(win, Wb)
    return y.reshape(*x.shape[:-1], nbb * m * up)[..., :n_out]


def resample_signal(x: np.ndarray, fs_in: float, fs_out: float, axis: int = -1) -> np.ndarray:
    """Resample along ``axis`` from ``fs_in`` to ``fs_out`` by polyphase filtering.

    The filter, padding and phase are those of ``scipy.signal.resample_poly``
    (Kaiser-windowed FIR, zero padding); for rate ratios ``up/down`` with both at
    most 64 the polyphase filter runs as one matrix product over all records and
    leads (equal to ``resample_poly`` up to float rounding; ``benchmarks/preprocessing.py``
    compares the two), otherwise ``resample_poly`` itself runs.  Keeps float32 and gives
    ``round(n * fs_out / fs_in)`` samples.

    Examples
    --------
    >>> import numpy as np
    >>> resample_signal(np.zeros((2, 12, 5000), np.float32), 500, 400).shape
    (2, 12, 4000)
    """
    x = np.asarray(x)
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float32
    up, down = _ratio(fs_in, fs_out)
    if up == down:
        return x.astype(dtype, copy=False)
    n = x.shape[axis]
    if x.dtype in (np.float32, np.float64) and x.size and max(up, down) <= 64:
        # skecg's own polyphase product instead of scipy's, kept because it is faster and equal:
        # benchmarks/preprocessing.py times it against resample_poly, and
        # tests/preprocessing/test_preprocessing.py::test_blocked_resampling_matches_scipy tests it equal
        y = np.moveaxis(_resample_poly_gemm(np.moveaxis(x.astype(dtype, copy=False), axis, -1), up, down), -1, axis)
    else:
        y = _sps.resample_poly(x, up, down, axis=axis)
    n_out = int(round(n * float(fs_out) / float(fs_in)))
    if y.shape[axis] != n_out:  # resample_poly gives ceil(n*up/down); trim to round()
        y = np.take(y, np.arange(min(n_out, y.shape[axis])), axis=axis)
    return y.astype(dtype, copy=False)


# --- leads ------------------------------------------------------------------------------
INDEPENDENT_8 = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
STANDARD_12 = STANDARD_LEADS  # one spelling of the 12 leads (skecg._schema)
LEAD_PRESETS = {"independent8": INDEPENDENT_8, "standard12": STANDARD_12}

# limb leads derivable from I and II: (coefficient of I, coefficient of II)
_DERIVED = {
    "III": (-1.0, 1.0),     # Einthoven: III = II - I
    "aVR": (-0.5, -0.5),    # Goldberger: aVR = -(I + II) / 2
    "aVL": (1.0, -0.5),     # aVL = I - II / 2
    "aVF": (-0.5, 1.0),     # aVF = II - I / 2
}


def select_leads(x: np.ndarray, leads_in, leads_out, derive: bool = True) -> np.ndarray:
    """Pick ``leads_out`` from an array whose lead axis (-2) follows ``leads_in``.

    A missing limb lead (III, aVR, aVL, aVF) is derived from I and II when ``derive``
    (Einthoven and Goldberger).  An unknown lead is an error that lists the available
    ones.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[[1.0, 2.0], [3.0, 5.0]]], np.float32)   # leads I, II
    >>> select_leads(x, ["I", "II"], ["III", "aVF"])[0].tolist()
    [[2.0, 3.0], [2.5, 4.0]]
    """
    leads_in = [normalize_lead_name(c) for c in leads_in]
    leads_out = [normalize_lead_name(c) for c in leads_out]
    if x.shape[-2] != len(leads_in):
        raise ValueError(f"signal has {x.shape[-2]} leads but {len(leads_in)} lead names were given")
    pos = {c: j for j, c in enumerate(leads_in)}
    out = []
    for name in leads_out:
        if name in pos:
            out.append(x[..., pos[name], :])
        elif derive and name in _DERIVED and "I" in pos and "II" in pos:
            a, b = _DERIVED[name]
            out.append(np.float32(a) * x[..., pos["I"], :] + np.float32(b) * x[..., pos["II"], :]
                       if x.dtype == np.float32 else a * x[..., pos["I"], :] + b * x[..., pos["II"], :])
        else:
            extra = " (limb leads can be derived from I and II, which are not both present)" \
                if name in _DERIVED else ""
            raise ValueError(f"lead {name!r} is not available; available leads are {leads_in}{extra}")
    return np.stack(out, axis=-2)


# --- wavelet denoising ----------------------------------------------------------------------
def max_wavelet_level(n_samples: int, wavelet: str = "bior2.6") -> int:
    return pywt.dwt_max_level(n_samples, pywt.Wavelet(wavelet).dec_len)


# The discrete wavelet transform as matrix products.  pywt filters one row at a time with
# a scalar loop; here a level of the transform is one BLAS product over all records and
# leads: ``_DWT_BLOCK`` outputs of both filters come from one window of the
# (symmetrically extended) input, so the work runs at matrix-product speed although the
# matrices hold the filter taps more than once.  Same extension, lengths and phase as
# ``pywt.dwt``/``pywt.idwt`` in their default 'symmetric' mode (tested equal to pywt up to
# float rounding); benchmarks/preprocessing.py measures the gain over pywt.
_DWT_BLOCK = 16
_DWT_CACHE: dict = {}


def _dwt_matrices(wavelet: str, dtype):
    """Analysis matrix ``D``, synthesis matrix ``R``, filter length and synthesis window.

    Analysis: outputs ``bB .. bB+B-1`` of both filters (interleaved lo, hi) are
    ``xe[2bB+1 : 2bB+1 + 2B+F-2] @ D``, ``xe`` the input extended by ``F-1`` samples
    on each side.  Synthesis: output samples ``2bB .. 2bB+2B-1`` of ``pywt.idwt`` are
    ``z[2bB : 2bB + 2Kc] @ R`` with ``z`` the interleaved (approximation, detail)
    coefficients, zero past the end.
    """
    key = (wavelet, np.dtype(dtype).str)
    if key not in _DWT_CACHE:
        w = pywt.Wavelet(wavelet)
        B, F = _DWT_BLOCK, w.dec_len
        dec = (np.asarray(w.dec_lo), np.asarray(w.dec_hi))
        rec = (np.asarray(w.rec_lo), np.asarray(w.rec_hi))
        D = np.zeros((2 * B + F - 2, 2 * B))
        for r in range(B):
            for p in range(2):
                D[2 * r:2 * r + F, 2 * r + p] = dec[p][::-1]
        Kc = B + (F - 1) // 2
        R = np.zeros((2 * Kc, 2 * B))
        for j in range(Kc):
            for s in range(2 * B):
                t = s + F - 2 - 2 * j
                if 0 <= t < F:
                    R[2 * j, s], R[2 * j + 1, s] = rec[0][t], rec[1][t]
        _DWT_CACHE[key] = (D.astype(dtype), R.astype(dtype), F, Kc)
    return _DWT_CACHE[key]


def _dwt_gemm(x: np.ndarray, wavelet: str) -> np.ndarray:
    """One level of ``pywt.dwt(x, wavelet, 'symmetric', axis=-1)``, as (..., n_out, 2)."""
    n = x.shape[-1]
    D, _, F, _ = _dwt_matrices(wavelet, x.dtype)
    B = _DWT_BLOCK
    n_out = (n + F - 1) // 2
    nb = -(-n_out // B)
    extra = max(0, 2 * B * nb + F - 2 - (n + 2 * F - 3))  # zeros so that the last window fits
    # half-sample symmetric extension written in place (np.pad costs 3x more); needs
    # n >= F - 1, which _gemm_dwt_ok checks
    xe = np.empty((*x.shape[:-1], n + 2 * F - 2 + extra), x.dtype)
    xe[..., F - 1:F - 1 + n] = x
    xe[..., :F - 1] = x[..., F - 2::-1]
    xe[..., F - 1 + n:n + 2 * F - 2] = x[..., ::-1][..., :F - 1]
    xe[..., n + 2 * F - 2:] = 0
    win = np.lib.stride_tricks.sliding_window_view(xe[..., 1:], 2 * B + F - 2, axis=-1)[..., ::2 * B, :][..., :nb, :]
    return np.matmul(win, D).reshape(*x.shape[:-1], nb * B, 2)[..., :n_out, :]


def _idwt_gemm(a: np.ndarray, d: np.ndarray, wavelet: str) -> np.ndarray:
    """``pywt.idwt(a, d, wavelet, 'symmetric', axis=-1)`` (``a`` and ``d`` of one length)."""
    n = d.shape[-1]
    _, R, F, Kc = _dwt_matrices(wavelet, d.dtype)
    B = _DWT_BLOCK
    n_rec = 2 * n - F + 2
    nb = -(-n_rec // (2 * B))
    z = np.empty((*d.shape[:-1], max(2 * B * (nb - 1) + 2 * Kc, 2 * n)), d.dtype)
    z[..., 0:2 * n:2] = a
    z[..., 1:2 * n:2] = d
    z[..., 2 * n:] = 0
    win = np.lib.stride_tricks.sliding_window_view(z, 2 * Kc, axis=-1)[..., ::2 * B, :][..., :nb, :]
    return np.matmul(win, R).reshape(*d.shape[:-1], nb * 2 * B)[..., :n_rec]


def _wavedec_gemm(x: np.ndarray, wavelet: str, level: int) -> list:
    """``pywt.wavedec(x, wavelet, level=level, axis=-1)`` by :func:`_dwt_gemm`."""
    details = []
    a = x
    for _ in range(level):
        y = _dwt_gemm(a, wavelet)
        a = y[..., 0]  # a strided view: the next level copies it into its extended input anyway
        details.append(np.ascontiguousarray(y[..., 1]))  # contiguous: thresholding runs 2x faster
    return [a] + details[::-1]


def _waverec_gemm(coeffs: list, wavelet: str) -> np.ndarray:
    """``pywt.waverec(coeffs, wavelet, axis=-1)`` by :func:`_idwt_gemm`."""
    a = coeffs[0]
    for d in coeffs[1:]:
        if a.shape[-1] == d.shape[-1] + 1:
            a = a[..., :-1]
        a = _idwt_gemm(a, d, wavelet)
    return a


def _gemm_dwt_ok(n: int, wavelet: str, level: int) -> bool:
    """Whether every level's input is at least one filter long (else pywt runs)."""
    F = pywt.Wavelet(wavelet).dec_len
    for _ in range(level):
        if n < F - 1:
            return False
        n = (n + F - 1) // 2
    return True


def _mad_sigma(d: np.ndarray) -> np.ndarray:
    """``median(|d|) / 0.6745`` along the last axis (keepdims), one in-place selection."""
    a = np.abs(d)
    n = a.shape[-1]
    # one kth: numpy's partition with a list of two kth is ten times slower along the last
    # axis; the lower middle of an even count is then the largest of the lower half
    a.partition(n // 2, axis=-1)
    med = a[..., n // 2:n // 2 + 1]
    if n % 2 == 0:
        med = (med + a[..., :n // 2].max(axis=-1, keepdims=True)) / d.dtype.type(2)
    return med / d.dtype.type(0.6745)


def wavelet_denoise(x: np.ndarray, wavelet: str = "bior2.6", level: int = 8, *,
                    threshold: str | float = "universal", mode: str = "soft",
                    noise: str = "finest", remove_baseline: bool = False) -> np.ndarray:
    """Wavelet-shrinkage denoising along the last axis, vectorised over the others.

    Decomposes with ``wavelet`` (``bior2.6``: biorthogonal, 2 and 6 vanishing moments)
    to ``level``, thresholds every detail level, and reconstructs.

    Parameters
    ----------
    x : ndarray (..., n_samples)
    wavelet : str, default='bior2.6'
    level : int, default=8
        Must not exceed :func:`max_wavelet_level` (the estimator caps it with a warning).
    threshold : 'universal' or float, default='universal'
        Universal threshold ``sigma * sqrt(2 ln n)`` (Donoho-Johnstone), or a fixed value
        in signal units.
    mode : {'soft', 'hard'}, default='soft'
    noise : {'finest', 'level'}, default='finest'
        ``'finest'``: estimate sigma once, by the MAD of the finest detail level
        (``median(|d1|)/0.6745``, Donoho-Johnstone), and use it for every level.
        ``'level'``: a MAD estimate per level.  On real ECGs the per-level estimate
        takes the QRS and T energy of the coarse levels for noise and erases them: over
        960 real leads of the bundled sample (CPSC, Georgia, Chapman-Ningbo) the
        correlation with the raw lead has median 0.79 and 5th percentile 0.35, against
        0.999 and 0.977 for ``'finest'``, so it is not the default.
    remove_baseline : bool, default=False
        Drop the approximation coefficients (removes the baseline below
        ``fs / 2**(level+1)`` Hz).

    Examples
    --------
    >>> import numpy as np
    >>> wavelet_denoise(np.zeros((2, 12, 5000), np.float32)).any()
    np.False_
    """
    x = np.asarray(x)
    dtype = np.dtype(x.dtype if x.dtype in (np.float32, np.float64) else np.float32)
    x = x.astype(dtype, copy=False)
    n = x.shape[-1]
    fast = x.ndim >= 1 and x.size > 0 and _gemm_dwt_ok(n, wavelet, level)
    coeffs = _wavedec_gemm(x, wavelet, level) if fast else pywt.wavedec(x, wavelet, level=level, axis=-1)
    scale = np.sqrt(2.0 * np.log(n))
    if noise not in ("level", "finest"):
        raise ValueError(f"noise must be 'level' or 'finest', got {noise!r}")
    if mode not in ("soft", "hard"):
        raise ValueError(f"mode must be 'soft' or 'hard', got {mode!r}")
    finest_sigma = None
    if noise == "finest" and isinstance(threshold, str):
        finest_sigma = _mad_sigma(coeffs[-1])
    out = [np.zeros_like(coeffs[0]) if remove_baseline else coeffs[0]]
    for d in coeffs[1:]:
        if isinstance(threshold, str):
            if threshold != "universal":
                raise ValueError(f"threshold must be 'universal' or a number, got {threshold!r}")
            sigma = _mad_sigma(d) if noise == "level" else finest_sigma
            thr = (sigma * scale).astype(dtype)
        else:
            thr = dtype.type(threshold)
        if mode == "soft":
            # d - clip(d, -thr, thr) == sign(d) * max(|d| - thr, 0), in two passes, in place
            # (d is wavedec's own output)
            d = np.subtract(d, np.clip(d, -thr, thr), out=d)
        else:
            d = np.where(np.abs(d) > thr, d, dtype.type(0))
        out.append(d.astype(dtype, copy=False))
    y = _waverec_gemm(out, wavelet) if fast else pywt.waverec(out, wavelet, axis=-1)
    return y[..., :n].astype(dtype, copy=False)


# --- length ---------------------------------------------------------------------------------
def pad_truncate(x, length: int, mode: str = "end", value: float = 0.0) -> np.ndarray:
    """Zero-pad or truncate every record to ``length`` samples; returns a 3-D array.

    ``mode='end'`` pads at the end, ``'center'`` on both sides; truncation always
    keeps the start.  Accepts a 3-D array or a list of 2-D arrays.

    Examples
    --------
    >>> import numpy as np
    >>> pad_truncate([np.ones((1, 3)), np.ones((1, 6))], 4).tolist()
    [[[1.0, 1.0, 1.0, 0.0]], [[1.0, 1.0, 1.0, 1.0]]]
    """
    if mode not in ("end", "center"):
        raise ValueError(f"mode must be 'end' or 'center', got {mode!r}")
    length = int(length)
    if isinstance(x, np.ndarray):
        n_leads = x.shape[1]
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float32
        out = np.full((x.shape[0], n_leads, length), value, dtype=dtype)
        n = min(x.shape[2], length)
        off = (length - n) // 2 if mode == "center" else 0
        out[:, :, off:off + n] = x[:, :, :n]
        return out
    sigs = list(x)
    if not sigs:
        return np.zeros((0, 0, length), np.float32)
    leads = {s.shape[0] for s in sigs}
    if len(leads) != 1:
        raise ValueError(f"records have different lead counts {sorted(leads)}; select leads first")
    dtype = sigs[0].dtype if sigs[0].dtype in (np.float32, np.float64) else np.float32
    out = np.full((len(sigs), leads.pop(), length), value, dtype=dtype)
    for i, s in enumerate(sigs):
        n = min(s.shape[1], length)
        off = (length - n) // 2 if mode == "center" else 0
        out[i, :, off:off + n] = s[:, :n]
    return out

"""Pure numerical functions behind the preprocessing transformers."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy import signal as _sps


def _ratio(fs_in: float, fs_out: float) -> tuple[int, int]:
    if not (np.isfinite(fs_in) and fs_in > 0):
        raise ValueError(f"input sampling rate must be a positive number, got {fs_in}")
    if not (np.isfinite(fs_out) and fs_out > 0):
        raise ValueError(f"output sampling rate must be a positive number, got {fs_out}")
    frac = Fraction(float(fs_out) / float(fs_in)).limit_denominator(10000)
    return frac.numerator, frac.denominator


def resample_signal(x: np.ndarray, fs_in: float, fs_out: float, axis: int = -1) -> np.ndarray:
    """Resample along ``axis`` from ``fs_in`` to ``fs_out`` by polyphase filtering.

    Works on any number of leading dimensions at once (records and leads), keeps
    float32, and gives ``round(n * fs_out / fs_in)`` samples.

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
    y = _sps.resample_poly(x, up, down, axis=axis)
    n_out = int(round(n * float(fs_out) / float(fs_in)))
    if y.shape[axis] != n_out:  # resample_poly gives ceil(n*up/down); trim to round()
        y = np.take(y, np.arange(min(n_out, y.shape[axis])), axis=axis)
    return y.astype(dtype, copy=False)

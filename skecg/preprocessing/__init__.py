"""Preprocessing transformers (scikit-learn estimators) and the pure functions behind them."""

from ._functional import (
    INDEPENDENT_8,
    STANDARD_12,
    max_wavelet_level,
    pad_truncate,
    resample_signal,
    select_leads,
    wavelet_denoise,
)
from ._rr import (
    FREQ_FEATURES,
    HRV_FEATURES,
    NEUROKIT_METHODS,
    TIME_FEATURES,
    detect_r_peaks,
    detect_r_peaks_batch,
    hrv_features,
    pan_tompkins_features,
    rr_intervals,
)
from ._pipeline import SignalPipeline
from ._transformers import (
    LeadSelector,
    PadTruncate,
    Resampler,
    RRFeatureExtractor,
    WaveletDenoiser,
)
from .._records import check_finite_records

__all__ = [
    "FREQ_FEATURES", "HRV_FEATURES", "INDEPENDENT_8", "NEUROKIT_METHODS", "STANDARD_12", "TIME_FEATURES",
    "LeadSelector",
    "PadTruncate", "RRFeatureExtractor", "Resampler", "SignalPipeline", "WaveletDenoiser", "check_finite_records",
    "detect_r_peaks", "detect_r_peaks_batch", "hrv_features", "max_wavelet_level", "pad_truncate",
    "pan_tompkins_features", "resample_signal", "rr_intervals", "select_leads", "wavelet_denoise",
]

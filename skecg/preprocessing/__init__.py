"""Preprocessing transformers (scikit-learn estimators) and the pure functions behind them."""

import lazy_loader as _lazy

from .._records import check_finite_records

# submodules load on first use of one of their names
__getattr__, __dir__, _ = _lazy.attach(__name__, submod_attrs={
    "_functional": ["INDEPENDENT_8", "STANDARD_12", "max_wavelet_level", "pad_truncate", "resample_signal",
        "select_leads", "wavelet_denoise"],
    "_rr": ["FREQ_FEATURES", "HRV_FEATURES", "NEUROKIT_METHODS", "TIME_FEATURES", "detect_r_peaks",
        "detect_r_peaks_batch", "hrv_features", "pan_tompkins_features", "rr_intervals"],
    "_pipeline": ["SignalPipeline"],
    "_transformers": ["LeadSelector", "PadTruncate", "RRFeatureExtractor", "Resampler", "WaveletDenoiser"],
})

__all__ = [
    "FREQ_FEATURES", "HRV_FEATURES", "INDEPENDENT_8", "NEUROKIT_METHODS", "STANDARD_12", "TIME_FEATURES",
    "LeadSelector",
    "PadTruncate", "RRFeatureExtractor", "Resampler", "SignalPipeline", "WaveletDenoiser", "check_finite_records",
    "detect_r_peaks", "detect_r_peaks_batch", "hrv_features", "max_wavelet_level", "pad_truncate",
    "pan_tompkins_features", "resample_signal", "rr_intervals", "select_leads", "wavelet_denoise",
]

"""Ready-made pipelines of the published systems."""

from __future__ import annotations

import pywt
from .preprocessing import LeadSelector, PadTruncate, Resampler, SignalPipeline, WaveletDenoiser


def make_zhu_preprocessing(fs: float = 500, seconds: float = 10, leads="independent8",
                           n_jobs: int | None = None) -> SignalPipeline:
    """Zhu et al.'s multi-source preprocessing as a Pipeline (the one definition of the
    chain: :func:`skecg.apps.experiments.make_named_pipeline` builds its ``'zhu'`` system on it).

    8 independent leads, resampling to ``fs``, ``bior2.6`` level-8 wavelet denoising
    (capped at the deepest level ``fs`` x ``seconds`` samples allow), zero-pad or truncate
    to ``seconds``.  Leads are selected before resampling: the two commute (both are
    linear, one across leads and one along time), so the result is the paper's order
    "resample, then 8 leads" while resampling a third fewer leads.

    Parameters
    ----------
    fs : float, default=500
        Output sampling rate (Hz).
    seconds : float, default=10
        Output length.
    leads : str or list of str, default='independent8'
        See :class:`~skecg.preprocessing.LeadSelector`.
    n_jobs : int, optional
        Threads: chunks of records run through the whole chain in this many threads
        (see :class:`~skecg.preprocessing.SignalPipeline`); the resampling and denoising
        steps use it when the chain cannot run in chunks.

    Returns
    -------
    skecg.preprocessing.SignalPipeline
        A scikit-learn ``Pipeline`` (steps ``leads``, ``resample``, ``denoise``, ``pad``)
        that runs in chunks on in-memory records.

    Examples
    --------
    >>> from skecg.datasets import load_sample
    >>> X, y = load_sample(sources=["PTB"])          # 1000 Hz, 30 s
    >>> make_zhu_preprocessing(500, 10).fit_transform(X).shape
    (10, 8, 5000)
    """
    n = int(round(fs * seconds))
    level = max(1, min(8, pywt.dwt_max_level(n, pywt.Wavelet("bior2.6").dec_len)))
    return SignalPipeline([
        ("leads", LeadSelector(leads)),
        ("resample", Resampler(fs_out=fs, n_jobs=n_jobs)),
        ("denoise", WaveletDenoiser("bior2.6", level=level, n_jobs=n_jobs)),
        ("pad", PadTruncate(length=n)),
    ], n_jobs=n_jobs)

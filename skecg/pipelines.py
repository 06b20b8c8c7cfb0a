"""Ready-made pipelines of the published systems."""

from __future__ import annotations

import numbers

import numpy as np
import pywt
from imblearn.pipeline import Pipeline

from .baselines import make_catboost_baseline
from .ensemble import BradycardiaRuleGate, SinusRhythmFallback
from .models import ECGClassifier
from .preprocessing import LeadSelector, PadTruncate, Resampler, SignalPipeline, WaveletDenoiser
from .sampling import TrainingSubsetSampler
from .tuning import MultilabelThresholdTuner


def make_zhu_preprocessing(fs: float = 500, seconds: float = 10, leads="independent8",
                           n_jobs: int | None = None) -> SignalPipeline:
    """Zhu et al.'s multi-source preprocessing as a Pipeline (the one definition of the
    chain: :func:`make_named_pipeline` builds its ``'zhu'`` system on it).

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
    for name, value in (("fs", fs), ("seconds", seconds)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
            raise ValueError(f"make_zhu_preprocessing: {name} must be a positive number "
                             f"({'Hz, such as 500' if name == 'fs' else 'such as 10'}), got {value!r}")
    n = int(round(fs * seconds))
    level = max(1, min(8, pywt.dwt_max_level(n, pywt.Wavelet("bior2.6").dec_len)))
    return SignalPipeline([
        ("leads", LeadSelector(leads)),
        ("resample", Resampler(fs_out=fs, n_jobs=n_jobs)),
        ("denoise", WaveletDenoiser("bior2.6", level=level, n_jobs=n_jobs)),
        ("pad", PadTruncate(length=n)),
    ], n_jobs=n_jobs)


#: vocabulary each named pipeline predicts
PIPELINE_VOCABULARY = {"zhu": "cinc2020", "huang": "tnmg", "huang-attention": "tnmg", "catboost": "tnmg"}


def make_named_pipeline(name: str, *, fs: float = 100, seconds: float = 10, max_epochs: int = 12,
                        n_per_class: int = 20, random_state=0, n_jobs=None):
    """A ready pipeline of one published system, sized to train on a CPU in a minute.

    - ``'zhu'``: 8 leads, resampling to ``fs``, ``bior2.6`` denoising (level 8 at
      500 Hz; capped to what ``fs`` x ``seconds`` allows), zero-pad/truncate to
      ``seconds``, SE-ResNet with the Sign Loss and tuned thresholds, then the
      bradycardia rule gate (Algorithm 2, veto) and the sinus-rhythm fallback.
    - ``'huang'`` / ``'huang-attention'``: training subset I (``n_per_class`` per class
      and normal), resampling, pad to 2**k samples, Ribeiro's ResNet-1d (without or
      with attention), BCE.
    - ``'catboost'``: Pan-Tompkins HRV features + age and sex into CatBoost, per-class
      thresholds tuned for the challenge score on an inner split of the training data
      (:class:`~skecg.tuning.MultilabelThresholdTuner`).

    The papers' sizes (500 Hz, 4096 or 5000 samples, full-width networks) are
    reachable through ``fs``, ``seconds`` and ``set_params``; the defaults are small so
    that the demo runs in minutes on 2 cores.
    """
    n = int(round(fs * seconds))
    if name == "zhu":
        pipe = Pipeline([
            *make_zhu_preprocessing(fs, seconds, n_jobs=n_jobs).steps,
            ("net", ECGClassifier("se_resnet1d", "sign", module__filters=(32, 64, 64, 128), module__kernel_size=9,
                                  max_epochs=max_epochs, batch_size=32, tune_thresholds=True,
                                  random_state=random_state)),
        ])
        return SinusRhythmFallback(BradycardiaRuleGate(pipe, mode="veto"))
    if name in ("huang", "huang-attention"):
        length = 1 << int(np.ceil(np.log2(n)))
        return Pipeline([
            ("subset", TrainingSubsetSampler("I", n_per_class=n_per_class, random_state=random_state,
                                              allow_smaller=True)),
            ("resample", Resampler(fs, n_jobs=n_jobs)),
            ("pad", PadTruncate(length=length)),
            ("net", ECGClassifier("attention_resnet1d" if name == "huang-attention" else "resnet1d", "bce",
                                  module__filters=(32, 48, 64), module__kernel_size=9, max_epochs=max_epochs,
                                  batch_size=32, tune_thresholds=True, random_state=random_state)),
        ])
    if name == "catboost":
        # thresholds tuned for the challenge score on a patient-grouped quarter of the
        # training records (a fixed 0.5 predicts no rare class and scores below 0)
        return MultilabelThresholdTuner(make_catboost_baseline(iterations=200, thread_count=2,
                                                               random_state=random_state),
                                        scoring="challenge", random_state=random_state)
    raise ValueError(f"unknown pipeline {name!r}; choose one of {sorted(PIPELINE_VOCABULARY)}")

"""Named pipelines of the published systems and the cross-source evaluation protocol."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline
from sklearn.base import clone

from .baselines import make_catboost_baseline
from .ensemble import BradycardiaRuleGate, SinusRhythmFallback
from .labels import get_vocabulary
from .metrics import bootstrap_ci, challenge_score, classification_table, per_class_scores, proba_matrix
from .models import ECGClassifier
from .preprocessing import LeadSelector, PadTruncate, Resampler, WaveletDenoiser
from .sampling import TrainingSubsetSampler

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
    - ``'catboost'``: Pan-Tompkins HRV features + age and sex into CatBoost.

    The papers' sizes (500 Hz, 4096 or 5000 samples, full-width networks) are
    reachable through ``fs``, ``seconds`` and ``set_params``; the defaults are small so
    that the demo runs in minutes on 2 cores.
    """
    n = int(round(fs * seconds))
    if name == "zhu":
        import pywt

        level = min(8, pywt.dwt_max_level(n, pywt.Wavelet("bior2.6").dec_len))
        pipe = Pipeline([
            ("leads", LeadSelector("independent8")),
            ("resample", Resampler(fs, n_jobs=n_jobs)),
            ("denoise", WaveletDenoiser("bior2.6", level=level, n_jobs=n_jobs)),
            ("pad", PadTruncate(length=n)),
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
        return make_catboost_baseline(iterations=200, thread_count=2, random_state=random_state)
    raise ValueError(f"unknown pipeline {name!r}; choose one of {sorted(PIPELINE_VOCABULARY)}")


@dataclass
class FoldResult:
    """One held-out group of sources: predictions, tables and scores."""

    test_sources: list
    n_train: int
    n_test: int
    classes: list
    y_true: np.ndarray
    proba: np.ndarray
    pred: np.ndarray
    table: pd.DataFrame
    challenge: object
    f1_macro: object
    seconds: float
    estimator: object = field(repr=False, default=None)

    def summary(self) -> str:
        return (f"held out {'+'.join(self.test_sources)} ({self.n_test} records; trained on {self.n_train}): "
                f"challenge score {self.challenge}, macro F1 {self.f1_macro}  [{self.seconds:.0f} s]")


def evaluate_cross_source(estimator, X, y, test_groups=None, *, n_resamples: int = 200, random_state=0,
                          keep_estimators: bool = False, log=print) -> list[FoldResult]:
    """Train on some sources, test on the held-out ones, for each group of held-out sources.

    Parameters
    ----------
    estimator : classifier or pipeline
    X : ECGRecords
        ``meta['source']`` defines the sources.
    y : ndarray
    test_groups : list of list of str, optional
        Default: leave-one-source-out over every source.
    n_resamples : int
        Bootstrap resamples for the confidence intervals (95 %, percentile).

    Returns
    -------
    list of FoldResult
    """
    src = X.meta["source"].to_numpy()
    if test_groups is None:
        test_groups = [[s] for s in pd.unique(src)]
    classes = list(X.classes) if X.classes is not None else None
    results = []
    for group in test_groups:
        group = [group] if isinstance(group, str) else list(group)
        te = np.isin(src, group)
        if not te.any():
            raise ValueError(f"no records of source(s) {group}")
        tr = np.flatnonzero(~te)
        te = np.flatnonzero(te)
        t0 = time.perf_counter()
        log(f"  training on {len(tr)} records of {sorted(set(src[tr]))} ...")
        est = clone(estimator).fit(X.take(tr), y[tr])
        Xte = X.take(te)
        proba = proba_matrix(est, Xte)
        pred = np.asarray(est.predict(Xte))
        codes = [str(c) for c in getattr(est, "classes_", classes or range(y.shape[1]))]
        yt = y[te]
        res = FoldResult(
            test_sources=group, n_train=len(tr), n_test=len(te), classes=codes, y_true=yt, proba=proba, pred=pred,
            table=classification_table(yt, pred, codes),
            challenge=bootstrap_ci(lambda a, b: challenge_score(a, b, codes), yt, pred, n_resamples=n_resamples,
                                   random_state=random_state),
            f1_macro=bootstrap_ci(lambda a, b: per_class_scores(a, b)["macro_f1"], yt, pred,
                                  n_resamples=n_resamples, random_state=random_state),
            seconds=time.perf_counter() - t0, estimator=est if keep_estimators else None)
        log("  " + res.summary())
        results.append(res)
    return results


def vocabulary_for(name: str):
    return get_vocabulary(PIPELINE_VOCABULARY[name])

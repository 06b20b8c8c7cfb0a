"""scikit-learn transformers wrapping the pure functions of ``_functional`` and ``_rr``."""

from __future__ import annotations

import numbers
import warnings
from numbers import Integral, Real

import numpy as np
import pywt
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._records import iter_batches, normalize_lead_name, validate_records
from ..utils.validation import ECGInputMixin
from . import _functional as F
from ._rr import (
    HRV_FEATURES,
    NEUROKIT_METHODS,
    detect_r_peaks_batch,
    detect_r_peaks_multilead,
    hrv_features,
    rr_intervals,
)


def _n_jobs(n_jobs) -> int:
    return effective_n_jobs(n_jobs)  # None -> 1 (or the active joblib backend's), -1 -> all cores


_CHUNK = 32  # records per chunk: keeps intermediate arrays in cache


def _chunked(func, arr: np.ndarray, n_jobs: int):
    """Apply ``func`` to chunks of records of a 3-D array (in threads when n_jobs > 1)."""
    if len(arr) <= _CHUNK:
        return func(arr)
    bounds = range(0, len(arr), _CHUNK)
    if n_jobs <= 1:
        parts = [func(arr[b:b + _CHUNK]) for b in bounds]
    else:
        parts = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(func)(arr[b:b + _CHUNK]) for b in bounds)
    return np.concatenate(parts, axis=0)


def _grouped(func, signals, keys, n_jobs: int) -> list:
    """``func(array, key)`` once per group of records sharing ``keys[i]`` and their shape
    (stacked, in chunks), for records that differ (rates, leads, lengths); the outputs come
    back per record, in input order.  One vectorised call per group instead of one per
    record: on the 1,000 mixed-source records of benchmarks/predict.py the records fall into
    a few dozen groups."""
    out: list = [None] * len(signals)
    groups: dict = {}
    for i, (s, k) in enumerate(zip(signals, keys)):
        groups.setdefault((k, s.shape), []).append(i)
    jobs = [(k, idx[b:b + _CHUNK]) for (k, _), idx in groups.items() for b in range(0, len(idx), _CHUNK)]

    def run(k, part):
        return func(np.stack([signals[i] for i in part]), k)

    results = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(run)(k, part) for k, part in jobs) \
        if n_jobs > 1 and len(jobs) > 1 else [run(k, part) for k, part in jobs]
    for (_, part), res in zip(jobs, results):
        for r, i in zip(res, part):
            out[i] = r
    return out


def _rebuild(R, signals, **meta_updates):
    """Return signals in the caller's input kind (``R`` from ``validate_records``), metadata kept true;
    a plain 3-D array whose records came back as a list of equal shapes stays 3-D."""
    if not R.is_records and isinstance(R.X, np.ndarray) and isinstance(signals, list) \
            and len({s.shape for s in signals}) == 1:
        return np.stack(signals)
    return R.like_input(signals, **meta_updates)


_POSITIVE = Interval(Real, 0, None, closed="neither")
_N_JOBS = [Integral, None]


class _SignalTransformer(ECGInputMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Shared fit: validate parameters and input, remember the lead count.

    Signal outputs (3-D arrays, lists of records, :class:`~skecg.ECGRecords`) cannot be
    DataFrames, so these transformers opt out of scikit-learn's output wrapping
    (``auto_wrap_output_keys=None``): ``set_output(transform="pandas")`` and a global
    ``sklearn.set_config(transform_output="pandas")`` leave their output as it is.
    :class:`RRFeatureExtractor`, whose output is a 2-D feature matrix, opts back in.
    """

    _parameter_constraints: dict = {}

    def _check_params(self):
        """Checks across parameters that ``_parameter_constraints`` cannot state (overridden)."""

    def set_output(self, *, transform=None):
        """Set the output container of ``transform`` and ``fit_transform``.

        Signal transformers return signals whatever the setting (a DataFrame cannot
        hold 3-D records); the setting is kept so that the call works inside
        pipelines and ``ColumnTransformer``.  :class:`RRFeatureExtractor` honours it.

        Parameters
        ----------
        transform : {'default', 'pandas', 'polars'}, optional
            None leaves the setting unchanged.

        Returns
        -------
        self

        Examples
        --------
        >>> import numpy as np
        >>> LeadSelector().set_output(transform="pandas").fit_transform(np.zeros((1, 12, 10))).shape
        (1, 8, 10)
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas", "polars"):
            raise ValueError(f"set_output(transform={transform!r}): use 'default', 'pandas' or 'polars'")
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate the parameters and the input; returns self."""
        self._check_params()
        R = validate_records(X)
        if R.is_lazy:  # nothing to learn: values are checked when batches are read
            self.n_leads_in_ = X.shape[1] if X.shape[1] is not None else int(X.meta["n_leads"].iat[0])
            return self
        R.check_finite()
        signals = R.signals
        self.n_leads_in_ = signals.shape[1] if isinstance(signals, np.ndarray) else (
            signals[0].shape[0] if signals else 0)
        return self

    def _meta_after(self, meta) -> dict:
        """Metadata columns this step changes, for lazy input (``{}``: none)."""
        return {}

    def _chunk_function(self, X):
        """A function of a 3-D array that does this fitted step to any chunk of ``X``'s
        records, or None when the records differ in what the step needs (rate, leads,
        length).  :class:`~skecg.preprocessing.SignalPipeline` chains these per chunk."""
        return None

    @staticmethod
    def _common(X, column):
        """The one value of ``X.meta[column]``, or None when records differ."""
        values = set(X.meta[column].tolist())
        return values.pop() if len(values) == 1 else None

    def transform(self, X):
        check_is_fitted(self, "n_leads_in_")
        R = validate_records(X)
        if R.is_lazy:
            return self._transform_lazy(X)
        R.check_finite()
        return self._transform(R)

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then transform; the input is validated once."""
        self.fit(X, y)
        R = validate_records(X)
        return self._transform_lazy(X) if R.is_lazy else self._transform(R)

    def _transform_lazy(self, X):
        """Lazy input: return a lazy container with this step pending (nothing is read).

        The step runs per batch when records are read (``X.read_signals``), e.g. in
        DataLoader workers; see :mod:`skecg._records._lazy`.
        """
        step = clone(self)
        step.__dict__.update({k: v for k, v in self.__dict__.items() if k.endswith("_")})
        return X.with_step(step)


class Resampler(_SignalTransformer):
    """Resample records to one rate by polyphase filtering.

    The filter, padding and phase are those of ``scipy.signal.resample_poly``; for rate
    ratios ``up/down`` with both at most 64 skecg runs the same polyphase filter as one
    matrix product over records and leads (equal up to float rounding; compared in
    ``benchmarks/preprocessing.py``), otherwise ``resample_poly`` itself
    (:func:`skecg.preprocessing.resample_signal`).

    The input rate comes from the records' metadata (``meta['fs']``, which may differ
    per record) or from ``fs_in``.  Output has ``round(n * fs_out / fs_in)`` samples
    and the metadata's ``fs`` becomes ``fs_out``.

    Parameters
    ----------
    fs_out : float, default=500
    fs_in : float, optional
        The input rate, needed for plain arrays; overrides metadata when set.
    n_jobs : int, optional
        Threads over record chunks (scipy's filtering releases the GIL).

    Examples
    --------
    >>> import numpy as np
    >>> Resampler(fs_out=400, fs_in=500).fit_transform(np.zeros((2, 12, 5000), np.float32)).shape
    (2, 12, 4000)
    """

    _parameter_constraints: dict = {"fs_out": [_POSITIVE], "fs_in": [_POSITIVE, None], "n_jobs": _N_JOBS}

    def __init__(self, fs_out: float = 500, fs_in: float | None = None, n_jobs: int | None = None):
        self.fs_out = fs_out
        self.fs_in = fs_in
        self.n_jobs = n_jobs

    def _rates(self, X, n):
        if self.fs_in is not None:
            return np.full(n, float(self.fs_in))
        R = validate_records(X)
        if R.is_records:
            fs = R.column("fs", float)
            bad = np.flatnonzero(~np.isfinite(fs) | (fs <= 0))
            if bad.size:
                names = R.names
                raise ValueError(f"the sampling rate of record(s) {[names[i] for i in bad[:5]]} is missing; "
                                 "set meta['fs'] or pass fs_in")
            return fs
        raise ValueError("the input sampling rate is missing: plain arrays carry no metadata, "
                         "so pass Resampler(fs_in=...)")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        super().fit(X, y)
        self._rates(X, len(X))
        return self

    def _meta_after(self, meta) -> dict:
        fs_in = (np.full(len(meta), float(self.fs_in)) if self.fs_in is not None
                 else meta["fs"].to_numpy(dtype=float))
        bad = np.flatnonzero(~np.isfinite(fs_in) | (fs_in <= 0))
        if bad.size:
            raise ValueError(f"the sampling rate of record(s) {meta['record_id'].iloc[bad[:5]].tolist()} is "
                             "missing; set meta['fs'] or pass fs_in")
        length = np.round(meta["length"].to_numpy(float) * float(self.fs_out) / fs_in).astype(np.int64)
        return {"fs": float(self.fs_out), "length": length}

    def _chunk_function(self, X):
        rates = self._rates(X, len(X))
        if len(X) == 0 or not np.all(rates == rates[0]):
            return None
        fs_in, fs_out = float(rates[0]), float(self.fs_out)
        return lambda a: F.resample_signal(a, fs_in, fs_out)

    def _transform(self, X):
        """Resample; returns the same container kind with ``fs`` updated."""
        R = validate_records(X)
        signals = R.signals
        rates = self._rates(R, len(signals))
        fs_out = float(self.fs_out)
        nj = _n_jobs(self.n_jobs)
        if len(signals) == 0:  # no records: no rate to read; the length is known only from fs_in
            n_out = int(round(signals.shape[2] * fs_out / float(self.fs_in))) \
                if isinstance(signals, np.ndarray) and self.fs_in is not None else 0
            out = np.zeros((0, signals.shape[1], n_out), np.float32) if isinstance(signals, np.ndarray) else []
            return _rebuild(R, out, fs=fs_out)
        if isinstance(signals, np.ndarray) and np.all(rates == rates[0]):
            out = _chunked(lambda a: F.resample_signal(a, rates[0], fs_out), signals, nj)
        else:
            out = _grouped(lambda a, r: F.resample_signal(a, r, fs_out), list(signals), rates, nj)
            if isinstance(signals, np.ndarray) and len({o.shape for o in out}) == 1:
                out = np.stack(out)
        return _rebuild(R, out, fs=fs_out)


class LeadSelector(_SignalTransformer):
    """Select leads by name, in order; derive missing limb leads from I and II.

    No records give no records, with the selected leads.

    Parameters
    ----------
    leads : list of str or {'independent8', 'standard12'}, default='independent8'
        ``'independent8'`` is I, II, V1-V6 (the 8 independent leads Zhu et al. used).
    input_leads : list of str, optional
        Lead names of plain-array input (default: the standard 12-lead order when
        there are 12 leads); records carry their own in ``meta['leads']``.
    derive : bool, default=True
        Derive III, aVR, aVL, aVF from I and II when missing (Einthoven, Goldberger).

    Examples
    --------
    >>> import numpy as np
    >>> LeadSelector().fit_transform(np.zeros((1, 12, 10), np.float32)).shape
    (1, 8, 10)
    """

    _parameter_constraints: dict = {
        "leads": [StrOptions(set(F.LEAD_PRESETS)), "array-like"],
        "input_leads": ["array-like", None],
        "derive": ["boolean"],
    }

    def __init__(self, leads="independent8", input_leads=None, derive: bool = True):
        self.leads = leads
        self.input_leads = input_leads
        self.derive = derive

    def _out_leads(self):
        if isinstance(self.leads, str):
            try:
                return list(F.LEAD_PRESETS[self.leads])
            except KeyError:
                raise ValueError(f"unknown lead preset {self.leads!r}; use {sorted(F.LEAD_PRESETS)} "
                                 "or a list of lead names") from None
        leads = [normalize_lead_name(x) for x in self.leads]
        if not leads:
            raise ValueError("leads is empty")
        return leads

    def _check_params(self):
        self._out_leads()

    def _in_leads(self, X, n_leads):
        if self.input_leads is not None:
            return [normalize_lead_name(x) for x in self.input_leads]
        if n_leads == 12:
            return list(F.STANDARD_12)
        raise ValueError(f"input has {n_leads} leads; pass input_leads= to name them")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        super().fit(X, y)
        self.leads_out_ = self._out_leads()
        return self

    def _meta_after(self, meta) -> dict:
        return {"leads": tuple(self.leads_out_)}

    def _chunk_function(self, X):
        leads_in = self._common(X, "leads")
        if leads_in is None:
            return None
        out_leads, derive = self.leads_out_, self.derive
        return lambda a: F.select_leads(a, leads_in, out_leads, derive)

    def _transform(self, X):
        """Select (and derive) leads; metadata ``leads`` follows."""
        R = validate_records(X)
        signals = R.signals
        out_leads = self.leads_out_
        if len(signals) == 0:  # no records: no lead names to read, the output shape is known
            out = np.zeros((0, len(out_leads), signals.shape[2]), np.float32) if isinstance(signals, np.ndarray) \
                else []
            return R.like_input(out, leads=tuple(out_leads))
        if R.is_records:
            lead_sets = list(R.meta["leads"])
            if isinstance(signals, np.ndarray) and len(set(lead_sets)) == 1:
                out = F.select_leads(signals, lead_sets[0], out_leads, self.derive)
            else:
                out = _grouped(lambda a, ls: F.select_leads(a, ls, out_leads, self.derive), list(signals),
                               lead_sets, 1)
                if isinstance(signals, np.ndarray):
                    out = np.stack(out)
            return R.like_input(out, leads=tuple(out_leads))
        if isinstance(signals, np.ndarray):
            return F.select_leads(signals, self._in_leads(X, signals.shape[1]), out_leads, self.derive)
        return [F.select_leads(s[None], self._in_leads(X, s.shape[0]), out_leads, self.derive)[0] for s in signals]

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "leads_out_")
        return np.asarray(self.leads_out_, dtype=object)


class WaveletDenoiser(_SignalTransformer):
    """Wavelet-shrinkage denoising (Zhu et al.: ``bior2.6`` at level 8).

    Every detail level is thresholded (universal threshold, noise by the MAD of the
    finest level or of each level, soft by default); optionally the approximation is dropped to remove the
    baseline.  The level is capped at what the signal length allows, with a warning.
    The transforms are PyWavelets' (same filters, symmetric extension) run by skecg as
    matrix products over all records and leads (equal to ``pywt.wavedec``/``waverec``
    up to float rounding; see :func:`skecg.preprocessing.wavelet_denoise`); float32
    stays float32.

    No records give no records.

    Parameters
    ----------
    wavelet : str, default='bior2.6'
    level : int, default=8
    threshold : 'universal' or float, default='universal'
    mode : {'soft', 'hard'}, default='soft'
    noise : {'finest', 'level'}, default='finest'
        See :func:`skecg.preprocessing.wavelet_denoise`: the per-level estimate erases
        QRS complexes on real ECGs.
    remove_baseline : bool, default=False
    n_jobs : int, optional
        Threads over record chunks.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 12, 5000)).astype(np.float32)
    >>> WaveletDenoiser().fit_transform(x).dtype
    dtype('float32')
    """

    _parameter_constraints: dict = {
        "wavelet": [StrOptions(set(pywt.wavelist(kind="discrete")))],
        "level": [Interval(Integral, 1, None, closed="left")],
        "threshold": [StrOptions({"universal"}), Interval(Real, 0, None, closed="left")],
        "mode": [StrOptions({"soft", "hard"})],
        "noise": [StrOptions({"level", "finest"})],
        "remove_baseline": ["boolean"],
        "n_jobs": _N_JOBS,
    }

    def __init__(self, wavelet: str = "bior2.6", level: int = 8, threshold="universal", mode: str = "soft",
                 noise: str = "finest", remove_baseline: bool = False, n_jobs: int | None = None):
        self.wavelet = wavelet
        self.level = level
        self.threshold = threshold
        self.mode = mode
        self.noise = noise
        self.remove_baseline = remove_baseline
        self.n_jobs = n_jobs

    def _level_for(self, n, X, which):
        cap = F.max_wavelet_level(n, self.wavelet)
        if cap < 1:
            raise ValueError(f"{which} ({n} samples) is too short for any {self.wavelet} decomposition level")
        if self.level > cap:
            warnings.warn(f"level {self.level} needs more samples than {which} has ({n}); "
                          f"using level {cap}", UserWarning, stacklevel=3)
            return cap
        return int(self.level)

    def _chunk_function(self, X):
        n = X.shape[2]
        if n is None:
            return None
        level = self._level_for(n, X, "the input")
        kw = dict(threshold=self.threshold, mode=self.mode, noise=self.noise, remove_baseline=self.remove_baseline)
        return lambda a: F.wavelet_denoise(a, self.wavelet, level, **kw)

    def _transform(self, X):
        R = validate_records(X)
        signals = R.signals
        nj = _n_jobs(self.n_jobs)
        kw = dict(threshold=self.threshold, mode=self.mode, noise=self.noise,
                  remove_baseline=self.remove_baseline)
        if len(signals) == 0:  # no records: nothing to denoise (and no length to check)
            return R.X
        if isinstance(signals, np.ndarray):
            level = self._level_for(signals.shape[2], X, "the input")
            out = _chunked(lambda a: F.wavelet_denoise(a, self.wavelet, level, **kw), signals, nj)
        else:
            names = R.names
            levels = [self._level_for(s.shape[1], X, names[i]) for i, s in enumerate(signals)]
            out = _grouped(lambda a, lv: F.wavelet_denoise(a, self.wavelet, lv, **kw), list(signals), levels, nj)
        return _rebuild(R, out)


class PadTruncate(_SignalTransformer):
    """Zero-pad or truncate to a fixed length; the output is 3-D.

    No records give no records of the fitted length; ``fit`` on no records with
    ``seconds`` and no ``fs`` raises (there is no rate to read).

    Parameters
    ----------
    length : int, optional
        Samples.
    seconds : float, optional
        Seconds (needs one sampling rate: from the records or ``fs``); exactly one of
        ``length`` and ``seconds`` is set.
    fs : float, optional
        Sampling rate of plain-array input, for ``seconds``.
    mode : {'end', 'center'}, default='end'
        Where padding goes; truncation keeps the start.

    Examples
    --------
    >>> import numpy as np
    >>> PadTruncate(seconds=10, fs=500).fit_transform([np.ones((12, 3000), np.float32)]).shape
    (1, 12, 5000)
    """

    _parameter_constraints: dict = {
        "length": [Interval(Integral, 1, None, closed="left"), None],
        "seconds": [_POSITIVE, None],
        "fs": [_POSITIVE, None],
        "mode": [StrOptions({"end", "center"})],
    }

    def __init__(self, length: int | None = None, seconds: float | None = None, fs: float | None = None,
                 mode: str = "end"):
        self.length = length
        self.seconds = seconds
        self.fs = fs
        self.mode = mode

    def _check_params(self):
        if (self.length is None) == (self.seconds is None):
            raise ValueError("set exactly one of length (samples) and seconds")

    def _n(self, X):
        if self.length is not None:
            return int(self.length)
        if self.fs is not None:
            fs = float(self.fs)
        elif validate_records(X).is_records:
            X = validate_records(X).records
            if len(X) == 0:
                raise ValueError("PadTruncate(seconds=...) needs a sampling rate, and X holds no records to read "
                                 "one from; pass fs= or length=")
            fs = X.fs
        else:
            raise ValueError("seconds needs a sampling rate: pass fs= for plain arrays")
        return int(round(self.seconds * fs))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        super().fit(X, y)
        self.length_ = self._n(X)
        return self

    def _meta_after(self, meta) -> dict:
        if self.length is None and self.fs is None:
            fs = set(meta["fs"].tolist())
            if len(fs) != 1:
                raise ValueError(f"PadTruncate(seconds=...) needs one sampling rate, the records have {sorted(fs)}")
        return {"length": int(self.length_)}

    def _chunk_function(self, X):
        n, mode = self._n(X), self.mode
        return lambda a: a if a.shape[2] == n else F.pad_truncate(a, n, mode)

    def _transform(self, X):
        R = validate_records(X)
        signals = R.signals
        n = self._n(R) if len(signals) else int(self.length_)  # no records: no rate to read, the fitted length
        if isinstance(signals, np.ndarray) and signals.shape[2] == n:
            return R.X  # already the right length: nothing to copy
        return R.like_input(F.pad_truncate(signals, n, self.mode))


class RRFeatureExtractor(_SignalTransformer, auto_wrap_output_keys=("transform",)):
    """R peaks by Pan-Tompkins on one lead, RR intervals, HRV features, age and sex.

    Features (:meth:`get_feature_names_out`): 21 time-domain and 9 frequency-domain
    HRV features (see :func:`skecg.preprocessing.hrv_features`), then ``age`` and
    ``sex`` (1 male, 0 female) from the metadata when ``demographics``.
    Records with fewer than ``min_beats`` beats (e.g. a flat lead) give NaN for every
    HRV feature but ``n_beats``; unknown age or sex, and frequency bands a short record
    cannot resolve, are NaN too.  Gradient boosting (CatBoost) takes NaN as missing.

    Parameters
    ----------
    lead : str or int, default='II'
        Lead name (looked up in the records' lead names, or the 12-lead order for
        plain arrays) or index.
    fs : float, optional
        Sampling rate of plain-array input.
    min_beats : int, default=3
    demographics : bool, default=True
    n_jobs : int, optional
        Threads over records.
    method : str, default='skecg'
        R-peak detector: skecg's (:func:`skecg.preprocessing.detect_r_peaks`),
        ``'multilead'`` (beats found on the fused energy of all the record's leads, R
        peaks on ``lead``: ``skecg.preprocessing._rr.detect_r_peaks_multilead``) or one
        of neurokit2's methods (``'neurokit'``, ``'pantompkins1985'``, ...; see
        ``skecg.preprocessing._rr.NEUROKIT_METHODS``), run as ``ecg_clean`` + ``ecg_peaks``.

    Examples
    --------
    >>> from skecg.datasets import load_sample
    >>> X, y = load_sample(sources=["Georgia"])
    >>> F = RRFeatureExtractor().fit_transform(X)
    >>> F.shape
    (30, 32)
    """

    _parameter_constraints: dict = {
        "lead": [str, Interval(Integral, 0, None, closed="left")],
        "fs": [_POSITIVE, None],
        "min_beats": [Interval(Integral, 2, None, closed="left")],
        "demographics": ["boolean"],
        "n_jobs": _N_JOBS,
        "method": [StrOptions({"skecg", "multilead", *NEUROKIT_METHODS})],
    }

    def __init__(self, lead="II", fs: float | None = None, min_beats: int = 3, demographics: bool = True,
                 n_jobs: int | None = None, method: str = "skecg"):
        self.lead = lead
        self.fs = fs
        self.min_beats = min_beats
        self.demographics = demographics
        self.n_jobs = n_jobs
        self.method = method

    def _lead_index(self, leads) -> int:
        if isinstance(self.lead, numbers.Integral):
            if int(self.lead) >= len(leads):
                raise ValueError(f"RRFeatureExtractor(lead={self.lead}) asks for lead index {self.lead}, but the "
                                 f"records have {len(leads)} leads ({list(leads)}); pass an index below "
                                 f"{len(leads)} or a lead name")
            return int(self.lead)
        name = normalize_lead_name(self.lead)
        leads = [normalize_lead_name(x) for x in leads]
        if name not in leads:
            raise ValueError(f"lead {name!r} is not available; available leads are {leads}")
        return leads.index(name)

    def _rates(self, X, n) -> np.ndarray:
        """Sampling rate of every record: ``fs`` if set, else the records' metadata."""
        if self.fs is not None:
            return np.full(n, float(self.fs))
        R = validate_records(X)
        if not R.is_records:
            raise ValueError("the sampling rate is missing: pass RRFeatureExtractor(fs=...) for plain arrays")
        rates = R.column("fs", float)
        if np.any(~np.isfinite(rates)):
            raise ValueError("the sampling rate of some records is missing (meta['fs'] is NaN)")
        return rates

    def peaks(self, X) -> list[np.ndarray]:
        """R-peak sample indices of every record (on the chosen lead).

        A lazy container is streamed in batches (with a progress bar on a terminal).
        """
        R = validate_records(X)
        if R.is_lazy:
            return [p for _, batch in iter_batches(R.records, desc="R peaks") for p in self.peaks(batch)]
        R.check_finite()
        signals = R.signals
        n = len(signals)
        rates = self._rates(R, n)
        if R.is_records:
            lead_idx = [self._lead_index(ls) for ls in R.meta["leads"]]
        else:
            n_leads = signals.shape[1] if isinstance(signals, np.ndarray) else signals[0].shape[0]
            lead_idx = [self._lead_index(F.STANDARD_12 if n_leads == 12 else range(n_leads))] * n
        out: list = [None] * n
        groups: dict = {}
        for i, s in enumerate(signals):
            groups.setdefault((rates[i], s.shape[1], s.shape[0] if self.method == "multilead" else 0), []).append(i)
        nj = _n_jobs(self.n_jobs)

        def run(idx, fs):
            if self.method == "multilead":
                return detect_r_peaks_multilead(np.stack([signals[i] for i in idx]), fs,
                                                lead=[lead_idx[i] for i in idx])
            return detect_r_peaks_batch(np.stack([signals[i][lead_idx[i]] for i in idx]), fs, self.method)

        jobs = []
        for (fs, *_), idx in groups.items():
            for part in np.array_split(np.asarray(idx), max(1, min(nj * 2, len(idx)) if nj > 1 else 1)):
                if len(part):
                    jobs.append((part, fs))
        results = Parallel(n_jobs=nj, prefer="threads")(delayed(run)(p, fs) for p, fs in jobs) \
            if nj > 1 else [run(p, fs) for p, fs in jobs]
        for (part, _), res in zip(jobs, results):
            for i, pk in zip(part, res):
                out[i] = pk
        return out

    def rr_intervals(self, X) -> list[np.ndarray]:
        """R-R intervals in seconds of every record (on the chosen lead)."""
        pk = self.peaks(X)
        return [rr_intervals(p, fs) for p, fs in zip(pk, self._rates(X, len(pk)))]

    def _transform(self, X):
        """Feature matrix of shape (n_records, n_features), float64."""
        rr = self.rr_intervals(X)
        n = len(rr)
        feats = np.stack([hrv_features(r, self.min_beats) for r in rr]) if n else np.zeros((0, len(HRV_FEATURES)))
        if self.demographics:  # NaN where unknown (always, for plain arrays)
            meta = validate_records(X).meta
            age = meta["age"].to_numpy(dtype=float)
            sex = meta["sex"].map({"M": 1.0, "F": 0.0}).to_numpy(dtype=float)
            feats = np.column_stack([feats, age, sex])
        return feats

    def _transform_lazy(self, X):
        """Features are small: stream the records and return the matrix in memory."""
        return self._transform(X)

    # defined here (not only inherited) so that scikit-learn wraps them for set_output:
    # the features are 2-D, so pandas/polars output gives a frame named by get_feature_names_out
    def transform(self, X):
        """Feature matrix of shape (n_records, n_features), float64 (a DataFrame under
        ``set_output(transform="pandas")``)."""
        return super().transform(X)

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then the feature matrix; the input is validated once."""
        return super().fit_transform(X, y, **fit_params)

    def get_feature_names_out(self, input_features=None):
        names = list(HRV_FEATURES) + (["age", "sex"] if self.demographics else [])
        return np.asarray(names, dtype=object)

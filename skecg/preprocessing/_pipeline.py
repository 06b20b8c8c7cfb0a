"""A Pipeline of signal transformers that runs chunk by chunk on in-memory records."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from numbers import Integral

import numpy as np
from sklearn.base import _fit_context
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from .._records import ECGRecords, check_finite_records, nonfinite_records, validate_records
from .._threads import local_threads
from ..sources import ArraySource
from ._transformers import _SignalTransformer


class _NonFinite(Exception):
    """A chunk holds NaN or inf (the whole input is then checked for the message)."""


class SignalPipeline(Pipeline):
    """A scikit-learn ``Pipeline`` of skecg signal transformers that, on in-memory
    records, sends each chunk of records through every step before the next chunk.

    scikit-learn's ``Pipeline`` runs each step over all records before the next step
    starts, so each step writes a full-size intermediate array (1,000 records of
    8 x 4,000 samples: 128 MB per step), and the first touch of that memory (page
    faults) is paid once per step, mostly in one thread.  Here the steps are fitted on
    the records' metadata (they are stateless: rates, lead names, lengths), then
    chunks of ``chunk_size`` records run through the whole chain in ``n_jobs`` threads
    and are written into one output array: intermediates stay a few MB and only the
    output is new memory.  Results equal ``Pipeline``'s (tested), and so do the
    parameters (``denoise__level`` ...), ``named_steps``, slicing and the fitted
    steps.  ``benchmarks/preprocessing.py`` measures both.

    The chunked run applies to an in-memory :class:`~skecg.ECGRecords` whose records
    share one shape, with steps that are skecg signal transformers (``LeadSelector``,
    ``Resampler``, ``WaveletDenoiser``, ``PadTruncate``) and no ``memory`` cache.  Any
    other input (lazy containers, which already run their steps per batch; lists;
    plain arrays), other steps, or fit parameters run exactly as in ``Pipeline``.

    Parameters
    ----------
    steps : list of (str, transformer)
        As in :class:`sklearn.pipeline.Pipeline`.
    transform_input, memory, verbose
        As in :class:`sklearn.pipeline.Pipeline`.
    n_jobs : int, optional
        Threads running chunks (None: 1, -1: every core).  The steps' own ``n_jobs``
        apply when the chain does not run in chunks.
    chunk_size : int, default=64
        Records per chunk.  Chunks run the steps' array functions directly, so the
        steps' own ``n_jobs`` start no threads inside a chunk's thread.  Much smaller
        chunks pay Python overhead per chunk (held under the GIL, so two threads then
        gain little); much larger ones lose the cache.

    See Also
    --------
    skecg.pipelines.make_zhu_preprocessing : Zhu et al.'s chain, built on this class.

    Examples
    --------
    >>> from skecg.datasets import load_sample
    >>> from skecg.preprocessing import LeadSelector, PadTruncate, Resampler
    >>> X, _ = load_sample(sources=["PTB"])          # 10 records, 1000 Hz, 30 s
    >>> pipe = SignalPipeline([("leads", LeadSelector()), ("resample", Resampler(250)),
    ...                        ("pad", PadTruncate(seconds=10))], chunk_size=4, n_jobs=2)
    >>> Z = pipe.fit_transform(X)
    >>> Z.shape, Z.fs
    ((10, 8, 2500), 250.0)
    """

    _parameter_constraints: dict = {
        **Pipeline._parameter_constraints,
        "n_jobs": [Integral, None],
        "chunk_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, steps, *, transform_input=None, memory=None, verbose=False, n_jobs=None,
                 chunk_size: int = 64):
        super().__init__(steps, transform_input=transform_input, memory=memory, verbose=verbose)
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size

    def _chunked_ok(self, X, params) -> bool:
        """Whether ``X`` and the steps allow the chunked run (else: sklearn's Pipeline)."""
        if params or self.memory is not None:
            return False
        steps = [s for _, s in self.steps if s is not None and s != "passthrough"]
        # steps that stay pending on lazy input (RRFeatureExtractor streams instead)
        if not steps or not all(isinstance(s, _SignalTransformer)
                                and type(s)._transform_lazy is _SignalTransformer._transform_lazy for s in steps):
            return False
        R = validate_records(X)
        return R.is_records and not R.is_lazy and not X.is_ragged and len(X) > self.chunk_size

    def _pending(self, X) -> ECGRecords:
        """``X`` as a lazy view (no copy) that the steps fit and transform on metadata alone."""
        return ECGRecords.from_source(ArraySource(X.signals, X.meta), classes=X.classes, skipped=X.skipped)

    def _run(self, X: ECGRecords, pending: ECGRecords) -> ECGRecords:
        """Every chunk of ``X`` through every fitted step, into one output array."""
        functions, Z = [], pending
        for _, _, step in self._iter(with_final=True, filter_passthrough=True):
            functions.append(step._chunk_function(Z))
            Z = step.transform(Z)  # lazy: metadata only
        if any(f is None for f in functions):  # records differ in rate, leads or length: per batch
            # (each batch is checked for NaN/inf as it is read, naming the record)
            return Z.load(max_bytes=np.iinfo(np.int64).max, batch_size=self.chunk_size, n_jobs=self.n_jobs)

        signals, c, n = X.signals, int(self.chunk_size), len(X)

        def chain(a):
            z = signals[a:a + c]
            if len(nonfinite_records(z)):  # each chunk checked in its own thread
                raise _NonFinite
            for f in functions:
                z = f(z)
            return z

        starts = range(0, n, c)
        if None in Z.shape:  # the output shape is not known from the metadata: the first chunk says
            first = chain(0)
            out = np.empty((n,) + first.shape[1:], first.dtype)
            out[:c] = first
            starts = starts[1:]
        else:
            out = np.empty(Z.shape, np.float32)

        def fill(a):
            out[a:a + c] = chain(a)

        threads = min(local_threads(self.n_jobs), len(starts))
        try:
            if threads <= 1:
                for a in starts:
                    fill(a)
            else:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(fill, starts))  # list(): re-raises a chunk's error
        except _NonFinite:
            check_finite_records(X)  # raises, naming every record that holds NaN or inf
            raise
        meta = Z.meta.drop(columns=["n_leads", "length"], errors="ignore")
        return ECGRecords(out, meta, classes=X.classes, skipped=X.skipped)

    @_fit_context(prefer_skip_nested_validation=False)  # the steps are validated as they fit
    def fit(self, X, y=None, **params):
        """Fit every step (on the records' metadata when it can; see the class)."""
        if not self._chunked_ok(X, params):
            return super().fit(X, y, **params)
        check_finite_records(X)
        super().fit(self._pending(X), y)
        return self

    @_fit_context(prefer_skip_nested_validation=False)  # the steps are validated as they fit
    def fit_transform(self, X, y=None, **params):
        """Fit every step and transform ``X`` (in chunks when it can; see the class)."""
        if not self._chunked_ok(X, params):
            return super().fit_transform(X, y, **params)
        pending = self._pending(X)
        super().fit(pending, y)
        return self._run(X, pending)

    def transform(self, X, **params):
        """Transform ``X`` with the fitted steps (in chunks when it can; see the class)."""
        if not self._chunked_ok(X, params):
            return super().transform(X, **params)
        check_is_fitted(self)  # scikit-learn's NotFittedError, not a step's missing attribute
        return self._run(X, self._pending(X))

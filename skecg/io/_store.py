"""Open and write skecg stores (the format: :mod:`skecg.sources._store`)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._records import ECGRecords, validate_records
from ..labels import get_vocabulary
from ..sources import SourceError, StoreSource, is_store
from ._common import SkippedRecordsWarning


def open_store(path, vocabulary=None, *, verify: str = "size", locking=None, rdcc_nbytes=None):
    """Open a store as a lazy :class:`~skecg.ECGRecords`: signals stay on disk.

    Metadata (and ``y``) are read into memory; signals are read in batches when a
    transformer, an estimator or :meth:`~skecg.ECGRecords.read_signals` asks, with
    pending preprocessing steps applied per batch.  Indexing, ``clone`` and pickling
    never read signals: a container pickles to a handle of a few kB.

    Parameters
    ----------
    path : str or Path
        A store written by :func:`write_store`, :meth:`ECGRecords.to_store` or
        ``skecg convert`` (its folder, or the ``skecg_store.json`` inside it).
    vocabulary : str, Vocabulary or list of str, optional
        Columns of ``y``, encoded from each record's ``dx`` codes.  By default the
        ``y`` saved with the store, else the store's classes.
    verify : {'size', 'checksum'}, default='size'
        ``'checksum'`` checks every record's Adler-32 when it is read.
    locking : bool, optional
        h5py file locking for shards read through h5py (``HDF5_USE_FILE_LOCKING``
        overrides it).
    rdcc_nbytes : int, optional
        h5py chunk-cache size for chunked shards.

    Returns
    -------
    records : ECGRecords (lazy)
    y : ndarray of shape (n_records, n_classes), or None when the store has neither
        labels nor classes and no vocabulary is given

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from skecg.datasets import load_sample
    >>> X, y = load_sample("tnmg", sources=["Georgia"], fs=500)
    >>> path = tempfile.mkdtemp() + "/georgia"
    >>> _ = write_store(X, path, y)
    >>> Xs, ys = open_store(path)
    >>> Xs.is_lazy, Xs.shape == X.shape, bool((ys == y).all())
    (True, True, True)
    """
    path = Path(path)
    if path.name == "skecg_store.json" and path.is_file():  # the store's manifest names its folder
        path = path.parent
    if not path.exists():
        raise FileNotFoundError(f"store {path} does not exist")
    src = StoreSource(path, verify=verify, locking=locking, rdcc_nbytes=rdcc_nbytes)
    man = src.manifest
    classes = man.get("classes")
    X = ECGRecords.from_source(src, classes=classes)
    skipped_file = Path(path) / "skipped.csv"
    if skipped_file.is_file():
        sk = pd.read_csv(skipped_file, dtype=str, keep_default_na=False)
        X.skipped = list(zip(sk["record"], sk["reason"]))
    y_file = Path(path) / "y.npy"
    if vocabulary is not None:
        vocab = get_vocabulary(vocabulary)
        X.classes = list(vocab.classes)
        y = vocab.encode(X.meta["dx"])
    elif y_file.is_file():
        try:
            y = np.load(y_file, allow_pickle=False)
        except ValueError as e:
            raise SourceError(str(path), f"y.npy cannot be read without unpickling ({e})") from None
        if len(y) != len(X):
            raise SourceError(str(path), f"y.npy has {len(y)} rows for {len(X)} records")
    elif classes is not None:
        y = get_vocabulary(classes).encode(X.meta["dx"])
    else:
        y = None
    return X, y


def write_store(X, path, y=None, *, dtype: str = "float32", shard_mb: float = 256, overwrite: bool = False,
                progress=None):
    """Write records as a store that :func:`open_store` reads lazily.

    Parameters
    ----------
    X : ECGRecords (in memory or lazy, pending steps are applied on the way) or a
        3-D array
    path : str or Path
        A new directory (written as ``<path>.partial`` and renamed when complete).
    y : array-like of shape (n_records, n_classes), optional
        Saved as ``y.npy`` (loaded back without pickle).
    dtype : {'float32', 'float16'}, default='float32'
        float16 halves the disk; batches are cast to float32 on the model's device.
    shard_mb : float, default=256
        Approximate size of each shard file.
    overwrite : bool, default=False

    Returns
    -------
    Path of the store.

    Examples
    --------
    See :func:`open_store`.
    """
    if not validate_records(X).is_records:
        X = ECGRecords(X)
    if y is not None and len(y) != len(X):
        raise ValueError(f"y has {len(y)} rows for {len(X)} records")
    path = Path(path)
    if is_store(path) and not overwrite:
        raise FileExistsError(f"{path} is already a store; pass overwrite=True to replace it")
    if path.exists() and not is_store(path) and not _empty_dir(path):  # overwrite replaces a store, nothing else
        raise FileExistsError(f"{path} exists and is not a skecg store; choose another destination")
    return X.to_store(path, y, dtype=dtype, shard_bytes=int(shard_mb * 2**20), overwrite=overwrite,
                      progress=progress)


def _warn_skipped(skipped, what):
    if skipped:
        warnings.warn(f"{what}: skipped {len(skipped)} record(s): "
                      + "; ".join(f"{r}: {why}" for r, why in skipped[:20])
                      + (" ..." if len(skipped) > 20 else ""), SkippedRecordsWarning, stacklevel=3)


def _empty_dir(path) -> bool:
    """True for an existing folder with nothing in it (replacing it loses nothing)."""
    return Path(path).is_dir() and next(Path(path).iterdir(), None) is None

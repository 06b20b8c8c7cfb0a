"""``skecg convert``: any folder skecg reads, written as a store (resumable, parallel, atomic)."""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from tqdm.auto import tqdm

from .._reading import find_file
from .._records import ECGRecords
from ..labels import get_vocabulary
from .. import preprocessing  # a lazy face: the transformers load when a conversion resamples
from ..sources import SourceError, StoreSource, StoreWriter, is_store
from ._challenge import read_challenge_folder
from ._code15 import code15_source
from ._common import SkippedRecordsWarning, check_fs
from ._cpsc import read_cpsc2018
from ._ptbxl import read_ptbxl, read_ptbxl_table
from ._sph import read_sph, read_sph_table
from ._tnmg import read_tnmg_test


def detect_format(path) -> str:
    """``'store'``, ``'code15'``, ``'tnmg-test'``, ``'ptbxl'``, ``'sph'``, ``'challenge'`` or ``'cpsc2018'``
    for a folder.

    File names are matched in any case (``A0001.HEA``, ``Metadata.csv``), as the readers do.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is a file, not a folder of records")
    if is_store(path):
        return "store"
    if find_file(path, "exams.csv") and any(path.glob("*.[hH][dD][fF]5")):
        return "code15"
    if (find_file(path / "annotations", "gold_standard.csv") if (path / "annotations").is_dir() else None) \
            and any(path.glob("*.[hH][dD][fF]5")):
        return "tnmg-test"  # Ribeiro's test set: ecg_tracings.hdf5 + annotations/gold_standard.csv
    if find_file(path, "ptbxl_database.csv"):
        return "ptbxl"
    if find_file(path, "metadata.csv") and next(path.rglob("*.[hH]5"), None) is not None:
        return "sph"
    if next(path.rglob("*.[hH][eE][aA]"), None) is not None:
        return "challenge"
    if next(path.glob("*.[mM][aA][tT]"), None) is not None:
        return "cpsc2018"
    what = " is an empty folder" if next(path.iterdir(), None) is None else ""
    raise ValueError(f"{path}{what}: no store, CODE-15%, SPH, PTB-XL, WFDB or CPSC 2018 records found")


def _keys(kind: str, path: Path) -> list:
    if kind == "store":
        return list(range(len(StoreSource(path))))
    if kind == "code15":
        return list(range(len(code15_source(path))))
    if kind == "ptbxl":
        return [int(i) for i in read_ptbxl_table(find_file(path, "ptbxl_database.csv")).index]
    if kind == "sph":
        return list(read_sph_table(path).index)
    if kind == "challenge":
        return sorted({h.stem for h in path.rglob("*.[hH][eE][aA]")})
    return ["*"]  # CPSC 2018 originals: read in one go (the reader takes no subset)


def _read_shard(kind, path, keys, vocabulary, fs):
    """(records in memory, skipped) for one shard's keys."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedRecordsWarning)  # reported once, in the store
        if kind in ("store", "code15"):
            src = StoreSource(path) if kind == "store" else code15_source(path)
            X = _load_skipping(ECGRecords.from_source(src).take(np.asarray(keys)))
            if fs is not None:
                X = preprocessing.Resampler(fs).fit_transform(X)
        elif kind == "ptbxl":
            rate = 500 if (Path(path) / "records500").is_dir() else 100  # the higher rate present
            X, _ = read_ptbxl(path, vocabulary, ecg_ids=keys, sampling_rate=rate, fs=fs, on_error="skip")
        elif kind == "challenge":
            X, _ = read_challenge_folder(path, vocabulary, records=keys, fs=fs, on_error="skip")
        elif kind == "sph":
            X, _ = read_sph(path, vocabulary, records=keys, fs=fs, on_error="skip")
        elif kind == "tnmg-test":
            X, _ = read_tnmg_test(path, vocabulary, fs=fs, on_error="skip")
        else:
            X, _ = read_cpsc2018(path, vocabulary, fs=fs, on_error="skip")
    return X, list(X.skipped)


def _load_skipping(X):
    """A lazy container's records in memory; when the batch cannot be read, record by record,
    the unreadable ones left out and listed in ``skipped`` (as the file readers do)."""
    try:
        return X.load(max_bytes=2**62)
    except SourceError:
        pass
    good, skipped = [], []
    for i in range(len(X)):
        try:
            X[[i]].load()
            good.append(i)
        except SourceError as e:
            skipped.append((str(X.meta["record_id"].iat[i]), e.reason))
    out = X.take(np.asarray(good, dtype=np.intp)).load(max_bytes=2**62)
    out.skipped = list(out.skipped) + skipped
    return out


def _convert_shard(k, kind, path, keys, vocabulary, fs, steps, dest, dtype, plan):
    X, skipped = _read_shard(kind, path, keys, vocabulary, fs)
    if steps is not None and len(X):
        X = clone(steps).fit_transform(X)
    writer = StoreWriter(dest, dtype=dtype, plan=plan, resume=True, overwrite=True)
    sig = X.signals if len(X) else []
    keep = [c for c in X.meta.columns if c not in ("n_leads", "length")]
    writer.write_shard(k, list(sig), X.meta[keep], skipped)
    return len(X), len(skipped)


def convert(src, dest, *, vocabulary="cinc2020", fs=None, steps=None, jobs: int = 1, shard_records: int = 512,
            dtype: str = "float32", resume: bool = True, overwrite: bool = False, progress=None) -> Path:
    """Convert a folder skecg reads into a store, shard by shard.

    Parameters
    ----------
    src : str or Path
        A PhysioNet/CinC WFDB folder, PTB-XL (``records500/`` when present, else
        ``records100/``), SPH, original CPSC 2018 files, CODE-15%
        (``exams_part*.hdf5`` + ``exams.csv``) or a store.
    dest : str or Path
        The new store.  Work goes to ``<dest>.partial`` and is renamed when complete,
        so a half-written store is never mistaken for a complete one.
    vocabulary : default='cinc2020'
        The store's classes (``y`` is encoded from each record's codes at open).
    fs : float, optional
        Resample every record to this rate on the way.
    steps : transformer or Pipeline of stateless steps, optional
        Preprocessing applied on the way (e.g. :func:`skecg.pipelines.make_zhu_preprocessing`).
    jobs : int, default=1
        Shards converted in parallel processes.
    shard_records : int, default=512
        Records per shard.
    dtype : {'float32', 'float16'}
    resume : bool, default=True
        Keep the finished shards of an interrupted run with the same settings.
    overwrite : bool, default=False
        Replace an existing store at ``dest`` (anything else there is refused, never deleted).

    Returns
    -------
    Path of the store; records a reader skipped, with reasons, are in its
    ``skipped.csv`` and reported in a :class:`~skecg.io.SkippedRecordsWarning`.
    """
    src, dest = Path(src), Path(dest)
    fs = check_fs(fs)
    if isinstance(shard_records, bool) or not isinstance(shard_records, (int, np.integer)) or shard_records < 1:
        raise ValueError(f"shard_records must be a positive number of records per shard, got {shard_records!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs == 0:
        raise ValueError(f"jobs must be a number of processes (1, 2, ... or -1 for every core), got {jobs!r}")
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} exists; choose another destination or pass overwrite=True "
                              "(skecg convert --overwrite) to replace the store there")
    if dest.exists() and not is_store(dest) and not _empty_dir(dest):  # overwrite replaces a store, nothing else
        raise FileExistsError(f"{dest} exists and is not a skecg store; overwrite replaces only a store: "
                              "choose another destination")
    kind = detect_format(src)
    keys = _keys(kind, src)
    vocab = get_vocabulary(vocabulary)
    shards = [keys[a:a + shard_records] for a in range(0, len(keys), int(shard_records))]
    plan = {"source": str(src.resolve()), "kind": kind, "n_keys": len(keys),
            "keys_sha1": hashlib.sha1(json.dumps(keys).encode()).hexdigest(),
            "classes": list(vocab.classes), "fs": fs, "shard_records": int(shard_records),
            "steps": None if steps is None else repr(steps)}
    writer = StoreWriter(dest, dtype=dtype, plan=plan, resume=resume, overwrite=True)
    done = writer.done()
    todo = [k for k in range(len(shards)) if k not in done]
    bar = None
    if progress is None or progress:
        bar = tqdm(total=sum(len(shards[k]) for k in todo), unit="rec", desc=f"convert {src.name}",
                   disable=None if progress is None else False)
    t0 = time.perf_counter()
    calls = (delayed(_convert_shard)(k, kind, src, shards[k], vocab.classes, fs, steps, dest, dtype, plan)
             for k in todo)
    results = Parallel(n_jobs=jobs, return_as="generator")(calls) if jobs != 1 else (
        c[0](*c[1], **c[2]) for c in calls)
    for k, (n_ok, n_skip) in zip(todo, results):
        if bar is not None:
            bar.update(len(shards[k]))
    if bar is not None:
        bar.close()
    out = writer.finish(classes=vocab.classes, extra={"seconds": round(time.perf_counter() - t0, 3)})
    skipped = pd.read_csv(out / "skipped.csv", dtype=str, keep_default_na=False)
    if len(skipped):
        warnings.warn(f"convert {src}: skipped {len(skipped)} record(s), listed with reasons in "
                      f"{out / 'skipped.csv'}: " + "; ".join(f"{r}: {w}" for r, w in
                                                             skipped.head(10).itertuples(index=False)),
                      SkippedRecordsWarning, stacklevel=2)
    return out


def _empty_dir(path) -> bool:
    """True for an existing folder with nothing in it (replacing it loses nothing)."""
    return Path(path).is_dir() and next(Path(path).iterdir(), None) is None

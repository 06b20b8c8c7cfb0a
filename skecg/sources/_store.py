"""The skecg store: records on disk in a layout made for random batch reads.

Layout (a directory)::

    skecg_store.json       format, version, dtype, classes, shards; written last
    meta.csv               one row per record: metadata + shard, offset, n_leads, length
    y.npy                  the label matrix, when one was written (loaded allow_pickle=False)
    skipped.csv            records a conversion skipped, and why
    signals-00000.h5 ...   one HDF5 file per shard: a 1-D contiguous dataset "signals"

Record ``i`` is ``signals[offset:offset + n_leads * length].reshape(n_leads, length)``
of its shard: leads first, as the networks take it, so a read is one contiguous slice
and no transposition.  Records of any length and lead count share the layout (the
"flat array plus offsets" form), and records that follow each other in a shard are
read back to back as one run.

Why this layout (measured by ``benchmarks/out_of_core.py``):

- HDF5 keeps the files self-describing and readable by any HDF5 tool, but the data
  set is contiguous and uncompressed, so skecg reads it through ``numpy.memmap`` at
  the data set's file offset: no HDF5 call per read, fork-safe DataLoader workers.
  Chunked layouts with several records per chunk read ~50 rec/s at random, and
  h5py fancy indexing is an order of magnitude slower than single reads; zarr v3
  gave 0.5-1k rec/s and is reported to deadlock in forked workers.
- Shards (default about 256 MB each) are written whole to a temporary name and then
  renamed, so a conversion can run shards in parallel, resume after an interrupt
  without redoing finished shards, and never leaves a half-written shard that looks
  complete.  ``skecg_store.json`` is written last: a directory without it is not a
  store.
- float16 halves the disk; batches stay float16 until the model casts them on its
  device.
- JSON and CSV for the tables: nothing in a store is unpickled, so a store from
  someone else cannot run code.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._finite import nonfinite_records
from ._base import SignalSource, SourceError, runs
from ._files import H5Array

FORMAT = "skecg-store"
VERSION = 1
MANIFEST = "skecg_store.json"
META = "meta.csv"
LAYOUT_COLUMNS = ("shard", "offset", "n_leads", "length", "checksum")
_TUPLE_COLUMNS = ("leads", "dx")


def is_store(path) -> bool:
    """True when ``path`` is a directory holding a complete skecg store."""
    return (Path(path) / MANIFEST).is_file()


def shard_name(k: int) -> str:
    return f"signals-{k:05d}.h5"


def checksum(sig: np.ndarray) -> int:
    """Adler-32 of a record's stored bytes (detects corrupted shards on ``verify``)."""
    return zlib.adler32(np.ascontiguousarray(sig).view(np.uint8)) & 0xFFFFFFFF


# -- metadata table: tuples as JSON text, nothing pickled ------------------------------------
def meta_to_csv(meta: pd.DataFrame, path) -> None:
    m = meta.copy()
    for col in _TUPLE_COLUMNS:
        if col in m:
            m[col] = [json.dumps(None if v is None else [str(x) for x in v]) for v in m[col]]
    tmp = f"{path}.tmp"
    m.to_csv(tmp, index=False)
    os.replace(tmp, path)


def meta_from_csv(path, name: str) -> pd.DataFrame:
    try:
        m = pd.read_csv(path, dtype={"record_id": str, "patient_id": str, "source": str, "sex": str},
                        keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise SourceError(name, f"{Path(path).name} is missing") from None
    except Exception as e:  # noqa: BLE001 - pandas raises many kinds on a corrupt file
        raise SourceError(name, f"{Path(path).name} cannot be read ({type(e).__name__}: {e})") from None
    for col in _TUPLE_COLUMNS:
        if col in m:
            try:
                m[col] = pd.Series([None if (v := json.loads(s)) is None else tuple(v) for s in m[col]],
                                   dtype=object)
            except (TypeError, ValueError) as e:
                raise SourceError(name, f"{Path(path).name}: column {col!r} is corrupt ({e})") from None
    missing = [c for c in ("record_id",) + LAYOUT_COLUMNS[:4] if c not in m]
    if missing:
        raise SourceError(name, f"{Path(path).name} lacks column(s) {missing}")
    return m


def read_manifest(path) -> dict:
    path = Path(path)
    f = path / MANIFEST
    if not f.is_file():
        hint = (" (an interrupted conversion: run `skecg convert` again to resume it)"
                if (path.parent / (path.name + ".partial")).exists() or path.name.endswith(".partial") else "")
        raise SourceError(str(path), f"not a complete skecg store: {MANIFEST} is missing{hint}")
    try:
        man = json.loads(f.read_text())
    except ValueError as e:
        raise SourceError(str(path), f"{MANIFEST} is corrupt ({e})") from None
    if man.get("format") != FORMAT:
        raise SourceError(str(path), f"{MANIFEST} is not a skecg store manifest")
    if int(man.get("version", 0)) > VERSION:
        raise SourceError(str(path), f"store version {man.get('version')} is newer than this skecg "
                          f"reads ({VERSION}); upgrade skecg")
    return man


class StoreSource(SignalSource):
    """Records of a skecg store, read on demand (see the module docstring for the layout).

    Parameters
    ----------
    path : str or Path
        The store directory.
    verify : {'size', 'checksum'}, default='size'
        ``'size'`` checks at open that every shard holds the bytes its records need;
        ``'checksum'`` also checks each record's Adler-32 on every read (about 10% of
        read throughput).
    locking, rdcc_nbytes : passed to ``h5py.File`` when a shard has to be read through
        h5py (never for stores skecg wrote).
    """

    values_checked = True  # StoreWriter refuses non-finite values

    def __init__(self, path, *, verify: str = "size", locking=None, rdcc_nbytes=None):
        if verify not in ("size", "checksum"):
            raise ValueError(f"verify must be 'size' or 'checksum', got {verify!r}")
        self.path = str(Path(path))
        self.name = f"store {self.path}"
        self.verify = verify
        self.locking = locking
        self.rdcc_nbytes = rdcc_nbytes
        self._load()

    def _load(self):
        man = read_manifest(self.path)
        self.manifest = man
        self.meta = _cached_meta(self.path, self.name)
        self._dtype = np.dtype(man.get("dtype", "float32"))
        shards = man.get("shards", [])
        self._files = [H5Array(Path(self.path) / s["file"], "signals", locking=self.locking,
                               rdcc_nbytes=self.rdcc_nbytes) for s in shards]
        self._shard = self.meta["shard"].to_numpy(np.int64)
        self._offset = self.meta["offset"].to_numpy(np.int64)
        self._size = self._n_leads * self._length
        if len(self.meta) != int(man.get("n_records", len(self.meta))):
            raise SourceError(self.name, f"meta.csv has {len(self.meta)} rows, the manifest says "
                              f"{man.get('n_records')} records")
        if self._shard.size and (self._shard.min() < 0 or self._shard.max() >= len(self._files)):
            raise SourceError(self.name, "meta.csv names a shard the manifest does not list")
        # every shard must hold the bytes its records need (catches truncated shards early)
        for k, spec in enumerate(shards):
            f = Path(self.path) / spec["file"]
            if not f.is_file():
                raise SourceError(self.name, f"shard {spec['file']} is missing")
            rows = np.flatnonzero(self._shard == k)
            need = int((self._offset[rows] + self._size[rows]).max()) if rows.size else 0
            have = int(spec.get("n_values", need))
            if need > have:
                bad = rows[np.argmax(self._offset[rows] + self._size[rows] > have)]
                raise SourceError(self.name, f"shard {spec['file']} is shorter than its records need",
                                  record=self.meta["record_id"].iat[bad])

    def __getstate__(self):
        return {"path": self.path, "verify": self.verify, "locking": self.locking,
                "rdcc_nbytes": self.rdcc_nbytes}

    def __setstate__(self, state):
        self.__init__(state["path"], verify=state["verify"], locking=state["locking"],
                      rdcc_nbytes=state["rdcc_nbytes"])

    @property
    def dtype(self):
        return self._dtype

    def _read_runs(self, rows, out):
        shard, start = self._shard[rows], self._offset[rows]
        stop = start + self._size[rows]
        for a, b in runs(shard, start, stop):
            direct = not isinstance(out, list) and self.verify != "checksum"
            try:
                f = self._files[int(shard[a])]
                # a run lands straight in the batch array: one read, no intermediate copy
                flat = f.read_rows(int(start[a]), int(stop[b - 1]), out[a:b].reshape(-1) if direct else None)
            except SourceError as e:
                raise SourceError(self.name, e.reason, record=self.meta["record_id"].iat[int(rows[a])]) from None
            if direct:
                continue
            pos = 0
            for i in range(a, b):
                r = int(rows[i])
                rec = flat[pos:pos + self._size[r]].reshape(int(self._n_leads[r]), int(self._length[r]))
                pos += self._size[r]
                if self.verify == "checksum" and "checksum" in self.meta:
                    if checksum(rec) != int(self.meta["checksum"].iat[r]):
                        raise SourceError(self.name, "record bytes do not match their checksum (corrupted shard)",
                                          record=self.meta["record_id"].iat[r])
                out[i] = rec
        if isinstance(out, list):
            for i, rec in enumerate(out):
                out[i] = np.array(rec)  # own the memory, not the map


_META_CACHE: dict = {}


def _cached_meta(path: str, name: str) -> pd.DataFrame:
    """Each process reads a store's table once (pickled handles re-open cheaply)."""
    f = Path(path) / META
    try:
        key = (str(f), f.stat().st_mtime_ns)
    except FileNotFoundError:
        raise SourceError(name, f"{META} is missing") from None
    m = _META_CACHE.get(key)
    if m is None:
        m = meta_from_csv(f, name)
        if len(_META_CACHE) >= 8:  # a few stores' tables per process are plenty
            _META_CACHE.pop(next(iter(_META_CACHE)))
        _META_CACHE[key] = m
    return m


class StoreWriter:
    """Write a store shard by shard, atomically and resumably.

    Everything goes to ``<path>.partial/`` first: each shard's signals and its rows of
    the table are written to temporary names and renamed when complete, so a shard is
    either fully there or absent.  :meth:`finish` merges the tables, writes
    ``skecg_store.json`` last and renames the directory to ``path``.  A second writer
    on the same ``path`` with ``resume=True`` keeps the finished shards of an
    interrupted run (:meth:`done`), provided ``plan`` (what is being converted, and
    how) is the same.

    Parameters
    ----------
    path : str or Path
    dtype : {'float32', 'float16'}
    plan : dict, optional
        JSON-able description of the conversion; a resumed run must match it.
    resume : bool, default=True
    overwrite : bool, default=False
        Replace an existing complete store at ``path``.
    """

    def __init__(self, path, *, dtype="float32", plan=None, resume=True, overwrite=False):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float16):
            raise ValueError(f"dtype must be float32 or float16, got {dtype!r}")
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists; choose another destination or pass overwrite=True")
        self.tmp = self.path.with_name(self.path.name + ".partial")
        plan = dict(plan or {}, dtype=self.dtype.name)
        plan_file = self.tmp / "plan.json"
        if self.tmp.exists():
            old = json.loads(plan_file.read_text()) if plan_file.is_file() else None
            if not resume or old != json.loads(json.dumps(plan)):
                shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        if not plan_file.is_file():
            tmp = plan_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(plan, indent=1))
            os.replace(tmp, plan_file)
        self.plan = plan

    def done(self) -> set:
        """Shards finished by this or an interrupted earlier run."""
        return {int(p.name[5:10]) for p in self.tmp.glob("meta-*.csv")}

    def write_shard(self, k: int, signals, meta: pd.DataFrame, skipped=()) -> None:
        """Write shard ``k``: ``signals`` (list of 2-D arrays or a 3-D array) and their rows."""
        import h5py  # on first use: skecg.sources loads with `import skecg`, h5py need not

        if len(signals) != len(meta):
            raise ValueError(f"shard {k}: {len(signals)} signals for {len(meta)} rows")
        recs = [np.asarray(s, dtype=self.dtype) for s in signals]
        bad = nonfinite_records(recs)  # readers rely on it (values_checked): no NaN/inf in a store
        if len(bad):
            i = int(bad[0])
            raise ValueError(f"record {meta['record_id'].iat[i] if 'record_id' in meta else i} holds NaN or "
                             f"inf values{' after the cast to float16' if self.dtype == np.float16 else ''}; "
                             "repair or drop it before writing a store")
        sizes = np.array([r.size for r in recs], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])) if len(recs) else np.zeros(0, np.int64)
        flat = np.concatenate([r.ravel() for r in recs]) if recs else np.zeros(0, self.dtype)
        name = shard_name(k)
        tmp = self.tmp / (name + ".tmp")
        with h5py.File(tmp, "w") as f:
            d = f.create_dataset("signals", data=flat)  # contiguous: memory-mappable
            d.attrs["format"] = FORMAT
        os.replace(tmp, self.tmp / name)
        rows = meta.reset_index(drop=True).copy()
        rows["shard"] = k
        rows["offset"] = offsets
        rows["n_leads"] = [r.shape[0] for r in recs]
        rows["length"] = [r.shape[1] for r in recs]
        rows["checksum"] = [checksum(r) for r in recs]
        pd.DataFrame(list(skipped), columns=["record", "reason"]).to_csv(self.tmp / f"skipped-{k:05d}.csv",
                                                                        index=False)
        meta_to_csv(rows, self.tmp / f"meta-{k:05d}.csv")  # last: marks the shard done

    def finish(self, *, classes=None, y=None, extra=None) -> Path:
        """Merge the shards' tables, write the manifest, and move the store into place."""
        import h5py  # on first use: skecg.sources loads with `import skecg`, h5py need not

        ks = sorted(self.done())
        parts = [meta_from_csv(self.tmp / f"meta-{k:05d}.csv", str(self.tmp)) for k in ks]
        meta = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=["record_id", *LAYOUT_COLUMNS])
        remap = {k: i for i, k in enumerate(ks)}
        shards = []
        for k in ks:
            with h5py.File(self.tmp / shard_name(k), "r") as f:
                n_values = int(f["signals"].shape[0])
            shards.append({"file": shard_name(k), "n_records": int((meta["shard"] == k).sum()),
                           "n_values": n_values})
        meta["shard"] = meta["shard"].map(remap).astype(np.int64)
        skipped = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(self.tmp.glob("skipped-*.csv"))]
        skipped = pd.concat(skipped, ignore_index=True) if skipped else pd.DataFrame(columns=["record", "reason"])
        skipped.to_csv(self.tmp / "skipped.csv", index=False)
        meta_to_csv(meta, self.tmp / META)
        if y is not None:
            y = np.asarray(y)
            if len(y) != len(meta):
                raise ValueError(f"y has {len(y)} rows for {len(meta)} stored records")
            np.save(self.tmp / "y.npy", y, allow_pickle=False)
        man = {"format": FORMAT, "version": VERSION, "dtype": self.dtype.name, "n_records": int(len(meta)),
               "classes": None if classes is None else [str(c) for c in classes], "shards": shards,
               "n_skipped": int(len(skipped)), "plan": self.plan, **(extra or {})}
        for p in list(self.tmp.glob("meta-*.csv")) + list(self.tmp.glob("skipped-*.csv")):
            p.unlink()
        tmp = self.tmp / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(man, indent=1))
        os.replace(tmp, self.tmp / MANIFEST)
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(self.tmp, self.path)
        return self.path


def plan_shards(n_values: np.ndarray, shard_bytes: int, itemsize: int) -> list[np.ndarray]:
    """Split records (by their number of values) into consecutive shards of about ``shard_bytes``."""
    out, start, acc = [], 0, 0
    for i, v in enumerate(np.asarray(n_values, dtype=np.int64)):
        if acc and acc + v * itemsize > shard_bytes:
            out.append(np.arange(start, i))
            start, acc = i, 0
        acc += int(v) * itemsize
    if start < len(n_values):
        out.append(np.arange(start, len(n_values)))
    return out


def write_records(X, path, y=None, *, dtype="float32", shard_bytes: int = 256 * 2**20, batch_size: int = 256,
                  overwrite: bool = False, progress=None) -> Path:
    """Write records (an :class:`skecg.ECGRecords`, lazy or not) as a store at ``path``.

    Reads ``X`` batch by batch (``X.read_signals``), so a lazy container with pending
    steps is preprocessed on the way and memory holds one shard at a time.
    """
    meta = X.meta
    n = len(X)
    if "length" in meta and "n_leads" in meta:
        n_values = meta["n_leads"].to_numpy(np.int64) * meta["length"].to_numpy(np.int64)
    else:
        sig = X.signals
        n_values = np.array([s.size for s in sig], dtype=np.int64)
    writer = StoreWriter(path, dtype=dtype, resume=False, overwrite=overwrite)
    shards = plan_shards(n_values, shard_bytes, np.dtype(dtype).itemsize)
    it = enumerate(shards)
    if progress is None:
        progress = n > batch_size
    if progress:
        it = tqdm(it, total=len(shards), desc=f"writing {Path(path).name}", unit="shard", disable=None, leave=False)
    keep = [c for c in meta.columns if c not in ("n_leads", "length") + LAYOUT_COLUMNS + ("part", "row")]
    for k, rows in it:
        sig = []
        for a in range(0, len(rows), batch_size):
            part = X.read_signals(rows[a:a + batch_size])
            sig.extend(list(part))
        writer.write_shard(k, sig, meta.iloc[rows][keep])
    return writer.finish(classes=getattr(X, "classes", None), y=y)

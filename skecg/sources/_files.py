"""Per-process access to arrays inside HDF5 files: memory maps where possible.

An ``h5py.File`` opened before a fork gives corrupt reads in the child, and h5py
objects do not pickle.  So nothing here is opened until the first read in a process,
handles are keyed by process id (a forked DataLoader worker re-opens), and pickles
carry only paths and options.

A contiguous, uncompressed HDF5 dataset is read through ``numpy.memmap`` at the
dataset's byte offset in the file (h5py tells it): no HDF5 library call per read,
safe after ``fork``, and served from the page cache.  Chunked or compressed datasets
(e.g. HDF5 files made by other tools) are read through h5py instead.
"""

from __future__ import annotations

import os

import numpy as np

from ._base import SourceError


class H5Array:
    """One dataset of one HDF5 file, opened lazily in each process.

    Parameters
    ----------
    path : str
    dataset : str
    locking : bool or None
        h5py's ``locking=`` (``HDF5_USE_FILE_LOCKING`` in the environment overrides it).
    rdcc_nbytes : int or None
        h5py's chunk-cache size for chunked datasets.
    """

    def __init__(self, path, dataset: str, *, locking=None, rdcc_nbytes=None):
        self.path = str(path)
        self.dataset = dataset
        self.locking = locking
        self.rdcc_nbytes = rdcc_nbytes
        self._pid = None
        self._arr = None
        self._file = None
        self.shape = None
        self.dtype = None

    def __getstate__(self):
        return {"path": self.path, "dataset": self.dataset, "locking": self.locking,
                "rdcc_nbytes": self.rdcc_nbytes}

    def __setstate__(self, state):
        self.__init__(state["path"], state["dataset"], locking=state["locking"],
                      rdcc_nbytes=state["rdcc_nbytes"])

    def _open(self):
        import h5py

        kw = {}
        if self.locking is not None:
            kw["locking"] = self.locking
        if self.rdcc_nbytes is not None:
            kw["rdcc_nbytes"] = int(self.rdcc_nbytes)
        try:
            f = h5py.File(self.path, "r", **kw)
        except FileNotFoundError:
            raise SourceError(self.path, "file not found") from None
        except OSError as e:
            raise SourceError(self.path, f"not a readable HDF5 file ({e})") from None
        if self.dataset not in f:
            f.close()
            raise SourceError(self.path, f"has no dataset {self.dataset!r}")
        d = f[self.dataset]
        self.shape, self.dtype = tuple(d.shape), d.dtype
        if self.dtype.kind != "f":
            f.close()
            raise SourceError(self.path, f"dataset {self.dataset!r} holds {self.dtype}, not floating point")
        offset = d.id.get_offset() if d.chunks is None and d.compression is None else None
        nbytes = int(np.prod(self.shape)) * self.dtype.itemsize
        if offset is not None and nbytes:
            size = os.path.getsize(self.path)
            if offset + nbytes > size:
                f.close()
                raise SourceError(self.path, f"is truncated: dataset {self.dataset!r} needs bytes up to "
                                  f"{offset + nbytes}, the file has {size}")
            f.close()
            self._arr = np.memmap(self.path, dtype=self.dtype, mode="r", offset=offset, shape=self.shape)
            self._file = None
        else:
            self._arr, self._file = d, f
        self._pid = os.getpid()

    @property
    def array(self):
        """A memmap or an h5py dataset (sliced with contiguous ranges only)."""
        if self._pid != os.getpid():
            self._arr = self._file = None
            self._open()
        return self._arr

    def describe(self):
        """(shape, dtype) without keeping the file open in this process."""
        if self.shape is None:
            self.array  # noqa: B018 - opens and reads the header
        return self.shape, self.dtype

    def close(self):
        if self._file is not None:
            try:
                self._file.close()
            except Exception:  # noqa: BLE001
                pass
        self._arr = self._file = None
        self._pid = None

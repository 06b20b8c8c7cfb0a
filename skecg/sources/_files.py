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
        self._fd = None
        self._offset = None
        self.shape = None
        self.dtype = None

    def __getstate__(self):
        return {"path": self.path, "dataset": self.dataset, "locking": self.locking,
                "rdcc_nbytes": self.rdcc_nbytes}

    def __setstate__(self, state):
        self.__init__(state["path"], state["dataset"], locking=state["locking"],
                      rdcc_nbytes=state["rdcc_nbytes"])

    def _open(self):
        import h5py  # on first use: skecg.sources loads with `import skecg`, h5py need not

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
            self._offset = int(offset)
            self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
            self._fd = os.open(self.path, os.O_RDONLY)
        else:
            self._arr, self._file, self._fd = d, f, None
        self._pid = os.getpid()

    @property
    def array(self):
        """A memmap or an h5py dataset (sliced with contiguous ranges only)."""
        if self._pid != os.getpid():
            self._arr = self._file = self._fd = None  # a forked child opens its own
            self._open()
        return self._arr

    def read_rows(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``start:stop`` along the first axis, into ``out`` when given (C-contiguous).

        Contiguous datasets are read with one ``pread`` straight into the destination:
        one copy from the page cache and no page faults, which is about twice as fast
        as copying out of the memory map (``benchmarks/out_of_core.py``).
        """
        arr = self.array
        shape = (stop - start,) + tuple(self.shape[1:])
        if self._fd is None:  # chunked or compressed: h5py reads it
            block = np.asarray(arr[start:stop])
            if out is None:
                return block
            out[...] = block.reshape(out.shape)
            return out
        if out is None:
            out = np.empty(shape, dtype=self.dtype)
        row = self._row_bytes
        want = (stop - start) * row
        view = memoryview(out.reshape(-1).view(np.uint8))
        got = os.preadv(self._fd, [view], self._offset + start * row)
        if got != want:
            raise SourceError(self.path, f"is truncated: rows {start}:{stop} need {want} bytes, read {got}")
        return out

    def close(self):
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None
        if self._file is not None:
            try:
                self._file.close()
            except Exception:  # noqa: BLE001
                pass
        self._arr = self._file = None
        self._pid = None

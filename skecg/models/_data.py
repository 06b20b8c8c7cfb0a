"""The model's data path: a torch ``Dataset`` over records, whole-batch sampling, and
batches moved to the device ahead of use.

:class:`ECGDataset` wraps what :class:`~skecg.models.ECGClassifier` is given (a 3-D
array or an :class:`~skecg.ECGRecords`, in memory or lazy) without copying or reading
it: ``__getitems__`` reads a whole batch with one ``X.read_signals(indices)`` call,
which torch's fetcher calls for every batch, so a batch costs one read instead of one
per record (a per-item ``__getitem__`` makes skorch several times slower than a plain
loop).  :class:`BatchSampler` yields the index lists, shuffled per epoch from its own
generator (so the order does not depend on the number of loader workers) and sorted
inside each batch, which turns a lazy container's reads into runs while the batches
keep a random composition.  :class:`DevicePrefetcher` copies batch k + 1 to a CUDA
device on a side stream while batch k is computed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch

from .._records import nonfinite_records, normalize_lead_name, validate_records


class ECGDataset(torch.utils.data.Dataset):
    """Records (and labels) as a torch ``Dataset`` that reads whole batches.

    Nothing is read or copied on construction: ``X`` stays what it is (a lazy
    container stays on disk), ``y`` is kept in memory as float32.

    Parameters
    ----------
    X : ndarray of shape (n_records, n_leads, n_samples) or ECGRecords
        Records of one shape.  An :class:`~skecg.ECGRecords` is read through its
        ``read_signals``, which reads lazy containers from disk batch by batch.
    y : array-like of shape (n_records, n_classes), optional
    leads : sequence of str, optional
        Lead names the consumer expects, in its order.  When ``X`` is an
        :class:`~skecg.ECGRecords` whose records name their leads, each record's
        leads are reordered (or selected) by name; a record that lacks one of them
        raises a ``ValueError`` naming the lead and the record.
    indices : array of int, optional
        The records of ``X`` this dataset covers (see :meth:`subset`); all by default.
    check_finite : bool, default=False
        Check every batch read for NaN or inf and name the records that hold them
        (lazy :class:`~skecg.ECGRecords` check their reads themselves).

    Examples
    --------
    >>> import numpy as np
    >>> ds = ECGDataset(np.zeros((5, 12, 100), np.float32), np.ones((5, 2)))
    >>> xb, yb = ds.__getitems__([4, 0])
    >>> tuple(xb.shape), tuple(yb.shape), len(ds.subset([1, 2]))
    ((2, 12, 100), (2, 2), 2)
    """

    def __init__(self, X, y=None, *, leads=None, indices=None, check_finite=False):
        self.X = X
        self._input = validate_records(X)
        self.y = None if y is None else np.asarray(y, dtype=np.float32)
        self.indices = None if indices is None else np.asarray(indices, dtype=np.intp)
        self.check_finite = check_finite
        self.leads = None if leads is None else tuple(leads)
        self._lead_perm, self._lead_code = _lead_permutations(X, self.leads)

    def __len__(self) -> int:
        return len(self.X) if self.indices is None else len(self.indices)

    @property
    def groups(self):
        """Patient of each record (``meta['patient_id']``), a record of unknown
        patient being a group of its own; ``None`` when ``X`` carries no metadata."""
        if not self._input.is_records:
            return None
        pid = self._input.meta["patient_id"]
        missing = pid.isna().to_numpy()
        g = pid.astype(str).to_numpy(dtype=object)
        g[missing] = [f"\0record {i}" for i in np.flatnonzero(missing)]
        return g if self.indices is None else g[self.indices]

    def subset(self, indices) -> "ECGDataset":
        """The records at ``indices`` of this dataset (no copy, nothing read)."""
        idx = np.asarray(indices, dtype=np.intp)
        base = idx if self.indices is None else self.indices[idx]
        out = ECGDataset.__new__(type(self))
        out.__dict__.update(self.__dict__)
        out.indices = base
        out.y = None if self.y is None else self.y[idx]
        return out

    def __getitem__(self, i):
        xb, yb = self.__getitems__([i])
        return xb[0], (None if yb is None else yb[0])

    def __getitems__(self, indices):
        """One batch: ``(signals, labels)`` as tensors; labels ``None`` without y.

        Signals keep the container's float dtype (float16 stores are cast to
        float32 on the device, by the consumer)."""
        pos = np.asarray(indices, dtype=np.intp)
        rows = pos if self.indices is None else self.indices[pos]
        sig = self._input.read_signals(rows)
        if isinstance(sig, list):
            raise ValueError(f"records {_names(self.X, rows[:3])} have different shapes in one batch; "
                             "resample and pad them first (skecg.preprocessing.Resampler, PadTruncate)")
        if self._lead_perm is not None:
            code = self._lead_code[rows]
            if (code == code[0]).all():
                sig = sig[:, self._lead_perm[code[0]]]
            else:
                sig = sig[np.arange(len(rows))[:, None], self._lead_perm[code]]
        if self.check_finite:
            _check_finite_batch(self.X, sig, rows)
        xb = torch.from_numpy(np.ascontiguousarray(sig))
        yb = None if self.y is None else torch.from_numpy(self.y[pos])
        return xb, yb


def _names(X, rows) -> str:
    names = validate_records(X).names
    return ", ".join(names[r] for r in rows)


def _check_finite_batch(X, sig, rows) -> None:
    bad = nonfinite_records(sig)
    if not len(bad):
        return
    bad = rows[bad]
    raise ValueError(f"{len(bad)} record(s) hold NaN or inf values: {_names(X, bad[:5])}"
                     f"{' ...' if len(bad) > 5 else ''}; repair or drop them")


def _lead_tuples(X):
    """(code per record, unique normalised lead tuples) of an ECGRecords' ``meta['leads']``:
    hashed once per record, normalised once per distinct tuple (cheap for millions of records)."""
    col = X.meta["leads"]
    try:
        codes, uniques = pd.factorize(col, use_na_sentinel=False)
    except TypeError:  # unhashable entries (lists)
        codes, uniques = pd.factorize(col.map(lambda t: tuple(t) if isinstance(t, (list, tuple)) else None),
                                      use_na_sentinel=False)
    norm = [tuple(normalize_lead_name(v) for v in t) if isinstance(t, (tuple, list)) else None for t in uniques]
    return np.asarray(codes, dtype=np.intp), norm


def known_leads(X):
    """The lead names shared by every record of ``X``, or ``None`` when they are not
    known (a plain array), differ between records, or repeat a name."""
    if len(X) == 0 or not validate_records(X).is_records:
        return None
    _, norm = _lead_tuples(X)
    if len(set(norm)) != 1 or norm[0] is None:
        return None
    leads = norm[0]
    return leads if len(set(leads)) == len(leads) else None


def _lead_permutations(X, leads):
    """Per-record lead order as (permutation table, row of the table per record), or
    (None, None) when nothing needs reordering."""
    if leads is None or len(X) == 0 or not validate_records(X).is_records:
        return None, None
    want = tuple(normalize_lead_name(v) for v in leads)
    codes, norm = _lead_tuples(X)
    table = []
    for k, t in enumerate(norm):
        if t is None or any(name not in t for name in want):
            rec = X.meta["record_id"].iloc[int(np.argmax(codes == k))]
            if t is None:
                raise ValueError(f"record {rec} does not name its leads but the model was fitted on named "
                                 f"leads {list(want)}; set meta['leads']")
            missing = [name for name in want if name not in t]
            raise ValueError(f"record {rec} lacks lead(s) {missing} that the model was fitted on "
                             f"(it has {list(t)}; the model needs {list(want)})")
        table.append([t.index(name) for name in want])
    table = np.array(table, dtype=np.intp)
    if all(len(t) == len(want) for t in norm) and (table == np.arange(len(want))).all():
        return None, None
    return table, codes


def collate_batch(batch):
    """The batch ``__getitems__`` already built (torch's default would re-stack it)."""
    return batch


class BatchSampler(torch.utils.data.Sampler):
    """Whole batches of indices: a new random order each epoch, sorted within a batch.

    The order comes from this sampler's own generator in the main process, so the
    batches are the same whatever the number of loader workers.

    Parameters
    ----------
    n : int
        Number of records.
    batch_size : int
    shuffle : bool, default=False
        Draw a new permutation every epoch; otherwise batches follow the records.
    random_state : int or numpy.random.Generator, optional
        Seed or generator of the permutations.
    drop_last : bool, default=False

    Examples
    --------
    >>> [b.tolist() for b in BatchSampler(5, 2)]
    [[0, 1], [2, 3], [4]]
    >>> sorted(int(i) for b in BatchSampler(5, 2, shuffle=True, random_state=0) for i in b)
    [0, 1, 2, 3, 4]
    """

    def __init__(self, n, batch_size, shuffle=False, random_state=None, drop_last=False):
        self.n = int(n)
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.shuffle = shuffle
        self.rng = random_state if isinstance(random_state, np.random.Generator) else \
            np.random.default_rng(random_state)
        self.drop_last = drop_last

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def __iter__(self):
        order = self.rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        for b in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[b:b + self.batch_size]
            yield np.sort(idx) if self.shuffle else idx


def to_device(x: torch.Tensor, device, non_blocking: bool = False) -> torch.Tensor:
    """A signal batch on ``device`` as float32 (a float16 batch is cast after the copy)."""
    x = x.to(device, non_blocking=non_blocking)
    return x if x.dtype == torch.float32 else x.float()


class DevicePrefetcher:
    """Re-iterable wrapper of a loader that moves each ``(X, y)`` batch to ``device``
    one batch ahead.

    On CUDA the copy of batch k + 1 is issued with ``non_blocking=True`` on a side
    stream (from pinned memory when the loader pins it) before batch k is handed
    out, so the copy overlaps batch k's compute; the compute stream waits for the
    copy only when it uses the batch.  On other devices batches are moved as they
    are handed out.

    Examples
    --------
    >>> import numpy as np
    >>> loader = [(torch.zeros(2, 3, dtype=torch.float16), None)]
    >>> [x.dtype for x, _ in DevicePrefetcher(loader, "cpu")]
    [torch.float32]
    """

    def __init__(self, loader, device):
        self.loader = loader
        self.device = torch.device(device)

    def __len__(self):
        return len(self.loader)

    def _move(self, batch, stream):
        x, y = batch
        if stream is None:
            return to_device(x, self.device), (None if y is None else y.to(self.device))
        with torch.cuda.stream(stream):
            x = to_device(x, self.device, non_blocking=True)
            y = None if y is None else y.to(self.device, non_blocking=True)
        return x, y

    def __iter__(self):
        stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        ahead = None
        for batch in self.loader:
            moved = self._move(batch, stream)
            if ahead is not None:
                yield self._ready(ahead, stream)
            ahead = moved
        if ahead is not None:
            yield self._ready(ahead, stream)

    @staticmethod
    def _ready(batch, stream):
        if stream is None:
            return batch
        current = torch.cuda.current_stream(stream.device)
        current.wait_stream(stream)
        for t in batch:
            if t is not None:
                t.record_stream(current)  # keep the allocator from reusing it while in use
        return batch


def make_loader(dataset, loader_cls, kwargs, *, batch_size, shuffle, seed, device):
    """A loader over ``dataset`` that fetches whole batches (:class:`BatchSampler`),
    with the user's ``iterator_*`` settings, wrapped in a :class:`DevicePrefetcher`
    for CUDA devices.

    ``kwargs`` are the ``iterator_train__*`` / ``iterator_valid__*`` parameters;
    ``batch_size``, ``shuffle`` and ``drop_last`` among them go to the sampler, and a
    user's own ``sampler`` or ``batch_sampler`` is used as given.  ``pin_memory``
    defaults to True on CUDA, ``collate_fn`` to passing the batch through, and the
    loader gets a generator of its own (seeded by ``seed``) for its worker seeds, so
    neither torch's global random state nor the number of workers changes a result.
    """
    kwargs = dict(kwargs)
    bs = kwargs.pop("batch_size", batch_size)
    if bs == -1:
        bs = max(len(dataset), 1)
    shuffle = kwargs.pop("shuffle", shuffle)
    drop_last = kwargs.pop("drop_last", False)
    if "batch_sampler" not in kwargs and "sampler" not in kwargs:
        kwargs["batch_sampler"] = BatchSampler(len(dataset), bs, shuffle=shuffle, drop_last=drop_last,
                                               random_state=np.random.default_rng(seed))
    elif "sampler" in kwargs:
        kwargs.update(batch_size=bs, drop_last=drop_last)
    cuda = torch.device(device).type == "cuda"
    kwargs.setdefault("collate_fn", collate_batch)
    kwargs.setdefault("pin_memory", cuda)
    kwargs.setdefault("generator", torch.Generator().manual_seed(int(seed)))
    if not kwargs.get("num_workers"):
        for key in ("persistent_workers", "prefetch_factor", "multiprocessing_context"):
            if kwargs.get(key) not in (None, False):
                warnings.warn(f"iterator setting {key}={kwargs[key]!r} has no effect with num_workers=0",
                              stacklevel=3)
            kwargs.pop(key, None)
    loader = loader_cls(dataset, **kwargs)
    return DevicePrefetcher(loader, device) if cuda else loader

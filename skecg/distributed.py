"""Grid searches and cross-validation on a Dask cluster, through joblib.

skecg adds no scheduler of its own: scikit-learn's searches already run their fits
through joblib, and joblib's ``"dask"`` backend sends them to a ``distributed``
cluster.  Two lines turn a search into a cluster search::

    client = Client("tcp://scheduler:8786")          # or start_cluster("local:4")
    with joblib.parallel_backend("dask", scatter=[y]):   # or search_backend(X, y)
        search.fit(X, y)

This module holds the few helpers that make that safe and measurable:

- :func:`search_backend`: ``joblib.parallel_backend("dask")`` with the search's
  in-memory data pre-scattered to every worker;
- :func:`start_cluster`: a ``LocalCluster`` (``'local:N'``) or a connection to a
  scheduler address, with the torch thread guard below installed (used by the CLI's
  ``--scheduler``);
- :func:`limit_torch_threads` / :class:`TorchThreads`: each worker's torch uses
  ``cores // workers`` threads of its host, so that torch threads x dask threads x
  workers never exceeds the cores (no oversubscription);
- :func:`thread_report`: what every worker actually uses;
- :func:`measure_task_bytes`: the bytes each task ships to the cluster (its pickled
  arguments) and the bytes scattered, to check that a lazy container travels as a
  handle;
- :func:`host_cores`: the CPUs this process may run on, which the thread guard
  divides among a host's workers;
- a ``dask.sizeof`` rule for :class:`~skecg.ECGRecords` (registered on import of
  this module): an in-memory container reports its signals' bytes, so joblib
  scatters it once instead of pickling it into every task; a lazy one reports the
  size of its handle.

One model trained on several GPUs or processes through ``accelerate`` is a model,
not a cluster helper: :class:`skecg.models.AcceleratedECGClassifier`.

Cross-source evaluation with one task per held-out group (the CLI's ``skecg
evaluate --scheduler``) is part of the application built on these helpers:
:func:`skecg.apps.experiments.evaluate_on_cluster`.

Requires the ``distributed`` extra: ``pip install "skecg[distributed]"``.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import pickle
import sys
import threading
import time
import warnings

import joblib
import pandas as pd

from ._moved import moved_names
from ._records import ECGRecords

# dask, distributed and cloudpickle come with the optional [distributed] extra, and torch
# is heavy: each is imported where it is used, so that this module imports without them.
try:
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # the [distributed] extra is not installed; start_cluster says so
    _WorkerPlugin = object

__all__ = ["search_backend", "start_cluster", "parse_scheduler",
           "TorchThreads", "limit_torch_threads", "thread_report", "measure_task_bytes", "TaskBytes",
           "records_sizeof", "host_cores"]

#: Public names that moved: old name here -> (module, name) of their home now.
_MOVED = {"AcceleratedECGClassifier": ("skecg.models", "AcceleratedECGClassifier")}
__getattr__ = moved_names(__name__, _MOVED)  # imports skecg.models (torch) on access only


def host_cores() -> int:
    """The logical CPUs this process may run on: the size of its CPU affinity mask.

    That is ``len(os.sched_getaffinity(0))`` (Linux): the CPUs that ``taskset``, a
    container's ``cpuset`` or a batch scheduler left to this process, counting each
    hardware thread.  Where the affinity mask cannot be read (macOS, Windows), every
    logical CPU of the machine (``os.cpu_count()``).  A CPU *quota* (a container
    limited by ``--cpus`` rather than ``--cpuset-cpus``) does not lower it.

    This is what the torch thread guard divides among a host's dask workers
    (:func:`limit_torch_threads`) and the number of workers of ``'local'``
    (:func:`parse_scheduler`).  No ``n_jobs`` parameter of skecg counts CPUs this
    way: ``n_jobs`` is a number of threads or processes in joblib's convention
    (``None``: one, ``-1``: one per CPU).

    Examples
    --------
    >>> host_cores() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def records_sizeof(X: ECGRecords) -> int:
    """The size dask accounts for an :class:`~skecg.ECGRecords`: its signals and
    metadata in memory; for a lazy container, that of the object itself (its handle
    pickles to a few kB).

    dask's default for an unknown object is ``sys.getsizeof``, a few dozen bytes, so
    joblib's dask backend (which scatters arguments above 1 kB) would pickle an
    in-memory container into *every* task.  With this rule it scatters it once.  A
    lazy container stays under that threshold on purpose: it travels inline in each
    task, so a worker that dies holds nothing a re-run task cannot get again
    (scattered data live on one worker, and tasks that need it are cancelled when
    that worker is lost).

    Examples
    --------
    >>> import numpy as np
    >>> records_sizeof(ECGRecords(np.zeros((10, 12, 1000), np.float32))) >= 480_000
    True
    """
    if X.is_lazy:
        return sys.getsizeof(X)
    sig = X.signals
    n = sig.nbytes if hasattr(sig, "nbytes") else sum(s.nbytes for s in sig)
    return int(n + X.meta.memory_usage(deep=True).sum())


def _register_sizeof():
    try:
        from dask.sizeof import sizeof
    except ImportError:  # dask not installed: nothing to register
        return
    sizeof.register(ECGRecords)(records_sizeof)


_register_sizeof()


def parse_scheduler(spec: str):
    """``'local:N'`` as ``('local', N)``, a scheduler address as ``('address', spec)``.

    Examples
    --------
    >>> parse_scheduler("local:2"), parse_scheduler("tcp://10.0.0.5:8786")
    (('local', 2), ('address', 'tcp://10.0.0.5:8786'))
    """
    spec = str(spec).strip()
    if spec.startswith("local"):
        n = spec.partition(":")[2]
        if not n:
            return "local", max(1, host_cores())
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"--scheduler {spec!r}: write local:N with N a positive number of workers, "
                             "or a scheduler address such as tcp://host:8786")
        return "local", int(n)
    if not spec:
        raise ValueError("empty scheduler address")
    return "address", spec


class TorchThreads(_WorkerPlugin):
    """A dask ``WorkerPlugin`` that sets each worker's torch (and BLAS) thread count.

    ``threads`` maps a host name to the torch threads of each worker there (or is
    one int for every host).  It is applied when a worker starts, and again to a
    worker that the nanny restarts after a crash.

    Examples
    --------
    >>> TorchThreads({"127.0.0.1": 2}).threads_for("127.0.0.1"), TorchThreads(1).threads_for("x")
    (2, 1)
    """

    idempotent = False  # registering again (other thread counts) replaces it
    name = "skecg-torch-threads"

    def __init__(self, threads):
        self.threads = threads

    def threads_for(self, host) -> int:
        if isinstance(self.threads, dict):
            return int(self.threads.get(host, 1))
        return int(self.threads)

    def setup(self, worker):
        n = self.threads_for(_worker_host(worker.address))
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(n)
        import torch

        torch.set_num_threads(n)



def _worker_host(address: str) -> str:
    return address.split("://")[-1].rsplit(":", 1)[0]


def _probe():
    import torch

    return {"pid": os.getpid(), "torch_threads": torch.get_num_threads(), "cores": host_cores()}


def thread_report(client):
    """One row per worker: host, dask threads, torch threads, host cores, pid, and
    whether the host is oversubscribed (sum over its workers of dask threads x torch
    threads above its cores).

    Returns
    -------
    pandas.DataFrame
    """
    info = client.scheduler_info(n_workers=-1)["workers"] if _takes_n_workers(client) else \
        client.scheduler_info()["workers"]
    probe = client.run(_probe)
    rows = []
    for addr, w in info.items():
        p = probe.get(addr, {})
        rows.append({"worker": addr, "host": _worker_host(addr), "nthreads": int(w["nthreads"]),
                     "torch_threads": p.get("torch_threads"), "cores": p.get("cores"), "pid": p.get("pid")})
    df = pd.DataFrame(rows)
    if len(df):
        load = (df["nthreads"] * df["torch_threads"]).groupby(df["host"]).transform("sum")
        df["oversubscribed"] = load > df["cores"]
    return df


def _takes_n_workers(client) -> bool:
    return "n_workers" in inspect.signature(client.scheduler_info).parameters


def limit_torch_threads(client, threads=None):
    """Install :class:`TorchThreads` on every worker of ``client`` (and on workers
    that join or restart later), so that no host runs more compute threads than it
    has cores.

    Parameters
    ----------
    client : distributed.Client
    threads : int or dict, optional
        Torch threads per worker.  By default each host's cores divided by the dask
        threads of all workers on it (at least 1): 2 workers of 1 thread on 2 cores
        get 1 torch thread each, 1 worker on 16 cores gets 16.  dask's nanny already
        starts workers with ``OMP_NUM_THREADS=1``, which is safe but leaves a lone
        worker on a large host with one core's worth of work.

    Returns
    -------
    pandas.DataFrame
        :func:`thread_report` after the change.
    """
    rep = thread_report(client)
    explicit = threads is not None
    if not explicit:
        threads = {}
        for host, part in rep.groupby("host"):
            cores = int(part["cores"].iloc[0] or 1)
            threads[host] = max(1, cores // max(1, int(part["nthreads"].sum())))
    plugin = TorchThreads(threads)
    for host, part in rep.groupby("host"):  # refuse before anything changes
        load = int(part["nthreads"].sum()) * plugin.threads_for(host)
        cores = int(part["cores"].iloc[0] or 1)
        if load > cores:
            msg = (f"workers on {host} would run {load} compute threads on {cores} cores "
                   f"({int(part['nthreads'].sum())} dask threads x {plugin.threads_for(host)} torch threads); "
                   "start fewer workers, with --nthreads 1, or pass fewer torch threads")
            if explicit:
                raise ValueError(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=2)  # more workers than cores: the user's choice
    client.register_plugin(plugin, name=TorchThreads.name)
    return thread_report(client)


@contextlib.contextmanager
def start_cluster(spec="local:2", *, threads_per_worker: int = 1, torch_threads=None, timeout: float = 60):
    """A ``distributed.Client`` for ``'local:N'`` (a new ``LocalCluster`` of N worker
    processes on the loopback interface) or a scheduler address, with the torch
    thread guard installed (:func:`limit_torch_threads`).  Closes what it started.

    Parameters
    ----------
    spec : str
        ``'local:N'`` or an address such as ``'tcp://10.0.0.5:8786'``.
    threads_per_worker : int, default=1
        Of a local cluster: one fit per worker at a time.
    torch_threads : int or dict, optional
        See :func:`limit_torch_threads`.
    timeout : float, default=60
        Seconds to wait for the scheduler and the first worker.

    Notes
    -----
    A local cluster runs without dask's active memory manager, which would drop
    the extra copies of scattered data that no queued task needs, so that a lost
    worker leaves its data on the others.  For a remote scheduler, set
    ``distributed.scheduler.active-memory-manager.start: false`` in its dask
    configuration for the same guarantee; otherwise a lost worker can cancel a
    search (:func:`search_backend` then raises a ``RuntimeError`` that says so).

    Examples
    --------
    >>> import joblib
    >>> with start_cluster("local:1") as client:  # doctest: +SKIP
    ...     with joblib.parallel_backend("dask"):
    ...         search.fit(X, y)
    """
    from distributed import Client, LocalCluster

    import dask

    kind, value = parse_scheduler(spec)
    with contextlib.ExitStack() as stack:
        if kind == "local":
            # dask's nannies write their workers' settings (OMP_NUM_THREADS=1, MKL_NUM_THREADS=1,
            # OPENBLAS_NUM_THREADS=1, MALLOC_TRIM_THRESHOLD_, ...) into this process's environment
            # before each spawn and leave them there: any process started later (a DataLoader
            # worker, a subprocess) would then run single-threaded BLAS, whose float sums differ.
            # What the cluster changed is put back when it closes.
            stack.callback(_restore_environ, dict(os.environ))
            # dask's active memory manager drops replicas that no queued task waits for
            # (every 2 s): a broadcast of the search's data could end on one worker, and die
            # with it.  Off here, so that every worker keeps its copy.
            with dask.config.set({"distributed.scheduler.active-memory-manager.start": False}):
                cluster = stack.enter_context(LocalCluster(
                    n_workers=value, threads_per_worker=int(threads_per_worker), processes=True,
                    host="127.0.0.1", dashboard_address=None, silence_logs=40))
            client = stack.enter_context(Client(cluster, timeout=timeout))
        else:
            client = stack.enter_context(Client(value, timeout=timeout))
        client.wait_for_workers(1, timeout=timeout)
        limit_torch_threads(client, torch_threads)
        yield client


def _restore_environ(saved: dict) -> None:
    """``os.environ`` as it was when the local cluster started (keys added since removed,
    keys changed since put back)."""
    for key in [k for k in os.environ if k not in saved]:
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


@contextlib.contextmanager
def search_backend(X=None, y=None, *, scatter=(), client=None, **kwargs):
    """joblib's dask backend for a search or cross-validation on ``(X, y)``.

    Everything held in memory (``y``, an in-memory ``X``, and ``scatter``) is
    scattered once to every worker before the search (``broadcast``), so a worker
    lost mid-search leaves copies on the others and dask re-runs its fits; a lazy
    ``X`` travels as its handle inside each task.  Without this, joblib scatters
    arguments above 1 kB to a single worker on demand (``hash=False``): losing that
    worker cancels every fit that needs them, and large ones (reported from about
    50 MB) overload the scheduler's memory.

    A lost worker's data that cannot be recovered ends the search with a
    ``RuntimeError`` that says so (never partial results).

    Parameters
    ----------
    X, y : optional
        The search's data.
    scatter : sequence, optional
        More objects passed to every task (e.g. ``groups``).
    client : distributed.Client, optional
        Default: the current client.
    **kwargs
        Passed to ``joblib.parallel_backend('dask', ...)``.

    Examples
    --------
    >>> from distributed import Client  # doctest: +SKIP
    >>> client = Client("tcp://scheduler:8786")  # doctest: +SKIP
    >>> with search_backend(X, y):  # doctest: +SKIP
    ...     search.fit(X, y)
    """
    from distributed.client import FutureCancelledError

    objs = [o for o in (X, y) if o is not None and not getattr(o, "is_lazy", False)]  # handles stay handles
    objs += [o for o in scatter if o is not None]
    if client is not None:
        kwargs["client"] = client
    with joblib.parallel_backend("dask", scatter=objs or None, **kwargs):
        try:
            yield
        except FutureCancelledError as e:
            raise RuntimeError(f"a dask worker was lost and with it data that pending fits needed ({e!r}); "
                               "no result was kept. Pass every in-memory argument to search_backend "
                               "(or joblib's scatter=[...]) so that each worker holds a copy") from e


class TaskBytes:
    """What :func:`measure_task_bytes` saw: ``task_bytes`` (pickled size of each
    submitted task's function and arguments, scattered data counted as the small
    reference each task carries), ``scattered_bytes`` (data sent once by
    ``client.scatter``) and ``n_tasks``."""

    def __init__(self):
        self.task_bytes: list[int] = []
        self.scattered_bytes = 0
        self.n_scatters = 0
        self._lock = threading.Lock()

    @property
    def n_tasks(self) -> int:
        return len(self.task_bytes)

    @property
    def max_task_bytes(self) -> int:
        return max(self.task_bytes, default=0)

    def __repr__(self):
        return (f"TaskBytes(n_tasks={self.n_tasks}, max_task_bytes={self.max_task_bytes}, "
                f"scattered_bytes={self.scattered_bytes})")


@contextlib.contextmanager
def measure_task_bytes(client):
    """Count the bytes that tasks submitted through ``client`` carry.

    Each ``client.submit`` (joblib's dask backend submits one per batch of fits) is
    pickled with cloudpickle, as dask does; futures of scattered data pickle to
    their key, so a task is charged for the reference, and the scattered data once,
    in ``scattered_bytes`` (by ``dask.sizeof``).

    Examples
    --------
    >>> with measure_task_bytes(client) as m:  # doctest: +SKIP
    ...     with joblib.parallel_backend("dask"):
    ...         search.fit(X, y)
    >>> m.max_task_bytes < 2**20  # doctest: +SKIP
    True
    """
    import cloudpickle
    from dask.sizeof import sizeof

    seen = TaskBytes()
    submit, scatter = client.submit, client.scatter

    def counting_submit(func, *args, **kwargs):
        payload = {k: v for k, v in kwargs.items() if k not in ("key", "pure", "workers", "resources", "retries",
                                                                "priority", "allow_other_workers")}
        n = len(cloudpickle.dumps((func, args, payload), protocol=pickle.HIGHEST_PROTOCOL))
        with seen._lock:
            seen.task_bytes.append(n)
        return submit(func, *args, **kwargs)

    def counting_scatter(data, *args, **kwargs):
        with seen._lock:
            seen.scattered_bytes += int(sizeof(data))
            seen.n_scatters += 1
        return scatter(data, *args, **kwargs)

    client.submit, client.scatter = counting_submit, counting_scatter
    try:
        yield seen
    finally:
        time.sleep(0.05)  # joblib submits from the client's event loop: let the last one land
        del client.submit, client.scatter

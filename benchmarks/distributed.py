"""GridSearchCV on a dask cluster vs one process vs joblib's loky: one table.

A ``GridSearchCV`` of 4 candidates x 2 folds (a small ResNet-1d, ``refit=False``:
the refit runs in the calling process whatever the backend) over a 2,000-record store
(real records of the bundled sample, resampled to 50 Hz and padded to 512 samples,
tiled) runs:

- sequentially (one process, torch on every core);
- with joblib's loky backend (``n_jobs=2``);
- on ``LocalCluster(n_workers=2, threads_per_worker=1)`` through
  ``joblib.parallel_backend("dask")``, the lazy container travelling as its handle;
- to measure the scheduler's memory, the same cluster with its scheduler in a
  process of its own (``SubprocessCluster``: same workers, same settings), for the
  lazy container and for the same records in memory: auto-scattered by joblib
  (skecg's ``dask.sizeof`` rule), pickled into every task (dask's default size of
  an object, what a container without that rule gets), and pre-scattered
  (``scatter=[X, y]``, :func:`skecg.distributed.search_backend`).

Columns: wall time, ratio to the sequential run, tasks, largest task (its pickled
function and arguments), bytes scattered, and how far the scheduler's peak RSS rose
during the search above its RSS before it (sampled every 10 ms in the scheduler
process; ``-`` when the scheduler shares the client's process).

Run: ``flock /tmp/skecg-heavy.lock .venv/bin/python benchmarks/distributed.py``
(about 5 minutes on 2 cores); ``--quick`` for a smaller run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# this file's folder would shadow the ``distributed`` package: take it off the path
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))


def make_store(path, n):
    from skecg._records import concat_records
    from skecg.datasets import load_sample
    from skecg.io import write_store
    from skecg.preprocessing import PadTruncate, Resampler

    X, y = load_sample("tnmg")
    X = PadTruncate(length=512).fit_transform(Resampler(50).fit_transform(X))
    reps = -(-n // len(X))
    Xs = concat_records([X] * reps)[:n]
    ys = np.concatenate([y] * reps)[:n]
    write_store(Xs, path, ys, overwrite=True)


def make_search(epochs):
    from sklearn.model_selection import GridSearchCV, KFold

    from skecg.models import ECGClassifier

    net = ECGClassifier("resnet1d", module__filters=(16, 16), module__stem_filters=16, module__kernel_size=9,
                        max_epochs=epochs, batch_size=32, valid_size=0, random_state=0)
    grid = {"lr": [1e-3, 3e-3], "module__dropout": [0.0, 0.2]}
    return GridSearchCV(net, grid, cv=KFold(2), scoring="f1_macro", refit=False)


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _start_rss_sampler():
    """On the scheduler: sample its RSS every 10 ms (``ru_maxrss`` would report the
    RSS of the process it was forked from)."""
    import threading

    state = {"base": _rss(), "peak": 0, "run": True}

    def loop():
        while state["run"]:
            state["peak"] = max(state["peak"], _rss())
            time.sleep(0.01)

    threading.Thread(target=loop, daemon=True).start()
    sys.skecg_rss_sampler = state


def _stop_rss_sampler():
    state = sys.skecg_rss_sampler
    state["run"] = False
    return state["peak"] - state["base"]


@contextlib.contextmanager
def cluster(kind):
    from distributed import Client, LocalCluster
    from distributed.deploy.subprocess import SubprocessCluster

    from skecg.distributed import limit_torch_threads

    if kind == "local":
        c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=None, silence_logs=40)
    else:
        c = SubprocessCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, dashboard_address=None,
                              silence_logs=40)
    with c, Client(c) as client:
        client.wait_for_workers(2)
        limit_torch_threads(client)
        client.run(lambda: __import__("skecg.models"))  # imports out of the timed part, as loky's warm-up
        yield client


def run_dask(kind, X, y, epochs, scatter_mode):
    import joblib
    from dask.sizeof import sizeof

    from skecg import ECGRecords
    from skecg.distributed import measure_task_bytes

    with cluster(kind) as client:
        if kind == "subprocess":
            client.run_on_scheduler(_start_rss_sampler)
        rule = sizeof._lookup.pop(ECGRecords) if scatter_mode == "inline" else None
        try:
            scatter = [X, y] if scatter_mode == "pre-scatter" else ([y] if scatter_mode == "handle" else None)
            t = time.perf_counter()
            with measure_task_bytes(client) as m, joblib.parallel_backend("dask", scatter=scatter):
                s = make_search(epochs).fit(X, y)
            wall = time.perf_counter() - t
        finally:
            if rule is not None:
                sizeof.register(ECGRecords)(rule)
        peak = client.run_on_scheduler(_stop_rss_sampler) if kind == "subprocess" else None
    return wall, m, peak, s.cv_results_["mean_test_score"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="400 records, 1 epoch")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    if args.quick:
        args.records, args.epochs = min(args.records, 400), 1
    import joblib
    import torch

    from skecg.io import open_store

    work = Path(args.workdir or tempfile.mkdtemp(prefix="skecg-dist-"))
    store = work / f"store{args.records}"
    make_store(store, args.records)
    X, y = open_store(store)
    Xmem = X.load()
    print(f"{args.records} records {X.shape[1:]} ({Xmem.signals.nbytes / 2**20:.0f} MB in memory), "
          f"4 candidates x 2 folds, {args.epochs} epochs; {os.cpu_count()} cores, torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)

    rows = []

    def add(name, data, wall, m=None, peak=None, scores=None):
        rows.append({"run": name, "data": data, "wall_s": wall, "tasks": m.n_tasks if m else None,
                     "max_task_kB": m.max_task_bytes / 1e3 if m else None,
                     "scattered_MB": m.scattered_bytes / 2**20 if m else None,
                     "scheduler_peak_MB": max(peak, 0) / 2**20 if peak is not None else None, "scores": scores})
        print(f"  {name:<36} {data:<28} {wall:6.1f} s", flush=True)

    t = time.perf_counter()
    seq = make_search(args.epochs).fit(X, y)
    add("sequential", "store (lazy)", time.perf_counter() - t, scores=seq.cv_results_["mean_test_score"])
    wall, m, peak, sc = run_dask("local", X, y, args.epochs, "handle")
    add("LocalCluster(2 workers x 1 thread)", "store (lazy): handle", wall, m, peak, sc)
    joblib.Parallel(n_jobs=2, backend="loky")(joblib.delayed(__import__)("skecg.models") for _ in range(2))
    t = time.perf_counter()
    with joblib.parallel_backend("loky", n_jobs=2):
        lk = make_search(args.epochs).fit(X, y)
    add("loky (n_jobs=2)", "store (lazy)", time.perf_counter() - t, scores=lk.cv_results_["mean_test_score"])
    for data, mode, Xd in (("store (lazy): handle", "handle", X),
                           ("memory: auto-scatter", "auto", Xmem),
                           ("memory: inline in every task", "inline", Xmem),
                           ("memory: pre-scatter [X, y]", "pre-scatter", Xmem)):
        wall, m, peak, sc = run_dask("subprocess", Xd, y, args.epochs, mode)
        add("SubprocessCluster(2 x 1)", data, wall, m, peak, sc)

    base = rows[0]["wall_s"]
    print("\n| run | data | wall s | x sequential | tasks | largest task kB | scattered MB | scheduler peak growth MB |"
          " same scores |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    fmt = (lambda v, f: "-" if v is None else format(v, f))
    for r in rows:
        same = bool(np.allclose(r["scores"], rows[0]["scores"], atol=1e-6))
        print(f"| {r['run']} | {r['data']} | {r['wall_s']:.1f} | {r['wall_s'] / base:.2f} | {fmt(r['tasks'], 'd')} | "
              f"{fmt(r['max_task_kB'], '.1f')} | {fmt(r['scattered_MB'], '.2f')} | "
              f"{fmt(r['scheduler_peak_MB'], '.0f')} | {same} |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

"""Data larger than memory: loader throughput, fit from a store vs memory, memory growth.

Builds, from tiled real records of the bundled sample (12 leads, 400 Hz, 4096 samples,
the Ribeiro input), skecg stores of N_SMALL and N_LARGE records and a CODE-15%-layout
multi-part HDF5 set of N_LARGE records, then prints one table:

- loader throughput: records/s delivered as float32 batches of 64 in random order
  through skecg's own data path (``ECGDataset`` + ``BatchSampler`` in a torch
  ``DataLoader``), with 0/1/2 workers, from memory, from the store and from
  CODE-15% in place; warm (page cache) and cold (the files' pages dropped with
  ``posix_fadvise(DONTNEED)`` before each run);
- ``ECGClassifier.fit`` of Ribeiro's ResNet-1d for one epoch from the store against
  the same records in memory (ratio of medians over interleaved repeats);
- peak anonymous memory (RssAnon sampled every 20 ms in a fresh process, so page
  cache and mapped files do not count) of ``fit`` with a tiny net (the data path is
  what is measured, not the network) on N_SMALL vs
  N_LARGE records of the store, and of a 2-candidate ``GridSearchCV`` on N_LARGE;
- the pickled size of a lazy container over N_LARGE records.

Run: ``.venv/bin/python benchmarks/out_of_core.py`` (about 10 minutes on 2 cores,
8 GB of disk under ``--workdir``); ``--quick`` for a smaller run.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def base_records():
    """The bundled sample at 400 Hz, 4096 samples: (signals (n, 12, 4096), meta)."""
    from skecg.datasets import load_sample
    from skecg.preprocessing import PadTruncate, Resampler

    X, _ = load_sample("tnmg")
    X = PadTruncate(length=4096).fit_transform(Resampler(400).fit_transform(X))
    return X.signals, X.meta


def tiled_meta(meta, n):

    idx = np.arange(n) % len(meta)
    m = meta.iloc[idx].reset_index(drop=True).copy()
    m["record_id"] = [f"{r}-{i}" for i, r in enumerate(m["record_id"])]
    m["patient_id"] = [f"{p}-{i // len(meta)}" for i, p in enumerate(m["patient_id"].astype(str))]
    return m, idx


def make_store(path: Path, n: int, base, meta):
    from skecg.labels import get_vocabulary
    from skecg.sources import StoreWriter

    if (path / "skecg_store.json").exists():
        return path
    vocab = get_vocabulary("tnmg")
    m, idx = tiled_meta(meta, n)
    w = StoreWriter(path, overwrite=True, resume=False)
    per = 1300  # ~256 MB shards
    for k, a in enumerate(range(0, n, per)):
        rows = np.arange(a, min(a + per, n))
        w.write_shard(k, base[idx[rows]], m.iloc[rows])
    w.finish(classes=vocab.classes)
    return path


def make_code15(folder: Path, n: int, base, meta, per_part: int = 5000):
    import h5py
    import pandas as pd

    from skecg.labels import TNMG_TO_SNOMED

    if (folder / "exams.csv").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    m, idx = tiled_meta(meta, n)
    rows = []
    inv = {v: k for k, v in TNMG_TO_SNOMED.items()}
    for k, a in enumerate(range(0, n, per_part)):
        r = np.arange(a, min(a + per_part, n))
        tr = np.zeros((len(r) + 1, 4096, 12), np.float32)
        tr[:-1] = base[idx[r]].transpose(0, 2, 1)
        with h5py.File(folder / f"exams_part{k}.hdf5", "w") as f:
            f["tracings"] = tr
            f["exam_id"] = np.concatenate([r + 1, [0]])
        for i in r:
            dx = set(m["dx"].iat[i])
            rows.append({"exam_id": i + 1, "age": m["age"].iat[i], "is_male": m["sex"].iat[i] == "M",
                         **{c: int(code in dx) for code, c in inv.items()}, "patient_id": i // 3,
                         "trace_file": f"exams_part{k}.hdf5"})
    pd.DataFrame(rows).to_csv(folder / "exams.csv", index=False)
    return folder


def drop_cache(paths):
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def loader_rate(X, workers: int, n_batches: int, seed=0) -> float:
    import torch

    from skecg.models._data import BatchSampler, ECGDataset

    ds = ECGDataset(X)
    sampler = BatchSampler(len(ds), 64, shuffle=True, random_state=seed)
    dl = torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=workers,
                                     collate_fn=lambda b: b, persistent_workers=False,
                                     prefetch_factor=4 if workers else None)
    it = iter(dl)
    first = next(it)  # worker start-up is not throughput
    assert first[0].dtype == torch.float32
    t0, n = time.perf_counter(), 0
    for _ in range(n_batches):
        try:
            xb, _ = next(it)
        except StopIteration:
            break
        n += len(xb)
    return n / (time.perf_counter() - t0)


def read_cpu_rate(X, n_batches: int, seed=0) -> float:
    """Records per CPU-second of batch reads in this process (0 workers): a figure that
    other load on the machine does not change, unlike wall-clock throughput."""
    rng = np.random.default_rng(seed)
    t0 = time.process_time()
    for _ in range(n_batches):
        X.read_signals(np.sort(rng.choice(len(X), 64, replace=False)))
    return 64 * n_batches / (time.process_time() - t0)


def fit_epoch(X, y, seed=0) -> float:
    from skecg.models import ECGClassifier

    net = ECGClassifier("resnet1d", max_epochs=1, valid_size=0, random_state=seed)
    t0 = time.perf_counter()
    net.fit(X, y)
    return time.perf_counter() - t0


MEM_CHILD = r"""
import json, sys, threading, time
peak = [0]
def watch():
    while True:
        for line in open('/proc/self/status'):
            if line.startswith('RssAnon:'):
                peak[0] = max(peak[0], int(line.split()[1]))
        time.sleep(0.02)
threading.Thread(target=watch, daemon=True).start()
import numpy as np
from skecg.io import open_store
from skecg.models import ECGClassifier
what, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
X, y = open_store(path)
X, y = X[:n], y[:n]
net = ECGClassifier("resnet1d", module__stem_filters=8, module__filters=(8, 8), module__downsample=16,
                    module__kernel_size=8, max_epochs=1, valid_size=0.1, batch_size=64, random_state=0)
time.sleep(0.1); base = peak[0]
t0 = time.perf_counter()
if what == "fit":
    net.fit(X, y)
else:
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from skecg.metrics import SCORING
    GridSearchCV(net, {"criterion": ["bce", "sign"]}, cv=GroupKFold(2), scoring="f1_macro",
                 error_score="raise").fit(X, y, groups=X.meta["patient_id"])
time.sleep(0.1)
print(json.dumps({"peak_anon_mb": peak[0] / 1024, "start_anon_mb": base / 1024,
                  "seconds": time.perf_counter() - t0}))
"""


def peak_anon(what, path, n):
    out = subprocess.run([sys.executable, "-c", MEM_CHILD, what, str(path), str(n)], capture_output=True,
                         text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", default="/tmp/skecg_out_of_core")
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--large", type=int, default=20000)
    ap.add_argument("--batches", type=int, default=150)
    ap.add_argument("--fit-records", type=int, default=192, help="records of the Ribeiro-net epoch")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the stores for the next run")
    ap.add_argument("--memory-only", action="store_true",
                    help="only the memory-growth rows (they do not depend on the machine's load)")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory-growth rows (the slowest part)")
    args = ap.parse_args()
    if args.quick:
        args.small, args.large, args.batches, args.fit_records, args.repeats = 500, 3000, 40, 128, 1
    import torch

    from skecg.io import open_store, read_code15

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    print(f"# skecg out-of-core benchmark: {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)
    t0 = time.perf_counter()
    base, meta = base_records()
    small = make_store(work / f"store{args.small}", args.small, base, meta)
    large = make_store(work / f"store{args.large}", args.large, base, meta)
    code = make_code15(work / f"code15_{args.large}", args.large, base, meta)
    print(f"built the data sets in {time.perf_counter() - t0:.0f} s "
          f"({sum(f.stat().st_size for f in work.rglob('*') if f.is_file()) / 2**30:.1f} GiB on disk)", flush=True)
    Xs, ys = open_store(large)
    Xc, yc = read_code15(code)
    Xm = open_store(small)[0].load()
    rows = []

    def add(what, value, unit, ref=None, target=""):
        rows.append((what, value, unit, ref, target))
        ratio = f"{value / ref:.2f}x" if ref else ""
        print(f"  {what}: {value:.1f} {unit} {ratio} {target}", flush=True)  # progress; the table is below

    # -- loader throughput -------------------------------------------------------------------
    if not args.memory_only:  # the load-dependent rows
        shard_files = [str(p) for p in Path(large).glob("signals-*.h5")]
        code_files = [str(p) for p in Path(code).glob("*.hdf5")]
        mem_cpu = read_cpu_rate(Xm, args.batches)
        add(f"batch reads, memory ({args.small} rec), per CPU-second", mem_cpu, "rec/s")
        add(f"batch reads, store ({args.large} rec), per CPU-second", read_cpu_rate(Xs, args.batches), "rec/s", mem_cpu)
        add("batch reads, CODE-15% in place, per CPU-second", read_cpu_rate(Xc, args.batches), "rec/s", mem_cpu)
        for workers in (0, 1, 2):
            mem = max(loader_rate(Xm, workers, args.batches, s) for s in range(args.repeats))
            loader_rate(Xs, workers, args.batches)  # warm the cache for this order
            st = max(loader_rate(Xs, workers, args.batches, s) for s in range(args.repeats))
            cd = max(loader_rate(Xc, workers, args.batches, s) for s in range(args.repeats))
            drop_cache(shard_files)
            st_cold = loader_rate(Xs, workers, args.batches, 99)
            drop_cache(code_files)
            cd_cold = loader_rate(Xc, workers, args.batches, 98)
            add(f"loader, memory ({args.small} rec), {workers} workers", mem, "rec/s")
            add(f"loader, store ({args.large} rec), warm, {workers} workers", st, "rec/s", mem, ">= 8000")
            add(f"loader, store, cold, {workers} workers", st_cold, "rec/s", mem, ">= 2000")
            add(f"loader, CODE-15% in place, warm, {workers} workers", cd, "rec/s", mem)
            add(f"loader, CODE-15% in place, cold, {workers} workers", cd_cold, "rec/s", mem)
        # -- one epoch of Ribeiro's net: store vs memory -----------------------------------------
        n = args.fit_records
        Xf, yf = open_store(large)
        Xf, yf = Xf[:n], yf[:n]
        Xfm = Xf.load()
        tm, ts = [], []
        fit_epoch(Xfm[:64], yf[:64])  # one-off costs (thread pools, allocator) outside the timers
        for r in range(args.repeats):
            tm.append(fit_epoch(Xfm, yf, r))
            ts.append(fit_epoch(Xf, yf, r))
        add(f"fit 1 epoch Ribeiro net, {n} rec, memory", n / np.median(tm), "rec/s")
        add(f"fit 1 epoch Ribeiro net, {n} rec, store", n / np.median(ts), "rec/s", n / np.median(tm), ">= 0.95x")
    # -- memory growth ----------------------------------------------------------------------
    if not args.no_memory:
        a = peak_anon("fit", large, args.small)
        b = peak_anon("fit", large, args.large)
        g = peak_anon("grid", large, args.large)
        add(f"peak RssAnon, fit small net on {args.small} rec of the store", a["peak_anon_mb"], "MB")
        add(f"peak RssAnon, fit small net on {args.large} rec of the store", b["peak_anon_mb"], "MB",
            a["peak_anon_mb"], "<= 1.2x")
        add(f"peak RssAnon, GridSearchCV 2 cand x 2 folds on {args.large} rec", g["peak_anon_mb"], "MB",
            a["peak_anon_mb"])
    add(f"pickled lazy container, {args.large} rec", len(pickle.dumps(Xs)) / 1024, "kB")
    add(f"pickled lazy fold (every other of {args.large} rec)", len(pickle.dumps(Xs[::2])) / 1024, "kB")
    add(f"pickled in-memory container, {args.small} rec", len(pickle.dumps(Xm)) / 1024, "kB")

    print()
    print(f"| {'measure':<62} | {'value':>10} | unit  | {'ratio':>7} | target   |")
    print(f"|{'-' * 64}|{'-' * 12}|-------|{'-' * 9}|----------|")
    for what, value, unit, ref, target in rows:
        ratio = f"{value / ref:.2f}x" if ref else ""
        print(f"| {what:<62} | {value:>10.1f} | {unit:<5} | {ratio:>7} | {target:<8} |")
    print("\n(ratio: against the row's in-memory/small reference" + ("" if args.no_memory else
          f"; fit small net: {a['seconds']:.0f} s on {args.small}, {b['seconds']:.0f} s on {args.large}; "
          f"grid {g['seconds']:.0f} s") + ")")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

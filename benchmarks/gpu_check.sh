#!/usr/bin/env bash
# The GPU path at the papers' size, in one table (under 8 minutes on one GPU).
#
#   bash benchmarks/gpu_check.sh              # on a machine with a CUDA GPU
#   bash benchmarks/gpu_check.sh --dry-run    # the same steps on the CPU, tiny sizes (checks the script)
#
# 1. a store of RECORDS (default 20,000) tiled real records of ../shared/data (write_store,
#    benchmarks/paper_size.py's make_store; SKECG_SHARED_DATA overrides the data folder);
# 2. one epoch of each network of each paper preset (huang-paper, huang-attention-paper,
#    zhu-paper's two SE-ResNets) on that store, on the GPU, with the preset's own
#    preprocessing per batch in DataLoader workers: records/s, the epoch's time (an epoch
#    that would pass EPOCH_BUDGET seconds is stopped there and extrapolated, and the table
#    says so), peak GPU memory (torch.cuda.max_memory_allocated);
# 3. inference throughput (predict_proba on INFER records);
# 4. two runs of the huang-paper network with random_state=0 (deterministic by default on
#    CUDA, see ECGClassifier(deterministic=...)) compared weight by weight and prediction by
#    prediction, and one with deterministic=False (the speed opt-out) beside them.
#
# Environment: PYTHON (default .venv/bin/python), WORKDIR (default /tmp/skecg_gpu_check),
# RECORDS, EPOCH_BUDGET (s, default 60), INFER (default 4096), WORKERS (loader workers, default 8).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
WORKDIR=${WORKDIR:-/tmp/skecg_gpu_check}
DRY_RUN=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY_RUN=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument $arg (use --dry-run or nothing)" >&2; exit 2 ;;
    esac
done
if [ "$DRY_RUN" = 1 ]; then
    RECORDS=${RECORDS:-640}; EPOCH_BUDGET=${EPOCH_BUDGET:-20}; INFER=${INFER:-32}; WORKERS=${WORKERS:-0}
    DEVICE=cpu; MAX_BATCHES=${MAX_BATCHES:-1}; SEED_RECORDS=${SEED_RECORDS:-64}
else
    RECORDS=${RECORDS:-20000}; EPOCH_BUDGET=${EPOCH_BUDGET:-60}; INFER=${INFER:-4096}; WORKERS=${WORKERS:-8}
    DEVICE=cuda; MAX_BATCHES=${MAX_BATCHES:-0}; SEED_RECORDS=${SEED_RECORDS:-2048}
    "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || {
        echo "gpu_check.sh: no CUDA GPU visible to torch; run with --dry-run to check the script on the CPU" >&2
        exit 1
    }
fi
mkdir -p "$WORKDIR"
START=$(date +%s)
echo "gpu_check: device=$DEVICE records=$RECORDS budget=${EPOCH_BUDGET}s/epoch workers=$WORKERS load=$(cut -d' ' -f1-3 /proc/loadavg)" >&2

export RECORDS EPOCH_BUDGET INFER WORKERS DEVICE MAX_BATCHES SEED_RECORDS WORKDIR DRY_RUN
"$PYTHON" - <<'PY'
import json, os, sys, time
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback

sys.path.insert(0, "benchmarks")
from paper_size import make_store, member_pipelines  # noqa: E402

from skecg.io import open_store  # noqa: E402
from skecg.presets import get_preset  # noqa: E402

env = os.environ
records, budget, n_infer = int(env["RECORDS"]), float(env["EPOCH_BUDGET"]), int(env["INFER"])
workers, device, max_batches = int(env["WORKERS"]), env["DEVICE"], int(env["MAX_BATCHES"])
seed_records, dry = int(env["SEED_RECORDS"]), env["DRY_RUN"] == "1"
cuda = device == "cuda"
t0 = time.time()
store = make_store(Path(env["WORKDIR"]), records)
print(f"store ready ({records} records): {time.time() - t0:.0f} s", file=sys.stderr, flush=True)


def sync():
    if cuda:
        torch.cuda.synchronize()


class Budget(Callback):
    """Stops the epoch after `budget` seconds (or max_batches) and keeps the batch times."""

    def initialize(self):
        self.times_, self.stopped_ = [], False
        return self

    def on_batch_end(self, net, training=None, batch=None, **kwargs):
        if not training:
            return
        sync()
        self.times_.append((time.perf_counter(), len(batch[0])))
        if (max_batches and len(self.times_) >= max_batches) or self.times_[-1][0] - self.start_ > budget:
            self.stopped_ = True
            raise KeyboardInterrupt

    def on_epoch_begin(self, net, **kwargs):
        sync()
        self.start_ = time.perf_counter()


def prepared(preset, member):
    est = preset.make_estimator()
    (_, prep, net), = [m for m in member_pipelines(est) if m[0] == member]
    X, y = open_store(store, preset.vocabulary)
    for _, step in prep:
        if hasattr(step, "transform"):  # samplers (Huang's subset) left out: tiled copies lack its counts
            X = step.fit_transform(X)
    net.set_params(device=device, max_epochs=1, iterator_train__num_workers=workers,
                   iterator_valid__num_workers=workers)
    if workers:
        net.set_params(iterator_train__persistent_workers=False, iterator_train__prefetch_factor=4)
    return X, y, net


rows = []
for name in ("huang-paper", "huang-attention-paper", "zhu-paper"):
    preset = get_preset(name)
    for member, _, _ in member_pipelines(preset.make_estimator()):
        X, y, net = prepared(preset, member)
        b = Budget()
        net.set_params(callbacks=list(net.callbacks or []) + [("budget", b)], valid_size=0.0)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        net.fit(X, y)
        n_done = sum(n for _, n in b.times_)
        wall = b.times_[-1][0] - b.start_
        rate = n_done / wall
        Xi = X[np.arange(min(n_infer, len(X)))]
        net.predict_proba(Xi[: min(64, len(Xi))])
        sync()
        t = time.perf_counter()
        net.predict_proba(Xi)
        sync()
        irate = len(Xi) / (time.perf_counter() - t)
        peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
        rows.append({"net": f"{name} / {member}", "input": f"{X.shape[1]} x {X.shape[2]}", "batch": net.batch_size,
                     "records": n_done, "rate": rate, "epoch_s": len(X) / rate, "extrapolated": b.stopped_,
                     "infer": irate, "peak_gb": peak})
        print(f"  {rows[-1]['net']}: {rate:.0f} rec/s ({time.time() - t0:.0f} s so far)", file=sys.stderr, flush=True)
        del X, y, net

# two seeded runs (deterministic by default with random_state on CUDA) and the speed opt-out
preset = get_preset("huang-paper")
results = []
for deterministic in ("auto", "auto", False):
    X, y, net = prepared(preset, "net")
    idx = np.arange(min(seed_records, len(X)))
    net.set_params(random_state=0, deterministic=deterministic, valid_size=0.0)
    if dry:
        net.set_params(callbacks=list(net.callbacks or []) + [("budget", Budget())])
    net.fit(X[idx], y[idx])
    state = {k: v.detach().cpu().clone() for k, v in net.module_.state_dict().items()}
    results.append((state, net.predict_proba(X[idx[:256]])))
(w1, p1), (w2, p2), (w3, p3) = results
equal = all(torch.equal(w1[k], w2[k]) for k in w1) and np.array_equal(p1, p2)
diff = max(float((w1[k].float() - w2[k].float()).abs().max()) for k in w1)
diff_fast = max(float((w1[k].float() - w3[k].float()).abs().max()) for k in w1)

dev = torch.cuda.get_device_name(0) if cuda else "CPU (dry run: tiny sizes, capped batches; no figure here is a GPU's)"
print(f"\nskecg GPU check on {dev}, torch {torch.__version__}; store of {records:,} tiled real records; "
      f"{time.time() - t0:.0f} s in all")
head = ("preset / network", "input", "batch", "epoch rec/s", "epoch time", "infer rec/s", "peak GPU mem")
table = [(r["net"], r["input"], str(r["batch"]), f"{r['rate']:.0f}",
          f"{r['epoch_s']:.0f} s" + (f" (extrapolated from {r['records']} records)" if r["extrapolated"] else ""),
          f"{r['infer']:.0f}", f"{r['peak_gb']:.2f} GiB") for r in rows]
table.append((f"seeded runs (huang-paper net, {seed_records} records, random_state=0)", "", "", "", "", "",
              f"equal: {'yes' if equal else 'NO'} (max |dw| {diff:.3g}); deterministic=False vs seeded: "
              f"max |dw| {diff_fast:.3g}"))
widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
for line in [head, tuple("-" * w for w in widths), *table]:
    print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip())
if not equal:
    sys.exit(3)
PY
echo "gpu_check: done in $(( $(date +%s) - START )) s" >&2

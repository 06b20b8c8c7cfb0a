"""Training and inference speed of ECGClassifier against a plain eager PyTorch loop.

Run: .venv/bin/python benchmarks/training.py [--records 320] [--rounds 2] [--device cpu|cuda]
         [--module resnet1d attention_resnet1d se_resnet1d] [--compile] [--loader] [--threads N]

Paper sizes: Ribeiro's ResNet-1d and Huang's attention ResNet-1d on 12 leads x 4096
samples (real records of the bundled sample resampled to 400 Hz and zero-padded,
tiled), Zhu's SE-ResNet on 8 leads x 5000 samples (10 s at 500 Hz); batch 64, Adam
1e-3, BCE.  The plain side is the same network in its textbook Conv1d form
(``as_conv2d=False``).  Each measurement runs in its own subprocess (so peak resident
memory is per side) and the sides alternate, --rounds times; the best round is reported.

Both sides start from the same host numpy arrays and pay the host-to-device copy:
the plain loop copies each batch (``xs[i].to(device)``), the estimator is given the
numpy array.  Sides:

- plain eager: float32, ``for xb, yb in batches: zero_grad, forward, loss, backward, step``;
- plain AMP (CUDA, or a CPU with --cpu-bf16): the same loop under ``torch.autocast``
  (bf16 where the GPU has it, else fp16 with a GradScaler; bf16 on the CPU);
- skecg: ``ECGClassifier(module, device=...)`` with its default settings.

``--cpu-bf16`` (CPUs that compute bf16 natively, AVX512-BF16 or AMX): the plain AMP side
runs on the CPU under bf16 autocast, and the skecg side is ``precision='bf16'`` (opt-in on
CPUs; the default stays float32 there), so the ratio columns read against plain fp32 and
plain bf16.

- fit: two epochs over --records records (no validation split) on each side; the
  second epoch is the steady state a long training run lives in and is the "training"
  row; the first epoch, with everything the estimator does before it (input checks,
  set-up) and each side's one-off warm-up (oneDNN kernel creation, first touch of
  activation memory; with --compile, compilation), is its own row;
- predict_proba against eager inference (``model.eval()``, ``torch.inference_mode``,
  batch 64, results back on the host) over the same records, each timed on its second
  call (steady state);
- latency: one record from the host, median of 20 calls after warm-up.

``--loader`` times batch delivery alone (no network): the tensor-indexing loop the
estimator used before it took skorch's data path, against that path with 0-2 workers.

The plain side runs with PyTorch's default CPU allocator (``THP_MEM_ALLOC_ENABLE=0``);
importing skecg switches on transparent huge pages for large tensors, which is part
of what is measured.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


# input of each network at its paper's size: Ribeiro 12 leads x 4096 at 400 Hz; Zhu 8 leads x 10 s at 500 Hz
SHAPES = {"resnet1d": (12, 4096, 400), "attention_resnet1d": (12, 4096, 400), "se_resnet1d": (8, 5000, 500)}


def _data(n, module="resnet1d"):
    from sklearn.pipeline import make_pipeline

    from skecg.datasets import load_sample
    from skecg.preprocessing import LeadSelector, PadTruncate, Resampler

    leads, length, fs = SHAPES[module]
    X, y = load_sample("tnmg", sources=["Georgia", "Chapman-Ningbo", "CPSC-Extra", "CPSC"])
    steps = [Resampler(fs), PadTruncate(length=length)] + ([LeadSelector("independent8")] if leads == 8 else [])
    Z = make_pipeline(*steps).fit_transform(X)
    idx = np.arange(n) % len(Z)
    return Z.take(idx), y[idx]


#: training runs two epochs on each side: the second is the steady state a long training run
#: lives in; what the first costs beyond it (set-up, oneDNN kernel creation, first touch of
#: activation memory, compilation) is reported apart as a one-off
EPOCHS = 2


def _fit_result(walls, cpus):
    return {"seconds": walls[-1], "cpu_s": cpus[-1], "first_seconds": walls[0], "first_cpu_s": cpus[0],
            "first_extra_s": walls[0] - walls[-1]}


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _sync(device):
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_plain(what, X, y, device, module, amp):
    """The plain eager loop, from host numpy arrays (optionally under autocast)."""
    import contextlib

    import torch

    from skecg.models import amp_dtype
    from skecg.models._nets import MODULES

    n = len(X)
    leads, length, _ = SHAPES[module]
    model = MODULES[module](leads, length, 6, as_conv2d=False).to(device)  # the textbook Conv1d form
    xs = torch.from_numpy(np.asarray(X))  # on the host, like the estimator's input
    ys = torch.from_numpy(y.astype(np.float32))
    # AMP: bf16 where the GPU has it (else fp16); on a CPU, bf16 (--cpu-bf16, native bf16 only)
    dtype = amp_dtype(device, "bf16" if torch.device(device).type == "cpu" else "auto") if amp else None
    cast = (lambda: torch.autocast(torch.device(device).type, dtype=dtype)) if dtype is not None \
        else contextlib.nullcontext
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    out = {}
    if what == "fit":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        model.train()
        walls, cpus = [], []
        for _epoch in range(EPOCHS):
            t, c = time.perf_counter(), time.process_time()
            perm = torch.randperm(n)
            for b in range(0, n, 64):
                i = perm[b:b + 64]
                xb, yb = xs[i].to(device), ys[i].to(device)
                opt.zero_grad()
                with cast():
                    logits = model(xb)
                loss = loss_fn(logits.float(), yb)
                if scaler is None:
                    loss.backward()
                    opt.step()
                else:
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
            _sync(device)
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        return _fit_result(walls, cpus)
    model.eval()

    def infer(x, bs=64):
        with torch.inference_mode(), cast():
            return torch.cat([torch.sigmoid(model(x[b:b + bs].to(device)).float()).cpu()
                              for b in range(0, len(x), bs)])

    infer(xs)  # warm-up: the same call as the one timed
    _sync(device)
    t, c = time.perf_counter(), time.process_time()
    infer(xs)
    out["seconds"], out["cpu_s"] = time.perf_counter() - t, time.process_time() - c
    lat = []
    for _ in range(25):
        t = time.perf_counter()
        infer(xs[:1])
        lat.append(time.perf_counter() - t)
    out["latency_ms"] = 1000 * float(np.median(lat[5:]))
    return out


def run_skecg(what, X, y, device, module, compile_):
    from skecg.models import ECGClassifier

    from skorch.callbacks import Callback

    class EpochClock(Callback):
        """Wall and process CPU seconds of each epoch (begin to end)."""

        def __init__(self):
            self.walls, self.cpus = [], []

        def on_epoch_begin(self, net, **kwargs):
            self._t, self._c = time.perf_counter(), time.process_time()

        def on_epoch_end(self, net, **kwargs):
            _sync(device)
            self.walls.append(time.perf_counter() - self._t)
            self.cpus.append(time.process_time() - self._c)

    out = {}
    clock = EpochClock()
    net = ECGClassifier(module, max_epochs=EPOCHS, valid_size=0, patience=None, random_state=0,
                        device=device, compile=compile_, callbacks=[("clock", clock)],
                        precision=os.environ.get("SKECG_BENCH_PRECISION", "auto"))
    if what == "fit":
        t, c = time.perf_counter(), time.process_time()
        net.fit(X, y)
        _sync(device)
        total, total_cpu = time.perf_counter() - t, time.process_time() - c
        # what the first epoch does not share with the second (set-up, input checks, warm-up)
        # belongs to it: epoch 1 = everything but the timed second epoch
        walls = [total - sum(clock.walls[1:])] + clock.walls[1:]
        cpus = [total_cpu - sum(clock.cpus[1:])] + clock.cpus[1:]
        out = _fit_result(walls, cpus)
        if compile_:
            out["compile_s"] = out["first_extra_s"]
        return out
    net.set_params(max_epochs=0)
    net.fit(X[:64], y[:64])  # initialise only (0 epochs)
    t = time.perf_counter()
    net.predict_proba(X)  # warm-up: the same call as the one timed (and compilation)
    first = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    net.predict_proba(X)
    out["seconds"], out["cpu_s"] = time.perf_counter() - t, time.process_time() - c
    if compile_:
        out["compile_s"] = first - out["seconds"]
    lat = []
    one = np.asarray(X[:1])
    for _ in range(25):
        t = time.perf_counter()
        net.predict_proba(one)
        lat.append(time.perf_counter() - t)
    out["latency_ms"] = 1000 * float(np.median(lat[5:]))
    return out


def run_side(side, what, n, device, compile_, module="resnet1d"):
    import torch

    torch.manual_seed(0)
    if os.environ.get("SKECG_BENCH_THREADS"):  # --threads: the same torch thread count on both sides
        torch.set_num_threads(int(os.environ["SKECG_BENCH_THREADS"]))
    torch.backends.cudnn.benchmark = True  # every side
    X, y = _data(n, module)
    # one-off process costs stay outside every timer: building the first optimizer
    # imports torch._dynamo (~2 s), which the plain loop does before its timer starts
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    if side == "skecg":
        out = run_skecg(what, X, y, device, module, compile_)
    else:
        out = run_plain(what, X, y, device, module, amp=side == "plain_amp")
    out["peak_mb"] = _peak_mb()
    return out


def _table(results, module, n, args, sides):
    import torch

    leads, length, _ = SHAPES[module]
    print(f"\n{module}, {leads} x {length}, batch 64, {n} real records, device={args.device}, "
          f"torch {torch.__version__}, {os.cpu_count()} cores, torch threads {args.threads or 'default'}, "
          f"best of {args.rounds} interleaved rounds, load average {os.getloadavg()[0]:.1f}\n"
          "(records/CPU-s: per process CPU second; with one torch thread it moves much less with the\n"
          " machine's load than wall time)\n")
    names = {"plain": "plain eager", "plain_amp": "plain AMP", "skecg": "skecg bf16" if args.cpu_bf16 else "skecg"}
    head = "".join(f"{names[s]:>14}" for s in sides) + f"{'ratio':>8}"
    if "plain_amp" in sides:
        head += f"{'vs AMP':>8}"
    print(f"{'':30}{head}")

    def row(label, key, fmt, invert):
        vals = [results[(s, key[0])][key[1]] for s in sides]
        shown = [(n / v if invert else v) for v in vals]
        line = f"{label:30}" + "".join(f"{v:>14{fmt}}" for v in shown)
        line += f"{vals[0] / vals[-1]:>8.2f}"
        if "plain_amp" in sides:
            line += f"{vals[1] / vals[-1]:>8.2f}"
        print(line)

    row("training, records/s", ("fit", "seconds"), ".2f", True)
    row("training, records/CPU-s", ("fit", "cpu_s"), ".2f", True)
    row("first epoch (one-offs), rec/s", ("fit", "first_seconds"), ".2f", True)
    row("first epoch, records/CPU-s", ("fit", "first_cpu_s"), ".2f", True)
    row("inference, records/s", ("infer", "seconds"), ".2f", True)
    row("inference, records/CPU-s", ("infer", "cpu_s"), ".2f", True)
    row("single-record latency, ms", ("infer", "latency_ms"), ".1f", False)
    row("peak RSS (fit), MB", ("fit", "peak_mb"), ".0f", False)
    for what in ("fit", "infer"):
        c = results[("skecg", what)].get("compile_s")
        if c is not None:
            print(f"{'one-off compile, s (' + what + ')':30}{c:>{14 * len(sides)}.1f}")


def loader_table(n=640, rounds=5):
    """Batch delivery alone (no network): the tensor-indexing loop ECGClassifier used
    before it took skorch's data path, against that path with 0, 1 and 2 workers."""
    import torch

    from skecg.models import ECGClassifier, ECGDataset

    X = np.random.default_rng(0).standard_normal((n, 12, 4096), dtype=np.float32)
    y = np.zeros((n, 6), np.float32)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    ds = ECGDataset(X, y)
    rng = np.random.default_rng(0)
    best = {}
    for _ in range(rounds):
        t = time.perf_counter()
        perm = torch.from_numpy(rng.permutation(n))
        for b in range(0, n, 64):
            i = perm[b:b + 64]
            Xt[i], yt[i]
        best["tensor indexing (before)"] = min(best.get("tensor indexing (before)", 1e9), time.perf_counter() - t)
        for w in (0, 1, 2):
            it = ECGClassifier(iterator_train__num_workers=w, random_state=0).get_iterator(ds, training=True)
            t = time.perf_counter()
            sum(len(xb) for xb, _ in it)
            key = f"skorch data path, {w} workers"
            best[key] = min(best.get(key, 1e9), time.perf_counter() - t)
    print(f"\nbatches of 64 x 12 x 4096 float32 from memory, {n} records, {os.cpu_count()} cores, "
          f"best of {rounds} (worker start-up included)\n")
    for key, sec in best.items():
        print(f"{key:36}{n / sec:>10,.0f} records/s{1000 * sec / (n / 64):>9.1f} ms/batch")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=320)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compile", action="store_true", help="torch.compile the estimator's module (CUDA)")
    ap.add_argument("--module", nargs="+", default=sorted(SHAPES), choices=sorted(SHAPES),
                    help="networks, each at its paper's input size (default: all three)")
    ap.add_argument("--loader", action="store_true", help="time batch delivery alone (no network)")
    ap.add_argument("--threads", type=int, help="torch threads on both sides (default: torch's default)")
    ap.add_argument("--cpu-bf16", action="store_true",
                    help="CPUs with native bf16: plain AMP (bf16 autocast) beside plain fp32, and skecg with "
                         "precision='bf16' (opt-in) instead of its default")
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--what", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        print(json.dumps(run_side(args.side, args.what, args.records, args.device, args.compile, args.module[0])))
        return
    if args.loader:
        loader_table()
        return

    if args.cpu_bf16:
        from skecg.models import cpu_has_native_bf16

        if args.device != "cpu" or not cpu_has_native_bf16():
            raise SystemExit("--cpu-bf16 needs --device cpu on a CPU that computes bf16 natively "
                             "(AVX512-BF16 or AMX); this one would emulate it")
    sides = ["plain"] + (["plain_amp"] if args.device.startswith("cuda") or args.cpu_bf16 else []) + ["skecg"]
    for module in args.module:
        results = {}
        for r in range(args.rounds):
            for what in ("fit", "infer"):
                for side in sides:
                    cmd = [sys.executable, __file__, "--side", side, "--what", what, "--records",
                           str(args.records), "--device", args.device, "--module", module] + \
                        (["--compile"] if args.compile else [])
                    # the plain loop runs with PyTorch's default allocator; skecg switches on
                    # huge pages for large CPU tensors when imported (skecg/__init__.py)
                    env = dict(os.environ, THP_MEM_ALLOC_ENABLE="1" if side == "skecg" else "0")
                    if args.threads:
                        env["SKECG_BENCH_THREADS"] = str(args.threads)
                    if args.cpu_bf16:
                        env["SKECG_BENCH_PRECISION"] = "bf16"
                    res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
                                     .stdout.strip().splitlines()[-1])
                    key = (side, what)
                    if key not in results:
                        results[key] = res
                    else:  # best wall and best CPU time, each over the rounds
                        best = results[key]
                        for k in ("seconds", "cpu_s", "latency_ms", "first_seconds", "first_cpu_s"):
                            if k in res:
                                best[k] = min(best[k], res[k])
                        best["peak_mb"] = max(best["peak_mb"], res["peak_mb"])
                    print(f"round {r + 1}: {module} {side:9s} {what:5s} {res}", file=sys.stderr)
        _table(results, module, args.records, args, sides)


if __name__ == "__main__":
    main()

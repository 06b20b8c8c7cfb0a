"""Training and inference speed of ECGClassifier against a plain eager PyTorch loop.

Run: .venv/bin/python benchmarks/training.py [--records 320] [--rounds 2] [--device cpu|cuda]
         [--module resnet1d|attention_resnet1d|se_resnet1d]

Paper size: Ribeiro's ResNet-1d on 12 leads x 4096 samples (real records of the
bundled sample resampled to 400 Hz and zero-padded, tiled), batch 64, Adam 1e-3, BCE;
``--module se_resnet1d``: Zhu's SE-ResNet on 8 leads x 5000 samples (10 s at 500 Hz).
The plain side is the same network in its textbook Conv1d form (``as_conv2d=False``).
Each measurement runs in its own subprocess (so peak resident memory is per side) and
the two sides alternate, --rounds times; the best round is reported.

- fit: one epoch over --records records, the estimator's ``fit`` (no validation split)
  against ``for xb, yb in batches: zero_grad, forward, loss, backward, step``;
- predict_proba against eager inference (``model.eval()``, ``torch.inference_mode``,
  batch 64) over the same records, each timed on its second call (steady state); the
  plain side's data already sits on the device, the estimator takes numpy input;
- latency: one record, median of 20 calls after warm-up.

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


def _data(n, device, module="resnet1d"):
    from sklearn.pipeline import make_pipeline

    from skecg.datasets import load_sample
    from skecg.preprocessing import LeadSelector, PadTruncate, Resampler

    leads, length, fs = SHAPES[module]
    X, y = load_sample("tnmg", sources=["Georgia", "Chapman-Ningbo", "CPSC-Extra", "CPSC"])
    steps = [Resampler(fs), PadTruncate(length=length)] + ([LeadSelector("independent8")] if leads == 8 else [])
    Z = make_pipeline(*steps).fit_transform(X)
    idx = np.arange(n) % len(Z)
    return Z.take(idx), y[idx]


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_side(side, what, n, device, compile_, module="resnet1d"):
    import torch

    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True  # both sides
    X, y = _data(n, device, module)
    # one-off process costs stay outside both timers: building the first optimizer
    # imports torch._dynamo (~2 s), which the plain loop does before its timer starts
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    out = {}
    if side == "plain":
        from skecg.models._nets import MODULES

        leads, length, _ = SHAPES[module]
        model = MODULES[module](leads, length, 6, as_conv2d=False).to(device)  # the textbook Conv1d form
        xs = torch.from_numpy(np.asarray(X)).to(device)
        ys = torch.from_numpy(y.astype(np.float32)).to(device)
        if what == "fit":
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            loss_fn = torch.nn.BCEWithLogitsLoss()
            t = time.perf_counter()
            model.train()
            perm = torch.randperm(n)
            for b in range(0, n, 64):
                i = perm[b:b + 64]
                opt.zero_grad()
                loss = loss_fn(model(xs[i]), ys[i])
                loss.backward()
                opt.step()
            if device == "cuda":
                torch.cuda.synchronize()
            out["seconds"] = time.perf_counter() - t
        else:
            model.eval()

            def infer(x, bs=64):
                with torch.inference_mode():
                    r = torch.cat([torch.sigmoid(model(x[b:b + bs])) for b in range(0, len(x), bs)]).cpu()
                return r

            infer(xs)  # warm-up: the same call as the one timed
            if device == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            infer(xs)
            out["seconds"] = time.perf_counter() - t
            lat = []
            for _ in range(25):
                t = time.perf_counter()
                infer(xs[:1])
                lat.append(time.perf_counter() - t)
            out["latency_ms"] = 1000 * float(np.median(lat[5:]))
    else:
        from skecg.models import ECGClassifier

        net = ECGClassifier(module, max_epochs=1, valid_size=0, patience=None, random_state=0,
                            device=device, compile=compile_)
        if what == "fit":
            t = time.perf_counter()
            net.fit(X, y)
            if device == "cuda":
                torch.cuda.synchronize()
            out["seconds"] = time.perf_counter() - t
        else:
            net.set_params(max_epochs=0)
            net.fit(X[:64], y[:64])  # initialise only (0 epochs)
            net.predict_proba(X)  # warm-up: the same call as the one timed
            t = time.perf_counter()
            net.predict_proba(X)
            out["seconds"] = time.perf_counter() - t
            lat = []
            one = np.asarray(X[:1])
            for _ in range(25):
                t = time.perf_counter()
                net.predict_proba(one)
                lat.append(time.perf_counter() - t)
            out["latency_ms"] = 1000 * float(np.median(lat[5:]))
    out["peak_mb"] = _peak_mb()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=320)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compile", action="store_true", help="torch.compile the estimator's module")
    ap.add_argument("--module", default="resnet1d", choices=sorted(SHAPES),
                    help="network, at its paper's input size (default: Ribeiro's ResNet-1d)")
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--what", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        print(json.dumps(run_side(args.side, args.what, args.records, args.device, args.compile, args.module)))
        return

    import torch

    results = {}
    for r in range(args.rounds):
        for what in ("fit", "infer"):
            for side in ("plain", "skecg"):
                cmd = [sys.executable, __file__, "--side", side, "--what", what, "--records", str(args.records),
                       "--device", args.device, "--module", args.module] + (["--compile"] if args.compile else [])
                # the plain loop runs with PyTorch's default allocator; skecg switches on
                # huge pages for large CPU tensors when imported (skecg/__init__.py)
                env = dict(os.environ, THP_MEM_ALLOC_ENABLE="0" if side == "plain" else "1")
                res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
                                 .stdout.strip().splitlines()[-1])
                key = (side, what)
                if key not in results or res["seconds"] < results[key]["seconds"]:
                    results[key] = res
                print(f"round {r + 1}: {side:5s} {what:5s} {res}", file=sys.stderr)
    n = args.records
    leads, length, _ = SHAPES[args.module]
    print(f"\n{args.module}, {leads} x {length}, batch 64, {n} real records, device={args.device}, "
          f"torch {torch.__version__}, {os.cpu_count()} cores, best of {args.rounds} interleaved rounds\n")
    print(f"{'':30}{'plain eager':>14}{'skecg':>12}{'ratio':>8}")
    pf, sf = results[("plain", "fit")], results[("skecg", "fit")]
    pi, si = results[("plain", "infer")], results[("skecg", "infer")]
    print(f"{'training, records/s':30}{n / pf['seconds']:>14.2f}{n / sf['seconds']:>12.2f}"
          f"{pf['seconds'] / sf['seconds']:>8.2f}")
    print(f"{'inference, records/s':30}{n / pi['seconds']:>14.2f}{n / si['seconds']:>12.2f}"
          f"{pi['seconds'] / si['seconds']:>8.2f}")
    print(f"{'single-record latency, ms':30}{pi['latency_ms']:>14.1f}{si['latency_ms']:>12.1f}"
          f"{pi['latency_ms'] / si['latency_ms']:>8.2f}")
    print(f"{'peak RSS (fit), MB':30}{pf['peak_mb']:>14.0f}{sf['peak_mb']:>12.0f}"
          f"{pf['peak_mb'] / sf['peak_mb']:>8.2f}")


if __name__ == "__main__":
    main()

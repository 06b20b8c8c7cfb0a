"""What the papers' sizes cost on this machine: one epoch of each paper preset.

Builds a store of ``--records`` (default 20,000) tiled real records: the 620 real
records of ``../shared/data`` (``cinc2021``'s 120 challenge records of six sources
and PTB-XL's 500), resampled to 500 Hz and cut or zero-padded to 10 s, written with
:func:`skecg.io.write_store`, then tiled by lazy indexing into the big store (each
copy with its own record and patient id).  Then, for each network of each paper
preset (``huang-paper``: Ribeiro's ResNet-1d, 12 x 4096 at 400 Hz, batch 64;
``huang-attention-paper``; ``zhu-paper``: the SE-ResNets at 8 x 15,000 and
8 x 5,000, batch 16), in a fresh process so that its peak memory is its own:

- the preset's own preprocessing (its pipeline before the network, as pending steps
  of the lazy store, so records are read and preprocessed batch by batch) and its own
  network settings, ``fit`` on the whole store: the *real* epoch, stopped after
  ``--batches`` training batches (the machine is shared; a whole paper-size epoch takes
  hours here).  The first ``--warmup`` batches (one-off costs) are not counted; the
  rest give records/s and CPU seconds per record, from which the full epoch is
  extrapolated (and said so);
- inference (``predict_proba``) on ``--infer`` records: records/s;
- peak resident memory of the process (``ru_maxrss``).

Then it projects each paper's protocol on this machine from those rates, with the
protocol's sizes written out in the table (epochs, records, fits).  The load average
is printed before and after: the numbers are wall time on a machine shared with other
jobs; CPU seconds change less with load.

Run: ``.venv/bin/python benchmarks/paper_size.py`` (about 15 minutes on 2 busy cores;
5 GB of disk under ``--workdir``).  ``--quick`` measures fewer batches on a smaller
store (a smoke run, not the table).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("SKECG_SHARED_DATA", ROOT.parent / "shared" / "data"))

#: The protocols projected (sizes from the presets and the papers; see PROTOCOL_NOTES)
HUANG_TRAIN = 21_000  # Huang et al., Table 2: 3,000 per class and normal, 7 x 3,000 per subset
HUANG_FITS = 8  # subsets I-IV x {ResNet-1d, attention ResNet-1d} (Tables 5-6)
ZHU_POOL = 43_101 - 74  # 2020 public training records (Perez Alday et al. 2020) minus INCART's 74
PROTOCOL_NOTES = [
    "huang: 21,000 records per subset (Huang et al., Table 2), 2 % of them validation (the preset), 200 epochs "
    "at most (early stopping with patience 9 usually ends sooner), 8 fits (subsets I-IV x two networks).",
    "zhu: the 2020 challenge's 43,101 public training records (Perez Alday et al., Physiol Meas 2020) minus "
    "INCART's 74 and minus the records without a scored label (their number is not known here, so this is an "
    "upper bound), 80 % for training (the paper's 80/20 split), 19 epochs, each of the two members fitted twice "
    "(PseudoLabelRelabeler: a first fit that relabels CPSC, then the final fit; the relabelled CPSC is the "
    "second fit's data, so this is an upper bound too).",
]


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


# --- the store -----------------------------------------------------------------------------
def base_records():
    """The real records of ../shared/data at 500 Hz, 12 x 5000 (10 s), in memory."""
    from skecg import concat_records
    from skecg.io import read_challenge_folder, read_ptbxl
    from skecg.preprocessing import PadTruncate, Resampler

    parts = [read_challenge_folder(SHARED / "cinc2021", "cinc2020")[0],
             read_ptbxl(SHARED / "ptbxl", "cinc2020")[0]]
    X = concat_records(parts)
    X = PadTruncate(length=5000).fit_transform(Resampler(500).fit_transform(X))
    return X


def make_store(workdir: Path, n: int) -> Path:
    """A store of ``n`` tiled real records (built once, reused)."""
    from skecg.io import open_store, write_store

    big = workdir / f"tiled_{n}.store"
    if (big / "skecg_store.json").exists():
        return big
    base_path = workdir / "base.store"
    if not (base_path / "skecg_store.json").exists():
        X = base_records()
        write_store(X, base_path, overwrite=True)
    base, _ = open_store(base_path)
    idx = np.arange(n) % len(base)
    X = base[idx]  # lazy: nothing read
    copy = np.arange(n) // len(base)
    meta = X.meta
    meta["record_id"] = [f"{r}-{c}" for r, c in zip(meta["record_id"].astype(str), copy)]
    meta["patient_id"] = [f"{p}-{c}" for p, c in zip(meta["patient_id"].astype(str), copy)]
    t = time.time()
    write_store(X, big, overwrite=True)
    print(f"wrote {big} ({n} records) in {time.time() - t:.0f} s", file=sys.stderr, flush=True)
    return big


# --- one network of one preset, in its own process -------------------------------------------------
def member_pipelines(est):
    """``[(name, pipeline before the network, ECGClassifier)]`` of every network of a
    preset's estimator (the members of Zhu's ensemble each)."""
    from sklearn.base import BaseEstimator
    from sklearn.pipeline import Pipeline as SkPipeline

    from skecg.models import ECGClassifier

    out = []

    def walk(obj, name):
        if isinstance(obj, SkPipeline) or type(obj).__name__ == "Pipeline":
            steps = obj.steps
            if isinstance(steps[-1][1], ECGClassifier):
                out.append((name or "net", steps[:-1], steps[-1][1]))
                return
        if not isinstance(obj, BaseEstimator):
            return
        for k, v in obj.get_params(deep=False).items():
            if isinstance(v, BaseEstimator):
                walk(v, name)
            elif isinstance(v, (list, tuple)):
                for item in v:
                    if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], BaseEstimator):
                        walk(item[1], item[0] if k == "estimators" else name)

    walk(est, "")
    return out


def worker(preset_name: str, member: str, store: str, batches: int, warmup: int, n_infer: int) -> dict:
    import torch
    from skorch.callbacks import Callback

    from skecg.io import open_store
    from skecg.presets import get_preset

    preset = get_preset(preset_name)
    est = preset.make_estimator()
    (_, prep, net), = [m for m in member_pipelines(est) if m[0] == member]
    X, y = open_store(store, preset.vocabulary)
    # the preset's preprocessing: samplers (Huang's subset needs 3,000 records of each class,
    # which tiled copies do not have) are left out; every transformer runs per batch read
    steps = [(n, s) for n, s in prep if hasattr(s, "transform")]
    for _, step in steps:
        X = step.fit_transform(X)
    stamps = []

    class Stop(Callback):
        def on_batch_end(self, net, training=None, **kwargs):
            if training:
                stamps.append((time.perf_counter(), time.process_time()))
                if len(stamps) >= warmup + batches + 1:
                    raise KeyboardInterrupt  # skorch ends the fit here: the capped epoch

        def on_batch_begin(self, net, training=None, **kwargs):
            if training and not stamps:
                stamps.append((time.perf_counter(), time.process_time()))

    net.set_params(callbacks=list(net.callbacks or []) + [("stop", Stop())], max_epochs=1)
    t0 = time.perf_counter()
    net.fit(X, y)
    fit_wall = time.perf_counter() - t0
    measured = stamps[warmup + 1:]
    begin = stamps[warmup]
    wall = measured[-1][0] - begin[0]
    cpu = measured[-1][1] - begin[1]
    n_rec = len(measured) * int(net.batch_size)
    # inference: predict_proba on the first n_infer records of the store (read + preprocessed)
    Xi = X[np.arange(min(n_infer, len(X)))]
    net.predict_proba(Xi[: min(32, len(Xi))])  # warm-up
    t, c = time.perf_counter(), time.process_time()
    net.predict_proba(Xi)
    iw, ic = time.perf_counter() - t, time.process_time() - c
    n_params = sum(p.numel() for p in net.module_.parameters() if p.requires_grad)
    return {"preset": preset_name, "member": member, "module": str(net.module), "shape": [int(v) for v in X.shape[1:]],
            "params": int(n_params), "batch_size": int(net.batch_size), "train_records": int(n_rec),
            "train_wall": wall, "train_cpu": cpu, "fit_wall_incl_setup": fit_wall, "infer_records": len(Xi),
            "infer_wall": iw, "infer_cpu": ic, "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "threads": torch.get_num_threads(), "n_store": len(X)}


def run_worker(args, preset_name, member, store) -> dict:
    cmd = [sys.executable, __file__, "--worker", preset_name, "--member", member, "--store", str(store),
           "--batches", str(args.batches), "--warmup", str(args.warmup), "--infer", str(args.infer)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{preset_name}/{member} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt_time(s: float) -> str:
    if s >= 86400:
        return f"{s / 86400:.1f} d"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.0f} s"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=20_000)
    p.add_argument("--batches", type=int, default=6, help="training batches measured per network")
    p.add_argument("--warmup", type=int, default=2, help="training batches run first and not measured")
    p.add_argument("--infer", type=int, default=256, help="records predicted for the inference rate")
    p.add_argument("--workdir", default="/tmp/skecg_paper_size")
    p.add_argument("--presets", nargs="*", default=["huang-paper", "huang-attention-paper", "zhu-paper"])
    p.add_argument("--quick", action="store_true", help="a smoke run: 2,000 records, 2 batches, 32 predicted")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--member", help=argparse.SUPPRESS)
    p.add_argument("--store", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.member, args.store, args.batches, args.warmup, args.infer)))
        return 0
    if args.quick:
        args.records, args.batches, args.warmup, args.infer = 2000, 2, 1, 32
    if not (SHARED / "cinc2021").is_dir():
        raise SystemExit(f"needs the shared real data ({SHARED}); set SKECG_SHARED_DATA")
    from skecg.presets import get_preset

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    load0 = load_average()
    store = make_store(workdir, args.records)
    rows = []
    for name in args.presets:
        for member, _, _ in member_pipelines(get_preset(name).make_estimator()):
            print(f"measuring {name} / {member} ... (load {load_average()})", file=sys.stderr, flush=True)
            rows.append(run_worker(args, name, member, store))
    load1 = load_average()
    print(f"\nOne epoch of each paper preset on this CPU ({os.cpu_count()} cores, torch threads "
          f"{rows[0]['threads'] if rows else '?'}), store of {args.records:,} tiled real records; "
          f"load average (1/5/15 min) {load0} before, {load1} after.")
    print(f"Each training rate: {args.batches} batches of the real epoch after {args.warmup} warm-up batches, "
          "extrapolated to the whole epoch (not a whole epoch measured).\n")
    head = ("preset / network", "input", "params", "batch", "train rec/s", "CPU s/rec", "epoch of 20k (extrap.)",
            "infer rec/s", "peak RSS")
    table = []
    for r in rows:
        rate = r["train_records"] / r["train_wall"]
        table.append((f"{r['preset']} / {r['member']}", f"{r['shape'][0]} x {r['shape'][1]}", f"{r['params']:,}",
                      str(r["batch_size"]), f"{rate:.1f}", f"{r['train_cpu'] / r['train_records']:.3f}",
                      fmt_time(args.records / rate), f"{r['infer_records'] / r['infer_wall']:.1f}",
                      f"{r['peak_rss_gb']:.2f} GB"))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
    for line in [head, tuple("-" * w for w in widths), *table]:
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)))
    # projections of the protocols
    print("\nProjected protocol time on this machine (wall, at the measured rates; training + validation):")
    by = {(r["preset"], r["member"]): r for r in rows}

    def rates(r):
        return r["train_records"] / r["train_wall"], r["infer_records"] / r["infer_wall"]

    for name in ("huang-paper", "huang-attention-paper"):
        if (name, "net") in by:
            tr, inf = rates(by[(name, "net")])
            n_valid = round(HUANG_TRAIN * 0.02)
            epoch = (HUANG_TRAIN - n_valid) / tr + n_valid / inf
            print(f"  {name}: one epoch of {HUANG_TRAIN:,} records {fmt_time(epoch)}; 200 epochs (the most) "
                  f"{fmt_time(200 * epoch)} per fit; the 8 fits of Tables 5-6 if every fit took this network's "
                  f"time: {fmt_time(HUANG_FITS * 200 * epoch)}")
    zhu = [r for (p_, _), r in by.items() if p_ == "zhu-paper"]
    if zhu:
        n_train = int(ZHU_POOL * 0.8)
        total = 0.0
        parts = []
        for r in zhu:
            tr, _ = rates(r)
            per = 2 * 19 * n_train / tr  # two fits (relabelling), 19 epochs, no validation part
            total += per
            parts.append(f"{r['member']} ({r['shape'][1]} samples): {fmt_time(n_train / tr)} per epoch")
        print(f"  zhu-paper: {n_train:,} training records (upper bound), " + "; ".join(parts)
              + f"; 19 epochs x 2 fits x both members: {fmt_time(total)}")
    print("\nProtocol sizes: " + " ".join(PROTOCOL_NOTES))
    print(f"\ncommand: .venv/bin/python benchmarks/paper_size.py --records {args.records} --batches {args.batches} "
          f"--warmup {args.warmup} --infer {args.infer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

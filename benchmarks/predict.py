"""End-to-end prediction throughput: ``skecg predict`` against a plain per-record script.

Run: .venv/bin/python benchmarks/predict.py [--n 1000] [--repeat 2] [--model FILE] [--profile]

Data: the real WFDB records of ../shared/data/cinc2021 (six sources, 257-1000 Hz,
6-115 s), tiled to --n records and written with ``wfdb.wrsamp`` (16-bit ``.dat``,
digital values and gains of the originals) to a temporary folder.

Model: ``skecg train --pipeline zhu sample --epochs 1`` (the CLI's own Zhu pipeline:
8 leads, 100 Hz, bior2.6 denoising, 10 s, SE-ResNet, tuned thresholds, bradycardia rule
gate, sinus-rhythm fallback), or --model.  Training is not timed.

Each side is a fresh Python process, from reading the records to the last output CSV
(interpreter start and imports included, as a user runs it), best of --repeat runs,
the two sides interleaved:

- ``skecg predict MODEL FOLDER -o OUT`` (as the CLI is when this runs);
- the plain script (``--plain`` below): per record ``wfdb.rdsamp``, the 8 leads,
  ``scipy.signal.resample_poly``, ``pywt`` wavedec/threshold/waverec, zero padding, the
  same SE-ResNet weights in eager torch (the textbook Conv1d form), sigmoid, the same
  thresholds and the sinus-rhythm fallback, one CSV per record.  It does not run the
  bradycardia rule gate (Pan-Tompkins), so it does a little less work than skecg.

Both sides run with torch's default threads (2 on this machine).  The outputs are
compared: probabilities (max difference) and labels outside the gated class.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CINC = ROOT.parent / "shared" / "data" / "cinc2021"
INDEPENDENT_8 = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]


# --- the plain side ---------------------------------------------------------------------------
def plain_predict(weights: str, folder: str, out: str) -> None:
    """What a user writes without skecg: one record at a time, scipy, pywt, eager torch."""
    from fractions import Fraction

    import pywt
    import torch
    import wfdb
    from scipy.signal import resample_poly

    from skecg.models._nets import SEResNet1d  # the network's code; run in its Conv1d form

    spec = torch.load(weights, weights_only=True)
    net = SEResNet1d(**spec["kwargs"], as_conv2d=False)
    net.load_state_dict(spec["state"])
    net.eval()
    classes, thr = spec["classes"], spec["thresholds"].numpy()
    fs_out, level, length, normal = spec["fs"], spec["level"], spec["length"], spec["normal_index"]
    os.makedirs(out, exist_ok=True)
    for hea in sorted(Path(folder).glob("*.hea")):
        sig, fields = wfdb.rdsamp(str(hea.with_suffix("")))
        names = [n.upper() if n.lower() != "avr" else n for n in fields["sig_name"]]
        x = sig[:, [names.index(n) for n in INDEPENDENT_8]].T.astype(np.float32)
        frac = Fraction(fs_out / fields["fs"]).limit_denominator(10000)
        x = resample_poly(x, frac.numerator, frac.denominator, axis=-1).astype(np.float32)
        n = x.shape[-1]
        lv = min(level, pywt.dwt_max_level(n, pywt.Wavelet("bior2.6").dec_len))
        c = pywt.wavedec(x, "bior2.6", level=lv, axis=-1)
        sigma = np.median(np.abs(c[-1]), axis=-1, keepdims=True) / 0.6745
        t = sigma * np.sqrt(2 * np.log(n))
        c = [c[0]] + [np.sign(d) * np.maximum(np.abs(d) - t, 0) for d in c[1:]]
        x = pywt.waverec(c, "bior2.6", axis=-1)[:, :n].astype(np.float32)
        z = np.zeros((8, length), np.float32)
        z[:, :min(n, length)] = x[:, :length]
        with torch.no_grad():
            p = torch.sigmoid(net(torch.from_numpy(z)[None]))[0].numpy()
        lab = (p >= thr).astype(int)
        if not lab.any():
            lab[normal] = 1
        rid = hea.stem
        with open(os.path.join(out, rid + ".csv"), "w") as fh:
            fh.write(f"#{rid}\n" + ",".join(classes) + "\n" + ",".join(map(str, lab)) + "\n"
                     + ",".join(f"{v:.6g}" for v in p) + "\n")


# --- set-up -----------------------------------------------------------------------------------
def write_folder(n: int, dest: Path) -> None:
    """``n`` records tiled from cinc2021, written with wfdb.wrsamp (exact digital values)."""
    import wfdb

    src = sorted(p.with_suffix("") for p in CINC.glob("*.hea"))
    recs = [wfdb.rdrecord(str(p), physical=False) for p in src]
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        r = recs[i % len(recs)]
        wfdb.wrsamp(f"T{i:05d}", fs=r.fs, units=r.units, sig_name=r.sig_name, d_signal=r.d_signal,
                    fmt=["16"] * r.n_sig, adc_gain=r.adc_gain, baseline=r.baseline, comments=r.comments,
                    write_dir=str(dest))
        # wfdb-python writes the 16-bit checksum unsigned (63820), the WFDB tools and the
        # challenge files signed (-1716); skecg's reader compares them exactly (reported),
        # so the header gets the signed form the original had
        hea = dest / f"T{i:05d}.hea"
        lines = hea.read_text().splitlines()
        for j in range(1, 1 + r.n_sig):
            f = lines[j].split(" ")
            if len(f) > 6 and int(f[6]) > 32767:
                f[6] = str(int(f[6]) - 65536)
                lines[j] = " ".join(f)
        hea.write_text("\n".join(lines) + "\n")


def export_plain_weights(model: Path, dest: Path) -> None:
    """The fitted net's weights, kwargs and thresholds for the plain side (torch.save)."""
    import torch

    from skecg.persistence import load_model

    est = load_model(model)
    pipe = est.estimator_.estimator_  # SinusRhythmFallback(BradycardiaRuleGate(Pipeline))
    clf = pipe.steps[-1][1]
    m = clf.module_
    kwargs = {k[len("module__"):]: v for k, v in clf.get_params().items()
              if k.startswith("module__") and k != "module__as_conv2d"}
    kwargs.update(n_leads=m.n_leads, n_samples=m.n_samples, n_classes=m.n_classes)
    kwargs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()}
    torch.save({"kwargs": kwargs, "state": m.state_dict(), "classes": [str(c) for c in est.classes_],
                "thresholds": torch.as_tensor(clf.thresholds_), "fs": float(pipe.named_steps["resample"].fs_out),
                "level": int(pipe.named_steps["denoise"].level), "length": int(pipe.named_steps["pad"].length),
                "normal_index": int(est.normal_index_)}, dest)


def read_outputs(folder: Path):
    out = {}
    for p in sorted(folder.glob("*.csv")):
        if p.name == "skipped_records.csv":
            continue
        lines = p.read_text().splitlines()
        out[p.stem] = (np.array(lines[2].split(","), int), np.array(lines[3].split(","), float))
    return out, lines[1].split(",")


def run(cmd, label):
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    dt = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"{label} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--model", help="a model file made by `skecg train --pipeline zhu` (default: train one)")
    ap.add_argument("--profile", action="store_true", help="also profile one `skecg predict` run (cProfile)")
    ap.add_argument("--keep", help="use (and keep) this work folder instead of a temporary one")
    ap.add_argument("--plain", nargs=3, metavar=("WEIGHTS", "FOLDER", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.plain:
        plain_predict(*args.plain)
        return
    if not CINC.is_dir():
        raise SystemExit(f"needs the real records in {CINC}")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="skecg_predict_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    skecg = [py, "-m", "skecg.apps.cli"]
    try:
        data = work / "records"
        if not (data.is_dir() and len(list(data.glob("*.hea"))) == args.n):
            shutil.rmtree(data, ignore_errors=True)
            t = time.perf_counter()
            write_folder(args.n, data)
            print(f"wrote {args.n} records (tiled from {len(list(CINC.glob('*.hea')))} of cinc2021) "
                  f"in {time.perf_counter() - t:.1f} s")
        model = Path(args.model) if args.model else work / "zhu.skecg"
        if not model.is_file():
            t = time.perf_counter()
            run(skecg + ["train", "--pipeline", "zhu", "sample", "--epochs", "1", "-o", str(model)], "skecg train")
            print(f"trained {model.name} in {time.perf_counter() - t:.0f} s (not timed below)")
        weights = work / "plain_weights.pt"
        export_plain_weights(model, weights)
        t_start = min(run([py, "-c", "import skecg.apps.cli, skecg.persistence, torch, wfdb, pywt, scipy.signal"],
                          "imports") for _ in range(2))

        times = {"plain": [], "skecg": []}
        for _ in range(args.repeat):
            for side in ("plain", "skecg"):
                out = work / f"out_{side}"
                shutil.rmtree(out, ignore_errors=True)
                cmd = ([py, __file__, "--plain", str(weights), str(data), str(out)] if side == "plain"
                       else skecg + ["predict", str(model), str(data), "-o", str(out)])
                times[side].append(run(cmd, side))
        ours, classes = read_outputs(work / "out_skecg")
        ref, _ = read_outputs(work / "out_plain")
        common = sorted(set(ours) & set(ref))
        from skecg.persistence import load_model

        gate = getattr(load_model(model), "estimator_", None)  # SinusRhythmFallback(BradycardiaRuleGate(...))
        code = getattr(gate, "gated_class", None)
        gated = classes.index(code) if code in classes else -1
        keep = [j for j in range(len(classes)) if j != gated]
        dp = max(np.abs(ours[r][1] - ref[r][1]).max() for r in common)
        same = np.mean([np.array_equal(ours[r][0][keep], ref[r][0][keep]) for r in common])

        print(f"\n{args.n} WFDB records -> challenge CSVs, {os.cpu_count()} cores "
              f"(best of {args.repeat}, interleaved; each run a fresh process)")
        print(f"{'side':<44}{'seconds':>9}{'records/s':>11}{'x plain':>9}")
        tp, ts = min(times["plain"]), min(times["skecg"])
        print(f"{'plain script (wfdb + scipy + pywt + eager torch)':<44}{tp:>9.2f}{args.n / tp:>11.0f}{1:>9.2f}")
        print(f"{'skecg predict':<44}{ts:>9.2f}{args.n / ts:>11.0f}{tp / ts:>9.2f}")
        print(f"interpreter start + imports (in both): {t_start:.2f} s; outputs: {len(ours)} skecg, {len(ref)} plain; "
              f"max |p_skecg - p_plain| = {dp:.1e}; labels equal outside the gated class: {same:.1%}")
        if args.profile:
            prof = work / "predict.prof"
            run([py, "-m", "cProfile", "-o", str(prof), "-m", "skecg.apps.cli", "predict", str(model), str(data),
                 "-o", str(work / "out_prof")], "profile")
            import pstats

            print("\nwhere `skecg predict` spends its time (cProfile, cumulative):")
            pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(28)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The main job: cross-dataset experiments on the bundled real sample (``make demo``).

    python -m skecg.apps.demo [--out skecg_demo_output] [--quick]

Three systems are trained on some sources and tested on sources they have never seen
(Chapman-Ningbo, Georgia, and the two Chinese CPSC sets), every other source -- mostly
PTB-XL -- forming the training set:

- Zhu et al.: 8 leads, resample, wavelet denoising, pad, SE-ResNet + Sign Loss, the
  bradycardia rule gate and the sinus-rhythm fallback (24 scored classes);
- Huang et al.: balanced training subset I, Ribeiro's ResNet-1d with and without
  attention (six TNMG classes);
- the CatBoost baseline on Pan-Tompkins HRV features, age and sex (six TNMG classes).

It prints per-class precision, recall, specificity and F1 and the challenge score with
95 % bootstrap intervals, and writes figures.  Sizes (:data:`SIZES`, stated in the
output): 50 Hz, 10 s, narrow networks (a quarter of the channels the named pipelines
use), 12 epochs with early stopping -- small enough to finish within 3 minutes on 2
quiet CPU cores (``benchmarks/budget.py`` measures its CPU seconds), large enough to
learn the rhythm classes.  A progress line comes with each training epoch, and a note
of what is running after 8 s without a line (``benchmarks/budget.py`` reports the
longest silence: 13.7 s in 3 runs on a loaded machine with a 10 s note, 2026-12-07).
The sample is small: the numbers are noisy and are not the papers' numbers.
"""

from __future__ import annotations

import os

# On a machine shared with other jobs, OpenMP threads that spin while they wait for work
# burn the CPU others need (measured on 2 cores at a load average of 10: 12 times the CPU
# seconds per training batch of the same network with passive waiting).  Set before torch
# loads its OpenMP runtime; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from skorch.callbacks import Callback  # noqa: E402

from skecg import datasets  # a lazy face: its modules load on first use
from skecg.labels import get_vocabulary  # noqa: E402
import skecg  # the root face imports skecg.<module> on first use, not at `skecg --help`

from ._common import fitted_networks  # noqa: E402
from .experiments import (  # noqa: E402
    PIPELINE_VOCABULARY,
    compare_folds,
    evaluate_cross_source,
    make_named_pipeline,
)

TEST_GROUPS = [["Chapman-Ningbo"], ["Georgia"], ["CPSC", "CPSC-Extra"]]
SYSTEMS = [("zhu", "Zhu et al. (SE-ResNet, Sign Loss, rule gate, fallback)"),
           ("huang", "Huang et al. (ResNet-1d, subset I)"),
           ("huang-attention", "Huang et al. (attention ResNet-1d, subset I)"),
           ("catboost", "CatBoost on HRV features + age, sex")]


#: pairs of systems compared on the same held-out records (same vocabulary)
PAIRS = [("huang-attention", "huang"), ("huang", "catboost"), ("huang-attention", "catboost")]

#: the demo's sizes: sampling rate, and parameters set on each named pipeline (channels
#: per stage of the networks; make_named_pipeline's defaults are (32, 64, 64, 128) with
#: a 64-channel stem for Zhu's SE-ResNet and (32, 48, 64) for Ribeiro's ResNet-1d)
FS = 50
SIZES = {
    "zhu": {"estimator__estimator__net__module__filters": (16, 32, 32, 64),
            "estimator__estimator__net__module__stem_filters": 16},
    "huang": {"net__module__filters": (16, 24, 32)},
    "huang-attention": {"net__module__filters": (16, 24, 32)},
    "catboost": {},
}

_last_line = [time.monotonic()]
_stage = ["starting"]
_lock = threading.Lock()


def _say(msg: str = "") -> None:
    """Print a line now (flushed) and note the time for the heartbeat."""
    with _lock:
        print(msg, flush=True)
        _last_line[0] = time.monotonic()


def _heartbeat(stop: threading.Event, every: float = 8.0, t0: float = 0.0) -> None:
    """A line whenever ``every`` seconds passed without one: what is running, and since when."""
    while not stop.wait(1.0):
        if time.monotonic() - _last_line[0] >= every:
            _say(f"    ... {_stage[0]} ({time.perf_counter() - t0:.0f} s since the start)")


class EpochLine(Callback):
    """A skorch callback that prints one line per training epoch (losses, duration)."""

    def on_epoch_end(self, net, **kwargs):
        h = net.history[-1]
        parts = [f"epoch {h['epoch']}/{net.max_epochs}", f"train loss {h['train_loss']:.3f}"]
        if "valid_loss" in h:
            parts.append(f"valid loss {h['valid_loss']:.3f}")
        _say("    " + ", ".join(parts) + f" ({h.get('dur', 0):.1f} s)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m skecg.apps.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="skecg_demo_output", help="folder for the figures")
    ap.add_argument("--quick", action="store_true", help="2 epochs, one held-out group (a smoke run)")
    ap.add_argument("--resamples", type=int, default=200, help="bootstrap resamples")
    ap.add_argument("--n-seeds", type=int, default=1, help="training seeds per system (tables show mean +- sd)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: every CPU core)")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    stop = threading.Event()
    _last_line[0] = time.monotonic()
    beat = threading.Thread(target=_heartbeat, args=(stop,), kwargs={"t0": t_start}, daemon=True)
    beat.start()
    try:
        return _run(args, t_start)
    finally:
        stop.set()
        beat.join()


def _run(args, t_start) -> int:
    _stage[0] = "loading matplotlib and torch"
    import matplotlib

    matplotlib.use("Agg")
    import torch

    torch.set_num_threads(max(1, args.threads or os.cpu_count() or 1))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = 2 if args.quick else 12
    groups = TEST_GROUPS[:1] if args.quick else TEST_GROUPS
    _say("skecg demo: how well do ECG models work on data from hospitals they have never seen?")
    _say(f"sizes: {FS} Hz, 10 s, narrow networks, up to {epochs} epochs (early stopping, patience 9); "
         f"held-out groups: {groups}\n")
    all_results = {}
    for name, title in SYSTEMS:
        _stage[0] = f"{title}: loading the sample"
        X, y = datasets.load_sample(PIPELINE_VOCABULARY[name])
        _say(f"== {title}: {len(X)} records, vocabulary {PIPELINE_VOCABULARY[name]!r} ({y.shape[1]} classes)")
        est = make_named_pipeline(name, max_epochs=epochs, fs=FS).set_params(**SIZES[name])
        net = next((k[:-len("module__filters")] for k in SIZES[name] if k.endswith("module__filters")), None)
        if net:
            est.set_params(**{net + "callbacks": [("epoch_line", EpochLine())]})
        _stage[0] = f"{title}: preprocessing, training, predicting and scoring"
        results = evaluate_cross_source(est, X, y, groups, n_seeds=args.n_seeds, n_resamples=args.resamples,
                                        keep_estimators=True, log=_say)
        for res in results:
            _say(f"\n-- {title}, held out {'+'.join(res.test_sources)} "
                 f"(classes present in the held-out records):")
            _say(res.report() + "\n")
        all_results[name] = (X, y, results)
    _stage[0] = "summary tables and paired bootstrap"
    _say("== summary: challenge score [95% CI, resampling patients] per held-out source group")
    header = f"{'system':<34}" + "".join(f"{'+'.join(g):>28}" for g in groups)
    _say(header)
    for name, _ in SYSTEMS:
        row = f"{name:<34}" + "".join(f"{str(r.challenge):>28}" for r in all_results[name][2])
        _say(row)
    for vocab in dict.fromkeys(PIPELINE_VOCABULARY[n] for n, _ in SYSTEMS):
        rep = next(n for n, _ in SYSTEMS if PIPELINE_VOCABULARY[n] == vocab)
        for ref in all_results[rep][2][0].references.index:
            row = f"{(ref + ' (' + vocab + ')'):<34}" + "".join(
                f"{r.references.loc[ref, 'challenge']:>28.3f}" for r in all_results[rep][2])
            _say(row)
    _say("\n== paired differences in challenge score on the same records "
         "(95% CI, resampling patients; an interval covering 0 is not significant)")
    for a, b in PAIRS:
        for ra, rb in zip(all_results[a][2], all_results[b][2]):
            d = compare_folds(ra, rb, names=(a, b), n_resamples=args.resamples)
            _say(f"  held out {'+'.join(ra.test_sources):<22} {d}")
    _stage[0] = "writing the figures"
    _figures(all_results, out)
    _say(f"\nfigures written to {out.resolve()}")
    _say(f"total time {time.perf_counter() - t_start:.0f} s")
    _say("These numbers come from a few hundred open records and are not the papers' numbers: the papers "
         "trained on 43,000-2,000,000 records at full resolution.")
    return 0


def _figures(all_results, out: Path):
    import matplotlib.pyplot as plt  # matplotlib: loaded by _run, while the heartbeat says so

    # attention over a held-out record with a rhythm abnormality
    X, y, results = all_results["huang-attention"]
    res = results[0]
    est = res.estimator
    Xte = X.take(np.flatnonzero(np.isin(X.meta["source"], res.test_sources)))
    pick = int(np.argmax(res.y_true[:, 3] + res.y_true[:, 5] * 0.5)) if res.y_true.any() else 0
    rec = Xte.take([pick])
    Z = est[:-1].transform(rec) if hasattr(est, "steps") else rec
    net = est.steps[-1][1]
    w = net.attention_weights(Z)[0]
    sig = rec.signals[0]
    labels = [get_vocabulary("tnmg").abbreviations[j] for j in np.flatnonzero(res.y_true[pick])] or ["normal"]
    fig = skecg.plots.plot_ecg(sig, rec.meta["fs"].iloc[0], rec.meta["leads"].iloc[0], attention=w,
                   attention_seconds=Z.shape[2] / Z.meta["fs"].iloc[0],
                   title=f"{rec.meta['record_id'].iloc[0]} ({rec.meta['source'].iloc[0]}), labels: "
                         f"{', '.join(labels)}; blue: attention of the Huang-style network")
    fig.savefig(out / "ecg_attention.png", dpi=110)
    plt.close(fig)
    for name in ("zhu", "huang", "catboost"):
        _, _, results = all_results[name]
        r = results[0]
        fig = skecg.plots.plot_pr_curves(r.y_true, r.proba, r.classes)
        fig.axes[0].set_title(f"{name}: precision-recall, held out {'+'.join(r.test_sources)}")
        fig.savefig(out / f"pr_curves_{name}.png", dpi=110)
        plt.close(fig)
        fig = skecg.plots.plot_confusion_counts(r.y_true, r.pred, r.classes)
        fig.axes[0].set_title(f"{name}: confusion counts, held out {'+'.join(r.test_sources)}")
        fig.savefig(out / f"confusion_{name}.png", dpi=110)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in ("zhu", "huang", "huang-attention"):
        net = fitted_networks(all_results[name][2][0].estimator)[0]  # the network that predicts
        skecg.plots.plot_learning_curves(net, ax=ax, label=name)
    fig.savefig(out / "learning_curves.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())

"""WaveSegmenter with default settings on LUDB lead II: held-out onset/offset F1 per wave.

Run: flock /tmp/skecg-heavy.lock .venv/bin/python benchmarks/segmentation.py [--threads 2]
     [--save segmenter.pt] [--test-every 5]

Split: records whose LUDB number is a multiple of ``--test-every`` (default 5: 32 of
160 records) are held out; the others train (of which ``valid_size`` go to early
stopping).  Scores: 150 ms tolerance, only inside each record's annotated region; a
predicted onset (offset) of a wave whose annotation lacks it (LUDB's paced QRS
complexes of record 95) is skipped in the main table and counted as a false positive
in the last line (``delineation_scores(skip_missing=False)``).
"""

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from skorch.callbacks import Callback

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import LUDB  # noqa: E402

from skecg.io import read_ludb  # noqa: E402
from skecg.preprocessing import LeadSelector  # noqa: E402
from skecg.models import WaveSegmenter  # noqa: E402
from skecg.segmentation import delineation_scores, waves_to_masks  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--test-every", type=int, default=5)
p.add_argument("--save", default=None)
p.add_argument("--max-epochs", type=int, default=None)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--filters", default=None, help="e.g. 8,16,32,64")
p.add_argument("--pool", type=int, default=None)
p.add_argument("--dump", default=None, help="save the probabilities of all 160 records and the training "
               "records' validation part (.npz) for choosing cleaning rules inside the training records")
args = p.parse_args()
torch.set_num_threads(args.threads)


class ValidationRecords(Callback):
    """The positions (among the training records) of the validation part."""

    def on_epoch_begin(self, net, dataset_valid=None, **kwargs):
        self.indices_ = None if dataset_valid is None else dataset_valid.indices


X, _, waves = read_ludb(LUDB, annotation_leads=["ii"])
X2 = LeadSelector(["II"]).fit_transform(X)
masks = waves_to_masks(waves, X2, X2.shape[-1], lead="II")
test = (X.meta["ludb_id"] % args.test_every == 0).to_numpy()
kw = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
if args.pool:
    kw["module__pool"] = args.pool
if args.filters:
    kw["module__filters"] = tuple(int(f) for f in args.filters.split(","))
seg = WaveSegmenter(random_state=args.seed, verbose=1, callbacks=[("valid_records", ValidationRecords())], **kw)
t0 = time.perf_counter()
seg.fit(X2[~test], masks[~test])
train_s = time.perf_counter() - t0
t0 = time.perf_counter()
pred = seg.predict_waves(X2[test])
pred_s = time.perf_counter() - t0
true = waves[waves["record_id"].isin(X.meta["record_id"][test])]
scores = delineation_scores(true, pred, fs=500, tolerance=0.15)
pd.set_option("display.width", 140)
print(f"\ntrained on {int((~test).sum())} records ({len(seg.history)} epochs, {train_s:.0f} s on "
      f"{args.threads} threads); held out {int(test.sum())} records (LUDB ids % {args.test_every} == 0); "
      f"prediction {pred_s:.1f} s")
print(scores.round({"se": 4, "ppv": 4, "f1": 4, "mean_error_ms": 1, "sd_error_ms": 1}).to_string())
print("F1 per wave (mean of onset and offset):",
      {w: round(float(scores.loc[w, "f1"].mean()), 4) for w in ("P", "QRS", "T")})
strict = delineation_scores(true, pred, fs=500, tolerance=0.15, skip_missing=False)
print("F1 counting predicted points of annotated waves that lack them as false positives (skip_missing=False):",
      {f"{w} {p}": round(float(strict.loc[(w, p), "f1"]), 4) for w in ("P", "QRS", "T") for p in ("onset", "offset")})
if args.dump:
    import numpy as np

    train_ids = X.meta["record_id"].to_numpy()[~test]
    valid_idx = dict(seg.callbacks_)["valid_records"].indices_
    np.savez_compressed(args.dump, proba=seg.predict_proba(X2).astype(np.float16),
                        record_id=X.meta["record_id"].to_numpy().astype(str), test=test,
                        valid_ids=train_ids[valid_idx].astype(str) if valid_idx is not None else [])
if args.save:
    seg.save_weights(args.save)
    print("saved", args.save)

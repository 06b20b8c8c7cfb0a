"""
P, QRS and T waves segmented by a 1D U-Net, against cardiologists' annotations (LUDB)
=====================================================================================

LUDB (``../shared/data/ludb``) gives, for every lead of 160 ten-second records, the
onset, peak and offset of each P wave, QRS complex and T wave, annotated by
cardiologists.  A :class:`~skecg.segmentation.WaveSegmenter` (a 1D U-Net trained by
skorch, with its default settings) learns lead II sample by sample on 128 records;
the 32 records whose LUDB number is a multiple of 5 are held out.  We then

1. score its onsets and offsets on the held-out records (150 ms tolerance, only
   inside each record's annotated region, as ``benchmarks/segmentation.py``),
2. draw a held-out record with the predicted spans shaded over the annotated ones,
3. apply Zhu et al.'s segment rule (:class:`~skecg.ensemble.SegmentRuleClassifier`,
   their "Model 8") as a "wide QRS" detector: a record is positive when a predicted
   QRS lasts at least 120 ms, compared with the LUDB diagnoses that state a bundle
   branch block, an intraventricular conduction delay or ventricular extrasystoles.

Training takes several minutes on two CPU cores.  ``python
examples/plot_wave_segmentation.py segmenter.pt`` loads weights saved by
``benchmarks/segmentation.py --save segmenter.pt`` instead (same split).  The docs build
runs it in quick mode (``SKECG_EXAMPLES_QUICK=1``: 32 training records, 2 epochs), whose
numbers only show that the code runs.
"""

import os
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.frozen import FrozenEstimator

from skecg.ensemble import SegmentRuleClassifier
from skecg.io import read_ludb
from skecg.preprocessing import LeadSelector
from skecg.models import WaveSegmenter
from skecg.segmentation import delineation_scores, waves_to_masks

# beside the checkout; sphinx-gallery runs examples from examples/ without __file__
LUDB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ludb" if "__file__" in globals() \
    else next((p for p in (Path("../shared/data/ludb"), Path("../../shared/data/ludb")) if p.is_dir()),
              Path("../shared/data/ludb"))
X, _, waves = read_ludb(LUDB, annotation_leads=["ii"])
X2 = LeadSelector(["II"]).fit_transform(X)
masks = waves_to_masks(waves, X2, X2.shape[-1], lead="II")  # -1 outside the annotated region
test = (X.meta["ludb_id"] % 5 == 0).to_numpy()

QUICK = os.environ.get("SKECG_EXAMPLES_QUICK") == "1"
seg = WaveSegmenter(random_state=0, max_epochs=2 if QUICK else 60)
if len(sys.argv) > 1 and sys.argv[1].endswith(".pt"):
    seg.load_weights(sys.argv[1])
else:
    train = np.flatnonzero(~test)[::4] if QUICK else np.flatnonzero(~test)
    seg.fit(X2[train], masks[train])

# %%
# Onset and offset F1 on the held-out records
# -------------------------------------------
pred = seg.predict_waves(X2[test])
held_out = waves[waves["record_id"].isin(X.meta["record_id"][test])]
scores = delineation_scores(held_out, pred, fs=500, tolerance=0.15)
print(scores.round(3).to_string())

# %%
# A held-out record: predicted spans over the annotated ones
# ----------------------------------------------------------
# Annotated waves are drawn in the lower band, predicted ones in the upper band and
# shaded over the signal; the grey areas are LUDB's unannotated first and last beats.
rid = "ludb-5"
i = int(np.flatnonzero(X2.meta["record_id"] == rid)[0])
sig = X2.signals[i, 0]
t = np.arange(sig.size) / 500
colors = {"P": "tab:green", "QRS": "tab:red", "T": "tab:blue"}
fig, ax = plt.subplots(figsize=(14, 4))
ax.plot(t, sig, color="k", lw=0.8)
lo, hi = sig.min(), sig.max()
band = (hi - lo) * 0.12
for table, y0, label in ((waves[(waves.record_id == rid)], lo - 2.2 * band, "annotated"),
                         (pred[pred.record_id == rid], lo - 1.1 * band, "predicted")):
    for _, w in table.dropna(subset=["onset", "offset"]).iterrows():
        if label == "predicted":
            ax.fill_between([w.onset / 500, (w.offset + 1) / 500], y0 + band, hi, color=colors[w.wave], alpha=0.15,
                            lw=0)
        ax.fill_between([w.onset / 500, (w.offset + 1) / 500], y0, y0 + band * 0.9, color=colors[w.wave])
    ax.text(0.03, y0 + band * 0.45, label, ha="left", va="center", fontsize=9,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8})
unannotated = masks[i] < 0
ax.fill_between(t, lo - 2.3 * band, hi, where=unannotated, color="0.85", zorder=0)
for name, c in colors.items():
    ax.plot([], [], color=c, lw=6, label=name)
ax.legend(loc="upper right", ncol=3)
ax.set_xlim(0, 10)
ax.set_xlabel("time (s)")
ax.set_ylabel("lead II (mV)")
ax.set_title(f"{rid} (held out): WaveSegmenter spans (upper band, shading) vs cardiologists' (lower band)")
fig.tight_layout()
if "__file__" in globals() and not QUICK:  # run as a script: the README's figure (the gallery keeps its own)
    fig.savefig(Path(__file__).resolve().parents[1] / "docs" / "_static" / "wave_segmentation.png", dpi=110)

# %%
# Zhu's segment rule as a "wide QRS" detector
# -------------------------------------------
# A record is positive when a predicted QRS segment lasts at least 120 ms.  LUDB's
# diagnoses give the truth: complete right or left bundle branch block,
# non-specific intraventricular conduction delay, or ventricular extrasystoles.
# Paced records have wide QRS complexes too and are counted apart.
WIDE = {"713427006", "164909002", "698252002", "427172004"}  # CRBBB, LBBB, NSIVCB, PVC
rule = SegmentRuleClassifier(FrozenEstimator(seg), segment_class="QRS", min_length=0.12,
                             classes=["wide QRS"]).fit(X2, None)
positive = rule.predict(X2)[:, 0].astype(bool)
truth = X.meta["dx"].map(lambda d: bool(WIDE & set(d))).to_numpy()
paced = X.meta["dx"].map(lambda d: "10370003" in d).to_numpy()
for name, sel in (("held-out records", test), ("all 160 records", np.ones(len(X), bool))):
    t_, p_ = truth[sel & ~paced], positive[sel & ~paced]
    print(f"\n{name} (without {int((sel & paced).sum())} paced, of which {int(positive[sel & paced].sum())} "
          "flagged):")
    print(pd.crosstab(pd.Series(t_, name="LUDB: block/PVC"), pd.Series(p_, name="rule: QRS >= 120 ms")))
plt.show()

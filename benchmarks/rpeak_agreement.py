"""Beat counts of skecg's Pan-Tompkins detector against neurokit2, on every bundled record.

Run: .venv/bin/python benchmarks/rpeak_agreement.py   (lead II; agreement = counts within +-1)
"""

import collections

import neurokit2 as nk

from skecg.datasets import load_sample
from skecg.preprocessing import detect_r_peaks

X, _ = load_sample()
agree, total, nk_failed = collections.Counter(), collections.Counter(), 0
for sig, fs, src in zip(X.signals, X.meta.fs, X.meta.source):
    lead = sig[1].astype(float)
    ours = detect_r_peaks(lead, fs)
    try:
        _, info = nk.ecg_peaks(nk.ecg_clean(lead, sampling_rate=int(fs)), sampling_rate=int(fs))
        ref = info["ECG_R_Peaks"]
    except Exception:
        ref = []
    nk_failed += len(ref) == 0
    key = f"{src} ({int(fs)} Hz)"
    total[key] += 1
    agree[key] += abs(len(ours) - len(ref)) <= 1
for key in sorted(total):
    print(f"{key:<26} {agree[key]:4d} / {total[key]:4d}")
print(f"all: {sum(agree.values())} / {sum(total.values())} "
      f"({sum(agree.values()) / sum(total.values()):.1%}); neurokit2 found no peak in {nk_failed} records")

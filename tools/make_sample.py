"""Build the bundled real sample (skecg/datasets/data/) from ../shared/data.

Contents: the 120 PhysioNet/CinC 2020/2021 training records of shared/data/cinc2021
(six sources; each capped at its first 30 s) and PTB-XL ecg_id 1-500 at 100 Hz.
Signals are stored losslessly as the original 16-bit digital samples, delta-coded
and lzma-compressed; `skecg.datasets.load_sample` decodes them.

Run: python tools/make_sample.py [path/to/shared/data]
"""

import lzma
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from skecg.io import read_challenge_folder, read_ptbxl

CAP_S = 30
data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
out = Path(__file__).resolve().parents[1] / "skecg" / "datasets" / "data"
out.mkdir(parents=True, exist_ok=True)

parts = [read_challenge_folder(data / "cinc2021"), read_ptbxl(data / "ptbxl", sampling_rate=100)]
rows, chunks, offset = [], [], 0
GAIN = 1000.0  # every record of these sources is stored at 1000 units per mV
for X, _ in parts:
    for i, sig in enumerate(X.signals):
        m = X.meta.iloc[i]
        n = min(sig.shape[1], int(CAP_S * m["fs"]))
        dig = np.round(sig[:, :n].astype(np.float64) * GAIN)
        assert np.all(np.abs(dig) < 32768)
        assert np.allclose(dig / GAIN, sig[:, :n], atol=1e-6), m["record_id"]
        dig = dig.astype(np.int16)
        delta = np.diff(dig, axis=1, prepend=np.int16(0)).astype(np.int16)
        chunks.append(np.ascontiguousarray(delta).tobytes())
        rows.append({
            "record_id": m["record_id"], "source": m["source"], "fs": m["fs"],
            "age": m["age"], "sex": m["sex"], "patient_id": m["patient_id"],
            "leads": "|".join(m["leads"]), "dx": "|".join(m["dx"]),
            "n_leads": sig.shape[0], "n_samples": n, "original_n_samples": sig.shape[1],
            "gain": GAIN, "offset": offset,
        })
        offset += sig.shape[0] * n * 2
(out / "sample_signals.xz").write_bytes(lzma.compress(b"".join(chunks), preset=9))
pd.DataFrame(rows).to_csv(out / "sample_records.csv", index=False)
print(len(rows), "records;", (out / "sample_signals.xz").stat().st_size / 1e6, "MB")

"""Load every record under ../shared/data with the four readers; print times and counts.

Run: .venv/bin/python benchmarks/load_all.py [path/to/shared/data]
"""

import sys
import time
from pathlib import Path

import pandas as pd

from skecg.io import read_challenge_folder, read_cpsc2018, read_ptbxl
from skecg.labels import get_vocabulary

data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
readers = {
    "cinc2021 (challenge WFDB)": lambda: read_challenge_folder(data / "cinc2021", "tnmg"),
    "PTB-XL 500 Hz": lambda: read_ptbxl(data / "ptbxl", "tnmg"),
    "PTB-XL 100 Hz": lambda: read_ptbxl(data / "ptbxl", "tnmg", sampling_rate=100),
    "CPSC 2018 original": lambda: read_cpsc2018(data / "cpsc2018_unlabeled", "tnmg"),
}
abbr = get_vocabulary("tnmg").abbreviations
rows, total, n = [], 0.0, 0
for name, read in readers.items():
    t = time.perf_counter()
    X, y = read()
    dt = time.perf_counter() - t
    total += dt
    n += len(X)
    print(f"{name:<28} {len(X):4d} records in {dt:.2f} s, skipped: {X.skipped or 'none'}")
    for src in sorted(set(X.meta.source)):
        m = (X.meta.source == src).to_numpy()
        rows.append({"folder": name, "source": src, "records": int(m.sum()),
                     **dict(zip(abbr, y[m].sum(0).tolist())), "none of 6": int((y[m].sum(1) == 0).sum())})
print(f"total: {n} records in {total:.2f} s\n")
print(pd.DataFrame(rows).to_string(index=False))

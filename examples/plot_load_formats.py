"""
Loading each supported format
=============================

Every reader returns an :class:`skecg.ECGRecords` container (signals in mV, float32,
leads first, with aligned metadata) and a 0/1 label matrix whose columns follow a named
vocabulary.  Records that cannot be read raise an error naming the record, or, with
``on_error="skip"``, are skipped and listed.

Run: ``python examples/plot_load_formats.py [path/to/shared/data]``
"""

import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from skecg.datasets import load_sample
from skecg.io import read_challenge_folder, read_cpsc2018, read_ptbxl, read_tnmg_hdf5
from skecg.preprocessing import pad_truncate

data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")

# The bundled sample: offline, real, two vocabularies.
X, y = load_sample("tnmg")
print(X, "\n", X.summary(), "\n")

if data.exists():
    # PhysioNet/CinC 2020/2021 WFDB records (.hea + .mat), any rate and length.
    X, y = read_challenge_folder(data / "cinc2021", "cinc2020")
    print(X, y.shape)
    print(X.label_report(), "\n")
    # PTB-XL with SCP statements mapped to SNOMED CT; strat_fold and patient_id kept.
    X, y = read_ptbxl(data / "ptbxl", "tnmg", sampling_rate=500, likelihood_threshold=0)
    print(X, X.meta[["ecg_id", "strat_fold", "patient_id"]].head(3).to_string(), "\n")
    # Original CPSC 2018 .mat structs (labels from REFERENCE.csv where present).
    X, y = read_cpsc2018(data / "cpsc2018_unlabeled")
    print(X, "labelled:", X.meta.labelled.any(), "\n")

# TNMG/CODE HDF5 as Ribeiro et al. publish it: tracings (N, 4096, 12) + exams.csv.
with tempfile.TemporaryDirectory() as tmp:
    Xs, ys = load_sample("tnmg", sources=["Georgia"], fs=400)
    sig = pad_truncate(Xs.signals, 4096).transpose(0, 2, 1)  # 10 s at 400 Hz, zero-padded to 4096
    with h5py.File(Path(tmp) / "exams_part0.hdf5", "w") as f:
        f["tracings"] = sig
        f["exam_id"] = np.arange(1, len(sig) + 1)
    exams = pd.DataFrame(ys, columns=["1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"])
    exams.insert(0, "exam_id", np.arange(1, len(sig) + 1))
    exams["age"], exams["is_male"], exams["patient_id"] = Xs.meta.age, Xs.meta.sex.eq("M"), np.arange(len(sig))
    exams.to_csv(Path(tmp) / "exams.csv", index=False)
    X, y = read_tnmg_hdf5(Path(tmp) / "exams_part0.hdf5", Path(tmp) / "exams.csv")
    print(X, "labels per class:", y.sum(0))

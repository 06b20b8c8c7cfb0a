"""
Data larger than memory
=======================

Write records to an on-disk store once, then run the same scikit-learn code on it as on
records in memory: only the reader call changes.  The container returned by
:func:`skecg.io.open_store` is *lazy*: indexing, cross-validation folds and grid-search
candidates hold indices, preprocessing steps wait until a batch is read, and the network
reads batches through skorch's data path (in DataLoader workers if you ask for them).
Pickling it gives a handle of a few kB.

Real data: the bundled sample (Georgia and Chapman-Ningbo records, 500 Hz).  For
CODE-15% use :func:`skecg.io.read_code15` on its folder (read in place), and for any
folder skecg reads, ``skecg convert SRC DEST`` writes a store (resumable, parallel).

Run: ``python examples/plot_out_of_core.py`` (about a minute on 2 CPU cores).
"""

import pickle
import tempfile
from pathlib import Path

from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from skecg.datasets import load_sample
from skecg.io import open_store, write_store
from skecg.models import ECGClassifier
from skecg.preprocessing import LeadSelector, PadTruncate, Resampler

X, y = load_sample("tnmg", sources=["Georgia", "Chapman-Ningbo"])
store = Path(tempfile.mkdtemp()) / "georgia_ningbo"
write_store(X, store, y)  # once; `skecg convert` does this for whole archives

Xs, ys = open_store(store)  # lazy: signals stay on disk
print(Xs)
print(f"pickled handle: {len(pickle.dumps(Xs))} bytes for {len(Xs)} records")

pipe = make_pipeline(
    Resampler(100), LeadSelector("standard12"), PadTruncate(length=1000),  # run per batch, when read
    ECGClassifier("resnet1d", module__filters=(16, 16), max_epochs=2, random_state=0,
                  iterator_train__num_workers=0),
)
scores = cross_val_score(pipe, Xs, ys, groups=Xs.meta["patient_id"], cv=GroupKFold(2), scoring="f1_macro")
print("macro F1 per fold:", scores.round(3))

# the preprocessing steps are pending on the lazy container, not applied to 60 GB at once
Z = make_pipeline(Resampler(100), PadTruncate(length=1000)).fit_transform(Xs)
print(Z, "pending steps:", [type(s).__name__ for s in Z._signals.steps])

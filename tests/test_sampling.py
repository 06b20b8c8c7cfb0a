"""TrainingSubsetSampler takes rows of any kind: records, 3-D arrays, lists of records, and the
2-D feature matrices (arrays or DataFrames) of a feature pipeline."""

import numpy as np
import pandas as pd
import pytest

from skecg import ECGRecords
from skecg.sampling import TrainingSubsetSampler


def _y(n=40, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, k)) < 0.3).astype(int)
    y[:k, :] = np.eye(k, dtype=int)  # every class has a positive
    return y


@pytest.mark.parametrize("kind", ["records", "array3d", "list", "features", "frame"])
def test_subset_rows_keep_the_input_kind(kind):
    y = _y()
    n = len(y)
    sig = np.arange(n * 2 * 5, dtype=np.float32).reshape(n, 2, 5)
    X = {"records": ECGRecords(sig, fs=100), "array3d": sig, "list": list(sig),
         "features": sig[:, 0, :], "frame": pd.DataFrame(sig[:, 0, :], columns=list("abcde"))}[kind]
    s = TrainingSubsetSampler(strategy="I", n_per_class=3, random_state=0)
    Xs, ys = s.fit_resample(X, y)
    idx = s.sample_indices_
    assert type(Xs) is type(X) and len(Xs) == len(idx) == len(ys)
    first = {"records": lambda Z: np.asarray(Z)[:, 0, :], "array3d": lambda Z: Z[:, 0, :],
             "list": lambda Z: np.stack(Z)[:, 0, :], "features": lambda Z: Z,
             "frame": lambda Z: Z.to_numpy()}[kind]
    np.testing.assert_array_equal(first(Xs), sig[idx, 0, :])
    np.testing.assert_array_equal(ys, y[idx])

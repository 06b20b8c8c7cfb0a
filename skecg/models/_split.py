"""Validation splits that respect multilabel y and patients."""

from __future__ import annotations

import warnings

import numpy as np
import torch


def multilabel_group_split(y: np.ndarray, groups, valid_size: float = 0.1, random_state=None):
    """Split records into train and validation indices, grouped by patient and
    balanced over labels (greedy iterative stratification on patient groups).

    Patients are taken for validation rarest-label first until each label has about
    ``valid_size`` of its positive records in validation, then at random until the
    validation set holds about ``valid_size`` of the records.  No patient is on both
    sides.

    Returns
    -------
    train_idx, valid_idx : ndarray of int

    Examples
    --------
    >>> import numpy as np
    >>> y = np.eye(4, dtype=int)[np.arange(40) % 4]
    >>> tr, va = multilabel_group_split(y, np.arange(40) // 2, 0.25, random_state=0)
    >>> len(va), y[va].sum(0).tolist()
    (10, [3, 3, 2, 2])
    """
    y = np.asarray(y)
    n = len(y)
    groups = np.arange(n) if groups is None else np.asarray(groups)
    rng = np.random.default_rng(random_state)
    uniq, inv = np.unique(groups, return_inverse=True)
    g_n = np.bincount(inv, minlength=len(uniq))
    g_y = np.zeros((len(uniq), y.shape[1]), dtype=np.int64)
    np.add.at(g_y, inv, (y > 0).astype(np.int64))
    target_records = valid_size * n
    target_labels = valid_size * g_y.sum(0)
    chosen = np.zeros(len(uniq), dtype=bool)
    have = np.zeros(y.shape[1])
    cap = np.maximum(1.5 * target_labels, target_labels + 1)
    order_labels = np.argsort(g_y.sum(0), kind="stable")
    for lab in order_labels:
        cands = np.flatnonzero((g_y[:, lab] > 0) & ~chosen)
        rng.shuffle(cands)
        for g in cands:
            if have[lab] + g_y[g, lab] / 2 > target_labels[lab] or g_n[chosen].sum() >= target_records:
                break
            if np.any((g_y[g] > 0) & (have + g_y[g] > cap)):
                continue  # would overfill another label
            chosen[g] = True
            have += g_y[g]
    rest = np.flatnonzero(~chosen)
    rng.shuffle(rest)
    for g in rest:
        if g_n[chosen].sum() + g_n[g] / 2 > target_records:
            continue
        if np.any((g_y[g] > 0) & (have + g_y[g] > cap)):
            continue  # would overfill a label that already has its share
        chosen[g] = True
        have += g_y[g]
    valid = np.flatnonzero(chosen[inv])
    train = np.flatnonzero(~chosen[inv])
    return train, valid


class PatientSplit:
    """skorch ``train_split``: the patient-grouped multilabel validation split.

    Called by skorch with the training dataset (and y), it returns the training
    and validation parts as datasets over the same records (no copy, nothing read),
    split by :func:`multilabel_group_split`.  Patients are read from the records'
    ``meta['patient_id']`` (a record whose patient is unknown is a patient of its
    own); plain arrays are split record by record.

    Parameters
    ----------
    valid_size : float, default=0.1
        Validation share, in (0, 1).
    random_state : int or None
    on_empty : {'raise', 'warn'}, default='raise'
        What to do when the data are too few for both parts to hold records:
        raise a ``ValueError``, or warn and train without validation (the split
        then returns ``(dataset, None)``).

    Examples
    --------
    >>> import numpy as np
    >>> from skecg.models import ECGDataset
    >>> ds = ECGDataset(np.zeros((20, 1, 8), np.float32), np.eye(2)[np.arange(20) % 2])
    >>> train, valid = PatientSplit(0.2, random_state=0)(ds)
    >>> len(train), len(valid)
    (16, 4)
    """

    def __init__(self, valid_size=0.1, random_state=None, on_empty="raise"):
        self.valid_size = valid_size
        self.random_state = random_state
        self.on_empty = on_empty

    def __repr__(self):
        return (f"PatientSplit(valid_size={self.valid_size!r}, random_state={self.random_state!r}, "
                f"on_empty={self.on_empty!r})")

    def __call__(self, dataset, y=None, groups=None):
        if not 0 < self.valid_size < 1:
            raise ValueError(f"valid_size must be in (0, 1), got {self.valid_size!r}")
        if self.on_empty not in ("raise", "warn"):
            raise ValueError(f"on_empty must be 'raise' or 'warn', got {self.on_empty!r}")
        n = len(dataset)
        if y is None:
            y = getattr(dataset, "y", None)
        y = np.zeros((n, 1)) if y is None else np.asarray(y).reshape(n, -1)
        if groups is None:
            groups = getattr(dataset, "groups", None)
        train, valid = multilabel_group_split(y, groups, self.valid_size, self.random_state)
        if len(train) == 0 or len(valid) == 0:
            n_groups = n if groups is None else len(set(np.asarray(groups).tolist()))
            msg = (f"the patient-grouped validation split (valid_size={self.valid_size}) of {n} records from "
                   f"{n_groups} patients left the {'validation' if len(valid) == 0 else 'training'} part "
                   "empty; give more records or patients, change valid_size, or pass valid_size=0 to train "
                   "without validation (and without early stopping)")
            if self.on_empty == "raise":
                raise ValueError(msg)
            warnings.warn(msg + "; training without validation", UserWarning, stacklevel=2)
            return dataset, None
        if hasattr(dataset, "subset"):
            return dataset.subset(train), dataset.subset(valid)
        return torch.utils.data.Subset(dataset, train), torch.utils.data.Subset(dataset, valid)

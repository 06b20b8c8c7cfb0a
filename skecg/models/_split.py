"""Validation splits that respect multilabel y and patients."""

from __future__ import annotations

import numpy as np


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

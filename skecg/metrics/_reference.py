"""Reference classifiers that tell a reader whether a score is good: all sinus rhythm,
prevalence-matched random, per-class majority -- scored by the same functions, on the
same records, as the systems they stand beside."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ..labels import NORMAL_CLASS, merge_equivalent_columns
from ._challenge import _as_matrix, _challenge_from_prepared, _default_classes, prepare
from ._perclass import classification_table

#: the reference classifiers, in the order tables show them
REFERENCES = ("all_sinus_rhythm", "random", "majority")
#: how tables name them
REFERENCE_LABELS = {
    "all_sinus_rhythm": "ref: all sinus rhythm",
    "random": "ref: prevalence-matched random",
    "majority": "ref: per-class majority",
}


def reference_predictions(kind: str, y_true, classes: Sequence[str] | None = None, *, y_train=None,
                          random_state=None) -> np.ndarray:
    """The 0/1 outputs of one reference classifier on the records of ``y_true``.

    - ``'all_sinus_rhythm'``: every record is called sinus rhythm (426783006) and
      nothing else: the challenge's "inactive + normal" classifier, which scores 0 by
      the challenge metric.  A vocabulary without a sinus-rhythm column (e.g.
      ``'tnmg'``) cannot output it, so there the row predicts no class at all; the
      challenge metric, embedding the columns among the 24 scored classes, then
      scores it below 0 (the records' abnormalities go unrewarded), exactly as it
      scores a system that predicts no class.
    - ``'random'``: class ``j`` is predicted for each record independently with
      probability equal to its prevalence in ``y_true`` (one draw; see
      :func:`reference_table` for the mean of many).
    - ``'majority'``: each class's majority value in ``y_train`` (the training labels
      of the system it stands beside; ``y_true`` when not given), for every record.

    Parameters
    ----------
    kind : {'all_sinus_rhythm', 'random', 'majority'}
    y_true : array-like of shape (n_records, n_classes)
    classes : sequence of str, optional
        SNOMED CT code of each column (default: the vocabulary of that width).
    y_train : array-like of shape (n_train, n_classes), optional
    random_state : int, RandomState or None

    Returns
    -------
    ndarray of shape (n_records, n_classes), int

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[0, 1], [0, 1], [1, 0]])
    >>> reference_predictions("all_sinus_rhythm", y, ["164889003", "426783006"]).tolist()
    [[0, 1], [0, 1], [0, 1]]
    >>> reference_predictions("majority", y, ["164889003", "426783006"]).tolist()
    [[0, 1], [0, 1], [0, 1]]
    """
    y = _as_matrix(y_true, "y_true")
    n, k = y.shape
    classes = _default_classes(k) if classes is None else [str(c) for c in classes]
    if len(classes) != k:
        raise ValueError(f"classes has {len(classes)} codes but y_true has {k} columns")
    if kind == "all_sinus_rhythm":
        out = np.zeros((n, k), dtype=np.int64)
        if NORMAL_CLASS in classes:
            out[:, classes.index(NORMAL_CLASS)] = 1
        return out
    if kind == "random":
        prev = (y > 0).mean(0)
        return (check_random_state(random_state).random_sample((n, k)) < prev).astype(np.int64)
    if kind == "majority":
        ref = y if y_train is None else _as_matrix(y_train, "y_train")
        if ref.shape[1] != k:
            raise ValueError(f"y_train has {ref.shape[1]} columns but y_true has {k}")
        return np.repeat(((ref > 0).mean(0) > 0.5).astype(np.int64)[None, :], n, axis=0)
    raise ValueError(f"unknown reference {kind!r}; choose one of {REFERENCES}")


def _challenge_of(y, classes):
    """``pred -> challenge_score(y, pred, classes)`` with the labels prepared once: the
    random reference scores many draws on the same records (tested equal)."""
    prep = prepare(y, classes=classes)
    _, mcls = merge_equivalent_columns(y, classes)
    pos = [prep["classes"].index(c) for c in mcls]

    def score(pred):
        merged, _ = merge_equivalent_columns(np.asarray(pred, dtype=np.float64), classes, how="or")
        full = np.zeros_like(prep["labels"])
        full[:, pos] = merged
        return _challenge_from_prepared(prep, full)[0]
    return score


def _row(y, pred, score):
    tp = (y * pred).sum(0)
    fp = ((1 - y) * pred).sum(0)
    fn = (y * (1 - pred)).sum(0)
    f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)  # as per_class_scores
    return np.r_[f1, f1.mean(), score(pred)]


def reference_table(y_true, classes: Sequence[str] | None = None, *, y_train=None, n_draws: int = 100,
                    random_state=0) -> pd.DataFrame:
    """Per-class F1, macro F1 and challenge score of the three reference classifiers.

    The random reference is the mean over ``n_draws`` independent draws.

    Parameters
    ----------
    y_true : array-like of shape (n_records, n_classes)
    classes : sequence of str, optional
    y_train : array-like, optional
        Training labels for the majority reference.
    n_draws : int, default=100
    random_state : int, RandomState or None, default=0

    Returns
    -------
    DataFrame
        Rows :data:`REFERENCE_LABELS` values; columns the class abbreviations,
        ``macro_f1`` and ``challenge``.

    Examples
    --------
    >>> import numpy as np
    >>> from skecg.labels import get_vocabulary
    >>> v = get_vocabulary("cinc2020")
    >>> y = v.encode([["164889003"], ["426783006"], ["426783006"], ["426177001"]])
    >>> t = reference_table(y, n_draws=20)
    >>> float(t.loc["ref: all sinus rhythm", "challenge"])
    0.0
    """
    y = _as_matrix(y_true, "y_true")
    classes = _default_classes(y.shape[1]) if classes is None else [str(c) for c in classes]
    rng = check_random_state(random_state)
    score = _challenge_of(y, classes)
    yb = (y > 0).astype(np.float64)
    rows = {}
    for kind in REFERENCES:
        if kind == "random":
            draws = [_row(yb, reference_predictions("random", y, classes, random_state=rng), score)
                     for _ in range(max(1, int(n_draws)))]
            rows[REFERENCE_LABELS[kind]] = np.mean(draws, axis=0)
        else:
            rows[REFERENCE_LABELS[kind]] = _row(yb, reference_predictions(kind, y, classes, y_train=y_train), score)
    # the column names of classification_table, so reference rows line up with it
    names = [c for c in classification_table(y[:1], y[:1], classes).columns if c != "macro"]
    cols = names + ["macro_f1", "challenge"]
    return pd.DataFrame.from_dict(rows, orient="index", columns=cols)

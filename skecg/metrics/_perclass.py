"""Per-class precision, recall, specificity and F1 as Ribeiro et al. and Huang et al. report them."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import multilabel_confusion_matrix

from ..labels import VOCABULARIES, abbreviation, get_vocabulary
from ..utils.validation import check_indicator_matrix
from ._challenge import _as_matrix


_NAMED = {v.classes for v in VOCABULARIES.values()}


def per_class_scores(y_true, y_pred, *, zero_division: float = 0.0) -> dict:
    """Per-class precision, recall, specificity and F1, and their macro means.

    The counts are scikit-learn's ``multilabel_confusion_matrix``; the ratios follow
    ``precision_recall_fscore_support`` (tested equal) and add specificity, which
    scikit-learn lacks.  One confusion matrix call keeps this as fast as a bootstrap
    needs (calling ``precision_recall_fscore_support`` too costs 3x).
    Specificity is TN / (TN + FP) (equation 4 of the attention paper has a typo).
    A ratio whose denominator is zero (e.g. precision of a class never predicted)
    takes the value ``zero_division``, scikit-learn's convention (its default
    ``"warn"`` also gives 0); pass ``np.nan`` to leave such classes out of the macro
    means.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_records, n_classes)
        0/1 indicator matrices.
    zero_division : float, default=0.0

    Returns
    -------
    dict
        ``precision``, ``recall``, ``specificity``, ``f1``: arrays of shape
        (n_classes,); ``macro_precision``, ``macro_recall``, ``macro_specificity``,
        ``macro_f1``: floats (NaN classes ignored); ``support``: positives per class.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    >>> p = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    >>> s = per_class_scores(y, p)
    >>> s["precision"].tolist(), s["specificity"].tolist()
    ([0.5, 1.0], [0.5, 1.0])
    """
    yt = check_indicator_matrix(_as_matrix(y_true, "y_true"), "y_true").astype(np.int8)
    yp = check_indicator_matrix(_as_matrix(y_pred, "y_pred"), "y_pred").astype(np.int8)
    if yt.shape != yp.shape:
        raise ValueError(f"y_pred has shape {yp.shape} but y_true has shape {yt.shape}")
    # scikit-learn reads one column as a binary target of two classes: count its positives only
    kw = dict(labels=[1]) if yt.shape[1] == 1 else {}
    yt, yp = (yt.ravel(), yp.ravel()) if kw else (yt, yp)
    (tn, fp), (fn, tp) = multilabel_confusion_matrix(yt, yp, **kw).transpose(1, 2, 0)

    def ratio(a, b):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(b > 0, a / np.maximum(b, 1), zero_division).astype(float)

    out = {
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "specificity": ratio(tn, tn + fp),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
    }
    for key in ("precision", "recall", "specificity", "f1"):
        v = out[key]
        out[f"macro_{key}"] = float(np.nanmean(v)) if np.any(~np.isnan(v)) else float("nan")
    out["support"] = tp + fn
    return out


def classification_table(y_true, y_pred, classes: Sequence[str] | None = None, *,
                         zero_division: float = 0.0, digits: int | None = 3) -> pd.DataFrame:
    """The per-class table in the papers' layout: rows are metrics, columns classes.

    Columns are named by abbreviation (``classes`` may be SNOMED codes, which are
    abbreviated, or any names), plus a ``macro`` column.  ``print(table)`` shows it.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.eye(6, dtype=int)
    >>> t = classification_table(y, y, ["270492004", "713427006", "164909002",
    ...                                 "426177001", "164889003", "427084000"])
    >>> list(t.columns)
    ['1dAVb', 'RBBB', 'LBBB', 'SB', 'AF', 'ST', 'macro']
    >>> float(t.loc["f1", "macro"])
    1.0
    """
    s = per_class_scores(y_true, y_pred, zero_division=zero_division)
    k = len(s["f1"])
    if classes is None:
        names = [str(j) for j in range(k)]
    else:
        if isinstance(classes, str) or tuple(map(str, classes)) in _NAMED:
            names = get_vocabulary(classes if isinstance(classes, str) else list(classes)).abbreviations
        else:
            names = [abbreviation(str(c)) for c in classes]
        if len(names) != k:
            raise ValueError(f"{len(names)} class names for {k} columns")
    rows = ["precision", "recall", "specificity", "f1"]
    data = {n: [s[r][j] for r in rows] + [int(s["support"][j])] for j, n in enumerate(names)}
    data["macro"] = [s[f"macro_{r}"] for r in rows] + [int(s["support"].sum())]
    df = pd.DataFrame(data, index=rows + ["support"])
    if digits is not None:
        df.loc[rows] = df.loc[rows].astype(float).round(digits)
    return df

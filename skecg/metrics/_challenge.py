"""The official PhysioNet/CinC 2020 evaluation, vectorised.

Kept as skecg's own code (no dependency computes it): tests/metrics/test_metrics.py::
test_official_reference_cases checks every number against the official scorer's output on
the bundled reference cases (tests/data/challenge2020/reference_cases.json).

Each function reproduces ``evaluate_12ECG_score.py`` of the 2020 challenge
(physionetchallenges/evaluation-2020): equivalent classes are merged first (labels and
binary outputs by OR, probabilities by mean), and every number is computed over the
scored classes of ``weights.csv``.  Columns given for a subset of the scored classes
are embedded among them with zeros, which leaves every official number unchanged for
the classes given (undefined classes are ignored, as the official code ignores them).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..labels import NORMAL_CLASS, equivalence_map, load_weights, merge_equivalent_columns, vocabulary_of_width
from ..utils.validation import check_indicator_matrix


def _default_classes(n_cols: int) -> list[str]:
    named = vocabulary_of_width(n_cols)
    if named is not None:
        return list(named.classes)
    raise ValueError(
        f"y has {n_cols} columns; pass classes= (the SNOMED CT code of each column), "
        "or use 24 ('cinc2020'), 27 ('cinc2020_27') or 6 ('tnmg') columns"
    )


def _as_matrix(a, name: str) -> np.ndarray:
    if isinstance(a, list) and a and isinstance(a[0], np.ndarray) and a[0].ndim == 2:
        # scikit-learn's multilabel predict_proba: a list of (n, 2) arrays
        a = np.stack([p[:, -1] for p in a], axis=1)
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_records, n_classes), got shape {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name} is empty: there are no records to score")
    return a


def _check_binary(a: np.ndarray, name: str) -> np.ndarray:
    return check_indicator_matrix(a, name).astype(np.float64)


def _weights_merged(weights=None, weight_classes=None):
    if weights is None:
        weight_classes, weights = load_weights()
    else:
        weights = np.asarray(weights, dtype=np.float64)
        if weight_classes is None:
            raise ValueError("pass weight_classes with a custom weights matrix")
        weight_classes = [str(c) for c in weight_classes]
        if weights.shape != (len(weight_classes), len(weight_classes)):
            raise ValueError(f"weights has shape {weights.shape} for {len(weight_classes)} classes")
    m = equivalence_map()
    reps = [m.get(c, c) for c in weight_classes]
    classes = list(dict.fromkeys(reps))
    idx = [reps.index(c) for c in classes]
    for j, r in enumerate(reps):
        i = classes.index(r)
        if not (np.allclose(weights[j], weights[idx[i]]) and np.allclose(weights[:, j], weights[:, idx[i]])):
            raise ValueError(f"equivalent classes {weight_classes[idx[i]]} and {weight_classes[j]} "
                             "have different weights")
    return classes, weights[np.ix_(idx, idx)]


def prepare(y_true, y_pred=None, y_prob=None, classes=None, weights=None, weight_classes=None):
    """Validate inputs and put them in the official layout (merged scored classes).

    Returns a dict with ``classes`` (merged scored codes), ``weights``, and the
    embedded ``labels``, ``outputs`` and ``probs`` (those given), plus ``given``: a
    boolean mask of the scored classes that had a column in the input.
    """
    y_true = _check_binary(_as_matrix(y_true, "y_true"), "y_true")
    n, k = y_true.shape
    classes = _default_classes(k) if classes is None else [str(c) for c in classes]
    if len(classes) != k:
        raise ValueError(f"classes has {len(classes)} codes but y_true has {k} columns")
    if len(set(classes)) != len(classes):
        raise ValueError("classes has duplicate codes")
    scored, W = _weights_merged(weights, weight_classes)
    m = equivalence_map()
    unknown = [c for c in classes if m.get(c, c) not in scored]
    if unknown:
        raise ValueError(
            f"code(s) {unknown} are not among the scored classes of the weights; "
            "drop those columns or pass weights= that include them"
        )
    out = {"classes": scored, "weights": W}
    pos = None

    def embed(a, how):
        nonlocal pos
        merged, mcls = merge_equivalent_columns(a, classes, how=how)
        pos = [scored.index(c) for c in mcls]
        full = np.zeros((n, len(scored)), dtype=np.float64)
        full[:, pos] = merged
        return full

    out["labels"] = embed(y_true, "or")
    for key, arr, how in (("outputs", y_pred, "or"), ("probs", y_prob, "mean")):
        if arr is None:
            continue
        arr = _as_matrix(arr, key)
        if arr.shape != (n, k):
            raise ValueError(f"{'y_pred' if key == 'outputs' else 'y_prob'} has shape {arr.shape} "
                             f"but y_true has shape {(n, k)}")
        if key == "outputs":
            arr = _check_binary(arr, "y_pred")
        else:
            arr = arr.astype(np.float64)
            if not np.all(np.isfinite(arr)):
                raise ValueError("y_prob has NaN or inf values")
        out[key] = embed(arr, how)
    given = np.zeros(len(scored), dtype=bool)
    given[pos] = True
    out["given"] = given
    return out


def _modified_confusion(labels: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    norm = np.maximum(np.logical_or(labels, outputs).sum(axis=1), 1).astype(np.float64)
    return labels.T @ (outputs / norm[:, None])


def _challenge_from_prepared(p, outputs) -> tuple[float, dict]:
    W, L = p["weights"], p["labels"]
    normal = p["classes"].index(NORMAL_CLASS)
    observed = float(np.nansum(W * _modified_confusion(L, outputs)))
    correct = float(np.nansum(W * _modified_confusion(L, L)))
    inactive_out = np.zeros_like(L)
    inactive_out[:, normal] = 1
    inactive = float(np.nansum(W * _modified_confusion(L, inactive_out)))
    internals = {"observed_score": observed, "correct_score": correct, "inactive_score": inactive}
    if correct == inactive:
        return 0.0, internals
    return (observed - inactive) / (correct - inactive), internals


def challenge_score(y_true, y_pred, classes: Sequence[str] | None = None, *, weights=None,
                    weight_classes=None) -> float:
    """The PhysioNet/CinC 2020 challenge metric.

    Rewards each (label, output) pair by the ``weights.csv`` reward matrix, each
    record's contribution normalised by the number of classes in the union of its
    labels and outputs, and the total normalised so that the inactive classifier
    (always sinus rhythm, 426783006) scores 0 and the perfect one 1.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_records, n_classes)
        0/1 indicator matrices.
    classes : sequence of str, optional
        SNOMED CT code of each column; may hold equivalent codes as separate columns
        (they are merged by OR).  Defaults to the vocabulary of that width
        (24: ``'cinc2020'``, 27: ``'cinc2020_27'``, 6: ``'tnmg'``).
    weights : ndarray, optional
        A reward matrix over ``weight_classes`` instead of ``weights.csv``.

    Returns
    -------
    float
        1 for perfect outputs, 0 for the inactive classifier.  When those two coincide
        (e.g. every record is labelled sinus rhythm only) the score is defined as 0
        here, where the official code returns NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from skecg.labels import get_vocabulary
    >>> v = get_vocabulary("cinc2020")
    >>> y = v.encode([["164889003"], ["426783006"], ["426177001", "713427006"]])
    >>> challenge_score(y, y)
    1.0
    >>> normal = v.encode([["426783006"]] * 3)
    >>> challenge_score(y, normal)
    0.0
    """
    p = prepare(y_true, y_pred, classes=classes, weights=weights, weight_classes=weight_classes)
    return _challenge_from_prepared(p, p["outputs"])[0]


def _auc_per_class(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, k = labels.shape
    auroc = np.full(k, np.nan)
    auprc = np.full(k, np.nan)
    for j in range(k):
        o = probs[:, j]
        lab = labels[:, j]
        P = lab.sum()
        N = n - P
        order = np.argsort(-o, kind="stable")
        os_, ls = o[order], lab[order]
        ends = np.flatnonzero(np.r_[os_[1:] != os_[:-1], True])
        tp = np.r_[0.0, np.cumsum(ls)[ends]]
        fp = np.r_[0.0, np.cumsum(1 - ls)[ends]]
        with np.errstate(invalid="ignore", divide="ignore"):
            tpr = tp / P if P else np.full_like(tp, np.nan)
            tnr = (N - fp) / N if N else np.full_like(tp, np.nan)
            ppv = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), np.nan)
        auroc[j] = np.sum(0.5 * np.diff(tpr) * (tnr[1:] + tnr[:-1]))
        auprc[j] = np.sum(np.diff(tpr) * ppv[1:])
    return auroc, auprc


def _f_measures(labels, outputs, beta=2.0):
    tp = (labels * outputs).sum(0)
    fp = ((1 - labels) * outputs).sum(0)
    fn = (labels * (1 - outputs)).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    norm = np.maximum(labels.sum(1), 1)[:, None]
    ntp = (labels * outputs / norm).sum(0)
    nfp = ((1 - labels) * outputs / norm).sum(0)
    nfn = (labels * (1 - outputs) / norm).sum(0)
    b2 = beta ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        den_f = (1 + b2) * ntp + nfp + b2 * nfn
        fb = np.where(den_f > 0, (1 + b2) * ntp / den_f, np.nan)
        den_g = ntp + nfp + beta * nfn
        gb = np.where(den_g > 0, ntp / den_g, np.nan)
    return f, fb, gb


def _nanmean(a) -> float:
    a = np.asarray(a, dtype=float)
    return float(np.nanmean(a)) if np.any(~np.isnan(a)) else float("nan")


def challenge_metrics(y_true, y_pred, y_prob=None, classes: Sequence[str] | None = None, *,
                      beta: float = 2.0, weights=None, weight_classes=None) -> dict:
    """Every number of the official 2020 evaluation.

    Returns
    -------
    dict
        ``auroc``, ``auprc`` (macro over classes where defined; only when ``y_prob``
        is given), ``accuracy`` (exact match), ``f_measure``, ``f_beta``,
        ``g_beta`` (β = 2, the official definitions on record-normalised confusion
        counts), ``challenge_metric``, and ``per_class``: a dict with ``classes``
        (merged scored codes) and per-class ``auroc``, ``auprc``, ``f_measure``
        (NaN where undefined).
    """
    p = prepare(y_true, y_pred, y_prob, classes=classes, weights=weights, weight_classes=weight_classes)
    L, O = p["labels"], p["outputs"]
    f, fb, gb = _f_measures(L, O, beta)
    out = {
        "accuracy": float(np.mean(np.all(L == O, axis=1))),
        "f_measure": _nanmean(f),
        "f_beta": _nanmean(fb),
        "g_beta": _nanmean(gb),
        "challenge_metric": _challenge_from_prepared(p, O)[0],
    }
    per = {"classes": list(p["classes"]), "f_measure": f}
    if y_prob is not None:
        auroc, auprc = _auc_per_class(L, p["probs"])
        out["auroc"] = _nanmean(auroc)
        out["auprc"] = _nanmean(auprc)
        per.update(auroc=auroc, auprc=auprc)
    out["per_class"] = per
    return out

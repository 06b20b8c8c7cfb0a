"""Scorers for GridSearchCV / cross_val_score, bootstrap intervals, official output files."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ._bootstrap import BootstrapResult, bootstrap_result
from ._challenge import _as_matrix, _auc_per_class, _default_classes, _nanmean, challenge_score
from ._perclass import per_class_scores


def _estimator_classes(estimator, y, classes):
    if classes is not None:
        return [str(c) for c in classes]
    c = getattr(estimator, "classes_", None)
    if c is not None and len(c) == np.shape(y)[1] and all(str(x).isdigit() for x in c):
        return [str(x) for x in c]
    return _default_classes(np.shape(y)[1])


def proba_matrix(estimator, X) -> np.ndarray:
    """``estimator.predict_proba(X)`` as an (n_records, n_classes) matrix (scikit-learn's
    multilabel list of (n, 2) arrays is stacked to positive-class columns)."""
    return _as_matrix(estimator.predict_proba(X), "predict_proba output")


def labels_from_proba(estimator, X, proba) -> np.ndarray:
    """``estimator.predict(X)``, given ``proba = proba_matrix(estimator, X)`` already.

    This is the one way skecg gets labels from probabilities already computed.
    Estimators whose labels follow from their probabilities say so with a
    ``labels_from_proba(X, proba)`` method: every skecg classifier and
    meta-estimator has one (:class:`~skecg.models.ECGClassifier`,
    :class:`~skecg.tuning.MultilabelThresholdTuner` and
    :class:`~skecg.ensemble.LengthEnsemble` through
    :class:`~skecg.utils.validation.ThresholdLabelsMixin`, the CatBoost baseline,
    the wrappers and the segment rule of :mod:`skecg.ensemble`).  A scikit-learn
    ``Pipeline`` defers to its last step when that step's labels need only the
    probabilities (``_labels_ignore_X``; not so for
    :class:`~skecg.ensemble.BradycardiaRuleGate`, whose rule reads the records it is
    given): then neither the pipeline's transforms nor the network run again.  Any
    other estimator is asked for ``predict(X)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> labels_from_proba(DummyClassifier().fit([[0], [1]], [0, 1]), [[0]], None).tolist()
    [0]
    """
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    method = getattr(final, "labels_from_proba", None)
    if method is None or (final is not estimator and not getattr(final, "_labels_ignore_X", False)):
        return np.asarray(estimator.predict(X))
    return np.asarray(method(X, proba))


def predict_with_proba(estimator, X) -> tuple[np.ndarray, np.ndarray]:
    """``(proba_matrix(estimator, X), estimator.predict(X))`` computing each step once.

    ``skecg predict`` writes both; asking for each separately would run the
    preprocessing and the network twice.
    """
    proba = proba_matrix(estimator, X)
    return proba, labels_from_proba(estimator, X, proba)


class _Scorer:
    """A scorer callable ``scorer(estimator, X, y)`` for multilabel estimators."""

    def __init__(self, name: str, classes=None):
        self.name = name
        self.classes = classes

    def __repr__(self):
        return f"{type(self).__name__}(classes={self.classes!r})"


class ChallengeScorer(_Scorer):
    """Scores ``estimator.predict(X)`` with :func:`challenge_score`.

    Column codes come from ``classes``, else the estimator's ``classes_`` (SNOMED
    codes), else the vocabulary of that width.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV  # doctest: +SKIP
    >>> GridSearchCV(pipe, grid, scoring={"challenge": challenge_scorer,
    ...              "f1": f1_macro_scorer, "auroc": auroc_scorer}, refit="challenge")  # doctest: +SKIP
    """

    def __init__(self, classes=None):
        super().__init__("challenge", classes)

    def __call__(self, estimator, X, y):
        return challenge_score(y, estimator.predict(X), _estimator_classes(estimator, y, self.classes))


class F1MacroScorer(_Scorer):
    """Macro F1 over classes of ``estimator.predict(X)`` (0 for undefined classes)."""

    def __init__(self, classes=None):
        super().__init__("f1_macro", classes)

    def __call__(self, estimator, X, y):
        return per_class_scores(y, estimator.predict(X))["macro_f1"]


class AUROCScorer(_Scorer):
    """Macro AUROC from ``estimator.predict_proba(X)``, over the classes where it is
    defined (both labels present), computed as the official 2020 code does."""

    def __init__(self, classes=None):
        super().__init__("auroc", classes)

    def __call__(self, estimator, X, y):
        y = _as_matrix(y, "y").astype(float)
        proba = proba_matrix(estimator, X).astype(float)
        if not np.all(np.isfinite(proba)):
            bad = np.argwhere(~np.isfinite(proba))
            raise ValueError(f"predict_proba returned {len(bad)} non-finite value(s) (NaN or inf), first at "
                             f"record {bad[0][0]}, class {bad[0][1]}; AUROC is undefined")
        auroc, _ = _auc_per_class(y, proba)
        return _nanmean(auroc)


challenge_scorer = ChallengeScorer()
f1_macro_scorer = F1MacroScorer()
auroc_scorer = AUROCScorer()
#: The usual ``scoring=`` dict: ``GridSearchCV(..., scoring=SCORING, refit="challenge")``.
SCORING = {"challenge": challenge_scorer, "f1_macro": f1_macro_scorer, "auroc": auroc_scorer}


# --- bootstrap ------------------------------------------------------------------------
def bootstrap_ci(metric: Callable, *arrays, n_resamples: int = 1000, confidence: float = 0.95,
                 random_state=None, **kwargs) -> BootstrapResult:
    """Percentile bootstrap confidence interval of any score over records.

    Records are drawn with replacement ``n_resamples`` times (by
    :func:`scipy.stats.bootstrap`, the same draw for every array); ``metric(*resampled,
    **kwargs)`` may return a float or an array (e.g. per-class F1).  Resamples where
    the metric is undefined (NaN, or it raises ``ValueError``) are ignored by the
    percentiles.  :func:`grouped_bootstrap_ci` resamples patients instead of records.

    Parameters
    ----------
    metric : callable
        E.g. :func:`challenge_score`, or ``lambda t, p: per_class_scores(t, p)["f1"]``.
    *arrays : array-like
        Aligned along the first axis (y_true, y_pred, ...), at least two records.
    n_resamples : int, default=1000
    confidence : float, default=0.95
    random_state : int, RandomState, Generator or None
        The same seed gives the same interval.

    Returns
    -------
    BootstrapResult
        ``estimate`` (on all records), ``low``, ``high``; unpacks as a 3-tuple.

    Examples
    --------
    >>> import numpy as np
    >>> from skecg.metrics import challenge_score
    >>> rng = np.random.default_rng(0)
    >>> y = np.zeros((60, 24), int); y[np.arange(60), rng.integers(0, 24, 60)] = 1
    >>> est, lo, hi = bootstrap_ci(challenge_score, y, y, n_resamples=50, random_state=0)
    >>> est, lo <= est <= hi
    (1.0, True)
    """
    if not arrays:
        raise ValueError("pass the arrays to resample (y_true, y_pred, ...)")
    arrays = [np.asarray(a) for a in arrays]
    n = len(arrays[0])
    if n == 0:
        raise ValueError("cannot bootstrap an empty input")
    if any(len(a) != n for a in arrays):
        raise ValueError(f"arrays have different numbers of records: {[len(a) for a in arrays]}")
    return bootstrap_result(lambda idx: metric(*[a[idx] for a in arrays], **kwargs), metric(*arrays, **kwargs),
                            None, n, n_resamples=n_resamples, confidence=confidence, random_state=random_state)


# --- official output files ---------------------------------------------------------------
def write_challenge_outputs(folder, record_ids: Sequence[str], classes: Sequence[str], y_pred,
                            y_prob) -> list[Path]:
    """Write one output file per record in the 2020 challenge format.

    Each ``<record>.csv`` holds ``#<record>``, then the codes, the binary outputs and
    the probabilities, comma-separated, so the official evaluator can read them.
    Files stay inside ``folder``: a record id that is empty, holds a path separator or
    ``..``, or occurs twice (one file would overwrite the other) raises ``ValueError``.

    Returns
    -------
    list of Path
    """
    y_pred = _as_matrix(y_pred, "y_pred")
    y_prob = _as_matrix(y_prob, "y_prob")
    classes = [str(c) for c in classes]
    if y_pred.shape != y_prob.shape or y_pred.shape != (len(record_ids), len(classes)):
        raise ValueError(f"y_pred {y_pred.shape} and y_prob {y_prob.shape} must both be "
                         f"({len(record_ids)} records, {len(classes)} classes)")
    ids = [str(r) for r in record_ids]
    for rid in ids:
        if (not rid or rid in (".", "..") or "/" in rid or "\\" in rid or "\x00" in rid
                or rid.startswith("~") or ":" in rid):
            raise ValueError(f"record id {rid!r} cannot name an output file inside {folder} "
                             "(path separators, '..', ':' and empty ids are refused)")
    seen: dict = {}
    dups = sorted({r for r in ids if r.lower() in seen or seen.setdefault(r.lower(), r) is None})
    if dups:
        raise ValueError(f"record id(s) {dups[:10]} occur more than once (ignoring case); their output "
                         "files would overwrite each other")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    for rid in ids:
        if (folder / f"{rid}.csv").resolve().parent != root:
            raise ValueError(f"record id {rid!r} would write outside {folder}")
    paths = []
    for rid, b, p in zip(ids, y_pred, y_prob):
        path = folder / f"{rid}.csv"
        with path.open("w") as fh:
            fh.write(f"#{rid}\n")
            fh.write(",".join(classes) + "\n")
            fh.write(",".join(str(int(v)) for v in b) + "\n")
            fh.write(",".join(f"{float(v):.6g}" for v in p) + "\n")
        paths.append(path)
    return paths


def read_challenge_outputs(folder, classes: Sequence[str] | None = None):
    """Read 2020 challenge output files (``*.csv``) back.

    Parameters
    ----------
    folder : str or Path
    classes : sequence of str, optional
        Order the columns by these codes (codes a file lacks read as 0); by default
        the first file's codes.

    Returns
    -------
    record_ids : list of str
    classes : list of str
    y_pred : ndarray of shape (n_records, n_classes), uint8
    y_prob : ndarray of shape (n_records, n_classes), float
    """
    files = sorted(Path(folder).glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no output files (*.csv) in {folder}")
    ids, preds, probs = [], [], []
    for f in files:
        rows = [r for r in csv.reader(f.open()) if r]
        if len(rows) < 4 or not rows[0][0].startswith("#"):
            raise ValueError(f"{f.name}: expected '#record', codes, binary outputs and probabilities lines")
        codes = [c.strip() for c in rows[1]]
        if classes is None:
            classes = codes
        classes = [str(c) for c in classes]
        try:
            b = [float(v) for v in rows[2]]
            p = [float(v) for v in rows[3]]
        except ValueError as e:
            raise ValueError(f"{f.name}: {e}") from None
        if not (len(b) == len(p) == len(codes)):
            raise ValueError(f"{f.name}: {len(codes)} codes but {len(b)} outputs and {len(p)} probabilities")
        pos = {c: j for j, c in enumerate(codes)}
        preds.append([b[pos[c]] if c in pos else 0 for c in classes])
        probs.append([p[pos[c]] if c in pos else 0.0 for c in classes])
        ids.append(rows[0][0][1:].strip())
    return ids, list(classes), np.asarray(preds, dtype=np.uint8), np.asarray(probs, dtype=float)

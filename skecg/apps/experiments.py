"""Named pipelines of the published systems and the cross-source evaluation protocol."""

from __future__ import annotations

import contextlib
import numbers
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from skecg import metrics  # a lazy face: its modules load on first use


def __getattr__(name):
    """``PIPELINE_VOCABULARY`` and ``make_named_pipeline``: the named systems are library
    code (:mod:`skecg.pipelines`), re-exported for this application's callers and read
    on first use (skecg.pipelines imports torch; the commands import this module)."""
    if name in ("PIPELINE_VOCABULARY", "make_named_pipeline"):
        from skecg import pipelines  # torch: kept out of `skecg --help`

        return getattr(pipelines, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class FoldResult:
    """One held-out group of sources: predictions, tables, scores, reference rows.

    With several seeds, ``pred``/``proba`` are those of the first seed, ``preds`` and
    ``probas`` hold every seed's, ``table`` is the per-class mean over seeds, and
    ``challenge``/``f1_macro`` are the seed-mean scores with 95 % bootstrap intervals
    that resample patients.
    """

    test_sources: list
    n_train: int
    n_test: int
    classes: list
    y_true: np.ndarray
    proba: np.ndarray
    pred: np.ndarray
    table: pd.DataFrame
    challenge: object
    f1_macro: object
    seconds: float
    estimator: object = field(repr=False, default=None)
    preds: list = field(repr=False, default_factory=list)
    probas: list = field(repr=False, default_factory=list)
    seed_scores: pd.DataFrame = field(repr=False, default=None)
    references: pd.DataFrame = field(repr=False, default=None)
    vs_sinus_rhythm: object = None
    record_ids: np.ndarray = field(repr=False, default=None)
    groups: np.ndarray = field(repr=False, default=None)
    y_train: np.ndarray = field(repr=False, default=None)

    @property
    def n_seeds(self) -> int:
        return max(1, len(self.preds))

    def challenge_seeds(self):
        return metrics.seed_summary(self.seed_scores["challenge"]) if self.seed_scores is not None else None

    def f1_seeds(self):
        return metrics.seed_summary(self.seed_scores["f1_macro"]) if self.seed_scores is not None else None

    def summary(self) -> str:
        seeds = f"; over seeds {self.challenge_seeds()}" if self.n_seeds > 1 else ""
        return (f"held out {'+'.join(self.test_sources)} ({self.n_test} records; trained on {self.n_train}): "
                f"challenge score {self.challenge}{seeds}, macro F1 {self.f1_macro}  [{self.seconds:.0f} s]")

    def report(self, present_only: bool = True) -> str:
        """The fold's printed table: per-class scores, reference rows, scores with
        intervals, and the paired difference against the all-sinus-rhythm reference."""
        return format_fold(self, present_only=present_only)


def _mean_table(y_true, preds, codes):
    tabs = [metrics.classification_table(y_true, p, codes, digits=None) for p in preds]
    mean = sum(t.astype(float) for t in tabs) / len(tabs)
    rows = ["precision", "recall", "specificity", "f1"]
    mean.loc[rows] = mean.loc[rows].round(3)
    mean = mean.astype(object)
    mean.loc["support"] = [int(v) for v in tabs[0].loc["support"]]
    return mean


def format_fold(res: FoldResult, present_only: bool = True) -> str:
    """Text of one fold: the per-class table with reference F1 rows, then the scores.

    Classes without positives among the held-out records are left out when
    ``present_only`` (their F1 is 0 whatever a system does)."""
    t = res.table.copy()
    cols = [c for c in t.columns if c == "macro" or not present_only or t.loc["support", c] > 0]
    lines = []
    title = "per-class scores" + (f" (mean over {res.n_seeds} seeds)" if res.n_seeds > 1 else "")
    lines.append(title + ":")
    if res.references is not None:
        ref = res.references.rename(columns={"macro_f1": "macro"})
        extra = pd.DataFrame({c: ref[c] if c in ref else np.nan for c in t.columns}, index=ref.index)
        extra.index = [f"f1 {i}" for i in extra.index]
        t = pd.concat([t.astype(object), extra.round(3).astype(object)])
    lines.append(t[cols].to_string())
    seeds = ""
    if res.n_seeds > 1:
        seeds = f"; over seeds {res.challenge_seeds()}, macro F1 {res.f1_seeds()}"
    lines.append(f"challenge score {res.challenge}, macro F1 {res.f1_macro} "
                 f"(95% CI, resampling patients){seeds}")
    if res.references is not None:
        r = res.references
        lines.append("reference rows, same records, same scorers: " + "; ".join(
            f"{i.removeprefix('ref: ')}: challenge {r.loc[i, 'challenge']:.3f}, macro F1 {r.loc[i, 'macro_f1']:.3f}"
            for i in r.index))
    if res.vs_sinus_rhythm is not None:
        lines.append(f"paired difference in challenge score (95% CI, by patient): {res.vs_sinus_rhythm}")
    return "\n".join(lines)


def compare_folds(a: FoldResult, b: FoldResult, *, metric="challenge", names=("A", "B"), n_resamples: int = 1000,
                  random_state=0):
    """Paired bootstrap (by patient) of the difference between two systems' scores on
    the same held-out records: ``metric`` is ``'challenge'``, ``'f1_macro'`` or a
    callable ``metric(y_true, y_pred)``.  Every seed of each system counts (its score
    is its seed mean in each resample).

    Returns
    -------
    skecg.metrics.PairedDifference
    """
    if a.record_ids is not None and b.record_ids is not None and not np.array_equal(a.record_ids, b.record_ids):
        raise ValueError(f"the two results are on different records (held out {a.test_sources} vs "
                         f"{b.test_sources}); a paired comparison needs the same records")
    if a.classes != b.classes:
        raise ValueError(f"the two results have different classes ({len(a.classes)} vs {len(b.classes)}); "
                         "compare systems on the same vocabulary")
    codes = a.classes
    pa, pb = a.preds or [a.pred], b.preds or [b.pred]
    if metric in ("challenge", "f1_macro"):
        terms, score = ((metrics.challenge_terms, metrics.challenge_from_terms) if metric == "challenge"
                        else (lambda t, p, c: metrics.f1_terms(t, p), metrics.macro_f1_from_terms))
        Ta = np.stack([terms(a.y_true, p, codes) for p in pa], axis=1)
        Tb = np.stack([terms(b.y_true, p, codes) for p in pb], axis=1)
        return metrics.paired_bootstrap_terms(metrics.seed_mean_score(score), Ta, Tb, groups=a.groups, names=names,
                                      n_resamples=n_resamples, random_state=random_state)
    return metrics.paired_bootstrap(metric, a.y_true, pa, pb, groups=a.groups, names=names, n_resamples=n_resamples,
                            random_state=random_state)


def estimator_codes(est, classes, k: int) -> list:
    """Column codes of a fitted estimator's outputs: its ``classes_`` when they are one
    code per column, else ``classes`` (the data's vocabulary), else column indices.
    (scikit-learn's multi-output classifiers set ``classes_`` to one array per column.)"""
    c = getattr(est, "classes_", None)
    if c is not None and len(c) == k and all(np.ndim(v) == 0 for v in c):
        return [str(v) for v in c]
    if classes is not None and len(classes) == k:
        return [str(v) for v in classes]
    return [str(j) for j in range(k)]


def fold_result(y_true, preds, probas, classes, *, test_sources, n_train, groups=None, record_ids=None,
                y_train=None, seconds=0.0, n_resamples: int = 200, random_state=0,
                references: bool = True) -> FoldResult:
    """A :class:`FoldResult` from per-seed predictions on one set of held-out records:
    the mean per-class table, seed-mean scores with patient-bootstrap intervals, the
    reference rows and the paired difference against all sinus rhythm.

    Parameters
    ----------
    y_true : ndarray of shape (n_records, n_classes)
    preds, probas : list of ndarray of shape (n_records, n_classes)
        One per seed.
    classes : list of str
        SNOMED CT code of each column.
    """
    preds = [np.asarray(p) for p in preds]
    probas = [np.asarray(p) for p in probas]
    yt = np.asarray(y_true)
    codes = [str(c) for c in classes]
    # per-record terms: each bootstrap resample is a sum (same numbers as the scorers)
    Tc = np.stack([metrics.challenge_terms(yt, p, codes) for p in preds], axis=1)
    Tf = np.stack([metrics.f1_terms(yt, p) for p in preds], axis=1)
    chal, f1 = metrics.seed_mean_score(metrics.challenge_from_terms), metrics.seed_mean_score(metrics.macro_f1_from_terms)
    seed0 = int(random_state or 0)
    seed_scores = pd.DataFrame({"seed": [seed0 + s for s in range(len(preds))],
                                "challenge": [metrics.challenge_score(yt, p, codes) for p in preds],
                                "f1_macro": [metrics.per_class_scores(yt, p)["macro_f1"] for p in preds]})
    res = FoldResult(
        test_sources=list(test_sources), n_train=int(n_train), n_test=len(yt), classes=codes, y_true=yt,
        proba=probas[0], pred=preds[0], table=_mean_table(yt, preds, codes),
        challenge=metrics.grouped_bootstrap_ci(chal, Tc, groups=groups, n_resamples=n_resamples, random_state=random_state),
        f1_macro=metrics.grouped_bootstrap_ci(f1, Tf, groups=groups, n_resamples=n_resamples, random_state=random_state),
        seconds=float(seconds), preds=preds, probas=probas, seed_scores=seed_scores, record_ids=record_ids,
        groups=groups, y_train=y_train)
    res.challenge.estimate = float(seed_scores["challenge"].mean())  # the scorer's own number
    if references:
        res.references = metrics.reference_table(yt, codes, y_train=y_train, random_state=random_state)
        sr = metrics.challenge_terms(yt, metrics.reference_predictions("all_sinus_rhythm", yt, codes), codes)[:, None]
        res.vs_sinus_rhythm = metrics.paired_bootstrap_terms(chal, Tc, sr, groups=groups,
                                                     names=("system", "all sinus rhythm"),
                                                     n_resamples=n_resamples, random_state=random_state)
    return res


def evaluate_cross_source(estimator, X, y, test_groups=None, *, n_seeds: int = 1, n_resamples: int = 200,
                          random_state=0, references: bool = True, keep_estimators: bool = False,
                          log=print) -> list[FoldResult]:
    """Train on some sources, test on the held-out ones, for each group of held-out sources.

    Parameters
    ----------
    estimator : classifier or pipeline
    X : ECGRecords
        ``meta['source']`` defines the sources; ``meta['patient_id']`` the patients
        the bootstrap resamples.
    y : ndarray
    test_groups : list of list of str, optional
        Default: leave-one-source-out over every source.
    n_seeds : int, default=1
        Train this many times with seeds ``random_state, random_state + 1, ...`` (every
        ``random_state`` parameter of the estimator, nested ones included); tables show
        the mean (and sd) over seeds.
    n_resamples : int
        Bootstrap resamples for the confidence intervals (95 %, percentile, resampling
        patients).
    references : bool, default=True
        Score the reference classifiers (all sinus rhythm, prevalence-matched random,
        per-class majority of the training labels) on the same records, and the
        paired difference of the system against all sinus rhythm.
    keep_estimators : bool, default=False
        Keep the fitted estimator of the first seed in each result.

    Returns
    -------
    list of FoldResult
    """
    if not isinstance(n_seeds, numbers.Integral) or n_seeds < 1:
        raise ValueError(f"n_seeds must be a positive integer, got {n_seeds!r}")
    src = X.meta["source"].to_numpy()
    if test_groups is None:
        test_groups = [[s] for s in pd.unique(src)]
    classes = list(X.classes) if X.classes is not None else None
    pid = X.meta["patient_id"].to_numpy() if "patient_id" in X.meta else None
    results = []
    for group in test_groups:
        group = [group] if isinstance(group, str) else list(group)
        te = np.isin(src, group)
        if not te.any():
            raise ValueError(f"no records of source(s) {group}")
        tr = np.flatnonzero(~te)
        te = np.flatnonzero(te)
        t0 = time.perf_counter()
        Xtr, Xte = X.take(tr), X.take(te)
        preds, probas, first = [], [], None
        for s in range(n_seeds):
            seed = int(random_state) + s if random_state is not None else s
            log(f"  training on {len(tr)} records of {sorted(set(src[tr]))}"
                + (f" (seed {seed})" if n_seeds > 1 else "") + " ...")
            est = metrics.with_seed(estimator, seed).fit(Xtr, y[tr])
            probas.append(metrics.proba_matrix(est, Xte))
            preds.append(np.asarray(est.predict(Xte)))
            if first is None:
                first = est
        codes = estimator_codes(first, classes, y.shape[1])
        groups = None
        if pid is not None:
            groups = np.asarray([str(v) if v == v else f"_record{i}" for i, v in zip(te, pid[te])], dtype=object)
        res = fold_result(y[te], preds, probas, codes, test_sources=group, n_train=len(tr), groups=groups,
                          record_ids=X.meta["record_id"].to_numpy()[te], y_train=y[tr],
                          seconds=time.perf_counter() - t0, n_resamples=n_resamples, random_state=random_state,
                          references=references)
        res.estimator = first if keep_estimators else None
        log("  " + res.summary())
        results.append(res)
    return results


def _evaluate_one(estimator, X, y, group, kwargs):
    """One held-out group, run on a dask worker (quiet: the client logs each finished fit)."""
    return evaluate_cross_source(estimator, X, y, [group], log=lambda *a, **k: None, **kwargs)[0]


def evaluate_on_cluster(scheduler, estimator, X, y, test_groups, *, log=print, **kwargs):
    """:func:`evaluate_cross_source` with one task per held-out group on a dask cluster.

    The CLI's ``skecg evaluate --scheduler``.  In-memory data are scattered once to
    every worker; a lazy container travels as its handle.  A failed fit raises a
    ``RuntimeError`` naming the held-out group, and the other fits are cancelled; no
    partial results are returned.  Requires the ``distributed`` extra.

    Parameters
    ----------
    scheduler : str or distributed.Client
        ``'local:N'`` (a local cluster of N workers), a scheduler address, or a
        connected ``Client`` (left open); see :func:`skecg.distributed.start_cluster`.
    estimator, X, y
        As for :func:`evaluate_cross_source`.
    test_groups : list of str or list of list of str
        One task per group of held-out sources.
    log : callable, default=print
        Gets a line when the cluster is up and one per finished fit.
    **kwargs
        Passed to :func:`evaluate_cross_source` (``n_seeds``, ``n_resamples``, ...).

    Returns
    -------
    list of FoldResult
        In the order of ``test_groups``.

    Examples
    --------
    >>> from skecg.datasets import load_sample
    >>> X, y = load_sample("tnmg", sources=["Georgia", "PTB"])
    >>> res = evaluate_on_cluster("local:2", make_named_pipeline("catboost"), X, y,
    ...                           ["Georgia", "PTB"])  # doctest: +SKIP
    """
    from distributed import as_completed  # dask: kept out of `skecg --help`

    from skecg.distributed import start_cluster  # dask and torch: kept out of `skecg --help`

    groups = [[g] if isinstance(g, str) else list(g) for g in test_groups]
    n_fits = len(groups) * int(kwargs.get("n_seeds", 1))
    given = not isinstance(scheduler, str)
    with (contextlib.nullcontext(scheduler) if given else start_cluster(scheduler)) as client:
        log(f"dask cluster {client.scheduler.address}: {len(client.nthreads())} workers; "
            f"{len(groups)} tasks ({n_fits} fits)")
        data = [o for o in (X, y) if not getattr(o, "is_lazy", False)]  # handles stay handles
        shared = dict(zip([id(o) for o in data], client.scatter(data, broadcast=True))) if data else {}
        Xf, yf = shared.get(id(X), X), shared.get(id(y), y)
        futures = {client.submit(_evaluate_one, estimator, Xf, yf, g, kwargs, pure=False): i
                   for i, g in enumerate(groups)}
        results, t0 = [None] * len(groups), time.perf_counter()
        for done, fut in enumerate(as_completed(futures), 1):
            i = futures[fut]
            try:
                res = fut.result()
            except Exception as e:  # noqa: BLE001 - named and re-raised; the other fits are cancelled
                client.cancel(list(futures))
                raise RuntimeError(f"the fit holding out {'+'.join(groups[i])} failed on the cluster: "
                                   f"{type(e).__name__}: {e}") from e
            results[i] = res
            log(f"  [{done}/{len(groups)}] finished after "
                f"{time.perf_counter() - t0:.0f} s: {res.summary()}")
    return results

"""Training-subset samplers of Huang et al. (Table 2).

The samplers follow imbalanced-learn's protocol (``fit_resample(X, y)``,
``sample_indices_``, ``random_state``) but accept 3-D ECG input and multilabel ``y``,
which imbalanced-learn's own samplers reject.  Put them in
:class:`imblearn.pipeline.Pipeline`: it needs only ``fit_resample``, resamples in
``fit`` only (never test folds, ``predict`` or ``transform``), and brings caching
(``memory=``) and metadata routing.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._records import validate_records
from .utils.validation import check_indicator_matrix

STRATEGIES = ("I", "II", "III", "IV")


class TrainingSubsetSampler(BaseEstimator):
    """Choose a curated training subset of fixed size (Huang et al., Table 2).

    - ``'I'``: ``n_per_class`` records for each abnormality and for normal (records
      with no abnormality), drawn at random;
    - ``'II'``: as I, but favouring records with several abnormalities;
    - ``'III'``: the oldest and the youngest records of each class (half each), age
      from ``meta['age']``;
    - ``'IV'``: random records.

    Classes are filled in turn; records already taken for an earlier class count
    towards later classes they also carry, so multi-label records can overshoot a
    class.  Whatever the classes leave of the total (overshoot, or classes with too
    few records) is filled at random, as the paper did.  The total is
    ``n_per_class * (n_classes + 1)`` for every strategy, so subsets are of equal size.

    Parameters
    ----------
    strategy : {'I', 'II', 'III', 'IV'}, default='I'
    n_per_class : int, optional
        Records per class; default: as many as make ``n_total``, else the size of the
        smallest non-empty class.
    n_total : int, optional
        Total size (``n_per_class`` is then ``n_total // (n_classes + 1)``).
    normal_class : int, optional
        Column of ``y`` that means normal; default: normal is a row with no positive.
    random_state : int, RandomState or None
    allow_smaller : bool, default=False
        When the data hold fewer records than the subset asks for, take them all
        instead of raising (useful in pipelines run on data sets of unknown size).

    Attributes
    ----------
    sample_indices_ : ndarray of int
        Indices of the chosen records, in the order taken.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.eye(3, dtype=int)[np.arange(30) % 3]; y[::4] = 0
    >>> X = np.zeros((30, 1, 8), np.float32)
    >>> Xs, ys = TrainingSubsetSampler("I", n_per_class=3, random_state=0).fit_resample(X, y)
    >>> len(Xs), ys.sum(0).tolist(), int((ys.sum(1) == 0).sum())
    (12, [3, 3, 3], 3)

    In imbalanced-learn's Pipeline the subset is drawn in ``fit`` only; ``predict`` sees
    every record:

    >>> from imblearn.pipeline import Pipeline
    >>> from sklearn.dummy import DummyClassifier
    >>> pipe = Pipeline([("subset", TrainingSubsetSampler("IV", n_total=6, random_state=0)),
    ...                  ("clf", DummyClassifier())])
    >>> X2 = np.zeros((30, 4))
    >>> pipe.fit(X2, y).predict(X2).shape, len(pipe.named_steps["subset"].sample_indices_)
    ((30, 3), 6)
    """

    _parameter_constraints: dict = {
        "strategy": [StrOptions(set(STRATEGIES))],
        "n_per_class": [Interval(Integral, 1, None, closed="left"), None],
        "n_total": [Interval(Integral, 1, None, closed="left"), None],
        "normal_class": [Interval(Integral, 0, None, closed="left"), None],
        "random_state": ["random_state"],
        "allow_smaller": ["boolean"],
    }

    def __init__(self, strategy="I", n_per_class=None, n_total=None, normal_class=None, random_state=None,
                 allow_smaller=False):
        self.allow_smaller = allow_smaller
        self.strategy = strategy
        self.n_per_class = n_per_class
        self.n_total = n_total
        self.normal_class = normal_class
        self.random_state = random_state

    def _validate(self, X, y):
        y = check_indicator_matrix(y, n_rows=len(X))
        if self.normal_class is not None and self.normal_class >= y.shape[1]:
            raise ValueError(f"normal_class={self.normal_class} but y has {y.shape[1]} columns")
        return y > 0

    def _class_masks(self, y):
        if self.normal_class is None:
            abn = y
            normal = ~y.any(axis=1)
        else:
            j = int(self.normal_class)
            abn = np.delete(y, j, axis=1)
            normal = y[:, j] & ~abn.any(axis=1)
        return [abn[:, j] for j in range(abn.shape[1])] + [normal]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_resample(self, X, y):
        """Return ``(X[idx], y[idx])`` for the chosen subset; metadata stays aligned.

        Parameters
        ----------
        X : ECGRecords, ndarray or list of records
            Records; strategy ``'III'`` needs :class:`~skecg.ECGRecords` with ``meta['age']``.
        y : array-like of shape (n_records, n_classes)
            0/1 indicator matrix.

        Returns
        -------
        X_resampled, y_resampled
            The chosen records, in the container kind of ``X``, and their labels.
        """
        yb = self._validate(X, y)
        rng = check_random_state(self.random_state)
        masks = self._class_masks(yb)
        k = len(masks)
        n = len(yb)
        if self.n_per_class is not None:
            per = int(self.n_per_class)
        elif self.n_total is not None:
            per = int(self.n_total) // k
        else:
            sizes = [m.sum() for m in masks if m.sum() > 0]
            per = int(min(sizes)) if sizes else 0
        total = int(self.n_total) if self.n_total is not None else per * k
        if total > n and self.allow_smaller:
            total = n
        if total > n:
            raise ValueError(f"a subset of {total} records was asked for, but only {n} records exist")
        if total < 1:
            raise ValueError("the subset would be empty: set n_per_class or n_total")
        chosen = np.zeros(n, dtype=bool)
        order: list[int] = []

        def take(idx):
            for i in idx:
                if not chosen[i] and len(order) < total:
                    chosen[i] = True
                    order.append(int(i))

        if self.strategy == "III":
            R = validate_records(X)
            if not R.is_records:
                raise ValueError("strategy 'III' needs ages: pass ECGRecords with meta['age']")
            age = R.column("age", float)
            missing = np.flatnonzero(np.isnan(age) & np.any(np.column_stack(masks), axis=1))
            if missing.size:
                names = [R.names[i] for i in missing[:5]]
                raise ValueError(f"strategy 'III' needs ages, but {missing.size} record(s) have none, "
                                 f"e.g. {names}; drop them or choose another strategy")
        if self.strategy != "IV":
            for m in masks:
                need = per - int((chosen & m).sum())
                if need <= 0:
                    continue  # multi-label records already overshoot this class
                cand = np.flatnonzero(m & ~chosen)
                if self.strategy == "I":
                    pick = rng.permutation(cand)[:need]
                elif self.strategy == "II":
                    n_lab = yb[cand].sum(1) + rng.random_sample(len(cand))  # random tie-break
                    pick = cand[np.argsort(-n_lab, kind="stable")][:need]
                else:  # III
                    srt = cand[np.argsort(age[cand], kind="stable")]
                    n_old = need // 2 + need % 2
                    n_young = need - n_old
                    pick = np.r_[srt[::-1][:n_old], srt[:n_young]] if n_young else srt[::-1][:n_old]
                take(pick)
        rest = np.flatnonzero(~chosen)
        take(rng.permutation(rest))
        self.sample_indices_ = np.asarray(order, dtype=np.intp)
        self.n_per_class_ = per
        idx = self.sample_indices_
        Xs = _safe_indexing(X, idx)  # rows of records, arrays, lists or feature frames alike
        return Xs, np.asarray(y)[idx]

    def fit(self, X, y):
        """Choose the subset (see :meth:`fit_resample`); returns self."""
        self.fit_resample(X, y)
        return self

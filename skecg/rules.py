"""The papers' data rules: which records each paper keeps, as reported steps.

- ``huang-cpsc`` (Huang et al.): drop CPSC records whose *first* label is ST
  depression, a premature atrial contraction, ST elevation or a premature ventricular
  contraction (STD, PAC, STE, PVC).
- ``huang-snh`` (Huang et al.): in SNH (Chapman-Shaoxing and Ningbo) keep only normal
  records (sinus rhythm) and records of the six TNMG classes (45,152 -> 34,033 in the
  paper).
- ``zhu-incart`` (Zhu et al.): leave out INCART (St Petersburg).
- ``zhu-unscored`` (Zhu et al.): leave out every record without a scored label of the
  2020 challenge.

The rules define the papers' *data sets*: they drop records from test sets as well as
from training sets (Huang's CPSC and SNH are test sets only).  A sampler inside a
pipeline acts only in ``fit`` and ``predict`` must answer every record it is given, so
the rules are applied where the data are loaded: :func:`apply_rules` returns the kept
records and a :class:`RuleReport` of what was dropped, per rule, source and reason,
which it also writes to stderr.  For a training-only use inside an
:class:`imblearn.pipeline.Pipeline`, :class:`DataRuleSampler` applies the same rules
in ``fit_resample``.

Zhu et al.'s third rule, relabelling CPSC for training, changes labels rather than
records and needs a fitted model: it is the estimator
:class:`skecg.ensemble.PseudoLabelRelabeler`, inside the ``zhu-paper`` preset.

"First label" is the first code of the header's ``# Dx:`` line (``meta['dx']``, kept
in the header's order by every reader), or the first label column of CPSC 2018's
``REFERENCE.csv``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, _fit_context

from ._records import ECGRecords, validate_records
from .labels import NORMAL_CLASS, SCORED_CLASSES_2020, TNMG_TO_SNOMED, abbreviation, equivalence_map


def _canonical(codes):
    eq = equivalence_map()
    return {eq.get(str(c), str(c)) for c in codes}


def _dx(X: ECGRecords, rule: str) -> list:
    if not validate_records(X).is_records or "dx" not in X.meta:
        raise ValueError(f"rule {rule!r} needs the records' own labels (ECGRecords with meta['dx'], as the "
                         "skecg readers give them)")
    return [tuple(str(c) for c in d) if isinstance(d, (tuple, list, np.ndarray)) else () for d in X.meta["dx"]]


@dataclass(frozen=True)
class DataRule:
    """One rule of a paper: which records of which sources it drops, and why.

    Parameters
    ----------
    name : str
    paper : str
        Citation key (:data:`skecg.presets.CITATIONS`).
    description : str
    kind : {'first_label', 'keep_classes', 'source', 'scored'}
    sources : tuple of str
        The sources it applies to (``meta['source']``); empty: every source.
    codes : tuple of str
        SNOMED CT codes the rule looks for (equivalent codes count as one).
    """

    name: str
    paper: str
    description: str
    kind: str
    sources: tuple = ()
    codes: tuple = ()

    def reasons(self, X: ECGRecords) -> np.ndarray:
        """The reason each record is dropped (``''`` for a record kept).

        Examples
        --------
        >>> from skecg.datasets import load_sample
        >>> X, y = load_sample("cinc2020", sources=["PTB"])
        >>> bool((RULES["zhu-incart"].reasons(X) == "").all())
        True
        """
        if not validate_records(X).is_records:
            raise ValueError(f"rule {self.name!r} needs the records' own labels and sources (ECGRecords with "
                             "meta['dx'] and meta['source'], as the skecg readers give them)")
        n = len(X)
        src = X.meta["source"].to_numpy().astype(str)
        scope = np.isin(src, self.sources) if self.sources else np.ones(n, bool)
        out = np.full(n, "", dtype=object)
        if self.kind == "source":
            out[scope] = f"source {self.sources[0] if len(self.sources) == 1 else 'excluded'}"
            return out
        dx = _dx(X, self.name)
        eq = equivalence_map()
        codes = _canonical(self.codes)
        for i in np.flatnonzero(scope):
            d = [eq.get(c, c) for c in dx[i]]
            if self.kind == "first_label":
                if d and d[0] in codes:
                    out[i] = f"first label {_NAMES.get(d[0], abbreviation(d[0]))}"
            elif self.kind == "keep_classes":
                if not set(d) & codes:
                    out[i] = "neither normal nor one of the kept classes" if d else "no label"
            elif self.kind == "scored":
                if not set(d) & codes:
                    out[i] = "no scored label" if d else "no label"
            else:
                raise ValueError(f"unknown rule kind {self.kind!r}")
        return out


_STD, _PAC, _STE = "429622005", "284470004", "164931005"
_PVC = ("164884008", "427172004", "17338001")  # CPSC's PVC is "ventricular ectopics" in the 2020 headers
_NAMES = {_STD: "STD", _PAC: "PAC", _STE: "STE", "164884008": "PVC (164884008, ventricular ectopics)",
          "427172004": "PVC"}

#: The papers' rules by name.
RULES: dict = {
    "huang-cpsc": DataRule(
        "huang-cpsc", "huang2024", "CPSC records whose first label is STD, PAC, STE or PVC are dropped "
        "(Huang et al.)", "first_label", ("CPSC",), (_STD, _PAC, _STE, *_PVC)),
    "huang-snh": DataRule(
        "huang-snh", "huang2024", "SNH keeps only normal records and records of the six TNMG classes "
        "(Huang et al.: 45,152 -> 34,033)", "keep_classes", ("Chapman-Ningbo",),
        (NORMAL_CLASS, *TNMG_TO_SNOMED.values())),
    "zhu-incart": DataRule(
        "zhu-incart", "zhu2021", "INCART (St Petersburg) is left out (Zhu et al., section 2)", "source",
        ("StPetersburg",)),
    "zhu-unscored": DataRule(
        "zhu-unscored", "zhu2021", "records without a scored label of the 2020 challenge are left out "
        "(Zhu et al., section 2)", "scored", (), tuple(SCORED_CLASSES_2020)),
}


@dataclass
class RuleReport:
    """What the rules dropped: one row per (rule, source, reason) with the count, and
    the records each source had before.

    Attributes
    ----------
    table : DataFrame
        Columns ``rule, source, reason, dropped, records``.
    dropped_ids : dict
        Rule name -> record ids it dropped.
    """

    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["rule", "source", "reason", "dropped", "records"]))
    dropped_ids: dict = field(default_factory=dict)
    rules: tuple = ()

    @property
    def n_dropped(self) -> int:
        return int(self.table["dropped"].sum()) if len(self.table) else 0

    def __str__(self) -> str:
        if not self.rules:
            return "data rules: none applied"
        head = f"data rules {', '.join(self.rules)}: dropped {self.n_dropped} record(s)"
        if not len(self.table):
            return head
        return head + "\n" + self.table.to_string(index=False)


def _resolve(rules) -> list:
    rules = [rules] if isinstance(rules, (str, DataRule)) else list(rules)
    out = [RULES[r] if isinstance(r, str) and r in RULES else r for r in rules]
    for r in out:
        if not isinstance(r, DataRule):
            raise ValueError(f"unknown data rule {r!r}; choose from {sorted(RULES)}")
    return out


def rule_mask(X, rules):
    """``(keep, report)``: a boolean mask of the records every rule keeps, and the
    :class:`RuleReport` (a record two rules would drop counts for the first)."""
    rules = _resolve(rules)
    n = len(X)
    src = X.meta["source"].to_numpy().astype(str)
    rid = X.meta["record_id"].to_numpy().astype(str)
    before = pd.Series(src).value_counts()
    keep = np.ones(n, bool)
    rows, ids = [], {}
    for r in rules:
        why = r.reasons(X)
        drop = (why != "") & keep
        keep &= ~drop
        ids[r.name] = rid[drop].tolist()
        if drop.any():
            g = pd.DataFrame({"source": src[drop], "reason": why[drop]}).value_counts().sort_index()
            for (s, reason), k in g.items():
                rows.append({"rule": r.name, "source": s, "reason": reason, "dropped": int(k),
                             "records": int(before[s])})
    table = pd.DataFrame(rows, columns=["rule", "source", "reason", "dropped", "records"])
    return keep, RuleReport(table, ids, tuple(r.name for r in rules))


def apply_rules(X, y, rules, *, log=None):
    """Apply data rules to records and labels; report what each dropped.

    Parameters
    ----------
    X : ECGRecords
    y : ndarray of shape (n_records, n_classes)
    rules : sequence of str or DataRule
        Names in :data:`RULES` (or rules).  A record two rules would drop is counted
        for the first.
    log : callable, optional
        Gets the report's text; default: written to stderr when anything is dropped.

    Returns
    -------
    X_kept : ECGRecords
    y_kept : ndarray
    report : RuleReport

    Examples
    --------
    >>> from skecg.datasets import load_sample
    >>> X, y = load_sample("tnmg", sources=["CPSC"])
    >>> Xk, yk, rep = apply_rules(X, y, ["huang-cpsc"], log=lambda m: None)
    >>> len(Xk) + rep.n_dropped == len(X)
    True
    """
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} records but y has {len(y)} rows")
    keep, report = rule_mask(X, rules)
    if not keep.all():
        idx = np.flatnonzero(keep)
        X, y = X.take(idx), y[idx]
    if log is None:
        if report.n_dropped:
            print(str(report), file=sys.stderr, flush=True)
    else:
        log(str(report))
    return X, y, report


class DataRuleSampler(BaseEstimator):
    """The data rules as an imbalanced-learn sampler (``fit_resample``): in an
    :class:`imblearn.pipeline.Pipeline` they then drop training records only.

    Use it where a rule should shape the training data alone; to define a paper's
    data sets (tests included), apply :func:`apply_rules` when loading.

    Parameters
    ----------
    rules : sequence of str, default=()
        Names in :data:`RULES`.

    Attributes
    ----------
    report_ : RuleReport
    sample_indices_ : ndarray of int
        The kept records' indices.

    Examples
    --------
    >>> from skecg.datasets import load_sample
    >>> X, y = load_sample("cinc2020", sources=["CPSC", "PTB"])
    >>> s = DataRuleSampler(["zhu-unscored"])
    >>> Xs, ys = s.fit_resample(X, y)
    >>> len(Xs) == len(X) - s.report_.n_dropped
    True
    """

    # names in RULES or DataRule objects, resolved (and unknown names refused) by rule_mask
    _parameter_constraints: dict = {"rules": ["array-like", str]}

    def __init__(self, rules=()):
        self.rules = rules

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_resample(self, X, y):
        """The records the rules keep, and their labels."""
        keep, self.report_ = rule_mask(X, self.rules)
        if self.report_.n_dropped:
            print(str(self.report_), file=sys.stderr, flush=True)
        self.sample_indices_ = np.flatnonzero(keep)
        return X.take(self.sample_indices_), np.asarray(y)[self.sample_indices_]

    def fit(self, X, y):
        """Apply the rules (see :meth:`fit_resample`); returns self."""
        self.fit_resample(X, y)
        return self

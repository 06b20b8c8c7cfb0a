"""Stage 1, *load*: the records of a run, its sources, and the paper's data rules applied."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from skecg import concat_records
from skecg import io  # a lazy face: its modules load on first use
import skecg  # the root face imports skecg.<module> on first use, not at `skecg --help`

from .._common import load_data


def _is_ludb(path: Path) -> bool:
    return path.is_dir() and any(path.glob("*.v6")) and any(path.glob("*.hea"))


def load_sources(paths, vocabulary, on_error="skip"):
    """Read and concatenate data folders (``sample``, any format ``skecg evaluate``
    reads, a TNMG test set in Ribeiro's layout, or LUDB).  Returns ``(X, y)``."""
    parts, ys = [], []
    for p in paths:
        path = Path(p)
        if p != "sample" and _is_ludb(path):
            X, y, _ = io.read_ludb(path, vocabulary, on_error=on_error)
        else:
            X, y = load_data([p], vocabulary, on_error=on_error)
        parts.append(X)
        ys.append(y)
    return concat_records(parts), np.concatenate(ys)


@dataclass
class Data:
    """The records of a run, after the data rules.

    Attributes
    ----------
    X : ECGRecords
    y : ndarray of shape (n_records, n_classes)
    n_main : int
        Records read from the data folders (those of the ``--test-only`` folders come
        after them), before the rules.
    source : ndarray of str
        ``X.meta['source']``.
    trainable : list of str
        The sources a system may train on (all but the test-only ones), in order met.
    test_only_sources : list of str
        Sources only in the test-only folders: tested on, never trained on.
    classes : list of str
    rule_report : skecg.rules.RuleReport
        What the data rules dropped.
    """

    X: object
    y: np.ndarray
    n_main: int
    source: np.ndarray
    trainable: list
    test_only_sources: list
    classes: list
    rule_report: object


def load(data, test_only, vocabulary, rules, sources=None, log=print) -> Data:
    """Read ``data`` and the ``test_only`` folders, keep the records of ``sources``
    (all when None) and apply the data ``rules`` (reported on stderr and by ``log``)."""
    X, y = load_sources(data, vocabulary)
    n_main = len(X)
    if n_main == 0:  # every record skipped (the readers listed each one and why): nothing to train on
        raise SystemExit(f"skecg: no record of {list(data)} could be read; nothing to train on "
                         f"(the reasons are listed above)")
    if test_only:
        Xo, yo = load_sources(test_only, vocabulary)
        X, y = concat_records([X, Xo]), np.concatenate([y, yo])
    src_all = X.meta["source"].to_numpy().astype(str)
    test_only_sources = sorted(set(src_all[n_main:]) - set(src_all[:n_main]))
    if sources is not None:
        unknown = sorted(set(sources) - set(src_all))
        if unknown:
            raise ValueError(f"unknown source(s) {unknown}; the data have {sorted(set(src_all))}")
        keep = np.flatnonzero(np.isin(src_all, list(sources)))
        X, y = X.take(keep), y[keep]
        test_only_sources = [s for s in test_only_sources if s in sources]
    # the paper's data rules: the paper's data sets, tests included; reported here and on stderr
    X, y, rule_report = skecg.rules.apply_rules(X, y, rules, log=lambda m: print(m, file=sys.stderr, flush=True))
    if rule_report.n_dropped:
        log(f"data rules dropped {rule_report.n_dropped} record(s) (table in the report)")
    src = X.meta["source"].to_numpy().astype(str)
    trainable = [s for s in pd.unique(src) if s not in test_only_sources]
    return Data(X, y, n_main, src, trainable, test_only_sources, [str(c) for c in X.classes], rule_report)

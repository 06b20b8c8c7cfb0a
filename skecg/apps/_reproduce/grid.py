"""Stage 2, *grid*: the cells of a run, each a system, a training set and the record
sets it is tested on."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit

from .data import Data


class Cell(NamedTuple):
    """One cell of the grid: ``system`` trained on the records ``train_index`` (the
    training set called ``training``), tested on each of ``tests`` (name -> record
    indices)."""

    system: str
    training: str
    train_index: np.ndarray
    tests: dict


def huang_grid(data: Data, systems, train_source=None, log=print):
    """Huang et al.'s grid: every system trained on one source (default: the trainable
    source with most records) and tested on every other one.

    Returns ``(cells, train_pool)``, ``train_pool`` saying which records the subsets
    are drawn from."""
    src, trainable = data.source, data.trainable
    counts = pd.Series(src[np.isin(src, trainable)]).value_counts()
    tsrc = train_source or counts.index[0]
    if tsrc not in trainable:
        raise ValueError(f"train source {tsrc!r} not among the trainable sources {trainable}")
    tr = np.flatnonzero(src == tsrc)
    # subset III chooses by age: every subset draws from the records with a known age,
    # so the four subsets come from the same pool (the others are reported, not lost)
    age = pd.to_numeric(data.X.meta["age"], errors="coerce").to_numpy()
    no_age = tr[~np.isfinite(age[tr])]
    tr = tr[np.isfinite(age[tr])]
    train_pool = f"{tsrc} records with a known age ({len(no_age)} without one left out)"
    if len(no_age):
        log(f"{len(no_age)} record(s) of {tsrc} have no age and are left out of the training pool "
            f"(subset III needs ages): {', '.join(map(str, data.X.meta['record_id'].to_numpy()[no_age][:10]))}")
    tests = {s: np.flatnonzero(src == s) for s in pd.unique(src) if s != tsrc}
    return [Cell(name, f"trained on {tsrc}", tr, tests) for name in systems], train_pool


def _random_split(data: Data, random_state):
    """The paper's 80/20 random split of the trainable records, by patient."""
    pool = np.flatnonzero(np.isin(data.source, data.trainable))
    pid = data.X.meta["patient_id"].to_numpy() if "patient_id" in data.X.meta else None
    groups = np.asarray([str(pid[i]) if pid is not None and pid[i] == pid[i] and pid[i] is not None
                         else f"_record{i}" for i in pool], dtype=object)
    a, b = next(GroupShuffleSplit(1, test_size=0.2, random_state=random_state).split(pool, groups=groups))
    return "random 80 %", pool[a], {"random 20 %": pool[b]}


def zhu_grid(data: Data, systems, splits=("random", "lopo"), held_out=None, random_state=0, is_sample=False):
    """Zhu et al.'s grid: every system on the 80/20 random split and/or with each group
    of ``held_out`` sources left out (default: each source, one at a time; on the
    sample, Georgia and Chapman-Ningbo), then trained on every trainable source and
    tested on the test-only ones.

    Training set by training set, every system on each: a run stopped early (or a
    report of the finished cells) still has whole tables on the first sets."""
    src, trainable = data.source, data.trainable
    train_sets = []
    if "random" in splits:
        train_sets.append(_random_split(data, random_state))
    if "lopo" in splits:
        if held_out is None:
            if is_sample:  # two sources out on the sample (with the 80/20 split: three training sets)
                held_out = [g for g in (["Georgia"], ["Chapman-Ningbo"]) if set(g) <= set(trainable)]
            else:
                held_out = [[s] for s in trainable]
        for g in held_out:
            te_mask = np.isin(src, g)
            train_sets.append((f"held out {'+'.join(g)}", np.flatnonzero(~te_mask & np.isin(src, trainable)),
                               {"+".join(g): np.flatnonzero(te_mask)}))
    cells = [Cell(name, label, tr, tests) for label, tr, tests in train_sets for name in systems]
    if data.test_only_sources:
        tr = np.flatnonzero(np.isin(src, trainable))
        tests = {s: np.flatnonzero(src == s) for s in data.test_only_sources}
        cells += [Cell(name, f"trained on all of {'+'.join(trainable)}", tr, tests) for name in systems]
    return cells

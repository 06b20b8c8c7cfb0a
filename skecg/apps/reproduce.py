"""The papers' protocols as one command each, written up as a report.

    skecg reproduce huang DATA [DATA ...] -o report/ [--test-only LUDB_FOLDER]
    skecg reproduce zhu   DATA [DATA ...] -o report/

- **huang**: training subsets I-IV x {ResNet-1d, attention ResNet-1d}, each trained on
  one source and tested on every other source, with per-class precision, recall,
  specificity and F1 (Huang et al., Tables 5-7), six TNMG classes.
- **zhu**: the ablation of Zhu et al. (SE-ResNet alone, + Sign Loss, + bradycardia rule
  gate, + sinus-rhythm fallback, + two-length ensemble, the CatBoost baseline, CatBoost
  + deep features) under leave-one-source-out, scored by the challenge metric
  (Tables 2-3), 24 scored classes.

Each (system, held-out data) cell is cached in ``OUT/cells/`` as soon as it finishes,
so an interrupted run resumes from the finished cells.  The report (``report.html``,
self-contained, and its Markdown twin ``report.md`` with ``figures/``) shows the data
used, the grid, per-class tables with reference rows and intervals, paired differences
("not significant" where the interval covers zero), figures, the papers' published
numbers where they can be compared, and runtime and hardware.

``DATA`` is ``sample`` (the bundled sample: a small-scale run, labelled as such), any
folder ``skecg evaluate`` reads, or an LUDB folder (read with
:func:`skecg.io.read_ludb`); ``--test-only`` folders are never trained on.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PROTOCOLS = ("huang", "zhu")
VOCABULARY = {"huang": "tnmg", "zhu": "cinc2020"}


# --- published numbers ------------------------------------------------------------------
#: What the papers report that this report can quote.  Only numbers checked against the
#: papers' own text are quoted; the rest say "not quoted".
PUBLISHED = {
    "zhu": [
        ("full system, challenge validation score (hidden validation set of the 2020 challenge)", "0.682"),
        ("full system, full test score (hidden test set; 3rd of 40 teams)", "0.514"),
        ("ablation, Tables 2-3 (per component, their local validation)", "not quoted (not verified here)"),
    ],
    "huang": [
        ("per-class precision/recall/specificity/F1, Tables 5-7", "not quoted (not verified here)"),
        ("headline (abstract): a balanced subset of about 1% of a large data set generalises as well as "
         "the whole, and attention improves cross-dataset generalisation", "qualitative claim, no number"),
    ],
}
CITATION = {
    "zhu": "Zhu Z, Lan X, Zhao T, et al. Identification of 27 abnormalities from multi-lead ECG signals: an "
           "ensembled SE_ResNet framework with Sign Loss function. Physiol Meas 42 (2021) 065008.",
    "huang": "Huang et al. Generalization challenges in electrocardiogram deep learning: insights from dataset "
             "characteristics and attention mechanism (PMC11285255).",
}


@dataclass
class Scale:
    """Sizes of one run.  ``small`` fits the bundled sample on 2 CPU cores in minutes."""

    name: str
    fs: float
    seconds: float
    long_seconds: float
    epochs: int
    n_per_class: int
    catboost_iterations: int
    se_filters: tuple | None = None  # None: make_named_pipeline's SE-ResNet widths

    @classmethod
    def get(cls, name):
        if isinstance(name, cls):
            return name
        if name == "small":
            return cls("small", 100, 10, 20, 5, 20, 150, (16, 32, 32, 64))
        if name == "full":
            return cls("full", 500, 10, 30, 30, 200, 500)
        raise ValueError(f"scale must be 'small' or 'full', got {name!r}")


# --- data -------------------------------------------------------------------------------
def _is_ludb(path: Path) -> bool:
    return path.is_dir() and any(path.glob("*.v6")) and any(path.glob("*.hea"))


def load_sources(paths, vocabulary, on_error="skip"):
    """Read and concatenate data folders (``sample``, any format ``skecg evaluate``
    reads, or LUDB).  Returns ``(X, y)``."""
    from skecg import concat_records
    from skecg.io import read_ludb

    from .cli import load_data

    parts, ys = [], []
    for p in paths:
        path = Path(p)
        if p != "sample" and _is_ludb(path):
            X, y, _ = read_ludb(path, vocabulary, on_error=on_error)
        else:
            X, y = load_data([p], vocabulary, on_error=on_error)
        parts.append(X)
        ys.append(y)
    return concat_records(parts), np.concatenate(ys)


# --- systems ----------------------------------------------------------------------------
def huang_systems(scale: Scale, random_state=0):
    """``{name: estimator}``: subsets I-IV x {ResNet-1d, attention ResNet-1d}."""
    from .experiments import make_named_pipeline

    out = {}
    for net in ("huang", "huang-attention"):
        for subset in ("I", "II", "III", "IV"):
            pipe = make_named_pipeline(net, fs=scale.fs, seconds=scale.seconds, max_epochs=scale.epochs,
                                       n_per_class=scale.n_per_class, random_state=random_state)
            pipe.set_params(subset__strategy=subset)
            label = "attention ResNet-1d" if net == "huang-attention" else "ResNet-1d"
            out[f"{label}, subset {subset}"] = pipe
    return out


def zhu_systems(scale: Scale, random_state=0):
    """``{name: estimator}``: the ablation steps of Zhu et al., in order."""
    from sklearn.base import clone

    from skecg.baselines import make_catboost_baseline
    from skecg.ensemble import BradycardiaRuleGate, LengthEnsemble, SinusRhythmFallback
    from skecg.tuning import MultilabelThresholdTuner

    from .experiments import make_named_pipeline

    full = make_named_pipeline("zhu", fs=scale.fs, seconds=scale.seconds, max_epochs=scale.epochs,
                               random_state=random_state)  # fallback(gate(pipe))
    sign = full.estimator.estimator
    long = make_named_pipeline("zhu", fs=scale.fs, seconds=scale.long_seconds, max_epochs=scale.epochs,
                               random_state=random_state).estimator.estimator
    if scale.se_filters is not None:
        sign.set_params(net__module__filters=tuple(scale.se_filters))
        long.set_params(net__module__filters=tuple(scale.se_filters))
    bce = clone(sign).set_params(net__criterion="bce")
    ens = LengthEnsemble([(f"{scale.seconds:g}s", clone(sign)), (f"{scale.long_seconds:g}s", long)])
    it = scale.catboost_iterations
    return {
        "SE-ResNet (BCE)": bce,
        "+ Sign Loss": sign,
        "+ rule gate": BradycardiaRuleGate(clone(sign), mode="veto"),
        "+ fallback": SinusRhythmFallback(BradycardiaRuleGate(clone(sign), mode="veto")),
        "+ two-length ensemble": SinusRhythmFallback(BradycardiaRuleGate(ens, mode="veto")),
        "CatBoost (HRV + age, sex), tuned": MultilabelThresholdTuner(
            make_catboost_baseline(iterations=it, thread_count=2, random_state=random_state),
            scoring="challenge", random_state=random_state),
        # small scale: keep the model of the inner split (refit=False), one network fewer
        "CatBoost + deep features, tuned": MultilabelThresholdTuner(
            make_catboost_baseline(deep=clone(sign), iterations=it, thread_count=2, random_state=random_state),
            scoring="challenge", refit=scale.name == "full", random_state=random_state),
    }


#: pairs compared by paired bootstrap in each protocol's report
def _pairs(protocol, names):
    if protocol == "zhu":
        deep = [n for n in names if not n.startswith("CatBoost")]
        pairs = list(zip(deep[1:], deep[:-1]))
        pairs += [(deep[-1], "CatBoost (HRV + age, sex), tuned")] if deep else []
        pairs += [("CatBoost + deep features, tuned", "CatBoost (HRV + age, sex), tuned")]
        return pairs
    pairs = [(f"attention ResNet-1d, subset {s}", f"ResNet-1d, subset {s}") for s in "I II III IV".split()]
    pairs += [(f"{n}, subset I", f"{n}, subset IV") for n in ("ResNet-1d", "attention ResNet-1d")]
    return pairs


def _final_net(est):
    """The (first) ECGClassifier inside a fitted estimator, or None."""
    from skecg.models import ECGClassifier

    seen = 0
    while est is not None and seen < 10:
        seen += 1
        if isinstance(est, ECGClassifier):
            return est
        if hasattr(est, "steps"):
            est = est.steps[-1][1]
        elif hasattr(est, "estimators_"):
            est = est.estimators_[0]
        elif hasattr(est, "estimator_"):
            est = est.estimator_
        else:
            return None
    return None


def _history(est):
    net = _final_net(est)
    if net is None or not hasattr(net, "history_"):
        return []
    return [{k: float(v) for k, v in row.items() if k in ("epoch", "train_loss", "valid_loss")
             and isinstance(v, (int, float))} for row in net.history_]


# --- cells ------------------------------------------------------------------------------
def _slug(s):
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()


def _save_cell(path: Path, cell: dict):
    arrays = {}
    meta = {k: v for k, v in cell.items() if k not in ("tests",)}
    meta["tests"] = []
    for name, t in cell["tests"].items():
        key = _slug(name)
        for s, (p, q) in enumerate(zip(t["preds"], t["probas"])):
            arrays[f"{key}__pred{s}"] = p
            arrays[f"{key}__proba{s}"] = q
        meta["tests"].append({"name": name, "key": key, "n_seeds": len(t["preds"]),
                              "index": [int(i) for i in t["index"]]})
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path.with_suffix(".npz"))
    tmpj = path.with_suffix(".tmp.json")
    tmpj.write_text(json.dumps(meta, indent=1, default=str))
    os.replace(tmpj, path.with_suffix(".json"))  # the json marks the cell finished


def _load_cell(path: Path):
    j = path.with_suffix(".json")
    if not j.exists() or not path.with_suffix(".npz").exists():
        return None
    meta = json.loads(j.read_text())
    with np.load(path.with_suffix(".npz"), allow_pickle=False) as z:  # nothing we load may run code
        tests = {}
        for t in meta["tests"]:
            tests[t["name"]] = {"index": np.asarray(t["index"], dtype=int),
                                "preds": [z[f"{t['key']}__pred{s}"] for s in range(t["n_seeds"])],
                                "probas": [z[f"{t['key']}__proba{s}"] for s in range(t["n_seeds"])]}
    meta["tests"] = tests
    return meta


def _attention_figure(est, X, y, idx, classes, path: Path):
    import matplotlib.pyplot as plt

    from skecg.plots import plot_ecg

    net = _final_net(est)
    if net is None or not hasattr(net, "attention_weights") or not hasattr(est, "steps"):
        return None
    yy = y[idx]
    # a held-out record with a rhythm abnormality (SB, AF or ST) if there is one
    score = yy[:, [j for j, c in enumerate(classes) if c in ("426177001", "164889003", "427084000")]].sum(1) \
        if len(classes) else np.zeros(len(idx))
    pick = int(idx[int(np.argmax(score))])
    rec = X.take([pick])
    Z = est[:-1].transform(rec)
    w = net.attention_weights(Z)[0]
    from skecg.labels import abbreviation

    labels = [abbreviation(classes[j]) for j in np.flatnonzero(y[pick])] or ["none of the classes"]
    fig = plot_ecg(rec.signals[0], rec.meta["fs"].iloc[0], rec.meta["leads"].iloc[0], attention=w,
                   attention_seconds=Z.shape[2] / Z.meta["fs"].iloc[0],
                   title=f"{rec.meta['record_id'].iloc[0]} ({rec.meta['source'].iloc[0]}), labels: "
                         f"{', '.join(labels)}; shading: attention of the network")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path.name


def _run_cell(est, X, y, train_idx, tests: dict, n_seeds, random_state, log):
    from skecg.metrics import proba_matrix, with_seed

    from .experiments import estimator_codes

    t0 = time.perf_counter()
    out = {name: {"index": idx, "preds": [], "probas": []} for name, idx in tests.items()}
    histories, first, classes = [], None, None
    Xtr = X.take(train_idx)
    for s in range(n_seeds):
        fitted = with_seed(est, int(random_state) + s).fit(Xtr, y[train_idx])
        if first is None:
            first = fitted
            classes = estimator_codes(fitted, X.classes, y.shape[1])
        histories.append(_history(fitted))
        for name, idx in tests.items():
            Xte = X.take(idx)
            out[name]["probas"].append(proba_matrix(fitted, Xte).astype(np.float32))
            out[name]["preds"].append(np.asarray(fitted.predict(Xte)).astype(np.int8))
    return first, {"classes": classes, "histories": histories, "seconds": time.perf_counter() - t0,
                   "n_train": int(len(train_idx)), "train_index": [int(i) for i in train_idx], "tests": out}


# --- the run ----------------------------------------------------------------------------
def run(protocol, data, out, *, test_only=(), scale=None, n_seeds: int = 1, n_resamples: int = 200,
        train_source=None, held_out=None, sources=None, random_state=0, systems=None, report_only=False,
        log=print):
    """Run one protocol's grid (resuming from cached cells) and write the report.

    Parameters
    ----------
    protocol : {'huang', 'zhu'}
    data : list of str
        Data folders or ``'sample'``.
    out : str or Path
        Report folder (created); cells are cached in ``out/cells``.
    test_only : list of str
        Folders whose sources are only tested on (e.g. LUDB).
    scale : {'small', 'full'}, optional
        Default ``'small'`` when the data are the bundled sample, else ``'full'``.
    n_seeds : int, default=1
    n_resamples : int, default=200
        Bootstrap resamples (patients) of the intervals.
    train_source : str, optional
        Huang: the one training source (default: the source with most records).
    held_out : list of list of str, optional
        Zhu: held-out source groups (default: every source, one at a time; on the
        sample, the demo's three groups).
    sources : list of str, optional
        Keep only the records of these sources (``meta['source']``), test-only ones
        included.
    systems : list of str, optional
        Run only these systems (names as in the report).
    report_only : bool, default=False
        Train nothing: write the report from the cells finished so far (e.g. while a
        run is still going, or after an interrupt); the grid lists the others as
        "not run".

    Returns
    -------
    Path of ``report.html``
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"n_seeds must be a positive integer, got {n_seeds!r}")
    import torch

    out = Path(out)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    t_start = time.perf_counter()
    is_sample = list(data) == ["sample"]
    sc = Scale.get(scale or ("small" if is_sample else "full"))
    vocab = VOCABULARY[protocol]
    log(f"skecg reproduce {protocol}: reading {list(data)} + test-only {list(test_only)} ...")
    X, y = load_sources(data, vocab)
    n_main = len(X)
    if test_only:
        from skecg import concat_records

        Xo, yo = load_sources(test_only, vocab)
        X, y = concat_records([X, Xo]), np.concatenate([y, yo])
    src = X.meta["source"].to_numpy().astype(str)
    test_only_sources = sorted(set(src[n_main:]) - set(src[:n_main]))
    if sources is not None:
        unknown = sorted(set(sources) - set(src))
        if unknown:
            raise ValueError(f"unknown source(s) {unknown}; the data have {sorted(set(src))}")
        keep = np.flatnonzero(np.isin(src, list(sources)))
        X, y, src = X.take(keep), y[keep], src[keep]
        test_only_sources = [s for s in test_only_sources if s in sources]
    trainable = [s for s in pd.unique(src) if s not in test_only_sources]
    classes_all = [str(c) for c in X.classes]
    config = {"protocol": protocol, "data": list(data), "test_only": list(test_only), "scale": sc.__dict__,
              "sources": sorted(sources) if sources else None, "held_out": held_out, "train_source": train_source,
              "n_seeds": n_seeds, "random_state": random_state, "n_records": n_main, "cell_format": 2}
    all_systems = huang_systems(sc, random_state) if protocol == "huang" else zhu_systems(sc, random_state)
    if systems:
        unknown = sorted(set(systems) - set(all_systems))
        if unknown:
            raise ValueError(f"unknown system(s) {unknown}; choose from {list(all_systems)}")
        all_systems = {k: v for k, v in all_systems.items() if k in systems}
    # the grid: cell = (system, training set) -> tested on named record sets
    cells = []
    if protocol == "huang":
        counts = pd.Series(src[np.isin(src, trainable)]).value_counts()
        tsrc = train_source or counts.index[0]
        if tsrc not in trainable:
            raise ValueError(f"train source {tsrc!r} not among the trainable sources {trainable}")
        tr = np.flatnonzero(src == tsrc)
        # subset III chooses by age: every subset draws from the records with a known age,
        # so the four subsets come from the same pool (the others are reported, not lost)
        age = pd.to_numeric(X.meta["age"], errors="coerce").to_numpy()
        no_age = tr[~np.isfinite(age[tr])]
        tr = tr[np.isfinite(age[tr])]
        config["train_pool"] = f"{tsrc} records with a known age ({len(no_age)} without one left out)"
        if len(no_age):
            log(f"{len(no_age)} record(s) of {tsrc} have no age and are left out of the training pool "
                f"(subset III needs ages): {', '.join(map(str, X.meta['record_id'].to_numpy()[no_age][:10]))}")
        tests = {s: np.flatnonzero(src == s) for s in pd.unique(src) if s != tsrc}
        for name in all_systems:
            cells.append((name, f"trained on {tsrc}", tr, tests))
    else:
        if held_out is None:
            if is_sample:
                held_out = [g for g in (["Georgia"], ["Chapman-Ningbo"], ["CPSC", "CPSC-Extra"])
                            if set(g) <= set(trainable)]
            else:
                held_out = [[s] for s in trainable]
        # held-out set by held-out set, every system on each: a run stopped early (or a
        # --report-only report) still has whole ablations on the first sets
        for g in held_out:
            te_mask = np.isin(src, g)
            tr = np.flatnonzero(~te_mask & np.isin(src, trainable))
            for name in all_systems:
                cells.append((name, f"held out {'+'.join(g)}", tr, {"+".join(g): np.flatnonzero(te_mask)}))
        if test_only_sources:
            tr = np.flatnonzero(np.isin(src, trainable))
            for name in all_systems:
                cells.append((name, f"trained on all of {'+'.join(trainable)}",
                              tr, {s: np.flatnonzero(src == s) for s in test_only_sources}))
    # test-only folders are appended after the others and leave every other cell as it was,
    # so adding --test-only to a finished run only runs the new cells
    cfg_hash = hashlib.sha1(json.dumps({k: v for k, v in config.items() if k != "test_only"},
                                       sort_keys=True).encode()).hexdigest()[:10]
    log(f"{len(X)} records, {len(cells)} cells, scale {sc.name!r}, {n_seeds} seed(s); cache {out / 'cells'}")
    results, grid_rows = [], []
    for i, (name, train_label, tr, tests) in enumerate(cells):
        key = out / "cells" / f"{cfg_hash}-{_slug(name)}-{_slug(train_label)}"
        cell = _load_cell(key)
        status = "cached"
        if cell is None and report_only:
            grid_rows.append({"system": name, "training": train_label, "train records": len(tr),
                              "tested on": ", ".join(tests), "seconds": 0.0, "status": "not run"})
            continue
        if cell is None:
            log(f"[{i + 1}/{len(cells)}] {name}, {train_label} ({len(tr)} records) ...")
            fitted, cell = _run_cell(all_systems[name], X, y, tr, tests, n_seeds, random_state, log)
            cell.update(system=name, train=train_label, train_sources=sorted(set(src[tr])))
            if protocol == "huang" and "attention" in name and name.endswith("subset I"):
                first_test = next(iter(tests))
                cell["attention_png"] = _attention_figure(fitted, X, y, tests[first_test], cell["classes"],
                                                          out / "figures" / f"attention_{_slug(name)}.png")
            _save_cell(key, cell)
            status = f"ran in {cell['seconds']:.0f} s"
            log(f"    done: {status}")
        else:
            log(f"[{i + 1}/{len(cells)}] {name}, {train_label}: cached")
        grid_rows.append({"system": name, "training": train_label, "train records": cell["n_train"],
                          "tested on": ", ".join(cell["tests"]), "seconds": round(cell["seconds"], 1),
                          "status": status})
        results.append(cell)
    if not results:
        raise ValueError(f"no finished cells in {out / 'cells'} for this configuration; run without report_only")
    seconds = time.perf_counter() - t_start
    info = {"config": config, "scale": sc, "seconds": seconds, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "is_sample": is_sample, "test_only_sources": test_only_sources}
    return write_report(protocol, X, y, classes_all, results, pd.DataFrame(grid_rows), out, info,
                        n_resamples=n_resamples, random_state=random_state)


# --- the report ---------------------------------------------------------------------------
def _folds(X, y, results, n_resamples, random_state):
    """``{test set name: {system: FoldResult}}`` from the cells."""
    from .experiments import fold_result

    pid = X.meta["patient_id"].to_numpy() if "patient_id" in X.meta else None
    rid = X.meta["record_id"].to_numpy()
    folds: dict = {}
    for cell in results:
        for tname, t in cell["tests"].items():
            idx = t["index"]
            groups = None if pid is None else np.asarray(
                [str(v) if v == v else f"_record{i}" for i, v in zip(idx, pid[idx])], dtype=object)
            label = tname if cell["train"].startswith("held out") else f"{tname} ({cell['train']})"
            y_train = y[np.asarray(cell["train_index"], dtype=int)]  # for the majority reference
            fr = fold_result(y[idx], t["preds"], t["probas"], cell["classes"], test_sources=[tname],
                             n_train=cell["n_train"], groups=groups, record_ids=rid[idx], y_train=y_train,
                             seconds=cell["seconds"], n_resamples=n_resamples, random_state=random_state)
            fr.histories = cell.get("histories", [])
            folds.setdefault(label, {})[cell["system"]] = fr
    return folds


def _fig_png(fig, path: Path):
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return path.name


def _figures(protocol, folds, out: Path):
    """PR curves, confusion counts (one system per protocol), learning curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skecg.plots import plot_confusion_counts, plot_learning_curves, plot_pr_curves

    figs = []
    focus = "+ fallback" if protocol == "zhu" else "attention ResNet-1d, subset I"
    for test, systems in list(folds.items())[:3]:
        name = focus if focus in systems else next(iter(systems))
        r = systems[name]
        fig = plot_pr_curves(r.y_true, r.probas[0], r.classes)
        fig.axes[0].set_title(f"{name}: precision-recall on {test}", fontsize=9)
        figs.append((f"Precision-recall curves: {name}, {test}",
                     _fig_png(fig, out / "figures" / f"pr_{_slug(name)}_{_slug(test)}.png")))
        fig = plot_confusion_counts(r.y_true, r.preds[0], r.classes)
        fig.axes[0].set_title(f"{name}: confusion counts on {test}", fontsize=9)
        figs.append((f"Confusion counts: {name}, {test}",
                     _fig_png(fig, out / "figures" / f"confusion_{_slug(name)}_{_slug(test)}.png")))
    test0, systems = next(iter(folds.items()))
    fig, ax = plt.subplots(figsize=(7, 4))
    n = 0
    for name, r in systems.items():
        h = getattr(r, "histories", [])
        if h and h[0]:
            plot_learning_curves(h[0], ax=ax, label=name)
            n += 1
    if n:
        ax.set_title(f"learning curves (training run of the cell tested on {test0}, seed 1)", fontsize=9)
        ax.legend(fontsize=6)
        figs.append(("Learning curves", _fig_png(fig, out / "figures" / "learning_curves.png")))
    else:
        plt.close(fig)
    return figs


def _fmt(v, digits=3):
    if isinstance(v, (float, np.floating)):
        return "" if np.isnan(v) else f"{v:.{digits}f}"
    return str(v)


def _summary_table(systems: dict) -> pd.DataFrame:
    rows = {}
    for name, r in systems.items():
        rows[name] = {"challenge (95% CI by patient)": str(r.challenge),
                      "mean ± sd over seeds": str(r.challenge_seeds()),
                      "macro F1 (95% CI)": str(r.f1_macro),
                      "vs all sinus rhythm": r.vs_sinus_rhythm.verdict}
    r0 = next(iter(systems.values()))
    for ref in r0.references.index:
        rows[ref] = {"challenge (95% CI by patient)": f"{r0.references.loc[ref, 'challenge']:.3f}",
                     "mean ± sd over seeds": "", "macro F1 (95% CI)": f"{r0.references.loc[ref, 'macro_f1']:.3f}",
                     "vs all sinus rhythm": ""}
    return pd.DataFrame.from_dict(rows, orient="index")


def _perclass_f1_table(systems: dict) -> pd.DataFrame:
    rows = {}
    r0 = next(iter(systems.values()))
    present = [c for c in r0.table.columns if c == "macro" or r0.table.loc["support", c] > 0]
    for name, r in systems.items():
        rows[name] = {c: float(r.table.loc["f1", c]) for c in present}
    for ref in r0.references.index:
        rows[ref] = {c: r0.references.loc[ref, "macro_f1" if c == "macro" else c] for c in present}
    df = pd.DataFrame.from_dict(rows, orient="index").astype(object)
    df.loc["support"] = [int(r0.table.loc["support", c]) for c in present]
    return df


def _pairs_table(protocol, systems: dict, n_resamples, random_state) -> pd.DataFrame:
    from .experiments import compare_folds

    rows = []
    for a, b in _pairs(protocol, list(systems)):
        if a in systems and b in systems:
            d = compare_folds(systems[a], systems[b], names=(a, b), n_resamples=n_resamples,
                              random_state=random_state)
            rows.append({"A": a, "B": b, "A - B (challenge)": f"{d.estimate:+.3f}",
                         "95% CI (by patient)": f"[{d.low:+.3f}, {d.high:+.3f}]", "verdict": d.verdict})
    return pd.DataFrame(rows)


def _md_table(df: pd.DataFrame, index=True) -> str:
    d = df.copy()
    cols = ([""] if index else []) + [str(c) for c in d.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for i, row in d.iterrows():
        cells = ([str(i)] if index else []) + [_fmt(v) for v in row.tolist()]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def _html_table(df: pd.DataFrame, index=True) -> str:
    d = df.copy()
    for c in d.columns:
        d[c] = [_fmt(v) for v in d[c]]
    h = d.to_html(index=index, escape=True, border=0, classes="t")
    return h.replace("<td>not significant</td>", '<td class="ns">not significant</td>')


class _Doc:
    """Builds the HTML report and its Markdown twin side by side."""

    def __init__(self, out: Path):
        self.out = out
        self.md, self.html = [], []

    def h(self, level, text):
        self.md.append(f"\n{'#' * level} {text}\n")
        self.html.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def p(self, text):
        self.md.append(text + "\n")
        self.html.append(f"<p>{html.escape(text)}</p>")

    def pre(self, text, summary=None):
        self.md.append((f"*{summary}*\n\n" if summary else "") + "```\n" + text + "\n```\n")
        block = f"<pre>{html.escape(text)}</pre>"
        if summary:  # long: folded in the HTML page
            block = f"<details><summary>{html.escape(summary)}</summary>{block}</details>"
        self.html.append(block)

    def table(self, df, index=True, caption=None):
        if caption:
            self.md.append(f"*{caption}*\n")
            self.html.append(f"<p class='cap'>{html.escape(caption)}</p>")
        self.md.append(_md_table(df, index) + "\n")
        self.html.append(_html_table(df, index))

    def figure(self, caption, name):
        self.md.append(f"![{caption}](figures/{name})\n")
        data = base64.b64encode((self.out / "figures" / name).read_bytes()).decode()
        self.html.append(f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(caption)}'>"
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    def write(self, title):
        css = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;font-size:14px;color:#222}"
               "table.t{border-collapse:collapse;margin:.5em 0 1.2em;font-size:12px}"
               "table.t td,table.t th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
               "table.t th{background:#f3f3f3}.ns{color:#666;font-style:italic}"
               ".banner{background:#fff4d6;border:1px solid #e0b000;padding:.6em}"
               "img{max-width:100%}pre{background:#f7f7f7;padding:.5em;font-size:11px;white-space:pre-wrap}"
               ".cap{font-weight:bold;margin-bottom:0}")
        body = "\n".join(self.html)
        (self.out / "report.html").write_text(
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{css}</style></head><body>{body}</body></html>")
        (self.out / "report.md").write_text("\n".join(self.md))
        return self.out / "report.html"


def write_report(protocol, X, y, classes, results, grid: pd.DataFrame, out: Path, info: dict, *,
                 n_resamples=200, random_state=0):
    """Write ``report.html`` and ``report.md`` from the cells' predictions."""
    from skecg import __version__ as skecg_version
    from skecg.labels import abbreviation

    folds = _folds(X, y, results, n_resamples, random_state)
    sc = info["scale"]
    doc = _Doc(out)
    title = {"huang": "Huang et al.: training subsets x attention, trained on one source, tested on the others",
             "zhu": "Zhu et al.: the ablation under leave-one-source-out, scored by the challenge metric"}[protocol]
    doc.h(1, f"skecg reproduce {protocol}: {title}")
    doc.p(f"Paper: {CITATION[protocol]}")
    small = sc.name != "full"
    if small:
        doc.html.append("<p class='banner'><b>SMALL SCALE.</b> ")
        doc.md.append("> **SMALL SCALE.** ")
    msg = (f"Sizes: {sc.fs:g} Hz, {sc.seconds:g} s inputs"
           + (f" (and {sc.long_seconds:g} s for the second ensemble member)" if protocol == "zhu" else "")
           + (f", SE-ResNet widths {tuple(sc.se_filters)}" if protocol == "zhu" and sc.se_filters else "")
           + f", narrow networks, up to {sc.epochs} epochs, {info['config']['n_seeds']} seed(s), "
           f"{n_resamples} bootstrap resamples of patients.")
    if small:
        msg += (" This run trains on a few hundred open records: its numbers show the protocol working end to "
                "end and are not the papers' numbers, which came from tens of thousands of records at full "
                "resolution.")
        doc.html[-1] += html.escape(msg) + "</p>"
        doc.md[-1] += msg + "\n"
    else:
        doc.p(msg)
    n_missing = int((grid["status"] == "not run").sum())
    if n_missing:
        doc.html.append(f"<p class='banner'><b>PARTIAL.</b> {n_missing} of {len(grid)} cells of the grid have "
                        "not run yet; their rows are missing below.</p>")
        doc.md.append(f"> **PARTIAL.** {n_missing} of {len(grid)} cells of the grid have not run yet; their rows "
                      "are missing below.\n")
    # data
    doc.h(2, "Data used")
    src = X.meta["source"].to_numpy().astype(str)
    counts = pd.DataFrame(y, columns=[abbreviation(c) for c in classes])
    counts.insert(0, "records", 1)
    counts["source"] = src
    tab = counts.groupby("source").sum()
    tab = tab.loc[:, (tab.sum(0) > 0)].astype(int)
    doc.p(f"Data: {', '.join(info['config']['data'])}"
          + (f"; test-only: {', '.join(info['config']['test_only'])} (sources {', '.join(info['test_only_sources'])}"
             ", never trained on)" if info["test_only_sources"] else "")
          + f". {len(X)} records; vocabulary {VOCABULARY[protocol]!r} ({len(classes)} classes)."
          + (f" Training pool: {info['config']['train_pool']}." if info["config"].get("train_pool") else ""))
    doc.table(tab, caption="Records per source and class")
    doc.pre(str(X.label_report()), summary="Label report: codes outside the vocabulary, kept and counted")
    skipped = getattr(X, "skipped", None)
    if skipped is not None and len(skipped):
        doc.p(f"{len(skipped)} record(s) could not be read and were skipped; see the label report above "
              "and the reader's warning for each reason.")
    # grid
    doc.h(2, "The grid run")
    doc.table(grid, index=False)
    # results
    doc.h(2, "Results")
    doc.p("Scores are on the held-out records only.  Intervals are 95 % percentile bootstrap intervals that "
          "resample patients.  Reference rows (all sinus rhythm = the challenge's inactive + normal "
          "classifier; prevalence-matched random, mean of 100 draws; per-class majority) are scored by the "
          "same functions on the same records.  A paired difference whose interval covers zero is marked "
          "'not significant'.  Macro F1 averages over every class of the vocabulary; a class without "
          "positives among the tested records counts 0, as in skecg.metrics.per_class_scores.")
    if protocol == "huang":
        doc.p("In the six-class vocabulary a classifier cannot output sinus rhythm, so 'all sinus rhythm' "
              "predicts no class; the challenge metric then scores it below 0, exactly as it scores any "
              "system that predicts no class for a record.")
    for test, systems in folds.items():
        doc.h(3, f"Tested on {test} ({next(iter(systems.values())).n_test} records)")
        doc.table(_summary_table(systems), caption="Challenge score and macro F1")
        doc.table(_perclass_f1_table(systems), caption="Per-class F1 (classes present), with reference rows")
        pt = _pairs_table(protocol, systems, n_resamples, random_state)
        if len(pt):
            doc.table(pt, index=False, caption="Paired differences on the same records")
        if protocol == "huang":
            for name, r in systems.items():
                t = r.table[[c for c in r.table.columns if c == "macro" or r.table.loc["support", c] > 0]]
                doc.table(t, caption=f"{name}: precision, recall, specificity, F1 (as Tables 5-7)")
    # figures
    doc.h(2, "Figures")
    for caption, name in _figures(protocol, folds, out):
        doc.figure(caption, name)
    for cell in results:
        if cell.get("attention_png"):
            doc.figure(f"Attention over a 12-lead plot: {cell['system']}, a held-out record", cell["attention_png"])
    # published numbers
    doc.h(2, "Published numbers beside these")
    pub = pd.DataFrame(PUBLISHED[protocol], columns=["what the paper reports", "value"])
    doc.table(pub, index=False)
    doc.p("Where the data do not match, the numbers are not comparable: "
          + ("the paper's scores are on the challenge's hidden validation and test sets (full system, "
             "trained on the challenge's public training data, about 43,000 records), ours on held-out "
             "public sources"
             if protocol == "zhu" else
             "the paper trained on large data sets (CODE among them) and tested on full public sources, ours "
             "trains on one source of the data given")
          + (", with far fewer records and smaller networks (small scale)." if small else "."))
    # runtime
    doc.h(2, "Runtime and hardware")
    hw = pd.DataFrame([
        ("total wall time of this run", f"{info['seconds']:.0f} s (cached cells count 0)"),
        ("training time of all cells", f"{grid['seconds'].sum():.0f} s"),
        ("CPU", f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores"),
        ("load average at the end (1, 5, 15 min)", ", ".join(f"{v:.1f}" for v in os.getloadavg())
         + " (other work on the machine slows the cells down)"),
        ("torch", f"{info['torch']}, {info['threads']} threads"),
        ("python", sys.version.split()[0]), ("skecg", skecg_version),
        ("platform", platform.platform()),
    ], columns=["", "value"])
    doc.table(hw, index=False)
    (out / "config.json").write_text(json.dumps(info["config"], indent=1, default=str))
    return doc.write(f"skecg reproduce {protocol}")


# --- command line -----------------------------------------------------------------------
def add_parser(sub):
    """Add ``reproduce`` to the ``skecg`` command line's subparsers."""
    r = sub.add_parser("reproduce", help="run a paper's protocol and write an HTML + Markdown report")
    r.add_argument("protocol", choices=PROTOCOLS)
    r.add_argument("data", nargs="+", help="data folders, or 'sample'")
    r.add_argument("-o", "--output", default="skecg_report", help="report folder (cells cached inside)")
    r.add_argument("--test-only", action="append", default=[], help="a folder only tested on (e.g. LUDB)")
    r.add_argument("--scale", choices=["small", "full"], help="default: small on 'sample', else full")
    r.add_argument("--n-seeds", type=int, default=1)
    r.add_argument("--resamples", type=int, default=200)
    r.add_argument("--train-source", help="huang: the training source (default: the largest)")
    r.add_argument("--system", action="append", help="run only this system (repeatable)")
    r.add_argument("--source", action="append", help="use only the records of this source (repeatable)")
    r.add_argument("--report-only", action="store_true",
                   help="train nothing: write the report from the cells finished so far")
    r.set_defaults(func=_cmd_reproduce)
    return r


def _cmd_reproduce(args):
    import matplotlib

    matplotlib.use("Agg")
    path = run(args.protocol, args.data, args.output, test_only=args.test_only, scale=args.scale,
               n_seeds=args.n_seeds, n_resamples=args.resamples, train_source=args.train_source,
               systems=args.system, sources=args.source, report_only=args.report_only,
               log=lambda m: print(m, flush=True))
    print(f"report written to {path} (and {path.with_suffix('.md')})")
    return 0

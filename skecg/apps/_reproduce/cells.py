"""Stage 3, *cells*: fit and predict each cell of the grid, or read it back from the
cache ``OUT/cells/``.

A cell is a dict: ``classes``, ``histories`` (one per seed), ``seconds``, ``n_train``,
``train_index``, ``tests`` (test set name -> ``index``, ``preds`` and ``probas`` per
seed), what the fitted system tells beyond its predictions (``thresholds``,
``relabelled``, ``subset_index``) and, once run, ``system``, ``train`` and
``train_sources``.  It is saved as soon as it is finished (the arrays in ``.npz``, the
rest in ``.json``, which marks it finished), so an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from skecg import io  # a lazy face: its modules load on first use
from skecg.labels import equivalence_map
from skecg import metrics  # a lazy face: its modules load on first use
import skecg  # the root face imports skecg.<module> on first use, not at `skecg --help`

from .._common import fitted_networks, fitted_parts
from ..experiments import estimator_codes
from .data import Data
from .figures import attention_figure
from .protocols import DERIVED, SEGMENT_RULE, Scale, slug


# --- the cache ----------------------------------------------------------------------------
def cache_prefix(config: dict) -> str:
    """The file-name prefix of a configuration's cells: a hash of everything but the
    test-only folders (adding ``--test-only`` to a finished run only runs the new
    cells, appended after the others)."""
    return hashlib.sha1(json.dumps({k: v for k, v in config.items() if k != "test_only"},
                                   sort_keys=True, default=str).encode()).hexdigest()[:10]


def save_cell(path: Path, cell: dict):
    """Write ``cell`` to ``path``.npz and ``path``.json (written last: it marks the cell finished)."""
    arrays = {}
    meta = {k: v for k, v in cell.items() if k not in ("tests",)}
    meta["tests"] = []
    for name, t in cell["tests"].items():
        key = slug(name)
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


def load_cell(path: Path):
    """The finished cell saved at ``path``, or None."""
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


# --- fitting a system ---------------------------------------------------------------------
def _history(est):
    """The epochs (epoch, train and validation loss) of the network that predicts."""
    nets = fitted_networks(est)
    if not nets or not hasattr(nets[0], "history_"):
        return []
    return [{k: float(v) for k, v in row.items() if k in ("epoch", "train_loss", "valid_loss")
             and isinstance(v, (int, float))} for row in nets[0].history_]


def _extras(fitted, train_idx) -> dict:
    """What a fitted system tells beyond its predictions: the network's thresholds, the
    labels relabelling added, the records the training-subset sampler chose."""
    from skecg.ensemble import PseudoLabelRelabeler  # scipy.signal: kept out of `skecg --help`

    out = {}
    nets = fitted_networks(fitted)
    if nets and hasattr(nets[0], "thresholds_"):
        out["thresholds"] = [float(t) for t in nets[0].thresholds_]
    rel = fitted_parts(fitted, PseudoLabelRelabeler, "added_")
    if rel:
        out["relabelled"] = {str(k): int(v) for k, v in rel[0].added_.items()}
    sub = fitted_parts(fitted, skecg.sampling.TrainingSubsetSampler, "sample_indices_")
    if sub:
        out["subset_index"] = [int(train_idx[i]) for i in sub[0].sample_indices_]
    return out


def run_cell(est, X, y, train_idx, tests: dict, n_seeds, random_state, log):
    """Fit ``est`` on the records ``train_idx`` once per seed and predict each test set:
    ``(the first seed's fitted estimator, cell)``."""
    t0 = time.perf_counter()
    out = {name: {"index": idx, "preds": [], "probas": []} for name, idx in tests.items()}
    histories, first, classes, extras = [], None, None, {}
    Xtr = X.take(train_idx)
    for s in range(n_seeds):
        fitted = metrics.with_seed(est, int(random_state) + s).fit(Xtr, y[train_idx])
        if first is None:
            first = fitted
            classes = estimator_codes(fitted, X.classes, y.shape[1])
            extras = _extras(fitted, train_idx)
        histories.append(_history(fitted))
        for name, idx in tests.items():
            proba, pred = metrics.predict_with_proba(fitted, X.take(idx))
            out[name]["probas"].append(proba.astype(np.float32))
            out[name]["preds"].append(np.asarray(pred).astype(np.int8))
    cell = {"classes": classes, "histories": histories, "seconds": time.perf_counter() - t0,
            "n_train": int(len(train_idx)), "train_index": [int(i) for i in train_idx], "tests": out}
    cell.update(extras)
    return first, cell


# --- systems computed from others, and the segment rule -----------------------------------
def derived_ensemble_cell(c4, c5, X, tests, gated_class="426627000", normal_class="426783006"):
    """Model 6 from the cells of Models 4 and 5: the mean of their probabilities at the
    mean of their thresholds (LengthEnsemble), the bradycardia rule's veto on the
    gated class (BradycardiaRuleGate, mode='veto') and the sinus-rhythm fallback."""
    from skecg.ensemble import BradycardiaRuleGate  # scipy.signal: kept out of `skecg --help`

    classes = c4["classes"]
    if classes != c5["classes"]:
        raise ValueError("Models 4 and 5 were fitted with different classes")
    k = len(classes)
    thr = 0.5 * (np.asarray(c4.get("thresholds", [0.5] * k)) + np.asarray(c5.get("thresholds", [0.5] * k)))
    j = classes.index(gated_class) if gated_class in classes else None
    n = classes.index(normal_class) if normal_class in classes else None
    out = {}
    for name, idx in tests.items():
        idx = np.asarray(idx)
        t4, t5 = c4["tests"][name], c5["tests"][name]
        rule = np.full(len(idx), -1, np.int8)  # the rule's verdict, computed where needed (-1: not yet)
        preds, probas = [], []
        for p4, p5 in zip(t4["probas"], t5["probas"]):
            proba = 0.5 * (np.asarray(p4, float) + np.asarray(p5, float))
            pred = (proba >= thr).astype(np.int8)
            if j is not None:
                said = np.flatnonzero(pred[:, j] == 1)  # veto: the rule matters where the model says yes
                todo = said[rule[said] < 0]
                if len(todo):
                    rule[todo] = BradycardiaRuleGate(None, gated_class=gated_class).rule(X.take(idx[todo]))
                pred[said, j] = rule[said]
            if n is not None:
                pred[~pred.any(axis=1), n] = 1
            preds.append(pred)
            probas.append(proba.astype(np.float32))
        out[name] = {"index": idx, "preds": preds, "probas": probas}
    return {"classes": classes, "histories": [], "seconds": 0.0, "n_train": c4["n_train"],
            "train_index": c4["train_index"], "tests": out, "thresholds": [float(t) for t in thr],
            "derived_from": ["Model 4", "Model 5"]}


def train_segmenter(waves_folder, scale: Scale, random_state, log):
    """A QRS segmenter (1D U-Net, lead II, 500 Hz) trained on LUDB's annotations."""
    from skecg.preprocessing import LeadSelector  # scipy.signal: kept out of `skecg --help`
    from skecg.labels import waves_to_masks
    from skecg.models import WaveSegmenter  # torch: kept out of `skecg --help`

    Xl, _, waves = io.read_ludb(waves_folder, annotation_leads=["ii"])
    X2 = LeadSelector(["II"]).fit_transform(Xl)
    masks = waves_to_masks(waves, X2, X2.shape[-1], lead="II")
    log(f"Model 8: training the U-Net on the QRS annotations of {len(X2)} LUDB records (lead II) ...")
    seg = WaveSegmenter(random_state=random_state, max_epochs=scale.segmenter_epochs,
                        **({} if scale.paper else {"module__filters": (8, 16, 32)}))
    return seg.fit(X2, masks)


def segment_rule_cell(seg, X, tests, classes):
    """Model 8: a record is PVC-positive when the U-Net finds a QRS segment of 120 ms or
    more on lead II (a wide complex); only the PVC column is predicted."""
    from skecg.ensemble import SegmentRuleClassifier  # scipy.signal: kept out of `skecg --help`
    from skecg.preprocessing import LeadSelector, PadTruncate, Resampler

    eq = equivalence_map(classes)
    pvc = eq.get("427172004", "427172004")
    if pvc not in classes:
        raise ValueError("Model 8 predicts PVC, which is not among the classes")
    t0 = time.perf_counter()
    rule = SegmentRuleClassifier(FrozenEstimator(seg), segment_class="QRS", min_length=0.12, classes=[pvc])
    pipe = Pipeline([("lead", LeadSelector(["II"])), ("resample", Resampler(500)),
                     ("pad", PadTruncate(length=5000)), ("rule", rule)])
    out = {}
    for name, idx in tests.items():
        Xt = X.take(idx)
        pipe.fit(Xt[:1], np.zeros((1, 1), int))
        proba = pipe.predict_proba(Xt).astype(np.float32)
        out[name] = {"index": np.asarray(idx), "preds": [(proba > 0).astype(np.int8)], "probas": [proba]}
    return {"classes": [pvc], "histories": [], "seconds": time.perf_counter() - t0, "n_train": 0,
            "train_index": [], "tests": out}


# --- the stage ------------------------------------------------------------------------------
@dataclass
class CellRunner:
    """Runs the cells of a grid in order: each is read back from the cache, computed
    from cells already run (Model 6), or fitted, then saved.

    Attributes
    ----------
    data : Data
    systems : dict
        ``{name: estimator or (DERIVED, ...) or (SEGMENT_RULE, waves)}``.
    out : Path
        The report folder (cells in ``out/cells``, figures in ``out/figures``).
    prefix : str
        :func:`cache_prefix` of the run's configuration.
    """

    data: Data
    systems: dict
    out: Path
    prefix: str
    protocol: str
    scale: Scale
    n_seeds: int = 1
    random_state: int = 0
    report_only: bool = False
    log: Callable = print
    _segmenter: object = field(default=None, init=False, repr=False)  # Model 8's U-Net, trained once

    def run(self, grid) -> tuple:
        """``(finished cells, one row per cell of the grid)``: the cells that ran or were
        cached, and for every cell its status (``cached``, ``ran in N s``, ``not run: ...``)."""
        results, rows, done = [], [], {}
        for i, (name, training, tr, tests) in enumerate(grid):
            spec = self.systems[name]
            path = self.out / "cells" / f"{self.prefix}-{slug(name)}-{slug(training)}"
            row = {"system": name, "training": training, "train records": len(tr),
                   "tested on": ", ".join(tests), "seconds": 0.0}
            cell = load_cell(path)
            status = "cached"
            if cell is None and isinstance(spec, tuple) and spec[0] == SEGMENT_RULE and spec[1] is None:
                rows.append({**row, "status": "not run: needs wave annotations (--waves LUDB_FOLDER)"})
                continue
            if cell is None and self.report_only:
                rows.append({**row, "status": "not run"})
                continue
            if cell is None:
                self.log(f"[{i + 1}/{len(grid)}] {name}, {training} ({len(tr)} records) ...")
                cell, status = self._compute(name, spec, training, tr, tests, done)
                if cell is None:
                    rows.append({**row, "status": status})
                    continue
                cell.update(system=name, train=training, train_sources=sorted(set(self.data.source[tr])))
                save_cell(path, cell)
                self.log(f"    done: {status}")
            else:
                self.log(f"[{i + 1}/{len(grid)}] {name}, {training}: cached")
            done[(name, training)] = cell
            rows.append({**row, "train records": cell["n_train"], "seconds": round(cell["seconds"], 1),
                         "status": status})
            results.append(cell)
        return results, rows

    def _compute(self, name, spec, training, tr, tests, done) -> tuple:
        """``(cell, status)`` of a cell that is not in the cache; ``(None, why)`` when it
        cannot run (Model 6 before Models 4 and 5)."""
        X, y = self.data.X, self.data.y
        if isinstance(spec, tuple) and spec[0] == DERIVED:
            c4, c5 = done.get((spec[1], training)), done.get((spec[2], training))
            if c4 is None or c5 is None:
                return None, "not run: Models 4 and 5 have not run"
            return derived_ensemble_cell(c4, c5, X, tests), "computed from Models 4 and 5 (no training)"
        if isinstance(spec, tuple) and spec[0] == SEGMENT_RULE:
            if self._segmenter is None:
                self._segmenter = train_segmenter(spec[1], self.scale, self.random_state, self.log)
            cell = segment_rule_cell(self._segmenter, X, tests, self.data.classes)
            return cell, f"ran in {cell['seconds']:.0f} s (U-Net trained once, on LUDB)"
        fitted, cell = run_cell(spec, X, y, tr, tests, self.n_seeds, self.random_state, self.log)
        if self.protocol == "huang" and "attention" in name and name.endswith("subset I"):
            first_test = next(iter(tests))
            cell["attention_png"] = attention_figure(fitted, X, y, tests[first_test], cell["classes"],
                                                     self.out / "figures" / f"attention_{slug(name)}")
        return cell, f"ran in {cell['seconds']:.0f} s"

"""The papers' protocols as one command each, written up table by table.

    skecg reproduce huang DATA [DATA ...] -o report/ [--test-only TNMG_TEST_FOLDER]
    skecg reproduce zhu   DATA [DATA ...] -o report/ [--waves LUDB_FOLDER]
    skecg reproduce huang|zhu --scale paper --show-config

- **huang** (Huang et al.): trained on one source (the TNMG-like one), tested on every
  other one, six TNMG classes.  Table 5: Ribeiro's ResNet-1d on training subsets I-IV,
  one block per test set (a TNMG/CODE test set in Ribeiro's layout, CPSC, SNH, ...);
  Table 6: the attention ResNet-1d on subsets I-IV; Table 7: the best attention model
  against a ResNet-1d trained on all the training data (in place of Ribeiro's
  full-data DNN); Tables 3-4: the records of each subset and test set by class, age
  group and sex.
- **zhu** (Zhu et al.): Table 3's Models 1-6 in the paper's order (1: SE-ResNet, 12
  leads, 30 s, no denoising; 2: + wavelet denoising, CPSC relabelling, the bradycardia
  rule; 3: + Sign Loss and the sinus-rhythm fallback; 4 and 5: 8 leads at 15,000 and
  5,000 samples; 6: the ensemble of 4 and 5), Table 4's Model 7 (CatBoost) and Model 8
  (the U-Net rule, with ``--waves``), under the paper's 80/20 random split and under
  leave-one-source-out, scored by the challenge metric, 24 scored classes.

Each paper's data rules (:mod:`skecg.rules`: Huang's CPSC and SNH filters, Zhu's
INCART and unscored-record exclusions) are applied to the data when they are read and
reported (``--no-rule NAME`` switches one off).  Each (system, training set) cell is
cached in ``OUT/cells/`` as soon as it finishes, so an interrupted run resumes.  The
report (``report.html``, self-contained, and ``report.md``) puts the papers' published
numbers beside skecg's ("not available offline" where a table could not be read
here), every table also as CSV in ``tables/``, every figure as 300 dpi PNG and SVG in
``figures/``.

``DATA`` is ``sample`` (the bundled sample: a small-scale run, labelled as such), any
folder ``skecg evaluate`` reads (a TNMG/CODE test set in Ribeiro's layout included), or
an LUDB folder; ``--test-only`` folders are never trained on.  ``--scale paper`` trains
the papers' presets (:mod:`skecg.presets`) at the papers' sizes.
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

# OpenMP threads that spin while they wait cost many times the CPU of passive ones on a
# loaded machine (skecg.apps.demo measured 12x per training batch).  Set before torch
# loads its OpenMP runtime (``skecg reproduce`` imports this module first); an explicit
# OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PROTOCOLS = ("huang", "zhu")
VOCABULARY = {"huang": "tnmg", "zhu": "cinc2020"}
#: Each paper's data rules (skecg.rules), on unless switched off.
RULES_OF = {"huang": ("huang-cpsc", "huang-snh"), "zhu": ("zhu-incart", "zhu-unscored")}
#: The presets each protocol trains at the paper's size.
PRESETS_OF = {"huang": ("huang-paper", "huang-attention-paper"), "zhu": ("zhu-paper",)}
OFFLINE = "not available offline"

# --- published numbers ------------------------------------------------------------------
#: What the papers report.  Only numbers read in a source are quoted, with where they were
#: read; every table whose text could not be read here says "not available offline".
PUBLISHED = {
    "zhu": [
        ("full system (Model 6 with the rule and the fallback), challenge validation score "
         "(hidden validation set of the 2020 challenge)", "0.682",
         "abstract, Physiol Meas 42 (2021) 065008 (PubMed 34098532; arXiv 2101.03895)"),
        ("full system, full test score (hidden test set; 3rd of 40 teams)", "0.514", "same abstract"),
        ("Table 2 (data sets), Table 3 (Models 1-6), Table 4 (Models 7-8): offline / Hefei scores per model",
         OFFLINE, "the paper's tables could not be read here"),
    ],
    "huang": [
        ("headline: a balanced subset of about 1 % of a large data set generalises as well as the whole, and "
         "attention improves cross-data-set generalisation", "qualitative, no number",
         "abstract, PMC11285255"),
        ("SNH after the rule keeping normal records and the six TNMG classes", "45,152 -> 34,033 records",
         "quoted by this project's issue 25 from the paper; not re-read here"),
        ("Tables 3-4 (data statistics), Table 5 (ResNet-1d, subsets I-IV), Table 6 (attention), Table 7 "
         "(best attention model vs Ribeiro's full-data DNN): per-class precision, recall, specificity, F1",
         OFFLINE, "the paper's tables could not be read here"),
    ],
}
#: The published number beside each system's row (their data differ from ours).
PUBLISHED_ROW = {
    "zhu": {"Model 6": "0.682 (challenge validation set), 0.514 (hidden test set): published, their data"},
}
CITATION = {
    "zhu": "Zhu Z, Lan X, Zhao T, et al. Identification of 27 abnormalities from multi-lead ECG signals: an "
           "ensembled SE_ResNet framework with Sign Loss function. Physiol Meas 42 (2021) 065008.",
    "huang": "Huang et al. Generalization challenges in electrocardiogram deep learning: insights from dataset "
             "characteristics and attention mechanism (PMC11285255).",
}


@dataclass
class Scale:
    """Sizes of one run.  ``small`` fits the bundled sample on 2 CPU cores in minutes;
    ``paper`` trains the papers' presets (:mod:`skecg.presets`) at the papers' sizes."""

    name: str
    fs: float
    seconds: float
    long_seconds: float
    epochs: int
    n_per_class: int
    catboost_iterations: int
    se_filters: tuple | None = None  # None: make_named_pipeline's SE-ResNet widths
    segmenter_epochs: int = 8

    @property
    def paper(self) -> bool:
        return self.name == "paper"

    @classmethod
    def get(cls, name):
        if isinstance(name, cls):
            return name
        if name == "small":
            return cls("small", 100, 10, 30, 3, 20, 150, (16, 32, 32, 64), 8)
        if name in ("paper", "full"):  # 'full' was the old name; it now means the papers' presets
            return cls("paper", 500, 10, 30, 19, 3000, 500, None, 60)
        raise ValueError(f"scale must be 'small' or 'paper', got {name!r}")


# --- data -------------------------------------------------------------------------------
def _is_ludb(path: Path) -> bool:
    return path.is_dir() and any(path.glob("*.v6")) and any(path.glob("*.hea"))


def load_sources(paths, vocabulary, on_error="skip"):
    """Read and concatenate data folders (``sample``, any format ``skecg evaluate``
    reads, a TNMG test set in Ribeiro's layout, or LUDB).  Returns ``(X, y)``."""
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
HUANG_SUBSETS = ("I", "II", "III", "IV")
ALL_DATA = "ResNet-1d, all training data"
DERIVED = "derived"  # a system computed from two trained ones (Model 6)
SEGMENT_RULE = "segment rule"  # Model 8: learns from wave annotations, not from the labels


def huang_systems(scale: Scale, random_state=0):
    """``{name: estimator}``: subsets I-IV x {ResNet-1d, attention ResNet-1d} (Tables 5-6),
    and a ResNet-1d on all the training data (Table 7)."""
    from skecg.presets import get_preset

    from .experiments import make_named_pipeline

    out = {}
    for net, label in (("huang", "ResNet-1d"), ("huang-attention", "attention ResNet-1d")):
        for subset in HUANG_SUBSETS:
            if scale.paper:
                pipe = get_preset(f"{net}-paper").make_estimator(net__random_state=random_state,
                                                                subset__random_state=random_state)
            else:
                pipe = make_named_pipeline(net, fs=scale.fs, seconds=scale.seconds, max_epochs=scale.epochs,
                                           n_per_class=scale.n_per_class, random_state=random_state)
            pipe.set_params(subset__strategy=subset)
            out[f"{label}, subset {subset}"] = pipe
    full = out["ResNet-1d, subset I"]
    from sklearn.base import clone

    out[ALL_DATA] = clone(full).set_params(subset="passthrough")
    return out


def _zhu_net_params(scale: Scale, n_samples: int) -> dict:
    """Network-level parameters (``prep__*``, ``net__*``) of one SE-ResNet at this scale."""
    from skecg.presets import get_preset

    if scale.paper:
        prefix = "estimator__estimator__estimators__long__estimator__"
        d = {k[len(prefix):]: v for k, v in get_preset("zhu-paper").to_dict().items() if k.startswith(prefix)}
        d.pop("prep__leads__leads", None)
        d["prep__pad__length"] = int(n_samples)
        return d
    return {"prep__resample__fs_out": scale.fs, "prep__pad__length": int(n_samples),
            "net__module__filters": tuple(scale.se_filters or (32, 64, 64, 128)), "net__module__kernel_size": 9,
            "net__max_epochs": scale.epochs, "net__batch_size": 32, "net__tune_thresholds": True}


def zhu_systems(scale: Scale, random_state=0, waves=None):
    """``{name: estimator}``: Zhu et al.'s Table 3 Models 1-6 and Table 4 Models 7-8, in order.

    Model 6 is ``DERIVED``: the ensemble of the trained Models 4 and 5 (exactly what
    training the ensemble gives, as each member is trained as Model 4 or 5 is); Model
    8 is built only when wave annotations (``waves``, an LUDB folder) are given."""
    from skecg.baselines import make_catboost_baseline
    from skecg.presets import networks, get_deep_param, set_deep_params, zhu_system
    from skecg.tuning import MultilabelThresholdTuner

    fs = 500 if scale.paper else scale.fs
    long, short = int(round(fs * scale.long_seconds)), int(round(fs * scale.seconds))
    names = {1: f"Model 1: SE-ResNet, 12 leads, {scale.long_seconds:g} s, no denoising",
             2: "Model 2: + wavelet denoising, CPSC relabelling, bradycardia rule",
             3: "Model 3: + Sign Loss, sinus-rhythm fallback",
             4: f"Model 4: 8 leads, {long} samples",
             5: f"Model 5: 8 leads, {short} samples",
             6: "Model 6: ensemble of Models 4 and 5"}
    out = {}
    for m in range(1, 6):
        est = zhu_system(m, fs=fs, long=long, short=short)
        n = short if m == 5 else long
        params = {}
        for key, net, _, _ in networks(est):
            prefix = key[:-len("net")]
            steps = get_deep_param(est, prefix + "prep").named_steps
            params.update({prefix + k: v for k, v in _zhu_net_params(scale, n).items()
                           if not k.startswith("prep__") or k.split("__")[1] in steps})
            params[prefix + "net__random_state"] = random_state
            if m in (1, 2):
                params[prefix + "net__criterion"] = "bce"
        set_deep_params(est, params)
        out[names[m]] = est
    out[names[6]] = (DERIVED, names[4], names[5])
    it = scale.catboost_iterations
    out["Model 7: CatBoost (HRV + age, sex), tuned"] = MultilabelThresholdTuner(
        make_catboost_baseline(iterations=it, thread_count=2, random_state=random_state),
        scoring="challenge", random_state=random_state)
    out["Model 8: U-Net rule (PVC)"] = (SEGMENT_RULE, waves)
    return out


def _model_number(name):
    m = re.match(r"Model (\d+)", name)
    return int(m.group(1)) if m else None


#: pairs compared by paired bootstrap in each protocol's report
def _pairs(protocol, names):
    if protocol == "zhu":
        deep = [n for n in names if (_model_number(n) or 9) <= 6]
        pairs = list(zip(deep[1:3], deep[:2]))  # 2 vs 1, 3 vs 2
        by = {_model_number(n): n for n in names}
        pairs += [(by[6], by[m]) for m in (4, 5) if 6 in by and m in by]
        pairs += [(by[6], by[7])] if 6 in by and 7 in by else []
        return pairs
    pairs = [(f"attention ResNet-1d, subset {s}", f"ResNet-1d, subset {s}") for s in HUANG_SUBSETS]
    pairs += [(f"{n}, subset I", f"{n}, subset IV") for n in ("ResNet-1d", "attention ResNet-1d")]
    pairs += [(f"attention ResNet-1d, subset {s}", ALL_DATA) for s in HUANG_SUBSETS]
    return pairs


def _final_net(est):
    """The (first) ECGClassifier inside a fitted estimator, or None."""
    from skecg.models import ECGClassifier

    seen = 0
    while est is not None and seen < 12:
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


def _find(est, cls):
    """The first fitted estimator of class ``cls`` inside ``est``, or None."""
    seen = 0
    while est is not None and seen < 12:
        seen += 1
        if isinstance(est, cls):
            return est
        if hasattr(est, "steps"):
            for _, s in est.steps:
                if isinstance(s, cls):
                    return s
            est = est.steps[-1][1]
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
    return _save_fig(fig, path)


def _extras(fitted, train_idx) -> dict:
    """What a fitted system tells beyond its predictions: the network's thresholds, the
    labels relabelling added, the records the training-subset sampler chose."""
    from skecg.ensemble import PseudoLabelRelabeler
    from skecg.sampling import TrainingSubsetSampler

    out = {}
    net = _final_net(fitted)
    if net is not None and hasattr(net, "thresholds_"):
        out["thresholds"] = [float(t) for t in net.thresholds_]
    rel = _find(fitted, PseudoLabelRelabeler)
    if rel is not None:
        out["relabelled"] = {str(k): int(v) for k, v in rel.added_.items()}
    sub = _find(fitted, TrainingSubsetSampler)
    if sub is not None:
        out["subset_index"] = [int(train_idx[i]) for i in sub.sample_indices_]
    return out


def _run_cell(est, X, y, train_idx, tests: dict, n_seeds, random_state, log):
    from skecg.metrics import predict_with_proba, with_seed

    from .experiments import estimator_codes

    t0 = time.perf_counter()
    out = {name: {"index": idx, "preds": [], "probas": []} for name, idx in tests.items()}
    histories, first, classes, extras = [], None, None, {}
    Xtr = X.take(train_idx)
    for s in range(n_seeds):
        fitted = with_seed(est, int(random_state) + s).fit(Xtr, y[train_idx])
        if first is None:
            first = fitted
            classes = estimator_codes(fitted, X.classes, y.shape[1])
            extras = _extras(fitted, train_idx)
        histories.append(_history(fitted))
        for name, idx in tests.items():
            proba, pred = predict_with_proba(fitted, X.take(idx))
            out[name]["probas"].append(proba.astype(np.float32))
            out[name]["preds"].append(np.asarray(pred).astype(np.int8))
    cell = {"classes": classes, "histories": histories, "seconds": time.perf_counter() - t0,
            "n_train": int(len(train_idx)), "train_index": [int(i) for i in train_idx], "tests": out}
    cell.update(extras)
    return first, cell


def _derived_ensemble_cell(c4, c5, X, tests, gated_class="426627000", normal_class="426783006"):
    """Model 6 from the cells of Models 4 and 5: the mean of their probabilities at the
    mean of their thresholds (LengthEnsemble), the bradycardia rule's veto on the
    gated class (BradycardiaRuleGate, mode='veto') and the sinus-rhythm fallback."""
    from skecg.ensemble import BradycardiaRuleGate

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


def _segmenter(waves_folder, scale: Scale, random_state, log):
    """A QRS segmenter (1D U-Net, lead II, 500 Hz) trained on LUDB's annotations."""
    from skecg.io import read_ludb
    from skecg.preprocessing import LeadSelector
    from skecg.models import WaveSegmenter
    from skecg.segmentation import waves_to_masks

    Xl, _, waves = read_ludb(waves_folder, annotation_leads=["ii"])
    X2 = LeadSelector(["II"]).fit_transform(Xl)
    masks = waves_to_masks(waves, X2, X2.shape[-1], lead="II")
    log(f"Model 8: training the U-Net on the QRS annotations of {len(X2)} LUDB records (lead II) ...")
    seg = WaveSegmenter(random_state=random_state, max_epochs=scale.segmenter_epochs,
                        **({} if scale.paper else {"module__filters": (8, 16, 32)}))
    return seg.fit(X2, masks)


def _segment_rule_cell(seg, X, tests, classes):
    """Model 8: a record is PVC-positive when the U-Net finds a QRS segment of 120 ms or
    more on lead II (a wide complex); only the PVC column is predicted."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import Pipeline

    from skecg.ensemble import SegmentRuleClassifier
    from skecg.labels import equivalence_map
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


# --- the run ----------------------------------------------------------------------------
def run(protocol, data, out, *, test_only=(), scale=None, n_seeds: int = 1, n_resamples: int = 200,
        train_source=None, held_out=None, sources=None, random_state=0, systems=None, report_only=False,
        rules=None, waves=None, splits=("random", "lopo"), log=print):
    """Run one protocol's grid (resuming from cached cells) and write the report.

    Parameters
    ----------
    protocol : {'huang', 'zhu'}
    data : list of str
        Data folders or ``'sample'``.
    out : str or Path
        Report folder (created); cells are cached in ``out/cells``.
    test_only : list of str
        Folders whose sources are only tested on (a TNMG test set, LUDB ...).
    scale : {'small', 'paper'} or Scale, optional
        Default ``'small'`` when the data are the bundled sample, else ``'paper'``.
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
        Run only these systems (names as in the report, or ``'Model N'`` for Zhu).
    report_only : bool, default=False
        Train nothing: write the report from the cells finished so far.
    rules : list of str, optional
        The data rules applied when reading (default: the paper's, :data:`RULES_OF`).
    waves : str, optional
        Zhu: an LUDB folder whose wave annotations train Model 8's U-Net.
    splits : tuple of {'random', 'lopo'}, default=('random', 'lopo')
        Zhu: the paper's 80/20 random split and/or leave-one-source-out.

    Returns
    -------
    Path of ``report.html``
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"n_seeds must be a positive integer, got {n_seeds!r}")
    bad = sorted(set(splits) - {"random", "lopo"})
    if bad or not splits:
        raise ValueError(f"splits must be among ('random', 'lopo'), got {list(splits)}")
    import torch

    from skecg.rules import apply_rules

    out = Path(out)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    (out / "tables").mkdir(exist_ok=True)
    t_start = time.perf_counter()
    is_sample = list(data) == ["sample"]
    sc = Scale.get(scale or ("small" if is_sample else "paper"))
    vocab = VOCABULARY[protocol]
    rules = list(RULES_OF[protocol] if rules is None else rules)
    log(f"skecg reproduce {protocol}: reading {list(data)} + test-only {list(test_only)} ...")
    X, y = load_sources(data, vocab)
    n_main = len(X)
    if n_main == 0:  # every record skipped (the readers listed each one and why): nothing to train on
        raise SystemExit(f"skecg: no record of {list(data)} could be read; nothing to train on "
                         f"(the reasons are listed above)")
    if test_only:
        from skecg import concat_records

        Xo, yo = load_sources(test_only, vocab)
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
    X, y, rule_report = apply_rules(X, y, rules, log=lambda m: print(m, file=sys.stderr, flush=True))
    if rule_report.n_dropped:
        log(f"data rules dropped {rule_report.n_dropped} record(s) (table in the report)")
    src = X.meta["source"].to_numpy().astype(str)
    trainable = [s for s in pd.unique(src) if s not in test_only_sources]
    classes_all = [str(c) for c in X.classes]
    config = {"protocol": protocol, "data": list(data), "test_only": list(test_only), "scale": sc.__dict__,
              "sources": sorted(sources) if sources else None, "held_out": held_out, "train_source": train_source,
              "n_seeds": n_seeds, "random_state": random_state, "n_records": n_main, "rules": rules,
              "splits": list(splits), "cell_format": 3}
    if protocol == "huang":
        all_systems = huang_systems(sc, random_state)
    else:
        all_systems = zhu_systems(sc, random_state, waves=waves)
    if systems:
        chosen = {}
        for s in systems:
            hits = [k for k in all_systems if k == s or (re.fullmatch(r"Model \d+", s) and k.startswith(s + ":"))]
            if not hits:
                raise ValueError(f"unknown system(s) [{s!r}]; choose from {list(all_systems)}")
            chosen.update({k: None for k in hits})
        # Model 6 needs Models 4 and 5
        for k in list(chosen):
            v = all_systems[k]
            if isinstance(v, tuple) and v[0] == DERIVED:
                chosen.update({v[1]: None, v[2]: None})
        all_systems = {k: v for k, v in all_systems.items() if k in chosen}
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
        train_sets = []
        if "random" in splits:
            from sklearn.model_selection import GroupShuffleSplit

            pool = np.flatnonzero(np.isin(src, trainable))
            pid = X.meta["patient_id"].to_numpy() if "patient_id" in X.meta else None
            groups = np.asarray([str(pid[i]) if pid is not None and pid[i] == pid[i] and pid[i] is not None
                                 else f"_record{i}" for i in pool], dtype=object)
            a, b = next(GroupShuffleSplit(1, test_size=0.2, random_state=random_state).split(pool, groups=groups))
            train_sets.append(("random 80 %", pool[a], {"random 20 %": pool[b]}))
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
        # training set by training set, every system on each: a run stopped early (or a
        # --report-only report) still has whole tables on the first sets
        for label, tr, tests in train_sets:
            for name in all_systems:
                cells.append((name, label, tr, tests))
        if test_only_sources:
            tr = np.flatnonzero(np.isin(src, trainable))
            for name in all_systems:
                cells.append((name, f"trained on all of {'+'.join(trainable)}",
                              tr, {s: np.flatnonzero(src == s) for s in test_only_sources}))
    # test-only folders are appended after the others and leave every other cell as it was,
    # so adding --test-only to a finished run only runs the new cells
    cfg_hash = hashlib.sha1(json.dumps({k: v for k, v in config.items() if k != "test_only"},
                                       sort_keys=True, default=str).encode()).hexdigest()[:10]
    log(f"{len(X)} records, {len(cells)} cells, scale {sc.name!r}, {n_seeds} seed(s); cache {out / 'cells'}")
    results, grid_rows, done = [], [], {}
    segmenter = None
    for i, (name, train_label, tr, tests) in enumerate(cells):
        key = out / "cells" / f"{cfg_hash}-{_slug(name)}-{_slug(train_label)}"
        spec = all_systems[name]
        cell = _load_cell(key)
        status = "cached"
        row = {"system": name, "training": train_label, "train records": len(tr),
               "tested on": ", ".join(tests), "seconds": 0.0}
        if cell is None and isinstance(spec, tuple) and spec[0] == SEGMENT_RULE and spec[1] is None:
            grid_rows.append({**row, "status": "not run: needs wave annotations (--waves LUDB_FOLDER)"})
            continue
        if cell is None and report_only:
            grid_rows.append({**row, "status": "not run"})
            continue
        if cell is None:
            log(f"[{i + 1}/{len(cells)}] {name}, {train_label} ({len(tr)} records) ...")
            if isinstance(spec, tuple) and spec[0] == DERIVED:
                c4, c5 = done.get((spec[1], train_label)), done.get((spec[2], train_label))
                if c4 is None or c5 is None:
                    grid_rows.append({**row, "status": "not run: Models 4 and 5 have not run"})
                    continue
                cell = _derived_ensemble_cell(c4, c5, X, tests)
                status = "computed from Models 4 and 5 (no training)"
            elif isinstance(spec, tuple) and spec[0] == SEGMENT_RULE:
                if segmenter is None:
                    segmenter = _segmenter(spec[1], sc, random_state, log)
                cell = _segment_rule_cell(segmenter, X, tests, classes_all)
                status = f"ran in {cell['seconds']:.0f} s (U-Net trained once, on LUDB)"
            else:
                fitted, cell = _run_cell(spec, X, y, tr, tests, n_seeds, random_state, log)
                if protocol == "huang" and "attention" in name and name.endswith("subset I"):
                    first_test = next(iter(tests))
                    cell["attention_png"] = _attention_figure(fitted, X, y, tests[first_test], cell["classes"],
                                                              out / "figures" / f"attention_{_slug(name)}")
                status = f"ran in {cell['seconds']:.0f} s"
            cell.update(system=name, train=train_label, train_sources=sorted(set(src[tr])))
            _save_cell(key, cell)
            log(f"    done: {status}")
        else:
            log(f"[{i + 1}/{len(cells)}] {name}, {train_label}: cached")
        done[(name, train_label)] = cell
        grid_rows.append({**row, "train records": cell["n_train"], "seconds": round(cell["seconds"], 1),
                          "status": status})
        results.append(cell)
    if not results:
        raise ValueError(f"no finished cells in {out / 'cells'} for this configuration; run without report_only")
    seconds = time.perf_counter() - t_start
    info = {"config": config, "scale": sc, "seconds": seconds, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "is_sample": is_sample, "test_only_sources": test_only_sources,
            "rule_report": rule_report, "systems": list(all_systems)}
    return write_report(protocol, X, y, classes_all, results, pd.DataFrame(grid_rows), out, info,
                        n_resamples=n_resamples, random_state=random_state)


# --- the report ---------------------------------------------------------------------------
def _full_vocab(cell, classes_all) -> bool:
    return list(cell["classes"]) == list(classes_all)


def _folds(X, y, results, n_resamples, random_state, classes_all=None):
    """``{test set name: {system: FoldResult}}`` from the cells that predict every class."""
    from .experiments import fold_result

    pid = X.meta["patient_id"].to_numpy() if "patient_id" in X.meta else None
    rid = X.meta["record_id"].to_numpy()
    folds: dict = {}
    for cell in results:
        if classes_all is not None and not _full_vocab(cell, classes_all):
            continue
        for tname, t in cell["tests"].items():
            idx = t["index"]
            groups = None if pid is None else np.asarray(
                [str(v) if v == v and v is not None else f"_record{i}" for i, v in zip(idx, pid[idx])], dtype=object)
            train = cell["train"]
            # zhu's test-only sets are tested by models trained on every other source: say so
            label = f"{tname} ({train})" if train.startswith("trained on all of") else tname
            y_train = y[np.asarray(cell["train_index"], dtype=int)]  # for the majority reference
            fr = fold_result(y[idx], t["preds"], t["probas"], cell["classes"], test_sources=[tname],
                             n_train=cell["n_train"], groups=groups, record_ids=rid[idx], y_train=y_train,
                             seconds=cell["seconds"], n_resamples=n_resamples, random_state=random_state)
            fr.histories = cell.get("histories", [])
            folds.setdefault(label, {})[cell["system"]] = fr
    return folds


def _save_fig(fig, path: Path):
    """``path``.png at 300 dpi and ``path``.svg; returns the PNG's name."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.savefig(path.with_suffix(".png"), dpi=300, bbox_inches="tight")
    fig.savefig(path.with_suffix(".svg"), bbox_inches="tight")
    plt.close(fig)
    return path.with_suffix(".png").name


def _figures(protocol, folds, out: Path):
    """PR curves, confusion counts (one system per protocol), learning curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skecg.plots import plot_confusion_counts, plot_learning_curves, plot_pr_curves

    figs = []
    for test, systems in list(folds.items())[:4]:
        if protocol == "zhu":
            name = next((n for n in systems if n.startswith("Model 6")), next(iter(systems)))
        else:
            focus = "attention ResNet-1d, subset I"
            name = focus if focus in systems else next(iter(systems))
        r = systems[name]
        fig = plot_pr_curves(r.y_true, r.probas[0], r.classes)
        fig.axes[0].set_title(f"{name}: precision-recall on {test}", fontsize=9)
        figs.append((f"Precision-recall curves: {name}, {test}",
                     _save_fig(fig, out / "figures" / f"pr_{_slug(name)}_{_slug(test)}")))
        fig = plot_confusion_counts(r.y_true, r.preds[0], r.classes)
        fig.axes[0].set_title(f"{name}: confusion counts on {test}", fontsize=9)
        figs.append((f"Confusion counts: {name}, {test}",
                     _save_fig(fig, out / "figures" / f"confusion_{_slug(name)}_{_slug(test)}")))
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
        figs.append(("Learning curves", _save_fig(fig, out / "figures" / "learning_curves")))
    else:
        plt.close(fig)
    return figs


def _fmt(v, digits=3):
    if isinstance(v, (float, np.floating)):
        return "" if np.isnan(v) else f"{v:.{digits}f}"
    return str(v)


def _published(protocol, name):
    for key, text in PUBLISHED_ROW.get(protocol, {}).items():
        if name.startswith(key):
            return text
    return OFFLINE


def _summary_table(protocol, systems: dict) -> pd.DataFrame:
    rows = {}
    for name, r in systems.items():
        rows[name] = {"challenge (95% CI by patient)": str(r.challenge),
                      "mean ± sd over seeds": str(r.challenge_seeds()),
                      "macro F1 (95% CI)": str(r.f1_macro),
                      "vs all sinus rhythm": r.vs_sinus_rhythm.verdict,
                      "published (their data)": _published(protocol, name)}
    r0 = next(iter(systems.values()))
    for ref in r0.references.index:
        rows[ref] = {"challenge (95% CI by patient)": f"{r0.references.loc[ref, 'challenge']:.3f}",
                     "mean ± sd over seeds": "", "macro F1 (95% CI)": f"{r0.references.loc[ref, 'macro_f1']:.3f}",
                     "vs all sinus rhythm": "", "published (their data)": ""}
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
    """Builds the HTML report and its Markdown twin side by side; every table is also
    written as CSV to ``tables/``."""

    def __init__(self, out: Path):
        self.out = out
        self.md, self.html = [], []
        self.csv = []

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

    def table(self, df, index=True, caption=None, name=None):
        name = _slug(name or caption or f"table-{len(self.csv) + 1}")[:120]
        base, k = name, 2
        while name in self.csv:
            name, k = f"{base}-{k}", k + 1
        self.csv.append(name)
        df.to_csv(self.out / "tables" / f"{name}.csv", index=index)
        if caption:
            self.md.append(f"*{caption}* ([CSV](tables/{name}.csv))\n")
            self.html.append(f"<p class='cap'>{html.escape(caption)} <a href='tables/{name}.csv'>CSV</a></p>")
        self.md.append(_md_table(df, index) + "\n")
        self.html.append(_html_table(df, index))

    def figure(self, caption, name):
        svg = Path(name).with_suffix(".svg").name
        self.md.append(f"![{caption}](figures/{name}) ([SVG](figures/{svg}))\n")
        data = base64.b64encode((self.out / "figures" / name).read_bytes()).decode()
        self.html.append(f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(caption)}'>"
                         f"<figcaption>{html.escape(caption)} (300 dpi PNG and SVG in figures/)</figcaption></figure>")

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


AGE_GROUPS = [(0, 20, "<20"), (20, 40, "20-39"), (40, 60, "40-59"), (60, 80, "60-79"), (80, 200, ">=80")]


def _stats_row(X, y, idx, abbr) -> dict:
    """Records of a set by class, age group and sex (Huang et al., Tables 3-4)."""
    idx = np.asarray(idx, dtype=int)
    row = {"records": len(idx)}
    yy = y[idx]
    for j, a in enumerate(abbr):
        row[a] = int(yy[:, j].sum())
    row["normal (no class)"] = int((yy.sum(1) == 0).sum())
    age = pd.to_numeric(X.meta["age"], errors="coerce").to_numpy()[idx]
    for lo, hi, name in AGE_GROUPS:
        row[f"age {name}"] = int(((age >= lo) & (age < hi)).sum())
    row["age unknown"] = int((~np.isfinite(age)).sum())
    sex = X.meta["sex"].astype(object).to_numpy()[idx]
    row["male"] = int(sum(s == "M" for s in sex))
    row["female"] = int(sum(s == "F" for s in sex))
    row["sex unknown"] = len(idx) - row["male"] - row["female"]
    return row


def _huang_stats(X, y, classes, results) -> pd.DataFrame:
    from skecg.labels import abbreviation

    abbr = [abbreviation(c) for c in classes]
    rows = {}
    seen_tests = {}
    for cell in results:
        if "subset_index" in cell and "attention" not in cell["system"]:
            rows[f"training {cell['system'].split(', ')[-1]} ({cell['train']})"] = _stats_row(
                X, y, cell["subset_index"], abbr)
        if cell["system"] == ALL_DATA:
            rows[f"all training data ({cell['train']})"] = _stats_row(X, y, cell["train_index"], abbr)
        for tname, t in cell["tests"].items():
            seen_tests.setdefault(tname, t["index"])
    for tname, idx in seen_tests.items():
        rows[f"test: {tname}"] = _stats_row(X, y, idx, abbr)
    return pd.DataFrame.from_dict(rows, orient="index")


def _huang_block(folds, prefix) -> pd.DataFrame:
    """Per test set and subset: precision, recall, specificity, F1 per class (Tables 5-6)."""
    frames = []
    for test, systems in folds.items():
        for s in HUANG_SUBSETS:
            name = f"{prefix}, subset {s}"
            if name not in systems:
                continue
            t = systems[name].table
            cols = [c for c in t.columns if c == "macro" or t.loc["support", c] > 0]
            part = t.loc[["precision", "recall", "specificity", "f1"], cols].copy()
            part.index = pd.MultiIndex.from_product([[test], [f"subset {s}"], part.index],
                                                    names=["test set", "training subset", "metric"])
            part["published (their data)"] = OFFLINE
            frames.append(part)
    return pd.concat(frames) if frames else pd.DataFrame()


def _best_attention(folds):
    """The attention subset with the highest macro F1 averaged over the test sets."""
    scores = {}
    for s in HUANG_SUBSETS:
        name = f"attention ResNet-1d, subset {s}"
        vals = [systems[name].f1_macro.estimate for systems in folds.values() if name in systems]
        if vals:
            scores[name] = float(np.mean(vals))
    return max(scores, key=scores.get) if scores else None, scores


def _huang_table7(folds, best, n_resamples, random_state) -> pd.DataFrame:
    from .experiments import compare_folds

    rows = []
    for test, systems in folds.items():
        if best not in systems or ALL_DATA not in systems:
            continue
        a, b = systems[best], systems[ALL_DATA]
        d = compare_folds(a, b, metric="f1_macro", names=(best, ALL_DATA), n_resamples=n_resamples,
                          random_state=random_state)
        for name, r in ((best, a), (ALL_DATA, b)):
            f1 = r.table.loc["f1"]
            row = {"test set": test, "system": name, "macro F1 (95% CI)": str(r.f1_macro),
                   **{c: float(f1[c]) for c in r.table.columns if c != "macro" and r.table.loc["support", c] > 0},
                   "published (their data)": OFFLINE}
            rows.append(row)
        rows.append({"test set": test, "system": "difference (best attention - all data)",
                     "macro F1 (95% CI)": f"{d.estimate:+.3f} [{d.low:+.3f}, {d.high:+.3f}] {d.verdict}"})
    df = pd.DataFrame(rows)
    if "published (their data)" in df:  # last, after the classes
        df = df[[c for c in df.columns if c != "published (their data)"] + ["published (their data)"]]
    return df


def _zhu_overview(folds, order) -> pd.DataFrame:
    """Tables 3-4 row for row: each model's challenge score on every test set."""
    rows = {}
    for name in order:
        row = {}
        for test, systems in folds.items():
            if name in systems:
                r = systems[name]
                row[test] = f"{r.challenge.estimate:.3f} [{r.challenge.low:.3f}, {r.challenge.high:.3f}]"
        if row:
            row["published (their data)"] = _published("zhu", name)
            rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def _model8_table(X, y, classes_all, results) -> pd.DataFrame:
    """Model 8 (PVC by the U-Net rule) beside the PVC column of Models 6 and 7."""
    from skecg.metrics import per_class_scores

    seg = [c for c in results if not _full_vocab(c, classes_all)]
    if not seg:
        return pd.DataFrame()
    pvc = seg[0]["classes"][0]
    j = classes_all.index(pvc)
    rows = []
    for cell in results:
        num = _model_number(cell["system"])
        if num not in (6, 7, 8):
            continue
        col = 0 if num == 8 else j
        for tname, t in cell["tests"].items():
            yt = y[t["index"]][:, [j]]
            pred = np.asarray(t["preds"][0])[:, [col]]
            s = per_class_scores(yt, pred)
            rows.append({"test set": tname, "system": cell["system"], "PVC records": int(yt.sum()),
                         "precision": float(s["precision"][0]), "recall": float(s["recall"][0]),
                         "F1": float(s["f1"][0]), "published (their data)": OFFLINE})
    return pd.DataFrame(rows)


def _relabel_table(results) -> pd.DataFrame:
    from skecg.labels import abbreviation

    rows = []
    for cell in results:
        if "relabelled" in cell:
            added = cell["relabelled"]
            rows.append({"system": cell["system"], "training": cell["train"],
                         "labels added to CPSC": sum(added.values()),
                         "by class": ", ".join(f"{abbreviation(k)} {v}" for k, v in sorted(added.items())) or "none"})
    return pd.DataFrame(rows)


def write_report(protocol, X, y, classes, results, grid: pd.DataFrame, out: Path, info: dict, *,
                 n_resamples=200, random_state=0):
    """Write ``report.html``, ``report.md``, ``tables/*.csv`` and ``figures/`` from the cells."""
    from skecg import __version__ as skecg_version
    from skecg.labels import abbreviation

    (out / "tables").mkdir(exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    folds = _folds(X, y, results, n_resamples, random_state, classes)
    sc = info["scale"]
    doc = _Doc(out)
    title = {"huang": "Huang et al.: training subsets x attention, trained on one source, tested on the others",
             "zhu": "Zhu et al.: Tables 3-4, Models 1-8, under an 80/20 random split and leave-one-source-out",
             }[protocol]
    doc.h(1, f"skecg reproduce {protocol}: {title}")
    doc.p(f"Paper: {CITATION[protocol]}")
    small = not sc.paper
    if small:
        doc.html.append("<p class='banner'><b>SMALL SCALE.</b> ")
        doc.md.append("> **SMALL SCALE.** ")
    if sc.paper:
        msg = (f"Sizes: the papers' presets ({', '.join(PRESETS_OF[protocol])}, see `skecg reproduce {protocol} "
               f"--scale paper --show-config`), {info['config']['n_seeds']} seed(s), {n_resamples} bootstrap "
               "resamples of patients.")
    else:
        msg = (f"Sizes: {sc.fs:g} Hz, {sc.seconds:g} s inputs"
               + (f" (and {sc.long_seconds:g} s for the long ones)" if protocol == "zhu" else "")
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
    status = grid["status"].astype(str)
    n_missing = int((status.str.startswith("not run") & ~status.str.contains("--waves")).sum())
    if n_missing:
        doc.html.append(f"<p class='banner'><b>PARTIAL.</b> {n_missing} of {len(grid)} cells of the grid have "
                        "not run; their rows are missing below (the grid says why).</p>")
        doc.md.append(f"> **PARTIAL.** {n_missing} of {len(grid)} cells of the grid have not run; their rows "
                      "are missing below (the grid says why).\n")
    # data
    doc.h(2, "Data used")
    src = X.meta["source"].to_numpy().astype(str)
    counts = pd.DataFrame(y, columns=[abbreviation(c) for c in classes])
    counts.insert(0, "records", 1)
    counts["source"] = src
    tab = counts.groupby("source").sum()
    tab = tab.loc[:, (tab.sum(axis=0) > 0)].astype(int)
    doc.p(f"Data: {', '.join(info['config']['data'])}"
          + (f"; test-only: {', '.join(info['config']['test_only'])} (sources {', '.join(info['test_only_sources'])}"
             ", never trained on)" if info["test_only_sources"] else "")
          + f". {len(X)} records after the data rules; vocabulary {VOCABULARY[protocol]!r} ({len(classes)} classes)."
          + (f" Training pool: {info['config']['train_pool']}." if info["config"].get("train_pool") else ""))
    doc.table(tab, caption="Records per source and class", name="data_records_per_source")
    rep = info.get("rule_report")
    doc.h(3, "The paper's data rules")
    rules = info["config"].get("rules") or []
    if rules:
        from skecg.rules import RULES

        doc.p("Applied when the data were read, to training and test records alike (they define the paper's "
              "data sets); switch one off with --no-rule NAME. " + " ".join(
                  f"{r}: {RULES[r].description}." for r in rules if r in RULES))
        if rep is not None and len(rep.table):
            doc.table(rep.table, index=False, caption="Records dropped, per rule, source and reason", name="data_rules")
        else:
            doc.p("They dropped no record of these data.")
    else:
        doc.p("No data rule was applied (switched off).")
    doc.pre(str(X.label_report()), summary="Label report: codes outside the vocabulary, kept and counted")
    skipped = getattr(X, "skipped", None)
    if skipped is not None and len(skipped):
        doc.p(f"{len(skipped)} record(s) could not be read and were skipped; see the label report above "
              "and the reader's warning for each reason.")
    # grid
    doc.h(2, "The grid run")
    doc.table(grid, index=False, name="grid")
    # results
    if protocol == "huang":
        _huang_results(doc, X, y, classes, results, folds, n_resamples, random_state)
    else:
        _zhu_results(doc, X, y, classes, results, folds, info, n_resamples, random_state)
    doc.h(2, "Per test set: scores with intervals, reference rows, paired differences")
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
        doc.table(_summary_table(protocol, systems), caption="Challenge score and macro F1",
                  name=f"summary_{test}")
        doc.table(_perclass_f1_table(systems), caption="Per-class F1 (classes present), with reference rows",
                  name=f"perclass_f1_{test}")
        pt = _pairs_table(protocol, systems, n_resamples, random_state)
        if len(pt):
            doc.table(pt, index=False, caption="Paired differences on the same records", name=f"pairs_{test}")
    # figures
    doc.h(2, "Figures")
    for caption, name in _figures(protocol, folds, out):
        doc.figure(caption, name)
    for cell in results:
        if cell.get("attention_png"):
            doc.figure(f"Attention over a 12-lead plot: {cell['system']}, a held-out record", cell["attention_png"])
    # published numbers
    doc.h(2, "Published numbers beside these")
    pub = pd.DataFrame(PUBLISHED[protocol], columns=["what the paper reports", "value", "where it was read"])
    doc.table(pub, index=False, name="published")
    doc.p("Published numbers are on the papers' data ('published: their data'); where the data do not match, "
          "they are not comparable: "
          + ("the paper's scores are on the challenge's hidden validation and test sets (full system, "
             "trained on the challenge's public training data, about 43,000 records), ours on held-out "
             "public records"
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
    doc.table(hw, index=False, name="runtime")
    cfg = {k: v for k, v in info["config"].items()}
    (out / "config.json").write_text(json.dumps(cfg, indent=1, default=str))
    return doc.write(f"skecg reproduce {protocol}")


def _huang_results(doc, X, y, classes, results, folds, n_resamples, random_state):
    doc.h(2, "Tables 3-4: the records of each training subset and test set")
    doc.p("By class, age group and sex (seed 1's subsets; a record with several classes counts in each).")
    doc.table(_huang_stats(X, y, classes, results), caption="Tables 3-4 (as Huang et al.): records by class, "
              "age group and sex", name="tables_3_4_statistics")
    for number, prefix in ((5, "ResNet-1d"), (6, "attention ResNet-1d")):
        block = _huang_block(folds, prefix)
        doc.h(2, f"Table {number}: {prefix}, training subsets I-IV")
        if len(block):
            doc.p("One block per test set (the TNMG test set in Ribeiro's layout when given with --test-only, "
                  "CPSC, SNH, ...): precision, recall, specificity and F1 per class (mean over seeds).")
            doc.table(block, caption=f"Table {number} (as Huang et al.): {prefix} on subsets I-IV",
                      name=f"table_{number}")
        else:
            doc.p("No cell of this table has run.")
    best, scores = _best_attention(folds)
    doc.h(2, "Table 7: the best attention model against a ResNet-1d on all the training data")
    if best is None or not any(ALL_DATA in s for s in folds.values()):
        doc.p("Needs the attention models and the all-data ResNet-1d; not all of them have run.")
        return
    doc.p(f"Best attention model: {best} (highest macro F1 averaged over the test sets: "
          + ", ".join(f"{k.split(', ')[-1]} {v:.3f}" for k, v in scores.items())
          + f"), against {ALL_DATA} (the whole training pool, no subset), in place of Ribeiro's DNN trained "
          "on the full CODE data.  The difference's interval resamples patients.")
    doc.table(_huang_table7(folds, best, n_resamples, random_state), index=False,
              caption="Table 7 (as Huang et al.): per-class F1", name="table_7")


def _zhu_results(doc, X, y, classes, results, folds, info, n_resamples, random_state):
    order = info["systems"]
    doc.h(2, "Tables 3-4: Models 1-8 in the paper's order")
    doc.p("Challenge score [95 % CI by patient] of each model on each test set: 'random 20 %' is the paper's "
          "80/20 random split (by patient), the others leave one source (group) out.  Model 6 is computed "
          "from the trained Models 4 and 5 (mean probability at the mean threshold, the bradycardia rule's "
          "veto, the sinus-rhythm fallback): what training the ensemble gives, without training it twice.")
    doc.table(_zhu_overview(folds, order), caption="Tables 3-4 (as Zhu et al.): challenge score per model and "
              "test set", name="tables_3_4_overview")
    m8 = _model8_table(X, y, classes, results)
    doc.h(3, "Table 4, Model 8: the U-Net rule (PVC)")
    if len(m8):
        doc.p("Model 8 predicts one class, PVC: a record is positive when a 1D U-Net trained on LUDB's QRS "
              "annotations (lead II) finds a QRS complex of 120 ms or more.  Zhu et al.'s U-Net segmented "
              "PVC beats from their own span annotations, which are not public; a wide-QRS rule also fires "
              "on bundle branch blocks.  Beside it, the PVC column of Models 6 and 7.")
        doc.table(m8, index=False, caption="Model 8 against the PVC column of Models 6 and 7", name="model_8")
    else:
        doc.p("Not run: Model 8 learns from wave annotations; give an LUDB folder with --waves.")
    rel = _relabel_table(results)
    if len(rel):
        doc.h(3, "CPSC relabelling (Models 2-5)")
        doc.p("Labels PseudoLabelRelabeler added to CPSC records (probability above its threshold, a scored "
              "class CPSC could not label), per cell; the models are then refitted on the relabelled data.")
        doc.table(rel, index=False, caption="Labels added by relabelling", name="relabelling")


# --- configuration -------------------------------------------------------------------------
def show_config(protocol, scale="paper") -> str:
    """The text of ``skecg reproduce PROTOCOL --scale SCALE --show-config``: every system's
    resolved configuration and network sizes; nothing is read or trained.

    Examples
    --------
    >>> "6,421,910" in show_config("huang", "paper")
    True
    """
    from skecg.presets import networks, count_parameters, get_preset
    from skecg.rules import RULES

    sc = Scale.get(scale)
    lines = [f"skecg reproduce {protocol} --scale {sc.name}: {CITATION[protocol]}", ""]
    if sc.paper:
        for name in PRESETS_OF[protocol]:
            lines += [get_preset(name).describe(), ""]
    else:
        lines.append(f"small scale: {sc.fs:g} Hz, {sc.seconds:g} s (long: {sc.long_seconds:g} s), "
                     f"{sc.epochs} epochs, {sc.n_per_class} records per class, SE-ResNet widths {sc.se_filters}")
    k = 6 if protocol == "huang" else 24
    systems = huang_systems(sc) if protocol == "huang" else zhu_systems(sc)
    lines.append("systems of the protocol, in the report's order (networks built at their input shape, "
                 "nothing trained):")
    for name, est in systems.items():
        if isinstance(est, tuple):
            what = ("the ensemble of the trained Models 4 and 5 (no training of its own)" if est[0] == DERIVED
                    else "a U-Net trained on LUDB's QRS annotations (--waves), PVC by a QRS of 120 ms or more")
            lines.append(f"  {name}: {what}")
            continue
        nets = networks(est)
        if not nets:
            lines.append(f"  {name}: {type(est).__name__} (no network)")
        for key, net, leads, samples in nets:
            n = count_parameters(net, leads, samples or 4096, k)
            lines.append(f"  {name}: {net.module}, {leads} leads x {samples} samples, {n:,} parameters, "
                         f"{net.max_epochs} epochs, batch {net.batch_size}, criterion {net.criterion}")
    lines += ["", "data rules (on; --no-rule NAME switches one off):"]
    lines += [f"  {r}: {RULES[r].description}" for r in RULES_OF[protocol]]
    return "\n".join(lines)


# --- command line -----------------------------------------------------------------------
def add_parser(sub):
    """Add ``reproduce`` to the ``skecg`` command line's subparsers."""
    r = sub.add_parser("reproduce", help="run a paper's protocol and write an HTML + Markdown report")
    r.add_argument("protocol", choices=PROTOCOLS)
    r.add_argument("data", nargs="*", help="data folders, or 'sample'")
    r.add_argument("-o", "--output", default="skecg_report", help="report folder (cells cached inside)")
    r.add_argument("--test-only", action="append", default=[],
                   help="a folder only tested on (a TNMG test set in Ribeiro's layout, LUDB, ...)")
    r.add_argument("--scale", choices=["small", "paper", "full"],
                   help="default: small on 'sample', else paper (the papers' presets; 'full' is its old name)")
    r.add_argument("--show-config", action="store_true",
                   help="print the resolved configuration and the networks' sizes; read and train nothing")
    r.add_argument("--n-seeds", type=int, default=1)
    r.add_argument("--resamples", type=int, default=200)
    r.add_argument("--train-source", help="huang: the training source (default: the largest)")
    r.add_argument("--system", action="append", help="run only this system, e.g. 'Model 3' (repeatable)")
    r.add_argument("--source", action="append", help="use only the records of this source (repeatable)")
    r.add_argument("--no-rule", action="append", default=[], metavar="NAME",
                   help="switch one of the paper's data rules off (repeatable; 'all' for every one)")
    r.add_argument("--waves", help="zhu: an LUDB folder whose QRS annotations train Model 8's U-Net")
    r.add_argument("--split", choices=["both", "random", "lopo"], default="both",
                   help="zhu: the 80/20 random split, leave-one-source-out, or both (default)")
    r.add_argument("--report-only", action="store_true",
                   help="train nothing: write the report from the cells finished so far")
    r.set_defaults(func=_cmd_reproduce)
    return r


def _cmd_reproduce(args):
    if args.show_config:
        print(show_config(args.protocol, args.scale or "paper"))
        return 0
    if not args.data:
        raise SystemExit("skecg reproduce: give DATA folders (or 'sample'), or --show-config")
    from skecg.rules import RULES

    unknown = sorted(set(args.no_rule) - set(RULES) - {"all"})
    if unknown:
        raise SystemExit(f"skecg reproduce: unknown rule(s) {unknown}; the rules are {sorted(RULES)}")
    rules = [] if "all" in args.no_rule else [r for r in RULES_OF[args.protocol] if r not in args.no_rule]
    import matplotlib

    matplotlib.use("Agg")
    splits = ("random", "lopo") if args.split == "both" else (args.split,)
    path = run(args.protocol, args.data, args.output, test_only=args.test_only, scale=args.scale,
               n_seeds=args.n_seeds, n_resamples=args.resamples, train_source=args.train_source,
               systems=args.system, sources=args.source, report_only=args.report_only, rules=rules,
               waves=args.waves, splits=splits, log=lambda m: print(m, flush=True))
    print(f"report written to {path} (and {path.with_suffix('.md')}, tables/*.csv, figures/*.png|svg)")
    return 0

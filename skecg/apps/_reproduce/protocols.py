"""What each protocol runs: the papers' systems at a scale, the pairs compared, and
the numbers the papers published."""

from __future__ import annotations

import re
from dataclasses import dataclass

import skecg  # the root face imports skecg.<module> on first use, not at `skecg --help`

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


def published(protocol, name) -> str:
    """The published number beside system ``name``'s row, or :data:`OFFLINE`."""
    for key, text in PUBLISHED_ROW.get(protocol, {}).items():
        if name.startswith(key):
            return text
    return OFFLINE


# --- sizes ------------------------------------------------------------------------------
@dataclass
class Scale:
    """Sizes of one run.  ``small`` fits the bundled sample on 2 CPU cores in minutes;
    ``paper`` trains the papers' presets (:mod:`skecg.presets`) at the papers' sizes.

    The named scales take their sizes from the presets (``huang-small``, ``zhu-small``;
    ``huang-paper``, ``zhu-paper``), except what no preset holds: the long input of
    Zhu's Models 1-4 at small scale, CatBoost's iterations and the U-Net's epochs.
    """

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
        """The scale called ``name`` ('small' or 'paper'; 'full' is the old name of
        'paper'), or ``name`` itself when it is a Scale."""
        if isinstance(name, cls):
            return name
        if name == "small":
            huang, zhu = skecg.presets.get_preset("huang-small").params, skecg.presets.get_preset("zhu-small").params
            fs = zhu["estimator__estimator__resample__fs_out"]
            return cls("small", fs, zhu["estimator__estimator__pad__length"] // fs, 30, huang["net__max_epochs"],
                       huang["subset__n_per_class"], 150,
                       tuple(zhu["estimator__estimator__net__module__filters"]), 8)
        if name in ("paper", "full"):  # 'full' was the old name; it now means the papers' presets
            huang, zhu = skecg.presets.get_preset("huang-paper").params, skecg.presets.get_preset("zhu-paper").params
            long, short = ("estimator__estimator__estimators__long__estimator__",
                           "estimator__estimator__estimators__short__estimator__")
            fs = zhu[long + "prep__resample__fs_out"]
            return cls("paper", fs, zhu[short + "prep__pad__length"] // fs, zhu[long + "prep__pad__length"] // fs,
                       zhu[long + "net__max_epochs"], huang["subset__n_per_class"], 500, None, 60)
        raise ValueError(f"scale must be 'small' or 'paper', got {name!r}")


# --- systems ----------------------------------------------------------------------------
HUANG_SUBSETS = ("I", "II", "III", "IV")
ALL_DATA = "ResNet-1d, all training data"
DERIVED = "derived"  # a system computed from two trained ones (Model 6)
SEGMENT_RULE = "segment rule"  # Model 8: learns from wave annotations, not from the labels


def huang_systems(scale: Scale, random_state=0):
    """``{name: estimator}``: subsets I-IV x {ResNet-1d, attention ResNet-1d} (Tables 5-6),
    and a ResNet-1d on all the training data (Table 7)."""
    from skecg.pipelines import make_named_pipeline  # torch: kept out of `skecg --help`

    out = {}
    for net, label in (("huang", "ResNet-1d"), ("huang-attention", "attention ResNet-1d")):
        for subset in HUANG_SUBSETS:
            if scale.paper:
                pipe = skecg.presets.get_preset(f"{net}-paper").make_estimator(net__random_state=random_state,
                                                                subset__random_state=random_state)
            else:
                pipe = make_named_pipeline(net, fs=scale.fs, seconds=scale.seconds, max_epochs=scale.epochs,
                                           n_per_class=scale.n_per_class, random_state=random_state)
            pipe.set_params(subset__strategy=subset)
            out[f"{label}, subset {subset}"] = pipe
    from sklearn.base import clone  # scikit-learn loads with the systems, not at `skecg --help` (0.5 s)

    out[ALL_DATA] = clone(out["ResNet-1d, subset I"]).set_params(subset="passthrough")
    return out


def _zhu_net_params(scale: Scale, n_samples: int) -> dict:
    """Network-level parameters (``prep__*``, ``net__*``) of one SE-ResNet at this scale."""
    if scale.paper:
        prefix = "estimator__estimator__estimators__long__estimator__"
        d = {k[len(prefix):]: v for k, v in skecg.presets.get_preset("zhu-paper").to_dict().items() if k.startswith(prefix)}
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
    from skecg.baselines import make_catboost_baseline  # scipy.signal: kept out of `skecg --help`
    from skecg.tuning import MultilabelThresholdTuner  # torch: kept out of `skecg --help`

    fs = scale.fs
    long, short = int(round(fs * scale.long_seconds)), int(round(fs * scale.seconds))
    names = {1: f"Model 1: SE-ResNet, 12 leads, {scale.long_seconds:g} s, no denoising",
             2: "Model 2: + wavelet denoising, CPSC relabelling, bradycardia rule",
             3: "Model 3: + Sign Loss, sinus-rhythm fallback",
             4: f"Model 4: 8 leads, {long} samples",
             5: f"Model 5: 8 leads, {short} samples",
             6: "Model 6: ensemble of Models 4 and 5"}
    out = {}
    for m in range(1, 6):
        est = skecg.presets.zhu_system(m, fs=fs, long=long, short=short)
        n = short if m == 5 else long
        params = {}
        for key, net, _, _ in skecg.presets.networks(est):
            prefix = key[:-len("net")]
            steps = skecg.presets.get_deep_param(est, prefix + "prep").named_steps
            params.update({prefix + k: v for k, v in _zhu_net_params(scale, n).items()
                           if not k.startswith("prep__") or k.split("__")[1] in steps})
            params[prefix + "net__random_state"] = random_state
            if m in (1, 2):
                params[prefix + "net__criterion"] = "bce"
        skecg.presets.set_deep_params(est, params)
        out[names[m]] = est
    out[names[6]] = (DERIVED, names[4], names[5])
    it = scale.catboost_iterations
    out["Model 7: CatBoost (HRV + age, sex), tuned"] = MultilabelThresholdTuner(
        make_catboost_baseline(iterations=it, thread_count=2, random_state=random_state),
        scoring="challenge", random_state=random_state)
    out["Model 8: U-Net rule (PVC)"] = (SEGMENT_RULE, waves)
    return out


def protocol_systems(protocol, scale: Scale, random_state=0, waves=None) -> dict:
    """``{name: estimator or (kind, ...)}`` of every system of ``protocol``, in the report's order."""
    if protocol == "huang":
        return huang_systems(scale, random_state)
    return zhu_systems(scale, random_state, waves=waves)


def choose_systems(all_systems: dict, wanted) -> dict:
    """The systems named in ``wanted`` (names, or ``'Model N'``), with the systems a
    derived one is computed from (Model 6 needs Models 4 and 5); all when ``wanted``
    is empty."""
    if not wanted:
        return all_systems
    chosen = {}
    for s in wanted:
        hits = [k for k in all_systems if k == s or (re.fullmatch(r"Model \d+", s) and k.startswith(s + ":"))]
        if not hits:
            raise ValueError(f"unknown system(s) [{s!r}]; choose from {list(all_systems)}")
        chosen.update({k: None for k in hits})
    for k in list(chosen):
        v = all_systems[k]
        if isinstance(v, tuple) and v[0] == DERIVED:
            chosen.update({v[1]: None, v[2]: None})
    return {k: v for k, v in all_systems.items() if k in chosen}


def model_number(name):
    """``N`` of a system called ``'Model N: ...'``, else None."""
    m = re.match(r"Model (\d+)", name)
    return int(m.group(1)) if m else None


def pairs(protocol, names) -> list:
    """The ``(A, B)`` pairs of systems compared by paired bootstrap in ``protocol``'s report."""
    if protocol == "zhu":
        deep = [n for n in names if (model_number(n) or 9) <= 6]
        out = list(zip(deep[1:3], deep[:2]))  # 2 vs 1, 3 vs 2
        by = {model_number(n): n for n in names}
        out += [(by[6], by[m]) for m in (4, 5) if 6 in by and m in by]
        out += [(by[6], by[7])] if 6 in by and 7 in by else []
        return out
    out = [(f"attention ResNet-1d, subset {s}", f"ResNet-1d, subset {s}") for s in HUANG_SUBSETS]
    out += [(f"{n}, subset I", f"{n}, subset IV") for n in ("ResNet-1d", "attention ResNet-1d")]
    out += [(f"attention ResNet-1d, subset {s}", ALL_DATA) for s in HUANG_SUBSETS]
    return out


def slug(s) -> str:
    """``s`` as a file name: runs of other characters than letters and digits become ``-``."""
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()

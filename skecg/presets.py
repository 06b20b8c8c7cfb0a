"""The papers' configurations as data: named presets of whole systems.

A :class:`Preset` holds one system's resolved configuration as ``set_params`` keys and
values, each number with its source (a section or table of the paper, or Ribeiro et
al.'s published code where Huang et al. defer to it), the data rules the paper applies
(:mod:`skecg.rules`), and builds the unfitted scikit-learn estimator.

- ``huang-paper`` / ``huang-attention-paper``: Ribeiro's ResNet-1d (6,421,910 parameters)
  without / with Huang's attention layer, at the papers' size.
- ``zhu-paper``: Zhu et al.'s final system: two SE-ResNets on 8 leads at 15,000 and 5,000
  samples, each trained on relabelled CPSC, averaged, the bradycardia rule gate and
  the sinus-rhythm fallback.
- ``*-small``: what ``skecg reproduce ... --scale small`` trains on the bundled sample.
- ``*-demo``: what :func:`skecg.pipelines.make_named_pipeline` builds by default
  (``skecg train``, ``skecg evaluate``, ``make demo``).

Sources, read for these presets:

- Ribeiro et al.'s published code, github.com/antonior92/automatic-ecg-diagnosis
  (``model.py``, ``train.py``), and their preprocessing code,
  github.com/antonior92/ecg-preprocessing (``preprocess.py``);
- the numbers of Huang et al.'s "Training" paragraph and Table 2, and of Zhu et al.'s
  section 2 and "Training" paragraph, as the project's issue 25 and ``GUIDE.md`` quote
  them (the full texts of both papers could not be read offline here).

Examples
--------
>>> p = get_preset("huang-paper")
>>> p.to_dict()["net__batch_size"], p.to_dict()["pad__length"]
(64, 4096)
>>> p.count_parameters()
{'net': 6421910}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from . import ensemble, labels, models, preprocessing, rules, sampling  # models, preprocessing: lazy faces
from .utils.estimator_tree import iter_estimators

CITATIONS = {
    "huang2024": "Huang et al. Generalization challenges in electrocardiogram deep learning: insights from "
                 "dataset characteristics and attention mechanism. Future Cardiol. 2024 (PMC11285255).",
    "zhu2021": "Zhu Z, Lan X, Zhao T, et al. Identification of 27 abnormalities from multi-lead ECG signals: "
               "an ensembled SE_ResNet framework with Sign Loss function. Physiol Meas 42 (2021) 065008.",
    "ribeiro2020": "Ribeiro AH et al. Automatic diagnosis of the 12-lead ECG using a deep neural network. "
                   "Nat Commun 11, 1760 (2020); code: github.com/antonior92/automatic-ecg-diagnosis.",
    "skecg": "skecg's own small sizes (not a paper's).",
}

RIBEIRO_CODE = "Ribeiro's code (automatic-ecg-diagnosis)"


# --- the estimator tree ---------------------------------------------------------------------
def _members(obj):
    """``{name: estimator}`` of a container of named members (LengthEnsemble), else None."""
    est = getattr(obj, "estimators", None)
    if isinstance(est, list) and est and all(isinstance(t, tuple) and len(t) == 2 for t in est):
        return dict(est)
    return None


def _child(obj, head):
    """The sub-estimator called ``head`` of ``obj`` (a parameter or a pipeline step), or None."""
    steps = getattr(obj, "named_steps", None)
    if steps is not None and head in steps:
        return steps[head]
    try:
        sub = obj.get_params(deep=False).get(head)
    except (AttributeError, TypeError):
        return None
    return sub if hasattr(sub, "get_params") and hasattr(sub, "fit") else None


def _walk(obj, key):
    """(object, rest of the key) that holds parameter ``key``: descends through parameters
    that are estimators, pipeline steps and, as ``estimators__NAME__...``, the named
    members of a :class:`~skecg.ensemble.LengthEnsemble` (as scikit-learn's own
    ensembles accept them)."""
    while "__" in key:
        head, rest = key.split("__", 1)
        members = _members(obj)
        if head == "estimators" and members is not None:
            name, _, rest2 = rest.partition("__")
            if name not in members or not rest2:
                raise ValueError(f"no ensemble member {name!r} (members: {sorted(members)}) for key {key!r}")
            obj, key = members[name], rest2
            continue
        sub = _child(obj, head)
        if sub is None:
            break
        obj, key = sub, rest
    return obj, key


def set_deep_params(estimator, params: Mapping[str, Any]):
    """``estimator.set_params`` for each key, the members of a LengthEnsemble included
    (``...__estimators__NAME__param``); returns the estimator.

    Examples
    --------
    >>> est = get_preset("zhu-paper").make_estimator()
    >>> _ = set_deep_params(est, {"estimator__estimator__estimators__short__estimator__net__lr": 5e-4})
    >>> get_deep_param(est, "estimator__estimator__estimators__short__estimator__net__lr")
    0.0005
    """
    # outer keys first: setting an outer estimator would replace what was set inside it
    for key in sorted(params, key=lambda k: k.count("__")):
        obj, rest = _walk(estimator, key)
        value = params[key]
        # TOML has arrays, not tuples: sequences are set as tuples (skecg's own defaults)
        obj.set_params(**{rest: tuple(value) if isinstance(value, list) else value})
    return estimator


def get_deep_param(estimator, key: str):
    """The value of parameter ``key`` (as :func:`set_deep_params` names it)."""
    obj, rest = _walk(estimator, key)
    params = obj.get_params(deep=True)
    if rest not in params:
        raise KeyError(f"{type(obj).__name__} has no parameter {rest!r} (key {key!r})")
    return params[rest]


def networks(est, prefix=""):
    """``[(key, ECGClassifier, n_leads, n_samples)]`` of every network in an unfitted
    estimator tree (:func:`skecg.utils.estimator_tree.iter_estimators`), with each
    network's input shape read from the steps before it: the leads of a
    :class:`~skecg.preprocessing.LeadSelector` (12 without one) and the length of a
    :class:`~skecg.preprocessing.PadTruncate` (None without one).

    ``key`` is the network's ``set_params`` prefix without its trailing ``__``
    (``'net'``, members of a LengthEnsemble as ``...estimators__NAME__...``: the keys
    :func:`set_deep_params` takes), after ``prefix``; ``''`` for a bare network.

    Examples
    --------
    >>> for key, net, leads, samples in networks(get_preset("zhu-paper").make_estimator()):
    ...     print(key.replace("estimator__", "e__"), leads, samples)
    e__e__estimators__long__e__net 8 15000
    e__e__estimators__short__e__net 8 5000
    """

    found = dict(iter_estimators(est, stop_at=models.ECGClassifier))
    return [(prefix + key, net, *_input_shape(found, key)) for key, net in found.items()
            if isinstance(net, models.ECGClassifier)]


def _input_shape(found: dict, key: str) -> tuple:
    """``(n_leads, n_samples)`` the estimator at ``key`` of ``found`` (keys of
    :func:`iter_estimators`) receives."""

    leads, samples = 12, None
    for step in _steps_before(found, key):
        if isinstance(step, preprocessing.LeadSelector):
            leads = len(step._out_leads())
        elif isinstance(step, preprocessing.PadTruncate) and step.length is not None:
            samples = int(step.length)
    return leads, samples


def _steps_before(found: dict, key: str) -> list:
    """The pipeline steps that run before the estimator at ``key``, in order: the
    earlier steps of the pipeline holding it, after those of the pipelines around that
    one when it is itself a step; an earlier step that is a pipeline gives its steps."""
    parent, _, name = key.rpartition("__")
    steps = getattr(found.get(parent), "steps", None) if key else None
    names = [n for n, *_ in steps or []]
    if name not in names:
        return []

    def flat(step):
        inner = getattr(step, "steps", None)
        return [leaf for _, sub, *_ in inner for leaf in flat(sub)] if inner is not None else [step]

    return _steps_before(found, parent) + [leaf for _, step, *_ in steps[:names.index(name)] for leaf in flat(step)]


def count_parameters(net, n_leads: int, n_samples: int, n_classes: int) -> int:
    """Trainable parameters of an (unfitted) :class:`~skecg.models.ECGClassifier`'s
    network for inputs of this shape (the torch module is built, nothing is trained).

    Examples
    --------
    >>> from skecg.models import ECGClassifier
    >>> count_parameters(ECGClassifier("resnet1d"), 12, 4096, 6)
    6421910
    """
    kwargs = dict(net.get_params_for("module"))
    kwargs.setdefault("n_leads", int(n_leads))
    kwargs.setdefault("n_samples", int(n_samples))
    kwargs.setdefault("n_classes", int(n_classes))
    module = net._module_class()(**kwargs)
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))


# --- presets --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Preset:
    """One system's configuration at one size.

    Parameters
    ----------
    name : str
    paper : str
        Citation key (:data:`CITATIONS`).
    description : str
    system : {'huang', 'huang-attention', 'zhu', 'catboost'}
        Which structure :meth:`make_estimator` builds.
    params : mapping
        The resolved configuration: ``set_params`` keys (members of a
        :class:`~skecg.ensemble.LengthEnsemble` as ``estimators__NAME__...``) -> values.
    sources : mapping
        Key -> where its value comes from.
    rules : tuple of str
        The data rules (:data:`skecg.rules.RULES`) the paper applies, on by default;
        they act on the data when loading, not in the estimator.
    vocabulary : str
        The label vocabulary the system predicts.
    size : {'paper', 'small', 'demo'}
    notes : tuple of str
        Where the configuration departs from the paper, and why.
    """

    name: str
    paper: str
    description: str
    system: str
    params: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)
    rules: tuple = ()
    vocabulary: str = "tnmg"
    size: str = "paper"
    notes: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))

    # the estimator
    def make_estimator(self, **overrides):
        """The unfitted estimator (preprocessing, network(s), and the paper's gate,
        fallback and ensemble), with ``overrides`` (``set_params`` keys) applied last.

        Examples
        --------
        >>> est = get_preset("huang-paper").make_estimator(net__max_epochs=3)
        >>> est.get_params()["net__max_epochs"], est.get_params()["resample__fs_out"]
        (3, 400)
        """
        est = _BUILDERS[self.system](self)
        set_deep_params(est, {**self.params, **overrides})
        return est

    def to_dict(self) -> dict:
        """The resolved configuration, flat: ``set_params`` keys -> values (numbers,
        strings, booleans and lists: what TOML holds), read back from the built
        estimator.  ``make_estimator(**to_dict())`` builds the same estimator.

        Examples
        --------
        >>> get_preset("zhu-paper").to_dict()["estimator__estimator__threshold"]
        0.36
        """
        est = _BUILDERS[self.system](self)
        set_deep_params(est, self.params)
        out = {}
        for key in self.params:
            v = get_deep_param(est, key)
            out[key] = list(v) if isinstance(v, tuple) else v
        return out

    def count_parameters(self) -> dict:
        """``{network key: trainable parameters}`` of every network of the system, each
        built as a torch module at the input shape the preprocessing gives it."""

        k = len(labels.get_vocabulary(self.vocabulary).classes)
        est = self.make_estimator()
        out = {}
        for key, net, leads, samples in networks(est):
            out[key or "net"] = count_parameters(net, leads, samples or 4096, k)
        return out

    def networks(self) -> list:
        """``[(key, module name, n_leads, n_samples, n_parameters)]`` of every network."""

        k = len(labels.get_vocabulary(self.vocabulary).classes)
        rows = []
        for key, net, leads, samples in networks(self.make_estimator()):
            module = net.module if isinstance(net.module, str) else getattr(net.module, "__name__", str(net.module))
            rows.append((key, module, leads, samples, count_parameters(net, leads, samples or 4096, k)))
        return rows

    def describe(self) -> str:
        """The text of ``--show-config``: the configuration with each value's source,
        the data rules, and each network's input shape and parameter count."""

        vocab = labels.get_vocabulary(self.vocabulary)
        lines = [f"preset {self.name!r} ({self.size} size): {self.description}",
                 f"paper: {CITATIONS.get(self.paper, self.paper)}",
                 f"classes: {len(vocab.classes)} ({self.vocabulary!r} vocabulary)", "", "configuration:"]
        cfg = self.to_dict()
        width = max(len(k) for k in cfg)
        for key, value in cfg.items():
            src = self.sources.get(key, "")
            lines.append(f"  {key:<{width}} = {value!r}" + (f"   # {src}" if src else ""))
        lines += ["", "networks (torch modules built at their input shape; nothing trained):"]
        for key, module, leads, samples, n in self.networks():
            lines.append(f"  {key}: {module}, input {leads} leads x {samples} samples, {n:,} trainable parameters")
        lines += ["", "data rules (on; switch off with --no-rule NAME or rules=[...]):" if self.rules
                  else "data rules: none"]
        for r in self.rules:
            lines.append(f"  {r}: {rules.RULES[r].description}")
        if self.notes:
            lines += ["", "notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(lines)


# --- builders -----------------------------------------------------------------------------
def _build_huang(p: Preset):
    from imblearn.pipeline import Pipeline


    module = "attention_resnet1d" if p.system == "huang-attention" else "resnet1d"
    return Pipeline([
        ("subset", sampling.TrainingSubsetSampler("I", random_state=0)),
        ("resample", preprocessing.Resampler(400)),
        ("pad", preprocessing.PadTruncate(length=4096)),
        ("net", models.ECGClassifier(module, "bce", random_state=0)),
    ])


def _zhu_network(n_samples: int, leads, denoise: bool, fs: float = 500):
    # scikit-learn's Pipeline (imbalanced-learn's refuses a nested pipeline as a step): the
    # preprocessing stays one SignalPipeline, which runs the chain chunk by chunk
    from sklearn.pipeline import Pipeline

    from .pipelines import make_zhu_preprocessing  # pipelines imports torch; presets loads without it

    prep = make_zhu_preprocessing(fs, n_samples / fs, leads=leads)
    if not denoise:
        prep.steps = [s for s in prep.steps if s[0] != "denoise"]
    return Pipeline([("prep", prep), ("net", models.ECGClassifier("se_resnet1d", "sign", random_state=0))])


def zhu_system(model: int, *, fs: float = 500, long: int = 15000, short: int = 5000, relabel: bool = True):
    """The unfitted system of Zhu et al.'s Table 3, Model ``model`` (1-6), structure only
    (sizes and training settings come from a preset's ``params``).

    1. SE-ResNet, 12 leads, ``long`` samples (30 s), no denoising, BCE;
    2. + wavelet denoising, CPSC relabelling, the bradycardia rule gate;
    3. + Sign Loss and the sinus-rhythm fallback;
    4. / 5. as 3 on 8 leads, at ``long`` / ``short`` samples;
    6. the ensemble of 4 and 5 (the paper's final system, ``zhu-paper``).

    Examples
    --------
    >>> type(zhu_system(6)).__name__, type(zhu_system(1)).__name__
    ('SinusRhythmFallback', 'Pipeline')
    """

    def member(n, leads, denoise=True):
        net = _zhu_network(n, leads, denoise, fs)
        return ensemble.PseudoLabelRelabeler(net, sources=("CPSC",)) if relabel else net

    if model == 1:
        net = _zhu_network(long, "standard12", False, fs)
        net.set_params(net__criterion="bce")
        return net
    if model == 2:
        m = member(long, "standard12")
        _set_criterion(m, "bce")
        return ensemble.BradycardiaRuleGate(m, gated_class="426627000", mode="veto")
    if model == 3:
        return ensemble.SinusRhythmFallback(ensemble.BradycardiaRuleGate(member(long, "standard12"), gated_class="426627000",
                                                       mode="veto"))
    if model in (4, 5):
        n = long if model == 4 else short
        return ensemble.SinusRhythmFallback(ensemble.BradycardiaRuleGate(member(n, "independent8"), gated_class="426627000",
                                                       mode="veto"))
    if model == 6:
        ens = ensemble.LengthEnsemble([("long", member(long, "independent8")), ("short", member(short, "independent8"))])
        return ensemble.SinusRhythmFallback(ensemble.BradycardiaRuleGate(ens, gated_class="426627000", mode="veto"))
    raise ValueError(f"Zhu et al.'s Table 3 has Models 1-6, got {model!r}")


def _set_criterion(est, criterion):
    inner = est.estimator if hasattr(est, "estimator") else est
    inner.set_params(net__criterion=criterion)


def _build_zhu(p: Preset):
    from .pipelines import make_named_pipeline  # pipelines imports torch; presets loads without it

    if p.size == "paper":
        return zhu_system(6)
    # small and demo: what make_named_pipeline('zhu') builds (sizes set by params)
    return make_named_pipeline("zhu")


def _build_named(p: Preset):
    from .pipelines import make_named_pipeline  # pipelines imports torch; presets loads without it

    return make_named_pipeline(p.system)


_BUILDERS = {"huang": lambda p: _build_huang(p) if p.size == "paper" else _build_named(p),
             "huang-attention": lambda p: _build_huang(p) if p.size == "paper" else _build_named(p),
             "zhu": _build_zhu, "catboost": _build_named}


# --- the papers' numbers -----------------------------------------------------------------------
HUANG_T2 = "Huang et al., Table 2 / 'Training'"
_HUANG_PAPER = {
    # data: Huang et al., Table 2: 3,000 records per class and for normal (21,000 per subset)
    "subset__strategy": ("I", "Huang et al., Table 2: subset I (balanced, random)"),
    "subset__n_per_class": (3000, "Huang et al., Table 2: 3,000 per class, 21,000 per subset"),
    "subset__allow_smaller": (False, "a paper-size subset needs 21,000 records"),
    # input: Ribeiro's README: 400 Hz, 4,096 samples; ecg-preprocessing/preprocess.py pads
    # with zeros on both sides ((4096 - n) // 2 on the left)
    "resample__fs_out": (400, f"{RIBEIRO_CODE} README: 400 Hz"),
    "pad__length": (4096, f"{RIBEIRO_CODE} model.py: Input(shape=(4096, 12))"),
    "pad__mode": ("center", "ecg-preprocessing preprocess.py: zeros on both sides"),
    # network: model.py get_model()
    "net__module__stem_filters": (64, f"{RIBEIRO_CODE} model.py: Conv1D(64, kernel_size)"),
    "net__module__filters": ([128, 196, 256, 320], f"{RIBEIRO_CODE} model.py: ResidualUnit(..., 128/196/256/320)"),
    "net__module__kernel_size": (16, f"{RIBEIRO_CODE} model.py: kernel_size = 16; Huang 'Training': kernel 16"),
    "net__module__downsample": (4, f"{RIBEIRO_CODE} model.py: 4096 -> 1024 -> 256 -> 64 -> 16 samples"),
    # model.py today (tensorflow.keras version): ResidualUnit(dropout_keep_prob=0.8) and
    # self.dropout_rate = 1 - dropout_keep_prob, so "dropout 0.8" is a keep probability: a drop
    # rate of 0.2.  The first published model.py (keras, 2020) had dropout_rate=0.8 passed to
    # Dropout(0.8), a drop rate of 0.8; load_ribeiro_keras keeps whatever rate a file records.
    "net__module__dropout": (0.2, f"{RIBEIRO_CODE} model.py: dropout_rate = 1 - dropout_keep_prob (0.8)"),
    "net__criterion": ("bce", f"{RIBEIRO_CODE} train.py: loss='binary_crossentropy' (sigmoid outputs)"),
    # training: train.py (Huang's 'Training' paragraph gives the same batch and rate)
    "net__lr": (1e-3, f"{RIBEIRO_CODE} train.py: lr = 0.001 (Adam); Huang 'Training'"),
    "net__batch_size": (64, f"{RIBEIRO_CODE} train.py: batch_size = 64; Huang 'Training'"),
    "net__max_epochs": (200, "Huang 'Training': 200 epochs (Ribeiro's train.py: 70)"),
    "net__patience": (9, f"Huang 'Training'; {RIBEIRO_CODE} train.py: EarlyStopping(patience=9)"),
    "net__callbacks__early_stopping__threshold": (1e-5, f"{RIBEIRO_CODE} train.py: min_delta=0.00001"),
    "net__callbacks__early_stopping__threshold_mode": ("abs", "Keras' min_delta is an absolute change"),
    "net__lr_schedule": ("ribeiro", f"{RIBEIRO_CODE} train.py: ReduceLROnPlateau(monitor='val_loss', factor=0.1, "
                                    "patience=7, min_lr=lr / 100), as ECGClassifier(lr_schedule='ribeiro')"),
    "net__init": ("keras", f"{RIBEIRO_CODE} model.py: kernel_initializer='he_normal'; Keras batch norms "
                           "(momentum 0.99, eps 1e-3), as ECGClassifier(init='keras')"),
    "net__valid_size": (0.02, f"{RIBEIRO_CODE} train.py: --val_split default 0.02 (Huang does not say)"),
    "net__threshold": (0.5, "sigmoid outputs at 0.5 (Huang reports no tuned thresholds)"),
    "net__tune_thresholds": (False, "thresholds are not tuned in either paper's code"),
}
_HUANG_NOTES = (
    "PadTruncate truncates records longer than 4,096 samples (10.24 s at 400 Hz) from the start; Ribeiro's "
    "preprocess.py keeps the centre (CPSC has records up to 60 s).",
    "Ribeiro's early stopping keeps the last weights and saves the best ones apart (ModelCheckpoint "
    "save_best_only); skecg restores the best weights at the end.",
    "Ribeiro's validation split is the last 2 % of the file; skecg's is 2 % of the patients at random.",
)

_ZHU_NET = "estimator__estimator__estimators__{m}__estimator__"
_ZHU_PAPER = {
    "estimator__estimator__estimators__long__estimator__prep__pad__length":
        (15000, "Zhu et al., section 2: 30 s at 500 Hz"),
    "estimator__estimator__estimators__short__estimator__prep__pad__length":
        (5000, "Zhu et al., section 2: 10 s at 500 Hz"),
}
for _m in ("long", "short"):
    _k = _ZHU_NET.format(m=_m)
    _ZHU_PAPER.update({
        _k + "prep__leads__leads": ("independent8", "Zhu et al., section 2: 8 independent leads (I, II, V1-V6)"),
        _k + "prep__resample__fs_out": (500, "Zhu et al., section 2: resampled to 500 Hz"),
        _k + "prep__denoise__wavelet": ("bior2.6", "Zhu et al., section 2.4: bior2.6 wavelet denoising"),
        _k + "prep__denoise__level": (8, "Zhu et al., section 2.4: level 8"),
        _k + "net__module": ("se_resnet1d", "Zhu et al., Fig. 2: SE-ResNet (widths: skecg's SEResNet1d defaults)"),
        _k + "net__criterion": ("sign", "Zhu et al.: the Sign Loss"),
        _k + "net__lr": (1e-3, "Zhu et al., 'Training': Adam at 1e-3"),
        _k + "net__lr_schedule": ("zhu", "Zhu et al., 'Training': 1e-3 -> 1e-4 at epoch 13 (StepLR 13, 0.1)"),
        _k + "net__batch_size": (16, "Zhu et al., 'Training': batch 16"),
        _k + "net__max_epochs": (19, "Zhu et al., 'Training': 19 epochs"),
        _k + "net__patience": (0, "fixed 19 epochs: 0 = no early stopping"),
        _k + "net__valid_size": (0.0, "fixed epochs and threshold: no validation part is needed"),
        _k + "net__threshold": (0.36, "Zhu et al., 'Training': one threshold, 0.36"),
        _k + "net__tune_thresholds": (False, "one fixed threshold"),
        _k[:-len("estimator__")] + "sources": (["CPSC"], "Zhu et al.: CPSC relabelled for training"),
    })
_ZHU_PAPER.update({
    "estimator__estimator__threshold": (0.36, "Zhu et al., 'Training': one threshold, 0.36"),
    "estimator__gated_class": ("426627000", "Zhu et al., Algorithms 1-2: bradycardia (426627000, not SB)"),
    "estimator__mode": ("veto", "Zhu et al., Algorithm 2: a model positive stands where the rule holds"),
    "estimator__low": (1.0, "Zhu et al., Algorithm 1: R-R within [1.0, 1.6] s"),
    "estimator__high": (1.6, "Zhu et al., Algorithm 1"),
    "normal_class": ("426783006", "Zhu et al.: no positive class -> sinus rhythm"),
})
_ZHU_NOTES = (
    "The SE-ResNet's widths and kernel are skecg's SEResNet1d defaults (documented there as Zhu et al.'s "
    "Fig. 2); the relabelling threshold (0.8) is PseudoLabelRelabeler's default: neither could be checked "
    "against the paper's text offline.",
    "Each ensemble member relabels CPSC with its own first fit, so Model 6 equals the ensemble of Models 4 "
    "and 5 as trained alone.",
)


def _split(table):
    return {k: v for k, (v, _) in table.items()}, {k: s for k, (_, s) in table.items()}


def _named(system, size, params, vocabulary, description, rules=()):
    return Preset(f"{system}-{size}", "skecg", description, system, params,
                  {k: f"skecg {size} size" for k in params}, rules=tuple(rules), vocabulary=vocabulary, size=size)


def _build_presets() -> dict:
    presets = {}
    hp, hs = _split(_HUANG_PAPER)
    for system, what in (("huang", "Ribeiro's ResNet-1d"), ("huang-attention", "ResNet-1d with Huang's attention")):
        params = dict(hp)
        if system == "huang-attention":
            params["net__module"] = "attention_resnet1d"
            hs = {**hs, "net__module": "Huang et al., Fig. 1b: attention at the rear of the ResNet-1d"}
        presets[f"{system}-paper"] = Preset(
            f"{system}-paper", "huang2024", f"{what} on training subset I at the papers' size", system, params, hs,
            rules=("huang-cpsc", "huang-snh"), vocabulary="tnmg", size="paper", notes=_HUANG_NOTES)
    zp, zs = _split(_ZHU_PAPER)
    presets["zhu-paper"] = Preset(
        "zhu-paper", "zhu2021", "the final system: two SE-ResNets (8 leads, 15,000 and 5,000 samples at 500 Hz) "
        "trained on relabelled CPSC, averaged, bradycardia rule gate, sinus-rhythm fallback (Table 3, Model 6)",
        "zhu", zp, zs, rules=("zhu-incart", "zhu-unscored"), vocabulary="cinc2020", size="paper", notes=_ZHU_NOTES)
    # skecg reproduce --scale small: 100 Hz, 10 s, 3 epochs (skecg.apps.reproduce's Scale('small') reads them here)
    small_net = {"resample__fs_out": 100, "pad__length": 1024, "net__max_epochs": 3, "subset__n_per_class": 20}
    for system in ("huang", "huang-attention"):
        presets[f"{system}-small"] = _named(system, "small", small_net, "tnmg",
                                            "skecg reproduce's small scale on the bundled sample")
        presets[f"{system}-demo"] = _named(system, "demo", {**small_net, "net__max_epochs": 12}, "tnmg",
                                           "make_named_pipeline's default (skecg train/evaluate, make demo)")
    zsmall = {"estimator__estimator__resample__fs_out": 100, "estimator__estimator__pad__length": 1000,
              "estimator__estimator__net__max_epochs": 3,
              "estimator__estimator__net__module__filters": [16, 32, 32, 64]}
    presets["zhu-small"] = _named("zhu", "small", zsmall, "cinc2020",
                                  "skecg reproduce's small scale on the bundled sample")
    presets["zhu-demo"] = _named("zhu", "demo", {**zsmall, "estimator__estimator__net__max_epochs": 12,
                                                 "estimator__estimator__net__module__filters": [32, 64, 64, 128]},
                                 "cinc2020", "make_named_pipeline's default (skecg train/evaluate, make demo)")
    presets["catboost-demo"] = _named("catboost", "demo", {"estimator__catboost__iterations": 200}, "tnmg",
                                      "make_named_pipeline's default CatBoost baseline, thresholds tuned")
    return presets


#: Every preset by name.
PRESETS: dict = _build_presets()


def list_presets() -> list:
    """Names of the presets, sorted.

    Examples
    --------
    >>> "huang-paper" in list_presets() and "zhu-paper" in list_presets()
    True
    """
    return sorted(PRESETS)


def get_preset(name: str) -> Preset:
    """The preset called ``name``; a ``KeyError`` listing the names otherwise.

    Examples
    --------
    >>> get_preset("zhu-paper").paper
    'zhu2021'
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"no preset {name!r}; choose one of {', '.join(list_presets())}") from None

"""Model files that load without executing code, and that say what they hold.

A fitted estimator is saved as a zip archive (``.skecg``) holding

- ``model.json``: the estimator tree: for each estimator its class (by name), its
  ``get_params(deep=False)`` and its fitted attributes, as JSON; the configuration and
  ``info`` given to :func:`save_model`; the model card's facts (training data, held-out
  metrics, versions);
- ``arrays/*.npy``: numeric arrays, read back with ``numpy.load(allow_pickle=False)``;
- ``weights/*.safetensors``: the weights of each :class:`~skecg.models.ECGClassifier`
  (safetensors: a JSON header and raw tensor bytes, no pickle), its classes, thresholds
  and input shape in ``model.json``;
- ``history/*.json``: the skorch training history (``history_``) of each classifier;
- ``optimizer/*.safetensors``: the optimizer state, when saved with
  ``optimizer_state=True`` (so that ``partial_fit`` on the loaded model continues);
- ``catboost/*.cbm``: CatBoost models in CatBoost's own binary format.

Loading builds only classes of :data:`TRUSTED_TYPES` (an explicit list: skecg's
estimators and a few scikit-learn containers) and the classes the caller names with
``trusted=``, by calling their constructor with the saved parameters (scikit-learn
estimators only store them) and setting the saved fitted attributes.  Nothing in the file
is unpickled: a file naming any other class, or holding a pickle, is refused with
:class:`UnsafeModelFileError`.  :func:`get_untrusted_types` and :func:`inspect_model` (CLI
``skecg inspect``) read what a file would build without building it; :func:`model_card`
writes its model card.  Pickle and joblib files can still be read with
:func:`load_pickle_model`, which the CLI only calls under ``--trust-pickle``.

Format versions: 2 (this skecg writes it) adds safetensors weights, the training
history, the optimizer state, the configuration and the model card; files of version 1
(``.pt`` weights read with ``torch.load(weights_only=True)``) still load.

Why not ``skops.io``: skops cannot save a torch module or tensor without trusting
torch's pickle reconstruction functions, and CatBoost models would go through
CatBoost's own pickling; every pipeline of skecg holds one of the two.  The format
here uses each library's own non-executing format for those parts (safetensors, CatBoost
``.cbm``) and plain JSON for the rest; its ``trusted=`` follows skops'.
"""

from __future__ import annotations

import bz2
import datetime
import importlib
import importlib.metadata
import inspect as _inspect
import io
import json
import lzma
import math
import os
import pickle
import platform
import struct
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path

import joblib
import numpy as np

from ._version import __version__
from .labels import CLASS_INFO, VOCABULARIES

# torch (with safetensors.torch and skorch), catboost, scikit-learn and skecg.models are
# imported inside the functions that need them: the command line imports this module to
# start, and most of its commands never touch a network


def _is_estimator(v) -> bool:
    """A scikit-learn estimator (scikit-learn is loaded already when one is being saved)."""
    from sklearn.base import BaseEstimator

    return isinstance(v, BaseEstimator)

FORMAT = "skecg-model"
#: The format version :func:`save_model` writes.
FORMAT_VERSION = 2
#: The format versions :func:`load_model` reads.
READABLE_VERSIONS = (1, 2)

#: The classes a model file may name without ``trusted=``.  Loading any other class is refused.
TRUSTED_TYPES = (
    "skecg.baselines.CatBoostECGClassifier",
    "skecg.ensemble.BradycardiaRuleGate",
    "skecg.ensemble.SinusRhythmFallback",
    "skecg.ensemble.LengthEnsemble",
    "skecg.ensemble.PseudoLabelRelabeler",
    "skecg.ensemble.DeepFeatures",
    "skecg.models._classifier.ECGClassifier",
    "skecg.preprocessing._transformers.LeadSelector",
    "skecg.preprocessing._transformers.PadTruncate",
    "skecg.preprocessing._transformers.Resampler",
    "skecg.preprocessing._transformers.WaveletDenoiser",
    "skecg.preprocessing._transformers.RRFeatureExtractor",
    "skecg.preprocessing._pipeline.SignalPipeline",
    "imblearn.pipeline.Pipeline",
    "skecg.sampling.TrainingSubsetSampler",
    "skecg.tuning.MultilabelThresholdTuner",
    "sklearn.pipeline.Pipeline",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.impute._base.SimpleImputer",
)

#: Classes that may appear as parameter values (e.g. ``optimizer=torch.optim.AdamW``):
#: never instantiated by loading itself, and accepted only from these modules and of these
#: base classes (torch optimizers, losses, data loaders and data sets, skecg's torch modules).
_TRUSTED_PARAM_TYPE_MODULES = ("torch.optim.", "torch.nn.modules.loss", "torch.utils.data.", "skorch.dataset.",
                               "skecg.")

#: CatBoost model classes that may appear as a fitted attribute (saved as ``.cbm``).
_CATBOOST_TYPES = ("CatBoostClassifier", "CatBoostRegressor", "CatBoost")

_CLASSIFIER = "skecg.models._classifier.ECGClassifier"

#: Classes that moved: the dotted name a file of an earlier version may hold -> the class's
#: name now.  Loading, ``trusted=`` and inspection read an old name as the new one.
_MOVED_TYPES = {
    "skecg.segmentation.WaveSegmenter": "skecg.models._segmenter.WaveSegmenter",
}
_MAX_MEMBER_BYTES = 4 << 30  # refuse archives whose members claim more than 4 GiB


class UnsafeModelFileError(ValueError):
    """A model file was refused: it is a pickle, names a class that is not trusted, or is
    malformed.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "model.skecg")
    >>> _ = open(p, "w").write("hello")
    >>> try:
    ...     load_model(p)
    ... except UnsafeModelFileError as e:
    ...     print(str(e).split(" (")[0].rpartition("/")[2])
    model.skecg is not a skecg model file
    """


def _qualname(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _current_name(name):
    """A class's dotted name as this version spells it (:data:`_MOVED_TYPES`)."""
    return _MOVED_TYPES.get(name, name) if isinstance(name, str) else name


def _trusted_map(trusted) -> dict:
    """``trusted=`` (classes or ``"module.QualName"`` strings) as {name: class or None}."""
    if trusted is None:
        return {}
    if isinstance(trusted, (str, type)):
        trusted = [trusted]
    out = {}
    for t in trusted:
        if isinstance(t, type):
            name = _qualname(t)
            if "<locals>" in name:
                raise TypeError(f"trusted type {name} is defined inside a function, so a model file cannot name "
                                "it; define it at module level")
            out[name] = t
        elif isinstance(t, str) and "." in t.strip(".") and "<" not in t:
            out.setdefault(_current_name(t), None)
        else:
            raise TypeError(f"trusted= takes classes or 'module.QualName' strings, got {t!r}")
    return out


def _import_by_name(name: str):
    """The object called ``name`` ("package.module.Qual.Name"), importing its module."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for p in parts[i:]:
                obj = getattr(obj, p)
        except AttributeError:
            break
        return obj
    raise ImportError(f"no importable class {name!r}")


def _resolve(name, extra: dict):
    """The trusted class called ``name``; refuse any other name before importing it."""
    name = _current_name(name)
    if not isinstance(name, str) or (name not in TRUSTED_TYPES and name not in extra):
        raise UnsafeModelFileError(
            f"model file names class {name!r}, which is neither in skecg.persistence.TRUSTED_TYPES nor in "
            f"trusted=; refused (if you trust it, load with load_model(path, trusted=[{name!r}]); "
            "skecg.persistence.get_untrusted_types(path) lists all such types of a file)")
    cls = extra.get(name)
    if cls is None:
        try:
            cls = _import_by_name(name)
        except ImportError as e:
            raise UnsafeModelFileError(f"trusted class {name!r} cannot be imported here ({e})") from None
    if not isinstance(cls, type):
        raise UnsafeModelFileError(f"trusted name {name!r} is not a class; refused")
    return cls


def _param_type_ok(cls, name: str, extra: dict) -> bool:
    import torch

    if name in extra:
        return isinstance(cls, type)
    return (isinstance(cls, type) and name.startswith(_TRUSTED_PARAM_TYPE_MODULES)
            and issubclass(cls, (torch.optim.Optimizer, torch.nn.Module, torch.utils.data.DataLoader,
                                 torch.utils.data.Dataset)))


def _resolve_param_type(name, extra: dict):
    name = _current_name(name)
    if not isinstance(name, str) or not (name.startswith(_TRUSTED_PARAM_TYPE_MODULES) or name in extra):
        raise UnsafeModelFileError(f"model file names class {name!r} as a parameter, which is not trusted; "
                                   f"refused (if you trust it, load with load_model(path, trusted=[{name!r}]))")
    cls = extra.get(name)
    if cls is None:
        try:
            cls = _import_by_name(name)
        except ImportError as e:
            raise UnsafeModelFileError(f"class {name!r} cannot be imported here ({e})") from None
    if not _param_type_ok(cls, name, extra):
        raise UnsafeModelFileError(f"class {name!r} as a parameter value is not trusted; refused")
    return cls


def _plain(v):
    """``v`` as plain JSON data (history, metrics, configuration): numpy and torch
    scalars become numbers, tuples lists; what JSON cannot hold is kept as its ``repr``."""
    if v is None or isinstance(v, (bool, str, int)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(v)
    if isinstance(v, np.generic):
        return _plain(v.item())
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray) and v.size <= 10_000:
        return _plain(v.tolist())
    if type(v).__module__ == "torch" and getattr(v, "numel", lambda: 0)() == 1:
        return _plain(v.item())
    return repr(v)


def _st_save(tensors: dict) -> bytes:
    from safetensors.torch import save

    return save({k: t.detach().cpu().contiguous() for k, t in tensors.items()})


def _st_load(data: bytes, label: str) -> dict:
    from safetensors.torch import load

    try:
        return load(data)
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise UnsafeModelFileError(f"{label} is not a readable safetensors file ({type(e).__name__}: "
                                   f"{str(e)[:120]})") from None


def _st_header(data: bytes) -> dict:
    """The JSON header of safetensors bytes (names, dtypes, shapes), reading no tensor."""
    if len(data) < 8:
        raise ValueError("too short")
    n = struct.unpack("<Q", data[:8])[0]
    if n > len(data) - 8 or n > 100 << 20:
        raise ValueError("header length out of range")
    head = json.loads(data[8:8 + n])
    head.pop("__metadata__", None)
    return head


# --- saving ---------------------------------------------------------------------------
class _Writer:
    def __init__(self, zf: zipfile.ZipFile, extra: dict, optimizer_state: bool):
        self.zf = zf
        self.extra = extra
        self.optimizer_state = optimizer_state
        self.n = 0
        self.n_classifiers = 0

    def _member(self, folder, ext, data: bytes) -> str:
        self.n += 1
        name = f"{folder}/{self.n}.{ext}"
        self.zf.writestr(name, data)
        return name

    def value(self, v, where: str):
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (int, np.integer)) and not isinstance(v, np.bool_):
            return int(v) if isinstance(v, int) else {"__npscalar__": str(v.dtype), "value": int(v)}
        if isinstance(v, (float, np.floating)):
            f = float(v)
            enc = f if math.isfinite(f) else {"__float__": repr(f)}
            return enc if isinstance(v, float) else {"__npscalar__": str(v.dtype), "value": enc}
        if isinstance(v, np.bool_):
            return {"__npscalar__": "bool", "value": bool(v)}
        if isinstance(v, tuple):
            return {"__tuple__": [self.value(x, f"{where}[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, list):
            return [self.value(x, f"{where}[{i}]") for i, x in enumerate(v)]
        if isinstance(v, (set, frozenset)):
            return {"__set__": [self.value(x, f"{where} item") for x in sorted(v, key=repr)]}
        if isinstance(v, dict):
            return {"__dict__": [[self.value(k, f"{where} key"), self.value(x, f"{where}[{k!r}]")]
                                 for k, x in v.items()]}
        if isinstance(v, np.ndarray):
            if v.dtype.kind in "biufc":
                buf = io.BytesIO()
                np.save(buf, v, allow_pickle=False)
                return {"__ndarray__": self._member("arrays", "npy", buf.getvalue())}
            if v.dtype.kind in "OUS":
                flat = [self.value(x, f"{where}[...]") for x in v.ravel().tolist()]
                if not all(x is None or isinstance(x, (str, int, float, bool)) for x in flat):
                    raise TypeError(f"{where}: object array holds values other than str/number")
                return {"__objarray__": flat, "shape": list(v.shape), "dtype": v.dtype.str}
        if isinstance(v, np.dtype):
            return {"__dtype__": v.str}
        if isinstance(v, type) and issubclass(v, np.generic):
            return {"__dtype__": np.dtype(v).str}
        if isinstance(v, np.random.RandomState):  # kept as its state (numbers only)
            kind, keys, pos, has_gauss, gauss = v.get_state()
            return {"__randomstate__": [kind, self.value(keys, where), pos, has_gauss, gauss]}
        if isinstance(v, np.random.Generator):
            return {"__generator__": self.value(v.bit_generator.state, where)}
        if type(v).__name__ in _CATBOOST_TYPES and type(v).__module__.startswith("catboost"):
            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "m.cbm")
                v.save_model(p, format="cbm")
                data = Path(p).read_bytes()
            return {"__catboost__": self._member("catboost", "cbm", data), "class": type(v).__name__}
        if _is_estimator(v) or _qualname(type(v)) in self.extra:
            return self.estimator(v, where)
        if isinstance(v, type):
            name = _qualname(v)
            if not _param_type_ok(v, name, self.extra):
                raise TypeError(f"{where}: class {name} as a parameter value is not trusted; if you trust it, "
                                f"allow it with save_model(..., trusted=[{name!r}]) and load the file with "
                                f"load_model(..., trusted=[{name!r}])")
            return {"__type__": name}
        hint = (f"; if its parameters and fitted attributes are plain data, allow it with save_model(..., "
                f"trusted=[{_qualname(type(v))!r}])" if hasattr(v, "fit") and hasattr(v, "get_params") else "")
        raise TypeError(f"{where}: cannot save a {type(v).__module__}.{type(v).__qualname__} "
                        f"in a safe model file{hint}")

    def estimator(self, est, where: str):
        name = _qualname(type(est))
        if name not in TRUSTED_TYPES and name not in self.extra:
            raise TypeError(f"{where}: {name} is not a trusted type of skecg model files; if its parameters and "
                            f"fitted attributes are plain data (numbers, strings, arrays, estimators), allow it "
                            f"with save_model(..., trusted=[{name!r}]) and load the file with "
                            f"load_model(..., trusted=[{name!r}])")
        if "<locals>" in name:
            raise TypeError(f"{where}: {name} is defined inside a function, so a model file cannot name it; "
                            "define it at module level")
        params = est.get_params(deep=False)
        node = {"__estimator__": name,
                "params": {k: self.value(v, f"{where}.{k}") for k, v in params.items()}}
        if name == _CLASSIFIER:
            self.classifier(est, node, where)
            return node
        node["state"] = {k: self.value(v, f"{where}.{k}") for k, v in vars(est).items()
                         if k not in params}
        return node

    def classifier(self, est, node, where):
        """An ECGClassifier's weights (safetensors), fitted facts, training state,
        history and, when asked, optimizer state."""
        import torch

        self.n_classifiers += 1
        if not hasattr(est, "classes_"):
            return
        buf = io.BytesIO()
        est.save_weights(buf)  # the classifier's own description of what rebuilds it
        buf.seek(0)
        saved = torch.load(buf, map_location="cpu", weights_only=True)  # what we just wrote
        node["weights"] = self._member("weights", "safetensors", _st_save(saved.pop("state_dict")))
        node["fitted"] = {"classes": [str(c) for c in saved["classes"]],
                          "thresholds": [float(t) for t in saved["thresholds"].tolist()],
                          "shape": [int(s) for s in saved["shape"]], "leads": list(saved.get("leads") or [])}
        node["train_state"] = {k: self.value(getattr(est, k), f"{where}.{k}")
                               for k in ("seed_", "np_rng_", "pos_weight_") if hasattr(est, k)}
        history = getattr(est, "history_", None)
        if history:
            node["history"] = self._member("history", "json", json.dumps(_plain(list(history))).encode())
        if self.optimizer_state:
            opt = getattr(est, "optimizer_", None)
            if opt is None:
                raise ValueError(f"{where}: optimizer_state=True, but this ECGClassifier has no optimizer state "
                                 "(it was loaded without one and not trained since)")
            sd = opt.state_dict()
            tensors, scalars = {}, []
            for pid, st in sd["state"].items():
                for k, x in st.items():
                    if isinstance(x, torch.Tensor):
                        tensors[f"{int(pid)}/{k}"] = x
                    else:
                        scalars.append([int(pid), str(k), self.value(x, f"{where}.optimizer_ state")])
            node["optimizer"] = {"class": _qualname(type(opt)),
                                 "tensors": self._member("optimizer", "safetensors", _st_save(tensors)),
                                 "scalars": scalars,
                                 "param_groups": self.value(sd["param_groups"], f"{where}.optimizer_")}
            scaler = getattr(est, "grad_scaler_", None)
            if scaler is not None:
                node["grad_scaler"] = _plain(scaler.state_dict())


def _vocabulary_name(classes):
    for v in VOCABULARIES.values():
        if tuple(str(c) for c in classes) == tuple(str(c) for c in v.classes):
            return v.name
    return None


def summarize_training_data(X, y, classes=None) -> dict:
    """The model card's facts about training data: records, patients and positive
    labels per class, overall and per source.

    Reads only the records' metadata (``X.meta``) and ``y``, never a signal, so a lazy
    container costs nothing.  :func:`save_model` calls it for ``train_data=(X, y)``.

    Parameters
    ----------
    X : ECGRecords or array-like
        The training records (plain arrays have no sources).
    y : array-like of shape (n_records, n_classes)
        0/1 labels.
    classes : sequence of str, optional
        The codes of ``y``'s columns; by default ``X.classes``, else column indices.

    Returns
    -------
    dict
        ``n_records``, ``n_patients`` (or None), ``classes``, ``positives`` (per class),
        ``sources`` (records per source, or None) and ``positives_by_source``.

    Examples
    --------
    >>> from skecg.datasets import load_sample
    >>> X, y = load_sample("tnmg", sources=["Georgia"])
    >>> s = summarize_training_data(X, y)
    >>> s["n_records"], s["sources"]
    (30, {'Georgia': 30})
    """
    y = np.asarray(y)
    if y.ndim != 2 or len(y) != len(X):
        raise ValueError(f"train_data: y has shape {y.shape} for {len(X)} records; expected (n_records, n_classes)")
    if classes is None:
        classes = getattr(X, "classes", None)
    classes = [str(c) for c in classes] if classes is not None and len(classes) == y.shape[1] \
        else [str(i) for i in range(y.shape[1])]
    meta = getattr(X, "meta", None)
    out = {"n_records": int(len(y)), "n_patients": None, "classes": classes,
           "positives": dict(zip(classes, (int(v) for v in y.sum(0)))), "sources": None, "positives_by_source": None}
    if meta is not None and "patient_id" in meta and meta["patient_id"].notna().any():
        out["n_patients"] = int(meta["patient_id"].nunique())
    if meta is not None and "source" in meta:
        src = meta["source"].fillna("(unknown)").astype(str).to_numpy()
        names = sorted(set(src))
        out["sources"] = {s: int((src == s).sum()) for s in names}
        out["positives_by_source"] = {s: dict(zip(classes, (int(v) for v in y[src == s].sum(0)))) for s in names}
    return out


def save_model(estimator, path, *, trusted=None, config=None, metrics=None, train_data=None,
               optimizer_state: bool = False, **info) -> Path:
    """Save a fitted estimator to a model file that loads without executing code.

    The file holds the estimator tree, each :class:`~skecg.models.ECGClassifier`'s
    weights and training history, and a model card (see :func:`model_card`).

    Parameters
    ----------
    estimator : estimator
        Built from the classes of :data:`TRUSTED_TYPES` (all of skecg's pipelines) and
        of ``trusted``.
    path : str or Path
        Where to write (conventionally ``*.skecg``).
    trusted : sequence of class or str, optional
        More classes the file may name (e.g. your own pipeline step), as classes or
        ``"module.QualName"`` strings.  Their parameters and fitted attributes must be
        plain data (numbers, strings, arrays, containers, estimators); the file can only
        be loaded by ``load_model(path, trusted=[...])`` naming them too.
    config : dict, optional
        The training configuration (e.g. ``skecg train``'s resolved settings), plain
        JSON data; shown by ``skecg inspect`` and in the model card.
    metrics : dict, optional
        Held-out metrics, e.g. ``{"macro_auroc": 0.93, "test_source": "Georgia"}``
        (nested dicts allowed); shown in the model card.
    train_data : (X, y), optional
        The training records and labels, summarised for the model card (records per
        source, positives per class; :func:`summarize_training_data`).  Only metadata
        and labels are kept, never a signal.  Without it the card says the training
        data were not recorded.
    optimizer_state : bool, default=False
        Also keep each classifier's optimizer state (Adam's moments), so that
        ``partial_fit`` on the loaded model continues where training stopped.
        With Adam, about triples the file's size (two moments per weight).
    **info : JSON-serialisable values
        Stored with the model and returned by ``load_model(..., return_info=True)``,
        e.g. the pipeline name.

    Returns
    -------
    Path

    Raises
    ------
    TypeError
        The estimator holds a class that is not trusted (the message says how to allow
        it) or a value no safe file can hold (a function, an open file, ...).

    See Also
    --------
    load_model, inspect_model, model_card

    Examples
    --------
    >>> import tempfile, os
    >>> from skecg.preprocessing import PadTruncate
    >>> p = os.path.join(tempfile.mkdtemp(), "pad.skecg")
    >>> _ = save_model(PadTruncate(length=100), p, config={"length": 100}, pipeline="pad")
    >>> load_model(p, return_info=True)
    (PadTruncate(length=100), {'pipeline': 'pad'})
    >>> inspect_model(p)["config"]
    {'length': 100}
    """
    import torch

    path = Path(path)
    extra = _trusted_map(trusted)
    try:
        json.dumps(info, allow_nan=False)
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"save_model: info and config must be plain JSON data ({e})") from None
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"save_model: config must be a dict, got {type(config).__name__}")
    if metrics is not None and not isinstance(metrics, dict):
        raise TypeError(f"save_model: metrics must be a dict, got {type(metrics).__name__}")
    classes = getattr(estimator, "classes_", None)
    classes = None if classes is None else [str(c) for c in classes]
    summary = None
    if train_data is not None:
        X, y = train_data
        summary = summarize_training_data(X, y, classes)
    card = {"created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "versions": {"skecg": __version__, "torch": torch.__version__.split("+")[0],
                         "scikit-learn": importlib.metadata.version("scikit-learn"), "numpy": np.__version__,
                         "python": platform.python_version()},
            "vocabulary": None if classes is None else {"name": _vocabulary_name(classes), "classes": classes},
            "training_data": summary, "metrics": None if metrics is None else _plain(metrics)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        w = _Writer(zf, extra, optimizer_state)
        tree = w.estimator(estimator, type(estimator).__name__)
        if optimizer_state and not w.n_classifiers:
            raise ValueError("save_model: optimizer_state=True, but the estimator holds no ECGClassifier")
        zf.writestr("model.json", json.dumps({
            "format": FORMAT, "version": FORMAT_VERSION, "skecg_version": __version__,
            "info": info, "config": config, "trusted": sorted(extra), "card": card, "estimator": tree}))
    tmp = path.with_name(path.name + ".partial")  # a failed write never leaves half a model file
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    return path


# --- loading --------------------------------------------------------------------------
def _read_pt(data: bytes, label: str, member: str):
    """The dict of a version-1 ``.pt`` member, read by torch's tensors-only loader; a
    pickle payload is refused in skecg's words, not torch's."""
    import torch

    try:
        with warnings.catch_warnings():  # torch's remarks on a damaged file's pickle protocol: ours says it
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise UnsafeModelFileError(
            f"{label}: the weights {member} hold pickled Python objects, not only tensors, and "
            "loading them could run code; refused") from None
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file
        raise UnsafeModelFileError(f"{label}: the weights {member} are not a readable torch tensor "
                                   f"file ({type(e).__name__}); refused") from None


class _Reader:
    def __init__(self, zf: zipfile.ZipFile, label: str, version: int, extra: dict):
        self.zf = zf
        self.label = label
        self.version = version
        self.extra = extra
        self.names = set(zf.namelist())

    def _bytes(self, name, folder, ext=None):
        if (not isinstance(name, str) or not name.startswith(folder + "/") or name not in self.names
                or (ext is not None and not name.endswith("." + ext))):
            raise UnsafeModelFileError(f"{self.label}: bad member reference {name!r}")
        return self.zf.read(name)

    def value(self, v):
        if v is None or isinstance(v, (bool, str, int, float)):
            return v
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if not isinstance(v, dict) or len(v) == 0:
            raise UnsafeModelFileError(f"{self.label}: malformed value {v!r:.80}")
        if "__estimator__" in v:
            return self.estimator(v)
        if "__tuple__" in v:
            return tuple(self.value(x) for x in v["__tuple__"])
        if "__set__" in v:
            return set(self.value(x) for x in v["__set__"])
        if "__dict__" in v:
            return {self.value(k): self.value(x) for k, x in v["__dict__"]}
        if "__float__" in v:
            return float(v["__float__"])
        if "__npscalar__" in v:
            return np.dtype(v["__npscalar__"]).type(self.value(v["value"]))
        if "__dtype__" in v:
            return np.dtype(v["__dtype__"])
        if "__type__" in v:
            return _resolve_param_type(v["__type__"], self.extra)
        if "__ndarray__" in v:
            data = self._bytes(v["__ndarray__"], "arrays")
            try:
                return np.load(io.BytesIO(data), allow_pickle=False)
            except ValueError as e:  # an object array: numpy refuses it without allow_pickle
                raise UnsafeModelFileError(f"{self.label}: array {v['__ndarray__']} refused ({e})") from None
            except Exception as e:  # noqa: BLE001 - a damaged header (numpy's tokenizer errors, EOF, ...)
                raise UnsafeModelFileError(f"{self.label}: array {v['__ndarray__']} is not a readable .npy file "
                                           f"({type(e).__name__}); refused") from None
        if "__objarray__" in v:
            dt = np.dtype(v["dtype"])
            if dt.kind not in "OUS":
                raise UnsafeModelFileError(f"{self.label}: bad object array dtype {dt}")
            flat = [self.value(x) for x in v["__objarray__"]]
            if not all(x is None or isinstance(x, (str, int, float, bool)) for x in flat):
                raise UnsafeModelFileError(f"{self.label}: object array holds non-plain values")
            out = np.empty(len(flat), dtype=dt)
            out[:] = flat
            return out.reshape(v["shape"])
        if "__randomstate__" in v:
            kind, keys, pos, has_gauss, gauss = v["__randomstate__"]
            rs = np.random.RandomState()
            rs.set_state((str(kind), self.value(keys), int(pos), int(has_gauss), float(gauss)))
            return rs
        if "__generator__" in v:
            state = self.value(v["__generator__"])
            if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
                raise UnsafeModelFileError(f"{self.label}: unsupported bit generator")
            g = np.random.Generator(np.random.PCG64())
            g.bit_generator.state = state
            return g
        if "__catboost__" in v:
            import catboost

            if v.get("class") not in _CATBOOST_TYPES:
                raise UnsafeModelFileError(f"{self.label}: CatBoost class {v.get('class')!r} refused")
            data = self._bytes(v["__catboost__"], "catboost")
            model = getattr(catboost, v["class"])()
            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "m.cbm")
                Path(p).write_bytes(data)
                try:
                    model.load_model(p, format="cbm")
                except Exception as e:  # noqa: BLE001 - CatBoostError on a damaged model
                    raise UnsafeModelFileError(f"{self.label}: CatBoost model {v['__catboost__']} is not readable "
                                               f"({type(e).__name__}); refused") from None
            return model
        raise UnsafeModelFileError(f"{self.label}: unknown value kind {sorted(v)[:3]}")

    def estimator(self, node):
        if not isinstance(node, dict):
            raise UnsafeModelFileError(f"{self.label}: malformed estimator entry {node!r:.80}")
        cls = _resolve(node.get("__estimator__"), self.extra)
        params = {k: self.value(x) for k, x in dict(node.get("params", {})).items()}
        try:
            est = cls(**params)
        except TypeError as e:
            raise UnsafeModelFileError(f"{self.label}: cannot rebuild {cls.__name__} ({e})") from None
        from .models import ECGClassifier

        if isinstance(est, ECGClassifier):
            return self.classifier(est, node)
        for k, x in dict(node.get("state", {})).items():
            if not isinstance(k, str) or k.startswith("__"):
                raise UnsafeModelFileError(f"{self.label}: bad attribute name {k!r}")
            setattr(est, k, self.value(x))
        return est

    def _weights_v1(self, member):
        return _read_pt(self._bytes(member, "weights", "pt"), self.label, member)

    def classifier(self, est, node):
        import torch

        if "weights" not in node:
            return est
        member = node["weights"]
        if self.version == 1:
            saved = self._weights_v1(member)
            if not isinstance(saved, dict) or "state_dict" not in saved:
                raise UnsafeModelFileError(f"{self.label}: the weights {member} are not skecg weights")
        else:
            fitted = node.get("fitted")
            if not isinstance(fitted, dict):
                raise UnsafeModelFileError(f"{self.label}: classifier entry without its fitted facts")
            saved = {"state_dict": _st_load(self._bytes(member, "weights", "safetensors"), f"{self.label}: {member}"),
                     "classes": [str(c) for c in fitted["classes"]],
                     "thresholds": torch.as_tensor([float(t) for t in fitted["thresholds"]], dtype=torch.float64),
                     "shape": [int(s) for s in fitted["shape"]], "leads": [str(s) for s in fitted.get("leads") or []]}
        for k, x in dict(node.get("train_state", {})).items():
            if k not in ("seed_", "np_rng_", "pos_weight_"):
                raise UnsafeModelFileError(f"{self.label}: bad training state {k!r}")
            setattr(est, k, self.value(x))
        buf = io.BytesIO()
        torch.save(saved, buf)  # tensors and plain values built above, handed to the classifier's loader
        buf.seek(0)
        try:
            est.load_weights(buf)
        except (RuntimeError, KeyError, ValueError, TypeError) as e:
            raise UnsafeModelFileError(f"{self.label}: the weights {member} do not fit the network the file "
                                       f"describes ({type(e).__name__}: {str(e)[:160]})") from None
        if "history" in node and ("optimizer" in node or not _has_lr_scheduler(est)):
            # without the optimizer state a learning-rate schedule cannot resume at the saved
            # epoch (torch needs the optimizer's initial_lr), so such a model starts a fresh
            # history, as it did before format 2; skecg inspect still shows the saved one
            from skorch.history import History

            data = self._bytes(node["history"], "history", "json")
            try:
                hist = json.loads(data)
            except ValueError:
                raise UnsafeModelFileError(f"{self.label}: {node['history']} is not valid JSON") from None
            if not isinstance(hist, list) or not all(isinstance(h, dict) for h in hist):
                raise UnsafeModelFileError(f"{self.label}: {node['history']} is not a training history")
            est.history_ = History(hist)
        if "optimizer" in node:
            self.optimizer(est, node)
        return est

    def optimizer(self, est, node):
        opt = node["optimizer"]
        tensors = _st_load(self._bytes(opt["tensors"], "optimizer", "safetensors"), f"{self.label}: {opt['tensors']}")
        state: dict = {}
        for key, t in tensors.items():
            pid, _, name = key.partition("/")
            state.setdefault(int(pid), {})[name] = t
        for pid, name, x in opt.get("scalars", []):
            state.setdefault(int(pid), {})[str(name)] = self.value(x)
        groups = self.value(opt["param_groups"])
        try:
            est._initialize_optimizer()
            if _qualname(type(est.optimizer_)) != opt.get("class"):
                raise ValueError(f"the file's optimizer state is of {opt.get('class')}, the classifier builds "
                                 f"{_qualname(type(est.optimizer_))}")
            est.optimizer_.load_state_dict({"state": state, "param_groups": groups})
        except (ValueError, KeyError, TypeError, RuntimeError) as e:
            raise UnsafeModelFileError(f"{self.label}: the optimizer state does not fit the classifier "
                                       f"({type(e).__name__}: {str(e)[:160]})") from None
        scaler = getattr(est, "grad_scaler_", None)
        if scaler is not None and isinstance(node.get("grad_scaler"), dict):
            scaler.load_state_dict(node["grad_scaler"])


def _has_lr_scheduler(est) -> bool:
    from skorch.callbacks import LRScheduler

    return any(isinstance(cb, LRScheduler) for _, cb in getattr(est, "callbacks_", []))


#: First bytes of joblib's compressed pickles, and the module that decompresses each.
_COMPRESSED_MAGIC = ((b"\x1f\x8b\x08", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "lzma"),
                     (b"\x04\x22\x4d\x18", "lz4"), (b"ZF0x", "zfile"))


def _is_pickle_stream(head: bytes) -> bool:
    """A pickle of protocol 2 to 5 (what pickle and joblib write) starts with PROTO n."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def is_pickle_file(path) -> bool:
    """Whether ``path`` is a pickle or joblib file: a pickle stream of protocol 2-5, plain
    or compressed (zlib, gzip, bz2, xz, lz4), recognised by its first bytes and, for a
    compressed file, by the start of what it decompresses to.  Nothing is unpickled.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    bool

    Examples
    --------
    >>> import pickle, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> _ = open(os.path.join(d, "m.pkl"), "wb").write(pickle.dumps({"a": 1}))
    >>> _ = open(os.path.join(d, "model.skecg"), "w").write("xyz: not a model")
    >>> is_pickle_file(os.path.join(d, "m.pkl")), is_pickle_file(os.path.join(d, "model.skecg"))
    (True, False)
    """
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if _is_pickle_stream(head):
        return True
    try:
        if head[:1] == b"x" and len(head) > 2 and (head[0] * 256 + head[1]) % 31 == 0:  # a zlib header
            return _is_pickle_stream(zlib.decompressobj().decompress(head, 16))
        for magic, kind in _COMPRESSED_MAGIC:
            if not head.startswith(magic):
                continue
            if kind == "gzip":
                return _is_pickle_stream(zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 16))
            if kind == "bz2":
                return _is_pickle_stream(bz2.BZ2Decompressor().decompress(head, 16))
            if kind == "lzma":
                return _is_pickle_stream(lzma.LZMADecompressor().decompress(head, 16))
            if kind == "zfile":  # joblib < 0.10: 'ZF', the length in hex, then a zlib stream
                return _is_pickle_stream(zlib.decompressobj().decompress(head[18:], 16))
            return True  # lz4 (frame magic of four specific bytes): decompressing needs the lz4 package
    except (zlib.error, OSError, EOFError, ValueError):
        return False
    return False


def _open_doc(path, zf: zipfile.ZipFile) -> dict:
    """``model.json`` of an open archive, checked for format and version."""
    total = sum(i.file_size for i in zf.infolist())
    if total > _MAX_MEMBER_BYTES:
        raise UnsafeModelFileError(f"{path}: archive members claim {total} bytes; refused")
    try:
        doc = json.loads(zf.read("model.json"))
    except KeyError:
        raise UnsafeModelFileError(f"{path} is a zip file without model.json; not a skecg model file") from None
    except (ValueError, RecursionError) as e:
        raise UnsafeModelFileError(f"{path}: model.json is not valid JSON ({type(e).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UnsafeModelFileError(f"{path} is not a skecg model file (format {doc.get('format')!r})"
                                   if isinstance(doc, dict) else f"{path}: malformed model.json")
    v = doc.get("version")
    if v not in READABLE_VERSIONS:
        newer = isinstance(v, int) and v > FORMAT_VERSION
        raise UnsafeModelFileError(
            f"{path}: model file format version {v!r}; this skecg reads versions "
            f"{READABLE_VERSIONS[0]} to {READABLE_VERSIONS[-1]}" + ("; upgrade skecg to load it" if newer else ""))
    if not isinstance(doc.get("estimator"), dict):
        raise UnsafeModelFileError(f"{path}: malformed model.json (no estimator entry)")
    return doc


def _check_archive(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if not zipfile.is_zipfile(path):
        if is_pickle_file(path):
            raise UnsafeModelFileError(
                f"{path} is a pickle/joblib file; skecg loads only its own safe model format (written by "
                "`skecg train` or skecg.persistence.save_model). Loading a pickle can run any code: "
                "use skecg.persistence.load_pickle_model (CLI: --trust-pickle) only for files you trust")
        raise UnsafeModelFileError(f"{path} is not a skecg model file (a skecg model file is a zip archive "
                                   "written by `skecg train` or skecg.persistence.save_model)")
    return path


def load_model(path, *, trusted=None, return_info: bool = False):
    """Load a model file written by :func:`save_model`, executing nothing from it.

    Only the classes of :data:`TRUSTED_TYPES` and of ``trusted`` are built, by their
    constructors; arrays, weights and optimizer state are read by non-executing
    readers (``numpy.load(allow_pickle=False)``, safetensors).  A loaded
    :class:`~skecg.models.ECGClassifier` has its training history (``history_``) and,
    if the file holds it, its optimizer state, so ``partial_fit`` continues training.
    Files of every format version in :data:`READABLE_VERSIONS` load.

    Parameters
    ----------
    path : str or Path
    trusted : sequence of class or str, optional
        More classes the file may build (your own steps), as classes or
        ``"module.QualName"`` strings: only those you trust, since building them runs
        their code.  :func:`get_untrusted_types` lists what a file needs.
    return_info : bool, default=False
        Also return the ``info`` dict given to :func:`save_model`.

    Returns
    -------
    estimator, or (estimator, info)

    Raises
    ------
    UnsafeModelFileError
        The file is a pickle/joblib file, names a class that is not trusted, holds a
        pickle anywhere, or is not a skecg model file.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> p = os.path.join(tempfile.mkdtemp(), "scaler.skecg")
    >>> _ = save_model(MinMaxScaler().fit([[0.0], [2.0]]), p, trusted=[MinMaxScaler])
    >>> get_untrusted_types(p)
    ['sklearn.preprocessing._data.MinMaxScaler']
    >>> load_model(p, trusted=["sklearn.preprocessing._data.MinMaxScaler"]).transform([[1.0]])
    array([[0.5]])
    """
    path = _check_archive(path)
    extra = _trusted_map(trusted)
    with zipfile.ZipFile(path) as zf:
        doc = _open_doc(path, zf)
        try:
            est = _Reader(zf, str(path), doc["version"], extra).estimator(doc["estimator"])
        except UnsafeModelFileError:
            raise
        except (TypeError, KeyError, AttributeError, ValueError, IndexError, OverflowError, RecursionError,
                zipfile.BadZipFile) as e:
            raise UnsafeModelFileError(f"{path}: malformed model file ({type(e).__name__}: {e})") from None
    return (est, doc.get("info", {})) if return_info else est


def load_pickle_model(path):
    """Load a pickle/joblib model file.  **This runs any code the file holds**: only
    for files you trust (the CLI calls it only under ``--trust-pickle``).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    object
        What the file holds (re-save an estimator with :func:`save_model`).

    Examples
    --------
    >>> import joblib, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "mine.joblib")
    >>> _ = joblib.dump({"a": 1}, p)   # a file you wrote yourself
    >>> load_pickle_model(p)
    {'a': 1}
    """
    return joblib.load(path)


# --- reading what a file holds, without building it -------------------------------------
def _is_node(v) -> bool:
    return isinstance(v, dict) and "__estimator__" in v


def _children(v, name):
    """(name, estimator node) pairs held in an encoded value: a node, or a list/tuple of
    nodes or of (name, node) steps."""
    if _is_node(v):
        return [(name, v)]
    items = v.get("__tuple__") if isinstance(v, dict) else v if isinstance(v, list) else None
    out = []
    for i, x in enumerate(items or []):
        if _is_node(x):
            out.append((f"{name}[{i}]", x))
        elif isinstance(x, dict) and isinstance(x.get("__tuple__"), list) and len(x["__tuple__"]) >= 2 \
                and isinstance(x["__tuple__"][0], str) and _is_node(x["__tuple__"][1]):
            out.append((x["__tuple__"][0], x["__tuple__"][1]))
    return out


def _display(v) -> str:
    """An encoded value as Python-like text (nothing is decoded from the archive)."""
    if isinstance(v, str):
        return repr(v)
    if v is None or isinstance(v, (bool, int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_display(x) for x in v) + "]"
    if not isinstance(v, dict):
        return "?"
    if "__tuple__" in v:
        items = v["__tuple__"]
        return "(" + ", ".join(_display(x) for x in items) + ("," if len(items) == 1 else "") + ")"
    if "__set__" in v:
        return "{" + ", ".join(_display(x) for x in v["__set__"]) + "}"
    if "__dict__" in v:
        return "{" + ", ".join(f"{_display(k)}: {_display(x)}" for k, x in v["__dict__"]) + "}"
    if "__float__" in v:
        return str(v["__float__"])
    if "__npscalar__" in v:
        return _display(v.get("value"))
    if "__type__" in v:
        return str(v["__type__"])
    if "__dtype__" in v:
        return f"dtype({v['__dtype__']!r})"
    if "__ndarray__" in v:
        return f"<array {v['__ndarray__']}>"
    if "__objarray__" in v:
        return "array([" + ", ".join(_display(x) for x in v["__objarray__"][:8]) + \
            (", ..." if len(v["__objarray__"]) > 8 else "") + "])"
    if "__catboost__" in v:
        return f"<{v.get('class')} {v['__catboost__']}>"
    if "__estimator__" in v:
        return f"<{str(v['__estimator__']).rpartition('.')[2]}>"
    if "__randomstate__" in v or "__generator__" in v:
        return "<random state>"
    return "?"


_DEFAULTS: dict = {}


def _defaults(name: str) -> dict:
    """Constructor defaults of a built-in trusted class, as display text (the class is
    imported only when it is one of skecg's :data:`TRUSTED_TYPES`)."""
    if name not in TRUSTED_TYPES:
        return {}
    if name not in _DEFAULTS:
        try:
            cls = _import_by_name(name)
            try:  # skecg's own class with its defaults (skorch's keyword defaults included)
                _DEFAULTS[name] = cls().get_params(deep=False)
            except TypeError:  # a required argument (a meta-estimator's estimator)
                sig = _inspect.signature(cls)
                _DEFAULTS[name] = {k: p.default for k, p in sig.parameters.items()
                                   if p.default is not _inspect.Parameter.empty}
        except (ImportError, TypeError, ValueError):
            _DEFAULTS[name] = {}
    return _DEFAULTS[name]


def _is_sampler(name) -> bool:
    """Whether a built-in trusted class is an imbalanced-learn sampler (applied in fit only)."""
    if name not in TRUSTED_TYPES:
        return False
    try:
        return hasattr(_import_by_name(name), "fit_resample")
    except ImportError:
        return False


def _same_as_default(default, shown: str) -> bool:
    if isinstance(default, type):
        return shown == _qualname(default)
    try:
        return repr(default) == shown
    except Exception:  # noqa: BLE001 - an odd default's repr
        return False


def _history_rows(hist) -> list:
    """Per-epoch scalars of a skorch history (the per-batch entries left out)."""
    rows = []
    for h in hist if isinstance(hist, list) else []:
        if isinstance(h, dict):
            rows.append({k: x for k, x in h.items() if k != "batches" and (x is None or isinstance(x, (bool, int,
                                                                                                        float, str)))})
    return rows


#: state-dict entries that are not learned parameters (batch-norm statistics)
_BUFFERS = (".running_mean", ".running_var", ".num_batches_tracked")


def _classifier_facts(zf, node, version, path_name) -> dict:
    facts = {"path": path_name, "module": _display(node.get("params", {}).get("module")),
             "module_params": {k[len("module__"):]: _display(x) for k, x in node.get("params", {}).items()
                               if k.startswith("module__")},
             "fitted": "weights" in node, "n_parameters": None, "classes": None, "thresholds": None,
             "shape": None, "leads": None, "optimizer_state": "optimizer" in node, "history": []}
    names = set(zf.namelist())
    try:
        if version == 1 and node.get("weights") in names and str(node["weights"]).endswith(".pt"):
            saved = _read_pt(zf.read(node["weights"]), "", node["weights"])
            facts.update(classes=[str(c) for c in saved["classes"]], thresholds=saved["thresholds"].tolist(),
                         shape=[int(s) for s in saved["shape"]], leads=list(saved.get("leads") or []) or None,
                         n_parameters=int(sum(t.numel() for k, t in saved["state_dict"].items()
                                              if t.is_floating_point() and not k.endswith(_BUFFERS))))
        elif node.get("weights") in names:
            fitted = node.get("fitted") or {}
            head = _st_header(zf.read(node["weights"]))
            facts.update(classes=fitted.get("classes"), thresholds=fitted.get("thresholds"),
                         shape=fitted.get("shape"), leads=fitted.get("leads") or None,
                         n_parameters=int(sum(math.prod(h["shape"]) for k, h in head.items()
                                              if str(h.get("dtype", "")).startswith(("F", "BF"))
                                              and not k.endswith(_BUFFERS))))
    except UnsafeModelFileError as e:  # reported, not raised: inspecting a bad file says what is bad
        facts["error"] = str(e).lstrip(": ")
    except Exception as e:  # noqa: BLE001
        facts["error"] = f"weights {node.get('weights')} unreadable ({type(e).__name__}: {str(e)[:120]})"
    if node.get("history") in names:
        try:
            facts["history"] = _history_rows(json.loads(zf.read(node["history"])))
        except ValueError:
            facts["error"] = f"history {node['history']} is not valid JSON"
    return facts


def _walk(zf, node, path_name, version, report, depth=0):
    if depth > 50:
        raise UnsafeModelFileError("model.json nests estimators more than 50 deep; refused")
    name = _current_name(node.get("__estimator__"))
    params, state = node.get("params") or {}, node.get("state") or {}
    if not isinstance(params, dict) or not isinstance(state, dict):
        raise UnsafeModelFileError(f"malformed estimator entry for {name!r}")
    defaults = _defaults(name) if isinstance(name, str) else {}
    entry = {"path": path_name, "class": name, "trusted": name in TRUSTED_TYPES, "params": {}, "children": []}
    kids = []
    for k, v in state.items():
        kids += _children(v, k)
    fitted_holders = {k[:-1] for k, v in state.items() if k.endswith("_") and _children(v, k)}
    for k, v in params.items():
        c = _children(v, k)
        if c:
            if k not in fitted_holders:  # the fitted copy (estimator_) is what predicts
                kids = c + kids
            continue
        shown = _display(v)
        if k.startswith("_") or (k in defaults and _same_as_default(defaults[k], shown)):
            continue
        entry["params"][k] = shown
    for k, v in {**params, **state}.items():  # parameter classes and CatBoost models, wherever they are
        _collect_types(v, report)
    if not isinstance(name, str) or (name not in TRUSTED_TYPES):
        report["untrusted_types"].add(str(name))
    if name == _CLASSIFIER:
        report["classifiers"].append(_classifier_facts(zf, node, version, path_name or "(root)"))
        report["classes"].append(report["classifiers"][-1]["classes"])
    elif isinstance(state.get("classes_"), dict) and isinstance(state["classes_"].get("__objarray__"), list):
        report["classes"].append([str(c) for c in state["classes_"]["__objarray__"]])
    if isinstance(name, str) and name.endswith("Pipeline"):
        steps = _children(params.get("steps"), "steps")
        for step_name, step in steps[:-1]:
            report["preprocessing"].append({"path": f"{path_name}__{step_name}" if path_name else step_name,
                                            "class": step.get("__estimator__"),
                                            "training_only": _is_sampler(step.get("__estimator__"))})
    for child_name, child in kids:
        full = f"{path_name}__{child_name}" if path_name else child_name
        entry["children"].append(_walk(zf, child, full, version, report, depth + 1))
    if isinstance(name, str) and name.endswith("Pipeline"):
        by_path = {c["path"]: c for c in entry["children"]}
        for p in report["preprocessing"]:
            if p["path"] in by_path:
                p["params"] = by_path[p["path"]]["params"]
    return entry


def _collect_types(v, report, depth=0):
    if depth > 50:
        return
    if isinstance(v, list):
        for x in v:
            _collect_types(x, report, depth + 1)
    elif isinstance(v, dict) and not _is_node(v):
        if "__type__" in v:
            t = v["__type__"]
            if not (isinstance(t, str) and t.startswith(_TRUSTED_PARAM_TYPE_MODULES)):
                report["untrusted_types"].add(str(t))
        elif "__catboost__" in v and v.get("class") not in _CATBOOST_TYPES:
            report["untrusted_types"].add(f"catboost.{v.get('class')}")
        for x in v.values():
            if isinstance(x, (list, dict)):
                _collect_types(x, report, depth + 1)


def inspect_model(path) -> dict:
    """What a model file holds and would build, read without building anything.

    Only ``model.json`` and the headers of the weight files are read (a version-1
    file's ``.pt`` weights through torch's tensors-only loader); no class named by the
    file is imported unless it is one of skecg's own :data:`TRUSTED_TYPES`.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
        ``format_version``, ``skecg_version``, ``info``, ``config``, ``tree`` (the
        estimator tree: ``path``, ``class``, ``trusted``, non-default ``params``,
        ``children``), ``untrusted_types``, ``classifiers`` (per
        :class:`~skecg.models.ECGClassifier`: network, parameters, vocabulary,
        thresholds, input shape, per-epoch ``history``, whether the optimizer state is
        kept), ``preprocessing`` (the pipeline steps before each final estimator),
        ``vocabulary`` and ``card`` (training data, held-out metrics, versions; empty
        for version-1 files).

    Raises
    ------
    UnsafeModelFileError
        The file is not a skecg model file (a pickle is named as such).

    See Also
    --------
    get_untrusted_types, model_card

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn.pipeline import Pipeline
    >>> from skecg.preprocessing import PadTruncate, Resampler
    >>> p = os.path.join(tempfile.mkdtemp(), "prep.skecg")
    >>> _ = save_model(Pipeline([("rs", Resampler(100)), ("pad", PadTruncate(length=1000))]), p)
    >>> r = inspect_model(p)
    >>> [(c["path"], c["class"].rpartition(".")[2], c["params"]) for c in r["tree"]["children"]]
    [('rs', 'Resampler', {'fs_out': '100'}), ('pad', 'PadTruncate', {'length': '1000'})]
    """
    path = _check_archive(path)
    with zipfile.ZipFile(path) as zf:
        doc = _open_doc(path, zf)
        report = {"untrusted_types": set(), "classifiers": [], "preprocessing": [], "classes": []}
        try:
            tree = _walk(zf, doc["estimator"], "", doc["version"], report)
        except UnsafeModelFileError:
            raise
        except (AttributeError, TypeError, ValueError, KeyError, RecursionError, zipfile.BadZipFile) as e:
            raise UnsafeModelFileError(f"{path}: malformed model file ({type(e).__name__}: {e})") from None
    card = doc.get("card") if isinstance(doc.get("card"), dict) else {}
    vocab = card.get("vocabulary")
    if not vocab:  # a version-1 file: the classes nearest the root of the tree
        found = [c for c in report["classes"] if c]
        vocab = {"name": _vocabulary_name(found[0]), "classes": found[0]} if found else None
    return {"path": str(path), "format_version": doc["version"], "skecg_version": doc.get("skecg_version"),
            "info": doc.get("info") or {}, "config": doc.get("config"), "trusted_at_save": doc.get("trusted") or [],
            "untrusted_types": sorted(report["untrusted_types"]), "tree": tree,
            "classifiers": report["classifiers"], "preprocessing": report["preprocessing"],
            "vocabulary": vocab, "card": card}


def get_untrusted_types(path) -> list:
    """The classes a model file would build that are not in :data:`TRUSTED_TYPES`,
    read without building or importing them (like ``skops.io.get_untrusted_types``).

    Pass the ones you trust to ``load_model(path, trusted=[...])``.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    list of str
        Sorted ``"module.QualName"`` names; empty when the file needs no ``trusted=``.

    Examples
    --------
    >>> import tempfile, os
    >>> from skecg.preprocessing import PadTruncate
    >>> p = os.path.join(tempfile.mkdtemp(), "pad.skecg")
    >>> get_untrusted_types(save_model(PadTruncate(length=10), p))
    []
    """
    return inspect_model(path)["untrusted_types"]


def _flatten(d, prefix="") -> list:
    out = []
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out += _flatten(v, key + " / ")
        else:
            out.append((key, v))
    return out


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return ", ".join(_fmt(x) for x in v) if v else "none"
    return str(v)


def _short(name) -> str:
    return str(name).rpartition(".")[2]


def _tree_line(entry) -> str:
    kids = entry["children"]
    if not kids:
        return _short(entry["class"])
    return f"{_short(entry['class'])}({', '.join(_tree_line(k) for k in kids)})"


def model_card(path) -> str:
    """The model card of a model file, as markdown.

    Training data (records and positives per class and source, when the file was
    saved with ``train_data=``), vocabulary and thresholds, preprocessing (each
    pipeline step and its non-default parameters), the network and its training
    (history, configuration), held-out metrics (when saved with ``metrics=``) and
    the versions that wrote it.  Read without building the model
    (:func:`inspect_model`); ``skecg inspect MODEL --card MODEL_CARD.md`` writes it.

    Parameters
    ----------
    path : str, Path or dict
        A model file, or what :func:`inspect_model` returned for one.

    Returns
    -------
    str

    Examples
    --------
    >>> import tempfile, os
    >>> from skecg.preprocessing import PadTruncate
    >>> p = os.path.join(tempfile.mkdtemp(), "pad.skecg")
    >>> _ = save_model(PadTruncate(length=10), p, metrics={"macro_f1": 0.5})
    >>> print(model_card(p).splitlines()[0])
    # Model card: pad.skecg
    """
    r = path if isinstance(path, dict) else inspect_model(path)
    card = r.get("card") or {}
    ver = card.get("versions") or {}
    lines = [f"# Model card: {Path(r['path']).name}", ""]
    lines.append(f"- Estimator: `{_tree_line(r['tree'])}`")
    written = f"skecg {r.get('skecg_version')} (model file format {r['format_version']})"
    if card.get("created"):
        written += f" on {card['created']}"
    if ver:
        written += "; " + ", ".join(f"{k} {v}" for k, v in ver.items() if k != "skecg")
    lines.append(f"- Written by {written}")
    if r.get("info"):
        def short(v):
            plain = v is None or isinstance(v, (str, int, float, bool))
            if plain or (isinstance(v, list) and len(v) <= 5 and all(not isinstance(x, (list, dict)) for x in v)):
                return _fmt(v)
            return "(see `skecg inspect --json`)"

        lines.append("- Info: " + ", ".join(f"{k}={short(v)}" for k, v in r["info"].items()))
    if r.get("untrusted_types"):
        lines.append("- Loading needs `trusted=` for: " + ", ".join(f"`{t}`" for t in r["untrusted_types"]))

    lines += ["", "## Labels", ""]
    vocab = r.get("vocabulary")
    clf = [c for c in r["classifiers"] if c.get("classes")]
    thr = dict(zip(clf[-1]["classes"], clf[-1]["thresholds"])) if len(clf) == 1 and clf[0].get("thresholds") \
        else {}
    if vocab:
        name = f"vocabulary `{vocab['name']}`, " if vocab.get("name") else ""
        lines += [f"{name}{len(vocab['classes'])} classes (SNOMED CT codes where the vocabulary uses them):", "",
                  "| code | abbreviation | name |" + (" threshold |" if thr else ""),
                  "|---|---|---|" + ("---|" if thr else "")]
        for c in vocab["classes"]:
            full, abbr = CLASS_INFO.get(str(c), ("", ""))
            lines.append(f"| {c} | {abbr} | {full} |" + (f" {thr[c]:.3g} |" if c in thr else ""))
    else:
        lines.append("No vocabulary recorded (the estimator is not a fitted classifier).")

    lines += ["", "## Training data", ""]
    td = card.get("training_data")
    if td:
        pats = f" of {td['n_patients']} patients" if td.get("n_patients") else ""
        src = td.get("sources") or {}
        lines.append(f"{td['n_records']} records{pats}" + (
            " from " + ", ".join(f"{s} ({n})" for s, n in src.items()) if src else "") + ".")
        lines.append("")
        by_src = td.get("positives_by_source") or {}
        cols = list(by_src) if len(by_src) > 1 else []
        lines.append("| class | positive records |" + "".join(f" {s} |" for s in cols))
        lines.append("|---|---|" + "---|" * len(cols))
        for c, n in td["positives"].items():
            abbr = CLASS_INFO.get(str(c), ("", ""))[1]
            lines.append(f"| {c}{' (' + abbr + ')' if abbr else ''} | {n} |"
                         + "".join(f" {by_src[s].get(c, 0)} |" for s in cols))
    else:
        lines.append("Not recorded in this file (save it with `save_model(..., train_data=(X, y))` "
                     "to keep records and positives per class and source).")

    lines += ["", "## Preprocessing", ""]
    if r["preprocessing"]:
        lines += ["| step | class | parameters (non-default) |", "|---|---|---|"]
        for p in r["preprocessing"]:
            params = ", ".join(f"{k}={v}" for k, v in (p.get("params") or {}).items())
            kind = " (training only: resamples the training records)" if p.get("training_only") else ""
            lines.append(f"| {p['path']} | {_short(p['class'])}{kind} | {params} |")
    else:
        lines.append("None: the estimator takes the records as they are.")

    lines += ["", "## Network and training", ""]
    if not r["classifiers"]:
        lines.append("No ECGClassifier in this model.")
    for c in r["classifiers"]:
        mp = ", ".join(f"{k}={v}" for k, v in c["module_params"].items())
        lines.append(f"- `{c['path']}`: {c['module']}" + (f" ({mp})" if mp else "")
                     + (f", {c['n_parameters']:,} parameters" if c.get("n_parameters") else "")
                     + (f", input {c['shape'][0]} leads x {c['shape'][1]} samples" if c.get("shape") else "")
                     + ("" if c["fitted"] else " (not fitted)"))
        h = c.get("history") or []
        if h:
            last = h[-1]
            losses = ", ".join(f"{k} {last[k]:.4g}" for k in ("train_loss", "valid_loss")
                               if isinstance(last.get(k), (int, float)))
            lines.append(f"  - trained {len(h)} epoch(s)" + (f"; last epoch: {losses}" if losses else ""))
        lines.append("  - optimizer state kept: " + ("yes (`partial_fit` continues training)"
                                                     if c["optimizer_state"] else "no"))
        if c.get("error"):
            lines.append(f"  - problem: {c['error']}")
    if r.get("config"):
        lines += ["", "Training configuration:", "", "```json", json.dumps(r["config"], indent=2, sort_keys=True),
                  "```"]

    lines += ["", "## Held-out metrics", ""]
    if card.get("metrics"):
        lines += ["| metric | value |", "|---|---|"] + [f"| {k} | {_fmt(v)} |" for k, v in _flatten(card["metrics"])]
    else:
        lines.append("None recorded (save with `save_model(..., metrics={...})` after evaluating on held-out data).")
    return "\n".join(lines) + "\n"

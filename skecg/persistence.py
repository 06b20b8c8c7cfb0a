"""Model files that load without executing code.

A fitted estimator is saved as a zip archive (``.skecg``) holding

- ``model.json``: the estimator tree: for each estimator its class (by name), its
  ``get_params(deep=False)`` and its fitted attributes, as JSON;
- ``arrays/*.npy``: numeric arrays, read back with ``numpy.load(allow_pickle=False)``;
- ``weights/*.pt``: the weights of each :class:`~skecg.models.ECGClassifier`
  (tensors only, read back with ``torch.load(weights_only=True)``);
- ``catboost/*.cbm``: CatBoost models in CatBoost's own binary format.

Loading builds only classes of :data:`TRUSTED_TYPES` (an explicit list: skecg's
estimators and a few scikit-learn containers), by calling their constructor with the
saved parameters (scikit-learn estimators only store them) and setting the saved
fitted attributes.  Nothing in the file is unpickled: a file naming any other class, or
holding a pickle, is refused with :class:`UnsafeModelFileError`.  Pickle and joblib
files can still be read with :func:`load_pickle_model`, which the CLI only calls under
``--trust-pickle``.

Why not ``skops.io``: skops cannot save a torch module or tensor without trusting
torch's pickle reconstruction functions, and CatBoost models would go through
CatBoost's own pickling; every pipeline of skecg holds one of the two.  The format
here uses each library's own non-executing format for those parts (tensors-only torch
files, CatBoost ``.cbm``) and plain JSON for the rest.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np

FORMAT = "skecg-model"
FORMAT_VERSION = 1

#: The classes a model file may name.  Loading any other class is refused.
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

_MAX_MEMBER_BYTES = 4 << 30  # refuse archives whose members claim more than 4 GiB
#: First bytes of pickle (protocol >= 2) and of joblib's compressed pickles
#: (zlib, gzip, bz2, xz, lz4).
_PICKLE_MAGIC = (b"\x80", b"x", b"ZF", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x04\x22\x4d\x18")


class UnsafeModelFileError(ValueError):
    """A model file was refused: it is a pickle, names a class outside
    :data:`TRUSTED_TYPES`, or is malformed."""


def _qualname(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _resolve(name: str):
    """The trusted class called ``name``; refuse any other name before importing it."""
    if name not in TRUSTED_TYPES:
        raise UnsafeModelFileError(
            f"model file names class {name!r}, which is not in skecg.persistence.TRUSTED_TYPES; refused")
    import importlib

    module, _, qual = name.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), qual)
    except (ImportError, AttributeError) as e:
        raise UnsafeModelFileError(f"trusted class {name!r} cannot be imported here ({e})") from None
    return cls


def _check_param_type(cls, name: str):
    import torch

    ok = (isinstance(cls, type) and name.startswith(_TRUSTED_PARAM_TYPE_MODULES)
          and issubclass(cls, (torch.optim.Optimizer, torch.nn.Module, torch.utils.data.DataLoader,
                               torch.utils.data.Dataset)))
    if not ok:
        raise UnsafeModelFileError(f"class {name!r} as a parameter value is not trusted; refused")


def _resolve_param_type(name: str):
    if not isinstance(name, str) or not name.startswith(_TRUSTED_PARAM_TYPE_MODULES):
        raise UnsafeModelFileError(f"model file names class {name!r} as a parameter; refused")
    import importlib

    module, _, qual = name.rpartition(".")
    try:
        cls = importlib.import_module(module)
        for part in qual.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError) as e:
        raise UnsafeModelFileError(f"class {name!r} cannot be imported here ({e})") from None
    _check_param_type(cls, name)
    return cls


# --- saving ---------------------------------------------------------------------------
class _Writer:
    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf
        self.n = 0

    def _member(self, folder, ext, data: bytes) -> str:
        self.n += 1
        name = f"{folder}/{self.n}.{ext}"
        self.zf.writestr(name, data)
        return name

    def value(self, v, where: str):
        from sklearn.base import BaseEstimator

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
            import os
            import tempfile

            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "m.cbm")
                v.save_model(p, format="cbm")
                data = Path(p).read_bytes()
            return {"__catboost__": self._member("catboost", "cbm", data), "class": type(v).__name__}
        if isinstance(v, BaseEstimator):
            return self.estimator(v, where)
        if isinstance(v, type):
            _check_param_type(v, _qualname(v))
            return {"__type__": _qualname(v)}
        raise TypeError(f"{where}: cannot save a {type(v).__module__}.{type(v).__qualname__} "
                        "in a safe model file")

    def estimator(self, est, where: str):
        name = _qualname(type(est))
        if name not in TRUSTED_TYPES:
            raise TypeError(f"{where}: {name} is not in skecg.persistence.TRUSTED_TYPES; "
                            "add it there if its fitted state is plain data")
        params = est.get_params(deep=False)
        node = {"__estimator__": name,
                "params": {k: self.value(v, f"{where}.{k}") for k, v in params.items()}}
        from .models import ECGClassifier

        if isinstance(est, ECGClassifier):
            if hasattr(est, "classes_"):
                buf = io.BytesIO()
                est.save_weights(buf)
                node["weights"] = self._member("weights", "pt", buf.getvalue())
            return node
        node["state"] = {k: self.value(v, f"{where}.{k}") for k, v in vars(est).items()
                         if k not in params}
        return node


def save_model(estimator, path, **info) -> Path:
    """Save a fitted estimator to a model file that loads without executing code.

    Parameters
    ----------
    estimator : estimator
        Built from the classes of :data:`TRUSTED_TYPES` (all of skecg's pipelines).
    path : str or Path
        Where to write (conventionally ``*.skecg``).
    **info : JSON-serialisable values
        Stored with the model and returned by ``load_model(..., return_info=True)``,
        e.g. the pipeline name.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, os
    >>> from skecg.preprocessing import PadTruncate
    >>> p = os.path.join(tempfile.mkdtemp(), "pad.skecg")
    >>> _ = save_model(PadTruncate(length=100), p, pipeline="pad")
    >>> load_model(p, return_info=True)
    (PadTruncate(length=100), {'pipeline': 'pad'})
    """
    from . import __version__

    path = Path(path)
    json.dumps(info)  # fail early on info that JSON cannot hold
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        w = _Writer(zf)
        tree = w.estimator(estimator, type(estimator).__name__)
        zf.writestr("model.json", json.dumps({
            "format": FORMAT, "version": FORMAT_VERSION, "skecg_version": __version__,
            "info": info, "estimator": tree}))
    path.write_bytes(buf.getvalue())
    return path


# --- loading --------------------------------------------------------------------------
class _Reader:
    def __init__(self, zf: zipfile.ZipFile, label: str):
        self.zf = zf
        self.label = label
        self.names = set(zf.namelist())

    def _bytes(self, name, folder):
        if not isinstance(name, str) or not name.startswith(folder + "/") or name not in self.names:
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
            return _resolve_param_type(v["__type__"])
        if "__ndarray__" in v:
            try:
                return np.load(io.BytesIO(self._bytes(v["__ndarray__"], "arrays")), allow_pickle=False)
            except ValueError as e:  # an object array: numpy refuses it without allow_pickle
                raise UnsafeModelFileError(f"{self.label}: array {v['__ndarray__']} refused ({e})") from None
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
            if state.get("bit_generator") != "PCG64":
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
            import os
            import tempfile

            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "m.cbm")
                Path(p).write_bytes(data)
                model.load_model(p, format="cbm")
            return model
        raise UnsafeModelFileError(f"{self.label}: unknown value kind {sorted(v)[:3]}")

    def estimator(self, node):
        cls = _resolve(node.get("__estimator__"))
        params = {k: self.value(x) for k, x in dict(node.get("params", {})).items()}
        try:
            est = cls(**params)
        except TypeError as e:
            raise UnsafeModelFileError(f"{self.label}: cannot rebuild {cls.__name__} ({e})") from None
        from .models import ECGClassifier

        if isinstance(est, ECGClassifier):
            if "weights" in node:
                data = self._bytes(node["weights"], "weights")
                try:  # torch.load(weights_only=True) inside: tensors and plain containers only
                    est.load_weights(io.BytesIO(data))
                except Exception as e:  # noqa: BLE001 - a refused payload or bad weights
                    raise UnsafeModelFileError(f"{self.label}: weights {node['weights']} refused or "
                                               f"unreadable ({type(e).__name__}: {str(e)[:200]})") from None
            return est
        for k, x in dict(node.get("state", {})).items():
            if not isinstance(k, str) or k.startswith("__"):
                raise UnsafeModelFileError(f"{self.label}: bad attribute name {k!r}")
            setattr(est, k, self.value(x))
        return est


def is_pickle_file(path) -> bool:
    """Whether ``path`` looks like a pickle or joblib file (by its first bytes)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    return head.startswith(_PICKLE_MAGIC)


def load_model(path, *, return_info: bool = False):
    """Load a model file written by :func:`save_model`, executing nothing from it.

    Parameters
    ----------
    path : str or Path
    return_info : bool, default=False
        Also return the ``info`` dict given to :func:`save_model`.

    Returns
    -------
    estimator, or (estimator, info)

    Raises
    ------
    UnsafeModelFileError
        The file is a pickle/joblib file, names a class outside
        :data:`TRUSTED_TYPES`, or is not a skecg model file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if not zipfile.is_zipfile(path):
        kind = "a pickle/joblib file" if is_pickle_file(path) else "not a skecg model file"
        raise UnsafeModelFileError(
            f"{path} is {kind}; skecg loads only its own safe model format (written by "
            "`skecg train` or skecg.persistence.save_model). Loading a pickle can run any code: "
            "use skecg.persistence.load_pickle_model (CLI: --trust-pickle) only for files you trust")
    with zipfile.ZipFile(path) as zf:
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
        if doc.get("version") != FORMAT_VERSION:
            raise UnsafeModelFileError(f"{path}: model file version {doc.get('version')!r}; this skecg "
                                       f"reads version {FORMAT_VERSION}")
        try:
            est = _Reader(zf, str(path)).estimator(doc.get("estimator") or {})
        except (TypeError, KeyError, AttributeError, RecursionError, zipfile.BadZipFile) as e:
            raise UnsafeModelFileError(f"{path}: malformed model file ({type(e).__name__}: {e})") from None
    return (est, doc.get("info", {})) if return_info else est


def load_pickle_model(path):
    """Load a pickle/joblib model file.  **This runs any code the file holds**: only
    for files you trust (the CLI calls it only under ``--trust-pickle``)."""
    import joblib

    return joblib.load(path)

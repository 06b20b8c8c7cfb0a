"""Export a fitted network for deployment outside Python: ONNX or TorchScript.

What is exported is the network of a fitted :class:`~skecg.models.ECGClassifier`
followed by the sigmoid: a graph from a float32 tensor ``(batch, n_leads, n_samples)``
to probabilities ``(batch, n_classes)``, with a dynamic batch axis.  The lead count and
length are those the classifier was fitted on.

Not exported, and written into the file's metadata instead (ONNX ``metadata_props``,
TorchScript's extra file ``skecg.json``): the class codes and abbreviations, the
decision thresholds (``predict`` is ``probabilities >= thresholds``), the lead order
the network expects, and, for a :class:`~sklearn.pipeline.Pipeline`, every step before
the classifier (e.g. ``Resampler(400)``, ``PadTruncate(4096)``), which the deploying
side has to apply itself: skecg's preprocessing runs scipy's polyphase filters,
wavelet denoising and R-peak detection in numpy and is not a torch graph.

The network is traced in its plain ``Conv1d`` form (``as_conv2d=False``, evaluation
mode) on a copy, whatever form the classifier runs in.  skecg's CPU fast path
(``as_conv2d=True``, the default on CPUs) fuses ReLU and dropout in a custom autograd
Function (``_ReluDropout``) that writes into a pre-padded channels-last buffer through
views; ``torch.jit.trace`` cannot follow those writes and stops with
``RuntimeError: unordered_map::at``.  Both forms hold the same weights and compute the
same function (``tests/models/test_nets_fast.py``), so nothing is lost by exporting the plain
one, which ONNX Runtime and TorchScript optimise in their own ways.

ONNX files come from torch's ``torch.export``-based exporter (``dynamo=True``; it needs
the ``onnx`` and ``onnxscript`` packages: ``pip install 'skecg[export]'``).  torch 2.13
marks TorchScript (``torch.jit``) deprecated in favour of ``torch.export`` and warns
when it saves or loads; its files still load in C++ (libtorch) without Python.

Examples
--------
>>> import numpy as np
>>> from skecg.models import load_ribeiro_keras
>>> clf = load_ribeiro_keras("tests/data/ribeiro/small_keras2.hdf5")
>>> info = export_model(clf, getfixture("tmp_path") / "ribeiro.onnx")
>>> info["format"], info["input_shape"], info["check"]["max_abs_diff"] <= 1e-4
('onnx', ['batch', 12, 4096], True)
"""

from __future__ import annotations

import copy
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.pipeline import Pipeline

from ._version import __version__
from .labels import get_vocabulary
from .models import ECGClassifier
from .persistence import load_model

FORMATS = ("onnx", "torchscript")
#: the ONNX opset written by default
ONNX_OPSET = 18


class _Probabilities(torch.nn.Module):
    """The network followed by the sigmoid, as ``predict_proba`` computes it."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, ecg):
        out = self.net(ecg)
        if isinstance(out, tuple):
            out = out[0]
        return torch.sigmoid(out.float())


def _final_classifier(estimator):
    """``(classifier, [steps before it])`` of an ECGClassifier, a Pipeline ending in one,
    or either wrapped in ``sklearn.frozen.FrozenEstimator``."""
    steps = []
    est = estimator
    while True:
        if type(est).__name__ == "FrozenEstimator" and hasattr(est, "estimator"):
            est = est.estimator
        elif isinstance(est, Pipeline):
            steps += [s for _, s in est.steps[:-1] if s is not None and s != "passthrough"]
            est = est.steps[-1][1]
        else:
            break
    if not isinstance(est, ECGClassifier):
        raise ValueError(f"only an ECGClassifier (or a Pipeline ending in one) holds a network to export; "
                         f"got {type(est).__module__}.{type(est).__qualname__}")
    if not hasattr(est, "classes_"):
        raise ValueError("the ECGClassifier is not fitted: fit or load it before exporting")
    return est, steps


def _plain_network(clf):
    """A CPU float32 copy of the classifier's network in its plain Conv1d form, in eval mode."""
    net = getattr(clf.module_, "_orig_mod", clf.module_)
    net = copy.deepcopy(net).cpu().float().eval()
    for m in net.modules():
        if hasattr(m, "as_conv2d"):
            m.as_conv2d = False
    return _Probabilities(net).eval()


def _metadata(clf, steps) -> dict:
    classes = [str(c) for c in clf.classes_]
    leads = list(clf.leads_) if getattr(clf, "leads_", None) else None
    return {
        "producer": f"skecg {__version__}",
        "network": type(getattr(clf.module_, "_orig_mod", clf.module_)).__name__,
        "input": "ecg",
        "input_shape": ["batch", int(clf.n_leads_), int(clf.n_samples_)],
        "output": "probabilities",
        "classes": classes,
        "abbreviations": get_vocabulary(classes).abbreviations,
        "thresholds": [float(t) for t in clf.thresholds_],
        "leads": leads,
        "preprocessing": [repr(s) for s in steps],
        "note": "float32 input (batch, leads, samples) in the lead order above; the preprocessing steps listed "
                "are not part of the graph and must be applied first; predict = probabilities >= thresholds",
    }


def _example(clf, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, int(clf.n_leads_), int(clf.n_samples_))) * 0.3).astype(np.float32)


def _export_onnx(model, x, path, meta, opset):
    import onnx

    batch = torch.export.Dim("batch", min=1)
    # the exporter logs a warning per torchvision operator it cannot register when
    # torchvision is absent; skecg's networks use none of them
    log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec", category=FutureWarning)  # torch's own
            program = torch.onnx.export(model, (torch.from_numpy(x),), dynamo=True, input_names=["ecg"],
                                        output_names=["probabilities"], dynamic_shapes=({0: batch},),
                                        opset_version=opset, verbose=False)
    finally:
        log.setLevel(level)
    program.save(str(path))
    proto = onnx.load(str(path))
    proto.doc_string = meta["note"]
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = f"skecg.{key}", value if isinstance(value, str) else json.dumps(value)
    onnx.save(proto, str(path))


def _export_torchscript(model, x, path, meta):
    with torch.no_grad(), warnings.catch_warnings():
        # the 'same' padding is computed from the input's length, which the trace fixes: the
        # length is the fitted one by design (only the batch axis is dynamic)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(model, torch.from_numpy(x), check_trace=False)
    torch.jit.save(traced, str(path), _extra_files={"skecg.json": json.dumps(meta)})


def run_exported(path, X) -> np.ndarray:
    """Probabilities of an exported file on ``X`` (float32, (n, leads, samples)):
    ONNX Runtime for ``.onnx`` files, ``torch.jit.load`` for TorchScript.

    Examples
    --------
    >>> import numpy as np
    >>> from skecg.models import load_ribeiro_keras
    >>> clf = load_ribeiro_keras("tests/data/ribeiro/small_keras3.h5")
    >>> path = getfixture("tmp_path") / "ribeiro.pt"
    >>> _ = export_model(clf, path, format="torchscript", check=False)
    >>> x = np.zeros((3, 12, 4096), np.float32)
    >>> bool(np.abs(run_exported(path, x) - clf.predict_proba(x)).max() <= 1e-4)
    True
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    path = Path(path)
    if _read_format(path) == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: X})[0]
    module = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        return module(torch.from_numpy(X)).numpy()


def _read_format(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(4)
    return "torchscript" if head[:2] == b"PK" else "onnx"  # TorchScript files are zip archives


def read_export_metadata(path) -> dict:
    """The skecg metadata of an exported file (classes, thresholds, leads, preprocessing ...).

    Examples
    --------
    >>> from skecg.models import load_ribeiro_keras
    >>> path = getfixture("tmp_path") / "m.pt"
    >>> _ = export_model(load_ribeiro_keras("tests/data/ribeiro/small_keras3.h5"), path, check=False)
    >>> read_export_metadata(path)["abbreviations"]
    ['1dAVb', 'RBBB', 'LBBB', 'SB', 'AF', 'ST']
    """
    path = Path(path)
    if _read_format(path) == "onnx":
        import onnx

        proto = onnx.load(str(path), load_external_data=False)
        meta = {}
        for p in proto.metadata_props:
            if p.key.startswith("skecg."):
                key = p.key[len("skecg."):]
                try:
                    meta[key] = json.loads(p.value)
                except ValueError:
                    meta[key] = p.value
        return meta
    extra = {"skecg.json": ""}
    torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return json.loads(extra["skecg.json"] or "{}")


def export_model(estimator, path, *, format=None, opset=ONNX_OPSET, check=True, check_input=None,
                 atol=1e-4) -> dict:
    """Write a fitted classifier's network as ONNX or TorchScript, with a dynamic batch axis.

    Parameters
    ----------
    estimator : ECGClassifier, Pipeline ending in one, or a model file path
        A path is read with :func:`skecg.persistence.load_model`.  A Pipeline's steps
        before the classifier are not exported; they are listed in the file's metadata.
    path : str or Path
        The file to write.
    format : {'onnx', 'torchscript'}, optional
        By default from the suffix: ``.pt``/``.ts``/``.torchscript`` give TorchScript,
        anything else ONNX.
    opset : int, default=18
        ONNX opset (ONNX only).
    check : bool, default=True
        Run the written file (ONNX Runtime, or ``torch.jit.load``) on ``check_input``
        and compare its probabilities with the classifier's ``predict_proba``; a
        difference above ``atol`` raises.  Skipped, and said so in the result, when
        ``onnxruntime`` is not installed.
    check_input : array of shape (n, n_leads, n_samples), optional
        Records to check on (already preprocessed); default: two records of random
        numbers (seeded).
    atol : float, default=1e-4

    Returns
    -------
    dict
        The metadata written into the file (``format``, ``input_shape``, ``classes``,
        ``thresholds``, ``leads``, ``preprocessing`` ...) and ``check``: the number of
        records compared and ``max_abs_diff`` (or why it was skipped).

    Examples
    --------
    >>> from skecg.models import load_ribeiro_keras
    >>> clf = load_ribeiro_keras("tests/data/ribeiro/small_keras2.hdf5")
    >>> info = export_model(clf, getfixture("tmp_path") / "ribeiro.pt")
    >>> info["format"], info["check"]["records"]
    ('torchscript', 2)
    """
    if isinstance(estimator, (str, Path)):
        estimator = load_model(estimator)
    clf, steps = _final_classifier(estimator)
    path = Path(path)
    if format is None:
        format = "torchscript" if path.suffix.lower() in (".pt", ".ts", ".torchscript", ".ptl") else "onnx"
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    meta = {"format": format, **_metadata(clf, steps)}
    model = _plain_network(clf)
    x = _example(clf)
    if format == "onnx":
        try:
            import onnx  # noqa: F401
            import onnxscript  # noqa: F401
        except ImportError as e:
            raise ImportError(f"ONNX export needs the packages onnx and onnxscript ({e}); install them with "
                              "pip install 'skecg[export]'") from None
        _export_onnx(model, x, path, meta, opset)
    else:
        _export_torchscript(model, x, path, meta)
    if check:
        X = _example(clf) if check_input is None else np.ascontiguousarray(check_input, dtype=np.float32)
        try:
            got = run_exported(path, X)
        except ImportError as e:
            meta["check"] = {"skipped": f"onnxruntime is not installed ({e})"}
        else:
            want = clf.predict_proba(X)
            diff = float(np.abs(got - want).max())
            meta["check"] = {"records": int(len(X)), "max_abs_diff": diff}
            if not diff <= atol:
                raise RuntimeError(f"the exported {format} file {path} gives probabilities up to {diff:.3g} away "
                                   f"from skecg's (tolerance {atol:g}); it was written but should not be used")
    return meta

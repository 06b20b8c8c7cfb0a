"""Ribeiro et al.'s published Keras network, read into :class:`ECGClassifier` with h5py alone.

Ribeiro et al. (Nature Communications 11, 1760, 2020) released the trained DNN of
their paper as a Keras HDF5 file (``model.hdf5``, https://doi.org/10.5281/zenodo.3625017).
Its architecture is the ``model.py`` of github.com/antonior92/automatic-ecg-diagnosis,
which is skecg's :class:`~skecg.models.ResNet1d`.  This module reads the file's layer
graph (its JSON ``model_config``) and weights with h5py, checks that the graph is that
architecture, and copies every weight into a ``ResNet1d``.  No TensorFlow or Keras is
imported and nothing in the file is executed.

Layout conventions (Keras, ``channels_last``) and how they map to torch:

* input: Keras takes ``(batch, 4096, 12)``; skecg ``(batch, 12, 4096)`` (leads first).
* ``Conv1D`` kernels are ``(k, in, out)``; torch ``Conv1d`` weights ``(out, in, k)``:
  ``weight = kernel.transpose(2, 1, 0)``.  No convolution has a bias.
* 'same' padding with stride ``s`` (TensorFlow's rule, also Keras 3's torch backend):
  output length ``ceil(n / s)``, total padding ``max((ceil(n / s) - 1) * s + k - n, 0)``,
  ``total // 2`` zeros on the left and the rest on the right: asymmetric for even
  kernels (k = 16 pads 7 left and 8 right at stride 1, 6 and 6 at stride 4 on 4096
  samples).  :class:`~skecg.models.SameConv1d` pads exactly so.
* ``BatchNormalization``: ``gamma, beta, moving_mean, moving_variance`` become
  ``weight, bias, running_mean, running_var``.  Keras' epsilon is 1e-3 (the file's
  config gives it), torch's 1e-5: the difference is added to the running variance
  (``running_var = moving_variance + eps_keras - eps_torch``), which leaves
  ``var + eps`` and hence every output unchanged and survives saving with
  :func:`skecg.save_model` (``eps`` itself is not in a torch state dict).  Keras'
  ``momentum`` 0.99 (the weight of the old statistic) is torch's 0.01; skecg's
  networks keep torch's default 0.1, which only matters when training further.
* residual unit: the skip path is ``MaxPooling1D(s, strides=s, padding='same')``
  then, where the width changes, a 1-tap convolution (no batch norm); the main path
  conv - BN - ReLU - dropout - strided conv; their sum is the next unit's skip input
  and, after BN - ReLU - dropout, its main input.  On lengths divisible by ``s``
  (4096, 1024, 256, 64) 'same' max-pooling adds no padding and equals torch's
  ``MaxPool1d(s, ceil_mode=True)``.
* ``Flatten`` of a ``(time, channels)`` map orders features time-major
  (``t * C + c``), torch's flatten of ``(channels, time)`` channel-major
  (``c * T + t``): the dense kernel ``(T * C, n)`` is reshaped to ``(T, C, n)`` and
  transposed to ``(n, C, T)`` before flattening to torch's ``(n, C * T)``.
* ``Dropout(rate)``: Keras' ``rate`` is the fraction of units *dropped* (keras.io,
  Dropout layer); his ``model.py`` uses 0.8.  Inference ignores it; the imported
  classifier keeps the file's rate as ``module__dropout`` for further training.

Parameter count of the full-size network: Keras reports 6,425,638 parameters, of which
6,421,910 trainable; the other 3,728 are the batch norms' moving means and variances,
which Keras counts as "non-trainable parameters" and torch keeps as buffers.
``sum(p.numel() for p in ResNet1d().parameters())`` is 6,421,910.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import h5py
import numpy as np
import torch

from .._records import STANDARD_LEADS
from ..labels import get_vocabulary
from ._classifier import ECGClassifier
from ._nets import ResNet1d

#: The decision thresholds of Ribeiro et al.'s Table 2 (order 1dAVb, RBBB, LBBB, SB, AF,
#: ST): F1-maximising thresholds from the validation set, rounded to three decimals, as
#: ``generate_figures_and_tables.py`` of github.com/antonior92/automatic-ecg-diagnosis
#: states them (commit 89f929d, March 2021).  They belong to the network of that table,
#: ``other_seeds/model_1.hdf5`` of the same Zenodo archive: with them its published test
#: predictions (``dnn_predicts/other_seeds/model_1.npy``) reproduce ``dnn.csv`` exactly,
#: while ``model.hdf5``'s (``dnn_predicts/model.npy``, equal to ``other_seeds/model_6.npy``)
#: differ from it in 1 to 2 records per class.  His code predicts where ``score > t``,
#: skecg where ``score >= t``; no published score equals a threshold.
RIBEIRO_THRESHOLDS = (0.124, 0.07, 0.05, 0.278, 0.390, 0.174)

_TORCH_BN_EPS = 1e-5


class KerasModelError(ValueError):
    """A Keras HDF5 file that is not Ribeiro et al.'s network (or not readable as one)."""


def _text(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _text(v.item())
    return str(v)


def _names(attr) -> list[str]:
    return [_text(v) for v in np.atleast_1d(attr)] if attr is not None and np.size(attr) else []


def _read_weights(f, fname):
    """``{layer name: {weight name: array}}`` in the file's layer order (Keras 2 names
    ``conv1d_1/kernel:0`` and Keras 3 names ``conv1d/kernel`` both become ``kernel``)."""
    root = f["model_weights"] if "model_weights" in f else f
    if "layer_names" not in root.attrs:
        raise KerasModelError(f"{fname} is an HDF5 file but not a Keras model or weights file "
                              "(no 'layer_names' attribute)")
    layers = {}
    for name in _names(root.attrs["layer_names"]):
        if name not in root:
            raise KerasModelError(f"{fname} lists layer {name!r} but has no weights group for it")
        g = root[name]
        weights = {}
        for w in _names(g.attrs.get("weight_names")):
            if w not in g:
                raise KerasModelError(f"{fname}: layer {name!r} lists weight {w!r} but the file lacks it")
            ds = g[w]
            if ds.dtype.kind not in "fiu":
                raise KerasModelError(f"{fname}: weight {name}/{w} has dtype {ds.dtype}, not numbers")
            weights[re.sub(r":\d+$", "", w.split("/")[-1])] = np.asarray(ds[()], dtype=np.float64)
        layers[name] = weights
    return layers


def _history(obj, out):
    """The ``keras_history`` (layer name) of every tensor in a Keras 3 node's arguments."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            out.append(obj["config"]["keras_history"][0])
        else:
            for v in obj.values():
                _history(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _history(v, out)
    return out


def _graph(config: dict, fname):
    """``{name: (class_name, config, [input layer names])}`` and the output layer's name,
    from a Keras 2 (``[[["conv1d_1", 0, 0, {}]]]``) or Keras 3 (``{"args": ...}``) config."""
    cfg = config.get("config", {})
    nodes = {}
    for lay in cfg.get("layers", []):
        name = lay.get("name") or lay["config"]["name"]
        inbound = lay.get("inbound_nodes") or []
        if len(inbound) > 1:
            raise KerasModelError(f"{fname}: layer {name!r} is called {len(inbound)} times; Ribeiro's network "
                                  "calls each layer once")
        inputs = []
        if inbound:
            node = inbound[0]
            if isinstance(node, dict):
                inputs = _history(node.get("args", []), [])
            else:
                inputs = [t[0] for t in node]
        nodes[name] = (lay["class_name"], lay.get("config", {}), inputs)
    outputs = cfg.get("output_layers") or []
    if len(outputs) != 1 or isinstance(outputs[0], str):
        outputs = [outputs] if outputs and isinstance(outputs[0], str) else outputs
    if len(outputs) != 1:
        raise KerasModelError(f"{fname}: the model has {len(outputs)} outputs; Ribeiro's has one")
    return nodes, outputs[0][0]


def _structure_from_graph(nodes, out_name, fname):
    """Walk Ribeiro's graph back from the output: stem, residual units, dense head."""

    def node(name):
        if name not in nodes:
            raise KerasModelError(f"{fname}: the graph refers to a layer {name!r} it does not define")
        return (name,) + nodes[name]

    def one_input(n):
        if len(n[3]) != 1:
            raise KerasModelError(f"{fname}: layer {n[0]!r} ({n[1]}) has {len(n[3])} inputs, expected one")
        return node(n[3][0])

    def skip_dropout(n):
        while n[1] == "Dropout":
            n = one_input(n)
        return n

    def expect(n, cls, what):
        if n[1] != cls:
            raise KerasModelError(f"{fname}: expected a {cls} layer ({what}) where the file has {n[0]!r} ({n[1]}); "
                                  "this is not Ribeiro et al.'s architecture")
        return n

    def relu(n, what):
        n = expect(n, "Activation", what)
        if n[2].get("activation") != "relu":
            raise KerasModelError(f"{fname}: activation {n[0]!r} is {n[2].get('activation')!r}, expected 'relu'")
        return n

    def conv(n, what):
        n = expect(n, "Conv1D", what)
        c = n[2]
        if c.get("padding") != "same" or c.get("use_bias") or tuple(np.atleast_1d(c.get("dilation_rate", 1))) != (1,):
            raise KerasModelError(f"{fname}: convolution {n[0]!r} has padding={c.get('padding')!r}, "
                                  f"use_bias={c.get('use_bias')!r}, dilation_rate={c.get('dilation_rate')!r}; "
                                  "Ribeiro's have 'same' padding, no bias and no dilation")
        return n

    def bn(n, what):
        n = expect(n, "BatchNormalization", what)
        c = n[2]
        axis = c.get("axis", -1)
        axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        if axis not in (-1, 2) or not c.get("center", True) or not c.get("scale", True):
            raise KerasModelError(f"{fname}: batch norm {n[0]!r} has axis={c.get('axis')!r}, "
                                  f"center={c.get('center')!r}, scale={c.get('scale')!r}; expected the channel "
                                  "axis with centre and scale")
        return n

    def stride(n):
        return int(np.atleast_1d(n[2].get("strides", 1))[0])

    def ksize(n):
        return int(np.atleast_1d(n[2]["kernel_size"])[0])

    dense = expect(node(out_name), "Dense", "the output")
    if dense[2].get("activation") not in ("sigmoid", "linear"):
        raise KerasModelError(f"{fname}: the output layer's activation is {dense[2].get('activation')!r}; "
                              "expected 'sigmoid' (or 'linear' logits)")
    flat = expect(skip_dropout(one_input(dense)), "Flatten", "before the output")
    x = skip_dropout(one_input(flat))
    units = []
    dropout = 0.0
    while True:
        act = relu(x, "after a residual sum or the first convolution")
        norm = bn(one_input(act), "before that activation")
        below = one_input(norm)
        if below[1] != "Add":
            break
        add = below
        if len(add[3]) != 2:
            raise KerasModelError(f"{fname}: residual sum {add[0]!r} has {len(add[3])} inputs, expected two")
        a, b = (node(n) for n in add[3])
        main, skip = (a, b) if a[1] == "Conv1D" and ksize(a) > 1 else (b, a)
        conv2 = conv(main, "the strided convolution of a residual unit")
        drop = one_input(conv2)
        if drop[1] == "Dropout":
            dropout = float(drop[2].get("rate", 0.0))
        act1 = relu(skip_dropout(drop), "inside a residual unit")
        bn1 = bn(one_input(act1), "inside a residual unit")
        conv1 = conv(one_input(bn1), "the first convolution of a residual unit")
        if stride(conv1) != 1:
            raise KerasModelError(f"{fname}: convolution {conv1[0]!r} has stride {stride(conv1)}, expected 1")
        skip_conv = None
        if skip[1] == "Conv1D":
            skip_conv = conv(skip, "the skip path")
            if ksize(skip_conv) != 1 or stride(skip_conv) != 1:
                raise KerasModelError(f"{fname}: skip convolution {skip[0]!r} is not a 1-tap, stride-1 convolution")
            skip = one_input(skip_conv)
        s = stride(conv2)
        if skip[1] == "MaxPooling1D":
            pool = int(np.atleast_1d(skip[2].get("pool_size", 2))[0])
            pstride = int(np.atleast_1d(skip[2].get("strides") or pool)[0])
            if pool != s or pstride != s:
                raise KerasModelError(f"{fname}: max-pooling {skip[0]!r} has pool {pool} and stride {pstride} but "
                                      f"its unit downsamples by {s}")
            skip = one_input(skip)
        elif s != 1:
            raise KerasModelError(f"{fname}: residual unit of {conv2[0]!r} downsamples by {s} but its skip path "
                                  "has no max-pooling")
        units.append(dict(conv1=conv1, bn1=bn1, conv2=conv2, bn2=norm, skip_conv=skip_conv, skip_in=skip[0],
                          main_in=skip_dropout(one_input(conv1))[0], stride=s))
        x = skip_dropout(one_input(conv1))
    stem = conv(below, "the first convolution")
    if stride(stem) != 1:
        raise KerasModelError(f"{fname}: the first convolution {stem[0]!r} has stride {stride(stem)}, expected 1")
    inp = one_input(stem)
    if inp[1] != "InputLayer":
        raise KerasModelError(f"{fname}: the first convolution {stem[0]!r} reads {inp[0]!r} ({inp[1]}), "
                              "not the model input")
    units.reverse()
    # the skip path of each unit reads the previous unit's sum (the stem's activation for the first)
    expected_skip = act[0]
    for u in units:
        if u["skip_in"] != expected_skip:
            raise KerasModelError(f"{fname}: the skip path into {u['conv2'][0]!r} reads {u['skip_in']!r}, "
                                  f"expected {expected_skip!r}")
        expected_skip = [n for n, v in nodes.items() if v[0] == "Add" and u["conv2"][0] in v[2]][0]
    shape = inp[2].get("batch_input_shape") or inp[2].get("batch_shape")
    n_samples = int(shape[1]) if shape and len(shape) == 3 and shape[1] else None
    return dict(stem=stem[0], stem_bn=norm[0], units=[
        dict(conv1=u["conv1"][0], bn1=u["bn1"][0], conv2=u["conv2"][0], bn2=u["bn2"][0],
             skip=u["skip_conv"][0] if u["skip_conv"] else None, stride=u["stride"]) for u in units],
        dense=dense[0], dropout=dropout, n_samples=n_samples,
        eps={n: float(v[1].get("epsilon", 1e-3)) for n, v in nodes.items() if v[0] == "BatchNormalization"})


def _counter(name: str) -> int:
    """Keras' per-class creation counter in an automatic name: conv1d -> 0, conv1d_12 -> 12."""
    m = re.search(r"_(\d+)$", name)
    return int(m.group(1)) if m else 0


def _structure_from_order(layers, fname):
    """Without a model config (a ``save_weights`` file): layers in Keras' creation order
    (the counter of their automatic names), classified by their weights."""
    convs = sorted((n for n, w in layers.items() if set(w) == {"kernel"} and w["kernel"].ndim == 3), key=_counter)
    bns = sorted((n for n, w in layers.items() if {"gamma", "beta", "moving_mean", "moving_variance"} <= set(w)),
                 key=_counter)
    dense = [n for n, w in layers.items() if "kernel" in w and w["kernel"].ndim == 2]
    if not convs or len(dense) != 1:
        raise KerasModelError(f"{fname} has {len(convs)} convolutions and {len(dense)} dense layers with "
                              "weights; Ribeiro's network has 1 dense layer after its convolutions")
    stem, rest = convs[0], convs[1:]
    units = []
    i = 0
    while i < len(rest):
        skip = None
        if layers[rest[i]]["kernel"].shape[0] == 1:
            skip, i = rest[i], i + 1
        if i + 1 >= len(rest):
            raise KerasModelError(f"{fname}: the convolutions do not group into residual units")
        units.append(dict(conv1=rest[i], conv2=rest[i + 1], skip=skip))
        i += 2
    if len(bns) != 1 + 2 * len(units):
        raise KerasModelError(f"{fname} has {len(bns)} batch norms for {len(units)} residual units; "
                              f"Ribeiro's network has {1 + 2 * len(units)}")
    for k, u in enumerate(units):
        u["bn1"], u["bn2"] = bns[1 + 2 * k], bns[2 + 2 * k]
        u["stride"] = None
    return dict(stem=stem, stem_bn=bns[0], units=units, dense=dense[0], dropout=None, n_samples=None,
                eps={n: 1e-3 for n in bns})


def _read(path):
    path = Path(path)
    fname = path.name
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise KerasModelError(f"{fname} is not a readable HDF5 file ({e}); Ribeiro's model is the model.hdf5 "
                              "of https://doi.org/10.5281/zenodo.3625017") from None
    with f:
        layers = _read_weights(f, fname)
        raw = f.attrs.get("model_config")
        if raw is None:
            structure = _structure_from_order(layers, fname)
        else:
            try:
                config = json.loads(_text(raw))
            except (ValueError, UnicodeDecodeError) as e:
                raise KerasModelError(f"{fname}: its model_config attribute is not JSON ({e})") from None
            try:
                structure = _structure_from_graph(*_graph(config, fname), fname)
            except (KeyError, IndexError, TypeError) as e:
                raise KerasModelError(f"{fname}: its model_config does not describe a Keras functional model "
                                      f"({type(e).__name__}: {e})") from None
    return layers, structure


def _weight(layers, layer, name, fname, ndim):
    w = layers.get(layer, {}).get(name)
    if w is None:
        raise KerasModelError(f"{fname}: layer {layer!r} has no weight {name!r}")
    if w.ndim != ndim:
        raise KerasModelError(f"{fname}: weight {layer}/{name} has shape {w.shape}, expected {ndim} dimensions")
    if not np.isfinite(w).all():
        raise KerasModelError(f"{fname}: weight {layer}/{name} holds NaN or infinite values")
    return w


def _state_dict(layers, st, module, fname):
    """Every entry of ``module``'s state dict from the Keras weights (shapes checked)."""
    out = {}

    def put(key, value):
        out[key] = torch.as_tensor(np.ascontiguousarray(value), dtype=torch.float32)

    def conv(key, layer):
        put(key, _weight(layers, layer, "kernel", fname, 3).transpose(2, 1, 0))  # (k, in, out) -> (out, in, k)

    def bn(key, layer):
        eps = st["eps"].get(layer, 1e-3)
        var = _weight(layers, layer, "moving_variance", fname, 1) + (eps - _TORCH_BN_EPS)
        if (var <= 0).any():
            raise KerasModelError(f"{fname}: batch norm {layer!r} has a moving variance below "
                                  f"{_TORCH_BN_EPS - eps:g}, which torch's epsilon cannot represent")
        put(f"{key}.weight", _weight(layers, layer, "gamma", fname, 1))
        put(f"{key}.bias", _weight(layers, layer, "beta", fname, 1))
        put(f"{key}.running_mean", _weight(layers, layer, "moving_mean", fname, 1))
        put(f"{key}.running_var", var)
        out[f"{key}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)

    conv("conv1.conv.weight", st["stem"])
    bn("bn1", st["stem_bn"])
    for i, u in enumerate(st["units"]):
        conv(f"blocks.{i}.conv1.conv.weight", u["conv1"])
        bn(f"blocks.{i}.bn1", u["bn1"])
        conv(f"blocks.{i}.conv2.conv.weight", u["conv2"])
        bn(f"blocks.{i}.bn2", u["bn2"])
        if u["skip"] is not None:
            idx = len(module.blocks[i].skip) - 1
            conv(f"blocks.{i}.skip.{idx}.weight", u["skip"])
    kernel = _weight(layers, st["dense"], "kernel", fname, 2)
    c, t = module.out_channels, module.out_length
    if kernel.shape[0] != c * t:
        raise KerasModelError(f"{fname}: the dense kernel has {kernel.shape[0]} inputs, but {c} channels x {t} "
                              "time steps reach it")
    n = kernel.shape[1]
    put("lin.weight", kernel.reshape(t, c, n).transpose(2, 1, 0).reshape(n, c * t))  # time-major -> channel-major
    put("lin.bias", _weight(layers, st["dense"], "bias", fname, 1))
    expected = module.state_dict()
    missing = sorted(set(expected) - set(out))
    if missing:
        raise KerasModelError(f"{fname}: no Keras weight maps to skecg's {missing[:5]}")
    for key, v in out.items():
        if key not in expected or tuple(expected[key].shape) != tuple(v.shape):
            got = tuple(expected[key].shape) if key in expected else "nothing"
            raise KerasModelError(f"{fname}: the Keras weight for {key} has shape {tuple(v.shape)} but skecg's "
                                  f"ResNet1d expects {got}")
    return out


def load_ribeiro_keras(path, *, classes="tnmg", threshold="paper", **params):
    """Ribeiro et al.'s published Keras model as a fitted ``ECGClassifier('resnet1d')``.

    Reads the HDF5 file that Keras writes with ``model.save`` (``model.hdf5`` of
    https://doi.org/10.5281/zenodo.3625017, written by Keras 2.x; also Keras 3's legacy
    ``.h5`` layout and Keras 2's weights-only ``save_weights`` HDF5 files) with h5py alone: no
    TensorFlow or Keras, and nothing in the file is executed.  The layer graph is
    checked against Ribeiro's architecture (its widths, kernel size and stride are
    read from the file), and every convolution, batch norm (with its moving
    statistics and epsilon) and the dense head is copied; see this module's docstring
    for the layout conventions.

    The network takes 12 leads (I, II, III, aVR, aVL, aVF, V1-V6; named records are
    reordered by name) at 400 Hz, 4096 samples: put ``Resampler(400)`` and
    ``PadTruncate(length=4096, mode='center')`` (his test set is zero-padded on both
    sides) before it.  Ribeiro's README gives the input scale as
    "1e-4V: so if the signal is in V it should be multiplied by 1000", i.e. mV, the
    unit skecg's readers return.

    Parameters
    ----------
    path : str or Path
        The Keras HDF5 file.
    classes : str or list of str, default='tnmg'
        The output columns: 1dAVb, RBBB, LBBB, SB, AF, ST (Ribeiro's order) as SNOMED CT
        codes.
    threshold : 'paper', float or array-like, default='paper'
        ``'paper'``: :data:`RIBEIRO_THRESHOLDS` (0.124, 0.07, 0.05, 0.278, 0.390,
        0.174), the thresholds of the paper's Table 2, chosen for
        ``other_seeds/model_1.hdf5`` of the same archive.
    **params
        Further :class:`~skecg.models.ECGClassifier` parameters (``device``,
        ``inference_batch_size``, and training settings for ``partial_fit``).

    Returns
    -------
    ECGClassifier
        Fitted: ``predict_proba``, ``predict``, ``embed`` and :func:`skecg.save_model`
        work at once; ``fit`` would train a new network from scratch (use
        ``partial_fit`` to train these weights further, or
        ``sklearn.frozen.FrozenEstimator`` to evaluate it unchanged with
        ``cross_val_score``).

    Raises
    ------
    KerasModelError
        (a ``ValueError``) naming the file and the problem: not HDF5, not a Keras
        file, a layer or weight missing, a weight of the wrong shape, or a graph that
        is not Ribeiro's architecture.

    Examples
    --------
    >>> from skecg.models import load_ribeiro_keras
    >>> clf = load_ribeiro_keras("tests/data/ribeiro/small_keras2.hdf5")
    >>> list(clf.classes_) == ['270492004', '713427006', '164909002', '426177001', '164889003', '427084000']
    True
    >>> clf.thresholds_.tolist()
    [0.124, 0.07, 0.05, 0.278, 0.39, 0.174]

    With the real file and a user's records ``X, y`` (any rate and length)::

        from sklearn.frozen import FrozenEstimator
        from sklearn.pipeline import make_pipeline
        from skecg.preprocessing import PadTruncate, Resampler
        from skecg.metrics import auroc_scorer
        pipe = make_pipeline(Resampler(400), PadTruncate(length=4096, mode="center"),
                             FrozenEstimator(load_ribeiro_keras("model.hdf5")))
        cross_val_score(pipe, X, y, scoring=auroc_scorer)
    """
    fname = Path(path).name
    layers, st = _read(path)
    units = st["units"]
    if not units:
        raise KerasModelError(f"{fname}: the network has no residual unit")
    widths = [int(layers[u["conv2"]]["kernel"].shape[2]) if u["conv2"] in layers else 0 for u in units]
    stem_w = _weight(layers, st["stem"], "kernel", fname, 3)
    kernel_size, n_leads, stem_filters = (int(v) for v in stem_w.shape)
    for u in units:
        for c in (u["conv1"], u["conv2"]):
            k = _weight(layers, c, "kernel", fname, 3).shape[0]
            if k != kernel_size:
                raise KerasModelError(f"{fname}: convolution {c!r} has kernel size {k}, the first one "
                                      f"{kernel_size}; skecg's ResNet1d has one kernel size")
    dense = _weight(layers, st["dense"], "kernel", fname, 2)
    n_classes = int(dense.shape[1])
    strides = {u["stride"] for u in units}
    if None in strides:  # weights-only file: the stride follows from the dense layer's input size
        t = dense.shape[0] // widths[-1]
        n = st["n_samples"] or 4096
        s = round((n / max(t, 1)) ** (1 / len(units)))
        strides = {s}
    if len(strides) != 1:
        raise KerasModelError(f"{fname}: the residual units downsample by {sorted(strides)}; skecg's ResNet1d "
                              "downsamples every unit by the same factor")
    downsample = strides.pop()
    n_samples = st["n_samples"]
    if n_samples is None:
        n_samples = dense.shape[0] // widths[-1] * downsample ** len(units)
    dropout = st["dropout"] if st["dropout"] is not None else 0.8
    codes = get_vocabulary(classes).classes
    if len(codes) != n_classes:
        raise KerasModelError(f"{fname}: the network has {n_classes} outputs but the vocabulary {classes!r} "
                              f"has {len(codes)} classes; pass classes=")
    if isinstance(threshold, str):
        if threshold != "paper":
            raise ValueError(f"threshold must be 'paper', a number or one per class, got {threshold!r}")
        if n_classes != len(RIBEIRO_THRESHOLDS):
            raise ValueError(f"the paper's thresholds are for 6 classes; this network has {n_classes}: pass threshold=")
        threshold = np.array(RIBEIRO_THRESHOLDS)
    clf = ECGClassifier("resnet1d", classes=list(codes), threshold=threshold, module__filters=tuple(widths),
                        module__stem_filters=stem_filters, module__kernel_size=kernel_size,
                        module__downsample=downsample, module__dropout=dropout, **params)
    thresholds = np.broadcast_to(np.asarray(threshold, dtype=float), (n_classes,)).copy()
    template = ResNet1d(n_leads, n_samples, n_classes, filters=tuple(widths), kernel_size=kernel_size,
                        downsample=downsample, dropout=dropout, stem_filters=stem_filters)
    state = _state_dict(layers, st, template, fname)
    buf = io.BytesIO()
    torch.save({"state_dict": state, "classes": [str(c) for c in codes],
                "thresholds": torch.as_tensor(thresholds, dtype=torch.float64),
                "shape": [n_leads, n_samples, n_classes],
                "leads": list(STANDARD_LEADS)
                if n_leads == 12 else []}, buf)
    buf.seek(0)
    return clf.load_weights(buf)

"""Build the Keras fixtures that test :func:`skecg.models.load_ribeiro_keras` (test-only tool).

Ribeiro et al.'s network (Nature Communications 2020, the ``model.py`` of
github.com/antonior92/automatic-ecg-diagnosis) is rebuilt here with the Keras 3
functional API from its description: a 16-tap convolution with batch norm and ReLU,
then four residual units, each

* skip path: ``MaxPooling1D(s, strides=s, padding='same')`` and, where the width
  changes, a 1-tap ``Conv1D`` without bias;
* main path: ``Conv1D(k, 'same')`` - BN - ReLU - Dropout - ``Conv1D(k, strides=s,
  'same')``, added to the skip path; the sum is the next unit's skip input, and BN -
  ReLU - Dropout of it the next unit's main input;

then ``Flatten`` and a sigmoid ``Dense``.  Layers are created in the order his code
creates them (skip layers first), so Keras' automatic names follow his file's.

The network gets random weights and non-trivial batch-norm statistics (the moving
statistics of a training-mode pass over real records, then perturbed), is run on real
records (``tests/data/cinc2021``, resampled to 400 Hz and padded to 4096 samples by
skecg) and saved

* as Keras 3 writes a legacy ``.h5`` file (``model.save('x.h5')``: weights under
  ``model_weights/<layer>/<layer>/kernel``, JSON ``model_config``), and
* rewritten by hand into the layout Keras 2.x / TensorFlow wrote when Ribeiro saved
  ``model.hdf5``: standalone Keras' layer names counted from 1 (``conv1d_1``),
  weight names with the ``:0`` suffix (``conv1d_1/kernel:0``), the Keras 2
  ``inbound_nodes`` lists and ``keras_version``/``backend`` attributes of a Keras 2 file.

Needs ``keras`` (3.x) with its torch backend, which skecg itself never imports; run it
in a separate environment, e.g.::

    python3 -m venv /tmp/kerasenv && /tmp/kerasenv/bin/pip install keras==3.15.1
    # torch and skecg's dependencies from the project's .venv, after keras' own packages:
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/kerasenv/lib/python3.11/site-packages/zz_project.pth
    KERAS_BACKEND=torch /tmp/kerasenv/bin/python tools/make_ribeiro_fixture.py tests/data/ribeiro

(the fixtures of tests/data/ribeiro were written so, with Keras 3.15.1 and torch 2.13.0).

``--full`` builds the full-size network (Keras: 6,425,638 parameters, 6,421,910 of them
trainable; the rest are batch-norm moving statistics)
in a temporary folder and prints the largest difference between Keras' and skecg's
probabilities instead of writing fixtures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: reduced widths of the committed fixture: same layers, fewer filters; the third unit
#: keeps its width, so its skip path has no convolution (a case Ribeiro's widths lack)
SMALL = dict(stem=8, filters=(8, 12, 12, 16))
FULL = dict(stem=64, filters=(128, 196, 256, 320))
RECORDS = ["A0002", "Q0011", "E00001", "JS00001", "HR00001"]


def build(keras, stem, filters, kernel_size=16, n_samples=4096, n_leads=12, n_classes=6, dropout=0.8,
          downsample=4):
    """Ribeiro's architecture in Keras (see the module docstring)."""
    layers = keras.layers
    signal = keras.Input(shape=(n_samples, n_leads), dtype="float32", name="signal")
    x = layers.Conv1D(stem, kernel_size, padding="same", use_bias=False, kernel_initializer="he_normal")(signal)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    y = x
    c_in = stem
    for c_out in filters:
        # skip path first: that is the order in which his code creates the layers
        y = layers.MaxPooling1D(downsample, strides=downsample, padding="same")(y)
        if c_in != c_out:
            y = layers.Conv1D(c_out, 1, padding="same", use_bias=False, kernel_initializer="he_normal")(y)
        x = layers.Conv1D(c_out, kernel_size, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Dropout(dropout)(x)
        x = layers.Conv1D(c_out, kernel_size, strides=downsample, padding="same", use_bias=False,
                          kernel_initializer="he_normal")(x)
        x = layers.Add()([x, y])
        y = x
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Dropout(dropout)(x)
        c_in = c_out
    x = layers.Flatten()(x)
    out = layers.Dense(n_classes, activation="sigmoid", kernel_initializer="he_normal")(x)
    return keras.Model(signal, out)


def real_inputs(n=None):
    """Real records of tests/data/cinc2021 at 400 Hz, padded or cut to 4096 samples: (N, 12, 4096)."""
    from skecg.io import read_challenge_folder
    from skecg.preprocessing import PadTruncate, Resampler

    names = RECORDS[:n] if n else RECORDS
    X, _ = read_challenge_folder(ROOT / "tests" / "data" / "cinc2021", vocabulary="tnmg", records=names)
    Z = PadTruncate(length=4096).fit_transform(Resampler(400).fit_transform(X))
    order = [list(X.meta["record_id"]).index(r) for r in names]
    return np.asarray(Z.signals if hasattr(Z, "signals") else Z, dtype=np.float32)[order], names


def randomise(keras, model, x_keras, seed):
    """Random weights, batch-norm moving statistics of the real records (then perturbed),
    and a dense layer scaled so that the probabilities spread over (0, 1)."""
    rng = np.random.default_rng(seed)
    bns = [lay for lay in model.layers if isinstance(lay, keras.layers.BatchNormalization)]
    drops = [lay for lay in model.layers if isinstance(lay, keras.layers.Dropout)]
    for lay in bns:
        lay.momentum = 0.0  # one training-mode pass sets the moving statistics to the batch's
    rates = [d.rate for d in drops]
    for d in drops:
        d.rate = 0.0
    model(x_keras, training=True)
    for lay in bns:
        lay.momentum = 0.99
    for d, r in zip(drops, rates):
        d.rate = r
    for lay in bns:
        gamma, beta, mean, var = (np.asarray(keras.ops.convert_to_numpy(w)) for w in lay.weights)
        c = gamma.shape[0]
        lay.set_weights([rng.uniform(0.5, 1.5, c).astype(np.float32),
                         rng.normal(0, 0.3, c).astype(np.float32),
                         (mean + rng.normal(0, 0.3, c) * np.sqrt(var)).astype(np.float32),
                         (var * rng.uniform(0.6, 1.6, c)).astype(np.float32)])
    dense = model.layers[-1]
    kernel, bias = dense.get_weights()
    features = keras.Model(model.input, model.layers[-2].output)(x_keras)
    logits = np.asarray(keras.ops.convert_to_numpy(features)) @ kernel
    scale = 2.0 / max(float(logits.std()), 1e-6)
    dense.set_weights([kernel * scale, (rng.normal(0, 0.5, bias.shape) - logits.mean(0) * scale).astype(np.float32)])


def keras2_layout(src: Path, dest: Path) -> None:
    """Write the network of a Keras 3 legacy .h5 file anew in the layout Keras 2.x wrote
    (see the module docstring)."""
    with h5py.File(src, "r") as f:
        config = json.loads(f.attrs["model_config"])
        mw = f["model_weights"]
        old = [n.decode() if isinstance(n, bytes) else str(n) for n in mw.attrs["layer_names"]]
        weights = {}
        for name in old:
            g = mw[name]
            wnames = [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs["weight_names"]]
            weights[name] = [(w.split("/")[-1], np.asarray(g[w])) for w in wnames]
    layers = config["config"]["layers"]
    # standalone Keras 2 counts each layer class from 1: conv1d -> conv1d_1, conv1d_1 -> conv1d_2
    rename = {}
    for lay in layers:
        name = lay["config"]["name"]
        m = re.fullmatch(r"(.*?)(?:_(\d+))?", name)
        rename[name] = name if lay["class_name"] == "InputLayer" else f"{m.group(1)}_{int(m.group(2) or 0) + 1}"

    def history(obj, out):
        if isinstance(obj, dict):
            if obj.get("class_name") == "__keras_tensor__":
                out.append(obj["config"]["keras_history"])
            else:
                for v in obj.values():
                    history(v, out)
        elif isinstance(obj, list):
            for v in obj:
                history(v, out)
        return out

    for lay in layers:
        lay["inbound_nodes"] = [[[rename[h[0]], h[1], h[2], {}] for h in history(node.get("args", []), [])]
                                for node in lay.get("inbound_nodes", [])]
        lay["name"] = lay["config"]["name"] = rename[lay["config"]["name"]]
        if lay["class_name"] == "InputLayer":
            lay["config"]["batch_input_shape"] = lay["config"].pop("batch_shape")
        lay["config"]["dtype"] = "float32"
    cfg = config["config"]
    for key in ("input_layers", "output_layers"):  # Keras 3 writes one tensor flat: ["signal", 0, 0]
        ends = cfg[key] if isinstance(cfg[key][0], list) else [cfg[key]]
        cfg[key] = [[rename[e[0]], e[1], e[2]] for e in ends]
    config["class_name"] = "Model"
    with h5py.File(dest, "w") as f:
        f.attrs["keras_version"] = np.bytes_("2.3.1")
        f.attrs["backend"] = np.bytes_("tensorflow")
        f.attrs["model_config"] = np.bytes_(json.dumps(config))
        mw = f.create_group("model_weights")
        names = [rename.get(n, n) for n in old if n in rename]
        mw.attrs["layer_names"] = np.array([n.encode() for n in names], dtype="S")
        mw.attrs["keras_version"] = np.bytes_("2.3.1")
        mw.attrs["backend"] = np.bytes_("tensorflow")
        for name in old:
            if name not in rename:  # Keras 3's top_level_model_weights
                continue
            new = rename[name]
            g = mw.create_group(new)
            wn = [f"{new}/{w}:0" for w, _ in weights[name]]
            g.attrs["weight_names"] = np.array([w.encode() for w in wn], dtype="S")
            for w, (_, value) in zip(wn, weights[name]):
                g.create_dataset(w, data=value)


def skecg_proba(path, x):
    from skecg.models import load_ribeiro_keras

    return load_ribeiro_keras(path).predict_proba(x)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default=str(ROOT / "tests" / "data" / "ribeiro"))
    ap.add_argument("--full", action="store_true", help="check the full-size network; write no fixture")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    import keras

    keras.utils.set_random_seed(args.seed)
    widths = FULL if args.full else SMALL
    model = build(keras, **widths)
    n_params = model.count_params()
    x, names = real_inputs()
    x_keras = np.ascontiguousarray(x.transpose(0, 2, 1))  # Keras takes (batch, 4096, 12)
    randomise(keras, model, x_keras, args.seed)
    proba = np.asarray(model.predict(x_keras, verbose=0), dtype=np.float32)
    print(f"Keras {keras.__version__} ({keras.backend.backend()}): {n_params:,} parameters "
          f"({sum(int(np.prod(w.shape)) for w in model.trainable_weights):,} trainable); "
          f"probabilities {proba.min():.3f} .. {proba.max():.3f}")
    if args.full:
        with tempfile.TemporaryDirectory() as tmp:
            k3, k2 = Path(tmp) / "full_keras3.h5", Path(tmp) / "full_keras2.hdf5"
            model.save(k3)
            keras2_layout(k3, k2)
            for p in (k3, k2):
                d = np.abs(skecg_proba(p, x) - proba).max()
                print(f"{p.name}: {p.stat().st_size:,} bytes, max |skecg - Keras| = {d:.3g}")
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "small_keras3.h5")
    keras2_layout(out / "small_keras3.h5", out / "small_keras2.hdf5")
    np.savez_compressed(out / "small_outputs.npz", x=x, proba=proba, records=np.array(names),
                        keras_version=np.array(keras.__version__))
    for p in (out / "small_keras3.h5", out / "small_keras2.hdf5"):
        d = np.abs(skecg_proba(p, x) - proba).max()
        print(f"{p.name}: {p.stat().st_size:,} bytes, max |skecg - Keras| = {d:.3g}")


if __name__ == "__main__":
    main()

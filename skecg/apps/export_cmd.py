"""``skecg export MODEL OUT``: a fitted model's network as ONNX or TorchScript, for deployment.

    skecg export model.skecg model.onnx                        ONNX (checked with ONNX Runtime)
    skecg export model.skecg model.pt --format torchscript     TorchScript
    skecg export model.skecg model.onnx --trusted mypkg.MyStep  a file with a user's own step
    skecg export model.hdf5 ribeiro.onnx                       Ribeiro et al.'s Keras file, read
                                                               by skecg.models.load_ribeiro_keras

The file maps float32 ``(batch, leads, samples)`` to probabilities ``(batch, classes)``
(dynamic batch).  A Pipeline's steps before the classifier are not in the graph: the
command lists them, and the file's metadata names them, with the classes, thresholds
and lead order (:func:`skecg.export.read_export_metadata`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ._common import load_estimator

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _load(args):
    """A skecg model file (:func:`skecg.apps.cli.load_estimator`), or a Keras HDF5 file
    read as Ribeiro et al.'s network (:func:`skecg.models.load_ribeiro_keras`)."""
    path = Path(args.model)
    if path.is_file():
        with open(path, "rb") as fh:
            head = fh.read(len(_HDF5_SIGNATURE))
        if head == _HDF5_SIGNATURE:
            from skecg.models import load_ribeiro_keras  # torch: kept out of `skecg --help`

            try:
                return load_ribeiro_keras(path)
            except ValueError as e:
                raise SystemExit(f"skecg: {e}") from None
    return load_estimator(path, trust_pickle=args.trust_pickle, trusted=args.trusted or None)


def _cmd_export(args) -> int:
    from skecg.export import export_model  # torch: kept out of `skecg --help`

    est = _load(args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit's own notice of its deprecation
            info = export_model(est, args.output, format=args.format, opset=args.opset, check=not args.no_check)
    except (ValueError, RuntimeError, ImportError) as e:
        raise SystemExit(f"skecg: {e}") from None
    shape = ", ".join(str(s) for s in info["input_shape"])
    n_classes = len(info["classes"])
    fmt = f"ONNX opset {args.opset}" if info["format"] == "onnx" else "TorchScript"
    print(f"wrote {args.output} ({fmt}, {info['network']}): input 'ecg' float32 ({shape}) -> "
          f"'probabilities' (batch, {n_classes}): {', '.join(info['abbreviations'])}")
    if info["leads"]:
        print(f"  leads in this order: {', '.join(info['leads'])}")
    print(f"  thresholds (predict = probabilities >= thresholds): "
          f"{', '.join(f'{t:.3g}' for t in info['thresholds'])}")
    if info["preprocessing"]:
        print("  NOT exported, apply before the network: " + " -> ".join(info["preprocessing"]))
    check = info.get("check")
    if check is not None:
        if "skipped" in check:
            print(f"  not checked: {check['skipped']}")
        else:
            runner = "ONNX Runtime" if info["format"] == "onnx" else "the TorchScript module"
            print(f"  {runner} matches skecg's probabilities within {check['max_abs_diff']:.2g} "
                  f"on {check['records']} records of random numbers")
    return 0


def add_parser(sub):
    """Add ``skecg export`` to the subcommands ``sub`` of the ``skecg`` parser."""
    e = sub.add_parser("export", help="write a fitted model's network as ONNX or TorchScript (dynamic batch)")
    e.add_argument("model", help="a model file written by skecg (save_model, skecg train), or Ribeiro et al.'s "
                   "Keras model.hdf5")
    e.add_argument("output", help="the file to write (.onnx; .pt for TorchScript)")
    e.add_argument("--format", choices=["onnx", "torchscript"],
                   help="default: from the suffix (.pt/.ts: TorchScript, else ONNX)")
    e.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    e.add_argument("--no-check", action="store_true",
                   help="do not run the written file to compare it with skecg's probabilities")
    e.add_argument("--trusted", action="append", metavar="TYPE",
                   help="also build this type from the model file (repeatable), see skecg.persistence.load_model")
    e.add_argument("--trust-pickle", action="store_true",
                   help="also load a pickle/joblib model file (it can run any code: only files you trust)")
    e.set_defaults(func=_cmd_export)
    return e

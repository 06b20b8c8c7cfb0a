"""The ``skecg`` command line: evaluate, train, predict.

    skecg evaluate --pipeline zhu DATA [DATA ...]       cross-source tables
    skecg train --pipeline huang DATA [DATA ...] -o model.joblib
    skecg predict model.joblib WFDB_FOLDER -o outputs/  challenge output files

``DATA`` is a folder of PhysioNet/CinC WFDB records, a PTB-XL folder, a folder of
original CPSC 2018 files, or the word ``sample`` for the bundled sample.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def load_data(paths, vocabulary, on_error="skip"):
    """Load and concatenate data folders (format detected per folder)."""
    from ._records import concat_records
    from .datasets import load_sample
    from .io import read_challenge_folder, read_cpsc2018, read_ptbxl

    parts, ys = [], []
    for p in paths:
        if p == "sample":
            X, y = load_sample(vocabulary)
        else:
            path = Path(p)
            if not path.is_dir():
                raise SystemExit(f"skecg: {p} is not a folder (nor 'sample')")
            if (path / "ptbxl_database.csv").exists():
                X, y = read_ptbxl(path, vocabulary, on_error=on_error)
            elif any(path.rglob("*.hea")):
                X, y = read_challenge_folder(path, vocabulary, on_error=on_error)
            elif any(path.glob("*.mat")):
                X, y = read_cpsc2018(path, vocabulary, on_error=on_error)
            else:
                raise SystemExit(f"skecg: no WFDB, PTB-XL or CPSC 2018 records found in {p}")
        parts.append(X)
        ys.append(y)
    return concat_records(parts), np.concatenate(ys)


def _cmd_evaluate(args):
    from .experiments import PIPELINE_VOCABULARY, evaluate_cross_source, make_named_pipeline

    X, y = load_data(args.data, PIPELINE_VOCABULARY[args.pipeline])
    sources = sorted(set(X.meta["source"]))
    groups = [[s] for s in (args.test_source or sources)]
    if len(sources) < 2:
        raise SystemExit(f"skecg: cross-source evaluation needs at least two sources; found {sources}")
    print(f"{len(X)} records from {sources}; pipeline {args.pipeline!r}")
    est = make_named_pipeline(args.pipeline, max_epochs=args.epochs)
    for res in evaluate_cross_source(est, X, y, groups, n_resamples=args.resamples):
        print(f"\nheld out {'+'.join(res.test_sources)}:")
        t = res.table
        print(t[[c for c in t.columns if c == "macro" or t.loc["support", c] > 0]].to_string())
        print(f"challenge score {res.challenge}, macro F1 {res.f1_macro}")
    return 0


def _cmd_train(args):
    import joblib

    from .experiments import PIPELINE_VOCABULARY, make_named_pipeline

    X, y = load_data(args.data, PIPELINE_VOCABULARY[args.pipeline])
    est = make_named_pipeline(args.pipeline, max_epochs=args.epochs).fit(X, y)
    joblib.dump({"pipeline": args.pipeline, "estimator": est}, args.output)
    print(f"trained {args.pipeline!r} on {len(X)} records; saved to {args.output}")
    return 0


def _cmd_predict(args):
    import joblib

    from .io import read_challenge_folder
    from .metrics import proba_matrix, write_challenge_outputs

    saved = joblib.load(args.model)
    est = saved["estimator"]
    if not Path(args.data).is_dir():
        raise SystemExit(f"skecg: {args.data} is not a folder")
    X, _ = read_challenge_folder(args.data, list(est.classes_), on_error="skip", require_dx=False)
    proba = proba_matrix(est, X)
    pred = est.predict(X)
    paths = write_challenge_outputs(args.output, X.meta["record_id"].tolist(), list(est.classes_), pred, proba)
    print(f"wrote {len(paths)} output files to {args.output}")
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="skecg", description="ECG deep learning as scikit-learn estimators.")
    sub = p.add_subparsers(dest="command", required=True)
    names = ["zhu", "huang", "huang-attention", "catboost"]
    e = sub.add_parser("evaluate", help="cross-source evaluation of a named pipeline")
    e.add_argument("data", nargs="+", help="data folders, or 'sample'")
    e.add_argument("--pipeline", choices=names, default="zhu")
    e.add_argument("--test-source", action="append", help="hold out only this source (repeatable)")
    e.add_argument("--epochs", type=int, default=12)
    e.add_argument("--resamples", type=int, default=200)
    e.set_defaults(func=_cmd_evaluate)
    t = sub.add_parser("train", help="train a named pipeline and save it")
    t.add_argument("data", nargs="+")
    t.add_argument("--pipeline", choices=names, default="zhu")
    t.add_argument("--epochs", type=int, default=12)
    t.add_argument("-o", "--output", default="skecg_model.joblib")
    t.set_defaults(func=_cmd_train)
    r = sub.add_parser("predict", help="write challenge output files for a folder of WFDB records")
    r.add_argument("model")
    r.add_argument("data")
    r.add_argument("-o", "--output", default="skecg_outputs")
    r.set_defaults(func=_cmd_predict)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

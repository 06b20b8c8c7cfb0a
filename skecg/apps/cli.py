"""The ``skecg`` command line: evaluate, train, predict.

    skecg evaluate --pipeline zhu DATA [DATA ...]       cross-source tables
    skecg train --pipeline huang DATA [DATA ...] -o model.skecg
    skecg predict model.skecg WFDB_FOLDER -o outputs/   challenge output files

``DATA`` is a folder of PhysioNet/CinC WFDB records, a PTB-XL folder, a folder of
original CPSC 2018 files, a CODE-15% folder, a store (read lazily), or the word ``sample``
for the bundled sample.

    skecg convert SRC DEST [--fs 500] [--jobs 2]       any of those folders into a store
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from skecg import ECGRecords
from skecg import io  # a lazy face: its modules load on first use
from skecg import metrics  # a lazy face: its modules load on first use
from skecg import sources as signal_sources  # a lazy face: its modules load on first use

from . import export_cmd, inspect_cmd, reproduce, train
from ._common import load_data, load_estimator, write_skip_report
from .experiments import evaluate_cross_source, evaluate_on_cluster


def _cmd_evaluate(args):
    from skecg.pipelines import PIPELINE_VOCABULARY, make_named_pipeline  # torch: kept out of `skecg --help`

    X, y = load_data(args.data, PIPELINE_VOCABULARY[args.pipeline])
    if len(X) == 0:
        why = "; ".join(f"{r}: {reason}" for r, reason in X.skipped[:3]) or "no records found"
        raise SystemExit(f"skecg: none of the records in {', '.join(map(str, args.data))} could be read "
                         f"({len(X.skipped)} skipped: {why}{' ...' if len(X.skipped) > 3 else ''})")
    sources = sorted(set(X.meta["source"]))
    groups = [[s] for s in (args.test_source or sources)]
    if len(sources) < 2:
        raise SystemExit(f"skecg: cross-source evaluation needs at least two sources; found {sources}")
    print(f"{len(X)} records from {sources}; pipeline {args.pipeline!r}")
    est = make_named_pipeline(args.pipeline, max_epochs=args.epochs)
    if args.scheduler:  # one task per held-out group on a dask cluster, a line per finished fit
        results = evaluate_on_cluster(args.scheduler, est, X, y, groups, n_seeds=args.n_seeds,
                                      n_resamples=args.resamples)
    else:
        results = evaluate_cross_source(est, X, y, groups, n_seeds=args.n_seeds, n_resamples=args.resamples)
    for res in results:
        print(f"\nheld out {'+'.join(res.test_sources)}:")
        print(res.report())  # per-class table, reference rows, intervals by patient
    return 0


def _predict_each(est, X):
    """Probabilities and 0/1 outputs; when the batch fails, record by record, skipping
    (and reporting) the records that fail."""
    try:
        return (np.arange(len(X)), *metrics.predict_with_proba(est, X), [])
    except Exception:  # noqa: BLE001 - find the records at fault, one by one
        pass
    keep, probs, preds, skipped = [], [], [], []
    for i, rid in enumerate(X.meta["record_id"]):
        try:
            p, d = metrics.predict_with_proba(est, X[[i]])
            probs.append(p[0])
            preds.append(d[0])
            keep.append(i)
        except Exception as e:  # noqa: BLE001 - skipped and reported, like an unreadable record
            skipped.append((str(rid), f"cannot predict: {type(e).__name__}: {e}"))
    k = len(est.classes_)
    return (np.asarray(keep, dtype=int), np.asarray(probs).reshape(-1, k),
            np.asarray(preds).reshape(-1, k), skipped)


#: records per batch of ``skecg predict``: small enough that a batch's arrays are reused by
#: the next (benchmarks/predict.py), large enough for the network's batched inference
PREDICT_BATCH = 256


def _read_batches(X, size: int):
    """``(indices, records, unreadable)`` per batch of a lazy container; a batch that fails
    to read is read record by record, and the records that fail are reported, not lost.

    The next batch is read in a background thread while the caller works on this one
    (file reads and numpy release the GIL), so reading overlaps preprocessing and the
    network on a second core."""
    starts = range(0, len(X), size)
    if len(starts) > 1:
        starts = tqdm(starts, desc="predict", unit="batch", disable=None, leave=False)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="skecg-read") as pool:
        pending = None
        for a in starts:
            job = pool.submit(_read_batch, X, np.arange(a, min(a + size, len(X))))
            if pending is not None:
                yield pending.result()
            pending = job
        if pending is not None:
            yield pending.result()


def _read_batch(X, idx):
    try:
        return idx, X[idx].load(), []
    except signal_sources.SourceError:
        pass
    good, unreadable = [], []
    for i in idx:
        try:
            X[[i]].load()
            good.append(i)
        except signal_sources.SourceError as e:
            unreadable.append((str(X.meta["record_id"].iat[i]), e.reason))
    good = np.asarray(good, dtype=int)
    return good, (X[good].load() if len(good) else None), unreadable


def _cmd_predict(args):
    est = load_estimator(args.model, args.trust_pickle, trusted=args.trusted or None)
    if not Path(args.data).is_dir():
        why = "it is a file" if Path(args.data).exists() else "it does not exist"
        raise SystemExit(f"skecg: {args.data} is not a folder ({why})")
    if Path(args.output).exists() and not Path(args.output).is_dir():
        raise SystemExit(f"skecg: the output {args.output} is a file; give a folder for the output files")
    try:
        kind = io.detect_format(args.data)
        if kind in ("sph", "cpsc2018"):
            raise SystemExit(f"skecg: {args.data} is a {'SPH' if kind == 'sph' else 'CPSC 2018'} folder; predict "
                             "reads WFDB folders, stores and CODE-15% folders: convert it first "
                             f"(skecg convert {args.data} STORE), then predict on the store")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", io.SkippedRecordsWarning)  # reported below and in the file
            # lazy: headers (or the store's table) now, signals batch by batch, so memory
            # stays flat and each batch reuses the last one's buffers
            if kind in ("store", "code15"):
                X, _ = (io.open_store if kind == "store" else io.read_code15)(args.data, list(est.classes_))
            else:
                src = signal_sources.WFDBFolderSource(args.data, require_dx=False, on_error="skip")  # headers only
                X = ECGRecords.from_source(src, classes=list(est.classes_), skipped=src.skipped)
    except (OSError, ValueError) as e:
        raise SystemExit(f"skecg: {e}") from None
    skipped = list(X.skipped)
    keep, proba, pred = np.zeros(0, int), None, None
    if len(X):
        parts = []
        for idx, batch, unreadable in _read_batches(X, PREDICT_BATCH):
            skipped += unreadable
            if len(idx) == 0:
                continue
            k, pr, pd_, failed = _predict_each(est, batch)
            parts.append((idx[k], pr, pd_))
            skipped += failed
        if parts:  # else every batch was unreadable: reported below, one sentence
            keep = np.concatenate([p[0] for p in parts])
            proba = np.concatenate([p[1] for p in parts])
            pred = np.concatenate([p[2] for p in parts])
    try:
        report = write_skip_report(args.output, skipped)
    except OSError as e:  # an output folder that cannot be written (permissions, a full disk)
        raise SystemExit(f"skecg: cannot write to the output folder {args.output} ({e.strerror or e})") from None
    if len(keep) == 0:
        raise SystemExit(f"skecg: none of the {len(skipped)} record(s) in {args.data} could be read and "
                         f"predicted; nothing written (reasons in {report})")
    ids = X.meta["record_id"].to_numpy()[keep].tolist()
    paths = metrics.write_challenge_outputs(args.output, ids, list(est.classes_), pred, proba)
    print(f"wrote {len(paths)} output files to {args.output}")
    if skipped:
        print(f"skipped {len(skipped)} record(s), reasons in {report}:", file=sys.stderr)
        for rid, why in skipped:
            print(f"  {rid}: {why}", file=sys.stderr)
    return 0


def _cmd_convert(args):
    from skecg.pipelines import make_zhu_preprocessing  # torch (through the models): kept out of `skecg --help`

    steps = make_zhu_preprocessing(fs=args.fs or 500, seconds=args.seconds) if args.preprocess == "zhu" else None
    try:  # a missing or unrecognisable source, a destination that exists: one sentence, non-zero exit
        out = io.convert(args.src, args.dest, vocabulary=args.vocabulary, fs=args.fs, steps=steps, jobs=args.jobs,
                      shard_records=args.shard_records, dtype=args.dtype, resume=not args.no_resume,
                      overwrite=args.overwrite)
    except (OSError, ValueError) as e:
        raise SystemExit(f"skecg: {e}") from None
    man = json.loads((out / "skecg_store.json").read_text())
    if man["n_records"] == 0:  # every record unreadable: the store is empty, and that is not success
        raise SystemExit(f"skecg: none of the {man['n_skipped']} record(s) in {args.src} could be read; the store "
                         f"{out} holds no records (reasons in {out / 'skipped.csv'})")
    print(f"wrote store {out}: {man['n_records']} records in {len(man['shards'])} shard(s), "
          f"{man['n_skipped']} skipped (see {out / 'skipped.csv'}), {man.get('seconds', 0):.1f} s")
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
    e.add_argument("--n-seeds", type=int, default=1, help="training seeds (tables show mean +- sd)")
    e.add_argument("--scheduler", help="run the fits on a dask cluster: a scheduler address (tcp://host:8786) "
                   "or local:N (a LocalCluster of N worker processes); needs skecg[distributed]")
    e.set_defaults(func=_cmd_evaluate)
    reproduce.add_parser(sub)  # skecg reproduce huang|zhu DATA... -o report/
    inspect_cmd.add_parser(sub)  # skecg inspect MODEL [--card MODEL_CARD.md]
    export_cmd.add_parser(sub)  # skecg export MODEL OUT [--format onnx|torchscript]
    train.add_version(p)  # skecg --version
    train.add_parser(sub)  # skecg train DATA... --preset NAME | --pipeline NAME [--config FILE] [--resume] -o model
    r = sub.add_parser("predict", help="write challenge output files for a folder of WFDB records, a store or "
                       "a CODE-15%% folder")
    r.add_argument("model")
    r.add_argument("data")
    r.add_argument("--trusted", action="append", metavar="TYPE",
                   help="also build this type from the model file (repeatable; `skecg inspect` lists the "
                        "types a file needs), see skecg.persistence.load_model")
    r.add_argument("--trust-pickle", action="store_true",
                   help="also load a pickle/joblib model file (it can run any code: only files you trust)")
    r.add_argument("-o", "--output", default="skecg_outputs")
    r.set_defaults(func=_cmd_predict)
    c = sub.add_parser("convert", help="convert a data folder into a store read lazily (data larger than RAM)")
    c.add_argument("src", help="WFDB folder, PTB-XL, CPSC 2018, CODE-15%% folder or store")
    c.add_argument("dest", help="the new store (a directory)")
    c.add_argument("--fs", type=float, help="resample to this rate on the way")
    c.add_argument("--preprocess", choices=["none", "zhu"], default="none",
                   help="'zhu': Zhu et al.'s chain (8 leads, bior2.6 denoising, pad/truncate) on the way")
    c.add_argument("--seconds", type=float, default=10, help="length of --preprocess zhu")
    c.add_argument("--vocabulary", default="cinc2020")
    c.add_argument("--jobs", type=int, default=1, help="shards converted in parallel processes")
    c.add_argument("--shard-records", type=int, default=512)
    c.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    c.add_argument("--no-resume", action="store_true", help="start over instead of resuming a partial store")
    c.add_argument("--overwrite", action="store_true")
    c.set_defaults(func=_cmd_convert)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

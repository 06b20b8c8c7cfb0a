"""What several commands share: reading data folders, loading model files, the skip
report, and finding the networks inside a fitted estimator.

The command modules (:mod:`.train`, :mod:`.reproduce`, :mod:`.export_cmd`, ...) import
this module; :mod:`.cli` imports the command modules.  Nothing here imports a command.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from skecg import concat_records, io
from skecg import datasets  # a lazy face: its modules load on first use
import skecg  # the root face imports skecg.<module> on first use, not at `skecg --help`
from skecg.utils.estimator_tree import iter_estimators


# --- data ----------------------------------------------------------------------------------
def load_data(paths, vocabulary, on_error="skip"):
    """Load and concatenate data folders (format detected per folder)."""
    parts, ys = [], []
    for p in paths:
        if p == "sample":
            X, y = datasets.load_sample(vocabulary)
        else:
            path = Path(p)
            if not path.is_dir():
                why = "it is a file" if path.exists() else "it does not exist"
                raise SystemExit(f"skecg: {p} is not a folder ({why}); give data folders or 'sample'")
            try:
                kind = io.detect_format(path)  # nothing recognisable in the folder: one sentence, non-zero exit
                X, y = _read_folder(kind, path, vocabulary, on_error)
            except (OSError, ValueError) as e:  # folder-level problems (duplicate names, bad tables, ...)
                raise SystemExit(f"skecg: {e}") from None
        parts.append(X)
        ys.append(y)
    return concat_records(parts), np.concatenate(ys)


def _read_folder(kind, path, vocabulary, on_error):
    """One data folder of a detected kind, with the readers' shared skip policy."""
    if kind == "sph":
        return io.read_sph(path, vocabulary, on_error=on_error)
    if kind == "store":  # lazy: signals stay on disk
        return io.open_store(path, vocabulary)
    if kind == "code15":
        return io.read_code15(path, vocabulary)
    if kind == "tnmg-test":  # Ribeiro's layout: ecg_tracings.hdf5 + annotations/gold_standard.csv
        return io.read_tnmg_test(path, vocabulary, on_error=on_error)
    if kind == "ptbxl":
        return io.read_ptbxl(path, vocabulary, on_error=on_error)
    if kind == "challenge":
        return io.read_challenge_folder(path, vocabulary, on_error=on_error)
    if kind == "cpsc2018":
        return io.read_cpsc2018(path, vocabulary, on_error=on_error)
    raise SystemExit(f"skecg: no WFDB, PTB-XL or CPSC 2018 records found in {path}")


def write_skip_report(folder, skipped, name: str = "skipped_records.tsv") -> Path:
    """``skipped_records.tsv`` (record_id, reason; tab-separated, not ``.csv`` so that
    readers of the challenge outputs never take it for one) in ``folder``; written even
    when empty."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["record_id", "reason"])
        w.writerows(skipped)
    return path


# --- models --------------------------------------------------------------------------------
def load_estimator(path, trust_pickle: bool = False, trusted=None):
    """The fitted estimator of a model file: skecg's safe format (with the extra classes
    of ``trusted``, see :func:`skecg.persistence.load_model`), or a pickle/joblib file
    only when ``trust_pickle`` (loading a pickle can run any code)."""
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"skecg: model file {path} does not exist")
    try:
        est = skecg.persistence.load_model(path, trusted=trusted)
    except skecg.persistence.UnsafeModelFileError as e:
        if not skecg.persistence.is_pickle_file(path):
            raise SystemExit(f"skecg: {e}") from None
        if not trust_pickle:
            raise SystemExit(f"skecg: {path} is a pickle/joblib file, which can run any code when loaded; "
                             "refused. Pass --trust-pickle only if you trust its origin, or retrain with "
                             "`skecg train` (safe format).") from None
        est = skecg.persistence.load_pickle_model(path)
        if isinstance(est, dict) and "estimator" in est:  # the layout older skecg versions wrote
            est = est["estimator"]
    if not (hasattr(est, "predict_proba") and hasattr(est, "predict")
            and getattr(est, "classes_", None) is not None):
        raise SystemExit(f"skecg: {path} holds a {type(est).__module__}.{type(est).__qualname__}, "
                         "not a fitted skecg estimator (make one with `skecg train`)")
    return est


def fitted_parts(est, cls, attribute: str) -> list:
    """The estimators of type ``cls`` inside a fitted ``est`` that have the fitted
    ``attribute``, in the order :func:`~skecg.utils.estimator_tree.iter_estimators`
    meets them: the one that predicts first (``estimator_`` before a first fit kept
    aside, such as PseudoLabelRelabeler's ``first_estimator_``)."""
    return [e for _, e in iter_estimators(est, fitted=True, stop_at=cls)
            if isinstance(e, cls) and hasattr(e, attribute)]


def all_networks(est) -> list:
    """Every ECGClassifier inside ``est``: its parameters, and the clones that
    meta-estimators fit, fitted or not (the network that predicts first)."""
    from skecg.models import ECGClassifier  # torch: kept out of `skecg --help`

    return [e for _, e in iter_estimators(est, fitted=True, stop_at=ECGClassifier) if isinstance(e, ECGClassifier)]


def fitted_networks(est) -> list:
    """The fitted ECGClassifiers inside a fitted ``est`` (the clones meta-estimators fit
    included), the network that predicts first."""
    return [n for n in all_networks(est) if hasattr(n, "classes_")]

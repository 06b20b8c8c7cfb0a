"""``skecg train``: train a preset or a named pipeline, with checkpoints that resume.

    skecg train DATA [DATA ...] --preset huang-paper -o model.skecg [--device cuda] [--seed 0]
    skecg train DATA --pipeline zhu --epochs 12 -o model.skecg
    skecg train DATA --preset huang-paper --config my.toml --resume -o model.skecg
    skecg train --preset zhu-paper --show-config

- ``--preset NAME`` builds the estimator of a named configuration
  (:mod:`skecg.presets`; ``huang-paper`` and ``zhu-paper`` are the papers' sizes) and
  applies its data rules (``--no-rule NAME`` switches one off); ``--pipeline NAME``
  the demo-size pipelines of :func:`skecg.apps.experiments.make_named_pipeline`.
- ``--config FILE``: a TOML file whose keys are the estimator's parameters
  (``set_params`` keys such as ``net__lr``; a bare network parameter such as
  ``max_epochs`` applies to every network of the estimator; a ``[net]`` table is read
  as ``net__*``).  ``--epochs``, ``--seed``, ``--device`` and ``--monitor`` are applied
  after it.  The resolved configuration is written beside the model
  (``model.toml``) and kept in the model file, with the training history.
- One line per epoch on stderr: losses, validation AUROC and challenge score, seconds
  per epoch, ETA.
- Every epoch is checkpointed into ``OUTPUT.checkpoints/`` (``--checkpoint-dir``):
  skorch's ``Checkpoint`` plus the random and callback state an exact resume needs
  (:class:`~skecg.models.TrainingCheckpoint`).  ``--resume`` continues
  a fit that was killed or interrupted (Ctrl-C); it ends with the same weights and
  history as an uninterrupted fit.  Without ``--resume`` a folder that already holds
  checkpoints is refused, so that nothing is overwritten by accident.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import math
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from skecg import __version__
import skecg  # the root face imports skecg.<module> on first use, not at `skecg --help`

from ._common import all_networks, fitted_networks, load_data, write_skip_report

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


# --- configuration files ----------------------------------------------------------------------
def read_config(path) -> dict:
    """The parameters of a TOML configuration file, flat (``[net]`` tables become
    ``net__*`` keys; lists become tuples; the keys listed in ``null_parameters`` are
    set to ``None``, which TOML cannot write).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "c.toml")
    >>> _ = open(p, "w").write('max_epochs = 3\\nnull_parameters = ["net__patience"]\\n[net]\\nlr = 1e-4\\n')
    >>> sorted(read_config(p).items())
    [('max_epochs', 3), ('net__lr', 0.0001), ('net__patience', None)]
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise SystemExit(f"skecg: config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise SystemExit(f"skecg: config file {path} is not valid TOML ({e})") from None
    doc.pop("skecg", None)  # what `skecg train` wrote about the run (preset, data, versions)
    nulls = doc.pop("null_parameters", [])
    out = {}

    def flat(d, prefix):
        for k, v in d.items():
            if isinstance(v, dict):
                flat(v, f"{prefix}{k}__")
            else:
                out[prefix + k] = tuple(v) if isinstance(v, list) else v

    flat(doc, "")
    for k in nulls:
        out[str(k)] = None
    return out


def read_config_meta(path) -> dict:
    """The ``[skecg]`` table of a configuration file (what ``skecg train`` wrote about
    the run: preset, data, versions); empty when there is none."""
    try:
        with Path(path).open("rb") as fh:
            return dict(tomllib.load(fh).get("skecg", {}))
    except (OSError, tomllib.TOMLDecodeError):
        return {}  # read_config says what is wrong with the file


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return "nan" if math.isnan(f) else ("inf" if f == math.inf else "-inf" if f == -math.inf else repr(f))
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string (JSON's escapes are TOML's)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _tomlable(v) -> bool:
    if isinstance(v, (bool, int, float, str, np.integer, np.floating)):
        return True
    return isinstance(v, (list, tuple)) and all(_tomlable(x) and not isinstance(x, (list, tuple)) for x in v)


def write_config(path, params: dict, meta: dict | None = None) -> Path:
    """Write flat parameters as TOML (what :func:`read_config` reads back).

    ``None`` values go to ``null_parameters``; values TOML cannot hold (classes,
    objects) are written as comments, so the file says what they were.  ``meta``
    becomes a ``[skecg]`` table, which :func:`read_config` ignores.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "c.toml")
    >>> _ = write_config(p, {"net__lr": 0.001, "net__module__filters": (8, 8), "net__patience": None})
    >>> read_config(p) == {"net__lr": 0.001, "net__module__filters": (8, 8), "net__patience": None}
    True
    """
    lines, nulls, other = [], [], []
    for k, v in params.items():
        if v is None:
            nulls.append(k)
        elif _tomlable(v):
            lines.append(f"{k} = {_toml_value(v)}")
        else:
            other.append(f"# {k}: {_describe(v)} (not a TOML value; set it in Python)")
    head = ["# skecg train: the resolved configuration (set_params keys of the estimator)",
            "# `skecg train --config THIS_FILE` trains the same estimator again"]
    if nulls:
        lines.append(f"null_parameters = {_toml_value(nulls)}")
    text = "\n".join(head + lines + other)
    if meta:
        text += "\n\n[skecg]\n" + "\n".join(f"{k} = {_toml_value(v)}" for k, v in meta.items() if _tomlable(v))
    path = Path(path)
    path.write_text(text + "\n")
    return path


def _describe(v) -> str:
    if isinstance(v, type):
        return f"{v.__module__}.{v.__qualname__}"
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
        return "[" + ", ".join(f"{n}: {type(c).__name__}" for n, c in v) + "]"
    return type(v).__name__


def resolved_params(est) -> dict:
    """The estimator's leaf parameters (``get_params(deep=True)`` without the
    estimators themselves), the configuration a run used."""
    out = {}
    for k, v in est.get_params(deep=True).items():
        if hasattr(v, "get_params") or k.endswith(("steps", "estimators", "transformer_list")):  # estimators, as sklearn.clone tells them
            continue
        if "callbacks__skecg_" in k or k.startswith("callbacks__print_log") or "__callbacks__print_log__" in k:
            continue  # skecg train's own checkpoint, resume and log callbacks; the printed table
        if k.rsplit("__", 1)[-1].startswith("_") or (v is None and "callbacks__" in k):
            continue  # private (skorch's _params_to_validate); callbacks' unset settings
        out[k] = v
    return dict(sorted(out.items()))


# --- the estimator ---------------------------------------------------------------------------
def networks(est) -> dict:
    """``{set_params prefix: ECGClassifier}`` of every network in ``est`` (prefix ``''``
    for ``est`` itself), members of ``estimators`` lists (``LengthEnsemble``) included
    as ``...estimators__NAME__``, the keys :func:`skecg.presets.set_deep_params` takes
    (:func:`skecg.presets.networks`, with a trailing ``__``).

    Examples
    --------
    >>> from skecg.pipelines import make_named_pipeline
    >>> list(networks(make_named_pipeline("huang")))
    ['net__']
    """
    return {(key + "__" if key else ""): net for key, net, _, _ in skecg.presets.networks(est)}


def apply_overrides(est, overrides: dict, where: str = "the command line"):
    """Set ``overrides`` on ``est``: ``set_params`` keys (members of a
    ``LengthEnsemble`` as ``...estimators__NAME__...``, callbacks' settings as
    ``...callbacks__NAME__...``); a key that is not a parameter of ``est`` but of a
    network (e.g. ``max_epochs``, ``module__filters``) applies to every network."""
    from skecg.models import ECGClassifier  # torch: kept out of `skecg --help`

    nets = networks(est)
    top = set(est.get_params(deep=False))
    net_params = set(ECGClassifier().get_params(deep=False))
    prefixes = ("module__", "criterion__", "optimizer__", "iterator_train__", "iterator_valid__", "dataset__",
                "callbacks__", "compile__")
    for key, value in overrides.items():
        value = tuple(value) if isinstance(value, list) else value
        head = key.split("__")[0]
        try:
            if head not in top and nets and (key in net_params or key.startswith(prefixes)):
                for net in nets.values():
                    net.set_params(**{key: value})
            else:
                _set_deep(est, key, value)
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise SystemExit(f"skecg: {where}: cannot set {key!r}: {e}") from None
    return est


def _set_deep(est, key, value):
    """``set_params`` of one key, through ``estimators`` lists (LengthEnsemble members)."""
    nets = networks(est)
    for prefix, net in sorted(nets.items(), key=lambda kv: -len(kv[0])):
        if prefix and key.startswith(prefix) and "__estimators__" in prefix:
            net.set_params(**{key[len(prefix):]: value})
            return
    if "__estimators__" in key or key.startswith("estimators__"):
        skecg.presets.set_deep_params(est, {key: value})  # walks LengthEnsemble members above the networks
        return
    est.set_params(**{key: value})


def _seed_everything(est, seed: int) -> dict:
    """Every ``random_state`` in ``est`` (networks, subset samplers, splits) set to ``seed``."""
    keys = {k for k in est.get_params(deep=True) if k == "random_state" or k.endswith("__random_state")}
    keys |= {p + "random_state" for p in networks(est)}
    return {k: int(seed) for k in sorted(keys)}


def build_estimator(args):
    """(estimator, vocabulary, preset or None, overrides applied) from the arguments."""
    from skecg.pipelines import PIPELINE_VOCABULARY, make_named_pipeline  # torch: kept out of `skecg --help`

    preset = None
    if not args.preset and not args.pipeline and args.config:
        # a configuration written by skecg train names its preset or pipeline in [skecg]
        base = read_config_meta(args.config).get("preset")
        if isinstance(base, str):
            if base in skecg.presets.PRESETS:
                args.preset = base
            elif base in PIPELINE_VOCABULARY:
                args.pipeline = base
    if args.preset:
        try:
            preset = skecg.presets.get_preset(args.preset)
        except KeyError as e:
            raise SystemExit(f"skecg: {e.args[0]}") from None
        est, vocabulary = preset.make_estimator(), preset.vocabulary
    else:
        pipeline = args.pipeline or "zhu"
        est, vocabulary = make_named_pipeline(pipeline, max_epochs=args.epochs or 12), PIPELINE_VOCABULARY[pipeline]
    overrides = {}
    if args.config:
        cfg = read_config(args.config)
        apply_overrides(est, cfg, where=f"config file {args.config}")
        overrides.update(cfg)
    cli = {}
    if args.epochs is not None:
        cli["max_epochs"] = args.epochs
    if args.device:
        cli["device"] = args.device
    if args.monitor:
        cli["monitor"] = args.monitor
    if args.seed is not None:
        cli.update(_seed_everything(est, args.seed))
    if cli and not networks(est):
        unused = sorted(k for k in cli if not k.endswith("random_state"))
        if unused:
            print(f"skecg: note: {', '.join(unused)} do(es) not apply: this estimator has no network",
                  file=sys.stderr)
        cli = {k: v for k, v in cli.items() if k.endswith("random_state")}
    apply_overrides(est, cli)
    overrides.update(cli)
    return est, vocabulary, preset, overrides


# --- checkpoints -------------------------------------------------------------------------------
def _attach_callbacks(est, checkpoint_dir, progress: bool):
    """Add the epoch log, the checkpoint and the resume callback to every network
    (each network its own checkpoint folder); returns a function that restores the
    networks' own ``callbacks`` (what the model file keeps)."""
    from skecg.models import EpochLog, LoadTrainingState, TrainingCheckpoint  # torch: kept out of `skecg --help`

    nets = networks(est)
    saved = {p: net.callbacks for p, net in nets.items()}
    loaders = []
    for prefix, net in nets.items():
        folder = Path(checkpoint_dir) / (prefix.rstrip("_").replace("__", ".") or "net")
        cp = TrainingCheckpoint(folder)
        load = LoadTrainingState(cp)
        loaders.append(load)
        extra = [("skecg_checkpoint", cp), ("skecg_resume", load), ("skecg_interrupt", _stop_on_interrupt())]
        if progress:
            extra.append(("skecg_epoch_log", EpochLog()))
        net.set_params(callbacks=list(net.callbacks or []) + extra)

    def restore():
        for prefix, net in nets.items():
            net.set_params(callbacks=saved[prefix])

    return restore


class TrainingInterrupted(Exception):
    """Raised by :class:`_StopOnInterrupt` to end ``skecg train`` after Ctrl-C."""


def _stop_on_interrupt():
    from skorch.callbacks import Callback  # skorch and torch: kept out of `skecg --help`

    class _StopOnInterrupt(Callback):
        """skorch ends a fit quietly on Ctrl-C; in ``skecg train`` an interrupted network
        must not be followed by the next one nor saved as finished."""

        def on_train_end(self, net, **kwargs):
            if getattr(net, "interrupted_", False):
                raise TrainingInterrupted

    return _StopOnInterrupt()


def _drop_callbacks(est) -> dict:
    """Remove the training callbacks (initialisation, schedules, checkpoints: objects a
    safe model file cannot hold, and that prediction never uses) from every network,
    fitted clones included; returns ``{network: ["name: module.Class", ...]}`` for the
    model file's record (the settings themselves are in the configuration)."""
    dropped = {}
    named = {id(n): k.rstrip("_") or "net" for k, n in networks(est).items()}
    for i, net in enumerate(all_networks(est)):
        cbs = net.callbacks or []
        if cbs:
            own = [f"{n}: {type(c).__module__}.{type(c).__qualname__}" for n, c in cbs
                   if not str(n).startswith("skecg_")]  # skecg train's checkpoint/log plumbing is not recorded
            if own:
                dropped.setdefault(named.get(id(net), f"network {i}"), own)
            net.set_params(callbacks=None)
    return dropped


def _check_savable(est, out) -> None:
    """Save the unfitted estimator (training callbacks left out, as after training) to a
    scratch file: a part that no safe model file can hold is reported now."""
    probe = copy.deepcopy(est)
    _drop_callbacks(probe)
    with tempfile.TemporaryDirectory() as d:
        try:
            skecg.persistence.save_model(probe, Path(d) / "probe.skecg")
        except TypeError as e:
            raise SystemExit(f"skecg: the trained model could not be saved to {out}: {e}; nothing was "
                             "trained") from None


def _history_rows(net) -> list:
    """The epoch rows of a network's history (without the per-batch entries)."""
    rows = []
    for row in getattr(net, "history", []) or []:
        rows.append({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                     for k, v in row.items() if k != "batches"})
    return rows


def _cmd_train(args):
    if args.preset and args.pipeline:
        raise SystemExit("skecg: give --preset or --pipeline, not both")
    est, vocabulary, preset, overrides = build_estimator(args)
    if args.show_config:
        if preset is not None:
            print(preset.describe())
        if overrides or preset is None:
            print("\nresolved parameters (after --config and options):" if preset is not None else
                  f"pipeline {args.pipeline or 'zhu'!r}, resolved parameters:")
            shown = resolved_params(est)
            for k, v in shown.items():
                if preset is None or any(k == o or k.endswith("__" + o) for o in overrides):
                    print(f"  {k} = {v!r}")
        return 0
    if not args.data:
        raise SystemExit("skecg: train needs data folders (or 'sample'); --show-config alone trains nothing")
    out = Path(args.output)
    ckpt = Path(args.checkpoint_dir) if args.checkpoint_dir else out.with_name(out.name + ".checkpoints")
    if not args.resume and ckpt.is_dir() and any(ckpt.rglob("history.json")):
        raise SystemExit(f"skecg: {ckpt} holds checkpoints of an earlier fit; pass --resume to continue it, or "
                         "delete the folder to start over")
    X, y = load_data(args.data, vocabulary)
    if X.skipped:  # reported beside the model file, like predict's beside its outputs
        report = write_skip_report(out.parent, X.skipped, name=out.name + ".skipped_records.tsv")
        print(f"skipped {len(X.skipped)} unreadable record(s), reasons in {report}", file=sys.stderr)
    rules = [r for r in (preset.rules if preset is not None else ()) if r not in (args.no_rule or [])]
    if preset is not None and args.no_rule:
        unknown = sorted(set(args.no_rule) - set(preset.rules))
        if unknown:
            raise SystemExit(f"skecg: --no-rule {unknown[0]}: preset {preset.name!r} has the rules "
                             f"{list(preset.rules) or 'none'}")
    if rules and len(X):
        X, y, _ = skecg.rules.apply_rules(X, y, rules)  # the report goes to stderr
    if len(X) == 0:
        raise SystemExit("skecg: no record could be read; nothing to train on")
    name = preset.name if preset is not None else (args.pipeline or "zhu")
    _check_savable(est, out)  # before hours of training, not after
    restore = _attach_callbacks(est, ckpt, progress=not args.quiet)
    print(f"training {name!r} on {len(X)} records; checkpoints in {ckpt}", file=sys.stderr, flush=True)
    try:
        est.fit(X, y)
    except TrainingInterrupted:
        raise SystemExit(f"skecg: training was interrupted; the last finished epoch is checkpointed in {ckpt}: "
                         "run the same command with --resume to continue") from None
    except ValueError as e:  # a checkpoint of another fit, a damaged one, bad settings
        raise SystemExit(f"skecg: {e}") from None
    fitted = fitted_networks(est)
    restore()
    dropped = _drop_callbacks(est)
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in resolved_params(est).items()}
    meta = {"preset": name, "data": [str(d) for d in args.data], "n_records": int(len(X)),
            "skecg_version": __version__, "rules": rules}
    config_path = write_config(out.with_suffix(".toml"), config, meta)
    info = {"pipeline": name, "preset": preset.name if preset is not None else None,
            "config": {k: v for k, v in config.items() if _tomlable(v) or v is None},
            "history": {("net" if i == 0 else f"net{i}"): _history_rows(n) for i, n in enumerate(fitted)},
            "data": meta["data"], "n_records": meta["n_records"], "rules": rules,
            "training_callbacks": dropped}
    info = json.loads(json.dumps(info, default=str))
    if "train_data" in inspect.signature(skecg.persistence.save_model).parameters:  # the model card's summary of the data
        info["train_data"] = (X, y)
    skecg.persistence.save_model(est, out, **info)  # safe format: loads without running code
    print(f"trained {name!r} on {len(X)} records; saved to {out} (configuration: {config_path})")
    return 0


def add_parser(sub):
    """Add ``train`` to the ``skecg`` command line's subparsers."""
    names = ["zhu", "huang", "huang-attention", "catboost"]
    t = sub.add_parser("train", help="train a preset or a named pipeline and save it (resumable)",
                       description=__doc__.split("\n\n")[0] if __doc__ else None)
    t.add_argument("data", nargs="*", help="data folders, or 'sample'")
    t.add_argument("--preset", help="a named configuration (skecg.presets: huang-paper, zhu-paper, ... small, "
                   "demo)")
    t.add_argument("--pipeline", choices=names, help="a demo-size named pipeline (default: zhu)")
    t.add_argument("--config", help="TOML file of estimator parameters (set_params keys), applied after the "
                   "preset")
    t.add_argument("--epochs", type=int, help="max_epochs of every network (default: the preset's; 12 for "
                   "--pipeline)")
    t.add_argument("--seed", type=int, help="every random_state of the estimator (same seed, same model)")
    t.add_argument("--device", help="torch device of the networks: cpu, cuda, cuda:1 ...")
    t.add_argument("--monitor", help="what early stopping watches: valid_loss, valid_auroc, valid_challenge, "
                   "valid_f1, train_loss")
    t.add_argument("--resume", action="store_true", help="continue the fit checkpointed in the checkpoint folder")
    t.add_argument("--checkpoint-dir", help="checkpoint folder (default: OUTPUT.checkpoints)")
    t.add_argument("--no-rule", action="append", help="switch off one of the preset's data rules (repeatable)")
    t.add_argument("--show-config", action="store_true",
                   help="print the resolved configuration (and parameter counts) and exit")
    t.add_argument("-q", "--quiet", action="store_true", help="no per-epoch lines")
    t.add_argument("-o", "--output", default="skecg_model.skecg",
                   help="model file (skecg's safe format, see README 'Model files')")
    t.set_defaults(func=_cmd_train)
    return t


def version_string() -> str:
    """``skecg X.Y.Z`` from the installed distribution's metadata (the package's own
    ``__version__`` where skecg is not installed).

    Examples
    --------
    >>> version_string().startswith("skecg ")
    True
    """
    try:
        v = version("skecg")
    except PackageNotFoundError:
        v = __version__
    return f"skecg {v}"


def add_version(parser: argparse.ArgumentParser) -> None:
    """``--version`` on the top-level ``skecg`` parser."""
    parser.add_argument("--version", action="version", version=version_string())


"""The papers' protocols as one command each, written up table by table.

    skecg reproduce huang DATA [DATA ...] -o report/ [--test-only TNMG_TEST_FOLDER]
    skecg reproduce zhu   DATA [DATA ...] -o report/ [--waves LUDB_FOLDER]
    skecg reproduce huang|zhu --scale paper --show-config

- **huang** (Huang et al.): trained on one source (the TNMG-like one), tested on every
  other one, six TNMG classes.  Table 5: Ribeiro's ResNet-1d on training subsets I-IV,
  one block per test set (a TNMG/CODE test set in Ribeiro's layout, CPSC, SNH, ...);
  Table 6: the attention ResNet-1d on subsets I-IV; Table 7: the best attention model
  against a ResNet-1d trained on all the training data (in place of Ribeiro's
  full-data DNN); Tables 3-4: the records of each subset and test set by class, age
  group and sex.
- **zhu** (Zhu et al.): Table 3's Models 1-6 in the paper's order (1: SE-ResNet, 12
  leads, 30 s, no denoising; 2: + wavelet denoising, CPSC relabelling, the bradycardia
  rule; 3: + Sign Loss and the sinus-rhythm fallback; 4 and 5: 8 leads at 15,000 and
  5,000 samples; 6: the ensemble of 4 and 5), Table 4's Model 7 (CatBoost) and Model 8
  (the U-Net rule, with ``--waves``), under the paper's 80/20 random split and under
  leave-one-source-out, scored by the challenge metric, 24 scored classes.

Each paper's data rules (:mod:`skecg.rules`: Huang's CPSC and SNH filters, Zhu's
INCART and unscored-record exclusions) are applied to the data when they are read and
reported (``--no-rule NAME`` switches one off).  Each (system, training set) cell is
cached in ``OUT/cells/`` as soon as it finishes, so an interrupted run resumes.  The
report (``report.html``, self-contained, and ``report.md``) puts the papers' published
numbers beside skecg's ("not available offline" where a table could not be read
here), every table also as CSV in ``tables/``, every figure as 300 dpi PNG and SVG in
``figures/``.

``DATA`` is ``sample`` (the bundled sample: a small-scale run, labelled as such), any
folder ``skecg evaluate`` reads (a TNMG/CODE test set in Ribeiro's layout included), or
an LUDB folder; ``--test-only`` folders are never trained on.  ``--scale paper`` trains
the papers' presets (:mod:`skecg.presets`) at the papers' sizes.

:func:`run` goes through four stages, a module each in ``skecg/apps/_reproduce/``:
load (``data``), grid (``grid``), cells (``cells``) and report (``report``, with
``tables`` and ``figures``); ``protocols`` holds the papers' systems and numbers.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

import skecg  # the root face imports skecg.<module> on first use, not at `skecg --help`

from . import _reproduce  # a lazy face: the stages load when a report is made, not at `skecg --help`
from ._reproduce.protocols import (
    ALL_DATA,
    CITATION,
    DERIVED,
    HUANG_SUBSETS,
    OFFLINE,
    PRESETS_OF,
    PROTOCOLS,
    PUBLISHED,
    PUBLISHED_ROW,
    RULES_OF,
    SEGMENT_RULE,
    VOCABULARY,
    Scale,
    choose_systems,
    huang_systems,
    protocol_systems,
    zhu_systems,
)

__all__ = ["AGE_GROUPS", "ALL_DATA", "CITATION", "DERIVED", "HUANG_SUBSETS", "OFFLINE", "PRESETS_OF", "PROTOCOLS",
           "PUBLISHED", "PUBLISHED_ROW", "RULES_OF", "SEGMENT_RULE", "VOCABULARY", "Scale", "add_parser",
           "huang_systems", "load_sources", "run", "show_config", "write_report", "zhu_systems"]



def __getattr__(name):
    """The stage functions this module re-exports, loaded on first use."""
    for module, names in _STAGE_NAMES.items():
        if name in names:
            return getattr(getattr(_reproduce, module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_STAGE_NAMES = {"data": ("load_sources",), "report": ("write_report",), "tables": ("AGE_GROUPS",)}

# OpenMP threads that spin while they wait cost many times the CPU of passive ones on a
# loaded machine (skecg.apps.demo measured 12x per training batch).  Set before torch
# loads its OpenMP runtime (``skecg reproduce`` imports this module first); an explicit
# OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# --- the run ----------------------------------------------------------------------------
def run(protocol, data, out, *, test_only=(), scale=None, n_seeds: int = 1, n_resamples: int = 200,
        train_source=None, held_out=None, sources=None, random_state=0, systems=None, report_only=False,
        rules=None, waves=None, splits=("random", "lopo"), log=print):
    """Run one protocol's grid (resuming from cached cells) and write the report.

    Parameters
    ----------
    protocol : {'huang', 'zhu'}
    data : list of str
        Data folders or ``'sample'``.
    out : str or Path
        Report folder (created); cells are cached in ``out/cells``.
    test_only : list of str
        Folders whose sources are only tested on (a TNMG test set, LUDB ...).
    scale : {'small', 'paper'} or Scale, optional
        Default ``'small'`` when the data are the bundled sample, else ``'paper'``.
    n_seeds : int, default=1
    n_resamples : int, default=200
        Bootstrap resamples (patients) of the intervals.
    train_source : str, optional
        Huang: the one training source (default: the source with most records).
    held_out : list of list of str, optional
        Zhu: held-out source groups (default: every source, one at a time; on the
        sample, the demo's three groups).
    sources : list of str, optional
        Keep only the records of these sources (``meta['source']``), test-only ones
        included.
    systems : list of str, optional
        Run only these systems (names as in the report, or ``'Model N'`` for Zhu).
    report_only : bool, default=False
        Train nothing: write the report from the cells finished so far.
    rules : list of str, optional
        The data rules applied when reading (default: the paper's, :data:`RULES_OF`).
    waves : str, optional
        Zhu: an LUDB folder whose wave annotations train Model 8's U-Net.
    splits : tuple of {'random', 'lopo'}, default=('random', 'lopo')
        Zhu: the paper's 80/20 random split and/or leave-one-source-out.

    Returns
    -------
    Path of ``report.html``
    """
    _check_arguments(protocol, n_seeds, splits)
    import torch  # torch: kept out of `skecg --help`

    out = Path(out)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    (out / "tables").mkdir(exist_ok=True)
    t_start = time.perf_counter()
    is_sample = list(data) == ["sample"]
    sc = Scale.get(scale or ("small" if is_sample else "paper"))
    rules = list(RULES_OF[protocol] if rules is None else rules)
    # 1. load: the records, after the paper's data rules
    log(f"skecg reproduce {protocol}: reading {list(data)} + test-only {list(test_only)} ...")
    d = _reproduce.data.load(data, test_only, VOCABULARY[protocol], rules, sources=sources, log=log)
    config = {"protocol": protocol, "data": list(data), "test_only": list(test_only), "scale": sc.__dict__,
              "sources": sorted(sources) if sources else None, "held_out": held_out, "train_source": train_source,
              "n_seeds": n_seeds, "random_state": random_state, "n_records": d.n_main, "rules": rules,
              "splits": list(splits), "cell_format": 3}
    # 2. grid: the cells, each a (system, training set) tested on named record sets
    chosen = choose_systems(protocol_systems(protocol, sc, random_state, waves=waves), systems)
    if protocol == "huang":
        grid, config["train_pool"] = _reproduce.grid.huang_grid(d, chosen, train_source, log=log)
    else:
        grid = _reproduce.grid.zhu_grid(d, chosen, splits, held_out, random_state, is_sample=is_sample)
    log(f"{len(d.X)} records, {len(grid)} cells, scale {sc.name!r}, {n_seeds} seed(s); cache {out / 'cells'}")
    # 3. cells: fitted and predicted, or read back from the cache
    runner = _reproduce.cells.CellRunner(d, chosen, out, _reproduce.cells.cache_prefix(config), protocol, sc, n_seeds=n_seeds,
                        random_state=random_state, report_only=report_only, log=log)
    results, rows = runner.run(grid)
    if not results:
        raise ValueError(f"no finished cells in {out / 'cells'} for this configuration; run without report_only")
    # 4. report
    info = {"config": config, "scale": sc, "seconds": time.perf_counter() - t_start, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "is_sample": is_sample, "test_only_sources": d.test_only_sources,
            "rule_report": d.rule_report, "systems": list(chosen)}
    return _reproduce.report.write_report(protocol, d.X, d.y, d.classes, results, pd.DataFrame(rows), out, info,
                        n_resamples=n_resamples, random_state=random_state)


def _check_arguments(protocol, n_seeds, splits):
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"n_seeds must be a positive integer, got {n_seeds!r}")
    bad = sorted(set(splits) - {"random", "lopo"})
    if bad or not splits:
        raise ValueError(f"splits must be among ('random', 'lopo'), got {list(splits)}")


# --- configuration -------------------------------------------------------------------------
def show_config(protocol, scale="paper") -> str:
    """The text of ``skecg reproduce PROTOCOL --scale SCALE --show-config``: every system's
    resolved configuration and network sizes; nothing is read or trained.

    Examples
    --------
    >>> "6,421,910" in show_config("huang", "paper")
    True
    """
    sc = Scale.get(scale)
    lines = [f"skecg reproduce {protocol} --scale {sc.name}: {CITATION[protocol]}", ""]
    if sc.paper:
        for name in PRESETS_OF[protocol]:
            lines += [skecg.presets.get_preset(name).describe(), ""]
    else:
        lines.append(f"small scale: {sc.fs:g} Hz, {sc.seconds:g} s (long: {sc.long_seconds:g} s), "
                     f"{sc.epochs} epochs, {sc.n_per_class} records per class, SE-ResNet widths {sc.se_filters}")
    k = 6 if protocol == "huang" else 24
    systems = huang_systems(sc) if protocol == "huang" else zhu_systems(sc)
    lines.append("systems of the protocol, in the report's order (networks built at their input shape, "
                 "nothing trained):")
    for name, est in systems.items():
        if isinstance(est, tuple):
            what = ("the ensemble of the trained Models 4 and 5 (no training of its own)" if est[0] == DERIVED
                    else "a U-Net trained on LUDB's QRS annotations (--waves), PVC by a QRS of 120 ms or more")
            lines.append(f"  {name}: {what}")
            continue
        nets = skecg.presets.networks(est)
        if not nets:
            lines.append(f"  {name}: {type(est).__name__} (no network)")
        for key, net, leads, samples in nets:
            n = skecg.presets.count_parameters(net, leads, samples or 4096, k)
            lines.append(f"  {name}: {net.module}, {leads} leads x {samples} samples, {n:,} parameters, "
                         f"{net.max_epochs} epochs, batch {net.batch_size}, criterion {net.criterion}")
    lines += ["", "data rules (on; --no-rule NAME switches one off):"]
    lines += [f"  {r}: {skecg.rules.RULES[r].description}" for r in RULES_OF[protocol]]
    return "\n".join(lines)


# --- command line -----------------------------------------------------------------------
def add_parser(sub):
    """Add ``reproduce`` to the ``skecg`` command line's subparsers."""
    r = sub.add_parser("reproduce", help="run a paper's protocol and write an HTML + Markdown report")
    r.add_argument("protocol", choices=PROTOCOLS)
    r.add_argument("data", nargs="*", help="data folders, or 'sample'")
    r.add_argument("-o", "--output", default="skecg_report", help="report folder (cells cached inside)")
    r.add_argument("--test-only", action="append", default=[],
                   help="a folder only tested on (a TNMG test set in Ribeiro's layout, LUDB, ...)")
    r.add_argument("--scale", choices=["small", "paper", "full"],
                   help="default: small on 'sample', else paper (the papers' presets; 'full' is its old name)")
    r.add_argument("--show-config", action="store_true",
                   help="print the resolved configuration and the networks' sizes; read and train nothing")
    r.add_argument("--n-seeds", type=int, default=1)
    r.add_argument("--resamples", type=int, default=200)
    r.add_argument("--train-source", help="huang: the training source (default: the largest)")
    r.add_argument("--system", action="append", help="run only this system, e.g. 'Model 3' (repeatable)")
    r.add_argument("--source", action="append", help="use only the records of this source (repeatable)")
    r.add_argument("--no-rule", action="append", default=[], metavar="NAME",
                   help="switch one of the paper's data rules off (repeatable; 'all' for every one)")
    r.add_argument("--waves", help="zhu: an LUDB folder whose QRS annotations train Model 8's U-Net")
    r.add_argument("--split", choices=["both", "random", "lopo"], default="both",
                   help="zhu: the 80/20 random split, leave-one-source-out, or both (default)")
    r.add_argument("--report-only", action="store_true",
                   help="train nothing: write the report from the cells finished so far")
    r.set_defaults(func=_cmd_reproduce)
    return r


def _cmd_reproduce(args):
    if args.show_config:
        print(show_config(args.protocol, args.scale or "paper"))
        return 0
    if not args.data:
        raise SystemExit("skecg reproduce: give DATA folders (or 'sample'), or --show-config")
    unknown = sorted(set(args.no_rule) - set(skecg.rules.RULES) - {"all"})
    if unknown:
        raise SystemExit(f"skecg reproduce: unknown rule(s) {unknown}; the rules are {sorted(skecg.rules.RULES)}")
    rules = [] if "all" in args.no_rule else [r for r in RULES_OF[args.protocol] if r not in args.no_rule]
    import matplotlib  # matplotlib: kept out of `skecg --help`

    matplotlib.use("Agg")
    splits = ("random", "lopo") if args.split == "both" else (args.split,)
    path = run(args.protocol, args.data, args.output, test_only=args.test_only, scale=args.scale,
               n_seeds=args.n_seeds, n_resamples=args.resamples, train_source=args.train_source,
               systems=args.system, sources=args.source, report_only=args.report_only, rules=rules,
               waves=args.waves, splits=splits, log=lambda m: print(m, flush=True))
    print(f"report written to {path} (and {path.with_suffix('.md')}, tables/*.csv, figures/*.png|svg)")
    return 0

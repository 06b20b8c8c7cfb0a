"""``skecg inspect MODEL``: what a model file holds, read without building it.

    skecg inspect model.skecg                       tree, trusted types, history, model card
    skecg inspect model.skecg --card MODEL_CARD.md  also write the model card as markdown
    skecg inspect model.skecg --json                everything as JSON (for scripts)
"""

from __future__ import annotations

import json
from pathlib import Path

import skecg  # the root face imports skecg.<module> on first use, not at `skecg --help`


def _tree_lines(entry, prefix="", last=True, root=True) -> list:
    name = entry["class"].rpartition(".")[2] if isinstance(entry["class"], str) else repr(entry["class"])
    params = ", ".join(f"{k}={v}" for k, v in entry["params"].items())
    label = (f"{entry['path'].rpartition('__')[2]}: " if not root else "") + f"{name}({params})"
    if not entry["trusted"]:
        label += f"  [NOT TRUSTED: {entry['class']}]"
    lines = [label if root else prefix + ("└─ " if last else "├─ ") + label]
    kids = entry["children"]
    ext = "" if root else prefix + ("   " if last else "│  ")
    for i, k in enumerate(kids):
        lines += _tree_lines(k, ext, i == len(kids) - 1, root=False)
    return lines


def _history_table(rows, max_rows: int) -> list:
    if not rows:
        return ["  (no history)"]
    keys = ["epoch"] + [k for k in ("train_loss", "valid_loss") if any(k in r for r in rows)]
    keys += sorted({k for r in rows for k in r if k.startswith("valid_") and k not in keys
                    and not k.endswith("_best") and isinstance(r.get(k), float)})
    keys += ["dur"] if any("dur" in r for r in rows) else []
    shown = rows if len(rows) <= max_rows else rows[:max_rows // 2] + [None] + rows[-(max_rows - max_rows // 2):]
    out = ["  " + "  ".join(f"{k:>12}" for k in keys)]
    for r in shown:
        if r is None:
            out.append(f"  {'...':>12}")
            continue
        cells = []
        for k in keys:
            v = r.get(k)
            cells.append(f"{v:>12.4g}" if isinstance(v, float) else f"{'' if v is None else v!s:>12}")
        out.append("  " + "  ".join(cells))
    return out


def format_report(report: dict, max_epochs: int = 20) -> str:
    """The text ``skecg inspect`` prints for :func:`skecg.persistence.inspect_model`'s
    report: header, estimator tree, types that need ``trusted=``, each classifier's
    training history, then the model card.

    Parameters
    ----------
    report : dict
        What :func:`skecg.persistence.inspect_model` returned.
    max_epochs : int, default=20
        History rows shown per classifier (the first and last epochs of a longer one).

    Returns
    -------
    str

    Examples
    --------
    >>> import tempfile, os
    >>> from skecg.persistence import inspect_model, save_model
    >>> from skecg.preprocessing import PadTruncate
    >>> p = save_model(PadTruncate(length=10), os.path.join(tempfile.mkdtemp(), "pad.skecg"))
    >>> print(format_report(inspect_model(p)).splitlines()[3])
      PadTruncate(length=10)
    """
    lines = [f"{report['path']}: skecg model file, format version {report['format_version']}, "
             f"written by skecg {report.get('skecg_version')}", "", "Estimator tree (what loading builds):"]
    lines += ["  " + s for s in _tree_lines(report["tree"])]
    lines.append("")
    if report["untrusted_types"]:
        names = ", ".join(repr(t) for t in report["untrusted_types"])
        lines.append(f"Types outside skecg's trusted list: {names}; load only if you trust them, with "
                     f"load_model(path, trusted=[{names}])")
    else:
        lines.append("Types outside skecg's trusted list: none (load_model(path) builds it)")
    for c in report["classifiers"]:
        lines += ["", f"Training history of {c['path']} ({len(c['history'])} epochs):"]
        lines += _history_table(c["history"], max_epochs)
    lines += ["", skecg.persistence.model_card(report)]
    return "\n".join(lines)


def _cmd_inspect(args):
    try:
        report = skecg.persistence.inspect_model(args.model)
    except FileNotFoundError:
        raise SystemExit(f"skecg: model file {args.model} does not exist") from None
    except skecg.persistence.UnsafeModelFileError as e:
        raise SystemExit(f"skecg: {e}") from None
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(format_report(report, max_epochs=args.epochs))
    if args.card:
        Path(args.card).write_text(skecg.persistence.model_card(report))
        print(f"wrote the model card to {args.card}")
    return 0


def add_parser(sub):
    """``skecg inspect MODEL [--card MODEL_CARD.md] [--json]``."""
    i = sub.add_parser("inspect", help="show what a model file holds (estimator tree, vocabulary, configuration, "
                       "history, model card) without loading it")
    i.add_argument("model", help="a .skecg model file")
    i.add_argument("--card", metavar="MODEL_CARD.md", help="also write the model card as markdown to this file")
    i.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    i.add_argument("--epochs", type=int, default=20, help="history rows shown per classifier (first and last)")
    i.set_defaults(func=_cmd_inspect)
    return i

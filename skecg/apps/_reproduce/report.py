"""Stage 4, *report*: ``report.html`` (self-contained) and ``report.md`` from the
finished cells, every table also as CSV in ``tables/`` and every figure as PNG and SVG
in ``figures/``."""

from __future__ import annotations

import base64
import html
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from skecg import __version__ as skecg_version
from skecg.labels import abbreviation
import skecg  # the root face imports skecg.<module> on first use, not at `skecg --help`

from . import tables
from .figures import report_figures
from .protocols import ALL_DATA, CITATION, PRESETS_OF, PUBLISHED, VOCABULARY, slug


# --- the document ---------------------------------------------------------------------------
def _fmt(v, digits=3):
    if isinstance(v, (float, np.floating)):
        return "" if np.isnan(v) else f"{v:.{digits}f}"
    return str(v)


def _md_table(df: pd.DataFrame, index=True) -> str:
    d = df.copy()
    cols = ([""] if index else []) + [str(c) for c in d.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for i, row in d.iterrows():
        cells = ([str(i)] if index else []) + [_fmt(v) for v in row.tolist()]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def _html_table(df: pd.DataFrame, index=True) -> str:
    d = df.copy()
    for c in d.columns:
        d[c] = [_fmt(v) for v in d[c]]
    h = d.to_html(index=index, escape=True, border=0, classes="t")
    return h.replace("<td>not significant</td>", '<td class="ns">not significant</td>')


class _Doc:
    """Builds the HTML report and its Markdown twin side by side; every table is also
    written as CSV to ``tables/``."""

    def __init__(self, out: Path):
        self.out = out
        self.md, self.html = [], []
        self.csv = []

    def h(self, level, text):
        self.md.append(f"\n{'#' * level} {text}\n")
        self.html.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def p(self, text):
        self.md.append(text + "\n")
        self.html.append(f"<p>{html.escape(text)}</p>")

    def banner(self, label, text):
        """A highlighted paragraph starting with ``label`` in bold."""
        self.html.append(f"<p class='banner'><b>{label}</b> {html.escape(text)}</p>")
        self.md.append(f"> **{label}** {text}\n")

    def pre(self, text, summary=None):
        self.md.append((f"*{summary}*\n\n" if summary else "") + "```\n" + text + "\n```\n")
        block = f"<pre>{html.escape(text)}</pre>"
        if summary:  # long: folded in the HTML page
            block = f"<details><summary>{html.escape(summary)}</summary>{block}</details>"
        self.html.append(block)

    def table(self, df, index=True, caption=None, name=None):
        name = slug(name or caption or f"table-{len(self.csv) + 1}")[:120]
        base, k = name, 2
        while name in self.csv:
            name, k = f"{base}-{k}", k + 1
        self.csv.append(name)
        df.to_csv(self.out / "tables" / f"{name}.csv", index=index)
        if caption:
            self.md.append(f"*{caption}* ([CSV](tables/{name}.csv))\n")
            self.html.append(f"<p class='cap'>{html.escape(caption)} <a href='tables/{name}.csv'>CSV</a></p>")
        self.md.append(_md_table(df, index) + "\n")
        self.html.append(_html_table(df, index))

    def figure(self, caption, name):
        svg = Path(name).with_suffix(".svg").name
        self.md.append(f"![{caption}](figures/{name}) ([SVG](figures/{svg}))\n")
        data = base64.b64encode((self.out / "figures" / name).read_bytes()).decode()
        self.html.append(f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(caption)}'>"
                         f"<figcaption>{html.escape(caption)} (300 dpi PNG and SVG in figures/)</figcaption></figure>")

    def write(self, title):
        css = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;font-size:14px;color:#222}"
               "table.t{border-collapse:collapse;margin:.5em 0 1.2em;font-size:12px}"
               "table.t td,table.t th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
               "table.t th{background:#f3f3f3}.ns{color:#666;font-style:italic}"
               ".banner{background:#fff4d6;border:1px solid #e0b000;padding:.6em}"
               "img{max-width:100%}pre{background:#f7f7f7;padding:.5em;font-size:11px;white-space:pre-wrap}"
               ".cap{font-weight:bold;margin-bottom:0}")
        body = "\n".join(self.html)
        (self.out / "report.html").write_text(
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{css}</style></head><body>{body}</body></html>")
        (self.out / "report.md").write_text("\n".join(self.md))
        return self.out / "report.html"


# --- the report, section by section ---------------------------------------------------------
TITLES = {"huang": "Huang et al.: training subsets x attention, trained on one source, tested on the others",
          "zhu": "Zhu et al.: Tables 3-4, Models 1-8, under an 80/20 random split and leave-one-source-out"}


def write_report(protocol, X, y, classes, results, grid: pd.DataFrame, out: Path, info: dict, *,
                 n_resamples=200, random_state=0):
    """Write ``report.html``, ``report.md``, ``tables/*.csv`` and ``figures/`` from the cells."""
    (out / "tables").mkdir(exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    folds = tables.folds(X, y, results, n_resamples, random_state, classes)
    doc = _Doc(out)
    _head(doc, protocol, grid, info, n_resamples)
    _data(doc, protocol, X, y, classes, info)
    doc.h(2, "The grid run")
    doc.table(grid, index=False, name="grid")
    if protocol == "huang":
        _huang_results(doc, X, y, classes, results, folds, n_resamples, random_state)
    else:
        _zhu_results(doc, X, y, classes, results, folds, info, n_resamples, random_state)
    _per_test_set(doc, protocol, folds, n_resamples, random_state)
    doc.h(2, "Figures")
    for caption, name in report_figures(protocol, folds, out):
        doc.figure(caption, name)
    for cell in results:
        if cell.get("attention_png"):
            doc.figure(f"Attention over a 12-lead plot: {cell['system']}, a held-out record", cell["attention_png"])
    _published(doc, protocol, small=not info["scale"].paper)
    _runtime(doc, grid, info)
    (out / "config.json").write_text(json.dumps(dict(info["config"]), indent=1, default=str))
    return doc.write(f"skecg reproduce {protocol}")


def _head(doc, protocol, grid, info, n_resamples):
    """Title, paper, the sizes of the run (a banner at small scale), and a banner when
    cells of the grid have not run."""
    sc = info["scale"]
    doc.h(1, f"skecg reproduce {protocol}: {TITLES[protocol]}")
    doc.p(f"Paper: {CITATION[protocol]}")
    if sc.paper:
        doc.p(f"Sizes: the papers' presets ({', '.join(PRESETS_OF[protocol])}, see `skecg reproduce {protocol} "
              f"--scale paper --show-config`), {info['config']['n_seeds']} seed(s), {n_resamples} bootstrap "
              "resamples of patients.")
    else:
        doc.banner("SMALL SCALE.",
                   f"Sizes: {sc.fs:g} Hz, {sc.seconds:g} s inputs"
                   + (f" (and {sc.long_seconds:g} s for the long ones)" if protocol == "zhu" else "")
                   + (f", SE-ResNet widths {tuple(sc.se_filters)}" if protocol == "zhu" and sc.se_filters else "")
                   + f", narrow networks, up to {sc.epochs} epochs, {info['config']['n_seeds']} seed(s), "
                   f"{n_resamples} bootstrap resamples of patients."
                   " This run trains on a few hundred open records: its numbers show the protocol working end "
                   "to end and are not the papers' numbers, which came from tens of thousands of records at "
                   "full resolution.")
    status = grid["status"].astype(str)
    n_missing = int((status.str.startswith("not run") & ~status.str.contains("--waves")).sum())
    if n_missing:
        doc.banner("PARTIAL.", f"{n_missing} of {len(grid)} cells of the grid have not run; their rows are "
                               "missing below (the grid says why).")


def _data(doc, protocol, X, y, classes, info):
    """The records per source and class, the data rules and what they dropped, the
    label report."""
    doc.h(2, "Data used")
    src = X.meta["source"].to_numpy().astype(str)
    counts = pd.DataFrame(y, columns=[abbreviation(c) for c in classes])
    counts.insert(0, "records", 1)
    counts["source"] = src
    tab = counts.groupby("source").sum()
    tab = tab.loc[:, (tab.sum(axis=0) > 0)].astype(int)
    doc.p(f"Data: {', '.join(info['config']['data'])}"
          + (f"; test-only: {', '.join(info['config']['test_only'])} (sources {', '.join(info['test_only_sources'])}"
             ", never trained on)" if info["test_only_sources"] else "")
          + f". {len(X)} records after the data rules; vocabulary {VOCABULARY[protocol]!r} ({len(classes)} classes)."
          + (f" Training pool: {info['config']['train_pool']}." if info["config"].get("train_pool") else ""))
    doc.table(tab, caption="Records per source and class", name="data_records_per_source")
    rep = info.get("rule_report")
    doc.h(3, "The paper's data rules")
    rules = info["config"].get("rules") or []
    if rules:
        doc.p("Applied when the data were read, to training and test records alike (they define the paper's "
              "data sets); switch one off with --no-rule NAME. " + " ".join(
                  f"{r}: {skecg.rules.RULES[r].description}." for r in rules if r in skecg.rules.RULES))
        if rep is not None and len(rep.table):
            doc.table(rep.table, index=False, caption="Records dropped, per rule, source and reason", name="data_rules")
        else:
            doc.p("They dropped no record of these data.")
    else:
        doc.p("No data rule was applied (switched off).")
    doc.pre(str(X.label_report()), summary="Label report: codes outside the vocabulary, kept and counted")
    skipped = getattr(X, "skipped", None)
    if skipped is not None and len(skipped):
        doc.p(f"{len(skipped)} record(s) could not be read and were skipped; see the label report above "
              "and the reader's warning for each reason.")


def _huang_results(doc, X, y, classes, results, folds, n_resamples, random_state):
    """Huang et al.'s Tables 3-7."""
    doc.h(2, "Tables 3-4: the records of each training subset and test set")
    doc.p("By class, age group and sex (seed 1's subsets; a record with several classes counts in each).")
    doc.table(tables.huang_stats(X, y, classes, results), caption="Tables 3-4 (as Huang et al.): records by class, "
              "age group and sex", name="tables_3_4_statistics")
    for number, prefix in ((5, "ResNet-1d"), (6, "attention ResNet-1d")):
        block = tables.huang_block(folds, prefix)
        doc.h(2, f"Table {number}: {prefix}, training subsets I-IV")
        if len(block):
            doc.p("One block per test set (the TNMG test set in Ribeiro's layout when given with --test-only, "
                  "CPSC, SNH, ...): precision, recall, specificity and F1 per class (mean over seeds).")
            doc.table(block, caption=f"Table {number} (as Huang et al.): {prefix} on subsets I-IV",
                      name=f"table_{number}")
        else:
            doc.p("No cell of this table has run.")
    best, scores = tables.best_attention(folds)
    doc.h(2, "Table 7: the best attention model against a ResNet-1d on all the training data")
    if best is None or not any(ALL_DATA in s for s in folds.values()):
        doc.p("Needs the attention models and the all-data ResNet-1d; not all of them have run.")
        return
    doc.p(f"Best attention model: {best} (highest macro F1 averaged over the test sets: "
          + ", ".join(f"{k.split(', ')[-1]} {v:.3f}" for k, v in scores.items())
          + f"), against {ALL_DATA} (the whole training pool, no subset), in place of Ribeiro's DNN trained "
          "on the full CODE data.  The difference's interval resamples patients.")
    doc.table(tables.huang_table7(folds, best, n_resamples, random_state), index=False,
              caption="Table 7 (as Huang et al.): per-class F1", name="table_7")


def _zhu_results(doc, X, y, classes, results, folds, info, n_resamples, random_state):
    """Zhu et al.'s Tables 3-4 (Models 1-7), Model 8 and the CPSC relabelling."""
    doc.h(2, "Tables 3-4: Models 1-8 in the paper's order")
    doc.p("Challenge score [95 % CI by patient] of each model on each test set: 'random 20 %' is the paper's "
          "80/20 random split (by patient), the others leave one source (group) out.  Model 6 is computed "
          "from the trained Models 4 and 5 (mean probability at the mean threshold, the bradycardia rule's "
          "veto, the sinus-rhythm fallback): what training the ensemble gives, without training it twice.")
    doc.table(tables.zhu_overview(folds, info["systems"]), caption="Tables 3-4 (as Zhu et al.): challenge score "
              "per model and test set", name="tables_3_4_overview")
    m8 = tables.model8_table(X, y, classes, results)
    doc.h(3, "Table 4, Model 8: the U-Net rule (PVC)")
    if len(m8):
        doc.p("Model 8 predicts one class, PVC: a record is positive when a 1D U-Net trained on LUDB's QRS "
              "annotations (lead II) finds a QRS complex of 120 ms or more.  Zhu et al.'s U-Net segmented "
              "PVC beats from their own span annotations, which are not public; a wide-QRS rule also fires "
              "on bundle branch blocks.  Beside it, the PVC column of Models 6 and 7.")
        doc.table(m8, index=False, caption="Model 8 against the PVC column of Models 6 and 7", name="model_8")
    else:
        doc.p("Not run: Model 8 learns from wave annotations; give an LUDB folder with --waves.")
    rel = tables.relabel_table(results)
    if len(rel):
        doc.h(3, "CPSC relabelling (Models 2-5)")
        doc.p("Labels PseudoLabelRelabeler added to CPSC records (probability above its threshold, a scored "
              "class CPSC could not label), per cell; the models are then refitted on the relabelled data.")
        doc.table(rel, index=False, caption="Labels added by relabelling", name="relabelling")


def _per_test_set(doc, protocol, folds, n_resamples, random_state):
    """Per test set: the summary, per-class F1 and paired differences."""
    doc.h(2, "Per test set: scores with intervals, reference rows, paired differences")
    doc.p("Scores are on the held-out records only.  Intervals are 95 % percentile bootstrap intervals that "
          "resample patients.  Reference rows (all sinus rhythm = the challenge's inactive + normal "
          "classifier; prevalence-matched random, mean of 100 draws; per-class majority) are scored by the "
          "same functions on the same records.  A paired difference whose interval covers zero is marked "
          "'not significant'.  Macro F1 averages over every class of the vocabulary; a class without "
          "positives among the tested records counts 0, as in skecg.metrics.per_class_scores.")
    if protocol == "huang":
        doc.p("In the six-class vocabulary a classifier cannot output sinus rhythm, so 'all sinus rhythm' "
              "predicts no class; the challenge metric then scores it below 0, exactly as it scores any "
              "system that predicts no class for a record.")
    for test, systems in folds.items():
        doc.h(3, f"Tested on {test} ({next(iter(systems.values())).n_test} records)")
        doc.table(tables.summary_table(protocol, systems), caption="Challenge score and macro F1",
                  name=f"summary_{test}")
        doc.table(tables.perclass_f1_table(systems), caption="Per-class F1 (classes present), with reference rows",
                  name=f"perclass_f1_{test}")
        pt = tables.pairs_table(protocol, systems, n_resamples, random_state)
        if len(pt):
            doc.table(pt, index=False, caption="Paired differences on the same records", name=f"pairs_{test}")


def _published(doc, protocol, small: bool):
    """The papers' published numbers, and why they are not comparable."""
    doc.h(2, "Published numbers beside these")
    pub = pd.DataFrame(PUBLISHED[protocol], columns=["what the paper reports", "value", "where it was read"])
    doc.table(pub, index=False, name="published")
    doc.p("Published numbers are on the papers' data ('published: their data'); where the data do not match, "
          "they are not comparable: "
          + ("the paper's scores are on the challenge's hidden validation and test sets (full system, "
             "trained on the challenge's public training data, about 43,000 records), ours on held-out "
             "public records"
             if protocol == "zhu" else
             "the paper trained on large data sets (CODE among them) and tested on full public sources, ours "
             "trains on one source of the data given")
          + (", with far fewer records and smaller networks (small scale)." if small else "."))


def _runtime(doc, grid, info):
    """Wall time, training time, hardware and versions."""
    doc.h(2, "Runtime and hardware")
    hw = pd.DataFrame([
        ("total wall time of this run", f"{info['seconds']:.0f} s (cached cells count 0)"),
        ("training time of all cells", f"{grid['seconds'].sum():.0f} s"),
        ("CPU", f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores"),
        ("load average at the end (1, 5, 15 min)", ", ".join(f"{v:.1f}" for v in os.getloadavg())
         + " (other work on the machine slows the cells down)"),
        ("torch", f"{info['torch']}, {info['threads']} threads"),
        ("python", sys.version.split()[0]), ("skecg", skecg_version),
        ("platform", platform.platform()),
    ], columns=["", "value"])
    doc.table(hw, index=False, name="runtime")

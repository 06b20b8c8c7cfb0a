"""The report's tables, as DataFrames computed from the finished cells."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skecg.labels import abbreviation
from skecg import metrics  # a lazy face: its modules load on first use

from ..experiments import compare_folds, fold_result
from .protocols import ALL_DATA, HUANG_SUBSETS, OFFLINE, model_number, pairs, published


def full_vocabulary(cell, classes_all) -> bool:
    """Whether ``cell`` predicts every class (Model 8 predicts one)."""
    return list(cell["classes"]) == list(classes_all)


def folds(X, y, results, n_resamples, random_state, classes_all=None) -> dict:
    """``{test set name: {system: FoldResult}}`` from the cells that predict every class."""
    pid = X.meta["patient_id"].to_numpy() if "patient_id" in X.meta else None
    rid = X.meta["record_id"].to_numpy()
    out: dict = {}
    for cell in results:
        if classes_all is not None and not full_vocabulary(cell, classes_all):
            continue
        for tname, t in cell["tests"].items():
            idx = t["index"]
            groups = None if pid is None else np.asarray(
                [str(v) if v == v and v is not None else f"_record{i}" for i, v in zip(idx, pid[idx])], dtype=object)
            train = cell["train"]
            # zhu's test-only sets are tested by models trained on every other source: say so
            label = f"{tname} ({train})" if train.startswith("trained on all of") else tname
            y_train = y[np.asarray(cell["train_index"], dtype=int)]  # for the majority reference
            fr = fold_result(y[idx], t["preds"], t["probas"], cell["classes"], test_sources=[tname],
                             n_train=cell["n_train"], groups=groups, record_ids=rid[idx], y_train=y_train,
                             seconds=cell["seconds"], n_resamples=n_resamples, random_state=random_state)
            fr.histories = cell.get("histories", [])
            out.setdefault(label, {})[cell["system"]] = fr
    return out


# --- every protocol: per test set -----------------------------------------------------------
def summary_table(protocol, systems: dict) -> pd.DataFrame:
    """Challenge score and macro F1 of each system, with the reference rows."""
    rows = {}
    for name, r in systems.items():
        rows[name] = {"challenge (95% CI by patient)": str(r.challenge),
                      "mean ± sd over seeds": str(r.challenge_seeds()),
                      "macro F1 (95% CI)": str(r.f1_macro),
                      "vs all sinus rhythm": r.vs_sinus_rhythm.verdict,
                      "published (their data)": published(protocol, name)}
    r0 = next(iter(systems.values()))
    for ref in r0.references.index:
        rows[ref] = {"challenge (95% CI by patient)": f"{r0.references.loc[ref, 'challenge']:.3f}",
                     "mean ± sd over seeds": "", "macro F1 (95% CI)": f"{r0.references.loc[ref, 'macro_f1']:.3f}",
                     "vs all sinus rhythm": "", "published (their data)": ""}
    return pd.DataFrame.from_dict(rows, orient="index")


def perclass_f1_table(systems: dict) -> pd.DataFrame:
    """F1 of each class present, per system and reference row, with the support."""
    rows = {}
    r0 = next(iter(systems.values()))
    present = [c for c in r0.table.columns if c == "macro" or r0.table.loc["support", c] > 0]
    for name, r in systems.items():
        rows[name] = {c: float(r.table.loc["f1", c]) for c in present}
    for ref in r0.references.index:
        rows[ref] = {c: r0.references.loc[ref, "macro_f1" if c == "macro" else c] for c in present}
    df = pd.DataFrame.from_dict(rows, orient="index").astype(object)
    df.loc["support"] = [int(r0.table.loc["support", c]) for c in present]
    return df


def pairs_table(protocol, systems: dict, n_resamples, random_state) -> pd.DataFrame:
    """Paired differences in challenge score of the protocol's :func:`pairs`."""
    rows = []
    for a, b in pairs(protocol, list(systems)):
        if a in systems and b in systems:
            d = compare_folds(systems[a], systems[b], names=(a, b), n_resamples=n_resamples,
                              random_state=random_state)
            rows.append({"A": a, "B": b, "A - B (challenge)": f"{d.estimate:+.3f}",
                         "95% CI (by patient)": f"[{d.low:+.3f}, {d.high:+.3f}]", "verdict": d.verdict})
    return pd.DataFrame(rows)


# --- Huang et al. ---------------------------------------------------------------------------
AGE_GROUPS = [(0, 20, "<20"), (20, 40, "20-39"), (40, 60, "40-59"), (60, 80, "60-79"), (80, 200, ">=80")]


def _stats_row(X, y, idx, abbr) -> dict:
    """Records of a set by class, age group and sex (Huang et al., Tables 3-4)."""
    idx = np.asarray(idx, dtype=int)
    row = {"records": len(idx)}
    yy = y[idx]
    for j, a in enumerate(abbr):
        row[a] = int(yy[:, j].sum())
    row["normal (no class)"] = int((yy.sum(1) == 0).sum())
    age = pd.to_numeric(X.meta["age"], errors="coerce").to_numpy()[idx]
    for lo, hi, name in AGE_GROUPS:
        row[f"age {name}"] = int(((age >= lo) & (age < hi)).sum())
    row["age unknown"] = int((~np.isfinite(age)).sum())
    sex = X.meta["sex"].astype(object).to_numpy()[idx]
    row["male"] = int(sum(s == "M" for s in sex))
    row["female"] = int(sum(s == "F" for s in sex))
    row["sex unknown"] = len(idx) - row["male"] - row["female"]
    return row


def huang_stats(X, y, classes, results) -> pd.DataFrame:
    """Tables 3-4: the records of each training subset and test set by class, age group and sex."""
    abbr = [abbreviation(c) for c in classes]
    rows = {}
    seen_tests = {}
    for cell in results:
        if "subset_index" in cell and "attention" not in cell["system"]:
            rows[f"training {cell['system'].split(', ')[-1]} ({cell['train']})"] = _stats_row(
                X, y, cell["subset_index"], abbr)
        if cell["system"] == ALL_DATA:
            rows[f"all training data ({cell['train']})"] = _stats_row(X, y, cell["train_index"], abbr)
        for tname, t in cell["tests"].items():
            seen_tests.setdefault(tname, t["index"])
    for tname, idx in seen_tests.items():
        rows[f"test: {tname}"] = _stats_row(X, y, idx, abbr)
    return pd.DataFrame.from_dict(rows, orient="index")


def huang_block(folds, prefix) -> pd.DataFrame:
    """Per test set and subset: precision, recall, specificity, F1 per class (Tables 5-6)."""
    frames = []
    for test, systems in folds.items():
        for s in HUANG_SUBSETS:
            name = f"{prefix}, subset {s}"
            if name not in systems:
                continue
            t = systems[name].table
            cols = [c for c in t.columns if c == "macro" or t.loc["support", c] > 0]
            part = t.loc[["precision", "recall", "specificity", "f1"], cols].copy()
            part.index = pd.MultiIndex.from_product([[test], [f"subset {s}"], part.index],
                                                    names=["test set", "training subset", "metric"])
            part["published (their data)"] = OFFLINE
            frames.append(part)
    return pd.concat(frames) if frames else pd.DataFrame()


def best_attention(folds):
    """The attention subset with the highest macro F1 averaged over the test sets:
    ``(name or None, {name: mean macro F1})``."""
    scores = {}
    for s in HUANG_SUBSETS:
        name = f"attention ResNet-1d, subset {s}"
        vals = [systems[name].f1_macro.estimate for systems in folds.values() if name in systems]
        if vals:
            scores[name] = float(np.mean(vals))
    return max(scores, key=scores.get) if scores else None, scores


def huang_table7(folds, best, n_resamples, random_state) -> pd.DataFrame:
    """Table 7: per-class F1 of the best attention model and of the all-data ResNet-1d,
    and their paired difference in macro F1."""
    rows = []
    for test, systems in folds.items():
        if best not in systems or ALL_DATA not in systems:
            continue
        a, b = systems[best], systems[ALL_DATA]
        d = compare_folds(a, b, metric="f1_macro", names=(best, ALL_DATA), n_resamples=n_resamples,
                          random_state=random_state)
        for name, r in ((best, a), (ALL_DATA, b)):
            f1 = r.table.loc["f1"]
            row = {"test set": test, "system": name, "macro F1 (95% CI)": str(r.f1_macro),
                   **{c: float(f1[c]) for c in r.table.columns if c != "macro" and r.table.loc["support", c] > 0},
                   "published (their data)": OFFLINE}
            rows.append(row)
        rows.append({"test set": test, "system": "difference (best attention - all data)",
                     "macro F1 (95% CI)": f"{d.estimate:+.3f} [{d.low:+.3f}, {d.high:+.3f}] {d.verdict}"})
    df = pd.DataFrame(rows)
    if "published (their data)" in df:  # last, after the classes
        df = df[[c for c in df.columns if c != "published (their data)"] + ["published (their data)"]]
    return df


# --- Zhu et al. -----------------------------------------------------------------------------
def zhu_overview(folds, order) -> pd.DataFrame:
    """Tables 3-4 row for row: each model's challenge score on every test set."""
    rows = {}
    for name in order:
        row = {}
        for test, systems in folds.items():
            if name in systems:
                r = systems[name]
                row[test] = f"{r.challenge.estimate:.3f} [{r.challenge.low:.3f}, {r.challenge.high:.3f}]"
        if row:
            row["published (their data)"] = published("zhu", name)
            rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def model8_table(X, y, classes_all, results) -> pd.DataFrame:
    """Model 8 (PVC by the U-Net rule) beside the PVC column of Models 6 and 7."""
    seg = [c for c in results if not full_vocabulary(c, classes_all)]
    if not seg:
        return pd.DataFrame()
    pvc = seg[0]["classes"][0]
    j = classes_all.index(pvc)
    rows = []
    for cell in results:
        num = model_number(cell["system"])
        if num not in (6, 7, 8):
            continue
        col = 0 if num == 8 else j
        for tname, t in cell["tests"].items():
            yt = y[t["index"]][:, [j]]
            pred = np.asarray(t["preds"][0])[:, [col]]
            s = metrics.per_class_scores(yt, pred)
            rows.append({"test set": tname, "system": cell["system"], "PVC records": int(yt.sum()),
                         "precision": float(s["precision"][0]), "recall": float(s["recall"][0]),
                         "F1": float(s["f1"][0]), "published (their data)": OFFLINE})
    return pd.DataFrame(rows)


def relabel_table(results) -> pd.DataFrame:
    """The labels PseudoLabelRelabeler added to CPSC, per cell."""
    rows = []
    for cell in results:
        if "relabelled" in cell:
            added = cell["relabelled"]
            rows.append({"system": cell["system"], "training": cell["train"],
                         "labels added to CPSC": sum(added.values()),
                         "by class": ", ".join(f"{abbreviation(k)} {v}" for k, v in sorted(added.items())) or "none"})
    return pd.DataFrame(rows)

"""Plots (matplotlib); each function returns the figure."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve

from ._records import STANDARD_LEADS, normalize_lead_name
from .labels import abbreviation, get_vocabulary

PAPER_LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))


def _names(classes):
    if classes is None:
        return None
    try:
        return get_vocabulary(list(classes)).abbreviations
    except ValueError:
        return [abbreviation(str(c)) for c in classes]


def plot_ecg(signal, fs, leads=None, *, attention=None, attention_seconds=None, title=None, rhythm_lead="II",
             ax=None):
    """A 12-lead ECG in the standard paper layout: 25 mm/s, 10 mm/mV, on ECG grid paper.

    Four columns of 2.5 s (I, II, III | aVR, aVL, aVF | V1-V3 | V4-V6) and a 10-s
    rhythm strip; minor grid every 1 mm (0.04 s, 0.1 mV), major every 5 mm.

    Parameters
    ----------
    signal : ndarray (n_leads, n_samples), mV
    fs : float
    leads : list of str, default: the standard 12-lead order
    attention : ndarray, optional
        Weights over time (e.g. :meth:`ECGClassifier.attention_weights` of one record,
        or a saliency map), spread evenly over ``attention_seconds`` (default: the
        record's duration).  Shaded in blue, darker where the weight is higher
        (min-max scaled), and drawn as a curve under the rhythm strip.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt  # a plot's first call pays for pyplot, not `import skecg.plots`

    signal = np.asarray(signal, dtype=float)
    leads = [normalize_lead_name(x) for x in (leads or STANDARD_LEADS)]
    pos = {n: i for i, n in enumerate(leads)}
    seg = 2.5
    n_seg = int(round(seg * fs))
    duration = 4 * seg
    rows = 4
    row_h = 3.0  # mV per row
    if ax is None:
        # 25 mm/s and 10 mm/mV at 1:1 on paper (inches = mm / 25.4)
        width_mm, height_mm = duration * 25 + 10, rows * row_h * 10 + 10
        fig, ax = plt.subplots(figsize=(width_mm / 25.4, height_mm / 25.4))
    else:
        fig = ax.figure
    # grid paper
    ax.set_xlim(0, duration)
    ax.set_ylim(-row_h * rows + row_h / 2, row_h / 2)
    ax.set_xticks(np.arange(0, duration + 1e-9, 0.2))
    ax.set_xticks(np.arange(0, duration + 1e-9, 0.04), minor=True)
    ax.set_yticks(np.arange(-row_h * rows + row_h / 2, row_h / 2 + 1e-9, 0.5))
    ax.set_yticks(np.arange(-row_h * rows + row_h / 2, row_h / 2 + 1e-9, 0.1), minor=True)
    ax.grid(which="major", color="#e8a0a0", linewidth=0.6)
    ax.grid(which="minor", color="#f6d6d6", linewidth=0.3)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_aspect(0.4)  # 1 mV (10 mm) against 1 s (25 mm)
    if attention is not None:
        w = np.asarray(attention, dtype=float).ravel()
        span = w.max() - w.min()
        w01 = (w - w.min()) / span if span > 0 else np.zeros_like(w)
        extent = attention_seconds if attention_seconds is not None else signal.shape[1] / fs
        edges = np.linspace(0, extent, len(w) + 1)
        for a, b, v in zip(edges[:-1], edges[1:], w01):
            if a < duration:
                ax.axvspan(a, min(b, duration), color="tab:blue", alpha=0.4 * float(v), lw=0)
        centers = (edges[:-1] + edges[1:]) / 2
        base = -row_h * rows + row_h / 2 + 0.3
        ax.plot(centers, base + 1.2 * w01, color="tab:blue", lw=1)
        ax.text(0.05, base + 1.3, f"attention (max {w.max():.3f}, min {w.min():.3f})", fontsize=7,
                color="tab:blue")
    for r, row in enumerate(PAPER_LAYOUT):
        base = -r * row_h
        for c, name in enumerate(row):
            if name not in pos:
                continue
            x = signal[pos[name], c * n_seg:(c + 1) * n_seg]
            t = c * seg + np.arange(len(x)) / fs
            ax.plot(t, x + base, color="k", lw=0.7)
            ax.text(c * seg + 0.05, base + 0.9, name, fontsize=8)
    if rhythm_lead in pos:
        x = signal[pos[rhythm_lead], : int(duration * fs)]
        ax.plot(np.arange(len(x)) / fs, x - 3 * row_h, color="k", lw=0.7)
        ax.text(0.05, -3 * row_h + 0.9, rhythm_lead, fontsize=8)
    ax.set_title(title or "", fontsize=9, loc="left")
    ax.text(duration, -row_h * rows + row_h / 2 + 0.1, "25 mm/s, 10 mm/mV ", fontsize=7, ha="right")
    fig.tight_layout()
    return fig


def plot_pr_curves(y_true, proba, classes=None, *, ax=None):
    """Per-class precision-recall curves (classes with positives only), with AP."""
    import matplotlib.pyplot as plt  # a plot's first call pays for pyplot, not `import skecg.plots`

    y_true = np.asarray(y_true)
    proba = np.asarray(proba)
    names = _names(classes) or [str(j) for j in range(y_true.shape[1])]
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
    else:
        fig = ax.figure
    for j, name in enumerate(names):
        if y_true[:, j].sum() == 0:
            continue
        p, r, _ = precision_recall_curve(y_true[:, j], proba[:, j])
        ap = average_precision_score(y_true[:, j], proba[:, j])
        ax.step(r, p, where="post", label=f"{name} (AP {ap:.2f}, n={int(y_true[:, j].sum())})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("precision-recall per class")
    fig.tight_layout()
    return fig


def plot_confusion_counts(y_true, y_pred, classes=None, *, ax=None):
    """Per-class TP, FP, FN counts as grouped bars (TN in the labels)."""
    import matplotlib.pyplot as plt  # a plot's first call pays for pyplot, not `import skecg.plots`

    yt = np.asarray(y_true) > 0
    yp = np.asarray(y_pred) > 0
    names = _names(classes) or [str(j) for j in range(yt.shape[1])]
    keep = np.flatnonzero(yt.any(0) | yp.any(0))
    tp = (yt & yp).sum(0)[keep]
    fp = (~yt & yp).sum(0)[keep]
    fn = (yt & ~yp).sum(0)[keep]
    tn = (~yt & ~yp).sum(0)[keep]
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(keep) + 2), 4))
    else:
        fig = ax.figure
    x = np.arange(len(keep))
    ax.bar(x - 0.27, tp, 0.27, label="TP", color="tab:green")
    ax.bar(x, fp, 0.27, label="FP", color="tab:orange")
    ax.bar(x + 0.27, fn, 0.27, label="FN", color="tab:red")
    ax.set_xticks(x, [f"{names[j]}\nTN {t}" for j, t in zip(keep, tn)], fontsize=7)
    ax.set_ylabel("records")
    ax.legend(fontsize=8)
    ax.set_title("confusion counts per class")
    fig.tight_layout()
    return fig


def plot_learning_curves(history, *, ax=None, label=None):
    """Training and validation loss per epoch from a skorch history (or an estimator)."""
    import matplotlib.pyplot as plt  # a plot's first call pays for pyplot, not `import skecg.plots`

    if hasattr(history, "history_"):
        history = history.history_
    if hasattr(history, "steps"):
        history = history.steps[-1][1].history_
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.5))
    else:
        fig = ax.figure
    epochs = [h["epoch"] for h in history]
    pre = f"{label}: " if label else ""
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", ms=3, label=pre + "train")
    if all("valid_loss" in h for h in history):
        ax.plot(epochs, [h["valid_loss"] for h in history], "s--", ms=3, label=pre + "validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    ax.set_title("learning curves")
    fig.tight_layout()
    return fig

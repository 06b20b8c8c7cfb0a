"""The report's figures, each as a 300 dpi PNG and an SVG in ``figures/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skecg.labels import abbreviation
import skecg  # the root face imports skecg.<module> on first use, not at `skecg --help`

from .._common import fitted_networks
from .protocols import slug


def save_fig(fig, path: Path):
    """``path``.png at 300 dpi and ``path``.svg; returns the PNG's name."""
    import matplotlib.pyplot as plt  # matplotlib: kept out of `skecg --help`

    path = Path(path)
    fig.savefig(path.with_suffix(".png"), dpi=300, bbox_inches="tight")
    fig.savefig(path.with_suffix(".svg"), bbox_inches="tight")
    plt.close(fig)
    return path.with_suffix(".png").name


def attention_figure(est, X, y, idx, classes, path: Path):
    """A held-out record with a rhythm abnormality (SB, AF or ST, if there is one
    among ``idx``) plotted with the attention of ``est``'s network; the PNG's name,
    or None when the network has no attention."""
    nets = fitted_networks(est)
    net = nets[0] if nets else None
    if net is None or not hasattr(net, "attention_weights") or not hasattr(est, "steps"):
        return None
    yy = y[idx]
    score = yy[:, [j for j, c in enumerate(classes) if c in ("426177001", "164889003", "427084000")]].sum(1) \
        if len(classes) else np.zeros(len(idx))
    pick = int(idx[int(np.argmax(score))])
    rec = X.take([pick])
    Z = est[:-1].transform(rec)
    w = net.attention_weights(Z)[0]
    labels = [abbreviation(classes[j]) for j in np.flatnonzero(y[pick])] or ["none of the classes"]
    fig = skecg.plots.plot_ecg(rec.signals[0], rec.meta["fs"].iloc[0], rec.meta["leads"].iloc[0], attention=w,
                   attention_seconds=Z.shape[2] / Z.meta["fs"].iloc[0],
                   title=f"{rec.meta['record_id'].iloc[0]} ({rec.meta['source'].iloc[0]}), labels: "
                         f"{', '.join(labels)}; shading: attention of the network")
    return save_fig(fig, path)


def report_figures(protocol, folds, out: Path) -> list:
    """PR curves and confusion counts of one system per test set (the first four), and
    the learning curves: ``[(caption, PNG name)]``."""
    import matplotlib  # matplotlib: kept out of `skecg --help`

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = []
    for test, systems in list(folds.items())[:4]:
        if protocol == "zhu":
            name = next((n for n in systems if n.startswith("Model 6")), next(iter(systems)))
        else:
            focus = "attention ResNet-1d, subset I"
            name = focus if focus in systems else next(iter(systems))
        r = systems[name]
        fig = skecg.plots.plot_pr_curves(r.y_true, r.probas[0], r.classes)
        fig.axes[0].set_title(f"{name}: precision-recall on {test}", fontsize=9)
        figs.append((f"Precision-recall curves: {name}, {test}",
                     save_fig(fig, out / "figures" / f"pr_{slug(name)}_{slug(test)}")))
        fig = skecg.plots.plot_confusion_counts(r.y_true, r.preds[0], r.classes)
        fig.axes[0].set_title(f"{name}: confusion counts on {test}", fontsize=9)
        figs.append((f"Confusion counts: {name}, {test}",
                     save_fig(fig, out / "figures" / f"confusion_{slug(name)}_{slug(test)}")))
    test0, systems = next(iter(folds.items()))
    fig, ax = plt.subplots(figsize=(7, 4))
    n = 0
    for name, r in systems.items():
        h = getattr(r, "histories", [])
        if h and h[0]:
            skecg.plots.plot_learning_curves(h[0], ax=ax, label=name)
            n += 1
    if n:
        ax.set_title(f"learning curves (training run of the cell tested on {test0}, seed 1)", fontsize=9)
        ax.legend(fontsize=6)
        figs.append(("Learning curves", save_fig(fig, out / "figures" / "learning_curves")))
    else:
        plt.close(fig)
    return figs

"""
The attention paper's protocol: training subsets I-IV x {ResNet, attention ResNet}
===================================================================================

Huang et al. trained Ribeiro's ResNet-1d, with and without an attention layer, on four
curated training subsets of equal size (I balanced per class, II balanced favouring
multi-label records, III oldest and youngest per class, IV random) and evaluated each
model per class on its own test data and on other hospitals' data (their Tables 5-7).

Here the eight combinations run in **one GridSearchCV** (subset x module), trained on
PTB-XL and PTB from the bundled sample, with group-aware folds; the refitted models are
then evaluated per source on records they never saw (Chapman-Ningbo: the "SNH" data of
the paper; Georgia; CPSC).  Sizes: 100 Hz, 1024 samples, narrow networks, 10 epochs.
The sample holds a few hundred records, so the numbers are noisy and are not the
paper's (which trained on 2 million TNMG exams at 400 Hz).  Reference rows (all normal,
prevalence-matched random, per-class majority) give each source's floor, and the paired
bootstrap says whether attention changes F1 beyond the noise.  The paper's data rules
(:mod:`skecg.rules`) shape the test sources first: CPSC loses the records whose first
label is STD, PAC, STE or PVC, SNH keeps only normal records and the six classes.
``skecg reproduce huang sample -o report/`` runs the paper's Tables 3-7 as a report (with
a TNMG test set in Ribeiro's layout given by ``--test-only``, Table 5's in-distribution
block too).

Run: ``python examples/plot_huang_protocol.py``.  The docs build runs it in quick mode
(``SKECG_EXAMPLES_QUICK=1``: subsets I and IV only, one epoch of tiny networks at 256
samples, 2 folds, 50 bootstrap resamples), whose numbers only show that the code runs.
"""

import os

import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline
from sklearn.model_selection import GridSearchCV, GroupKFold

from skecg.datasets import load_sample
from skecg.metrics import SCORING, classification_table, paired_bootstrap, per_class_scores, reference_table
from skecg.models import ECGClassifier
from skecg.preprocessing import PadTruncate, Resampler
from skecg.rules import apply_rules
from skecg.sampling import TrainingSubsetSampler

QUICK = os.environ.get("SKECG_EXAMPLES_QUICK") == "1"
EPOCHS, FILTERS, LENGTH, FOLDS, N_BOOT = (1, (8, 8), 256, 2, 50) if QUICK else (10, (32, 48, 64, 80), 1024, 3, 500)
SUBSETS = ("I", "IV") if QUICK else ("I", "II", "III", "IV")

X, y = load_sample("tnmg")
# the paper's data rules: CPSC without records whose first label is STD, PAC, STE or PVC;
# SNH (Chapman-Ningbo) with only normal records and the six TNMG classes (reported on stderr)
X, y, dropped = apply_rules(X, y, ["huang-cpsc", "huang-snh"])
train = X.meta.source.isin(["PTB-XL", "PTB"]).to_numpy() & X.meta.age.notna().to_numpy()  # III needs ages
Xtr, ytr = X.take(np.flatnonzero(train)), y[train]

pipe = Pipeline([
    ("subset", TrainingSubsetSampler("I", n_per_class=10, random_state=0)),
    ("resample", Resampler(25 if QUICK else 100)),
    ("pad", PadTruncate(length=LENGTH)),
    ("net", ECGClassifier("resnet1d", module__filters=FILTERS, module__kernel_size=9, max_epochs=EPOCHS,
                          batch_size=32, tune_thresholds=True, random_state=0)),
])
grid = {
    "subset": [TrainingSubsetSampler(s, n_per_class=10, random_state=0) for s in SUBSETS],
    "net__module": ["resnet1d", "attention_resnet1d"],
}
search = GridSearchCV(pipe, grid, cv=GroupKFold(FOLDS), scoring=SCORING, refit="f1_macro")
search.fit(Xtr, ytr, groups=Xtr.meta.patient_id)
res = pd.DataFrame(search.cv_results_)
res["subset"] = [p["subset"].strategy for p in res["params"]]
res["module"] = [p["net__module"] for p in res["params"]]
print(res[["subset", "module", "mean_test_f1_macro", "mean_test_auroc", "mean_test_challenge"]].round(3).to_string())

# %%
# Per-source evaluation of each subset x module, as in the paper's Tables 5-7:
# refit each combination on the whole training set, test on each unseen source.
rows, preds = [], {}
sources = ("Chapman-Ningbo", "Georgia", "CPSC")
for params in search.cv_results_["params"]:
    est = pipe.set_params(**params).fit(Xtr, ytr)
    for source in sources:
        te = np.flatnonzero((X.meta.source == source).to_numpy())
        pred = est.predict(X.take(te))
        preds[params["subset"].strategy, params["net__module"], source] = pred
        t = classification_table(y[te], pred, X.classes)
        rows.append({"subset": params["subset"].strategy, "module": params["net__module"], "source": source,
                     **{f"F1 {c}": t.loc["f1", c] for c in t.columns if t.loc["support", c] > 0}})
for source in sources:  # reference rows: same records, same scorers
    te = np.flatnonzero((X.meta.source == source).to_numpy())
    ref = reference_table(y[te], list(X.classes), y_train=ytr)
    present = [c for j, c in enumerate(ref.columns[:-2]) if y[te][:, j].any()]
    for name in ref.index:
        rows.append({"subset": "-", "module": name, "source": source, **{f"F1 {c}": ref.loc[name, c] for c in present}})
table = pd.DataFrame(rows).sort_values(["source", "subset"], kind="stable")
print(table.round(2).to_string())

# %%
# Does attention change macro F1 on each unseen source?  Paired bootstrap by patient.
for source in sources:
    te = np.flatnonzero((X.meta.source == source).to_numpy())
    for s in SUBSETS:
        d = paired_bootstrap(lambda a, b: per_class_scores(a, b)["macro_f1"], y[te],
                             preds[s, "attention_resnet1d", source], preds[s, "resnet1d", source],
                             groups=X.meta.patient_id.to_numpy()[te], names=("attention", "no attention"),
                             n_resamples=N_BOOT, random_state=0)
        print(f"{source:<15} subset {s:<4} {d}")

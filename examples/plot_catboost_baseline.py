"""
The CatBoost baseline beside the networks
=========================================

Zhu et al. compared their networks with gradient boosting on hand-made features: heart
rate variability from Pan-Tompkins R-R intervals (21 time-domain and 9 frequency-domain
features here), age and sex -- and stacked the boosting model with a network's deep
features.  This example trains the three side by side, cross-validated over patients on
the bundled sample, and reports macro AUROC per class group.

Run: ``python examples/plot_catboost_baseline.py``.  The docs build runs it in quick mode
(``SKECG_EXAMPLES_QUICK=1``: every fourth record, one epoch of a tiny network, 30 boosting
iterations), whose numbers only show that the code runs.
"""

import os

import numpy as np
from sklearn.model_selection import GroupKFold, cross_validate
from sklearn.pipeline import make_pipeline

from skecg.baselines import make_catboost_baseline
from skecg.datasets import load_sample
from skecg.metrics import SCORING
from skecg.models import ECGClassifier
from skecg.preprocessing import PadTruncate, Resampler
from skecg.tuning import MultilabelThresholdTuner

QUICK = os.environ.get("SKECG_EXAMPLES_QUICK") == "1"
EPOCHS, FILTERS, ITERATIONS = (1, (8, 8), 30) if QUICK else (10, (32, 48, 64, 80), 300)

X, y = load_sample("tnmg")
if QUICK:
    X, y = X[::4], y[::4]
groups = X.meta.patient_id


def network():
    return make_pipeline(Resampler(100), PadTruncate(length=1024),
                         ECGClassifier("attention_resnet1d", module__filters=FILTERS, module__kernel_size=9,
                                       max_epochs=EPOCHS, batch_size=32, random_state=0))


def tuned(est):
    return MultilabelThresholdTuner(est, scoring="challenge", random_state=0)


candidates = {
    "CatBoost on HRV + age, sex": make_catboost_baseline(iterations=ITERATIONS, thread_count=2),
    "  ... thresholds tuned": tuned(make_catboost_baseline(iterations=ITERATIONS, thread_count=2)),
    "attention ResNet-1d": network(),
    "CatBoost on HRV + deep features": make_catboost_baseline(deep=network(), iterations=ITERATIONS, thread_count=2),
    "  ... thresholds tuned ": tuned(make_catboost_baseline(deep=network(), iterations=ITERATIONS, thread_count=2)),
}
for name, est in candidates.items():
    cv = cross_validate(est, X, y, groups=groups, cv=GroupKFold(3), scoring=SCORING)
    print(f"{name:<34} AUROC {np.nanmean(cv['test_auroc']):.3f}  macro F1 {cv['test_f1_macro'].mean():.3f}  "
          f"challenge {cv['test_challenge'].mean():.3f}")

# %%
# Reference rows on the same records (the whole sample): what a score of 0 or 0.1 means.
from skecg.metrics import reference_table

print(reference_table(y, list(X.classes)).round(3).to_string())

# %%
# Which HRV features matter?  CatBoost's importances, one model on all records.
pipe = make_catboost_baseline(iterations=ITERATIONS, thread_count=2).fit(X, y)
names = pipe.named_steps["features"].get_feature_names_out()
imp = pipe.named_steps["catboost"].model_.get_feature_importance()
for n, v in sorted(zip(names, imp), key=lambda t: -t[1])[:10]:
    print(f"{n:<12} {v:6.2f}")

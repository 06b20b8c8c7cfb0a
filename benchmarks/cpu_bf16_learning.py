"""Does bf16 autocast on a CPU learn as float32 does?  The learning test's task, both ways.

Run: .venv/bin/python benchmarks/cpu_bf16_learning.py   (about 2 minutes on 2 cores)

Data and networks are those of ``tests/models/test_models.py::test_it_learns_heart_rate_classes_on_real_records``:
the bundled sample's records resampled to 100 Hz and cut to 1024 samples, sinus
bradycardia (SB) and sinus tachycardia (ST), a patient-grouped 70/30 split, a small
ResNet-1d (thresholds tuned) and SE-ResNet (weighted BCE, thresholds 0.5), 25 epochs at
most with early stopping, ``random_state=0``.  Each network is trained with
``precision='fp32'`` and ``precision='bf16'`` (CPUs with native bf16 only) and scored on
the held-out patients: AUC per class and macro F1, with the training wall time.
"""

import time

from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import make_pipeline

from skecg.datasets import load_sample
from skecg.metrics import per_class_scores
from skecg.models import ECGClassifier, cpu_has_native_bf16
from skecg.preprocessing import PadTruncate, Resampler

NETS = {
    "resnet1d": dict(module__filters=(32, 32, 64, 64), module__kernel_size=16, tune_thresholds=True),
    "se_resnet1d": dict(module__filters=(32, 32, 64), module__kernel_size=9, tune_thresholds=False,
                        criterion="weighted_bce"),
}


def main():
    if not cpu_has_native_bf16():
        raise SystemExit("this CPU has no native bf16 (AVX512-BF16 or AMX): precision='bf16' is refused here")
    X, y = load_sample("tnmg")
    Z = make_pipeline(Resampler(100), PadTruncate(length=1024)).fit_transform(X)
    cols = [3, 5]  # SB, ST
    tr, te = next(GroupShuffleSplit(1, test_size=0.3, random_state=0).split(Z, y, Z.meta.patient_id))
    print(f"{len(tr)} training and {len(te)} held-out records; positives SB/ST held out: {y[te][:, cols].sum(0)}")
    print(f"{'network':<14}{'precision':<11}{'AUC SB':>8}{'AUC ST':>8}{'macro F1':>10}{'epochs':>8}{'fit s':>8}")
    for module, arch in NETS.items():
        for precision in ("fp32", "bf16"):
            net = ECGClassifier(module, classes=["426177001", "427084000"], max_epochs=25, batch_size=32,
                                random_state=0, precision=precision, **arch)
            t = time.perf_counter()
            net.fit(Z[tr], y[tr][:, cols])
            dt = time.perf_counter() - t
            p = net.predict_proba(Z[te])
            aucs = [roc_auc_score(y[te][:, j], p[:, k]) for k, j in enumerate(cols)]
            f1 = per_class_scores(y[te][:, cols], net.predict(Z[te]))["macro_f1"]
            print(f"{module:<14}{precision:<11}{aucs[0]:>8.3f}{aucs[1]:>8.3f}{f1:>10.3f}{len(net.history):>8}{dt:>8.1f}")


if __name__ == "__main__":
    main()

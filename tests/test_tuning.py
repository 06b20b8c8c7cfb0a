"""Per-class threshold tuning: skecg.metrics.best_thresholds, and on an inner validation split (skecg.tuning)."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.multioutput import MultiOutputClassifier

from skecg.baselines import CatBoostECGClassifier, make_catboost_baseline
from skecg.datasets import load_sample
from skecg.ensemble import LengthEnsemble, SinusRhythmFallback
from skecg.labels import get_vocabulary
from skecg.metrics import SCORING, best_thresholds, challenge_score, per_class_scores
from skecg.tuning import MultilabelThresholdTuner, tune_multilabel_thresholds


def _toy(n=240, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = np.c_[X[:, 0] > 1.0, X[:, 1] > 0.5, X[:, 2] + 0.5 * rng.normal(size=n) > 1.5][:, :k].astype(int)
    return X, y


def test_f1_thresholds_are_the_best_of_the_grid():
    rng = np.random.default_rng(1)
    y = (rng.random((150, 4)) < 0.2).astype(int)
    p = np.clip(0.35 * y + 0.65 * rng.random(y.shape), 0, 1)
    grid = np.linspace(0.02, 0.98, 49)
    t = best_thresholds(y, p, candidates=grid)
    for j in range(4):
        f1 = [per_class_scores(y[:, [j]], (p[:, [j]] >= g).astype(int))["f1"][0] for g in grid]
        got = per_class_scores(y[:, [j]], (p[:, [j]] >= t[j]).astype(int))["f1"][0]
        assert got == pytest.approx(max(f1))


@pytest.mark.parametrize("vocabulary", ["tnmg", "cinc2020", "cinc2020_27"])
def test_fast_challenge_ascent_equals_scoring_each_candidate(vocabulary):
    # cinc2020_27 has equivalent classes as separate columns (merged by OR in the score)
    classes = list(get_vocabulary(vocabulary).classes)
    rng = np.random.default_rng(2)
    y = (rng.random((60, len(classes))) < 0.15).astype(int)
    p = np.clip(0.3 * y + 0.7 * rng.random(y.shape), 0, 1)
    kw = dict(classes=classes, candidates=8, n_passes=1)
    fast = best_thresholds(y, p, objective="challenge", **kw)
    slow = best_thresholds(y, p, objective=lambda a, b: challenge_score(a, b, classes), **kw)
    np.testing.assert_allclose(fast, slow)
    f1 = best_thresholds(y, p, candidates=8)
    assert challenge_score(y, (p >= fast).astype(int), classes) >= challenge_score(y, (p >= f1).astype(int), classes)


def test_classes_without_positives_keep_the_default():
    y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    p = np.array([[0.9, 0.2], [0.1, 0.3], [0.8, 0.1], [0.2, 0.4]])
    assert best_thresholds(y, p, default=0.5)[1] == 0.5


def test_bad_input():
    with pytest.raises(ValueError, match="must both be"):
        best_thresholds(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        best_thresholds(np.zeros((2, 1)), np.array([[np.nan], [0.2]]))
    with pytest.raises(ValueError, match="objective must be one of"):
        best_thresholds(np.ones((2, 1)), np.ones((2, 1)), objective="auc")
    X, y = _toy()
    with pytest.raises(ValueError, match="The 'scoring' parameter of MultilabelThresholdTuner must be"):
        MultilabelThresholdTuner(MultiOutputClassifier(LogisticRegression()), scoring="auc").fit(X, y)
    with pytest.raises(ValueError, match="The 'cv' parameter of MultilabelThresholdTuner must be"):
        MultilabelThresholdTuner(MultiOutputClassifier(LogisticRegression()), cv=1).fit(X, y)
    with pytest.raises(ValueError, match=r"The 'cv' parameter .* must be a float in the range \(0.0, 1.0\)"):
        MultilabelThresholdTuner(MultiOutputClassifier(LogisticRegression()), cv=1.5).fit(X, y)
    with pytest.raises(ValueError, match="not among the scored classes"):
        MultilabelThresholdTuner(MultiOutputClassifier(LogisticRegression()), scoring="challenge").fit(X, y)


def test_tuner_splits_by_patient_inside_the_training_data():
    X, y = _toy()
    groups = np.arange(len(X)) // 3  # three records per patient
    tuner = MultilabelThresholdTuner(MultiOutputClassifier(LogisticRegression()), cv=0.3, random_state=0)
    tuner.fit(X, y, groups=groups)
    va = tuner.valid_indices_
    tr = np.setdiff1d(np.arange(len(X)), va)
    assert 0.2 < len(va) / len(X) < 0.4
    assert not set(groups[va]) & set(groups[tr])
    assert tuner.best_score_ >= tuner.untuned_score_
    # the same seed gives the same thresholds; refit=False keeps the inner model
    again = clone(tuner).fit(X, y, groups=groups)
    np.testing.assert_array_equal(again.thresholds_, tuner.thresholds_)
    inner = clone(tuner).set_params(refit=False).fit(X, y, groups=groups)
    assert inner.predict(X).shape == y.shape


def test_tuner_kfold_and_grid_search():
    X, y = _toy()
    tuner = MultilabelThresholdTuner(MultiOutputClassifier(LogisticRegression()), cv=3, random_state=0)
    pred = tuner.fit(X, y).predict(X)
    assert pred.shape == y.shape and set(np.unique(pred)) <= {0, 1}
    search = GridSearchCV(tuner, {"scoring": ["f1"], "cv": [0.25, 3]},
                          scoring=lambda est, X_, y_: per_class_scores(y_, est.predict(X_))["macro_f1"],
                          cv=GroupKFold(3)).fit(X, y, groups=np.arange(len(X)) % 30)
    assert search.best_params_["cv"] in (0.25, 3)


def test_tuner_composes_with_zhu_wrappers():
    # the tuner under the sinus-rhythm fallback, and inside a length ensemble (whose
    # thresholds default to its members' thresholds_)
    classes = ["164889003", "426177001", "426783006"]
    X, y = _toy(k=3)
    base = MultilabelThresholdTuner(MultiOutputClassifier(LogisticRegression()), classes=classes,
                                    scoring="challenge", random_state=0)
    fb = SinusRhythmFallback(base, normal_class="2").fit(X, y)
    assert fb.predict(X).any(axis=1).all()
    ens = LengthEnsemble([("a", base), ("b", clone(base).set_params(random_state=1))]).fit(X, y)
    expected = (ens.estimators_[0].thresholds_ + ens.estimators_[1].thresholds_) / 2
    np.testing.assert_allclose(ens.thresholds_, expected)


def test_tuned_catboost_is_non_negative_on_a_held_out_source_and_beats_untuned():
    """The CatBoost baseline of the demo, tuned inside the training sources only, tested on
    Georgia (never seen): non-negative challenge score and better than its untuned self."""
    X, y = load_sample("tnmg")
    test = (X.meta["source"] == "Georgia").to_numpy()
    Xtr, ytr = X.take(np.flatnonzero(~test)), y[~test]
    Xte, yte = X.take(np.flatnonzero(test)), y[test]
    untuned = make_catboost_baseline(iterations=60, thread_count=2).fit(Xtr, ytr)
    # refit=False keeps the model of the inner training part (one fit fewer, for speed)
    tuned = MultilabelThresholdTuner(make_catboost_baseline(iterations=60, thread_count=2), scoring="challenge",
                                     refit=False, random_state=0).fit(Xtr, ytr)
    assert set(tuned.valid_indices_) <= set(range(len(ytr)))  # tuned on training records only
    s_untuned = challenge_score(yte, untuned.predict(Xte))
    s_tuned = challenge_score(yte, tuned.predict(Xte))
    assert s_tuned >= 0
    assert s_tuned > s_untuned
    assert SCORING["challenge"](tuned, Xte, yte) == pytest.approx(s_tuned)


def test_catboost_classifier_in_the_tuner_on_features():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = np.c_[X[:, 0] > 1.2, X[:, 1] > 0].astype(int)
    tuner = MultilabelThresholdTuner(CatBoostECGClassifier(iterations=30), random_state=0).fit(X, y)
    assert tuner.thresholds_.shape == (2,) and list(tuner.classes_) == ["0", "1"]


# --- one threshold search, one grid ------------------------------------------------------------
def test_the_grid_has_both_ends_and_its_plateau_middle():
    # more positives than negatives: predicting every record is the best F1 (8/9), a
    # threshold the grid holds (the smallest probability); above the largest, none
    y = np.array([[1], [1], [1], [1], [0]])
    p = np.array([[0.2], [0.3], [0.4], [0.5], [0.45]])
    assert best_thresholds(y, p)[0] == pytest.approx(0.2)
    # the best F1 holds on (0.1, 0.4]: the middle candidate of that plateau
    y = np.array([[0], [1], [1], [1]])
    p = np.array([[0.1], [0.4], [0.7], [0.9]])
    assert best_thresholds(y, p)[0] == pytest.approx(0.25)
    # scores need not be probabilities (logits: ECGClassifier(predict_nonlinearity=None))
    assert best_thresholds(y, 10 * p - 5)[0] == pytest.approx(-2.5)
    # a count caps the candidates: the result is still one of the midpoints' quantiles
    rng = np.random.default_rng(0)
    y = (rng.random((500, 2)) < 0.3).astype(int)
    p = np.clip(0.3 * y + 0.7 * rng.random(y.shape), 0, 1)
    t5 = best_thresholds(y, p, candidates=5)
    assert t5.shape == (2,) and np.all((t5 >= p.min(0)) & (t5 <= p.max(0) + 1e-6))


def test_ecg_classifier_and_the_tuner_use_the_same_search(monkeypatch):
    import skecg.models._classifier as classifier_module
    import skecg.tuning as tuning_module

    assert classifier_module.best_thresholds is best_thresholds is tuning_module.best_thresholds
    calls = []

    def spy(*a, **k):
        calls.append(k)
        return best_thresholds(*a, **k)

    monkeypatch.setattr(tuning_module, "best_thresholds", spy)
    X, y = _toy()
    MultilabelThresholdTuner(MultiOutputClassifier(LogisticRegression()), random_state=0).fit(X, y)
    assert len(calls) == 1 and calls[0]["objective"] == "f1" and calls[0]["candidates"] == 100


def test_ecg_classifier_tunes_with_best_thresholds(monkeypatch):
    import skecg.models._classifier as classifier_module
    from skecg.models import ECGClassifier

    calls = []

    def spy(y_true, proba, **k):
        calls.append((np.shape(y_true), k))
        return best_thresholds(y_true, proba, **k)

    monkeypatch.setattr(classifier_module, "best_thresholds", spy)
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(40, 2, 64)).astype(np.float32)
    y = np.c_[Z[:, 0, :8].mean(1) > 0, Z[:, 1, :8].mean(1) > 0].astype(int)
    net = ECGClassifier(module__filters=(4, 4), module__kernel_size=3, max_epochs=1, batch_size=16,
                        valid_size=0.25, tune_thresholds=True, random_state=0).fit(Z, y)
    assert len(calls) == 1 and calls[0][0][1] == 2 and calls[0][1] == {"default": 0.5}
    assert net.thresholds_.shape == (2,)
    ECGClassifier(module__filters=(4, 4), module__kernel_size=3, max_epochs=1, batch_size=16,
                  valid_size=0.25, random_state=0).fit(Z, y)
    assert len(calls) == 1  # tune_thresholds=False: 0.5 as given


def test_deprecated_names_warn_and_agree():
    import skecg.models

    rng = np.random.default_rng(3)
    y = (rng.random((80, 3)) < 0.3).astype(int)
    p = np.clip(0.3 * y + 0.7 * rng.random(y.shape), 0, 1)
    with pytest.warns(FutureWarning, match="skecg.metrics.best_thresholds"):
        old = skecg.models.tune_thresholds(y, p)
    np.testing.assert_array_equal(old, best_thresholds(y, p))
    grid = np.linspace(0.1, 0.9, 9)
    with pytest.warns(FutureWarning):
        np.testing.assert_array_equal(skecg.models.tune_thresholds(y, p, grid), best_thresholds(y, p, candidates=grid))
    assert "tune_thresholds" not in skecg.models.__all__
    with pytest.warns(FutureWarning, match="'thresholds' was renamed 'candidates'"):
        old = tune_multilabel_thresholds(y, p, thresholds=8)
    np.testing.assert_array_equal(old, tune_multilabel_thresholds(y, p, candidates=8))
    np.testing.assert_array_equal(old, best_thresholds(y, p, candidates=8))
    X, y = _toy()
    est = MultiOutputClassifier(LogisticRegression())
    with pytest.warns(FutureWarning, match="'thresholds' was renamed 'candidates'"):
        old = MultilabelThresholdTuner(est, thresholds=7, random_state=0).fit(X, y)
    new = MultilabelThresholdTuner(est, candidates=7, random_state=0).fit(X, y)
    np.testing.assert_array_equal(old.thresholds_, new.thresholds_)
    assert "thresholds" not in repr(new)  # the sentinel default stays out of the repr

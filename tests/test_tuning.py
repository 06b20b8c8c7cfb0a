"""Per-class threshold tuning on an inner validation split (skecg.tuning)."""

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
from skecg.metrics import SCORING, challenge_score, per_class_scores
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
    t = tune_multilabel_thresholds(y, p, thresholds=grid)
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
    kw = dict(classes=classes, thresholds=8, n_passes=1)
    fast = tune_multilabel_thresholds(y, p, objective="challenge", **kw)
    slow = tune_multilabel_thresholds(y, p, objective=lambda a, b: challenge_score(a, b, classes), **kw)
    np.testing.assert_allclose(fast, slow)
    f1 = tune_multilabel_thresholds(y, p, thresholds=8)
    assert challenge_score(y, (p >= fast).astype(int), classes) >= challenge_score(y, (p >= f1).astype(int), classes)


def test_classes_without_positives_keep_the_default():
    y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    p = np.array([[0.9, 0.2], [0.1, 0.3], [0.8, 0.1], [0.2, 0.4]])
    assert tune_multilabel_thresholds(y, p, default=0.5)[1] == 0.5


def test_bad_input():
    with pytest.raises(ValueError, match="must both be"):
        tune_multilabel_thresholds(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        tune_multilabel_thresholds(np.zeros((2, 1)), np.array([[np.nan], [0.2]]))
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

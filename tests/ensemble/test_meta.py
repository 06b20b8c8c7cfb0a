"""Samplers, rule gate, fallback, two-length ensemble, relabelling, CatBoost baseline."""

import numpy as np
import pytest
from imblearn.pipeline import Pipeline
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skecg.baselines import CatBoostECGClassifier, make_catboost_baseline
from skecg.datasets import load_sample
from skecg.ensemble import (
    BradycardiaRuleGate,
    DeepFeatures,
    LengthEnsemble,
    PseudoLabelRelabeler,
    SinusRhythmFallback,
)
from skecg.labels import get_vocabulary
from skecg.metrics import SCORING
from skecg.models import ECGClassifier
from skecg.preprocessing import HRV_FEATURES, PadTruncate, RRFeatureExtractor, Resampler
from skecg.sampling import TrainingSubsetSampler

from conftest import TINY

SB, ST, NSR = "426177001", "427084000", "426783006"


def net_pipe(length=512, **kw):
    return make_pipeline(Resampler(100), PadTruncate(length=length), ECGClassifier(**{**TINY, **kw}))


@pytest.fixture(scope="module")
def six():
    return load_sample("tnmg")


@pytest.fixture(scope="module")
def cinc_small():
    return load_sample("cinc2020", sources=["Georgia", "Chapman-Ningbo", "CPSC"])


# --- samplers -----------------------------------------------------------------------------
def test_subset_I_class_counts_and_metadata(six):
    X, y = six
    s = TrainingSubsetSampler("I", n_per_class=8, random_state=0)
    Xs, ys = s.fit_resample(X, y)
    assert len(Xs) == len(ys) == 56 == len(set(s.sample_indices_))
    assert np.all(ys.sum(0) >= 8)  # every abnormality (overshoot allowed)
    assert (ys.sum(1) == 0).sum() >= 8  # normal
    assert Xs.meta.record_id.tolist() == X.meta.record_id.to_numpy()[s.sample_indices_].tolist()
    Xs2, _ = TrainingSubsetSampler("I", n_per_class=8, random_state=0).fit_resample(X, y)
    assert Xs2.meta.record_id.tolist() == Xs.meta.record_id.tolist()


def test_subsets_are_of_equal_size_and_II_favours_multilabel(six):
    X, y = six
    sizes, labels = {}, {}
    for strat in ("I", "II", "III", "IV"):
        Xa = X.take(np.flatnonzero(X.meta.age.notna().to_numpy()))
        ya = y[X.meta.age.notna().to_numpy()]
        s = TrainingSubsetSampler(strat, n_per_class=8, random_state=1)
        _, ys = s.fit_resample(Xa, ya)
        sizes[strat] = len(ys)
        labels[strat] = ys.sum(1)[ys.sum(1) > 0].mean()
    assert len(set(sizes.values())) == 1
    assert labels["II"] > labels["I"]


def test_subset_III_takes_oldest_and_youngest(six):
    X, y = six
    ok = X.meta.age.notna().to_numpy()
    Xa, ya = X.take(np.flatnonzero(ok)), y[ok]
    s = TrainingSubsetSampler("III", n_per_class=6, random_state=0)
    Xs, ys = s.fit_resample(Xa, ya)
    ages = Xa.meta.age.to_numpy()
    j = 3  # SB: filled first among classes without overshoot? check on its own records
    sb = np.flatnonzero(ya[:, j] == 1)
    chosen_sb = np.intersect1d(s.sample_indices_, sb)
    assert ages[sb].max() in ages[chosen_sb] and ages[sb].min() in ages[chosen_sb]


def test_sampler_errors(six):
    X, y = six
    with pytest.raises(ValueError, match="subset of 700 records was asked for, but only 620 records exist"):
        TrainingSubsetSampler("IV", n_total=700).fit_resample(X, y)
    with pytest.raises(ValueError, match="strategy 'III' needs ages, but .* record\\(s\\) have none"):
        TrainingSubsetSampler("III", n_per_class=4).fit_resample(X, y)
    with pytest.raises(ValueError, match=r"The 'strategy' parameter of TrainingSubsetSampler must be a str among"):
        TrainingSubsetSampler("V").fit_resample(X, y)


class _Probe(ClassifierMixin, BaseEstimator):
    """Records the sizes it was fitted and asked to predict on."""

    def fit(self, X, y):
        self.fit_len_ = len(X)
        self.classes_ = np.arange(y.shape[1])
        return self

    def predict(self, X):
        return np.zeros((len(X), len(self.classes_)), int)


def test_test_folds_are_never_resampled(six):
    X, y = six
    pipe = Pipeline([("subset", TrainingSubsetSampler("IV", n_total=50, random_state=0)), ("clf", _Probe())])
    res = cross_validate(pipe, X, y, cv=GroupKFold(4), groups=X.meta.patient_id, return_estimator=True,
                         scoring=lambda est, Xt, yt: float(len(est.predict(Xt)) == len(Xt)))
    assert all(e.named_steps["clf"].fit_len_ == 50 for e in res["estimator"])
    assert np.all(res["test_score"] == 1.0)
    te_sizes = [len(te) for _, te in GroupKFold(4).split(X, y, X.meta.patient_id)]
    assert all(s > 50 for s in te_sizes)  # test folds are bigger than the training subset: not resampled


def test_grid_search_over_subset_and_criterion(six):
    X, y = six
    pipe = Pipeline([("subset", TrainingSubsetSampler("I", n_per_class=6, random_state=0)),
                     ("resample", Resampler(100)), ("pad", PadTruncate(length=512)), ("net", ECGClassifier(**TINY))])
    grid = {"subset": [TrainingSubsetSampler(s, n_per_class=6, random_state=0) for s in ("I", "II")],
            "net__criterion": ["bce", "sign"]}
    gs = GridSearchCV(pipe, grid, cv=GroupKFold(2), scoring=SCORING, refit="f1_macro")
    gs.fit(X[::2], y[::2], groups=X.meta.patient_id[::2])
    assert len(gs.cv_results_["params"]) == 4 and np.isfinite(gs.cv_results_["mean_test_auroc"]).all()


# --- rule gate ------------------------------------------------------------------------------
def test_bradycardia_rule_on_real_sb_and_st(six):
    X, y = six
    gate = BradycardiaRuleGate(None)
    rule = gate.rule(X)
    med_rr = RRFeatureExtractor(lead="I").fit_transform(X)[:, list(HRV_FEATURES).index("median_rr")]
    sb, st = y[:, 3] == 1, y[:, 5] == 1
    assert rule[sb].mean() >= 0.75, rule[sb].mean()
    assert not rule[st].any()
    # at least half the intervals in 1.0-1.6 s: typical rates are bradycardic
    assert np.nanmedian(60 / med_rr[rule]) < 60 < 100 < np.nanmedian(60 / med_rr[st])


def test_gate_modes_and_grid_search(cinc_small):
    X, y = cinc_small
    gate = BradycardiaRuleGate(net_pipe(), mode="veto").fit(X, y)
    base = gate.estimator_.predict(X)
    j = gate.gated_index_
    rule = gate.rule(X)
    veto = gate.predict(X)
    np.testing.assert_array_equal(veto[:, j], base[:, j] & rule)
    rescue = clone(gate).set_params(mode="rescue").fit(X, y).predict(X)
    np.testing.assert_array_equal(rescue[:, j], base[:, j] | rule)
    others = np.arange(base.shape[1]) != j
    np.testing.assert_array_equal(veto[:, others], base[:, others])
    # the rule runs only on the records whose label it can change (model yes: veto, no: rescue)
    forced = base.copy()
    forced[:, j] = np.arange(len(X)) % 3 == 0
    seen = []
    gate.rule = lambda Xs, rule_of=type(gate).rule: seen.append(list(Xs.meta.record_id)) or rule_of(gate, Xs)
    for mode, expect in (("veto", forced[:, j] & rule), ("rescue", forced[:, j] | rule)):
        gate.mode = mode
        np.testing.assert_array_equal(gate._post(X, forced.copy())[:, j], expect)
    ids = X.meta.record_id.to_numpy()
    assert seen == [list(ids[forced[:, j] == 1]), list(ids[forced[:, j] == 0])]
    del gate.rule
    gs = GridSearchCV(BradycardiaRuleGate(net_pipe()), {"mode": ["veto", "rescue"]}, cv=GroupKFold(2),
                      scoring=SCORING, refit="challenge").fit(X, y, groups=X.meta.patient_id)
    assert np.isfinite(gs.cv_results_["mean_test_challenge"]).all()
    with pytest.raises(ValueError, match="gated class '999' is not among the estimator's classes_"):
        BradycardiaRuleGate(net_pipe(), gated_class="999").fit(X, y)


# --- fallback -----------------------------------------------------------------------------------
def test_sinus_rhythm_fallback_on_all_negative_rows(cinc_small):
    X, y = cinc_small
    fb = SinusRhythmFallback(net_pipe(threshold=[0.0] * 12 + [1.1] * 12)).fit(X, y)
    base = fb.estimator_.predict(X)
    out = fb.predict(X)
    n = fb.normal_index_
    empty = ~base.any(axis=1)
    assert out[empty, n].all() and out[empty].sum() == empty.sum()
    np.testing.assert_array_equal(out[~empty], base[~empty])
    allneg = SinusRhythmFallback(net_pipe(threshold=1.1)).fit(X, y).predict(X)
    assert (allneg.sum(1) == 1).all() and allneg[:, n].all()
    gs = GridSearchCV(SinusRhythmFallback(net_pipe()), {"estimator__ecgclassifier__criterion": ["bce", "sign"]},
                      cv=GroupKFold(2), scoring=SCORING, refit="challenge")
    gs.fit(X, y, groups=X.meta.patient_id)
    with pytest.raises(ValueError, match="normal class '1' is not among"):
        SinusRhythmFallback(net_pipe(), normal_class="1").fit(X, y)


def test_predict_with_proba_runs_the_network_once_and_equals_predict(cinc_small, monkeypatch):
    from skecg.metrics import predict_with_proba, proba_matrix

    X, y = cinc_small
    zhu = SinusRhythmFallback(BradycardiaRuleGate(net_pipe(threshold=0.3), lead="II")).fit(X, y)
    proba, labels = proba_matrix(zhu, X), zhu.predict(X)
    net = zhu.estimator_.estimator_[-1]
    calls = []
    forward = net.module_.forward
    monkeypatch.setattr(net.module_, "forward", lambda *a, **k: calls.append(1) or forward(*a, **k))
    p2, l2 = predict_with_proba(zhu, X)
    n_batches = len(calls)
    np.testing.assert_array_equal(p2, proba)
    np.testing.assert_array_equal(l2, labels)
    calls.clear()
    zhu.predict(X)
    assert n_batches == len(calls) > 0  # both outputs for the price of one pass
    # an estimator with no labels_from_proba is asked for predict
    dummy = make_pipeline(RRFeatureExtractor(), _Const()).fit(X[:4], y[:4])
    np.testing.assert_array_equal(predict_with_proba(dummy, X[:4])[1], dummy.predict(X[:4]))


class _Const(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.arange(np.shape(y)[1])
        self.n_ = np.shape(y)[1]
        return self

    def predict_proba(self, X):
        return np.full((len(X), self.n_), 0.25)

    def predict(self, X):
        return np.ones((len(X), self.n_), int)


# --- ensemble ----------------------------------------------------------------------------------
def test_length_ensemble_averages(six):
    X, y = six
    X, y = X[:200], y[:200]
    ens = LengthEnsemble([("short", net_pipe(256)), ("long", net_pipe(1024))], weights=[1, 3]).fit(X, y)
    p = ens.predict_proba(X)
    ps, pl = (e.predict_proba(X) for e in ens.estimators_)
    np.testing.assert_allclose(p, 0.25 * ps + 0.75 * pl, rtol=1e-6)
    assert ens.predict(X).shape == (200, 6)
    s = cross_val_score(LengthEnsemble([("a", net_pipe(256)), ("b", net_pipe(512))]), X, y,
                        groups=X.meta.patient_id, cv=GroupKFold(2), scoring=SCORING["auroc"])
    assert np.isfinite(s).all()
    gs = GridSearchCV(ens, {"weights": [[1, 1], [1, 3]]}, cv=GroupKFold(2), scoring=SCORING, refit="auroc")
    gs.fit(X, y, groups=X.meta.patient_id)


# --- relabelling ------------------------------------------------------------------------------
def test_relabeller_adds_only_allowed_classes():
    X, y = load_sample("cinc2020")  # mostly PTB-XL: sinus rhythm is common
    y = y.astype(int)
    classes = list(get_vocabulary("cinc2020").classes)
    cn = (X.meta.source == "Chapman-Ningbo").to_numpy()
    y[cn, classes.index(NSR)] = 0  # a source that never labels sinus rhythm
    rl = PseudoLabelRelabeler(net_pipe(256, max_epochs=3), sources=["Chapman-Ningbo"], threshold=0.5).fit(X, y)
    added = rl.y_relabelled_ - y
    assert added.min() == 0 and added[~cn].sum() == 0  # only additions, only in the chosen source
    original = y[cn].any(axis=0)
    assert not added[:, original].any()  # never a class the source already labels
    assert sum(rl.added_.values()) == added.sum() > 0
    assert set(rl.added_) <= set(classes)
    gs = GridSearchCV(PseudoLabelRelabeler(net_pipe(256), sources=["Chapman-Ningbo"]), {"threshold": [0.5, 0.8]},
                      cv=GroupKFold(2), scoring=SCORING, refit="challenge")
    gs.fit(X[::3], y[::3], groups=X.meta.patient_id[::3])


# --- CatBoost baseline ------------------------------------------------------------------------
@parametrize_with_checks([CatBoostECGClassifier(iterations=10)])
def test_catboost_sklearn_checks(estimator, check):
    check(estimator)


def test_catboost_baseline_on_real_records(six):
    X, y = six
    pipe = make_catboost_baseline(iterations=60)
    s = cross_val_score(pipe, X, y, groups=X.meta.patient_id, cv=GroupKFold(3), scoring=SCORING["auroc"])
    assert np.nanmean(s) > 0.6, s  # HRV features separate SB / ST / AF from the rest
    gs = GridSearchCV(make_catboost_baseline(iterations=30), {"catboost__depth": [3, 4]}, cv=GroupKFold(2),
                      scoring=SCORING, refit="auroc").fit(X, y, groups=X.meta.patient_id)
    assert gs.best_estimator_.predict_proba(X[:5]).shape == (5, 6)


def test_catboost_stacked_with_deep_features(six):
    X, y = six
    X, y = X[:150], y[:150]
    pipe = make_catboost_baseline(deep=net_pipe(), iterations=20)
    pipe.fit(X, y)
    F = pipe.named_steps["features"].transform(X[:4])
    n_deep = 8 * 512 // 16  # ResNet1d: flattened output of the last residual unit (8 filters x 32 steps)
    assert F.shape == (4, 32 + n_deep)
    d = DeepFeatures(net_pipe(module="attention_resnet1d")).fit(X, y)
    assert d.transform(X[:3]).shape == (3, 8) and len(d.get_feature_names_out()) == 8

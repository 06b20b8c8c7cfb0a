"""The meta-estimators' plumbing: metadata routing (sample_weight, groups), one pass for
``predict_with_proba``, the regrouped ``skecg.ensemble`` package and its model-file names.

Small spy estimators count what reaches them; nothing here trains a network.
"""

import importlib
import json
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline

import skecg.ensemble
from skecg import ECGRecords
from skecg.baselines import CatBoostECGClassifier
from skecg.ensemble import (
    BradycardiaRuleGate,
    DeepFeatures,
    LengthEnsemble,
    PseudoLabelRelabeler,
    SegmentRuleClassifier,
    SinusRhythmFallback,
)
from skecg.metrics import predict_with_proba
from skecg.persistence import load_model, save_model
from skecg.tuning import MultilabelThresholdTuner

N, K = 60, 3
CLASSES = ["164889003", "426177001", "426783006"]


class _Spy(ClassifierMixin, BaseEstimator):
    """A multilabel classifier that logs the ``sample_weight`` each fit receives and counts
    ``predict_proba`` calls (class-level logs: clones share them)."""

    fits: list = []
    n_proba = 0

    def fit(self, X, y, sample_weight=None):
        y = np.asarray(y)
        self.classes_ = np.asarray(CLASSES[:y.shape[1]], dtype=object)
        self.sample_weight_ = sample_weight
        _Spy.fits.append(None if sample_weight is None else np.asarray(sample_weight).copy())
        return self

    def predict_proba(self, X):
        _Spy.n_proba += 1
        return np.tile(np.linspace(0.05, 0.95, len(X))[:, None], (1, len(self.classes_)))

    def predict(self, X):
        return (self.predict_proba(X) >= 0.5).astype(int)

    def embed(self, X):
        return np.zeros((len(X), 2))


class _Counting(TransformerMixin, BaseEstimator):
    """A pass-through transformer that counts its ``transform`` calls."""

    n_transform = 0

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        _Counting.n_transform += 1
        return X


class _SpySegmenter(BaseEstimator):
    """A segmenter (``predict_waves``) whose fit takes masks and logs its sample_weight."""

    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.array(["none", "QRS"])
        self.fs_ = 100.0
        self.sample_weight_ = sample_weight
        return self

    def predict_waves(self, X):
        return pd.DataFrame({"record_id": ["0"], "wave": ["QRS"], "onset": [0], "offset": [19], "proba": [0.9]})


@pytest.fixture(autouse=True)
def _reset_logs():
    _Spy.fits.clear()
    _Spy.n_proba = 0
    _Counting.n_transform = 0


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    meta = pd.DataFrame({"patient_id": [str(i // 2) for i in range(N)], "source": ["A", "B"] * (N // 2)})
    X = ECGRecords(rng.normal(size=(N, 1, 50)).astype(np.float32), meta, fs=100)
    y = (rng.random((N, K)) < 0.4).astype(int)
    y[:4] = np.eye(K, dtype=int)[[0, 1, 2, 0]]
    return X, y


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


# each meta-estimator around a sub-estimator; the last fit of the sub-estimator is on all records
META = {
    "gate": lambda e: BradycardiaRuleGate(e, gated_class=CLASSES[1]),
    "fallback": lambda e: SinusRhythmFallback(e, normal_class=CLASSES[2]),
    "length": lambda e: LengthEnsemble([("a", e), ("b", clone(e))]),
    "relabel": lambda e: PseudoLabelRelabeler(e, sources=("A",), scored_classes=CLASSES),
    "deep": lambda e: DeepFeatures(e),
    "tuner": lambda e: MultilabelThresholdTuner(e, random_state=0),
}


@pytest.mark.parametrize("name", sorted(META))
def test_sample_weight_reaches_a_sub_estimator_that_requests_it(name, data, routing):
    X, y = data
    w = np.arange(N, dtype=float)
    META[name](_Spy().set_fit_request(sample_weight=True)).fit(X, y, sample_weight=w)
    assert _Spy.fits and all(f is not None for f in _Spy.fits)
    np.testing.assert_array_equal(_Spy.fits[-1], w)
    # the tuner's inner fit sees the weights of its inner training records only; the others fit on all
    assert all((len(f) < N) == (name == "tuner") for f in _Spy.fits[:-1])
    # a sub-estimator that did not ask for sample_weight: scikit-learn's error, before any fit
    _Spy.fits.clear()
    with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
        META[name](_Spy()).fit(X, y, sample_weight=w)
    assert not _Spy.fits


def test_each_member_gets_what_it_requested(data, routing):
    X, y = data
    w = np.arange(N, dtype=float)
    ens = LengthEnsemble([("a", _Spy().set_fit_request(sample_weight=True)),
                          ("b", _Spy().set_fit_request(sample_weight=False))]).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(ens.named_estimators_["a"].sample_weight_, w)
    assert ens.named_estimators_["b"].sample_weight_ is None


@pytest.mark.parametrize("name", sorted(META))
def test_without_routing_fit_params_pass_through_as_before(name, data):
    X, y = data
    w = np.arange(N, dtype=float)
    META[name](_Spy()).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(_Spy.fits[-1], w)
    if name == "tuner":  # per-record parameters are split with the records of the inner fit
        assert len(_Spy.fits[0]) < N and set(_Spy.fits[0]) < set(w)


def test_segment_rule_routes_to_its_segmenter(data, routing):
    X, y = data
    w = np.ones(N)
    clf = SegmentRuleClassifier(_SpySegmenter().set_fit_request(sample_weight=True), classes=("0",))
    clf.fit(X, y[:, :1], masks=np.zeros((N, 50)), sample_weight=w)
    np.testing.assert_array_equal(clf.segmenter_.sample_weight_, w)
    with pytest.raises(UnsetMetadataPassedError):
        SegmentRuleClassifier(_SpySegmenter(), classes=("0",)).fit(X, y[:, :1], masks=np.zeros((N, 50)),
                                                                     sample_weight=w)
    # masks is the classifier's own metadata: a pipeline passes it where it is requested
    pipe = make_pipeline(_Counting(), SegmentRuleClassifier(_SpySegmenter(), classes=("0",))
                         .set_fit_request(masks=True))
    pipe.fit(X, y[:, :1], masks=np.zeros((N, 50)))
    assert pipe[-1].predict(X).shape == (N, 1)


def test_segment_rule_without_routing(data):
    X, y = data
    clf = SegmentRuleClassifier(_SpySegmenter(), classes=("0",)).fit(X, y[:, :1], masks=np.zeros((N, 50)),
                                                                     sample_weight=np.ones(N))
    assert clf.segmenter_.sample_weight_ is not None
    np.testing.assert_array_equal(clf.labels_from_proba(X, clf.predict_proba(X)), clf.predict(X))


def test_groups_reach_the_tuners_splitter(data, routing):
    X, y = data
    X = np.asarray(X).reshape(N, -1)  # plain arrays: without groups every record is its own patient
    groups = np.arange(N) // 6
    for tuner in (MultilabelThresholdTuner(_Spy(), cv=0.3, random_state=0),
                  make_pipeline(_Counting(), MultilabelThresholdTuner(_Spy(), cv=0.3, random_state=0))):
        tuner.fit(X, y, groups=groups)
        t = tuner[-1] if hasattr(tuner, "steps") else tuner
        va = t.valid_indices_
        tr = np.setdiff1d(np.arange(N), va)
        assert not set(groups[va]) & set(groups[tr])
    # GridSearchCV sends its groups to its own splitter and, routed, to the tuner's
    search = GridSearchCV(MultilabelThresholdTuner(_Spy(), cv=0.3, random_state=0), {"scoring": ["f1"]},
                          cv=GroupKFold(2)).fit(X, y, groups=groups)
    va = search.best_estimator_.valid_indices_
    assert not set(groups[va]) & set(groups[np.setdiff1d(np.arange(N), va)])
    # grouped K-fold inside the tuner
    MultilabelThresholdTuner(_Spy(), cv=3).fit(X, y, groups=groups)
    # the tuner does not take groups itself: it has no set_fit_request for it
    assert not hasattr(MultilabelThresholdTuner(_Spy()), "set_fit_request")


def test_routers_describe_their_children(routing):
    text = str(LengthEnsemble([("a", _Spy().set_fit_request(sample_weight=True))]).get_metadata_routing())
    assert "sample_weight" in text
    text = str(MultilabelThresholdTuner(_Spy()).get_metadata_routing())
    assert "splitter" in text and "groups" in text


# --- one pass through the pipeline for probabilities and labels ------------------------------------
@pytest.mark.parametrize("last", ["tuner", "fallback", "length"])
def test_predict_with_proba_runs_the_pipeline_once(data, last):
    X, y = data
    X = np.asarray(X).reshape(N, -1)
    tuner = MultilabelThresholdTuner(_Spy(), random_state=0)
    final = {"tuner": tuner, "fallback": SinusRhythmFallback(tuner, normal_class=CLASSES[2]),
             "length": LengthEnsemble([("a", tuner)])}[last]
    pipe = make_pipeline(_Counting(), final).fit(X, y)
    _Counting.n_transform = _Spy.n_proba = 0
    proba, labels = predict_with_proba(pipe, X)
    assert (_Counting.n_transform, _Spy.n_proba) == (1, 1)
    np.testing.assert_array_equal(labels, pipe.predict(X))
    np.testing.assert_array_equal(proba, pipe.predict_proba(X))


def test_tuner_labels_come_from_its_thresholds(data):
    X, y = data
    tuner = MultilabelThresholdTuner(_Spy(), random_state=0).fit(X, y)
    p = tuner.predict_proba(X)
    np.testing.assert_array_equal(tuner.predict(X), (p >= tuner.thresholds_).astype(int))
    np.testing.assert_array_equal(tuner.labels_from_proba(None, p), tuner.predict(X))


# --- the regrouped package -------------------------------------------------------------------------
def test_ensemble_names_are_public_and_the_old_segment_rule_module_warns():
    for name in skecg.ensemble.__all__:
        assert getattr(skecg.ensemble, name).__module__ == "skecg.ensemble"
    with pytest.warns(FutureWarning, match="skecg._segment_rule is deprecated"):
        from skecg._segment_rule import SegmentRuleClassifier as Old
    assert Old is SegmentRuleClassifier
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        old = importlib.import_module("skecg._segment_rule")  # importing the module alone does not warn
    with pytest.raises(AttributeError):
        old.missing  # noqa: B018


def test_model_files_name_the_public_path_and_load(data, tmp_path):
    """Files name ``skecg.ensemble.X``, the path files written before the regrouping hold."""
    X, y = data
    X = np.asarray(X).reshape(N, -1)
    est = SinusRhythmFallback(LengthEnsemble([("a", CatBoostECGClassifier(iterations=5, classes=CLASSES))]),
                              normal_class=CLASSES[2]).fit(X, y)
    path = save_model(est, tmp_path / "m.skecg")
    with zipfile.ZipFile(path) as z:
        text = z.read("model.json").decode()
    assert '"skecg.ensemble.SinusRhythmFallback"' in text and '"skecg.ensemble.LengthEnsemble"' in text
    back = load_model(path)
    np.testing.assert_allclose(back.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


def test_tuner_model_file_with_the_old_parameter_name_loads(data, tmp_path):
    X, y = data
    X = np.asarray(X).reshape(N, -1)
    est = MultilabelThresholdTuner(CatBoostECGClassifier(iterations=5, classes=CLASSES), candidates=20,
                                   random_state=0).fit(X, y)
    path = save_model(est, tmp_path / "m.skecg")
    # rewrite it as a file of the previous release: `thresholds=20`, no `candidates`
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    doc = json.loads(members["model.json"])
    params = doc["estimator"]["params"]
    params["thresholds"] = params.pop("candidates")
    members["model.json"] = json.dumps(doc).encode()
    old = tmp_path / "old.skecg"
    with zipfile.ZipFile(old, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    for p in (path, old):
        back = load_model(p)
        np.testing.assert_array_equal(back.thresholds_, est.thresholds_)
        np.testing.assert_array_equal(back.predict(X), est.predict(X))
    with pytest.warns(FutureWarning, match="'thresholds' was renamed 'candidates'"):
        clone(load_model(old)).fit(X, y)

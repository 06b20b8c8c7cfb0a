"""skecg.utils.estimator_tree: the one walker of estimator trees (presets, train, reproduce use it)."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skecg.ensemble import LengthEnsemble
from skecg.presets import get_preset, networks
from skecg.utils.estimator_tree import is_estimator, iter_estimators


class _Refit(ClassifierMixin, BaseEstimator):
    """Fits a first clone aside, then the clone that predicts (as PseudoLabelRelabeler does)."""

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, y):
        self.first_estimator_ = clone(self.estimator).fit(X, y)
        self.estimator_ = clone(self.estimator).fit(X, y)
        return self


def test_keys_are_set_params_prefixes():
    pipe = Pipeline([("scale", StandardScaler()), ("clf", _Refit(LogisticRegression()))])
    keys = [k for k, _ in iter_estimators(pipe)]
    assert keys == ["", "scale", "clf", "clf__estimator"]
    for k, est in iter_estimators(pipe):
        if k:
            assert pipe.get_params()[k] is est
    ens = LengthEnsemble([("long", LogisticRegression()), ("short", LogisticRegression(C=2))])
    assert [k for k, _ in iter_estimators(ens)] == ["", "estimators__long", "estimators__short"]


def test_fitted_walk_meets_the_predicting_clone_first():
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2
    est = _Refit(LogisticRegression()).fit(X, y)
    found = list(iter_estimators(est, fitted=True))
    assert [k for k, _ in found] == ["", "estimator_", "estimator", "first_estimator_"]
    fitted = [e for _, e in found if isinstance(e, LogisticRegression) and hasattr(e, "coef_")]
    assert fitted[0] is est.estimator_ and fitted[1] is est.first_estimator_
    # without fitted=True only the parameters: the unfitted template
    assert [e for _, e in iter_estimators(est)][1] is est.estimator


def test_stop_at_and_each_object_once():
    lr = LogisticRegression()
    pipe = Pipeline([("a", _Refit(lr)), ("b", _Refit(lr))])
    assert [k for k, _ in iter_estimators(pipe)] == ["", "a", "a__estimator", "b"]
    assert [k for k, _ in iter_estimators(pipe, stop_at=_Refit)] == ["", "a", "b"]
    assert is_estimator(lr) and not is_estimator(LogisticRegression) and not is_estimator("passthrough")


def test_presets_networks_reads_input_shapes_through_the_walker():
    est = get_preset("zhu-paper").make_estimator()
    nets = {k: (leads, samples) for k, _, leads, samples in networks(est)}
    assert nets == {"estimator__estimator__estimators__long__estimator__net": (8, 15000),
                    "estimator__estimator__estimators__short__estimator__net": (8, 5000)}
    assert [(k, s) for k, _, _, s in networks(get_preset("huang-paper").make_estimator(), prefix="x__")] == \
        [("x__net", 4096)]

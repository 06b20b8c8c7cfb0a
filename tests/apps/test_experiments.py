"""Reference rows, seeds, paired intervals by patient, and the cross-source evaluation."""

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

from skecg.apps.experiments import compare_folds, evaluate_cross_source, make_named_pipeline
from skecg.datasets import load_sample
from skecg.labels import get_vocabulary
from skecg.metrics import (
    challenge_score,
    grouped_bootstrap_ci,
    paired_bootstrap,
    per_class_scores,
    reference_predictions,
    reference_table,
    seed_summary,
    with_seed,
)
from skecg.preprocessing import RRFeatureExtractor
from skecg.tuning import MultilabelThresholdTuner


def _y(n=200, vocabulary="cinc2020", seed=0):
    v = get_vocabulary(vocabulary)
    rng = np.random.default_rng(seed)
    y = (rng.random((n, len(v.classes))) < 0.08).astype(int)
    return y, list(v.classes)


def test_all_sinus_rhythm_is_the_challenge_inactive_classifier():
    y, classes = _y()
    pred = reference_predictions("all_sinus_rhythm", y, classes)
    nsr = classes.index("426783006")
    assert pred[:, nsr].all() and pred.sum() == len(y)
    assert challenge_score(y, pred, classes) == 0.0
    t = reference_table(y, classes, n_draws=5)
    assert t.loc["ref: all sinus rhythm", "challenge"] == 0.0
    # six TNMG classes cannot say sinus rhythm: the row predicts nothing, scored as such
    y6, c6 = _y(vocabulary="tnmg")
    assert not reference_predictions("all_sinus_rhythm", y6, c6).any()
    assert reference_table(y6, c6, n_draws=5).loc["ref: all sinus rhythm", "challenge"] == pytest.approx(
        challenge_score(y6, np.zeros_like(y6), c6))


def test_random_reference_matches_prevalence_and_is_a_mean_of_draws():
    y, classes = _y(n=400)
    draws = np.mean([reference_predictions("random", y, classes, random_state=s).mean(0) for s in range(40)], 0)
    np.testing.assert_allclose(draws, y.mean(0), atol=0.02)
    t1 = reference_table(y, classes, n_draws=1, random_state=0)
    t50 = reference_table(y, classes, n_draws=50, random_state=0)
    one = per_class_scores(y, reference_predictions("random", y, classes, random_state=0))["macro_f1"]
    assert t1.loc["ref: prevalence-matched random", "macro_f1"] == pytest.approx(one)
    assert t50.loc["ref: prevalence-matched random", "macro_f1"] != pytest.approx(one)


def test_reference_rows_equal_the_scorers():
    for vocabulary in ("cinc2020_27", "tnmg"):  # equivalent classes as separate columns, and 6 classes
        y, classes = _y(n=150, vocabulary=vocabulary, seed=3)
        ytr = (np.random.default_rng(4).random(y.shape) < 0.6).astype(int)
        t = reference_table(y, classes, y_train=ytr, n_draws=3, random_state=0)
        pred = reference_predictions("majority", y, classes, y_train=ytr)
        s = per_class_scores(y, pred)
        row = t.loc["ref: per-class majority"]
        assert row["challenge"] == pytest.approx(challenge_score(y, pred, classes))
        assert row["macro_f1"] == pytest.approx(s["macro_f1"])
        np.testing.assert_allclose(row.iloc[:len(classes)].to_numpy(float), s["f1"])


def test_majority_reference_uses_the_training_labels():
    y, classes = _y()
    ytr = np.zeros_like(y)
    ytr[:, 3] = 1
    pred = reference_predictions("majority", y, classes, y_train=ytr)
    assert pred[:, 3].all() and pred.sum() == len(y)
    with pytest.raises(ValueError, match="unknown reference"):
        reference_predictions("oracle", y, classes)
    with pytest.raises(ValueError, match="columns"):
        reference_predictions("majority", y, classes, y_train=ytr[:, :3])


def test_grouped_bootstrap_resamples_whole_patients():
    y = np.arange(40)[:, None] % 2
    groups = np.arange(40) // 2  # two records per patient
    r = grouped_bootstrap_ci(lambda a: float(len(a) % 2), y, groups=groups, n_resamples=50, random_state=0)
    assert np.all(r.distribution == 0)  # every resample holds whole pairs
    r = grouped_bootstrap_ci(lambda a: float(len(a)), y, n_resamples=20, random_state=0)
    assert np.all(r.distribution == 40)
    with pytest.raises(ValueError, match="groups has"):
        grouped_bootstrap_ci(lambda a: 0.0, y, groups=groups[:5])


def test_paired_bootstrap_marks_overlap_with_zero_not_significant():
    y, classes = _y(n=120)
    rng = np.random.default_rng(1)

    def f1(a, b):
        return per_class_scores(a, b)["macro_f1"]

    same = paired_bootstrap(f1, y, y, y.copy(), names=("a", "b"), n_resamples=100, random_state=0)
    assert same.estimate == 0 and not same.significant and "not significant" in str(same)
    noisy = np.where(rng.random(y.shape) < 0.05, 1 - y, y)
    better = paired_bootstrap(f1, y, y, noisy, groups=np.arange(len(y)) // 3, names=("truth", "noisy"),
                              n_resamples=100, random_state=0)
    assert better.significant and better.verdict == "truth better" and better.low > 0
    # list of per-seed predictions: the seed mean is compared
    two = paired_bootstrap(f1, y, [y, noisy], noisy, n_resamples=50, random_state=0)
    assert two.estimate == pytest.approx((f1(y, y) + f1(y, noisy)) / 2 - f1(y, noisy))
    with pytest.raises(ValueError, match="same records"):
        paired_bootstrap(f1, y, y, y[:10])


def test_seed_summary_and_with_seed():
    s = seed_summary([0.2, 0.4])
    assert s.mean == pytest.approx(0.3) and s.sd == pytest.approx(np.std([0.2, 0.4], ddof=1))
    assert "± " in str(s) and "(2 seeds)" in str(s)
    assert "1 seed" in str(seed_summary([0.5]))
    with pytest.raises(ValueError):
        seed_summary([])
    est = with_seed(make_named_pipeline("huang", max_epochs=1), 7)
    seeds = {k: v for k, v in est.get_params().items() if k.endswith("random_state")}
    assert seeds and set(seeds.values()) == {7}
    zhu = with_seed(make_named_pipeline("zhu", max_epochs=1), 3)
    assert zhu.get_params()["estimator__estimator__net__random_state"] == 3


def _forest():
    return make_pipeline(RRFeatureExtractor(lead="II"), SimpleImputer(),
                         RandomForestClassifier(n_estimators=15, random_state=0))


def test_evaluate_cross_source_with_seeds_references_and_paired_comparison():
    X, y = load_sample("tnmg", sources=["Georgia", "Chapman-Ningbo", "CPSC"])
    res = evaluate_cross_source(_forest(), X, y, [["Georgia"]], n_seeds=2, n_resamples=40, log=lambda m: None)
    r = res[0]
    assert r.n_seeds == 2 and len(r.preds) == 2 and list(r.seed_scores["seed"]) == [0, 1]
    assert not np.array_equal(r.probas[0], r.probas[1])  # the seed reached the forest
    text = r.report()
    for s in ("mean over 2 seeds", "f1 ref: all sinus rhythm", "f1 ref: prevalence-matched random",
              "f1 ref: per-class majority", "resampling patients", "± "):
        assert s in text
    assert r.references.loc["ref: all sinus rhythm", "challenge"] == pytest.approx(
        challenge_score(r.y_true, np.zeros_like(r.y_true), r.classes))
    assert r.challenge.low <= r.challenge.estimate <= r.challenge.high
    assert r.challenge.estimate == pytest.approx(r.seed_scores["challenge"].mean())
    # the same system against itself: no difference, not significant
    d = compare_folds(r, r, names=("x", "y"), n_resamples=30)
    assert d.estimate == 0 and d.verdict == "not significant"
    other = evaluate_cross_source(_forest(), X, y, [["CPSC"]], n_resamples=10, references=False, log=lambda m: None)
    assert other[0].references is None
    with pytest.raises(ValueError, match="different records"):
        compare_folds(r, other[0])
    with pytest.raises(ValueError, match="n_seeds"):
        evaluate_cross_source(_forest(), X, y, [["CPSC"]], n_seeds=0)


def test_named_catboost_pipeline_is_tuned():
    est = make_named_pipeline("catboost")
    assert isinstance(est, MultilabelThresholdTuner) and est.scoring == "challenge"


def test_cli_evaluate_takes_n_seeds_and_reproduce_is_a_subcommand():
    from skecg.apps.cli import build_parser

    args = build_parser().parse_args(["evaluate", "sample", "--n-seeds", "3"])
    assert args.n_seeds == 3
    args = build_parser().parse_args(["reproduce", "zhu", "sample", "-o", "r", "--test-only", "ludb"])
    assert (args.protocol, args.output, args.test_only) == ("zhu", "r", ["ludb"])
    args = build_parser().parse_args(["reproduce", "huang", "--scale", "paper", "--show-config"])
    assert (args.data, args.scale, args.show_config) == ([], "paper", True)
    args = build_parser().parse_args(["reproduce", "zhu", "sample", "--no-rule", "zhu-incart", "--no-rule",
                                      "zhu-unscored", "--waves", "ludb", "--split", "random"])
    assert (args.no_rule, args.waves, args.split) == (["zhu-incart", "zhu-unscored"], "ludb", "random")


def test_per_record_terms_give_the_scorers_numbers_on_any_resample():
    from skecg.metrics import challenge_from_terms, challenge_terms, f1_terms, macro_f1_from_terms

    for vocabulary in ("cinc2020_27", "tnmg"):
        y, classes = _y(n=90, vocabulary=vocabulary, seed=5)
        rng = np.random.default_rng(6)
        pred = (rng.random(y.shape) < 0.1).astype(int)
        Tc, Tf = challenge_terms(y, pred, classes), f1_terms(y, pred)
        for _ in range(5):
            idx = rng.integers(0, len(y), len(y))
            assert challenge_from_terms(Tc[idx]) == pytest.approx(challenge_score(y[idx], pred[idx], classes))
            assert macro_f1_from_terms(Tf[idx]) == pytest.approx(per_class_scores(y[idx], pred[idx])["macro_f1"])

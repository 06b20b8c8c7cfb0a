"""Metrics against the official 2020 scorer's own results, properties, scorers, files."""

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.metrics import f1_score, precision_score, recall_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsClassifier

from conftest import TEST_DATA
from skecg.labels import get_vocabulary, merge_equivalent_columns
from skecg.metrics import (
    SCORING,
    bootstrap_ci,
    challenge_metrics,
    challenge_score,
    classification_table,
    per_class_scores,
    read_challenge_outputs,
    write_challenge_outputs,
)
from skecg.metrics._challenge import _challenge_from_prepared, prepare

# the official 2020 evaluation code's results, stored with the fixtures (tests/data/ATTRIBUTION.md)
REF = json.loads((TEST_DATA / "challenge2020" / "reference_cases.json").read_text())
CASES = [(c, lay) for c in REF["cases"] for lay in ("raw", "merged")]


@pytest.mark.parametrize("case,layout", CASES, ids=[f"{c['name']}-{l}" for c, l in CASES])
def test_official_reference_cases(case, layout):
    L = case[layout]
    classes = REF[L["classes"]]
    r = challenge_metrics(L["y_true"], L["y_pred"], L["y_prob"], classes)
    for key, want in case["official"].items():
        assert r[key] == pytest.approx(want, abs=1e-6), key
    assert challenge_score(L["y_true"], L["y_pred"], classes) == pytest.approx(
        case["official"]["challenge_metric"], abs=1e-6)
    pc = case["official_per_class"]
    assert r["per_class"]["classes"] == pc["classes"]
    for key in ("auroc", "auprc", "f_measure"):
        want = np.array([np.nan if v is None else v for v in pc[key]])
        np.testing.assert_allclose(r["per_class"][key], want, atol=1e-6, equal_nan=True)
    p = prepare(L["y_true"], L["y_pred"], classes=classes)
    _, internals = _challenge_from_prepared(p, p["outputs"])
    for key, want in case["challenge_metric_internals"].items():
        assert internals[key] == pytest.approx(want, abs=1e-6)


def test_weights_match_reference():
    from skecg.labels import load_weights
    classes, W = load_weights()
    assert classes == REF["classes_raw"]
    np.testing.assert_array_equal(W, np.array(REF["weights_raw"]))


labels24 = st.integers(5, 40).flatmap(
    lambda n: st.lists(st.lists(st.integers(0, 1), min_size=24, max_size=24), min_size=n, max_size=n))


@settings(max_examples=40, deadline=None)
@given(y=labels24)
def test_perfect_scores_one_and_normal_scores_zero(y):
    y = np.array(y)
    classes = list(get_vocabulary("cinc2020").classes)
    normal = np.zeros_like(y)
    normal[:, classes.index("426783006")] = 1
    p = prepare(y)
    _, it = _challenge_from_prepared(p, p["labels"])
    if it["correct_score"] != it["inactive_score"]:
        assert challenge_score(y, y) == pytest.approx(1.0)
    assert challenge_score(y, normal) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(3, 30), k=st.integers(2, 8))  # k=1 is binary to sklearn
def test_per_class_agrees_with_sklearn(data, n, k):
    yt = np.array(data.draw(st.lists(st.lists(st.integers(0, 1), min_size=k, max_size=k), min_size=n, max_size=n)))
    yp = np.array(data.draw(st.lists(st.lists(st.integers(0, 1), min_size=k, max_size=k), min_size=n, max_size=n)))
    s = per_class_scores(yt, yp)
    np.testing.assert_allclose(s["f1"], f1_score(yt, yp, average=None, zero_division=0))
    np.testing.assert_allclose(s["precision"], precision_score(yt, yp, average=None, zero_division=0))
    np.testing.assert_allclose(s["recall"], recall_score(yt, yp, average=None, zero_division=0))
    tn = ((1 - yt) * (1 - yp)).sum(0)
    fp = ((1 - yt) * yp).sum(0)
    np.testing.assert_allclose(s["specificity"], np.where(tn + fp > 0, tn / np.maximum(tn + fp, 1), 0))


@settings(max_examples=30, deadline=None)
@given(data=st.data(), n=st.integers(5, 30))
def test_column_permutation_invariance(data, n):
    classes = np.array(REF["classes_raw"])
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    yt = (rng.random((n, 27)) < 0.15).astype(int)
    yp = (rng.random((n, 27)) < 0.15).astype(int)
    pr = rng.random((n, 27))
    perm = data.draw(st.permutations(range(27)))
    a = challenge_metrics(yt, yp, pr, classes)
    b = challenge_metrics(yt[:, perm], yp[:, perm], pr[:, perm], classes[perm])
    for key in ("challenge_metric", "auroc", "auprc", "accuracy", "f_measure", "f_beta", "g_beta"):
        assert a[key] == pytest.approx(b[key], abs=1e-12, nan_ok=True), key


def test_subset_vocabulary_and_merge():
    v = get_vocabulary("tnmg")
    y = v.encode([["426177001"], ["164889003", "59118001"], ["427084000"]])
    assert challenge_score(y, y, v.classes) == pytest.approx(1.0)
    m, cls = merge_equivalent_columns(np.array([[1, 0], [0, 1], [0, 0]]), ["713427006", "59118001"])
    assert cls == ["713427006"] and m.ravel().tolist() == [1, 1, 0]


@pytest.mark.parametrize("kwargs,msg", [
    (dict(y_true=np.zeros((3, 24)), y_pred=np.zeros((3, 23))), "y_pred has shape"),
    (dict(y_true=np.zeros((0, 24)), y_pred=np.zeros((0, 24))), "empty"),
    (dict(y_true=np.zeros((2, 24)), y_pred=np.full((2, 24), 0.4)), "0/1 indicator"),
    (dict(y_true=np.zeros((2, 2)), y_pred=np.zeros((2, 2)), classes=["426783006", "123"]),
     r"\['123'\] are not among the scored classes"),
    (dict(y_true=np.zeros((2, 5)), y_pred=np.zeros((2, 5))), "pass classes="),
])
def test_bad_input(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        challenge_score(**kwargs)


def test_classification_table_layout():
    yt = np.array([[1, 0, 0, 1, 0, 0], [0, 1, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0]])
    t = classification_table(yt, yt, "tnmg")
    assert list(t.index) == ["precision", "recall", "specificity", "f1", "support"]
    assert t.loc["support", "macro"] == 5 and t.loc["precision", "LBBB"] == 0.0


def test_bootstrap_ci():
    rng = np.random.default_rng(1)
    yt = (rng.random((200, 24)) < 0.1).astype(int)
    yp = np.where(rng.random((200, 24)) < 0.8, yt, 1 - yt)
    r = bootstrap_ci(challenge_score, yt, yp, n_resamples=200, random_state=0)
    assert r.low < r.estimate < r.high and r.distribution.shape == (200,)
    r2 = bootstrap_ci(challenge_score, yt, yp, n_resamples=200, random_state=0)
    assert (r.low, r.high) == (r2.low, r2.high)
    pc = bootstrap_ci(lambda a, b: per_class_scores(a, b)["f1"], yt, yp, n_resamples=50, random_state=0)
    assert pc.low.shape == (24,) and np.all(pc.low <= pc.high)
    with pytest.raises(ValueError, match="different numbers of records"):
        bootstrap_ci(challenge_score, yt, yp[:10])


def test_output_files_round_trip(tmp_path):
    classes = REF["classes_raw"]
    rng = np.random.default_rng(0)
    prob = rng.random((4, 27))
    pred = (prob > 0.5).astype(int)
    write_challenge_outputs(tmp_path, ["A1", "A2", "B1", "B2"], classes, pred, prob)
    text = (tmp_path / "A1.csv").read_text().splitlines()
    assert text[0] == "#A1" and text[1].split(",") == classes
    ids, cls, p2, pr2 = read_challenge_outputs(tmp_path)
    assert ids == ["A1", "A2", "B1", "B2"] and cls == classes
    np.testing.assert_array_equal(p2, pred)
    np.testing.assert_allclose(pr2, prob, rtol=1e-5)
    rev = classes[::-1]
    _, _, p3, _ = read_challenge_outputs(tmp_path, rev)
    np.testing.assert_array_equal(p3, pred[:, ::-1])


def test_scorers_in_grid_search_with_refit():
    rng = np.random.default_rng(0)
    y = np.zeros((120, 6), int)
    y[np.arange(120), rng.integers(0, 6, 120)] = 1
    X = y @ rng.normal(size=(6, 5)) + rng.normal(scale=0.5, size=(120, 5))
    gs = GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [1, 5]}, scoring=SCORING,
                      refit="challenge", cv=KFold(3, shuffle=True, random_state=0))
    gs.fit(X, y)
    res = gs.cv_results_
    for key in ("mean_test_challenge", "mean_test_f1_macro", "mean_test_auroc"):
        assert np.all(np.isfinite(res[key])), key
    assert res["mean_test_challenge"].max() > 0.5 and res["mean_test_auroc"].max() > 0.8
    assert gs.best_index_ == int(np.argmax(res["mean_test_challenge"]))


def test_write_outputs_stay_inside_folder(tmp_path):
    out = tmp_path / "out"
    y = np.zeros((1, 2))
    for rid in ("../evil", "a/b", "..", "", "C:evil", "..\\evil"):
        with pytest.raises(ValueError, match="cannot name an output file inside"):
            write_challenge_outputs(out, [rid], ["1", "2"], y, y)
    assert not (tmp_path / "evil.csv").exists() and not list(tmp_path.rglob("evil*"))
    with pytest.raises(ValueError, match=r"\['A1'\] occur more than once"):
        write_challenge_outputs(out, ["A1", "A1"], ["1", "2"], np.zeros((2, 2)), np.zeros((2, 2)))


def test_auroc_scorer_rejects_nan_probabilities():
    from skecg.metrics import auroc_scorer

    class NaNProba:
        classes_ = np.array(["1", "2"])

        def predict_proba(self, X):
            p = np.full((len(X), 2), 0.5)
            p[1, 0] = np.nan
            return p

    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    with pytest.raises(ValueError, match=r"1 non-finite value.*record 1, class 0; AUROC is undefined"):
        auroc_scorer(NaNProba(), np.zeros((4, 1)), y)


def test_per_class_one_column_is_one_class():
    # scikit-learn reads a single column as a binary target with two classes; per_class_scores
    # scores its positives only
    s = per_class_scores(np.array([[1], [0], [1], [0]]), np.array([[1], [1], [0], [0]]))
    assert s["precision"].tolist() == [0.5] and s["specificity"].tolist() == [0.5] and s["support"].tolist() == [2]

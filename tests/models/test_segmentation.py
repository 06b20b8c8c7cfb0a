"""Wave segmentation: masks from LUDB annotations, cleaning rules, scores, a tiny
WaveSegmenter trained on a few LUDB records that must beat a trivial baseline, and the
segmenter on the shared data path (lazy records, the patient split, fit parameters, the
device)."""

import numpy as np
import pandas as pd
import pytest
from conftest import LUDB, needs_shared
from skorch.callbacks import Callback

from skecg import ECGRecords
from skecg.models import WaveSegmenter
from skecg.segmentation import (
    annotated_regions,
    clean_masks,
    delineation_scores,
    masks_to_waves,
    waves_to_masks,
)


@pytest.fixture(scope="module")
def ludb12():
    from skecg.io import read_ludb
    from skecg.preprocessing import LeadSelector

    X, _, waves = read_ludb(LUDB, records=range(1, 17), annotation_leads=["ii"])
    X2 = LeadSelector(["II"]).fit_transform(X)
    return X2, waves


@needs_shared(LUDB)
def test_masks_follow_the_annotations(ludb12):
    X, waves = ludb12
    masks = waves_to_masks(waves, X, 5000, lead="II")
    assert masks.shape == (16, 5000)
    w1 = waves[waves.record_id == "ludb-1"]
    reg = annotated_regions(w1).loc["ludb-1"]
    assert (masks[0, :reg["start"]] == -1).all() and (masks[0, reg["stop"] + 1:] == -1).all()
    for _, r in w1.iterrows():
        k = {"P": 1, "QRS": 2, "T": 3}[r.wave]
        assert (masks[0, r.onset:r.offset + 1] == k).all()
    # round trip: the masks give back the annotated onsets and offsets
    back = masks_to_waves(masks, X.meta["record_id"])
    s = delineation_scores(waves, back, fs=500, tolerance=0.002)
    assert (s["f1"] > 0.99).all()


def test_clean_masks_rules():
    m = np.array([[0, 3, 3, 0, 0, 3, 3, 0, 2, 0, 1, 1, 1, 1]])
    out = clean_masks(m, fs=1000, max_gap=0.002, min_duration=0.002)
    # gap of 2 samples between two T segments filled; the 1-sample QRS spike removed
    assert out.tolist() == [[0, 3, 3, 3, 3, 3, 3, 0, 0, 0, 1, 1, 1, 1]]
    # gaps between different classes are never filled
    m = np.array([[2, 2, 0, 3, 3]])
    assert clean_masks(m, fs=1000, max_gap=0.005, min_duration=0.0).tolist() == m.tolist()
    # min_separation: of two QRS 3 samples apart the one of smaller probability mass goes,
    # classes apart are independent, and segments far enough apart all stay
    m = np.array([[2, 2, 2, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0, 2, 2, 3, 3, 0, 0, 0, 0, 0, 3]])
    proba = np.zeros((1, 4, m.shape[1]))
    proba[0, 2] = 0.6
    proba[0, 2, 6:8] = 1.0  # the short middle QRS is the surer one: 2.0 against 1.8
    proba[0, 3] = 0.9
    out = clean_masks(m, fs=1000, max_gap=0, min_duration=0, min_separation=0.004, proba=proba)
    assert out.tolist() == [[0, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0, 2, 2, 3, 3, 0, 0, 0, 0, 0, 3]]
    out = clean_masks(m, fs=1000, max_gap=0, min_duration=0, min_separation=0.004)  # by length
    assert out.tolist() == [[2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 3, 3, 0, 0, 0, 0, 0, 3]]
    assert clean_masks(m, fs=1000, max_gap=0, min_duration=0, min_separation=0.002).tolist() == m.tolist()


def test_delineation_scores_counts():
    t = pd.DataFrame({"record_id": "a", "wave": ["P", "QRS", "T", "QRS", "T"],
                      "onset": [100, 200, 300, 700, 900], "offset": [150, 240, 400, 740, 1000]})
    s = delineation_scores(t, t, fs=500)
    assert (s["f1"] == 1).all() and (s["mean_error_ms"] == 0).all()
    shifted = t.assign(onset=t.onset + 50, offset=t.offset + 50)[:4]  # 100 ms late: within 150 ms
    shifted = pd.concat([shifted, t[4:]])
    s = delineation_scores(t, shifted, fs=500)
    assert (s["f1"] == 1).all() and np.allclose(s.loc[["P", "QRS"], "mean_error_ms"], 100)
    far = t.assign(onset=t.onset + 80, offset=t.offset + 80)  # 160 ms late: none matches
    s = delineation_scores(t, far, fs=500)
    assert s.loc[("QRS", "onset"), "tp"] == 0 and s.loc[("QRS", "onset"), "fn"] == 2
    # a prediction outside the annotated region (100..1000) is not counted as false positive
    extra = pd.concat([t, pd.DataFrame({"record_id": ["a"], "wave": ["QRS"], "onset": [1100], "offset": [1150]})])
    assert delineation_scores(t, extra, fs=500).loc[("QRS", "onset"), "fp"] == 0
    # an annotated QRS without an onset (as LUDB's paced complexes): the predicted onset of
    # the QRS overlapping it cannot be checked and is skipped, unless skip_missing=False
    t2 = t.assign(onset=t.onset.astype(float).where(t.index != 1), peak=t.onset + 20)
    s = delineation_scores(t2, t, fs=500)
    assert s.loc[("QRS", "onset"), ["tp", "fp", "fn"]].tolist() == [1, 0, 0]
    assert s.loc[("QRS", "offset"), ["tp", "fp", "fn"]].tolist() == [2, 0, 0]
    s = delineation_scores(t2, t, fs=500, skip_missing=False)
    assert s.loc[("QRS", "onset"), ["tp", "fp", "fn"]].tolist() == [1, 1, 0]


@needs_shared(LUDB)
def test_tiny_segmenter_beats_trivial_baseline(ludb12, tmp_path):
    X, waves = ludb12
    # the middle 2,000 samples of each record keep the test fast; the table's samples shift
    X = X.with_signals(X.signals[:, :, 1500:3500])
    waves = waves.assign(onset=waves.onset - 1500, peak=waves.peak - 1500, offset=waves.offset - 1500)
    waves = waves[(waves.onset >= 0) & (waves.offset < 2000)]
    masks = waves_to_masks(waves, X, 2000, lead="II")
    tr, te = np.arange(10), np.arange(10, 16)
    seg = WaveSegmenter(module__filters=(4, 8, 16), module__pool=2, max_epochs=10, lr=1e-2, batch_size=5,
                        valid_size=0, random_state=0)
    seg.fit(X[tr], masks[tr])
    assert list(seg.classes_) == ["none", "P", "QRS", "T"] and seg.fs_ == 500
    proba = seg.predict_proba(X[te])
    assert proba.shape == (6, 4, 2000) and np.allclose(proba.sum(1), 1, atol=1e-5)
    pred = seg.predict(X[te])
    inside = masks[te] >= 0
    acc = (pred[inside] == masks[te][inside]).mean()
    majority = np.bincount(masks[tr][masks[tr] >= 0]).argmax()
    baseline = (masks[te][inside] == majority).mean()
    assert acc > baseline + 0.1, (acc, baseline)
    # QRS onsets are found on records it did not train on (trivial baseline: none found, F1 0)
    table = seg.predict_waves(X[te])
    assert list(table.columns) == ["record_id", "wave", "onset", "offset", "proba"]
    assert set(table["record_id"]) <= set(X.meta["record_id"].iloc[te])
    s = delineation_scores(waves[waves.record_id.isin(X.meta["record_id"].iloc[te])], table, fs=500)
    assert s.loc[("QRS", "onset"), "f1"] > 0.5
    # weights-only persistence gives the same predictions
    seg.save_weights(tmp_path / "seg.pt")
    seg2 = WaveSegmenter(module__filters=(4, 8, 16), module__pool=2).load_weights(tmp_path / "seg.pt")
    np.testing.assert_allclose(seg2.predict_proba(X[te]), proba, atol=1e-6)


def test_seeded_fit_and_augmentation():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 1, 256)).astype("float32")
    masks = (X[:, 0] > 0.5).astype(int)
    kw = dict(module__filters=(4, 8), max_epochs=1, fs=100, random_state=3, batch_size=3)
    a = WaveSegmenter(**kw).fit(X, masks).predict_proba(X)
    b = WaveSegmenter(**kw).fit(X, masks).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    c = WaveSegmenter(**{**kw, "random_state": 4}).fit(X, masks).predict_proba(X)
    assert not np.allclose(a, c)
    # augmentation changes the training input, reproducibly for one seed
    seg = WaveSegmenter(**kw).fit(X, masks)
    import torch

    seg.torch_rng_ = torch.Generator().manual_seed(0)
    x1 = seg._augment(torch.from_numpy(X))
    seg.torch_rng_ = torch.Generator().manual_seed(0)
    np.testing.assert_array_equal(x1.numpy(), seg._augment(torch.from_numpy(X)).numpy())
    assert not np.allclose(x1.numpy(), X)
    # user-defined classes: as many as the masks hold
    m3 = np.digitize(X[:, 0], [-0.5, 0.5])
    seg = WaveSegmenter(module__filters=(4,), max_epochs=1, fs=100, valid_size=0).fit(X, m3)
    assert list(seg.classes_) == ["0", "1", "2"] and seg.predict_proba(X).shape == (6, 3, 256)


def test_validation_errors():
    X = np.zeros((4, 1, 100), np.float32)
    m = np.zeros((4, 100), int)
    m[:, 10:20] = 1
    with pytest.raises(ValueError, match="pass fs="):
        WaveSegmenter(max_epochs=1).fit(X, m)
    with pytest.raises(ValueError, match="masks must have shape"):
        WaveSegmenter(max_epochs=1, fs=100).fit(X, m[:, :50])
    with pytest.raises(ValueError, match="3-D"):
        WaveSegmenter(max_epochs=1, fs=100).fit(X[:, 0], m)
    with pytest.raises(ValueError, match="no wave label"):
        WaveSegmenter(max_epochs=1, fs=100).fit(X, np.zeros_like(m))
    with pytest.raises(ValueError, match="only 2 classes"):
        WaveSegmenter(max_epochs=1, fs=100, classes=["none", "a"]).fit(X, m * 2)
    seg = WaveSegmenter(module__filters=(4,), max_epochs=1, fs=100, valid_size=0).fit(X + 1, m)
    with pytest.raises(ValueError, match="fitted on 1"):
        seg.predict(np.zeros((1, 2, 100), np.float32))


def test_moved_names_keep_working():
    """skecg.segmentation is the public face: the helpers are those of skecg.labels and
    skecg.metrics, and the segmenter's old name is a deprecated alias."""
    import skecg.segmentation as S
    from skecg import labels, metrics, models

    assert S.waves_to_masks is labels.waves_to_masks and S.clean_masks is labels.clean_masks
    assert S.masks_to_waves is labels.masks_to_waves and S.annotated_regions is labels.annotated_regions
    assert S.delineation_scores is metrics.delineation_scores and S.LUDB_WAVES == ("none", "P", "QRS", "T")
    with pytest.warns(FutureWarning, match="skecg.segmentation.WaveSegmenter moved to skecg.models.WaveSegmenter"):
        old = S.WaveSegmenter
    assert old is models.WaveSegmenter
    with pytest.raises(AttributeError):
        S.NoSuchName


def _blob_records(n=12, length=256, fs=100, seed=0):
    """Records of one lead with a 0.3 s blob each, two records per patient, and their masks."""
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=0.3, size=(n, 1, length)).astype("float32")
    masks = np.zeros((n, length), int)
    for i in range(n):
        a = int(rng.integers(20, length - 60))
        X[i, 0, a:a + 30] += 3
        masks[i, a:a + 30] = 1
    meta = {"record_id": [f"r{i}" for i in range(n)], "patient_id": [f"p{i // 2}" for i in range(n)]}
    return ECGRecords(X, meta, fs=fs, leads=["II"]), masks


class SplitSpy(Callback):
    """Records the records of the training and validation parts."""

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self.train_ = np.asarray(dataset_train.indices)
        self.valid_ = None if dataset_valid is None else np.asarray(dataset_valid.indices)


def test_lazy_records_train_and_predict_as_in_memory(tmp_path):
    """A store on disk, read in batches, gives the segmenter what the same records in
    memory give: the same split, history and probabilities."""
    from skecg.io import open_store

    X, masks = _blob_records()
    lazy, _ = open_store(X.to_store(tmp_path / "store"))
    assert lazy.is_lazy
    kw = dict(module__filters=(4, 8), max_epochs=2, batch_size=4, valid_size=0.25, random_state=0)
    a = WaveSegmenter(**kw, callbacks=[("spy", SplitSpy())]).fit(X, masks)
    b = WaveSegmenter(**kw, callbacks=[("spy", SplitSpy())]).fit(lazy, masks)
    sa, sb = dict(a.callbacks_)["spy"], dict(b.callbacks_)["spy"]
    np.testing.assert_array_equal(sa.valid_, sb.valid_)
    assert [h["valid_loss"] for h in a.history] == [h["valid_loss"] for h in b.history]
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(lazy))
    np.testing.assert_array_equal(a.predict_proba(lazy), a.predict_proba(X))
    assert b.fs_ == 100 and b.leads_ == ("II",)
    pd.testing.assert_frame_equal(a.predict_waves(lazy), a.predict_waves(X))


def test_patient_split_keeps_a_patients_records_on_one_side():
    X, masks = _blob_records(n=20)
    pid = X.meta["patient_id"].to_numpy()
    seg = WaveSegmenter(module__filters=(4,), max_epochs=1, valid_size=0.3, random_state=1,
                        callbacks=[("spy", SplitSpy())]).fit(X, masks)
    spy = dict(seg.callbacks_)["spy"]
    assert len(spy.valid_) >= 4 and len(spy.train_) + len(spy.valid_) == 20
    assert not set(pid[spy.train_]) & set(pid[spy.valid_])
    assert "valid_loss" in seg.history[-1]
    # groups= replaces meta['patient_id']: patients of four records each
    groups = np.arange(20) // 4
    seg = WaveSegmenter(module__filters=(4,), max_epochs=1, valid_size=0.3, random_state=1,
                        callbacks=[("spy", SplitSpy())]).fit(X, masks, groups=groups)
    spy = dict(seg.callbacks_)["spy"]
    assert len(spy.valid_) % 4 == 0 and not set(groups[spy.train_]) & set(groups[spy.valid_])
    # plain arrays: each record is a patient of its own; a PatientSplit may be given as it is
    from skecg.models import PatientSplit

    seg = WaveSegmenter(module__filters=(4,), max_epochs=1, fs=100, train_split=PatientSplit(0.5, random_state=0),
                        callbacks=[("spy", SplitSpy())]).fit(np.asarray(X), masks)
    assert len(dict(seg.callbacks_)["spy"].valid_) == 10


def test_fit_parameters_device_and_weights_of_earlier_versions(tmp_path):
    import torch

    X, masks = _blob_records()
    kw = dict(module__filters=(4,), max_epochs=1, valid_size=0, random_state=0)
    with pytest.raises(TypeError, match=r"WaveSegmenter.fit got unsupported fit parameter\(s\) \['sample_weight'\]"):
        WaveSegmenter(**kw).fit(X, masks, sample_weight=np.ones(len(X)))
    # device='auto' runs where torch finds a GPU, else on the CPU, and stays 'auto'
    seg = WaveSegmenter(**kw, device="auto").fit(X, masks)
    assert seg.get_params()["device"] == "auto"
    if not torch.cuda.is_available():
        np.testing.assert_array_equal(seg.predict_proba(X), WaveSegmenter(**kw).fit(X, masks).predict_proba(X))
    # records that name their leads are matched by name: lead II of two-lead records
    two = ECGRecords(np.concatenate([np.zeros_like(np.asarray(X)), np.asarray(X)], axis=1), X.meta[["record_id"]],
                     fs=100, leads=["I", "II"])
    np.testing.assert_array_equal(seg.predict_proba(two), seg.predict_proba(X))
    # a weights file of an earlier version (no lead names) loads
    old = {"state_dict": {k: v.detach().cpu() for k, v in seg.module_.state_dict().items()},
           "classes": ["0", "1"], "shape": [1, 2], "fs": 100.0}
    torch.save(old, tmp_path / "old.pt")
    back = WaveSegmenter(module__filters=(4,)).load_weights(tmp_path / "old.pt")
    assert back.leads_ is None and back.fs_ == 100.0
    np.testing.assert_array_equal(back.predict_proba(np.asarray(X)), seg.predict_proba(X))


# --- SegmentRuleClassifier (Zhu's Model 8 rule) ------------------------------------------------
@pytest.fixture(scope="module")
def wide_narrow():
    """Records with one class of blobs: positives hold a 0.6 s blob, negatives 0.15 s ones."""
    rng = np.random.default_rng(0)
    n, L, fs = 16, 300, 100
    X = rng.normal(scale=0.3, size=(n, 1, L)).astype("float32")
    masks = np.zeros((n, L), int)
    y = np.zeros((n, 1), int)
    for i in range(n):
        a = int(rng.integers(20, 200))
        width = 60 if i % 2 == 0 else 15
        X[i, 0, a:a + width] += 3
        masks[i, a:a + width] = 1
        y[i, 0] = i % 2 == 0
    seg = WaveSegmenter(module__filters=(4, 8), max_epochs=25, lr=1e-2, fs=fs, classes=["none", "blob"],
                        valid_size=0, random_state=0).fit(X, masks)
    return X, masks, y, seg


def test_segment_rule_gridsearch_over_min_length(wide_narrow):
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import GridSearchCV, KFold

    from skecg.ensemble import SegmentRuleClassifier
    from skecg.metrics import auroc_scorer, f1_macro_scorer

    X, _, y, seg = wide_narrow
    clf = SegmentRuleClassifier(FrozenEstimator(seg), segment_class="blob", classes=["164909002"])
    c2 = clone(clf)
    assert c2.get_params()["min_length"] == 0.0 and c2.segmenter.estimator is seg  # frozen: weights kept
    gs = GridSearchCV(clf, {"min_length": [0.0, 0.4, 1.0]}, cv=KFold(2), scoring=f1_macro_scorer).fit(X, y)
    # any blob makes every record positive (F1 of the positives 2/3); 0.4 s separates them;
    # 1.0 s leaves none positive
    assert gs.best_params_ == {"min_length": 0.4}
    assert gs.best_score_ > 0.9 > gs.cv_results_["mean_test_score"][0]
    best = gs.best_estimator_
    assert list(best.classes_) == ["164909002"]
    assert best.predict(X).shape == (16, 1) and (best.predict(X) == y).mean() > 0.9
    p = best.predict_proba(X)
    assert p.shape == (16, 1) and ((p > 0) == best.predict(X)).all() and (p <= 1).all()
    assert auroc_scorer(best, X, y) > 0.9


def test_segment_rule_fits_an_unfitted_segmenter_and_checks(wide_narrow):
    from skecg.ensemble import SegmentRuleClassifier

    X, masks, y, seg = wide_narrow
    with pytest.raises(ValueError, match="not fitted: pass masks="):
        SegmentRuleClassifier(WaveSegmenter(fs=100), segment_class="blob").fit(X, y)
    with pytest.raises(ValueError, match="segment_class 'QRS' is not among"):
        SegmentRuleClassifier(seg, segment_class="QRS").fit(X, y)
    tiny = WaveSegmenter(module__filters=(4,), max_epochs=1, fs=100, classes=["none", "blob"], valid_size=0)
    clf = SegmentRuleClassifier(tiny, segment_class="blob").fit(X, y, masks=masks)
    assert clf.segmenter_ is not tiny and hasattr(clf.segmenter_, "classes_") and not hasattr(tiny, "classes_")
    segs = clf.segments(X)
    assert {"record_id", "onset", "offset", "length", "proba"} <= set(segs.columns)

"""read_ludb on the real LUDB files: signals, diagnoses, wave annotations, errors."""

import shutil
import warnings

import numpy as np
import pytest
from conftest import LUDB, needs_shared

from skecg.io import RecordReadError, SkippedRecordsWarning, ludb_statement_codes, read_ludb
from skecg.io._ludb import _parse_annotation

pytestmark = needs_shared(LUDB)


def test_read_two_records():
    X, y, waves = read_ludb(LUDB, records=[1, 2], annotation_leads=["ii"])
    assert X.shape == (2, 12, 5000)
    assert X.meta["record_id"].tolist() == ["ludb-1", "ludb-2"]
    assert (X.meta["source"] == "LUDB").all() and (X.meta["fs"] == 500).all()
    assert X.meta.loc[0, "age"] == 51 and X.meta.loc[0, "sex"] == "F"
    assert X.leads == ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    # record 1: "Sinus bradycardia", "left axis deviation", "Left ventricular overload" (unmapped)
    dx = X.meta.loc[0, "dx"]
    assert "426177001" in dx and "39732003" in dx
    assert "ludb:Left ventricular overload." in dx
    assert "Left ventricular overload." in X.meta.loc[0, "diagnoses"]
    cols = list(X.classes)
    assert y[0, cols.index("426177001")] == 1 and y.shape == (2, len(cols))
    # waves: lead II only; the first QRS of record 1 on lead II is annotated by hand
    assert set(waves["lead"]) == {"II"} and set(waves["wave"]) == {"P", "QRS", "T"}
    w1 = waves[(waves.record_id == "ludb-1")]
    assert (w1["onset"] < w1["peak"]).all() and (w1["peak"] < w1["offset"]).all()
    # signal in mV: lead II's R peaks are the largest deflections near the QRS peaks
    qrs = w1[w1.wave == "QRS"]["peak"].to_numpy(int)
    sig = X.signals[0, 1]
    assert np.abs(sig[qrs]).mean() > 3 * np.abs(sig - np.median(sig)).mean()


def test_twelve_annotation_leads_and_resampling():
    X, _, waves = read_ludb(LUDB, records=[3], fs=250)
    assert X.shape == (1, 12, 2500) and X.meta["fs"].tolist() == [250.0]
    assert waves["lead"].nunique() == 12
    _, _, w500 = read_ludb(LUDB, records=[3], annotation_leads=["v1"])
    w250 = waves[waves.lead == "V1"]
    np.testing.assert_allclose(w250["peak"].to_numpy(float), w500["peak"].to_numpy(float) / 2, atol=0.5)


def test_statement_mapping():
    assert ludb_statement_codes(["Complete left bundle branch block.",
                                 "Incomplete left bundle branch block."]) == ("164909002", "251120003")
    assert ludb_statement_codes(["III degree AV-block.", "I degree AV block."]) == ("27885002", "270492004")
    assert ludb_statement_codes(["Atrial extrasystole: SA-nodal extrasystole."]) == ("63593006",)
    assert ludb_statement_codes(["Electric axis of the heart: normal."]) == (
        "ludb:Electric axis of the heart: normal.",)


def test_parse_annotation_irregular():
    # a peak without onset, a bare "( )" and a last peak without offset
    w = _parse_annotation([10, 20, 30, 40, 50, 60, 70, 80], ["N", ")", "(", ")", "(", "t", "(", "p"])
    assert [x[0] for x in w] == ["QRS", "T", "P"]
    assert np.isnan(w[0][1]) and w[0][3] == 20
    assert w[1][1:3] == (50.0, 60) and np.isnan(w[1][3])
    assert w[2][1:3] == (70.0, 80) and np.isnan(w[2][3])


def test_errors_name_the_record(tmp_path):
    for ext in ("hea", "dat", "ii"):
        shutil.copy(LUDB / f"1.{ext}", tmp_path / f"1.{ext}")
    # record 2: header present, signal file truncated
    shutil.copy(LUDB / "2.hea", tmp_path / "2.hea")
    (tmp_path / "2.dat").write_bytes((LUDB / "2.dat").read_bytes()[:100])
    with pytest.raises(RecordReadError, match="ludb-2"):
        read_ludb(tmp_path, annotation_leads=["ii"])
    with pytest.warns(SkippedRecordsWarning, match="ludb-2"):
        X, y, waves = read_ludb(tmp_path, annotation_leads=["ii"], on_error="skip")
    assert X.meta["record_id"].tolist() == ["ludb-1"] and X.skipped[0][0] == "ludb-2"
    assert set(waves["record_id"]) == {"ludb-1"}
    # a missing annotation file is named too
    with pytest.raises(RecordReadError, match=r"ludb-1: cannot read annotation file 1\.v1"):
        read_ludb(tmp_path, records=[1], annotation_leads=["v1"])
    with pytest.raises(ValueError, match="unknown annotation lead"):
        read_ludb(tmp_path, annotation_leads=["x"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_ludb(tmp_path, records=[1], annotation_leads=())

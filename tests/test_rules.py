"""skecg.rules: the papers' data rules, what they drop and how they report it."""

import numpy as np
import pandas as pd
import pytest
from conftest import CINC, needs_shared
from imblearn.pipeline import Pipeline
from sklearn.base import BaseEstimator

from skecg import ECGRecords
from skecg.rules import RULES, DataRuleSampler, apply_rules, rule_mask

STD, PAC, STE, VEB, PVC = "429622005", "284470004", "164931005", "164884008", "427172004"
AF, SB, SR, RBBB_EQ, TWA, BRADY = "164889003", "426177001", "426783006", "59118001", "164934002", "426627000"


def _records(rows):
    """ECGRecords of flat signals with (record_id, source, dx) as given."""
    meta = pd.DataFrame(rows, columns=["record_id", "source", "dx"])
    meta["dx"] = pd.Series([tuple(d) for d in meta["dx"]], dtype=object)
    return ECGRecords(np.zeros((len(rows), 12, 50), np.float32), meta, fs=500)


def test_huang_cpsc_drops_by_first_label_only():
    X = _records([
        ("A1", "CPSC", [STD, AF]),       # first label STD: dropped
        ("A2", "CPSC", [AF, STD]),       # STD second: kept
        ("A3", "CPSC", [PAC]),
        ("A4", "CPSC", [STE, RBBB_EQ]),
        ("A5", "CPSC", [VEB]),           # CPSC's PVC in the 2020 headers
        ("A6", "CPSC", ["17338001"]),    # an equivalent PVC code
        ("A7", "CPSC", [SR]),
        ("E1", "Georgia", [STD]),        # another source: the rule does not apply
    ])
    y = np.arange(len(X))[:, None]
    Xk, yk, rep = apply_rules(X, y, ["huang-cpsc"], log=lambda m: None)
    assert list(Xk.meta.record_id) == ["A2", "A7", "E1"] and yk.ravel().tolist() == [1, 6, 7]
    t = rep.table.set_index("reason")["dropped"].to_dict()
    assert t == {"first label STD": 1, "first label PAC": 1, "first label STE": 1,
                 "first label PVC (164884008, ventricular ectopics)": 1, "first label PVC": 1}
    assert set(rep.table["source"]) == {"CPSC"} and (rep.table["records"] == 7).all()
    assert rep.dropped_ids["huang-cpsc"] == ["A1", "A3", "A4", "A5", "A6"]


def test_huang_snh_keeps_normal_and_the_six_classes():
    X = _records([
        ("JS1", "Chapman-Ningbo", [SR]),
        ("JS2", "Chapman-Ningbo", [SB, TWA]),         # SB with another label: kept
        ("JS3", "Chapman-Ningbo", [TWA]),             # neither normal nor one of the six
        ("JS4", "Chapman-Ningbo", [RBBB_EQ]),         # RBBB by its equivalent code
        ("JS5", "Chapman-Ningbo", []),
        ("HR1", "PTB-XL", [TWA]),
    ])
    keep, rep = rule_mask(X, ["huang-snh"])
    assert keep.tolist() == [True, True, False, True, False, True]
    assert rep.table[["reason", "dropped"]].values.tolist() == [
        ["neither normal nor one of the kept classes", 1], ["no label", 1]]


def test_zhu_rules_and_the_report_on_stderr(capsys):
    X = _records([
        ("I0001", "StPetersburg", [AF]),
        ("Q0001", "CPSC-Extra", [STD]),          # ST depression: not scored
        ("Q0002", "CPSC-Extra", [BRADY]),
        ("S0001", "PTB", ["17338001"]),          # VPB, scored as PVC
        ("S0002", "PTB", []),
    ])
    Xk, yk, rep = apply_rules(X, np.zeros((5, 2)), ["zhu-incart", "zhu-unscored"])
    assert list(Xk.meta.record_id) == ["Q0002", "S0001"]
    err = capsys.readouterr().err
    assert "dropped 3 record(s)" in err and "StPetersburg" in err and "no scored label" in err
    rows = rep.table[["rule", "source", "reason", "dropped"]].values.tolist()
    assert rows == [["zhu-incart", "StPetersburg", "source StPetersburg", 1],
                    ["zhu-unscored", "CPSC-Extra", "no scored label", 1], ["zhu-unscored", "PTB", "no label", 1]]
    # a record two rules would drop counts once, for the first
    _, rep2 = rule_mask(_records([("I1", "StPetersburg", [STD])]), ["zhu-incart", "zhu-unscored"])
    assert rep2.n_dropped == 1 and rep2.table["rule"].tolist() == ["zhu-incart"]
    # nothing dropped: nothing on stderr, the report says so
    _, _, rep3 = apply_rules(Xk, np.zeros((2, 2)), ["zhu-incart"])
    assert capsys.readouterr().err == "" and rep3.n_dropped == 0 and "dropped 0" in str(rep3)


def test_errors():
    X = _records([("A1", "CPSC", [STD])])
    with pytest.raises(ValueError, match="unknown data rule 'nope'"):
        apply_rules(X, np.zeros((1, 1)), ["nope"])
    with pytest.raises(ValueError, match="1 records but y has 2 rows"):
        apply_rules(X, np.zeros((2, 1)), ["huang-cpsc"])
    with pytest.raises(ValueError, match="needs the records' own labels"):
        RULES["huang-cpsc"].reasons(np.zeros((1, 12, 50)))


def test_sampler_drops_training_records_only():
    from skecg.datasets import load_sample
    from skecg.sampling import TrainingSubsetSampler

    X, y = load_sample("cinc2020", sources=["CPSC-Extra", "PTB"])

    class Probe(BaseEstimator):
        def fit(self, X, y):
            self.ids_ = list(X.meta.record_id)
            return self

        def predict(self, X):
            return np.zeros((len(X), y.shape[1]), int)

    pipe = Pipeline([("rules", DataRuleSampler(["zhu-unscored"])),
                     ("subset", TrainingSubsetSampler("IV", n_total=5, random_state=0)), ("clf", Probe())])
    pipe.fit(X, y)
    s = pipe.named_steps["rules"]
    kept = X.meta.record_id.to_numpy()[s.sample_indices_]
    assert s.report_.n_dropped == len(X) - len(kept) > 0
    assert set(pipe.named_steps["clf"].ids_) <= set(kept)
    assert len(pipe.predict(X)) == len(X)  # never applied at predict time


@needs_shared(CINC)
def test_rules_on_the_shared_challenge_records():
    """Real headers: the readers keep the Dx order the first-label rule needs."""
    from skecg.io import read_challenge_folder

    X, y = read_challenge_folder(CINC, "cinc2020")
    firsts = {r: d[0] for r, d in zip(X.meta.record_id, X.meta.dx) if d}
    raw = {}
    for hea in CINC.rglob("*.hea"):
        for line in hea.read_text().splitlines():
            if line.replace(" ", "").lower().startswith("#dx:"):
                codes = [c.strip() for c in line.split(":", 1)[1].split(",") if c.strip()]
                if codes:
                    raw[hea.stem] = codes[0]
    assert firsts == {k: v for k, v in raw.items() if k in firsts}
    Xk, yk, rep = apply_rules(X, y, ["huang-cpsc", "huang-snh", "zhu-unscored"], log=lambda m: None)
    assert len(Xk) + rep.n_dropped == len(X) == len(y)
    cpsc = X.meta.source == "CPSC"
    first_bad = sum(1 for d in X.meta.dx[cpsc] if d and d[0] in (STD, PAC, STE, VEB))
    assert rep.table.query("rule == 'huang-cpsc'")["dropped"].sum() == first_bad

"""``skecg reproduce``: tiny grids of each protocol on the bundled sample, the paper tables,
the TNMG test set in Ribeiro's layout, Model 6 from Models 4 and 5, resuming."""

import matplotlib

matplotlib.use("Agg")

import json
import re

import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import LUDB, needs_shared

from skecg.apps.cli import load_data, main
from skecg.apps._reproduce.cells import derived_ensemble_cell, run_cell
from skecg.apps.reproduce import Scale, run, zhu_systems
from skecg.datasets import load_sample
from skecg.io import detect_format, read_tnmg_test
from skecg.preprocessing import PadTruncate, Resampler

TINY = Scale("tiny", fs=50, seconds=10, long_seconds=20, epochs=1, n_per_class=3, catboost_iterations=20,
             segmenter_epochs=1)


def _tnmg_test_folder(path, n=24):
    """A test set in Ribeiro's layout (ecg_tracings.hdf5, annotations/gold_standard.csv,
    attributes.csv) from real PTB-XL records of the sample: 400 Hz, zero-padded on both
    sides to 4,096 samples, leads last, as published."""
    X, y = load_sample("tnmg", sources=["PTB-XL"])
    X, y = X.take(np.arange(n)), y[:n]
    Z = PadTruncate(length=4096, mode="center").fit_transform(Resampler(400).fit_transform(X))
    (path / "annotations").mkdir(parents=True)
    with h5py.File(path / "ecg_tracings.hdf5", "w") as f:
        f["tracings"] = np.ascontiguousarray(np.asarray(Z.signals).transpose(0, 2, 1)).astype(np.float32)
    cols = ["1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"]  # Ribeiro's column order
    order = {"1dAVb": 0, "RBBB": 1, "LBBB": 2, "SB": 3, "ST": 5, "AF": 4}
    pd.DataFrame({c: y[:, order[c]] for c in cols}).to_csv(path / "annotations" / "gold_standard.csv", index=False)
    pd.DataFrame({"age": X.meta["age"].fillna(50).astype(int), "sex": X.meta["sex"].fillna("F")}).to_csv(
        path / "attributes.csv", index=False)
    return X, y


def _check_report(out, *texts):
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    assert "SMALL SCALE" in html and "SMALL SCALE" in md
    # self-contained: every figure is embedded, none linked; each also as a 300 dpi PNG and an SVG
    assert "data:image/png;base64," in html and "src='figures/" not in html
    for name in re.findall(r"\(figures/([^)]+\.png)\)", md):
        png = out / "figures" / name
        assert png.stat().st_size > 5_000 and png.with_suffix(".svg").stat().st_size > 1_000
        from PIL import Image

        assert round(Image.open(png).info["dpi"][0]) == 300
    # every table also as CSV
    for name in re.findall(r"\(tables/([^)]+\.csv)\)", md):
        assert len(pd.read_csv(out / "tables" / name)) > 0, name
    for t in ("ref: all sinus rhythm", "ref: prevalence-matched random", "ref: per-class majority",
              "95% CI by patient", "Runtime and hardware", "Published numbers", "not available offline",
              "published (their data)", *texts):
        assert t in html and t in md, t
    assert re.search(r"not significant|better", md)
    return html, md


def test_tnmg_test_set_in_ribeiros_layout(tmp_path):
    folder = tmp_path / "tnmg"
    X, y = _tnmg_test_folder(folder, n=6)
    assert detect_format(folder) == "tnmg-test"
    Xt, yt = read_tnmg_test(folder)
    np.testing.assert_array_equal(yt, y)
    assert Xt.shape == (6, 12, 4096) and set(Xt.meta.source) == {"TNMG-test"} and Xt.meta.fs.iloc[0] == 400
    assert Xt.meta.sex.tolist() == X.meta.sex.fillna("F").tolist()
    Xc, yc = load_data([str(folder)], "tnmg")  # the CLI reads it
    assert len(Xc) == 6 and (yc == y).all()
    pd.DataFrame({"age": [1], "sex": ["M"]}).to_csv(folder / "attributes.csv", index=False)
    with pytest.raises(ValueError, match="attributes.csv has 1 rows but gold_standard.csv has 6"):
        read_tnmg_test(folder)
    pd.DataFrame({"1dAVb": [0]}).to_csv(folder / "annotations" / "gold_standard.csv", index=False)
    with pytest.raises(ValueError, match=r"no column\(s\) \['RBBB'"):
        read_tnmg_test(folder)
    with pytest.raises(FileNotFoundError, match="not a TNMG test set"):
        read_tnmg_test(tmp_path)


def test_reproduce_huang_tables_with_a_tnmg_test_set_and_resume(tmp_path):
    out = tmp_path / "r"
    tnmg = tmp_path / "tnmg"
    _tnmg_test_folder(tnmg)
    kw = dict(scale=TINY, n_resamples=20, sources=["Georgia", "CPSC", "Chapman-Ningbo", "TNMG-test"],
              train_source="Chapman-Ningbo", test_only=[str(tnmg)])
    logs = []
    # a run that stopped after its first cell ...
    run("huang", ["sample"], out, systems=["attention ResNet-1d, subset I"], log=logs.append, **kw)
    assert sum("done" in m for m in logs) == 1
    # a report of the finished cells only, while the rest has not run: marked partial
    three = ["ResNet-1d, subset I", "attention ResNet-1d, subset I", "ResNet-1d, all training data"]
    run("huang", ["sample"], out, systems=three, report_only=True, log=logs.append, **kw)
    assert "PARTIAL" in (out / "report.md").read_text() and "not run" in (out / "report.md").read_text()
    # ... resumes: the finished cell is read back, only the others train
    logs = []
    run("huang", ["sample"], out, systems=three, log=logs.append, **kw)
    assert sum("done" in m for m in logs) == 2 and sum(m.endswith("cached") for m in logs) == 1
    html, md = _check_report(out, "Tested on TNMG-test", "Tested on CPSC", "Attention over a 12-lead plot",
                             "Table 5: ResNet-1d", "Table 6: attention ResNet-1d", "Table 7",
                             "Tables 3-4", "huang-cpsc", "first label STD")
    # Table 5's blocks: one per test set, precision/recall/specificity/F1
    t5 = pd.read_csv(out / "tables" / "table-5.csv")
    assert {"TNMG-test", "CPSC", "Georgia"} <= set(t5["test set"])
    assert set(t5["metric"]) == {"precision", "recall", "specificity", "f1"}
    # Tables 3-4: the subset and every test set, by class, age group and sex
    st = pd.read_csv(out / "tables" / "tables-3-4-statistics.csv", index_col=0)
    assert "test: TNMG-test" in st.index and st.loc["test: TNMG-test", "records"] == 24
    assert (st[["male", "female", "sex unknown"]].sum(1) == st["records"]).all()
    assert (st[[c for c in st.columns if c.startswith("age ")]].sum(1) == st["records"]).all()
    t7 = pd.read_csv(out / "tables" / "table-7.csv")
    assert "ResNet-1d, all training data" in set(t7["system"]) and "attention ResNet-1d, subset I" in set(t7["system"])
    # the CPSC rule dropped the records whose first label is STD/PAC/STE/PVC, from the test set too
    rules = pd.read_csv(out / "tables" / "data-rules.csv")
    assert set(rules["rule"]) <= {"huang-cpsc", "huang-snh"} and rules["dropped"].sum() > 0
    grid = md.split("## The grid run")[1].split("## Tables 3-4")[0]
    assert grid.count("cached") == 1 and grid.count("ran in") == 2
    assert "attention ResNet-1d, subset I | ResNet-1d, subset I" in md  # the paired comparison
    assert json.loads((out / "config.json").read_text())["rules"] == ["huang-cpsc", "huang-snh"]


def test_model_6_is_the_ensemble_of_models_4_and_5():
    """The derived Model 6 equals fitting Fallback(Gate(LengthEnsemble([Model 4's, Model 5's]))):
    each member trains exactly as Model 4 or 5 alone does."""
    from sklearn.base import clone

    from skecg.ensemble import BradycardiaRuleGate, LengthEnsemble, SinusRhythmFallback

    X, y = load_sample("cinc2020", sources=["Georgia", "CPSC", "CPSC-Extra"])
    systems = zhu_systems(TINY)
    m4, m5 = (v for k, v in systems.items() if k.startswith(("Model 4", "Model 5")))
    tr, te = np.arange(0, len(X), 2), np.arange(1, len(X), 2)
    tests = {"odd": te}
    _, c4 = run_cell(m4, X, y, tr, tests, 1, 0, print)
    _, c5 = run_cell(m5, X, y, tr, tests, 1, 0, print)
    derived = derived_ensemble_cell(c4, c5, X, tests)
    # the ensemble's threshold: the mean of its members' (the networks' tuned ones here)
    thr = (np.asarray(c4["thresholds"]) + np.asarray(c5["thresholds"])) / 2
    np.testing.assert_allclose(derived["thresholds"], thr)
    ens = SinusRhythmFallback(BradycardiaRuleGate(LengthEnsemble(
        [("long", clone(m4.estimator.estimator)), ("short", clone(m5.estimator.estimator))], threshold=thr),
        gated_class="426627000"))
    ens.fit(X.take(tr), y[tr])
    np.testing.assert_allclose(derived["tests"]["odd"]["probas"][0], ens.predict_proba(X.take(te)), atol=1e-6)
    np.testing.assert_array_equal(derived["tests"]["odd"]["preds"][0], ens.predict(X.take(te)))


def test_reproduce_zhu_tables_in_order(tmp_path):
    out = tmp_path / "z"
    run("zhu", ["sample"], out, scale=TINY, n_resamples=20, sources=["Georgia", "CPSC", "Chapman-Ningbo"],
        held_out=[["Georgia"]], systems=["Model 1", "Model 6", "Model 7"], log=lambda m: None)
    html, md = _check_report(out, "random 20 %", "Tested on Georgia", "Tables 3-4: Models 1-8",
                             "0.682", "0.514", "zhu-unscored", "CPSC relabelling", "--waves")
    ov = pd.read_csv(out / "tables" / "tables-3-4-overview.csv", index_col=0)
    assert [i.split(":")[0] for i in ov.index] == ["Model 1", "Model 4", "Model 5", "Model 6", "Model 7"]
    assert list(ov.columns) == ["random 20 %", "Georgia", "published (their data)"]
    assert ov.loc[[i for i in ov.index if i.startswith("Model 6")][0], "published (their data)"].startswith("0.682")
    grid = pd.read_csv(out / "tables" / "grid.csv")
    assert (grid.loc[grid.system.str.startswith("Model 6"), "status"].str.startswith("computed")).all()
    assert set(grid.training) == {"random 80 %", "held out Georgia"}


def test_reproduce_zhu_via_cli_and_show_config(tmp_path, capsys):
    out = tmp_path / "z"
    assert main(["reproduce", "zhu", "sample", "-o", str(out), "--scale", "small", "--resamples", "20",
                 "--system", "Model 7", "--source", "Georgia", "--source", "CPSC", "--source", "Chapman-Ningbo",
                 "--split", "lopo", "--no-rule", "zhu-unscored"]) == 0
    assert "report written to" in capsys.readouterr().out
    md = (out / "report.md").read_text()
    assert "Tested on Georgia" in md and "Tested on random 20 %" not in md
    rules = md.split("The paper's data rules")[1].split("Label report")[0]
    assert "zhu-incart" in rules and "zhu-unscored" not in rules  # switched off
    assert main(["reproduce", "huang", "--scale", "paper", "--show-config"]) == 0
    text = capsys.readouterr().out
    for s in ("6,421,910", "= 400", "= 4096", "= 3000", "= 64", "= 200", "= 9", "ReduceLROnPlateau"):
        assert s in text, s
    assert main(["reproduce", "zhu", "--scale", "paper", "--show-config"]) == 0
    text = capsys.readouterr().out
    for s in ("= 19", "= 16", "epoch 13", "= 0.36", "= 15000", "= 5000", "'independent8'", "'426627000'",
              "Model 1: SE-ResNet, 12 leads, 30 s", "12 leads x 15000 samples"):
        assert s in text, s
    with pytest.raises(SystemExit, match="unknown rule"):
        main(["reproduce", "zhu", "sample", "--no-rule", "nope"])
    with pytest.raises(SystemExit, match="give DATA"):
        main(["reproduce", "zhu"])


def test_reproduce_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="protocol"):
        run("ribeiro", ["sample"], tmp_path)
    with pytest.raises(ValueError, match="unknown system"):
        run("zhu", ["sample"], tmp_path, scale=TINY, systems=["GPT"], sources=["Georgia", "CPSC"])
    with pytest.raises(ValueError, match="unknown source"):
        run("zhu", ["sample"], tmp_path, scale=TINY, sources=["Mars"])
    with pytest.raises(ValueError, match="splits"):
        run("zhu", ["sample"], tmp_path, scale=TINY, splits=("kfold",))
    with pytest.raises(ValueError, match="no finished cells"):
        run("zhu", ["sample"], tmp_path, scale=TINY, sources=["Georgia", "CPSC"], report_only=True)


@needs_shared(LUDB)
def test_ludb_is_a_test_only_source_and_trains_model_8(tmp_path):
    out = tmp_path / "l"
    logs = []
    run("zhu", ["sample"], out, test_only=[str(LUDB)], scale=TINY, n_resamples=10,
        systems=["Model 7", "Model 8"], sources=["Georgia", "CPSC", "LUDB"], waves=str(LUDB),
        held_out=[["Georgia"]], splits=("lopo",), log=logs.append)
    cells = [json.loads(p.read_text()) for p in (out / "cells").glob("*.json")]
    ludb_cells = [c for c in cells if "LUDB" in c["tests"][0]["name"]]
    assert len(ludb_cells) == 2
    assert all("LUDB" not in c["train_sources"] for c in cells if c["system"].startswith("Model 7"))
    md = (out / "report.md").read_text()
    assert "Tested on LUDB" in md and "never trained on" in md
    # all 160 LUDB records are in the data table, and its diagnoses reach the scored classes
    row = re.search(r"\| LUDB \| 160 \|(.*)\|", md)
    assert row and sum(int(v) for v in row.group(1).split("|")) > 100
    # Model 8: the PVC column only, beside Model 7's
    m8 = pd.read_csv(out / "tables" / "model-8.csv")
    assert set(m8.system.str.split(":").str[0]) == {"Model 7", "Model 8"} and "LUDB" in set(m8["test set"])
    assert sum("training the U-Net" in m for m in logs) == 1  # trained once for every cell

"""``skecg reproduce``: a tiny grid of each protocol on the bundled sample, the report, resuming."""

import matplotlib

matplotlib.use("Agg")

import json
import re

import pytest
from conftest import LUDB, needs_shared

from skecg.apps.cli import main
from skecg.apps.reproduce import Scale, run

TINY = Scale("tiny", fs=50, seconds=10, long_seconds=20, epochs=1, n_per_class=3, catboost_iterations=20)


def _check_report(out, *texts):
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    assert "SMALL SCALE" in html and "SMALL SCALE" in md
    # self-contained: every figure is embedded, none linked
    assert "data:image/png;base64," in html and "src='figures/" not in html
    for name in re.findall(r"\(figures/([^)]+)\)", md):
        assert (out / "figures" / name).stat().st_size > 5_000
    for t in ("ref: all sinus rhythm", "ref: prevalence-matched random", "ref: per-class majority",
              "95% CI by patient", "Runtime and hardware", "Published numbers", *texts):
        assert t in html and t in md, t
    assert re.search(r"not significant|better", md)
    return html, md


def test_reproduce_huang_tiny_grid_and_resume(tmp_path):
    out = tmp_path / "r"
    kw = dict(scale=TINY, n_resamples=20, sources=["PTB-XL", "Georgia", "CPSC"])
    logs = []
    # a run that stopped after its first cell ...
    run("huang", ["sample"], out, systems=["attention ResNet-1d, subset I"], log=logs.append, **kw)
    assert sum("done" in m for m in logs) == 1
    # a report of the finished cells only, while the rest has not run: marked partial
    both = ["ResNet-1d, subset I", "attention ResNet-1d, subset I"]
    run("huang", ["sample"], out, systems=both, report_only=True, log=logs.append, **kw)
    assert "PARTIAL" in (out / "report.md").read_text() and "not run" in (out / "report.md").read_text()
    # ... resumes: the finished cell is read back, only the other one trains
    logs = []
    run("huang", ["sample"], out, systems=both, log=logs.append, **kw)
    assert sum("done" in m for m in logs) == 1 and sum(m.endswith("cached") for m in logs) == 1
    _check_report(out, "precision, recall, specificity, F1", "Tested on Georgia", "Attention over a 12-lead plot")
    md = (out / "report.md").read_text()
    grid = md.split("## The grid run")[1].split("## Results")[0]
    assert grid.count("cached") == 1 and grid.count("ran in") == 1
    assert "attention ResNet-1d, subset I | ResNet-1d, subset I" in md  # the paired comparison
    assert json.loads((out / "config.json").read_text())["protocol"] == "huang"


def test_reproduce_zhu_tiny_via_cli(tmp_path, capsys):
    out = tmp_path / "z"
    assert main(["reproduce", "zhu", "sample", "-o", str(out), "--scale", "small", "--resamples", "20",
                 "--system", "CatBoost (HRV + age, sex), tuned", "--source", "Georgia", "--source", "CPSC",
                 "--source", "Chapman-Ningbo"]) == 0
    assert "report written to" in capsys.readouterr().out
    html, md = _check_report(out, "held out", "Tested on Georgia", "0.514")
    assert "Challenge score and macro F1" in md


def test_reproduce_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="protocol"):
        run("ribeiro", ["sample"], tmp_path)
    with pytest.raises(ValueError, match="unknown system"):
        run("zhu", ["sample"], tmp_path, scale=TINY, systems=["GPT"], sources=["Georgia", "CPSC"])
    with pytest.raises(ValueError, match="unknown source"):
        run("zhu", ["sample"], tmp_path, scale=TINY, sources=["Mars"])
    with pytest.raises(ValueError, match="no finished cells"):
        run("zhu", ["sample"], tmp_path, scale=TINY, sources=["Georgia", "CPSC"], report_only=True)


@needs_shared(LUDB)
def test_ludb_is_a_test_only_source(tmp_path):
    out = tmp_path / "l"
    logs = []
    run("zhu", ["sample"], out, test_only=[str(LUDB)], scale=TINY, n_resamples=10,
        systems=["CatBoost (HRV + age, sex), tuned"], sources=["Georgia", "CPSC", "LUDB"],
        held_out=[["Georgia"]], log=logs.append)
    cells = [json.loads(p.read_text()) for p in (out / "cells").glob("*.json")]
    ludb_cells = [c for c in cells if "LUDB" in c["tests"][0]["name"]]
    assert len(ludb_cells) == 1
    c = ludb_cells[0]
    assert "LUDB" not in c["train_sources"] and c["train_sources"] == ["CPSC", "Georgia"]
    assert all("LUDB" not in cell["train_sources"] for cell in cells)
    md = (out / "report.md").read_text()
    assert "Tested on LUDB" in md and "never trained on" in md
    # all 160 LUDB records are in the data table, and its diagnoses reach the scored classes
    row = re.search(r"\| LUDB \| 160 \|(.*)\|", md)
    assert row and sum(int(v) for v in row.group(1).split("|")) > 100

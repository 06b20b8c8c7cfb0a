"""The CLI's three subcommands on real records (tests/data), the demo's smoke run, and the plots."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from conftest import TEST_DATA
from skecg.cli import main
from skecg.datasets import load_sample
from skecg.metrics import read_challenge_outputs


@pytest.fixture(scope="module")
def small_wfdb(tmp_path_factory):
    """A folder with five sources of real challenge records (links to the test fixtures)."""
    d = tmp_path_factory.mktemp("wfdb")
    for f in sorted((TEST_DATA / "cinc2021").iterdir()):
        (d / f.name).symlink_to(f)
    return d


def test_cli_evaluate(small_wfdb, capsys):
    assert main(["evaluate", str(small_wfdb), "--pipeline", "catboost", "--test-source", "Georgia",
                 "--resamples", "20"]) == 0
    out = capsys.readouterr().out
    assert "held out Georgia" in out and "specificity" in out and "challenge score" in out


def test_cli_train_then_predict(small_wfdb, tmp_path, capsys):
    model = tmp_path / "m.skecg"
    assert main(["train", str(small_wfdb), "--pipeline", "huang", "--epochs", "1", "-o", str(model)]) == 0
    assert model.exists()
    outdir = tmp_path / "out"
    assert main(["predict", str(model), str(small_wfdb), "-o", str(outdir)]) == 0
    ids, classes, pred, prob = read_challenge_outputs(outdir)
    assert len(ids) == 8 and classes[0] == "270492004" and pred.shape == prob.shape == (8, 6)
    assert np.all((prob >= 0) & (prob <= 1))


def test_cli_errors(tmp_path):
    with pytest.raises(SystemExit, match="is not a folder"):
        main(["evaluate", str(tmp_path / "nope")])
    with pytest.raises(SystemExit, match="no WFDB, PTB-XL or CPSC 2018 records"):
        main(["evaluate", str(tmp_path)])


def test_demo_smoke(tmp_path, capsys):
    from skecg.demo import main as demo

    assert demo(["--quick", "--out", str(tmp_path), "--resamples", "20"]) == 0
    out = capsys.readouterr().out
    assert "summary: challenge score" in out and "specificity" in out
    for name in ("ecg_attention.png", "pr_curves_zhu.png", "confusion_huang.png", "learning_curves.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_plots_return_figures():
    from skecg.plots import plot_confusion_counts, plot_ecg, plot_learning_curves, plot_pr_curves

    X, y = load_sample("tnmg", sources=["Georgia"])
    fig = plot_ecg(X.signals[0], 500, X.leads, attention=np.linspace(0, 1, 16))
    w, h = fig.get_size_inches()
    assert abs(w * 25.4 - (10 * 25 + 10)) < 1  # 25 mm/s over 10 s
    rng = np.random.default_rng(0)
    p = rng.random(y.shape)
    assert plot_pr_curves(y, p, list(X.classes)).axes
    assert plot_confusion_counts(y, p > 0.5, X.classes).axes
    hist = [{"epoch": 1, "train_loss": 1.0, "valid_loss": 1.1}, {"epoch": 2, "train_loss": 0.8, "valid_loss": 0.9}]
    assert plot_learning_curves(hist).axes[0].get_lines()

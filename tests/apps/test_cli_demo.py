"""The CLI's three subcommands on real records (tests/data), the demo's smoke run, and the plots."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from conftest import TEST_DATA
from skecg.apps.cli import main
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
    with pytest.raises(SystemExit, match="PTB-XL, WFDB or CPSC 2018 records found"):
        main(["evaluate", str(tmp_path)])


def test_demo_smoke(tmp_path, capsys):
    from skecg.apps.demo import main as demo

    assert demo(["--quick", "--out", str(tmp_path), "--resamples", "20"]) == 0
    out = capsys.readouterr().out
    assert "summary: challenge score" in out and "specificity" in out
    # a progress line per training epoch of each network (Zhu, Huang, Huang with attention)
    assert out.count("epoch 2/2, train loss") == 3 and "sizes: 50 Hz" in out
    for name in ("ecg_attention.png", "pr_curves_zhu.png", "confusion_huang.png", "learning_curves.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_demo_heartbeat_names_the_running_step(capsys):
    """When nothing was printed for ``every`` seconds the demo says what is running."""
    import threading
    import time

    from skecg.apps import demo

    demo._stage[0] = "a slow step"
    demo._last_line[0] = time.monotonic() - 60
    stop = threading.Event()
    beat = threading.Thread(target=demo._heartbeat, args=(stop,), kwargs={"every": 30.0, "t0": time.perf_counter()})
    beat.start()
    time.sleep(1.5)
    stop.set()
    beat.join()
    out = capsys.readouterr().out
    assert out.count("... a slow step") == 1  # once: the line itself resets the clock


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


@pytest.fixture(scope="module")
def net_model(tmp_path_factory):
    """A tiny network without padding (it needs 5000 samples), saved in the safe format."""
    from skecg.io import read_challenge_folder
    from skecg.models import ECGClassifier
    from skecg.persistence import save_model

    X, y = read_challenge_folder(TEST_DATA / "cinc2021", "tnmg",
                                 records=["E00001", "E00002", "JS00001", "HR00001", "HR00002", "HR00008"])
    net = ECGClassifier("resnet1d", module__filters=(8, 8), module__kernel_size=5, max_epochs=1, batch_size=4,
                        random_state=0).fit(X, y)
    return save_model(net, tmp_path_factory.mktemp("model") / "net.skecg")


def test_cli_predict_skips_and_reports_a_too_short_record(net_model, tmp_path, capsys):
    import scipy.io

    data = tmp_path / "data"
    data.mkdir()
    for rec in ("E00001", "E00002", "JS00001"):
        for ext in (".hea", ".mat"):
            (data / f"{rec}{ext}").symlink_to(TEST_DATA / "cinc2021" / f"{rec}{ext}")
    # E09999: the first 3000 samples of E00001 (a correct record, but too short for the model)
    val = scipy.io.loadmat(TEST_DATA / "cinc2021" / "E00001.mat")["val"][:, :3000]
    lines = (TEST_DATA / "cinc2021" / "E00001.hea").read_text().splitlines()
    from skecg._wfdb import _wfdb_checksum

    cks = _wfdb_checksum(val)
    head = ["E09999 12 500 3000"] + [" ".join(["E09999.mat"] + ln.split()[1:6] + [str(int(cks[i]))] + ln.split()[7:])
                                     for i, ln in enumerate(lines[1:13])] + lines[13:]
    (data / "E09999.hea").write_text("\n".join(head) + "\n")
    scipy.io.savemat(data / "E09999.mat", {"val": val}, format="4")
    (data / "BAD1.hea").write_text("BAD1 12 0 5000\n")  # unreadable: impossible rate
    out = tmp_path / "out"
    assert main(["predict", str(net_model), str(data), "-o", str(out)]) == 0
    ids, *_ = read_challenge_outputs(out)
    assert sorted(ids) == ["E00001", "E00002", "JS00001"]
    report = (out / "skipped_records.tsv").read_text()
    assert "E09999\tcannot predict: ValueError: X has 3000 samples" in report and "BAD1\t" in report
    err = capsys.readouterr().err
    assert "skipped 2 record(s)" in err and "E09999" in err


def test_cli_predict_nothing_readable(net_model, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("X1", "X2"):
        (data / f"{name}.hea").write_text(f"{name} 12 500 5000\n")  # 12 signals declared, none listed
    out = tmp_path / "out"
    with pytest.raises(SystemExit, match=r"none of the 2 record\(s\) in .* could be read and predicted"):
        main(["predict", str(net_model), str(data), "-o", str(out)])
    assert "X1\theader declares 12 signals" in (out / "skipped_records.tsv").read_text()


def test_cli_predict_on_wfdb_dat_records(net_model, tmp_path):
    """A WFDB folder with .dat signal files (PTB-XL's real records, no label lines)."""
    import shutil

    data = tmp_path / "dat"
    data.mkdir()
    for i in (1, 2, 8):
        for ext in (".hea", ".dat"):
            shutil.copy(TEST_DATA / "ptbxl" / "records500" / "00000" / f"{i:05d}_hr{ext}", data)
    out = tmp_path / "out"
    assert main(["predict", str(net_model), str(data), "-o", str(out)]) == 0
    ids, classes, pred, prob = read_challenge_outputs(out)
    assert ids == ["00001_hr", "00002_hr", "00008_hr"] and prob.shape == (3, 6)
    assert (out / "skipped_records.tsv").read_text() == "record_id\treason\n"


def test_load_data_sph_duplicates_and_train_skip_report(tmp_path, capsys):
    """load_data reads SPH folders, turns folder-level problems into one sentence, and
    train reports skipped records beside the model file."""
    import shutil

    import h5py
    import pandas as pd

    from skecg.apps.cli import load_data

    sph = tmp_path / "sph"
    (sph / "records").mkdir(parents=True)
    with h5py.File(sph / "records" / "A00001.h5", "w") as f:
        f["ecg"] = np.ones((12, 500), np.float32)
    pd.DataFrame([{"ECG_ID": "A00001", "AHA_Code": "1", "SNOMED_Code": "426783006"}]).to_csv(
        sph / "metadata.csv", index=False)
    X, y = load_data([str(sph)], "cinc2020")
    assert X.meta.source.tolist() == ["SPH"] and X.meta.dx[0] == ("426783006",)
    dup = tmp_path / "dup"
    for sub in ("a", "b"):
        (dup / sub).mkdir(parents=True)
        for ext in (".hea", ".mat"):
            shutil.copy(TEST_DATA / "cinc2021" / f"E00001{ext}", dup / sub)
    with pytest.raises(SystemExit, match="skecg: 1 record name.* more than one sub-folder"):
        load_data([str(dup)], "cinc2020")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "X1.hea").write_text("X1 12 500 5000\n")
    model = tmp_path / "models" / "m.skecg"
    model.parent.mkdir()
    with pytest.raises(SystemExit, match="no record could be read; nothing to train on"):
        main(["train", str(bad), "--pipeline", "catboost", "-o", str(model)])
    assert "X1\theader declares 12 signals" in (model.parent / "m.skecg.skipped_records.tsv").read_text()


def test_the_application_has_no_import_cycle():
    """cli imports the commands, the commands import skecg.apps._common (and the
    experiments), nothing imports back up: no cycle among the application's modules,
    function-local imports included."""
    from test_layers import ROOT, imports, module_name

    graph = {}
    for path in sorted((ROOT / "apps").rglob("*.py")):
        mod, _ = module_name(path)
        graph[mod] = {t for _, t, _ in imports(path) if t.startswith("skecg.apps") and t != mod}
    assert "skecg.apps.reproduce" in graph["skecg.apps.cli"]
    assert not any("skecg.apps.cli" in targets for m, targets in graph.items() if m != "skecg.apps.cli")

    def cycle_from(start, stack):
        for nxt in graph.get(start, ()):
            if nxt in stack:
                return stack[stack.index(nxt):] + [nxt]
            found = cycle_from(nxt, stack + [nxt])
            if found:
                return found
        return None

    for mod in graph:
        assert cycle_from(mod, [mod]) is None, " -> ".join(cycle_from(mod, [mod]))


def test_predict_builds_a_type_outside_the_trusted_list_only_when_named(tmp_path):
    """`skecg predict --trusted TYPE`, as `skecg export --trusted` and load_model(trusted=)."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from skecg.io import read_challenge_folder
    from skecg.models import ECGClassifier
    from skecg.persistence import save_model
    from skecg.preprocessing import PadTruncate, Resampler

    X, y = read_challenge_folder(TEST_DATA / "cinc2021", "tnmg")
    pipe = Pipeline([("resample", Resampler(100)), ("pad", PadTruncate(length=256)), ("same", FunctionTransformer()),
                     ("net", ECGClassifier("resnet1d", module__filters=(4, 4), module__kernel_size=3,
                                           module__stem_filters=4, max_epochs=1, batch_size=4, random_state=0))])
    kind = "sklearn.preprocessing._function_transformer.FunctionTransformer"
    path = save_model(pipe.fit(X, y), tmp_path / "m.skecg", trusted=[kind])
    with pytest.raises(SystemExit, match=kind.replace(".", r"\.")):
        main(["predict", str(path), str(TEST_DATA / "cinc2021"), "-o", str(tmp_path / "refused")])
    assert main(["predict", str(path), str(TEST_DATA / "cinc2021"), "-o", str(tmp_path / "out"),
                 "--trusted", kind]) == 0
    assert len(list((tmp_path / "out").glob("*.csv"))) == len(X)

"""`skecg train`: presets, config files written back and read again, --version, the
per-epoch lines, and a fit killed (SIGKILL, mid-epoch, in a subprocess) and resumed
that equals one never interrupted."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT
from skecg.apps.cli import main
from skecg.apps.train import read_config, write_config

#: a tiny Huang pipeline on the bundled sample: seconds per epoch on a loaded 2-core machine
TINY_TOML = textwrap.dedent("""\
    subset__n_per_class = 10
    max_epochs = 3
    batch_size = 16
    module__filters = [8, 8]
    module__kernel_size = 5
    tune_thresholds = false
    monitor = "valid_auroc"
    patience = 2
    """)


def _weights(path):
    from skecg.persistence import load_model

    est, info = load_model(path, return_info=True)
    return est.named_steps["net"].module_.state_dict(), info


def _rows(info):
    return [{k: v for k, v in r.items() if k != "dur"} for r in info["history"]["net"]]


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("skecg ") and out.split()[1][0].isdigit()


def test_config_round_trip(tmp_path):
    params = {"net__lr": 1e-3, "net__module__filters": (8, 16), "net__patience": None, "pad__mode": 'say "hi"',
              "x__inf": float("inf"), "flag": True, "net__optimizer": object}
    path = write_config(tmp_path / "c.toml", params, meta={"preset": "p"})
    back = read_config(path)
    assert back == {k: v for k, v in params.items() if k != "net__optimizer"}
    assert "# net__optimizer: builtins.object" in path.read_text()  # what TOML cannot hold is named, not lost
    (tmp_path / "bad.toml").write_text("lr = = 1\n")
    with pytest.raises(SystemExit, match="bad.toml is not valid TOML"):
        read_config(tmp_path / "bad.toml")


def test_unknown_config_key_is_refused(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("no_such_parameter = 3\n")
    with pytest.raises(SystemExit, match="cannot set 'no_such_parameter'"):
        main(["train", "sample", "--pipeline", "huang", "--config", str(cfg), "-o", str(tmp_path / "m.skecg")])


def test_show_config_trains_nothing(tmp_path, capsys):
    assert main(["train", "--preset", "huang-paper", "--show-config"]) == 0
    out = capsys.readouterr().out
    assert "6,421,910" in out and "4096" in out
    assert main(["train", "--pipeline", "huang", "--epochs", "4", "--show-config"]) == 0
    assert "net__max_epochs = 4" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


_KILLER = textwrap.dedent("""\
    import os, signal, sys
    from skorch.callbacks import Callback
    from skecg.models import ECGClassifier
    from skecg.apps.cli import main

    class Kill(Callback):  # SIGKILL in the second batch of epoch 2: no handler, no clean-up runs
        def initialize(self):
            self.n_ = 0
            return self

        def on_batch_begin(self, net, training=None, **kwargs):
            if training and len(net.history) == 2:
                self.n_ += 1
                if self.n_ == 2:
                    os.kill(os.getpid(), signal.SIGKILL)

    default = ECGClassifier.get_default_callbacks
    ECGClassifier.get_default_callbacks = lambda self: default(self) + [("kill", Kill())]
    sys.exit(main(sys.argv[1:]))
    """)


def test_killed_and_resumed_equals_uninterrupted(tmp_path, capfd):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY_TOML)
    args = ["train", "sample", "--pipeline", "huang", "--config", str(cfg), "--seed", "3"]
    ref = tmp_path / "ref" / "m.skecg"
    ref.parent.mkdir()
    assert main(args + ["-o", str(ref)]) == 0
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("epoch ")]
    assert lines and all("valid_auroc" in ln and "s/epoch" in ln and "ETA" in ln for ln in lines)
    assert lines[0].startswith("epoch 1/3")
    assert (ref.parent / "m.toml").is_file()

    out = tmp_path / "run" / "m.skecg"
    out.parent.mkdir()
    import torch

    # the killed run trains epoch 1 in a new process: with the thread count of this one (earlier
    # tests may have changed it), since float sums, and so the weights, depend on it
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(torch.get_num_threads())}
    proc = subprocess.run([sys.executable, "-c", _KILLER, *args, "-o", str(out)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert not out.exists()
    ckpt = out.parent / "m.skecg.checkpoints"
    (fit_dir,) = list((ckpt / "net").iterdir())
    assert json.loads((fit_dir / "history.json").read_text())[-1]["epoch"] == 1  # epoch 2 never finished
    assert sorted(p.name for p in fit_dir.iterdir()) == ["criterion_1.pt", "history.json", "optimizer_1.pt",
                                                         "params_1.pt", "state_1.pt"]
    with pytest.raises(SystemExit, match="pass --resume to continue it"):
        main(args + ["-o", str(out)])
    assert main(args + ["--resume", "-o", str(out)]) == 0
    resumed_lines = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("epoch ")]
    assert resumed_lines[0].startswith("epoch 2/3")

    w_ref, info_ref = _weights(ref)
    w_res, info_res = _weights(out)
    assert w_ref.keys() == w_res.keys()
    for k in w_ref:
        np.testing.assert_array_equal(w_ref[k].numpy(), w_res[k].numpy(), err_msg=k)
    assert _rows(info_ref) == _rows(info_res) and len(_rows(info_ref)) >= 2
    from skecg import persistence

    config = persistence.inspect_model(out)["config"] if hasattr(persistence, "inspect_model") else \
        info_res["config"]
    assert config["net__max_epochs"] == 3 and config["net__random_state"] == 3


def test_gpu_check_script_parses():
    """benchmarks/gpu_check.sh: bash syntax, its Python part compiles, bad arguments are refused
    (the script itself needs a GPU or --dry-run; its CPU dry run is in the README)."""
    script = ROOT / "benchmarks" / "gpu_check.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    code = text.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]
    compile(code, "gpu_check.sh (python part)", "exec")
    bad = subprocess.run(["bash", str(script), "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown argument --bogus" in bad.stderr
    compile((ROOT / "benchmarks" / "paper_size.py").read_text(), "paper_size.py", "exec")


def test_paper_preset_saves_and_an_unsavable_one_is_refused_before_training(tmp_path):
    """Training-only callbacks (Ribeiro's initialisation, the plateau schedule) are left out
    of the model file; anything else a safe file cannot hold stops the run before it trains."""
    from skecg.apps.train import _check_savable, _drop_callbacks
    from skecg.presets import get_preset

    from skorch.callbacks import LRScheduler

    est = get_preset("huang-paper").make_estimator()
    est.set_params(net__callbacks=[("mine", LRScheduler("StepLR", step_size=2))])
    _check_savable(est, tmp_path / "m.skecg")  # no error: the callbacks are dropped for the file
    assert est.named_steps["net"].callbacks  # ... from a copy, not from the estimator that trains
    dropped = _drop_callbacks(est)
    assert any("LRScheduler" in c for c in dropped["net"]) and est.named_steps["net"].callbacks is None
    est.set_params(net__module__filters=(8, 8), resample__fs_out=lambda: 1)  # no safe file holds a function
    with pytest.raises(SystemExit, match="could not be saved .* nothing was trained"):
        _check_savable(est, tmp_path / "m.skecg")


def test_written_config_names_its_preset(tmp_path):
    from types import SimpleNamespace

    from skecg.apps.train import build_estimator

    path = write_config(tmp_path / "c.toml", {"net__max_epochs": 7}, meta={"preset": "huang-paper"})
    args = SimpleNamespace(preset=None, pipeline=None, config=str(path), epochs=None, device=None, monitor=None,
                           seed=None)
    est, vocabulary, preset, _ = build_estimator(args)
    assert preset.name == "huang-paper" and vocabulary == "tnmg"
    assert est.named_steps["net"].max_epochs == 7

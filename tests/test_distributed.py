"""Beyond one machine: searches on a dask cluster (LocalCluster on the loopback
interface) through joblib, and one model trained on 2 CPU processes (gloo) through
accelerate.  Data are generated (no shared data needed)."""

import contextlib
import json
import math
import os
import pickle
import socket
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch

distributed = pytest.importorskip("distributed")
pytest.importorskip("accelerate")

from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402

from skecg import ECGRecords  # noqa: E402
from skecg.distributed import (  # noqa: E402
    limit_torch_threads, measure_task_bytes, parse_scheduler, records_sizeof, search_backend, start_cluster,
    thread_report)
from skecg.io import open_store, write_store  # noqa: E402
from skecg.models import ECGClassifier  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRID = {"lr": [1e-3, 3e-3], "module__dropout": [0.0, 0.2]}
MB = 2**20


def small_net(**kw):
    kw = {"module__filters": (8, 8), "module__stem_filters": 8, "module__kernel_size": 7, "max_epochs": 2,
          "batch_size": 32, "valid_size": 0, "random_state": 0, **kw}
    return ECGClassifier("resnet1d", **kw)


def make_records(n, seed=0):
    rng = np.random.default_rng(seed)
    sig = rng.standard_normal((n, 12, 256)).astype(np.float32)
    y = (rng.random((n, 3)) < 0.3).astype(np.int64)
    sig[:, 0, :64] += 2 * y[:, :1]  # something to learn
    return ECGRecords(sig, fs=100), y


def _write(n, path, seed=0):
    X, y = make_records(n, seed)
    write_store(X, path, y)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("dist") / "store"
    _write(128, path)
    return path


@pytest.fixture(scope="module")
def client():
    with start_cluster("local:2") as c:  # loopback only, 2 worker processes x 1 thread
        yield c


def _search():
    return GridSearchCV(small_net(), GRID, cv=KFold(2), scoring="f1_macro")


@contextlib.contextmanager
def one_torch_thread():
    """As each worker: the same thread count gives bitwise-equal floats."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@pytest.fixture(scope="module")
def sequential(store):
    """The reference: the same search in one process."""
    X, y = open_store(store)
    with one_torch_thread():
        return _search().fit(X, y)


def _same_search(a, b):
    np.testing.assert_array_equal(a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"])
    for k in range(2):
        np.testing.assert_array_equal(a.cv_results_[f"split{k}_test_score"], b.cv_results_[f"split{k}_test_score"])
    assert a.best_params_ == b.best_params_


def test_parse_scheduler():
    assert parse_scheduler("local:3") == ("local", 3)
    assert parse_scheduler("tcp://127.0.0.1:8786") == ("address", "tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="local:N"):
        parse_scheduler("local:zero")


def test_no_oversubscription(client):
    rep = thread_report(client)
    cores = int(rep["cores"].iloc[0])
    assert len(rep) == 2 and not rep["oversubscribed"].any()
    assert (rep["nthreads"] * rep["torch_threads"]).sum() <= cores
    assert (rep["torch_threads"] == max(1, cores // 2)).all()
    with pytest.raises(ValueError, match="compute threads on"):
        limit_torch_threads(client, threads=cores)  # 2 workers x all cores: refused
    assert (limit_torch_threads(client)["torch_threads"] == max(1, cores // 2)).all()


def test_grid_search_on_cluster_equals_sequential(client, store, sequential):
    X, y = open_store(store)
    # the refit of the best candidate runs here, in the calling process
    with one_torch_thread(), measure_task_bytes(client) as m, joblib.parallel_backend("dask"):
        par = _search().fit(X, y)
    _same_search(par, sequential)
    a, b = sequential.best_estimator_.module_.state_dict(), par.best_estimator_.module_.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # refit weights
    assert m.n_tasks >= 8 and m.max_task_bytes < MB


def test_bytes_per_task_do_not_grow_with_the_data(client, tmp_path):
    """A lazy container travels as its handle: 10x the records, the same bytes per task."""
    seen = {}
    for n in (128, 1280):
        _write(n, tmp_path / f"s{n}", seed=n)
        X, y = open_store(tmp_path / f"s{n}")
        with measure_task_bytes(client) as m, joblib.parallel_backend("dask"):
            scores = cross_val_score(small_net(max_epochs=1, batch_size=64), X, y, cv=KFold(2), scoring="f1_macro")
        assert np.isfinite(scores).all() and m.n_tasks == 2
        seen[n] = m.max_task_bytes
    assert seen[1280] < MB and seen[1280] < 1.5 * seen[128], seen
    assert len(pickle.dumps(X)) < 20_000 and records_sizeof(X) < 1000  # a handle, sent inline, never scattered


def test_in_memory_records_are_scattered_once(client):
    """An in-memory container is sent once (auto-scattered by its dask size, or
    pre-scattered), never pickled into each task."""
    X, y = make_records(128)
    for scatter in (None, [X, y]):
        with measure_task_bytes(client) as m, joblib.parallel_backend("dask", scatter=scatter):
            cross_val_score(small_net(max_epochs=1), X, y, cv=KFold(2), scoring="f1_macro")
        assert m.max_task_bytes < 100_000 < X.signals.nbytes, m
        assert m.scattered_bytes >= X.signals.nbytes, m


def test_lost_data_is_a_clear_error_not_partial_results(client):
    from distributed.client import FutureCancelledError

    with pytest.raises(RuntimeError, match="worker was lost"):
        with search_backend(None, np.zeros(3), client=client):
            raise FutureCancelledError("k", reason="lost")


@pytest.fixture(scope="module")
def four_sources():
    from skecg.datasets import load_sample
    from skecg.preprocessing import PadTruncate, Resampler

    X, y = load_sample("tnmg", sources=["Georgia", "CPSC", "PTB", "CPSC-Extra"])
    return PadTruncate(length=256).fit_transform(Resampler(25).fit_transform(X)), y


def test_cli_evaluate_on_cluster_prints_each_fit(client, four_sources):
    from skecg.apps.cli import build_parser
    from skecg.apps.experiments import evaluate_cross_source, evaluate_on_cluster

    args = build_parser().parse_args(["evaluate", "sample", "--scheduler", "local:2"])
    assert args.scheduler == "local:2"
    X, y = four_sources
    lines = []
    res = evaluate_on_cluster(client, small_net(max_epochs=1), X, y, ["Georgia", "PTB"], n_resamples=5,
                              log=lines.append)
    assert [r.test_sources for r in res] == [["Georgia"], ["PTB"]]
    assert sum("finished after" in ln for ln in lines) == 2 and "[2/2]" in lines[-1]
    ref = evaluate_cross_source(small_net(max_epochs=1), X, y, [["PTB"]], n_resamples=5, log=lambda *a: None)
    np.testing.assert_allclose(res[1].proba, ref[0].proba, atol=1e-5)
    with pytest.raises(RuntimeError, match="holding out Georgia failed"):
        evaluate_on_cluster(client, small_net(criterion="nope"), X, y, ["Georgia"], log=lines.append)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


KILL_SCRIPT = textwrap.dedent("""
    import json, os, signal, sys, threading, time
    import joblib, distributed
    sys.path.insert(0, {tests!r})
    from test_distributed import _search
    from skecg.distributed import search_backend, start_cluster
    from skecg.io import open_store



    def main():
        X, y = open_store({store!r})
        out = {{}}
        with start_cluster("local:2") as client:  # loopback, 2 workers x 1 thread
            pids = client.run(os.getpid)

            def run():
                try:
                    with search_backend(X, y):  # y scattered to both workers
                        out["search"] = _search().set_params(refit=False).fit(X, y)
                except BaseException as e:  # reported, not swallowed
                    out["error"] = repr(e)

            t = threading.Thread(target=run, daemon=True)
            t.start()
            deadline = time.time() + 120
            while time.time() < deadline and not any(client.processing().values()):
                time.sleep(0.02)
            busy = [w for w, tasks in client.processing().items() if tasks]
            os.kill(pids[busy[0]], signal.SIGKILL)  # a worker dies in the middle of a fit
            t.join(timeout=300)  # generous for loaded CI machines; a hang is reported, not waited out
            if t.is_alive():
                print("HANG"); sys.stdout.flush(); os._exit(3)
            after = client.run(os.getpid)
        res = {{"killed": pids[busy[0]], "pids_after": sorted(after.values())}}
        if "error" in out:
            res["error"] = out["error"]
        else:
            s = out["search"]
            res.update(best=s.best_params_, mean=s.cv_results_["mean_test_score"].tolist(),
                       split0=s.cv_results_["split0_test_score"].tolist(),
                       split1=s.cv_results_["split1_test_score"].tolist())
        print("RESULT " + json.dumps(res))

    if __name__ == "__main__":
        main()
""")


def test_killed_worker_mid_search_completes(store, sequential, tmp_path):
    script = tmp_path / "kill.py"
    script.write_text(KILL_SCRIPT.format(tests=os.path.join(ROOT, "tests"), store=str(store)))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=480, cwd=ROOT)
    assert "HANG" not in proc.stdout, "the search hung after a worker was killed"
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-3000:]
    res = json.loads(lines[-1][7:])
    assert res["killed"] not in res["pids_after"]  # the worker really died (the nanny started a new one)
    assert "error" not in res, res["error"]
    # dask re-ran the lost fits: every candidate scored, and the same as without failure
    assert res["best"] == sequential.best_params_
    np.testing.assert_array_equal(res["mean"], sequential.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(res["split0"], sequential.cv_results_["split0_test_score"])
    np.testing.assert_array_equal(res["split1"], sequential.cv_results_["split1_test_score"])


ACCEL_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from accelerate import Accelerator
    from skorch.callbacks import Callback
    from skecg.io import open_store
    from skecg.models import AcceleratedECGClassifier

    class LocalSteps(Callback):  # optimizer steps this process takes per epoch
        def on_epoch_begin(self, net, dataset_train=None, **kw):
            self.n, self.n_train = 0, len(dataset_train)
        def on_batch_end(self, net, training=False, **kw):
            self.n += bool(training)
        def on_epoch_end(self, net, **kw):
            net.history.record("local_steps", self.n)
            net.history.record("n_train", self.n_train)

    store, out = sys.argv[1], sys.argv[2]
    X, y = open_store(store)
    acc = Accelerator(cpu=True)
    net = AcceleratedECGClassifier("resnet1d", module__filters=(8, 8), module__stem_filters=8,
                                   module__kernel_size=7, max_epochs=3, batch_size=16, valid_size=0.2, patience=1,
                                   random_state=0, accelerator=acc, callbacks=[("steps", LocalSteps())])
    net.fit(X, y)
    proba = net.predict_proba(X)
    h = net.history
    json.dump({"world": acc.num_processes, "steps": list(h[:, "local_steps"]),
               "train_loss": list(h[:, "train_loss"]), "valid_loss": list(h[:, "valid_loss"]),
               "n_train": list(h[:, "n_train"]), "n_proba": len(proba)},
              open(f"{out}/rank{acc.process_index}.json", "w"))
    net.save_weights(f"{out}/weights.pt")
    if acc.is_main_process:
        np.save(f"{out}/proba.npy", proba)
""")


def test_two_process_training_on_a_store(tmp_path):
    """torchrun, 2 CPU processes, gloo: documented steps per epoch, the same history on
    both processes, and gathered predictions that cover every record exactly once."""
    n, batch = 101, 16  # 101 records: not divisible by the 2 processes
    _write(n, tmp_path / "store")
    (tmp_path / "out").mkdir()
    script = tmp_path / "train.py"
    script.write_text(ACCEL_SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), str(script), str(tmp_path / "store"), str(tmp_path / "out")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=420, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    r0, r1 = (json.loads((tmp_path / "out" / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == 2
    # history and early stopping agree across processes
    assert r0["train_loss"] == r1["train_loss"] and r0["valid_loss"] == r1["valid_loss"]
    # per epoch, each process: ceil(ceil(n_train / batch) / 2) steps (see AcceleratedECGClassifier)
    n_train = r0["n_train"][0]
    assert 0 < n_train < n and r0["n_train"] == r1["n_train"]
    steps = math.ceil(math.ceil(n_train / batch) / 2)
    assert r0["steps"] == r1["steps"] == [steps] * len(r0["steps"])
    # every record predicted once, in order: the gathered outputs equal a one-process model's
    proba = np.load(tmp_path / "out" / "proba.npy")
    assert r0["n_proba"] == r1["n_proba"] == n and proba.shape == (n, 3)
    X, _ = open_store(tmp_path / "store")
    single = small_net().load_weights(tmp_path / "out" / "weights.pt")
    np.testing.assert_allclose(single.predict_proba(X), proba, atol=1e-5)


def test_a_local_cluster_leaves_the_environment_as_it_found_it():
    """dask's nannies write OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1, ... into this process's
    environment for their workers; after the cluster closes, a subprocess started here would
    run single-threaded BLAS (whose float sums differ).  start_cluster puts them back."""
    import os

    before = dict(os.environ)
    with start_cluster("local:1") as c:
        assert len(c.scheduler_info()["workers"]) == 1
    assert dict(os.environ) == before


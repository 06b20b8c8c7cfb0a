"""
Scaling out: from a laptop to a cluster and to several processes
=================================================================

The same ``GridSearchCV`` runs in one process, then on a dask ``LocalCluster`` of two
worker processes (what a remote scheduler's workers would do, on the loopback
interface here), with the data travelling as the lazy store's handle.  Then one model
is trained on two CPU processes at once through accelerate (``torchrun``, gloo), as it
would be on several GPUs.

Needs ``pip install "skecg[distributed]"``.  Runs in a few minutes on 2 CPU cores.
Run: ``python examples/plot_scaling_out.py``
"""

import os
import pickle
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import GridSearchCV, KFold

from skecg.datasets import load_sample
from skecg.distributed import measure_task_bytes, search_backend, start_cluster, thread_report
from skecg.io import open_store, write_store
from skecg.models import ECGClassifier
from skecg.preprocessing import PadTruncate, Resampler


def main():
    # %%
    # A store of the bundled sample: 620 real records at 50 Hz, 512 samples.  Opened
    # lazily, the signals stay on disk and the container pickles to a few kB.
    work = Path(tempfile.mkdtemp(prefix="skecg-scaling-"))
    X, y = load_sample("tnmg")
    X = PadTruncate(length=512).fit_transform(Resampler(50).fit_transform(X))
    write_store(X, work / "sample.store", y)
    X, y = open_store(work / "sample.store")
    print(X, f"pickles to {len(pickle.dumps(X)) / 1e3:.1f} kB")

    net = ECGClassifier("resnet1d", module__filters=(16, 16), module__stem_filters=16, module__kernel_size=9,
                        max_epochs=2, batch_size=32, valid_size=0, random_state=0)
    grid = {"lr": [1e-3, 3e-3], "module__dropout": [0.0, 0.2]}

    def search():
        return GridSearchCV(net, grid, cv=KFold(2), scoring="f1_macro")

    # %%
    # 1. One process.
    t = time.perf_counter()
    seq = search().fit(X, y)
    print(f"sequential: {time.perf_counter() - t:.1f} s, best {seq.best_params_}")

    # %%
    # 2. A LocalCluster of 2 workers x 1 thread; each worker's torch gets cores // workers
    # threads (no oversubscription).  With a remote scheduler, replace start_cluster(...)
    # by ``Client("tcp://scheduler:8786")``: nothing else changes.
    with start_cluster("local:2") as client:
        print(thread_report(client)[["worker", "nthreads", "torch_threads", "cores", "oversubscribed"]])
        t = time.perf_counter()
        with measure_task_bytes(client) as m, search_backend(X, y):  # y is scattered to every worker
            par = search().fit(X, y)
        print(f"LocalCluster: {time.perf_counter() - t:.1f} s, best {par.best_params_}; "
              f"{m.n_tasks} tasks of at most {m.max_task_bytes / 1e3:.1f} kB each")
    print("same scores as the sequential run:",
          np.allclose(par.cv_results_["mean_test_score"], seq.cv_results_["mean_test_score"]))

    # %%
    # 3. One model on 2 processes (each trains on every other batch; DDP averages the
    # gradients; predictions are gathered, each record once).  On GPUs:
    # ``accelerate launch --multi_gpu --num_processes N train.py``.
    script = work / "train.py"
    script.write_text(textwrap.dedent(f"""
        from accelerate import Accelerator
        from skecg.models import AcceleratedECGClassifier
        from skecg.io import open_store
        X, y = open_store({str(work / "sample.store")!r})
        acc = Accelerator(cpu=True)
        net = AcceleratedECGClassifier("resnet1d", module__filters=(16, 16), module__stem_filters=16,
                                       module__kernel_size=9, max_epochs=2, batch_size=32, valid_size=0.2,
                                       random_state=0, accelerator=acc)
        net.fit(X, y)
        proba = net.predict_proba(X)
        acc.print(f"{{acc.num_processes}} processes: train loss per epoch",
                  [round(float(v), 4) for v in net.history[:, "train_loss"]], "; predictions", proba.shape)
        net.save_weights({str(work / "weights.pt")!r})
    """))
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                    "127.0.0.1", "--master_port", "29561", str(script)], check=True,
                   env={**os.environ, "OMP_NUM_THREADS": str(max(1, torch.get_num_threads() // 2))})
    print(f"2-process fit: {time.perf_counter() - t:.1f} s")
    single = ECGClassifier("resnet1d", module__filters=(16, 16), module__stem_filters=16,
                           module__kernel_size=9).load_weights(work / "weights.pt")
    print("the saved weights predict in one process:", single.predict_proba(X).shape)


if __name__ == "__main__":  # dask starts its workers with 'spawn', which re-imports this file
    main()

"""One model trained on several processes or GPUs: skorch's ``AccelerateMixin`` on
:class:`~skecg.models.ECGClassifier`.

skorch's mixin does the heavy lifting: ``accelerator.prepare`` wraps the module (in
``DistributedDataParallel`` when there are several processes), the optimizer and
every loader (each process reads its own shard of the batches), and
``gather_for_metrics`` collects inference outputs.  This subclass adds what an
ECGClassifier needs on top:

- batches from skecg's whole-batch sampler reach accelerate as index lists (its
  sharder pads the last round of batches by list concatenation, which an index
  array would turn into an element-wise sum);
- epoch losses are the mean over *all* processes' batches (each process's batch
  losses are gathered after the epoch), so history, early stopping and learning-rate
  schedules see the same numbers on every process and stop at the same epoch.
  skorch's ``DistributedHistory`` is not used: ECGClassifier writes batch losses once
  per epoch, after the loop, which that history's per-batch store does not see;
- early stopping keeps and restores the unwrapped network's weights (the wrapped
  one's keys carry DDP's ``module.`` prefix);
- ``device=None`` follows the accelerator (``cuda:<local rank>`` per process, or
  the CPU);
- ``save_weights`` writes from the main process only, after every process arrived.
"""

from __future__ import annotations

import torch
from sklearn.utils._param_validation import HasMethods
from skorch.hf import AccelerateMixin

from ..utils.validation import validate_params
from ._classifier import ECGClassifier
from ._data import BatchSampler, DevicePrefetcher
from ._skorch_common import _EarlyStopping, silent


class _ListBatches:
    """A :class:`BatchSampler` whose batches are lists (what accelerate's sharder pads)."""

    def __init__(self, sampler: BatchSampler):
        self.sampler = sampler
        self.batch_size = sampler.batch_size
        self.drop_last = sampler.drop_last

    def __len__(self):
        return len(self.sampler)

    def __iter__(self):
        for b in self.sampler:
            yield [int(i) for i in b]


def _with_list_batches(loader):
    bs = loader.batch_sampler
    if not isinstance(bs, BatchSampler):
        return loader
    return torch.utils.data.DataLoader(
        loader.dataset, batch_sampler=_ListBatches(bs), num_workers=loader.num_workers,
        collate_fn=loader.collate_fn, pin_memory=loader.pin_memory, timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn, multiprocessing_context=loader.multiprocessing_context,
        generator=loader.generator, prefetch_factor=loader.prefetch_factor,
        persistent_workers=loader.persistent_workers)


def _strip_ddp(state: dict) -> dict:
    return {(k[7:] if k.startswith("module.") else k): v for k, v in state.items()}


class _AcceleratedEarlyStopping(_EarlyStopping):
    """Early stopping that keeps the unwrapped network's weights."""

    def on_epoch_end(self, net, **kwargs):
        try:
            super().on_epoch_end(net, **kwargs)
        finally:
            if self.best_model_weights_ is not None:
                self.best_model_weights_ = _strip_ddp(self.best_model_weights_)

    def on_train_end(self, net, **kwargs):
        if self.load_best and self.best_model_weights_ is not None and \
                self.best_epoch_ != net.history[-1, "epoch"]:
            net.accelerator.unwrap_model(net.module_).load_state_dict(self.best_model_weights_)


class AcceleratedECGClassifier(AccelerateMixin, ECGClassifier):
    """:class:`ECGClassifier` trained through Hugging Face ``accelerate``: several
    GPUs, several CPU processes, or mixed precision.

    Launch the script that fits it with ``accelerate launch --multi_gpu
    --num_processes N script.py`` on GPUs, or ``torchrun --nproc_per_node N
    script.py`` with ``Accelerator(cpu=True)`` for CPU processes on the gloo backend
    (``accelerate launch --cpu`` starts one process, or several only through MPI);
    every process runs the same script on the same data.  Each process trains on
    every N-th batch, gradients are averaged by ``DistributedDataParallel``, and
    predictions are gathered so that every process gets all records, each once.

    Per epoch, with ``n`` training records, batch size ``B`` and ``N`` processes,
    each process takes ``ceil(ceil(n / B) / N)`` optimizer steps: the batches are
    dealt out in turn and the last round is completed with records from the start of
    the epoch's order (accelerate's ``even_batches``), so no process waits for
    another.  Validation and prediction use the same dealing; the repeated records
    are dropped when outputs are gathered.

    Do not run it inside a parallel search (``GridSearchCV`` with ``n_jobs`` or the
    dask backend): a multi-process fit owns all its processes' devices.

    Parameters
    ----------
    module, criterion, **kwargs
        As :class:`ECGClassifier`.
    accelerator : accelerate.Accelerator
        Its ``mixed_precision`` replaces ECGClassifier's ``precision``, which is
        ignored here.
    device : None or str, default=None
        ``None``: the accelerator's device (each process its own GPU).
    unwrap_after_train : bool, default=True
        See ``skorch.hf.AccelerateMixin``.

    Notes
    -----
    The fitted model does not pickle while it is wrapped; save it with
    :meth:`save_weights` and load the weights into a plain :class:`ECGClassifier` with
    the same settings (``load_weights``) to predict anywhere.  skorch's ``save_params``
    does not keep the fitted classes and thresholds: a model restored from it raises
    ``NotFittedError``.

    Examples
    --------
    >>> from accelerate import Accelerator
    >>> from skecg.datasets import load_sample
    >>> from skecg.preprocessing import Resampler, PadTruncate
    >>> X, y = load_sample("tnmg", sources=["Georgia"])
    >>> X = PadTruncate(length=1024).fit_transform(Resampler(100).fit_transform(X))
    >>> net = AcceleratedECGClassifier("resnet1d", module__filters=(8, 8), max_epochs=1,
    ...                                accelerator=Accelerator(cpu=True), random_state=0)
    >>> net.fit(X, y).predict_proba(X).shape == y.shape
    True
    """

    # ECGClassifier's, and the mixin's own two; checked at the start of fit, before the
    # accelerator is asked for its device or anything is built
    _parameter_constraints: dict = {
        **ECGClassifier._parameter_constraints,
        "accelerator": [HasMethods(["prepare", "unwrap_model", "gather_for_metrics", "wait_for_everyone"])],
        "unwrap_after_train": ["boolean"],
    }

    def __init__(self, module="resnet1d", criterion="bce", *, accelerator, device=None, unwrap_after_train=True,
                 **kwargs):
        super().__init__(module, criterion, accelerator=accelerator, device=device,
                         unwrap_after_train=unwrap_after_train, **kwargs)

    # -- device: the accelerator's, unless set -------------------------------------------
    def _run_device(self):
        """``device=None``: the accelerator's device; fit, prediction and loading run on it
        (:meth:`ECGNet._on_device <skecg.models._base.ECGNet._on_device>`)."""
        if self.device is None:
            return str(self.accelerator.device)
        return super()._run_device()

    def _check_device(self):
        if self.device is not None and self.accelerator.device_placement and \
                torch.device(self.device) != self.accelerator.device:
            raise ValueError(f"device={self.device!r} but the accelerator places this process on "
                             f"{self.accelerator.device}; leave device=None")

    def _validate_params(self):
        """skorch's check of the ``**kwargs`` prefixes (at initialize and set_params), and the device."""
        ECGClassifier._validate_params(self)
        self._check_device()

    def _initialize_accelerator(self):
        # A loss without trainable parameters (BCE, Sign Loss) is not prepared: accelerate
        # would wrap it in DistributedDataParallel, which refuses such modules.
        if self._wrapped_with_accelerator:
            return self
        hidden = {}
        for name in self._criteria:
            crit = getattr(self, name + "_", None)
            if isinstance(crit, torch.nn.Module) and not any(p.requires_grad for p in crit.parameters()):
                hidden[name + "_"] = crit
                self.__dict__[name + "_"] = None
        try:
            return super()._initialize_accelerator()
        finally:
            self.__dict__.update(hidden)

    def _check_device_settings(self, float32_fallback=False):
        super()._check_device_settings(float32_fallback=float32_fallback)
        self.amp_dtype_, self.grad_scaler_ = None, None  # the accelerator's mixed_precision decides

    def fit(self, X, y, **fit_params):
        """As :meth:`ECGClassifier.fit`, on the accelerator's device."""
        validate_params(self)  # before _on_device asks the accelerator for its device
        self._check_device()
        with self._on_device():
            return super().fit(X, y, **fit_params)

    def save_weights(self, path) -> None:
        """Weights as :meth:`ECGClassifier.save_weights`, written by the main process
        once every process has arrived; load them into a plain ECGClassifier."""
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            wrapped = self.module_
            self.module_ = self.accelerator.unwrap_model(wrapped)
            try:
                super().save_weights(path)
            finally:
                self.module_ = wrapped
        self.accelerator.wait_for_everyone()

    # -- data: accelerate's sharded loaders over whole batches ------------------------------
    def get_iterator(self, dataset, training=False):
        it = ECGClassifier.get_iterator(self, dataset, training=training)
        loader = it.loader if isinstance(it, DevicePrefetcher) else it
        loader = self.accelerator.prepare(_with_list_batches(loader))
        return DevicePrefetcher(loader, self.device) if isinstance(it, DevicePrefetcher) else loader

    def get_default_callbacks(self):
        cbs = []
        for name, cb in super().get_default_callbacks():
            if name == "early_stopping":
                cb = _AcceleratedEarlyStopping(monitor=cb.monitor, patience=cb.patience, load_best=cb.load_best,
                                               lower_is_better=cb.lower_is_better, sink=silent)
            cbs.append((name, cb))
        return cbs

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """ECGClassifier's epoch, then every process's batch losses gathered into
        each process's history (so epoch scores agree across processes)."""
        super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        if iterator is None or self.accelerator.num_processes == 1:
            return
        n = int(self.history[-1].get(prefix + "_batch_count", 0))
        batches = self.history[-1]["batches"]
        mine = batches[len(batches) - n:] if n else []
        local = torch.tensor([[float(b[prefix + "_loss"]), float(b[prefix + "_batch_size"])] for b in mine],
                             dtype=torch.float64).reshape(-1, 2)
        every = self.accelerator.gather(local.to(self.accelerator.device)).cpu()
        del batches[len(batches) - n:]
        batches.extend({prefix + "_loss": float(v), prefix + "_batch_size": int(s)} for v, s in every.tolist())
        self.history.record(prefix + "_batch_count", len(every))

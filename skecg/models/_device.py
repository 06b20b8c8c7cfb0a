"""Where and how skecg's networks compute: the device (``'auto'`` resolved), autocast
precision, and deterministic kernels on CUDA."""

from __future__ import annotations

import contextlib
import os

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")

#: what ``cuBLAS`` needs for deterministic matrix products on CUDA (NVIDIA's cuBLAS
#: documentation, "Results reproducibility"); set by skecg when a deterministic fit
#: starts and the variable is unset
CUBLAS_WORKSPACE_CONFIG = ":4096:8"


def determinism_settings(device, random_state, deterministic="auto") -> dict:
    """What skecg's networks (:class:`~skecg.models.ECGClassifier`,
    :class:`~skecg.models.WaveSegmenter`) set while they train or predict on ``device``.

    On CUDA a deterministic run (``deterministic=True``, or ``'auto'`` with a
    ``random_state``) switches cuDNN's autotuning off (``cudnn.benchmark``, which
    picks kernels by timing them, so two runs may use different ones), asks cuDNN
    for deterministic kernels (``cudnn.deterministic``) and turns on
    ``torch.use_deterministic_algorithms(True, warn_only=True)`` (an operation
    without a deterministic kernel warns instead of failing); cuBLAS needs
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8``, set when unset.  Without a
    ``random_state`` (or with ``deterministic=False``, the explicit opt-out for
    speed), cuDNN autotunes.  On other devices nothing is changed: CPU kernels give
    the same result for the same inputs and thread count.

    Parameters
    ----------
    device : str or torch.device
    random_state : int, RandomState or None
    deterministic : bool or 'auto', default='auto'

    Returns
    -------
    dict
        ``cudnn_benchmark``, ``cudnn_deterministic``, ``deterministic_algorithms``
        (each ``None`` where left as it is).

    Examples
    --------
    >>> determinism_settings("cuda", 0)
    {'cudnn_benchmark': False, 'cudnn_deterministic': True, 'deterministic_algorithms': True}
    >>> determinism_settings("cuda", 0, deterministic=False)["cudnn_benchmark"]
    True
    >>> determinism_settings("cpu", 0)["cudnn_benchmark"] is None
    True
    """
    if deterministic not in ("auto", True, False):
        raise ValueError(f"deterministic must be 'auto', True or False, got {deterministic!r}")
    if torch.device(device).type != "cuda":
        return {"cudnn_benchmark": None, "cudnn_deterministic": None, "deterministic_algorithms": None}
    det = random_state is not None if deterministic == "auto" else bool(deterministic)
    if det:
        return {"cudnn_benchmark": False, "cudnn_deterministic": True, "deterministic_algorithms": True}
    return {"cudnn_benchmark": True, "cudnn_deterministic": None, "deterministic_algorithms": None}


@contextlib.contextmanager
def deterministic_context(settings: dict):
    """Apply :func:`determinism_settings` for the duration of the block and restore
    torch's global flags after it (a fit leaves the process as it found it).

    Examples
    --------
    >>> before = torch.backends.cudnn.benchmark
    >>> with deterministic_context(determinism_settings("cuda", 0)):
    ...     torch.backends.cudnn.benchmark, torch.are_deterministic_algorithms_enabled()
    (False, True)
    >>> torch.backends.cudnn.benchmark == before, torch.are_deterministic_algorithms_enabled()
    (True, False)
    """
    with contextlib.ExitStack() as stack:
        for key, attr in (("cudnn_benchmark", "benchmark"), ("cudnn_deterministic", "deterministic")):
            if settings.get(key) is not None:
                stack.enter_context(_set_flag(torch.backends.cudnn, attr, settings[key]))
        if settings.get("deterministic_algorithms"):
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE_CONFIG)
            old = (torch.are_deterministic_algorithms_enabled(),
                   torch.is_deterministic_algorithms_warn_only_enabled())
            torch.use_deterministic_algorithms(True, warn_only=True)
            stack.callback(lambda: torch.use_deterministic_algorithms(old[0], warn_only=old[1]))
        yield


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX, as oneDNN reports).

    Where it does, ``precision='bf16'`` of skecg's networks runs training and inference under
    bf16 autocast on the CPU (see :func:`amp_dtype`).

    Returns
    -------
    bool

    Examples
    --------
    >>> isinstance(cpu_has_native_bf16(), bool)
    True
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


def amp_dtype(device, precision: str = "auto", capability=None):
    """The autocast dtype of training and inference on ``device`` (``None``: float32).

    ``'auto'`` gives bfloat16 on CUDA GPUs that compute it natively (compute
    capability 8.0 and later: A100, H100 ...), float16 with a gradient scaler on
    older ones, and float32 (no autocast) on every other device.  On a CPU that
    computes bf16 natively (AVX512-BF16 or AMX, :func:`cpu_has_native_bf16`),
    ``'bf16'`` turns bf16 autocast on: faster training and inference
    (``benchmarks/training.py --cpu-bf16`` measures it), probabilities close to float32
    (``tests/models/test_models.py`` bounds the difference).  It stays opt-in there, so that
    a ``random_state`` gives the same network on every CPU; CPUs without native bf16
    emulate it in software and are refused.

    Parameters
    ----------
    device : str or torch.device
    precision : {'auto', 'fp32', 'bf16', 'fp16'}, default='auto'
    capability : tuple of int, optional
        The GPU's compute capability; read from the device when not given.

    Examples
    --------
    >>> amp_dtype("cpu"), amp_dtype("cuda", capability=(9, 0)), amp_dtype("cuda", capability=(7, 0))
    (None, torch.bfloat16, torch.float16)
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    dev = torch.device(device)
    if precision == "fp32":
        return None
    if dev.type != "cuda":
        if precision == "auto":
            return None
        if precision == "bf16" and dev.type == "cpu" and cpu_has_native_bf16():
            return torch.bfloat16
        why = ("this CPU has no native bf16 (AVX512-BF16 or AMX) and would emulate it in software"
               if precision == "bf16" and dev.type == "cpu" else
               "fp16 autocast is for CUDA devices" if precision == "fp16" else "autocast is for CUDA devices and CPUs")
        raise ValueError(f"precision={precision!r} does not apply here: {why}; on {dev.type} skecg computes in "
                         "float32 with precision='auto' or 'fp32'")
    if capability is None:
        capability = torch.cuda.get_device_capability(dev)
    native_bf16 = tuple(capability) >= (8, 0)
    if precision == "bf16" and not native_bf16:
        raise ValueError(f"this GPU (compute capability {capability[0]}.{capability[1]}) has no native bf16; "
                         "use precision='fp16' (with a gradient scaler) or 'auto'")
    if precision == "auto":
        return torch.bfloat16 if native_bf16 else torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


@contextlib.contextmanager
def _set_flag(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def resolve_device(device):
    """The device a net runs on: ``'auto'`` is CUDA where torch sees a GPU, else the
    CPU; any other value is returned as it is.

    Examples
    --------
    >>> resolve_device("cpu"), resolve_device("auto") in ("cuda", "cpu")
    ('cpu', True)
    """
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device

"""skecg: the deep-learning systems of 12-lead ECG research as scikit-learn estimators."""

import os as _os

# Back large CPU tensors by transparent huge pages (a PyTorch allocator switch, read
# once at torch's first allocation): every new activation tensor then costs a few
# page faults instead of thousands, which makes CPU training of the ResNet-1d about
# 10-20 % faster (benchmarks/training.py). Set THP_MEM_ALLOC_ENABLE=0 to opt out;
# it has no effect once torch has allocated a tensor before skecg is imported.
_os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

import lazy_loader as _lazy  # noqa: E402

from ._records import ECGRecords, concat_records, iter_batches  # noqa: E402
from ._version import __version__  # noqa: E402

# The subpackages load on first use (``skecg.models`` imports torch): ``import skecg``
# stays as light as the records container.
__getattr__, __dir__, _ = _lazy.attach(__name__, submodules=[
    "baselines", "datasets", "distributed", "ensemble", "export", "io", "labels", "metrics", "models",
    "persistence", "pipelines", "plots", "preprocessing", "presets", "rules", "sampling", "segmentation",
    "sources", "tuning", "utils",
])

__all__ = ["ECGRecords", "concat_records", "iter_batches", "__version__"]

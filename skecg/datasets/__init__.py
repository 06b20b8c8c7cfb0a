"""Datasets: the bundled real sample (offline)."""

import lazy_loader as _lazy

# submodules load on first use of one of their names
__getattr__, __dir__, _ = _lazy.attach(__name__, submod_attrs={
    "_sample": ["load_sample", "sample_summary"],
})

__all__ = ["load_sample", "sample_summary"]

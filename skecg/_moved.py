"""Deprecated aliases of public names that moved: one module ``__getattr__`` for every module."""

from __future__ import annotations

import importlib
import warnings


def moved_names(module: str, moved: dict, fallback=None):
    """A module ``__getattr__`` that finds each name of ``moved`` in its new home, with a FutureWarning.

    Parameters
    ----------
    module : str
        The module the old names are looked up in (its ``__name__``).
    moved : dict
        ``{old name: (home module, new name)}``; the home is imported on access only.
    fallback : callable, optional
        ``__getattr__`` for every other name (a lazy face's); default: AttributeError.

    Examples
    --------
    >>> get = moved_names("mod", {"old_sqrt": ("math", "sqrt")})
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     get("old_sqrt")(4.0), str(w[0].message).split(";")[0]
    (2.0, 'mod.old_sqrt moved to math.sqrt')
    """

    def __getattr__(name):
        if name in moved:
            home, new = moved[name]
            warnings.warn(f"{module}.{name} moved to {home}.{new}; import it from there (the old name will be "
                          "removed in the next release)", FutureWarning, stacklevel=2)
            return getattr(importlib.import_module(home), new)
        if fallback is not None:
            return fallback(name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__

"""The stages of ``skecg reproduce`` (:mod:`skecg.apps.reproduce` is the command and its API).

:func:`skecg.apps.reproduce.run` runs four stages, one module each, on the systems of
:mod:`.protocols` (the papers' systems, sizes and published numbers):

1. :mod:`.data`, *load*: read the data folders, keep the chosen sources, apply the
   paper's data rules;
2. :mod:`.grid`, *grid*: the cells to run, each a (system, training set) pair with the
   record sets it is tested on;
3. :mod:`.cells`, *cells*: fit and predict each cell (or read it back from the cache
   ``OUT/cells/``);
4. :mod:`.report`, *report*: the tables (:mod:`.tables`), figures (:mod:`.figures`),
   ``report.html`` and ``report.md``.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__, submodules=["cells", "data", "figures", "grid", "protocols", "report", "tables"])

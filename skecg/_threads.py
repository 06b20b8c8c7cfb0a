"""How many threads ``n_jobs`` means in this process (one meaning, used everywhere)."""

from __future__ import annotations

import os


def local_threads(n_jobs) -> int:
    """Threads of this process for ``n_jobs``, counted as joblib counts (None: 1, -1:
    every core, -2: all but one), whatever joblib backend is active.

    Examples
    --------
    >>> local_threads(None), local_threads(3)
    (1, 3)
    """
    if n_jobs is None:
        return 1
    n = int(n_jobs)
    return max(1, (os.cpu_count() or 1) + 1 + n if n < 0 else n)

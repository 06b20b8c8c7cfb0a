"""How many threads ``n_jobs`` means in this process (one meaning, used everywhere)."""

from __future__ import annotations


def local_threads(n_jobs) -> int:
    """Threads of this process for ``n_jobs``, counted as joblib counts (None: 1, -1:
    every core joblib may use, -2: all but one), whatever joblib backend is active.

    Cores are ``joblib.cpu_count()``: the CPUs of this process's affinity mask, lowered
    by a container's CPU quota, as for every other ``n_jobs`` of skecg (those go to
    joblib itself).

    Examples
    --------
    >>> local_threads(None), local_threads(3)
    (1, 3)
    """
    if n_jobs is None:
        return 1
    n = int(n_jobs)
    if n >= 0:
        return max(1, n)
    from joblib import cpu_count  # only to count cores: keeps `import skecg` from importing joblib

    return max(1, cpu_count() + 1 + n)

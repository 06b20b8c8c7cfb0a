"""Walking an estimator tree: the one walker that finds the estimators inside an estimator.

:func:`iter_estimators` yields every estimator held by an estimator (pipeline steps,
wrapped estimators, ensemble members, and with ``fitted=True`` the clones that
meta-estimators fit), each with its ``set_params``-style key.  Callers pick what they
look for by type: :func:`skecg.presets.networks` the networks of an unfitted system,
``skecg train`` every network it must attach callbacks to, ``skecg reproduce`` the
network that predicts.
"""

from __future__ import annotations

__all__ = ["is_estimator", "iter_estimators"]


def is_estimator(obj) -> bool:
    """Whether ``obj`` is an estimator instance (it has ``fit`` and ``get_params``).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> is_estimator(LogisticRegression()), is_estimator(LogisticRegression), is_estimator([])
    (True, False, False)
    """
    return not isinstance(obj, type) and hasattr(obj, "fit") and hasattr(obj, "get_params")


def _join(prefix: str, name) -> str:
    return f"{prefix}__{name}" if prefix else str(name)


def _contained(value, key: str):
    """``(key, estimator)`` of the estimators held in a value: the value itself, or the
    items of (nested) lists, tuples and dicts; a ``(name, estimator, ...)`` tuple (a
    pipeline step, an ensemble member) is keyed by its name."""
    if is_estimator(value):
        yield key, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[0], str) and is_estimator(item[1]):
                yield _join(key, item[0]), item[1]
            else:
                yield from _contained(item, _join(key, i))
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from _contained(item, _join(key, k))


def _attributes(obj, fitted: bool) -> list:
    """``[(name, value)]`` an estimator holds: its parameters, or with ``fitted`` its
    attributes, where a fitted copy of a parameter (``estimator_`` of ``estimator``)
    comes just before the parameter itself."""
    try:
        params = obj.get_params(deep=False)
    except (AttributeError, TypeError):  # an estimator-like object that cannot list its parameters
        return []
    if not fitted:
        return list(params.items())
    try:
        attrs = vars(obj)
    except TypeError:  # no __dict__: only its parameters are known
        return list(params.items())
    out = []
    for name, value in attrs.items():
        if name.endswith("_") and name[:-1] in params and name[:-1] in attrs:
            continue  # met with its parameter
        if name in params and name + "_" in attrs:
            out.append((name + "_", attrs[name + "_"]))
        out.append((name, value))
    return out


def iter_estimators(estimator, *, fitted: bool = False, stop_at=()):
    """Yield ``(key, estimator)`` for ``estimator`` and every estimator inside it.

    Depth first, each estimator before the ones it holds, in the order it holds them
    (a pipeline's steps in order), each object once.

    Parameters
    ----------
    estimator : estimator
    fitted : bool, default=False
        False: through the parameters (``get_params(deep=False)``) only, the tree
        ``set_params`` sets.  True: through every attribute too, so the fitted clones
        that meta-estimators hold (``estimator_``, ``estimators_``, ...) are met; a
        parameter's fitted copy (``estimator_`` of ``estimator``) comes before the
        parameter, so the first fitted estimator of a type met is the one that
        predicts.
    stop_at : type or tuple of types, default=()
        Yield estimators of these types but do not look inside them (a network's
        callbacks and module are not what callers look for).

    Yields
    ------
    key : str
        ``''`` for ``estimator`` itself, else the ``set_params`` prefix without its
        trailing ``__``: a pipeline step by its name (``'prep__pad'``), a wrapped
        estimator by its parameter (``'estimator'``), a member of a list of
        ``(name, estimator)`` by ``'PARAM__NAME'`` (``'estimators__long'``), other
        list items by index; with ``fitted``, attribute names (``'estimator_'``).
    estimator : estimator

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import Pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    >>> [(key, type(est).__name__) for key, est in iter_estimators(pipe)]
    [('', 'Pipeline'), ('scale', 'StandardScaler'), ('clf', 'LogisticRegression')]
    """
    seen = set()
    stack = [("", estimator)]
    while stack:
        key, est = stack.pop()
        if id(est) in seen:
            continue
        seen.add(id(est))
        yield key, est
        if stop_at and isinstance(est, stop_at):
            continue
        children = []
        for name, value in _attributes(est, fitted):
            if name == "steps" and isinstance(value, list):  # a pipeline's steps: keyed by their names alone
                children += [(_join(key, n), s) for n, s, *_ in value if is_estimator(s)]
            else:
                children += list(_contained(value, _join(key, name)))
        stack += reversed(children)

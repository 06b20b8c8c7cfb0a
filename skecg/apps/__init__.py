"""The application layer: the command line, the demo and the experiment runners.

These modules are built only on skecg's public API (``skecg``, ``skecg.io``,
``skecg.models``, ``skecg.metrics``, ...), the way a user's own scripts would be; no
library module imports them (``tests/test_layers.py`` checks both).

- :mod:`skecg.apps.cli`: the ``skecg`` command (``skecg evaluate``, ``train``,
  ``predict``, ``convert``, ``reproduce``, ...);
- :mod:`skecg.apps.demo`: ``make demo`` / ``python -m skecg.apps.demo``, an offline
  end-to-end run on the bundled sample;
- :mod:`skecg.apps.experiments`: named pipelines, cross-source evaluation (locally or
  on a dask cluster) and paired comparisons of systems;
- :mod:`skecg.apps.reproduce`: ``skecg reproduce``, the published tables re-run with
  an HTML report (its stages in ``skecg/apps/_reproduce/``).

:mod:`skecg.apps.cli` imports the command modules (``train``, ``reproduce``,
``export_cmd``, ``inspect_cmd``); they import what they share from
``skecg.apps._common`` (data folders, model files, the skip report, the networks of a
fitted estimator), never the command line back.
"""

"""Sphinx configuration: API reference from numpydoc docstrings, gallery from examples/."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "skecg"
author = "skecg developers"
release = "0.1.0"
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
templates_path = ["_templates"]
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
html_theme = "alabaster"
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # the examples train networks for minutes; run them with `python examples/<name>.py`
    "plot_gallery": "False",
    "download_all_examples": False,
}
nitpicky = False
suppress_warnings = ["autosummary.import_cycle"]

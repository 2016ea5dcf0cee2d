"""Sphinx configuration for sklearn-sain."""

import sklearn_sain

project = "sklearn-sain"
author = "the sklearn-sain developers"
copyright = "2026, the sklearn-sain developers"
release = sklearn_sain.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
]
autosummary_generate = True
numpydoc_show_class_members = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
intersphinx_mapping = {}

"""Sphinx configuration for sklearn-sain."""

import os

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
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
# the class template lists the methods of each class and of its own mixins; the
# scikit-learn ones (score, get_params, ...) are left to scikit-learn's docs
templates_path = ["_templates"]
numpydoc_show_class_members = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # CI runs the examples as scripts; set SKLEARN_SAIN_RUN_EXAMPLES=1 to also
    # run them here and put their output and figures on the pages
    "plot_gallery": os.environ.get("SKLEARN_SAIN_RUN_EXAMPLES", "0") == "1",
    "download_all_examples": False,
}

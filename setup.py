import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "sklearn_sain" / "__init__.py").read_text(), re.M
).group(1)

setup(
    name="sklearn-sain",
    version=VERSION,
    description="SAIN (Self-Attentive Integration Network) recommender as a scikit-learn estimator",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    packages=find_packages(include=["sklearn_sain", "sklearn_sain.*"]),
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.1",
        "scikit-learn>=1.6",
        "numpy>=1.24",
        "scipy>=1.10",
        "pandas>=2.0",
        "joblib>=1.3",
    ],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6", "dask[distributed]>=2023.1", "skops>=0.10",
                 "optuna>=3", "mlflow-skinny>=2.10"],
        "dask": ["dask[distributed]>=2023.1"],
        "docs": ["sphinx>=7", "numpydoc>=1.6", "sphinx-gallery>=0.15", "matplotlib>=3.7"],
        "bench": [
            "scikit-surprise",
            "myfm",
            # deepctr-torch imports requests without declaring it.
            "deepctr-torch",
            "requests",
            # the ALS and BPR rows of --task ranking
            "implicit",
            "matplotlib>=3.7",
        ],
    },
    entry_points={"console_scripts": ["sklearn-sain=sklearn_sain._cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: BSD License",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)

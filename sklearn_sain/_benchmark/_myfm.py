"""Bayesian factorization machines (myFM's Gibbs sampler, the MCMC method of LibFM)."""

from __future__ import annotations

import importlib
import sys
import types

from ._common import Fitted, Row, Timer, quiet
from ._features import SparseDesign

RANK = 10
N_ITER = 300
QUICK_N_ITER = 20


def import_myfm():
    """Import myfm; its ``__init__`` needs ``pkg_resources``, gone from recent setuptools.

    When that module is missing, a stand-in with the two names myfm imports is
    placed in ``sys.modules`` for the import only, then removed again.
    """
    if sys.modules.get("myfm") is not None:
        return sys.modules["myfm"]
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        stub = types.ModuleType("pkg_resources")

        class DistributionNotFound(Exception):
            pass

        def get_distribution(name):
            raise DistributionNotFound(name)

        stub.DistributionNotFound, stub.get_distribution = DistributionNotFound, get_distribution
        sys.modules["pkg_resources"] = stub
        try:
            return importlib.import_module("myfm")
        finally:
            if sys.modules.get("pkg_resources") is stub:
                del sys.modules["pkg_resources"]
    return importlib.import_module("myfm")


def _bfm(fields_of):
    def run(dataset, seed, ctx):
        myfm = import_myfm()
        fields = fields_of(dataset)
        (X_train, y_train) = dataset.train
        design = SparseDesign(fields).fit(X_train)
        n_iter = QUICK_N_ITER if ctx.quick else N_ITER
        model = myfm.MyFMRegressor(rank=RANK, random_seed=seed)
        with Timer() as t, quiet():  # quiet: myFM draws a progress bar
            matrix = design.transform(X_train)
            model.fit(matrix, y_train, n_iter=n_iter, n_kept_samples=n_iter // 2,
                      group_shapes=design.group_shapes_)  # fmt: skip
        predict = lambda X: model.predict(design.transform(X))  # noqa: E731
        return Fitted(predict, t.seconds, {"rank": RANK, "n_iter": n_iter, "fields": fields,
                                           "n_columns": int(matrix.shape[1])})

    return run


ROWS = [
    Row("myfm-ids", "Bayesian FM (myFM MCMC), ids only", "myfm",
        _bfm(lambda d: ["user_id", "item_id"]), requires=("myfm",),
        note=f"rank {RANK}, {N_ITER} Gibbs iterations, last half kept"),
    Row("myfm-side", "Bayesian FM (myFM MCMC), ids + side features", "myfm",
        _bfm(lambda d: ["user_id", "item_id", *d.features]), requires=("myfm",), paper="LibFM",
        note="multi-valued fields as normalised multi-hot blocks; one prior group per field"),
]

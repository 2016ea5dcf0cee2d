"""Bayesian factorization machines (myFM's Gibbs sampler, the MCMC method of LibFM)."""

from __future__ import annotations

import importlib
import sys
import types

import numpy as np
import scipy.sparse as sp

from ._common import Fitted, Row, Timer, quiet
from ._features import FieldCoder, SparseDesign

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


class ImplicitRelations:
    """SVD++-style implicit feedback for myFM: who rated what in the training data.

    Each row gains two normalised multi-hot blocks, the items its user rated
    and the users who rated its item (weights ``1 / sqrt(n)``, as in SVD++ and
    in SAINRegressor(implicit_feedback=True)), passed as myFM relation blocks
    so that the blocks are stored once per user and item, not once per rating.
    """

    def fit(self, X, user_col="user_id", item_col="item_id") -> "ImplicitRelations":
        self.user_col, self.item_col = user_col, item_col
        self.users_ = FieldCoder(user_col).fit(X[user_col])
        self.items_ = FieldCoder(item_col).fit(X[item_col])
        users, items = self._codes(X)
        pairs = sp.csr_matrix((np.ones(len(users)), (users, items)),
                              shape=(self.users_.size_, self.items_.size_))  # fmt: skip
        pairs.data[:] = 1.0  # repeated pairs count once
        # code 0 (unknown) owns no column: drop it, as SparseDesign does
        self.rated_ = self._normalise(pairs[:, 1:])  # users x items
        self.raters_ = self._normalise(pairs.T.tocsr()[:, 1:])  # items x users
        self.group_shapes_ = [self.rated_.shape[1], self.raters_.shape[1]]
        return self

    @staticmethod
    def _normalise(matrix):
        counts = np.asarray(matrix.getnnz(axis=1), dtype=np.float64)
        scale = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1.0)), 0.0)
        return sp.csr_matrix(sp.diags(scale) @ matrix)

    def _codes(self, X):
        first = lambda codes: np.array([c[0] if c else 0 for c in codes], dtype=np.int64)  # noqa: E731
        return (first(self.users_.codes(X[self.user_col])),
                first(self.items_.codes(X[self.item_col])))  # fmt: skip

    def blocks(self, X, myfm) -> list:
        users, items = self._codes(X)
        return [myfm.RelationBlock(users, self.rated_), myfm.RelationBlock(items, self.raters_)]


def _bfm_implicit(dataset, seed, ctx):
    myfm = import_myfm()
    (X_train, y_train) = dataset.train
    design = SparseDesign(["user_id", "item_id", *dataset.features]).fit(X_train)
    relations = ImplicitRelations().fit(X_train)
    n_iter = QUICK_N_ITER if ctx.quick else N_ITER
    model = myfm.MyFMRegressor(rank=RANK, random_seed=seed)
    with Timer() as t, quiet():
        matrix = design.transform(X_train)
        model.fit(matrix, y_train, X_rel=relations.blocks(X_train, myfm), n_iter=n_iter,
                  n_kept_samples=n_iter // 2,
                  group_shapes=design.group_shapes_ + relations.group_shapes_)  # fmt: skip
    predict = lambda X: model.predict(design.transform(X), relations.blocks(X, myfm))  # noqa: E731
    return Fitted(predict, t.seconds, {"rank": RANK, "n_iter": n_iter,
                                       "n_columns": int(matrix.shape[1])
                                       + sum(relations.group_shapes_)})


ROWS = [
    Row("myfm-ids", "Bayesian FM (myFM MCMC), ids only", "myfm",
        _bfm(lambda d: ["user_id", "item_id"]), requires=("myfm",), cold=False,
        note=f"rank {RANK}, {N_ITER} Gibbs iterations, last half kept"),
    Row("myfm-side", "Bayesian FM (myFM MCMC), ids + side features", "myfm",
        _bfm(lambda d: ["user_id", "item_id", *d.features]), requires=("myfm",), paper="LibFM",
        note="multi-valued fields as normalised multi-hot blocks; one prior group per field"),
    Row("myfm-side-implicit", "Bayesian FM (myFM MCMC), ids + side + implicit feedback", "myfm",
        _bfm_implicit, requires=("myfm",),
        note="the same information as SAIN's default: who rated what in training (SVD++ blocks)"),
]

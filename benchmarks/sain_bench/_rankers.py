"""Rows of the top-N benchmark (``--task ranking``; the protocol is in :mod:`._ranking`).

A row's ``run(dataset, seed, ctx)`` fits on the training split, makes every
choice on the validation task (NDCG@10) and returns a :class:`Ranked`, whose
``recommend(task)`` gives the top-n item ids of each user of a
:class:`._ranking.RankingTask`. Rows that see ids only (``cold=False``) are
not applicable under ``new-items``, whose candidates have no training row.
Peer packages (implicit, lightfm) and SAIN load when their row runs, so
``--list`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._common import Row, Timer, quiet
from ._ranking import ITEM_COL, USER_COL, evaluate, rank_by_scores, ranking_task

COLD_REASON = ("id-only model: the held-out candidate items have no training rows, so it "
               "cannot score them")  # fmt: skip
EASE_LAMBDAS = (50.0, 100.0, 200.0, 500.0, 1000.0)
# Gram matrices above this many items are inverted in float32: half the memory and
# time of float64 (Yelp's 13.7k items: about a minute per lambda on one thread).
EASE_FLOAT32_ABOVE = 4000
FACTORS = 64
# Grids of the implicit rows, chosen on validation. On MovieLens, ALS on binary data
# validates best with a strong regularization (10 at alpha 1; larger alphas did worse)
# and BPR overfits past 50-100 epochs at learning rate 0.01: the grids span those optima.
ALS_GRID = [{"regularization": r, "iterations": i, "alpha": 1.0}
            for r in (1.0, 3.0, 10.0, 30.0) for i in (15, 30)]  # fmt: skip
BPR_GRID = [{"regularization": r, "iterations": i, "learning_rate": 0.01}
            for r in (0.003, 0.01, 0.03) for i in (25, 50, 100)]  # fmt: skip
LIGHTFM_EPOCHS = (5, 10, 20, 40)  # validation checkpoints of one growing fit


@dataclass
class Ranked:
    """A ranker fitted on the training split (validation used for choices only)."""

    recommend: Callable  # RankingTask -> list of item-id arrays, best first
    fit_seconds: float
    info: dict = field(default_factory=dict)


@dataclass
class RankRow(Row):
    """A :class:`._common.Row` of the ranking table, with its own reasons not to run.

    ``install_hint`` follows the "not installed" reason.
    """

    install_hint: str = "pip install sklearn-sain[bench]"

    def not_applicable(self, protocol: str) -> str | None:
        return None if protocol == "warm" or self.cold else COLD_REASON


# ------------------------------------------------------------------ helpers
class Interactions:
    """The training split as a binary user x item CSR matrix (every rating counts once)."""

    def __init__(self, X: pd.DataFrame, dtype=np.float32):
        self.users = pd.Index(np.unique(X[USER_COL].to_numpy()))
        self.items = pd.Index(np.unique(X[ITEM_COL].to_numpy()))
        rows = self.users.get_indexer(X[USER_COL])
        columns = self.items.get_indexer(X[ITEM_COL])
        matrix = sp.csr_matrix((np.ones(len(rows), dtype=dtype), (rows, columns)),
                               shape=(len(self.users), len(self.items)))  # fmt: skip
        matrix.sum_duplicates()
        matrix.data[:] = 1  # a repeated pair is one interaction
        self.matrix = matrix

    def scorer(self, candidates, user_scores: Callable) -> Callable:
        """``users -> (users, candidates)`` from ``user_scores(training rows) -> (rows, items)``.

        Users absent from training score 0 everywhere (ties: item order);
        candidates absent from training score ``-inf`` (never recommended).
        """
        columns = self.items.get_indexer(candidates)

        def score(users):
            rows = self.users.get_indexer(users)
            out = np.zeros((len(users), len(candidates)))
            known = rows >= 0
            if known.any():
                out[known] = np.asarray(user_scores(rows[known]))[:, columns.clip(min=0)]
            out[:, columns < 0] = -np.inf
            return out

        return score


def _shared(ctx, row_key: str, dataset, build: Callable) -> Ranked:
    """``build()`` once per dataset for a row that ignores the seed; later seeds reuse it."""
    key = ("ranking", row_key, dataset.name, dataset.protocol, dataset.quick)
    if key in ctx.cache:
        cached = ctx.cache[key]
        return Ranked(cached.recommend, cached.fit_seconds, dict(cached.info, shared_fit=True))
    ctx.cache[key] = build()
    return ctx.cache[key]


def validation_task(dataset, ctx):
    key = ("ranking-validation-task", dataset.name, dataset.protocol, dataset.quick)
    if key not in ctx.cache:
        ctx.cache[key] = ranking_task(dataset, "validation")
    return ctx.cache[key]


def best_on_validation(dataset, ctx, candidates) -> Ranked:
    """The candidate of the best validation NDCG@10 (the first on ties); test is not touched.

    ``candidates`` yields ``(params, Ranked)`` pairs lazily. The result
    records ``selected``, ``grid`` (each candidate's params with its
    ``validation_ndcg``) and ``selection_seconds`` (fit seconds of all).
    """
    task = validation_task(dataset, ctx)
    best, grid, total = None, [], 0.0
    for params, ranked in candidates:
        score = evaluate(ranked.recommend(task), task)["ndcg"]
        total += ranked.fit_seconds
        grid.append({**params, "validation_ndcg": score})
        if best is None or score > best[0]:
            best = (score, params, ranked)
    _, params, ranked = best
    info = dict(ranked.info, selected=params, grid=grid, selection_seconds=total)
    return Ranked(ranked.recommend, ranked.fit_seconds, info)


def _same_for_everyone(item_scores: pd.Series) -> Callable:
    """``task -> lists`` ranking every user's candidates by one score per item."""
    def recommend(task):
        scores = item_scores.reindex(task.candidates).to_numpy(dtype=np.float64)
        return rank_by_scores(task, lambda users: np.broadcast_to(scores, (len(users),
                                                                           len(scores))))
    return recommend


# ------------------------------------------------------------------ id-only rows
def _most_popular(dataset, seed, ctx):
    def build():
        with Timer() as t:
            counts = dataset.train[0][ITEM_COL].value_counts()  # training ratings per item
        return Ranked(_same_for_everyone(counts.astype(float)), t.seconds)

    return _shared(ctx, "most-popular", dataset, build)


def ease_weights(matrix, lam: float, dtype=np.float64) -> np.ndarray:
    """EASE's item-item weights (Steck, WWW 2019) for a user x item matrix ``matrix``.

    ``B = argmin ||X - XB||^2 + lam ||B||^2`` subject to ``diag(B) = 0``; in
    closed form ``B = I - P diag(1 / diag(P))`` with ``P = (X'X + lam I)^-1``,
    that is ``B_ij = -P_ij / P_jj`` off the diagonal. ``P`` comes from a
    Cholesky factorisation (LAPACK potrf / potri), half the work of ``inv``.
    """
    from scipy.linalg import LinAlgError, get_lapack_funcs

    gram = (matrix.T @ matrix).toarray().astype(dtype, copy=False)
    gram[np.diag_indices_from(gram)] += lam
    # gram is symmetric, so its transpose is the same matrix in the Fortran order
    # that LAPACK works in: no copy
    potrf, potri = get_lapack_funcs(("potrf", "potri"), (gram,))
    factor, info = potrf(gram.T, lower=False, overwrite_a=True)
    if info:
        raise LinAlgError(f"EASE: X'X + {lam} I is not positive definite (potrf {info})")
    inverse, info = potri(factor, lower=False, overwrite_c=True)
    if info:
        raise LinAlgError(f"EASE: potri failed ({info})")
    weights = np.triu(inverse)  # potri fills the upper triangle only
    weights += np.triu(weights, 1).T
    weights /= -np.diag(weights).copy()  # column j over -P_jj
    np.fill_diagonal(weights, 0.0)
    return weights


def _ease(dataset, seed, ctx):
    def candidates(interactions):
        dtype = np.float64 if len(interactions.items) <= EASE_FLOAT32_ABOVE else np.float32
        history = interactions.matrix.astype(dtype)
        for lam in EASE_LAMBDAS:
            with Timer() as t:
                weights = ease_weights(interactions.matrix, lam, dtype)

            def recommend(task, weights=weights):
                return rank_by_scores(task, interactions.scorer(
                    task.candidates, lambda rows: history[rows] @ weights))

            yield {"lambda": lam}, Ranked(recommend, t.seconds, {"dtype": np.dtype(dtype).name})

    def build():
        interactions = Interactions(dataset.train[0])
        return best_on_validation(dataset, ctx, candidates(interactions))

    return _shared(ctx, "ease", dataset, build)


def _factor_recommender(interactions, user_factors, item_factors) -> Callable:
    user_factors = np.asarray(user_factors, dtype=np.float64)
    item_factors = np.asarray(item_factors, dtype=np.float64)

    def recommend(task):
        return rank_by_scores(task, interactions.scorer(
            task.candidates, lambda rows: user_factors[rows] @ item_factors.T))

    return recommend


def _implicit_row(kind: str, grid: list) -> Callable:
    """Run ``implicit``'s CPU ALS or BPR (64 factors, one thread) over ``grid``."""
    def run(dataset, seed, ctx):
        if kind == "als":
            from implicit.cpu.als import AlternatingLeastSquares as Model
        else:
            from implicit.cpu.bpr import BayesianPersonalizedRanking as Model
        interactions = Interactions(dataset.train[0])

        def candidates():
            for params in grid[:2] if ctx.quick else grid:
                if ctx.max_epochs is not None:  # --quick only shortens the grid: fits are cheap
                    params = dict(params, iterations=min(params["iterations"], ctx.max_epochs))
                model = Model(factors=FACTORS, random_state=seed, num_threads=1, **params)
                with Timer() as t, quiet():
                    model.fit(interactions.matrix, show_progress=False)
                recommend = _factor_recommender(interactions, model.user_factors,
                                                model.item_factors)  # fmt: skip
                yield params, Ranked(recommend, t.seconds, {"factors": FACTORS})

        return best_on_validation(dataset, ctx, candidates())

    return run


def _lightfm_warp(dataset, seed, ctx):
    """LightFM with the WARP loss on ids (no features), epochs chosen on validation."""
    from lightfm import LightFM

    interactions = Interactions(dataset.train[0])
    model = LightFM(no_components=FACTORS, loss="warp", random_state=seed)
    matrix = interactions.matrix.tocoo()

    def candidates():
        done, seconds = 0, 0.0
        for epochs in sorted({ctx.epochs(e) for e in LIGHTFM_EPOCHS}):
            with Timer() as t:  # one fit grows; each checkpoint is scored on validation
                model.fit_partial(matrix, epochs=epochs - done, num_threads=1)
            done, seconds = epochs, seconds + t.seconds
            item_bias, item_vectors = model.get_item_representations()
            _, user_vectors = model.get_user_representations()
            # the item bias as one more factor (the user's bias does not change its ranking)
            recommend = _factor_recommender(
                interactions, np.c_[user_vectors, np.ones(len(user_vectors))],
                np.c_[item_vectors, item_bias])
            yield {"epochs": epochs}, Ranked(recommend, seconds, {"factors": FACTORS})

    return best_on_validation(dataset, ctx, candidates())


# ------------------------------------------------------------------ content rows
def value_table(table: pd.DataFrame, id_col: str, columns) -> pd.DataFrame:
    """Long form of ``table``: one ``(id, column, value)`` row per feature value.

    Multi-valued cells (lists) give one row per element; missing values and
    empty lists give none.
    """
    parts = []
    for column in columns:
        values = table[[id_col, column]].explode(column).dropna(subset=[column])
        parts.append(pd.DataFrame({"id": values[id_col].to_numpy(), "column": column,
                                   "value": values[column].to_numpy()}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def _feature_popularity(dataset, seed, ctx):
    """A new item's score: the mean, over its feature values, of each value's popularity.

    A value's popularity is the mean training count of the training items
    holding it; values no training item holds are left out of the mean, and
    an item without a known value gets the mean training count of all items.
    """
    def build():
        X_train = dataset.train[0]
        columns = list(dataset.item_features)
        with Timer() as t:
            counts = X_train[ITEM_COL].value_counts()
            items = X_train.drop_duplicates(ITEM_COL, keep="last")
            held = value_table(items, ITEM_COL, columns)
            held["count"] = counts.reindex(held["id"]).to_numpy(dtype=float)
            popularity = held.groupby(["column", "value"])["count"].mean()
            fallback = float(counts.mean())

        def recommend(task):
            values = value_table(task.item_table, ITEM_COL, columns)
            keys = pd.MultiIndex.from_frame(values[["column", "value"]])
            values["score"] = popularity.reindex(keys).to_numpy()
            scores = values.groupby("id")["score"].mean()  # NaN (unknown values) skipped
            return _same_for_everyone(scores.reindex(task.candidates).fillna(fallback))(task)

        return Ranked(recommend, t.seconds, {"fallback": fallback})

    return _shared(ctx, "feature-popularity", dataset, build)


# ------------------------------------------------------------------ SAIN rows
def _fit_sain(dataset, seed, ctx):
    """SAINRegressor at the package defaults, early-stopped on validation; one fit per seed."""
    from sklearn_sain import SAINRegressor
    from ._sain import effective_params

    key = ("ranking-sain", dataset.name, dataset.protocol, dataset.quick, seed)
    if key in ctx.cache:
        model, seconds = ctx.cache[key]
        return model, seconds, True
    model = SAINRegressor(**effective_params({}, dataset, seed, ctx))
    with Timer() as t:
        model.fit(*dataset.train, eval_set=dataset.validation)
    ctx.cache[key] = (model, t.seconds)
    return model, t.seconds, False


def sain_recommend(model, task, rank_by: str | None) -> list:
    """``model.recommend`` over the task, then the task's exclusions applied here.

    ``exclude_seen=True`` leaves out the items each user rated in training;
    the task also excludes a test user's validation items, which the model
    never saw. So the model is asked for ``n`` plus the most items any user
    has excluded, the excluded ones are dropped from its lists and the first
    ``n`` kept: at least ``n`` remain whenever that many candidates do, and
    the filter does not depend on how the model matches its own seen pairs.
    The candidates' features always go in ``item_features`` (the held-out
    items of new-items need them; for known items they are the same), and
    those of evaluated users absent from training in ``user_features``.
    """
    extra = max((len(p) for p in task.excluded), default=0)
    lists = model.recommend(task.users, n=task.n + extra, items=task.candidates,
                            item_features=task.item_table, user_features=task.new_user_table,
                            exclude_seen=True, rank_by=rank_by)  # fmt: skip
    excluded = pd.DataFrame({
        "user": np.repeat(task.users, [len(p) for p in task.excluded]),
        "item": task.candidates[np.concatenate([np.zeros(0, dtype=np.int64), *task.excluded])],
        "excluded": True,
    })  # fmt: skip
    marked = lists.merge(excluded, on=["user", "item"], how="left")
    kept = marked[marked["excluded"].isna()].sort_values(["user", "rank"], kind="stable")
    by_user = kept.groupby("user", sort=False).head(task.n).groupby("user")["item"].agg(list)
    return [np.asarray(by_user.get(u, [])) for u in task.users]


def _sain_row(rank_by: str | None) -> Callable:
    def run(dataset, seed, ctx):
        model, seconds, shared = _fit_sain(dataset, seed, ctx)
        selected = {"epoch": int(model.best_epoch_)}
        history = getattr(model, "choice_history_", None)
        if history is not None:
            selected.update(choice_epoch=int(history["best_epoch"]),
                            rating_weight=float(history["rating_weight"]))
        info = {"rank_by": rank_by or "default", "epochs_run": int(model.n_iter_),
                "selected": selected}
        if shared:
            info["shared_fit"] = True
        return Ranked(lambda task: sain_recommend(model, task, rank_by), seconds, info)

    return run


def _values(grid: list, name: str) -> str:
    return ", ".join(f"{v:g}" for v in dict.fromkeys(p[name] for p in grid))


RANK_ROWS = [
    RankRow("most-popular", "Most popular (training counts)", "baseline", _most_popular,
            cold=False, note="every user gets the items with the most training ratings"),
    RankRow("ease", "EASE (closed form)", "ease", _ease, cold=False,
            note="item-item weights on the binary training matrix; lambda chosen on "
                 f"validation NDCG@10 from {', '.join(f'{v:g}' for v in EASE_LAMBDAS)}"),
    RankRow("implicit-als", "implicit ALS (64 factors)", "implicit", _implicit_row("als", ALS_GRID),
            requires=("implicit",), cold=False,
            note=f"regularization ({_values(ALS_GRID, 'regularization')}) and iterations "
                 f"({_values(ALS_GRID, 'iterations')}) chosen on validation NDCG@10; alpha 1"),
    RankRow("implicit-bpr", "implicit BPR (64 factors)", "implicit", _implicit_row("bpr", BPR_GRID),
            requires=("implicit",), cold=False,
            note=f"regularization ({_values(BPR_GRID, 'regularization')}) and iterations "
                 f"({_values(BPR_GRID, 'iterations')}) chosen on validation NDCG@10; learning "
                 "rate 0.01"),
    RankRow("lightfm-warp", "LightFM WARP (64 factors, ids only)", "lightfm", _lightfm_warp,
            requires=("lightfm",), cold=False,
            install_hint="pip install lightfm; it builds from source, which fails on some "
                         "machines",
            note=f"epochs chosen on validation from {', '.join(map(str, LIGHTFM_EPOCHS))}"),
    RankRow("feature-popularity", "Feature popularity (item features)", "baseline",
            _feature_popularity,
            note="a candidate's score is the mean, over its item feature values, of the mean "
                 "training count of the training items holding the value"),
    RankRow("sain", "SAIN (package defaults): choice and rating combined", "sain",
            _sain_row(None),
            note="fitted with the validation split as eval_set; recommend() at its default, "
                 "rank_by='combined': the choice head's logit plus the standardised rating "
                 "times a weight chosen in fit on validation"),
    RankRow("sain-choice", "SAIN (package defaults), ranked by the choice head alone", "sain",
            _sain_row("choice"),
            note="the sain fit; recommend(rank_by='choice')"),
    RankRow("sain-rating", "SAIN (package defaults), ranked by predicted rating", "sain",
            _sain_row("rating"),
            note="the sain fit; recommend(rank_by='rating'), what recommend did before the "
                 "choice head"),
]  # fmt: skip

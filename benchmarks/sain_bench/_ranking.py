"""Top-N (ranking) benchmark: ``python benchmarks/run.py --task ranking``.

Protocol: the datasets are loaded as for the rating benchmark (MovieLens: the
paper's split; Yelp: its seeded 8:1:1 split) and every model is trained on
the training split only. A rating of at least 4 makes an item relevant to
its user. Test: every user with at least one relevant test item gets the top
10 of the candidate items, leaving out the items the user rated in training
or validation. Validation, which makes every choice (EASE's lambda, the
grids of ALS and BPR, SAIN's epochs), is the same with the validation split,
leaving out the items rated in training only; nothing is chosen on test.
Candidates: under the warm protocol every item of the training split (an
item that only later splits mention has no training row; a relevant one
still counts, as a miss, in the recall of every model); under new-items the
items held out for the evaluated split, which no training row mentions, so
rows that know ids only are not applicable. Metrics at 10, averaged over
the users: precision (hits / 10), recall (hits / the user's relevant items),
NDCG with binary gains (ideal DCG over min(relevant, 10) hits), MAP
(the precision at each hit, summed, over min(relevant, 10)); catalogue
coverage is the share of the candidates recommended to at least one user.
Ties are broken by item id: a stable sort on the negated scores of the
candidates in ascending id order.

The rows live in :mod:`._rankers`; the report in :mod:`._ranking_report`.
``new-users`` is refused: its test users have no training history for the
id-only rows and its exclusions would be empty, a different question.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from ._common import Context, match_rows, record_failure, row_meta, skipped
from ._data import start_run
from ._options import PROTOCOL_DESCRIPTIONS

RELEVANT_RATING = 4.0  # a rating >= this makes an item relevant (MovieLens, Yelp: 1-5 stars)
TOP_N = 10
RANKING_PROTOCOLS = ("warm", "new-items")
METRICS = ("precision", "recall", "ndcg", "map", "coverage")
USER_COL, ITEM_COL = "user_id", "item_id"


# ------------------------------------------------------------------ protocol
@dataclass(frozen=True, eq=False)
class RankingTask:
    """What one evaluation asks of a ranker: who, among which items, and what to leave out.

    ``users`` are the evaluated users (ascending); ``candidates`` the items
    to rank (ascending: the tie order). ``relevant[k]`` holds the relevant
    items of ``users[k]`` (some may be outside the candidates: misses for
    every model); ``excluded[k]`` the positions, in ``candidates``, of the
    items the user rated in the splits before this one (training, and for a
    test user validation too).
    ``item_table`` has one row per candidate (the id and the item feature
    columns); ``new_user_table`` the same for evaluated users that training
    does not mention (None when there are none).
    """

    split: str
    users: np.ndarray
    candidates: np.ndarray
    relevant: list
    excluded: list
    item_table: pd.DataFrame
    new_user_table: pd.DataFrame | None
    n: int = TOP_N


def feature_table(frames, id_col: str, columns, ids) -> pd.DataFrame:
    """One row per id of ``ids`` (in that order): the id and ``columns`` from its last row."""
    rows = pd.concat([X[[id_col, *columns]] for X in frames], ignore_index=True)
    rows = rows.drop_duplicates(id_col, keep="last").set_index(id_col)
    table = rows.reindex(pd.Index(ids, name=id_col)).reset_index()
    return table[[id_col, *columns]]


def _per_user(frame: pd.DataFrame, users: np.ndarray) -> list:
    """``frame``'s item column grouped by user, as one array per user of ``users`` (ascending)."""
    frame = frame.sort_values([USER_COL, ITEM_COL], kind="stable")
    u = frame[USER_COL].to_numpy()
    items = frame[ITEM_COL].to_numpy()
    starts = np.searchsorted(u, users, side="left")
    ends = np.searchsorted(u, users, side="right")
    return [items[a:b] for a, b in zip(starts, ends)]


def ranking_task(dataset, split: str, n: int = TOP_N) -> RankingTask:
    """The :class:`RankingTask` of ``dataset``'s ``"validation"`` or ``"test"`` split."""
    if dataset.protocol not in RANKING_PROTOCOLS:
        raise ValueError(f"--task ranking supports the protocols {list(RANKING_PROTOCOLS)}, "
                         f"not {dataset.protocol!r}")  # fmt: skip
    (X_train, _), (X_val, _) = dataset.train, dataset.validation
    X_eval, y_eval = dataset.validation if split == "validation" else dataset.test
    earlier = [X_train] if split == "validation" else [X_train, X_val]
    source = X_train if dataset.protocol == "warm" else X_eval
    candidates = np.unique(source[ITEM_COL].to_numpy())
    liked = X_eval.loc[np.asarray(y_eval, dtype=float) >= RELEVANT_RATING, [USER_COL, ITEM_COL]]
    liked = liked.drop_duplicates()
    users = np.unique(liked[USER_COL].to_numpy())
    # the candidates each user rated before: by position, since ranking works on positions
    seen = pd.concat([X[[USER_COL, ITEM_COL]] for X in earlier])
    seen = seen[seen[USER_COL].isin(users)]
    position = pd.Index(candidates).get_indexer(seen[ITEM_COL])
    seen = seen.assign(**{ITEM_COL: position})[position >= 0]
    frames = [X_train, X_val, dataset.test[0]]
    unseen_users = users[~np.isin(users, X_train[USER_COL].unique())]
    return RankingTask(
        split=split, users=users, candidates=candidates, relevant=_per_user(liked, users),
        excluded=[np.unique(p) for p in _per_user(seen, users)],
        item_table=feature_table(frames, ITEM_COL, dataset.item_features, candidates),
        new_user_table=(feature_table(frames, USER_COL, dataset.user_features, unseen_users)
                        if len(unseen_users) else None),
        n=n,
    )  # fmt: skip


# ------------------------------------------------------------------ ranking
def top_positions(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` best finite scores of one row, best first; ties by position.

    ``-inf`` (and NaN, a broken score) marks an excluded candidate, never
    returned, so fewer than ``n`` positions come back when fewer remain.
    """
    scores = np.where(np.isnan(scores), -np.inf, scores)
    k = min(n, len(scores))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    # partition finds the k-th best score in linear time; only the candidates at or
    # above it are sorted, stably, so equal scores keep their position order
    threshold = np.partition(scores, len(scores) - k)[len(scores) - k]
    above = np.flatnonzero(scores >= threshold)
    best = above[np.argsort(-scores[above], kind="stable")[:k]]
    return best[np.isfinite(scores[best])]


def rank_by_scores(task: RankingTask, score_users, batch: int = 512) -> list:
    """Top-n item ids per user of ``task`` from ``score_users(user ids) -> (users, candidates)``.

    The user's excluded candidates are set to ``-inf`` first; users are
    scored ``batch`` at a time so that a large catalogue's score matrix
    stays small.
    """
    ranked = []
    for lo in range(0, len(task.users), batch):
        users = task.users[lo:lo + batch]
        scores = np.array(score_users(users), dtype=np.float64)  # a copy: excluded set below
        for row, excluded in enumerate(task.excluded[lo:lo + batch]):
            scores[row, excluded] = -np.inf
            ranked.append(task.candidates[top_positions(scores[row], task.n)])
    return ranked


# ------------------------------------------------------------------ metrics
def user_metrics(recommended, relevant, n: int = TOP_N) -> dict:
    """Precision, recall, NDCG and average precision at ``n`` of one user's list."""
    recommended = np.asarray(recommended)[:n]
    hits = np.isin(recommended, np.asarray(relevant)).astype(float)
    n_relevant = len(np.unique(relevant))
    discounts = 1.0 / np.log2(np.arange(2, n + 2))
    ideal = discounts[:min(n_relevant, n)].sum()
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return {
        "precision": hits.sum() / n,
        "recall": hits.sum() / n_relevant,
        "ndcg": float((hits * discounts[:len(hits)]).sum() / ideal),
        "map": float((precision_at * hits).sum() / min(n_relevant, n)),
    }


def evaluate(recommended: list, task: RankingTask) -> dict:
    """Mean of :func:`user_metrics` over the task's users, the coverage and the user count."""
    if len(recommended) != len(task.users):
        raise ValueError(f"{len(recommended)} lists for {len(task.users)} users")
    per_user = [user_metrics(r, rel, task.n) for r, rel in zip(recommended, task.relevant)]
    means = {m: float(np.mean([u[m] for u in per_user])) if per_user else float("nan")
             for m in ("precision", "recall", "ndcg", "map")}  # fmt: skip
    shown = np.unique(np.concatenate([np.asarray(r) for r in recommended])) if recommended else []
    means["coverage"] = len(shown) / len(task.candidates) if len(task.candidates) else float("nan")
    means["n_users"] = len(task.users)
    return means


# ------------------------------------------------------------------ runner
def select_rows(patterns=None) -> list:
    """Rows whose key or family matches one of the shell-style ``patterns`` (all if None)."""
    from ._rankers import RANK_ROWS

    return match_rows(RANK_ROWS, patterns, "ranking row")


def _describe(dataset, tasks) -> dict:
    described = dataset.describe()
    described["ranking"] = {
        f"{split}_{what}": len(getattr(task, attr))
        for split, task in tasks.items()
        for what, attr in (("users", "users"), ("candidates", "candidates"))
    }  # fmt: skip
    described["ranking"]["relevant_rating"] = RELEVANT_RATING
    return described


def run_ranking(data_dir, out, *, seeds=(0,), datasets=None, models=None, quick=False,
                max_epochs=None, device="cpu", threads=1, yelp_split_seed=0, verbose=0,
                log=print, argv=None, protocol="warm") -> dict:  # fmt: skip
    """Run the top-N benchmark and write ``results.json``, ``results.md`` and ``results.rst``.

    The arguments are those of :func:`._runner.run_benchmark`; ``threads``
    also caps the BLAS threads (EASE, ALS), as one thread is the fastest on
    a small, busy machine.
    """
    import torch
    from threadpoolctl import threadpool_limits

    if protocol not in RANKING_PROTOCOLS:
        raise SystemExit(f"benchmark --task ranking: --protocol {protocol} is not supported "
                         f"(choose {' or '.join(RANKING_PROTOCOLS)}): its test users have no "
                         "training history to exclude or to rank from")  # fmt: skip
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads or None):
            return _run(data_dir, out, seeds=seeds, datasets=datasets, models=models,
                        quick=quick, max_epochs=max_epochs, device=device, threads=threads,
                        yelp_split_seed=yelp_split_seed, verbose=verbose, log=log, argv=argv,
                        protocol=protocol)  # fmt: skip
    finally:
        torch.set_num_threads(previous)


def _run(data_dir, out, *, seeds, datasets, models, quick, max_epochs, device, threads,
         yelp_split_seed, verbose, log, argv, protocol) -> dict:  # fmt: skip
    from ._ranking_report import summarise, write_outputs

    rows = select_rows(models)
    out, machine, found, missing = start_run(out, data_dir, datasets, protocol=protocol,
                                             quick=quick, yelp_split_seed=yelp_split_seed,
                                             log=log)  # fmt: skip
    ctx = Context(quick=quick, device=device, max_epochs=max_epochs, verbose=verbose, log=log)
    general = __doc__.split("\n\n")[1].strip().replace("\n", " ")  # the protocol paragraph
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")  # noqa: UP017 (3.10)
    report = {
        "task": "ranking",
        "created": created,
        "command": argv if argv is not None else sys.argv,
        "options": {"data_dir": str(data_dir), "seeds": list(seeds), "quick": quick,
                    "max_epochs": max_epochs, "device": device, "threads": threads,
                    "yelp_split_seed": yelp_split_seed, "models": models, "datasets": datasets,
                    "protocol": protocol, "task": "ranking", "top_n": TOP_N},
        "protocol": f"{general} Split protocol {protocol}: {PROTOCOL_DESCRIPTIONS[protocol]}.",
        "machine": machine, "datasets": {}, "missing_datasets": missing,
        "rows": [row_meta(r) for r in rows], "results": [], "skipped": [], "errors": [],
    }  # fmt: skip
    started = time.perf_counter()
    for dataset in found:
        tasks = {split: ranking_task(dataset, split) for split in ("validation", "test")}
        report["datasets"][dataset.name] = _describe(dataset, tasks)
        log(f"\n== {dataset.title}: {len(tasks['test'].users)} test users, "
            f"{len(tasks['test'].candidates)} candidate items")  # fmt: skip
        for row in rows:
            if skipped(report, dataset, row, protocol, log):
                continue
            for seed in seeds:
                try:
                    fitted = row.run(dataset, seed, ctx)
                    scores = {split: evaluate(fitted.recommend(task), task)
                              for split, task in tasks.items()}  # the one test look
                except Exception as exc:  # noqa: BLE001 (one failing row must not end the run)
                    record_failure(report, dataset, row, seed, exc, log)
                    break
                record = {"dataset": dataset.name, "row": row.key, "label": row.label,
                          "family": row.family, "seed": seed, "protocol": protocol,
                          "fit_seconds": fitted.fit_seconds, "info": fitted.info}  # fmt: skip
                for split, values in scores.items():
                    record.update({f"{split}_{k}": v for k, v in values.items()})
                report["results"].append(record)
                log(f"  {row.label} seed {seed}: valid NDCG@{TOP_N} "
                    f"{record['validation_ndcg']:.4f}, test P@{TOP_N} "
                    f"{record['test_precision']:.4f} R@{TOP_N} {record['test_recall']:.4f} "
                    f"NDCG@{TOP_N} {record['test_ndcg']:.4f}, fit {fitted.fit_seconds:.1f}s")
            report["summary"] = summarise(report)
            report["elapsed_seconds"] = time.perf_counter() - started
            write_outputs(report, out)  # keep partial results of long runs
    report["summary"] = summarise(report)
    report["elapsed_seconds"] = time.perf_counter() - started
    written = write_outputs(report, out)
    log(f"\nwrote {', '.join(str(p) for p in written)}")
    return report


def run_from_args(args) -> int:
    """``benchmark --task ranking``: ``--list`` the rows or run them."""
    from ._rankers import RANK_ROWS

    if args.list:
        for row in RANK_ROWS:
            where = "" if row.cold else " [warm only: id-only]"
            print(f"{row.key:28s} {row.family:14s} {row.label}{where}")
        return 0
    run_ranking(args.data_dir, args.out, seeds=args.seeds, datasets=args.datasets,
                models=args.models, quick=args.quick, max_epochs=args.max_epochs,
                device=args.device, threads=args.threads, yelp_split_seed=args.yelp_split_seed,
                verbose=args.verbose, argv=getattr(args, "argv", None), protocol=args.protocol)
    return 0

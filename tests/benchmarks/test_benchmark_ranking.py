"""Tests of the top-N benchmark (``benchmark --task ranking``) on tiny hand-made data.

No shared data is needed; the implicit rows are tested where implicit is
installed.
"""

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sain_bench import _data, _rankers, _ranking
from sain_bench._common import Context
from sain_bench import main

LOG2 = np.log2


def _dataset(train, validation, test, protocol="warm", name="tiny"):
    """A Dataset from ``(user, item, rating, genre)`` tuples per split; genre is the item's."""
    def split(rows):
        X = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "genre"])
        X["age"] = X["user_id"] % 3
        return X.drop(columns="rating")[["user_id", "item_id", "age", "genre"]], \
            X["rating"].to_numpy(float)

    dataset = _data.Dataset(name, name, split(train), split(validation), split(test), ["age"],
                            ["genre"])  # fmt: skip
    if protocol != "warm":
        dataset.extra["protocol"] = protocol
    return dataset


# items 10..14; genre a for 10-12, b for 13-14. Training popularity: 10 > 11 > 12 > 13 = 14.
TRAIN = [(1, 10, 5, "a"), (2, 10, 4, "a"), (3, 10, 1, "a"), (1, 11, 3, "a"), (2, 11, 2, "a"),
         (3, 12, 5, "a"), (4, 13, 4, "b"), (4, 14, 4, "b")]  # fmt: skip
VALID = [(1, 12, 5, "a"), (2, 13, 2, "b"), (4, 10, 4, "a")]
TEST = [(1, 13, 4, "b"), (1, 14, 5, "b"), (2, 12, 3, "a"), (3, 11, 4, "a"), (3, 15, 5, "c"),
        (4, 11, 5, "a")]  # fmt: skip


# --------------------------------------------------------------------------- metrics


def test_user_metrics_against_hand_computed_values():
    # hits at ranks 2 and 4 of 4 recommended; 3 relevant items (one never recommended)
    got = _ranking.user_metrics(["a", "b", "c", "d"], ["b", "d", "x"], n=4)
    assert got["precision"] == pytest.approx(2 / 4)
    assert got["recall"] == pytest.approx(2 / 3)
    dcg = 1 / LOG2(3) + 1 / LOG2(5)
    assert got["ndcg"] == pytest.approx(dcg / (1 + 1 / LOG2(3) + 1 / LOG2(4)))
    assert got["map"] == pytest.approx((1 / 2 + 2 / 4) / 3)
    # more relevant items than n: the ideal DCG and MAP's denominator stop at n
    got = _ranking.user_metrics([1, 2, 3], list(range(1, 13)), n=3)
    assert got == pytest.approx({"precision": 1.0, "recall": 3 / 12, "ndcg": 1.0, "map": 1.0})
    # a short list (excluded items left fewer than n): precision still divides by n
    got = _ranking.user_metrics([7], [7], n=10)
    assert got == pytest.approx({"precision": 0.1, "recall": 1.0, "ndcg": 1.0, "map": 1.0})
    none = _ranking.user_metrics([1, 2], [3], n=10)
    assert none == pytest.approx({"precision": 0, "recall": 0, "ndcg": 0, "map": 0})


def test_evaluate_means_over_users_and_coverage():
    task = _ranking.RankingTask("test", np.array([1, 2]), np.array([10, 11, 12, 13]),
                                [np.array([10]), np.array([12, 13])], [np.zeros(0, int)] * 2,
                                item_table=None, new_user_table=None, n=2)  # fmt: skip
    got = _ranking.evaluate([np.array([10, 11]), np.array([11, 13])], task)
    assert got["precision"] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert got["recall"] == pytest.approx((1 + 1 / 2) / 2)
    ndcg_2 = (1 / LOG2(3)) / (1 + 1 / LOG2(3))
    assert got["ndcg"] == pytest.approx((1 + ndcg_2) / 2)
    assert got["map"] == pytest.approx((1 + (1 / 2) / 2) / 2)
    assert got["coverage"] == pytest.approx(3 / 4) and got["n_users"] == 2
    with pytest.raises(ValueError, match="lists for 2 users"):
        _ranking.evaluate([np.array([10])], task)


def test_top_positions_breaks_ties_by_position_and_drops_excluded():
    scores = np.array([1.0, 3.0, 3.0, -np.inf, 2.0, 3.0, np.nan])
    np.testing.assert_array_equal(_ranking.top_positions(scores, 3), [1, 2, 5])
    np.testing.assert_array_equal(_ranking.top_positions(scores, 4), [1, 2, 5, 4])
    # excluded (-inf) and broken (NaN) scores are never returned: fewer than n come back
    np.testing.assert_array_equal(_ranking.top_positions(scores, 10), [1, 2, 5, 4, 0])
    np.testing.assert_array_equal(_ranking.top_positions(np.zeros(5), 3), [0, 1, 2])
    assert len(_ranking.top_positions(np.zeros(0), 3)) == 0


# --------------------------------------------------------------------------- protocol


def test_ranking_task_users_candidates_and_exclusions():
    dataset = _dataset(TRAIN, VALID, TEST)
    test = _ranking.ranking_task(dataset, "test")
    np.testing.assert_array_equal(test.candidates, [10, 11, 12, 13, 14])  # training items
    # user 2's only test rating is a 3: not evaluated
    np.testing.assert_array_equal(test.users, [1, 3, 4])
    relevant = {u: sorted(r) for u, r in zip(test.users, test.relevant)}
    # item 15 is not a candidate (no training row) but stays relevant: a miss for everyone
    assert relevant == {1: [13, 14], 3: [11, 15], 4: [11]}
    excluded = {u: sorted(test.candidates[p]) for u, p in zip(test.users, test.excluded)}
    assert excluded == {1: [10, 11, 12], 3: [10, 12], 4: [10, 13, 14]}  # train + validation
    assert test.new_user_table is None
    assert list(test.item_table.columns) == ["item_id", "genre"]
    assert test.item_table["item_id"].tolist() == [10, 11, 12, 13, 14]

    valid = _ranking.ranking_task(dataset, "validation")
    np.testing.assert_array_equal(valid.users, [1, 4])  # user 2 gave a 2
    excluded = {u: sorted(valid.candidates[p]) for u, p in zip(valid.users, valid.excluded)}
    assert excluded == {1: [10, 11], 4: [13, 14]}  # training only


def test_ranking_task_new_items_ranks_the_held_out_items_only():
    dataset = _data.cold_protocol(_make_dataset(), "new-items")
    test = _ranking.ranking_task(dataset, "test")
    valid = _ranking.ranking_task(dataset, "validation")
    np.testing.assert_array_equal(test.candidates, np.unique(dataset.test[0]["item_id"]))
    np.testing.assert_array_equal(valid.candidates, np.unique(dataset.validation[0]["item_id"]))
    assert not set(test.candidates) & set(dataset.train[0]["item_id"])
    assert all(len(p) == 0 for p in test.excluded)  # nobody rated them before
    with pytest.raises(ValueError, match="protocols"):
        _ranking.ranking_task(_data.cold_protocol(_make_dataset(), "new-users"), "test")


def test_rank_by_scores_leaves_out_seen_items_and_keeps_item_order_on_ties():
    dataset = _dataset(TRAIN, VALID, TEST)
    task = _ranking.ranking_task(dataset, "test")
    flat = lambda users: np.zeros((len(users), len(task.candidates)))  # noqa: E731
    lists = _ranking.rank_by_scores(task, flat)
    expected = {1: [13, 14], 3: [11, 13, 14], 4: [11, 12]}
    assert {u: r.tolist() for u, r in zip(task.users, lists)} == expected
    lists = _ranking.rank_by_scores(task, flat, batch=1)  # batches give the same lists
    assert {u: r.tolist() for u, r in zip(task.users, lists)} == expected


# --------------------------------------------------------------------------- rows


def _run(key, dataset, **context):
    (row,) = [r for r in _rankers.RANK_ROWS if r.key == key]
    return row.run(dataset, 0, Context(quick=True, device="cpu", log=lambda *a: None, **context))


def test_most_popular_ranks_by_training_counts():
    dataset = _dataset(TRAIN, VALID, TEST)
    task = _ranking.ranking_task(dataset, "test")
    lists = _run("most-popular", dataset).recommend(task)
    # counts 10:3, 11:2, 12:1, 13:1, 14:1; ties 12/13/14 in item order
    assert [r.tolist() for r in lists] == [[13, 14], [11, 13, 14], [11, 12]]
    got = _ranking.evaluate(lists, task)
    assert got["recall"] == pytest.approx((1 + 1 / 2 + 1) / 3)


def test_ease_weights_match_a_direct_numpy_solve():
    rng = np.random.RandomState(0)
    X = (rng.rand(12, 6) < 0.4).astype(np.float32)
    for lam in (0.5, 10.0):
        P = np.linalg.inv(X.T.astype(float) @ X + lam * np.eye(6))
        expected = np.eye(6) - P / np.diag(P)  # B = I - P diag(1 / diag(P))
        np.fill_diagonal(expected, 0.0)
        got = _rankers.ease_weights(sp.csr_matrix(X), lam)
        np.testing.assert_allclose(got, expected, atol=1e-10)
        assert np.all(np.diag(got) == 0)
        single = _rankers.ease_weights(sp.csr_matrix(X), lam, np.float32)
        assert single.dtype == np.float32
        np.testing.assert_allclose(single, expected, atol=1e-4)


def test_ease_row_scores_histories_and_chooses_lambda_on_validation():
    dataset = _make_dataset()
    fitted = _run("ease", dataset)
    grid = fitted.info["grid"]
    assert [g["lambda"] for g in grid] == list(_rankers.EASE_LAMBDAS)
    best = max(grid, key=lambda g: g["validation_ndcg"])
    assert fitted.info["selected"] == {"lambda": best["lambda"]}
    # the chosen model's lists are its history times B, minus the seen items
    interactions = _rankers.Interactions(dataset.train[0])
    weights = _rankers.ease_weights(interactions.matrix, best["lambda"])
    task = _ranking.ranking_task(dataset, "test")
    rows = interactions.users.get_indexer(task.users)
    assert (rows >= 0).all()
    scores = (interactions.matrix[rows] @ weights)[:, interactions.items.get_indexer(
        task.candidates)]
    for k, got in enumerate(fitted.recommend(task)):
        row = scores[k].copy()
        row[task.excluded[k]] = -np.inf
        order = np.argsort(-row, kind="stable")[:10]
        expected = task.candidates[order[np.isfinite(row[order])]]  # seen items never come back
        np.testing.assert_array_equal(got, expected)
    # a row that ignores the seed is fitted once per dataset
    ctx = Context(quick=True, log=lambda *a: None)
    (row,) = [r for r in _rankers.RANK_ROWS if r.key == "ease"]
    first, again = row.run(dataset, 0, ctx), row.run(dataset, 1, ctx)
    assert again.info["shared_fit"] and "shared_fit" not in first.info


def test_feature_popularity_scores_new_items_by_their_values():
    dataset = _dataset(TRAIN, VALID, TEST)
    fitted = _run("feature-popularity", dataset)
    # genre a: items 10, 11, 12 with 3, 2, 1 ratings -> 2; genre b: 13, 14 -> 1; c: unknown
    task = _ranking.RankingTask(
        "test", np.array([9]), np.array([20, 21, 22, 23]), [np.array([20])], [np.zeros(0, int)],
        item_table=pd.DataFrame({"item_id": [20, 21, 22, 23], "genre": ["b", "c", "a", None]}),
        new_user_table=None, n=4)  # fmt: skip
    # c and a missing genre fall back to the mean count (8 / 5 = 1.6)
    assert fitted.recommend(task)[0].tolist() == [22, 21, 23, 20]


def test_feature_popularity_averages_over_multi_valued_features():
    items = pd.DataFrame({"item_id": [1, 2], "tags": [["x", "y"], []], "city": [3.0, np.nan]})
    long = _rankers.value_table(items, "item_id", ["tags", "city"])
    assert sorted(map(tuple, long.to_numpy().tolist())) == [(1, "city", 3.0), (1, "tags", "x"),
                                                           (1, "tags", "y")]  # fmt: skip


def test_sain_recommend_drops_the_items_the_model_cannot_know_were_seen():
    dataset = _dataset(TRAIN, VALID, TEST)
    task = _ranking.ranking_task(dataset, "test")
    calls = {}

    class FakeModel:  # the regressor's recommend: every candidate by item id, seen ones kept
        def recommend(self, users, n, **kwargs):
            calls.update(kwargs, n=n)
            return pd.DataFrame([(u, r + 1, i, 1.0) for u in users
                                 for r, i in enumerate(task.candidates[:n])],
                                columns=["user", "rank", "item", "score"])  # fmt: skip

    lists = _rankers.sain_recommend(FakeModel(), task, "choice")
    assert calls["n"] == task.n + 3 and calls["rank_by"] == "choice"
    assert calls["exclude_seen"] is True and calls["item_features"] is task.item_table
    assert [r.tolist() for r in lists] == [[13, 14], [11, 13, 14], [11, 12]]


def test_id_only_rows_are_not_applicable_to_new_items():
    id_only = {r.key for r in _rankers.RANK_ROWS if not r.cold}
    assert id_only == {"most-popular", "ease", "implicit-als", "implicit-bpr", "lightfm-warp"}
    for row in _rankers.RANK_ROWS:
        expected = None if row.cold else _rankers.COLD_REASON
        assert row.not_applicable("new-items") == expected and row.not_applicable("warm") is None


@pytest.mark.parametrize("key", ["implicit-als", "implicit-bpr"])
def test_implicit_rows_choose_on_validation(key):
    pytest.importorskip("implicit")
    dataset = _make_dataset()
    fitted = _run(key, dataset)
    grid = fitted.info["grid"]
    assert len(grid) == 2  # --quick: the first two settings
    assert fitted.info["selected"] == {k: v for k, v in max(
        grid, key=lambda g: g["validation_ndcg"]).items() if k != "validation_ndcg"}
    task = _ranking.ranking_task(dataset, "test")
    got = _ranking.evaluate(fitted.recommend(task), task)
    assert all(0 <= got[m] <= 1 for m in _ranking.METRICS)


# --------------------------------------------------------------------------- command line


def _make_dataset(n_users=60, n_items=40, n=1500, seed=0):
    """make_ratings, cut 8:1:1 in its random row order."""
    from sklearn_sain.datasets import make_ratings

    X, y = make_ratings(n_users=n_users, n_items=n_items, n_ratings=n, random_state=seed)
    a, b = int(0.8 * n), int(0.9 * n)
    split = lambda lo, hi: (X.iloc[lo:hi].reset_index(drop=True), y[lo:hi])  # noqa: E731
    return _data.Dataset("tiny", "tiny", split(0, a), split(a, b), split(b, n),
                         ["age", "gender", "occupation"], ["genres", "year", "director"])


def _write_yelp(folder, n_users=60, n_items=40, seed=0):
    """Ratings in the HIN-Datasets Yelp layout; popular businesses are rated more, and higher."""
    rng = np.random.RandomState(seed)
    weight = 1.0 / np.arange(1, n_items + 1)
    rows = []
    for user in range(1, n_users + 1):
        for item in rng.choice(n_items, rng.randint(5, 15), replace=False, p=weight / weight.sum()):
            rows.append((user, item + 1, int(np.clip(round(5 - item / 10 + rng.randn()), 1, 5))))
    folder.mkdir(parents=True)
    write = lambda name, lines: (folder / name).write_text(  # noqa: E731
        "".join("\t".join(map(str, line)) + "\n" for line in lines))
    write("user_business.dat", rows)
    write("user_compliment.dat", [(u, 1 + u % 4, 1) for u in range(1, n_users + 1)])
    write("business_category.dat", [(b, 1 + b % 5, 1) for b in range(1, n_items + 1)])
    write("business_city.dat", [(b, 1 + b % 3, 1) for b in range(1, n_items + 1)])


@pytest.fixture
def data_dir(tmp_path):
    _write_yelp(tmp_path / "data" / "hin-yelp")
    return tmp_path / "data"


def test_ranking_command_end_to_end(data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    rows = ["most-popular", "ease", "feature-popularity", "implicit-*", "lightfm-warp", "sain*"]
    code = main(["--task", "ranking", "--data-dir", str(data_dir), "--out",
                 str(out), "--quick", "--seeds", "0", "1", "--datasets", "yelp",
                 "--models", *rows])  # fmt: skip
    assert code == 0
    report = json.loads((out / "results.json").read_text())
    assert report["task"] == "ranking" and report["options"]["task"] == "ranking"
    assert report["errors"] == [] and "rating of at least 4" in report["protocol"]
    results = pd.DataFrame(report["results"])
    ran = set(results["row"])
    skipped = {s["row"]: s["reason"] for s in report["skipped"]}
    assert {"most-popular", "ease", "feature-popularity"} <= ran
    assert ran | set(skipped) == {r.key for r in _ranking.select_rows(rows)}
    (als,) = _ranking.select_rows(["implicit-als"])
    assert ("implicit-als" in ran) == (als.missing_packages() == [])
    for split in ("validation", "test"):
        for metric in _ranking.METRICS:
            assert results[f"{split}_{metric}"].between(0, 1).all(), (split, metric)
    described = report["datasets"]["yelp"]["ranking"]
    assert (results["test_n_users"] == described["test_users"]).all()
    assert described["test_users"] > 0 and described["relevant_rating"] == 4
    assert (results.groupby("row").size() == 2).all()  # both seeds
    summary = report["summary"]["yelp"]
    assert summary["ease"]["shared_fit"] and summary["ease"]["test_ndcg"]["std"] == 0
    assert summary["ease"]["selected"][0]["lambda"] in _rankers.EASE_LAMBDAS

    md = (out / "results.md").read_text()
    assert md.startswith("# SAIN benchmark: Top-N (ranking), warm protocol")
    assert "| Model | P@10 | R@10 | NDCG@10 | MAP@10 | Coverage |" in md
    assert "Quick run" in md and "EASE (closed form)" in md
    if "lightfm-warp" in skipped:
        assert "not available `lightfm-warp`: not installed: lightfm" in md
    assert "EASE" in (out / "results.rst").read_text()
    assert "valid NDCG@10" in capsys.readouterr().out


def test_ranking_new_items_lists_id_only_rows_as_not_applicable(data_dir, tmp_path):
    out = tmp_path / "out"
    main(["--task", "ranking", "--protocol", "new-items", "--data-dir",
          str(data_dir), "--out", str(out), "--quick", "--seeds", "0", "--models",
          "most-popular", "ease", "implicit-als", "lightfm-warp", "feature-popularity", "sain"])
    report = json.loads((out / "results.json").read_text())
    assert report["errors"] == []
    skipped = {s["row"]: s for s in report["skipped"]}
    # SAIN ranks the new items from their features ("sain" is the family of its rows)
    sain = {"sain", "sain-choice", "sain-rating"}
    assert {r["row"] for r in report["results"]} == {"feature-popularity", *sain}
    assert set(skipped) == {"most-popular", "ease", "implicit-als", "lightfm-warp"}
    assert all(s["reason"] == _rankers.COLD_REASON and s["not_applicable"] == "new-items"
               for s in skipped.values())  # fmt: skip
    for record in report["results"]:
        assert record["test_n_users"] > 0 and 0 <= record["test_ndcg"] <= 1
    md = (out / "results.md").read_text()
    assert md.startswith("# SAIN benchmark: Top-N (ranking), new-items protocol")
    assert f"- not applicable `ease` (new-items protocol): {_rankers.COLD_REASON}" in md


def test_ranking_refuses_new_users_and_unknown_rows(data_dir, tmp_path):
    with pytest.raises(SystemExit, match="new-users is not supported"):
        main(["--task", "ranking", "--protocol", "new-users", "--data-dir",
              str(data_dir), "--out", str(tmp_path / "out"), "--quick"])  # fmt: skip
    with pytest.raises(ValueError, match="match no ranking row"):
        _ranking.select_rows(["svd"])


def test_ranking_list_and_the_rating_list_stay_apart(capsys):
    assert main(["--task", "ranking", "--list"]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert set(listed) == {r.key for r in _rankers.RANK_ROWS}
    assert "warm only" in listed["ease"] and "warm only" not in listed["feature-popularity"]
    assert main(["--list"]) == 0
    rating = capsys.readouterr().out
    assert "svd" in rating and "implicit-als" not in rating


def test_merge_refuses_mixing_tasks(data_dir, tmp_path):
    files = []
    for task in ("rating", "ranking"):
        out = tmp_path / task
        main(["--task", task, "--data-dir", str(data_dir), "--out", str(out),
              "--quick", "--seeds", "0", "--no-plots", "--models",
              "global-mean" if task == "rating" else "most-popular"])  # fmt: skip
        files.append(str(out / "results.json"))
    with pytest.raises(ValueError, match="different tasks"):
        main(["--merge", *files, "--out", str(tmp_path / "all"), "--no-plots"])
    assert main(["--merge", files[1], files[1], "--out", str(tmp_path / "two"),
                 "--no-plots"]) == 0  # fmt: skip
    merged = (tmp_path / "two" / "results.md").read_text()
    assert merged.startswith("# SAIN benchmark: Top-N (ranking)") and "Most popular" in merged

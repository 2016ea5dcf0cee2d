"""Top-N recommendations: SAINRegressor.recommend and the training catalog behind it."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from sklearn_sain import SAINEncoder, SAINRegressor

FAST = dict(max_epochs=2, device="cpu", random_state=0, embed_dim=8, feature_dim=4,
            batch_size=32, top_k=4)
USER_COLUMNS = ["user_id", "age", "gender", "occupation"]
ITEM_COLUMNS = ["item_id", "genres", "year", "director"]


@pytest.fixture(scope="module")
def data(small_ratings):
    return small_ratings


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    # unclipped, so that predictions never tie at the rating bounds
    return SAINRegressor(**FAST, clip_predictions=False).fit(X, y)


def pair_rows(X, users, items):
    """Rating rows for (user, item) pairs, with the features the pair has in X."""
    user_part = X.drop_duplicates("user_id", keep="last").set_index("user_id")[USER_COLUMNS[1:]]
    item_part = X.drop_duplicates("item_id", keep="last").set_index("item_id")[ITEM_COLUMNS[1:]]
    rows = pd.concat([user_part.loc[list(users)].reset_index(),
                      item_part.loc[list(items)].reset_index()], axis=1)
    return rows[X.columns]


def seen_pairs(X):
    return set(zip(X["user_id"], X["item_id"]))


def test_returns_a_tidy_table_sorted_by_user_then_rank(model, data):
    X, _ = data
    users = X["user_id"].unique()[:5]
    recs = model.recommend(users, n=4)
    assert list(recs.columns) == ["user", "rank", "item", "score"]
    assert list(pd.unique(recs["user"])) == list(users)
    for _, block in recs.groupby("user", sort=False):
        assert list(block["rank"]) == [1, 2, 3, 4]
        assert block["score"].is_monotonic_decreasing
        assert block["item"].is_unique
    assert recs["user"].dtype == X["user_id"].dtype and recs["item"].dtype == X["item_id"].dtype


def test_scores_equal_predict_for_the_same_pairs(model, data):
    X, _ = data
    recs = model.recommend(X["user_id"].unique()[:6], n=5, rank_by="rating")
    expected = model.predict(pair_rows(X, recs["user"], recs["item"]))
    np.testing.assert_allclose(recs["score"], expected, rtol=1e-5, atol=1e-6)


def test_top_n_are_the_best_unseen_items_by_predict(model, data):
    X, _ = data
    seen = seen_pairs(X)
    all_items = np.sort(X["item_id"].unique())
    for user in X["user_id"].unique()[:4]:
        unseen = [i for i in all_items if (user, i) not in seen]
        predicted = model.predict(pair_rows(X, [user] * len(unseen), unseen))
        best = [unseen[j] for j in np.argsort(-predicted, kind="stable")[:5]]
        recs = model.recommend(user, n=5, rank_by="rating")
        assert list(recs["item"]) == best


def test_seen_items_are_excluded_unless_asked(model, data):
    X, _ = data
    seen = seen_pairs(X)
    n_items = X["item_id"].nunique()
    recs = model.recommend(n=n_items)
    assert not {(u, i) for u, i in zip(recs["user"], recs["item"])} & seen
    # each user gets every item they did not rate, and no more
    per_user = recs.groupby("user").size()
    rated = X.groupby("user_id")["item_id"].nunique()
    np.testing.assert_array_equal(per_user.loc[rated.index], n_items - rated)

    everything = model.recommend(n=n_items, exclude_seen=False)
    assert len(everything) == X["user_id"].nunique() * n_items
    assert {(u, i) for u, i in zip(everything["user"], everything["item"])} >= seen


def test_defaults_cover_every_training_user_and_item(model, data):
    X, _ = data
    recs = model.recommend(n=3, exclude_seen=False)
    assert set(recs["user"]) == set(X["user_id"])
    assert recs.groupby("user").size().eq(3).all()
    recs = model.recommend(X["user_id"].iloc[0], n=100, exclude_seen=False)
    assert set(recs["item"]) == set(X["item_id"])


def test_n_and_candidate_items_are_respected(model, data):
    X, _ = data
    candidates = list(X["item_id"].unique()[:6])
    user = X["user_id"].iloc[0]
    recs = model.recommend([user], n=2, items=candidates, exclude_seen=False)
    assert len(recs) == 2 and set(recs["item"]) <= set(candidates)
    whole = model.recommend([user], n=50, items=candidates, exclude_seen=False)
    assert sorted(whole["item"]) == sorted(candidates)  # fewer candidates than n


def test_single_user_and_repeated_users(model, data):
    X, _ = data
    user = X["user_id"].iloc[0]
    pd.testing.assert_frame_equal(model.recommend(user, n=3), model.recommend([user], n=3))
    twice = model.recommend([user, user], n=3)
    pd.testing.assert_frame_equal(twice, model.recommend([user], n=3))


def test_unknown_user_needs_features_and_then_uses_content(model, data):
    X, _ = data
    with pytest.raises(ValueError, match=r"1 user\(s\) were not seen in fit: \['newcomer'\].*"
                                         r"user_features="):
        model.recommend(["newcomer"])
    template = X.iloc[[0]]
    profile = template[USER_COLUMNS].assign(user_id="newcomer")
    recs = model.recommend(["newcomer"], n=4, user_features=profile, rank_by="rating")
    assert len(recs) == 4 and (recs["user"] == "newcomer").all()
    rows = pair_rows(X, [template["user_id"].iloc[0]] * 4, recs["item"]).assign(
        user_id="newcomer")
    np.testing.assert_allclose(recs["score"], model.predict(rows), rtol=1e-5, atol=1e-6)
    # an unseen user has no feedback vector: the ranking comes from the content path
    assert (model.explain(rows).integration["alpha_user"] == 0).all()


def test_user_features_override_the_training_features(model, data):
    X, _ = data
    user = X["user_id"].iloc[0]
    other = X[X["occupation"] != X["occupation"].iloc[0]].iloc[0]
    profile = pd.DataFrame({"user_id": [user], "age": [other["age"]],
                            "gender": [other["gender"]], "occupation": [other["occupation"]]})
    recs = model.recommend(user, n=3, user_features=profile, rank_by="rating")
    rows = pair_rows(X, [user] * 3, recs["item"]).assign(
        age=other["age"], gender=other["gender"], occupation=other["occupation"])
    np.testing.assert_allclose(recs["score"], model.predict(rows), rtol=1e-5, atol=1e-6)
    seen = seen_pairs(X)
    assert not any((user, i) in seen for i in recs["item"])  # still the user's history


def test_new_items_described_in_item_features_are_candidates(model, data):
    X, _ = data
    new = X.iloc[[0, 1]][ITEM_COLUMNS].assign(item_id=[1000, 1001])
    user = X["user_id"].iloc[0]
    recs = model.recommend(user, n=100, item_features=new)
    assert {1000, 1001} <= set(recs["item"])
    assert len(recs) == X["item_id"].nunique() + 2 - X.loc[X.user_id == user, "item_id"].nunique()
    only_new = model.recommend(user, items=[1001, 1000], item_features=new, rank_by="rating")
    rows = pair_rows(X, [user, user], X["item_id"].iloc[[0, 1]]).assign(item_id=[1000, 1001])
    by_item = only_new.set_index("item")["score"]
    np.testing.assert_allclose(by_item.loc[[1000, 1001]], model.predict(rows), rtol=1e-5)


def test_unknown_candidate_items_are_named(model, data):
    X, _ = data
    with pytest.raises(ValueError, match=r"item\(s\) were not seen in fit: \[999, 998\]"):
        model.recommend(X["user_id"].iloc[0], items=[X["item_id"].iloc[0], 999, 998])


def test_feature_tables_are_checked(model, data):
    X, _ = data
    with pytest.raises(TypeError, match="user_features must be a pandas DataFrame"):
        model.recommend(["x"], user_features=[["x", 30]])
    with pytest.raises(ValueError, match=r"user_features lacks the column\(s\) \['occupation'\]"):
        model.recommend(["x"], user_features=X[["user_id", "age", "gender"]].head(1))
    twice = X[USER_COLUMNS].head(2).assign(user_id="x")
    with pytest.raises(ValueError, match="lists user 'x' more than once"):
        model.recommend(["x"], user_features=twice)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n=0), ValueError, "n must be an int >= 1"),
        (dict(n=2.5), ValueError, "n must be an int >= 1"),
        (dict(exclude_seen="no"), TypeError, "exclude_seen must be a bool"),
        (dict(encoder=SAINEncoder()), ValueError, "holds its own encoder"),
    ],
)
def test_bad_arguments_are_named(model, kwargs, error, match):
    with pytest.raises(error, match=match):
        model.recommend(**kwargs)


def test_unfitted_model_raises():
    with pytest.raises(NotFittedError):
        SAINRegressor().recommend([1])


def test_catalog_keeps_the_last_row_of_each_item():
    # explicit roles let an item's features change between rows: the last one counts
    X = pd.DataFrame({"user_id": [1, 2, 3, 1, 2], "item_id": [10, 10, 10, 20, 20],
                      "tag": ["old", "old", "new", "x", "x"]})
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    model = SAINRegressor(**FAST, clip_predictions=False,
                          encoder=SAINEncoder(user_features=[], item_features=["tag"])).fit(X, y)
    recs = model.recommend(3, items=[10, 20], exclude_seen=False, rank_by="rating")
    rows = pd.DataFrame({"user_id": [3, 3], "item_id": [10, 20], "tag": ["new", "x"]})
    expected = pd.Series(model.predict(rows), index=[10, 20])
    np.testing.assert_allclose(recs.set_index("item")["score"].loc[[10, 20]], expected, rtol=1e-5)


def test_pipeline_step_recommends_with_the_pipeline_encoder(data):
    X, y = data
    pipe = make_pipeline(SAINEncoder(min_ids=2), SAINRegressor(**FAST)).fit(X, y)
    encoder, regressor = pipe[0], pipe[-1]
    direct = SAINRegressor(**FAST).fit(X, y)
    users = X["user_id"].unique()[:3]
    named = regressor.recommend(users, n=3, encoder=encoder)
    pd.testing.assert_frame_equal(named, direct.recommend(users, n=3))
    # without the encoder, ids are the encoded ids
    encoded_users = encoder.transform(X).iloc[:, 0].drop_duplicates().to_numpy()[:3]
    plain = regressor.recommend(encoded_users, n=3)
    np.testing.assert_array_equal(plain["score"], named["score"])
    items = encoder.vocabularies_["item_id"].take(plain["item"].to_numpy() - 2)
    np.testing.assert_array_equal(items, named["item"])


def test_user_who_rated_everything_gets_nothing():
    X = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10], "age": [30, 30, 40]})
    model = SAINRegressor(**FAST).fit(X, np.array([1.0, 2.0, 3.0]))
    recs = model.recommend([1, 2], n=5)
    assert list(recs["user"]) == [2] and list(recs["item"]) == [20]


def test_catalog_follows_refits(data):
    X, y = data
    model = SAINRegressor(**FAST).fit(X, y)
    part = X[X["item_id"].isin(X["item_id"].unique()[:5])]
    model.fit(part, y[part.index])
    assert set(model.recommend(n=50, exclude_seen=False)["item"]) == set(part["item_id"])
    assert not hasattr(clone(model), "catalog_")


@pytest.mark.parametrize("roles", [dict(user_features=[], item_features=[]),
                                   dict(user_features=[], item_features=ITEM_COLUMNS[1:])],
                         ids=["ids-only", "item-features-only"])
def test_models_with_fewer_feature_sides_match_predict(data, roles):
    X, y = data
    model = SAINRegressor(**FAST, clip_predictions=False, encoder=SAINEncoder(**roles)).fit(X, y)
    users = X["user_id"].unique()[:4]
    recs = model.recommend(users, n=3, rank_by="rating")
    assert recs.groupby("user").size().eq(3).all()
    expected = model.predict(pair_rows(X, recs["user"], recs["item"]))
    np.testing.assert_allclose(recs["score"], expected, rtol=1e-5, atol=1e-6)
    # a new user needs no more than an id when the model has no user features
    new = model.recommend("new", n=2, user_features=pd.DataFrame({"user_id": ["new"]}),
                          rank_by="rating")
    rows = pair_rows(X, [users[0]] * 2, new["item"]).assign(user_id="new")
    np.testing.assert_allclose(new["score"], model.predict(rows), rtol=1e-5, atol=1e-6)


def test_no_users_or_no_candidates_give_an_empty_table(model):
    for recs in (model.recommend([], n=3), model.recommend(n=3, items=[])):
        assert recs.empty and list(recs.columns) == ["user", "rank", "item", "score"]


# ------------------------------------------------------------ ranking by choice
def test_the_choice_head_leaves_predictions_unchanged(data):
    X, y = data
    with_head = SAINRegressor(**FAST).fit(X, y)
    without = SAINRegressor(**FAST, choice_head=False).fit(X, y)
    np.testing.assert_array_equal(with_head.predict(X), without.predict(X))
    assert with_head.choice_history_ is not None and without.choice_history_ is None


def test_default_ranking_is_choice_logit_plus_weighted_standardised_rating(model, data):
    X, _ = data
    weight = model.choice_history_["rating_weight"]
    n_items = X["item_id"].nunique()
    for user in X["user_id"].unique()[:3]:
        logit = model.recommend(user, n=n_items, rank_by="choice").set_index("item")["score"]
        rating = model.recommend(user, n=n_items, rank_by="rating").set_index("item")["score"]
        standardised = (rating - model.target_mean_) / model.target_scale_
        expected = (logit + weight * standardised.loc[logit.index]).sort_values(
            ascending=False, kind="stable")
        recs = model.recommend(user, n=4)  # fewer candidates than the rerank depth
        assert list(recs["item"]) == list(expected.index[:4])
        np.testing.assert_allclose(recs["score"], expected.iloc[:4], rtol=1e-5, atol=1e-5)


def test_choice_and_combined_rankings_are_deterministic_and_exclude_seen(model, data):
    X, _ = data
    seen = seen_pairs(X)
    for rank_by in ("combined", "choice"):
        recs = model.recommend(n=5, rank_by=rank_by)
        pd.testing.assert_frame_equal(recs, model.recommend(n=5, rank_by=rank_by))
        assert not {(u, i) for u, i in zip(recs["user"], recs["item"])} & seen
        for _, block in recs.groupby("user", sort=False):
            assert block["score"].is_monotonic_decreasing and block["item"].is_unique


def test_equal_choice_scores_keep_the_candidates_order(model, data):
    X, _ = data
    # two new items with the same features have the same id (unknown) and the same score
    new = X.iloc[[0, 0]][ITEM_COLUMNS].assign(item_id=[1000, 1001])
    user = X["user_id"].iloc[0]
    for order in ([1001, 1000], [1000, 1001]):
        recs = model.recommend(user, items=order, item_features=new, rank_by="choice")
        assert recs["score"].iloc[0] == recs["score"].iloc[1]
        assert list(recs["item"]) == order


def test_new_users_and_items_are_ranked_from_their_features(model, data):
    X, _ = data
    profile = X.iloc[[0]][USER_COLUMNS].assign(user_id="newcomer")
    new = X.iloc[[1]][ITEM_COLUMNS].assign(item_id=1000)
    for rank_by in ("combined", "choice"):
        recs = model.recommend("newcomer", n=100, user_features=profile, item_features=new,
                               rank_by=rank_by)
        assert 1000 in set(recs["item"]) and np.isfinite(recs["score"]).all()
        assert len(recs) == X["item_id"].nunique() + 1  # nothing seen


def test_rank_by_is_checked(model, data):
    X, y = data
    with pytest.raises(ValueError, match=r"rank_by must be one of \('combined', 'choice', "
                                         r"'rating'\) or None, got 'best'"):
        model.recommend(n=2, rank_by="best")
    plain = SAINRegressor(**FAST, clip_predictions=False, choice_head=False).fit(X, y)
    with pytest.raises(ValueError, match="rank_by='choice' needs the choice head.*"
                                         "choice_head=True"):
        plain.recommend(n=2, rank_by="choice")
    # without the head the default ranks by predicted rating
    pd.testing.assert_frame_equal(plain.recommend(n=3), plain.recommend(n=3, rank_by="rating"))


def test_rankings_survive_joblib_and_the_safe_format(model, tmp_path):
    import joblib

    from sklearn_sain import load

    joblib.dump(model, tmp_path / "model.joblib")
    model.save(tmp_path / "model.sain")
    expected = model.recommend(n=4)
    for loaded in (joblib.load(tmp_path / "model.joblib"), load(tmp_path / "model.sain")):
        pd.testing.assert_frame_equal(loaded.recommend(n=4), expected)
        assert loaded.choice_history_ == model.choice_history_


def test_implicit_only_data_ranks_by_choice():
    # no ratings at all: every interaction gets the same target
    rng = np.random.RandomState(0)
    users = np.repeat(np.arange(30), 6)
    items = (users % 2) * 10 + rng.randint(0, 10, size=users.size)  # two halves, by user parity
    X = pd.DataFrame({"user_id": users, "item_id": items}).drop_duplicates()
    model = SAINRegressor(**{**FAST, "max_epochs": 1}).fit(X, np.ones(len(X)))
    recs = model.recommend(n=3)
    assert (recs["item"] // 10 == recs["user"] % 2).mean() > 0.8

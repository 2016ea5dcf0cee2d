"""Training the choice head: data layout, validation NDCG, early stopping, the rating weight."""

import numpy as np
import pandas as pd
import pytest
import torch

from sklearn_sain import SAINRegressor
from sklearn_sain._nn.choice_ranking import DEFAULT_RATING_WEIGHT, RATING_WEIGHTS
from sklearn_sain._nn.choice_training import (
    fixed_epochs,
    build_choice_data,
    csr,
    fit_choice_head,
    gather_lists,
    new_pairs,
    train_choice_head,
    validation_ndcg,
)

FAST = dict(max_epochs=1, device="cpu", random_state=0, embed_dim=8, feature_dim=4,
            batch_size=64, top_k=4)


def planted(seed=0, n_users=40, n_items=30, per_user=10):
    """Even users rate only the first half of the items, odd users only the second half."""
    rng = np.random.RandomState(seed)
    rows = []
    for user in range(n_users):
        half = np.arange(n_items // 2) + (user % 2) * (n_items // 2)
        for item in rng.choice(half, per_user, replace=False):
            rows.append((f"u{user}", f"i{item}", user % 2, rng.randint(1, 6)))
    X = pd.DataFrame(rows, columns=["user_id", "item_id", "group", "rating"])
    return X.drop(columns="rating"), X["rating"].to_numpy(float)


@pytest.fixture(scope="module")
def fitted():
    X, y = planted()
    # the last two ratings of each user are validation pairs
    last = X.groupby("user_id").cumcount(ascending=False) < 2
    model = SAINRegressor(**FAST).fit(X[~last], y[~last], eval_set=(X[last], y[last]))
    return model, X, y, last


def encoded_pairs(model, X):
    encoded = model.encoder_.transform(X)
    return encoded.iloc[:, 0].to_numpy(), encoded.iloc[:, 1].to_numpy()


def test_gather_lists_concatenates_the_rows_lists():
    indptr, values = csr(np.array([0, 2, 2, 0]), np.array([5, 1, 3, 4]), 3, "cpu")
    assert indptr.tolist() == [0, 2, 2, 4] and values.tolist() == [4, 5, 1, 3]
    got, owner = gather_lists(indptr, values, torch.tensor([2, 1, 0]))
    assert got.tolist() == [1, 3, 4, 5] and owner.tolist() == [0, 0, 2, 2]


def test_choice_data_holds_the_training_pairs_and_only_new_validation_pairs(fitted):
    model, X, _, last = fitted
    train = encoded_pairs(model, X[~last])
    valid = encoded_pairs(model, X[last])
    # a validation pair the user already rated in training, and one of an unknown user
    valid = (np.r_[valid[0], train[0][0], 1], np.r_[valid[1], train[1][0], train[1][0]])
    data = build_choice_data(model.module_, model.catalog_, train, valid, "cpu")
    assert len(data.user_ids) == X["user_id"].nunique()
    assert int(data.indptr[-1]) == len(set(zip(*train)))
    assert int(data.valid_indptr[-1]) == int(last.sum())  # the two extra pairs dropped
    assert data.user_features is not None and data.item_features is None  # group is a user field
    users, items = new_pairs(data, valid)
    assert len(users) == int(last.sum())


def test_training_finds_the_planted_halves_and_restores_the_best_epoch(fitted):
    model, X, _, last = fitted
    data = build_choice_data(model.module_, model.catalog_, encoded_pairs(model, X[~last]),
                             encoded_pairs(model, X[last]), "cpu")
    head = model.module_.choice
    torch.manual_seed(0)
    head.reset_parameters()
    untrained = validation_ndcg(head, data)
    history = train_choice_head(head, data, np.random.RandomState(0))
    best = history["best_epoch"]
    assert validation_ndcg(head, data) == pytest.approx(history["ndcg"][best - 1])
    assert max(history["ndcg"]) == history["ndcg"][best - 1]
    assert validation_ndcg(head, data) > untrained + 0.15
    # the top 10 of a user is mostly their own half of the items
    recs = model.recommend(n=5, rank_by="choice")
    half = recs["item"].str[1:].astype(int) // 15
    group = recs["user"].str[1:].astype(int) % 2
    assert (half == group).mean() > 0.8


def test_fit_chooses_the_rating_weight_on_validation(fitted):
    model, *_ = fitted
    history = model.choice_history_
    assert history["rating_weight"] in RATING_WEIGHTS
    ndcg = history["rating_weight_ndcg"]
    assert len(ndcg) == len(RATING_WEIGHTS)
    assert history["rating_weight"] == RATING_WEIGHTS[int(np.argmax(ndcg))]
    assert float(model.module_.choice.rating_weight) == history["rating_weight"]


def test_without_validation_the_head_trains_a_fixed_budget(fitted):
    model, X, y, last = fitted
    head = model.module_.choice
    saved = {k: v.clone() for k, v in head.state_dict().items()}
    try:
        history = fit_choice_head(model.module_, model.catalog_, encoded_pairs(model, X[~last]),
                                  None, None, "cpu", np.random.RandomState(0))
    finally:
        head.load_state_dict(saved)
    data = build_choice_data(model.module_, model.catalog_, encoded_pairs(model, X[~last]),
                             None, "cpu")
    assert len(history["loss"]) == fixed_epochs(data) and history["ndcg"] == []
    assert history["rating_weight"] == DEFAULT_RATING_WEIGHT
    assert history["rating_weight_ndcg"] is None
    assert np.all(np.isfinite(history["loss"]))


def test_the_fixed_budget_is_a_number_of_steps(fitted, monkeypatch):
    from sklearn_sain._nn import choice_training as _choice_training

    model, X, _, last = fitted
    data = build_choice_data(model.module_, model.catalog_, encoded_pairs(model, X[~last]),
                             None, "cpu")
    # 40 users: one step per epoch
    monkeypatch.setattr(_choice_training, "FIXED_CHOICE_STEPS", 7)
    assert fixed_epochs(data) == 7
    monkeypatch.setattr(_choice_training, "FIXED_CHOICE_STEPS", 10_000)
    assert fixed_epochs(data) == _choice_training.FIXED_CHOICE_EPOCHS


def test_validation_pairs_of_new_items_leave_the_fixed_budget(fitted):
    # validation pairs whose items the head never saw (the new-items protocol) cannot
    # choose an epoch: the head must not train for its whole epoch cap
    model, X, y, last = fitted
    valid = X[last].assign(item_id="new item")
    encoded = model.encoder_.transform(valid)
    head = model.module_.choice
    saved = {k: v.clone() for k, v in head.state_dict().items()}
    try:
        history = fit_choice_head(model.module_, model.catalog_, encoded_pairs(model, X[~last]),
                                  (encoded.iloc[:, 0].to_numpy(), encoded.iloc[:, 1].to_numpy()),
                                  np.ones(len(valid)), "cpu", np.random.RandomState(0))
    finally:
        head.load_state_dict(saved)
    data = build_choice_data(model.module_, model.catalog_, encoded_pairs(model, X[~last]),
                             None, "cpu")
    assert len(history["loss"]) == fixed_epochs(data)

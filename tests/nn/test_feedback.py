"""Implicit feedback (SVD++): link selection, the sums and their gradient, the model's use."""

import math

import numpy as np
import pytest
import torch

from sklearn_sain import SAINRegressor
from sklearn_sain._nn.feedback import ImplicitFeedback, _LinkedSum, select_links
from sklearn_sain._nn.model import SAINModule
from sklearn_sain.datasets import make_ratings

# users 2..4 rated items 2..5; user 3 rated item 4 twice; users 0, 1 (padding,
# unknown) and item 6 have no links
USERS = np.array([2, 2, 3, 3, 3, 4])
ITEMS = np.array([5, 2, 4, 4, 3, 2])
RNG = np.random.RandomState(0)


def make_feedback(dim=3):
    owners, others = select_links(USERS, ITEMS, 7, None, RNG)
    torch.manual_seed(0)
    module = ImplicitFeedback(n_owners=5, n_others=7, n_links=len(owners), dim=dim)
    module.set_links(owners, others)
    return module


def test_select_links_gives_distinct_pairs_sorted_by_owner():
    owners, others = select_links(USERS, ITEMS, 7, None, RNG)
    assert list(zip(owners.tolist(), others.tolist())) == [(2, 2), (2, 5), (3, 3), (3, 4), (4, 2)]


def test_select_links_caps_each_owner_with_a_seeded_subset():
    rng = np.random.default_rng(0)
    owners = np.repeat([2, 3, 4], [50, 5, 20])
    others = np.concatenate([rng.permutation(60)[:50], np.arange(5), rng.permutation(60)[:20]])
    kept_owners, kept_others = select_links(owners, others, 60, 10, np.random.RandomState(1))
    assert np.bincount(kept_owners, minlength=5).tolist() == [0, 0, 10, 5, 10]
    pairs = set(zip(owners.tolist(), others.tolist()))
    assert set(zip(kept_owners.tolist(), kept_others.tolist())) <= pairs
    assert np.all(np.diff(kept_owners * 60 + kept_others) > 0)  # sorted, distinct
    again = select_links(owners, others, 60, 10, np.random.RandomState(1))
    assert np.array_equal(again[1], kept_others)
    other_seed = select_links(owners, others, 60, 10, np.random.RandomState(2))
    assert not np.array_equal(other_seed[1], kept_others)


def test_vector_is_normalised_sum_over_distinct_linked_ids():
    module = make_feedback()
    y = module.table.weight.detach()
    out = module(torch.tensor([3, 2, 4, 3]))
    expected = {
        2: (y[2] + y[5]) / math.sqrt(2),
        3: (y[3] + y[4]) / math.sqrt(2),  # the repeated pair counts once
        4: y[2],
    }
    for row, owner in enumerate([3, 2, 4, 3]):
        torch.testing.assert_close(out[row], expected[owner])


def test_ids_without_links_get_zero_vectors():
    out = make_feedback()(torch.tensor([0, 1, 1]))
    assert out.shape == (3, 3)
    assert torch.all(out == 0)


def test_empty_batch_gives_empty_result_and_zero_gradient():
    module = make_feedback()
    out = module(torch.tensor([], dtype=torch.long))
    assert out.shape == (0, 3)
    out.sum().backward()
    assert torch.all(module.table.weight.grad == 0)


def test_gradient_matches_autograd_of_the_plain_formula():
    module = make_feedback(dim=4)
    ids = torch.tensor([2, 3, 3, 4, 0, 2])
    weights = torch.randn(len(ids), 4)
    (module(ids) * weights).sum().backward()
    fast = module.table.weight.grad.clone()
    table = module.table.weight.detach().clone().requires_grad_(True)
    bags = {2: [2, 5], 3: [3, 4], 4: [2], 0: []}
    plain = torch.stack([table[bags[i]].sum(0) / math.sqrt(max(len(bags[i]), 1)) for i in
                         ids.tolist()])  # fmt: skip
    (plain * weights).sum().backward()
    torch.testing.assert_close(fast, table.grad)


@pytest.mark.parametrize("grouped", [True, False], ids=["gather-all-links", "sort-batch"])
def test_linked_sum_passes_gradcheck_on_both_gradient_paths(grouped):
    # owners 0, 2, 3 own bags [2, 5], [3, 4], [2, 2]; owner 1 has links but is not in the batch
    table = torch.randn(7, 3, dtype=torch.double, requires_grad=True)
    rows = torch.tensor([2, 5, 3, 4, 2, 2])
    offsets = torch.tensor([0, 2, 4])
    scale = torch.tensor([0.5, 2.0, 1.0], dtype=torch.double)
    bag_owners = torch.tensor([0, 2, 3])
    # every link of the 4 owners, grouped by table row: row 2 <- 0, 3, 3; 3 <- 2; 4 <- 1, 2; 5 <- 0
    row_offsets = torch.tensor([0, 0, 0, 3, 4, 6, 7])
    row_owners = torch.tensor([0, 3, 3, 2, 1, 2, 0])
    transposed = (row_offsets, row_owners, 4) if grouped else None

    def f(t):
        return _LinkedSum.apply(t, rows, offsets, scale, bag_owners, transposed)

    assert torch.autograd.gradcheck(f, (table,))


def test_grouping_by_row_follows_the_links_and_survives_loading():
    module = make_feedback()
    # links (2,2) (2,5) (3,3) (3,4) (4,2): row 2 <- owners 2, 4; 3 <- 3; 4 <- 3; 5 <- 2
    assert module.row_offsets.tolist() == [0, 0, 0, 2, 3, 4, 5]
    assert module.row_owners.tolist() == [2, 4, 3, 3, 2]
    copy = ImplicitFeedback(n_owners=5, n_others=7, n_links=5, dim=3)
    copy.load_state_dict(module.state_dict())
    assert torch.equal(copy.row_owners, module.row_owners)
    assert "row_owners" not in module.state_dict()


def test_int32_ids_give_the_same_vectors():
    module = make_feedback()
    ids = torch.tensor([4, 2, 3])
    torch.testing.assert_close(module(ids.int()), module(ids))


def test_wrong_links_are_refused():
    module = ImplicitFeedback(n_owners=5, n_others=7, n_links=3, dim=2)
    with pytest.raises(ValueError, match="expected 3 links, got 2"):
        module.set_links(np.array([2, 3]), np.array([1, 1]))
    with pytest.raises(ValueError, match="sorted by owner"):
        module.set_links(np.array([3, 2, 2]), np.array([1, 1, 2]))


def test_links_travel_in_the_state_dict():
    module = make_feedback()
    copy = ImplicitFeedback(n_owners=5, n_others=7, n_links=5, dim=3)
    copy.load_state_dict(module.state_dict())
    copy.check_links()
    ids = torch.tensor([2, 3, 4, 0])
    torch.testing.assert_close(copy(ids), module(ids))


def test_check_links_names_the_damage():
    module = make_feedback()
    module.others[0] = 7
    with pytest.raises(ValueError, match="past the id vocabulary"):
        module.check_links()
    module = make_feedback()
    module.starts[3] += 1
    with pytest.raises(ValueError, match="inconsistent"):
        module.check_links()


def test_module_feedback_vectors_add_both_implicit_sums():
    kwargs = dict(n_users=5, n_items=7, vocabulary_sizes=[], field_roles=[], field_widths=[],
                  embed_dim=3)  # fmt: skip
    torch.manual_seed(0)
    module = SAINModule(**kwargs, implicit_feedback=True, n_user_links=5, n_item_links=5)
    module.set_feedback_links(select_links(USERS, ITEMS, 7, None, RNG),
                              select_links(ITEMS, USERS, 5, None, RNG))  # fmt: skip
    users, items = torch.tensor([2, 3]), torch.tensor([2, 4])
    y, z = module.user_implicit.table.weight, module.item_implicit.table.weight
    expected_user = module.user_cf.weight[users] + torch.stack(
        [(y[2] + y[5]) / math.sqrt(2), (y[3] + y[4]) / math.sqrt(2)]
    )
    # item 2 was rated by users 2 and 4, item 4 by user 3
    expected_item = module.item_cf.weight[items] + torch.stack([(z[2] + z[4]) / math.sqrt(2), z[3]])
    torch.testing.assert_close(module.user_vectors(users), expected_user)
    torch.testing.assert_close(module.item_vectors(items), expected_item)
    # without features the prediction is the dot product of those vectors plus biases
    out = module.eval()(users, items, torch.zeros(2, 0, dtype=torch.long))
    bias = module.global_bias + module.user_bias.weight[users, 0] + module.item_bias.weight[items, 0]
    torch.testing.assert_close(out.combined, (expected_user * expected_item).sum(-1) + bias)


def test_module_without_implicit_feedback_has_no_implicit_tables():
    module = SAINModule(n_users=5, n_items=7, vocabulary_sizes=[], field_roles=[],
                        field_widths=[])  # fmt: skip
    assert not hasattr(module, "user_implicit")
    module.set_feedback_links(None, None)  # nothing to store: a no-op
    assert not any("implicit" in name for name in module.state_dict())


@pytest.fixture(scope="module")
def ratings():
    return make_ratings(n_users=40, n_items=30, n_ratings=900, random_state=1)


def _links(implicit):
    starts, counts, others = (t.numpy() for t in (implicit.starts, implicit.counts, implicit.others))
    return {(o, int(x)) for o in range(len(starts)) for x in others[starts[o]:starts[o] + counts[o]]}


def test_regressor_links_are_the_training_pairs(ratings):
    X, y = ratings
    model = SAINRegressor(max_epochs=2, device="cpu", random_state=0).fit(X, y)
    encoded = model.encoder_.transform(X)
    users, items = model.layout_.arrays(encoded)[:2]
    pairs = set(zip(users.tolist(), items.tolist()))
    user_links = _links(model.module_.user_implicit)
    item_links = {(u, i) for i, u in _links(model.module_.item_implicit)}
    # early stopping held out a validation share: the links are a subset of the pairs
    assert user_links and user_links == item_links and user_links < pairs
    assert len(user_links) == model._fitted.module_kwargs["n_user_links"]


def test_regressor_caps_links_per_id(ratings):
    X, y = ratings
    model = SAINRegressor(max_epochs=1, device="cpu", random_state=0, implicit_max_links=5,
                          early_stopping=False).fit(X, y)  # fmt: skip
    for implicit in (model.module_.user_implicit, model.module_.item_implicit):
        assert int(implicit.counts.max()) == 5
    assert np.isfinite(model.predict(X)).all()


def test_regressor_without_implicit_feedback_differs_and_still_learns(ratings):
    X, y = ratings
    on = SAINRegressor(max_epochs=2, device="cpu", random_state=0).fit(X, y)
    off = SAINRegressor(max_epochs=2, device="cpu", random_state=0,
                        implicit_feedback=False).fit(X, y)  # fmt: skip
    assert not hasattr(off.module_, "user_implicit")
    assert off._fitted.module_kwargs["n_user_links"] == 0
    assert not np.allclose(on.predict(X), off.predict(X))
    assert np.isfinite(off.predict(X)).all()


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"implicit_feedback": "yes"}, TypeError, "implicit_feedback"),
        ({"implicit_max_links": 0}, ValueError, "implicit_max_links"),
        ({"implicit_max_links": 2.5}, TypeError, "implicit_max_links"),
    ],
)
def test_invalid_implicit_parameters_are_named(ratings, params, error, match):
    X, y = ratings
    with pytest.raises(error, match=match):
        SAINRegressor(max_epochs=1, device="cpu", **params).fit(X, y)


def test_loading_the_whole_network_regroups_the_links_by_row():
    kwargs = dict(n_users=5, n_items=7, vocabulary_sizes=[], field_roles=[], field_widths=[],
                  embed_dim=3, implicit_feedback=True, n_user_links=5, n_item_links=5)  # fmt: skip
    module = SAINModule(**kwargs)
    module.set_feedback_links(select_links(USERS, ITEMS, 7, None, RNG),
                              select_links(ITEMS, USERS, 5, None, RNG))  # fmt: skip
    loaded = SAINModule(**kwargs)
    loaded.load_state_dict(module.state_dict())
    for name in ("user_implicit", "item_implicit"):
        original, copy = getattr(module, name), getattr(loaded, name)
        assert torch.equal(copy.row_offsets, original.row_offsets)
        assert torch.equal(copy.row_owners, original.row_owners)


def _module_with_links(seed):
    kwargs = dict(n_users=5, n_items=7, vocabulary_sizes=[], field_roles=[], field_widths=[],
                  embed_dim=3, implicit_feedback=True, n_user_links=5, n_item_links=5)  # fmt: skip
    torch.manual_seed(seed)
    module = SAINModule(**kwargs)
    module.set_feedback_links(select_links(USERS, ITEMS, 7, None, RNG),
                              select_links(ITEMS, USERS, 5, None, RNG))  # fmt: skip
    return module


def test_prediction_reads_every_ids_feedback_vector_from_a_cache_that_follows_the_weights():
    module = _module_with_links(0).eval()
    users, items = torch.tensor([2, 3, 4, 2]), torch.tensor([2, 4, 5, 3])
    exact_user, exact_item = module.user_vectors(users), module.item_vectors(items)  # grad on
    with torch.inference_mode():
        torch.testing.assert_close(module.user_vectors(users), exact_user)
        torch.testing.assert_close(module.item_vectors(items), exact_item)
    assert module._feedback_vectors() is None  # with gradients: never the cache
    with torch.no_grad():
        cached = module._feedback_vectors()
        assert cached is not None and cached[0].shape == (5, 3) and cached[1].shape == (7, 3)
        assert module._feedback_vectors() is cached  # computed once
    # training drops it: the next prediction sees the new weights
    module.train()
    with torch.no_grad():
        module.user_implicit.table.weight.add_(1.0)
    module.eval()
    with torch.no_grad():
        torch.testing.assert_close(module.user_vectors(users), _exact(module.user_vectors, users))
    # so do loading a state and storing links
    other = _module_with_links(1)
    with torch.no_grad():
        module._feedback_vectors()
    module.load_state_dict(other.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(module.item_vectors(items),
                                   _exact(other.eval().item_vectors, items))  # fmt: skip
        module._feedback_vectors()
    assert module._feedback_cache is not None
    module.set_feedback_links(select_links(USERS, ITEMS, 7, None, RNG),
                              select_links(ITEMS, USERS, 5, None, RNG))  # fmt: skip
    assert module._feedback_cache is None


def _exact(vectors, ids):
    """``vectors(ids)`` computed from the weights (gradients on, so never the cache)."""
    with torch.enable_grad():
        return vectors(ids).detach()

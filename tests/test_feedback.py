"""Implicit feedback (SVD++): the sums, their links, and their place in the model."""

import math

import numpy as np
import pytest
import torch

from sklearn_sain import SAINRegressor
from sklearn_sain._feedback import ImplicitFeedback, count_links
from sklearn_sain._model import SAINModule
from sklearn_sain.datasets import make_ratings

# users 2..4 rated items 2..5; user 3 rated item 4 twice; users 0, 1 (padding,
# unknown) and item 6 have no links
USERS = np.array([2, 2, 3, 3, 3, 4])
ITEMS = np.array([2, 5, 4, 4, 3, 2])


def make_feedback(dim=3):
    torch.manual_seed(0)
    module = ImplicitFeedback(n_owners=5, n_others=7, n_links=count_links(USERS, ITEMS), dim=dim)
    module.set_links(USERS, ITEMS)
    return module


def test_count_links_counts_distinct_pairs():
    assert count_links(USERS, ITEMS) == 5
    assert count_links(np.array([], dtype=int), np.array([], dtype=int)) == 0


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


def test_empty_batch_gives_empty_result():
    assert make_feedback()(torch.tensor([], dtype=torch.long)).shape == (0, 3)


def test_gradient_reaches_exactly_the_linked_rows():
    module = make_feedback()
    module(torch.tensor([2, 2])).sum().backward()
    touched = module.table.weight.grad.abs().sum(-1).nonzero().flatten().tolist()
    assert touched == [2, 5]
    # each of the two rows of user 2 contributes 1 / sqrt(2) per dimension
    torch.testing.assert_close(module.table.weight.grad[2], torch.full((3,), 2 / math.sqrt(2)))


def test_int32_ids_give_the_same_vectors():
    module = make_feedback()
    ids = torch.tensor([4, 2, 3])
    torch.testing.assert_close(module(ids.int()), module(ids))


def test_wrong_number_of_links_is_refused():
    module = ImplicitFeedback(n_owners=5, n_others=7, n_links=3, dim=2)
    with pytest.raises(ValueError, match="expected 3 distinct links, got 5"):
        module.set_links(USERS, ITEMS)


def test_links_travel_in_the_state_dict():
    module = make_feedback()
    copy = ImplicitFeedback(n_owners=5, n_others=7, n_links=5, dim=3)
    copy.load_state_dict(module.state_dict())
    ids = torch.tensor([2, 3, 4, 0])
    torch.testing.assert_close(copy(ids), module(ids))


def test_module_feedback_vectors_add_both_implicit_sums():
    kwargs = dict(n_users=5, n_items=7, vocabulary_sizes=[], field_roles=[], field_widths=[],
                  embed_dim=3)  # fmt: skip
    torch.manual_seed(0)
    module = SAINModule(**kwargs, implicit_feedback=True, n_feedback_links=5)
    module.set_feedback_links(USERS, ITEMS)
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
    module.set_feedback_links(USERS, ITEMS)  # nothing to store: a no-op
    assert not any("implicit" in name for name in module.state_dict())


@pytest.fixture(scope="module")
def ratings():
    return make_ratings(n_users=40, n_items=30, n_ratings=900, random_state=1)


def test_regressor_links_are_the_training_pairs(ratings):
    X, y = ratings
    model = SAINRegressor(max_epochs=2, device="cpu", random_state=0).fit(X, y)
    implicit = model.module_.user_implicit
    encoded = model.encoder_.transform(X)
    users, items = model.layout_.arrays(encoded)[:2]
    # early stopping held out a validation share: the links are a subset of the pairs
    pairs = set(zip(users.tolist(), items.tolist()))
    starts, counts, others = (t.numpy() for t in (implicit.starts, implicit.counts, implicit.others))
    linked = {(u, int(i)) for u in range(len(starts))
              for i in others[starts[u]:starts[u] + counts[u]]}  # fmt: skip
    assert linked and linked <= pairs
    assert len(linked) == model._module_kwargs["n_feedback_links"]
    assert len(linked) < len(pairs)


def test_regressor_without_implicit_feedback_differs_and_still_learns(ratings):
    X, y = ratings
    on = SAINRegressor(max_epochs=2, device="cpu", random_state=0).fit(X, y)
    off = SAINRegressor(max_epochs=2, device="cpu", random_state=0,
                        implicit_feedback=False).fit(X, y)  # fmt: skip
    assert not hasattr(off.module_, "user_implicit")
    assert off._module_kwargs["n_feedback_links"] == 0
    assert not np.allclose(on.predict(X), off.predict(X))
    assert np.isfinite(off.predict(X)).all()


def test_implicit_feedback_must_be_a_bool(ratings):
    X, y = ratings
    with pytest.raises(TypeError, match="implicit_feedback"):
        SAINRegressor(max_epochs=1, device="cpu", implicit_feedback="yes").fit(X, y)

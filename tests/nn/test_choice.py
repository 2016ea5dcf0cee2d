"""ChoiceHead: the equations of the choice vectors, the logits and the multinomial loss."""

import pytest
import torch
from torch.nn import functional as F

from sklearn_sain._nn.choice import ChoiceHead, multinomial_loss
from sklearn_sain._encoding.ids import UNKNOWN_ID


@pytest.fixture
def head():
    torch.manual_seed(0)
    head = ChoiceHead(n_users=6, n_items=9, user_feature_dim=3, item_feature_dim=4, embed_dim=5)
    with torch.no_grad():  # non-zero everywhere, so that every term shows
        for p in head.parameters():
            p.normal_()
    return head


def test_user_vector_is_id_plus_scaled_history_plus_mapped_features(head):
    users = torch.tensor([2, 3, 4])
    history = torch.tensor([5, 6, 7, 8, 5])  # user 2: 5, 6, 7; user 3: none; user 4: 8, 5
    offsets = torch.tensor([0, 3, 3])
    features = torch.randn(3, 3)
    got = head.user_vectors(users, history, offsets, features)
    y = head.history.weight
    sums = [y[[5, 6, 7]].sum(0) / 3**0.5, torch.zeros(5), y[[8, 5]].sum(0) / 2**0.5]
    mapped = features @ head.user_features.weight.T
    expected = head.user_id.weight[users] + torch.stack(sums) + mapped
    torch.testing.assert_close(got, expected)
    assert got.shape == (3, 5)


def test_item_vectors_and_biases_add_the_features_map(head):
    items = torch.tensor([2, 7])
    features = torch.randn(2, 4)
    vectors, bias = head.item_vectors(items, features)
    mapped = features @ head.item_features.weight.T  # (2, embed_dim + 1)
    torch.testing.assert_close(vectors, head.item_id.weight[items] + mapped[:, :-1])
    torch.testing.assert_close(bias, head.item_bias.weight[items, 0] + mapped[:, -1])


def test_hidden_ids_score_as_the_unknown_id(head):
    items = torch.tensor([2, 7, 8])
    features = torch.randn(3, 4)
    hidden, hidden_bias = head.item_vectors(items, features, known=torch.tensor([1.0, 0.0, 1.0]))
    unknown, unknown_bias = head.item_vectors(torch.tensor([2, UNKNOWN_ID, 8]), features)
    torch.testing.assert_close(hidden, unknown)
    torch.testing.assert_close(hidden_bias, unknown_bias)


def test_sides_without_features_ignore_them():
    head = ChoiceHead(5, 5, user_feature_dim=0, item_feature_dim=0, embed_dim=3)
    assert head.user_features is None and head.item_features is None
    vectors, bias = head.item_vectors(torch.tensor([2, 3]), None)
    assert vectors.shape == (2, 3) and bias.shape == (2,)


def test_logits_are_products_plus_item_bias(head):
    users, items, bias = torch.randn(4, 5), torch.randn(7, 5), torch.randn(7)
    torch.testing.assert_close(head.logits(users, items, bias), users @ items.T + bias)


def test_multinomial_loss_is_the_mean_negative_log_likelihood_of_the_chosen_items():
    logits = torch.randn(3, 6)
    chosen = torch.zeros(3, 6)
    chosen[0, [1, 2]] = chosen[1, 5] = chosen[2, [0, 3, 4]] = 1
    expected = -torch.stack([F.log_softmax(logits[u], 0)[chosen[u] > 0].sum()
                             for u in range(3)]).mean()
    torch.testing.assert_close(multinomial_loss(logits, chosen), expected)


def test_fresh_head_starts_users_from_their_history_alone():
    head = ChoiceHead(4, 6, user_feature_dim=0, item_feature_dim=0, embed_dim=3)
    assert torch.count_nonzero(head.user_id.weight) == 0
    assert torch.count_nonzero(head.item_bias.weight) == 0
    assert float(head.rating_weight) == 0.0

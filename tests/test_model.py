"""The torch network, equation by equation, on tiny inputs."""

import math

import pytest
import torch

from sklearn_sain._model import (
    FieldPooling,
    MaskedBatchNorm,
    SAINModule,
    SharedFieldEmbedding,
    TopKSelfAttention,
)


def make_module(**overrides):
    # users: age (scalar, 5 ids); items: genres (3 slots, 6 ids), director (scalar, 4 ids)
    kwargs = dict(
        n_users=6,
        n_items=5,
        vocabulary_sizes=[5, 6, 4],
        field_roles=["user", "item", "item"],
        field_widths=[1, 3, 1],
        feature_dim=8,
        embed_dim=12,
        n_heads=2,
        top_k=3,
        dropout=0.0,
    )
    kwargs.update(overrides)
    torch.manual_seed(0)
    return SAINModule(**kwargs).eval()


def batch():
    users = torch.tensor([2, 3, 1])
    items = torch.tensor([2, 4, 3])
    # slots: age | genres x3 | director ; 0 = padding
    tokens = torch.tensor([[2, 2, 3, 0, 2], [3, 4, 0, 0, 3], [4, 2, 3, 5, 0]])
    return users, items, tokens


def test_shared_embedding_offsets_give_each_field_its_own_rows():
    embedding = SharedFieldEmbedding([3, 4], slot_fields=[0, 1, 1], dim=2)
    rows = embedding.rows(torch.tensor([[1, 1, 3], [2, 0, 2]]))
    # field 0 owns rows 1-2 (local ids 1-2), field 1 rows 3-5 (local ids 1-3)
    assert rows.tolist() == [[1, 3, 5], [2, 0, 4]]
    assert embedding.n_rows == 6
    assert torch.all(embedding(torch.zeros(1, 3, dtype=torch.long)) == 0)


def test_attention_weights_are_a_softmax_of_scaled_dot_products():
    torch.manual_seed(0)
    attention = TopKSelfAttention(dim=4, n_heads=1, top_k=None, dropout=0.0)
    x = torch.randn(1, 3, 4)
    valid = torch.ones(1, 3, dtype=torch.bool)
    out, weights = attention(x, valid)
    wq, wk, wv = attention.to_qkv.weight.chunk(3, dim=0)
    q, k, v = x @ wq.T, x @ wk.T, x @ wv.T
    expected = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(4), dim=-1)  # Eq. 1
    torch.testing.assert_close(weights[:, 0], expected)
    torch.testing.assert_close(out, expected @ v)  # Eq. 2


def test_top_k_keeps_exactly_k_valid_keys_per_query():
    torch.manual_seed(1)
    attention = TopKSelfAttention(dim=8, n_heads=2, top_k=3, dropout=0.0)
    x = torch.randn(4, 6, 8)
    valid = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0], [1] * 6]).bool()
    _, weights = attention(x, valid)
    nonzero = (weights > 0).sum(-1)  # (batch, heads, queries)
    assert torch.all(nonzero[0] == 3)
    assert torch.all(nonzero[1] == 3)
    assert torch.all(nonzero[2] == 2)  # fewer valid keys than K: all of them
    torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights.sum(-1)))
    # padding keys never get weight
    assert torch.all(weights[1, :, :, 4:] == 0)
    assert torch.all(weights[2, :, :, 2:] == 0)


def test_top_k_keeps_the_highest_scores():
    torch.manual_seed(2)
    attention = TopKSelfAttention(dim=4, n_heads=1, top_k=2, dropout=0.0)
    x = torch.randn(1, 5, 4)
    valid = torch.ones(1, 5, dtype=torch.bool)
    _, weights = attention(x, valid)
    _, full = attention(x, valid, apply_top_k=False)
    kept = weights[0, 0] > 0
    best = full[0, 0].topk(2, dim=-1).indices
    assert torch.equal(kept, torch.zeros_like(kept).scatter_(-1, best, True))
    # the surviving weights are a softmax over the kept scores only
    renormalised = full[0, 0] * kept / (full[0, 0] * kept).sum(-1, keepdim=True)
    torch.testing.assert_close(weights[0, 0], renormalised)


def test_all_padding_row_gives_zero_weights_not_nan():
    attention = TopKSelfAttention(dim=4, n_heads=2, top_k=2, dropout=0.0)
    out, weights = attention(torch.randn(2, 3, 4), torch.tensor([[0, 0, 0], [1, 0, 0]]).bool())
    assert torch.isfinite(out).all()
    assert torch.all(weights[0] == 0)


def test_n_heads_must_divide_width():
    with pytest.raises(ValueError, match="n_heads=3"):
        TopKSelfAttention(dim=8, n_heads=3, top_k=None, dropout=0.0)


def test_masked_batch_norm_ignores_padding():
    norm = MaskedBatchNorm(2).train()
    x = torch.tensor([[[1.0, 2.0], [3.0, 6.0], [100.0, 100.0]]])
    valid = torch.tensor([[True, True, False]])
    out = norm(x, valid)
    torch.testing.assert_close(out[0, :2].mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(norm.running_mean, torch.tensor([0.2, 0.4]))


def test_field_pooling_averages_valid_tokens_per_field():
    pooling = FieldPooling(slot_fields=[0, 1, 1, 1], n_fields=2)
    x = torch.arange(8.0).view(1, 4, 2)
    valid = torch.tensor([[True, True, True, False]])
    out = pooling(x, valid)
    assert out.tolist() == [[0.0, 1.0, 3.0, 4.0]]  # field 1: mean of (2,3) and (4,5)


def test_forward_scores_follow_equations_7_to_9():
    module = make_module()
    users, items, tokens = batch()
    out = module(users, items, tokens, return_attention=True)
    assert out.combined.shape == out.content.shape == out.preference.shape == (3,)
    assert out.attention.shape == (3, 2, 5, 5)
    assert torch.all((out.alpha_user[:2] > 0) & (out.alpha_user[:2] < 1))
    assert torch.all((out.alpha_item > 0) & (out.alpha_item < 1))

    user_bar, item_bar, _ = module.content_vectors(tokens, apply_top_k=True)
    user_cf, item_cf = module.user_cf(users), module.item_cf(items)
    bias = module.global_bias + module.user_bias(users)[:, 0] + module.item_bias(items)[:, 0]
    gate = module.gate
    alpha_u = torch.sigmoid(gate(user_cf) - gate(user_bar))[:, 0]  # Eq. 7 as a 2-way softmax
    alpha_u = alpha_u * torch.tensor([1.0, 1.0, 0.0])  # user 1 is unknown
    expected_alpha_u = torch.exp(gate(user_cf)) / (torch.exp(gate(user_cf)) + torch.exp(gate(user_bar)))
    torch.testing.assert_close(out.alpha_user[:2], expected_alpha_u[:2, 0])
    alpha_i = torch.sigmoid(gate(item_cf) - gate(item_bar))[:, 0]
    x_u = alpha_u[:, None] * user_cf + (1 - alpha_u[:, None]) * user_bar  # Eq. 8
    x_i = alpha_i[:, None] * item_cf + (1 - alpha_i[:, None]) * item_bar
    torch.testing.assert_close(out.combined, (x_u * x_i).sum(-1) + bias)
    torch.testing.assert_close(out.content, (user_bar * item_bar).sum(-1) + bias)
    torch.testing.assert_close(out.preference, (user_cf * item_cf).sum(-1) + bias)


def test_unknown_user_relies_on_content_only():
    module = make_module()
    users, items, tokens = batch()
    out = module(users, items, tokens)
    assert out.alpha_user[2] == 0  # user id 1 = unknown
    assert torch.isfinite(out.combined).all()


def test_side_without_features_uses_id_vector():
    module = make_module(vocabulary_sizes=[6], field_roles=["item"], field_widths=[3])
    users, items, tokens = batch()
    out = module(users, items, tokens[:, 1:4])
    assert torch.all(out.alpha_user == 1)
    assert module.f_user is None


def test_no_features_at_all_is_biased_matrix_factorisation():
    module = make_module(vocabulary_sizes=[], field_roles=[], field_widths=[])
    users, items, _ = batch()
    out = module(users, items, torch.zeros(3, 0, dtype=torch.long))
    torch.testing.assert_close(out.combined, out.preference)


def test_top_k_at_predict_switch():
    users, items, tokens = batch()
    on = make_module(top_k=1, top_k_at_predict=True)
    off = make_module(top_k=1, top_k_at_predict=False)
    assert torch.all((on(users, items, tokens, True).attention > 0).sum(-1) <= 1)
    assert (off(users, items, tokens, True).attention > 0).sum(-1).max() > 1
    off.train()
    assert torch.all((off(users, items, tokens, True).attention > 0).sum(-1) <= 1)


@pytest.mark.parametrize("norm", ["layer", "batch", "none"])
def test_gradients_reach_every_part(norm):
    module = make_module(norm=norm).train()
    users, items, tokens = batch()
    out = module(users, items, tokens)
    (out.combined.sum() + out.content.sum() + out.preference.sum()).backward()
    assert module.features.table.weight.grad.abs().sum() > 0
    assert module.interaction.attention.to_qkv.weight.grad.abs().sum() > 0
    assert module.gate.weight.grad.abs().sum() > 0
    assert module.features.table.weight.grad[0].abs().sum() == 0  # padding row stays put


def test_l2_penalty_counts_batch_rows():
    module = make_module()
    users, items, tokens = batch()
    expected = (
        module.user_cf(users).pow(2).sum(-1)
        + module.item_cf(items).pow(2).sum(-1)
        + module.features(tokens).pow(2).sum((1, 2))
    ).mean()
    torch.testing.assert_close(module.l2_penalty(users, items, tokens), expected)


def test_user_fields_must_precede_item_fields():
    with pytest.raises(ValueError, match="user fields"):
        make_module(field_roles=["item", "user", "item"])

"""The torch network, equation by equation, on tiny inputs."""

import math

import pytest
import torch

from sklearn_sain._nn.attention import TopKSelfAttention
from sklearn_sain._nn.layers import FieldPooling, MaskedBatchNorm, SharedFieldEmbedding
from sklearn_sain._encoding.ids import UNKNOWN_ID
from sklearn_sain._nn.model import SAINModule


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


def l2_of_batch_rows(module, users, items, tokens):
    """Mean squared norm of the id and feature-token embedding rows of a batch."""
    return (
        module.user_cf(users).pow(2).sum(-1)
        + module.item_cf(items).pow(2).sum(-1)
        + module.features(tokens).pow(2).sum((1, 2))
    ).mean()


def test_l2_penalty_counts_batch_rows():
    module = make_module()
    users, items, tokens = batch()
    _, penalties = module.training_terms(users, items, module.token_rows(tokens))
    torch.testing.assert_close(penalties.l2, l2_of_batch_rows(module, users, items, tokens))


def test_anchor_penalty_is_the_distance_of_known_feedback_vectors_to_content():
    module = make_module()  # eval mode: no dropout, the same content vectors as content()
    users, items, tokens = batch()
    users = users.clone()
    users[0] = UNKNOWN_ID  # an unknown id is not anchored: it has no feedback vector of its own
    _, penalties = module.training_terms(users, items, module.token_rows(tokens))
    user_content, item_content = module.content(tokens, module.top_k_at_predict)
    known = (users > UNKNOWN_ID).float()
    expected = (((module.user_vectors(users) - user_content.vector).square().sum(-1) * known)
                + (module.item_vectors(items) - item_content.vector).square().sum(-1)).mean()
    torch.testing.assert_close(penalties.anchor, expected)
    assert penalties.anchor > 0


def test_anchor_penalty_is_zero_without_features():
    module = make_module(vocabulary_sizes=[], field_roles=[], field_widths=[])
    users, items, _ = batch()
    _, penalties = module.training_terms(users, items, torch.zeros(3, 0, dtype=torch.long))
    assert penalties.anchor == 0


def test_user_fields_must_precede_item_fields():
    with pytest.raises(ValueError, match="user fields"):
        make_module(field_roles=["item", "user", "item"])


# ---------------------------------------------------------------- fast paths
# The module computes Eq. 1-6 with fewer, larger operations than the textbook
# formulation (masked heads in one product, top-K without topk on every row,
# valid tokens only after the attention, a fused kernel for prediction). These
# tests hold each shortcut to the plain formulation.

from sklearn_sain._nn.attention import top_k_bias  # noqa: E402



def reference_keep(scores, valid, top_k):
    """Eq. 2 the obvious way: topk over the valid keys of every query."""
    keep = valid[:, None, None, :].expand_as(scores)
    if top_k is None or top_k >= scores.shape[-1]:
        return keep
    top = scores.masked_fill(~keep, float("-inf")).topk(top_k, dim=-1).indices
    return torch.zeros_like(keep).scatter_(-1, top, True) & keep


@pytest.mark.parametrize("top_k", [1, 2, 3, 5, 7, None])
def test_top_k_bias_keeps_the_same_keys_as_topk(top_k):
    generator = torch.Generator().manual_seed(top_k or 0)
    scores = torch.randn(40, 2, 7, 7, generator=generator)
    valid = torch.rand(40, 7, generator=generator) < 0.7
    valid[:3] = True  # crowded rows
    valid[3] = False  # a row without tokens
    bias = top_k_bias(valid, top_k, 2, lambda rows: scores.index_select(0, rows))
    kept = (bias.expand_as(scores) == 0) & valid[:, None, None, :]
    valid_queries = valid[:, None, :, None].expand_as(scores)
    expected = reference_keep(scores, valid, top_k)
    assert torch.equal(kept & valid_queries, expected & valid_queries)
    # a padding query (a zero vector in the network) keeps as many keys as any other
    assert torch.equal(kept.sum(-1), expected.sum(-1))
    # dropped keys get a large negative, so that exp() of them is exactly 0
    assert torch.all(bias.expand_as(scores)[~kept & valid[:, None, None, :]] < -1e30)


def test_top_k_ties_still_keep_exactly_k():
    # two unknown values of one cell are the same token: their scores tie
    scores = torch.tensor([1.0, 3.0, 2.0, 2.0, 2.0, 0.5]).expand(1, 1, 6, 6)
    valid = torch.ones(1, 6, dtype=torch.bool)
    kept = top_k_bias(valid, 3, 1, lambda rows: scores[rows]) == 0
    assert torch.all(kept.sum(-1) == 3)
    assert kept[0, 0, 0].tolist() == [False, True, True, True, False, False]  # earlier tie wins
    kept = top_k_bias(valid, 2, 1, lambda rows: scores[rows]) == 0
    assert kept[0, 0, 0].tolist() == [False, True, True, False, False, False]


def test_duplicate_tokens_keep_exactly_k_in_the_module():
    module = make_module(top_k=2)
    users, items, tokens = batch()
    tokens = tokens.clone()
    tokens[0, 1:4] = 1  # three unknown genres: identical tokens
    weights = module(users, items, tokens, return_attention=True).attention
    valid_queries = (tokens > 0)[:, None, :]
    counts = (weights > 0).sum(-1)
    assert torch.all(counts[valid_queries.expand_as(counts)] == 2)


def test_padding_queries_keep_exactly_k_keys_too():
    module = make_module(top_k=2)
    users, items, tokens = batch()
    weights = module(users, items, tokens, return_attention=True).attention
    n_valid = (tokens > 0).sum(-1)
    expected = torch.minimum(n_valid, torch.tensor(2))[:, None, None]
    assert torch.all((weights > 0).sum(-1) == expected)


@pytest.mark.parametrize("top_k", [1, 3, None])
@pytest.mark.parametrize("top_k_at_predict", [True, False])
def test_prediction_without_weights_matches_the_explicit_attention(top_k, top_k_at_predict):
    module = make_module(top_k=top_k, top_k_at_predict=top_k_at_predict)
    users, items, tokens = batch()
    tokens = torch.cat([tokens, torch.zeros(1, 5, dtype=torch.long)])  # and a row with no token
    users, items = torch.cat([users, users[:1]]), torch.cat([items, items[:1]])
    explicit = module(users, items, tokens, return_attention=True)
    with torch.inference_mode():
        fused = module(users, items, tokens)  # no weights, no gradients: the fused kernel
    assert fused.attention is None
    for name in ("combined", "content", "preference", "alpha_user", "alpha_item"):
        torch.testing.assert_close(getattr(fused, name), getattr(explicit, name))


@pytest.mark.parametrize("n_heads", [1, 2])
@pytest.mark.parametrize("top_k", [2, None])
def test_cpu_and_gpu_prediction_kernels_match_the_explicit_attention(top_k, n_heads):
    # prediction uses the keys-first layout on a CPU and torch's fused kernel
    # on a GPU; both run here, so the GPU's path is checked without a GPU
    torch.manual_seed(0)
    attention = TopKSelfAttention(8, n_heads=n_heads, top_k=top_k, dropout=0.0).eval()
    x = torch.randn(6, 5, 8)
    valid = torch.rand(6, 5) > 0.3
    valid[0] = True  # crowded: top-K selects
    valid[1] = False  # no key at all
    x = x * valid.unsqueeze(-1)
    expected, _ = attention(x, valid, need_weights=True)
    with torch.inference_mode():
        q, k, v = attention.to_qkv(x).split(8, dim=-1)
        keys_first = attention._keys_first(q, k, v, valid, True)
        fused = attention._fused(q, k, v, valid, True)
        default, weights = attention(x, valid, need_weights=False)
    assert weights is None
    torch.testing.assert_close(keys_first, expected)
    torch.testing.assert_close(fused, expected)
    torch.testing.assert_close(default, keys_first)
    assert torch.all(keys_first[1] == 0)


def dense_interaction(interaction, x, valid):
    """Eq. 1-4 on every slot, padding included: the plain formulation ``valid_tokens`` shortens."""
    attended, weights = interaction.attention(x, valid)
    x = torch.relu(x + attended)  # Eq. 4
    x = interaction.norm(x, valid) if interaction.norm_kind == "batch" else interaction.norm(x)
    return x, weights


def test_valid_token_path_matches_the_dense_layers():
    module = make_module().train()
    users, items, tokens = batch()
    x = module.features(tokens)
    valid = tokens > 0
    torch.manual_seed(0)
    dense, _ = dense_interaction(module.interaction, x, valid)
    pooled = module.pooling(dense, valid)
    running = module.interaction.norm.running_mean.clone()
    module.interaction.norm.running_mean.copy_(torch.zeros_like(running))
    module.interaction.norm.running_var.fill_(1.0)
    token_index = valid.reshape(-1).nonzero().squeeze(1)
    torch.manual_seed(0)
    compact, _ = module.interaction.valid_tokens(x, valid, token_index)
    torch.testing.assert_close(compact, dense.reshape(-1, x.shape[-1])[token_index])
    torch.testing.assert_close(module.pooling.pool_tokens(compact, token_index, len(tokens)),
                               pooled)
    torch.testing.assert_close(module.interaction.norm.running_mean, running)


def test_int32_and_int64_inputs_agree():
    module = make_module()
    users, items, tokens = batch()
    wide = module(users, items, tokens, return_attention=True)
    narrow = module(users.int(), items.int(), tokens.int(), return_attention=True)
    for a, b in zip(wide, narrow):
        torch.testing.assert_close(a, b)


def test_training_terms_are_the_scores_and_the_penalty():
    module = make_module().train()
    users, items, tokens = batch()
    torch.manual_seed(0)
    out = module(users, items, tokens)
    torch.manual_seed(0)
    scores, penalties = module.training_terms(users, items, module.token_rows(tokens))
    torch.testing.assert_close(scores, torch.stack([out.combined, out.content, out.preference]))
    torch.testing.assert_close(penalties.l2, l2_of_batch_rows(module, users, items, tokens))


@pytest.mark.gpu
def test_cuda_forward_matches_cpu():
    module = make_module(top_k=2)
    users, items, tokens = batch()
    on_cpu = module(users, items, tokens, return_attention=True)
    cuda = module.to("cuda")
    on_gpu = cuda(users.cuda(), items.cuda(), tokens.cuda(), return_attention=True)
    for a, b in zip(on_cpu, on_gpu):
        torch.testing.assert_close(a, b.cpu(), rtol=1e-4, atol=1e-5)
    with torch.inference_mode():
        fused = cuda(users.cuda(), items.cuda(), tokens.cuda())
    torch.testing.assert_close(fused.combined.cpu(), on_cpu.combined, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
def test_cuda_training_step_reaches_every_part():
    module = make_module(top_k=2, dropout=0.1).to("cuda").train()
    users, items, tokens = (t.cuda() for t in batch())
    scores, penalties = module.training_terms(users, items, module.token_rows(tokens))
    (scores.sum() + penalties.l2 + penalties.anchor).backward()
    assert module.interaction.attention.to_qkv.weight.grad.abs().sum() > 0
    assert module.features.table.weight.grad[0].abs().sum() == 0


# ---------------------------------------------------------------- cold start
def _randomise_bias_heads(module):
    with torch.no_grad():
        for head in (module.user_content_bias, module.item_content_bias, module.token_bias):
            head.weight.normal_()
        module.token_bias.weight[0] = 0  # the padding row
        module.user_bias.weight.normal_()
        module.item_bias.weight.normal_()
    return module


def _pooled_token_bias(module, tokens, fields):
    """Sum over ``fields`` of the mean token-bias pair of each field's valid tokens."""
    rows = module.token_rows(tokens)
    values = module.token_bias.weight[rows]  # (batch, slots, 2)
    slot_fields = torch.tensor([0, 1, 1, 1, 2])  # age | genres x3 | director
    total = 0
    for field in fields:
        in_field = ((slot_fields == field) & (rows > 0)).float()  # (batch, slots)
        total = total + (values * in_field[..., None]).sum(1) / in_field.sum(1).clamp(min=1)[:, None]
    return total


def test_content_bias_adds_a_known_ids_complement_and_an_unseen_ids_whole_bias():
    module = _randomise_bias_heads(make_module(content_bias=True))
    users, items, tokens = batch()  # user 1 (third row) is unknown
    out = module(users, items, tokens)
    user_side, item_side = module.content(tokens, apply_top_k=True)
    user_bar, item_bar = user_side.vector, item_side.vector
    # two outputs: a linear map of X̄ plus the pooled biases of the feature values
    torch.testing.assert_close(user_side.bias, module.user_content_bias(user_bar)
                               + _pooled_token_bias(module, tokens, [0]))
    torch.testing.assert_close(item_side.bias, module.item_content_bias(item_bar)
                               + _pooled_token_bias(module, tokens, [1, 2]))
    warm_u, cold_u = user_side.bias.unbind(-1)
    warm_i, _ = item_side.bias.unbind(-1)
    known = users > 1
    user_bias = module.user_bias(users)[:, 0] + torch.where(known, warm_u, cold_u)
    torch.testing.assert_close(module.user_biases(users, user_side), user_bias)
    torch.testing.assert_close(module.item_biases(items, item_side),
                               module.item_bias(items)[:, 0] + warm_i)
    x_u = out.alpha_user[:, None] * module.user_cf(users) + (1 - out.alpha_user[:, None]) * user_bar
    x_i = out.alpha_item[:, None] * module.item_cf(items) + (1 - out.alpha_item[:, None]) * item_bar
    expected = (x_u * x_i).sum(-1) + module.global_bias + user_bias + module.item_bias(items)[:, 0] + warm_i
    torch.testing.assert_close(out.combined, expected)
    # the unknown user's bias is the unknown row's plus the cold output, not a known id's
    assert module.user_biases(users, user_side)[2] == module.user_bias.weight[1, 0] + cold_u[2]


def test_content_bias_starts_at_zero_and_needs_features():
    module = make_module(content_bias=True)
    assert torch.count_nonzero(module.item_content_bias.weight) == 0
    assert torch.count_nonzero(module.token_bias.weight) == 0
    # a side without features has no content to read a bias from
    no_user_features = make_module(vocabulary_sizes=[6], field_roles=["item"], field_widths=[3],
                                   content_bias=True)
    assert no_user_features.user_content_bias is None
    assert no_user_features.item_content_bias is not None


def test_cold_scores_are_equation_9_for_an_unseen_item_then_an_unseen_user():
    module = _randomise_bias_heads(make_module(content_bias=True))
    users, items, tokens = batch()
    rows = module.token_rows(tokens)
    scores, _ = module.training_terms(users, items, rows, cold_scores=True)  # eval: no dropout
    assert scores.shape == (5, 3)
    plain, _ = module.training_terms(users, items, rows)
    torch.testing.assert_close(scores[:3], plain)

    out = module(users, items, tokens)
    user_side, item_side = module.content(tokens, apply_top_k=True)
    user_bar, item_bar = user_side.vector, item_side.vector
    x_u = out.alpha_user[:, None] * module.user_cf(users) + (1 - out.alpha_user[:, None]) * user_bar
    x_i = out.alpha_item[:, None] * module.item_cf(items) + (1 - out.alpha_item[:, None]) * item_bar
    unknown = torch.full_like(users, 1)
    g = module.global_bias
    # the same as predicting the row with the item's (then the user's) id unknown
    as_new_item = module(users, unknown, tokens).combined
    as_new_user = module(unknown, items, tokens).combined
    torch.testing.assert_close(scores[3], as_new_item)
    torch.testing.assert_close(scores[4], as_new_user)
    torch.testing.assert_close(
        scores[3], (x_u * item_bar).sum(-1) + g + module.user_biases(users, user_side)
        + module.item_biases(unknown, item_side))
    torch.testing.assert_close(
        scores[4], (user_bar * x_i).sum(-1) + g + module.user_biases(unknown, user_side)
        + module.item_biases(items, item_side))


def test_cold_scores_train_the_cold_path_only():
    module = make_module(content_bias=True).train()
    users, items, tokens = batch()
    scores, _ = module.training_terms(users, items, module.token_rows(tokens), cold_scores=True)
    scores[3:].sum().backward()
    # the known side is a constant: its id vectors, id biases and the gate get nothing
    for name in ("user_cf", "item_cf"):
        grad = getattr(module, name).weight.grad
        assert grad is None or torch.count_nonzero(grad[2:]) == 0, name
    for table in (module.user_bias, module.item_bias):
        assert torch.count_nonzero(table.weight.grad[2:]) == 0
        assert table.weight.grad[1] != 0  # the unknown id's bias is trained
    # alpha_CF = 0 for the unseen side: no gradient reaches the gate through it
    assert module.gate.weight.grad is None or torch.count_nonzero(module.gate.weight.grad) == 0
    assert torch.count_nonzero(module.item_content_bias.weight.grad) > 0
    assert torch.count_nonzero(module.token_bias.weight.grad) > 0
    assert torch.count_nonzero(module.features.table.weight.grad) > 0


def test_cold_score_of_a_side_without_features_uses_the_unknown_ids_vector():
    # items only have features: an unseen user has no content, only the unknown id's vector
    module = make_module(vocabulary_sizes=[6, 4], field_roles=["item", "item"],
                         field_widths=[3, 1], content_bias=True)
    with torch.no_grad():
        module.user_cf.weight[1].normal_()  # the unknown id's vector, non-zero
    users, items, tokens = batch()
    tokens = tokens[:, 1:]
    scores, _ = module.training_terms(users, items, module.token_rows(tokens), cold_scores=True)
    unknown = torch.ones_like(users)
    torch.testing.assert_close(scores[4], module(unknown, items, tokens).combined)
    torch.testing.assert_close(scores[3], module(users, unknown, tokens).combined)


def test_id_dropout_replaces_known_ids_in_training_only():
    module = make_module(id_dropout=1.0, norm="layer")  # no running statistics to move
    users, items, tokens = batch()
    unknown = torch.ones_like(users)
    module.train()
    dropped = module(users, items, tokens)
    as_unknown = module(unknown, unknown, tokens)
    torch.testing.assert_close(dropped.combined, as_unknown.combined)
    assert torch.all(dropped.alpha_user == 0) and torch.all(dropped.alpha_item == 0)
    module.eval()  # prediction never drops
    torch.testing.assert_close(module(users, items, tokens).combined,
                               make_module(norm="layer")(users, items, tokens).combined)


def test_partial_id_dropout_drops_about_that_share():
    module = make_module(id_dropout=0.3).train()
    torch.manual_seed(0)
    ids = torch.arange(2, 10002)
    kept = module._drop_ids(ids) > 1
    assert abs(1 - kept.float().mean().item() - 0.3) < 0.02
    assert torch.equal(module._drop_ids(torch.tensor([0, 1])), torch.tensor([0, 1]))


def test_token_dropout_swaps_valid_tokens_for_their_fields_unknown_value_in_training():
    module = make_module(token_dropout=1.0, norm="layer")
    users, items, tokens = batch()
    unknown_tokens = torch.where(tokens > 0, 1, 0)  # local id 1 = unknown value, 0 stays padding
    module.train()
    torch.testing.assert_close(module(users, items, tokens).combined,
                               module(users, items, unknown_tokens).combined)
    module.eval()  # prediction reads the real values
    reference = make_module(norm="layer")
    torch.testing.assert_close(module(users, items, tokens).combined,
                               reference(users, items, tokens).combined)
    rows = module.token_rows(tokens)
    swapped = module.features.unknown_rows(rows, 1.0)
    torch.testing.assert_close(swapped, module.token_rows(unknown_tokens))


def test_attention_softmax_matches_torch_forward_and_backward():
    from sklearn_sain._nn.attention import _SoftmaxLastDim, _masked_value

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(5, 2, 4, 6, dtype=torch.double, generator=generator)
    x[0, :, :, 3:] = _masked_value(torch.double)  # masked keys, as the top-K bias sets them
    x[1] = _masked_value(torch.double)  # a row without any key: uniform, then zeroed
    torch.testing.assert_close(_SoftmaxLastDim.apply(x), torch.softmax(x, dim=-1))
    # finite differences cannot move the masked values: gradcheck on the unmasked rows
    assert torch.autograd.gradcheck(_SoftmaxLastDim.apply, (x[2:].clone().requires_grad_(),))
    weights = torch.randn(x.shape, dtype=torch.double, generator=generator)
    ours, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    (_SoftmaxLastDim.apply(ours) * weights).sum().backward()
    (torch.softmax(theirs, dim=-1) * weights).sum().backward()
    torch.testing.assert_close(ours.grad, theirs.grad)

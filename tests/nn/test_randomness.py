"""Randomness from the generators a fit owns: building, initialising and training draw
nothing from torch's global generator, and the same seed gives the same draws."""

import math

import pytest
import torch
from torch import nn

from sklearn_sain._nn.choice import ChoiceHead
from sklearn_sain._nn.model import SAINModule
from sklearn_sain._nn.randomness import Dropout, blank, dropout, init_linear_, random_mask, seeded_generator


def draws_nothing_global(action):
    """Run ``action``; whether torch's global generator is where it was."""
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    action()
    return torch.equal(torch.random.get_rng_state(), before)


def module(seed=0, **overrides):
    kwargs = dict(n_users=6, n_items=5, vocabulary_sizes=[5, 6, 4],
                  field_roles=["user", "item", "item"], field_widths=[1, 3, 1], feature_dim=8,
                  embed_dim=12, n_heads=2, top_k=3, dropout=0.3, implicit_feedback=True,
                  n_user_links=4, n_item_links=4, content_bias=True, id_dropout=0.3,
                  token_dropout=0.3, choice_head=True)  # fmt: skip
    kwargs.update(overrides)
    return SAINModule(**kwargs, generator=seeded_generator(seed))


def batch():
    users, items = torch.tensor([2, 3, 4, 5]), torch.tensor([2, 4, 3, 2])
    tokens = torch.tensor([[2, 2, 3, 0, 2], [3, 4, 0, 0, 3], [4, 2, 3, 5, 0], [2, 5, 0, 0, 2]])
    return users, items, tokens


def test_blank_layers_draw_nothing_and_init_linear_follows_torch_default_bounds():
    assert draws_nothing_global(lambda: blank(nn.Linear, 9, 4))
    assert draws_nothing_global(lambda: blank(nn.Embedding, 9, 4, padding_idx=0))
    first, second = blank(nn.Linear, 9, 400), blank(nn.Linear, 9, 400)
    assert draws_nothing_global(lambda: init_linear_(first, seeded_generator(5)))
    init_linear_(second, seeded_generator(5))
    assert torch.equal(first.weight, second.weight) and torch.equal(first.bias, second.bias)
    bound = 1 / math.sqrt(9)
    assert first.weight.abs().max() <= bound and first.bias.abs().max() <= bound
    # spread over the whole interval, as nn.Linear's own initialisation is
    assert first.weight.abs().max() > 0.95 * bound
    with torch.device("meta"):  # inside a meta context nothing is allocated
        assert blank(nn.Linear, 10**6, 10**6).weight.is_meta


def test_dropout_masks_follow_the_generator_and_keep_the_expectation():
    x = torch.ones(20000)
    a = dropout(x, 0.25, True, seeded_generator(1))
    assert draws_nothing_global(lambda: dropout(x, 0.25, True, seeded_generator(1)))
    assert torch.equal(a, dropout(x, 0.25, True, seeded_generator(1)))
    assert not torch.equal(a, dropout(x, 0.25, True, seeded_generator(2)))
    assert torch.equal(a.unique(), torch.tensor([0.0, 1 / 0.75]))
    assert abs(float(a.mean()) - 1.0) < 0.03
    assert dropout(x, 0.25, False, None) is x
    assert torch.equal(dropout(x, 1.0, True, None), torch.zeros_like(x))
    layer = Dropout(0.5)
    layer.generator = seeded_generator(3)
    assert torch.equal(layer(x), dropout(x, 0.5, True, seeded_generator(3)))
    mask = random_mask((10000,), 0.2, "cpu", seeded_generator(4))
    assert mask.dtype == torch.bool and abs(float(mask.float().mean()) - 0.2) < 0.02


def test_a_module_built_from_a_generator_draws_nothing_global_and_is_reproducible():
    assert draws_nothing_global(module)
    first, second, other = module(0).state_dict(), module(0).state_dict(), module(1).state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)
    # every randomly initialised layer was initialised: no leftover of the blank allocation
    built = module(0)
    for name, value in built.state_dict().items():
        assert torch.isfinite(value.float()).all(), name
    assert built.f_item[0].weight.std() > 0 and built.gate.weight.std() > 0
    assert built.interaction.attention.to_qkv.weight.std() > 0
    assert built.features.table.weight[0].abs().sum() == 0  # the padding row
    assert draws_nothing_global(lambda: ChoiceHead(6, 5, 8, 16, 12, seeded_generator(0)))


def test_training_masks_come_from_the_module_generator():
    def training_scores(seed):
        built = module(0).train()
        built.use_generator(seeded_generator(seed))
        return built(*batch()).combined

    assert draws_nothing_global(lambda: training_scores(7))
    assert torch.equal(training_scores(7), training_scores(7))
    assert not torch.equal(training_scores(7), training_scores(8))
    built = module(0)
    built.use_generator(seeded_generator(7))
    built.use_generator(None)  # back to torch's global generator
    assert built.noise_generator is None
    assert all(m.generator is None for m in built.modules() if isinstance(m, Dropout))
    built.train()
    assert not draws_nothing_global(lambda: built(*batch()))


@pytest.mark.parametrize("seed", [0, 3])
def test_seeded_generator_is_a_fresh_generator_on_the_device(seed):
    generator = seeded_generator(seed)
    assert generator.device == torch.device("cpu") and generator.initial_seed() == seed
    assert torch.equal(torch.rand(3, generator=generator), torch.rand(3, generator=seeded_generator(seed)))

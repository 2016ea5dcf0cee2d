"""Randomness drawn from generators a fit owns, never from torch's global one.

Threads that fit at the same time (threaded Dask or joblib workers) share
torch's global generator: seeding it, or drawing from it, makes their fits
depend on the order the threads run in, and moves the random stream of every
other thread of the process. The modules of this package therefore build their
layers without initialising them (:func:`blank`), initialise them from a
``generator`` argument, and draw their training-time masks from a generator
set with ``use_generator``. ``None`` everywhere means torch's global generator,
so that a module built by hand behaves as torch's own layers do.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def blank(layer_cls: type[nn.Module], *args, **kwargs) -> nn.Module:
    """``layer_cls(*args, **kwargs)`` with its parameters allocated but not initialised.

    torch's layers initialise themselves from the global generator as they
    are built; built on the meta device they draw nothing, and the owner
    initialises them from its own generator. The parameters are allocated on
    torch's current default device (the CPU, or the meta device inside
    ``with torch.device("meta")``, where nothing is allocated). Only for
    layers without buffers (``nn.Linear``, ``nn.Embedding``):
    :meth:`~torch.nn.Module.to_empty` leaves every tensor uninitialised.
    """
    default_device = torch.empty(0).device
    return layer_cls(*args, device="meta", **kwargs).to_empty(device=default_device)


def init_linear_(linear: nn.Linear, generator: torch.Generator | None = None) -> None:
    """torch's default initialisation of ``nn.Linear``, drawn from ``generator``.

    Weight and bias are uniform on ``(-1 / sqrt(in_features), 1 / sqrt(in_features))``
    (the weight's bound is what Kaiming-uniform with ``a = sqrt(5)`` gives).
    """
    bound = 1.0 / math.sqrt(linear.in_features) if linear.in_features > 0 else 0.0
    with torch.no_grad():
        linear.weight.uniform_(-bound, bound, generator=generator)
        if linear.bias is not None:
            linear.bias.uniform_(-bound, bound, generator=generator)


def random_mask(shape, share: float, device, generator: torch.Generator | None) -> torch.Tensor:
    """A boolean tensor of ``shape`` in which each entry is True with probability ``share``."""
    return torch.rand(shape, device=device, generator=generator) < share


def dropout(x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None):
    """Inverted dropout as :func:`torch.nn.functional.dropout`, its mask drawn from ``generator``."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return torch.zeros_like(x)
    # uniforms and a comparison: a third cheaper than bernoulli_ on a CPU
    kept = random_mask(x.shape, 1.0 - p, x.device, generator).to(x.dtype)
    return x * kept.div_(1.0 - p)


class Dropout(nn.Dropout):
    """:class:`torch.nn.Dropout` whose masks come from its ``generator`` attribute (None: global)."""

    generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training, self.generator)


def seeded_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A new generator on ``device`` seeded with ``seed``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator

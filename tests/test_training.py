"""The training loop: the joint loss, weight averaging, divergence."""

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from sklearn_sain._model import SAINModule, SAINOutput
from sklearn_sain._training import Rows, joint_loss, predict_rows, train_module


def tiny_rows(n=64, seed=0):
    rng = np.random.RandomState(seed)
    users = rng.randint(2, 8, n)
    items = rng.randint(2, 6, n)
    tokens = np.stack([rng.randint(0, 5, n), rng.randint(0, 4, n)], axis=1)
    target = rng.normal(size=n)
    return Rows.from_arrays(users, items, tokens, target, "cpu")


def tiny_module():
    torch.manual_seed(0)
    return SAINModule(8, 6, [5, 4], ["user", "item"], [1, 1], feature_dim=4, embed_dim=4,
                      n_heads=2, top_k=None, dropout=0.0)


def fit(module, rows, **overrides):
    params = dict(loss="rmse", l2_reg=0.0, learning_rate=0.01, batch_size=16, max_epochs=2,
                  early_stopping=False, n_iter_no_change=2, tol=0.0, target_scale=1.0,
                  rng=np.random.RandomState(0))
    params.update(overrides)
    return train_module(module, rows, None, **params)


def test_joint_loss_sums_three_errors():
    target = torch.tensor([1.0, 2.0])
    out = SAINOutput(torch.tensor([1.0, 4.0]), torch.tensor([0.0, 2.0]), torch.tensor([3.0, 2.0]),
                     None, None, None)
    expected_rmse = np.sqrt(2.0) + np.sqrt(0.5) + np.sqrt(2.0)
    assert joint_loss(out, target, "rmse").item() == pytest.approx(expected_rmse, rel=1e-5)
    assert joint_loss(out, target, "mse").item() == pytest.approx(2.0 + 0.5 + 2.0)


def test_weight_averaging_keeps_the_exponential_average_of_every_step():
    rows = tiny_rows()
    snapshots = []

    def record(optimizer, args, kwargs):
        snapshots.append({k: v.detach().clone() for k, v in plain.state_dict().items()})

    plain = tiny_module()
    handle = register_optimizer_step_post_hook(record)
    try:
        fit(plain, rows)
    finally:
        handle.remove()
    decay = 0.9
    expected = {k: v.clone() for k, v in snapshots[0].items()}
    for snapshot in snapshots[1:]:
        for name, value in snapshot.items():
            if value.is_floating_point():
                expected[name].lerp_(value, 1 - decay)

    averaged = tiny_module()
    fit(averaged, rows, weight_averaging=decay)
    for name, value in averaged.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=1e-4, atol=1e-6)
    assert not torch.allclose(averaged.user_cf.weight, plain.user_cf.weight)


def test_non_finite_loss_stops_with_a_clear_error():
    module = tiny_module()
    with torch.no_grad():
        module.global_bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="lower learning_rate"):
        fit(module, tiny_rows())


def test_predict_rows_batches_agree_with_one_pass():
    module = tiny_module().eval()
    rows = tiny_rows(50)
    np.testing.assert_allclose(predict_rows(module, rows, batch_size=7).numpy(),
                               predict_rows(module, rows, batch_size=1000).numpy(), atol=1e-6)
    assert not module.training

"""The training loop: the joint loss, weight averaging, divergence."""

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from sklearn_sain._nn.model import SAINModule, SAINOutput
from sklearn_sain._nn.training import (
    Rows,
    _exact_integer_ema,
    make_optimizer,
    predict_batch_rows,
    predict_rows,
    stacked_loss,
    train_module,
)


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


def _ids(parameters):
    return {id(p) for p in parameters}


def fit(module, rows, **overrides):
    params = dict(loss="rmse", l2_reg=0.0, learning_rate=0.01, batch_size=16, max_epochs=2,
                  early_stopping=False, n_iter_no_change=2, tol=0.0, target_scale=1.0,
                  rng=np.random.RandomState(0))
    params.update(overrides)
    return train_module(module, rows, None, **params)


def joint_loss(output, target, kind):
    """Eq. 9 as the paper writes it: the errors of the three scores, summed (the reference)."""
    return stacked_loss(torch.stack((output.combined, output.content, output.preference)),
                        target, kind)  # fmt: skip


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


def test_default_prediction_batch_depends_on_the_device():
    # cache-sized batches on a CPU, large ones on a GPU (no GPU needed to ask)
    assert predict_batch_rows("cpu") == 2048
    assert predict_batch_rows(torch.device("cuda", 0)) == 16384
    module = tiny_module().eval()
    rows = tiny_rows(5000)
    np.testing.assert_allclose(predict_rows(module, rows).numpy(),
                               predict_rows(module, rows, batch_size=5000).numpy(), atol=1e-6)


def test_the_optimizer_is_torchs_fused_adam_and_steps_like_plain_adam():
    from sklearn_sain._nn.training import make_optimizer

    def params():
        torch.manual_seed(0)
        return [torch.nn.Parameter(torch.randn(6, 3)), torch.nn.Parameter(torch.randn(4)),
                torch.nn.Parameter(torch.randn(2))]

    plain, fused = params(), params()
    reference, optimizer = torch.optim.Adam(plain, lr=0.01), make_optimizer(fused, 0.01)
    assert type(optimizer) is torch.optim.Adam and optimizer.defaults["fused"]
    for step in range(25):
        generator = torch.Generator().manual_seed(step)
        for a, b in zip(plain, fused):
            grad = torch.randn(a.shape, generator=generator)
            a.grad, b.grad = grad.clone(), grad.clone()
        if step % 6 == 2:  # a parameter without a gradient is skipped
            plain[2].grad = fused[2].grad = None
        reference.step()
        optimizer.step()
    for a, b in zip(plain, fused):
        torch.testing.assert_close(a, b)


def test_every_row_is_trained_once_per_epoch():
    from sklearn_sain._nn.training import _batches

    module = tiny_module()
    rows = tiny_rows(100)
    order = torch.randperm(100)
    seen = [target for *_, target, _weight in _batches(module, rows, order, batch_size=16)]
    assert [len(t) for t in seen] == [16] * 6 + [4]
    torch.testing.assert_close(torch.cat(seen), rows.target[order])


def test_rows_store_ids_as_int32():
    rows = tiny_rows()
    assert rows.users.dtype == rows.items.dtype == rows.tokens.dtype == torch.int32
    huge = Rows.from_arrays(np.array([2**40]), np.array([3]), np.zeros((1, 2), int), None, "cpu")
    assert huge.users.dtype == torch.long  # ids beyond int32 keep int64


def test_training_is_reproducible_and_matches_the_joint_loss():
    rows = tiny_rows()
    first, second = tiny_module(), tiny_module()
    fit(first, rows, l2_reg=1e-3)
    history = fit(second, rows, l2_reg=1e-3)
    for a, b in zip(first.parameters(), second.parameters()):
        torch.testing.assert_close(a, b)
    assert len(history.loss_curve) == 2 and np.isfinite(history.loss_curve).all()


def test_id_matrix_narrows_to_int32_without_wrapping_around():
    import pandas as pd

    from sklearn_sain._encoding.layout import id_matrix

    table = pd.DataFrame({"user:u": np.array([2, 3], dtype=np.int32),
                          "item:i": np.array([2, 2**40], dtype=np.int64)})
    narrow = id_matrix(table, np.int32)
    assert narrow.dtype == np.int32
    assert narrow.tolist() == [[2, 2], [3, np.iinfo(np.int32).max]]  # past any vocabulary
    np.testing.assert_array_equal(id_matrix(table.astype(np.int32), np.int32),
                                  id_matrix(table.astype(np.int32)))
    with pytest.raises(ValueError, match="negative id"):
        id_matrix(pd.DataFrame({"user:u": np.array([-1], dtype=np.int32)}), np.int32)


def test_weight_averaging_averages_floats_and_copies_integer_buffers():
    update = _exact_integer_ema(0.9)
    floats, ints = [torch.tensor([1.0, 2.0])], [torch.tensor([5, 7])]
    update(floats, [torch.tensor([2.0, 4.0])], 1)
    update(ints, [torch.tensor([5, 9])], 1)
    torch.testing.assert_close(floats[0], torch.tensor([1.1, 2.2]))
    assert ints[0].tolist() == [5, 9]  # torch's own update would truncate 5 * 0.9 + 5 * 0.1


def test_tol_is_relative_to_the_target_scale():
    # the same standardised problem in two units: a tol in target units would
    # stop the small-unit fit at once (each improvement is far below 1e-3 there)
    rows = tiny_rows(64, seed=0)
    stops = []
    for scale in (1.0, 1e-3):
        history = train_module(tiny_module(), rows, rows, loss="rmse", l2_reg=0.0,
                               learning_rate=0.01, batch_size=16, max_epochs=8,
                               early_stopping=True, n_iter_no_change=1, tol=1e-3,
                               target_scale=scale, rng=np.random.RandomState(0))
        stops.append((history.n_iter, history.best_epoch))
    assert stops[0] == stops[1] and stops[0][1] > 2


def test_verbose_2_prints_progress_within_epochs(capsys, monkeypatch):
    import re

    from sklearn_sain._nn import training as _training

    monkeypatch.setattr(_training._Progress, "interval", 0.0)  # a line every batch
    fit(tiny_module(), tiny_rows(64), verbose=2, max_epochs=1)
    lines = capsys.readouterr().out.strip().splitlines()
    progress = [line for line in lines if "rows/s" in line]
    assert len(progress) == 3  # after batches 1-3 of 4 (the first call has nothing done)
    pattern = r"epoch +1 \| +\d+% \| [\d,]+ rows/s \| \d+s left in the epoch"
    assert all(re.fullmatch(pattern, line) for line in progress), progress
    assert re.fullmatch(r"epoch +1 \| train loss [\d.]+ \| [\d.]+s", lines[-1])


def _anchor_distance(module, rows):
    module.eval()
    with torch.no_grad():
        _, penalties = module.training_terms(rows.users, rows.items, module.token_rows(rows.tokens))
    return float(penalties.anchor)


def test_content_anchor_pulls_feedback_and_content_vectors_together():
    rows = tiny_rows(n=256)
    free, anchored = tiny_module(), tiny_module()
    fit(free, rows, max_epochs=5)
    fit(anchored, rows, max_epochs=5, content_anchor=1.0)
    assert _anchor_distance(anchored, rows) < 0.5 * _anchor_distance(free, rows)


def test_id_weight_decay_is_the_share_an_id_row_loses_per_epoch():
    rows = tiny_rows(n=64)  # users 2-7 and items 2-5 only
    torch.manual_seed(0)
    module = SAINModule(10, 6, [5, 4], ["user", "item"], [1, 1], feature_dim=4, embed_dim=4,
                        n_heads=2, top_k=None, dropout=0.0)
    unused_before = module.user_cf.weight[8:].detach().clone()  # ids 8, 9: in no batch
    for batch_size, epochs in [(16, 2), (64, 3)]:  # 4 and 1 steps per epoch
        start = module.user_cf.weight[8:].detach().clone()
        fit(module, rows, batch_size=batch_size, max_epochs=epochs, id_weight_decay=0.3)
        # AdamW's decay reaches every row at every step, used by the batch or not
        torch.testing.assert_close(module.user_cf.weight[8:].detach(), start * 0.7**epochs)
    assert unused_before.abs().sum() > 0


def test_id_weight_decay_leaves_the_other_parameters_to_plain_adam():
    rows = tiny_rows(n=64)
    plain, decayed = tiny_module(), tiny_module()
    fit(plain, rows, id_weight_decay=0.0)
    fit(decayed, rows, id_weight_decay=0.5)
    # the id vectors shrink; the biases (which start from the ridge fit) are not decayed
    assert decayed.user_cf.weight.norm() < plain.user_cf.weight.norm()
    assert _ids(decayed.id_tables()) == _ids([decayed.user_cf.weight, decayed.item_cf.weight])
    optimizer = make_optimizer(decayed.parameters(), 0.01, decayed.id_tables(), 5.0)
    by_decay = {group["weight_decay"]: _ids(group["params"]) for group in optimizer.param_groups}
    assert by_decay[5.0] == _ids(decayed.id_tables())
    assert by_decay[0.0] == _ids(decayed.parameters()) - by_decay[5.0]
    assert id(decayed.user_bias.weight) in by_decay[0.0]


def test_id_tables_include_the_implicit_feedback_tables():
    module = SAINModule(8, 6, [5, 4], ["user", "item"], [1, 1], feature_dim=4, embed_dim=4,
                        implicit_feedback=True, n_user_links=3, n_item_links=3)
    assert _ids(module.id_tables()) == _ids([module.user_cf.weight, module.item_cf.weight,
                                             module.user_implicit.table.weight,
                                             module.item_implicit.table.weight])

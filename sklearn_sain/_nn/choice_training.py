"""Training of :class:`~sklearn_sain._nn.choice.ChoiceHead` on who rated what.

The head is fitted after the rating model, on its own parameters, so that
``predict`` is exactly what it would be without it. One step takes a batch of
users and the whole candidate catalogue (a full softmax: the catalogue of a
recommender with a few tens of thousands of items fits a batch's logits in a
few MB). Two kinds of noise keep the head from memorising:

- each user's history (the input of the choice vector) keeps a random half
  of the user's items at each step, while the loss asks for all of them, as
  a denoising autoencoder does (Mult-DAE, Liang et al., WWW 2018): without
  it the head learns to score the items it was shown, which are exactly the
  ones a recommendation leaves out;
- a share of the item ids is hidden at each step, so that the path an item
  unseen in fit takes (its features, the unknown id's vector and bias) is
  trained, as DropoutNet does for ratings (Volkovs et al., NeurIPS 2017).

Early stopping watches NDCG@10 of the validation pairs, the training items of
each user excluded, as a recommendation excludes them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from .._encoding.ids import UNKNOWN_ID
from .choice import multinomial_loss
from .choice_ranking import (
    DEFAULT_RATING_WEIGHT,
    catalog_side,
    select_rating_weight,
    side_features,
)
from .randomness import random_mask, seeded_generator

# Chosen on the validation split of the paper's MovieLens data (users' held-out
# items, NDCG@10): see docs/ranking.rst.
HISTORY_KEEP = 0.5
ITEM_ID_DROPOUT = 0.1
USER_FEATURE_DROPOUT = 0.8
LEARNING_RATE = 3e-3
MAX_CHOICE_EPOCHS = 200
# Without validation pairs no epoch can be chosen: train for this many steps,
# near what validation chose on both datasets (MovieLens: ~45 epochs of 8
# steps; Yelp: ~9 epochs of 118 steps), and at most FIXED_CHOICE_EPOCHS epochs.
FIXED_CHOICE_STEPS = 1000
FIXED_CHOICE_EPOCHS = 50
PATIENCE = 10
TOP_N = 10
# logits of one step stay near 2 ** 22 floats (16 MB) on large catalogues
_LOGITS_PER_STEP = 2**22


@dataclass
class ChoiceData:
    """Users, their chosen items and the candidate catalogue, on one device.

    ``chosen[indptr[u]:indptr[u + 1]]`` are the catalogue positions of the
    items user ``u`` (position in ``user_ids``) chose; ``valid_indptr`` /
    ``valid`` the same for validation pairs (None without validation).
    """

    user_ids: torch.Tensor  # (n_users,) encoded ids
    user_features: torch.Tensor | None  # (n_users, user_feature_dim)
    item_ids: torch.Tensor  # (n_items,) encoded ids of the catalogue
    item_features: torch.Tensor | None  # (n_items, item_feature_dim)
    indptr: torch.Tensor
    chosen: torch.Tensor
    valid_indptr: torch.Tensor | None = None
    valid: torch.Tensor | None = None


def csr(owners: np.ndarray, positions: np.ndarray, n_owners: int, device):
    """``(indptr, positions)`` tensors of distinct pairs, grouped by owner."""
    n_positions = int(positions.max()) + 1 if positions.size else 1
    pairs = np.unique(owners.astype(np.int64) * n_positions + positions)
    counts = np.bincount(pairs // n_positions, minlength=n_owners)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return (torch.as_tensor(indptr, device=device),
            torch.as_tensor(pairs % n_positions, device=device))  # fmt: skip


def gather_lists(indptr: torch.Tensor, values: torch.Tensor, rows: torch.Tensor):
    """The lists of ``rows`` concatenated, and the row (0..len(rows)-1) of each entry."""
    starts, counts = indptr[rows], indptr[rows + 1] - indptr[rows]
    total = int(counts.sum())
    owner = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), counts,
                                    output_size=total)  # fmt: skip
    first = torch.cumsum(counts, 0) - counts
    position = starts[owner] + torch.arange(total, device=rows.device) - first[owner]
    return values[position], owner


def history_bags(items: torch.Tensor, owner: torch.Tensor, n_owners: int):
    """``(items, offsets)`` for :meth:`ChoiceHead.user_vectors` from entries sorted by owner."""
    counts = torch.bincount(owner, minlength=n_owners)
    return items, torch.cumsum(counts, 0) - counts


def user_choice_vectors(head, data: ChoiceData, rows: torch.Tensor, keep: float | None = None,
                        generator: torch.Generator | None = None):  # fmt: skip
    """Choice vectors of the users at ``rows``, their history thinned to ``keep`` (None: whole).

    In training (``keep`` given) a share of the users also lose their
    features; ``generator`` draws which (None: torch's global generator).
    """
    positions, owner = gather_lists(data.indptr, data.chosen, rows)
    if keep is not None:
        kept = random_mask(positions.shape, keep, positions.device, generator)
        positions, owner = positions[kept], owner[kept]
    history, offsets = history_bags(data.item_ids[positions], owner, len(rows))
    features = None if data.user_features is None else data.user_features[rows]
    if features is not None and keep is not None and USER_FEATURE_DROPOUT > 0:
        shown = ~random_mask((len(rows), 1), USER_FEATURE_DROPOUT, features.device, generator)
        features = features * shown
    return head.user_vectors(data.user_ids[rows], history, offsets, features)


@torch.no_grad()
def validation_ndcg(head, data: ChoiceData, top_n: int = TOP_N) -> float:
    """Mean NDCG@top_n of the validation pairs, the users' training items excluded."""
    has_valid = torch.nonzero(data.valid_indptr[1:] > data.valid_indptr[:-1]).squeeze(1)
    item_vectors, item_bias = head.item_vectors(data.item_ids, data.item_features)
    n_items = len(data.item_ids)
    k = min(top_n, n_items)
    discount = 1.0 / torch.log2(torch.arange(2, k + 2, device=item_bias.device,
                                             dtype=item_bias.dtype))  # fmt: skip
    total = 0.0
    for rows in torch.split(has_valid, max(1, _LOGITS_PER_STEP // max(n_items, 1))):
        logits = head.logits(user_choice_vectors(head, data, rows), item_vectors, item_bias)
        seen, owner = gather_lists(data.indptr, data.chosen, rows)
        logits[owner, seen] = float("-inf")
        top = logits.topk(k, dim=1).indices
        relevant = torch.zeros_like(logits, dtype=torch.bool)
        positions, owner = gather_lists(data.valid_indptr, data.valid, rows)
        relevant[owner, positions] = True
        hits = relevant.gather(1, top).to(discount.dtype)
        n_relevant = relevant.sum(1).clamp(max=k)
        ideal = torch.cumsum(discount, 0)[n_relevant - 1]
        total += float(((hits * discount).sum(1) / ideal).sum())
    return total / max(len(has_valid), 1)


def users_per_step(n_items: int) -> int:
    """Users per training step: 128, fewer when the catalogue makes the logits large."""
    return int(np.clip(_LOGITS_PER_STEP // max(n_items, 1), 16, 128))


def has_validation(data: ChoiceData) -> bool:
    return data.valid is not None and len(data.valid) > 0


def fixed_epochs(data: ChoiceData) -> int:
    """The epochs of :data:`FIXED_CHOICE_STEPS` steps (at most :data:`FIXED_CHOICE_EPOCHS`)."""
    steps_per_epoch = -(-len(data.user_ids) // users_per_step(len(data.item_ids)))
    return int(np.clip(-(-FIXED_CHOICE_STEPS // max(steps_per_epoch, 1)), 1,
                       FIXED_CHOICE_EPOCHS))  # fmt: skip


def train_choice_head(head, data: ChoiceData, rng: np.random.RandomState, *,
                      max_epochs: int = MAX_CHOICE_EPOCHS, verbose: int = 0,
                      generator: torch.Generator | None = None, on_batch=None) -> dict:  # fmt: skip
    """Fit ``head`` in place; with validation pairs keep its best epoch by NDCG@10.

    ``rng`` orders the users of each epoch; ``generator`` (on the head's
    device; None: torch's global generator) draws the training noise;
    ``on_batch`` is called before each batch, as in
    :func:`~sklearn_sain._nn.training.train_module`.

    Returns the history: ``{"loss": [...], "ndcg": [...], "best_epoch": int}``.
    """
    optimizer = torch.optim.Adam(head.parameters(), lr=LEARNING_RATE)
    n_users, n_items = len(data.user_ids), len(data.item_ids)
    device = data.item_ids.device
    batch = users_per_step(n_items)
    validate = has_validation(data)
    history = {"loss": [], "ndcg": [], "best_epoch": None}
    best, best_state, stale = -np.inf, None, 0
    for epoch in range(1, max_epochs + 1):
        started = time.perf_counter()
        head.train()
        order = torch.as_tensor(rng.permutation(n_users), device=device)
        total = torch.zeros((), device=device)
        for rows in torch.split(order, batch):
            if on_batch is not None:
                on_batch()
            users = user_choice_vectors(head, data, rows, HISTORY_KEEP, generator)
            known = (~random_mask(n_items, ITEM_ID_DROPOUT, device, generator)).float()
            item_vectors, item_bias = head.item_vectors(data.item_ids, data.item_features, known)
            positions, owner = gather_lists(data.indptr, data.chosen, rows)
            chosen = torch.zeros(len(rows), n_items, device=device)
            chosen[owner, positions] = 1.0
            loss = multinomial_loss(head.logits(users, item_vectors, item_bias), chosen)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(rows)
        history["loss"].append(float(total) / max(n_users, 1))
        head.eval()
        message = f"choice epoch {epoch:3d} | loss {history['loss'][-1]:.4f}"
        if validate:
            score = validation_ndcg(head, data)
            history["ndcg"].append(score)
            message += f" | valid NDCG@{TOP_N} {score:.4f}"
            if score > best:
                best, stale, history["best_epoch"] = score, 0, epoch
                best_state = {k: v.detach().clone() for k, v in head.state_dict().items()}
            else:
                stale += 1
        if verbose:
            print(f"{message} | {time.perf_counter() - started:.2f}s", flush=True)
        if validate and stale >= PATIENCE:
            break
    if best_state is not None:
        head.load_state_dict(best_state)
    else:
        history["best_epoch"] = len(history["loss"])
    head.eval()
    return history


def build_choice_data(module, catalog, train_pairs, valid_pairs, device) -> ChoiceData:
    """The :class:`ChoiceData` of training (and validation) ``(users, items)`` id pairs.

    The users and the candidate catalogue are those of the training pairs;
    their feature tokens come from ``catalog`` (see
    :func:`~sklearn_sain._encoding.catalog.build_catalog`) and enter as
    :meth:`SAINModule.field_means`. Validation pairs of other users or
    items, or already among the training pairs, are dropped.
    """
    users, items = (np.asarray(a, dtype=np.int64) for a in train_pairs)
    known = (users > UNKNOWN_ID) & (items > UNKNOWN_ID)
    user_ids, user_pos = np.unique(users[known], return_inverse=True)
    item_ids, item_pos = np.unique(items[known], return_inverse=True)
    user_features = side_features(module, catalog_side(catalog, "user", user_ids), "user",
                                  device)  # fmt: skip
    item_features = side_features(module, catalog_side(catalog, "item", item_ids), "item",
                                  device)  # fmt: skip
    indptr, chosen = csr(user_pos, item_pos, len(user_ids), device)
    data = ChoiceData(torch.as_tensor(user_ids, device=device), user_features,
                      torch.as_tensor(item_ids, device=device), item_features, indptr, chosen)
    if valid_pairs is not None:
        u, i = new_pairs(data, valid_pairs)
        data.valid_indptr, data.valid = csr(u, i, len(user_ids), device)
    return data


def new_pairs(data: ChoiceData, pairs):
    """Positions ``(users, items)`` in ``data`` of the id ``pairs`` not among its training pairs.

    Pairs of a user or an item that ``data`` does not hold are dropped.
    """
    user_ids, item_ids = data.user_ids.cpu().numpy(), data.item_ids.cpu().numpy()
    users, items = (np.asarray(a, dtype=np.int64) for a in pairs)
    if not len(user_ids) or not len(item_ids):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    u = np.searchsorted(user_ids, users).clip(max=len(user_ids) - 1)
    i = np.searchsorted(item_ids, items).clip(max=len(item_ids) - 1)
    keep = (user_ids[u] == users) & (item_ids[i] == items)
    indptr, chosen = data.indptr.cpu().numpy(), data.chosen.cpu().numpy()
    owner = np.repeat(np.arange(len(user_ids)), np.diff(indptr))
    keep &= ~np.isin(u * len(item_ids) + i, owner * len(item_ids) + chosen)
    return u[keep], i[keep]


def fit_choice_head(module, catalog, train_pairs, valid_pairs, valid_target, device,
                    rng: np.random.RandomState, verbose: int = 0,
                    on_batch=None) -> dict:  # fmt: skip
    """Train ``module.choice`` on the training pairs, then choose its rating weight.

    ``catalog`` holds the training rows only (their users' histories are the
    inputs; the validation pairs are what a ranking must find).
    ``valid_target`` is the standardised rating of each validation pair: a
    pair above 0 (the training mean) is one the user liked, and the weight of
    the rating in the ``"combined"`` ranking is chosen on those
    (:func:`~sklearn_sain._nn.choice_ranking.select_rating_weight`). Without
    validation pairs among the head's users and items it trains for a fixed
    budget (:func:`fixed_epochs`); without any validation pairs it also takes
    the default weight. Returns the training history with ``rating_weight``
    and ``rating_weight_ndcg`` added.
    """
    started = time.perf_counter()
    head = module.choice
    data = build_choice_data(module, catalog, train_pairs, valid_pairs, device)
    # the head's own generator: fits in parallel threads must not share torch's
    generator = seeded_generator(rng.randint(np.iinfo(np.int32).max), device)
    head.reset_parameters(generator)
    # validation pairs of users or items the head has not seen (new items, new
    # users) cannot choose an epoch: then a fixed budget
    max_epochs = MAX_CHOICE_EPOCHS if has_validation(data) else fixed_epochs(data)
    # a line per epoch is for verbose=2; verbose=1 gets the summary below
    history = train_choice_head(head, data, rng, max_epochs=max_epochs,
                                verbose=int(verbose >= 2), generator=generator,
                                on_batch=on_batch)  # fmt: skip
    weight, ndcg = DEFAULT_RATING_WEIGHT, None
    if valid_pairs is not None:
        liked = np.asarray(valid_target) > 0
        users, items = new_pairs(data, tuple(np.asarray(a)[liked] for a in valid_pairs))
        if len(users):
            weight, ndcg = _select_weight(module, device, catalog, data, users, items, rng)
    head.rating_weight.fill_(weight)
    if verbose:
        best = history["best_epoch"]
        chosen = f", valid NDCG@{TOP_N} {history['ndcg'][best - 1]:.4f}" if history["ndcg"] else ""
        print(f"choice head: {len(history['loss'])} epochs, kept epoch {best}{chosen}, rating "
              f"weight {weight:g} | {time.perf_counter() - started:.2f}s", flush=True)
    return dict(history, rating_weight=weight, rating_weight_ndcg=ndcg)


# users whose validation rankings choose the rating weight: enough for a
# stable choice, few enough that it costs a fraction of the training
_WEIGHT_USERS = 20000


def _select_weight(module, device, catalog, data, users, items, rng):
    """:func:`select_rating_weight` on (a sample of) the users of the liked pairs."""
    chosen_users = np.unique(users)
    if len(chosen_users) > _WEIGHT_USERS:
        chosen_users = np.sort(rng.choice(chosen_users, _WEIGHT_USERS, replace=False))
    keep = np.isin(users, chosen_users)
    rows = np.searchsorted(chosen_users, users[keep])
    user_side = catalog_side(catalog, "user", data.user_ids.cpu().numpy()[chosen_users])
    item_side = catalog_side(catalog, "item", data.item_ids.cpu().numpy())
    return select_rating_weight(module, device, catalog, user_side, item_side, rows,
                                items[keep])

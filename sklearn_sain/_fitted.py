"""FittedSAIN: what :meth:`SAINRegressor.fit` learned, and the questions it answers.

One object owns the fitted state: the token layout of the encoded table, the
trained :class:`~sklearn_sain._nn.model.SAINModule` (and the keyword arguments
that rebuild it), the target scaling and the training catalog. Prediction,
recommendation, explanation and persistence all go through its methods;
none of them reads the regressor's or the network's internals.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import torch

from ._encoding.catalog import Catalog
from ._encoding.layout import TokenLayout
from ._nn.choice_ranking import ranked_by_choice
from ._nn.model import NORMS, SAINModule
from ._nn.rating_top_n import rating_top_n
from ._nn.torch_utils import cpu_state_dict, is_allocation_error, loadable_device
from ._nn.training import Rows, predict_batch_rows, predict_rows
from ._persistence.param_json import decode_param, encode_param
from ._validation import TrainingDivergedError, check_number, standardise

# attention holds n_heads * n_slots ** 2 weights per row: a batch is kept near
# this many of them, so that very long multi-valued fields cannot exhaust memory
_ATTENTION_BUDGET = 2**24
_CATALOG = "catalog/"  # prefix of the catalog tensors; module state keys never contain "/"


class FittedSAIN:
    """The fitted state of a :class:`~sklearn_sain.SAINRegressor` and its public operations.

    Parameters
    ----------
    layout : TokenLayout
        Field structure of the encoded table seen in fit.
    module_kwargs : dict
        Keyword arguments of :class:`SAINModule` that rebuild ``module``.
    module : SAINModule
        The trained network (in evaluation mode once fit is done).
    target_mean, target_scale : float
        The training targets' mean and scale: the network predicts
        ``(y - target_mean) / target_scale``.
    target_range : tuple of float
        Lowest and highest training target, the clipping range of ratings.
    catalog : Catalog or None
        The training users and items (None for files of format version 1).
    device : torch.device
        Device the network was fitted on (and lives on, unless it was loaded
        where that device does not exist).
    """

    def __init__(self, layout: TokenLayout, module_kwargs: dict | None = None,
                 module: SAINModule | None = None, *, target_mean: float, target_scale: float,
                 target_range: tuple, catalog: Catalog | None, device: torch.device):  # fmt: skip
        self.layout = layout
        self.module_kwargs = module_kwargs
        self.module = module
        self.target_mean = target_mean
        self.target_scale = target_scale
        self.target_range = target_range
        self.catalog = catalog
        self.device = device

    def build_module(self, module_kwargs: dict, generator: torch.Generator) -> SAINModule:
        """A new, untrained network on the device, initial weights drawn from ``generator``.

        It replaces the network held so far (fit builds it once the rows, and
        with them the implicit-feedback links, are known). Running out of
        memory for the embedding tables is a ``ValueError`` that names the
        sizes to lower.
        """
        layout = self.layout
        try:
            module = SAINModule(**module_kwargs, generator=generator).to(self.device)
        except (RuntimeError, MemoryError) as exc:
            if not is_allocation_error(exc):
                raise
            raise ValueError(
                f"Not enough memory on {self.device} for a model with embed_dim="
                f"{module_kwargs['embed_dim']} and feature_dim={module_kwargs['feature_dim']} "
                f"over {layout.n_users} user ids, {layout.n_items} item ids and "
                f"{sum(f.vocabulary_size for f in layout.fields)} feature tokens; lower "
                "embed_dim or feature_dim (or, for encoded input, check that the ids are "
                "SAINEncoder output)"
            ) from exc
        self.module_kwargs, self.module = module_kwargs, module
        return module

    # ------------------------------------------------------------- settings
    @property
    def n_heads(self) -> int:
        return self.module_kwargs["n_heads"]

    @property
    def predict_top_k(self) -> int | None:
        """Keys each attention query keeps at prediction; None when it keeps all."""
        kwargs = self.module_kwargs
        return kwargs["top_k"] if kwargs["top_k_at_predict"] else None

    @property
    def has_choice(self) -> bool:
        """Whether the network carries a choice head (for ``rank_by="choice"``)."""
        return getattr(self.module, "choice", None) is not None

    def rows_per_batch(self, low: int = 1, high: int | None = None) -> int:
        """Rows per batch without gradients: the attention budget, within ``[low, high]``.

        ``high`` defaults to what the device streams best
        (:func:`~sklearn_sain._nn.training.predict_batch_rows`).
        """
        high = predict_batch_rows(self.device) if high is None else high
        n_slots = max(1, self.layout.n_slots)
        return int(np.clip(_ATTENTION_BUDGET // (self.n_heads * n_slots**2), low, high))

    # --------------------------------------------------------------- scores
    def rows(self, encoded: pd.DataFrame, target=None, weight=None) -> Rows:
        """The rows of an encoded table on the device; ``target`` standardised."""
        users, items, tokens = self.layout.arrays(encoded, dtype=np.int32)  # half of int64
        if target is not None:
            target = standardise(target, self.target_mean, self.target_scale)
        return Rows.from_arrays(users, items, tokens, target, self.device, weight)

    def scores(self, rows: Rows) -> torch.Tensor:
        """Standardised combined scores (Eq. 9) of ``rows``, in evaluation mode."""
        return predict_rows(self.module, rows, self.rows_per_batch())

    def ratings(self, scores: np.ndarray, clip: bool) -> np.ndarray:
        """Ratings from standardised ``scores``: scaled back, clipped to the training range."""
        with np.errstate(over="ignore"):
            # targets near the float limits can overflow when scaled back
            ratings = np.asarray(scores, dtype=np.float64) * self.target_scale + self.target_mean
        low, high = self.target_range if clip else (-np.inf, np.inf)
        largest = np.finfo(np.float64).max
        return np.clip(ratings, max(low, -largest), min(high, largest))

    def predict(self, encoded: pd.DataFrame, clip: bool) -> np.ndarray:
        """The ratings of the rows of an encoded table."""
        scores = self.scores(self.rows(encoded)).double().cpu().numpy()
        if not np.isfinite(scores).all():
            # fit checks the weights and a sample of scores, so this takes a model
            # altered after fit or weights that overflow on rows fit did not try
            raise TrainingDivergedError(
                "The network returned NaN or infinite scores; its weights are no longer "
                "finite. Refit the model."
            )
        return self.ratings(scores, clip)

    def top_n(self, users, items, n: int, exclude_seen: bool, rank_by: str):
        """Top ``n`` standardised scores and candidate columns per user; -inf pads.

        ``users`` and ``items`` carry encoded ``ids``, that side's ``tokens``
        and their ``catalog_pos`` (-1: not in the catalog). ``rank_by`` is
        ``"rating"`` (Eq. 9), ``"choice"`` (the choice head's logit) or
        ``"combined"`` (the logit plus the weight chosen in fit times Eq. 9).
        """
        if rank_by == "rating":
            # the batches of predict: larger ones (2**15 rows until 2026-12-02) made
            # every call page-fault its temporaries in afresh, 1.4x slower on MovieLens
            return rating_top_n(self.module, self.device, self.catalog, users, items, n,
                                exclude_seen, self.rows_per_batch(256))  # fmt: skip
        weight = 0.0 if rank_by == "choice" else None  # None: the weight chosen in fit
        return ranked_by_choice(self.module, self.device, self.catalog, users, items, n,
                                exclude_seen, weight)  # fmt: skip

    @torch.inference_mode()
    def attention(self, rows: Rows, batch_size: int):
        """Attention weights per batch (none without features) and alpha_CF of users and items.

        The weights of a batch are ``(rows, heads, slots, slots)`` arrays;
        alpha_user and alpha_item are float64 arrays over all the rows.
        """
        module = self.module
        was_training = module.training
        module.eval()
        attention, alpha_user, alpha_item = [], [], []
        try:
            for i in range(0, len(rows), batch_size):
                out = module(rows.users[i:i + batch_size], rows.items[i:i + batch_size],
                             rows.tokens[i:i + batch_size], return_attention=True)
                alpha_user.append(out.alpha_user.double().cpu().numpy())
                alpha_item.append(out.alpha_item.double().cpu().numpy())
                if out.attention is not None:
                    attention.append(out.attention.double().cpu().numpy())
        finally:
            module.train(was_training)
        if not alpha_user:  # no rows
            return attention, np.empty(0), np.empty(0)
        return attention, np.concatenate(alpha_user), np.concatenate(alpha_item)

    # ---------------------------------------------------------- persistence
    def to_state(self) -> tuple[dict, dict]:
        """The state as plain JSON values and a dict of CPU tensors (see :meth:`from_state`)."""
        state = {
            "layout_": self.layout.to_json(),
            "device_": str(self.device),
            "target_mean_": float(self.target_mean).hex(),
            "target_scale_": float(self.target_scale).hex(),
            "target_range_": [float(v).hex() for v in self.target_range],
            "_module_kwargs": {k: encode_param(v) for k, v in self.module_kwargs.items()},
        }
        tensors = cpu_state_dict(self.module)
        if self.catalog is not None:
            tensors.update({_CATALOG + name: torch.from_numpy(np.ascontiguousarray(array))
                            for name, array in self.catalog.arrays().items()})
        return state, tensors

    @classmethod
    def from_state(cls, state: dict, tensors: dict, device=None) -> "FittedSAIN":
        """Rebuild from :meth:`to_state`, refusing a state that no fit writes.

        ``device`` None keeps the fitted device where it exists here (the CPU
        with a warning otherwise). Errors are ``ValueError``, ``KeyError`` or
        ``TypeError``, before anything large is allocated.
        """
        layout = TokenLayout.from_json(state["layout_"])
        mean = float.fromhex(state["target_mean_"])
        scale = float.fromhex(state["target_scale_"])
        low, high = (float.fromhex(v) for v in state["target_range_"])
        if not (np.isfinite([mean, scale, low, high]).all() and scale > 0 and low <= high):
            raise ValueError("invalid target statistics (they would predict NaN or a constant)")
        kwargs = {name: decode_param(value) for name, value in state["_module_kwargs"].items()}
        check_module_kwargs(kwargs)
        fitted_on = torch.device(state["device_"])
        device = loadable_device(fitted_on) if device is None else device
        arrays = {k[len(_CATALOG):]: v.numpy() for k, v in tensors.items()
                  if k.startswith(_CATALOG)}  # fmt: skip
        catalog = Catalog.from_arrays(arrays, layout) if arrays else None  # none in version 1
        module_state = {k: v for k, v in tensors.items() if not k.startswith(_CATALOG)}
        _check_shapes(kwargs, module_state)
        module = cls.module_from_state(kwargs, module_state, device)
        return cls(layout, kwargs, module, target_mean=mean, target_scale=scale,
                   target_range=(low, high), catalog=catalog, device=device)

    @staticmethod
    def module_from_state(module_kwargs: dict, module_state: dict, device) -> SAINModule:
        """The network ``module_kwargs`` describe with the weights of ``module_state``.

        Strict: a tensor missing, extra or of another shape means another
        model; damaged implicit-feedback links fail too (ImplicitFeedback
        checks what it loads). In evaluation mode, on ``device``.
        """
        # the saved state replaces the initial weights: a generator of its own
        # keeps the load from drawing on torch's global one
        module = SAINModule(**module_kwargs, generator=torch.Generator())
        module.load_state_dict(module_state, strict=True)
        return module.to(device).eval()

    def __getstate__(self):
        # the weights as CPU tensors: a pickle loads on any machine
        state = dict(vars(self))
        state["module"] = cpu_state_dict(self.module)
        return state

    def __setstate__(self, state):
        state = dict(state)
        state["device"] = loadable_device(state["device"])
        state["module"] = self.module_from_state(state["module_kwargs"], state["module"],
                                                 state["device"])  # fmt: skip
        self.__dict__.update(state)


def _check_shapes(module_kwargs: dict, module_state: dict) -> None:
    """Refuse tensors that do not fit the network ``module_kwargs`` describe."""
    # the shapes the metadata implies, on the meta device, which allocates nothing:
    # an edited size must fail here, not after allocating gigabytes for it
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in SAINModule(**module_kwargs).state_dict().items()}
    found = {k: tuple(v.shape) for k, v in module_state.items()}
    if expected != found:
        wrong = sorted(set(expected) ^ set(found)) or sorted(
            k for k in expected if expected[k] != found[k])
        raise ValueError(f"the tensors do not fit the model the metadata describes ({wrong[0]})")


def check_module_kwargs(kwargs: dict) -> None:
    """Refuse network sizes and settings that no fit writes (before anything is allocated)."""
    for name in ("n_users", "n_items"):
        check_number(kwargs[name], name, numbers.Integral, min_val=2)
    for name in ("embed_dim", "feature_dim", "n_heads"):
        check_number(kwargs[name], name, numbers.Integral, min_val=1)
    if kwargs["feature_dim"] % kwargs["n_heads"]:
        raise ValueError("n_heads must divide feature_dim")
    if kwargs.get("top_k") is not None:
        check_number(kwargs["top_k"], "top_k", numbers.Integral, min_val=1)
    check_number(kwargs.get("dropout", 0.0), "dropout", numbers.Real, min_val=0.0, max_val=1.0,
                 include_boundaries="left")
    if kwargs.get("norm", "batch") not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}")
    for size in kwargs["vocabulary_sizes"]:
        check_number(size, "vocabulary size", numbers.Integral, min_val=2)

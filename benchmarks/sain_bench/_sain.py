"""SAIN rows: the paper's configuration, the package defaults, ablations and the top-K sweep.

Every SAIN row is ``SAINRegressor(**params)`` with ``params`` a dict of
overrides of the package defaults (``{}`` is the defaults themselves), or a
callable ``dataset -> dict`` for settings that depend on the data (such as
pretrained embeddings). To add a row, append a :class:`SainConfig` to
:data:`SAIN_CONFIGS`. The runner adds only ``random_state``, ``device``, an
encoder that names the user and item feature columns (the roles the default
encoder would infer on the full data, stated so that small subsamples cannot
confuse the inference) and, with ``--quick`` / ``--max-epochs``, a cap on
``max_epochs``. Rows whose effective parameters coincide share one fit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from sklearn_sain import SAINEncoder, SAINRegressor
from ._common import Fitted, Row, Timer, best_on_validation

# The paper's section 3.3 and Table 2 setting, with the choices the paper states.
PAPER_CONFIGURATION = dict(
    top_k=8, n_heads=2, embed_dim=64, feature_dim=16, dropout=0.1, norm="batch",
    top_k_at_predict=True, loss="rmse", learning_rate=1e-3, batch_size=128, max_epochs=25,
    implicit_feedback=False, bias_init="zeros", content_bias=False, cold_start_weight=0.0,
    content_anchor=0.0, id_weight_decay=0.0,
)  # fmt: skip


@dataclass
class SainConfig:
    key: str
    label: str
    params: object  # dict of overrides of the defaults, or callable(dataset) -> dict
    family: str = "sain-ablation"
    paper: str | None = None
    datasets: tuple | None = None
    note: str = ""


# The one list of SAIN rows. Ablations are overrides of the *package defaults*, so a row
# whose override equals the current default simply repeats (and reuses) the default fit.
SAIN_CONFIGS = [
    SainConfig("sain-paper", "SAIN (paper configuration)", PAPER_CONFIGURATION, family="sain",
               paper="SAIN", note="section 3.3 of the paper; norm='batch' as the paper says"),
    SainConfig("sain-default", "SAIN (package defaults)", {}, family="sain"),
    SainConfig("sain-norm-layer", "SAIN defaults, norm='layer' (authors' code)", {"norm": "layer"}),
    SainConfig("sain-norm-batch", "SAIN defaults, norm='batch' (paper text)", {"norm": "batch"}),
    SainConfig("sain-topk-train-only", "SAIN defaults, top_k_at_predict=False (authors' code)",
               {"top_k_at_predict": False}),
    SainConfig("sain-loss-mse", "SAIN defaults, loss='mse' (instead of summed RMSEs)",
               {"loss": "mse"}),
    SainConfig("sain-no-topk", "SAIN defaults, top_k=None (no top-K selection)", {"top_k": None}),
    SainConfig("sain-no-implicit", "SAIN defaults, implicit_feedback=False (as in the paper)",
               {"implicit_feedback": False},
               note="feedback vectors are the id embeddings alone, as in the paper and its code"),
    SainConfig("sain-zero-bias-init", "SAIN defaults, bias_init='zeros' (as in the paper)",
               {"bias_init": "zeros"},
               note="biases start at zero instead of the ridge bias-only fit"),
    # What the cold-start parts bring (see docs/cold_start.rst; run with --protocol new-items
    # and new-users too).
    SainConfig("sain-no-cold-start",
               "SAIN defaults without the cold-start parts (content_bias=False, "
               "cold_start_weight=0, content_anchor=0, min_ids=1)",
               lambda dataset: {"content_bias": False, "cold_start_weight": 0.0,
                                "content_anchor": 0.0,
                                "encoder": _encoder(dataset).set_params(min_ids=1)},
               note="the defaults before the cold-start work: the cold path (alpha_CF = 0, the "
                    "unknown id's bias, unknown values) is never trained"),
    SainConfig("sain-min-ids-1", "SAIN defaults, encoder min_ids=1 (every feature value kept)",
               lambda dataset: {"encoder": _encoder(dataset).set_params(min_ids=1)},
               note="values of a single user or item keep their own token"),
    SainConfig("sain-no-cold-loss", "SAIN defaults, cold_start_weight=0 (no cold-start scores)",
               {"cold_start_weight": 0.0}),
    SainConfig("sain-no-anchor", "SAIN defaults, content_anchor=0 (feedback and content vectors "
               "not pulled together)", {"content_anchor": 0.0}),
    SainConfig("sain-batch-256", "SAIN defaults at batch 256 (learning_rate=6e-4, "
               "id_weight_decay=0.2)",
               {"batch_size": 256, "learning_rate": 6e-4, "id_weight_decay": 0.2},
               note="half the steps per epoch at twice the rate: validated level with the "
                    "defaults in less time, tested worse on new MovieLens items and users"),
    SainConfig("sain-no-id-decay", "SAIN defaults, id_weight_decay=0 (plain Adam)",
               {"id_weight_decay": 0.0},
               note="id vectors regularised by l2_reg alone, which Adam rescales per row"),
    SainConfig("sain-no-content-bias", "SAIN defaults, content_bias=False (id biases only)",
               {"content_bias": False},
               note="no bias predicted from the side features: an unseen id gets the unknown "
                    "id's bias"),
    SainConfig("sain-id-dropout", "SAIN defaults, id_dropout=0.2 instead of cold-start scores",
               {"id_dropout": 0.2, "cold_start_weight": 0.0},
               note="DropoutNet: a fifth of the ids of each batch replaced by the unknown id"),
    # FM-initialised feature embeddings (authors' code): add a row here once SAINRegressor
    # has the option, e.g. SainConfig("sain-fm-init", "...", lambda dataset: {...}).
]

# The parameters of the encoder SAINRegressor clones when its encoder is None (its
# docstring: "SAINEncoder(min_ids=2) when None"); a test fits a regressor and checks
# its encoder_ against them, so that a change of the package default cannot be
# silently missed here.
REGRESSOR_ENCODER_PARAMS = {"min_ids": 2}

# Figure 4: RMSE against top_k on MovieLens (None = all tokens), overrides of the defaults.
TOP_K_SWEEP = (1, 2, 4, 6, 8, 10, None)
TOP_K_DATASETS = ("movielens",)


def _encoder(dataset) -> SAINEncoder:
    """The regressor's own encoder, with the dataset's feature roles named."""
    return SAINEncoder(**REGRESSOR_ENCODER_PARAMS, user_features=list(dataset.user_features),
                       item_features=list(dataset.item_features))


def effective_params(config_params: dict, dataset, seed: int, ctx) -> dict:
    params = dict(config_params)
    if ctx.quick or ctx.max_epochs is not None:
        default_epochs = SAINRegressor().get_params()["max_epochs"]
        params["max_epochs"] = ctx.epochs(params.get("max_epochs", default_epochs))
    params.setdefault("encoder", _encoder(dataset))
    params.update(random_state=seed, device=ctx.device, verbose=ctx.verbose)
    return params


def _cache_key(params: dict, dataset, seed: int) -> tuple:
    full = SAINRegressor(**params).get_params(deep=False)
    encoder = full.pop("encoder")
    full.pop("verbose", None)
    encoder_key = repr(sorted(encoder.get_params().items())) if encoder is not None else None
    return (dataset.name, dataset.protocol, dataset.quick, seed, encoder_key,
            repr(sorted(full.items(), key=str)))


def fit_sain(config_params, dataset, seed, ctx) -> Fitted:
    """Fit ``SAINRegressor(**params)`` on train with early stopping on validation."""
    if callable(config_params):
        config_params = config_params(dataset)
    params = effective_params(config_params, dataset, seed, ctx)
    key = _cache_key(params, dataset, seed)
    if key in ctx.cache:
        cached = ctx.cache[key]
        return Fitted(cached.predict, cached.fit_seconds, dict(cached.info, shared_fit=True))
    (X_train, y_train), (X_val, y_val) = dataset.train, dataset.validation
    model = SAINRegressor(**params)
    with Timer() as t:
        model.fit(X_train, y_train, eval_set=(X_val, y_val))
    hidden = ("encoder", "device", "random_state", "verbose")
    shown = {k: v for k, v in params.items() if k not in hidden}
    plain = lambda v: v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)  # noqa: E731
    every = {k: plain(v) for k, v in model.get_params(deep=False).items() if k not in hidden}
    info = {
        "params": {k: plain(v) for k, v in shown.items()},
        "all_params": every,  # the defaults in force when the benchmark ran, overrides applied
        "epochs_run": int(model.n_iter_),
        "best_epoch": int(model.best_epoch_),
        "top_k": model.top_k,
        "n_tokens": int(model.layout_.n_slots),
        "loss_curve": [float(v) for v in model.loss_curve_],
        "validation_curve": [float(v) for v in model.validation_scores_],
        "device": str(model.device_),
    }
    fitted = Fitted(model.predict, t.seconds, info)
    ctx.cache[key] = fitted
    return fitted


def _runner(params):
    return lambda dataset, seed, ctx: fit_sain(params, dataset, seed, ctx)


# Averaging independently seeded fits is how far plain variance reduction goes: the
# row measures what an ensemble buys over one default model (it costs n fits).
ENSEMBLE_SIZE = 5


def fit_seed_ensemble(dataset, seed, ctx, size=ENSEMBLE_SIZE, tune_embed_dim=False) -> Fitted:
    """Mean prediction of ``size`` default models with seeds derived from ``seed``.

    With ``tune_embed_dim``, the first member chooses ``embed_dim`` on
    validation (:func:`fit_tuned_embed_dim`) and every member uses it.
    """
    seeds = [seed * 1000 + j for j in range(size)]
    params, info = {}, {"members": size, "member_seeds": seeds}
    if tune_embed_dim:
        tuned = fit_tuned_embed_dim(dataset, seeds[0], ctx)
        params = dict(tuned.info["selected"])
        info.update(selected=params, grid=tuned.info["grid"])
    members = [fit_sain(params, dataset, s, ctx) for s in seeds]
    predict = lambda X: np.mean([m.predict(X) for m in members], axis=0)  # noqa: E731
    info["best_epochs"] = [m.info.get("best_epoch") for m in members]
    return Fitted(predict, sum(m.fit_seconds for m in members), info)


# The width of the id vectors is the setting that validates differently on the two datasets
# (MovieLens prefers 128, sparse Yelp 16; see the benchmarks page): the tuned row picks it
# on validation, as the tuned SVD row picks its grid.
TUNED_EMBED_DIMS = (16, 64, 128)


def fit_tuned_embed_dim(dataset, seed, ctx, grid=TUNED_EMBED_DIMS) -> Fitted:
    """The default model whose ``embed_dim`` (from ``grid``) validates best; test is not used."""
    candidates = (({"embed_dim": embed_dim}, fit_sain({"embed_dim": embed_dim}, dataset, seed, ctx))
                  for embed_dim in grid)  # fmt: skip
    return best_on_validation(dataset, candidates)


def _label_k(k) -> str:
    return "all" if k is None else str(k)


ROWS = [
    Row(c.key, c.label, c.family, _runner(c.params), paper=c.paper, datasets=c.datasets,
        note=c.note)
    for c in SAIN_CONFIGS
] + [
    Row(f"sain-topk-{_label_k(k)}", f"SAIN defaults, top_k={_label_k(k)}", "sain-topk",
        _runner({"top_k": k}), datasets=TOP_K_DATASETS)
    for k in TOP_K_SWEEP
] + [
    Row("sain-ensemble", f"SAIN defaults, mean of {ENSEMBLE_SIZE} seeds", "sain-ensemble",
        fit_seed_ensemble,
        note=f"{ENSEMBLE_SIZE} fits; what a VotingRegressor of seeded SAINRegressors gives"),
    Row("sain-tuned", "SAIN defaults, embed_dim tuned on validation", "sain-tuned",
        fit_tuned_embed_dim,
        note="embed_dim 16 / 64 / 128, chosen on validation RMSE; fit seconds of the chosen fit"),
    Row("sain-tuned-ensemble",
        f"SAIN defaults, embed_dim tuned on validation, mean of {ENSEMBLE_SIZE} seeds",
        "sain-ensemble", functools.partial(fit_seed_ensemble, tune_embed_dim=True),
        note="the first member chooses embed_dim on validation; every member uses it"),
]  # fmt: skip

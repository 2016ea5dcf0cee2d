"""SAIN, myFM and the Bayes floor on ``make_ratings``, whose generating model is known.

The data is ML-1M shaped (``scale=1``: 6,040 users, 3,706 items, 1M discrete
ratings, ``random_state=0``), split 8:1:1 by rating with ``RandomState(0)``;
every SAIN fit uses the validation split as ``eval_set``. The *floor* is the
Bayes predictor from the generating parameters (the expected rounded, clipped
rating given the noise-free score): no model can beat it on average.

    python benchmarks/synthetic.py --scale 0.25 --models floor myfm myfm-ids sain
    python benchmarks/synthetic.py --scale 0.25 --models sain --params '{"l2_reg": 0.03}'
    python benchmarks/synthetic.py --scale 0.25 --models sain-ids --params '{"implicit_feedback": false}'

``sain-ids`` fits on the id columns alone. One line of JSON per row: validation
and test RMSE (clipped to 1-5), seconds, the load average and, for SAIN, the
validation curve. Choose on the validation column only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import norm

from sklearn_sain import SAINRegressor
from sklearn_sain.datasets import make_ratings

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sain_bench, beside this script
from sain_bench._common import Context  # noqa: E402
from sain_bench._data import Dataset  # noqa: E402
from sain_bench._myfm import _bfm  # noqa: E402

USER_FEATURES = ["age", "gender", "occupation"]
ITEM_FEATURES = ["genres", "year", "director"]
NOISE = 0.5  # make_ratings' default noise, which the floor assumes


def synthetic_splits(scale: float):
    """``(X, y, params)`` of the scaled data and the train / validation / test row indices."""
    X, y, params = make_ratings(n_users=int(6040 * scale), n_items=int(3706 * scale),
                                n_ratings=int(1_000_000 * scale), discrete=True,
                                return_params=True, random_state=0)  # fmt: skip
    n = len(y)
    order = np.random.RandomState(0).permutation(n)
    parts = np.split(order, [int(0.8 * n), int(0.9 * n)])
    return X, y, params, parts


def noise_free_scores(X, params) -> np.ndarray:
    """The generating model's score of every row, before noise, rounding and clipping."""
    users, items = X["user_id"].to_numpy(), X["item_id"].to_numpy()
    occupation = {name: k for k, name in enumerate(params["occupations"])}
    n_users, n_items = len(params["user_bias"]), len(params["item_bias"])
    # per-id attributes, read back from the rows that carry them
    age, occ, male = (np.zeros(n_users, dtype=int) for _ in range(3))
    age[users] = X["age"]
    occ[users] = X["occupation"].map(occupation)
    male[users] = X["gender"] == "M"
    year, director = np.zeros(n_items, dtype=int), np.zeros(n_items, dtype=int)
    year[items] = X["year"]
    director[items] = X["director"].str.removeprefix("director_").astype(int)
    share = params["item_genres"] / params["item_genres"].sum(1, keepdims=True)
    return (params["global_mean"] + params["user_bias"][users]
            + params["age_effect"][age[users]] + params["gender_effect"][male[users]]
            + params["item_bias"][items] + params["year_effect"][year[items]]
            + params["director_effect"][director[items]]
            + (params["interaction"] @ share.T)[occ[users], items]
            + np.einsum("ij,ij->i", params["user_factors"][users],
                        params["item_factors"][items]))  # fmt: skip


def bayes_ratings(scores: np.ndarray) -> np.ndarray:
    """E[clip(round(score + noise), 1, 5)]: the best prediction given the noise-free score."""
    levels = np.arange(1, 6)[:, None]
    low = np.where(levels == 1, -np.inf, levels - 0.5)
    high = np.where(levels == 5, np.inf, levels + 0.5)
    prob = norm.cdf((high - scores) / NOISE) - norm.cdf((low - scores) / NOISE)
    return (levels * prob).sum(0)


def rmse(pred, y) -> float:
    return float(np.sqrt(np.mean((np.clip(pred, 1, 5) - y) ** 2)))


def run(name: str, scale: float, sain_params: dict, data=None) -> dict:
    """One row; ``data`` is :func:`synthetic_splits` of ``scale``, drawn here when not given."""
    X, y, params, (train, valid, test) = data if data is not None else synthetic_splits(scale)
    split = lambda idx, cols=None: ((X if cols is None else X[cols]).iloc[idx].reset_index(drop=True),  # noqa: E731
                                    y[idx])  # fmt: skip
    started, extra = time.perf_counter(), {}
    if name == "floor":
        pred = bayes_ratings(noise_free_scores(X, params))
        pred_valid, pred_test = pred[valid], pred[test]
    elif name in ("myfm", "myfm-ids"):
        dataset = Dataset("synthetic", "make_ratings", split(train), split(valid), split(test),
                          USER_FEATURES, ITEM_FEATURES)  # fmt: skip
        columns = ["user_id", "item_id"] + ([] if name == "myfm-ids" else dataset.features)
        fitted = _bfm(lambda d: columns)(dataset, 0, Context())
        pred_valid, pred_test = (fitted.predict(dataset.validation[0]),
                                 fitted.predict(dataset.test[0]))  # fmt: skip
    elif name in ("sain", "sain-ids"):
        cols = ["user_id", "item_id"] if name == "sain-ids" else None
        model = SAINRegressor(random_state=0, device="cpu", **sain_params)
        model.fit(*split(train, cols), eval_set=split(valid, cols))
        pred_valid, pred_test = model.predict(split(valid, cols)[0]), model.predict(split(test, cols)[0])
        extra = {"best_epoch": model.best_epoch_,
                 "curve": [round(v, 4) for v in model.validation_scores_]}
    else:
        raise ValueError(f"unknown model {name!r}")
    return {"model": name, "params": sain_params if name.startswith("sain") else {},
            "scale": scale, "valid": round(rmse(pred_valid, y[valid]), 4),
            "test": round(rmse(pred_test, y[test]), 4),
            "seconds": round(time.perf_counter() - started, 1),
            "load": [round(v, 2) for v in os.getloadavg()], **extra}  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="share of the ML-1M-shaped sizes (users, items and ratings)")
    parser.add_argument("--models", nargs="+", default=["floor", "myfm", "sain"],
                        choices=["floor", "myfm", "myfm-ids", "sain", "sain-ids"])
    parser.add_argument("--params", type=json.loads, default={},
                        help="SAINRegressor parameters of the SAIN rows, as JSON")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    data = synthetic_splits(args.scale)  # drawn once for every row
    for name in args.models:
        print(json.dumps(run(name, args.scale, args.params, data)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Validation-only comparison of SAIN configurations, on the benchmark's datasets and splits.

Each configuration trains on the training split with early stopping on the
validation split; only validation RMSE is printed, so defaults chosen from this
table are never tuned on test. Datasets, splits and encoders are those of
``python benchmarks/run.py`` (MovieLens: the paper's split; Yelp: the
seeded 8:1:1 split).

    python benchmarks/select_defaults.py --data-dir ../shared/data --config default norm=layer
    python benchmarks/select_defaults.py --data-dir ../shared/data --dataset yelp \\
        --config default bias_init=zeros learning_rate=5e-4
"""

from __future__ import annotations

import argparse
import ast
import time

import sys
from pathlib import Path

from sklearn_sain import SAINEncoder, SAINRegressor

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sain_bench, beside this script
from sain_bench._data import find_datasets  # noqa: E402
from sain_bench._options import DATASET_NAMES  # noqa: E402


def parse_config(text: str) -> dict:
    if text == "default":
        return {}
    params = {}
    for part in text.split(","):
        key, value = part.split("=", 1)
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--dataset", choices=DATASET_NAMES, default="movielens")
    parser.add_argument("--config", nargs="+", default=["default"],
                        help="comma-separated key=value overrides, or 'default'")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parser.parse_args(argv)
    found, missing = find_datasets(args.data_dir, [args.dataset])
    if not found:
        parser.error(f"{args.dataset}: {missing[args.dataset]}")
    dataset = found[0]
    (X_train, y_train), (X_val, y_val) = dataset.train, dataset.validation
    for config in args.config:
        for seed in args.seeds:
            encoder = SAINEncoder(user_features=list(dataset.user_features),
                                  item_features=list(dataset.item_features))  # fmt: skip
            params = dict(device="cpu", n_threads=1, random_state=seed, encoder=encoder,
                          **parse_config(config))  # fmt: skip
            started = time.perf_counter()
            model = SAINRegressor(**params).fit(X_train, y_train, eval_set=(X_val, y_val))
            curve = " ".join(f"{score:.4f}" for score in model.validation_scores_)
            print(
                f"{args.dataset} {config:40s} seed {seed}: best valid RMSE "
                f"{min(model.validation_scores_):.4f} at epoch {model.best_epoch_}/"
                f"{model.n_iter_}, {time.perf_counter() - started:.0f}s  [{curve}]",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

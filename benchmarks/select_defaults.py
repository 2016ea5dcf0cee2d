"""Validation-only comparison of SAIN configurations on the paper's MovieLens split.

Each configuration trains on the training split with early stopping on the
validation split; only validation RMSE is printed, so defaults chosen from this
table are never tuned on test.

    python benchmarks/select_defaults.py --data-dir ../shared/data --config default norm=batch
"""

from __future__ import annotations

import argparse
import ast
import time

from sklearn_sain import SAINRegressor
from sklearn_sain.datasets import load_sain_movielens


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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--config", nargs="+", default=["default"],
                        help="comma-separated key=value overrides, or 'default'")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parser.parse_args(argv)
    (X_train, y_train), (X_val, y_val), _ = load_sain_movielens(args.data_dir)
    for config in args.config:
        for seed in args.seeds:
            params = dict(device="cpu", random_state=seed, **parse_config(config))
            started = time.perf_counter()
            model = SAINRegressor(**params).fit(X_train, y_train, eval_set=(X_val, y_val))
            print(
                f"{config:40s} seed {seed}: best valid RMSE {min(model.validation_scores_):.4f} "
                f"at epoch {model.best_epoch_}/{model.n_iter_}, "
                f"{time.perf_counter() - started:.0f}s",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line: ``python -m sklearn_sain demo``.

The benchmarks against the peers are not part of the installed package: run
``python benchmarks/run.py`` from a source checkout.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.model_selection import train_test_split


def _rmse(y_true, y_pred) -> float:
    return float(np.sqrt(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2)))


def run_demo(args) -> int:
    from . import BiasOnlyRegressor, SAINRegressor
    from .datasets import make_ratings

    X, y = make_ratings(n_ratings=args.n_ratings, random_state=args.seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=args.seed)
    print(
        f"make_ratings: {len(X)} ratings, {X['user_id'].nunique()} users, "
        f"{X['item_id'].nunique()} items; columns {list(X.columns)}"
    )
    print(f"train {len(X_train)} rows, test {len(X_test)} rows\n")

    rows = [("global mean", _rmse(y_test, np.full(len(y_test), y_train.mean())), 0.0)]
    started = time.perf_counter()
    bias = BiasOnlyRegressor().fit(X_train, y_train)
    rows.append(("bias only (user + item)", _rmse(y_test, bias.predict(X_test)),
                 time.perf_counter() - started))
    started = time.perf_counter()
    sain = SAINRegressor(
        max_epochs=args.max_epochs, device=args.device, random_state=args.seed, verbose=args.verbose
    ).fit(X_train, y_train)
    rows.append((f"SAIN ({sain.n_iter_} epochs, best {sain.best_epoch_})",
                 _rmse(y_test, sain.predict(X_test)), time.perf_counter() - started))

    width = max(len(name) for name, _, _ in rows)
    print(f"{'model':<{width}}  test RMSE  fit seconds")
    for name, rmse, seconds in rows:
        print(f"{name:<{width}}  {rmse:9.4f}  {seconds:11.1f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sklearn_sain", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="fit SAIN on synthetic ratings and compare with baselines")
    demo.add_argument("--n-ratings", type=int, default=20000)
    demo.add_argument("--max-epochs", type=int, default=30)
    demo.add_argument("--device", default="auto")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--verbose", type=int, default=1,
                      help="1: a line per epoch (default); 2: progress within epochs; 0: quiet")
    demo.set_defaults(handler=run_demo)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)

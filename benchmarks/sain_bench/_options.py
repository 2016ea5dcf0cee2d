"""Command-line options of ``python benchmarks/run.py`` (light: no model imports)."""

from __future__ import annotations

import argparse

DATASET_NAMES = ("movielens", "yelp", "movielens-kg")
QUICK_TRAIN_ROWS = 4000
QUICK_EVAL_ROWS = 1000
# Evaluation protocols (--protocol): which ids the test rows may share with training.
# The cold ones re-split every dataset (see _data.cold_protocol for the rule).
PROTOCOL_DESCRIPTIONS = {
    "warm": "the datasets' own splits, so nearly every test user and item is seen in training",
    "new-items": "every test and validation item is unseen in training (item cold start)",
    "new-users": "every test and validation user is unseen in training (user cold start)",
}
PROTOCOLS = tuple(PROTOCOL_DESCRIPTIONS)
# What is measured (--task): rating prediction (RMSE) or top-N ranking (see _ranking).
TASKS = ("rating", "ranking")


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--data-dir", default=None,
                        help="folder searched for the datasets (e.g. ../shared/data)")
    parser.add_argument("--out", default="benchmark_results", help="output folder")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", choices=DATASET_NAMES, default=None,
                        help=f"default: {' '.join(DATASET_NAMES)} (those found under --data-dir)")
    parser.add_argument("--models", nargs="+", default=None,
                        help="row keys or families, shell patterns allowed "
                             "(e.g. 'sain*' bias myfm); see --list")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: first {QUICK_TRAIN_ROWS} training and "
                             f"{QUICK_EVAL_ROWS} validation/test rows, at most 2 epochs, "
                             "short MCMC chains and grids")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="warm",
                        help="warm: the datasets' own splits; new-items / new-users: a tenth "
                             "of the items / users held out with all their ratings as test "
                             "(a ninth of the rest as validation); rows that use ids only "
                             "are listed as not applicable")
    parser.add_argument("--task", choices=TASKS, default="rating",
                        help="rating: RMSE/MAE of predicted ratings; ranking: top-10 "
                             "recommendation (precision, recall, NDCG, MAP, coverage; rating "
                             ">= 4 is relevant) with its own rows (see --task ranking --list); "
                             "--protocol warm or new-items")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="cap on the epochs of every epoch-based model")
    parser.add_argument("--device", default="cpu",
                        help="torch device for SAIN, DeepCTR and NCF (cpu, cuda, auto)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads; 0 keeps torch's default (default: 1, "
                             "much faster than 2 on a busy 2-core machine)")
    parser.add_argument("--yelp-split-seed", type=int, default=0,
                        help="seed of the Yelp 8:1:1 split (model seeds are --seeds)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG files")
    parser.add_argument("--verbose", type=int, default=0, help="per-epoch lines from SAIN")
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    speed = parser.add_argument_group("speed and scale (--speed; see docs/speed.rst)")
    speed.add_argument("--speed", action="store_true",
                       help="measure speed instead of accuracy: SAIN's epoch and DeepCTR "
                            "AutoInt's in the same run, prediction, encoding, GPU, and the "
                            "scale curve")
    speed.add_argument("--speed-repeats", type=int, default=3, help="epochs timed (median)")
    speed.add_argument("--scale-sizes", nargs="+", type=int, default=[1_000_000, 3_000_000,
                                                                     10_000_000],
                       help="make_ratings rows of the scale curve; 0 skips it")
    speed.add_argument("--scale-batch-size", type=int, default=1024)
    speed.add_argument("--no-autoint", action="store_true", help="skip the AutoInt epochs")
    speed.add_argument("--no-time-to-accuracy", action="store_true",
                       help="skip the whole fits of SAIN, myFM and AutoInt (time to accuracy)")
    parser.add_argument("--merge", nargs="+", default=None, metavar="RESULTS_JSON",
                        help="combine the results.json files of earlier runs (e.g. one per "
                             "dataset, run side by side) into one report in --out; runs nothing")
    return parser

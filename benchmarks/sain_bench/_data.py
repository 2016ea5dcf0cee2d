"""Datasets of the benchmark: discovery under a data folder, splits and quick subsamples."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn_sain.datasets import load_sain_movielens, load_yelp
from ._machine import describe_machine, machine_info
from ._options import DATASET_NAMES, PROTOCOLS, QUICK_EVAL_ROWS, QUICK_TRAIN_ROWS

_ML_USER = ["age", "gender", "occupation"]
_ML_ITEM = ["year", "genres", "actor", "director"]
# Freebase actors per film, keeping the most prolific ones (films have up to 158).
KG_MAX_ACTORS = 8


@dataclass
class Dataset:
    """Three splits of one dataset, with the roles of its feature columns."""

    name: str
    title: str
    train: tuple
    validation: tuple
    test: tuple
    user_features: list
    item_features: list
    source: str = ""
    note: str = ""
    paper_column: str | None = None  # column of the paper's Table 2 that this dataset reproduces
    quick: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def features(self) -> list:
        return list(self.user_features) + list(self.item_features)

    @property
    def protocol(self) -> str:
        """``warm`` for the datasets' own splits, else the cold protocol that re-split it."""
        return self.extra.get("protocol", "warm")

    def describe(self) -> dict:
        (X_train, y_train), (X_val, _), (X_test, _) = self.train, self.validation, self.test
        seen_users, seen_items = set(X_train["user_id"]), set(X_train["item_id"])
        every = lambda column: pd.concat([X[column] for X in (X_train, X_val, X_test)])  # noqa: E731
        multi = [c for c in self.features if _is_multi(X_train[c])]
        sparse = sparse_user_rows(self)
        return {
            "title": self.title,
            "source": self.source,
            "note": self.note,
            "n_train": int(len(X_train)),
            "n_validation": int(len(X_val)),
            "n_test": int(len(X_test)),
            "n_users": int(every("user_id").nunique()),
            "n_items": int(every("item_id").nunique()),
            "test_rows_unseen_user": int((~X_test["user_id"].isin(seen_users)).sum()),
            "test_rows_unseen_item": int((~X_test["item_id"].isin(seen_items)).sum()),
            "protocol": self.protocol,
            "sparse_user_max_ratings": SPARSE_USER_MAX_RATINGS,
            "test_rows_sparse_user": None if sparse is None else int(sparse.sum()),
            "user_features": list(self.user_features),
            "item_features": list(self.item_features),
            "multi_valued": multi,
            "train_rating_mean": float(np.mean(y_train)),
            "paper_column": self.paper_column,
            "quick_subsample": self.quick,
        }


def _find_folder(root, needed) -> Path | None:
    """The folder at or below ``root`` closest to it that holds every file in ``needed``.

    None when none qualifies: the dataset is then left out of the run.
    """
    root = Path(root)
    if not root.is_dir():
        return None
    candidates = sorted({path.parent for path in root.rglob(needed[0])},
                        key=lambda folder: (len(folder.parts), str(folder)))
    return next((f for f in candidates if all((f / name).is_file() for name in needed)), None)


def _is_multi(column: pd.Series) -> bool:
    return bool(column.map(lambda v: isinstance(v, (list, tuple, set, np.ndarray))).any())


def _movielens(data_dir: Path, **_) -> Dataset | None:
    folder = _find_folder(data_dir, ("ml-100k-r.train.csv",))
    if folder is None:
        return None
    train, validation, test = load_sain_movielens(folder)
    return Dataset(
        "movielens", "MovieLens-100K (SAIN authors' 8:1:1 split, IMDb actor/director)",
        train, validation, test, _ML_USER, _ML_ITEM, source=str(folder),
        note="The exact split of the paper (seed 2017 permutation, 80/10/10 by rating).",
        paper_column="MovieLens",
    )  # fmt: skip


def _yelp(data_dir: Path, *, yelp_split_seed: int = 0, **_) -> Dataset | None:
    folder = _find_folder(data_dir, ("user_business.dat", "user_compliment.dat"))
    if folder is None:
        return None
    train, validation, test = load_yelp(folder, split=True, random_state=yelp_split_seed)
    return Dataset(
        "yelp", f"Yelp (HIN-Datasets), seeded 8:1:1 split (seed {yelp_split_seed})",
        train, validation, test, ["compliments"], ["categories", "city"], source=str(folder),
        note="Stands in for the paper's Weibo-Douban data, which cannot be obtained; the paper's "
             "Weibo-Douban figures are not comparable with these.",
    )  # fmt: skip


def _kg_features(folder: Path) -> tuple[dict, dict]:
    link = pd.read_csv(folder / "ml-100k.link", sep="\t")
    kg = pd.read_csv(folder / "ml-100k.kg", sep="\t")
    link.columns, kg.columns = ["item", "entity"], ["head", "relation", "tail"]
    film_to_item = dict(zip(link["entity"], link["item"]))
    kg = kg[kg["head"].isin(film_to_item)]
    actors = kg[kg["relation"] == "film.film.actor"]
    films_per_actor = actors["tail"].value_counts()
    actors = actors.assign(n=actors["tail"].map(films_per_actor))
    actors = actors.sort_values(["head", "n", "tail"], ascending=[True, False, True])
    actor_lists = actors.groupby("head")["tail"].agg(lambda s: list(s[:KG_MAX_ACTORS]))
    directors = kg[kg["relation"] == "film.film.directed_by"].sort_values(["head", "tail"])
    director_lists = directors.groupby("head")["tail"].agg(list)
    by_item = lambda lists: {film_to_item[f]: v for f, v in lists.items()}  # noqa: E731
    return by_item(actor_lists), by_item(director_lists)


def _movielens_kg(data_dir: Path, **_) -> Dataset | None:
    kg_folder = _find_folder(data_dir, ("ml-100k.kg", "ml-100k.link"))
    split_folder = _find_folder(data_dir, ("ml-100k-r.train.csv",))
    if kg_folder is None or split_folder is None:
        return None
    actors, directors = _kg_features(kg_folder)
    splits = []
    for X, y in load_sain_movielens(split_folder):
        X = X.copy()
        for column, lists in (("actor", actors), ("director", directors)):
            cells = np.empty(len(X), dtype=object)
            cells[:] = [list(lists.get(item, [])) for item in X["item_id"]]
            X[column] = pd.Series(cells, index=X.index, dtype=object)
        splits.append((X, y))
    return Dataset(
        "movielens-kg", "MovieLens-100K, same split, multi-valued Freebase actors/directors",
        *splits, _ML_USER, _ML_ITEM, source=f"{split_folder} + {kg_folder}",
        note=f"Actor and director lists from the KB4Rec Freebase links (RecBole); at most "
             f"{KG_MAX_ACTORS} actors per film, the most prolific first.",
        paper_column="MovieLens",
    )  # fmt: skip


DATASETS = {"movielens": _movielens, "yelp": _yelp, "movielens-kg": _movielens_kg}
DEFAULT_DATASETS = DATASET_NAMES


def find_datasets(data_dir, names=None, **options) -> tuple[list, dict]:
    """Load the datasets found under ``data_dir``; return them and a reason per missing one."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"--data-dir {data_dir} is not a folder.")
    found, missing = [], {}
    for name in names or DEFAULT_DATASETS:
        if name not in DATASETS:
            raise ValueError(f"Unknown dataset {name!r}; choose from {sorted(DATASETS)}.")
        dataset = DATASETS[name](data_dir, **options)
        if dataset is None:
            missing[name] = f"its files were not found under {data_dir}"
        else:
            found.append(dataset)
    return found, missing


def subsample(dataset: Dataset, n_train: int, n_eval: int) -> Dataset:
    """The first rows of each split (splits are already in random order)."""
    def head(split, n):
        X, y = split
        return X.iloc[:n].reset_index(drop=True), np.asarray(y)[:n]

    return replace(
        dataset,
        train=head(dataset.train, n_train),
        validation=head(dataset.validation, n_eval),
        test=head(dataset.test, n_eval),
        quick=True,
    )


# ------------------------------------------------------------------ protocols
# PROTOCOLS (the names) come from _options, which the command line imports cheaply.
# The side whose ids a cold protocol holds out, and the column that names them
COLD_SIDE = {"new-items": "item_id", "new-users": "user_id"}
COLD_SHARE = 0.1  # of the ids held out for test, then of the rest for validation
COLD_SPLIT_SEED = 1


def hold_out_ids(split: tuple, column: str, share: float, rng) -> tuple[tuple, tuple]:
    """``split`` without, then with, a random ``share`` of the ids of ``column`` and all their rows."""
    X, y = split
    ids = np.unique(X[column].to_numpy())
    n_held = min(max(1, int(round(share * len(ids)))), len(ids) - 1)
    held = rng.choice(ids, n_held, replace=False)
    mask = X[column].isin(held).to_numpy()
    y = np.asarray(y)
    keep = lambda m: (X[m].reset_index(drop=True), y[m])  # noqa: E731
    return keep(~mask), keep(mask)


def cold_protocol(dataset: Dataset, protocol: str, seed: int = COLD_SPLIT_SEED) -> Dataset:
    """``dataset`` re-split so that its test rows belong to ids never seen in training.

    All rows of the three splits are pooled; a tenth of the item (or user) ids
    is drawn with ``numpy.random.RandomState(seed)`` and their rows become the
    test split; from the rest, a ninth of the ids and their rows become the
    validation split, built the same way so that every choice (epochs, grids)
    is made on ids that are new too. Training keeps the remaining rows.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"Unknown protocol {protocol!r}; choose from {list(PROTOCOLS)}.")
    if protocol == "warm":
        return dataset
    column = COLD_SIDE[protocol]
    X = pd.concat([s[0] for s in (dataset.train, dataset.validation, dataset.test)],
                  ignore_index=True)  # fmt: skip
    y = np.concatenate([np.asarray(s[1]) for s in (dataset.train, dataset.validation,
                                                   dataset.test)])  # fmt: skip
    rng = np.random.RandomState(seed)
    rest, test = hold_out_ids((X, y), column, COLD_SHARE, rng)
    train, validation = hold_out_ids(rest, column, COLD_SHARE / (1 - COLD_SHARE), rng)
    side = "items" if column == "item_id" else "users"
    return replace(
        dataset, train=train, validation=validation, test=test,
        title=f"{dataset.title}; {protocol}",
        paper_column=None,  # the paper's Table 2 is a warm split: not comparable
        note=f"Protocol {protocol}: a tenth of the {side} (RandomState({seed})) held out with "
             f"all their ratings as test; a ninth of the remaining {side} likewise as "
             "validation; the rest is training.",
        extra=dict(dataset.extra, protocol=protocol),
    )  # fmt: skip


def seen_sides(protocol: str) -> list:
    """The id columns that test rows share with training, the user's first.

    Both in ``warm``; the user alone in ``new-items``; the item alone in
    ``new-users``: the ids whose training ratings can inform a test prediction.
    """
    return [c for c in ("user_id", "item_id") if c != COLD_SIDE.get(protocol)]


# ----------------------------------------------------------- sparse-user slice
SPARSE_USER_MAX_RATINGS = 5


def sparse_user_rows(dataset: Dataset) -> np.ndarray | None:
    """Mask of the test rows whose user has at most 5 ratings in the training split.

    Users unseen in training (0 ratings) count as sparse. Only the warm
    protocol has the slice (None otherwise): under ``new-users`` every test
    user is unseen, so the slice would be the whole test split, and under
    ``new-items`` it would mix two kinds of cold start.
    """
    if dataset.protocol != "warm":
        return None
    counts = dataset.train[0]["user_id"].value_counts()
    seen = dataset.test[0]["user_id"].map(counts).fillna(0).to_numpy()
    return seen <= SPARSE_USER_MAX_RATINGS


def load_for_protocol(data_dir, datasets, *, protocol: str, quick: bool, yelp_split_seed: int):
    """The datasets found under ``data_dir``, split for ``protocol`` (subsampled when ``quick``).

    Returns ``(found, missing)``; raises FileNotFoundError when none is found.
    """
    found, missing = find_datasets(data_dir, datasets, yelp_split_seed=yelp_split_seed)
    if not found:
        raise FileNotFoundError(f"No dataset found under {data_dir}: {missing}")
    found = [cold_protocol(d, protocol) for d in found]  # the warm protocol keeps them
    if quick:
        found = [subsample(d, QUICK_TRAIN_ROWS, QUICK_EVAL_ROWS) for d in found]
    return found, missing


def start_run(out, data_dir, datasets, *, protocol: str, quick: bool, yelp_split_seed: int, log):
    """What every benchmark run does first: the output folder, the machine, the datasets.

    Returns ``(out, machine, found, missing)`` with ``out`` created and the
    machine description logged.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    log(f"machine: {describe_machine(machine)}")
    found, missing = load_for_protocol(data_dir, datasets, protocol=protocol, quick=quick,
                                       yelp_split_seed=yelp_split_seed)
    return out, machine, found, missing

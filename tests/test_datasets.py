"""Tests for sklearn_sain.datasets.

MovieLens files may not be redistributed, so every loader test writes its own
tiny files in the real formats; the download test serves them from a local
HTTP server. Tests on the real data run only where a local copy exists.
"""

import hashlib
import http.server
import io
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sklearn_sain._datasets import movielens
from sklearn_sain.datasets import (
    MOVIELENS_100K_GENRES,
    load_movielens_100k,
    load_sain_movielens,
    load_yelp,
    make_ratings,
)

SHARED = Path("/work/shared/data")


# --------------------------------------------------------------------------
# make_ratings


def test_make_ratings_columns_dtypes_and_ranges():
    X, y = make_ratings(n_users=60, n_items=40, n_ratings=500, random_state=0)
    assert list(X.columns) == [
        "user_id", "item_id", "age", "gender", "occupation", "genres", "year", "director",
    ]  # fmt: skip
    assert X.shape == (500, 8) and y.shape == (500,)
    assert y.dtype == np.float64 and y.min() >= 1.0 and y.max() <= 5.0
    assert len(np.unique(y)) > 100  # continuous by default
    for column in ["user_id", "item_id", "age", "year"]:
        assert X[column].dtype == np.int64
    assert X["user_id"].between(0, 59).all() and X["item_id"].between(0, 39).all()
    assert X["age"].between(0, 6).all() and X["year"].between(0, 8).all()
    assert set(X["gender"]) <= {"F", "M"}
    assert set(X["occupation"]) <= {f"occ_{k}" for k in range(8)}
    assert X["director"].str.fullmatch(r"director_\d+").all()
    assert X["genres"].dtype == object
    for cell in X["genres"]:
        assert isinstance(cell, list) and 1 <= len(cell) <= 3
        assert len(set(cell)) == len(cell)
        assert cell == sorted(cell, key=lambda g: int(g.split("_")[1]))
        assert set(cell) <= {f"genre_{k}" for k in range(10)}
    # User and item features are properties of the user / item, not the row.
    assert (X.groupby("user_id")[["age", "gender", "occupation"]].nunique() == 1).all().all()
    per_item = X.assign(g=X["genres"].map("|".join))
    assert (per_item.groupby("item_id")[["g", "year", "director"]].nunique() == 1).all().all()


def test_make_ratings_string_mode_matches_list_mode():
    X_list, y_list = make_ratings(n_ratings=800, random_state=3)
    X_str, y_str = make_ratings(n_ratings=800, random_state=3, multi_valued="string")
    np.testing.assert_array_equal(y_list, y_str)
    assert X_str["genres"].tolist() == ["|".join(cell) for cell in X_list["genres"]]
    pd.testing.assert_frame_equal(X_list.drop(columns="genres"), X_str.drop(columns="genres"))


def test_make_ratings_reproducible_and_seed_dependent():
    X1, y1 = make_ratings(n_ratings=1000, random_state=42)
    X2, y2 = make_ratings(n_ratings=1000, random_state=np.random.RandomState(42))
    pd.testing.assert_frame_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, y3 = make_ratings(n_ratings=1000, random_state=43)
    assert not np.array_equal(y1, y3)
    assert not X1[["user_id", "item_id"]].equals(X3[["user_id", "item_id"]])


def test_make_ratings_unique_pairs_when_sparse_repeats_when_dense():
    X, _ = make_ratings(n_users=100, n_items=80, n_ratings=2000, random_state=0)
    assert not X.duplicated(["user_id", "item_id"]).any()  # density 0.25
    X, _ = make_ratings(n_users=5, n_items=4, n_ratings=200, random_state=0)
    assert X.duplicated(["user_id", "item_id"]).any()
    assert len(X) == 200


def test_make_ratings_popularity_skew():
    X, _ = make_ratings(n_ratings=20000, random_state=0)
    counts = X["item_id"].value_counts()
    assert counts.iloc[:30].sum() > 0.3 * len(X)  # top 10% of items
    items_per_director = X.drop_duplicates("item_id")["director"].value_counts()
    assert items_per_director.max() >= 8 and (items_per_director == 1).sum() >= 10


def test_make_ratings_follows_documented_model():
    X, y, p = make_ratings(
        n_ratings=3000, noise=0.0, interaction_strength=0.7, random_state=5, return_params=True
    )
    u, i = X["user_id"].to_numpy(), X["item_id"].to_numpy()
    occ = X["occupation"].str[4:].astype(int).to_numpy()
    director = X["director"].str[9:].astype(int).to_numpy()
    genre_share = p["item_genres"] / p["item_genres"].sum(axis=1, keepdims=True)
    expected = (
        p["global_mean"] + p["user_bias"][u] + p["item_bias"][i]
        + p["age_effect"][X["age"]] + p["gender_effect"][(X["gender"] == "M").astype(int)]
        + p["year_effect"][X["year"]] + p["director_effect"][director]
        + np.einsum("ij,ij->i", p["user_factors"][u], p["item_factors"][i])
        + 0.7 * np.einsum("ij,ij->i", p["interaction"][occ], genre_share[i])
    )  # fmt: skip
    np.testing.assert_allclose(y, np.clip(expected, 1, 5), atol=1e-12)
    genre_names = np.array(p["genres"], dtype=object)
    assert [list(genre_names[p["item_genres"][k]]) for k in i[:50]] == X["genres"][:50].tolist()


def _interaction_recovery(strength):
    X, y, p = make_ratings(interaction_strength=strength, random_state=0, return_params=True)
    df = X[["user_id", "item_id", "occupation", "genres"]].assign(y=y)
    df["r"] = (
        df["y"] - df.groupby("user_id")["y"].transform("mean")
        - df.groupby("item_id")["y"].transform("mean") + df["y"].mean()
    )  # fmt: skip
    estimate = (
        df.explode("genres").groupby(["occupation", "genres"])["r"].mean().unstack()
        .reindex(index=p["occupations"], columns=p["genres"]).to_numpy()
    )  # fmt: skip
    W = p["interaction"]
    # User and item means absorb the row and column means of W.
    W_centred = W - W.mean(axis=0) - W.mean(axis=1, keepdims=True) + W.mean()
    return np.corrcoef(estimate.ravel(), W_centred.ravel())[0, 1]


def test_make_ratings_planted_interaction_is_detectable():
    assert _interaction_recovery(1.0) > 0.8
    assert abs(_interaction_recovery(0.0)) < 0.3


def test_make_ratings_discrete_and_no_factors():
    _, y = make_ratings(n_ratings=500, n_factors=0, discrete=True, random_state=0)
    assert set(np.unique(y)) <= {1.0, 2.0, 3.0, 4.0, 5.0} and len(np.unique(y)) >= 4


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_users": 0}, ValueError, "n_users"),
        ({"n_items": -3}, ValueError, "n_items"),
        ({"n_ratings": 0}, ValueError, "n_ratings"),
        ({"n_occupations": 0}, ValueError, "n_occupations"),
        ({"n_genres": 0}, ValueError, "n_genres"),
        ({"n_factors": -1}, ValueError, "n_factors"),
        ({"noise": -0.1}, ValueError, "noise"),
        ({"multi_valued": "set"}, ValueError, "multi_valued"),
        ({"n_users": 2.5}, TypeError, "n_users"),
        ({"interaction_strength": "big"}, TypeError, "interaction_strength"),
    ],
)
def test_make_ratings_validates_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_ratings(**kwargs)


# --------------------------------------------------------------------------
# load_movielens_100k

GENRE_FLAGS = {  # item id -> set genre indices; item 3 has no release date
    1: [3, 4, 5], 2: [1, 16], 3: [0], 4: [8, 14],
}
U_DATA = "2\t1\t4\t881250949\n1\t3\t1\t891717742\n3\t2\t5\t878887116\n2\t4\t3\t880606923\n"
U_USER = "1|24|M|technician|85711\n2|53|F|other|01234\n3|23|M|writer|T8H1N\n"
TITLES = {1: "Toy Story (1995)", 2: "GoldenEye (1995)", 3: "unknown",
          4: "Misérables, Les (1995)"}  # fmt: skip
DATES = {1: "01-Jan-1995", 2: "01-Jan-1995", 3: "", 4: "01-Jan-1995"}


def _u_item():
    lines = []
    for item, flags in GENRE_FLAGS.items():
        bits = ["1" if g in flags else "0" for g in range(19)]
        lines.append("|".join([str(item), TITLES[item], DATES[item], "", "http://x", *bits]))
    return ("\n".join(lines) + "\n").encode("latin-1")


def _u_genre():
    return "".join(f"{g}|{k}\n" for k, g in enumerate(MOVIELENS_100K_GENRES)) + "\n"


def _write_ml100k(folder, with_genre_file=True):
    folder.mkdir(parents=True)
    (folder / "u.data").write_text(U_DATA)
    (folder / "u.user").write_text(U_USER)
    (folder / "u.item").write_bytes(_u_item())
    if with_genre_file:
        (folder / "u.genre").write_text(_u_genre())


def _ml100k_zip(skip=()):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        files = {"u.data": U_DATA.encode(), "u.user": U_USER.encode(),
                 "u.item": _u_item(), "u.genre": _u_genre().encode()}  # fmt: skip
        for name, payload in files.items():
            if name not in skip:
                zf.writestr(f"ml-100k/{name}", payload)
    return buffer.getvalue()


def _check_tiny_ml100k(X, y):
    assert list(X.columns) == [
        "user_id", "item_id", "age", "gender", "occupation", "zip_code", "release_year", "genres",
    ]  # fmt: skip
    np.testing.assert_array_equal(y, [4.0, 1.0, 5.0, 3.0])
    assert y.dtype == np.float64
    assert X["user_id"].tolist() == [2, 1, 3, 2] and X["item_id"].tolist() == [1, 3, 2, 4]
    for column in ["user_id", "item_id", "age"]:
        assert X[column].dtype == np.int64
    assert X["age"].tolist() == [53, 24, 23, 53]
    assert X["gender"].tolist() == ["F", "M", "M", "F"]
    assert X["occupation"].tolist() == ["other", "technician", "writer", "other"]
    assert X["zip_code"].tolist() == ["01234", "85711", "T8H1N", "01234"]
    assert X["release_year"].dtype == np.float64
    np.testing.assert_array_equal(X["release_year"], [1995.0, np.nan, 1995.0, 1995.0])
    assert X["genres"].tolist() == [
        ["Animation", "Children's", "Comedy"], ["unknown"], ["Action", "Thriller"],
        ["Drama", "Romance"],
    ]  # fmt: skip


@pytest.mark.parametrize("with_genre_file", [True, False])
def test_load_movielens_100k_from_extracted_folder(tmp_path, with_genre_file):
    _write_ml100k(tmp_path / "movielens-100k" / "ml-100k", with_genre_file)
    X, y = load_movielens_100k(data_home=tmp_path, download=False)
    _check_tiny_ml100k(X, y)
    X["genres"][0].append("mutated")  # rows must not share list objects
    assert X["genres"][1] == ["unknown"]


def test_load_movielens_100k_missing_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_movielens_100k(data_home=tmp_path, download=False)
    assert not (tmp_path / "movielens-100k" / "ml-100k").exists()


def test_load_movielens_100k_incomplete_folder(tmp_path):
    folder = tmp_path / "movielens-100k" / "ml-100k"
    folder.mkdir(parents=True)
    (folder / "u.data").write_text(U_DATA)
    with pytest.raises(OSError, match="incomplete"):
        load_movielens_100k(data_home=tmp_path, url="http://127.0.0.1:9/unused.zip")


@pytest.fixture
def http_server():
    """Serve ``routes`` (path -> bytes) on 127.0.0.1; record requested paths."""
    routes, hits = {}, []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            if self.path not in routes:
                self.send_error(404)
                return
            payload, length = routes[self.path], len(routes[self.path])
            if self.path.startswith("/truncated"):  # announce more than is sent
                payload, length = payload[: length // 2], length
            self.send_response(200)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", routes, hits
    server.shutdown()
    server.server_close()
    thread.join()


def _leftovers(tmp_path):
    return sorted(p.name for p in (tmp_path / "movielens-100k").iterdir() if p.name != "ml-100k")


def test_load_movielens_100k_downloads_and_extracts(tmp_path, http_server, monkeypatch):
    base, routes, hits = http_server
    payload = _ml100k_zip()
    routes["/ml-100k.zip"] = payload
    monkeypatch.setattr(movielens, "MOVIELENS_100K_URL", base + "/ml-100k.zip")
    X, y = load_movielens_100k(data_home=tmp_path, sha256=hashlib.sha256(payload).hexdigest())
    _check_tiny_ml100k(X, y)
    folder = tmp_path / "movielens-100k" / "ml-100k"
    assert sorted(p.name for p in folder.iterdir()) == ["u.data", "u.genre", "u.item", "u.user"]
    assert _leftovers(tmp_path) == []  # no temporary archive or staging folder
    X2, y2 = load_movielens_100k(data_home=tmp_path)  # cached: no second request
    assert hits == ["/ml-100k.zip"]
    pd.testing.assert_frame_equal(X, X2)


@pytest.mark.parametrize(
    "problem, match",
    [("not a zip", "valid zip"), ("no u.data", "u.data is missing"), ("bad sha256", "Checksum")],
)
def test_load_movielens_100k_rejects_bad_downloads(tmp_path, http_server, problem, match):
    base, routes, _ = http_server
    routes["/ml-100k.zip"] = {
        "not a zip": b"<html>not a zip</html>",
        "no u.data": _ml100k_zip(skip=("u.data",)),
        "bad sha256": _ml100k_zip(),
    }[problem]
    sha256 = "0" * 64 if problem == "bad sha256" else None
    with pytest.raises(OSError, match=match):
        load_movielens_100k(data_home=tmp_path, url=base + "/ml-100k.zip", sha256=sha256)
    assert not (tmp_path / "movielens-100k" / "ml-100k").exists()
    assert _leftovers(tmp_path) == []


def test_load_movielens_100k_truncated_download(tmp_path, http_server):
    base, routes, _ = http_server
    routes["/truncated.zip"] = _ml100k_zip()
    with pytest.raises(OSError, match="stopped after"):
        load_movielens_100k(data_home=tmp_path, url=base + "/truncated.zip")
    assert not (tmp_path / "movielens-100k" / "ml-100k").exists()
    assert _leftovers(tmp_path) == []


def test_load_movielens_100k_interrupted_extraction_leaves_nothing(
    tmp_path, http_server, monkeypatch
):
    base, routes, _ = http_server
    routes["/ml-100k.zip"] = _ml100k_zip()

    def extract_one_then_fail(self, path, members=None):
        self.extract(sorted(members)[0], path)
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipFile, "extractall", extract_one_then_fail)
    with pytest.raises(KeyboardInterrupt):
        load_movielens_100k(data_home=tmp_path, url=base + "/ml-100k.zip")
    assert not (tmp_path / "movielens-100k" / "ml-100k").exists()
    assert _leftovers(tmp_path) == []
    monkeypatch.undo()
    X, y = load_movielens_100k(data_home=tmp_path, url=base + "/ml-100k.zip")
    _check_tiny_ml100k(X, y)


def test_load_movielens_100k_http_error(tmp_path, http_server):
    base, _, _ = http_server
    with pytest.raises(OSError):
        load_movielens_100k(data_home=tmp_path, url=base + "/missing.zip")
    assert _leftovers(tmp_path) == []


@pytest.mark.skipif(not (SHARED / "ml-100k" / "u.data").is_file(), reason="no local ML-100K")
def test_load_movielens_100k_real_files(tmp_path):
    (tmp_path / "movielens-100k").mkdir()
    (tmp_path / "movielens-100k" / "ml-100k").symlink_to(SHARED / "ml-100k")
    X, y = load_movielens_100k(data_home=tmp_path, download=False)
    assert X.shape == (100000, 8) and X["user_id"].nunique() == 943
    assert X["item_id"].nunique() == 1682
    assert np.bincount(y.astype(int)).tolist() == [0, 6110, 11370, 27145, 34174, 21201]
    assert X.iloc[0][["user_id", "item_id", "age", "occupation"]].tolist() == [196, 242, 49, "writer"]
    assert X["release_year"].isna().sum() == 9  # rows of item 267, which has no date
    assert X.loc[X["item_id"] == 1, "genres"].iloc[0] == ["Animation", "Children's", "Comedy"]


# --------------------------------------------------------------------------
# load_sain_movielens

SAIN_HEADER = (
    "uid,iid,rating,u_age,u_gender,u_occupation,i_year,i_Action,i_Adventure,i_Animation,"
    "i_Children's,i_Comedy,i_Crime,i_Documentary ,i_Drama ,i_Fantasy ,i_Film-Noir ,i_Horror ,"
    "i_Musical ,i_Mystery ,i_Romance ,i_Sci-Fi ,i_Thriller ,i_War ,i_Western,i_Other,"
    "i_Actor,i_Director"
)


def _sain_row(uid, iid, rating, genres, actor, director):
    flags = ["1" if g in genres else "0" for g in range(19)]
    return ",".join(map(str, [uid, iid, rating, 3, 1, 20, 6, *flags, actor, director]))


SAIN_ROWS = {
    "train": [_sain_row(798, 832, 4, [4, 8, 9], 234, 548), _sain_row(868, 726, 2, [0], 3556, 1118)],
    "validation": [_sain_row(545, 144, 3, [1, 16], 24, 156)],
    "test": [_sain_row(933, 110, 1, [], 3556, 76), _sain_row(1, 1, 5, [18], 7, 1118)],
}


def _write_sain(folder, splits=("train", "validation", "test")):
    folder.mkdir(parents=True, exist_ok=True)
    for split in splits:
        rows = SAIN_ROWS[split]
        (folder / f"ml-100k-r.{split}.csv").write_text("\n".join([SAIN_HEADER, *rows]) + "\n")


def test_load_sain_movielens_values_and_ancestor_search(tmp_path):
    folder = tmp_path / "SAIN" / "dataset" / "ml-100k-r"
    _write_sain(folder)
    splits = load_sain_movielens(folder)
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = splits
    assert [len(X) for X, _ in splits] == [2, 1, 2]
    assert list(X_train.columns) == [
        "user_id", "item_id", "age", "gender", "occupation", "year", "genres", "actor", "director",
    ]  # fmt: skip
    for column in ["user_id", "item_id", "age", "gender", "occupation", "year"]:
        assert X_train[column].dtype == np.int64
    assert X_train["user_id"].tolist() == [798, 868] and X_train["item_id"].tolist() == [832, 726]
    assert X_train.iloc[0][["age", "gender", "occupation", "year"]].tolist() == [3, 1, 20, 6]
    # Flags are named by position in u.item order, not by the shifted header.
    assert X_train["genres"].tolist() == [["Children's", "Drama", "Fantasy"], ["unknown"]]
    assert X_val["genres"].tolist() == [["Action", "Thriller"]]
    assert X_test["genres"].tolist() == [[], ["Western"]]
    assert X_train["actor"].dtype == np.float64 and X_train["director"].dtype == np.float64
    np.testing.assert_array_equal(X_train["actor"], [234.0, np.nan])
    np.testing.assert_array_equal(X_test["director"], [76.0, np.nan])
    np.testing.assert_array_equal(y_train, [4.0, 2.0])
    assert y_val.dtype == np.float64 and y_test.tolist() == [1.0, 5.0]
    for ancestor in [tmp_path, tmp_path / "SAIN", str(tmp_path / "SAIN" / "dataset")]:
        again = load_sain_movielens(ancestor)
        for (X_a, y_a), (X_b, y_b) in zip(splits, again):
            pd.testing.assert_frame_equal(X_a, X_b)
            np.testing.assert_array_equal(y_a, y_b)


def test_load_sain_movielens_keep_unknown_codes(tmp_path):
    _write_sain(tmp_path)
    (X_train, _), _, (X_test, _) = load_sain_movielens(tmp_path, unknown_as_missing=False)
    assert X_train["actor"].dtype == np.int64
    assert X_train["actor"].tolist() == [234, 3556]
    assert X_test["director"].tolist() == [76, 1118]


def test_load_sain_movielens_prefers_shallowest_copy(tmp_path):
    _write_sain(tmp_path / "a" / "b" / "deep")
    _write_sain(tmp_path / "z")
    (tmp_path / "z" / "ml-100k-r.test.csv").write_text(SAIN_HEADER + "\n")
    *_, (X_test, _) = load_sain_movielens(tmp_path)
    assert len(X_test) == 0


def test_load_sain_movielens_not_found(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="ml-100k-r.train.csv") as info:
        load_sain_movielens(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(info.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_sain_movielens(tmp_path / "nowhere")


def test_load_sain_movielens_missing_split(tmp_path):
    _write_sain(tmp_path / "r", splits=("train", "test"))
    with pytest.raises(FileNotFoundError, match="validation"):
        load_sain_movielens(tmp_path)


def test_load_sain_movielens_bad_layout(tmp_path):
    _write_sain(tmp_path)
    bad = (tmp_path / "ml-100k-r.test.csv").read_text().replace("i_Actor", "i_Star")
    (tmp_path / "ml-100k-r.test.csv").write_text(bad)
    with pytest.raises(ValueError, match="i_Actor"):
        load_sain_movielens(tmp_path)


SAIN_REAL = SHARED / "sain_official"


@pytest.mark.skipif(not SAIN_REAL.is_dir(), reason="no local copy of the SAIN data")
def test_load_sain_movielens_real_files():
    splits = load_sain_movielens(SAIN_REAL.parent)
    assert [len(X) for X, _ in splits] == [80000, 10000, 10000]
    X_train, y_train = splits[0]
    assert X_train["user_id"].max() == 943 and X_train["item_id"].max() <= 1682
    assert set(np.unique(y_train)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert X_train.iloc[0][["user_id", "item_id", "age", "gender"]].tolist() == [798, 832, 5, 1]
    assert X_train["genres"][0] == ["Children's", "Drama", "Fantasy"]  # Bogus (1996)
    assert X_train["director"].isna().mean() == pytest.approx(0.22135)
    u_item = SAIN_REAL / "raw_data" / "ml-100k" / "u.item"
    if u_item.is_file():  # the positional genre names agree with u.item
        items = pd.read_csv(u_item, sep="|", header=None, encoding="latin-1")
        flags = items.set_index(0).iloc[:, 4:].to_numpy(bool)
        names = np.array(MOVIELENS_100K_GENRES, dtype=object)
        expected = {item: list(names[row]) for item, row in zip(items[0], flags)}
        for X, _ in splits:
            assert X["genres"].tolist() == [expected[i] for i in X["item_id"]]


# --------------------------------------------------------------------------
# load_yelp

YELP_FILES = {
    # user, business, rating; business 30 has no category and no city row
    "user_business.dat": [(1, 10, 5), (1, 20, 3), (2, 10, 4), (3, 30, 1), (2, 20, 2),
                          (3, 10, 5), (4, 20, 4), (4, 30, 3), (5, 10, 2), (5, 30, 1)],
    "user_compliment.dat": [(1, 3, 1), (1, 1, 1), (2, 2, 1), (4, 11, 1), (4, 2, 1), (4, 5, 1)],
    "business_category.dat": [(10, 7, 1), (10, 2, 1), (20, 5, 1)],
    "business_city.dat": [(10, 4, 1), (20, 9, 1)],
}  # fmt: skip


def _write_yelp(folder, skip=()):
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in YELP_FILES.items():
        if name not in skip:
            (folder / name).write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))


def test_load_yelp_values(tmp_path):
    _write_yelp(tmp_path / "Yelp")
    X, y = load_yelp(tmp_path / "Yelp")
    assert list(X.columns) == ["user_id", "item_id", "compliments", "categories", "city"]
    assert X.shape == (10, 5) and y.dtype == np.float64
    assert y.tolist() == [5, 3, 4, 1, 2, 5, 4, 3, 2, 1]
    assert X["user_id"].dtype == np.int64 and X["item_id"].dtype == np.int64
    assert X["user_id"].tolist() == [1, 1, 2, 3, 2, 3, 4, 4, 5, 5]
    assert X["compliments"].tolist()[:4] == [[1, 3], [1, 3], [2], []]
    assert X.loc[6, "compliments"] == [2, 5, 11]
    assert X["categories"].tolist()[:4] == [[2, 7], [5], [2, 7], []]
    assert X["city"].dtype == np.float64
    np.testing.assert_array_equal(X["city"][:4], [4.0, 9.0, 4.0, np.nan])
    # Cells are distinct list objects: changing one row leaves the others alone.
    X.loc[0, "compliments"].append(99)
    assert X.loc[1, "compliments"] == [1, 3]


def test_load_yelp_split_is_seeded_and_partitions_the_ratings(tmp_path):
    _write_yelp(tmp_path)
    X, y = load_yelp(tmp_path)
    splits = load_yelp(tmp_path, split=True, random_state=3)
    assert [len(Xs) for Xs, _ in splits] == [8, 1, 1]
    keys = [set(zip(Xs["user_id"], Xs["item_id"])) for Xs, _ in splits]
    assert set.union(*keys) == set(zip(X["user_id"], X["item_id"]))
    assert sum(len(k) for k in keys) == 10
    for Xs, ys in splits:
        assert list(Xs.index) == list(range(len(Xs)))
        full = dict(zip(zip(X["user_id"], X["item_id"]), y))
        assert [full[k] for k in zip(Xs["user_id"], Xs["item_id"])] == ys.tolist()
    again = load_yelp(tmp_path, split=True, random_state=3)
    other = load_yelp(tmp_path, split=True, random_state=4)
    pd.testing.assert_frame_equal(splits[0][0], again[0][0])
    order = lambda parts: [k for Xs, _ in parts for k in zip(Xs["user_id"], Xs["item_id"])]  # noqa: E731
    assert order(splits) == order(again) and order(splits) != order(other)
    train, validation, test = load_yelp(tmp_path, split=True, test_size=0.2, validation_size=0.3)
    assert [len(train[0]), len(validation[0]), len(test[0])] == [5, 3, 2]


def test_load_yelp_searches_below_and_reports_missing_files(tmp_path):
    _write_yelp(tmp_path / "data" / "hin-yelp")
    X, _ = load_yelp(tmp_path)
    assert len(X) == 10
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_yelp(tmp_path / "data" / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="HIN-Datasets"):
        load_yelp(tmp_path / "empty")
    _write_yelp(tmp_path / "partial", skip=("business_city.dat",))
    with pytest.raises(FileNotFoundError, match="business_city.dat"):
        load_yelp(tmp_path / "partial")


def test_load_yelp_rejects_bad_files_and_sizes(tmp_path):
    _write_yelp(tmp_path)
    (tmp_path / "user_business.dat").write_text("1\t10\n2\t20\n")
    with pytest.raises(ValueError, match="expected 3"):
        load_yelp(tmp_path)
    _write_yelp(tmp_path)
    with pytest.raises(ValueError, match="below 1"):
        load_yelp(tmp_path, split=True, test_size=0.5, validation_size=0.5)
    with pytest.raises(ValueError, match="test_size"):
        load_yelp(tmp_path, split=True, test_size=1.5)


YELP_REAL = SHARED / "hin-yelp"


@pytest.mark.skipif(not YELP_REAL.is_dir(), reason="no local copy of the Yelp data")
def test_load_yelp_real_files():
    X, y = load_yelp(YELP_REAL)
    assert X.shape == (198397, 5)
    assert X["user_id"].nunique() == 16239 and X["item_id"].nunique() == 14284
    assert np.bincount(y.astype(int)).tolist() == [0, 10696, 17715, 35810, 75918, 58258]
    assert X["compliments"].map(len).max() == 11 and X["categories"].map(len).max() == 10
    assert X["city"].nunique() == 47
    splits = load_yelp(YELP_REAL, split=True)
    assert [len(Xs) for Xs, _ in splits] == [158717, 19840, 19840]

"""SAINEncoder: token layout, vocabularies, role inference, validation, sklearn API."""

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import config_context
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_sain._encoding.encoder import SAINEncoder


@pytest.fixture
def ratings():
    return pd.DataFrame(
        {
            "user_id": ["ann", "bob", "ann", "cy"],
            "item_id": [10, 10, 20, 30],
            "age": [31, 45, 31, 27],
            "genres": ["Drama|Comedy", "Drama|Comedy", "Action", None],
        }
    )


def ids(frame):
    return frame.to_numpy().tolist()


# ---------------------------------------------------------------- layout


def test_exact_ids_on_a_tiny_frame(ratings):
    out = SAINEncoder().fit_transform(ratings)

    assert list(out.columns) == [
        "user:user_id",
        "item:item_id",
        "user:age[0]",
        "item:genres[0]",
        "item:genres[1]",
    ]
    # ids: ann=2 bob=3 cy=4; items 10=2 20=3 30=4; ages 27=2 31=3 45=4;
    # genres Action=2 Comedy=3 Drama=4, cell order kept, missing -> padding.
    assert ids(out) == [
        [2, 2, 3, 4, 3],
        [3, 2, 4, 4, 3],
        [2, 3, 3, 2, 0],
        [4, 4, 2, 0, 0],
    ]
    assert (out.dtypes == np.int32).all()
    assert out.index.equals(ratings.index)


def test_fitted_attributes(ratings):
    enc = SAINEncoder().fit(ratings)

    assert (enc.user_col_, enc.item_col_) == ("user_id", "item_id")
    assert (enc.user_features_, enc.item_features_) == (["age"], ["genres"])
    assert enc.multi_valued_ == {
        "user_id": False,
        "item_id": False,
        "age": False,
        "genres": True,
    }
    assert enc.field_widths_ == {"user_id": 1, "item_id": 1, "age": 1, "genres": 2}
    assert enc.vocabularies_["genres"].tolist() == ["Action", "Comedy", "Drama"]
    assert enc.vocabularies_["item_id"].tolist() == [10, 20, 30]
    assert enc.vocabulary_sizes_ == {
        "user:user_id": 5,
        "item:item_id": 5,
        "user:age": 5,
        "item:genres": 5,
    }
    assert enc.n_features_in_ == 4
    assert enc.feature_names_in_.tolist() == ["user_id", "item_id", "age", "genres"]


def test_attrs_carry_vocabulary_sizes(ratings):
    enc = SAINEncoder().fit(ratings)
    out = enc.transform(ratings)

    assert out.attrs["sklearn_sain"] == {"vocabulary_sizes": enc.vocabulary_sizes_}
    for key, size in enc.vocabulary_sizes_.items():
        assert size == len(enc.vocabularies_[key.split(":", 1)[1]]) + 2


def test_get_feature_names_out_matches_columns(ratings):
    enc = SAINEncoder().fit(ratings)

    names = enc.get_feature_names_out()
    assert names.dtype == object
    assert names.tolist() == enc.transform(ratings).columns.tolist()
    assert enc.get_feature_names_out(list(ratings.columns)).tolist() == names.tolist()
    with pytest.raises(ValueError, match="input_features is not equal"):
        enc.get_feature_names_out(["a", "b", "c", "d"])


def test_fit_transform_equals_fit_then_transform(ratings):
    enc = SAINEncoder()
    assert enc.fit_transform(ratings).equals(clone(enc).fit(ratings).transform(ratings))


def test_index_is_kept_for_frames_and_ranged_for_arrays(ratings):
    framed = ratings.set_index(pd.Index(list("wxyz")))
    enc = SAINEncoder().fit(framed)
    assert enc.transform(framed).index.tolist() == list("wxyz")

    out = SAINEncoder().fit_transform(ratings.to_numpy())
    assert isinstance(out.index, pd.RangeIndex) and len(out) == 4


# ---------------------------------------------------------------- cells


@pytest.mark.parametrize(
    "cells",
    [
        [["b", "a"], ["c"], ["a", "c", "b"]],
        [("b", "a"), ("c",), ("a", "c", "b")],
        [np.array(["b", "a"]), np.array(["c"]), np.array(["a", "c", "b"])],
        ["b|a", "c", "a|c|b"],
        [" b | a ", "c ", "a|c||b"],
        [["b", "a", "b"], ["c"], ["a", " c", "b", "a"]],
    ],
    ids=["lists", "tuples", "arrays", "delimited", "spaces", "repeats"],
)
def test_list_like_cells(cells):
    X = pd.DataFrame({"u": [1, 2, 3], "i": [1, 2, 3], "tags": cells})
    enc = SAINEncoder(user_col="u", item_col="i", user_features=[])
    out = enc.fit_transform(X)

    assert enc.vocabularies_["tags"].tolist() == ["a", "b", "c"]
    assert enc.multi_valued_["tags"]
    assert ids(out[["item:tags[0]", "item:tags[1]", "item:tags[2]"]]) == [
        [3, 2, 0],
        [4, 0, 0],
        [2, 4, 3],
    ]


def test_set_cells_keep_every_value_once():
    X = pd.DataFrame({"u": [1, 2], "i": [1, 2], "tags": [{"x", "y"}, {"y"}]})
    enc = SAINEncoder(user_col="u", item_col="i", user_features=[])
    out = enc.fit_transform(X)

    assert sorted(out.iloc[0, 2:].tolist()) == [2, 3]
    assert out.iloc[1, 2:].tolist() == [3, 0]


def test_mixed_list_and_delimited_cells():
    X = pd.DataFrame(
        {"u": [1, 2, 3, 4], "i": [1, 2, 3, 4], "tags": ["p|q", ["q", "r|s"], None, "r "]}
    )
    enc = SAINEncoder(user_col="u", item_col="i", user_features=[])
    out = enc.fit_transform(X)

    # Strings inside lists are tokens as they are: "r|s" is not split.
    assert enc.vocabularies_["tags"].tolist() == ["p", "q", "r", "r|s"]
    assert ids(out.iloc[:, 2:]) == [[2, 3], [3, 5], [0, 0], [4, 0]]


def test_custom_sep_and_no_sep():
    X = pd.DataFrame({"u": [1, 2], "i": [1, 2], "tags": ["a;b", "a|b"]})
    enc = SAINEncoder(user_col="u", item_col="i", user_features=[], sep=";")
    enc.fit(X)
    assert enc.vocabularies_["tags"].tolist() == ["a", "a|b", "b"]

    enc = SAINEncoder(user_col="u", item_col="i", user_features=[], sep=None)
    out = enc.fit_transform(X)
    assert not enc.multi_valued_["tags"]
    assert enc.field_widths_["tags"] == 1
    assert out["item:tags[0]"].tolist() == [2, 3]


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA, "", "   ", []])
def test_missing_feature_cells_are_padding(missing):
    X = pd.DataFrame(
        {"u": [1, 2, 3], "i": [1, 2, 3], "f": pd.Series(["a", missing, ["b"]], dtype=object)}
    )
    out = SAINEncoder(user_col="u", item_col="i", user_features=["f"]).fit_transform(X)

    assert out.iloc[1, 2:].tolist() == [0]
    assert out.iloc[:, 2].tolist() == [2, 0, 3]


def test_numeric_feature_with_nan_and_float_lookup():
    X = pd.DataFrame({"u": [1, 2, 3], "i": [1, 1, 1], "f": [1.0, np.nan, 3.0]})
    enc = SAINEncoder(user_col="u", item_col="i", user_features=["f"]).fit(X)
    assert enc.transform(X)["user:f[0]"].tolist() == [2, 0, 3]

    # The same categories arriving as ints at transform time still match.
    X_int = X.assign(f=[3, 1, 7])
    assert enc.transform(X_int)["user:f[0]"].tolist() == [3, 2, 1]


def test_unseen_users_items_and_values_are_unknown(ratings):
    enc = SAINEncoder().fit(ratings)
    new = pd.DataFrame(
        {
            "user_id": ["zed", "ann"],
            "item_id": [99, 10],
            "age": [80, 31],
            "genres": ["Horror|Drama", "Western"],
        }
    )
    assert ids(enc.transform(new)) == [[1, 1, 1, 1, 4], [2, 2, 3, 1, 0]]


def test_min_frequency_sends_rare_values_to_unknown():
    X = pd.DataFrame(
        {
            "u": [1, 2, 3, 4],
            "i": [1, 1, 2, 2],
            "tags": [["a", "b"], ["a", "a"], ["a", "c"], ["b"]],
        }
    )
    enc = SAINEncoder(user_col="u", item_col="i", user_features=[], min_frequency=2)
    out = enc.fit_transform(X)

    # "a" is in three rows (repeats in a cell count once), "b" in two, "c" in one.
    assert enc.vocabularies_["tags"].tolist() == ["a", "b"]
    assert ids(out.iloc[:, 2:]) == [[2, 3], [2, 0], [2, 1], [3, 0]]
    # Ids are never dropped, however rare.
    assert enc.vocabularies_["u"].tolist() == [1, 2, 3, 4]


def test_max_values_caps_width_and_truncates():
    X = pd.DataFrame({"u": [1, 2], "i": [1, 2], "tags": ["a|b|c", "d"]})
    enc = SAINEncoder(user_col="u", item_col="i", user_features=[], max_values=2)
    out = enc.fit_transform(X)

    assert enc.field_widths_["tags"] == 2
    # "c" only ever sits past the cap, so it never becomes a known value.
    assert enc.vocabularies_["tags"].tolist() == ["a", "b", "d"]
    assert ids(out.iloc[:, 2:]) == [[2, 3], [4, 0]]
    longer = pd.DataFrame({"u": [1], "i": [1], "tags": ["d|a|b|c"]})
    assert ids(enc.transform(longer).iloc[:, 2:]) == [[4, 2]]


def test_width_comes_from_training_cells():
    X = pd.DataFrame({"u": [1, 2], "i": [1, 2], "tags": [["a"], ["b", "a"]]})
    enc = SAINEncoder(user_col="u", item_col="i", user_features=[]).fit(X)
    wide = pd.DataFrame({"u": [1], "i": [1], "tags": [["b", "x", "a"]]})
    assert ids(enc.transform(wide).iloc[:, 2:]) == [[3, 1]]


def test_mixed_int_and_str_values_keep_first_appearance_order():
    X = pd.DataFrame({"u": ["b", 1, "a", 1], "i": [1, 2, 3, 4]})
    enc = SAINEncoder(user_col="u", item_col="i").fit(X)

    assert enc.vocabularies_["u"].tolist() == ["b", 1, "a"]
    assert enc.transform(X)["user:u"].tolist() == [2, 3, 4, 3]
    unseen = pd.DataFrame({"u": ["1", 2], "i": [1, 2]})
    assert enc.transform(unseen)["user:u"].tolist() == [1, 1]


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["x", "y", "x"], dtype="str"),
        pd.Series(["x", "y", "x"], dtype="category"),
        pd.Series(["x", "y", "x"], dtype=object),
    ],
    ids=["str", "category", "object"],
)
def test_pandas_string_dtypes(column):
    X = pd.DataFrame({"u": [1, 2, 3], "i": [1, 2, 3], "f": column})
    out = SAINEncoder(user_col="u", item_col="i").fit_transform(X)
    assert out["user:f[0]"].tolist() == [2, 3, 2]


def test_nullable_and_bool_columns():
    X = pd.DataFrame(
        {
            "u": [1, 2, 3],
            "i": [1, 2, 3],
            "n": pd.array([5, None, 5], dtype="Int64"),
            "b": [True, False, True],
        }
    )
    out = SAINEncoder(user_col="u", item_col="i").fit_transform(X)
    assert ids(out.iloc[:, 2:]) == [[2, 3], [0, 2], [2, 3]]


def test_transform_does_not_modify_input():
    X = pd.DataFrame({"u": [1, 2], "i": [1, 2], "tags": [[" a ", "b"], " c|d "]})
    before = X.copy(deep=True)
    enc = SAINEncoder(user_col="u", item_col="i", user_features=[])
    enc.fit_transform(X)
    enc.transform(X)
    pd.testing.assert_frame_equal(X, before)


# ---------------------------------------------------------------- roles


def test_roles_are_inferred():
    X = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2],
            "item_id": [7, 8, 7, 8],
            "country": ["fr", "fr", "de", "de"],
            "genre": [["a"], ["b"], ["a"], ["b"]],
            "constant": [0, 0, 0, 0],
        }
    )
    enc = SAINEncoder().fit(X)
    # A column constant for users and for items is a user feature.
    assert enc.user_features_ == ["country", "constant"]
    assert enc.item_features_ == ["genre"]


def test_inference_compares_cells_as_sets():
    X = pd.DataFrame(
        {"user_id": [1, 1, 2], "item_id": [7, 8, 7], "tags": ["a|b", ["b", "a"], "c"]}
    )
    assert SAINEncoder().fit(X).user_features_ == ["tags"]


def test_column_varying_within_users_and_items_is_context_on_the_item_side():
    X = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [7, 8, 7, 8], "hour": [1, 2, 3, 4],
                      "age": [30, 30, 40, 40], "genre": ["a", "b", "a", "b"]})
    enc = SAINEncoder().fit(X)
    assert enc.user_features_ == ["age"]
    assert enc.item_features_ == ["genre", "hour"] and enc.context_features_ == ["hour"]
    out = enc.transform(X)
    assert list(out.columns) == ["user:user_id", "item:item_id", "user:age[0]",
                                 "item:genre[0]", "item:hour[0]"]
    assert out["item:hour[0]"].tolist() == [2, 3, 4, 5]  # one token per row, as it varies
    # explicit roles still win, and list no context
    enc = SAINEncoder(user_features=["hour"]).fit(X)
    assert (enc.user_features_, enc.context_features_) == (["hour"], [])
    enc = SAINEncoder(user_features=[], item_features=[]).fit(X)
    assert (enc.user_features_, enc.item_features_, enc.context_features_) == ([], [], [])


def test_regressor_fits_and_predicts_with_a_context_column():
    rng = np.random.RandomState(0)
    n = 400
    users, items = rng.randint(0, 20, n), rng.randint(0, 15, n)
    hour = rng.randint(0, 4, n)
    X = pd.DataFrame({"user_id": users, "item_id": items, "hour": hour})
    y = 3.0 + (hour >= 2) + rng.normal(0, 0.1, n)  # the context carries the signal
    from sklearn_sain import SAINRegressor

    model = SAINRegressor(max_epochs=15, device="cpu", random_state=0, learning_rate=3e-3,
                          embed_dim=8, feature_dim=4).fit(X, y)
    assert model.encoder_.context_features_ == ["hour"]
    late, early = X.assign(hour=3), X.assign(hour=0)
    assert model.predict(late).mean() > model.predict(early).mean() + 0.2  # 0 if ignored


def test_one_list_given_sends_the_rest_to_the_other_role(ratings):
    enc = SAINEncoder(user_features=["genres"]).fit(ratings)
    assert (enc.user_features_, enc.item_features_) == (["genres"], ["age"])

    enc = SAINEncoder(item_features=["age", "genres"]).fit(ratings)
    assert (enc.user_features_, enc.item_features_) == ([], ["age", "genres"])
    assert enc.get_feature_names_out().tolist() == [
        "user:user_id",
        "item:item_id",
        "item:age[0]",
        "item:genres[0]",
        "item:genres[1]",
    ]


def test_both_lists_given_drop_other_columns(ratings):
    enc = SAINEncoder(user_features=[], item_features=["genres"]).fit(ratings)
    assert "age" not in enc.vocabularies_
    assert enc.transform(ratings).columns.tolist() == [
        "user:user_id",
        "item:item_id",
        "item:genres[0]",
        "item:genres[1]",
    ]
    # A dropped column is not inspected, even if it holds unsupported values.
    bad = ratings.assign(age=[{}, {}, {}, {}])
    enc.fit(bad)


def test_only_ids():
    X = pd.DataFrame({"user_id": [1, 2], "item_id": [3, 4]})
    out = SAINEncoder().fit_transform(X)
    assert out.columns.tolist() == ["user:user_id", "item:item_id"]


# ---------------------------------------------------------------- input kinds


def test_ndarray_input_is_positional():
    X = np.array([["ann", 10, "a|b"], ["bob", 20, "b"]], dtype=object)
    enc = SAINEncoder().fit(X)

    assert (enc.user_col_, enc.item_col_) == ("x0", "x1")
    assert not hasattr(enc, "feature_names_in_")
    assert enc.get_feature_names_out().tolist() == [
        "user:x0",
        "item:x1",
        "user:x2[0]",
        "user:x2[1]",
    ]
    assert ids(enc.transform(X)) == [[2, 2, 2, 3], [3, 3, 3, 0]]


def test_list_of_rows_with_list_cells():
    X = [[1, "a", ["x", "y"]], [2, "b", ["y"]]]
    out = SAINEncoder().fit_transform(X)
    assert ids(out) == [[2, 2, 2, 3], [3, 3, 3, 0]]


def test_int_columns_are_positions(ratings):
    X = ratings[["age", "item_id", "user_id", "genres"]]
    enc = SAINEncoder(user_col=2, item_col=1, user_features=[0], item_features=[-1]).fit(X)
    assert (enc.user_col_, enc.item_col_) == ("user_id", "item_id")
    assert (enc.user_features_, enc.item_features_) == (["age"], ["genres"])
    expected = SAINEncoder().fit_transform(ratings)
    assert enc.transform(X).to_numpy().tolist() == expected.to_numpy().tolist()


def test_frame_with_int_labels_is_read_positionally():
    X = pd.DataFrame([[1, 5, "a"], [2, 6, "b"]])
    enc = SAINEncoder().fit(X)
    assert (enc.user_col_, enc.item_col_, enc.user_features_) == ("x0", "x1", ["x2"])


# ---------------------------------------------------------------- decode


def test_decode_round_trip(ratings):
    enc = SAINEncoder().fit(ratings)
    out = enc.transform(ratings)

    assert enc.decode("user_id", out["user:user_id"]) == ["ann", "bob", "ann", "cy"]
    assert enc.decode("item:item_id", out["item:item_id"]) == [10, 10, 20, 30]
    assert enc.decode("item:genres[0]", out["item:genres[0]"]) == [
        "Drama",
        "Drama",
        "Action",
        "<pad>",
    ]
    assert enc.decode("genres", [1, 0]) == ["<unk>", "<pad>"]
    with pytest.raises(ValueError, match="must be ints in \\[0, 5\\)"):
        enc.decode("genres", [5])
    with pytest.raises(ValueError, match="Unknown field 'nope'"):
        enc.decode("nope", [2])


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "params, match",
    [
        ({"user_col": "who"}, "user_col: unknown column.*'who'"),
        ({"item_col": 9}, "item_col: column position 9 is out of range"),
        ({"user_features": ["nope", "age"]}, r"user_features: unknown column\(s\) \['nope'\]"),
        ({"item_features": ["zip"]}, "item_features.*'zip'"),
        ({"user_features": ["age"], "item_features": ["age"]}, "'age'.*both"),
        ({"user_features": ["item_id"]}, "'item_id' is the id column item_col"),
        ({"item_features": ["age", "age"]}, "'age'.*more than once"),
        ({"user_col": "item_id"}, "both refer to column 'item_id'"),
    ],
)
def test_column_errors_name_the_column(ratings, params, match):
    with pytest.raises(ValueError, match=match):
        SAINEncoder(**params).fit(ratings)


@pytest.mark.parametrize(
    "params",
    [
        {"user_col": 1.5},
        {"item_col": None},
        {"user_features": "age"},
        {"item_features": [1.5]},
        {"sep": ""},
        {"sep": 3},
        {"min_frequency": 0},
        {"min_frequency": 1.0},
        {"min_frequency": True},
        {"max_values": 0},
        {"max_values": "2"},
    ],
)
def test_invalid_params_raise_naming_the_param(ratings, params):
    (name,) = params
    enc = SAINEncoder(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=name):
        enc.fit(ratings)


def test_unsupported_cells_raise_type_error():
    X = pd.DataFrame({"u": [1, 2, 3, 4], "i": [1, 2, 3, 4], "genres": ["a", "b", "c", {"k": 1}]})
    message = r"Column 'genres', row 3: .*dict.*argument must be a string or a number"
    with pytest.raises(TypeError, match=message):
        SAINEncoder(user_col="u", item_col="i").fit(X)

    X["genres"] = [["a"], ["b", ["c"]], [], []]
    with pytest.raises(TypeError, match=r"Column 'genres', row 1: .*list inside a list-like"):
        SAINEncoder(user_col="u", item_col="i").fit(X)

    X["genres"] = ["a", ("b", ("c",)), "d", "e"]
    with pytest.raises(TypeError, match=r"row 1: .*tuple inside"):
        SAINEncoder(user_col="u", item_col="i").fit(X)

    X["genres"] = ["a", object(), "d", "e"]
    with pytest.raises(TypeError, match="row 1: .*object"):
        SAINEncoder(user_col="u", item_col="i").fit(X)


def test_row_in_messages_is_the_index_label():
    X = pd.DataFrame({"u": [1, 2], "i": [1, 2], "f": ["a", {}]}, index=[100, 200])
    with pytest.raises(TypeError, match="row 200"):
        SAINEncoder(user_col="u", item_col="i").fit(X)


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA, ""])
@pytest.mark.parametrize("column", ["user_id", "item_id"])
def test_missing_ids_raise(ratings, missing, column):
    X = ratings.astype({column: object})
    X.loc[2, column] = missing
    with pytest.raises(ValueError, match=f"Column '{column}'.*missing value.*NaN.*row 2"):
        SAINEncoder().fit(X)

    enc = SAINEncoder().fit(ratings)
    with pytest.raises(ValueError, match=f"Column '{column}'.*row 2"):
        enc.transform(X)


def test_list_and_infinite_ids_raise():
    X = pd.DataFrame({"u": [1, [2]], "i": [1, 2]})
    with pytest.raises(TypeError, match="Column 'u', row 1: .*list"):
        SAINEncoder(user_col="u", item_col="i").fit(X)
    X = pd.DataFrame({"u": [1.0, np.inf], "i": [1, 2]})
    with pytest.raises(ValueError, match="Column 'u'.*infinite.*row 1"):
        SAINEncoder(user_col="u", item_col="i").fit(X)


def test_complex_data_raises():
    with pytest.raises(ValueError, match="Complex data not supported"):
        SAINEncoder().fit(np.ones((3, 3), dtype=complex))
    X = pd.DataFrame({"u": [1, 2], "i": [1, 2], "f": [1 + 2j, "a"]})
    with pytest.raises(ValueError, match="Complex data not supported.*'f'"):
        SAINEncoder(user_col="u", item_col="i").fit(X)


@pytest.mark.parametrize(
    "X, error, match",
    [
        (sp.csr_matrix(np.ones((3, 3))), TypeError, "[Ss]parse"),
        (np.ones(3), ValueError, "Expected 2D array, got 1D array instead"),
        (
            np.ones((0, 3)),
            ValueError,
            r"Found array with 0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 1 is required",
        ),
        (
            np.ones((3, 0)),
            ValueError,
            r"0 feature\(s\) \(shape=\(3, 0\)\) while a minimum of 1 is required",
        ),
        (np.ones((3, 1)), ValueError, r"1 feature\(s\).*user id column and an item id column"),
        (np.ones((2, 2, 2)), ValueError, "dim 3"),
        (
            pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"]),
            ValueError,
            r"duplicate column names \['a'\]",
        ),
        ([[1, 2], [3]], ValueError, "same length"),
    ],
)
def test_bad_input_shapes(X, error, match):
    with pytest.raises(error, match=match):
        SAINEncoder().fit(X)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_transform_checks_columns(ratings):
    enc = SAINEncoder().fit(ratings)
    with pytest.raises(ValueError, match="missing:\n- genres"):
        enc.transform(ratings.drop(columns="genres"))
    with pytest.raises(ValueError, match="X has 3 features, but SAINEncoder is expecting 4"):
        enc.transform(ratings.to_numpy()[:, :3])
    with pytest.raises(ValueError, match="Reshape your data"):
        enc.transform(ratings.to_numpy()[0])
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        enc.transform(ratings.to_numpy())


def test_unfitted():
    enc = SAINEncoder()
    calls = [
        lambda: enc.transform([[1, 2]]),
        enc.get_feature_names_out,
        lambda: enc.decode("x0", [0]),
    ]
    for call in calls:
        with pytest.raises(NotFittedError):
            call()


# ---------------------------------------------------------------- sklearn API


def test_clone_get_params_and_pipeline(ratings):
    enc = SAINEncoder(user_features=["age"], sep=";", min_frequency=2, max_values=3)
    params = enc.get_params()
    assert params == {
        "user_col": "user_id",
        "item_col": "item_id",
        "user_features": ["age"],
        "item_features": None,
        "sep": ";",
        "min_frequency": 2,
        "min_ids": 1,
        "max_values": 3,
    }
    assert clone(enc).get_params() == params

    pipe = make_pipeline(SAINEncoder(), FunctionTransformer(lambda frame: frame.to_numpy()))
    assert pipe.fit_transform(ratings).tolist() == ids(SAINEncoder().fit_transform(ratings))
    pipe.set_params(sainencoder__sep=None)
    assert pipe.fit(ratings)[0].field_widths_["genres"] == 1


def test_pickle_round_trip(ratings):
    enc = SAINEncoder().fit(ratings)
    restored = pickle.loads(pickle.dumps(enc))
    pd.testing.assert_frame_equal(restored.transform(ratings), enc.transform(ratings))
    assert restored.decode("genres", [2]) == ["Action"]


def test_set_output_pandas(ratings):
    enc = SAINEncoder().set_output(transform="pandas")
    out = enc.fit_transform(ratings)
    pd.testing.assert_frame_equal(out, SAINEncoder().fit_transform(ratings))
    assert out.attrs["sklearn_sain"]["vocabulary_sizes"]["item:genres"] == 5

    with config_context(transform_output="pandas"):
        out = SAINEncoder().fit(ratings).transform(ratings)
    assert out.columns.tolist()[:2] == ["user:user_id", "item:item_id"]


def test_default_output_is_a_dataframe():
    out = SAINEncoder().set_output(transform="default").fit_transform(np.ones((3, 2)))
    assert isinstance(out, pd.DataFrame)


@pytest.mark.filterwarnings("ignore:Cannot infer the role")
@parametrize_with_checks([SAINEncoder(user_col=0, item_col=1, user_features=[])])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- properties

_tokens = st.sampled_from(["a", "b", "c", "d", 1, 2])
_cells = st.one_of(st.none(), _tokens, st.lists(_tokens, max_size=4))


@settings(max_examples=60, deadline=None)
@given(
    cells=st.lists(_cells, min_size=1, max_size=12),
    max_values=st.one_of(st.none(), st.integers(1, 3)),
)
def test_rows_decode_to_their_unique_values(cells, max_values):
    n = len(cells)
    X = pd.DataFrame(
        {"u": range(n), "i": [0] * n, "f": pd.Series(cells, dtype=object)}
    )
    enc = SAINEncoder(user_col="u", item_col="i", user_features=[], max_values=max_values)
    out = enc.fit_transform(X)
    assert out.equals(enc.transform(X))
    assert out.iloc[::-1].reset_index(drop=True).equals(
        enc.transform(X.iloc[::-1].reset_index(drop=True))
    )

    width = enc.field_widths_["f"]
    for row, cell in enumerate(cells):
        values = cell if isinstance(cell, list) else ([] if cell is None else [cell])
        expected = list(dict.fromkeys(values))[: min(width, max_values or width)]
        decoded = enc.decode("f", out.iloc[row, 2:].to_numpy())
        assert [t for t in decoded if t != "<pad>"] == expected


def test_set_cells_encode_alike_in_every_process():
    """A set's iteration order follows string hashing, which PYTHONHASHSEED changes."""
    import subprocess
    import sys

    script = (
        "import pandas as pd\n"
        "from sklearn_sain import SAINEncoder\n"
        "X = pd.DataFrame({'user_id': [1, 2, 3], 'item_id': [1, 2, 3], 'genres': pd.Series(\n"
        "    [{'Drama', 'Action', 'Comedy', 'War'}, frozenset({'War', 'Horror', 'Drama'}),\n"
        "     {'Action', 'Film-Noir', 'Musical', 'Western', 'Sci-Fi'}], dtype=object)})\n"
        "encoder = SAINEncoder(item_features=['genres'])\n"
        "print(encoder.fit_transform(X).to_csv(), list(encoder.vocabularies_['genres']))\n"
    )
    outputs = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                       env={**__import__("os").environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_min_ids_maps_values_of_too_few_users_or_items_to_unknown():
    X = pd.DataFrame({
        "user_id": [1, 1, 2, 3, 3, 4],
        "item_id": [10, 11, 10, 12, 13, 11],
        "occupation": ["a", "a", "b", "c", "c", "b"],  # a: user 1 only, c: user 3 only
        "director": ["x", "y", "x", "z", "z", "y"],  # x, y: one item each (10, 11); z: 12, 13
        "actor": [["p", "q"], ["p"], ["p", "q"], ["r"], ["s"], ["p"]],
    })
    encoder = SAINEncoder(user_features=["occupation"], item_features=["director", "actor"],
                          min_ids=2).fit(X)
    # counted in distinct users for a user feature, in distinct items for an item feature
    assert list(encoder.vocabularies_["occupation"]) == ["b"]
    assert list(encoder.vocabularies_["director"]) == ["z"]  # two rows of item 10 are one item
    assert list(encoder.vocabularies_["actor"]) == ["p"]  # q: item 10 only; r, s: one item each
    encoded = encoder.transform(X)
    assert encoded["user:occupation[0]"].tolist() == [1, 1, 2, 1, 1, 2]  # 1 = unknown
    assert SAINEncoder(item_features=["director"], user_features=[], min_ids=3).fit(X) \
        .vocabularies_["director"].empty
    with pytest.raises(ValueError, match="min_ids"):
        SAINEncoder(min_ids=0).fit(X)


def test_ids_given_as_another_type_than_in_fit_warn_naming_the_column():
    X = pd.DataFrame({"user_id": [1, 2, 3, 1], "item_id": [10, 20, 10, 30],
                      "genre": ["a", "b", "a", "c"]})
    encoder = SAINEncoder().fit(X)
    with pytest.warns(UserWarning, match=r"Column 'user_id' holds string values where fit saw "
                                         r"integer ones: 100% of its distinct values are unseen"):
        encoded = encoder.transform(X.assign(user_id=X["user_id"].astype(str)))
    assert (encoded.iloc[:, 0] == 1).all()  # every row is a new user, as the warning says


def test_a_feature_column_of_another_type_warns_too():
    X = pd.DataFrame({"user_id": [1, 2, 3, 1], "item_id": [10, 20, 10, 30],
                      "year": [1990, 1991, 1990, 1995]})
    encoder = SAINEncoder(user_features=[], item_features=["year"]).fit(X)
    with pytest.warns(UserWarning, match="Column 'year' holds string values"):
        encoder.transform(X.assign(year=X["year"].astype(str)))


def test_new_ids_of_the_same_type_do_not_warn():
    X = pd.DataFrame({"user_id": [1, 2, 3, 1], "item_id": [10, 20, 10, 30]})
    encoder = SAINEncoder().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoder.transform(X.assign(user_id=X["user_id"] + 100))  # all new, same type
        encoder.transform(X.assign(user_id=X["user_id"].astype(float)))  # 1.0 matches 1


@pytest.mark.parametrize("params, match", [
    ({"max_values": True}, "'max_values' parameter of SAINEncoder must be an int in the range "
                           "[1, inf) or None. Got True instead"),
    ({"min_ids": 0}, "'min_ids' parameter of SAINEncoder must be an int in the range [1, inf)"),
    ({"min_frequency": 1.5}, "'min_frequency' parameter of SAINEncoder"),
    ({"user_col": 1.5}, "'user_col' parameter of SAINEncoder"),
    ({"user_features": "age"}, "'user_features' parameter of SAINEncoder"),
    ({"user_features": ["age", 1.5]}, "'user_features' parameter of SAINEncoder must be None or "
                                      "a list of column names"),
    ({"sep": ""}, "'sep' parameter of SAINEncoder must be a non-empty str or None"),
])  # fmt: skip
def test_invalid_parameters_raise_the_one_error_type_of_both_estimators(params, match):
    from sklearn.utils._param_validation import InvalidParameterError

    from sklearn_sain import SAINRegressor

    X = pd.DataFrame({"user_id": [1, 2], "item_id": [3, 4], "age": [20, 30]})
    for fit in (lambda e: e.fit(X), lambda e: e.fit_transform(X)):
        with pytest.raises(InvalidParameterError, match=re.escape(match)) as raised:
            fit(SAINEncoder(**params))
        # a ValueError and a TypeError, as scikit-learn's own parameter errors
        assert isinstance(raised.value, ValueError) and isinstance(raised.value, TypeError)
    with pytest.raises(InvalidParameterError, match="'max_epochs' parameter of SAINRegressor"):
        SAINRegressor(max_epochs=True).fit(X, [1.0, 2.0])

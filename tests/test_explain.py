"""Explanations (SAINRegressor.explain) and their figures (sklearn_sain.plotting)."""

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from sklearn_sain import Explanation, SAINEncoder, SAINRegressor

FAST = dict(max_epochs=2, device="cpu", random_state=0, embed_dim=8, feature_dim=4,
            batch_size=32)
TOP_K = 3


@pytest.fixture(scope="module")
def data(small_ratings):
    return small_ratings


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    # every value kept (min_ids=1), so that each token is named after its value
    return SAINRegressor(**FAST, top_k=TOP_K, encoder=SAINEncoder()).fit(X, y)


@pytest.fixture(scope="module")
def explained(model, data):
    X, _ = data
    return model.explain(X.head(6))


def row_tokens(X, r):
    """The token names a raw row of make_ratings data should produce."""
    row = X.iloc[r]
    names = [f"{c}={row[c]}" for c in ("age", "gender", "occupation")]
    names += [f"genres={g}" for g in sorted(row["genres"])]
    names += [f"year={row['year']}", f"director={row['director']}"]
    return names


def test_returns_the_documented_tables(explained):
    assert isinstance(explained, Explanation)
    assert list(explained.attention.columns) == [
        "row", "head", "query_pos", "query", "query_side", "key_pos", "key", "key_side",
        "weight", "kept"]
    assert list(explained.integration.columns) == [
        "row", "user", "item", "prediction", "alpha_user", "alpha_item"]
    assert explained.n_heads == 2 and explained.top_k == TOP_K
    assert sorted(explained.attention["head"].unique()) == [0, 1]
    assert list(explained.integration["row"]) == list(range(6))


def test_tokens_are_named_after_their_values_without_padding(explained, data):
    X, _ = data
    attention = explained.attention
    assert not attention["query"].str.contains("<pad>").any()
    for r in range(6):
        queries = attention[(attention["row"] == r) & (attention["head"] == 0)]
        names = queries.drop_duplicates("query_pos").sort_values("query_pos")["query"]
        expected = row_tokens(X, r)
        # genres keep cell order; compare the set, and the user tokens come first
        assert sorted(names) == sorted(expected)
        assert list(names[:3]) == expected[:3]
        n_tokens = len(expected)
        assert len(queries) == n_tokens**2  # every valid query x every valid key
        sides = queries.drop_duplicates("query_pos")["query_side"]
        assert list(sides) == ["user"] * 3 + ["item"] * (n_tokens - 3)


def test_weights_sum_to_one_over_the_kept_keys(explained):
    attention = explained.attention
    groups = attention.groupby(["row", "head", "query_pos"])
    kept_sum = attention[attention["kept"]].groupby(["row", "head", "query_pos"])["weight"].sum()
    np.testing.assert_allclose(kept_sum, 1.0, rtol=1e-5)
    assert (attention.loc[~attention["kept"], "weight"] == 0).all()
    assert ((attention["weight"] >= 0) & (attention["weight"] <= 1)).all()
    # exactly top_k keys kept per query, since every row has more valid keys than that
    counts = groups["kept"].sum()
    tokens = groups.size()
    assert (tokens > TOP_K).all()
    assert (counts == TOP_K).all()


def test_kept_keys_are_the_highest_weighted(explained):
    for _, keys in explained.attention.groupby(["row", "head", "query_pos"]):
        kept, dropped = keys.loc[keys["kept"], "weight"], keys.loc[~keys["kept"], "weight"]
        assert kept.min() >= dropped.max()


def test_without_top_k_every_valid_key_is_kept(data):
    X, y = data
    for params in (dict(top_k=None), dict(top_k=TOP_K, top_k_at_predict=False)):
        explanation = SAINRegressor(**FAST, **params).fit(X, y).explain(X.head(3))
        assert explanation.top_k is None
        assert explanation.attention["kept"].all()
        sums = explanation.attention.groupby(["row", "head", "query_pos"])["weight"].sum()
        np.testing.assert_allclose(sums, 1.0, rtol=1e-5)


def test_integration_matches_predict_and_alpha_is_a_weight(explained, model, data):
    X, _ = data
    table = explained.integration
    np.testing.assert_array_equal(table["prediction"], model.predict(X.head(6)))
    assert list(table["user"]) == list(X["user_id"].head(6))
    assert list(table["item"]) == list(X["item_id"].head(6))
    for side in ("alpha_user", "alpha_item"):
        assert table[side].between(0, 1).all()
        assert (table[side] > 0).all()  # known ids lean on feedback at least a little


def test_unknown_ids_get_no_feedback_weight_and_unknown_values_are_named(model, data):
    X, _ = data
    rows = X.head(3).copy()
    rows["user_id"] = [10_000, rows["user_id"].iloc[1], 10_001]
    rows["item_id"] = [rows["item_id"].iloc[0], 20_000, 20_001]
    rows["occupation"] = ["astronaut", rows["occupation"].iloc[1], rows["occupation"].iloc[2]]
    explanation = model.explain(rows)
    table = explanation.integration
    assert list(table["alpha_user"] == 0) == [True, False, True]
    assert list(table["alpha_item"] == 0) == [False, True, True]
    assert list(table["user"]) == list(rows["user_id"])  # raw ids, also when unknown
    np.testing.assert_array_equal(table["prediction"], model.predict(rows))
    first = explanation.attention[explanation.attention["row"] == 0]
    assert "occupation=<unk>" in set(first["query"])
    assert "occupation=astronaut" not in set(first["query"])


def test_matrix_is_a_square_table_of_one_row_and_head(explained, data):
    X, _ = data
    table = explained.matrix(row=1, head=1)
    names = row_tokens(X, 1)
    assert table.shape == (len(names), len(names))
    assert list(table.index) == list(table.columns)
    assert sorted(table.index) == sorted(names)
    np.testing.assert_allclose(table.sum(axis=1), 1.0, rtol=1e-5)
    assert ((table > 0).sum(axis=1) <= TOP_K).all()
    with pytest.raises(ValueError, match="head=5 is not a head"):
        explained.matrix(row=0, head=5)
    with pytest.raises(ValueError, match="row=99 is not an explained row"):
        explained.matrix(row=99)


def test_pipeline_step_names_tokens_with_the_pipeline_encoder(data):
    X, y = data
    pipe = make_pipeline(SAINEncoder(min_ids=2), SAINRegressor(**FAST, top_k=TOP_K)).fit(X, y)
    encoded = pipe[0].transform(X.head(2))
    named = pipe[-1].explain(encoded, encoder=pipe[0])
    direct = SAINRegressor(**FAST, top_k=TOP_K).fit(X, y).explain(X.head(2))
    pd.testing.assert_frame_equal(named.attention, direct.attention)
    assert list(named.integration["user"]) == list(X["user_id"].head(2))
    plain = pipe[-1].explain(encoded)  # no encoder: encoded ids
    assert plain.attention["query"].str.match(r"^\w+=#\d+$").all()
    assert list(plain.integration["user"]) == list(encoded.iloc[:, 0])


def test_model_without_features_has_no_attention(data):
    X, y = data
    ids_only = SAINRegressor(**FAST, encoder=SAINEncoder(user_features=[], item_features=[]))
    explanation = ids_only.fit(X, y).explain(X.head(2))
    assert explanation.attention.empty
    assert list(explanation.attention.columns)[:2] == ["row", "head"]
    assert (explanation.integration[["alpha_user", "alpha_item"]] == 1).all().all()


def test_empty_input_and_unfitted_model(model, data):
    X, _ = data
    empty = model.explain(X.head(0))
    assert empty.attention.empty and empty.integration.empty
    with pytest.raises(NotFittedError):
        SAINRegressor().explain(X.head(1))
    with pytest.raises(ValueError, match="holds its own encoder"):
        model.explain(X.head(1), encoder=SAINEncoder())


# ----------------------------------------------------------------- plotting


def test_plot_attention_draws_one_heatmap_per_head(explained):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_sain.plotting import plot_attention

    axes = plot_attention(explained, row=2)
    assert len(axes) == 2
    table = explained.matrix(row=2, head=0)
    image = axes[0].images[0].get_array()
    assert image.shape == table.shape
    # dropped keys are blank (masked), kept ones show their weight
    np.testing.assert_array_equal(np.ma.getmaskarray(image), (table == 0).to_numpy())
    assert [t.get_text() for t in axes[0].get_xticklabels()] == list(table.columns)
    fig, given = plt.subplots(1, 1)
    assert plot_attention(explained, heads=[1], ax=given)[0] is given
    with pytest.raises(ValueError, match="ax must hold 2 Axes"):
        plot_attention(explained, ax=given)
    plt.close("all")


def test_plot_integration_draws_alpha_bars(explained):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_sain.plotting import plot_integration

    ax = plot_integration(explained)
    widths = [patch.get_width() for patch in ax.patches]
    np.testing.assert_allclose(
        widths, list(explained.integration["alpha_user"]) + list(explained.integration["alpha_item"]))
    with pytest.raises(TypeError, match="must be the Explanation"):
        plot_integration(explained.integration)
    plt.close("all")


def test_plotting_without_matplotlib_names_the_extra(explained, monkeypatch):
    from sklearn_sain import plotting

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"needs matplotlib.*sklearn-sain\[docs\]"):
        plotting.plot_attention(explained)


def test_array_input_names_tokens_after_positional_fields():
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 8, 60), rng.integers(0, 6, 60)
    X = np.column_stack([users, items, users % 3, items % 2])
    model = SAINRegressor(**FAST, encoder=SAINEncoder(user_features=[2])).fit(X, rng.normal(size=60))
    explanation = model.explain(X[:2])
    assert list(explanation.integration["user"]) == list(users[:2])
    first = explanation.attention[explanation.attention["row"] == 0]
    assert set(first["query"]) == {f"x2={users[0] % 3}", f"x3={items[0] % 2}"}

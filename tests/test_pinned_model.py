"""A model saved before the redesign of issue 16 loads, and predicts as it did then.

``pinned/model.sain`` was written by ``SAINRegressor.save`` at commit a8d3780
(``make_ratings(n_users=15, n_items=12, n_ratings=150, random_state=0)``,
``max_epochs=3, embed_dim=8, feature_dim=4, batch_size=32, device="cpu",
random_state=0``, the other parameters at their defaults); ``pinned/model.json``
holds ten query rows (two of them with unseen users, an unseen item and an
unseen feature value), the predictions that code gave for them and its top 3
recommendations for six users by choice and by rating, as exact hex floats.
Never rewrite these files with the current code: they are the reference the
current code is held to.
"""

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sklearn_sain
from sklearn_sain import SAINRegressor

PINNED = Path(__file__).parent / "pinned"
# the stored predictions are float64; the network computes in float32, whose
# last bits may differ between CPUs with other vector units: far tighter than
# any change to the model, the scaling or the file format would leave
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def reference():
    spec = json.loads((PINNED / "model.json").read_text())
    queries = pd.DataFrame(spec["rows"], columns=spec["columns"])
    return queries, np.array([float.fromhex(p) for p in spec["predictions"]])


@pytest.fixture(scope="module", params=["sklearn_sain.load", "SAINRegressor.load"])
def pinned(request):
    read = sklearn_sain.load if request.param == "sklearn_sain.load" else SAINRegressor.load
    return read(PINNED / "model.sain", device="cpu")


def test_pinned_model_predicts_as_when_it_was_saved(pinned, reference):
    queries, expected = reference
    assert isinstance(pinned, SAINRegressor)
    np.testing.assert_allclose(pinned.predict(queries), expected, rtol=0, atol=TOLERANCE)


def test_pinned_model_saves_and_loads_again_unchanged(pinned, reference):
    queries, expected = reference
    buffer = io.BytesIO()
    pinned.save(buffer)
    buffer.seek(0)
    again = sklearn_sain.load(buffer)
    np.testing.assert_array_equal(again.predict(queries), pinned.predict(queries))
    np.testing.assert_allclose(again.predict(queries), expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("rank_by", ["choice", "rating"])
def test_pinned_model_recommends_as_when_it_was_saved(pinned, rank_by):
    spec = json.loads((PINNED / "model.json").read_text())
    expected = spec["recommend"][rank_by]
    found = pinned.recommend(spec["recommend_users"], n=3, rank_by=rank_by)
    assert list(found.columns) == ["user", "rank", "item", "score"]
    assert found["user"].tolist() == expected["user"]
    assert found["item"].tolist() == expected["item"]
    np.testing.assert_allclose(found["score"], [float.fromhex(s) for s in expected["score"]],
                               rtol=0, atol=TOLERANCE)
    default = pinned.recommend(spec["recommend_users"], n=3)  # the choice head and the rating
    assert len(default) == len(found) and np.isfinite(default["score"]).all()


def test_pinned_model_explains(pinned, reference):
    queries, expected = reference
    explanation = pinned.explain(queries)
    np.testing.assert_allclose(explanation.integration["prediction"], expected, rtol=0,
                               atol=TOLERANCE)
    assert set(explanation.attention["row"]) == set(range(len(queries)))
    sums = explanation.attention.groupby(["row", "head", "query_pos"])["weight"].sum()
    np.testing.assert_allclose(sums, 1.0, rtol=1e-5)


def test_pinned_model_describes_how_it_was_trained(pinned):
    # parameters added after the file was written take the value of a model trained without them
    assert pinned.id_weight_decay == 0.0
    assert SAINRegressor().id_weight_decay > 0  # not the current default

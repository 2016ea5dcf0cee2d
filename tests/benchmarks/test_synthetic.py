"""benchmarks/synthetic.py: the Bayes floor from the generating parameters, and the rows it runs."""

import json

import numpy as np
import pytest
import synthetic  # benchmarks/synthetic.py, on the path through conftest


def test_floor_is_the_best_prediction_from_the_generating_model():
    X, y, params, (train, valid, test) = synthetic.synthetic_splits(0.02)
    assert len(train) + len(valid) + len(test) == len(y) == 20_000
    scores = synthetic.noise_free_scores(X, params)
    floor = synthetic.bayes_ratings(scores)
    # the floor beats the noise-free score itself (rounding and clipping bias it)
    # and any shrunk version of it, as the conditional mean must
    best = synthetic.rmse(floor, y)
    assert best < synthetic.rmse(scores, y)
    for shrink in (0.9, 1.1):
        assert best < synthetic.rmse(y.mean() + shrink * (floor - y.mean()), y)
    # and it sits near the noise level: N(0, 0.5) plus rounding
    assert 0.45 < best < 0.6


def test_bayes_ratings_of_far_scores_are_the_ends_of_the_scale():
    np.testing.assert_allclose(synthetic.bayes_ratings(np.array([-10.0, 3.0, 20.0])),
                               [1.0, 3.0, 5.0], atol=1e-6)


def test_sain_row_reports_validation_and_curve(capsys):
    assert synthetic.main(["--scale", "0.01", "--models", "sain-ids",
                           "--params", json.dumps({"max_epochs": 2})]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["model"] == "sain-ids" and row["params"] == {"max_epochs": 2}
    assert len(row["curve"]) == 2 and row["best_epoch"] in (1, 2)
    assert 0 < row["valid"] < 2


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown model"):
        synthetic.run("svd", 0.01, {})

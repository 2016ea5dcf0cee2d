"""The speed benchmark's helpers (sain_bench._speed) on tiny synthetic data.

These check that every figure is measured and reported, not how fast anything
is: timings are for ``python benchmarks/run.py --speed``, not tests.
"""

import importlib.util
import json

import numpy as np
import pytest
import torch

from sain_bench import _speed, main
from sklearn_sain import SAINRegressor
from sklearn_sain.datasets import make_ratings


@pytest.fixture(scope="module")
def ratings():
    return make_ratings(n_users=40, n_items=30, n_ratings=800, random_state=0)


def test_time_epochs_is_the_public_fit_of_more_epochs_less_one(ratings, monkeypatch):
    X, y = ratings
    fits = []
    original = SAINRegressor.fit

    def spy(model, *args, **kwargs):
        fits.append(model.get_params())
        return original(model, *args, **kwargs)

    monkeypatch.setattr(SAINRegressor, "fit", spy)
    seconds = _speed.time_epochs(X, y, repeats=2, batch_size=64)
    assert seconds >= 0
    # a warm-up, then fits of 1 and 3 epochs at the package defaults but what is timed
    assert [p["max_epochs"] for p in fits] == [1, 1, 3]
    defaults = SAINRegressor().get_params()
    for params in fits:
        changed = {k for k in params if params[k] != defaults[k]}
        assert changed <= {"max_epochs", "early_stopping", "choice_head", "random_state",
                           "device", "n_threads", "batch_size"}


def test_the_paper_network_is_the_paper_rows_configuration():
    params = _speed.paper_network_params()
    assert params["implicit_feedback"] is False and params["cold_start_weight"] == 0.0
    assert "max_epochs" not in params
    SAINRegressor(**params)._validate_params()


def test_time_prediction_predicts_encoded_rows_repeated_to_the_requested_count(ratings):
    X, y = ratings
    _, encoded_model, encoded = _speed.prediction_models(X, y)
    assert list(encoded.columns) == list(encoded_model.feature_names_in_)
    result = _speed.time_predict(encoded_model, encoded, min_rows=2000)
    assert result["rows"] >= 2000 and result["rows_per_second"] > 0


def test_time_estimator_predict_includes_encoding(ratings):
    X, y = ratings
    raw_model, _, _ = _speed.prediction_models(X, y)
    assert raw_model.encoder_ is not None  # the raw model encodes what it predicts
    result = _speed.time_predict(raw_model, X, min_rows=1500)
    assert result["rows"] >= 1500 and result["rows_per_second"] > 0


def test_time_encoding_reports_the_list_column():
    result = _speed.time_encoding(n_rows=3000)
    assert result["rows"] == 3000 and result["list_columns"] == ["genres"]
    assert result["fit_transform_seconds"] > 0 and result["transform_seconds"] > 0


def test_scale_point_reports_time_and_memory():
    point = _speed.scale_point(3000, batch_size=256)
    assert point["rows"] == 3000 and point["epochs"] == 1
    # the kernel updates the peak lazily: in this process it may trail the current RSS by a page
    assert point["fit_seconds"] > 0 and point["peak_rss_mb"] > 0.9 * point["rss_before_fit_mb"] > 0
    assert np.isfinite(point["validation_rmse"])
    # Linux can restart the peak counter, giving the peak of the fit alone
    assert point["fit_peak_rss_mb"] is None or point["fit_peak_rss_mb"] > 0


def test_scale_point_runs_in_a_fresh_process():
    point = _speed.run_scale_point(2000, batch_size=256, timeout=300)
    assert "error" not in point, point
    assert point["rows"] == 2000 and point["peak_rss_mb"] > 0


needs_deepctr = pytest.mark.skipif(importlib.util.find_spec("deepctr_torch") is None,
                                   reason="needs deepctr-torch")


@pytest.fixture(scope="module")
def autoint_rows(ratings):
    """300 rows and the feature columns the AutoInt timings take."""
    X, y = ratings
    return X.head(300), y[:300], [c for c in X.columns if c not in ("user_id", "item_id")]


@needs_deepctr
def test_autoint_epoch_is_timed_on_the_same_fields(autoint_rows):
    assert _speed.time_autoint_epoch(*autoint_rows, batch_size=128) > 0


@needs_deepctr
def test_autoint_prediction_is_timed_on_the_rows_repeated(autoint_rows):
    figure = _speed.time_autoint_predict(*autoint_rows, min_rows=1000)
    assert figure["rows"] == 1200  # 300 rows, four copies
    assert figure["rows_per_second"] == pytest.approx(figure["rows"] / figure["seconds"])


def test_run_speed_prints_and_writes_every_figure(tmp_path):
    lines = []
    previous = torch.get_num_threads()
    torch.set_num_threads(2)  # not the run's 1, so that a leak shows
    try:
        report = _speed.run_speed(None, out=tmp_path, repeats=1, autoint=False,
                                  predict_rows=3000, encode_rows=2000, scale_sizes=(1500,),
                                  scale_batch_size=256, synthetic_rows=1200, log=lines.append)
        assert torch.get_num_threads() == 2  # the thread setting is restored
    finally:
        torch.set_num_threads(previous)
    results = report["results"]
    for key in ("cpu_epoch_seconds", "cpu_epoch_seconds_no_implicit", "cpu_predict_rows_per_second",
                "cpu_estimator_predict_rows_per_second", "encoding", "scale"):
        assert key in results
    assert "error" not in results["scale"][0]
    written = json.loads((tmp_path / "speed.json").read_text())
    assert written["results"]["cpu_epoch_seconds"] == pytest.approx(results["cpu_epoch_seconds"])
    text = "\n".join(lines)
    assert "per epoch" in text and "rows/s" in text and "peak RSS" in text


def test_time_to_accuracy_fits_each_row_once_and_scores_the_test_split():
    from test_benchmark import _tiny_dataset

    lines = []
    figures = _speed.time_to_accuracy(_tiny_dataset(), quick=True, log=lines.append)
    assert [f["row"] for f in figures] == list(_speed.TIME_TO_ACCURACY_ROWS)
    sain = figures[0]
    assert sain["fit_seconds"] > 0 and sain["seconds_over_sain"] == 1.0
    assert 0 < sain["test_rmse"] < 2 and 1 <= sain["best_epoch"] <= sain["epochs_run"] <= 2
    for figure in figures[1:]:  # a peer not installed is listed as skipped, not dropped
        assert ("skipped" in figure) != ("test_rmse" in figure)
    assert any("SAIN (package defaults): fit" in line for line in lines)


def test_speed_flag_reaches_the_speed_benchmark(monkeypatch, tmp_path):
    calls = {}
    monkeypatch.setattr(_speed, "run_speed", lambda dataset, **kwargs: calls.update(kwargs))
    assert main(["--speed", "--scale-sizes", "0", "--no-autoint", "--out", str(tmp_path)]) == 0
    assert calls["scale_sizes"] == [] and calls["autoint"] is False
    assert calls["accuracy"] is True  # the time-to-accuracy headline runs unless skipped
    assert calls["threads"] == 1  # the benchmark's default: one torch thread


@needs_deepctr
def test_run_speed_prints_autoints_epoch_and_prediction_ratios(tmp_path):
    lines = []
    report = _speed.run_speed(None, out=tmp_path, repeats=1, autoint=True, autoint_batches=(128,),
                              predict_rows=2000, encode_rows=0, scale_sizes=(),
                              synthetic_rows=1200, log=lines.append)
    results = report["results"]
    assert results["ratio_autoint_batch128_over_sain"] == pytest.approx(
        results["autoint_cpu_epoch_seconds_batch128"] / results["cpu_epoch_seconds"])
    assert results["ratio_predict_over_autoint"] == pytest.approx(
        results["cpu_predict_rows_per_second"] / results["autoint_cpu_predict_rows_per_second"])
    text = "\n".join(lines)
    assert "AutoInt (DeepCTR-Torch) predict, batch 4096" in text

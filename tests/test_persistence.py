"""Safe persistence: tensors + JSON written by save(), read back without unpickling."""

import datetime
import errno
import io
import json
import os
import pickle
import re
import stat
import time
import warnings
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler

import sklearn_sain
from sklearn_sain import SAINEncoder, SAINRegressor
from sklearn_sain._persistence.safe_format import FORMAT, FORMAT_VERSION
from sklearn_sain._persistence.safe_file import payload_digest

FAST = dict(max_epochs=2, device="cpu", random_state=0, embed_dim=8, feature_dim=4, batch_size=16)


def tiny_ratings(n_rows=40, seed=0):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 8, n_rows)
    items = rng.integers(0, 6, n_rows)
    genres = np.array(["Drama|Comedy", "Action", "Comedy", "Drama|Action|War", "Noir", ""])
    X = pd.DataFrame(
        {"user_id": [f"u{u}" for u in users], "item_id": items, "age": 20.5 + users % 4,
         "genres": genres[items]}
    )
    return X, 1.0 + (users % 5 + items % 3) / 2.0


@pytest.fixture(scope="module")
def data():
    return tiny_ratings()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return SAINRegressor(**FAST, encoder=SAINEncoder(user_features=["age"])).fit(X, y)


def round_trip(estimator, **load_kwargs):
    buffer = io.BytesIO()
    sklearn_sain.save(estimator, buffer)
    buffer.seek(0)
    return sklearn_sain.load(buffer, **load_kwargs)


def assert_same_fitted_state(loaded, original):
    assert sorted(vars(loaded)) == sorted(vars(original))
    for name in ("n_features_in_", "layout_", "device_", "target_mean_", "target_scale_",
                 "target_range_", "loss_curve_", "validation_scores_", "best_epoch_",
                 "n_iter_"):
        assert getattr(loaded, name) == getattr(original, name), name
    assert loaded._fitted.module_kwargs == original._fitted.module_kwargs
    np.testing.assert_array_equal(loaded.feature_names_in_, original.feature_names_in_)
    for key, tensor in original.module_.state_dict().items():
        assert torch.equal(loaded.module_.state_dict()[key], tensor), key


def assert_same_vocabularies(loaded, original):
    assert list(loaded.vocabularies_) == list(original.vocabularies_)
    for field, index in original.vocabularies_.items():
        restored = loaded.vocabularies_[field]
        assert restored.dtype == index.dtype, field
        assert [type(v) for v in restored] == [type(v) for v in index], field
        assert restored.equals(index), field


# ---------------------------------------------------------------- round trips


def test_regressor_round_trip_gives_identical_predictions(fitted, data, tmp_path):
    X, _ = data
    path = tmp_path / "model.sain"
    fitted.save(path)
    loaded = SAINRegressor.load(path)
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    assert_same_fitted_state(loaded, fitted)
    assert_same_vocabularies(loaded.encoder_, fitted.encoder_)
    for name in ("user_col_", "item_col_", "user_features_", "item_features_", "multi_valued_",
                 "field_widths_", "vocabulary_sizes_", "_positions", "n_features_in_"):
        assert getattr(loaded.encoder_, name) == getattr(fitted.encoder_, name), name
    assert sorted(vars(loaded.encoder_)) == sorted(vars(fitted.encoder_))
    assert not loaded.module_.training


def test_round_trip_keeps_parameters_and_stays_a_normal_estimator(fitted, data):
    X, y = data
    loaded = round_trip(fitted)
    params, expected = loaded.get_params(), fitted.get_params()
    assert params.pop("encoder").get_params() == expected.pop("encoder").get_params()
    assert params == expected
    refit = clone(loaded).fit(X, y)  # the same data and seed give the same model again
    np.testing.assert_array_equal(refit.predict(X), fitted.predict(X))


def test_unseen_rows_predict_the_same_after_loading(fitted, data):
    X, _ = data
    probe = X.head(3).assign(user_id=["new", "u1", "other"], genres=["Western", "", "Noir|New"])
    np.testing.assert_array_equal(round_trip(fitted).predict(probe), fitted.predict(probe))


def test_model_fitted_on_encoded_input_round_trips(data):
    X, y = data
    encoder = SAINEncoder(user_features=["age"]).fit(X)
    encoded = encoder.transform(X)
    model = SAINRegressor(**FAST).fit(encoded, y)
    loaded = round_trip(model)
    assert loaded.encoder_ is None
    np.testing.assert_array_equal(loaded.predict(encoded), model.predict(encoded))
    # the encoder step of a pipeline is saved on its own
    loaded_encoder = round_trip(encoder)
    assert isinstance(loaded_encoder, SAINEncoder)
    pd.testing.assert_frame_equal(loaded_encoder.transform(X), encoded)
    assert loaded_encoder.get_feature_names_out().tolist() == list(encoded.columns)


def test_array_input_without_feature_names_round_trips():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 9, 30), rng.integers(0, 5, 30)])
    y = rng.normal(size=30)
    model = SAINRegressor(**FAST).fit(X, y)
    loaded = round_trip(model)
    assert not hasattr(loaded, "feature_names_in_")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_unusual_parameter_values_round_trip(data):
    X, y = data
    model = SAINRegressor(**{
        **FAST, "random_state": np.random.RandomState(3), "device": torch.device("cpu"),
        "top_k": None, "weight_averaging": 0.9, "dropout": 0.125, "l2_reg": np.float64(1e-5),
        "max_epochs": np.int64(1),
        "encoder": SAINEncoder(user_features=("age",), sep=";", max_values=2),
    }).fit(X, y)
    loaded = round_trip(model)
    params = loaded.get_params()
    assert params["device"] == torch.device("cpu") and params["top_k"] is None
    assert params["max_epochs"] == 1 and params["l2_reg"] == 1e-5
    assert params["encoder__user_features"] == ["age"] and params["encoder__sep"] == ";"
    state = params["random_state"].get_state()
    np.testing.assert_array_equal(state[1], model.random_state.get_state()[1])
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


# Every kind of value a vocabulary can hold; each must come back with the same
# dtype, the same Python/numpy type per value and the same lookups.
VOCABULARY_CASES = {
    "int": [3, 1, 2, 1],
    "uint64": np.array([1, 2**63 + 5, 3, 1], dtype=np.uint64),
    "float": [1.5, np.inf, -0.0, -np.inf],
    "float32": np.array([0.1, 2.5, 3.0, 0.1], dtype=np.float32),
    "bool": [True, False, True, True],
    "str": ["b", "a", "c", "a"],
    "string-dtype": pd.array(["a", None, "b", "a"], dtype="string"),
    "nullable-int": pd.array([1, None, 3, 1], dtype="Int64"),
    "mixed": [1, "1", 2.5, "x|y"],
    "numpy-scalars-in-lists": [[np.int64(1), np.float32(0.5)], [np.bool_(True)], [2**70], []],
    "datetime": pd.to_datetime(["2020-01-01 00:00", "2021-06-30 12:00", None, "2020-01-01 00:00"]),
    "timedelta": pd.to_timedelta([1, 2, None, 1], unit="h"),
}


@pytest.mark.parametrize("values", VOCABULARY_CASES.values(), ids=VOCABULARY_CASES.keys())
def test_vocabulary_values_round_trip_exactly(values):
    X = pd.DataFrame({"u": [1, 2, 1, 3], "i": [1, 1, 2, 2]})
    X["f"] = values
    encoder = SAINEncoder(user_col="u", item_col="i", user_features=[]).fit(X)
    loaded = round_trip(encoder)
    assert_same_vocabularies(loaded, encoder)
    pd.testing.assert_frame_equal(loaded.transform(X), encoder.transform(X))


def test_regressor_with_mixed_type_vocabularies_round_trips():
    X = pd.DataFrame({
        "user_id": [1, "1", 2.5, "bob", 1, "bob"] * 3,
        "item_id": [np.int64(7), 8, 9, 7, 8, 9] * 3,
        "tags": [[1, "a"], [2.5], ["a", True], [], [1, "a"], ["a", True]] * 3,
    })
    y = np.arange(len(X), dtype=float)
    model = SAINRegressor(**FAST, encoder=SAINEncoder(user_features=[])).fit(X, y)
    loaded = round_trip(model)
    assert_same_vocabularies(loaded.encoder_, model.encoder_)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize(
    "values, kind",
    [
        (pd.to_datetime(["2020", "2021", None, "2022"]).tz_localize("UTC"), "datetime64"),
        ([datetime.date(2020, 1, 1), datetime.date(2021, 1, 1)] * 2, "date"),
        ([[pd.Timestamp("2020"), "a"], [pd.Timestamp("2021")], [], []], "Timestamp"),
    ],
)
def test_vocabularies_json_cannot_hold_are_refused_at_save(values, kind, tmp_path):
    X = pd.DataFrame({"u": [1, 2, 1, 3], "i": [1, 1, 2, 2]})
    X["when"] = values
    model = SAINRegressor(**FAST, encoder=SAINEncoder(user_col="u", item_col="i",
                                                      user_features=[])).fit(X, np.ones(4))
    path = tmp_path / "model.sain"
    path.write_bytes(b"previous file")
    with pytest.raises(ValueError, match=f"field 'when' cannot be stored exactly.*{kind}"):
        model.save(path)
    assert path.read_bytes() == b"previous file"  # no half-written file replaced it
    assert [p.name for p in tmp_path.iterdir()] == ["model.sain"]


def test_unstorable_parameter_is_refused_at_save(fitted):
    model = pickle.loads(pickle.dumps(fitted))
    model.verbose = object()  # set after fit, as set_params would
    with pytest.raises(ValueError, match="Parameter verbose=.* cannot be stored"):
        round_trip(model)


# ------------------------------------------------------------ what is stored


def test_file_holds_only_tensors_and_json(fitted, tmp_path):
    path = tmp_path / "model.sain"
    fitted.save(path)
    payload = torch.load(path, weights_only=True)
    assert set(payload) == {"format", "format_version", "metadata", "tensors", "digest"}
    assert payload["digest"] == payload_digest(payload["metadata"], payload["tensors"])
    assert payload["format"] == FORMAT and payload["format_version"] == FORMAT_VERSION
    metadata = json.loads(payload["metadata"])
    assert metadata["estimator"] == "SAINRegressor"
    assert metadata["sklearn_sain_version"] == sklearn_sain.__version__
    assert all(t.device.type == "cpu" for t in payload["tensors"].values())
    catalog = {f"catalog/{name}" for name in fitted.catalog_.arrays()}
    assert set(payload["tensors"]) == set(fitted.module_.state_dict()) | catalog


# ---------------------------------------------------------- refused files


CODE_RAN = []


def _record(message):
    CODE_RAN.append(message)


class _Exploit:
    """Unpickling this calls _record: proof that a loader ran code from the file."""

    def __reduce__(self):
        return (_record, ("code ran",))


def _write_joblib(path, model):
    joblib.dump(model, path)


def _write_pickle(path, model):
    path.write_bytes(pickle.dumps(model))


def _write_torch_estimator(path, model):
    torch.save(model, path)  # a zip archive, but holding a pickled estimator


def _write_state_dict(path, model):
    torch.save(model.module_.state_dict(), path)


def _write_exploit_in_torch_file(path, model):
    torch.save({"format": FORMAT, "format_version": 1, "metadata": _Exploit(), "tensors": {}},
               path)


def _write_exploit_pickle(path, model):
    path.write_bytes(pickle.dumps(_Exploit()))


def _write_other_zip(path, model):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.txt", "not a model")


def _write_numpy(path, model):
    with open(path, "wb") as file:
        np.save(file, np.ones(3))


def _write_text(path, model):
    path.write_text("user_id,item_id\n1,2\n")


def _write_empty(path, model):
    path.write_bytes(b"")


@pytest.mark.parametrize(
    "write, match",
    [
        (_write_joblib, "is not a sklearn_sain model file"),
        (_write_pickle, "is not a sklearn_sain model file"),
        (_write_exploit_pickle, "is not a sklearn_sain model file"),
        (_write_torch_estimator, "holds objects other than tensors"),
        (_write_exploit_in_torch_file, "holds objects other than tensors"),
        (_write_state_dict, "a torch file but not a sklearn_sain model file"),
        (_write_other_zip, "not a sklearn_sain model file"),
        (_write_numpy, "is not a sklearn_sain model file"),
        (_write_text, "is not a sklearn_sain model file"),
        (_write_empty, "is not a sklearn_sain model file"),
    ],
)
def test_files_save_did_not_write_are_refused_without_running_code(write, match, fitted,
                                                                   tmp_path):
    pickle.loads(pickle.dumps(_Exploit()))
    assert CODE_RAN == ["code ran"]  # the exploit does run under a plain unpickler
    path = tmp_path / "model.bin"
    write(path, fitted)
    CODE_RAN.clear()
    with pytest.raises(ValueError, match=match) as info:
        sklearn_sain.load(path)
    assert "joblib.load only if you trust" in str(info.value)
    with pytest.raises(ValueError, match=match):
        SAINRegressor.load(path)
    assert CODE_RAN == []


def old_pickle_state(model):
    """What a pickle held before the fitted state became safe-format bytes.

    The live attributes of that time (the fitted state as attributes of the
    regressor, not a FittedSAIN), with the network as a dict of CPU tensors.
    """
    state = dict(vars(model))
    fitted = state.pop("_fitted")
    state.update(layout_=fitted.layout, _module_kwargs=dict(fitted.module_kwargs),
                 module_={k: v.detach().cpu() for k, v in fitted.module.state_dict().items()},
                 device_=fitted.device, target_mean_=fitted.target_mean,
                 target_scale_=fitted.target_scale, target_range_=fitted.target_range)
    if fitted.catalog is not None:
        state["catalog_"] = fitted.catalog
    return state


def _rewrite(path, edit):
    """Edit a saved payload as a deliberate editor would: the digest follows the edit.

    (Files of format versions before the digest have none.)
    """
    payload = torch.load(path, weights_only=True)
    edit(payload)
    payload.pop("digest", None)
    version = payload.get("format_version")
    if isinstance(version, int) and version >= 4 and isinstance(payload.get("metadata"), str) \
            and isinstance(payload.get("tensors"), dict) \
            and all(isinstance(v, torch.Tensor) for v in payload["tensors"].values()):
        payload["digest"] = payload_digest(payload["metadata"], payload["tensors"])
    torch.save(payload, path)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda p: p.update(format_version=FORMAT_VERSION + 1), "newer than the version"),
        (lambda p: p.update(format_version="1"), "invalid format_version"),
        (lambda p: p.update(format="other_library"), "not a sklearn_sain model file"),
        (lambda p: p.update(extra=1), "not a sklearn_sain model file"),
        (lambda p: p.update(metadata="{not json"), "cannot be restored"),
        (lambda p: p.update(metadata=json.dumps({"estimator": "os.system"})), "cannot be restored"),
        (lambda p: p.update(tensors={"gate.weight": torch.ones(3)}), "cannot be restored"),
        (lambda p: p["tensors"].update(extra=torch.ones(1)), "cannot be restored"),
        (lambda p: p.update(tensors={"x": "not a tensor"}), "damaged"),
        (lambda p: p.update(metadata=p["metadata"].replace('"top_k": 2', '"top_k": -1')),
         "cannot be restored"),
        (lambda p: p.update(metadata=p["metadata"].replace(
            '"field_widths_": {"user_id": 1', '"field_widths_": {"user_id": "1"')),
         "cannot be restored.*inconsistent encoder state"),
        (lambda p: p.update(metadata=p["metadata"].replace('"state": {', '"state": {"x": 1, ', 1)
                            .replace('"n_iter_"', '"n_iter"')), "cannot be restored"),
        (lambda p: p["tensors"]["user_implicit.others"].add_(10**6),
         "cannot be restored.*past the id vocabulary"),
        (lambda p: p["tensors"]["item_implicit.counts"].mul_(2),
         "cannot be restored.*links are inconsistent"),
    ],
)
def test_damaged_or_foreign_sain_files_are_refused(edit, match, data, tmp_path):
    X, y = data
    model = SAINRegressor(**FAST, top_k=2).fit(X, y)
    path = tmp_path / "model.sain"
    model.save(path)
    _rewrite(path, edit)
    with pytest.raises(ValueError, match=match):
        sklearn_sain.load(path)


def test_loading_an_encoder_file_as_a_regressor_is_refused(fitted):
    buffer = io.BytesIO()
    sklearn_sain.save(fitted.encoder_, buffer)
    buffer.seek(0)
    with pytest.raises(ValueError, match="holds a SAINEncoder, not a SAINRegressor"):
        SAINRegressor.load(buffer)


def test_save_refuses_other_estimators_and_unfitted_ones(tmp_path):
    with pytest.raises(TypeError, match="SAINRegressor or a SAINEncoder, got StandardScaler"):
        sklearn_sain.save(StandardScaler(), tmp_path / "x")
    with pytest.raises(NotFittedError):
        sklearn_sain.save(SAINEncoder(), tmp_path / "x")
    with pytest.raises(FileNotFoundError):
        sklearn_sain.load(tmp_path / "missing.sain")


# ------------------------------------------------------------------ devices


def test_cuda_trained_model_loads_on_a_cpu_only_machine(fitted, data, tmp_path, monkeypatch):
    X, _ = data
    as_if_gpu = pickle.loads(pickle.dumps(fitted))
    as_if_gpu._fitted.device = torch.device("cuda:1")  # what a GPU fit records
    path = tmp_path / "gpu.sain"
    as_if_gpu.save(path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="fitted on cuda:1 but CUDA is not available"):
        loaded = SAINRegressor.load(path)
    assert loaded.device_ == torch.device("cpu")
    assert all(t.device.type == "cpu" for t in loaded.module_.state_dict().values())
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert SAINRegressor.load(path, device="cpu").device_ == torch.device("cpu")


def test_bad_device_argument_is_named(fitted, tmp_path):
    path = tmp_path / "model.sain"
    fitted.save(path)
    with pytest.raises(ValueError, match="device='tpu' is not a valid device"):
        SAINRegressor.load(path, device="tpu")
    with pytest.raises(ValueError, match="device='cuda:99' was requested"):
        SAINRegressor.load(path, device="cuda:99")


def test_joblib_still_round_trips(fitted, data, tmp_path):
    X, _ = data
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path)
    np.testing.assert_array_equal(joblib.load(path).predict(X), fitted.predict(X))


@pytest.mark.gpu
def test_cuda_fit_save_and_load_on_cpu_and_gpu(data, tmp_path):
    X, y = data
    model = SAINRegressor(**{**FAST, "device": "cuda"}).fit(X, y)
    path = tmp_path / "gpu.sain"
    model.save(path)
    assert all(t.device.type == "cpu"
               for t in torch.load(path, weights_only=True)["tensors"].values())
    on_gpu = SAINRegressor.load(path)
    assert on_gpu.device_.type == "cuda"
    np.testing.assert_array_equal(on_gpu.predict(X), model.predict(X))
    on_cpu = SAINRegressor.load(path, device="cpu")
    assert next(on_cpu.module_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(on_cpu.predict(X), model.predict(X), rtol=1e-5)


# ------------------------------------------------------ training catalog (recommend)


def test_training_catalog_round_trips_and_recommend_agrees(fitted):
    loaded = round_trip(fitted)
    for name, array in fitted.catalog_.arrays().items():
        restored = loaded.catalog_.arrays()[name]
        assert restored.dtype == array.dtype, name
        np.testing.assert_array_equal(restored, array, err_msg=name)
    pd.testing.assert_frame_equal(loaded.recommend(n=3), fitted.recommend(n=3))


def test_joblib_keeps_the_training_catalog(fitted, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path)
    pd.testing.assert_frame_equal(joblib.load(path).recommend(n=3), fitted.recommend(n=3))


def test_format_version_1_file_loads_without_catalog(fitted, data, tmp_path):
    X, _ = data
    path = tmp_path / "model.sain"
    fitted.save(path)

    def as_version_1(payload):  # what the first format wrote: no catalog tensors
        payload["format_version"] = 1
        payload["tensors"] = {k: v for k, v in payload["tensors"].items()
                              if not k.startswith("catalog/")}
        metadata = json.loads(payload["metadata"])
        assert "catalog_" not in metadata["state"]
        payload["metadata"] = json.dumps(metadata)

    _rewrite(path, as_version_1)
    loaded = sklearn_sain.load(path)
    assert not hasattr(loaded, "catalog_")
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    with pytest.raises(ValueError, match="no record of its training users.*refit"):
        loaded.recommend(n=3)
    again = round_trip(loaded)  # and it saves again, still without a catalog
    assert not hasattr(again, "catalog_")


def test_format_version_2_file_loads_as_a_model_without_implicit_feedback(data, tmp_path):
    X, y = data
    model = SAINRegressor(**FAST, implicit_feedback=False).fit(X, y)
    path = tmp_path / "model.sain"
    model.save(path)

    def as_version_2(payload):  # what format 2 wrote: no implicit-feedback names at all
        payload["format_version"] = 2
        metadata = json.loads(payload["metadata"])
        del metadata["params"]["implicit_feedback"]
        del metadata["params"]["implicit_max_links"]
        for name in ("implicit_feedback", "n_user_links", "n_item_links"):
            del metadata["state"]["_module_kwargs"][name]
        payload["metadata"] = json.dumps(metadata)

    _rewrite(path, as_version_2)
    loaded = sklearn_sain.load(path)
    assert loaded.implicit_feedback is False
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_pickle_from_before_implicit_feedback_loads_without_it(data):
    X, y = data
    model = SAINRegressor(**FAST, implicit_feedback=False).fit(X, y)
    state = old_pickle_state(model)
    del state["implicit_feedback"], state["implicit_max_links"]
    for name in ("implicit_feedback", "n_user_links", "n_item_links"):
        del state["_module_kwargs"][name]
    old = SAINRegressor.__new__(SAINRegressor)
    old.__setstate__(state)
    assert old.get_params()["implicit_feedback"] is False
    np.testing.assert_array_equal(old.predict(X), model.predict(X))


def test_file_from_before_bias_init_loads_as_trained_from_zero_biases(fitted, data, tmp_path):
    X, _ = data
    path = tmp_path / "model.sain"
    fitted.save(path)

    def without_bias_init(payload):  # format 3 as first written, without the parameter
        metadata = json.loads(payload["metadata"])
        del metadata["params"]["bias_init"]
        payload["metadata"] = json.dumps(metadata)

    _rewrite(path, without_bias_init)
    loaded = sklearn_sain.load(path)
    assert fitted.bias_init == "ridge" and loaded.bias_init == "zeros"
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))


def test_pickle_from_before_bias_init_loads_as_trained_from_zero_biases(fitted, data):
    X, _ = data
    state = fitted.__getstate__()
    del state["bias_init"]
    old = SAINRegressor.__new__(SAINRegressor)
    old.__setstate__(state)
    assert old.get_params()["bias_init"] == "zeros"
    np.testing.assert_array_equal(old.predict(X), fitted.predict(X))


def _edit_catalog(name, change):
    def edit(payload):
        payload["tensors"][f"catalog/{name}"] = change(payload["tensors"][f"catalog/{name}"])
    return edit


@pytest.mark.parametrize(
    "edit",
    [
        _edit_catalog("user_tokens", lambda t: t + 1000),  # past the feature vocabularies
        _edit_catalog("item_ids", lambda t: t.flip(0)),  # not ascending
        _edit_catalog("item_ids", lambda t: t * 1000),  # past the item vocabulary
        _edit_catalog("seen_items", lambda t: t.float()),  # not integers
        _edit_catalog("seen_indptr", lambda t: t[:-1]),  # one user short
        _edit_catalog("seen_items", lambda t: t + 1000),  # past the catalog
        _edit_catalog("item_tokens", lambda t: t[:, :1]),  # other slots
        lambda p: p["tensors"].pop("catalog/user_ids"),  # an array missing
    ],
    ids=["tokens", "order", "ids", "dtype", "indptr", "seen", "slots", "missing"],
)
def test_edited_catalog_is_refused(edit, fitted, tmp_path):
    path = tmp_path / "model.sain"
    fitted.save(path)
    _rewrite(path, edit)
    with pytest.raises(ValueError, match="cannot be restored"):
        sklearn_sain.load(path)


@pytest.fixture(scope="module")
def fitted_before_cold_start(data):
    """A model as fitted before the cold-start parameters existed (no bias heads, no cold scores)."""
    X, y = data
    return SAINRegressor(**FAST, encoder=SAINEncoder(user_features=["age"]), content_bias=False,
                         cold_start_weight=0.0).fit(X, y)  # fmt: skip


def test_file_from_before_cold_start_loads_without_it(fitted_before_cold_start, data, tmp_path):
    X, _ = data
    path = tmp_path / "model.sain"
    fitted_before_cold_start.save(path)

    def without_cold_start(payload):  # format 3 as written before the parameters
        metadata = json.loads(payload["metadata"])
        for name in ("content_bias", "cold_start_weight", "id_dropout"):
            del metadata["params"][name]
            metadata["state"]["_module_kwargs"].pop(name, None)
        payload["metadata"] = json.dumps(metadata)

    _rewrite(path, without_cold_start)
    loaded = sklearn_sain.load(path)
    assert SAINRegressor().content_bias is True  # the default is not what the file describes
    assert loaded.content_bias is False and loaded.cold_start_weight == 0.0
    assert loaded.id_dropout == 0.0 and loaded.module_.item_content_bias is None
    np.testing.assert_array_equal(loaded.predict(X), fitted_before_cold_start.predict(X))


def test_pickle_from_before_cold_start_loads_without_it(fitted_before_cold_start, data):
    X, _ = data
    state = old_pickle_state(fitted_before_cold_start)
    for name in ("content_bias", "cold_start_weight", "id_dropout"):
        del state[name]
        state["_module_kwargs"].pop(name, None)
    old = SAINRegressor.__new__(SAINRegressor)
    old.__setstate__(state)
    assert old.get_params()["content_bias"] is False
    assert old.get_params()["cold_start_weight"] == 0.0
    np.testing.assert_array_equal(old.predict(X), fitted_before_cold_start.predict(X))


def test_content_bias_heads_round_trip(fitted, data, tmp_path):
    X, _ = data
    assert fitted.module_.item_content_bias is not None
    path = tmp_path / "model.sain"
    fitted.save(path)
    loaded = sklearn_sain.load(path)
    torch.testing.assert_close(loaded.module_.item_content_bias.weight,
                               fitted.module_.item_content_bias.weight)
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))


# ------------------------------------------------------- damaged files, file modes
@pytest.mark.parametrize("keep", [500, 0.5, -1])
def test_truncated_files_are_called_damaged_or_truncated(fitted, tmp_path, keep):
    path = tmp_path / "model.sain"
    fitted.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: keep if isinstance(keep, int) and keep > 0 else
                          int(len(data) * keep) if keep > 0 else len(data) - 1])
    with pytest.raises(ValueError, match="damaged or truncated"):
        sklearn_sain.load(path)


def test_flipped_bytes_are_refused_or_change_nothing(fitted, data, tmp_path):
    # one flipped bit anywhere: the file is refused, or (in bytes nothing reads,
    # such as zip comments and padding) loads as exactly the saved model
    X, _ = data
    path = tmp_path / "model.sain"
    fitted.save(path)
    original = path.read_bytes()
    expected = fitted.predict(X)
    rng = np.random.RandomState(0)
    outcomes = {"refused": 0, "same": 0}
    for position in rng.choice(len(original), size=60, replace=False):
        damaged = bytearray(original)
        damaged[position] ^= 1 << rng.randint(8)
        path.write_bytes(bytes(damaged))
        try:
            loaded = sklearn_sain.load(path)
        except ValueError as exc:
            assert re.search("damaged|truncated|not a sklearn_sain model file|cannot be "
                             "restored", str(exc)), str(exc)
            outcomes["refused"] += 1
            continue
        np.testing.assert_array_equal(loaded.predict(X), expected)
        outcomes["same"] += 1
    assert outcomes["refused"] > 30


def test_a_changed_tensor_with_a_stale_digest_is_refused(fitted, tmp_path):
    path = tmp_path / "model.sain"
    fitted.save(path)
    payload = torch.load(path, weights_only=True)
    payload["tensors"]["gate.weight"].add_(1.0)
    torch.save(payload, path)  # the digest is the saved one
    with pytest.raises(ValueError, match="damaged or truncated: its content does not match "
                                         "its digest"):
        sklearn_sain.load(path)


def test_saved_files_follow_the_umask_and_keep_the_mode_they_replace(fitted, tmp_path):
    path = tmp_path / "model.sain"
    previous = os.umask(0o022)
    try:
        fitted.save(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
        os.chmod(path, 0o640)
        fitted.save(path)  # an overwrite keeps the file's mode
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
        os.umask(0o077)
        fitted.save(tmp_path / "private.sain")
        assert stat.S_IMODE(os.stat(tmp_path / "private.sain").st_mode) == 0o600
    finally:
        os.umask(previous)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.sain", "private.sain"]


def test_a_failed_save_names_the_target_and_leaves_no_temporary_file(fitted, tmp_path,
                                                                     monkeypatch):
    path = tmp_path / "model.sain"
    fitted.save(path)
    before = path.read_bytes()

    def disk_full(payload, file):
        file.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match=r"Cannot save to .*model\.sain.*No space left") as info:
        fitted.save(path)
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == before  # the old model is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["model.sain"]


def test_stale_temporary_files_of_a_killed_save_are_removed_by_the_next(fitted, tmp_path):
    path = tmp_path / "model.sain"
    stale = tmp_path / ".model.sain.abc123.sain-tmp"
    fresh = tmp_path / ".model.sain.def456.sain-tmp"  # perhaps another process's save
    other = tmp_path / ".other.sain.abc123.sain-tmp"
    for leftover in (stale, fresh, other):
        leftover.write_bytes(b"partial")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    fitted.save(path)
    assert not stale.exists() and fresh.exists() and other.exists()


def _edit_metadata(path, edit):
    def apply(payload):
        metadata = json.loads(payload["metadata"])
        edit(metadata)
        payload["metadata"] = json.dumps(metadata)

    _rewrite(path, apply)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda m: m["state"]["_module_kwargs"].update(n_users=4_000_000),
         "do not fit the model the metadata describes"),
        (lambda m: m["state"]["_module_kwargs"].update(top_k=0), "top_k"),
        (lambda m: m["state"]["_module_kwargs"].update(n_heads=3), "n_heads must divide"),
        (lambda m: m["state"].update(target_scale_=float("nan").hex()), "target statistics"),
        (lambda m: m["state"].update(target_range_=[5.0.hex(), 1.0.hex()]),
         "target statistics"),
        (lambda m: m["state"]["encoder_"]["state"]["vocabulary_sizes_"].update(
            {"user:age": 99}), "vocabularies and their sizes disagree"),
    ],
)
def test_edited_metadata_is_refused_before_anything_is_allocated(edit, match, fitted,
                                                                 tmp_path):
    path = tmp_path / "model.sain"
    fitted.save(path)
    _edit_metadata(path, edit)
    with pytest.raises(ValueError, match=match):
        sklearn_sain.load(path)


def test_a_repeated_vocabulary_value_is_refused(fitted, tmp_path):
    path = tmp_path / "model.sain"
    fitted.save(path)

    def repeat_a_value(metadata):
        vocabularies = metadata["state"]["encoder_"]["state"]["vocabularies_"]
        entry = vocabularies["age"]
        values = entry["values"]
        values[1] = values[0]
        assert json.dumps(entry)  # still valid JSON, now with a value twice

    _edit_metadata(path, repeat_a_value)
    with pytest.raises(ValueError, match="vocabularies and their sizes disagree"):
        sklearn_sain.load(path)


def test_pickles_hold_the_fitted_state_as_safe_format_bytes(fitted, data):
    X, _ = data
    state = fitted.__getstate__()
    assert isinstance(state["_fitted_state"], np.ndarray)
    assert state["_fitted_state"].dtype == np.uint8
    assert not any(isinstance(v, (torch.Tensor, torch.nn.Module, pd.Index))
                   for v in state.values())
    assert "module_" not in state and "encoder_" not in state
    assert isinstance(fitted.module_, torch.nn.Module)  # pickling did not strip the live model
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))
    pd.testing.assert_frame_equal(again.recommend(n=3), fitted.recommend(n=3))


def test_old_pickles_of_the_live_attributes_still_load(fitted, data):
    X, _ = data
    old = SAINRegressor.__new__(SAINRegressor)
    old.__setstate__(old_pickle_state(fitted))
    np.testing.assert_array_equal(old.predict(X), fitted.predict(X))


def test_pickles_from_before_the_encoding_folder_still_load(fitted, data):
    # SAINEncoder lived in sklearn_sain._encoder; pickles (and Pipelines) name that module
    X, _ = data
    # protocol 2 names a class as text ("c<module>\n<name>\n") and has no frame lengths to edit
    new_bytes = pickle.dumps(fitted.encoder_, protocol=2)
    old_bytes = new_bytes.replace(b"csklearn_sain._encoding.encoder\nSAINEncoder\n",
                                  b"csklearn_sain._encoder\nSAINEncoder\n")
    assert old_bytes != new_bytes
    old = pickle.loads(old_bytes)
    pd.testing.assert_frame_equal(old.transform(X), fitted.encoder_.transform(X))


def test_skops_round_trips_fitted_estimators_trusting_only_sklearn_sain(fitted, data, tmp_path):
    sio = pytest.importorskip("skops.io")
    from sklearn.pipeline import make_pipeline

    X, y = data
    pipe = make_pipeline(SAINEncoder(), SAINRegressor(**FAST)).fit(X, y)
    for estimator in (fitted, fitted.encoder_, pipe):
        path = tmp_path / "model.skops"
        sio.dump(estimator, path)
        untrusted = sio.get_untrusted_types(file=path)
        assert set(untrusted) <= set(sklearn_sain.SKOPS_TRUSTED_TYPES), untrusted
        loaded = sio.load(path, trusted=sklearn_sain.SKOPS_TRUSTED_TYPES)
        if isinstance(estimator, SAINEncoder):
            pd.testing.assert_frame_equal(loaded.transform(X), estimator.transform(X))
        else:
            np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))


def test_mlflow_saves_and_loads_with_skops_trusting_sklearn_sain_types(data, tmp_path):
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    import mlflow.pyfunc
    from sklearn.pipeline import make_pipeline

    X, y = data
    pipe = make_pipeline(SAINEncoder(), SAINRegressor(**FAST)).fit(X, y)
    path = str(tmp_path / "model")
    mlflow_sklearn.save_model(pipe, path, skops_trusted_types=sklearn_sain.SKOPS_TRUSTED_TYPES)
    assert (tmp_path / "model" / "model.skops").exists()  # MLflow's default format, not pickle
    np.testing.assert_array_equal(mlflow_sklearn.load_model(path).predict(X), pipe.predict(X))
    served = mlflow.pyfunc.load_model(path).predict(X)
    np.testing.assert_array_equal(np.asarray(served), pipe.predict(X))

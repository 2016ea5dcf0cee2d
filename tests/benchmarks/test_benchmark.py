"""Tests of the benchmark runner (sain_bench) on tiny synthetic files.

No shared data and no peer package is needed: the end-to-end tests run the
global-mean, bias-only, NCF and SAIN rows; each peer's runner is tested only
where its package is installed.
"""

import json

import numpy as np
import pandas as pd
import pytest

from sklearn_sain import SAINRegressor
from sain_bench import _data, _runner, _sain
from sain_bench._common import (ID_ONLY_REASON, Context, Row, early_stopping_loop,
                                             rmse)
from sain_bench._features import FieldCoder, IntegerCoding, SparseDesign
from sain_bench._report import summarise
from sain_bench import main

SAIN_HEADER = (
    "uid,iid,rating,u_age,u_gender,u_occupation,i_year,i_Action,i_Adventure,i_Animation,"
    "i_Children's,i_Comedy,i_Crime,i_Documentary ,i_Drama ,i_Fantasy ,i_Film-Noir ,i_Horror ,"
    "i_Musical ,i_Mystery ,i_Romance ,i_Sci-Fi ,i_Thriller ,i_War ,i_Western,i_Other,"
    "i_Actor,i_Director"
)


def _write_sain_layout(folder, n_rows=400, seed=0):
    """Random ratings in the layout of the SAIN authors' ml-100k-r files."""
    rng = np.random.RandomState(seed)
    n_users, n_items = 30, 25
    user_feats = np.c_[rng.randint(0, 9, n_users), rng.randint(0, 2, n_users),
                       rng.randint(0, 21, n_users)]  # fmt: skip
    item_year = rng.randint(0, 9, n_items)
    item_genres = rng.rand(n_items, 19) < 0.15
    item_actor = rng.choice([3556, 5, 6, 7], n_items)
    item_director = rng.choice([1118, 1, 2], n_items)
    users, items = rng.randint(1, n_users + 1, n_rows), rng.randint(1, n_items + 1, n_rows)
    ratings = np.clip(np.rint(3 + rng.randn(n_rows)), 1, 5).astype(int)
    lines = []
    for u, i, r in zip(users, items, ratings):
        flags = item_genres[i - 1].astype(int).tolist()
        lines.append(",".join(map(str, [u, i, r, *user_feats[u - 1], item_year[i - 1], *flags,
                                        item_actor[i - 1], item_director[i - 1]])))  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    bounds = {"train": (0, int(0.8 * n_rows)), "validation": (int(0.8 * n_rows), int(0.9 * n_rows)),
              "test": (int(0.9 * n_rows), n_rows)}  # fmt: skip
    for split, (a, b) in bounds.items():
        (folder / f"ml-100k-r.{split}.csv").write_text("\n".join([SAIN_HEADER, *lines[a:b]]) + "\n")


def _write_yelp_layout(folder, n_rows=300, seed=1):
    rng = np.random.RandomState(seed)
    draws = zip(rng.randint(1, 40, 3 * n_rows), rng.randint(1, 30, 3 * n_rows))
    pairs = {(int(u), int(b)) for u, b in draws}
    pairs = sorted(pairs)[:n_rows]
    folder.mkdir(parents=True, exist_ok=True)
    write = lambda name, rows: (folder / name).write_text(  # noqa: E731
        "".join("\t".join(map(str, r)) + "\n" for r in rows))
    write("user_business.dat", [(u, b, rng.randint(1, 6)) for u, b in pairs])
    write("user_compliment.dat", [(u, c, 1) for u in range(1, 40) for c in range(1, 12)
                                  if rng.rand() < 0.3])  # fmt: skip
    write("business_category.dat", [(b, c, 1) for b in range(1, 30) for c in range(1, 15)
                                    if rng.rand() < 0.2])  # fmt: skip
    write("business_city.dat", [(b, rng.randint(1, 5), 1) for b in range(1, 30)])


@pytest.fixture
def data_dir(tmp_path):
    root = tmp_path / "data"
    _write_sain_layout(root / "sain_official" / "dataset" / "ml-100k-r")
    _write_yelp_layout(root / "hin-yelp")
    return root


def test_benchmark_command_end_to_end(data_dir, tmp_path, capsys):
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(2)  # not the run's 1, so that a leak shows
    out = tmp_path / "out"
    models = ["global-mean", "bias", "sain-default", "sain-paper", "sain-norm-layer",
              "sain-topk-1", "sain-topk-all"]  # fmt: skip
    try:
        code = main(["--data-dir", str(data_dir), "--out", str(out), "--quick",
                     "--seeds", "0", "1", "--datasets", "movielens", "yelp", "--no-plots",
                     "--models", *models])  # fmt: skip
        assert torch.get_num_threads() == 2  # the run's thread setting does not leak
    finally:
        torch.set_num_threads(previous)
    assert code == 0
    report = json.loads((out / "results.json").read_text())
    assert set(report["datasets"]) == {"movielens", "yelp"}
    assert report["machine"]["cpu"] and report["machine"]["versions"]["torch"]
    assert report["machine"]["torch_threads"] == 1
    assert report["options"]["quick"] is True and report["errors"] == []
    results = pd.DataFrame(report["results"])
    # every selected row on both seeds; the top-K sweep on MovieLens only
    per_dataset = results.groupby("dataset")["row"].agg(set)
    assert per_dataset["movielens"] == set(models)
    assert per_dataset["yelp"] == set(models) - {"sain-topk-1", "sain-topk-all"}
    assert (results.groupby(["dataset", "row"]).size() == 2).all()
    for column in ["validation_rmse", "test_rmse", "test_mae", "fit_seconds"]:
        assert np.isfinite(results[column]).all()
    assert (results["test_rmse"] >= results["test_mae"]).all()
    sain = results[results["row"] == "sain-default"].iloc[0]["info"]
    assert sain["epochs_run"] <= 2 and len(sain["validation_curve"]) == sain["epochs_run"]
    assert sain["params"]["max_epochs"] == 2
    summary = report["summary"]["movielens"]
    assert summary["sain-default"]["test_rmse"]["std"] >= 0
    assert summary["sain-topk-all"]["top_k"] is None and summary["sain-topk-1"]["top_k"] == 1

    md = (out / "results.md").read_text()
    assert md.startswith("# SAIN benchmark (warm protocol)")
    assert report["options"]["protocol"] == "warm"
    # MovieLens has test rows of sparse users: their column; Yelp's layout has none
    assert "| Model | Test RMSE | Test MAE | Sparse-user RMSE | Valid RMSE | Fit s |" in md
    assert "| Model | Test RMSE | Test MAE | Valid RMSE | Fit s |" in md
    assert "Paper RMSE" in md and "0.8847" in md  # the paper's SAIN figure beside ours
    assert "SAIN (package defaults)" in md and "Bias only" in md
    assert "Figure 4" in md and "Quick run" in md and report["machine"]["cpu"] in md
    assert "Weibo-Douban" in md  # the published table, labelled as the paper's
    # the Yelp table has no paper columns: those numbers are for other data
    yelp_part = md.split("## Yelp")[1].split("\n## ")[0]
    assert "Paper RMSE" not in yelp_part
    assert "valid RMSE" in capsys.readouterr().out


def test_benchmark_plots(data_dir, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    main(["--data-dir", str(data_dir), "--out", str(out), "--quick", "--seeds", "0",
          "--datasets", "movielens", "--models", "sain-default", "sain-topk-2", "sain-topk-all"])
    for name in ["figure4_topk_movielens.png", "curves_movielens.png"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert name in (out / "results.md").read_text()


def test_benchmark_list_and_argument_errors(capsys, tmp_path):
    assert main(["--list"]) == 0
    listed = capsys.readouterr().out
    for key in ["sain-paper", "sain-default", "svd-tuned", "myfm-side", "autoint", "ncf",
                "sain-topk-all"]:  # fmt: skip
        assert key in listed
    with pytest.raises(SystemExit, match="--data-dir"):
        main([])
    with pytest.raises(ValueError, match="match no row"):
        _runner.select_rows(["no-such-model"])
    with pytest.raises(FileNotFoundError, match="No dataset"):
        _runner.run_benchmark(tmp_path, tmp_path / "out", models=["bias"], log=lambda *a: None)


def test_select_rows_patterns():
    keys = [r.key for r in _runner.select_rows(["sain-ablation", "bias"])]
    assert "bias" in keys and "sain-loss-mse" in keys and "sain-default" not in keys
    keys = [r.key for r in _runner.select_rows(["sain*"])]
    assert "sain-paper" in keys and "sain-topk-8" in keys and "svd" not in keys
    assert len(_runner.select_rows(None)) == len(_runner.ROWS)


def test_missing_peer_is_reported_as_skipped(data_dir, tmp_path, monkeypatch):
    ghost = Row("ghost", "Ghost peer", "ghost", lambda *a: None,
                requires=("surely_no_such_package_sain",))
    monkeypatch.setattr(_runner, "ROWS", [*_runner.ROWS, ghost])
    report = _runner.run_benchmark(data_dir, tmp_path / "out", seeds=[0], datasets=["movielens"],
                                   models=["ghost", "global-mean"], quick=True, plots=False,
                                   log=lambda *a: None)  # fmt: skip
    assert report["skipped"] == [{"dataset": "movielens", "row": "ghost",
                                  "reason": "not installed: surely_no_such_package_sain "
                                            "(pip install sklearn-sain[bench])"}]  # fmt: skip
    assert "skipped `ghost`" in (tmp_path / "out" / "results.md").read_text()


def test_failing_row_is_recorded_and_the_run_goes_on(data_dir, tmp_path, monkeypatch):
    def boom(dataset, seed, ctx):
        raise RuntimeError("diverged")

    monkeypatch.setattr(_runner, "ROWS", [Row("boom", "Boom", "x", boom), *_runner.ROWS])
    report = _runner.run_benchmark(data_dir, tmp_path / "out", seeds=[0, 1], datasets=["movielens"],
                                   models=["boom", "bias"], quick=True, plots=False,
                                   log=lambda *a: None)  # fmt: skip
    assert [e["error"] for e in report["errors"]] == ["RuntimeError: diverged"]
    assert {r["row"] for r in report["results"]} == {"bias"}


# --------------------------------------------------------------------------
# SAIN rows


def test_sain_configs_are_overrides_of_the_defaults():
    configs = {c.key: c for c in _sain.SAIN_CONFIGS}
    assert configs["sain-default"].params == {}
    paper = configs["sain-paper"].params
    assert paper["top_k"] == 8 and paper["norm"] == "batch" and paper["max_epochs"] == 25
    defaults = SAINRegressor().get_params()
    for config in _sain.SAIN_CONFIGS:
        params = config.params if isinstance(config.params, dict) else {}
        assert set(params) <= set(defaults), config.key
        SAINRegressor(**params)._validate_params()
    assert len({c.key for c in _sain.SAIN_CONFIGS}) == len(_sain.SAIN_CONFIGS)


def _tiny_dataset(n=600, seed=0):
    from sklearn_sain.datasets import make_ratings

    X, y = make_ratings(n_users=40, n_items=30, n_ratings=n, random_state=seed)
    a, b = int(0.8 * n), int(0.9 * n)
    split = lambda lo, hi: (X.iloc[lo:hi].reset_index(drop=True), y[lo:hi])  # noqa: E731
    return _data.Dataset("tiny", "tiny", split(0, a), split(a, b), split(b, n),
                         ["age", "gender", "occupation"], ["genres", "year", "director"])


def test_benchmark_encoder_is_the_regressors_own_with_the_roles_named():
    dataset = _tiny_dataset()
    X, y = dataset.train
    model = SAINRegressor(max_epochs=1, device="cpu", random_state=0, choice_head=False).fit(X, y)
    ours = _sain._encoder(dataset)
    roles = {"user_features", "item_features"}
    without_roles = lambda encoder: {k: v for k, v in encoder.get_params().items()  # noqa: E731
                                     if k not in roles}  # fmt: skip
    assert without_roles(ours) == without_roles(model.encoder_)
    assert ours.user_features == dataset.user_features
    assert ours.item_features == dataset.item_features


def test_effective_params_and_shared_fits():
    dataset = _tiny_dataset()
    full = Context()
    params = _sain.effective_params({}, dataset, 3, full)
    assert "max_epochs" not in params  # the package default stays in force
    assert params["random_state"] == 3 and params["encoder"].user_features == dataset.user_features
    assert _sain.effective_params({}, dataset, 0, Context(quick=True))["max_epochs"] == 2
    capped = _sain.effective_params({"max_epochs": 25}, dataset, 0, Context(max_epochs=4))
    assert capped["max_epochs"] == 4

    ctx = Context(quick=True, device="cpu")
    default_norm = SAINRegressor().norm
    first = _sain.fit_sain({}, dataset, 0, ctx)
    same = _sain.fit_sain({"norm": default_norm}, dataset, 0, ctx)
    assert same.info.get("shared_fit") and not first.info.get("shared_fit")
    other = _sain.fit_sain({"loss": "mse" if SAINRegressor().loss != "mse" else "rmse"},
                           dataset, 0, ctx)  # fmt: skip
    assert not other.info.get("shared_fit")
    X_test = dataset.test[0]
    np.testing.assert_array_equal(first.predict(X_test), same.predict(X_test))


def test_seed_ensemble_averages_member_predictions():
    dataset = _tiny_dataset()
    ctx = Context(quick=True, device="cpu")
    ensemble = _sain.fit_seed_ensemble(dataset, 2, ctx, size=3)
    assert ensemble.info["member_seeds"] == [2000, 2001, 2002]
    X_test = dataset.test[0]
    members = [_sain.fit_sain({}, dataset, s, ctx) for s in ensemble.info["member_seeds"]]
    assert all(m.info.get("shared_fit") for m in members)  # the ensemble's own fits, reused
    expected = np.mean([m.predict(X_test) for m in members], axis=0)
    np.testing.assert_allclose(ensemble.predict(X_test), expected)
    assert not np.allclose(members[0].predict(X_test), members[1].predict(X_test))
    assert ensemble.fit_seconds == pytest.approx(sum(m.fit_seconds for m in members))


def test_tuned_ensemble_members_share_the_embed_dim_chosen_by_the_first():
    dataset = _tiny_dataset()
    ctx = Context(quick=True, device="cpu")
    ensemble = _sain.fit_seed_ensemble(dataset, 0, ctx, size=2, tune_embed_dim=True)
    chosen = _sain.fit_tuned_embed_dim(dataset, 0, ctx).info["selected"]
    assert ensemble.info["selected"] == chosen and len(ensemble.info["grid"]) == 3
    members = [_sain.fit_sain(chosen, dataset, s, ctx) for s in (0, 1)]
    assert all(m.info.get("shared_fit") for m in members)
    X_test = dataset.test[0]
    expected = np.mean([m.predict(X_test) for m in members], axis=0)
    np.testing.assert_allclose(ensemble.predict(X_test), expected)


def test_tuned_row_keeps_the_embed_dim_that_validates_best():
    dataset = _tiny_dataset()
    ctx = Context(quick=True, device="cpu")
    tuned = _sain.fit_tuned_embed_dim(dataset, 1, ctx, grid=(4, 8))
    X_val, y_val = dataset.validation
    candidates = {d: _sain.fit_sain({"embed_dim": d}, dataset, 1, ctx) for d in (4, 8)}
    scores = {d: rmse(y_val, f.predict(X_val)) for d, f in candidates.items()}
    chosen = min(scores, key=scores.get)
    assert tuned.info["selected"] == {"embed_dim": chosen}
    assert [g["embed_dim"] for g in tuned.info["grid"]] == [4, 8]
    validation = [g["validation_rmse"] for g in tuned.info["grid"]]
    assert validation == pytest.approx([scores[4], scores[8]])
    np.testing.assert_array_equal(tuned.predict(dataset.test[0]),
                                  candidates[chosen].predict(dataset.test[0]))
    assert tuned.info["params"]["embed_dim"] == chosen and "shared_fit" not in tuned.info


# --------------------------------------------------------------------------
# Feature codings and helpers


def test_sparse_design_one_hot_and_normalised_multi_hot():
    train = pd.DataFrame({"user_id": [1, 2, 1], "genres": [["a", "b"], ["b"], []],
                          "city": [3.0, np.nan, 4.0]})  # fmt: skip
    design = SparseDesign(["user_id", "genres", "city"]).fit(train)
    assert design.group_shapes_ == [2, 2, 2]
    dense = design.transform(train).toarray()
    np.testing.assert_allclose(dense, [[1, 0, 0.5, 0.5, 1, 0], [0, 1, 0, 1, 0, 0],
                                       [1, 0, 0, 0, 0, 1]])  # fmt: skip
    unseen = pd.DataFrame({"user_id": [9], "genres": [["b", "zzz"]], "city": [3.0]})
    np.testing.assert_allclose(design.transform(unseen).toarray(), [[0, 0, 0, 1, 1, 0]])


def test_integer_coding_pads_multi_valued_fields():
    train = pd.DataFrame({"user_id": ["u1", "u2"], "genres": [["x", "y", "z"], ["y"]]})
    coding = IntegerCoding(["user_id", "genres"]).fit(train)
    out = coding.transform(pd.DataFrame({"user_id": ["u2", "new"], "genres": [["z", "q"], []]}))
    np.testing.assert_array_equal(out["user_id"], [2, 0])
    np.testing.assert_array_equal(out["genres"], [[3, 0, 0], [0, 0, 0]])
    coder = coding.coders_["genres"]
    assert coder.multi_ and coder.width_ == 3 and coder.size_ == 4
    assert not FieldCoder("c").fit(pd.Series([1.0, np.nan])).multi_


def test_early_stopping_loop_restores_best_state():
    scores_seen = iter([1.0, 0.8, 0.9, 0.85, 0.95, 0.7])
    state = {"epoch": 0}

    def train():
        state["epoch"] += 1

    scores, best = early_stopping_loop(train, lambda: next(scores_seen), lambda: dict(state),
                                       state.update, max_epochs=6, patience=3)
    assert scores == [1.0, 0.8, 0.9, 0.85, 0.95] and best == 2 and state["epoch"] == 2


def test_summarise_mean_and_std_over_seeds():
    report = {
        "datasets": {"d": {}},
        "rows": [{"key": "r", "label": "R", "family": "f", "paper": None}],
        "results": [
            {"dataset": "d", "row": "r", "seed": s, "test_rmse": v, "test_mae": v / 2,
             "validation_rmse": v, "fit_seconds": 1.0, "info": {"best_epoch": 2, "epochs_run": 4}}
            for s, v in enumerate([0.9, 1.1])
        ],
    }  # fmt: skip
    entry = summarise(report)["d"]["r"]
    assert entry["test_rmse"]["mean"] == pytest.approx(1.0)
    assert entry["test_rmse"]["std"] == pytest.approx(np.std([0.9, 1.1], ddof=1))
    assert entry["best_epoch"] == [2, 2] and entry["seeds"] == [0, 1]


def test_ncf_row_without_peer_packages():
    dataset = _tiny_dataset()
    (row,) = [r for r in _runner.ROWS if r.key == "ncf"]
    fitted = row.run(dataset, 0, Context(quick=True))
    pred = fitted.predict(dataset.test[0])
    assert pred.shape == (len(dataset.test[1]),) and np.isfinite(pred).all()
    assert 1 <= fitted.info["epochs_run"] <= 2


def test_movielens_kg_dataset(tmp_path):
    root = tmp_path / "data"
    _write_sain_layout(root / "sain" / "ml-100k-r")
    kg = root / "ml-100k-kg"
    kg.mkdir(parents=True)
    (kg / "ml-100k.link").write_text("item_id:token\tentity_id:token\n1\tm.a\n2\tm.b\n")
    rows = [("m.a", "film.film.actor", "m.x"), ("m.a", "film.film.actor", "m.y"),
            ("m.b", "film.film.actor", "m.y"), ("m.a", "film.film.directed_by", "m.d"),
            ("m.b", "film.film.genre", "m.g")]  # fmt: skip
    (kg / "ml-100k.kg").write_text("head_id:token\trelation_id:token\ttail_id:token\n"
                                   + "".join("\t".join(r) + "\n" for r in rows))  # fmt: skip
    found, missing = _data.find_datasets(root, ["movielens-kg", "yelp"])
    assert missing == {"yelp": f"its files were not found under {root}"}
    (dataset,) = found
    X = dataset.train[0]
    by_item = X.drop_duplicates("item_id").set_index("item_id")
    assert by_item.loc[1, "actor"] == ["m.y", "m.x"]  # most prolific actor first
    assert by_item.loc[2, "actor"] == ["m.y"] and by_item.loc[2, "director"] == []
    assert by_item.loc[1, "director"] == ["m.d"]
    assert all(a == [] for a in X.loc[X["item_id"] > 2, "actor"])


# --------------------------------------------------------------------------
# Peer runners: only where the peer is installed


def _check_peer(key, n=600):
    dataset = _tiny_dataset(n)
    (row,) = [r for r in _runner.ROWS if r.key == key]
    fitted = row.run(dataset, 0, Context(quick=True, device="cpu"))
    pred = fitted.predict(dataset.test[0])
    assert pred.shape == (len(dataset.test[1]),) and np.isfinite(pred).all()
    assert fitted.fit_seconds >= 0
    return fitted


@pytest.mark.parametrize("key", ["svd", "svd-tuned"])
def test_surprise_rows(key):
    pytest.importorskip("surprise")
    fitted = _check_peer(key)
    if key == "svd-tuned":
        assert fitted.info["selected"] and len(fitted.info["grid"]) == 2


@pytest.mark.parametrize("key", ["myfm-ids", "myfm-side", "myfm-side-implicit"])
def test_myfm_rows(key):
    from sain_bench._myfm import import_myfm

    try:
        import_myfm()
    except ImportError:
        pytest.skip("myfm is not installed")
    fitted = _check_peer(key)
    assert fitted.info["n_columns"] > (0 if key == "myfm-ids" else 70)


def test_implicit_relations_are_normalised_training_links():
    from sain_bench._myfm import ImplicitRelations

    X = pd.DataFrame({"user_id": ["a", "a", "b", "a"], "item_id": ["x", "y", "x", "x"]})
    relations = ImplicitRelations().fit(X)
    # user codes: a=1, b=2; item codes x=1, y=2; code 0 (unknown) has no column
    rated, raters = relations.rated_.toarray(), relations.raters_.toarray()
    s = 1 / np.sqrt(2)
    np.testing.assert_allclose(rated, [[0, 0], [s, s], [1, 0]])  # a rated x (twice) and y
    np.testing.assert_allclose(raters, [[0, 0], [s, s], [1, 0]])  # x rated by a and b, y by a
    assert relations.group_shapes_ == [2, 2]
    users, items = relations._codes(pd.DataFrame({"user_id": ["b", "new"], "item_id": ["y", "x"]}))
    assert users.tolist() == [2, 0] and items.tolist() == [2, 1]


@pytest.mark.parametrize("key", ["nfm", "xdeepfm", "autoint"])
def test_deepctr_rows(key):
    pytest.importorskip("deepctr_torch")
    fitted = _check_peer(key, n=400)
    assert 1 <= fitted.info["best_epoch"] <= fitted.info["epochs_run"] <= 2


def test_merge_reports_of_runs_side_by_side(data_dir, tmp_path):
    for name in ["movielens", "yelp"]:
        main(["--data-dir", str(data_dir), "--out", str(tmp_path / name), "--quick",
              "--seeds", "0", "--datasets", name, "--no-plots", "--models", "bias", "global-mean"])
    # a rerun of one row wins over the earlier record
    main(["--data-dir", str(data_dir), "--out", str(tmp_path / "again"), "--quick",
          "--seeds", "0", "--datasets", "yelp", "--no-plots", "--models", "bias"])
    files = [str(tmp_path / n / "results.json") for n in ["movielens", "yelp", "again"]]
    assert main(["--merge", *files, "--out", str(tmp_path / "all"), "--no-plots"]) == 0
    merged = json.loads((tmp_path / "all" / "results.json").read_text())
    assert set(merged["datasets"]) == {"movielens", "yelp"}
    assert len(merged["results"]) == 4 and len(merged["merged_from"]) == 3
    assert [r["key"] for r in merged["rows"]] == ["global-mean", "bias"]  # table order
    md = (tmp_path / "all" / "results.md").read_text()
    assert "Merged from 3 runs" in md and "## Yelp" in md and "## MovieLens" in md


def test_select_defaults_script_prints_validation_only(data_dir, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "select_defaults.py"
    spec = importlib.util.spec_from_file_location("select_defaults", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.parse_config("bias_init=zeros,learning_rate=5e-4") == {
        "bias_init": "zeros", "learning_rate": 5e-4}
    for dataset in ("movielens", "yelp"):
        assert script.main(["--data-dir", str(data_dir), "--dataset", dataset, "--config",
                            "max_epochs=1", "max_epochs=1,bias_init=zeros"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert all("best valid RMSE" in line and "test" not in line for line in lines)
    assert lines[2].startswith("yelp max_epochs=1 ")
    with pytest.raises(SystemExit):
        script.main(["--data-dir", str(data_dir), "--dataset", "movielens-kg"])


# --------------------------------------------------------------------------
# Protocols: cold start and the sparse-user slice


def _splits(dataset):
    return (dataset.train, dataset.validation, dataset.test)


def _rating_triples(dataset):
    return sorted((u, i, float(r)) for X, y in _splits(dataset)
                  for u, i, r in zip(X["user_id"], X["item_id"], y))  # fmt: skip


@pytest.mark.parametrize("protocol", ["new-items", "new-users"])
def test_cold_protocol_holds_out_whole_ids_reproducibly(protocol):
    dataset = _tiny_dataset()
    cold = _data.cold_protocol(dataset, protocol)
    column = _data.COLD_SIDE[protocol]
    train, validation, test = (set(X[column]) for X, _ in _splits(cold))
    assert not train & test and not train & validation and not validation & test
    every = set(train | validation | test)
    assert len(test) == round(0.1 * len(every))
    assert len(validation) == round(0.1 / 0.9 * (len(every) - len(test)))
    # the same ratings, each in exactly one split, with its own features
    assert _rating_triples(cold) == _rating_triples(dataset)
    assert len(cold.test[0].columns) == len(dataset.test[0].columns)
    again = _data.cold_protocol(dataset, protocol)
    for (X_a, y_a), (X_b, y_b) in zip(_splits(cold), _splits(again)):
        pd.testing.assert_frame_equal(X_a, X_b)
        np.testing.assert_array_equal(y_a, y_b)
    assert set(_data.cold_protocol(dataset, protocol, seed=2).test[0][column]) != test
    # the description says which protocol and that every test row is cold
    described = cold.describe()
    side = "item" if column == "item_id" else "user"
    assert described["protocol"] == protocol == cold.protocol and dataset.protocol == "warm"
    assert described[f"test_rows_unseen_{side}"] == described["n_test"] == len(cold.test[1])
    assert described["test_rows_sparse_user"] is None and described["paper_column"] is None


def test_cold_protocol_warm_is_the_dataset_and_unknown_names_fail():
    dataset = _tiny_dataset()
    assert _data.cold_protocol(dataset, "warm") is dataset
    with pytest.raises(ValueError, match="Unknown protocol"):
        _data.cold_protocol(dataset, "new-things")
    assert _data.seen_sides("warm") == ["user_id", "item_id"]
    assert _data.seen_sides("new-items") == ["user_id"]
    assert _data.seen_sides("new-users") == ["item_id"]


def test_only_id_only_rows_are_not_applicable_to_cold_protocols(capsys):
    assert {r.key for r in _runner.ROWS if not r.cold} == {"svd", "svd-tuned", "myfm-ids", "ncf"}
    (ncf,) = [r for r in _runner.ROWS if r.key == "ncf"]
    assert ncf.not_applicable("warm") is None
    assert ncf.not_applicable("new-items") == ID_ONLY_REASON
    (sain,) = [r for r in _runner.ROWS if r.key == "sain-default"]
    assert sain.not_applicable("new-users") is None
    assert main(["--list"]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "warm only" in listed["ncf"] and "warm only" not in listed["myfm-side"]


def test_benchmark_new_items_protocol_end_to_end(data_dir, tmp_path):
    out = tmp_path / "out"
    cold_rows = ["global-mean", "bias", "known-side-mean", "linear-content", "sain-default"]
    id_only = ["svd", "myfm-ids", "ncf"]  # listed whether or not their package is installed
    code = main(["--data-dir", str(data_dir), "--out", str(out), "--quick",
                 "--seeds", "0", "--datasets", "movielens", "yelp", "--no-plots",
                 "--protocol", "new-items", "--models", *cold_rows, *id_only])  # fmt: skip
    assert code == 0
    report = json.loads((out / "results.json").read_text())
    assert report["options"]["protocol"] == "new-items" and report["errors"] == []
    assert "new-items" in report["protocol"]
    for described in report["datasets"].values():
        assert described["protocol"] == "new-items" and described["n_test"] > 0
        assert described["test_rows_unseen_item"] == described["n_test"]
    results = pd.DataFrame(report["results"])
    assert results.groupby("dataset")["row"].agg(set).to_dict() == {
        "movielens": set(cold_rows), "yelp": set(cold_rows)}
    assert np.isfinite(results[["validation_rmse", "test_rmse", "test_mae"]]).all().all()
    assert results["test_rmse_sparse_users"].isna().all()  # a warm-only slice
    assert (results["protocol"] == "new-items").all()
    skipped = {(s["dataset"], s["row"]): s for s in report["skipped"]}
    assert set(skipped) == {(d, r) for d in ("movielens", "yelp") for r in id_only}
    assert all(s["reason"] == ID_ONLY_REASON and s["not_applicable"] == "new-items"
               for s in skipped.values())  # fmt: skip

    md = (out / "results.md").read_text()
    assert md.startswith("# SAIN benchmark (new-items protocol)")
    assert f"- not applicable `ncf` (new-items protocol): {ID_ONLY_REASON}" in md
    assert "Linear content model" in md and "Known-side mean" in md
    # no warm-split figures beside cold results: no paper column, no sparse-user column
    tables = md.split("## The paper's Table 2")[0]
    assert "Paper RMSE" not in tables and "Sparse-user RMSE" not in tables


def test_cold_split_comes_before_the_quick_subsample(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(_data, "QUICK_TRAIN_ROWS", 50)
    monkeypatch.setattr(_data, "QUICK_EVAL_ROWS", 10)
    report = _runner.run_benchmark(data_dir, tmp_path / "out", datasets=["movielens"],
                                   models=["global-mean"], quick=True, plots=False,
                                   protocol="new-users", log=lambda *a: None)  # fmt: skip
    described = report["datasets"]["movielens"]
    # the whole data was re-split, then cut: full-size quick splits, every test user new
    assert (described["n_train"], described["n_validation"], described["n_test"]) == (50, 10, 10)
    assert described["test_rows_unseen_user"] == 10


def test_merge_refuses_runs_of_different_protocols(data_dir, tmp_path):
    files = []
    for protocol in ["warm", "new-users", "new-users"]:
        out = tmp_path / f"{protocol}-{len(files)}"
        main(["--data-dir", str(data_dir), "--out", str(out), "--quick", "--seeds",
              "0", "--datasets", "movielens", "--no-plots", "--models", "global-mean",
              "--protocol", protocol])  # fmt: skip
        files.append(str(out / "results.json"))
    with pytest.raises(ValueError, match="different protocols"):
        main(["--merge", *files, "--out", str(tmp_path / "all"), "--no-plots"])
    assert not (tmp_path / "all" / "results.json").exists()
    assert main(["--merge", *files[1:], "--out", str(tmp_path / "cold"),
                 "--no-plots"]) == 0  # fmt: skip
    merged = json.loads((tmp_path / "cold" / "results.json").read_text())
    assert merged["options"]["protocol"] == "new-users"
    assert (tmp_path / "cold" / "results.md").read_text().startswith(
        "# SAIN benchmark (new-users protocol)")


def test_sparse_user_rmse_of_the_warm_protocol(data_dir, tmp_path):
    report = _runner.run_benchmark(data_dir, tmp_path / "out", datasets=["movielens", "yelp"],
                                   models=["global-mean"], quick=True, plots=False,
                                   log=lambda *a: None)  # fmt: skip
    (dataset,) = _data.find_datasets(data_dir, ["movielens"])[0]
    (X_train, y_train), (X_test, y_test) = dataset.train, dataset.test
    counts = X_train.groupby("user_id").size()
    sparse = np.array([counts.get(u, 0) <= 5 for u in X_test["user_id"]])
    assert 0 < sparse.sum() < len(sparse)
    described = report["datasets"]["movielens"]
    assert described["test_rows_sparse_user"] == sparse.sum()
    (record,) = [r for r in report["results"] if r["dataset"] == "movielens"]
    expected = rmse(y_test[sparse], np.full(sparse.sum(), np.mean(y_train)))
    assert record["test_rmse_sparse_users"] == pytest.approx(expected)
    assert record["test_rmse_sparse_users"] != pytest.approx(record["test_rmse"])
    # the synthetic Yelp test split has no sparse user: no figure, no column
    (yelp,) = [r for r in report["results"] if r["dataset"] == "yelp"]
    assert report["datasets"]["yelp"]["test_rows_sparse_user"] == 0
    assert yelp["test_rmse_sparse_users"] is None
    entry = report["summary"]["movielens"]["global-mean"]
    assert entry["test_rmse_sparse_users"]["mean"] == pytest.approx(expected)
    assert "test_rmse_sparse_users" not in report["summary"]["yelp"]["global-mean"]
    md = (tmp_path / "out" / "results.md").read_text()
    movielens_part, yelp_part = md.split("## MovieLens")[1].split("## Yelp")
    assert "Sparse-user RMSE" in movielens_part and f"over the {sparse.sum()} test rows" in md
    assert f"| {expected:.4f} |" in movielens_part
    assert "Sparse-user RMSE" not in yelp_part
    assert "Sparse-user RMSE" in (tmp_path / "out" / "results.rst").read_text()


# The new reference rows


def _content_dataset(n_users=60, n_items=80, n=2400, seed=0):
    """Ratings = user bias + an effect of the item's genre and tags + noise."""
    rng = np.random.RandomState(seed)
    genre = rng.choice(["a", "b", "c"], n_items)
    tags = [list(rng.choice(["x", "y", "z"], rng.randint(0, 3), replace=False))
            for _ in range(n_items)]  # fmt: skip
    age = rng.randint(0, 3, n_users)
    user_bias = rng.normal(0, 0.5, n_users)
    users, items = rng.randint(0, n_users, n), rng.randint(0, n_items, n)
    effect = np.array([{"a": 1.0, "b": -1.0, "c": 0.0}[genre[i]] + 0.5 * ("x" in tags[i])
                       for i in items])  # fmt: skip
    y = 3.0 + user_bias[users] + effect + 0.3 * rng.randn(n)
    tag_cells = np.empty(n, dtype=object)
    tag_cells[:] = [tags[i] for i in items]
    X = pd.DataFrame({"user_id": users, "item_id": items, "age": age[users],
                      "genre": genre[items], "tags": tag_cells})  # fmt: skip
    a, b = int(0.8 * n), int(0.9 * n)
    split = lambda lo, hi: (X.iloc[lo:hi].reset_index(drop=True), y[lo:hi])  # noqa: E731
    return _data.Dataset("content", "content", split(0, a), split(a, b), split(b, n),
                         ["age"], ["genre", "tags"])


def _run_row(key, dataset, **context):
    (row,) = [r for r in _runner.ROWS if r.key == key]
    return row.run(dataset, 0, Context(quick=True, device="cpu", **context))


def _renamed(X, column, offset=10_000):
    """``X`` whose ids in ``column`` are replaced by other ids unseen in training."""
    return X.assign(**{column: X[column] + offset})


def test_linear_content_predicts_new_items_from_their_features():
    cold = _data.cold_protocol(_content_dataset(), "new-items")
    X_test, y_test = cold.test
    linear = _run_row("linear-content", cold)
    known = _run_row("known-side-mean", cold)
    predicted = linear.predict(X_test)
    assert np.isfinite(predicted).all()
    assert rmse(y_test, predicted) < rmse(y_test, known.predict(X_test)) - 0.3
    assert linear.info["selected"]["alpha"] in (1.0, 10.0, 100.0, 1000.0)
    assert [g["alpha"] for g in linear.info["grid"]] == [1.0, 10.0, 100.0, 1000.0]
    # the unseen item id itself plays no part; its features do
    np.testing.assert_allclose(linear.predict(_renamed(X_test, "item_id")), predicted)
    flipped = X_test.assign(genre=X_test["genre"].map({"a": "b", "b": "a", "c": "c"}))
    assert not np.allclose(linear.predict(flipped), predicted)


def test_linear_content_uses_both_biases_in_warm():
    dataset = _content_dataset()
    X_test = dataset.test[0]
    linear = _run_row("linear-content", dataset)
    assert linear.info["biases"] == ["user_id", "item_id"]
    predicted = linear.predict(X_test)
    assert np.isfinite(predicted).all()
    assert not np.allclose(linear.predict(_renamed(X_test, "item_id")), predicted)
    assert not np.allclose(linear.predict(_renamed(X_test, "user_id")), predicted)


@pytest.mark.parametrize("protocol, column", [("warm", "user_id"), ("new-items", "user_id"),
                                              ("new-users", "item_id")])  # fmt: skip
def test_known_side_mean(protocol, column):
    dataset = _data.cold_protocol(_content_dataset(), protocol)
    (X_train, y_train), X_test = dataset.train, dataset.test[0]
    fitted = _run_row("known-side-mean", dataset)
    assert fitted.info["side"] == column
    predicted = fitted.predict(X_test)
    expected = [np.mean(y_train[X_train[column].to_numpy() == v]) for v in X_test[column]]
    np.testing.assert_allclose(predicted, expected)
    # both ids unseen: the global mean
    unknown = _renamed(_renamed(X_test, "user_id"), "item_id")
    np.testing.assert_allclose(fitted.predict(unknown), np.mean(y_train))


def test_bias_and_global_mean_answer_for_new_users():
    cold = _data.cold_protocol(_content_dataset(), "new-users")
    for key in ["global-mean", "bias", "linear-content"]:
        predicted = _run_row(key, cold).predict(cold.test[0])
        assert np.isfinite(predicted).all(), key


def _check_unseen_ids(key, n=600):
    """``key`` fitted on the new-items split: finite test predictions, blind to the new id."""
    cold = _data.cold_protocol(_tiny_dataset(n), "new-items")
    X_test = cold.test[0]
    fitted = _run_row(key, cold)
    predicted = fitted.predict(X_test)
    assert predicted.shape == (len(X_test),) and np.isfinite(predicted).all()
    # an unseen id is "no id" (an empty one-hot block, the unknown code): which one is moot
    renamed = X_test.assign(item_id=X_test["item_id"].astype(str) + "-new")
    np.testing.assert_allclose(fitted.predict(renamed), predicted, rtol=1e-5, atol=1e-6)
    return fitted


@pytest.mark.parametrize("key, param, value", [("sain-default", None, None),
                                               ("sain-id-dropout", "id_dropout", 0.2),
                                               ("sain-no-cold-loss", "cold_start_weight", 0.0),
                                               ("sain-no-content-bias", "content_bias", False)])
def test_sain_rows_answer_for_unseen_items(key, param, value):
    fitted = _check_unseen_ids(key)
    if param is not None:  # the ablation reaches the estimator, whatever the defaults
        assert fitted.info["all_params"][param] == value


@pytest.mark.parametrize("key", ["myfm-side", "myfm-side-implicit"])
def test_myfm_side_rows_answer_for_unseen_items(key):
    from sain_bench._myfm import import_myfm

    try:
        import_myfm()
    except ImportError:
        pytest.skip("myfm is not installed")
    _check_unseen_ids(key)


@pytest.mark.parametrize("key", ["nfm", "autoint"])
def test_deepctr_rows_answer_for_unseen_items(key):
    pytest.importorskip("deepctr_torch")
    _check_unseen_ids(key, n=400)

"""Tests of the benchmark runner (sklearn_sain._benchmark) on tiny synthetic files.

No shared data and no peer package is needed: the end-to-end tests run the
global-mean, bias-only, NCF and SAIN rows; each peer's runner is tested only
where its package is installed.
"""

import json

import numpy as np
import pandas as pd
import pytest

from sklearn_sain import SAINRegressor
from sklearn_sain._benchmark import _data, _runner, _sain
from sklearn_sain._benchmark._common import Context, Row, early_stopping_loop, rmse
from sklearn_sain._benchmark._features import FieldCoder, IntegerCoding, SparseDesign
from sklearn_sain._benchmark._report import summarise
from sklearn_sain._cli import main

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

    threads = torch.get_num_threads()
    out = tmp_path / "out"
    models = ["global-mean", "bias", "sain-default", "sain-paper", "sain-norm-layer",
              "sain-topk-1", "sain-topk-all"]  # fmt: skip
    code = main(["benchmark", "--data-dir", str(data_dir), "--out", str(out), "--quick",
                 "--seeds", "0", "1", "--datasets", "movielens", "yelp", "--no-plots",
                 "--models", *models])  # fmt: skip
    assert code == 0
    assert torch.get_num_threads() == threads  # the run's thread setting does not leak
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
    main(["benchmark", "--data-dir", str(data_dir), "--out", str(out), "--quick", "--seeds", "0",
          "--datasets", "movielens", "--models", "sain-default", "sain-topk-2", "sain-topk-all"])
    for name in ["figure4_topk_movielens.png", "curves_movielens.png"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert name in (out / "results.md").read_text()


def test_benchmark_list_and_argument_errors(capsys, tmp_path):
    assert main(["benchmark", "--list"]) == 0
    listed = capsys.readouterr().out
    for key in ["sain-paper", "sain-default", "svd-tuned", "myfm-side", "autoint", "ncf",
                "sain-topk-all"]:  # fmt: skip
        assert key in listed
    with pytest.raises(SystemExit, match="--data-dir"):
        main(["benchmark"])
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
    from sklearn_sain._benchmark._myfm import import_myfm

    try:
        import_myfm()
    except ImportError:
        pytest.skip("myfm is not installed")
    fitted = _check_peer(key)
    assert fitted.info["n_columns"] > (0 if key == "myfm-ids" else 70)


def test_implicit_relations_are_normalised_training_links():
    from sklearn_sain._benchmark._myfm import ImplicitRelations

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
        main(["benchmark", "--data-dir", str(data_dir), "--out", str(tmp_path / name), "--quick",
              "--seeds", "0", "--datasets", name, "--no-plots", "--models", "bias", "global-mean"])
    # a rerun of one row wins over the earlier record
    main(["benchmark", "--data-dir", str(data_dir), "--out", str(tmp_path / "again"), "--quick",
          "--seeds", "0", "--datasets", "yelp", "--no-plots", "--models", "bias"])
    files = [str(tmp_path / n / "results.json") for n in ["movielens", "yelp", "again"]]
    assert main(["benchmark", "--merge", *files, "--out", str(tmp_path / "all"), "--no-plots"]) == 0
    merged = json.loads((tmp_path / "all" / "results.json").read_text())
    assert set(merged["datasets"]) == {"movielens", "yelp"}
    assert len(merged["results"]) == 4 and len(merged["merged_from"]) == 3
    assert [r["key"] for r in merged["rows"]] == ["global-mean", "bias"]  # table order
    md = (tmp_path / "all" / "results.md").read_text()
    assert "Merged from 3 runs" in md and "## Yelp" in md and "## MovieLens" in md


def test_select_defaults_script_prints_validation_only(data_dir, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "select_defaults.py"
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

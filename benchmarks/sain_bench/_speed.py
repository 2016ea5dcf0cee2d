"""Speed and scale: ``python benchmarks/run.py --speed --data-dir DIR``.

Every figure is measured in the same run, so ratios compare like with like on
whatever the machine is doing at the time:

- the headline, time to accuracy: ``SAINRegressor().fit`` at the package
  defaults on the paper's MovieLens training split (encoding, the ridge start
  and the epochs up to early stopping on the validation split included), its
  wall seconds and test RMSE, beside myFM (ids + side features) and
  DeepCTR-Torch AutoInt fitted the way the accuracy benchmark fits them
  (AutoInt to its best validation epoch) on the same rows;
- one training epoch of SAIN (package defaults, batch 128) on the paper's
  MovieLens training split: a fit of ``--speed-repeats`` + 1 epochs less a fit
  of one, over ``--speed-repeats`` (set-up cancels out), and the same for the
  paper's network;
- one epoch of DeepCTR-Torch AutoInt on the same rows and fields (batch 128,
  as SAIN, and 256, its setting in the accuracy benchmark), and the ratios;
- prediction throughput of ``SAINRegressor.predict`` on encoded rows (a
  regressor fitted on a fitted encoder's output) and on raw rows (encoding
  included);
- encoding 1M rows of :func:`~sklearn_sain.datasets.make_ratings` (a list
  column of genres) with :class:`~sklearn_sain.SAINEncoder`;
- with CUDA: the epoch at batch 128 and 1024 with the rows on the GPU, and
  GPU prediction throughput;
- the scale curve: ``SAINRegressor`` fitted on 1M, 3M and 10M ``make_ratings``
  rows, each in a fresh process (seconds and peak resident memory).

Without ``--data-dir`` (or without the MovieLens files) synthetic ratings
stand in for MovieLens, and the report says so. Everything is timed through
the public estimator, so that a default of ``fit`` can never be missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SCALE_SIZES = (1_000_000, 3_000_000, 10_000_000)
# make_ratings users and items for the scale curve (about MovieLens-1M): fixed,
# so that a step costs the same at every size and time should grow linearly
SCALE_USERS, SCALE_ITEMS = 6040, 3706


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024**2  # Linux: KiB


def _reset_peak_rss() -> bool:
    """Restart the kernel's peak-RSS counter of this process (Linux), to time one phase."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**2
    except OSError:
        return None


def _sync(device) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize(device)


def _encoder(dataset):
    """The encoder to fit with: the regressor's own (None) unless the dataset names the roles.

    With roles named it is the regressor's default encoder (``SAINRegressor().fit`` clones
    it from ``encoder=None``) with the roles set.
    """
    from sain_bench._sain import _encoder as named_encoder

    return None if dataset is None else named_encoder(dataset)


def _regressor(encoder, device, **params):
    """``SAINRegressor`` at the package defaults but ``params``, training every epoch on every row.

    No early stopping (no validation split) and no choice head: what is timed is the rating
    path's epochs, as ``fit`` runs them at the defaults. ``n_threads=None`` keeps the thread
    count the benchmark pins (``--threads``) instead of the estimator's own policy.
    """
    from sklearn.base import clone

    from sklearn_sain import SAINRegressor

    return SAINRegressor(encoder=None if encoder is None else clone(encoder), device=device,
                         early_stopping=False, choice_head=False, random_state=0,
                         n_threads=None, **params)  # fmt: skip


def time_epochs(X, y, *, encoder=None, repeats: int, device="cpu", **params) -> float:
    """Seconds of a training epoch of ``SAINRegressor(**params)`` (defaults otherwise) on X, y.

    Only the public estimator is timed, so a default of ``fit`` cannot be missed: a fit of
    one epoch and a fit of ``repeats + 1`` epochs, in the same process after a warm-up, and
    their difference over ``repeats`` is the epoch (encoding, the ridge start and set-up cancel
    out): the mean epoch.
    """
    warm_up = min(len(X), 2000)
    _regressor(encoder, device, max_epochs=1, **params).fit(X.iloc[:warm_up], y[:warm_up])
    seconds = {}
    for n_epochs in (1, repeats + 1):
        model = _regressor(encoder, device, max_epochs=n_epochs, **params)
        _sync(device)
        started = time.perf_counter()
        model.fit(X, y)
        _sync(device)
        seconds[n_epochs] = time.perf_counter() - started
    return max(seconds[repeats + 1] - seconds[1], 0.0) / repeats


def paper_network_params() -> dict:
    """The paper's network (no implicit feedback, no cold-start parts), as the ``sain-paper`` row."""
    from sain_bench._sain import PAPER_CONFIGURATION

    return {k: v for k, v in PAPER_CONFIGURATION.items() if k != "max_epochs"}


def prediction_models(X, y, *, encoder=None, device="cpu"):
    """Two regressors fitted for one epoch: on the raw rows, and on those rows encoded.

    Returns ``(raw_model, encoded_model, encoded)``: the encoder the raw fit built (the
    package's default one), fitted, encodes the rows once, and the second regressor, fitted
    on its output, predicts encoded rows without encoding them.
    """
    raw_model = _regressor(encoder, device, max_epochs=1).fit(X, y)
    encoded = raw_model.encoder_.transform(X)
    return raw_model, _regressor(None, device, max_epochs=1).fit(encoded, y), encoded


def _copies(min_rows: int, n_rows: int) -> int:
    """How many copies of ``n_rows`` rows reach at least ``min_rows`` (at least one)."""
    return max(1, -(-min_rows // n_rows))


def _throughput(predict, warm_up, rows, n_rows: int, device) -> dict:
    """Rows per second of ``predict(rows)`` (``n_rows`` of them), after ``predict(warm_up)``."""
    predict(warm_up)
    _sync(device)
    started = time.perf_counter()
    scores = predict(rows)
    _sync(device)
    seconds = time.perf_counter() - started
    assert bool(np.isfinite(scores).all())
    return {"rows": n_rows, "seconds": seconds, "rows_per_second": n_rows / seconds}


def time_predict(model, rows, *, min_rows: int, device="cpu") -> dict:
    """Rows per second of ``model.predict`` on ``rows`` (raw or encoded) repeated to ``min_rows``."""
    import pandas as pd

    big = pd.concat([rows] * _copies(min_rows, len(rows)), ignore_index=True)
    return _throughput(model.predict, rows.head(1000), big, len(big), device)


def time_encoding(n_rows: int = 1_000_000, seed: int = 0) -> dict:
    """Seconds to fit and to apply :class:`SAINEncoder` on ``make_ratings`` rows (list genres)."""
    from sklearn_sain import SAINEncoder
    from sklearn_sain.datasets import make_ratings

    X, _ = make_ratings(n_users=SCALE_USERS, n_items=SCALE_ITEMS, n_ratings=n_rows,
                        random_state=seed)  # fmt: skip
    encoder = SAINEncoder()
    started = time.perf_counter()
    encoder.fit_transform(X)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    encoded = encoder.transform(X)
    transform_seconds = time.perf_counter() - started
    return {"rows": n_rows, "fit_transform_seconds": fit_seconds,
            "transform_seconds": transform_seconds, "columns": int(encoded.shape[1]),
            "list_columns": [c for c, multi in encoder.multi_valued_.items() if multi],
            }  # fmt: skip


def _autoint(X, y, features, *, batch_size: int, device="cpu", seed: int = 0):
    """A DeepCTR-Torch AutoInt on the rows and fields of X after a short warm-up fit.

    Returns ``(model, inputs, target)`` (inputs as DeepCTR takes them, the target
    centred), or None without deepctr-torch.
    """
    import importlib.util

    if importlib.util.find_spec("deepctr_torch") is None:
        return None
    from ._common import quiet
    from ._deepctr import _columns, _import_deepctr
    from ._features import IntegerCoding

    _import_deepctr()
    import torch
    from deepctr_torch.models import AutoInt

    coding = IntegerCoding(["user_id", "item_id", *features]).fit(X)
    columns = _columns(coding)
    torch.manual_seed(seed)
    model = AutoInt(columns, columns, task="regression", seed=seed, device=str(device))
    model.compile("adam", "mse")
    inputs = coding.transform(X)
    target = (np.asarray(y, dtype=np.float64) - np.mean(y)).astype(np.float32)
    with quiet():
        warm = min(len(target), 4 * batch_size)
        model.fit({k: v[:warm] for k, v in inputs.items()}, target[:warm], batch_size=batch_size,
                  epochs=1, verbose=0, shuffle=False)  # fmt: skip
    return model, inputs, target


def time_autoint_epoch(X, y, features, *, batch_size: int, device="cpu", seed: int = 0):
    """Seconds of one DeepCTR-Torch AutoInt epoch on the same rows and fields (None if absent)."""
    built = _autoint(X, y, features, batch_size=batch_size, device=device, seed=seed)
    if built is None:
        return None
    from ._common import quiet

    model, inputs, target = built
    with quiet():
        _sync(device)
        started = time.perf_counter()
        model.fit(inputs, target, batch_size=batch_size, epochs=1, verbose=0, shuffle=True)
        _sync(device)
    return time.perf_counter() - started


# as large as SAIN's prediction batch on a CPU, so that neither pays for small batches
AUTOINT_PREDICT_BATCH = 4096


def time_autoint_predict(X, y, features, *, min_rows: int, batch_size: int = AUTOINT_PREDICT_BATCH,
                         device="cpu", seed: int = 0):  # fmt: skip
    """Rows per second of AutoInt's ``predict`` on X's rows repeated to ``min_rows`` (None if absent)."""
    built = _autoint(X, y, features, batch_size=256, device=device, seed=seed)
    if built is None:
        return None
    model, inputs, _ = built
    copies = _copies(min_rows, len(X))
    big = {k: np.concatenate([v] * copies) for k, v in inputs.items()}
    warm_up = {k: v[:1000] for k, v in inputs.items()}
    return _throughput(lambda data: model.predict(data, batch_size=batch_size), warm_up, big,
                       copies * len(X), device)  # fmt: skip


def scale_point(n_rows: int, *, batch_size: int, max_epochs: int = 1, device="cpu",
                threads: int | None = 1, seed: int = 0) -> dict:  # fmt: skip
    """Fit ``SAINRegressor`` on ``n_rows`` synthetic ratings; seconds and memory.

    Run it in a fresh process (see :func:`run_scale_point`) so that the peak
    resident memory belongs to this fit alone.
    """
    from sklearn_sain import SAINRegressor
    from sklearn_sain.datasets import make_ratings

    started = time.perf_counter()
    X, y = make_ratings(n_users=SCALE_USERS, n_items=SCALE_ITEMS, n_ratings=n_rows,
                        multi_valued="list", random_state=seed)  # fmt: skip
    data_seconds = time.perf_counter() - started
    rss_before = _rss_mb()
    fit_peak_known = _reset_peak_rss()
    model = SAINRegressor(max_epochs=max_epochs, batch_size=batch_size, device=device,
                          n_threads=threads, random_state=seed)  # fmt: skip
    started = time.perf_counter()
    model.fit(X, y)
    fit_seconds = time.perf_counter() - started
    return {"rows": n_rows, "batch_size": batch_size, "epochs": int(model.n_iter_),
            "data_seconds": data_seconds, "fit_seconds": fit_seconds,
            "seconds_per_million_rows_per_epoch": fit_seconds / (n_rows / 1e6) / model.n_iter_,
            "rss_before_fit_mb": rss_before, "peak_rss_mb": _peak_rss_mb(),
            # the peak while fitting (data included), the figure the 4 GB budget is about
            "fit_peak_rss_mb": _status_mb("VmHWM") if fit_peak_known else None,
            "validation_rmse": float(model.validation_scores_[-1])
            if model.validation_scores_ else None}  # fmt: skip


def run_scale_point(n_rows: int, *, batch_size: int, max_epochs: int = 1, device="cpu",
                    threads: int | None = 1, timeout: float | None = None) -> dict:  # fmt: skip
    """:func:`scale_point` in a fresh Python process, for a clean peak-memory figure."""
    # the benchmarks folder (this package) and the checkout (sklearn_sain, when it is
    # not installed) on the child's path
    here = Path(__file__).resolve().parents[1]
    path = os.pathsep.join(filter(None, [str(here), str(here.parent),
                                         os.environ.get("PYTHONPATH")]))  # fmt: skip
    env = dict(os.environ, PYTHONPATH=path)
    command = [sys.executable, "-m", "sain_bench._speed", "--scale-point",
               str(n_rows), "--batch-size", str(batch_size), "--max-epochs", str(max_epochs),
               "--device", str(device), "--threads", str(threads or 0)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        return {"rows": n_rows, "error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(done.stdout.strip().splitlines()[-1])


# the rows of the accuracy benchmark that the time-to-accuracy table compares
TIME_TO_ACCURACY_ROWS = ("sain-default", "sain-batch-256", "myfm-side", "autoint")


def time_to_accuracy(dataset, *, device="cpu", seed: int = 0, quick: bool = False,
                     rows=TIME_TO_ACCURACY_ROWS, log=print) -> list[dict]:  # fmt: skip
    """Fit seconds and test RMSE of :data:`TIME_TO_ACCURACY_ROWS`, each fitted once as the
    accuracy benchmark fits it (validation for its own choices, test scored once)."""
    from ._common import Context, rmse
    from ._runner import select_rows

    ctx = Context(device=device, quick=quick)
    X_test, y_test = dataset.test
    figures = []
    for row in select_rows(list(rows)):
        missing = row.missing_packages()
        if missing:
            log(f"  {row.label}: skipped (pip install {' '.join(missing)})")
            figures.append({"row": row.key, "label": row.label, "skipped": missing})
            continue
        fitted = row.run(dataset, seed, ctx)
        figure = {"row": row.key, "label": row.label, "fit_seconds": fitted.fit_seconds,
                  "test_rmse": rmse(y_test, fitted.predict(X_test))}  # fmt: skip
        for name in ("epochs_run", "best_epoch", "n_iter"):
            if name in fitted.info:
                figure[name] = fitted.info[name]
        figures.append(figure)
    sain = figures[0].get("fit_seconds")
    for figure in figures:
        if sain and "fit_seconds" in figure:
            figure["seconds_over_sain"] = figure["fit_seconds"] / sain
            log(f"  {figure['label']}: fit {figure['fit_seconds']:.1f} s "
                f"({figure['seconds_over_sain']:.2f}x SAIN's), test RMSE {figure['test_rmse']:.4f}")
    return figures


def run_speed(dataset=None, *, out=None, device="cpu", threads: int | None = 1,
              repeats: int = 3, autoint: bool = True, autoint_batches=(128, 256),
              predict_rows: int = 1_000_000, encode_rows: int = 1_000_000,
              scale_sizes=SCALE_SIZES, scale_batch_size: int = 1024, scale_epochs: int = 1,
              synthetic_rows: int = 80_000, accuracy: bool = True, log=print) -> dict:  # fmt: skip
    """Measure every figure of the speed report; print it and write ``speed.json`` to ``out``."""
    import torch

    from sklearn_sain.datasets import make_ratings
    from ._machine import describe_machine, machine_info

    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        machine = machine_info()
        log(f"machine: {describe_machine(machine)}")
        if dataset is not None:
            (X, y), name = dataset.train, dataset.title
            features = dataset.features
        else:
            X, y = make_ratings(n_ratings=synthetic_rows, random_state=0)
            name = f"make_ratings, {synthetic_rows} rows (MovieLens files not found)"
            features = [c for c in X.columns if c not in ("user_id", "item_id")]
        report = {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine,
                  "threads": torch.get_num_threads(), "dataset": name, "n_train": len(X),
                  "results": {}}  # fmt: skip
        results = report["results"]

        if dataset is not None and accuracy:
            log(f"\n== time to accuracy: each model's whole fit at its defaults, {name}, "
                f"seed 0, {torch.get_num_threads()} torch thread(s)")
            results["time_to_accuracy"] = time_to_accuracy(dataset, device="cpu", log=log)

        encoder = _encoder(dataset)
        from sklearn_sain import SAINRegressor

        default_batch = SAINRegressor().batch_size
        log(f"\n== training epoch, CPU, package defaults (batch {default_batch}), {len(X)} rows of "
            f"{name}; a fit of {repeats + 1} epochs less a fit of 1, over {repeats}")
        results["cpu_epoch_seconds"] = time_epochs(X, y, encoder=encoder, repeats=repeats)
        log(f"  SAIN: {results['cpu_epoch_seconds']:.2f} s per epoch")
        # the paper's network: no implicit feedback and none of the cold-start parts
        results["cpu_epoch_seconds_no_implicit"] = time_epochs(
            X, y, encoder=encoder, repeats=repeats, **paper_network_params())
        log(f"  SAIN, the paper's network: {results['cpu_epoch_seconds_no_implicit']:.2f} s "
            "per epoch")

        if autoint:
            for batch in autoint_batches:
                seconds = time_autoint_epoch(X, y, features, batch_size=batch, device="cpu")
                if seconds is None:
                    log("  AutoInt: skipped (pip install deepctr-torch)")
                    break
                results[f"autoint_cpu_epoch_seconds_batch{batch}"] = seconds
                ratio = seconds / results["cpu_epoch_seconds"]
                results[f"ratio_autoint_batch{batch}_over_sain"] = ratio
                log(f"  AutoInt (DeepCTR-Torch), batch {batch}: {seconds:.2f} s per epoch, "
                    f"{ratio:.1f}x SAIN's epoch at batch {default_batch}")

        log("\n== prediction, CPU")
        raw_model, encoded_model, encoded = prediction_models(X, y, encoder=encoder)
        predict = time_predict(encoded_model, encoded, min_rows=predict_rows)
        results["cpu_predict_rows_per_second"] = predict["rows_per_second"]
        log(f"  SAINRegressor.predict on encoded rows: {predict['rows_per_second']:,.0f} rows/s "
            f"({predict['rows']:,} rows)")
        if autoint:
            peer = time_autoint_predict(X, y, features, min_rows=predict_rows)
            if peer is not None:
                results["autoint_cpu_predict_rows_per_second"] = peer["rows_per_second"]
                results["ratio_predict_over_autoint"] = (predict["rows_per_second"]
                                                         / peer["rows_per_second"])  # fmt: skip
                log(f"  AutoInt (DeepCTR-Torch) predict, batch {AUTOINT_PREDICT_BATCH}: "
                    f"{peer['rows_per_second']:,.0f} rows/s ({peer['rows']:,} rows); SAIN "
                    f"{results['ratio_predict_over_autoint']:.1f}x its rows/s")
        cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                 else os.cpu_count())  # fmt: skip
        if cores and cores > torch.get_num_threads():
            # prediction runs in large batches, where more threads do pay
            single = torch.get_num_threads()
            torch.set_num_threads(cores)
            try:
                wide = time_predict(encoded_model, encoded, min_rows=predict_rows)
            finally:
                torch.set_num_threads(single)
            results[f"cpu_predict_rows_per_second_{cores}_threads"] = wide["rows_per_second"]
            log(f"  SAINRegressor.predict on encoded rows, {cores} threads: "
                f"{wide['rows_per_second']:,.0f} rows/s")
        estimator = time_predict(raw_model, X, min_rows=min(predict_rows, 500_000))
        results["cpu_estimator_predict_rows_per_second"] = estimator["rows_per_second"]
        log(f"  SAINRegressor.predict on raw rows (encoding included): "
            f"{estimator['rows_per_second']:,.0f} rows/s ({estimator['rows']:,} rows)")

        if encode_rows:
            log(f"\n== encoding {encode_rows:,} make_ratings rows (list column: genres)")
            encoding = time_encoding(encode_rows)
            results["encoding"] = encoding
            log(f"  SAINEncoder.fit_transform {encoding['fit_transform_seconds']:.2f} s, "
                f"transform {encoding['transform_seconds']:.2f} s")

        if torch.cuda.is_available():
            gpu = str(device) if str(device).startswith("cuda") else "cuda"
            log(f"\n== GPU: {torch.cuda.get_device_name(torch.device(gpu))}, rows on the device")
            for batch in (128, 1024):
                seconds = time_epochs(X, y, encoder=encoder, repeats=repeats, device=gpu,
                                      batch_size=batch)
                results[f"gpu_epoch_seconds_batch{batch}"] = seconds
                log(f"  SAIN epoch, batch {batch}: {seconds:.3f} s")
            _, gpu_model, encoded = prediction_models(X, y, encoder=encoder, device=gpu)
            predict = time_predict(gpu_model, encoded, min_rows=predict_rows, device=gpu)
            results["gpu_predict_rows_per_second"] = predict["rows_per_second"]
            log(f"  SAINRegressor.predict on encoded rows: {predict['rows_per_second']:,.0f} "
                "rows/s")
            if autoint:
                seconds = time_autoint_epoch(X, y, features, batch_size=256, device=gpu)
                if seconds is not None:
                    results["autoint_gpu_epoch_seconds_batch256"] = seconds
                    log(f"  AutoInt (DeepCTR-Torch), batch 256: {seconds:.2f} s per epoch")
            if dataset is not None and accuracy:
                log("  time to accuracy on the GPU (myFM has no GPU path):")
                results["gpu_time_to_accuracy"] = time_to_accuracy(
                    dataset, device=gpu, rows=("sain-default", "autoint"), log=log)

        if scale_sizes:
            log(f"\n== scale: SAINRegressor on make_ratings ({SCALE_USERS} users, "
                f"{SCALE_ITEMS} items), batch {scale_batch_size}, {scale_epochs} epoch(s), "
                "10% held out for validation, a fresh process per size")
            results["scale"] = []
            for n_rows in scale_sizes:
                point = run_scale_point(n_rows, batch_size=scale_batch_size,
                                        max_epochs=scale_epochs, device="cpu", threads=threads)
                results["scale"].append(point)
                if "error" in point:
                    log(f"  {n_rows:>12,} rows: FAILED {point['error']}")
                    continue
                fit_peak = point.get("fit_peak_rss_mb") or point["peak_rss_mb"]
                log(f"  {n_rows:>12,} rows: fit {point['fit_seconds']:7.1f} s "
                    f"({point['seconds_per_million_rows_per_epoch']:.1f} s per 1M rows per "
                    f"epoch), peak RSS during fit {fit_peak / 1024:.2f} GiB (data and imports "
                    f"before fit {point['rss_before_fit_mb'] / 1024:.2f} GiB)")
        if hasattr(os, "getloadavg"):
            report["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
        if out is not None:
            Path(out).mkdir(parents=True, exist_ok=True)
            path = Path(out) / "speed.json"
            path.write_text(json.dumps(report, indent=2, default=str))
            log(f"\nwrote {path}")
        return report
    finally:
        torch.set_num_threads(previous_threads)


def run_from_args(args) -> int:
    """The ``--speed`` branch of ``python benchmarks/run.py``."""
    from ._data import find_datasets

    dataset = None
    if args.data_dir:
        found, _ = find_datasets(args.data_dir, ["movielens"])
        dataset = found[0] if found else None
    sizes = [] if args.scale_sizes == [0] else args.scale_sizes
    run_speed(dataset, out=args.out, device=args.device, threads=args.threads,
              repeats=args.speed_repeats, autoint=not args.no_autoint,
              accuracy=not args.no_time_to_accuracy,
              scale_sizes=sizes, scale_batch_size=args.scale_batch_size)  # fmt: skip
    return 0


def main(argv=None) -> int:
    """Entry point of ``python -m sain_bench._speed`` (one scale point)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale-point", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--max-epochs", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    point = scale_point(args.scale_point, batch_size=args.batch_size, max_epochs=args.max_epochs,
                        device=args.device, threads=args.threads or None)  # fmt: skip
    print(json.dumps(point))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run every selected model on the same splits and write the report.

Protocol: each model is fitted on the training split; every choice (epochs,
grids) is made on the validation split; the final model predicts the test
split exactly once. Predictions of every model are clipped to the range of
the training ratings (a no-op for models that already clip).

Splits (``--protocol``): ``warm`` (the default) keeps each dataset's own
split, where nearly every test user and item has training ratings; the test
RMSE over the test rows whose user has at most 5 training ratings (sparse
users, unseen ones included) is reported beside it. ``new-items`` and
``new-users`` measure cold start: right after loading, before any ``--quick``
subsample, all rows of the three splits are pooled, a tenth of the item (or
user) ids is drawn with ``numpy.random.RandomState(1)`` and all their rows
become the test split, then a ninth of the remaining ids and their rows the
validation split (so that early stopping and grids also choose on new ids);
training keeps the rest (:func:`._data.cold_protocol`). Rows that see only
the ids (``Row.cold=False``) cannot say anything about an unseen id beyond a
bias and are listed as not applicable there, not run; the sparse-user slice
is warm only. Runs of different protocols cannot be merged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import _deepctr, _myfm, _ncf, _sain, _simple, _surprise
from ._common import Context, mae, match_rows, record_failure, rmse, row_meta, skipped
from ._data import sparse_user_rows, start_run
from ._options import PROTOCOL_DESCRIPTIONS, add_arguments
from ._report import summarise, write_outputs

# Table order: references, SAIN rows, peers, then the top-K sweep.
ROWS = (_simple.ROWS + [r for r in _sain.ROWS if r.family != "sain-topk"] + _surprise.ROWS
        + _myfm.ROWS + _deepctr.ROWS + _ncf.ROWS
        + [r for r in _sain.ROWS if r.family == "sain-topk"])  # fmt: skip


def select_rows(patterns=None) -> list:
    """Rows whose key or family matches one of the shell-style ``patterns`` (all if None)."""
    return match_rows(ROWS, patterns)


def _evaluation_text(protocol: str) -> str:
    """The report's statement of the protocol: this module's second paragraph, then the split."""
    general = __doc__.split("\n\n")[1].strip().replace("\n", " ")
    return f"{general} Split protocol {protocol}: {PROTOCOL_DESCRIPTIONS[protocol]}."


def run_benchmark(data_dir, out, *, seeds=(0,), datasets=None, models=None, quick=False,
                  max_epochs=None, device="cpu", threads=1, yelp_split_seed=0, verbose=0,
                  plots=True, log=print, argv=None, protocol="warm") -> dict:  # fmt: skip
    """Run the benchmark and write ``results.json``, ``results.md`` and PNG plots to ``out``.

    ``protocol`` is ``warm`` (the datasets' own splits), ``new-items`` or
    ``new-users`` (see the module docstring).
    """
    import torch

    previous_threads = torch.get_num_threads()
    if threads:
        # Several intra-op threads on a small, busy machine are many times slower
        # than one (thread oversubscription); the thread count is recorded.
        torch.set_num_threads(threads)
    try:
        return _run(data_dir, out, seeds=seeds, datasets=datasets, models=models, quick=quick,
                    max_epochs=max_epochs, device=device, threads=threads,
                    yelp_split_seed=yelp_split_seed, verbose=verbose, plots=plots, log=log,
                    argv=argv, protocol=protocol)  # fmt: skip
    finally:
        torch.set_num_threads(previous_threads)


def _run(data_dir, out, *, seeds, datasets, models, quick, max_epochs, device, threads,
         yelp_split_seed, verbose, plots, log, argv, protocol) -> dict:  # fmt: skip
    rows = select_rows(models)
    out, machine, found, missing = start_run(out, data_dir, datasets, protocol=protocol,
                                             quick=quick, yelp_split_seed=yelp_split_seed,
                                             log=log)  # fmt: skip
    ctx = Context(quick=quick, device=device, max_epochs=max_epochs, verbose=verbose, log=log)
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": argv if argv is not None else sys.argv,
        "options": {"data_dir": str(data_dir), "seeds": list(seeds), "quick": quick,
                    "max_epochs": max_epochs, "device": device, "threads": threads,
                    "yelp_split_seed": yelp_split_seed, "models": models, "datasets": datasets,
                    "protocol": protocol},
        "protocol": _evaluation_text(protocol),
        "machine": machine,
        "datasets": {d.name: d.describe() for d in found},
        "missing_datasets": missing,
        "rows": [row_meta(r) for r in rows],
        "results": [], "skipped": [], "errors": [],
    }  # fmt: skip
    started = time.perf_counter()
    for dataset in found:
        (X_train, y_train), (X_val, y_val), (X_test, y_test) = (
            dataset.train, dataset.validation, dataset.test)
        low, high = float(np.min(y_train)), float(np.max(y_train))
        sparse = sparse_user_rows(dataset)
        sparse = sparse if sparse is not None and sparse.any() else None
        log(f"\n== {dataset.title}: {len(X_train)} train / {len(X_val)} validation / "
            f"{len(X_test)} test rows")  # fmt: skip
        for row in rows:
            if row.datasets is not None and dataset.name not in row.datasets:
                continue
            if skipped(report, dataset, row, protocol, log):
                continue
            for seed in seeds:
                try:
                    fitted = row.run(dataset, seed, ctx)
                    val_pred = np.clip(fitted.predict(X_val), low, high)
                    test_pred = np.clip(fitted.predict(X_test), low, high)  # the one test look
                except Exception as exc:  # one failing peer must not end the run
                    record_failure(report, dataset, row, seed, exc, log)
                    break
                record = {
                    "dataset": dataset.name, "row": row.key, "label": row.label,
                    "family": row.family, "seed": seed,
                    "validation_rmse": rmse(y_val, val_pred),
                    "validation_mae": mae(y_val, val_pred),
                    "test_rmse": rmse(y_test, test_pred), "test_mae": mae(y_test, test_pred),
                    "test_rmse_sparse_users": (None if sparse is None else
                                               rmse(np.asarray(y_test)[sparse], test_pred[sparse])),
                    "protocol": protocol,
                    "fit_seconds": fitted.fit_seconds, "info": fitted.info,
                }  # fmt: skip
                report["results"].append(record)
                shared = " (shared fit)" if fitted.info.get("shared_fit") else ""
                log(f"  {row.label} seed {seed}: valid RMSE {record['validation_rmse']:.4f}, "
                    f"test RMSE {record['test_rmse']:.4f}, MAE {record['test_mae']:.4f}, "
                    f"fit {fitted.fit_seconds:.1f}s{shared}")  # fmt: skip
            report["summary"] = summarise(report)
            report["elapsed_seconds"] = time.perf_counter() - started
            write_outputs(report, out, plots=False)  # keep partial results of long runs
    if hasattr(os, "getloadavg"):
        report["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    report["summary"] = summarise(report)
    report["elapsed_seconds"] = time.perf_counter() - started
    written = write_outputs(report, out, plots=plots)
    log(f"\nwrote {', '.join(str(p) for p in written)}")
    return report


def merge_reports(paths, out, *, plots=True, log=print) -> dict:
    """One report from the ``results.json`` of several runs; a later run wins on duplicates."""
    reports = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    tasks = {str(p): r.get("task", "rating") for p, r in zip(paths, reports)}
    if len(set(tasks.values())) > 1:  # the tables measure different things
        raise ValueError(f"--merge: the runs measure different tasks ({tasks}); merge the "
                         "runs of one task at a time.")
    protocols = {str(p): r["options"].get("protocol", "warm") for p, r in zip(paths, reports)}
    if len(set(protocols.values())) > 1:
        # one dataset name would then stand for two different splits
        raise ValueError(f"--merge: the runs use different protocols ({protocols}); merge the "
                         "runs of one protocol at a time.")
    merged = dict(reports[0])
    merged["datasets"], meta, records = {}, {}, {}
    merged["skipped"], merged["errors"], missing = [], [], {}
    for report in reports:
        merged["datasets"].update(report["datasets"])
        missing.update(report.get("missing_datasets", {}))
        for row in report["rows"]:
            meta.setdefault(row["key"], row)
        for record in report["results"]:
            records[(record["dataset"], record["row"], record["seed"])] = record
        merged["skipped"] += report.get("skipped", [])
        merged["errors"] += report.get("errors", [])
    if reports[0].get("task") == "ranking":
        from ._rankers import RANK_ROWS as table
    else:
        table = ROWS
    order = {row.key: k for k, row in enumerate(table)}
    merged["rows"] = sorted(meta.values(), key=lambda m: order.get(m["key"], len(order)))
    merged["results"] = list(records.values())
    merged["missing_datasets"] = {k: v for k, v in missing.items() if k not in merged["datasets"]}
    merged["options"] = dict(merged["options"], seeds=sorted({r["seed"] for r in records.values()}))
    merged["elapsed_seconds"] = sum(r.get("elapsed_seconds", 0.0) for r in reports)
    merged["merged_from"] = [
        {"path": str(p), "created": r["created"], "command": r["command"],
         "options": r["options"], "elapsed_seconds": r.get("elapsed_seconds"),
         "load_average_at_start": r["machine"].get("load_average_at_start"),
         "load_average_at_end": r["machine"].get("load_average_at_end")}
        for p, r in zip(paths, reports)
    ]  # fmt: skip
    digests = {r["machine"].get("source_digest") for r in reports}
    if len(digests) > 1:
        merged.setdefault("notes", []).append(
            f"The merged runs used different package source (digests {sorted(map(str, digests))}).")
        log(f"warning: {merged['notes'][-1]}")
    merged["summary"] = summarise(merged)
    Path(out).mkdir(parents=True, exist_ok=True)
    written = write_outputs(merged, out, plots=plots)
    log(f"merged {len(reports)} runs; wrote {', '.join(str(p) for p in written)}")
    return merged


def run_from_args(args) -> int:
    if getattr(args, "speed", False) and getattr(args, "task", "rating") == "ranking":
        raise SystemExit("benchmark: --speed times the rating model; drop --task ranking")
    if getattr(args, "speed", False):
        from ._speed import run_from_args as run_speed

        return run_speed(args)
    if args.merge:
        merge_reports(args.merge, args.out, plots=not args.no_plots)
        return 0
    if not args.list and not args.data_dir:
        raise SystemExit("benchmark: --data-dir is required (or --list)")
    if getattr(args, "task", "rating") == "ranking":
        from ._ranking import run_from_args as run_ranking

        return run_ranking(args)
    if args.list:
        for row in ROWS:
            only = f" [{', '.join(row.datasets)}]" if row.datasets else ""
            warm = "" if row.cold else " [warm only: id-only]"
            print(f"{row.key:28s} {row.family:14s} {row.label}{only}{warm}")
        return 0
    run_benchmark(args.data_dir, args.out, seeds=args.seeds, datasets=args.datasets,
                  models=args.models, quick=args.quick, max_epochs=args.max_epochs,
                  device=args.device, threads=args.threads,
                  yelp_split_seed=args.yelp_split_seed, verbose=args.verbose,
                  plots=not args.no_plots, argv=getattr(args, "argv", None),
                  protocol=args.protocol)  # fmt: skip
    return 0


def main(argv=None) -> int:
    parser = add_arguments(argparse.ArgumentParser(
        prog="python benchmarks/run.py", description=__doc__.split("\n\n")[0]))
    args = parser.parse_args(argv)
    return run_from_args(args)

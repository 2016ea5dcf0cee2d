"""What every benchmark row shares: the row description, a fitted model and the run context."""

from __future__ import annotations

import contextlib
import fnmatch
import importlib.util
import io
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class Fitted:
    """A model fitted on the training split (validation used for selection only)."""

    predict: Callable  # DataFrame -> ndarray of ratings
    fit_seconds: float
    info: dict = field(default_factory=dict)


# Why a row with ``cold=False`` is not run under a cold protocol.
ID_ONLY_REASON = "id-only model: an unseen id has no learned vector"


@dataclass
class Row:
    """One line of the results table.

    ``cold=False`` marks a row that sees nothing but the user and item ids:
    for an id unseen in training it can only fall back on the other side's
    bias or the global mean, so a cold protocol lists it as not applicable
    instead of running it.
    """

    key: str
    label: str
    family: str
    run: Callable  # (Dataset, seed, Context) -> Fitted
    requires: tuple = ()
    paper: str | None = None  # model name in the paper's Table 2
    datasets: tuple | None = None  # None: every dataset
    note: str = ""
    cold: bool = True  # False: id-only, not run under the new-items / new-users protocols

    def missing_packages(self) -> list:
        return [name for name in self.requires if importlib.util.find_spec(name) is None]

    def not_applicable(self, protocol: str) -> str | None:
        """Why the row cannot be evaluated under ``protocol`` (None when it can)."""
        return None if protocol == "warm" or self.cold else ID_ONLY_REASON


@dataclass
class Context:
    """Options of one benchmark run, shared by all rows."""

    quick: bool = False
    device: str = "auto"
    max_epochs: int | None = None  # cap on every epoch-based model (None: each row's own)
    verbose: int = 0
    log: Callable = print
    cache: dict = field(default_factory=dict)  # fits shared by rows with identical settings

    def epochs(self, wanted: int) -> int:
        if self.quick:
            wanted = min(wanted, 2)
        if self.max_epochs is not None:
            wanted = min(wanted, self.max_epochs)
        return wanted


def rmse(y_true, y_pred) -> float:
    return float(np.sqrt(np.mean((np.asarray(y_true, float) - np.asarray(y_pred, float)) ** 2)))


def best_on_validation(dataset, candidates) -> Fitted:
    """The candidate whose predictions score the lowest validation RMSE; test is not touched.

    ``candidates`` yields ``(params, Fitted)`` pairs (lazily: each is fitted
    as it is asked for). The result keeps the chosen fit's predictions and fit
    seconds, and records ``selected`` (its params), ``grid`` (every
    candidate's params with its ``validation_rmse``) and
    ``selection_seconds`` (the fit seconds of all candidates).
    """
    X_val, y_val = dataset.validation
    best, grid, total = None, [], 0.0
    for params, fitted in candidates:
        score = rmse(y_val, fitted.predict(X_val))
        total += fitted.fit_seconds
        grid.append({**params, "validation_rmse": score})
        if best is None or score < best[0]:
            best = (score, params, fitted)
    _, params, fitted = best
    info = dict(fitted.info, selected=params, grid=grid, selection_seconds=total)
    info.pop("shared_fit", None)  # the chosen fit is this row's own
    return Fitted(fitted.predict, fitted.fit_seconds, info)


def mae(y_true, y_pred) -> float:
    return float(np.mean(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))))


class Timer:
    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        return False


@contextlib.contextmanager
def quiet():
    """Silence a peer's own printing (progress lines, version notices)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def early_stopping_loop(train_epoch, validate, get_state, set_state, max_epochs, patience):
    """Train epoch by epoch, keep the state of the best validation RMSE, restore it.

    Returns the per-epoch validation scores and the best epoch (1-based).
    """
    scores, best, best_state, best_epoch, stale = [], np.inf, None, 0, 0
    for epoch in range(1, max_epochs + 1):
        train_epoch()
        score = validate()
        scores.append(score)
        if score < best - 1e-4:
            best, best_state, best_epoch, stale = score, get_state(), epoch, 0
        else:
            stale += 1
            if stale >= patience:
                break
    if best_state is not None:
        set_state(best_state)
    return scores, best_epoch


DEFAULT_INSTALL_HINT = "pip install sklearn-sain[bench]"


def row_meta(row) -> dict:
    """The description of ``row`` that a results file keeps."""
    return {"key": row.key, "label": row.label, "family": row.family,
            "paper": getattr(row, "paper", None), "note": row.note,
            "requires": list(row.requires), "cold": row.cold}  # fmt: skip


def skip_record(dataset, row, protocol) -> dict | None:
    """Why ``row`` is not run on ``dataset``: not applicable to the protocol, or not installed."""
    unfit = row.not_applicable(protocol)
    if unfit:
        return {"dataset": dataset.name, "row": row.key, "reason": unfit,
                "not_applicable": protocol}  # fmt: skip
    absent = row.missing_packages()
    if absent:
        hint = getattr(row, "install_hint", DEFAULT_INSTALL_HINT)
        return {"dataset": dataset.name, "row": row.key,
                "reason": f"not installed: {', '.join(absent)} ({hint})"}  # fmt: skip
    return None


def skip_lines(report: dict, dataset: str, unavailable: str = "skipped") -> list:
    """Report lines for the rows of ``dataset`` that did not run (``unavailable``: their verb)."""
    skipped = [s for s in report["skipped"] if s["dataset"] == dataset]
    errors = [e for e in report["errors"] if e["dataset"] == dataset]
    if not (skipped or errors):
        return []
    return [
        "",
        *(f"- not applicable `{s['row']}` ({s['not_applicable']} protocol): {s['reason']}"
          for s in skipped if s.get("not_applicable")),
        *(f"- {unavailable} `{s['row']}`: {s['reason']}"
          for s in skipped if not s.get("not_applicable")),
        *(f"- failed `{e['row']}` (seed {e['seed']}): {e['error']}" for e in errors),
    ]


def skipped(report: dict, dataset, row, protocol, log) -> bool:
    """Record and log why ``row`` does not run on ``dataset``; False when it runs."""
    skip = skip_record(dataset, row, protocol)
    if skip:
        report["skipped"].append(skip)
        status = "not applicable" if skip.get("not_applicable") else "skipped"
        log(f"  {row.label}: {status} ({skip['reason']})")
    return skip is not None


def record_failure(report: dict, dataset, row, seed, exc, log) -> None:
    """Record and log a row that raised: one failing row must not end a run."""
    report["errors"].append({"dataset": dataset.name, "row": row.key, "seed": seed,
                             "error": f"{type(exc).__name__}: {exc}",
                             "traceback": traceback.format_exc()})  # fmt: skip
    log(f"  {row.label} seed {seed}: FAILED {type(exc).__name__}: {exc}")


def match_rows(rows: list, patterns=None, what: str = "row") -> list:
    """The ``rows`` whose key or family matches a shell-style pattern (all if ``patterns`` is empty).

    A pattern that matches nothing is an error naming the rows and families there are.
    """
    if not patterns:
        return list(rows)
    matches = lambda r, p: fnmatch.fnmatch(r.key, p) or fnmatch.fnmatch(r.family, p)  # noqa: E731
    chosen = [r for r in rows if any(matches(r, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(matches(r, p) for r in rows)]
    if unmatched:
        known = sorted({r.key for r in rows} | {r.family for r in rows})
        raise ValueError(f"--models {unmatched} match no {what}; rows and families: {known}")
    return chosen

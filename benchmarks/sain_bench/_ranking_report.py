"""Summary and outputs of a top-N (ranking) run: results.json, results.md and results.rst."""

from __future__ import annotations

import json
from pathlib import Path

from ._common import skip_lines
from ._machine import describe_machine
from ._report import format_cell, rst_table, format_seconds, summary_stats

METRICS = ("test_precision", "test_recall", "test_ndcg", "test_map", "test_coverage",
           "validation_ndcg", "fit_seconds")  # fmt: skip
HEADER = ["Model", "P@10", "R@10", "NDCG@10", "MAP@10", "Coverage", "Valid NDCG@10", "Fit s",
          "Selected on validation"]  # fmt: skip


def summarise(report: dict) -> dict:
    """Per dataset, per row (in table order): mean and std of each metric over seeds."""
    summary = {}
    for dataset in report["datasets"]:
        rows = {}
        for meta in report["rows"]:
            records = [r for r in report["results"]
                       if r["dataset"] == dataset and r["row"] == meta["key"]]  # fmt: skip
            if not records:
                continue
            entry = {"label": meta["label"], "family": meta["family"],
                     "seeds": [r["seed"] for r in records]}  # fmt: skip
            entry.update({m: summary_stats([r[m] for r in records]) for m in METRICS})
            if any(r["info"].get("shared_fit") for r in records):
                entry["shared_fit"] = True
            selected = [r["info"]["selected"] for r in records if "selected" in r["info"]]
            if selected:
                entry["selected"] = selected
            epochs = [r["info"].get("best_epoch") for r in records]
            if all(e is not None for e in epochs):
                entry["best_epoch"] = epochs
            rows[meta["key"]] = entry
        summary[dataset] = rows
    return summary


def _selected(entry) -> str:
    """The choices made on validation, once when every seed made the same."""
    shown = [", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in s.items())
             for s in entry.get("selected", [])]  # fmt: skip
    if "best_epoch" in entry:
        shown = [f"epoch {e}" for e in entry["best_epoch"]]
    distinct = list(dict.fromkeys(shown))
    return "; ".join(distinct)


def _cells(entry) -> list:
    cells = [format_cell(entry[m]) for m in METRICS[:-1]]
    return [*cells, format_seconds(entry["fit_seconds"]), _selected(entry)]


def _dataset_lines(name, described, rows, report) -> list:
    ranking = described["ranking"]
    counts = (f"{described['n_train']} training ratings; test: {ranking['test_users']} users "
              f"with a relevant item, {ranking['test_candidates']} candidate items; validation: "
              f"{ranking['validation_users']} users, {ranking['validation_candidates']} "
              f"candidates. Relevant: rating >= {ranking['relevant_rating']:g}.")
    lines = [f"## {described['title']}", "", counts]
    if described.get("quick_subsample"):
        lines += ["", "**Quick run: subsampled data and shortened training; not a result.**"]
    if described.get("note"):
        lines += ["", described["note"]]
    lines += ["", "| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    best = max((e["test_ndcg"]["mean"] for e in rows.values()), default=None)
    for entry in rows.values():
        cells = _cells(entry)
        if entry["test_ndcg"]["mean"] == best:
            cells[2] = f"**{cells[2]}**"
        label = entry["label"] + (" ¹" if entry.get("shared_fit") else "")
        lines.append("| " + " | ".join([label, *cells]) + " |")
    if any(e.get("shared_fit") for e in rows.values()):
        lines += ["", ("¹ A later seed reuses an earlier fit: the row does not depend on the "
                       "seed (most-popular, EASE, feature-popularity), or the SAIN rows share "
                       "one fit.")]
    return lines + skip_lines(report, name, "not available") + [""]


def markdown(report: dict) -> str:
    options, machine = report["options"], report["machine"]
    run = (f"Run {report['created']}; seeds {', '.join(map(str, options['seeds']))}; "
           f"{report.get('elapsed_seconds', 0) / 60:.1f} minutes in all.")
    lines = [f"# SAIN benchmark: Top-N (ranking), {options.get('protocol', 'warm')} protocol", "",
             run, "", f"Machine: {describe_machine(machine)}."]  # fmt: skip
    for merged in report.get("merged_from", []):  # --merge: each run's own command
        command = " ".join(str(c) for c in (merged["command"] or [])[1:])
        lines.insert(3, f"- merged run of {merged['created']}: `{command}`")
    if machine.get("git_commit"):
        lines += ["", f"Code: sklearn-sain {machine['sklearn_sain']}, commit {machine['git_commit']}."]
    how = ("Figures are the mean ± standard deviation over seeds; fit seconds are the mean "
           "wall-clock time of the chosen model's fit (the whole validation search is in the "
           "JSON file, as `selection_seconds`). The best test NDCG@10 is in bold.")
    lines += ["", report["protocol"], "", how, ""]
    rows_meta = {r["key"]: r for r in report["rows"]}
    notes = [f"- `{k}`: {m['note']}" for k, m in rows_meta.items() if m.get("note")]
    if notes:
        lines += ["Rows:", "", *notes, ""]
    for name, described in report["datasets"].items():
        lines += _dataset_lines(name, described, report["summary"].get(name, {}), report)
    if report.get("missing_datasets"):
        lines += ["## Datasets not found", ""]
        lines += [f"- {n}: {why}" for n, why in report["missing_datasets"].items()] + [""]
    return "\n".join(lines)


def rst_tables(report: dict) -> str:
    """The results tables as reStructuredText, for the documentation."""
    lines = []
    for described, rows in ((d, report["summary"].get(n, {}))
                            for n, d in report["datasets"].items()):  # fmt: skip
        title = f"{described['title']} (top-N)"
        lines += [title, "~" * len(title), ""]
        body = [[e["label"].replace("*", "\\*"), *_cells(e)] for e in rows.values()]
        lines += rst_table(HEADER, body)
    return "\n".join(lines)


def write_outputs(report: dict, out) -> list:
    out = Path(out)
    report["plots"] = []
    (out / "results.md").write_text(markdown(report), encoding="utf-8")
    (out / "results.rst").write_text(rst_tables(report), encoding="utf-8")
    (out / "results.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return [out / "results.md", out / "results.rst", out / "results.json"]

"""Summaries and outputs of a benchmark run: results.json, results.md and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._common import skip_lines
from ._machine import describe_machine
from ._paper import PAPER_NOTE, PAPER_TABLE2

_METRICS = ("test_rmse", "test_mae", "validation_rmse", "fit_seconds")


def summary_stats(values) -> dict:
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return {"mean": float(values.mean()), "std": std}


def summarise(report: dict) -> dict:
    """Per dataset, per row (in table order): mean and std of each metric over seeds."""
    if report.get("task") == "ranking":  # --task ranking: its own metrics
        from ._ranking_report import summarise as summarise_ranking

        return summarise_ranking(report)
    meta = {r["key"]: r for r in report["rows"]}
    summary = {}
    for dataset in report["datasets"]:
        rows = {}
        for key in meta:
            records = [r for r in report["results"] if r["dataset"] == dataset and r["row"] == key]
            if not records:
                continue
            entry = {"label": meta[key]["label"], "family": meta[key]["family"],
                     "paper": meta[key]["paper"], "seeds": [r["seed"] for r in records]}
            entry.update({m: summary_stats([r[m] for r in records]) for m in _METRICS})
            sparse = [r.get("test_rmse_sparse_users") for r in records]
            if all(v is not None for v in sparse):  # warm runs with sparse users only
                entry["test_rmse_sparse_users"] = summary_stats(sparse)
            epochs = [(r["info"].get("best_epoch"), r["info"].get("epochs_run")) for r in records]
            if all(b is not None and n is not None for b, n in epochs):
                entry["best_epoch"] = [b for b, _ in epochs]
                entry["epochs_run"] = [n for _, n in epochs]
            if any(r["info"].get("shared_fit") for r in records):
                entry["shared_fit"] = True
            for name in ("top_k", "n_tokens"):
                if name in records[0]["info"]:
                    entry[name] = records[0]["info"][name]
            selected = [r["info"]["selected"] for r in records if "selected" in r["info"]]
            if selected:
                entry["selected"] = selected
            rows[key] = entry
        summary[dataset] = rows
    return summary


def format_cell(stat, digits=4) -> str:
    if stat["std"] > 0:
        return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}"


def format_seconds(stat) -> str:
    return f"{stat['mean']:.1f}" if stat["mean"] < 100 else f"{stat['mean']:.0f}"


def _epochs(entry) -> str:
    if "best_epoch" not in entry:
        return ""
    return ", ".join(f"{b}/{n}" for b, n in zip(entry["best_epoch"], entry["epochs_run"]))


def _top_k_rows(rows: dict) -> list:
    sweep = [(k, e) for k, e in rows.items() if e["family"] == "sain-topk"]
    return sorted(sweep, key=lambda item: (item[1].get("top_k") is None, item[1].get("top_k") or 0))


def _shows_sparse_users(described) -> bool:
    """Whether the table has the sparse-user column: warm runs with such test rows."""
    return (described.get("protocol", "warm") == "warm"
            and bool(described.get("test_rows_sparse_user")))  # fmt: skip


def _table_header(described) -> list:
    """Columns of the main results table of one dataset (markdown and reST)."""
    header = ["Model", "Test RMSE", "Test MAE"]
    if _shows_sparse_users(described):
        header.append("Sparse-user RMSE")
    header += ["Valid RMSE", "Fit s", "Best/run epochs"]
    if PAPER_TABLE2.get(described.get("paper_column") or ""):
        header += ["Paper RMSE", "Paper MAE"]
    return header


def _table_cells(entry, described) -> list:
    """The cells of one row after its label, in the order of :func:`_table_header`."""
    cells = [format_cell(entry["test_rmse"]), format_cell(entry["test_mae"])]
    if _shows_sparse_users(described):
        sparse = entry.get("test_rmse_sparse_users")
        cells.append(format_cell(sparse) if sparse else "")
    cells += [format_cell(entry["validation_rmse"]), format_seconds(entry["fit_seconds"]), _epochs(entry)]
    paper = PAPER_TABLE2.get(described.get("paper_column") or "")
    if paper:
        published = paper.get(entry["paper"]) if entry["paper"] else None
        cells += [f"{published[0]:.4f}", f"{published[1]:.4f}"] if published else ["", ""]
    return cells


def _dataset_markdown(name, described, rows, report, plots) -> list:
    lines = [f"## {described['title']}", ""]
    lines.append(
        f"{described['n_train']} train / {described['n_validation']} validation / "
        f"{described['n_test']} test ratings; {described['n_users']} users, "
        f"{described['n_items']} items; {described['test_rows_unseen_user']} test rows with a "
        f"user and {described['test_rows_unseen_item']} with an item unseen in training. "
        f"User features: {', '.join(described['user_features']) or 'none'}; item features: "
        f"{', '.join(described['item_features']) or 'none'} (multi-valued: "
        f"{', '.join(described['multi_valued']) or 'none'})."
    )
    if _shows_sparse_users(described):
        lines[-1] += (f" Sparse-user RMSE: over the {described['test_rows_sparse_user']} test "
                      f"rows whose user has at most {described['sparse_user_max_ratings']} "
                      "ratings in training (unseen users included).")
    if described.get("quick_subsample"):
        lines.append("")
        lines.append("**Quick run: subsampled data and shortened training; not a result.**")
    if described.get("note"):
        lines += ["", described["note"]]
    lines.append("")
    paper = PAPER_TABLE2.get(described.get("paper_column") or "")
    header = _table_header(described)
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    main_rows = [(k, e) for k, e in rows.items() if e["family"] != "sain-topk"]
    best = min((e["test_rmse"]["mean"] for _, e in main_rows), default=None)
    for key, entry in main_rows:
        cells = _table_cells(entry, described)
        if best is not None and entry["test_rmse"]["mean"] == best:
            cells[0] = f"**{cells[0]}**"
        label = entry["label"] + (" ¹" if entry.get("shared_fit") else "")
        lines.append("| " + " | ".join([label, *cells]) + " |")
    if any(e.get("shared_fit") for _, e in main_rows):
        lines += ["", "¹ Same effective parameters as an earlier row (an override equal to the "
                      "current default): the fit is shared, not repeated."]
    if paper:
        lines += ["", PAPER_NOTE]
    lines += skip_lines(report, name)
    sweep = _top_k_rows(rows)
    if sweep:
        n_tokens = sweep[0][1].get("n_tokens")
        lines += ["", "### Figure 4: RMSE against top_k (package defaults otherwise)", "",
                  f"Tokens per rating (user + item features): {n_tokens}; `all` = top_k=None.", "",
                  "| top_k | Valid RMSE | Test RMSE | Test MAE | Best/run epochs |",
                  "| --- | --- | --- | --- | --- |"]  # fmt: skip
        for _, e in sweep:
            k = "all" if e.get("top_k") is None else str(e["top_k"])
            lines.append(f"| {k} | {format_cell(e['validation_rmse'])} | {format_cell(e['test_rmse'])} | "
                         f"{format_cell(e['test_mae'])} | {_epochs(e)} |")  # fmt: skip
        if f"figure4_topk_{name}.png" in plots:
            lines += ["", f"![RMSE against top_k](figure4_topk_{name}.png)"]
    if f"curves_{name}.png" in plots:
        lines += ["", "### Training curve of the package defaults (first seed)", "",
                  f"![training and validation per epoch](curves_{name}.png)"]
    lines.append("")
    return lines


def markdown(report: dict, plots=()) -> str:
    options, machine = report["options"], report["machine"]
    lines = [f"# SAIN benchmark ({options.get('protocol', 'warm')} protocol)", ""]
    lines.append(f"Run {report['created']}; seeds {', '.join(map(str, options['seeds']))}; "
                 f"{report.get('elapsed_seconds', 0) / 60:.0f} minutes in all.")
    if report.get("merged_from"):
        lines[-1] = (f"Merged from {len(report['merged_from'])} runs on one machine "
                     f"(first started {report['created']}); seeds "
                     f"{', '.join(map(str, options['seeds']))}; "
                     f"{report.get('elapsed_seconds', 0) / 60:.0f} minutes of runs in all:")
        for run in report["merged_from"]:
            command = " ".join(str(c) for c in run["command"][1:]) if run["command"] else ""
            lines.append(f"- {run['created']}, {(run.get('elapsed_seconds') or 0) / 60:.0f} min, "
                         f"load average {run.get('load_average_at_start')} at start, "
                         f"{run.get('load_average_at_end')} at end: `{command}`")
    lines += ["", f"Machine: {describe_machine(machine)}."]
    if machine.get("load_average_at_end") and not report.get("merged_from"):
        lines[-1] += f" Load average at end {machine['load_average_at_end'][0]}."
    if machine.get("git_commit"):
        digest = machine.get("source_digest")
        lines += ["", f"Code: sklearn-sain {machine['sklearn_sain']}, "
                      f"commit {machine['git_commit']}"
                      + (f", source digest {digest}." if digest else ".")]
    lines += ["", f"{report['protocol']} Test RMSE/MAE and validation RMSE are the "
                  "mean ± standard deviation over seeds; fit seconds are the mean wall-clock "
                  "time of the final model's fit (validation-set searches are listed in the "
                  "JSON file).", ""]  # fmt: skip
    for note in report.get("notes", []):
        lines += [f"**Note:** {note}", ""]
    defaults = next((r["info"]["all_params"] for r in report["results"]
                     if r["row"] == "sain-default" and "all_params" in r["info"]), None)
    if defaults:
        shown = ", ".join(f"{k}={v!r}" for k, v in defaults.items()
                          if k not in ("max_epochs",) or not options.get("max_epochs"))
        lines += [f"SAIN package defaults in force for the SAIN rows: {shown}.", ""]
    if options.get("max_epochs"):
        lines += [f"Epochs of every epoch-based model were capped at {options['max_epochs']}.", ""]
    for name, described in report["datasets"].items():
        lines += _dataset_markdown(name, described, report["summary"].get(name, {}), report, plots)
    if report.get("missing_datasets"):
        lines += ["## Datasets not found", ""]
        lines += [f"- {n}: {why}" for n, why in report["missing_datasets"].items()] + [""]
    lines += ["## The paper's Table 2 (published figures, not rerun)", "",
              "| Model | MovieLens RMSE | MovieLens MAE | Weibo-Douban RMSE | Weibo-Douban MAE |",
              "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for model, (r, m) in PAPER_TABLE2["MovieLens"].items():
        wr, wm = PAPER_TABLE2["Weibo-Douban"][model]
        lines.append(f"| {model} | {r:.4f} | {m:.4f} | {wr:.4f} | {wm:.4f} |")
    lines += ["", "The Weibo-Douban data cannot be obtained; our Yelp rows are not comparable "
                  "with that column.", ""]  # fmt: skip
    return "\n".join(lines)


def rst_table(header, body, indent="   ") -> list:
    lines = [".. list-table::", f"{indent}:header-rows: 1", ""]
    for row in [header, *body]:
        lines.append(f"{indent}* - {row[0] or ' '}")
        lines += [f"{indent}  - {cell or ' '}" for cell in row[1:]]
    return lines + [""]


def rst_tables(report: dict) -> str:
    """The results tables as reStructuredText, for docs/benchmarks.rst."""
    lines = []
    for name, described in report["datasets"].items():
        rows = report["summary"].get(name, {})
        title = described["title"]
        lines += [title, "~" * len(title), ""]
        body = []
        for _, e in rows.items():
            if e["family"] == "sain-topk":
                continue
            label = e["label"].replace("*", "\\*") + (" (shared fit)" if e.get("shared_fit") else "")
            body.append([label, *_table_cells(e, described)])
        lines += rst_table(_table_header(described), body)
        sweep = _top_k_rows(rows)
        if sweep:
            n_tokens = sweep[0][1].get("n_tokens")
            lines += [f"Figure 4 on this dataset (top_k; all = {n_tokens} tokens):", ""]
            body = [["all" if e.get("top_k") is None else str(e["top_k"]),
                     format_cell(e["validation_rmse"]), format_cell(e["test_rmse"]),
                     format_cell(e["test_mae"]), _epochs(e)] for _, e in sweep]  # fmt: skip
            header = ["top_k", "Valid RMSE", "Test RMSE", "Test MAE", "Best/run epochs"]
            lines += rst_table(header, body)
    return "\n".join(lines)


def _plot_top_k(rows, path, title) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = _top_k_rows(rows)
    if not sweep:
        return False
    n_tokens = sweep[0][1].get("n_tokens") or max(e["top_k"] or 0 for _, e in sweep) + 1
    xs = [e["top_k"] if e["top_k"] is not None else n_tokens for _, e in sweep]
    labels = [str(e["top_k"]) if e["top_k"] is not None else f"all ({n_tokens})" for _, e in sweep]
    fig, ax = plt.subplots(figsize=(6, 4))
    for metric, label, marker in (("validation_rmse", "validation", "s"),
                                  ("test_rmse", "test", "o")):  # fmt: skip
        ax.errorbar(xs, [e[metric]["mean"] for _, e in sweep],
                    yerr=[e[metric]["std"] for _, e in sweep], marker=marker, capsize=3,
                    label=f"{label} RMSE")  # fmt: skip
    ax.set_xticks(xs, labels)
    ax.set_xlabel("top_k (keys kept per attention query)")
    ax.set_ylabel("RMSE")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _plot_curves(record, path, title) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info = record["info"]
    valid = info.get("validation_curve") or []
    if not valid:
        return False
    objective = info.get("loss_curve")
    panels = 2 if objective else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4), squeeze=False)
    ax = axes[0, 0]
    epochs = np.arange(1, len(valid) + 1)
    ax.plot(epochs, valid, marker="o", color="C1", label="validation RMSE")
    ax.axvline(info.get("best_epoch", len(valid)), color="grey", linestyle=":", label="kept epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("RMSE (rating units)")
    ax.grid(alpha=0.3)
    ax.legend()
    if panels == 2:
        # The estimator records its training objective per epoch, not a training RMSE.
        right = axes[0, 1]
        right.plot(np.arange(1, len(objective) + 1), objective, marker="s", color="C0")
        right.set_xlabel("epoch")
        right.set_ylabel("mean training objective per batch")
        right.set_title("training objective (standardised targets, incl. L2)", fontsize=9)
        right.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write_plots(report: dict, out: Path) -> list:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        report.setdefault("notes", []).append("matplotlib is not installed: no plots")
        return []
    written = []
    for name, described in report["datasets"].items():
        rows = report["summary"].get(name, {})
        if _plot_top_k(rows, out / f"figure4_topk_{name}.png", f"SAIN, {name}: RMSE against top_k"):
            written.append(f"figure4_topk_{name}.png")
        default = [r for r in report["results"]
                   if r["dataset"] == name and r["row"] == "sain-default"]  # fmt: skip
        if default and _plot_curves(default[0], out / f"curves_{name}.png",
                                    f"SAIN package defaults, {name} (seed {default[0]['seed']})"):
            written.append(f"curves_{name}.png")
    return written


def write_outputs(report: dict, out, *, plots=True) -> list:
    if report.get("task") == "ranking":  # --task ranking: its own tables, no plots
        from ._ranking_report import write_outputs as write_ranking

        return write_ranking(report, out)
    out = Path(out)
    names = write_plots(report, out) if plots else []
    report["plots"] = names
    (out / "results.md").write_text(markdown(report, names), encoding="utf-8")
    (out / "results.rst").write_text(rst_tables(report), encoding="utf-8")
    (out / "results.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return [out / "results.md", out / "results.rst", out / "results.json",
            *(out / n for n in names)]  # fmt: skip

"""The report's modality-combination section: headline metric with its 95% CI per input subset.

Built from the runs of ``climb train CONFIG --modality-subsets`` (see
:mod:`climb.train.subsets`), read back from each run's metrics.json; one table row and one plot
row per (study, task, subset).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from climb.evaluate.metrics import LOWER_IS_BETTER
from climb.report.runs import RunInfo
from climb.report.tables import Table, fmt_ci, headline_of

FIGURE = "modality_subsets.png"
DPI = 110


def modality_subset_table(runs: list[RunInfo]) -> Table:
    """Per study and task: the headline metric with its 95% CI for each input subset."""
    table = Table(
        title="Modality combinations",
        columns=["study", "task", "subset", "inputs", "run", "metric", "value [95% CI]",
                 "CI unit", "n (patients)"],
    )
    for run in runs:
        subset = run.modality_subset
        if subset is None or not run.metrics:
            continue
        for key, task in sorted((run.metrics.get("tasks") or {}).items()):
            metric, entry = headline_of(run, key)
            entry = entry or {"value": None, "ci": [None, None]}
            table.records.append({
                "study": run.study, "task": key, "subset": "+".join(subset),
                "size": len(subset), "run": run.name, "metric": metric,
                "value": entry.get("value"), "ci": entry.get("ci") or [None, None],
                "unit": (task.get("bootstrap") or {}).get("unit", "patient"),
                "n": task.get("n_samples"), "patients": task.get("n_patients"),
            })
    if not table.records:
        table.note = ("no data: needs the runs of a modality-subset study "
                      "(climb train CONFIG --modality-subsets)")
        return table
    table.records.sort(key=lambda r: (r["study"], r["task"], r["size"], r["subset"]))
    for r in table.records:
        table.rows.append([r["study"], r["task"], r["subset"], str(r["size"]), r["run"],
                           r["metric"], fmt_ci(r), r["unit"], f"{r['n']} ({r['patients']})"])
    table.note = ("Each subset is the study's model trained on those inputs only (same fusion, "
                  "same seed, same splits), evaluated on the same test samples; CIs are "
                  "bootstrap intervals over the CI unit.")
    return table


def modality_subset_plot(records: list[dict], path: Path) -> Path | None:
    """Horizontal point-range plot, one row per subset and one panel per (study, task), with
    the value, CI and n of each row in a table beside it."""
    records = [r for r in records if r.get("value") is not None]
    if not records:
        return None
    panels: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        panels[(r["study"], r["task"])].append(r)
    heights = [len(rows) + 1 for _, rows in sorted(panels.items())]
    fig, axes = plt.subplots(len(panels), 2, squeeze=False,
                             figsize=(9.0, 0.9 + 0.42 * sum(heights) + 0.5 * len(panels)),
                             gridspec_kw={"height_ratios": heights, "width_ratios": [3, 2]})
    for (ax, side), ((study, task), rows) in zip(axes, sorted(panels.items()), strict=True):
        rows = sorted(rows, key=lambda r: (r["size"], r["subset"]))
        ys = list(range(len(rows)))[::-1]  # first subset on top
        for y, r in zip(ys, rows, strict=True):
            lo, hi = r["ci"]
            has_ci = lo is not None and hi is not None
            if has_ci:
                ax.hlines(y, lo, hi, color="#4c72b0", linewidth=2.4)
            ax.plot(r["value"], y, "o", color="#1f3d7a", markersize=7, zorder=3)
            ci = f"[{lo:.3f}, {hi:.3f}]" if has_ci else "no CI"
            side.text(0.0, y, f"{r['value']:.3f}", va="center", fontsize=9, family="monospace")
            side.text(0.22, y, ci, va="center", fontsize=9, family="monospace")
            side.text(0.68, y, f"{r['n']} ({r['patients']})", va="center", fontsize=9,
                      family="monospace")
        top = len(rows) - 0.2
        for x, head in ((0.0, "value"), (0.22, "95% CI"), (0.68, "n (patients)")):
            side.text(x, top, head, va="center", fontsize=9, fontweight="bold")
        for a in (ax, side):
            a.set_ylim(-0.6, len(rows) + 0.2)
        side.set_xlim(0, 1)
        side.axis("off")
        ax.set_yticks(ys, [r["subset"] for r in rows], fontsize=9)
        metric = rows[0]["metric"]
        values = [v for r in rows for v in (r["value"], *r["ci"]) if v is not None]
        span = max(max(values) - min(values), 0.05)
        low, high = min(values) - 0.1 * span, max(values) + 0.1 * span
        if metric.startswith(("auroc", "auprc")):
            low, high = max(0.0, min(low, 0.45)), min(1.0, high) + 0.02
            if metric.startswith("auroc"):
                ax.axvline(0.5, color="#8c959f", linestyle="--", linewidth=1)
        ax.set_xlim(low, high)
        better = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
        ax.set_xlabel(f"{metric} ({better})", fontsize=9)
        ax.set_title(f"{study}: {task}", fontsize=9, loc="left")
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle("Modality combinations: headline metric per input subset (95% CI)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path

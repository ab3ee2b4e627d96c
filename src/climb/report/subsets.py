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
    the value, CI and n written beside each row."""
    records = [r for r in records if r.get("value") is not None]
    if not records:
        return None
    panels: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        panels[(r["study"], r["task"])].append(r)
    heights = [len(rows) for rows in panels.values()]
    fig, axes = plt.subplots(len(panels), 1, squeeze=False, figsize=(8.0, 1.1 + 0.5 * sum(heights)
                                                                    + 0.6 * len(panels)),
                             gridspec_kw={"height_ratios": heights})
    for ax, ((study, task), rows) in zip(axes[:, 0], sorted(panels.items()), strict=True):
        rows = sorted(rows, key=lambda r: (r["size"], r["subset"]))
        ys = list(range(len(rows)))[::-1]  # first subset on top
        for y, r in zip(ys, rows, strict=True):
            lo, hi = r["ci"]
            if lo is not None and hi is not None:
                ax.hlines(y, lo, hi, color="#4c72b0", linewidth=2.2)
            ax.plot(r["value"], y, "o", color="#1f3d7a" if r["size"] > 1 else "#4c72b0",
                    markersize=7)
            ci = f"[{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else "no CI"
            ax.annotate(f"{r['value']:.3f} {ci}   n {r['n']} ({r['patients']})",
                        xy=(1.02, y), xycoords=("axes fraction", "data"), va="center",
                        fontsize=8, family="monospace")
        ax.set_yticks(ys, [r["subset"] for r in rows], fontsize=9)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        metric = rows[0]["metric"]
        better = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
        ax.set_xlabel(f"{metric} ({better})", fontsize=9)
        ax.set_title(f"{study}: {task}", fontsize=9, loc="left")
        ax.grid(axis="x", alpha=0.3)
        ax.annotate("value [95% CI]   n (patients)", xy=(1.02, 1.0), xycoords="axes fraction",
                    va="bottom", fontsize=8, color="#57606a")
    fig.suptitle("Modality combinations: headline metric per input subset (95% CI)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.6, 1))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path

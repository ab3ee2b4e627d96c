"""PNG figures of the report (matplotlib, Agg backend), drawn from the tables' records."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

DPI = 110


def _err(records: list[dict]) -> np.ndarray:
    """Asymmetric error bars [2, n] from {value, ci}; 0 where the CI is missing."""
    lo = [
        r["value"] - r["ci"][0] if r.get("ci") and r["ci"][0] is not None else 0.0 for r in records
    ]
    hi = [
        r["ci"][1] - r["value"] if r.get("ci") and r["ci"][1] is not None else 0.0 for r in records
    ]
    return np.array([lo, hi])


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def fewshot_plot(records: list[dict], path: Path) -> Path | None:
    """Metric vs k (log2 axis) per task and init (pretrained / scratch), with 95% CI bars."""
    records = [r for r in records if r.get("value") is not None]
    if not records:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    by_task: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        label = r["task"] + (f" ({r['init']})" if r.get("init") else "")
        by_task[label].append(r)
    for task, rows in sorted(by_task.items()):
        rows = sorted(rows, key=lambda r: r["k"])
        ks = np.array([r["k"] for r in rows], dtype=float)
        values = np.array([r["value"] for r in rows])
        ax.errorbar(ks, values, yerr=_err(rows), marker="o", capsize=4, label=task)
    ks_all = sorted({r["k"] for r in records})
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks_all, [str(k) for k in ks_all])
    ax.set_xlabel("shots per class (k)")
    ax.set_ylabel(records[0]["metric"])
    ax.set_title("Few-shot transfer (95% CI)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def fusion_plot(records: list[dict], path: Path) -> Path | None:
    """Grouped bars with 95% CIs: headline metric per fusion method for each task, one panel
    per metric (AUROC and MAE do not share an axis)."""
    records = [r for r in records if r.get("value") is not None]
    if not records:
        return None
    metrics = sorted({r["metric"] for r in records})
    methods = sorted({r["fusion"] for r in records})
    n_tasks = [len({r["task"] for r in records if r["metric"] == m}) for m in metrics]
    fig, axes = plt.subplots(
        1,
        len(metrics),
        squeeze=False,
        figsize=(max(6.4, 2.2 * sum(n_tasks) + 1.5), 4.0),
        gridspec_kw={"width_ratios": n_tasks},
    )
    width = 0.8 / len(methods)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes[0], metrics, strict=True):
        subset = [r for r in records if r["metric"] == metric]
        tasks = sorted({r["task"] for r in subset})
        for j, method in enumerate(methods):
            present = [
                (i, r)
                for i, t in enumerate(tasks)
                for r in subset
                if r["task"] == t and r["fusion"] == method
            ]
            if not present:
                continue
            xs = [i + (j - (len(methods) - 1) / 2) * width for i, _ in present]
            rows = [r for _, r in present]
            ax.bar(
                xs,
                [r["value"] for r in rows],
                width,
                yerr=_err(rows),
                capsize=4,
                label=method,
                color=colors[j % len(colors)],
            )
        ax.set_xticks(range(len(tasks)), tasks, rotation=15, fontsize=8)
        better = "lower is better" if metric in ("mae", "rmse") else "higher is better"
        ax.set_ylabel(f"{metric} ({better})", fontsize=9)
        lows = [r["ci"][0] for r in subset if r.get("ci") and r["ci"][0] is not None]
        floor = min(lows + [r["value"] for r in subset])
        if metric.startswith(("auroc", "auprc")):
            ax.set_ylim(max(0.0, floor - 0.05), 1.0)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=len(methods),
        fontsize=8,
        title="fusion",
        title_fontsize=8,
    )
    fig.suptitle("Fusion methods (95% CI)")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def robustness_plot(records: list[dict], path: Path) -> Path | None:
    """One panel per input/corruption: mean headline metric vs severity, one line per run."""
    records = [r for r in records if r.get("mean")]
    if not records:
        return None
    panels = sorted({(r["input"], r["corruption"]) for r in records})
    cols = min(3, len(panels))
    nrows = int(np.ceil(len(panels) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.2 * nrows), squeeze=False)
    for ax, (inp, corr) in zip(axes.ravel(), panels, strict=False):
        for r in records:
            if (r["input"], r["corruption"]) != (inp, corr):
                continue
            values = [np.nan if v is None else v for v in r["mean"]]
            ax.plot(r["severities"], values, marker="o", label=r["run"])
        ax.set_title(f"{inp}: {corr}", fontsize=9)
        ax.set_xlabel("severity (0 = clean)")
        names = {m for r in records for m in r.get("metric_name", {}).values()}
        ax.set_ylabel(", ".join(sorted(names)) or "metric", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    return _save(fig, path)


def delta_plot(records: list[dict], path: Path) -> Path | None:
    """Forest plot of multitask - single-task deltas with 95% CIs, one panel per metric
    (an AUROC difference and an MAE difference do not share a scale)."""
    records = [r for r in records if r["diff"]["value"] is not None]
    if not records:
        return None
    metrics = sorted({r["metric"] for r in records})
    heights = [sum(r["metric"] == m for r in records) for m in metrics]
    fig, axes = plt.subplots(
        len(metrics),
        1,
        squeeze=False,
        figsize=(7.5, 0.42 * sum(heights) + 1.3 * len(metrics)),
        gridspec_kw={"height_ratios": heights},
    )
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        rows = [r for r in records if r["metric"] == metric]
        ys = np.arange(len(rows))[::-1]
        ax.errorbar(
            [r["diff"]["value"] for r in rows],
            ys,
            xerr=_err([r["diff"] for r in rows]),
            fmt="o",
            capsize=4,
        )
        ax.axvline(0, color="grey", lw=1, ls="--")
        ax.set_yticks(
            ys, [f"{r['task']}\n{r['multi_run']} - {r['single_run']}" for r in rows], fontsize=7
        )
        better = "lower is better" if metric in ("mae", "rmse") else "higher is better"
        ax.set_xlabel(f"delta {metric} (multitask - single-task; {better})", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].set_title("Multitask vs single-task (95% CI)")
    return _save(fig, path)


def confusion_plot(records: list[dict], path: Path) -> Path | None:
    """One confusion matrix per record (``title``, ``classes``, ``matrix`` [true][predicted]
    counts, ``subtitle``), side by side, each cell labelled with its count."""
    records = [r for r in records if r.get("matrix")]
    if not records:
        return None
    fig, axes = plt.subplots(1, len(records), squeeze=False, figsize=(3.6 * len(records), 3.9))
    for ax, rec in zip(axes[0], records, strict=True):
        matrix = np.asarray(rec["matrix"], dtype=float)
        classes = rec["classes"]
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=max(1.0, float(matrix.max())))
        for (i, j), count in np.ndenumerate(matrix):
            colour = "white" if count > matrix.max() / 2 else "black"
            ax.text(j, i, f"{int(count)}", ha="center", va="center", fontsize=9, color=colour)
        ax.set_xticks(range(len(classes)), classes, fontsize=8)
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
        ax.set_title(f"{rec['title']}\n{rec.get('subtitle', '')}", fontsize=8)
    return _save(fig, path)

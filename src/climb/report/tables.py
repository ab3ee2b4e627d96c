"""The report's tables, built only from run files (metrics.json, robustness.json, predictions).

Each builder returns a :class:`Table` (column names + formatted rows + the raw records the
plots use). An empty table carries a ``note`` saying why there is no data.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from climb.evaluate.metrics import HEADLINE, LOWER_IS_BETTER
from climb.evaluate.robustness import effective_robustness
from climb.evaluate.run import load_task_arrays, paired_bootstrap
from climb.report.runs import RunInfo


@dataclass
class Table:
    """A titled table: formatted cells for HTML/Markdown, ``records`` for plots."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    def to_markdown(self) -> str:
        if not self.rows:
            return f"_{self.note or 'no data'}_\n"
        head = "| " + " | ".join(self.columns) + " |"
        sep = "|" + "|".join("---" for _ in self.columns) + "|"
        body = ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in self.rows]
        note = f"\n_{self.note}_\n" if self.note else ""
        return "\n".join([head, sep, *body]) + "\n" + note


def fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def fmt_ci(entry: dict | None, digits: int = 3) -> str:
    """``0.912 [0.880, 0.940]`` from a ``{value, ci}`` entry of metrics.json."""
    if not entry or entry.get("value") is None:
        return "n/a"
    lo, hi = entry.get("ci") or (None, None)
    if lo is None or hi is None:
        return fmt(entry["value"], digits)
    return f"{entry['value']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def fmt_p(p: float | None, resamples: int) -> str:
    if p is None:
        return "n/a"
    if p == 0:
        return f"< {1 / resamples:.3g}"
    return f"{p:.3g}"


def headline_of(run: RunInfo, key: str) -> tuple[str, dict | None]:
    """(metric name, {value, ci}) of a task's headline metric in a run's metrics.json."""
    task = run.task_metrics(key)
    if task is None:
        return HEADLINE.get(run.tasks.get(key, {}).get("type", ""), "auroc_macro"), None
    metric = task.get("headline") or HEADLINE[task["type"]]
    return metric, task["metrics"].get(metric)


# ---------------------------------------------------------------- multitask vs single-task


def delta_table(
    runs: list[RunInfo], split: str = "test", n_resamples: int = 1000, seed: int = 0
) -> Table:
    """Per dataset and task: multitask minus single-task headline metric, paired bootstrap.

    Every multitask run is paired with each single-task run of the same task whose inputs the
    multitask run also has (a single-task model with an extra input, such as a fusion model
    with RR features, is not a like-for-like baseline); predictions are aligned by sample_id.
    """
    table = Table(
        title="Multitask vs single-task",
        columns=[
            "dataset",
            "task",
            "metric",
            "single-task run",
            "single [95% CI]",
            "multitask run",
            "multitask [95% CI]",
            "delta [95% CI]",
            "p",
            "patients",
            "CI unit",
        ],
    )
    multi = [r for r in runs if r.regime == "multitask"]
    single = [r for r in runs if r.regime == "single"]
    if not multi or not single:
        table.note = (
            f"no data: needs at least one multitask and one single-task run "
            f"(got {len(multi)} multitask, {len(single)} single-task)"
        )
        return table
    arrays = {r.name: load_task_arrays(r.path, split) for r in multi + single}
    for m in multi:
        for key in sorted(arrays[m.name]):
            for s in single:
                if key not in arrays[s.name] or not set(s.inputs) <= set(m.inputs):
                    continue
                res = paired_bootstrap(
                    arrays[m.name][key], arrays[s.name][key], n_resamples=n_resamples, seed=seed
                )
                spec = m.tasks[key]
                table.records.append(
                    {
                        "dataset": spec["dataset"],
                        "task": spec["task"],
                        "single_run": s.name,
                        "multi_run": m.name,
                        **res,
                    }
                )
                table.rows.append(
                    [
                        spec["dataset"],
                        spec["task"],
                        res["metric"],
                        s.name,
                        fmt_ci(res["b"]),
                        m.name,
                        fmt_ci(res["a"]),
                        fmt_ci(res["diff"]),
                        fmt_p(res["p_value"], n_resamples),
                        str(res["n_patients"]),
                        res.get("unit", "patient"),
                    ]
                )
    table.rows.sort(key=lambda r: (r[0], r[1], r[3], r[5]))
    if not table.rows:
        table.note = "no data: the multitask and single-task runs share no task"
    else:
        table.note = (
            f"delta = multitask - single-task on the samples both runs scored; "
            f"paired bootstrap over patients ({n_resamples} resamples, seed {seed}; over "
            "samples where the test set holds a single patient, as the CI unit column says); "
            "p two-sided. For MAE a negative delta is an improvement."
        )
    return table


# ---------------------------------------------------------------- DRPO on vs off


def drpo_mode(config: dict[str, Any]) -> str:
    """A run's ``loss.drpo.mode`` (off | simple | hierarchical; legacy ``enabled``)."""
    loss = config.get("loss") if isinstance(config.get("loss"), dict) else {}
    drpo = loss.get("drpo") if isinstance(loss.get("drpo"), dict) else {}
    mode = drpo.get("mode")
    if mode in (None, False, "off"):
        return "hierarchical" if drpo.get("enabled") and mode is None else "off"
    return str(mode)


def _same_setup(config: dict[str, Any]) -> str:
    """Everything of a multitask run's config except its name and DRPO section."""
    import json

    rest = {k: v for k, v in config.items() if k != "run"}
    loss = dict(rest.get("loss") or {})
    loss.pop("drpo", None)
    rest["loss"] = loss
    return json.dumps(rest, sort_keys=True, default=str)


def drpo_table(
    runs: list[RunInfo], split: str = "test", n_resamples: int = 1000, seed: int = 0
) -> Table:
    """Multitask runs with DRPO minus the same run without it (same data, model, schedule
    and seed; only ``loss.drpo`` differs), per task, with a paired bootstrap."""
    table = Table(
        title="Multitask: DRPO on vs off",
        columns=[
            "dataset",
            "task",
            "metric",
            "DRPO off run",
            "off [95% CI]",
            "DRPO run (mode)",
            "on [95% CI]",
            "delta on - off [95% CI]",
            "p",
            "patients",
            "CI unit",
        ],
    )
    multi = [r for r in runs if r.regime == "multitask"]
    on = [r for r in multi if drpo_mode(r.config) != "off"]
    off = [r for r in multi if drpo_mode(r.config) == "off"]
    pairs = [(a, b) for a in on for b in off if _same_setup(a.config) == _same_setup(b.config)]
    if not pairs:
        table.note = (
            "no data: needs a multitask run with DRPO and the same run with loss.drpo.mode=off"
        )
        return table
    arrays = {r.name: load_task_arrays(r.path, split) for pair in pairs for r in pair}
    for a, b in pairs:
        for key in sorted(set(arrays[a.name]) & set(arrays[b.name])):
            res = paired_bootstrap(
                arrays[a.name][key], arrays[b.name][key], n_resamples=n_resamples, seed=seed
            )
            spec = a.tasks[key]
            table.records.append(
                {"dataset": spec["dataset"], "task": spec["task"], "drpo_run": a.name,
                 "off_run": b.name, "mode": drpo_mode(a.config), **res}
            )
            table.rows.append(
                [
                    spec["dataset"],
                    spec["task"],
                    res["metric"],
                    b.name,
                    fmt_ci(res["b"]),
                    f"{a.name} ({drpo_mode(a.config)})",
                    fmt_ci(res["a"]),
                    fmt_ci(res["diff"]),
                    fmt_p(res["p_value"], n_resamples),
                    str(res["n_patients"]),
                    res.get("unit", "patient"),
                ]
            )
    table.note = (
        f"delta = DRPO on - off on the samples both runs scored; the runs differ only in "
        f"loss.drpo; paired bootstrap ({n_resamples} resamples, seed {seed}) over the CI unit; "
        "p two-sided. One seed per run: a delta inside its CI is no evidence either way."
    )
    return table


# ---------------------------------------------------------------- few-shot


def fewshot_table(runs: list[RunInfo]) -> Table:
    """Headline metric with CI for each few-shot run, by task and k."""
    table = Table(
        title="Few-shot",
        columns=["task", "init", "k", "run", "metric", "value [95% CI]", "selection"],
    )
    for run in runs:
        k = run.fewshot_k
        if k is None or not run.metrics:
            continue
        for key in sorted(run.metrics.get("tasks", {})):
            metric, entry = headline_of(run, key)
            table.records.append(
                {
                    "task": key,
                    "init": run.init,
                    "k": k,
                    "run": run.name,
                    "metric": metric,
                    **(entry or {"value": None, "ci": [None, None]}),
                    "selection": fewshot_selection(run),
                }
            )
    table.records.sort(key=lambda r: (r["task"], r["init"], r["k"], r["run"]))
    for r in table.records:
        table.rows.append(
            [r["task"], r["init"], str(r["k"]), r["run"], r["metric"], fmt_ci(r),
             r["selection"]]
        )
    if not table.rows:
        table.note = "no data: no run with regime 'fewshot' and evaluated metrics"
    else:
        table.note = (
            "selection: the validation data that chose each run's checkpoint and Youden "
            "thresholds (a k-shot run sees only k labelled validation samples per class)."
        )
    return table


def fewshot_selection(run: RunInfo) -> str:
    """What chose a few-shot run's checkpoint and thresholds (RUN/fewshot_indices.json)."""
    import json

    path = run.path / "fewshot_indices.json"
    try:
        record = json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:
        record = {}
    return str(record.get("selection") or "not recorded (full validation split)")


# ---------------------------------------------------------------- fusion


def fusion_table(runs: list[RunInfo]) -> Table:
    """Headline metric with CI per fusion method (model.fusion.type), per task."""
    table = Table(
        title="Fusion comparison",
        columns=["task", "fusion", "run", "regime", "metric", "value [95% CI]"],
    )
    for run in runs:
        if run.fusion is None or not run.metrics or run.regime == "fewshot":
            continue
        if run.modality_subset is not None:  # its own section (report/subsets.py)
            continue
        for key in sorted(run.metrics.get("tasks", {})):
            metric, entry = headline_of(run, key)
            table.records.append(
                {
                    "task": key,
                    "fusion": run.fusion,
                    "run": run.name,
                    "regime": run.regime,
                    "metric": metric,
                    **(entry or {"value": None, "ci": [None, None]}),
                }
            )
    methods = {r["fusion"] for r in table.records}
    if len(methods) < 2:
        table.records = []
        table.note = (
            "no data: needs runs with at least two fusion methods "
            f"(found {sorted(methods) or 'none'})"
        )
        return table
    table.records.sort(key=lambda r: (r["task"], r["fusion"], r["run"]))
    for r in table.records:
        table.rows.append(
            [r["task"], r["fusion"], r["run"], str(r["regime"]), r["metric"], fmt_ci(r)]
        )
    return table


# ---------------------------------------------------------------- robustness


def _is_baseline(run: RunInfo) -> bool:
    return run.fusion == "late" or len(run.inputs) == 1


def robustness_table(runs: list[RunInfo]) -> Table:
    """Relative robustness per run, input and corruption (mean over tasks of the headline
    metric), with effective robustness against late-fusion/unimodal baseline runs."""
    table = Table(
        title="Robustness",
        columns=[
            "run",
            "input",
            "corruption",
            "clean",
            "severity 5",
            "relative robustness",
            "effective robustness",
        ],
    )
    curves: dict[tuple[str, str, str], dict] = {}
    for run in runs:
        for sweep in (run.robustness or {}).get("sweeps", []):
            mean = sweep.get("mean") or []
            rr = [v for v in sweep.get("relative_robustness", {}).values() if v is not None]
            curves[(run.name, sweep["input"], sweep["corruption"])] = {
                "run": run.name,
                "input": sweep["input"],
                "corruption": sweep["corruption"],
                "severities": sweep["severities"],
                "mean": mean,
                "metric": sweep["metric"],
                "metric_name": sweep.get("metric_name", {}),
                "rr": sum(rr) / len(rr) if rr else None,
                "baseline": _is_baseline(run),
            }
    if not curves:
        table.note = "no data: no run has robustness.json (`climb evaluate RUN --robustness`)"
        return table
    for (name, inp, corr), c in sorted(curves.items()):
        baselines = [
            (b["mean"][0], b["rr"])
            for (n, i, k), b in curves.items()
            if b["baseline"] and n != name and i == inp and k == corr and b["mean"]
        ]
        er = (
            effective_robustness(c["mean"][0], c["rr"], baselines)
            if baselines and c["mean"]
            else None
        )
        c["effective_robustness"] = er
        table.records.append(c)
        table.rows.append(
            [
                name,
                inp,
                corr,
                fmt(c["mean"][0] if c["mean"] else None),
                fmt(c["mean"][-1] if c["mean"] else None),
                fmt(c["rr"]),
                fmt(er) if baselines else ("(baseline)" if c["baseline"] else "no baseline run"),
            ]
        )
    table.note = (
        "clean/severity 5 = mean headline metric over tasks; relative robustness = "
        "normalized area under metric-vs-severity (1 = no loss); effective "
        "robustness = relative robustness minus that of late-fusion/unimodal "
        "baseline runs at the same clean metric."
    )
    return table


def modality_drop_table(runs: list[RunInfo]) -> Table:
    """Headline metric with all inputs and with each input masked, per run and task."""
    table = Table(title="Modality drop", columns=["run", "task", "condition", "metric"])
    for run in runs:
        drop = (run.robustness or {}).get("modality_drop") or {}
        for condition, scores in drop.items():
            for task, value in sorted(scores.items()):
                table.rows.append([run.name, task, condition, fmt(value)])
    if not table.rows:
        table.note = "no data: no modality-drop results in robustness.json"
    return table


# ---------------------------------------------------------------- subgroups


def _group_value(entry: dict, metric: str) -> dict | None:
    """``{value, ci}`` of a group's metric (older metrics.json files hold a bare number)."""
    value = (entry.get("metrics") or {}).get(metric)
    return value if isinstance(value, dict) or value is None else {"value": value, "ci": None}


def subgroup_table(runs: list[RunInfo]) -> Table:
    """Headline metric with its bootstrap CI per subgroup (site, sex, age bucket, dataset); one
    row per run, task and attribute, the groups side by side with their sizes (samples /
    patients); the task's worst group (among groups of at least ``min_group_size`` samples)
    marked, and the groups too small to be ranked listed."""
    table = Table(
        title="Subgroups",
        columns=[
            "run",
            "task",
            "metric",
            "attribute",
            "groups: value [95% CI] (samples/patients)",
            "too small to rank",
            "worst group",
        ],
    )
    sizes = set()
    for run in runs:
        for key, task in sorted(((run.metrics or {}).get("tasks") or {}).items()):
            metric = task.get("headline") or HEADLINE[task["type"]]
            worst = task.get("worst_group") or {}
            small = {(g["attribute"], g["group"]) for g in task.get("small_groups") or []}
            if task.get("min_group_size") is not None:
                sizes.add(task["min_group_size"])
            for attribute, by_value in sorted((task.get("groups") or {}).items()):
                if len(by_value) < 2:
                    continue
                cells = [
                    f"{value} {fmt_ci(_group_value(entry, metric))} "
                    f"({entry['n']}/{entry.get('n_patients', '?')})"
                    for value, entry in sorted(by_value.items())
                ]
                excluded = [v for v in sorted(by_value) if (attribute, v) in small]
                is_worst = worst.get("attribute") == attribute
                table.records.append(
                    {
                        "run": run.name,
                        "task": key,
                        "attribute": attribute,
                        "groups": by_value,
                        "small_groups": excluded,
                        "worst": worst if is_worst else None,
                    }
                )
                table.rows.append(
                    [
                        run.name,
                        key,
                        metric,
                        attribute,
                        " · ".join(cells),
                        ", ".join(f"{v} ({by_value[v]['n']})" for v in excluded),
                        f"{worst['group']} {fmt_ci(worst)}" if is_worst else "",
                    ]
                )
    if not table.rows:
        table.note = (
            "no data: no subgroup attribute (site, sex, age_bucket, dataset) with two "
            "or more groups in the runs' predictions"
        )
    else:
        lower = sorted(LOWER_IS_BETTER & set(HEADLINE.values()))
        size = ", ".join(str(v) for v in sorted(sizes)) or "1"
        table.note = (
            f"worst group = lowest headline metric (highest for {', '.join(lower)}) over all "
            f"attributes with two or more groups, among groups of at least {size} samples "
            "(`climb evaluate --min-group-size`); smaller groups are listed, not ranked. "
            "Group CIs: bootstrap over the group's patients."
        )
    return table


def overview_table(runs: list[RunInfo]) -> Table:
    """One row per run and task: the headline metric with its CI."""
    table = Table(
        title="Runs",
        columns=[
            "run",
            "regime",
            "fusion",
            "k",
            "task",
            "n (patients)",
            "metric",
            "value [95% CI]",
            "CI unit",
            "classes defined",
        ],
    )
    counts: dict[str, int] = defaultdict(int)
    ordered = sorted(runs, key=lambda r: (str(r.regime), r.fewshot_k or 0, r.name))
    for run in ordered:
        tasks = (run.metrics or {}).get("tasks") or {}
        if not tasks:
            table.rows.append(
                [
                    run.name,
                    str(run.regime),
                    run.fusion or "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "; ".join(run.notes) or "no metrics",
                ]
            )
            continue
        for key, task in sorted(tasks.items()):
            counts[run.name] += 1
            metric, entry = headline_of(run, key)
            cd = task.get("classes_defined") or {}
            table.rows.append(
                [
                    run.name,
                    str(run.regime),
                    run.fusion or "",
                    "" if run.fewshot_k is None else str(run.fewshot_k),
                    key,
                    f"{task['n_samples']} ({task['n_patients']})",
                    metric,
                    fmt_ci(entry),
                    (task.get("bootstrap") or {}).get("unit", "patient"),
                    f"{cd.get('defined')}/{cd.get('of')}" if cd.get("of") else "",
                ]
            )
    if not table.rows:
        table.note = "no runs"
    return table


# ---------------------------------------------------------------- cross-dataset shift


def read_shift_files(run: RunInfo) -> list[dict[str, Any]]:
    """The ``RUN/shift-<dataset>.json`` documents of a run (``climb evaluate RUN --dataset``)."""
    from climb.evaluate.run import RunError

    documents = []
    for path in sorted(run.path.glob("shift-*.json")):
        try:
            documents.append(json.loads(path.read_text()))
        except json.JSONDecodeError as err:
            raise RunError(f"{path}: invalid JSON ({err})") from err
    return documents


def shift_table(runs: list[RunInfo]) -> Table:
    """In- vs out-of-distribution headline metric with CIs per run, task and other dataset,
    over the classes both datasets define (the others listed)."""
    table = Table(
        title="Cross-dataset shift",
        columns=[
            "run",
            "task",
            "evaluated on",
            "metric",
            "classes compared",
            "in-distribution [95% CI] (n)",
            "out-of-distribution [95% CI] (n)",
            "gap [95% CI]",
            "classes excluded",
            "CI unit",
        ],
    )
    for run in runs:
        for doc in read_shift_files(run):
            for key, task in sorted((doc.get("tasks") or {}).items()):
                excluded = "; ".join(
                    f"{e['class']}: {e['reason']}" for e in task.get("classes_excluded") or []
                )
                gap = task.get("gap")
                record = {"run": run.name, "task": key, "dataset": doc["dataset"], **task}
                table.records.append(record)
                if not gap:
                    table.rows.append(
                        [run.name, key, task["ood_task"], "", "0", task.get("note", ""), "", "",
                         excluded, ""]
                    )
                    continue
                metric = gap["metric"]
                ind, ood = task["in_distribution"], task["out_of_distribution"]
                units = {(s.get("bootstrap") or {}).get("unit", "?") for s in (ind, ood)}
                table.rows.append(
                    [
                        run.name,
                        key,
                        f"{task['ood_task']} ({', '.join(doc.get('ood_splits') or [])})",
                        metric,
                        ", ".join(task["classes_compared"]),
                        f"{fmt_ci(ind['metrics'].get(metric))} ({ind['n_samples']})",
                        f"{fmt_ci(ood['metrics'].get(metric))} ({ood['n_samples']})",
                        fmt_ci(gap),
                        excluded,
                        " / ".join(sorted(units)),
                    ]
                )
    if not table.rows:
        table.note = "no data: no run has shift-<dataset>.json (`climb evaluate RUN --dataset D`)"
    else:
        table.note = (
            "a run's model scored on another prepared dataset with the same harmonized "
            "vocabulary; in-distribution = the run's own test predictions over the same "
            "classes; gap = out-of-distribution minus in-distribution (independent bootstraps "
            "paired by resample); thresholds are the run's own (Youden on its val split)."
        )
    return table

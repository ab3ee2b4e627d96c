"""`climb evaluate RUN_DIR`: metrics with patient-level CIs, robustness sweeps and cross-dataset
shift (``--dataset OTHER``) of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from climb.errors import ClimbError
from climb.evaluate import DEFAULT_MIN_GROUP_SIZE
from climb.evaluate.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED

SHOWN = ("auroc_macro", "auprc_macro", "balanced_accuracy", "mae")


def _fmt(entry: dict | None) -> str:
    if not entry or entry.get("value") is None:
        return "n/a"
    lo, hi = entry["ci"]
    ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None else ""
    return f"{entry['value']:.3f}{ci}"


def _unit(task: dict) -> str:
    """The CI unit of a task's intervals as metrics.json records it ("none" without CIs)."""
    boot = task.get("bootstrap") or {}
    return str(boot.get("unit", "?")) if boot.get("resamples") else "none"


def metrics_table(document: dict) -> Table:
    """A Rich table: one row per task, the main metrics with their 95% CIs, the unit those CIs
    resampled (patients, or samples for a single-patient test set) and the worst group."""
    shown = [m for m in SHOWN if any(m in t["metrics"] for t in document["tasks"].values())]
    table = Table(title=f"{document['run']} - {document['split']} (95% bootstrap CI)")
    table.add_column("task")
    table.add_column("n (patients)", justify="right")
    table.add_column("CI unit")
    for m in shown:
        table.add_column(m, justify="right")
    table.add_column("worst group", justify="left")
    for key, task in document["tasks"].items():
        worst = task.get("worst_group")
        if worst:
            worst_text = f"{worst['attribute']}={worst['group']}: {_fmt(worst)} (n {worst['n']})"
        else:
            worst_text = f"- (no group of >= {task.get('min_group_size', '?')})"
        cells = [_fmt(task["metrics"][m]) if m in task["metrics"] else "" for m in shown]
        table.add_row(
            key, f"{task['n_samples']} ({task['n_patients']})", _unit(task), *cells, worst_text
        )
    return table


def table_notes(document: dict) -> list[str]:
    """Lines under the table: redrawn resamples (fixed class set) and small groups left out."""
    lines = []
    for key, task in document["tasks"].items():
        boot = task.get("bootstrap") or {}
        if boot.get("redrawn"):
            done = "" if boot.get("complete", True) else " (redraw limit reached: fewer resamples)"
            lines.append(
                f"{key}: {boot['redrawn']} resamples redrawn so that every class of the fixed "
                f"set ({len(boot.get('class_set') or [])}) is defined{done}"
            )
        small = task.get("small_groups") or []
        if small:
            names = ", ".join(f"{g['attribute']}={g['group']} ({g['n']})" for g in small)
            lines.append(
                f"{key}: groups under {task.get('min_group_size')} samples, not ranked: {names}"
            )
    return lines


def shift_table(document: dict) -> Table:
    """A Rich table: in- vs out-of-distribution headline metric per task, and the gap."""
    table = Table(
        title=f"{document['run']} on {document['dataset']} (95% bootstrap CI; "
        f"in-distribution = {document['split']} split)"
    )
    for column in ("task", "vs", "metric", "classes", "in-dist", "out-of-dist", "gap", "CI unit"):
        table.add_column(column)
    for key, task in document["tasks"].items():
        if "gap" not in task:
            table.add_row(key, task["ood_task"], "", "0", task.get("note", ""), "", "", "")
            continue
        metric = task["gap"]["metric"]
        ind, ood = task["in_distribution"], task["out_of_distribution"]
        table.add_row(
            key,
            task["ood_task"],
            metric,
            str(len(task["classes_compared"])),
            f"{_fmt(ind['metrics'][metric])} n={ind['n_samples']}",
            f"{_fmt(ood['metrics'][metric])} n={ood['n_samples']}",
            _fmt(task["gap"]),
            f"{_unit(ind)} / {_unit(ood)}",
        )
    return table


def run_robustness(run_dir: Path, store: str | None, split: str, seed: int) -> dict[str, Any]:
    """Sweep every corruption of every model input and drop each modality; needs the trained
    model (climb.train.api) and the prepared store the run was trained on."""
    from climb.evaluate.run import RunError

    try:
        from torch.utils.data import DataLoader

        from climb.load.collate import Collator
        from climb.load.dataset import StoreDataset
        from climb.train import api
    except ImportError as err:  # the training layer is not installed/built
        raise ClimbError(f"--robustness needs climb.train.api and climb.load ({err})") from err
    from climb.evaluate import robustness as rb

    model, tasks, config = api.load_run(run_dir)
    data = config.get("data", {})
    store = store or data.get("store")
    if not store or not Path(store).exists():
        raise RunError(
            f"{run_dir}: --robustness needs the prepared store (--store STORE); "
            f"config has {data.get('store')!r}"
        )
    inputs = data.get("inputs") or list(config.get("model", {}).get("encoders", {}))
    dataset = StoreDataset(store, data.get("datasets"), split=split, inputs=inputs or None)
    if len(dataset) == 0:
        raise RunError(f"{store}: no rows in split {split!r}")
    batch_size = int(data.get("eval_batch_size") or data.get("batch_size") or 32)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        collate_fn=Collator(tasks, inputs=inputs or None),
    )
    batches = list(loader)
    specs = {t.key: {"key": t.key, "type": t.type, "classes": list(t.classes)} for t in tasks}

    def predict_fn(bs: list[dict]):
        return api.predict(model, bs, tasks)

    sweeps = []
    names = sorted({name for b in batches for name in b["inputs"]})
    for name in names:
        try:
            corruptions = rb.corruptions_for(name, fs=_sampling_rate(dataset, name))
        except ValueError:
            continue
        for corruption in corruptions.values():
            sweeps.append(
                rb.robustness_sweep(predict_fn, batches, name, corruption, tasks=specs, seed=seed)
            )
    drop = rb.modality_drop(predict_fn, batches, lambda f: rb.headline_scores(f, specs))
    return {"split": split, "seed": seed, "sweeps": sweeps, "modality_drop": drop}


def _sampling_rate(dataset: Any, name: str) -> float | None:
    """The stored sampling rate of input ``name`` (its ``input.NAME.attrs``), if any."""
    import json

    import pyarrow.parquet as pq

    column = f"input.{name}.attrs"
    files = getattr(dataset, "files", [])
    for path in dict.fromkeys(getattr(files, "paths", files)):  # list, or the loader's handles
        if column not in pq.read_schema(path).names:
            continue
        for text in pq.read_table(path, columns=[column]).column(0).to_pylist():
            rate = json.loads(text or "{}").get("sampling_rate")
            if rate:
                return float(rate)
    return None


def answers_table(document: dict) -> Table:
    """A Rich table of scored answers: per task the answer counts and the metrics with CIs."""
    table = Table(title=f"{document['run']} - {document['split']} answers (95% bootstrap CI)")
    for column in ("task", "questions", "answered", "unparseable", "missing", "set F1",
                   "accuracy", "macro F1", "CI unit"):
        table.add_column(column, justify="left" if column in ("task", "CI unit") else "right")
    for key, task in document["tasks"].items():
        counts, metrics = task["answers"], task["metrics"]
        table.add_row(
            key, str(counts["questions"]), str(counts["answered"]), str(counts["unparseable"]),
            str(counts["missing"]), _fmt(metrics["set_f1"]), _fmt(metrics["accuracy"]),
            _fmt(metrics["f1_macro"]), _unit(task),
        )
    return table


def run_answers(
    answers: Path, export: Path, out: Path | None, split: str, store: str | None,
    bootstrap: int, seed: int,
) -> Path:
    """Score ``answers`` against ``export``, write OUT and print the table; returns the
    metrics path."""
    from climb.evaluate.answers import evaluate_answers, write_outputs

    document, scored = evaluate_answers(
        answers, export, split=split, store=Path(store) if store else None,
        n_resamples=bootstrap, seed=seed,
    )
    out = out if out is not None else answers.parent / f"{answers.stem}-eval"
    path = write_outputs(out, document, scored)
    console = Console()
    console.print(answers_table(document))
    totals = document["answers"]
    console.print(
        f"{totals['unparseable']} unparseable and {totals['missing']} missing answers scored as "
        f"wrong; {totals['not_in_export']} answers name no {split} question of the export. "
        "AUROC/AUPRC not computed: free-text answers carry no probabilities."
    )
    console.print(f"wrote {path}")
    return path


def register(app: typer.Typer) -> None:
    """Add `climb evaluate` to the CLI."""

    @app.command("evaluate")
    def evaluate(
        run_dir: Path | None = typer.Argument(
            None, help="run directory written by `climb train` (not with --answers)"
        ),
        store: str | None = typer.Option(
            None, "--store", help="prepared store (robustness; with --answers: the store the "
            "export came from, for patient-level CIs)"
        ),
        split: str = typer.Option("test", "--split", help="split to evaluate"),
        bootstrap: int = typer.Option(
            DEFAULT_RESAMPLES, "--bootstrap", help="patient-level bootstrap resamples (0 = none)"
        ),
        seed: int = typer.Option(DEFAULT_SEED, "--seed", help="bootstrap/corruption seed"),
        robustness: bool = typer.Option(
            False, "--robustness", help="also run corruption sweeps + modality drop"
        ),
        min_group_size: int = typer.Option(
            DEFAULT_MIN_GROUP_SIZE,
            "--min-group-size",
            help="smallest subgroup (samples) that can be named the worst group",
        ),
        dataset: str | None = typer.Option(
            None,
            "--dataset",
            help="another prepared dataset with the same harmonized vocabulary: evaluate the "
            "run on it (cross-dataset shift) -> RUN/shift-DATASET.json",
        ),
        ood_split: str = typer.Option(
            "all", "--ood-split", help="split(s) of --dataset to score: all, train, val, test"
        ),
        answers: Path | None = typer.Option(
            None, "--answers", help="a model's answers (JSONL: id + answer/response) to the "
            "questions of --export; scored -> OUT/metrics.json"
        ),
        export: Path | None = typer.Option(
            None, "--export", help="the `climb export qa` output the answers reply to"
        ),
        out: Path | None = typer.Option(
            None, "--out", help="with --answers: output directory (default: beside FILE, "
            "<FILE stem>-eval)"
        ),
    ) -> None:
        """Metrics with 95% bootstrap CIs (over patients) and subgroups -> RUN/metrics.json;
        with --dataset, in- vs out-of-distribution metrics -> RUN/shift-DATASET.json; with
        --answers FILE --export DIR, a vision-language model's answers scored (set-F1,
        accuracy, macro-F1) -> OUT/metrics.json."""
        from climb.evaluate.run import RunError, evaluate_run, write_json  # sklearn: lazy

        if answers is not None or export is not None:
            if answers is None or export is None or run_dir is not None:
                raise ClimbError("--answers FILE and --export DIR go together, without RUN_DIR")
            run_answers(answers, export, out, split, store, bootstrap, seed)
            return
        if run_dir is None:
            raise ClimbError("give RUN_DIR, or --answers FILE --export DIR")
        if not run_dir.is_dir():
            raise RunError(f"{run_dir}: not a directory")
        console = Console()
        if dataset is not None:
            from climb.evaluate.shift import SPLITS, shift_evaluate, shift_path

            if ood_split != "all" and ood_split not in SPLITS:
                raise ClimbError(f"--ood-split: {ood_split!r} is not all, train, val or test")
            shift = shift_evaluate(
                run_dir,
                dataset,
                store=store,
                split=split,
                ood_splits=SPLITS if ood_split == "all" else (ood_split,),
                n_resamples=bootstrap,
                seed=seed,
            )
            path = write_json(shift_path(run_dir, dataset), shift)
            console.print(shift_table(shift))
            for key, task in shift["tasks"].items():
                if task["classes_excluded"]:
                    left = ", ".join(
                        f"{e['class']} ({e['reason']})" for e in task["classes_excluded"]
                    )
                    console.print(f"{key}: classes not compared: {left}")
            console.print(f"wrote {path}")
            return
        document = evaluate_run(
            run_dir,
            split=split,
            n_resamples=bootstrap,
            seed=seed,
            progress=True,
            min_group_size=min_group_size,
        )
        path = write_json(run_dir / "metrics.json", document)
        console.print(metrics_table(document))
        for line in table_notes(document):
            console.print(line)
        console.print(f"wrote {path}")
        if robustness:
            result = run_robustness(run_dir, store, split, seed)
            out = write_json(run_dir / "robustness.json", result)
            console.print(f"wrote {out} ({len(result['sweeps'])} sweeps)")

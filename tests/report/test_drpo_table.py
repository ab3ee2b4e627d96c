"""The report's DRPO on/off table pairs only runs that differ in loss.drpo; few-shot rows say
which validation data selected them."""

from __future__ import annotations

import json

from climb.evaluate.run import evaluate_run, load_task_arrays, paired_bootstrap, write_json
from climb.report.html import write_report
from climb.report.runs import load_run_info
from climb.report.tables import drpo_mode, drpo_table, fewshot_table
from tests.evaluate.runs import TASKS, make_run

MODEL = {"model": {"fusion": {"type": "late"}, "encoders": {"ecg": {}, "image": {}}}}


def test_drpo_table_pairs_runs_differing_only_in_drpo(tmp_path):
    on = make_run(
        tmp_path,
        "mt-drpo",
        "multitask",
        skill=1.2,
        seed=2,
        extra_config={**MODEL, "loss": {"drpo": {"mode": "hierarchical"}}},
    )
    off = make_run(
        tmp_path,
        "mt-off",
        "multitask",
        skill=0.8,
        seed=2,
        extra_config={**MODEL, "loss": {"drpo": {"mode": "off"}}},
    )
    other = make_run(
        tmp_path,
        "mt-other-seed",
        "multitask",
        skill=0.8,
        seed=5,
        extra_config={**MODEL, "loss": {"drpo": {"mode": "off"}}},
    )
    single = make_run(
        tmp_path,
        "single",
        "single",
        tasks=[TASKS[0]],
        seed=1,
        extra_config={"model": {"encoders": {"ecg": {}}}},
    )
    runs = [load_run_info(r, n_resamples=50) for r in (on, off, other, single)]
    assert [drpo_mode(r.config) for r in runs] == ["hierarchical", "off", "off", "off"]
    assert drpo_mode({"loss": {"drpo": {"enabled": True}}}) == "hierarchical"

    table = drpo_table(runs, n_resamples=50, seed=0)
    assert {(r["drpo_run"], r["off_run"]) for r in table.records} == {("mt-drpo", "mt-off")}
    assert len(table.rows) == len(TASKS)
    key = TASKS[0]["key"]
    expected = paired_bootstrap(
        load_task_arrays(on, "test")[key],
        load_task_arrays(off, "test")[key],
        n_resamples=50,
        seed=0,
    )
    record = next(r for r in table.records if r["task"] == key)
    assert record["diff"] == expected["diff"] and record["p_value"] == expected["p_value"]
    assert record["diff"]["value"] > 0  # the more skilful run is the DRPO one here

    for r in (on, off, other, single):
        write_json(r / "metrics.json", evaluate_run(r, n_resamples=50))
    index = write_report(
        [load_run_info(r, n_resamples=50) for r in (on, off, single)],
        tmp_path / "report",
        n_resamples=50,
    )
    assert "Multitask: DRPO on vs off" in index.read_text()
    # without a pair there is no DRPO section (and no empty table)
    alone = write_report(
        [load_run_info(r, n_resamples=50) for r in (off, single)],
        tmp_path / "report2",
        n_resamples=50,
    )
    assert "DRPO on vs off" not in alone.read_text()


def test_fewshot_rows_name_their_selection(tmp_path):
    run = make_run(
        tmp_path, "fs-k4", "fewshot", tasks=[TASKS[0]], seed=4, extra_config={"fewshot": {"k": 4}}
    )
    old = make_run(
        tmp_path, "fs-old", "fewshot", tasks=[TASKS[0]], seed=5, extra_config={"fewshot": {"k": 8}}
    )
    selection = "k-shot validation (k=4 per class, 8 samples)"
    (run / "fewshot_indices.json").write_text(json.dumps({"selection": selection}))
    for r in (run, old):
        write_json(r / "metrics.json", evaluate_run(r, n_resamples=20))
    table = fewshot_table([load_run_info(r, n_resamples=20) for r in (run, old)])
    by_run = {row[3]: row[-1] for row in table.rows}
    assert by_run == {"fs-k4": selection, "fs-old": "not recorded (full validation split)"}

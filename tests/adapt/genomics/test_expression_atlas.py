"""Expression Atlas adapter on its fixture: runs x design, Analysed filter, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from climb.adapt.base import get_adapter
from climb.errors import RecordError
from tests.fixtures import expression_atlas as fixture


@pytest.fixture()
def raw(tmp_path):
    return fixture.build(tmp_path)


def test_records(raw):
    adapter = get_adapter("expression_atlas", config=fixture.CONFIG)
    records = list(adapter.records(raw))
    kept = [i for i, a in enumerate(fixture.ANALYSED) if a == "Yes"]
    assert [r.sample_id for r in records] == [f"{fixture.ACC}-{fixture.RUNS[i]}" for i in kept]
    classes = adapter.task_classes()["case_control"]
    for r, i in zip(records, kept, strict=True):
        want = "control" if fixture.DISEASE[i] == "normal" else "case"
        assert classes[r.labels["case_control"]] == want
        assert r.patient_id == f"{fixture.ACC}-{fixture.INDIVIDUAL[i]}"
        np.testing.assert_array_equal(r.inputs["expression"].data, fixture.counts()[:, i])
        assert r.inputs["expression"].data.dtype == np.float32
    assert records[0].meta["sex"] == "male" and records[0].meta["age_bucket"] == "60-69"
    # the two runs of individual 1 share a patient id (so they can never straddle splits)
    assert records[0].patient_id == records[1].patient_id


def test_design_run_missing_from_matrix(raw):
    design = raw / f"{fixture.ACC}-experiment-design.tsv"
    design.write_text(design.read_text().replace("SRR900002", "SRR999999"))
    adapter = get_adapter("expression_atlas", config=fixture.CONFIG)
    with pytest.raises(RecordError, match="SRR999999"):
        list(adapter.records(raw))


def test_ragged_counts(raw):
    counts = raw / f"{fixture.ACC}-raw-counts.tsv"
    lines = counts.read_text().splitlines()
    lines[3] += "\t17\t18"
    counts.write_text("\n".join(lines) + "\n")
    adapter = get_adapter("expression_atlas", config=fixture.CONFIG)
    with pytest.raises(RecordError, match="ragged") as err:
        list(adapter.records(raw))
    assert err.value.path.endswith("-raw-counts.tsv")

"""Genomic Benchmarks promoters on its fixture: tokens, labels, official split + carved val,
bad files."""

from __future__ import annotations

import numpy as np
import pytest

from climb.adapt.base import get_adapter
from climb.errors import RecordError
from climb.read.sequence import DNA_VOCAB, one_hot
from tests.fixtures import genomic_promoters as fixture


@pytest.fixture()
def raw(tmp_path):
    return fixture.build(tmp_path)


def test_records_tokens_labels_splits(raw):
    adapter = get_adapter("genomic_promoters")
    records = list(adapter.records(raw))
    assert len(records) == sum(fixture.COUNTS.values())
    classes = adapter.task_classes()["promoter"]
    for r in records:
        split, cls, ident = r.sample_id.split("_")
        text = (raw / "human_nontata_promoters" / split / cls / f"{ident}.txt").read_text()
        ids = r.inputs["sequence"].data
        assert ids.dtype == np.uint8 and ids.shape == (fixture.LENGTH,)
        assert "".join(DNA_VOCAB[i] for i in ids) == text.upper()
        assert r.labels["promoter"] == classes.index(cls)
        assert r.split == "test" if split == "test" else r.split in ("train", "val")
    assert r.inputs["sequence"].channels == list(DNA_VOCAB)
    splits = {r.split for r in records}
    assert splits == {"train", "val", "test"}
    # the carved val is seeded: the same seed gives the same records, another seed others
    again = [r.split for r in get_adapter("genomic_promoters").records(raw)]
    other = [r.split for r in get_adapter("genomic_promoters", config={"val_seed": 3}).records(raw)]
    assert again == [r.split for r in records] and other != again


def test_one_hot_view(raw):
    adapter = get_adapter("genomic_promoters")
    record = next(iter(adapter.records(raw)))
    ids = record.inputs["sequence"].data
    hot = one_hot(ids[None], len(DNA_VOCAB))
    assert hot.shape == (1, fixture.LENGTH, len(DNA_VOCAB) - 1)
    np.testing.assert_array_equal(hot[0].argmax(1) + 1, ids)
    assert (hot.sum(-1) == 1).all()


@pytest.mark.parametrize(("content", "problem"), [
    ("", "empty sequence"),
    ("ACGT\nACGT", "one sequence per file"),
    ("ACGTXQ", "not in the vocabulary"),
])
def test_bad_sequence_files(raw, content, problem):
    path = raw / "human_nontata_promoters" / "train" / "positive" / "0.txt"
    path.write_text(content)
    adapter = get_adapter("genomic_promoters")
    item = next(i for i in adapter.items(raw) if i.source.endswith("train/positive/0.txt"))
    with pytest.raises(RecordError, match=problem) as err:
        list(adapter.load(raw, item))
    assert "train/positive/0.txt" in str(err.value)
    assert not content or content[:4] not in err.value.problem  # never the sequence


def test_unknown_class_folder(raw):
    (raw / "human_nontata_promoters" / "train" / "maybe").mkdir()
    with pytest.raises(RecordError, match="class folder"):
        get_adapter("genomic_promoters").items(raw)

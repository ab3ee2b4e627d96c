"""TAPE secondary structure on its fixture: tokens, per-residue labels, official splits, the
restricted unpickler refusing code, bad records."""

from __future__ import annotations

import contextlib
import os
import pickle

import numpy as np
import pyarrow.parquet as pq
import pytest

from climb.adapt.base import get_adapter
from climb.errors import RecordError
from climb.read.sequence import PROTEIN_VOCAB, read_tape_lmdb
from climb.store.prepare import prepare
from tests.fixtures import tape_secondary_structure as fixture


@pytest.fixture()
def raw(tmp_path):
    return fixture.build(tmp_path)


def _adapter():
    return get_adapter("tape_secondary_structure", config=fixture.CONFIG)


def test_records(raw):
    records = list(_adapter().records(raw))
    assert len(records) == sum(fixture.SIZES.values())
    want = {f"{name}_{i:05d}": (name, c) for name in fixture.SIZES
            for i, c in enumerate(fixture.chains(name))}
    split_of = {"train": "train", "valid": "val", "casp12": "test", "ts115": "test",
                "cb513": "test"}
    for r in records:
        name, chain = want[r.sample_id]
        ids = r.inputs["sequence"].data
        assert ids.dtype == np.uint8 and "".join(PROTEIN_VOCAB[i] for i in ids) == chain["primary"]
        np.testing.assert_array_equal(r.labels["ss3"], chain["ss3"])
        np.testing.assert_array_equal(r.labels["ss8"], chain["ss8"])
        assert r.labels["ss3"].dtype == np.uint8
        assert r.split == split_of[name] and r.meta["site"] == name and r.patient_id is None


def test_prepared_store_keeps_residue_labels(raw, tmp_path):
    manifest = prepare("tape_secondary_structure", raw, tmp_path / "store", workers=1,
                       config=fixture.CONFIG, progress=False)
    assert {t["name"]: t["type"] for t in manifest["tasks"]} == {"ss3": "segmentation",
                                                                "ss8": "segmentation"}
    table = pq.read_table(tmp_path / "store" / "tape_secondary_structure" / "test-00000.parquet")
    rows = {s: (lab, seq) for s, lab, seq in zip(table["sample_id"].to_pylist(),
                                                  table["label.ss3"].to_pylist(),
                                                  table["input.sequence"].to_pylist(),
                                                  strict=True)}
    chain = fixture.chains("cb513")[2]
    label, seq = rows["cb513_00002"]
    np.testing.assert_array_equal(np.frombuffer(label, np.uint8), chain["ss3"])
    assert len(np.frombuffer(seq, np.uint8)) == len(chain["primary"])


class _Exploit:
    """Unpickling this runs ``touch MARKER`` (were it allowed)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickled_code_is_refused_not_run(raw, tmp_path):
    marker = tmp_path / "pwned"
    path = raw / "secondary_structure" / "secondary_structure_cb513.lmdb"
    chains = fixture.chains("cb513")
    chains[1] = {**chains[1], "primary": _Exploit(marker)}
    fixture.write_lmdb(path, chains)
    with pytest.raises(RecordError, match=r"(posix|os)\.system is not allowed"):
        list(read_tape_lmdb(path))
    assert not marker.exists()
    pickle.loads(pickle.dumps(_Exploit(marker)))  # the payload is live: plain pickle runs it
    assert marker.exists()
    marker.unlink()
    adapter = _adapter()
    item = next(i for i in adapter.items(raw) if i.key == "cb513_000000")
    with pytest.raises(RecordError, match="not allowed") as err:
        list(adapter.load(raw, item))
    assert "secondary_structure_cb513.lmdb[1]" in str(err.value) and not marker.exists()


@pytest.mark.parametrize(("change", "problem"), [
    ({"ss3": np.zeros(3, np.int64)}, "3 labels for"),
    ({"ss8": None}, "no ss8 labels"),
    ({"ss3": None, "primary": ""}, "no primary sequence"),
    ({"protein_length": 7}, "protein_length differs"),
])
def test_bad_examples(raw, change, problem):
    path = raw / "secondary_structure" / "secondary_structure_ts115.lmdb"
    chains = fixture.chains("ts115")
    chains[0] = {**chains[0], **change}
    fixture.write_lmdb(path, chains)
    adapter = _adapter()
    item = next(i for i in adapter.items(raw) if i.key == "ts115_000000")
    with pytest.raises(RecordError, match=problem):
        list(adapter.load(raw, item))


def test_corrupt_pickle_and_not_an_lmdb(tmp_path):
    path = tmp_path / "x.lmdb"
    fixture.write_lmdb(path, [])
    with lmdb_env(path) as txn:
        txn.put(b"num_examples", pickle.dumps(1))
        txn.put(b"0", b"\x80\x04garbage")
    with pytest.raises(RecordError, match="corrupt pickle") as err:
        list(read_tape_lmdb(path))
    assert "x.lmdb[0]" in str(err.value)
    with pytest.raises(RecordError, match="not an LMDB"):
        list(read_tape_lmdb(tmp_path))


@contextlib.contextmanager
def lmdb_env(path):
    import lmdb

    env = lmdb.open(str(path), map_size=1 << 24)
    try:
        with env.begin(write=True) as txn:
            yield txn
    finally:
        env.close()

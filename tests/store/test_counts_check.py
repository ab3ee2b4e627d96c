"""`prepare` checks the records it produced against the catalog's declared counts (like
Hugging Face datasets' ``verify_splits``): equal is ok, a broken adapter that drops 30% of the
records fails loudly (store still written, problem named), ``--limit`` and ``--subset``
downloads skip the check and say so."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import ValidationError

import climb.adapt.testing.synthetic as synthetic_adapter
from climb.acquire.lockfile import LOCKFILE, Lockfile
from climb.catalog.schema import SampleCounts
from climb.store.prepare import DOWNLOAD_LOCKFILE, CountsCheckError, prepare
from tests.store import synthetic

pytestmark = pytest.mark.counts_check

NAME = synthetic.NAME
# 12 records of 6 patients; official folds: 8 train, 2 val, 2 test
FOLDS = {f"rec{i:04d}": "train" if i < 8 else "val" if i < 10 else "test" for i in range(12)}
DECLARED = {"total": 12, "train": 8, "val": 2, "test": 2}


def _overlay(path, tolerance: float | None = None, records: bool = True):
    samples = (
        f"samples: {{total: 12, train: 8, val: 2, test: 2, unit: records, "
        f"counts_are_records: {str(records).lower()}"
        + (f", tolerance: {tolerance}" if tolerance is not None else "")
        + "}"
    )
    text = synthetic.OVERLAY.replace("samples: {total: 24, unit: records}", samples).replace(
        "split: {official: false, definition: patient-level hash split}",
        "split: {official: true, definition: the fold column}",
    )
    assert samples in text and "official: true" in text
    path.write_text(text)
    return path


class DroppingECG(synthetic_adapter.SyntheticECG):
    """A broken adapter: silently yields nothing for the items in ``DROPPED``."""

    DROPPED: frozenset[str] = frozenset()

    def load(self, raw_dir, item):
        if item.key not in self.DROPPED:
            yield from super().load(raw_dir, item)


@pytest.fixture()
def raw(tmp_path):
    return synthetic.build(tmp_path / "src", n=12, per_patient=2, folds=FOLDS)


@pytest.fixture()
def dropping(monkeypatch):
    def drop(*keys: str) -> None:
        monkeypatch.setattr(DroppingECG, "DROPPED", frozenset(keys))

    monkeypatch.setattr(synthetic_adapter, "ADAPTER", DroppingECG)
    monkeypatch.setattr("climb.store.prepare._ADAPTERS", {})
    return drop


def _prepare_cli(cli, raw, out, overlay, *extra):
    return cli(
        [
            "prepare",
            NAME,
            "--raw",
            str(raw),
            "--out",
            str(out),
            "--catalog",
            str(overlay),
            "--workers",
            "1",
            *extra,
        ]
    )


def test_equal_counts_are_ok(tmp_path, raw, cli):
    result = _prepare_cli(cli, raw, tmp_path / "out", _overlay(tmp_path / "o.yaml"))
    assert result.exit_code == 0, result.output
    check = json.loads((tmp_path / "out" / NAME / "manifest.json").read_text())["counts_check"]
    assert check == {
        "declared": DECLARED,
        "produced": DECLARED,
        "tolerance": 0.01,
        "ok": True,
        "skipped": None,
        "difference": dict.fromkeys(DECLARED, 0),
    }
    assert "counts check ok: total 12 of 12 declared" in " ".join(result.output.split())


def test_adapter_dropping_30_percent_fails_loudly_with_the_store_written(
    tmp_path, raw, cli, dropping
):
    dropping("rec0000", "rec0001", "rec0002", "rec0003")  # 4 of 12 records, all train
    overlay = _overlay(tmp_path / "o.yaml")
    out = tmp_path / "out"
    with pytest.raises(CountsCheckError) as info:
        _prepare_cli(cli, raw, out, overlay)
    message = str(info.value)
    assert "total 8 of 12 declared (-33.3%)" in message
    assert "train 4 of 8 declared (-50.0%)" in message and "val 2 of 2" in message
    assert "tolerance of 1.0%" in message and str(out / NAME) in message
    # the store is complete and says what went wrong
    manifest = json.loads((out / NAME / "manifest.json").read_text())
    assert manifest["counts_check"]["ok"] is False
    assert manifest["counts_check"]["difference"] == {"total": -4, "train": -4, "val": 0, "test": 0}
    assert sum(s["rows"] for s in manifest["shards"]) == 8
    assert all((out / NAME / s["path"]).exists() for s in manifest["shards"])
    assert not (out / NAME / ".work").exists()
    # a rerun of the same inputs (the store is up to date) fails the same way
    with pytest.raises(CountsCheckError, match="total 8 of 12"):
        prepare(NAME, raw, out, catalog=overlay, workers=1, progress=False)


def test_difference_within_the_declared_tolerance_is_a_warning(
    tmp_path, raw, cli, dropping, caplog
):
    dropping("rec0005")  # 1 of 12 (8.3%; train 12.5%)
    caplog.set_level(logging.WARNING)
    result = _prepare_cli(cli, raw, tmp_path / "out", _overlay(tmp_path / "o.yaml", 0.15))
    assert result.exit_code == 0, result.output
    check = json.loads((tmp_path / "out" / NAME / "manifest.json").read_text())["counts_check"]
    assert check["ok"] is True and check["tolerance"] == 0.15
    assert check["difference"]["total"] == -1
    assert "counts differ within the tolerance of 15.0%" in " ".join(result.output.split())
    assert "total 11 of 12 declared (-8.3%)" in caplog.text
    # the same drop with an exact tolerance is an error
    with pytest.raises(CountsCheckError, match=r"tolerance of 0\.0%"):
        prepare(
            NAME,
            raw,
            tmp_path / "exact",
            catalog=_overlay(tmp_path / "e.yaml", 0),
            workers=1,
            progress=False,
        )


def test_limit_skips_the_check_and_says_so(tmp_path, raw, cli, dropping):
    dropping("rec0000", "rec0001", "rec0002", "rec0003")  # would fail a whole-dataset check
    result = _prepare_cli(cli, raw, tmp_path / "out", _overlay(tmp_path / "o.yaml"), "--limit", "6")
    assert result.exit_code == 0, result.output
    check = json.loads((tmp_path / "out" / NAME / "manifest.json").read_text())["counts_check"]
    assert check["ok"] is None and check["declared"] is None
    assert check["skipped"] == "--limit 6: only part of the dataset was prepared"
    assert check["produced"]["total"] == 2
    assert "counts check skipped: --limit 6" in " ".join(result.output.split())


def test_subset_download_skips_the_check(tmp_path, raw, dropping):
    dropping("rec0000", "rec0001", "rec0002", "rec0003")
    assert DOWNLOAD_LOCKFILE == LOCKFILE
    lock = Lockfile(raw, NAME)
    lock.set_mode("subset")  # as `climb download --subset` leaves it
    assert (raw / LOCKFILE).exists()
    m = prepare(
        NAME,
        raw,
        tmp_path / "out",
        catalog=_overlay(tmp_path / "o.yaml"),
        workers=1,
        progress=False,
    )
    assert "--subset download" in m["counts_check"]["skipped"]
    assert m["counts_check"]["ok"] is None


def test_counts_not_declared_as_records_are_not_checked(tmp_path, raw, dropping):
    dropping("rec0000", "rec0001", "rec0002", "rec0003")
    m = prepare(
        NAME,
        raw,
        tmp_path / "out",
        catalog=_overlay(tmp_path / "o.yaml", records=False),
        workers=1,
        progress=False,
    )
    assert m["counts_check"]["ok"] is None
    assert "counts_are_records" in m["counts_check"]["skipped"]


def test_tolerance_is_a_fraction():
    assert SampleCounts(total=3, counts_are_records=True, tolerance=0.05).tolerance == 0.05
    with pytest.raises(ValidationError):
        SampleCounts(total=3, tolerance=5)
    assert SampleCounts(total=3).counts_are_records is False

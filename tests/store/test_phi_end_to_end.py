"""No protected health information in any output of `climb prepare`.

A name and a birth date are planted in every header field the WFDB (Challenge layout) and EDF
(TUAB layout) readers expose — WFDB comments, a "# Dx:" line, a lead label; EDF patient name,
code, birth date, technician, equipment, admin code, recording note, a channel label, its
transducer and prefilter — then `climb -v prepare` runs in a subprocess. The name and the date
must appear nowhere: stdout, stderr, the manifest (quarantine reasons included), splits.csv,
every shard and the index decoded row by row, prepare's state file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.fixtures import cpsc2018
from tests.fixtures._eeg import TUH_ELECTRODES, real_eeg

NAME, FIRST, BIRTH_ISO, BIRTH_EDF = "Zelda Quixote", "Zelda", "1931-07-19", "19.07.1931"
NEEDLES = (NAME, FIRST, "Quixote", BIRTH_ISO, BIRTH_EDF, "1931")


def _plant_in_challenge_headers(raw: Path) -> None:
    folder = raw / "WFDB_CPSC2018"
    a1 = folder / "A0001.hea"  # free-text comments, as PTB's "Reason for admission"
    a1.write_text(a1.read_text() + f"# Reason for admission: {NAME}, born {BIRTH_EDF}\n"
                  f"# Name: {NAME}\n# Birth date: {BIRTH_ISO}\n")
    a2 = folder / "A0002.hea"  # a "# Dx:" line holding free text: unmappable -> quarantined
    a2.write_text(a2.read_text().replace("# Dx: 426783006", f"# Dx: {NAME} {BIRTH_ISO}"))
    a3 = folder / "A0003.hea"  # a lead label holding a name: that lead is unknown
    lines = a3.read_text().splitlines()
    signal_lines = [i for i, line in enumerate(lines) if line.startswith("A0003.mat")]
    lines[signal_lines[-1]] = lines[signal_lines[-1]].rsplit(" ", 1)[0] + f" {NAME}"
    a3.write_text("\n".join(lines) + "\n")


def _write_tuab_edf(path: Path, start_s: float) -> None:
    from pyedflib import highlevel

    fs, seconds = 250.0, 24
    eeg = real_eeg(TUH_ELECTRODES, start_s, seconds, fs)
    labels = [f"EEG {e}-REF" for e in TUH_ELECTRODES]
    headers = [
        highlevel.make_signal_header(label, dimension="uV", sample_frequency=fs,
                                     physical_min=-4999.8, physical_max=4999.8,
                                     digital_min=-32767, digital_max=32767,
                                     transducer="AgAgCl electrode", prefiler="HP:0.1Hz")  # sic
        for label in labels
    ] + [highlevel.make_signal_header(NAME, dimension="uV", sample_frequency=fs,
                                      physical_min=-4999.8, physical_max=4999.8,
                                      transducer=NAME, prefiler=BIRTH_EDF)]
    header = highlevel.make_header(
        patientname=NAME, patientcode=FIRST, gender="Female", birthdate=BIRTH_EDF,
        technician=NAME, equipment=NAME, admincode=BIRTH_ISO, patient_additional=NAME,
        recording_additional=BIRTH_ISO,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    signals = [*eeg, eeg[0] * 0.5]
    highlevel.write_edf(str(path), [np.ascontiguousarray(s) for s in signals], headers, header)


def _tuab_raw(root: Path) -> Path:
    raw = root / "tuab"
    for split, label, stem, start in [("train", "normal", "aaaaaaaa_s001_t000", 0.0),
                                      ("train", "abnormal", "aaaaaaab_s001_t000", 30.0),
                                      ("eval", "normal", "aaaaaaac_s001_t000", 60.0)]:
        path = raw / "v3.0.1" / "edf" / split / label / "01_tcp_ar" / f"{stem}.edf"
        _write_tuab_edf(path, start)
    return raw


def _prepare(name: str, raw: Path, store: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "climb.cli", "-v", "prepare", name, "--raw", str(raw),
         "--out", str(store), "--workers", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def _every_output(store: Path) -> str:
    texts = []
    for path in sorted(store.rglob("*")):
        if path.is_dir():
            continue
        if path.suffix == ".parquet":
            for row in pq.read_table(path).to_pylist():
                texts.append(json.dumps(row, default=lambda v: repr(v)))
                for value in row.values():  # payload bytes decoded as text too
                    if isinstance(value, bytes):
                        texts.append(value.decode("latin-1"))
        else:
            texts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(texts)


@pytest.mark.parametrize("dataset", ["cpsc2018", "tuab"])
def test_planted_name_and_birth_date_reach_no_output(tmp_path, dataset):
    if dataset == "cpsc2018":
        raw = cpsc2018.build(tmp_path)
        _plant_in_challenge_headers(raw)
    else:
        raw = _tuab_raw(tmp_path)
    store = tmp_path / "store"
    console = _prepare(dataset, raw, store)
    manifest = json.loads((store / dataset / "manifest.json").read_text())
    produced = sum(c["samples"] for c in manifest["counts"].values())
    assert produced > 0  # the planted files did not stop the run
    if dataset == "cpsc2018":  # the free-text Dx and the renamed lead are quarantined
        quarantined = {Path(q["source"]).stem for q in manifest["quarantined"]}
        assert quarantined == {"A0002", "A0003"}
    outputs = console + _every_output(store)
    for needle in NEEDLES:
        assert needle not in outputs, f"{needle!r} leaked into prepare's output"

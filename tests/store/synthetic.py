"""A tiny real-format (WFDB) dataset for the store and load tests, plus its catalog overlay.

Records are 2-s windows of MIT-BIH record 100 (tests/data/wfdb/100), written with
``wfdb.wrsamp``; ``corrupt`` names records whose ``.dat`` file is then truncated.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import wfdb

from tests.conftest import real_data_dir

NAME = "synthetic_ecg"

OVERLAY = """
- name: synthetic_ecg
  title: Synthetic ECG test set (windows of MIT-BIH record 100)
  modality: ecg
  domain: cardiology
  tasks:
    - name: rhythm
      type: multiclass
      classes: [normal, paced, other]
    - name: beats
      type: multilabel
      classes: [N, A, V]
  samples: {total: 24, unit: records}
  size_gb: 0
  access: {tier: bundled, gate: test data shipped with the tests}
  license: ODC-By
  homepage: https://physionet.org/content/mitdb/
  citation: "@misc{synthetic, title={test windows of MIT-BIH 100}}"
  split: {official: false, definition: patient-level hash split}
  patient_ids: {available: true, field: patient_id}
  adapter: testing.synthetic
"""


def write_overlay(path: Path, names: tuple[str, ...] = (NAME,)) -> Path:
    """Write the catalog overlay registering the test dataset (under each of ``names``)."""
    path.write_text("".join(OVERLAY.replace(f"name: {NAME}", f"name: {n}") for n in names))
    return path


def build(
    root: Path,
    n: int = 24,
    per_patient: int = 3,
    corrupt: tuple[str, ...] = (),
    folds: dict[str, str] | None = None,
    seconds: float = 2.0,
) -> Path:
    """Write ``n`` WFDB records under ``root/raw`` and return that directory."""
    raw = root / "raw"
    (raw / "records").mkdir(parents=True, exist_ok=True)
    source = wfdb.rdrecord(str(real_data_dir() / "wfdb" / "100"))
    fs = int(source.fs)
    width = int(seconds * fs)
    rhythms = ["normal", "paced", "other", ""]
    beats = ["N", "N;A", "V", "N;V", ""]
    rows = []
    for i in range(n):
        name = f"rec{i:04d}"
        start = i * width
        signal = np.asarray(source.p_signal[start : start + width], dtype=np.float64)
        wfdb.wrsamp(
            name, fs=fs, units=list(source.units), sig_name=list(source.sig_name),
            p_signal=signal, fmt=["16"] * signal.shape[1], adc_gain=[200.0] * signal.shape[1],
            baseline=[0] * signal.shape[1], write_dir=str(raw / "records"),
        )
        rows.append({
            "record": name,
            "patient_id": f"p{i // per_patient:03d}",
            "rhythm": rhythms[i % len(rhythms)],
            "beats": beats[i % len(beats)],
            "fold": (folds or {}).get(name, ""),
        })
    for name in corrupt:
        dat = raw / "records" / f"{name}.dat"
        dat.write_bytes(dat.read_bytes()[:100])
    with (raw / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return raw

"""Tiny prepared stores of CT volumes and echo clips, for the codec, loader and training tests.

CT: DICOM series written with pydicom from its ``CT_small.dcm`` (real CT pixels, 2 x 2
averaged to 64 x 64, 5 mm apart), prepared by the ``testing.dicom_series`` adapter (int16
D x H x W volumes); class ``b`` series carry a bright disc. Echo: the EchoNet-Dynamic
fixture (AVI videos of real ultrasound frames) prepared by the ``echonet_dynamic`` adapter
(uint8 T x H x W x 3 clips).
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any

import numpy as np

CT_NAME = "ct_series"
CT_ENTRY = f"""
- name: {CT_NAME}
  title: DICOM CT series written from pydicom's CT_small.dcm
  modality: ct
  domain: test
  tasks:
    - name: label
      type: multiclass
      classes: [a, b]
  samples: {{total: 10, unit: series}}
  size_gb: 0
  access: {{tier: bundled, gate: written by the tests}}
  license: ODC-By
  homepage: https://github.com/climb
  citation: "@misc{{ct, title={{ct test}}}}"
  split: {{official: false, definition: patient-level hash split}}
  patient_ids: {{available: true, field: patient_id}}
  adapter: testing.dicom_series
"""


def write_ct_series(raw: Path, n: int = 10, slices: int = 6) -> Path:
    """``raw/series/<record>/*.dcm`` (``slices`` slices each) + ``raw/labels.csv``."""
    import pydicom
    from pydicom.data import get_testdata_file

    base = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for tag in ("PatientName", "PatientID", "PatientBirthDate"):
        if tag in base:
            setattr(base, tag, "")
    # 64 x 64 (2 x 2 means of the 128 x 128 pixels, 1.32 mm): small enough for fast tests
    pixels = base.pixel_array.astype(np.float32).reshape(64, 2, 64, 2).mean((1, 3))
    pixels = pixels.astype(np.int16)
    base.Rows, base.Columns = pixels.shape
    base.PixelSpacing = [2 * float(v) for v in base.PixelSpacing]
    yy, xx = np.mgrid[: pixels.shape[0], : pixels.shape[1]]
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        label = i % 2
        folder = raw / "series" / f"v{i:03d}"
        folder.mkdir(parents=True)
        cy, cx = rng.integers(20, 44, 2)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 < 8**2
        for k in range(slices):
            ds = copy.deepcopy(base)
            px = np.roll(pixels, 3 * k + i, axis=0) + rng.integers(-10, 10, pixels.shape)
            if label:
                px = np.where(disc, px + 400, px)
            ds.PixelData = px.astype(np.int16).tobytes()
            ds.InstanceNumber = k + 1
            x, y, z = (float(v) for v in base.ImagePositionPatient)
            ds.ImagePositionPatient = [x, y, z + 5.0 * k]
            ds.save_as(folder / f"{k:03d}.dcm")
        rows.append({"record": f"v{i:03d}", "patient_id": f"p{i:03d}", "label": "ab"[label]})
    with (raw / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return raw


def prepare_ct(root: Path, store: Path, config: dict[str, Any] | None = None) -> Path:
    """The CT series prepared into ``store`` (``config``: prepare options)."""
    from climb.store.prepare import prepare

    overlay = root / "ct_overlay.yaml"
    overlay.write_text(CT_ENTRY)
    raw = root / "ct_raw"
    if not raw.exists():
        write_ct_series(raw)
    prepare(
        CT_NAME,
        raw,
        store,
        catalog=overlay,
        workers=1,
        config={"split_ratios": "0.6,0.2,0.2", **(config or {})},
        progress=False,
    )
    return store


def prepare_echo(root: Path, store: Path, config: dict[str, Any] | None = None) -> Path:
    """The EchoNet-Dynamic fixture prepared into ``store``."""
    from climb.store.prepare import prepare
    from tests.fixtures import echonet_dynamic

    raw = root / "echonet_dynamic"
    if not raw.exists():
        echonet_dynamic.build(root)
    prepare("echonet_dynamic", raw, store, workers=1, config=config, progress=False)
    return store

"""Real medical images for the storage-codec tests: pydicom's and pydicom-data's radiographs,
MR, CT and ultrasound files, read with :func:`climb.read.dicom_image.read_dicom_image`,
standardized, and written as PNG files (Pillow) into a ``testing.png_folder`` raw folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.data import get_testdata_file

from climb.read.dicom_image import read_dicom_image
from climb.read.standardize import standardize_image
from tests.store.png_folder import write_png_raw

SOURCES = (
    "RG1_UNCR.dcm",
    "RG3_UNCR.dcm",
    "MR2_UNCR.dcm",
    "693_UNCR.dcm",
    "CT_small.dcm",
    "MR_small.dcm",
    "US1_UNCR.dcm",
    "MR-SIEMENS-DICOM-WithOverlays.dcm",
)
NAME = "codec_images"
OVERLAY = f"""
- name: {NAME}
  title: real DICOM images as PNG files
  modality: chest_xray
  domain: test
  tasks:
    - name: label
      type: multiclass
      classes: [a, b]
  samples: {{total: {len(SOURCES)}, unit: images}}
  size_gb: 0
  access: {{tier: bundled, gate: written by the tests}}
  license: ODC-By
  homepage: https://github.com/climb
  citation: "@misc{{png, title={{png test}}}}"
  split: {{official: false, definition: patient-level hash split}}
  patient_ids: {{available: true, field: patient_id}}
  adapter: testing.png_folder
"""


def real_images(size: int) -> list[np.ndarray]:
    """The :data:`SOURCES` as ``size`` x ``size`` x 3 uint8 (the ultrasound in colour)."""
    return [
        standardize_image(read_dicom_image(get_testdata_file(n)), size=size, mode="RGB")
        for n in SOURCES
    ]


def write_raw(root: Path, size: int = 48) -> Path:
    """``root/raw`` (images/*.png + labels.csv) and ``root/overlay.yaml``; returns raw."""
    images = real_images(size)
    rows = [
        {"record": f"img{i}", "patient_id": f"p{i}", "label": "ab"[i % 2]}
        for i in range(len(images))
    ]
    raw = write_png_raw(root / "raw", images, rows)
    (root / "overlay.yaml").write_text(OVERLAY)
    return raw


def prepare_codec(root: Path, raw: Path, codec: str, **config) -> Path:
    """Prepare ``raw`` with ``image.codec=codec`` into ``root/<codec>``; the store dir."""
    from climb.store.prepare import prepare

    store = root / f"store_{codec}"
    prepare(
        NAME,
        raw,
        store,
        catalog=root / "overlay.yaml",
        workers=1,
        progress=False,
        config={"image.codec": codec, **config},
    )
    return store

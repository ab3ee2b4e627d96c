"""A prepared store of two small PNG image datasets (written with Pillow, prepared by the
``testing.png_folder`` adapter) and a tiny ConvNeXt V2 image encoder, for training tests.

Used by the augmentation tests (tests/train/test_transforms.py), which need a learnable
signal: the images are 32 x 32 RGB with a class-dependent bright square. The CXR configs train
on stores prepared from the chest X-ray fixtures instead (tests/train/test_cxr_configs.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.store.png_folder import write_png_raw

IMAGE_SETS = ("png_xray_a", "png_xray_b")
TINY_IMAGE = {
    "type": "image",
    "pretrained": None,
    "arch": "convnextv2",
    "normalize": "none",
    "config": {"num_channels": 3, "hidden_sizes": [8, 16], "depths": [1, 1], "image_size": 32},
}

ENTRY = """
- name: {name}
  title: PNG test images {name}
  modality: chest_xray
  domain: test
  tasks:
    - name: finding
      type: multiclass
      classes: [normal, abnormal]
  samples: {{total: {n}, unit: images}}
  size_gb: 0
  access: {{tier: bundled, gate: written by the tests}}
  license: ODC-By
  homepage: https://github.com/climb
  citation: "@misc{{png, title={{png test}}}}"
  split: {{official: false, definition: patient-level hash split}}
  patient_ids: {{available: true, field: patient_id}}
  adapter: testing.png_folder
"""


def write_png_folder(raw: Path, n: int, seed: int) -> None:
    """``raw/images/*.png`` + ``raw/labels.csv``: noise plus, for abnormal, a bright square."""
    rng = np.random.default_rng(seed)
    images, rows = [], []
    for i in range(n):
        label = i % 2
        img = rng.integers(0, 96, (32, 32, 3), dtype=np.uint8)
        if label:
            y, x = rng.integers(4, 20, 2)
            img[y : y + 8, x : x + 8] = 230
        images.append(img)
        rows.append(
            {
                "record": f"r{i:03d}",
                "patient_id": f"p{i:03d}",
                "label": ["normal", "abnormal"][label],
            }
        )
    write_png_raw(raw, images, rows)


def build_image_store(root: Path) -> Path:
    """ROOT/store with png_xray_a (24 images) and png_xray_b (16), split by patient."""
    from climb.store.prepare import prepare

    sizes = dict(zip(IMAGE_SETS, (24, 16), strict=True))
    overlay = root / "overlay.yaml"
    overlay.write_text("".join(ENTRY.format(name=k, n=n) for k, n in sizes.items()))
    for seed, (name, n) in enumerate(sizes.items()):
        write_png_folder(root / name, n, seed)
        prepare(
            name,
            root / name,
            root / "store",
            catalog=overlay,
            workers=1,
            config={"split_ratios": "0.6,0.2,0.2"},
            progress=False,
        )
    return root / "store"

"""Brain Tumor Classification (MRI) (Bhuvaji et al. 2020): 3,264 T1-weighted contrast-enhanced
brain MRI slices in four classes.

Layout (Kaggle sartajbhuvaji/brain-tumor-classification-mri, its dataset description and the
GitHub repository SartajBhuvaji/Brain-Tumor-Classification-DataSet it mirrors)::

    Training/<class>/<name>.jpg     class in glioma_tumor, meningioma_tumor, no_tumor,
    Testing/<class>/<name>.jpg      pituitary_tumor; names like "gg (1).jpg", "image(1).jpg"

Task ``tumor``: the class folder (the catalog's native classes; another folder quarantines its
images). No patient ids are published. Split: the official Training/ and Testing/ folders;
validation is carved from Training/ by a seeded hash of each image (config ``val_fraction``,
default 0.1; ``val_seed``). Slices of one patient may straddle train and val (nothing in the
release allows grouping them). Sample ids are ``<split folder>-<class>-<name>`` because
names repeat across folders.
"""

from __future__ import annotations

import re
from pathlib import Path

from climb.adapt.base import Item
from climb.adapt.imaging import (
    IMAGE_CONFIG,
    ClassImageAdapter,
    carve_val,
    class_folder_images,
    find_root,
    relative,
)
from climb.errors import RecordError

FOLDERS = {"Training": "train", "Testing": "test"}


def slug(text: str) -> str:
    """A name without spaces or brackets: "gg (12)" -> "gg-12", "image(3)" -> "image-3"."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-")


class BrainTumorMriAdapter(ClassImageAdapter):
    name = "brain_tumor_mri"
    task = "tumor"
    default_config = {**IMAGE_CONFIG, "val_fraction": 0.1, "val_seed": 0}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, "Testing")
        items = []
        for folder, split in FOLDERS.items():
            if not (root / folder).is_dir():
                raise RecordError(root / folder, "official split folder not found")
            for cls, path in class_folder_images(root / folder):
                key = f"{folder}-{cls}-{slug(path.stem)}"
                items.append(Item(
                    source=relative(path, raw_dir),
                    key=key,
                    info={"label": cls, "split": carve_val(
                        split, key, float(self.config["val_fraction"]),
                        int(self.config["val_seed"]))},
                ))
        return items


ADAPTER = BrainTumorMriAdapter

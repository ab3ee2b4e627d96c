"""OCT2017 (Kermany et al. 2018): 84,495 retinal OCT B-scans in four classes.

Layout (Mendeley Data rscbjbr9sj v2 "OCT2017" and its Kaggle copy paultimothymooney/kermany2018;
Kermany et al., Cell 172:1122, 2018, "Method Details")::

    OCT2017/train/<CLASS>/<CLASS>-<patient>-<n>.jpeg    CLASS in CNV, DME, DRUSEN, NORMAL
    OCT2017/test/<CLASS>/<CLASS>-<patient>-<n>.jpeg
    OCT2017/val/<CLASS>/...                            Kaggle copy only (8 images per class)

The Kaggle archive names the top folder ``OCT2017 `` (trailing space); the root is found as the
first folder holding ``test/NORMAL``, whatever its name. Task ``diagnosis``: the class folder
(the catalog's native classes; a folder outside them quarantines its images). The file name's
class must equal the folder's. Patient id: the number between the dashes. Split: the official
train/ and test/ folders; val/ where the copy has one, otherwise validation is carved from
train/ by a seeded hash of the patient id (config ``val_fraction``, default 0.1;
``val_seed``), so a patient's scans never straddle train and val.
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

NAME = re.compile(r"^(?P<cls>[A-Z]+)-(?P<patient>\d+)-(?P<n>\d+)$")
FOLDERS = {"train": "train", "val": "val", "test": "test"}


class Oct2017Adapter(ClassImageAdapter):
    name = "oct2017"
    default_config = {**IMAGE_CONFIG, "val_fraction": 0.1, "val_seed": 0}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, "test/NORMAL")
        has_val = (root / "val").is_dir()
        fraction = 0.0 if has_val else float(self.config["val_fraction"])
        items = []
        for folder, split in FOLDERS.items():
            if not (root / folder).is_dir():
                continue
            for cls, path in class_folder_images(root / folder):
                match = NAME.match(path.stem)
                patient = match["patient"] if match else None
                items.append(
                    Item(
                        source=relative(path, raw_dir),
                        key=path.stem,
                        info={
                            "label": cls,
                            "name_class": match["cls"] if match else None,
                            "patient_id": patient,
                            "split": carve_val(split, patient or path.stem, fraction,
                                               int(self.config["val_seed"])),
                        },
                    )
                )
        return items

    def check(self, item: Item) -> None:
        info = item.info
        if info["patient_id"] is None:
            raise RecordError(item.source, "file name is not <CLASS>-<patient>-<n>")
        if info["name_class"] != info["label"]:
            raise RecordError(item.source, "class in the file name differs from its folder")


ADAPTER = Oct2017Adapter

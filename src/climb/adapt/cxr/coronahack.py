"""CoronaHack - Chest X-Ray Dataset (Kaggle praveengovi/coronahack-chest-xraydataset): 5,910
chest X-rays, mostly the pediatric pneumonia set of Kermany et al. 2018 plus a few COVID-19,
SARS, ARDS and Streptococcus images.

Layout (the Kaggle dataset's files and column descriptions)::

    Chest_xray_Corona_Metadata.csv     unnamed index, X_ray_image_name, Label (Normal /
                                       Pnemonia [sic]), Dataset_type (TRAIN / TEST),
                                       Label_2_Virus_category, Label_1_Virus_category
                                       (bacteria / Virus / Stress-Smoking)
    Chest_xray_Corona_dataset_Summary.csv   counts per label (not read)
    Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/{train,test}/<image name>

Task ``diagnosis``: ``Normal`` where Label is Normal, else the Label_1_Virus_category, through
harmonize/mappings/coronahack.yaml (Stress-Smoking is mapped to null: those rows are dropped,
as the catalog says; a pneumonia row without a category is unmapped and quarantined).
Split: the official Dataset_type; validation is carved from TRAIN by a seeded hash of the
group (config ``val_fraction``, default 0.1; ``val_seed``). The group is the ``person<N>``
prefix where the Kermany file name has one (``person<N>_bacteria_<k>.jpeg``,
``person<N>_virus_<k>.jpeg``), else the image (normal images carry no person number). The
person numbers are not published as patient ids (nothing documents that ``person1`` of TEST
is ``person1`` of TRAIN): records carry no patient id, and the prefix only keeps one
person's training images together when validation is carved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from climb.adapt.base import Item
from climb.adapt.imaging import IMAGE_CONFIG, ClassImageAdapter, carve_val, find_root, relative
from climb.errors import RecordError
from climb.record import Record

METADATA = "Chest_xray_Corona_Metadata.csv"
SPLITS = {"TRAIN": "train", "TEST": "test"}
PERSON = re.compile(r"^(person\d+)_", re.IGNORECASE)
COLUMNS = ("X_ray_image_name", "Label", "Dataset_type", "Label_1_Virus_category")


def native_label(label: str, category: str) -> str:
    """The diagnosis before mapping: "Normal", or the pneumonia's Label_1 category."""
    if label.strip().lower() == "normal":
        return "Normal"
    return category.strip() or label.strip()


class CoronahackAdapter(ClassImageAdapter):
    name = "coronahack"
    default_config = {**IMAGE_CONFIG, "val_fraction": 0.1, "val_seed": 0}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        csv_root = find_root(raw_dir, METADATA)
        table = pd.read_csv(csv_root / METADATA, dtype=str, keep_default_na=False)
        missing = set(COLUMNS) - set(table.columns)
        if missing:
            raise RecordError(csv_root / METADATA, f"missing columns {sorted(missing)}")
        image_root = find_root(raw_dir, "train")
        fraction, seed = float(self.config["val_fraction"]), int(self.config["val_seed"])
        items = []
        for row in table.to_dict("records"):
            name = row["X_ray_image_name"].strip()
            official = SPLITS.get(row["Dataset_type"].strip().upper())
            person = PERSON.match(name)
            group = person[1].lower() if person else name
            folder = (official or row["Dataset_type"].strip().lower() or "unknown")
            items.append(Item(
                source=relative(image_root / folder / name, raw_dir),
                key=name.rsplit(".", 1)[0],
                info={
                    "label": native_label(row["Label"], row["Label_1_Virus_category"]),
                    "group": group,
                    "split": official and carve_val(official, group, fraction, seed),
                },
            ))
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        if item.info["split"] is None:
            raise RecordError(item.source, f"{METADATA} Dataset_type is not TRAIN/TEST")
        label = self.class_label(item)
        if label < 0:  # mapped to null (Stress-Smoking): not a sample of this task
            return
        yield self.image_record(item, self.decode(raw_dir, item), {"diagnosis": label})


ADAPTER = CoronahackAdapter
